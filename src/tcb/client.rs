//! The HTTP client for tcbr, sts and tcr.
//!
//! Every call is `POST /` with JSON, signed afresh for each attempt (new timestamp, current
//! credentials). Reads are retried with exponential backoff and jitter on throttling, internal
//! errors and transport failures. Mutating calls are sent once by [`Client::call`]; to retry
//! one, use [`Client::call_with_recheck`], whose hook looks at the cloud's state before anything
//! is sent again, because a failed mutation may still have taken effect.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::credentials::{CredentialSource, Credentials};
use super::error::{ApiError, ClientError, TransportKind, parse_envelope};
use super::models::{Action, Service, sts, tcbr, tcr};
use super::tc3;
use crate::runner::mask;

/// The environment variable that points every service at one base URL (the emulator).
pub const ENDPOINT_ENV: &str = "TENCENTCLOUD_ENDPOINT";
/// The region sent when none is configured (the one Tencent's own CloudBase clients default to).
pub const DEFAULT_REGION: &str = "ap-shanghai";
/// Actions that are sent without a signature (`Authorization: SKIP`).
const UNSIGNED_ACTIONS: &[&str] = &["AssumeRoleWithWebIdentity"];
/// Response fields whose values are credentials: masked as soon as they arrive.
const SENSITIVE_FIELDS: &[&str] = &["Token", "TmpSecretId", "TmpSecretKey"];

/// Where calls go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Endpoint {
    /// `https://<service>.tencentcloudapi.com/`.
    #[default]
    Public,
    /// One base URL for every service (the emulator, a proxy).
    Custom(Url),
}

impl Endpoint {
    /// Parses a base URL such as `http://127.0.0.1:9000`.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let url = url.trim();
        let parsed = Url::parse(url).map_err(|e| {
            format!(
                "`{url}` is not a URL ({e}); write it with its scheme, like http://127.0.0.1:9000"
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(format!(
                "`{url}` is not an http(s) URL with a host; write it like http://127.0.0.1:9000"
            ));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(format!(
                "`{url}` has a query or fragment; give only the base URL"
            ));
        }
        Ok(Endpoint::Custom(parsed))
    }

    /// The endpoint from the `tcb_endpoint` input when given, else from
    /// `TENCENTCLOUD_ENDPOINT`, else the public one.
    pub fn resolve(input: Option<&str>) -> crate::error::Result<Endpoint> {
        if let Some(value) = input.filter(|v| !v.trim().is_empty()) {
            return Endpoint::parse(value).map_err(|problem| {
                crate::error::Error::input(
                    "tcb_endpoint",
                    problem,
                    "leave tcb_endpoint empty for Tencent Cloud, or give the emulator's base URL",
                )
            });
        }
        match std::env::var(ENDPOINT_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            Some(value) => Endpoint::parse(&value).map_err(|problem| {
                crate::error::Error::config(
                    format!("{ENDPOINT_ENV}: {problem}"),
                    format!("unset {ENDPOINT_ENV} or set it to the emulator's base URL"),
                )
            }),
            None => Ok(Endpoint::Public),
        }
    }

    /// The URL to post to and the `Host` value to sign (with `:port` when not the default).
    pub fn target(&self, service: Service) -> (Url, String) {
        match self {
            Endpoint::Public => {
                let host = format!("{}.tencentcloudapi.com", service.name());
                let url = Url::parse(&format!("https://{host}/")).expect("a valid public URL");
                (url, host)
            }
            Endpoint::Custom(url) => {
                let host = url.host_str().unwrap_or_default();
                let host = match url.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host.to_string(),
                };
                (url.clone(), host)
            }
        }
    }

    fn is_loopback(&self) -> bool {
        match self {
            Endpoint::Public => false,
            Endpoint::Custom(url) => {
                let host = url.host_str().unwrap_or_default();
                let bare = host.trim_start_matches('[').trim_end_matches(']');
                host == "localhost"
                    || bare
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
        }
    }
}

/// How failed calls are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The delay before the second attempt; it doubles each time, up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The nominal delay after failed attempt `attempt` (1-based), before jitter.
    pub fn nominal_delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The delay with jitter: uniformly between half and all of the nominal delay, so clients
    /// throttled together do not come back together.
    pub fn delay(&self, attempt: u32) -> Duration {
        let nominal = self.nominal_delay(attempt);
        let half = nominal / 2;
        let spread = (nominal - half).as_micros() as u64;
        half + Duration::from_micros(rand::random_range(0..=spread))
    }
}

/// What a mutating call's re-check found out about the cloud's state after a failure.
#[derive(Debug)]
pub enum Recheck<R> {
    /// The change did not happen: send the call again (with a fresh signature).
    Resend,
    /// The change did happen: this is its result.
    Done(R),
    /// The state cannot tell: stop and report the failure.
    GiveUp,
}

/// The client. Cheap to clone; clones share the connection pool and the credential source.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    credentials: Arc<dyn CredentialSource>,
    endpoint: Endpoint,
    region: String,
    timeout: Duration,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for the public endpoint, region `ap-shanghai`, 30 s per call, default retries.
    pub fn new(credentials: impl CredentialSource + 'static) -> Self {
        Client::with_source(Arc::new(credentials))
    }

    /// Same as [`Client::new`] with a shared credential source.
    pub fn with_source(credentials: Arc<dyn CredentialSource>) -> Self {
        Client {
            http: build_http(&Endpoint::Public),
            credentials,
            endpoint: Endpoint::Public,
            region: DEFAULT_REGION.to_string(),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }

    pub fn endpoint(mut self, endpoint: Endpoint) -> Self {
        self.http = build_http(&endpoint);
        self.endpoint = endpoint;
        self
    }

    /// The region sent in `X-TC-Region` (an empty one sends no header).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// The time limit of each attempt.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn current_endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Sends one action. Reads (and calls that change nothing) are retried on transient
    /// failures; a mutating action is sent exactly once.
    pub async fn call<A: Action>(&self, request: &A) -> Result<A::Response, ClientError> {
        if A::MUTATING {
            return self.attempt(request).await;
        }
        let started = Instant::now();
        // Each auth failure that a fresh signature or fresh keys can cure is retried once.
        let (mut token_refreshed, mut resigned) = (false, false);
        let mut attempt = 1;
        loop {
            let error = match self.attempt(request).await {
                Ok(response) => return Ok(response),
                Err(error) => error,
            };
            let api = error.api();
            let auth_retry = api.is_some_and(|e| {
                (e.is_signature_expired() && !resigned)
                    || (e.is_token_expired() && !token_refreshed)
            });
            if api.is_some_and(ApiError::is_token_expired) {
                self.credentials.invalidate();
                token_refreshed = true;
            }
            resigned |= api.is_some_and(ApiError::is_signature_expired);
            if !(error.is_transient() || auth_retry) {
                return Err(error);
            }
            if attempt >= self.retry.max_attempts {
                return Err(gave_up::<A>(attempt, started, error));
            }
            let delay = self.retry.delay(attempt);
            // Info, not a warning: a retry that succeeds is no news for the pull request.
            tracing::info!(action = A::ACTION, attempt, ?delay, "retrying: {error}");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Sends a mutating action and, after a transient failure (throttling, an internal error,
    /// a timeout or a broken connection), waits, then asks `recheck` what the cloud's state
    /// says before anything is sent again. Non-transient errors are returned at once.
    pub async fn call_with_recheck<A, F, Fut>(
        &self,
        request: &A,
        mut recheck: F,
    ) -> Result<A::Response, ClientError>
    where
        A: Action,
        F: FnMut(ClientError) -> Fut,
        Fut: Future<Output = Result<Recheck<A::Response>, ClientError>>,
    {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let error = match self.attempt(request).await {
                Ok(response) => return Ok(response),
                Err(error) if !error.is_transient() => return Err(error),
                Err(error) => error,
            };
            if attempt >= self.retry.max_attempts {
                return Err(gave_up::<A>(attempt, started, error));
            }
            tokio::time::sleep(self.retry.delay(attempt)).await;
            match recheck(error.clone()).await {
                Ok(Recheck::Resend) => {
                    tracing::info!(
                        action = A::ACTION,
                        attempt,
                        "re-check says not applied; resending: {error}"
                    );
                    attempt += 1;
                }
                Ok(Recheck::Done(response)) => return Ok(response),
                Ok(Recheck::GiveUp) => return Err(gave_up::<A>(attempt, started, error)),
                Err(recheck_error) => {
                    tracing::warn!(action = A::ACTION, "re-check failed: {recheck_error}");
                    return Err(gave_up::<A>(attempt, started, error));
                }
            }
        }
    }

    /// One attempt: fresh credentials, fresh timestamp, fresh signature.
    async fn attempt<A: Action>(&self, request: &A) -> Result<A::Response, ClientError> {
        let body = serde_json::to_vec(request).map_err(|e| ClientError::Decode {
            action: A::ACTION.to_string(),
            detail: format!("could not encode the request: {e}"),
        })?;
        let credentials = if UNSIGNED_ACTIONS.contains(&A::ACTION) {
            None
        } else {
            Some(self.credentials.credentials().await?)
        };
        let (url, host) = self.endpoint.target(A::SERVICE);
        let call = tc3::CallInput {
            service: A::SERVICE.name(),
            host: &host,
            action: A::ACTION,
            version: A::SERVICE.version(),
            region: Some(self.region.as_str()),
            timestamp: chrono::Utc::now().timestamp(),
            body: &body,
        };
        let key = credentials.as_ref().map(Credentials::signing_key);
        let headers = header_map(&tc3::sign_request(&call, key.as_ref()));
        tracing::debug!(action = A::ACTION, %url, "calling");
        let sent = self
            .http
            .post(url)
            .headers(headers)
            .body(body)
            .timeout(self.timeout)
            .send()
            .await;
        let response = sent.map_err(|e| transport::<A>(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| transport::<A>(&e))?;
        if status != reqwest::StatusCode::OK {
            let snippet = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            return Err(ClientError::Transport {
                action: A::ACTION.to_string(),
                kind: TransportKind::Status(status.as_u16()),
                detail: snippet,
            });
        }
        decode::<A>(&bytes)
    }

    // Typed calls, one per action. Mutating ones are sent once; wrap them in
    // `call_with_recheck` to retry.

    pub async fn describe_env_base_info(
        &self,
        request: &tcbr::DescribeEnvBaseInfoRequest,
    ) -> Result<tcbr::DescribeEnvBaseInfoResponse, ClientError> {
        self.call(request).await
    }

    pub async fn describe_cloud_run_envs(
        &self,
        request: &tcbr::DescribeCloudRunEnvsRequest,
    ) -> Result<tcbr::DescribeCloudRunEnvsResponse, ClientError> {
        self.call(request).await
    }

    pub async fn describe_cloud_run_servers(
        &self,
        request: &tcbr::DescribeCloudRunServersRequest,
    ) -> Result<tcbr::DescribeCloudRunServersResponse, ClientError> {
        self.call(request).await
    }

    pub async fn describe_cloud_run_server_detail(
        &self,
        request: &tcbr::DescribeCloudRunServerDetailRequest,
    ) -> Result<tcbr::DescribeCloudRunServerDetailResponse, ClientError> {
        self.call(request).await
    }

    pub async fn create_cloud_run_server(
        &self,
        request: &tcbr::CreateCloudRunServerRequest,
    ) -> Result<tcbr::CreateCloudRunServerResponse, ClientError> {
        self.call(request).await
    }

    pub async fn update_cloud_run_server(
        &self,
        request: &tcbr::UpdateCloudRunServerRequest,
    ) -> Result<tcbr::UpdateCloudRunServerResponse, ClientError> {
        self.call(request).await
    }

    pub async fn describe_server_manage_task(
        &self,
        request: &tcbr::DescribeServerManageTaskRequest,
    ) -> Result<tcbr::DescribeServerManageTaskResponse, ClientError> {
        self.call(request).await
    }

    pub async fn describe_cloud_run_deploy_record(
        &self,
        request: &tcbr::DescribeCloudRunDeployRecordRequest,
    ) -> Result<tcbr::DescribeCloudRunDeployRecordResponse, ClientError> {
        self.call(request).await
    }

    pub async fn describe_cloud_run_process_log(
        &self,
        request: &tcbr::DescribeCloudRunProcessLogRequest,
    ) -> Result<tcbr::DescribeCloudRunProcessLogResponse, ClientError> {
        self.call(request).await
    }

    pub async fn describe_release_order(
        &self,
        request: &tcbr::DescribeReleaseOrderRequest,
    ) -> Result<tcbr::DescribeReleaseOrderResponse, ClientError> {
        self.call(request).await
    }

    pub async fn release_gray(
        &self,
        request: &tcbr::ReleaseGrayRequest,
    ) -> Result<tcbr::ReleaseGrayResponse, ClientError> {
        self.call(request).await
    }

    pub async fn operate_server_manage(
        &self,
        request: &tcbr::OperateServerManageRequest,
    ) -> Result<tcbr::OperateServerManageResponse, ClientError> {
        self.call(request).await
    }

    pub async fn submit_server_rollback(
        &self,
        request: &tcbr::SubmitServerRollbackRequest,
    ) -> Result<tcbr::SubmitServerRollbackResponse, ClientError> {
        self.call(request).await
    }

    pub async fn describe_version_detail(
        &self,
        request: &tcbr::DescribeVersionDetailRequest,
    ) -> Result<tcbr::DescribeVersionDetailResponse, ClientError> {
        self.call(request).await
    }

    /// Unsigned (`Authorization: SKIP`): works on a client without credentials.
    pub async fn assume_role_with_web_identity(
        &self,
        request: &sts::AssumeRoleWithWebIdentityRequest,
    ) -> Result<sts::AssumeRoleWithWebIdentityResponse, ClientError> {
        self.call(request).await
    }

    pub async fn create_instance_token(
        &self,
        request: &tcr::CreateInstanceTokenRequest,
    ) -> Result<tcr::CreateInstanceTokenResponse, ClientError> {
        self.call(request).await
    }
}

fn build_http(endpoint: &Endpoint) -> reqwest::Client {
    let builder =
        reqwest::Client::builder().user_agent(concat!("deploy-tcb/", env!("CARGO_PKG_VERSION")));
    // A proxy from the environment must not capture calls to a local emulator.
    let builder = if endpoint.is_loopback() {
        builder.no_proxy()
    } else {
        builder
    };
    builder.build().expect("the TLS backend initialises")
}

/// The signed headers as reqwest takes them. `Host` is left to the HTTP stack, which derives
/// the same value from the URL (host, and port when not the scheme's default) and, over
/// HTTP/2, sends it as `:authority`.
fn header_map(headers: &[(&'static str, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("host") {
            continue;
        }
        if let Ok(value) = HeaderValue::from_str(value) {
            let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                .expect("the signer only builds valid header names");
            map.insert(name, value);
        }
    }
    map
}

fn transport<A: Action>(error: &reqwest::Error) -> ClientError {
    let kind = if error.is_timeout() {
        TransportKind::Timeout
    } else if error.is_body() || error.is_decode() {
        TransportKind::Body
    } else {
        TransportKind::Connect
    };
    let detail = with_causes(error);
    ClientError::Transport {
        action: A::ACTION.to_string(),
        kind,
        detail,
    }
}

/// The error and its causes on one line (reqwest's own message hides the cause).
fn with_causes(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn decode<A: Action>(bytes: &[u8]) -> Result<A::Response, ClientError> {
    let fields = parse_envelope(bytes).map_err(|error| match error {
        Some(error) => ClientError::Api {
            action: A::ACTION.to_string(),
            error,
        },
        None => ClientError::Decode {
            action: A::ACTION.to_string(),
            detail: "the body is not a Tencent Cloud response envelope".to_string(),
        },
    })?;
    mask_sensitive(&fields);
    serde_json::from_value(fields).map_err(|e| ClientError::Decode {
        action: A::ACTION.to_string(),
        detail: e.to_string(),
    })
}

/// Registers every credential in a response with the mask before anything can print it.
fn mask_sensitive(value: &Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match item {
                    Value::String(secret) if SENSITIVE_FIELDS.contains(&key.as_str()) => {
                        mask::register(secret)
                    }
                    other => mask_sensitive(other),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(mask_sensitive),
        _ => {}
    }
}

fn gave_up<A: Action>(attempts: u32, started: Instant, last: ClientError) -> ClientError {
    if attempts <= 1 {
        return last;
    }
    ClientError::GaveUp {
        action: A::ACTION.to_string(),
        attempts,
        elapsed: started.elapsed(),
        last: Box::new(last),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_resolve_hosts_with_ports() {
        let (url, host) = Endpoint::Public.target(Service::Tcbr);
        assert_eq!(
            (url.as_str(), host.as_str()),
            (
                "https://tcbr.tencentcloudapi.com/",
                "tcbr.tencentcloudapi.com"
            )
        );
        let custom = Endpoint::parse("http://127.0.0.1:9000").unwrap();
        assert_eq!(custom.target(Service::Sts).1, "127.0.0.1:9000");
        assert!(custom.is_loopback());
        let default_port = Endpoint::parse("https://api.example.test:443/").unwrap();
        assert_eq!(default_port.target(Service::Tcr).1, "api.example.test");
        for bad in ["127.0.0.1:9000", "ftp://x", "http://h/?a=1", "not a url"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_endpoint_input_names_the_input() {
        let error = Endpoint::resolve(Some("localhost")).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(error.to_string().contains("tcb_endpoint"), "{error}");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        let nominal: Vec<u128> = (1..=6)
            .map(|a| policy.nominal_delay(a).as_millis())
            .collect();
        assert_eq!(nominal, [100, 200, 400, 800, 1000, 1000]);
        for attempt in 1..=6 {
            let delay = policy.delay(attempt);
            let max = policy.nominal_delay(attempt);
            assert!(delay >= max / 2 && delay <= max, "{delay:?} vs {max:?}");
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| policy.delay(4)).collect();
        assert!(spread.len() > 1, "no jitter");
    }
}
