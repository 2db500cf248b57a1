//! Building and pushing the application image through the Docker Engine API.
//!
//! `plan` validates the inputs and computes tags and labels (pure); `context` walks the
//! workspace with `.dockerignore` and streams it as a tar; `engine` talks to Docker or podman;
//! `build` runs the build, push and report.

pub mod build;
pub mod context;
pub mod dockerfile;
pub mod engine;
pub mod ignore;
pub mod metadata;
pub mod plan;
pub mod report;
pub mod tcr;

use crate::cli::BuildImageArgs;
use crate::error::Result;

/// Runs `deploy-tcb build-image`.
pub fn run(args: BuildImageArgs) -> Result<()> {
    let git = metadata::GitContext::from_env();
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let plan = plan::plan(&args, &git, &created)?;
    crate::app::block_on(build::execute(plan))
}
