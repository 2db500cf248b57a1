//! The workflow run we report about, read from the runner's `GITHUB_*` variables and the event
//! payload. Parsing is pure (`from_vars`), so it is tested without touching the environment.

use serde_json::Value;

use super::error::{GithubError, Result};

/// `owner/name` of a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub owner: String,
    pub name: String,
}

impl Repo {
    /// Parses `owner/name`, as `GITHUB_REPOSITORY` spells it.
    pub fn parse(value: &str) -> Result<Repo> {
        let valid = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match value.trim().split_once('/') {
            Some((owner, name)) if valid(owner) && valid(name) => Ok(Repo {
                owner: owner.to_string(),
                name: name.to_string(),
            }),
            _ => Err(GithubError::config(
                format!("`GITHUB_REPOSITORY` is `{value}`, not owner/name"),
                "run inside GitHub Actions, or set GITHUB_REPOSITORY=owner/name",
            )),
        }
    }
}

impl std::fmt::Display for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// What the runner tells us about the current workflow run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunContext {
    /// REST base URL: `GITHUB_API_URL` (`https://ghe.example.com/api/v3` on GHES).
    pub api_url: String,
    /// Web base URL: `GITHUB_SERVER_URL`.
    pub server_url: String,
    pub repo: Repo,
    pub run_id: Option<u64>,
    pub run_attempt: Option<u32>,
    /// `GITHUB_SHA`: for pull_request events the merge commit, see [`RunContext::head_sha`].
    pub sha: Option<String>,
    /// `GITHUB_REF`, e.g. `refs/heads/main` or `refs/pull/7/merge`.
    pub git_ref: Option<String>,
    pub event_name: Option<String>,
    pub workflow: Option<String>,
    pub job: Option<String>,
    pub actor: Option<String>,
    /// The pull request this run is about, from the event payload or the ref.
    pub pull_request: Option<u64>,
    /// The PR head commit, from the event payload (check runs belong on it, not on the merge).
    pub pull_request_head_sha: Option<String>,
    /// The PR base commit, from the event payload (`pull_request.base.sha`).
    pub pull_request_base_sha: Option<String>,
    /// A push's `before` and `after` commits, from the event payload; `None` for a push that
    /// created the branch (`before` is all zeros), which has nothing to compare with.
    pub push_range: Option<(String, String)>,
}

const DEFAULT_API_URL: &str = "https://api.github.com";
const DEFAULT_SERVER_URL: &str = "https://github.com";

/// The commits a run's change spans, and whether they are a pull request's or a push's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeRange<'a> {
    pub base: &'a str,
    pub head: &'a str,
    pub pull_request: bool,
}

impl ChangeRange<'_> {
    /// What to call the change in messages.
    pub fn what(&self) -> &'static str {
        if self.pull_request {
            "this pull request"
        } else {
            "this push"
        }
    }
}

impl RunContext {
    /// Reads the context from the process environment and the event file at `GITHUB_EVENT_PATH`.
    pub fn from_env() -> Result<RunContext> {
        let event = std::env::var("GITHUB_EVENT_PATH")
            .ok()
            .filter(|p| !p.is_empty())
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|text| serde_json::from_str(&text).ok());
        Self::from_vars(|name| std::env::var(name).ok(), event.as_ref())
    }

    /// Builds the context from a variable lookup and the (optional) parsed event payload.
    pub fn from_vars(
        var: impl Fn(&str) -> Option<String>,
        event: Option<&Value>,
    ) -> Result<RunContext> {
        let var = |name: &str| {
            var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let repository = var("GITHUB_REPOSITORY").ok_or_else(|| {
            GithubError::config(
                "`GITHUB_REPOSITORY` is not set, so there is no repository to report to",
                "run inside GitHub Actions, or set GITHUB_REPOSITORY=owner/name",
            )
        })?;
        let git_ref = var("GITHUB_REF");
        let pull_request = event
            .and_then(pull_number_from_event)
            .or_else(|| git_ref.as_deref().and_then(pull_number_from_ref));
        Ok(RunContext {
            api_url: trim_base(&var("GITHUB_API_URL").unwrap_or(DEFAULT_API_URL.into())),
            server_url: trim_base(&var("GITHUB_SERVER_URL").unwrap_or(DEFAULT_SERVER_URL.into())),
            repo: Repo::parse(&repository)?,
            run_id: var("GITHUB_RUN_ID").and_then(|v| v.parse().ok()),
            run_attempt: var("GITHUB_RUN_ATTEMPT").and_then(|v| v.parse().ok()),
            sha: var("GITHUB_SHA"),
            git_ref,
            event_name: var("GITHUB_EVENT_NAME"),
            workflow: var("GITHUB_WORKFLOW"),
            job: var("GITHUB_JOB"),
            actor: var("GITHUB_ACTOR"),
            pull_request,
            pull_request_head_sha: event.and_then(|e| text_at(e, "/pull_request/head/sha")),
            pull_request_base_sha: event.and_then(|e| text_at(e, "/pull_request/base/sha")),
            push_range: event.and_then(push_range_from_event),
        })
    }

    /// The commits whose difference is this run's change: the PR's base and head, or a push's
    /// `before` and `after`. `None` when the event has neither (schedule, a new branch…).
    pub fn change_range(&self) -> Option<ChangeRange<'_>> {
        match (&self.pull_request_base_sha, &self.pull_request_head_sha) {
            (Some(base), Some(head)) => Some(ChangeRange {
                base,
                head,
                pull_request: true,
            }),
            _ => self.push_range.as_ref().map(|(before, after)| ChangeRange {
                base: before,
                head: after,
                pull_request: false,
            }),
        }
    }

    /// The pull request to comment on and this run's sticky comment there, headed by the
    /// workflow's name: `None` outside a pull request or without a run id.
    pub fn sticky_comment(&self) -> Option<(u64, super::StickyComment)> {
        let (number, run_id) = (self.pull_request?, self.run_id?);
        let heading = self.workflow.as_deref().unwrap_or("deploy-tcb");
        Some((number, super::StickyComment::new(run_id, heading)))
    }

    /// The commit to report on: the PR head for pull_request events, else `GITHUB_SHA`.
    pub fn head_sha(&self) -> Option<&str> {
        self.pull_request_head_sha
            .as_deref()
            .or(self.sha.as_deref())
    }

    /// The web page of this run (the deployments' `log_url`, the check run's `details_url`).
    pub fn run_url(&self) -> Option<String> {
        let run = self.run_id?;
        let base = format!("{}/{}/actions/runs/{run}", self.server_url, self.repo);
        Some(match self.run_attempt {
            Some(attempt) if attempt > 1 => format!("{base}/attempts/{attempt}"),
            _ => base,
        })
    }

    /// The web page of a commit.
    pub fn commit_url(&self, sha: &str) -> String {
        format!("{}/{}/commit/{sha}", self.server_url, self.repo)
    }
}

fn trim_base(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

fn text_at(event: &Value, pointer: &str) -> Option<String> {
    event
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// A push event's `before` and `after`; a `before` of zeros means the branch is new.
fn push_range_from_event(event: &Value) -> Option<(String, String)> {
    let before = text_at(event, "/before").filter(|b| b.chars().any(|c| c != '0'))?;
    let after = text_at(event, "/after").filter(|a| a.chars().any(|c| c != '0'))?;
    Some((before, after))
}

/// `pull_request.number` (pull_request, pull_request_target), or `issue.number` when the issue
/// is a PR (issue_comment on a PR).
fn pull_number_from_event(event: &Value) -> Option<u64> {
    if let Some(number) = event
        .pointer("/pull_request/number")
        .and_then(Value::as_u64)
    {
        return Some(number);
    }
    let issue = event.get("issue")?;
    issue.get("pull_request")?;
    issue.get("number").and_then(Value::as_u64)
}

/// `refs/pull/<n>/merge` or `refs/pull/<n>/head`.
fn pull_number_from_ref(git_ref: &str) -> Option<u64> {
    git_ref
        .strip_prefix("refs/pull/")?
        .split('/')
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn reads_ghes_urls_run_and_pull_request() {
        let event = json!({"pull_request": {"number": 42, "head": {"sha": "abc123"}}});
        let ctx = RunContext::from_vars(
            vars(&[
                ("GITHUB_REPOSITORY", "acme/shop"),
                ("GITHUB_API_URL", "https://ghe.example.com/api/v3/"),
                ("GITHUB_SERVER_URL", "https://ghe.example.com"),
                ("GITHUB_RUN_ID", "991"),
                ("GITHUB_RUN_ATTEMPT", "2"),
                ("GITHUB_SHA", "merge999"),
            ]),
            Some(&event),
        )
        .unwrap();
        assert_eq!(ctx.api_url, "https://ghe.example.com/api/v3");
        assert_eq!(ctx.pull_request, Some(42));
        assert_eq!(ctx.head_sha(), Some("abc123"));
        assert_eq!(ctx.change_range(), None, "no base sha in this payload");
        assert_eq!(
            ctx.run_url().unwrap(),
            "https://ghe.example.com/acme/shop/actions/runs/991/attempts/2"
        );
    }

    #[test]
    fn defaults_to_github_com_and_reads_pr_from_ref() {
        let ctx = RunContext::from_vars(
            vars(&[
                ("GITHUB_REPOSITORY", "acme/shop"),
                ("GITHUB_REF", "refs/pull/7/merge"),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(ctx.api_url, "https://api.github.com");
        assert_eq!(ctx.pull_request, Some(7));
        assert_eq!(ctx.run_url(), None);
    }

    #[test]
    fn the_change_is_the_prs_base_and_head_or_the_pushs_before_and_after() {
        let repo = vars(&[("GITHUB_REPOSITORY", "acme/shop")]);
        let pr =
            json!({"pull_request": {"number": 3, "base": {"sha": "b1"}, "head": {"sha": "h1"}}});
        let ctx = RunContext::from_vars(&repo, Some(&pr)).unwrap();
        let range = ctx.change_range().unwrap();
        assert_eq!(
            (range.base, range.head, range.what()),
            ("b1", "h1", "this pull request")
        );
        let push = json!({"before": "a0", "after": "a1"});
        let ctx = RunContext::from_vars(&repo, Some(&push)).unwrap();
        let range = ctx.change_range().unwrap();
        assert_eq!(
            (range.base, range.head, range.what()),
            ("a0", "a1", "this push")
        );
        let new_branch =
            json!({"before": "0000000000000000000000000000000000000000", "after": "a1"});
        let ctx = RunContext::from_vars(&repo, Some(&new_branch)).unwrap();
        assert_eq!(ctx.change_range(), None);
    }

    #[test]
    fn issue_comment_on_a_pr_counts_plain_issues_do_not() {
        let on_pr = json!({"issue": {"number": 5, "pull_request": {"url": "x"}}});
        let on_issue = json!({"issue": {"number": 6}});
        assert_eq!(pull_number_from_event(&on_pr), Some(5));
        assert_eq!(pull_number_from_event(&on_issue), None);
    }

    #[test]
    fn a_missing_or_bad_repository_is_a_config_error_with_a_fix() {
        let missing = RunContext::from_vars(vars(&[]), None).unwrap_err();
        assert!(matches!(missing, GithubError::Config { .. }));
        let bad = Repo::parse("no-slash").unwrap_err();
        assert!(bad.to_string().contains("owner/name"));
    }
}
