//! Tencent Cloud API layer: TC3 signing, the tcbr / sts / tcr clients, models, errors, retries.

pub mod models;
pub mod tc3;
