//! Versioning and releasing from Conventional Commits.

use crate::cli::ReleaseSemverArgs;
use crate::error::{Error, Result};

/// Runs `deploy-tcb release-semver`.
pub fn run(_args: ReleaseSemverArgs) -> Result<()> {
    Err(Error::NotBuilt {
        command: "release-semver",
        capability: "Versioning and releasing from Conventional Commits",
        issue: 7,
    })
}
