//! The config file with named environments, and its JSON Schema.
