//! deploy-tcb: GitHub Actions that take a container image from commit to production on
//! Tencent CloudBase Run, plus a local emulator of the CloudBase Run API.

pub mod app;
pub mod canary;
pub mod cli;
pub mod config;
pub mod demo;
pub mod deploy;
pub mod emulator;
pub mod error;
pub mod github;
pub mod image;
pub mod notify;
pub mod release;
pub mod rollback;
pub mod runner;
pub mod scan;
pub mod tcb;
