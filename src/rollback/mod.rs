//! Rolling back to the last verified version.

use crate::cli::RollbackArgs;
use crate::error::{Error, Result};

/// Runs `deploy-tcb rollback`.
pub fn run(_args: RollbackArgs) -> Result<()> {
    Err(Error::NotBuilt {
        command: "rollback",
        capability: "Rolling back to the last verified version",
        issue: 5,
    })
}
