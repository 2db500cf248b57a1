//! The emulator over HTTP: the protocol (signature, envelope, validation codes), release
//! lifecycles, the gateway and metrics, faults, the state file, the CLI, and the official
//! Python SDK driving it end to end.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deploy_tcb::tcb::tc3::SigningKey;
use serde_json::{Value, json};

use crate::support::emulator::{ENV, SECRET_ID, SECRET_KEY, TestEmulator, signed_headers};
use crate::support::{binary, tool_or_skip};

fn key() -> SigningKey<'static> {
    SigningKey {
        secret_id: SECRET_ID,
        secret_key: SECRET_KEY,
        token: None,
    }
}

fn code(response: &Value) -> String {
    TestEmulator::code(response)
}

#[test]
fn answers_are_json_envelopes_with_http_200_even_for_errors() {
    let emu = TestEmulator::start();
    let answer = emu.call_signed(
        "DescribeCloudRunServerDetail",
        r#"{"EnvId":"env-test-1a2b3c","ServerName":"none"}"#,
        Some(&key()),
    );
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let response = &answer.json()["Response"];
    assert_eq!(response["Error"]["Code"], "ResourceNotFound.ServerNotFound");
    assert!(
        response["RequestId"]
            .as_str()
            .is_some_and(|id| id.len() == 36)
    );
    let ok = emu.ok("DescribeEnvBaseInfo", json!({"EnvId": ENV}));
    assert_eq!(ok["IsExist"], true);
    assert_eq!(ok["EnvBaseInfo"]["Status"], "normal");
    let envs = emu.ok("DescribeCloudRunEnvs", json!({}));
    assert_eq!(envs["EnvList"][0]["Status"], "NORMAL");
    assert_eq!(
        emu.ok("DescribeEnvBaseInfo", json!({"EnvId": "env-other"}))["IsExist"],
        false
    );
}

#[test]
fn requests_are_validated_with_the_cloud_codes() {
    let emu = TestEmulator::start();
    let cases = [
        ("DescribeCloudRunEnv", json!({}), "InvalidAction"),
        ("DescribeCloudRunServers", json!({}), "MissingParameter"),
        (
            "DescribeCloudRunServers",
            json!({"EnvId": ENV, "Colour": "red"}),
            "UnknownParameter",
        ),
        (
            "DescribeCloudRunServers",
            json!({"EnvId": ENV, "PageSize": "many"}),
            "InvalidParameterValue",
        ),
        (
            "DescribeCloudRunServers",
            json!({"EnvId": "env-nope"}),
            "ResourceNotFound",
        ),
        (
            "UpdateCloudRunServer",
            json!({"EnvId": ENV, "ServerName": "x", "DeployInfo": {"ImageUrl": "nginx"}}),
            "MissingParameter",
        ),
        (
            "OperateServerManage",
            json!({"EnvId": ENV, "ServerName": "x", "TaskId": 0, "OperateType": "explode"}),
            "InvalidParameterValue",
        ),
    ];
    for (action, body, expected) in cases {
        let response = emu.call(action, body.clone());
        assert_eq!(code(&response), expected, "{action} {body}: {response}");
    }
    let mut headers = signed_headers(
        "DescribeCloudRunServers",
        b"{}",
        &emu.host(),
        now(),
        Some(&key()),
    );
    for (name, value) in &mut headers {
        if name == "X-TC-Version" {
            *value = "2018-06-08".into();
        }
    }
    let answer = emu.send("POST", "/", &headers, b"{}");
    assert_eq!(code(&answer.json()["Response"]), "NoSuchVersion");
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[test]
fn signatures_are_checked_host_with_or_without_port_and_within_five_minutes() {
    let emu = TestEmulator::start();
    let body = format!(r#"{{"EnvId":"{ENV}"}}"#);
    let send = |signed_host: &str, timestamp: i64, key: Option<&SigningKey<'_>>, sent: &str| {
        let mut headers = signed_headers(
            "DescribeEnvBaseInfo",
            body.as_bytes(),
            signed_host,
            timestamp,
            key,
        );
        for (name, value) in &mut headers {
            if name == "Host" {
                *value = emu.host();
            }
        }
        code(&emu.send("POST", "/", &headers, sent.as_bytes()).json()["Response"])
    };
    assert_eq!(send(&emu.host(), now(), Some(&key()), &body), "");
    assert_eq!(send("127.0.0.1", now(), Some(&key()), &body), "");
    assert_eq!(
        send("example.com", now(), Some(&key()), &body),
        "AuthFailure.SignatureFailure"
    );
    assert_eq!(
        send(&emu.host(), now() - 400, Some(&key()), &body),
        "AuthFailure.SignatureExpire"
    );
    assert_eq!(send(&emu.host(), now() + 250, Some(&key()), &body), "");
    let tampered = body.replace(ENV, "env-tampered");
    assert_eq!(
        send(&emu.host(), now(), Some(&key()), &tampered),
        "AuthFailure.SignatureFailure"
    );
    let wrong = SigningKey {
        secret_key: "wrong",
        ..key()
    };
    assert_eq!(
        send(&emu.host(), now(), Some(&wrong), &body),
        "AuthFailure.SignatureFailure"
    );
    let stranger = SigningKey {
        secret_id: "AKIDSTRANGER",
        ..key()
    };
    assert_eq!(
        send(&emu.host(), now(), Some(&stranger), &body),
        "AuthFailure.SecretIdNotFound"
    );
    // Unsigned (Authorization: SKIP) is for sts:AssumeRoleWithWebIdentity only.
    assert_eq!(
        send(&emu.host(), now(), None, &body),
        "AuthFailure.InvalidAuthorization"
    );
}

#[test]
fn sts_credentials_sign_later_calls_and_tcr_issues_tokens() {
    let emu = TestEmulator::start();
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm8vcjpyZWY6cmVmcy9oZWFkcy9tYWluIn0.c2ln";
    let body = json!({"ProviderId": "github", "WebIdentityToken": jwt,
        "RoleArn": "qcs::cam::uin/100000000001:roleName/deploy", "RoleSessionName": "ci",
        "DurationSeconds": "1800"});
    let answer = emu
        .call_signed("AssumeRoleWithWebIdentity", &body.to_string(), None)
        .json();
    let creds = &answer["Response"]["Credentials"];
    let (id, secret, token) = (
        creds["TmpSecretId"].as_str().unwrap(),
        creds["TmpSecretKey"].as_str().unwrap(),
        creds["Token"].as_str().unwrap(),
    );
    let expires = answer["Response"]["ExpiredTime"].as_i64().unwrap();
    assert!((expires - now() - 1800).abs() < 5, "{answer}");
    let temp = SigningKey {
        secret_id: id,
        secret_key: secret,
        token: Some(token),
    };
    let call = emu.call_signed(
        "DescribeEnvBaseInfo",
        &json!({"EnvId": ENV}).to_string(),
        Some(&temp),
    );
    assert_eq!(call.json()["Response"]["IsExist"], true);
    let bad_jwt = json!({"ProviderId": "github", "WebIdentityToken": "nope",
        "RoleArn": "qcs::cam::uin/1:roleName/deploy", "RoleSessionName": "ci"});
    let refused = emu
        .call_signed("AssumeRoleWithWebIdentity", &bad_jwt.to_string(), None)
        .json();
    assert_eq!(
        code(&refused["Response"]),
        "InvalidParameter.WebIdentityTokenError"
    );
    let token = emu.ok(
        "CreateInstanceToken",
        json!({"RegistryId": "tcr-abc", "TokenType": "temp"}),
    );
    assert!(token["Token"].as_str().is_some_and(|t| t.len() == 64));
    assert!(token["ExpTime"].as_i64().unwrap() > now() * 1000);
}

#[test]
fn a_full_release_advances_through_its_steps_and_serves_the_new_version() {
    let emu = TestEmulator::start();
    let task = emu.deploy_new("web", "synthetic:healthy");
    assert_eq!(task["Status"], "finished");
    let steps: Vec<_> = task["Steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        steps,
        [
            "build_image",
            "create_version",
            "deploy_instance",
            "switch_traffic"
        ]
    );
    assert_eq!(
        emu.online("web"),
        [("web-001".to_string(), "100".to_string())]
    );
    let update = emu.ok("UpdateCloudRunServer", json!({"EnvId": ENV, "ServerName": "web",
        "DeployInfo": {"DeployType": "image", "ImageUrl": "synthetic:healthy", "ReleaseType": "FULL"},
        "Items": [{"Key": "MaxNum", "IntValue": 3}]}));
    assert_eq!(update["EnvId"], ENV);
    let running = emu.ok(
        "DescribeServerManageTask",
        json!({"EnvId": ENV, "ServerName": "web", "TaskId": 0}),
    );
    assert_eq!(running["Task"]["Status"], "running");
    assert_eq!(running["Task"]["PreVersionName"], "web-001");
    let records = emu.ok(
        "DescribeCloudRunDeployRecord",
        json!({"EnvId": ENV, "ServerName": "web"}),
    );
    assert_eq!(records["DeployRecords"][0]["Status"], "deploying");
    assert_eq!(records["DeployRecords"][0]["IsReleasing"], true);
    emu.wait_task("web");
    assert_eq!(
        emu.online("web"),
        [("web-002".to_string(), "100".to_string())]
    );
    let by_id = emu.ok(
        "DescribeServerManageTask",
        json!({"EnvId": ENV, "ServerName": "web", "TaskId": update["TaskId"]}),
    );
    assert_eq!(by_id["Task"]["VersionName"], "web-002");
    let list = emu.ok("DescribeCloudRunServers", json!({"EnvId": ENV}));
    assert_eq!(list["Total"], 1);
    let url = list["ServerList"][0]["DefaultDomainName"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(url, format!("{}/_gw/{ENV}/web", emu.base_url()));
}

#[test]
fn header_routing_sends_marked_requests_to_the_gray_version() {
    let emu = TestEmulator::start();
    emu.deploy_new("api", "synthetic:healthy");
    emu.ok("UpdateCloudRunServer", json!({"EnvId": ENV, "ServerName": "api",
        "DeployInfo": {"DeployType": "image", "ImageUrl": "synthetic:healthy", "ReleaseType": "GRAY"}}));
    emu.wait_task("api");
    emu.ok(
        "ReleaseGray",
        json!({"EnvId": ENV, "ServerName": "api", "GrayType": "gray", "TrafficType": "HEADERS",
        "VersionFlowItems": [
            {"VersionName": "api-001", "IsDefaultPriority": true, "Priority": 10},
            {"VersionName": "api-002", "IsDefaultPriority": false, "Priority": 1,
             "UrlParam": {"Key": "x-canary", "Value": "on*"}}]}),
    );
    let path = format!("/_gw/{ENV}/api/items");
    let marked = emu.send(
        "GET",
        &path,
        &[("X-Canary".into(), "on-please".into())],
        b"",
    );
    assert_eq!(marked.header("x-tcb-version"), Some("api-002"));
    assert_eq!(marked.json()["path"], "/items");
    assert_eq!(emu.get(&path).header("x-tcb-version"), Some("api-001"));
    // Promote the way @cloudbase/manager-node does: 100% with CloseGrayRelease.
    emu.ok("ReleaseGray", json!({"EnvId": ENV, "ServerName": "api", "GrayType": "gray", "TrafficType": "FLOW",
        "GrayFlowRatio": 100, "CloseGrayRelease": true,
        "VersionFlowItems": [{"VersionName": "api-002", "FlowRatio": 100, "IsDefaultPriority": true, "Priority": 0}]}));
    assert_eq!(
        emu.online("api"),
        [("api-002".to_string(), "100".to_string())]
    );
    let order = emu.ok(
        "DescribeReleaseOrder",
        json!({"EnvId": ENV, "ServerName": "api"}),
    );
    assert_eq!(order["ReleaseOrderInfo"]["ReleaseStatus"], "finished");
}

#[test]
fn synthetic_apps_fail_slow_crash_and_report_unhealthy_in_metrics() {
    let emu = TestEmulator::start();
    emu.deploy_new("flaky", "synthetic:errors-20");
    let path = format!("/_gw/{ENV}/flaky/");
    let errors = (0..200).filter(|_| emu.get(&path).status == 500).count();
    assert!((20..70).contains(&errors), "{errors} of 200 answered 500");
    emu.deploy_new("sick", "synthetic:unhealthy");
    assert_eq!(emu.get(&format!("/_gw/{ENV}/sick/healthz")).status, 503);
    assert_eq!(emu.get(&format!("/_gw/{ENV}/sick/")).status, 200);
    emu.deploy_new("slow", "synthetic:slow-60ms");
    let started = Instant::now();
    assert_eq!(emu.get(&format!("/_gw/{ENV}/slow/")).status, 200);
    assert!(started.elapsed() >= Duration::from_millis(60));
    let crashed = emu.deploy_new("boom", "synthetic:crash");
    assert_eq!(crashed["Status"], "failed");
    assert!(
        crashed["FailReason"]
            .as_str()
            .unwrap()
            .contains("never became ready")
    );
    assert_eq!(emu.get(&format!("/_gw/{ENV}/boom/")).status, 503);
    let metrics = emu.get("/metrics");
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = metrics.text();
    let line = format!(
        r#"tcb_gateway_errors_total{{env="{ENV}",service="flaky",version="flaky-001"}} {errors}"#
    );
    assert!(text.contains(&line), "{line} not in\n{text}");
    assert!(text.contains(r#"tcb_api_requests_total{action="CreateCloudRunServer",code="ok"} 4"#));
    assert!(text.contains(&format!(r#"tcb_gateway_request_duration_seconds_count{{env="{ENV}",service="slow",version="slow-001"}} 1"#)));
}

#[test]
fn faults_from_the_control_endpoint_throttle_fail_and_drop() {
    let emu = TestEmulator::start();
    let rules = json!({"rules": [
        {"kind": "throttle", "action": "DescribeCloudRunServers", "times": 1},
        {"kind": "internal_error", "action": "DescribeEnvBaseInfo", "times": 1},
        {"kind": "drop", "action": "DescribeCloudRunEnvs", "times": 1},
        {"kind": "latency", "ms": 40, "action": "DescribeReleaseOrder", "times": 1}
    ]});
    let set = emu.send(
        "POST",
        "/_emulator/faults",
        &[],
        rules.to_string().as_bytes(),
    );
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(
        code(&emu.call("DescribeCloudRunServers", json!({"EnvId": ENV}))),
        "RequestLimitExceeded"
    );
    assert_eq!(
        code(&emu.call("DescribeCloudRunServers", json!({"EnvId": ENV}))),
        ""
    );
    assert_eq!(
        code(&emu.call("DescribeEnvBaseInfo", json!({"EnvId": ENV}))),
        "InternalError"
    );
    let dropped = emu.call_signed("DescribeCloudRunEnvs", "{}", Some(&key()));
    assert_eq!(
        (dropped.status, dropped.body.len()),
        (0, 0),
        "the connection closes without an answer"
    );
    let started = Instant::now();
    emu.call(
        "DescribeReleaseOrder",
        json!({"EnvId": ENV, "ServerName": "x"}),
    );
    assert!(started.elapsed() >= Duration::from_millis(40));
    let bad = emu.send(
        "POST",
        "/_emulator/faults",
        &[],
        br#"{"rules":[{"kind":"latency"}]}"#,
    );
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("needs `ms`"));
    assert_eq!(
        emu.send("DELETE", "/_emulator/faults", &[], b"").status,
        200
    );
    assert_eq!(emu.get("/_emulator/faults").json()["rules"], json!([]));
}

#[test]
fn task_faults_fail_a_step_fail_a_build_or_never_finish() {
    let emu = TestEmulator::start();
    emu.set_faults(json!({"rules": [
        {"kind": "task_fail", "step": "switch_traffic", "service": "a", "message": "quota exceeded"},
        {"kind": "build_fail", "service": "b"},
        {"kind": "task_stuck", "step": "deploy_instance", "service": "c"},
        {"kind": "resource_in_use", "action": "UpdateCloudRunServer", "service": "d"}
    ]}));
    let a = emu.deploy_new("a", "synthetic:healthy");
    assert_eq!(
        (a["Status"].as_str(), a["FailReason"].as_str()),
        (Some("failed"), Some("quota exceeded"))
    );
    assert_eq!(a["Steps"][3]["Status"], "failed");
    emu.deploy_new("b", "synthetic:healthy");
    let detail = emu.ok(
        "DescribeVersionDetail",
        json!({"EnvId": ENV, "ServerName": "b", "VersionName": "b-001"}),
    );
    assert_eq!(detail["Status"], "build_failed");
    emu.ok(
        "CreateCloudRunServer",
        json!({"EnvId": ENV, "ServerName": "c",
        "DeployInfo": {"DeployType": "image", "ImageUrl": "synthetic:healthy"}}),
    );
    std::thread::sleep(Duration::from_millis(80));
    let stuck = emu.ok(
        "DescribeServerManageTask",
        json!({"EnvId": ENV, "ServerName": "c", "TaskId": 0}),
    );
    assert_eq!(stuck["Task"]["Status"], "running");
    let again = emu.call(
        "UpdateCloudRunServer",
        json!({"EnvId": ENV, "ServerName": "c",
        "DeployInfo": {"DeployType": "image", "ImageUrl": "synthetic:healthy"}}),
    );
    assert_eq!(code(&again), "ResourceInUse");
    emu.ok("OperateServerManage", json!({"EnvId": ENV, "ServerName": "c", "TaskId": stuck["Task"]["Id"], "OperateType": "cancel"}));
    assert_eq!(emu.wait_task("c")["Status"], "cancelled");
    emu.deploy_new("d", "synthetic:healthy");
    let injected = emu.call(
        "UpdateCloudRunServer",
        json!({"EnvId": ENV, "ServerName": "d",
        "DeployInfo": {"DeployType": "image", "ImageUrl": "synthetic:healthy"}}),
    );
    assert_eq!(code(&injected), "ResourceInUse");
}

#[test]
fn the_state_file_keeps_services_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.json");
    let with_file =
        |c: &mut deploy_tcb::emulator::EmulatorConfig| c.state_file = Some(file.clone());
    let first = TestEmulator::start_with(with_file);
    first.deploy_new("kept", "synthetic:healthy");
    first.handle.shutdown().unwrap();
    let second = TestEmulator::start_with(with_file);
    assert_eq!(
        second.online("kept"),
        [("kept-001".to_string(), "100".to_string())]
    );
    second.ok(
        "UpdateCloudRunServer",
        json!({"EnvId": ENV, "ServerName": "kept",
        "DeployInfo": {"DeployType": "image", "ImageUrl": "synthetic:healthy"}}),
    );
    assert_eq!(second.wait_task("kept")["VersionName"], "kept-002");
    assert_eq!(second.get(&format!("/_gw/{ENV}/kept/")).status, 200);
}

#[test]
fn the_cli_rejects_bad_flags_with_exit_2_naming_the_input() {
    let out = Command::new(binary())
        .args(["emulator", "--speed", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("speed")
            || String::from_utf8_lossy(&out.stderr).contains("speed")
    );
    let dir = tempfile::tempdir().unwrap();
    let faults = dir.path().join("faults.json");
    std::fs::write(&faults, r#"{"rules":[{"kind":"task_fail"}]}"#).unwrap();
    let out = Command::new(binary())
        .args(["emulator", "--port", "0", "--faults"])
        .arg(&faults)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("faults") && all.contains("needs `step`"),
        "{all}"
    );
}

/// The official Python SDK against `deploy-tcb emulator` started from the command line.
#[test]
fn the_official_python_sdk_deploys_splits_promotes_and_rolls_back() {
    if !tool_or_skip("python3") || !python_sdk_or_skip() {
        return;
    }
    let mut child = Command::new(binary())
        .args([
            "emulator", "--port", "0", "--env", "env-sdk", "--speed", "40",
        ])
        .args(["--secret-id", "AKIDSDKE2E", "--secret-key", "sdk-e2e-key"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    // Keep draining so the emulator never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let endpoint = first
        .trim()
        .rsplit("http://")
        .next()
        .unwrap_or_default()
        .to_string();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/sdk_e2e.py");
    let out = Command::new("python3")
        .arg(script)
        .args([
            "--endpoint",
            &endpoint,
            "--secret-id",
            "AKIDSDKE2E",
            "--secret-key",
            "sdk-e2e-key",
            "--env",
            "env-sdk",
        ])
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("sdk e2e: all checks passed"), "{stdout}");
    assert!(stdout.contains("ok   a tampered body is AuthFailure.SignatureFailure"));
}

/// True when `tencentcloud-sdk-python` imports; under .ci/run a missing SDK fails the test.
fn python_sdk_or_skip() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import tencentcloud.tcbr.v20220217.tcbr_client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("DEPLOY_TCB_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
            panic!(
                "tencentcloud-sdk-python is required under .ci/run (scripts/ci.d/emulator.sh installs it)"
            );
        }
        eprintln!(
            "skipped: needs tencentcloud-sdk-python (python3 -m pip install tencentcloud-sdk-python==3.1.195)"
        );
    }
    found
}

/// Every answer the emulator gives is valid against the official response description (the tcb
/// models' field tables): no field the cloud does not send, every type as documented.
#[test]
fn every_answer_matches_the_official_response_description() {
    use deploy_tcb::tcb::models::{Service, validate};
    let emu = TestEmulator::start();
    emu.deploy_new("shape", "synthetic:healthy");
    emu.ok("UpdateCloudRunServer", json!({"EnvId": ENV, "ServerName": "shape",
        "DeployInfo": {"DeployType": "image", "ImageUrl": "synthetic:healthy", "ReleaseType": "GRAY"}}));
    let task = emu.wait_task("shape");
    emu.ok("ReleaseGray", json!({"EnvId": ENV, "ServerName": "shape", "GrayType": "gray", "TrafficType": "HEADERS",
        "VersionFlowItems": [
            {"VersionName": "shape-001", "IsDefaultPriority": true},
            {"VersionName": "shape-002", "IsDefaultPriority": false, "UrlParam": {"Key": "x", "Value": "1"}}]}));
    let run_id = emu.ok(
        "DescribeCloudRunDeployRecord",
        json!({"EnvId": ENV, "ServerName": "shape"}),
    )["DeployRecords"][0]["RunId"]
        .clone();
    let service = json!({"EnvId": ENV, "ServerName": "shape"});
    let calls = [
        (Service::Tcbr, "DescribeEnvBaseInfo", json!({"EnvId": ENV})),
        (
            Service::Tcbr,
            "DescribeEnvBaseInfo",
            json!({"EnvId": "env-absent"}),
        ),
        (Service::Tcbr, "DescribeCloudRunEnvs", json!({})),
        (
            Service::Tcbr,
            "DescribeCloudRunServers",
            json!({"EnvId": ENV}),
        ),
        (
            Service::Tcbr,
            "DescribeCloudRunServerDetail",
            service.clone(),
        ),
        (
            Service::Tcbr,
            "DescribeServerManageTask",
            json!({"EnvId": ENV, "ServerName": "shape", "TaskId": 0}),
        ),
        (
            Service::Tcbr,
            "DescribeServerManageTask",
            json!({"EnvId": ENV, "ServerName": "shape", "TaskId": 99}),
        ),
        (
            Service::Tcbr,
            "DescribeCloudRunDeployRecord",
            service.clone(),
        ),
        (
            Service::Tcbr,
            "DescribeCloudRunProcessLog",
            json!({"EnvId": ENV, "RunId": run_id}),
        ),
        (Service::Tcbr, "DescribeReleaseOrder", service.clone()),
        (
            Service::Tcbr,
            "DescribeVersionDetail",
            json!({"EnvId": ENV, "ServerName": "shape", "VersionName": "shape-002"}),
        ),
        (
            Service::Tcbr,
            "OperateServerManage",
            json!({"EnvId": ENV, "ServerName": "shape", "TaskId": task["Id"], "OperateType": "done"}),
        ),
        (
            Service::Tcbr,
            "SubmitServerRollback",
            json!({"EnvId": ENV, "ServerName": "shape",
            "CurrentVersionName": "shape-002", "RollbackVersionName": "shape-001"}),
        ),
        (
            Service::Tcr,
            "CreateInstanceToken",
            json!({"RegistryId": "tcr-1"}),
        ),
        (
            Service::Sts,
            "AssumeRoleWithWebIdentity",
            json!({"ProviderId": "github", "WebIdentityToken": "eyJhIjoxfQ.eyJzdWIiOiJ4In0.c2ln",
                "RoleArn": "qcs::cam::uin/1:roleName/r", "RoleSessionName": "ci"}),
        ),
    ];
    for (service, action, body) in calls {
        let response = emu.ok(action, body.clone());
        let structure = format!("{action}Response");
        if let Err(e) = validate(service, &structure, &response) {
            panic!("{action} {body}: {e}\n{response:#}");
        }
    }
}

/// The project's own client (`tcb::Client`) against the emulator: reads retried through
/// injected throttling, internal errors and a dropped connection, and a typed deploy.
#[test]
fn the_tcb_client_retries_through_injected_faults() {
    use deploy_tcb::runner::inputs::Secret;
    use deploy_tcb::tcb::models::tcbr;
    use deploy_tcb::tcb::{Client, Credentials, Endpoint, RetryPolicy};
    let emu = TestEmulator::start();
    emu.set_faults(json!({"rules": [
        {"kind": "throttle", "action": "DescribeEnvBaseInfo", "times": 1},
        {"kind": "internal_error", "action": "DescribeEnvBaseInfo", "times": 1},
        {"kind": "drop", "action": "DescribeEnvBaseInfo", "times": 1}
    ]}));
    let client = Client::new(Credentials::new(
        Secret::new(SECRET_ID),
        Secret::new(SECRET_KEY),
    ))
    .endpoint(Endpoint::parse(&emu.base_url()).unwrap())
    .retry(RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = runtime
        .block_on(
            client.describe_env_base_info(&tcbr::DescribeEnvBaseInfoRequest { env_id: ENV.into() }),
        )
        .expect("retried until the faults ran out");
    assert_eq!(base.is_exist, Some(true));
    let metrics = emu.get("/metrics").text();
    for code in ["RequestLimitExceeded", "InternalError", "dropped", "ok"] {
        let line =
            format!(r#"tcb_api_requests_total{{action="DescribeEnvBaseInfo",code="{code}"}} 1"#);
        assert!(metrics.contains(&line), "{line} not in\n{metrics}");
    }
}

/// Starts `deploy-tcb emulator` with a state file; returns the child and its address.
fn spawn_cli(state: &std::path::Path) -> (std::process::Child, std::net::SocketAddr) {
    let mut child = Command::new(binary())
        .args(["emulator", "--port", "0", "--env", ENV, "--speed", "100"])
        .args([
            "--secret-id",
            SECRET_ID,
            "--secret-key",
            SECRET_KEY,
            "--state-file",
        ])
        .arg(state)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let addr = first
        .trim()
        .rsplit("http://")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (child, addr)
}

fn cli_call(addr: std::net::SocketAddr, action: &str, body: Value) -> Value {
    use crate::support::emulator::http;
    let body = body.to_string();
    let headers = signed_headers(
        action,
        body.as_bytes(),
        &addr.to_string(),
        now(),
        Some(&key()),
    );
    http(addr, "POST", "/", &headers, body.as_bytes()).json()["Response"].clone()
}

#[test]
fn the_cli_keeps_its_state_across_a_sigterm_restart() {
    if !tool_or_skip("kill") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("emulator-state.json");
    let (mut child, addr) = spawn_cli(&state);
    let created = cli_call(
        addr,
        "CreateCloudRunServer",
        json!({"EnvId": ENV, "ServerName": "cli",
        "DeployInfo": {"DeployType": "image", "ImageUrl": "synthetic:healthy"}}),
    );
    assert!(created["TaskId"].as_u64().is_some(), "{created}");
    std::thread::sleep(Duration::from_millis(100));
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(child.wait().unwrap().success(), "SIGTERM is a clean stop");
    let (mut again, addr) = spawn_cli(&state);
    let detail = cli_call(
        addr,
        "DescribeCloudRunServerDetail",
        json!({"EnvId": ENV, "ServerName": "cli"}),
    );
    let _ = again.kill();
    let _ = again.wait();
    assert_eq!(
        detail["OnlineVersionInfos"][0]["VersionName"], "cli-001",
        "{detail}"
    );
    assert_eq!(detail["OnlineVersionInfos"][0]["FlowRatio"], "100");
}
