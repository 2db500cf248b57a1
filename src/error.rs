//! The error every action returns, and the exit code it maps to.
//!
//! The user's mistakes (bad input, bad configuration) are kept apart from the action's own
//! verdict (a failed gate or deploy) and from bugs, because each gets a different exit code and
//! a different message.

/// Result type used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input is missing or malformed. Exit code 2.
    #[error("input `{input}`: {problem}")]
    Input {
        input: String,
        problem: String,
        fix: String,
    },
    /// Configuration outside a single input is wrong (a config file, the environment). Exit 2.
    #[error("{problem}")]
    Config {
        problem: String,
        fix: String,
        /// Where the problem is, for an annotation: (file, line, column).
        location: Option<(String, usize, usize)>,
    },
    /// The capability exists in the CLI but is not built yet. Exit 2, never a fake success.
    #[error("`deploy-tcb {command}` is not built yet: {capability} arrives with issue #{issue}")]
    NotBuilt {
        command: &'static str,
        capability: &'static str,
        issue: u32,
    },
    /// The action ran and its verdict is failure (deploy failed, gate failed). Exit 1.
    #[error("{0}")]
    Verdict(String),
    /// Something outside our control failed (network, cloud API). Exit 1.
    #[error(transparent)]
    Failure(#[from] anyhow::Error),
}

impl Error {
    /// Builds an input error naming the input, the problem and the fix.
    pub fn input(input: &str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Error::Input {
            input: input.to_string(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    /// Builds a configuration error with its fix.
    pub fn config(problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Error::Config {
            problem: problem.into(),
            fix: fix.into(),
            location: None,
        }
    }

    /// The process exit code: 2 for the user's mistakes, 1 for a failed verdict or operation.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input { .. } | Error::Config { .. } | Error::NotBuilt { .. } => 2,
            Error::Verdict(_) | Error::Failure(_) => 1,
        }
    }

    /// A short title for the `::error title=…::` annotation.
    pub fn title(&self) -> &'static str {
        match self {
            Error::Input { .. } => "Invalid input",
            Error::Config { .. } => "Invalid configuration",
            Error::NotBuilt { .. } => "Not built yet",
            Error::Verdict(_) => "Failed",
            Error::Failure(_) => "Error",
        }
    }

    /// What the user should do next, when we know.
    pub fn fix(&self) -> Option<String> {
        match self {
            Error::Input { fix, .. } | Error::Config { fix, .. } => Some(fix.clone()),
            Error::NotBuilt { .. } => Some(
                "use a released version of deploy-tcb that has this capability, or remove the step"
                    .to_string(),
            ),
            _ => None,
        }
    }

    /// The full message, with the cause chain for operational failures.
    pub fn message(&self) -> String {
        match self {
            Error::Failure(e) => format!("{e:#}"),
            other => other.to_string(),
        }
    }
}
