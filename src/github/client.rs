//! The HTTP edge: one `reqwest` client with GitHub's headers, a bearer token that is only ever
//! put into a header, and retries with backoff on 5xx, 429 and secondary rate limits.
//!
//! Why not octocrab (0.54.9): its `update_comment` sends POST where the API describes PATCH,
//! it sends no `Accept: application/vnd.github+json` by default, its check-run create has no
//! `started_at`, its retry layer does not wait out secondary rate limits (403/429 with
//! `Retry-After`), its response models require fields GHES versions and fakes may omit, and it
//! would bring a second HTTP stack (hyper-util, tower) next to the `reqwest` we already ship.
//! The dozen operations we need are a few lines each here, typed at our boundary.

use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::context::{Repo, RunContext};
use super::error::{GithubError, Result};
use crate::runner::Secret;

/// The REST API version every request asks for.
pub const API_VERSION: &str = "2022-11-28";

/// How often and how long to retry a request GitHub could not serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, including the first.
    pub attempts: u32,
    /// First backoff; doubled after each attempt.
    pub base_delay: Duration,
    /// Longest backoff between two attempts, and the longest `Retry-After` we are willing to
    /// wait; a longer one ends the retries with [`GithubError::RateLimited`].
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (attempt counts from 1), without a server hint.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// A GitHub REST client for one repository.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    api_url: String,
    repo: Repo,
    token: Secret,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("api_url", &self.api_url)
            .field("repo", &self.repo)
            .finish_non_exhaustive()
    }
}

/// What a retry decision needs to know about an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub rate_limit_exhausted: bool,
    pub body: String,
}

/// What to do with an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Done,
    RetryAfter(Duration),
    RateLimited,
}

/// Decides whether an answer is final. Pure, so the policy is tested by table.
pub(crate) fn decide(policy: &RetryPolicy, answer: &Answer, attempt: u32) -> Verdict {
    let rate_limited = answer.status == 429
        || (answer.status == 403
            && (answer.retry_after.is_some()
                || answer.rate_limit_exhausted
                || answer.body.to_ascii_lowercase().contains("rate limit")));
    let server_error = matches!(answer.status, 500 | 502 | 503 | 504);
    if !rate_limited && !server_error {
        return Verdict::Done;
    }
    if attempt >= policy.attempts {
        return if rate_limited {
            Verdict::RateLimited
        } else {
            Verdict::Done
        };
    }
    match answer.retry_after {
        Some(wait) if wait > policy.max_delay => Verdict::RateLimited,
        Some(wait) => Verdict::RetryAfter(wait),
        None => Verdict::RetryAfter(policy.backoff(attempt)),
    }
}

/// Characters escaped inside one path segment (everything but unreserved characters).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one path segment (a tag name, an environment).
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// Percent-encodes a multi-segment value (`tags/v1.2.3`) segment by segment, keeping the slashes.
pub fn encode_path(value: &str) -> String {
    value
        .split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

impl Client {
    /// A client for `repo` at `api_url` (`https://api.github.com`, or a GHES `…/api/v3`).
    pub fn new(api_url: &str, token: Secret, repo: Repo) -> Result<Client> {
        let api_url = api_url.trim().trim_end_matches('/').to_string();
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(GithubError::config(
                format!("`GITHUB_API_URL` is `{api_url}`, not an http(s) URL"),
                "leave GITHUB_API_URL to the runner, or set it to e.g. https://api.github.com",
            ));
        }
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                GithubError::config(
                    "`github_token` contains characters that cannot go into an HTTP header",
                    "pass the token itself, e.g. ${{ secrets.GITHUB_TOKEN }}",
                )
            })?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, auth);
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(
            "X-GitHub-Api-Version",
            HeaderValue::from_static(API_VERSION),
        );
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("deploy-tcb/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| GithubError::config(format!("HTTP client: {e}"), "report this bug"))?;
        Ok(Client {
            http,
            api_url,
            repo,
            token,
            retry: RetryPolicy::default(),
        })
    }

    /// A client for the run's repository at the run's API URL.
    pub fn from_context(context: &RunContext, token: Secret) -> Result<Client> {
        Client::new(&context.api_url, token, context.repo.clone())
    }

    /// A client for the current run: `RunContext::from_env()` and [`Client::from_context`].
    pub fn from_env(token: Secret) -> Result<(Client, RunContext)> {
        let context = RunContext::from_env()?;
        Ok((Client::from_context(&context, token)?, context))
    }

    /// Replaces the retry policy (tests use millisecond backoffs).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Client {
        self.retry = retry;
        self
    }

    pub fn repo(&self) -> &Repo {
        &self.repo
    }

    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// `/repos/{owner}/{repo}` + `tail`.
    pub(crate) fn repo_path(&self, tail: &str) -> String {
        format!(
            "/repos/{}/{}{tail}",
            encode_segment(&self.repo.owner),
            encode_segment(&self.repo.name)
        )
    }

    /// Sends a request and decodes a JSON answer.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<T> {
        let (_, text) = self.exchange(operation, method, path, query, body).await?;
        serde_json::from_str(&text).map_err(|e| GithubError::decode(operation, &e.to_string()))
    }

    /// Sends with retries; returns the final 2xx status and body, or the error.
    pub(crate) async fn exchange(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(u16, String)> {
        let url = format!("{}{path}", self.api_url);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.http.request(method.clone(), &url).query(query);
            if let Some(body) = body {
                request = request.json(body);
            }
            tracing::debug!(operation, %method, path, attempt, "GitHub request");
            let answer = match request.send().await {
                Ok(response) => read_answer(response).await,
                Err(error) if attempt < self.retry.attempts && is_transient(&error) => {
                    tokio::time::sleep(self.retry.backoff(attempt)).await;
                    continue;
                }
                Err(error) => {
                    return Err(GithubError::transport(
                        operation,
                        attempt,
                        &error_chain(&error.without_url()),
                    ));
                }
            };
            match decide(&self.retry, &answer, attempt) {
                Verdict::RetryAfter(wait) => {
                    tracing::debug!(operation, status = answer.status, ?wait, "GitHub retry");
                    tokio::time::sleep(wait).await;
                }
                Verdict::RateLimited => {
                    return Err(GithubError::RateLimited {
                        operation,
                        attempts: attempt,
                        message: crate::runner::mask::redact(&error_message(&answer.body)),
                    });
                }
                Verdict::Done if (200..300).contains(&answer.status) => {
                    return Ok((answer.status, answer.body));
                }
                Verdict::Done => {
                    return Err(GithubError::api(
                        operation,
                        answer.status,
                        &error_message(&answer.body),
                    ));
                }
            }
        }
    }

    /// The token, for the rare caller that must hand it to another tool (never printed).
    pub fn token(&self) -> &Secret {
        &self.token
    }
}

/// An error with its causes ("error sending request: connection refused"), without the URL.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(&format!(": {cause_text}"));
        }
        source = cause.source();
    }
    text
}

fn is_transient(error: &reqwest::Error) -> bool {
    error.is_connect() || error.is_timeout() || error.is_request()
}

async fn read_answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let retry_after = header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .or_else(|| reset_wait(header("x-ratelimit-remaining"), header("x-ratelimit-reset")));
    let body = response.text().await.unwrap_or_default();
    Answer {
        status: status.as_u16(),
        retry_after,
        rate_limit_exhausted: header("x-ratelimit-remaining") == Some("0"),
        body: if status == StatusCode::NO_CONTENT {
            String::new()
        } else {
            body
        },
    }
}

/// With the primary limit exhausted, GitHub says when it resets (epoch seconds).
fn reset_wait(remaining: Option<&str>, reset: Option<&str>) -> Option<Duration> {
    if remaining != Some("0") {
        return None;
    }
    let reset: i64 = reset?.trim().parse().ok()?;
    let wait = reset - chrono::Utc::now().timestamp();
    Some(Duration::from_secs(wait.max(1) as u64))
}

/// GitHub's error body is `{"message": …, "errors": [...]}`; keep the message and the errors.
fn error_message(body: &str) -> String {
    let Ok(json) = serde_json::from_str::<Value>(body) else {
        return body.chars().take(300).collect();
    };
    let message = json
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message")
        .to_string();
    match json.get("errors").filter(|e| e.is_array()) {
        Some(errors) => format!("{message} {errors}"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, retry_after: Option<u64>, body: &str) -> Answer {
        Answer {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            rate_limit_exhausted: false,
            body: body.to_string(),
        }
    }

    #[test]
    fn retries_server_errors_and_secondary_limits_then_stops() {
        let policy = RetryPolicy::default();
        let wait = |v| matches!(v, Verdict::RetryAfter(_));
        assert!(wait(decide(&policy, &answer(502, None, ""), 1)));
        assert!(wait(decide(&policy, &answer(429, Some(3), ""), 1)));
        let secondary = answer(
            403,
            None,
            r#"{"message":"You have exceeded a secondary rate limit"}"#,
        );
        assert!(wait(decide(&policy, &secondary, 1)));
        assert_eq!(decide(&policy, &secondary, 4), Verdict::RateLimited);
        assert_eq!(decide(&policy, &answer(502, None, ""), 4), Verdict::Done);
    }

    #[test]
    fn client_errors_are_final_and_long_waits_give_up() {
        let policy = RetryPolicy::default();
        assert_eq!(decide(&policy, &answer(422, None, "{}"), 1), Verdict::Done);
        assert_eq!(
            decide(&policy, &answer(403, None, r#"{"message":"Forbidden"}"#), 1),
            Verdict::Done
        );
        assert_eq!(
            decide(&policy, &answer(429, Some(3600), ""), 1),
            Verdict::RateLimited
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = RetryPolicy {
            attempts: 10,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
        };
        assert_eq!(policy.backoff(1), Duration::from_secs(1));
        assert_eq!(policy.backoff(3), Duration::from_secs(4));
        assert_eq!(policy.backoff(8), Duration::from_secs(5));
    }

    #[test]
    fn paths_are_encoded_per_segment() {
        assert_eq!(encode_path("tags/v1.2.3+build"), "tags/v1.2.3%2Bbuild");
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn error_bodies_keep_message_and_errors() {
        let body = r#"{"message":"Validation Failed","errors":[{"code":"already_exists"}]}"#;
        assert!(error_message(body).contains("already_exists"));
        assert_eq!(error_message("plain"), "plain");
    }
}
