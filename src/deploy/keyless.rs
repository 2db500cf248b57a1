//! Keyless authentication: the job's GitHub OIDC token, requested for the audience
//! `sts.tencentcloudapi.com`, is exchanged through sts AssumeRoleWithWebIdentity for temporary
//! credentials, which are exchanged again before they expire.

use anyhow::Context;

use crate::error::{Error, Result};
use crate::runner::Secret;

/// The audience Tencent Cloud's OIDC provider is configured with (its ClientId).
pub const AUDIENCE: &str = "sts.tencentcloudapi.com";

/// Where the runner hands out OIDC tokens to a job with `id-token: write`.
#[derive(Debug, Clone)]
pub struct TokenEndpoint {
    pub url: String,
    pub bearer: Secret,
}

impl TokenEndpoint {
    /// Reads `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub fn from_env() -> Result<Self> {
        let url = std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL").unwrap_or_default();
        let token = std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN").unwrap_or_default();
        if url.trim().is_empty() || token.trim().is_empty() {
            return Err(Error::input(
                "role_arn",
                "keyless authentication needs the job's OIDC token, but ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set",
                "add `permissions: id-token: write` to the job (or workflow), or give secret_id and secret_key instead of role_arn",
            ));
        }
        Ok(TokenEndpoint {
            url,
            bearer: Secret::new(token),
        })
    }

    /// The request URL with the audience added to its query.
    pub fn url_for(&self, audience: &str) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}audience={audience}", self.url)
    }

    /// Requests a fresh OIDC token (a JWT), masked as soon as it arrives.
    pub async fn fetch(&self, http: &reqwest::Client, audience: &str) -> Result<Secret> {
        #[derive(serde::Deserialize)]
        struct Answer {
            value: String,
        }
        let response = http
            .get(self.url_for(audience))
            .bearer_auth(self.bearer.expose())
            .header("Accept", "application/json; api-version=2.0")
            .send()
            .await
            .context("requesting the GitHub OIDC token")?;
        let status = response.status();
        if !status.is_success() {
            return Err(Error::Failure(anyhow::anyhow!(
                "the GitHub OIDC token request answered HTTP {status}; check that the job has `permissions: id-token: write`"
            )));
        }
        let answer: Answer = response
            .json()
            .await
            .context("reading the GitHub OIDC token answer")?;
        if answer.value.is_empty() {
            return Err(Error::Failure(anyhow::anyhow!(
                "the GitHub OIDC token answer holds no token"
            )));
        }
        Ok(Secret::new(answer.value))
    }
}

/// A session name sts accepts (2 to 128 of `[\w+=,.@-]`), naming the run for CloudAudit.
pub fn session_name() -> String {
    let run = std::env::var("GITHUB_RUN_ID").unwrap_or_else(|_| "local".to_string());
    let repo = std::env::var("GITHUB_REPOSITORY").unwrap_or_default();
    let raw = format!("deploy-tcb-{repo}-{run}");
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(128)
        .collect();
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_is_appended_to_the_query() {
        let endpoint = TokenEndpoint {
            url: "http://runner/token?api-version=2.0".into(),
            bearer: Secret::new("bearer-value-xyz"),
        };
        assert_eq!(
            endpoint.url_for(AUDIENCE),
            "http://runner/token?api-version=2.0&audience=sts.tencentcloudapi.com"
        );
    }

    #[test]
    fn session_names_use_only_allowed_characters() {
        let name = session_name();
        assert!(name.len() >= 2 && name.len() <= 128);
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
        );
    }
}
