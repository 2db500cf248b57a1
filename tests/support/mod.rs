//! Shared test helpers.
#![allow(dead_code)]

pub mod emulator;
pub mod runner;

use std::path::PathBuf;

pub mod fake_github;
pub mod prometheus;
pub mod registry;

/// `../shared`, the read-only reference data, when it is present. Tests that need it call
/// [`shared_or_skip`] and skip with a message where it is absent (CI always has it).
pub fn shared_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    dir.is_dir().then_some(dir)
}

/// Returns `../shared/<relative>` or prints why the test is skipped and returns `None`.
pub fn shared_or_skip(relative: &str) -> Option<PathBuf> {
    match shared_dir() {
        Some(dir) => Some(dir.join(relative)),
        None => {
            eprintln!("skipped: needs ../shared/{relative} (the reference data CI provides)");
            None
        }
    }
}

/// True when an external tool the test needs is on PATH. Under `.ci/run`
/// (`DEPLOY_TCB_REQUIRE_TOOLS=1`) a missing tool fails the test instead of skipping it.
pub fn tool_or_skip(tool: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()));
    if !found {
        if std::env::var("DEPLOY_TCB_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
            panic!("`{tool}` is required under .ci/run but is not installed");
        }
        eprintln!("skipped: needs `{tool}` on PATH (.ci/run installs it)");
    }
    found
}

/// The binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_deploy-tcb"))
}
pub mod release_git;
