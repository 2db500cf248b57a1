//! Dispatch from a parsed command line to the action that runs it, and the exit code.

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::error::{Error, Result};
use crate::runner::{Annotation, Level, command::annotate};

/// Runs the subcommand.
pub fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Deploy(args) => crate::deploy::run(args),
        Command::BuildImage(args) => crate::image::run(args),
        Command::SecurityScan(args) => crate::scan::run(args),
        Command::CanaryPromote(args) => crate::canary::run(args),
        Command::Rollback(args) => crate::rollback::run(args),
        Command::ReleaseSemver(args) => crate::release::run(args),
        Command::Emulator(args) => crate::emulator::run(args),
        Command::Demo(args) => crate::demo::run(args),
    }
}

/// Runs a future to completion on a fresh multi-threaded runtime, for the actions that do I/O.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
        .block_on(future)
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
