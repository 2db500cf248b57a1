//! GitHub REST reporting: check runs, statuses, the sticky PR comment, deployments, releases, refs.
//!
//! One small typed client over `reqwest` (see `client.rs` for why not octocrab): base URL from
//! `GITHUB_API_URL` (GitHub Enterprise Server works), a masked token, the repository and run
//! from the runner's `GITHUB_*` variables, retries with backoff on 5xx and rate limits, and
//! errors that name the operation and never carry the token. Reporting is best effort for
//! deploys: callers turn a [`GithubError`] into a warning with [`GithubError::warn`].

//!
//! ```text
//! let (client, context) = Client::from_env(token)?;          // GITHUB_API_URL, GITHUB_REPOSITORY…
//! let run = client.create_check_run(&NewCheckRun::started("deploy-tcb deploy", sha)).await?;
//! client.update_check_run(run.id, &CheckRunUpdate::completed(Conclusion::Success, output)).await?;
//! let sticky = StickyComment::new(context.run_id.unwrap_or(0), "deploy-tcb");
//! client.upsert_sticky_section(pr, &sticky, "deploy/production", &markdown).await?;
//! let d = client.create_deployment(&NewDeployment::new(sha, "production", payload)).await?;
//! client.create_deployment_status(d.id, &NewDeploymentStatus::new(DeploymentState::Success)).await?;
//! // rollback: the newest verified deployments of an environment, with their payloads
//! let verified = client.successful_deployments("production", 30).await?;
//! ```
//!
//! Every request is checked in tests against GitHub's OpenAPI description (npm
//! `@octokit/openapi` 23.0.2; the subset in `../shared/spec/github/`, and GHES 3.17's
//! description when the package is installed) by the fake in `tests/support/fake_github.rs`.

pub mod checks;
pub mod client;
pub mod code_scanning;
pub mod comment;
pub mod context;
pub mod deployments;
pub mod diff;
pub mod error;
pub mod git;
pub mod releases;

pub use checks::{
    AnnotationLevel, CheckAnnotation, CheckOutput, CheckRun, CheckRunUpdate, CheckStatus,
    CommitState, CommitStatus, Conclusion, NewCheckRun, NewCommitStatus,
};
pub use client::{Client, RetryPolicy};
pub use code_scanning::{SarifReceipt, SarifStatus, SarifUpload};
pub use comment::{
    IssueComment, StickyComment, merge_section, section_content, section_id_for, sections,
};
pub use context::{ChangeRange, Repo, RunContext};
pub use deployments::{
    Deployment, DeploymentState, DeploymentStatus, NewDeployment, NewDeploymentStatus,
    VerifiedDeployment,
};
pub use error::{GithubError, Result};
pub use git::{GitObject, GitRef, PullRequest, RefName, Tagger, User};
pub use releases::{MakeLatest, NewRelease, Release, ReleaseUpdate};

/// A client and the run's context when a token is given; when the context cannot be read, a
/// warning and no reporting (reporting is best effort, never the verdict).
pub fn connect(args: &crate::cli::GithubArgs) -> Option<(Client, RunContext)> {
    let token = args.github_token.clone()?;
    Client::from_env(token)
        .inspect_err(|error| error.warn("GitHub reporting is off"))
        .ok()
}
