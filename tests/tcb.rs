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
