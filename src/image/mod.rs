//! Building and pushing the application image.

use crate::cli::BuildImageArgs;
use crate::error::{Error, Result};

/// Runs `deploy-tcb build-image`.
pub fn run(_args: BuildImageArgs) -> Result<()> {
    Err(Error::NotBuilt {
        command: "build-image",
        capability: "Building and pushing the application image",
        issue: 8,
    })
}
