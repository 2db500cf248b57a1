//! GitHub REST reporting: check runs, statuses, the sticky PR comment, deployments, releases, refs.
//!
//! One small typed client over `reqwest` (see `client.rs` for why not octocrab): base URL from
//! `GITHUB_API_URL` (GitHub Enterprise Server works), a masked token, the repository and run
//! from the runner's `GITHUB_*` variables, retries with backoff on 5xx and rate limits, and
//! errors that name the operation and never carry the token. Reporting is best effort for
//! deploys: callers turn a [`GithubError`] into a warning with [`GithubError::warn`].

pub mod checks;
pub mod client;
pub mod comment;
pub mod context;
pub mod deployments;
pub mod error;
pub mod git;
pub mod releases;

pub use checks::{
    AnnotationLevel, CheckAnnotation, CheckOutput, CheckRun, CheckRunUpdate, CheckStatus,
    CommitState, CommitStatus, Conclusion, NewCheckRun, NewCommitStatus,
};
pub use client::{Client, RetryPolicy};
pub use comment::{IssueComment, StickyComment, merge_section, section_content, sections};
pub use context::{Repo, RunContext};
pub use deployments::{
    Deployment, DeploymentState, DeploymentStatus, NewDeployment, NewDeploymentStatus,
    VerifiedDeployment,
};
pub use error::{GithubError, Result};
pub use git::{GitObject, GitRef, PullRequest, RefName, Tagger, User};
pub use releases::{MakeLatest, NewRelease, Release, ReleaseUpdate};
