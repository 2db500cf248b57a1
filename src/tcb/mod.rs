//! Tencent Cloud API layer: TC3 signing, the tcbr / sts / tcr clients, models, errors, retries.
//!
//! - [`tc3`]: the signature, for clients and for servers (the emulator verifies with it).
//! - [`models`]: typed requests and responses, held against the official API description by
//!   tests/tcb.rs; [`models::Request::parse`] validates a body as the cloud does.
//! - [`error`]: the cloud's error envelope and the client's errors.
//! - [`credentials`]: fixed, temporary and refreshing credentials.
//! - [`client`]: the HTTP client with timeouts, retries and re-checks.

pub mod client;
pub mod credentials;
pub mod error;
pub mod models;
pub mod tc3;

pub use client::{Client, Endpoint, Recheck, RetryPolicy};
pub use credentials::{CredentialSource, Credentials};
pub use error::{ApiError, ClientError};
