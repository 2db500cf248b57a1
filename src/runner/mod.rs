//! The GitHub Actions runner contract for Docker actions: inputs, outputs, the job summary,
//! workflow commands, masks and logging.
//!
//! Everything here also works outside a runner: when `GITHUB_ACTIONS` is unset, messages are
//! printed for people instead of as workflow commands, and the file commands are still written
//! whenever their variables (`GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`, …) are set.

pub mod command;
pub mod files;
pub mod inputs;
pub mod log;
pub mod mask;

pub use command::{Annotation, Level};
pub use files::{Outputs, Summary};
pub use inputs::Secret;

/// True when running as a step under the GitHub Actions runner.
pub fn in_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// True when the workflow asked for step debug logs (`RUNNER_DEBUG=1`).
pub fn debug_enabled() -> bool {
    std::env::var("RUNNER_DEBUG").is_ok_and(|v| v == "1")
}
