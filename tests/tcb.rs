//! The Tencent Cloud API layer: TC3 signing against the official SDK's vectors, models against
//! the official API description, and the client against a local HTTP server.

use deploy_tcb::tcb::tc3;
use serde_json::Value;

use crate::support;

fn load_json(relative: &str) -> Option<Value> {
    let path = support::shared_or_skip(relative)?;
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Some(serde_json::from_str(&text).unwrap())
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string in {value}"))
}

#[test]
fn tc3_matches_every_official_vector() {
    let Some(doc) = load_json("vectors/tc3.json") else {
        return;
    };
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 3, "expected at least three vectors");
    for vector in vectors {
        let name = text(vector, "name");
        let payload = text(vector, "payload").as_bytes();
        assert_eq!(
            hex::encode(payload),
            text(vector, "payload_utf8_hex"),
            "{name}"
        );
        let headers = &vector["headers"];
        let timestamp = vector["timestamp"].as_i64().unwrap();
        let mid = &vector["intermediate"];
        let content_type = text(headers, "Content-Type");
        let host = text(vector, "host");
        let service = text(vector, "service");
        let secret_key = text(vector, "secret_key");

        let date = tc3::scope_date(timestamp);
        assert_eq!(date, text(mid, "date"), "{name}");
        assert_eq!(
            tc3::sha256_hex(payload),
            text(mid, "hashed_payload"),
            "{name}"
        );
        let canonical = tc3::canonical_request(content_type, host, payload);
        assert_eq!(canonical, text(mid, "canonical_request"), "{name}");
        let scope = tc3::credential_scope(&date, service);
        assert_eq!(scope, text(mid, "credential_scope"), "{name}");
        let to_sign = tc3::string_to_sign(timestamp, &scope, &canonical);
        assert_eq!(to_sign, text(mid, "string_to_sign"), "{name}");
        let key = tc3::signing_key(secret_key, &date, service);
        assert_eq!(hex::encode(key), text(mid, "k_signing_hex"), "{name}");
        assert_eq!(
            tc3::signature(secret_key, &date, service, &to_sign),
            text(mid, "signature"),
            "{name}"
        );
        let input = tc3::SignatureInput {
            service,
            host,
            content_type,
            timestamp,
            body: payload,
        };
        let authorization = tc3::authorization(text(vector, "secret_id"), secret_key, &input);
        assert_eq!(
            authorization,
            text(vector, "expected_authorization"),
            "{name}"
        );

        // The server side: parse what the SDK sent and verify it.
        let auth = tc3::Authorization::parse(text(headers, "Authorization")).unwrap();
        assert_eq!(auth.secret_id, text(vector, "secret_id"), "{name}");
        let lookup = |h: &str| match h {
            "content-type" => Some(content_type),
            "host" => Some(host),
            _ => None,
        };
        assert!(
            auth.verify(secret_key, timestamp, lookup, payload),
            "{name}"
        );
    }
}

#[test]
fn tc3_client_headers_match_the_sdk_for_json_vectors() {
    let Some(doc) = load_json("vectors/tc3.json") else {
        return;
    };
    for vector in doc["vectors"].as_array().unwrap() {
        let headers = &vector["headers"];
        if text(headers, "Content-Type") != tc3::JSON_CONTENT_TYPE {
            continue; // the client always sends plain application/json
        }
        let name = text(vector, "name");
        let call = tc3::CallInput {
            service: text(vector, "service"),
            host: text(vector, "host"),
            action: text(vector, "action"),
            version: text(vector, "version"),
            region: vector["region"].as_str(),
            timestamp: vector["timestamp"].as_i64().unwrap(),
            body: text(vector, "payload").as_bytes(),
        };
        let key = tc3::SigningKey {
            secret_id: text(vector, "secret_id"),
            secret_key: text(vector, "secret_key"),
            token: vector["token"].as_str(),
        };
        let ours = tc3::sign_request(&call, Some(&key));
        for (header, value) in &ours {
            assert_eq!(
                Some(value.as_str()),
                headers[*header].as_str(),
                "{name}: {header}"
            );
        }
        let has_token = ours.iter().any(|(h, _)| *h == "X-TC-Token");
        assert_eq!(has_token, headers.get("X-TC-Token").is_some(), "{name}");
    }
}

/// A raw UTF-8 body (what serde_json sends: Chinese, emoji, no escapes) is signed over its
/// bytes. The reference is the official Python SDK's `Sign.sign_tc3` over a canonical request
/// built with hashlib, so this is not our code checking itself.
#[test]
fn tc3_signs_raw_utf8_bodies_like_the_python_sdk() {
    if !support::tool_or_skip("python3") {
        return;
    }
    let script = r#"
import hashlib, sys
try:
    from tencentcloud.common.sign import Sign
except ImportError:
    print("NO-SDK"); sys.exit(0)
body = bytes.fromhex(sys.argv[1]); ts = int(sys.argv[2]); date = sys.argv[3]
canonical = "POST\n/\n\ncontent-type:application/json\nhost:127.0.0.1:9000\n\ncontent-type;host\n" + hashlib.sha256(body).hexdigest()
to_sign = "TC3-HMAC-SHA256\n%d\n%s/tcbr/tc3_request\n%s" % (ts, date, hashlib.sha256(canonical.encode()).hexdigest())
print(Sign.sign_tc3("SKEY-密钥-é", date, "tcbr", to_sign))
"#;
    let body = r#"{"EnvId":"env-1","ServerName":"api","DeployInfo":{"DeployType":"image","DeployRemark":"发布 🚀 版本 — ünïcödé"}}"#;
    let timestamp = 1767225600_i64;
    let date = tc3::scope_date(timestamp);
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            script,
            &hex::encode(body),
            &timestamp.to_string(),
            &date,
        ])
        .output()
        .unwrap();
    let reference = String::from_utf8(out.stdout).unwrap().trim().to_string();
    if reference == "NO-SDK" {
        assert!(
            std::env::var("DEPLOY_TCB_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "tencentcloud-sdk-python-common is required under .ci/run"
        );
        eprintln!("skipped: needs the tencentcloud-sdk-python-common package");
        return;
    }
    let input = tc3::SignatureInput {
        service: "tcbr",
        host: "127.0.0.1:9000",
        content_type: tc3::JSON_CONTENT_TYPE,
        timestamp,
        body: body.as_bytes(),
    };
    let header = tc3::authorization("AKID-local", "SKEY-密钥-é", &input);
    assert!(
        header.ends_with(&format!("Signature={reference}")),
        "{header} vs {reference}"
    );
    let auth = tc3::Authorization::parse(&header).unwrap();
    let lookup = |h: &str| match h {
        "content-type" => Some(tc3::JSON_CONTENT_TYPE),
        "host" => Some("127.0.0.1:9000"),
        _ => None,
    };
    assert!(auth.verify("SKEY-密钥-é", timestamp, lookup, body.as_bytes()));
    // One changed byte in a multi-byte character breaks the signature.
    let mut tampered = body.as_bytes().to_vec();
    let at = body.find('🚀').unwrap() + 3;
    tampered[at] ^= 1;
    assert!(!auth.verify("SKEY-密钥-é", timestamp, lookup, &tampered));
}

// ---------------------------------------------------------------------------------------------
// Conformance: our models against the official API description.

use deploy_tcb::tcb::models::{self, ApiType, Field, Service};
use std::collections::{BTreeMap, BTreeSet};

fn spec_dir(service: Service) -> String {
    let version = service.version().replace('-', "");
    format!("spec/tencentcloud/{}/v{version}", service.name())
}

/// The type our model must have for one member of the description.
fn spec_type(kind: &str, member: &str, objects: &serde_json::Map<String, Value>) -> ApiType {
    let scalar = |member: &str| match member {
        "string" => Some(ApiType::String),
        "int64" => Some(ApiType::Int64),
        "uint64" => Some(ApiType::UInt64),
        "float" => Some(ApiType::Float),
        "bool" => Some(ApiType::Bool),
        _ => None,
    };
    let named = |member: &str| {
        scalar(member).unwrap_or_else(|| {
            assert!(objects.contains_key(member), "unknown member type {member}");
            ApiType::Object(Box::leak(member.to_string().into_boxed_str()))
        })
    };
    match kind {
        "list" => ApiType::List(Box::new(named(member))),
        "object" => named(member),
        "string" | "int" | "float" | "bool" => {
            scalar(member).unwrap_or_else(|| panic!("{kind}/{member} is not a scalar"))
        }
        other => panic!("unexpected member kind {other}"),
    }
}

/// Structures reachable from `roots` through nested members.
fn reachable(roots: &[&str], objects: &serde_json::Map<String, Value>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = roots.iter().map(|s| s.to_string()).collect();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        for member in objects[&name]["members"].as_array().unwrap() {
            let target = text(member, "member");
            if objects.contains_key(target) {
                todo.push(target.to_string());
            }
        }
    }
    seen
}

/// Whether our field must be an `Option`: a request field the API marks optional; a response
/// field the cloud may omit or send as null; a shared structure's field when either side says so.
fn spec_optional(member: &Value, structure: &str, input: bool, output: bool) -> bool {
    let required = member["required"].as_bool();
    let output_required = member["output_required"].as_bool();
    let nullable = member["value_allowed_null"].as_bool().unwrap_or(false);
    let out_optional = output_required.map(|r| !r || nullable);
    if structure.ends_with("Request") {
        return !required.unwrap_or(false);
    }
    if structure.ends_with("Response") {
        return out_optional.unwrap_or(false); // RequestId carries no flags and is always there
    }
    let in_optional = required.map(|r| !r);
    match (input, output) {
        (true, true) => in_optional.unwrap_or(false) || out_optional.unwrap_or(false),
        (true, false) => in_optional.or(out_optional).unwrap_or(true),
        _ => out_optional.or(in_optional).unwrap_or(true),
    }
}

fn undocumented(service: Service, structure: &str) -> Vec<&'static str> {
    models::UNDOCUMENTED_FIELDS
        .iter()
        .filter(|(s, o, _)| *s == service.name() && *o == structure)
        .map(|(_, _, f)| *f)
        .collect()
}

fn compare_structure(
    service: Service,
    name: &str,
    spec: &Value,
    ours: &[Field],
    (input, output): (bool, bool),
    objects: &serde_json::Map<String, Value>,
    problems: &mut Vec<String>,
) {
    let mut ours: BTreeMap<&str, &Field> = ours.iter().map(|f| (f.wire, f)).collect();
    for member in spec["members"].as_array().unwrap() {
        let wire = text(member, "name");
        let Some(field) = ours.remove(wire) else {
            problems.push(format!(
                "{name}.{wire}: in the description, missing from our model"
            ));
            continue;
        };
        let ty = spec_type(text(member, "type"), text(member, "member"), objects);
        if field.ty != ty {
            problems.push(format!(
                "{name}.{wire}: type {:?}, description says {ty:?}",
                field.ty
            ));
        }
        let optional = spec_optional(member, name, input, output);
        if field.optional != optional {
            problems.push(format!(
                "{name}.{wire}: optional={}, description implies optional={optional}",
                field.optional
            ));
        }
    }
    let extra = undocumented(service, name);
    for (wire, _) in ours {
        if !extra.contains(&wire) {
            problems.push(format!(
                "{name}.{wire}: in our model, not in the description"
            ));
        }
    }
}

#[test]
fn models_conform_to_the_official_api_description() {
    let mut checked = 0;
    for service in Service::all() {
        let Some(api) = load_json(&format!("{}/api.json", spec_dir(service))) else {
            return;
        };
        assert_eq!(api["metadata"]["apiVersion"], service.version());
        let objects = api["objects"].as_object().unwrap();
        let actions: Vec<_> = models::actions()
            .into_iter()
            .filter(|a| a.service == service)
            .collect();
        let spec_action = |name: &str| &api["actions"][name];
        let inputs: Vec<&str> = actions
            .iter()
            .map(|a| text(spec_action(a.name), "input"))
            .collect();
        let outputs: Vec<&str> = actions
            .iter()
            .map(|a| text(spec_action(a.name), "output"))
            .collect();
        for action in &actions {
            assert_eq!(
                text(spec_action(action.name), "input"),
                action.request,
                "{}",
                action.name
            );
            assert_eq!(
                text(spec_action(action.name), "output"),
                action.response,
                "{}",
                action.name
            );
        }
        let used_in = reachable(&inputs, objects);
        let used_out = reachable(&outputs, objects);
        let ours: BTreeMap<&str, Vec<Field>> = service.objects().into_iter().collect();
        let mut problems = Vec::new();
        for name in used_in.union(&used_out) {
            let Some(fields) = ours.get(name.as_str()) else {
                problems.push(format!("{name}: in the description, no model"));
                continue;
            };
            let usage = (used_in.contains(name), used_out.contains(name));
            compare_structure(
                service,
                name,
                &objects[name],
                fields,
                usage,
                objects,
                &mut problems,
            );
            checked += 1;
        }
        for name in ours.keys() {
            if !used_in.contains(*name) && !used_out.contains(*name) {
                problems.push(format!(
                    "{name}: our model, not reachable from the modelled actions"
                ));
            }
        }
        for (s, structure, field) in models::UNDOCUMENTED_FIELDS {
            if *s == service.name() {
                let members = objects[*structure]["members"].as_array().unwrap();
                if members.iter().any(|m| m["name"] == *field) {
                    problems.push(format!(
                        "{structure}.{field} is documented now: drop it from UNDOCUMENTED_FIELDS"
                    ));
                }
            }
        }
        assert!(
            problems.is_empty(),
            "{} drifted:\n{}",
            service.name(),
            problems.join("\n")
        );
    }
    assert!(checked >= 60, "only {checked} structures checked");
}

/// The description's own examples: every request body parses (the emulator accepts what the
/// documentation shows) and every response reads into our response model.
#[test]
fn official_examples_parse_into_our_models() {
    let mut parsed = 0;
    for service in Service::all() {
        let Some(examples) = load_json(&format!("{}/examples.json", spec_dir(service))) else {
            return;
        };
        for action in models::actions()
            .into_iter()
            .filter(|a| a.service == service)
        {
            let Some(list) = examples["actions"][action.name].as_array() else {
                continue;
            };
            for example in list {
                let input = text(example, "input");
                let body = input.split_once("\n\n").map(|(_, b)| b).unwrap_or("{}");
                let request = models::Request::parse(action.name, body.as_bytes());
                assert!(
                    request.is_ok(),
                    "{} example: {:?}\n{body}",
                    action.name,
                    request.err()
                );
                let output: Value = serde_json::from_str(text(example, "output")).unwrap();
                let response = &output["Response"];
                models::validate(service, action.response, response)
                    .unwrap_or_else(|e| panic!("{} example response: {e}", action.name));
                parsed += 1;
            }
        }
    }
    assert!(parsed >= 16, "only {parsed} examples");
}

// ---------------------------------------------------------------------------------------------
// The client against a local HTTP server that scripts the cloud's answers.

mod wire {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use deploy_tcb::tcb::tc3;

    pub const KEY: &str = "wire-test-secret-key-0123456789";

    /// One answer: HTTP status, body, and how long to wait before answering.
    #[derive(Clone)]
    pub struct Answer {
        pub status: u16,
        pub body: String,
        pub delay: Duration,
    }

    pub fn ok(fields: &str) -> Answer {
        let sep = if fields.is_empty() { "" } else { "," };
        Answer {
            status: 200,
            body: format!(r#"{{"Response":{{{fields}{sep}"RequestId":"req-ok"}}}}"#),
            delay: Duration::ZERO,
        }
    }

    pub fn error(code: &str) -> Answer {
        Answer {
            status: 200,
            body: format!(
                r#"{{"Response":{{"Error":{{"Code":"{code}","Message":"scripted {code}"}},"RequestId":"req-err"}}}}"#
            ),
            delay: Duration::ZERO,
        }
    }

    /// What the server saw of one request.
    #[derive(Debug, Clone)]
    pub struct Seen {
        pub headers: HeaderMap,
        pub body: Vec<u8>,
        /// The TC3 signature verified with [`KEY`] (false for `SKIP`).
        pub signature_valid: bool,
    }

    impl Seen {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).and_then(|v| v.to_str().ok())
        }
    }

    #[derive(Clone, Default)]
    struct Shared {
        answers: Arc<Mutex<VecDeque<Answer>>>,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    pub struct Server {
        pub url: String,
        shared: Shared,
    }

    impl Server {
        pub async fn start(answers: Vec<Answer>) -> Server {
            let shared = Shared::default();
            shared.answers.lock().unwrap().extend(answers);
            let app = axum::Router::new()
                .route("/", axum::routing::post(handle))
                .with_state(shared.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            Server { url, shared }
        }

        pub fn seen(&self) -> Vec<Seen> {
            self.shared.seen.lock().unwrap().clone()
        }
    }

    fn verify(headers: &HeaderMap, body: &[u8]) -> bool {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(authorization), Some(timestamp)) = (get("authorization"), get("x-tc-timestamp"))
        else {
            return false;
        };
        let Ok(auth) = tc3::Authorization::parse(authorization) else {
            return false;
        };
        let timestamp: i64 = timestamp.parse().unwrap_or_default();
        auth.date_matches(timestamp) && auth.verify(KEY, timestamp, get, body)
    }

    async fn handle(
        State(shared): State<Shared>,
        headers: HeaderMap,
        body: Bytes,
    ) -> impl IntoResponse {
        let signature_valid = verify(&headers, &body);
        shared.seen.lock().unwrap().push(Seen {
            headers,
            body: body.to_vec(),
            signature_valid,
        });
        let answer = shared
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| ok(""));
        tokio::time::sleep(answer.delay).await;
        (
            StatusCode::from_u16(answer.status).unwrap(),
            [("content-type", "application/json")],
            answer.body,
        )
    }
}

use deploy_tcb::runner::Secret;
use deploy_tcb::tcb::client::{Client, Endpoint, Recheck, RetryPolicy};
use deploy_tcb::tcb::credentials::{Anonymous, Credentials};
use deploy_tcb::tcb::error::{ClientError, TransportKind};
use deploy_tcb::tcb::models::{sts, tcbr, tcr};
use std::time::Duration;

fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(10),
    }
}

fn client_for(server: &wire::Server, credentials: Credentials) -> Client {
    Client::new(credentials)
        .endpoint(Endpoint::parse(&server.url).unwrap())
        .retry(fast_retry(4))
        .timeout(Duration::from_secs(5))
}

fn long_term() -> Credentials {
    Credentials::new(Secret::new("AKID-wire-test"), Secret::new(wire::KEY))
}

fn task_request() -> tcbr::DescribeServerManageTaskRequest {
    tcbr::DescribeServerManageTaskRequest {
        env_id: "env-1".into(),
        server_name: "api".into(),
        task_id: 0,
        operator_remark: None,
    }
}

fn update_request() -> tcbr::UpdateCloudRunServerRequest {
    tcbr::UpdateCloudRunServerRequest {
        env_id: "env-1".into(),
        server_name: "api".into(),
        deploy_info: tcbr::DeployParam {
            deploy_type: "image".into(),
            image_url: Some("ccr.ccs.tencentyun.com/ns/api:1.2.3".into()),
            release_type: Some("FULL".into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn client_retries_throttled_reads_then_succeeds_with_a_valid_signature_each_time() {
    let server = wire::Server::start(vec![
        wire::error("RequestLimitExceeded"),
        wire::error("RequestLimitExceeded.UinLimitExceeded"),
        wire::error("InternalError"),
        wire::ok(r#""IsExist":true,"Task":{"Id":7,"Status":"running","Steps":[{"Name":"build","Status":"finished"}]}"#),
    ])
    .await;
    let client = client_for(&server, long_term());
    let response = client
        .describe_server_manage_task(&task_request())
        .await
        .unwrap();
    assert_eq!(response.task.id, 7);
    assert_eq!(response.task.steps[0].status, "finished");
    assert_eq!(response.request_id, "req-ok");
    let seen = server.seen();
    assert_eq!(seen.len(), 4);
    for request in &seen {
        assert!(request.signature_valid, "{request:?}");
        assert_eq!(
            request.header("x-tc-action"),
            Some("DescribeServerManageTask")
        );
        assert_eq!(request.header("x-tc-version"), Some("2022-02-17"));
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(
            request.header("host"),
            Some(server.url.trim_start_matches("http://"))
        );
        assert_eq!(request.header("x-tc-token"), None);
        assert_eq!(
            request.body,
            br#"{"EnvId":"env-1","ServerName":"api","TaskId":0}"#
        );
    }
}

#[tokio::test]
async fn client_gives_up_after_the_last_attempt_and_says_so() {
    let server = wire::Server::start(vec![wire::error("RequestLimitExceeded"); 6]).await;
    let client = client_for(&server, long_term()).retry(fast_retry(3));
    let error = client
        .describe_server_manage_task(&task_request())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::GaveUp { attempts: 3, .. }),
        "{error:?}"
    );
    assert_eq!(error.code(), Some("RequestLimitExceeded"));
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn client_never_retries_a_mutating_call_without_a_recheck() {
    let server = wire::Server::start(vec![
        wire::error("InternalError"),
        wire::ok(r#""TaskId":1"#),
    ])
    .await;
    let client = client_for(&server, long_term());
    let error = client
        .update_cloud_run_server(&update_request())
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("InternalError"));
    assert_eq!(
        server.seen().len(),
        1,
        "a mutating call was sent again blindly"
    );
}

#[tokio::test]
async fn client_rechecks_state_before_resending_a_mutating_call() {
    // Resend: the re-check found the change absent.
    let server = wire::Server::start(vec![
        wire::error("RequestLimitExceeded"),
        wire::ok(r#""EnvId":"env-1","TaskId":42"#),
    ])
    .await;
    let client = client_for(&server, long_term());
    let mut rechecks = Vec::new();
    let response = client
        .call_with_recheck(&update_request(), |error| {
            rechecks.push(error.code().map(str::to_string));
            async { Ok(Recheck::Resend) }
        })
        .await
        .unwrap();
    assert_eq!(response.task_id, 42);
    assert_eq!(rechecks, [Some("RequestLimitExceeded".to_string())]);
    assert_eq!(server.seen().len(), 2);

    // Done: the re-check found the change applied; nothing is sent again.
    let server = wire::Server::start(vec![wire::error("InternalError.Timeout")]).await;
    let client = client_for(&server, long_term());
    let found = tcbr::UpdateCloudRunServerResponse {
        task_id: 9,
        ..Default::default()
    };
    let response = client
        .call_with_recheck(&update_request(), |_| {
            let found = found.clone();
            async move { Ok(Recheck::Done(found)) }
        })
        .await
        .unwrap();
    assert_eq!(response.task_id, 9);
    assert_eq!(server.seen().len(), 1);

    // A definite refusal (ResourceInUse) is returned at once, with no re-check.
    let server = wire::Server::start(vec![wire::error("ResourceInUse")]).await;
    let client = client_for(&server, long_term());
    let error = client
        .call_with_recheck(&update_request(), |_| async {
            panic!("no re-check expected")
        })
        .await
        .unwrap_err();
    assert!(error.api().unwrap().is_resource_in_use());
    assert_eq!(server.seen().len(), 1);

    // GiveUp: the state cannot tell, so the failure is reported.
    let server = wire::Server::start(vec![wire::error("InternalError")]).await;
    let client = client_for(&server, long_term());
    let error = client
        .call_with_recheck(&update_request(), |_| async { Ok(Recheck::GiveUp) })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("InternalError"));
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn client_times_out_each_attempt() {
    let slow = wire::Answer {
        delay: Duration::from_secs(3),
        ..wire::ok("")
    };
    let server = wire::Server::start(vec![slow.clone(), slow]).await;
    let client = client_for(&server, long_term())
        .timeout(Duration::from_millis(150))
        .retry(fast_retry(2));
    let started = std::time::Instant::now();
    let error = client
        .describe_server_manage_task(&task_request())
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    let ClientError::GaveUp {
        last, attempts: 2, ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert!(last.is_timeout(), "{last:?}");
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn client_maps_errors_to_types() {
    let server = wire::Server::start(vec![
        wire::error("AuthFailure.SignatureFailure"),
        wire::Answer {
            status: 502,
            body: "bad gateway".into(),
            delay: Duration::ZERO,
        },
        wire::Answer {
            status: 200,
            body: "<html>".into(),
            delay: Duration::ZERO,
        },
        wire::error("ResourceNotFound.ServerNotFound"),
    ])
    .await;
    let client = client_for(&server, long_term()).retry(RetryPolicy::none());
    let request = tcbr::DescribeCloudRunServerDetailRequest {
        env_id: "env-1".into(),
        server_name: "api".into(),
    };

    let error = client
        .describe_cloud_run_server_detail(&request)
        .await
        .unwrap_err();
    let api = error.api().unwrap();
    assert!(api.is_auth() && !api.is_throttled());
    assert_eq!(api.request_id.as_deref(), Some("req-err"));
    assert!(
        error.to_string().contains("AuthFailure.SignatureFailure"),
        "{error}"
    );

    let error = client
        .describe_cloud_run_server_detail(&request)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Transport {
                kind: TransportKind::Status(502),
                ..
            }
        ),
        "{error:?}"
    );
    let error = client
        .describe_cloud_run_server_detail(&request)
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Decode { .. }), "{error:?}");
    let error = client
        .describe_cloud_run_server_detail(&request)
        .await
        .unwrap_err();
    assert!(error.api().unwrap().is_not_found());
}

#[tokio::test]
async fn client_sends_the_session_token_and_refreshes_on_token_failure() {
    let server = wire::Server::start(vec![
        wire::error("AuthFailure.TokenFailure"),
        wire::ok(r#""EnvBaseInfo":{"EnvId":"env-1","Status":"normal"},"IsExist":true"#),
    ])
    .await;
    let temporary = Credentials::temporary(
        Secret::new("AKID-temporary"),
        Secret::new(wire::KEY),
        Secret::new("session-token-wire-test"),
    );
    let client = client_for(&server, temporary);
    let request = tcbr::DescribeEnvBaseInfoRequest {
        env_id: "env-1".into(),
    };
    let response = client.describe_env_base_info(&request).await.unwrap();
    assert_eq!(response.env_base_info.status, "normal");
    assert_eq!(response.is_exist, Some(true));
    for seen in server.seen() {
        assert_eq!(seen.header("x-tc-token"), Some("session-token-wire-test"));
        assert!(seen.signature_valid);
    }
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn one_endpoint_serves_every_service_and_sts_is_unsigned() {
    let server = wire::Server::start(vec![
        wire::ok(
            r#""Credentials":{"Token":"sts-token-abcdef","TmpSecretId":"AKID-tmp","TmpSecretKey":"sts-key-abcdef"},"ExpiredTime":1900000000,"Expiration":"2030-03-17T17:46:40Z""#,
        ),
        wire::ok(r#""Username":"robot","Token":"tcr-password-abcdef","ExpTime":1900000000000"#),
    ])
    .await;
    // No credentials at all: AssumeRoleWithWebIdentity needs none.
    let anonymous = Client::new(Anonymous).endpoint(Endpoint::parse(&server.url).unwrap());
    let request = sts::AssumeRoleWithWebIdentityRequest {
        provider_id: "github".into(),
        web_identity_token: "eyJ.header.payload".into(),
        role_arn: "qcs::cam::uin/100:roleName/deploy".into(),
        role_session_name: "run-1".into(),
        duration_seconds: Some(3600),
    };
    let assumed = anonymous
        .assume_role_with_web_identity(&request)
        .await
        .unwrap();
    assert_eq!(assumed.credentials.tmp_secret_id, "AKID-tmp");
    assert_eq!(assumed.expired_time, 1900000000);
    let shown = format!("{assumed:?}");
    assert!(
        !shown.contains("sts-key-abcdef") && !shown.contains("sts-token-abcdef"),
        "{shown}"
    );
    assert_eq!(
        deploy_tcb::runner::mask::redact("k=sts-key-abcdef"),
        "k=***"
    );

    let credentials = Credentials::temporary(
        Secret::new(assumed.credentials.tmp_secret_id.clone()),
        Secret::new(assumed.credentials.tmp_secret_key.expose()),
        Secret::new(assumed.credentials.token.expose()),
    );
    let client = Client::new(credentials).endpoint(Endpoint::parse(&server.url).unwrap());
    let token = client
        .create_instance_token(&tcr::CreateInstanceTokenRequest {
            registry_id: "tcr-abc".into(),
            token_type: Some("temp".into()),
            desc: None,
        })
        .await
        .unwrap();
    assert_eq!(token.username, "robot");
    assert_eq!(
        deploy_tcb::runner::mask::redact("tcr-password-abcdef"),
        "***"
    );

    let seen = server.seen();
    assert_eq!(seen[0].header("authorization"), Some("SKIP"));
    assert_eq!(seen[0].header("x-tc-token"), None);
    assert_eq!(seen[0].header("x-tc-version"), Some("2018-08-13"));
    assert_eq!(seen[1].header("x-tc-action"), Some("CreateInstanceToken"));
    assert_eq!(seen[1].header("x-tc-version"), Some("2019-09-24"));
    assert_eq!(seen[1].header("x-tc-token"), Some("sts-token-abcdef"));
    let scope = tc3::Authorization::parse(seen[1].header("authorization").unwrap()).unwrap();
    assert_eq!(scope.service, "tcr");
}

#[test]
fn the_endpoint_input_wins_and_secrets_stay_out_of_debug() {
    let endpoint = Endpoint::resolve(Some("http://127.0.0.1:8999/")).unwrap();
    assert_eq!(endpoint, Endpoint::parse("http://127.0.0.1:8999").unwrap());
    let client = Client::new(Credentials::new(
        Secret::new("AKID-debug-id"),
        Secret::new("debug-secret-key"),
    ))
    .endpoint(endpoint);
    let shown = format!("{client:?}");
    assert!(!shown.contains("debug-secret-key"), "{shown}");
}

#[tokio::test]
async fn keyless_credentials_come_from_sts_and_sign_later_calls() {
    let sts_answer = format!(
        r#""Credentials":{{"Token":"keyless-session-token","TmpSecretId":"AKID-keyless","TmpSecretKey":"{}"}},"ExpiredTime":{},"Expiration":"later""#,
        wire::KEY,
        chrono::Utc::now().timestamp() + 3600
    );
    let server = wire::Server::start(vec![wire::ok(&sts_answer), wire::ok(""), wire::ok("")]).await;
    let endpoint = Endpoint::parse(&server.url).unwrap();
    let sts_client = Client::new(Anonymous).endpoint(endpoint.clone());
    let role = deploy_tcb::tcb::credentials::WebIdentityRole {
        provider_id: "github-actions".into(),
        role_arn: "qcs::cam::uin/100:roleName/deployer".into(),
        role_session_name: "run-42".into(),
        duration_seconds: Some(3600),
    };
    let fetches = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = fetches.clone();
    let source = deploy_tcb::tcb::credentials::web_identity(sts_client, role, move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async { Ok("oidc.jwt.token".to_string()) })
    });
    let client = Client::new(source).endpoint(endpoint).retry(fast_retry(2));
    let request = tcbr::DescribeEnvBaseInfoRequest {
        env_id: "env-1".into(),
    };
    client.describe_env_base_info(&request).await.unwrap();
    client.describe_env_base_info(&request).await.unwrap();
    assert_eq!(
        fetches.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "keys were not reused"
    );

    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[0].header("x-tc-action"),
        Some("AssumeRoleWithWebIdentity")
    );
    assert_eq!(seen[0].header("authorization"), Some("SKIP"));
    let body: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(body["WebIdentityToken"], "oidc.jwt.token");
    assert_eq!(body["RoleSessionName"], "run-42");
    for call in &seen[1..] {
        assert!(call.signature_valid);
        assert_eq!(call.header("x-tc-token"), Some("keyless-session-token"));
        assert!(
            call.header("authorization")
                .unwrap()
                .contains("Credential=AKID-keyless/")
        );
    }
}

#[tokio::test]
async fn an_expired_signature_is_signed_again_once_only() {
    let server = wire::Server::start(vec![
        wire::error("AuthFailure.SignatureExpire"),
        wire::error("AuthFailure.SignatureExpire"),
        wire::ok(""),
    ])
    .await;
    let client = client_for(&server, long_term());
    let error = client
        .describe_server_manage_task(&task_request())
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("AuthFailure.SignatureExpire"));
    assert_eq!(server.seen().len(), 2);
}
