//! Enterprise TCR login: a temporary registry token from `tcr:CreateInstanceToken`, signed with
//! the same Tencent Cloud credentials the deploy uses (keys, or keyless through the job's OIDC
//! token and sts AssumeRoleWithWebIdentity). The token is a [`Secret`] (masked as
//! soon as it exists) and only ever travels in the engine's `X-Registry-Auth` header.

use std::sync::Arc;

use crate::cli::CloudArgs;
use crate::deploy::keyless;
use crate::error::{Error, Result};
use crate::runner::Secret;
use crate::tcb::credentials::Anonymous;
use crate::tcb::models::sts::AssumeRoleWithWebIdentityRequest;
use crate::tcb::models::tcr::CreateInstanceTokenRequest;
use crate::tcb::{Client, CredentialSource, Credentials, Endpoint};

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
    let oidc = keyless::TokenEndpoint::from_env()?
        .fetch(&reqwest::Client::new(), keyless::AUDIENCE)
        .await?;
    let sts = Client::new(Anonymous)
        .endpoint(endpoint.clone())
        .region(cloud.region.clone());
    let request = AssumeRoleWithWebIdentityRequest {
        provider_id,
        web_identity_token: oidc.expose().into(),
        role_arn: role_arn.to_string(),
        role_session_name: keyless::session_name(),
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

fn missing(missing: &str, given: &str) -> Error {
    Error::input(
        missing,
        format!("is empty while {given} is set"),
        "give both secret_id and secret_key",
    )
}
