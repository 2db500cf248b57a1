//! Enterprise TCR login: a temporary registry token from `tcr:CreateInstanceToken`, signed with
//! the same Tencent Cloud credentials the deploy uses (keys, or keyless through the job's OIDC
//! token and sts AssumeRoleWithWebIdentity). The token is a [`Secret`] (masked as
//! soon as it exists) and only ever travels in the engine's `X-Registry-Auth` header.

use std::sync::Arc;

use anyhow::Context;

use crate::cli::CloudArgs;
use crate::error::{Error, Result};
use crate::runner::Secret;
use crate::tcb::credentials::Anonymous;
use crate::tcb::models::sts::AssumeRoleWithWebIdentityRequest;
use crate::tcb::models::tcr::CreateInstanceTokenRequest;
use crate::tcb::{Client, CredentialSource, Credentials, Endpoint};

/// The audience Tencent Cloud's OIDC identity provider is configured with (its client id).
const OIDC_AUDIENCE: &str = "sts.tencentcloudapi.com";

/// A registry login: the user name TCR issued and its temporary token.
#[derive(Debug, Clone)]
pub struct InstanceToken {
    pub username: String,
    pub token: Secret,
}

/// Asks TCR for a temporary token for `instance_id`.
pub async fn instance_token(cloud: &CloudArgs, instance_id: &str) -> Result<InstanceToken> {
    let client = client(cloud).await?;
    let request = CreateInstanceTokenRequest {
        registry_id: instance_id.to_string(),
        token_type: Some("temp".to_string()),
        desc: Some("deploy-tcb build-image".to_string()),
    };
    let response = client.create_instance_token(&request).await?;
    let token = Secret::new(response.token.expose());
    if response.username.is_empty() || token.expose().is_empty() {
        return Err(Error::Failure(anyhow::anyhow!(
            "tcr:CreateInstanceToken for {instance_id} returned no user name or token"
        )));
    }
    Ok(InstanceToken {
        username: response.username,
        token,
    })
}

/// The tcr client from the cloud inputs: `secret_id`/`secret_key`, else keyless with
/// `role_arn`/`provider_id`, else the `TENCENTCLOUD_SECRET_ID`/`_KEY` environment variables.
async fn client(cloud: &CloudArgs) -> Result<Client> {
    let endpoint = Endpoint::resolve(cloud.tcb_endpoint.as_deref())?;
    let role_arn = cloud.role_arn.clone().filter(|r| !r.trim().is_empty());
    let credentials: Arc<dyn CredentialSource> = match (
        &cloud.secret_id,
        &cloud.secret_key,
        role_arn,
    ) {
        (Some(id), Some(key), _) => Arc::new(Credentials::new(id.clone(), key.clone())),
        (Some(_), None, _) => return Err(missing("secret_key", "secret_id")),
        (None, Some(_), _) => return Err(missing("secret_id", "secret_key")),
        (None, None, Some(role)) => Arc::new(keyless(cloud, &role, &endpoint).await?),
        (None, None, None) => match Credentials::from_env() {
            Some(credentials) => Arc::new(credentials),
            None => {
                return Err(Error::input(
                    "secret_id",
                    "TCR login (tcr_instance_id) needs Tencent Cloud credentials and none were given",
                    "set secret_id and secret_key from repository secrets, or role_arn and provider_id for keyless login",
                ));
            }
        },
    };
    Ok(Client::with_source(credentials)
        .endpoint(endpoint)
        .region(cloud.region.clone()))
}

/// Keyless: the job's OIDC token, exchanged once through sts AssumeRoleWithWebIdentity for
/// temporary keys (the one TCR call needs no refresh).
async fn keyless(cloud: &CloudArgs, role_arn: &str, endpoint: &Endpoint) -> Result<Credentials> {
    let Some(provider_id) = cloud.provider_id.clone().filter(|p| !p.trim().is_empty()) else {
        return Err(Error::input(
            "provider_id",
            "is required with role_arn",
            "set provider_id to the name of the OIDC identity provider in Tencent Cloud CAM",
        ));
    };
    let oidc = oidc_token().await?;
    let sts = Client::new(Anonymous)
        .endpoint(endpoint.clone())
        .region(cloud.region.clone());
    let request = AssumeRoleWithWebIdentityRequest {
        provider_id,
        web_identity_token: oidc.expose().into(),
        role_arn: role_arn.to_string(),
        role_session_name: session_name(),
        duration_seconds: Some(1800),
    };
    let keys = sts
        .assume_role_with_web_identity(&request)
        .await?
        .credentials;
    if keys.tmp_secret_id.is_empty() || keys.tmp_secret_key.expose().is_empty() {
        return Err(Error::Failure(anyhow::anyhow!(
            "sts:AssumeRoleWithWebIdentity returned no keys for {role_arn}"
        )));
    }
    Ok(Credentials::temporary(
        Secret::new(keys.tmp_secret_id),
        Secret::new(keys.tmp_secret_key.expose()),
        Secret::new(keys.token.expose()),
    ))
}

/// The job's GitHub OIDC token for Tencent Cloud's audience, masked as soon as it arrives.
async fn oidc_token() -> Result<Secret> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let (Some(url), Some(bearer)) = (
        var("ACTIONS_ID_TOKEN_REQUEST_URL"),
        var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) else {
        return Err(Error::input(
            "role_arn",
            "keyless login needs the job's OIDC token, but ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set",
            "add `permissions: id-token: write` to the job, or give secret_id and secret_key instead of role_arn",
        ));
    };
    let bearer = Secret::new(bearer);
    let separator = if url.contains('?') { '&' } else { '?' };
    let response = reqwest::Client::new()
        .get(format!("{url}{separator}audience={OIDC_AUDIENCE}"))
        .bearer_auth(bearer.expose())
        .header("Accept", "application/json; api-version=2.0")
        .send()
        .await
        .context("requesting the GitHub OIDC token")?;
    let status = response.status();
    if !status.is_success() {
        return Err(Error::Failure(anyhow::anyhow!(
            "the GitHub OIDC token request answered HTTP {status}; the job needs `permissions: id-token: write`"
        )));
    }
    let answer: serde_json::Value = response
        .json()
        .await
        .context("reading the GitHub OIDC token answer")?;
    match answer.get("value").and_then(serde_json::Value::as_str) {
        Some(token) if !token.is_empty() => Ok(Secret::new(token)),
        _ => Err(Error::Failure(anyhow::anyhow!(
            "the GitHub OIDC token answer holds no token"
        ))),
    }
}

/// An sts session name (2 to 128 of `[\w+=,.@-]`) that names the run for CloudAudit.
fn session_name() -> String {
    let run = std::env::var("GITHUB_RUN_ID").unwrap_or_else(|_| "local".to_string());
    format!("deploy-tcb-build-image-{run}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(128)
        .collect()
}

fn missing(missing: &str, given: &str) -> Error {
    Error::input(
        missing,
        format!("is empty while {given} is set"),
        "give both secret_id and secret_key",
    )
}
