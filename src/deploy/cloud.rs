//! [`CloudRunApi`] over the tcbr client, and the client itself built from the inputs: fixed
//! keys, or keyless credentials from the job's OIDC token that refresh themselves.

use std::sync::Arc;

use super::convert;
use super::flow::{CloudRunApi, EnvState, GraySplit, RecordView, Submission, SubmitError};
use super::keyless::{self, TokenEndpoint};
use super::plan::CurrentService;
use super::progress::TaskView;
use crate::cli::CloudArgs;
use crate::error::{Error, Result};
use crate::runner::Secret;
use crate::tcb::credentials::{Anonymous, BoxFuture, Expiring, Refreshing};
use crate::tcb::models::sts::AssumeRoleWithWebIdentityRequest;
use crate::tcb::models::tcbr;
use crate::tcb::{Client, ClientError, CredentialSource, Credentials, Endpoint, Recheck};

/// How long keyless credentials are asked for (sts's default).
const KEYLESS_SECONDS: i64 = 7200;

/// The tcbr client as the deploy uses it.
pub struct CloudRun {
    pub client: Client,
}

/// Builds the client from the cloud inputs: `secret_id`/`secret_key`, else keyless with
/// `role_arn`/`provider_id`, else `TENCENTCLOUD_SECRET_ID`/`_KEY` from the environment.
pub fn client(args: &CloudArgs, region: &str) -> Result<Client> {
    let endpoint = Endpoint::resolve(args.tcb_endpoint.as_deref())?;
    let source: Arc<dyn CredentialSource> =
        match (&args.secret_id, &args.secret_key, &args.role_arn) {
            (Some(id), Some(key), _) => Arc::new(Credentials::new(id.clone(), key.clone())),
            (Some(_), None, _) => return Err(missing_pair("secret_key", "secret_id")),
            (None, Some(_), _) => return Err(missing_pair("secret_id", "secret_key")),
            (None, None, Some(role)) => keyless_source(args, role, &endpoint, region)?,
            (None, None, None) => match Credentials::from_env() {
                Some(credentials) => Arc::new(credentials),
                None => return Err(no_credentials()),
            },
        };
    Ok(Client::with_source(source)
        .endpoint(endpoint)
        .region(region))
}

fn missing_pair(missing: &str, given: &str) -> Error {
    Error::input(
        missing,
        format!("is empty while {given} is set"),
        "give both secret_id and secret_key, or neither (and role_arn for keyless)",
    )
}

fn no_credentials() -> Error {
    Error::input(
        "secret_id",
        "no Tencent Cloud credentials were given",
        "set secret_id and secret_key (from repository secrets), or role_arn and provider_id for keyless authentication",
    )
}

/// Credentials from sts AssumeRoleWithWebIdentity with a fresh GitHub OIDC token each time,
/// replaced five minutes before they expire.
fn keyless_source(
    args: &CloudArgs,
    role_arn: &str,
    endpoint: &Endpoint,
    region: &str,
) -> Result<Arc<dyn CredentialSource>> {
    let Some(provider_id) = args.provider_id.clone().filter(|p| !p.trim().is_empty()) else {
        return Err(Error::input(
            "provider_id",
            "is required with role_arn",
            "set provider_id to the name of the OIDC identity provider in Tencent Cloud CAM",
        ));
    };
    let token_endpoint = TokenEndpoint::from_env()?;
    let sts = Client::new(Anonymous)
        .endpoint(endpoint.clone())
        .region(region);
    let role_arn = role_arn.to_string();
    let http = reqwest::Client::new();
    let fetch = move || -> BoxFuture<'static, std::result::Result<Expiring, ClientError>> {
        let (sts, http, token_endpoint) = (sts.clone(), http.clone(), token_endpoint.clone());
        let (role_arn, provider_id) = (role_arn.clone(), provider_id.clone());
        Box::pin(async move {
            let token = token_endpoint
                .fetch(&http, keyless::AUDIENCE)
                .await
                .map_err(|e| ClientError::Credentials(e.message()))?;
            let request = AssumeRoleWithWebIdentityRequest {
                provider_id,
                web_identity_token: token.expose().into(),
                role_arn,
                role_session_name: keyless::session_name(),
                duration_seconds: Some(KEYLESS_SECONDS),
            };
            let answer = sts.assume_role_with_web_identity(&request).await?;
            let issued = answer.credentials;
            let credentials = Credentials::temporary(
                Secret::new(issued.tmp_secret_id),
                Secret::new(issued.tmp_secret_key.expose()),
                Secret::new(issued.token.expose()),
            );
            tracing::info!(
                "keyless: assumed {} until {}",
                request_role(&request),
                answer.expiration
            );
            Ok(Expiring {
                credentials,
                expires_at: i64::try_from(answer.expired_time).unwrap_or(i64::MAX),
            })
        })
    };
    Ok(Arc::new(Refreshing::new(fetch).refresh_before(300)))
}

fn request_role(request: &AssumeRoleWithWebIdentityRequest) -> &str {
    &request.role_arn
}

impl CloudRunApi for CloudRun {
    async fn gray_split(&self, split: &GraySplit) -> Result<()> {
        self.release_gray(split).await.map_err(auth_aware)
    }

    async fn environment(&self, env_id: &str) -> Result<EnvState> {
        let request = tcbr::DescribeEnvBaseInfoRequest {
            env_id: env_id.into(),
        };
        match self.client.describe_env_base_info(&request).await {
            Ok(response) => Ok(convert::env_state(&response)),
            Err(error) if error.api().is_some_and(|e| e.is_not_found()) => Ok(EnvState {
                exists: false,
                status: String::new(),
            }),
            Err(error) => Err(auth_aware(error)),
        }
    }

    async fn service(&self, env_id: &str, service: &str) -> Result<Option<CurrentService>> {
        let request = tcbr::DescribeCloudRunServerDetailRequest {
            env_id: env_id.into(),
            server_name: service.into(),
        };
        match self.client.describe_cloud_run_server_detail(&request).await {
            Ok(detail) => Ok(Some(convert::current_service(&detail))),
            Err(error) if error.api().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(error) => Err(auth_aware(error)),
        }
    }

    async fn task(&self, env_id: &str, service: &str, task_id: i64) -> Result<Option<TaskView>> {
        let request = tcbr::DescribeServerManageTaskRequest {
            env_id: env_id.into(),
            server_name: service.into(),
            task_id,
            operator_remark: None,
        };
        match self.client.describe_server_manage_task(&request).await {
            Ok(response) if response.is_exist => Ok(Some(convert::task_view(&response.task))),
            Ok(_) => Ok(None),
            Err(error) if error.api().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(error) => Err(auth_aware(error)),
        }
    }

    async fn records(&self, env_id: &str, service: &str) -> Result<Vec<RecordView>> {
        let request = tcbr::DescribeCloudRunDeployRecordRequest {
            env_id: env_id.into(),
            server_name: service.into(),
        };
        let response = self
            .client
            .describe_cloud_run_deploy_record(&request)
            .await?;
        Ok(convert::records(&response.deploy_records))
    }

    async fn process_log(&self, env_id: &str, run_id: &str) -> Result<Vec<String>> {
        let request = tcbr::DescribeCloudRunProcessLogRequest {
            env_id: env_id.into(),
            run_id: run_id.into(),
        };
        Ok(self
            .client
            .describe_cloud_run_process_log(&request)
            .await?
            .logs)
    }

    async fn submit(&self, submission: &Submission) -> std::result::Result<i64, SubmitError> {
        let outcome = if submission.create {
            self.create(submission).await
        } else {
            self.update(submission).await
        };
        outcome.map_err(|error| match error.api() {
            Some(api) if api.is_resource_in_use() => SubmitError::InUse(api.message.clone()),
            _ => SubmitError::Other(auth_aware(error)),
        })
    }

    async fn cancel(&self, env_id: &str, service: &str, task_id: i64) -> Result<()> {
        let request = tcbr::OperateServerManageRequest {
            env_id: env_id.into(),
            server_name: service.into(),
            task_id,
            operate_type: "cancel".into(),
            operator_remark: Some("deploy-tcb".into()),
        };
        let recheck = |_| async {
            let latest = self.task(env_id, service, task_id).await.ok().flatten();
            Ok(match latest {
                Some(task) if task.status.eq_ignore_ascii_case("running") => Recheck::Resend,
                _ => Recheck::Done(tcbr::OperateServerManageResponse::default()),
            })
        };
        self.client.call_with_recheck(&request, recheck).await?;
        Ok(())
    }
}

impl CloudRun {
    /// ReleaseGray as Tencent's own clients send it: type `gray`, FLOW, the stable version as
    /// the default route. Setting a split twice is harmless, so a transient failure resends.
    async fn release_gray(&self, split: &GraySplit) -> std::result::Result<(), ClientError> {
        let percent = i64::from(split.percent);
        let request = tcbr::ReleaseGrayRequest {
            env_id: split.env_id.clone(),
            server_name: split.service.clone(),
            gray_type: "gray".into(),
            traffic_type: "FLOW".into(),
            gray_flow_ratio: Some(percent),
            version_flow_items: Some(vec![
                tcbr::VersionFlowInfo {
                    version_name: split.stable.clone(),
                    is_default_priority: true,
                    flow_ratio: Some(100 - percent),
                    priority: Some(1),
                    url_param: None,
                },
                tcbr::VersionFlowInfo {
                    version_name: split.canary.clone(),
                    is_default_priority: false,
                    flow_ratio: Some(percent),
                    priority: Some(2),
                    url_param: None,
                },
            ]),
            operator_remark: Some("deploy-tcb: initial gray share".into()),
            close_gray_release: None,
        };
        let recheck = |_| async { Ok(Recheck::Resend) };
        self.client.call_with_recheck(&request, recheck).await?;
        Ok(())
    }

    async fn create(&self, s: &Submission) -> std::result::Result<i64, ClientError> {
        let request = tcbr::CreateCloudRunServerRequest {
            env_id: s.env_id.clone(),
            server_name: s.service.clone(),
            deploy_info: convert::deploy_param(s),
            items: Some(s.items.iter().map(convert::diff_item).collect()),
            ..tcbr::CreateCloudRunServerRequest::default()
        };
        let recheck = |_| async {
            Ok(match self.new_task_since(s).await {
                Some(id) => Recheck::Done(tcbr::CreateCloudRunServerResponse {
                    task_id: id,
                    ..Default::default()
                }),
                None => Recheck::Resend,
            })
        };
        let response = self.client.call_with_recheck(&request, recheck).await?;
        Ok(response.task_id)
    }

    async fn update(&self, s: &Submission) -> std::result::Result<i64, ClientError> {
        let request = tcbr::UpdateCloudRunServerRequest {
            env_id: s.env_id.clone(),
            server_name: s.service.clone(),
            deploy_info: convert::deploy_param(s),
            items: (!s.items.is_empty()).then(|| s.items.iter().map(convert::diff_item).collect()),
            ..tcbr::UpdateCloudRunServerRequest::default()
        };
        let recheck = |_| async {
            Ok(match self.new_task_since(s).await {
                Some(id) => Recheck::Done(tcbr::UpdateCloudRunServerResponse {
                    task_id: id,
                    ..Default::default()
                }),
                None => Recheck::Resend,
            })
        };
        let response = self.client.call_with_recheck(&request, recheck).await?;
        Ok(response.task_id)
    }

    /// After a failed submission: the id of a task that appeared since, i.e. the submission
    /// took effect after all.
    async fn new_task_since(&self, s: &Submission) -> Option<i64> {
        let latest = self.task(&s.env_id, &s.service, 0).await.ok().flatten()?;
        (Some(latest.id) != s.before_task && latest.id != 0).then_some(latest.id)
    }
}

/// Authentication failures get a fix; everything else passes through.
fn auth_aware(error: ClientError) -> Error {
    match error.api() {
        Some(api) if api.is_auth() => Error::Config {
            problem: format!("Tencent Cloud refused the credentials: {error}"),
            fix: "check secret_id and secret_key (or role_arn, provider_id and the role's trust policy), and that the key may call tcbr".into(),
            location: None,
        },
        _ => Error::from(error),
    }
}
