//! Deploying an image to CloudBase Run.

use crate::cli::DeployArgs;
use crate::error::{Error, Result};

/// Runs `deploy-tcb deploy`.
pub fn run(_args: DeployArgs) -> Result<()> {
    Err(Error::NotBuilt {
        command: "deploy",
        capability: "Deploying an image to CloudBase Run",
        issue: 4,
    })
}
