//! Tests for this part arrive with its change.
