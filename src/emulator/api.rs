//! The Tencent Cloud API on `POST /`: headers, signature, faults, validation, the action
//! handlers and the `{"Response": …}` envelope (HTTP 200 with `Response.Error` on errors).

use std::collections::BTreeMap;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{Value, json};

use super::auth::{self, SignedRequest, TempCredential};
use super::config::{ConfigValue, Policy};
use super::faults::RequestFault;
use super::render;
use super::server::{Answer, Dropped, Shared, json as json_response, read_body};
use super::state::{ApiError, ApiResult, DeploySpec, GraySpec, Operation, RollbackSpec, Route};
use super::synthetic::{AppCatalog, Behaviour};
use crate::tcb::models::Request as ApiRequest;

/// The services the endpoint serves: credential-scope name, API version and actions.
const SERVICES: [(&str, &str, &[&str]); 3] = [
    (
        "tcbr",
        "2022-02-17",
        &[
            "DescribeEnvBaseInfo",
            "DescribeCloudRunEnvs",
            "DescribeCloudRunServers",
            "DescribeCloudRunServerDetail",
            "CreateCloudRunServer",
            "UpdateCloudRunServer",
            "DescribeServerManageTask",
            "DescribeCloudRunDeployRecord",
            "DescribeCloudRunProcessLog",
            "DescribeReleaseOrder",
            "ReleaseGray",
            "OperateServerManage",
            "SubmitServerRollback",
            "DescribeVersionDetail",
        ],
    ),
    ("sts", "2018-08-13", &["AssumeRoleWithWebIdentity"]),
    ("tcr", "2019-09-24", &["CreateInstanceToken"]),
];

/// Actions that change state (the state file is written after each).
const MUTATING: [&str; 6] = [
    "CreateCloudRunServer",
    "UpdateCloudRunServer",
    "ReleaseGray",
    "OperateServerManage",
    "SubmitServerRollback",
    "AssumeRoleWithWebIdentity",
];

/// The service and version an action belongs to.
pub fn service_of(action: &str) -> Option<(&'static str, &'static str)> {
    SERVICES
        .iter()
        .find(|(_, _, actions)| actions.contains(&action))
        .map(|(service, version, _)| (*service, *version))
}

pub async fn handle(shared: &Shared, request: Request<Incoming>) -> Answer {
    let headers: BTreeMap<String, String> = request
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_ascii_lowercase(),
                v.to_str().ok()?.to_string(),
            ))
        })
        .collect();
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = match read_body(request).await {
        Ok(body) => body,
        Err(message) => {
            return Ok(envelope(
                Err(ApiError::new("InvalidParameter", message)),
                &request_id,
            ));
        }
    };
    let action = headers.get("x-tc-action").cloned().unwrap_or_default();
    let result = process(shared, &headers, &body).await;
    let code = match &result {
        Ok(_) => "ok".to_string(),
        Err(Rejection::Api(e)) => e.code.clone(),
        Err(Rejection::Drop) => "dropped".to_string(),
    };
    // Only known actions become labels, so a caller cannot grow the metrics without bound.
    let label = if service_of(&action).is_some() {
        action.as_str()
    } else {
        "(invalid)"
    };
    shared.lock().metrics.record_api(label, &code);
    match result {
        Ok(value) => {
            if MUTATING.contains(&action.as_str())
                && let Err(e) = shared.save()
            {
                tracing::warn!("could not write the emulator state file: {e}");
            }
            Ok(envelope(Ok(value), &request_id))
        }
        Err(Rejection::Api(error)) => Ok(envelope(Err(error), &request_id)),
        Err(Rejection::Drop) => Err(Dropped),
    }
}

/// Why a request got no success answer.
enum Rejection {
    Api(ApiError),
    Drop,
}

impl From<ApiError> for Rejection {
    fn from(error: ApiError) -> Self {
        Rejection::Api(error)
    }
}

async fn process(
    shared: &Shared,
    headers: &BTreeMap<String, String>,
    body: &Bytes,
) -> Result<Value, Rejection> {
    let header = auth::lookup(headers);
    let action = header("x-tc-action")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::new("MissingParameter", "the request is missing X-TC-Action"))?;
    let (service, version) = service_of(action).ok_or_else(|| {
        ApiError::new(
            "InvalidAction",
            format!("the action `{action}` does not exist"),
        )
    })?;
    match header("x-tc-version") {
        Some(v) if v == version => {}
        Some(v) => {
            return Err(ApiError::new(
                "NoSuchVersion",
                format!("the API version `{v}` of {service} does not exist; use {version}"),
            )
            .into());
        }
        None => {
            return Err(
                ApiError::new("MissingParameter", "the request is missing X-TC-Version").into(),
            );
        }
    }
    check_signature(shared, action, service, headers, body)?;
    apply_faults(shared, action, server_name(body).as_deref()).await?;
    let params = validate(action, body)?;
    Ok(dispatch(shared, action, &params)?)
}

fn check_signature(
    shared: &Shared,
    action: &str,
    service: &str,
    headers: &auth::Headers,
    body: &[u8],
) -> ApiResult<()> {
    let unsigned_ok = action == "AssumeRoleWithWebIdentity";
    if unsigned_ok
        && headers.get("authorization").map(String::as_str) == Some(crate::tcb::tc3::SKIP)
    {
        return Ok(());
    }
    let temporary = shared.lock().world.temp_credentials.clone();
    let request = SignedRequest {
        headers,
        body,
        service,
    };
    let settings = &shared.settings;
    auth::verify(
        &request,
        (&settings.secret_id, &settings.secret_key),
        &temporary,
        chrono::Utc::now().timestamp(),
    )
}

/// The `ServerName` of a body, for fault rules that name a service.
fn server_name(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    Some(value.get("ServerName")?.as_str()?.to_string())
}

async fn apply_faults(
    shared: &Shared,
    action: &str,
    server: Option<&str>,
) -> Result<(), Rejection> {
    let faults = shared.lock().faults.for_api(action, server);
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    match faults.outcome {
        None => Ok(()),
        Some(RequestFault::Drop) => Err(Rejection::Drop),
        Some(RequestFault::Throttle(m)) => Err(ApiError::new(
            "RequestLimitExceeded",
            m.unwrap_or_else(|| "request rate limit exceeded (injected fault)".into()),
        )
        .into()),
        Some(RequestFault::InternalError(m)) => Err(ApiError::new(
            "InternalError",
            m.unwrap_or_else(|| "internal error (injected fault)".into()),
        )
        .into()),
        Some(RequestFault::ResourceInUse(m)) => Err(ApiError::new(
            "ResourceInUse",
            m.unwrap_or_else(|| format!("[{action}] 当前已有部署发布任务运行中,请结束后再执行")),
        )
        .into()),
    }
}

/// Checks the body against the typed models of the official API description: unknown
/// parameter, missing parameter and wrong type come back with the cloud's codes.
/// Returns the body as the typed model reads it (numeric strings in number fields become
/// numbers), which is what the handlers read.
fn validate(action: &str, body: &[u8]) -> ApiResult<Value> {
    ApiRequest::parse(action, body)
        .map(|request| request.to_json())
        .map_err(|e| ApiError::new(e.code(), e.to_string()))
}

fn dispatch(shared: &Shared, action: &str, p: &Value) -> ApiResult<Value> {
    match action {
        "DescribeEnvBaseInfo" => {
            let inner = shared.lock();
            Ok(render::env_base_info(
                inner.world.envs.get(text(p, "EnvId")?),
            ))
        }
        "DescribeCloudRunEnvs" => describe_envs(shared, p),
        "DescribeCloudRunServers" => describe_servers(shared, p),
        "DescribeCloudRunServerDetail" => {
            let inner = shared.lock();
            let service = inner
                .world
                .service(text(p, "EnvId")?, text(p, "ServerName")?)?;
            Ok(render::server_detail(service, &shared.settings.base_url))
        }
        "CreateCloudRunServer" | "UpdateCloudRunServer" => deploy(shared, action, p),
        "DescribeServerManageTask" => describe_task(shared, p),
        "DescribeCloudRunDeployRecord" => {
            let inner = shared.lock();
            let service = inner
                .world
                .service(text(p, "EnvId")?, text(p, "ServerName")?)?;
            Ok(render::deploy_records(service))
        }
        "DescribeCloudRunProcessLog" => {
            let inner = shared.lock();
            let env = inner.world.env(text(p, "EnvId")?)?;
            let logs = env.logs.get(text(p, "RunId")?).cloned().unwrap_or_default();
            Ok(json!({ "Logs": logs }))
        }
        "DescribeReleaseOrder" => {
            let inner = shared.lock();
            let service = inner
                .world
                .service(text(p, "EnvId")?, text(p, "ServerName")?)?;
            Ok(render::release_order(service, opt_text(p, "Status")))
        }
        "ReleaseGray" => release_gray(shared, p),
        "OperateServerManage" => {
            let operation = Operation::parse(text(p, "OperateType")?)?;
            let task_id = int(p, "TaskId")?.max(0) as u64;
            let now = shared.clock.now();
            let mut inner = shared.lock();
            inner.world.operate(
                now,
                text(p, "EnvId")?,
                text(p, "ServerName")?,
                task_id,
                operation,
            )?;
            Ok(json!({}))
        }
        "SubmitServerRollback" => rollback(shared, p),
        "DescribeVersionDetail" => {
            let inner = shared.lock();
            let service = inner
                .world
                .service(text(p, "EnvId")?, text(p, "ServerName")?)?;
            Ok(render::version_detail(
                service.version(text(p, "VersionName")?)?,
            ))
        }
        "AssumeRoleWithWebIdentity" => assume_role(shared, p),
        "CreateInstanceToken" => instance_token(shared, p),
        other => Err(ApiError::new(
            "InvalidAction",
            format!("the action `{other}` does not exist"),
        )),
    }
}

fn describe_envs(shared: &Shared, p: &Value) -> ApiResult<Value> {
    let inner = shared.lock();
    let wanted = opt_text(p, "EnvId").filter(|e| !e.is_empty());
    let list: Vec<Value> = inner
        .world
        .envs
        .values()
        .filter(|env| wanted.is_none_or(|w| w == env.id))
        .map(render::env_info)
        .collect();
    Ok(json!({ "EnvList": list }))
}

fn describe_servers(shared: &Shared, p: &Value) -> ApiResult<Value> {
    let inner = shared.lock();
    let env = inner.world.env(text(p, "EnvId")?)?;
    let size = opt_int(p, "PageSize").unwrap_or(10);
    let page = opt_int(p, "PageNum").unwrap_or(1);
    if !(1..=30).contains(&size) || page < 1 {
        return Err(ApiError::new(
            "InvalidParameterValue",
            "PageSize must be 1-30 and PageNum at least 1",
        ));
    }
    let name = opt_text(p, "ServerName").filter(|n| !n.is_empty());
    let kind = opt_text(p, "ServerType").filter(|t| !t.is_empty());
    let matching: Vec<_> = env
        .services
        .values()
        .filter(|s| name.is_none_or(|n| s.name.contains(n)))
        .filter(|_| kind.is_none_or(|k| k == "container"))
        .collect();
    let list: Vec<Value> = matching
        .iter()
        .skip(((page - 1) * size) as usize)
        .take(size as usize)
        .map(|s| render::server_base_info(s, &shared.settings.base_url))
        .collect();
    Ok(json!({ "ServerList": list, "Total": matching.len() }))
}

fn describe_task(shared: &Shared, p: &Value) -> ApiResult<Value> {
    let inner = shared.lock();
    let task_id = int(p, "TaskId")?.max(0) as u64;
    let env = text(p, "EnvId")?;
    let found = inner
        .world
        .service(env, text(p, "ServerName")?)
        .ok()
        .and_then(|service| {
            let index = service.task_index(task_id)?;
            Some((service, &service.tasks[index]))
        });
    Ok(render::manage_task(found))
}

fn deploy(shared: &Shared, action: &str, p: &Value) -> ApiResult<Value> {
    let env = text(p, "EnvId")?;
    let name = text(p, "ServerName")?;
    let spec = deploy_spec(p)?;
    // With an engine, every image but the synthetic apps runs as a real container.
    let behaviour = match &shared.containers {
        Some(_) if !AppCatalog::is_synthetic(&spec.image) => Ok(Behaviour::container()),
        _ => shared.settings.apps.behaviour(&spec.image),
    };
    let now = shared.clock.now();
    let mut inner = shared.lock();
    let faults = inner.faults.for_task(name);
    let task_id = if action == "CreateCloudRunServer" {
        inner
            .world
            .create_service(now, env, name, spec, behaviour, faults)?
    } else {
        inner
            .world
            .update_service(now, env, name, spec, behaviour, faults)?
    };
    Ok(if action == "CreateCloudRunServer" {
        json!({ "TaskId": task_id })
    } else {
        json!({ "EnvId": env, "TaskId": task_id })
    })
}

/// `DeployInfo` and `Items[]` (plus the deprecated `ServerConfig`, which the CLI still sends).
fn deploy_spec(p: &Value) -> ApiResult<DeploySpec> {
    let info = p
        .get("DeployInfo")
        .ok_or_else(|| ApiError::new("MissingParameter", "DeployInfo is required"))?;
    let deploy_type = text(info, "DeployType")?;
    if deploy_type != "image" {
        return Err(ApiError::new(
            "UnsupportedOperation",
            format!(
                "DeployType `{deploy_type}`: the emulator deploys images only (DeployType image)"
            ),
        ));
    }
    let image = opt_text(info, "ImageUrl")
        .filter(|i| !i.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                "MissingParameter",
                "DeployInfo.ImageUrl is required for DeployType image",
            )
        })?;
    let gray = match opt_text(info, "ReleaseType").unwrap_or("") {
        "" | "FULL" => false,
        "GRAY" => true,
        other => {
            return Err(ApiError::new(
                "InvalidParameterValue",
                format!("DeployInfo.ReleaseType `{other}` is not FULL or GRAY"),
            ));
        }
    };
    let mut items = legacy_server_config(p.get("ServerConfig"));
    for item in p
        .get("Items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        items.push(config_item(item)?);
    }
    Ok(DeploySpec {
        deploy_type: deploy_type.to_string(),
        image: image.to_string(),
        gray,
        remark: opt_text(info, "DeployRemark").unwrap_or("").to_string(),
        items,
    })
}

/// One `DiffConfigItem`: its key and the one typed value field it carries.
fn config_item(item: &Value) -> ApiResult<(String, ConfigValue)> {
    let key = text(item, "Key")?.to_string();
    let fields = [
        "Value",
        "IntValue",
        "BoolValue",
        "FloatValue",
        "ArrayValue",
        "PolicyDetails",
        "TimerScale",
        "VpcConf",
        "VolumesConf",
        "PublicNetConf",
    ];
    let present: Vec<&str> = fields
        .iter()
        .copied()
        .filter(|f| item.get(*f).is_some_and(|v| !v.is_null()))
        .collect();
    let [field] = present.as_slice() else {
        return Err(ApiError::new(
            "InvalidParameterValue",
            format!(
                "Items[{key}] needs exactly one value field, found {}",
                present.len()
            ),
        ));
    };
    let raw = &item[*field];
    let bad = || {
        ApiError::new(
            "InvalidParameterValue",
            format!("Items[{key}].{field} has the wrong type"),
        )
    };
    let value = match *field {
        "Value" => ConfigValue::Str(raw.as_str().ok_or_else(bad)?.to_string()),
        "IntValue" => ConfigValue::Int(raw.as_i64().ok_or_else(bad)?),
        "BoolValue" => ConfigValue::Bool(raw.as_bool().ok_or_else(bad)?),
        "FloatValue" => ConfigValue::Float(raw.as_f64().ok_or_else(bad)?),
        "ArrayValue" => ConfigValue::Array(strings(raw).ok_or_else(bad)?),
        "PolicyDetails" => ConfigValue::Policies(policies(raw).ok_or_else(bad)?),
        _ => ConfigValue::Json(raw.clone()),
    };
    Ok((key, value))
}

fn strings(raw: &Value) -> Option<Vec<String>> {
    raw.as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn policies(raw: &Value) -> Option<Vec<Policy>> {
    raw.as_array()?
        .iter()
        .map(|p| {
            Some(Policy {
                policy_type: p.get("PolicyType")?.as_str()?.to_string(),
                threshold: p.get("PolicyThreshold")?.as_i64()?,
            })
        })
        .collect()
}

/// The deprecated `ServerConfig` struct, mapped onto the Items keys it stands for.
fn legacy_server_config(config: Option<&Value>) -> Vec<(String, ConfigValue)> {
    let Some(config) = config.filter(|c| c.is_object()) else {
        return Vec::new();
    };
    let mut items = Vec::new();
    let mut push = |key: &str, value: Option<ConfigValue>| {
        if let Some(value) = value {
            items.push((key.to_string(), value));
        }
    };
    push(
        "CpuSpecs",
        config
            .get("Cpu")
            .and_then(Value::as_f64)
            .map(ConfigValue::Float),
    );
    push(
        "MemSpecs",
        config
            .get("Mem")
            .and_then(Value::as_f64)
            .map(ConfigValue::Float),
    );
    push(
        "MaxNum",
        config
            .get("MaxNum")
            .and_then(Value::as_i64)
            .map(ConfigValue::Int),
    );
    push(
        "MinNum",
        config
            .get("MinNum")
            .and_then(Value::as_i64)
            .map(ConfigValue::Int),
    );
    push(
        "Port",
        config
            .get("Port")
            .and_then(Value::as_i64)
            .map(ConfigValue::Int),
    );
    push(
        "EnvParam",
        config
            .get("EnvParams")
            .and_then(Value::as_str)
            .map(|s| ConfigValue::Str(s.into())),
    );
    push(
        "AccessTypes",
        config
            .get("OpenAccessTypes")
            .and_then(strings)
            .map(ConfigValue::Array),
    );
    push(
        "LogPath",
        config
            .get("CustomLogs")
            .and_then(Value::as_str)
            .map(|s| ConfigValue::Str(s.into())),
    );
    items
}

fn release_gray(shared: &Shared, p: &Value) -> ApiResult<Value> {
    let mut routes = Vec::new();
    for item in p
        .get("VersionFlowItems")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ratio = opt_int(item, "FlowRatio").unwrap_or(0);
        if !(0..=100).contains(&ratio) {
            return Err(ApiError::new(
                "InvalidParameterValue",
                format!("FlowRatio {ratio} is outside 0-100"),
            ));
        }
        let param = item.get("UrlParam").filter(|u| u.is_object()).map(|u| {
            (
                opt_text(u, "Key").unwrap_or("").to_string(),
                opt_text(u, "Value").unwrap_or("").to_string(),
            )
        });
        routes.push(Route {
            version: text(item, "VersionName")?.to_string(),
            ratio: ratio as u32,
            priority: opt_int(item, "Priority").unwrap_or(0),
            is_default: item
                .get("IsDefaultPriority")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            param,
        });
    }
    let gray_flow_ratio = match opt_int(p, "GrayFlowRatio") {
        Some(r) if !(0..=100).contains(&r) => {
            return Err(ApiError::new(
                "InvalidParameterValue",
                format!("GrayFlowRatio {r} is outside 0-100"),
            ));
        }
        r => r.map(|r| r as u32),
    };
    let spec = GraySpec {
        traffic_type: opt_text(p, "TrafficType").unwrap_or("").to_string(),
        gray_flow_ratio,
        items: routes,
        close: p
            .get("CloseGrayRelease")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    let now = shared.clock.now();
    let mut inner = shared.lock();
    inner
        .world
        .release_gray(now, text(p, "EnvId")?, text(p, "ServerName")?, spec)?;
    Ok(json!({}))
}

fn rollback(shared: &Shared, p: &Value) -> ApiResult<Value> {
    let name = text(p, "ServerName")?;
    let now = shared.clock.now();
    let mut inner = shared.lock();
    let faults = inner.faults.for_task(name);
    let spec = RollbackSpec {
        current: text(p, "CurrentVersionName")?,
        target: text(p, "RollbackVersionName")?,
        remark: opt_text(p, "OperatorRemark").unwrap_or(""),
    };
    let task_id = inner
        .world
        .rollback(now, text(p, "EnvId")?, name, spec, faults)?;
    Ok(json!({ "TaskId": task_id }))
}

/// `sts:AssumeRoleWithWebIdentity`: any well-formed JWT for a well-formed role is accepted
/// (the emulator cannot reach GitHub's keys); the credentials it returns sign later calls.
fn assume_role(shared: &Shared, p: &Value) -> ApiResult<Value> {
    let token = text(p, "WebIdentityToken")?;
    check_jwt(token)?;
    let role = text(p, "RoleArn")?;
    if !role.starts_with("qcs::cam::uin/") || !role.contains(":roleName/") {
        return Err(ApiError::new(
            "InvalidParameter.ParamError",
            format!("RoleArn `{role}` is not qcs::cam::uin/<uin>:roleName/<name>"),
        ));
    }
    let duration = opt_int(p, "DurationSeconds").unwrap_or(7200);
    if !(1..=43200).contains(&duration) {
        return Err(ApiError::new(
            "InvalidParameter.OverTimeError",
            format!("DurationSeconds {duration} is outside 1-43200"),
        ));
    }
    let now = chrono::Utc::now();
    let mut inner = shared.lock();
    let (secret_id, credential) =
        TempCredential::issue(&mut inner.sts_rng, now.timestamp(), duration);
    let expires = credential.expires;
    let answer = json!({
        "Credentials": {
            "Token": credential.token,
            "TmpSecretId": secret_id,
            "TmpSecretKey": credential.secret_key,
        },
        "ExpiredTime": expires,
        "Expiration": chrono::DateTime::from_timestamp(expires, 0)
            .unwrap_or(now)
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
    });
    inner.world.temp_credentials.insert(secret_id, credential);
    Ok(answer)
}

fn check_jwt(token: &str) -> ApiResult<()> {
    use base64_url_decode as decode;
    let parts: Vec<&str> = token.split('.').collect();
    let payload = match parts.as_slice() {
        [_, payload, _] => decode(payload),
        _ => None,
    };
    match payload.and_then(|p| serde_json::from_slice::<Value>(&p).ok()) {
        Some(Value::Object(_)) => Ok(()),
        _ => Err(ApiError::new(
            "InvalidParameter.WebIdentityTokenError",
            "WebIdentityToken is not a JWT (header.payload.signature, base64url)",
        )),
    }
}

/// Decodes unpadded base64url.
fn base64_url_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for c in text.trim_end_matches('=').bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    Some(out)
}

/// `tcr:CreateInstanceToken`: a temporary registry login (the registry itself is not emulated).
fn instance_token(shared: &Shared, p: &Value) -> ApiResult<Value> {
    let registry = text(p, "RegistryId")?;
    let long_term = match opt_text(p, "TokenType").unwrap_or("temp") {
        "temp" | "" => false,
        "longterm" => true,
        other => {
            return Err(ApiError::new(
                "InvalidParameterValue",
                format!("TokenType `{other}` is not temp or longterm"),
            ));
        }
    };
    let mut inner = shared.lock();
    let token = inner.sts_rng.alphanumeric(64);
    let token_id = if long_term {
        format!("{registry}-{}", inner.sts_rng.alphanumeric(8))
    } else {
        String::new()
    };
    let hours = if long_term { 24 * 365 } else { 1 };
    let exp_ms = (chrono::Utc::now() + chrono::Duration::hours(hours)).timestamp_millis();
    Ok(json!({
        "Username": "100000000001",
        "Token": token,
        "ExpTime": exp_ms,
        "TokenId": token_id,
    }))
}

fn text<'v>(p: &'v Value, name: &str) -> ApiResult<&'v str> {
    p.get(name).and_then(Value::as_str).ok_or_else(|| {
        ApiError::new(
            "MissingParameter",
            format!("the parameter `{name}` is required"),
        )
    })
}

fn opt_text<'v>(p: &'v Value, name: &str) -> Option<&'v str> {
    p.get(name).and_then(Value::as_str)
}

fn int(p: &Value, name: &str) -> ApiResult<i64> {
    p.get(name).and_then(Value::as_i64).ok_or_else(|| {
        ApiError::new(
            "MissingParameter",
            format!("the parameter `{name}` is required"),
        )
    })
}

fn opt_int(p: &Value, name: &str) -> Option<i64> {
    p.get(name).and_then(Value::as_i64)
}

/// The answer: `{"Response": {…, "RequestId"}}`, HTTP 200 either way.
fn envelope(result: ApiResult<Value>, request_id: &str) -> hyper::Response<super::server::Body> {
    let mut response = match result {
        Ok(Value::Object(map)) => Value::Object(map),
        Ok(_) => json!({}),
        Err(error) => json!({ "Error": { "Code": error.code, "Message": error.message } }),
    };
    response["RequestId"] = Value::String(request_id.to_string());
    json_response(StatusCode::OK, &json!({ "Response": response }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_belongs_to_one_service_and_version() {
        assert_eq!(
            service_of("UpdateCloudRunServer"),
            Some(("tcbr", "2022-02-17"))
        );
        assert_eq!(
            service_of("AssumeRoleWithWebIdentity"),
            Some(("sts", "2018-08-13"))
        );
        assert_eq!(
            service_of("CreateInstanceToken"),
            Some(("tcr", "2019-09-24"))
        );
        assert_eq!(service_of("DescribeCloudRunEnv"), None);
    }

    #[test]
    fn config_items_take_exactly_one_typed_field() {
        let (key, value) = config_item(&json!({"Key": "Port", "IntValue": 8080})).unwrap();
        assert_eq!((key.as_str(), value), ("Port", ConfigValue::Int(8080)));
        let err = config_item(&json!({"Key": "Port", "IntValue": 1, "Value": "1"})).unwrap_err();
        assert_eq!(err.code, "InvalidParameterValue");
        let policies = config_item(&json!({"Key": "PolicyDetails",
            "PolicyDetails": [{"PolicyType": "cpu", "PolicyThreshold": 60}]}))
        .unwrap();
        assert!(matches!(policies.1, ConfigValue::Policies(ref p) if p.len() == 1));
    }

    #[test]
    fn jwts_are_checked_for_shape_only() {
        // {"alg":"none"} . {"sub":"repo:o/r"} . sig
        assert!(check_jwt("eyJhbGciOiJub25lIn0.eyJzdWIiOiJyZXBvOm8vciJ9.c2ln").is_ok());
        assert_eq!(
            check_jwt("not-a-jwt").unwrap_err().code,
            "InvalidParameter.WebIdentityTokenError"
        );
        assert_eq!(base64_url_decode("eyJhIjoxfQ").unwrap(), br#"{"a":1}"#);
    }
}
