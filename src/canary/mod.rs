//! Metric-gated canary promotion.

use crate::cli::CanaryPromoteArgs;
use crate::error::{Error, Result};

/// Runs `deploy-tcb canary-promote`.
pub fn run(_args: CanaryPromoteArgs) -> Result<()> {
    Err(Error::NotBuilt {
        command: "canary-promote",
        capability: "Metric-gated canary promotion",
        issue: 5,
    })
}
