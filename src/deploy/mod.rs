//! Deploying an image to CloudBase Run: resolve and validate the request, plan against the
//! current service, apply, wait for the release task, verify, report.

pub mod convert;
pub mod flow;
pub mod keyless;
pub mod plan;
pub mod progress;
pub mod report;
pub mod reporting;
pub mod request;
pub mod verify;

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
