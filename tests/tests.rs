//! The one integration test binary. Each module covers one part of the product; `support`
//! holds the shared harnesses (the runner, the emulator, the fake GitHub).

mod support;

mod build_image;
mod canary;
mod deploy;
mod emulator;
mod emulator_engine;
mod github;
mod image;
mod metadata;
mod release;
mod rollback;
mod runner_contract;
mod scan;
mod scan_github;
mod tcb;
