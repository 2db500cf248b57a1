//! Errors from GitHub reporting. Every message is redacted through the mask registry before it
//! is stored, so a token can never reach a log, an annotation or a summary through an error.

use crate::runner::mask::redact;
use crate::runner::{Annotation, Level, command::annotate};

/// Result type of the GitHub client.
pub type Result<T, E = GithubError> = std::result::Result<T, E>;

/// A failed GitHub call. `operation` is GitHub's operation id (`checks/create`, …).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GithubError {
    /// GitHub answered with an error status.
    #[error("GitHub {operation}: HTTP {status}: {message}{hint}", hint = permission_hint(operation, *status))]
    Api {
        operation: &'static str,
        status: u16,
        message: String,
    },
    /// Rate limited (primary or secondary limit) and the retries ran out.
    #[error("GitHub {operation}: rate limited after {attempts} attempt(s); {message}")]
    RateLimited {
        operation: &'static str,
        attempts: u32,
        message: String,
    },
    /// The request never got an answer (DNS, connection, timeout).
    #[error("GitHub {operation}: request failed after {attempts} attempt(s): {message}")]
    Transport {
        operation: &'static str,
        attempts: u32,
        message: String,
    },
    /// GitHub answered 2xx with a body we cannot read.
    #[error("GitHub {operation}: unexpected response: {message}")]
    Decode {
        operation: &'static str,
        message: String,
    },
    /// The run context or client configuration is wrong (missing `GITHUB_REPOSITORY`, …).
    #[error("{problem}")]
    Config { problem: String, fix: String },
}

impl GithubError {
    pub(crate) fn api(operation: &'static str, status: u16, message: &str) -> Self {
        GithubError::Api {
            operation,
            status,
            message: redact(message),
        }
    }

    pub(crate) fn transport(operation: &'static str, attempts: u32, message: &str) -> Self {
        GithubError::Transport {
            operation,
            attempts,
            message: redact(message),
        }
    }

    pub(crate) fn decode(operation: &'static str, message: &str) -> Self {
        GithubError::Decode {
            operation,
            message: redact(message),
        }
    }

    pub(crate) fn config(problem: impl Into<String>, fix: impl Into<String>) -> Self {
        GithubError::Config {
            problem: redact(&problem.into()),
            fix: fix.into(),
        }
    }

    /// The HTTP status GitHub answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            GithubError::Api { status, .. } => Some(*status),
            GithubError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// True for a 404: the object does not exist (or the token cannot see it).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Reports this error as a `::warning::`: reporting is best effort for deploys, so the
    /// caller decides whether a failed report fails the action; this is the usual choice.
    pub fn warn(&self, what: &str) {
        annotate(
            Level::Warning,
            &Annotation::titled("GitHub reporting failed"),
            &format!("{what}: {self}"),
        );
    }
}

/// The token permission each operation needs, named the way a workflow's `permissions:` is.
fn permission_for(operation: &str) -> Option<&'static str> {
    let group = operation.split('/').next().unwrap_or_default();
    match (group, operation) {
        ("checks", _) => Some("checks: write"),
        (_, "repos/create-commit-status") => Some("statuses: write"),
        (_, op) if op.contains("deployment") => Some("deployments: write"),
        ("issues", _) => Some("pull-requests: write"),
        ("git", _) => Some("contents: write"),
        ("code-scanning", _) => Some("security-events: write"),
        (_, op) if op.contains("release") => Some("contents: write"),
        (_, "repos/compare-commits") => Some("contents: read"),
        ("pulls", _) | (_, "repos/list-pull-requests-associated-with-commit") => {
            Some("pull-requests: read")
        }
        _ => None,
    }
}

fn permission_hint(operation: &str, status: u16) -> String {
    match (status, permission_for(operation)) {
        (401, _) => " (the token is invalid or expired; check `github_token`)".to_string(),
        (403 | 404, Some(permission)) => {
            format!(" (the token may lack `permissions: {permission}` in the workflow)")
        }
        _ => String::new(),
    }
}

impl From<GithubError> for crate::error::Error {
    fn from(error: GithubError) -> Self {
        match error {
            GithubError::Config { problem, fix } => crate::error::Error::config(problem, fix),
            other => crate::error::Error::Failure(anyhow::Error::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_names_the_missing_permission() {
        let error = GithubError::api("checks/create", 403, "Resource not accessible");
        assert!(error.to_string().contains("permissions: checks: write"));
        let error = GithubError::api("git/create-ref", 404, "Not Found");
        assert!(error.is_not_found());
        assert!(error.to_string().contains("contents: write"));
    }

    #[test]
    fn messages_are_redacted() {
        crate::runner::mask::register("ghp_error_secret_value");
        let error = GithubError::transport("checks/create", 2, "bad ghp_error_secret_value");
        assert!(!error.to_string().contains("ghp_error_secret_value"));
    }
}
