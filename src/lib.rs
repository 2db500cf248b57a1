//! deploy-tcb: GitHub Actions that take a container image from commit to production on
//! Tencent CloudBase Run, plus a local emulator of the CloudBase Run API.

pub mod app;
pub mod cli;
pub mod error;
pub mod runner;
