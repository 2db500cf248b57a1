//! Enterprise TCR login: a temporary registry token from `tcr:CreateInstanceToken`, signed with
//! the same Tencent Cloud credentials the deploy uses. The token is a [`Secret`] (masked as
//! soon as it exists) and only ever travels in the engine's `X-Registry-Auth` header.

use std::sync::Arc;

use crate::cli::CloudArgs;
use crate::error::{Error, Result};
use crate::runner::Secret;
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
    let client = client(cloud)?;
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

/// The tcr client from the cloud inputs: `secret_id`/`secret_key`, else the
/// `TENCENTCLOUD_SECRET_ID`/`_KEY` environment variables.
fn client(cloud: &CloudArgs) -> Result<Client> {
    let endpoint = Endpoint::resolve(cloud.tcb_endpoint.as_deref())?;
    let credentials: Arc<dyn CredentialSource> = match (&cloud.secret_id, &cloud.secret_key) {
        (Some(id), Some(key)) => Arc::new(Credentials::new(id.clone(), key.clone())),
        (Some(_), None) => return Err(missing("secret_key", "secret_id")),
        (None, Some(_)) => return Err(missing("secret_id", "secret_key")),
        (None, None) if cloud.role_arn.is_some() => {
            // Keyless sts credentials are built by the deploy's cloud client; until that
            // builder is shared, TCR login takes keys.
            return Err(Error::NotBuilt {
                command: "build-image",
                capability: "Keyless (role_arn) TCR login; pass secret_id and secret_key for now",
                issue: 8,
            });
        }
        (None, None) => match Credentials::from_env() {
            Some(credentials) => Arc::new(credentials),
            None => {
                return Err(Error::input(
                    "secret_id",
                    "TCR login (tcr_instance_id) needs Tencent Cloud credentials and none were given",
                    "set secret_id and secret_key from repository secrets, or use username and password instead of tcr_instance_id",
                ));
            }
        },
    };
    Ok(Client::with_source(credentials)
        .endpoint(endpoint)
        .region(cloud.region.clone()))
}

fn missing(missing: &str, given: &str) -> Error {
    Error::input(
        missing,
        format!("is empty while {given} is set"),
        "give both secret_id and secret_key",
    )
}
