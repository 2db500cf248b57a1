//! Aggregating scanner reports into one gated verdict.

pub mod dedupe;
pub mod detect;
pub mod family;
pub mod fingerprint;
pub mod model;
pub mod parse;
pub mod paths;

use crate::cli::SecurityScanArgs;
use crate::error::{Error, Result};

/// Runs `deploy-tcb security-scan`.
pub fn run(_args: SecurityScanArgs) -> Result<()> {
    Err(Error::NotBuilt {
        command: "security-scan",
        capability: "Aggregating scanner reports into one gated verdict",
        issue: 6,
    })
}
