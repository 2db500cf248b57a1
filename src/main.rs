//! `deploy-tcb`: parse, initialise logging, dispatch, map the result to an exit code.
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match deploy_tcb::cli::parse() {
        Ok(cli) => cli,
        Err(exit) => return exit,
    };
    deploy_tcb::runner::log::init();
    let result = deploy_tcb::app::dispatch(cli);
    deploy_tcb::app::exit_code(result)
}
