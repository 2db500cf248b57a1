//! Dispatch from a parsed command line to the action that runs it, and the exit code.

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::error::{Error, Result};
use crate::runner::{Annotation, Level, command::annotate};

/// Runs the subcommand.
pub fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Deploy(_) => not_built("deploy", "deploying to CloudBase Run", 4),
        Command::BuildImage(_) => not_built("build-image", "building and pushing images", 8),
        Command::SecurityScan(_) => not_built("security-scan", "aggregating scanner reports", 6),
        Command::CanaryPromote(_) => not_built("canary-promote", "metric-gated canary promotion", 5),
        Command::Rollback(_) => not_built("rollback", "rolling back to a verified version", 5),
        Command::ReleaseSemver(_) => not_built("release-semver", "versioning and releasing", 7),
        Command::Emulator(_) => not_built("emulator", "the CloudBase Run emulator", 3),
        Command::Demo(_) => not_built("demo", "the end-to-end demo", 4),
    }
}

fn not_built(command: &'static str, capability: &'static str, issue: u32) -> Result<()> {
    Err(Error::NotBuilt {
        command,
        capability,
        issue,
    })
}

/// Reports an error (as an annotation under a runner) and maps the result to the exit code.
pub fn exit_code(result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&error);
            ExitCode::from(error.exit_code())
        }
    }
}

fn report(error: &Error) {
    let mut at = Annotation::titled(error.title());
    if let Error::Config {
        location: Some((file, line, col)),
        ..
    } = error
    {
        at.file = Some(file.clone());
        at.line = Some(*line);
        at.col = Some(*col);
    }
    let mut message = error.message();
    if let Some(fix) = error.fix() {
        message.push_str(&format!("\nFix: {fix}"));
    }
    annotate(Level::Error, &at, &message);
}
