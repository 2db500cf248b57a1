//! The end-to-end demo against the embedded emulator.

use crate::cli::DemoArgs;
use crate::error::{Error, Result};

/// Runs `deploy-tcb demo`.
pub fn run(_args: DemoArgs) -> Result<()> {
    Err(Error::NotBuilt {
        command: "demo",
        capability: "The end-to-end demo against the embedded emulator",
        issue: 4,
    })
}
