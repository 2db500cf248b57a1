//! The local CloudBase Run emulator.

use crate::cli::EmulatorArgs;
use crate::error::{Error, Result};

/// Runs `deploy-tcb emulator`.
pub fn run(_args: EmulatorArgs) -> Result<()> {
    Err(Error::NotBuilt {
        command: "emulator",
        capability: "The local CloudBase Run emulator",
        issue: 3,
    })
}
