//! The deploy action and the demo: config files, the schema, and end-to-end runs through the CLI.

use std::path::PathBuf;

use deploy_tcb::config::{self, ConfigFile};

fn crate_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The committed schema is what the types generate. `DEPLOY_TCB_UPDATE_SCHEMA=1` rewrites it.
#[test]
fn config_schema_is_current() {
    let path = crate_path("schema/deploy-tcb.schema.json");
    let generated = config::schema_json();
    if std::env::var("DEPLOY_TCB_UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schema/deploy-tcb.schema.json is out of date; run DEPLOY_TCB_UPDATE_SCHEMA=1 cargo test --test integration deploy::config_schema_is_current"
    );
}

/// The schema editors use accepts every example config and rejects an unknown key, like the
/// parser does.
#[test]
fn the_schema_agrees_with_the_parser() {
    let schema: serde_json::Value = serde_json::from_str(&config::schema_json()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    for entry in std::fs::read_dir(crate_path("examples/config")).unwrap() {
        let path = entry.unwrap().path();
        let yaml: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let document = serde_json::to_value(yaml).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&document)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
    let wrong = serde_json::json!({"environments": {"staging": {"servce": "app"}}});
    assert!(!validator.is_valid(&wrong));
    assert!(ConfigFile::parse("environments:\n  staging:\n    servce: app\n", "c").is_err());
}

/// Every example config parses, and each of its environments resolves.
#[test]
fn example_configs_parse() {
    let dir = crate_path("examples/config");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml") {
            let config =
                ConfigFile::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for name in config.environments.keys() {
                config.resolve(Some(name), "example").unwrap();
            }
            seen += 1;
        }
    }
    assert!(seen > 0, "no example config in {}", dir.display());
}

// ---------------------------------------------------------------------------------------------
// End to end: the binary against an in-process emulator.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;

use deploy_tcb::emulator::{Emulator, EmulatorConfig, EmulatorHandle, FaultSet};

use crate::support;

const SECRET_ID: &str = "AKIDDEPLOYTEST000000000000000000";
const SECRET_KEY: &str = "deploy-test-secret-key-0123456789";
const ENV: &str = "test-env";
const HEALTHY: &str = "registry.local/synthetic:healthy";

/// Release tasks take about 3 s at speed 1; 60 makes them about 50 ms.
fn emulator() -> EmulatorHandle {
    let mut config = EmulatorConfig::local(SECRET_ID, SECRET_KEY, ENV);
    config.speed = 60.0;
    Emulator::start(config).expect("the emulator starts")
}

fn faults(emulator: &EmulatorHandle, json: &str) {
    emulator.set_faults(FaultSet::parse(json).expect("a valid fault set"));
}

/// One run of `deploy-tcb deploy`, with its outputs and summary read back.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    outputs: BTreeMap<String, String>,
    summary: String,
}

impl Run {
    fn output(&self, name: &str) -> &str {
        self.outputs
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }

    fn log(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

fn deploy(emulator: &EmulatorHandle, service: &str, extra: &[&str]) -> Run {
    deploy_with(emulator, service, extra, &[], true)
}

fn deploy_with(
    emulator: &EmulatorHandle,
    service: &str,
    extra: &[&str],
    env: &[(&str, &str)],
    keys: bool,
) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    let summary = dir.path().join("summary");
    let endpoint = emulator.base_url();
    let mut args = vec![
        "deploy",
        "--env-id",
        ENV,
        "--service",
        service,
        "--tcb-endpoint",
        &endpoint,
    ];
    if keys {
        args.extend(["--secret-id", SECRET_ID, "--secret-key", SECRET_KEY]);
    }
    args.extend_from_slice(extra);
    if !extra.contains(&"--image") {
        args.extend(["--image", HEALTHY]);
    }
    let result = Command::new(support::binary())
        .args(&args)
        .env_clear()
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs");
    Run {
        code: result.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&result.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&result.stderr).into_owned(),
        outputs: crate::support::runner::parse_outputs(
            &std::fs::read_to_string(&output).unwrap_or_default(),
        ),
        summary: std::fs::read_to_string(&summary).unwrap_or_default(),
    }
}

fn http_get(url: &str) -> u16 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        reqwest::get(url)
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    })
}

#[test]
fn creates_updates_and_gray_releases_a_service() {
    let emu = emulator();
    let created = deploy(&emu, "shop", &[]);
    assert_eq!(created.code, 0, "{}", created.log());
    assert_eq!(created.output("result"), "deployed");
    assert_eq!(created.output("version_name"), "shop-001");
    assert_eq!(created.output("previous_version"), "");
    assert_eq!(created.output("url"), emu.service_url(ENV, "shop"));
    let plan: serde_json::Value = serde_json::from_str(created.output("plan")).unwrap();
    assert_eq!(plan["action"], "create");
    assert!(
        created.summary.contains("✅ Deployed — shop"),
        "{}",
        created.summary
    );
    assert!(created.summary.contains("| wait for release |"));
    assert_eq!(http_get(&format!("{}/", created.output("url"))), 200);

    let updated = deploy(
        &emu,
        "shop",
        &[
            "--image",
            "registry.local/v2/synthetic:healthy",
            "--cpu",
            "1",
            "--env-vars",
            "MODE=prod",
        ],
    );
    assert_eq!(updated.code, 0, "{}", updated.log());
    assert_eq!(updated.output("version_name"), "shop-002");
    assert_eq!(updated.output("previous_version"), "shop-001");
    assert!(
        updated.summary.contains("+ env.MODE: prod"),
        "{}",
        updated.summary
    );

    let unchanged = deploy(
        &emu,
        "shop",
        &["--image", "registry.local/v2/synthetic:healthy"],
    );
    assert_eq!(unchanged.code, 0, "{}", unchanged.log());
    assert_eq!(unchanged.output("result"), "unchanged");
    assert_eq!(unchanged.output("version_name"), "shop-002");

    let gray = deploy(
        &emu,
        "shop",
        &[
            "--image",
            "registry.local/v3/synthetic:healthy",
            "--release-type",
            "gray",
            "--traffic",
            "25",
        ],
    );
    assert_eq!(gray.code, 0, "{}", gray.log());
    assert_eq!(gray.output("result"), "gray");
    assert_eq!(gray.output("version_name"), "shop-003");
    let world = emu.world();
    let service = &world.envs[ENV].services["shop"];
    assert_eq!(service.traffic.ratio_of("shop-003"), 25);
    assert_eq!(service.traffic.ratio_of("shop-002"), 75);
}

#[test]
fn conflicts_follow_on_conflict() {
    let emu = emulator();
    assert_eq!(deploy(&emu, "api", &[]).code, 0);
    let gray = [
        "--image",
        "registry.local/g/synthetic:healthy",
        "--release-type",
        "gray",
    ];
    assert_eq!(deploy(&emu, "api", &gray).code, 0);
    let next = "registry.local/n/synthetic:healthy";

    let failed = deploy(&emu, "api", &["--image", next, "--on-conflict", "fail"]);
    assert_eq!(failed.code, 1, "{}", failed.log());
    assert!(
        failed.stderr.contains("another release is running"),
        "{}",
        failed.stderr
    );

    let waiting = deploy(&emu, "api", &["--image", next]);
    assert_eq!(waiting.code, 1, "{}", waiting.log());
    assert!(
        waiting.stderr.contains("gray release is open"),
        "{}",
        waiting.stderr
    );

    let cancelled = deploy(&emu, "api", &["--image", next, "--on-conflict", "cancel"]);
    assert_eq!(cancelled.code, 0, "{}", cancelled.log());
    assert_eq!(cancelled.output("version_name"), "api-003");

    // A conflict that clears by itself: wait, then submit again.
    faults(
        &emu,
        r#"{"rules":[{"kind":"resource_in_use","action":"UpdateCloudRunServer","times":2}]}"#,
    );
    let waited = deploy(
        &emu,
        "api",
        &["--image", "registry.local/w/synthetic:healthy"],
    );
    assert_eq!(waited.code, 0, "{}", waited.log());
    assert_eq!(waited.output("result"), "deployed");
}

#[test]
fn failed_releases_report_the_step_and_keep_the_previous_version() {
    let emu = emulator();
    assert_eq!(deploy(&emu, "web", &[]).code, 0);

    let crashed = deploy(&emu, "web", &["--image", "registry.local/synthetic:crash"]);
    assert_eq!(crashed.code, 1, "{}", crashed.log());
    assert_eq!(crashed.output("result"), "failed");
    assert_eq!(crashed.output("previous_version"), "web-001");
    assert!(
        crashed
            .summary
            .contains("**Failed at step `deploy_instance`:**"),
        "{}",
        crashed.summary
    );
    assert!(
        crashed.summary.contains("```text"),
        "the process log tail is in the summary"
    );
    assert!(crashed.summary.contains("`web-001` keeps serving"));
    assert_eq!(
        emu.world().envs[ENV].services["web"].traffic.serving(),
        Some("web-001")
    );
    assert_eq!(http_get(&emu.service_url(ENV, "web")), 200);

    faults(
        &emu,
        r#"{"rules":[{"kind":"build_fail","times":1,"message":"COPY failed: no such file"}]}"#,
    );
    let build = deploy(
        &emu,
        "web",
        &["--image", "registry.local/b/synthetic:healthy"],
    );
    assert_eq!(build.code, 1, "{}", build.log());
    assert!(build.summary.contains("COPY failed"), "{}", build.summary);
    assert_eq!(
        emu.world().envs[ENV].services["web"].traffic.serving(),
        Some("web-001")
    );
}

#[test]
fn a_stuck_task_times_out_and_is_cancelled() {
    let emu = emulator();
    assert_eq!(deploy(&emu, "slow", &[]).code, 0);
    faults(
        &emu,
        r#"{"rules":[{"kind":"task_stuck","step":"deploy_instance","times":1}]}"#,
    );
    let stuck = deploy(
        &emu,
        "slow",
        &[
            "--image",
            "registry.local/s/synthetic:healthy",
            "--wait-timeout",
            "2s",
        ],
    );
    assert_eq!(stuck.code, 1, "{}", stuck.log());
    assert_eq!(stuck.output("result"), "failed");
    assert!(
        stuck
            .summary
            .contains("did not finish within wait_timeout (2s)"),
        "{}",
        stuck.summary
    );
    assert!(
        stuck.summary.contains("it was cancelled"),
        "{}",
        stuck.summary
    );
    // Nothing blocks the next deploy.
    let next = deploy(
        &emu,
        "slow",
        &[
            "--image",
            "registry.local/t/synthetic:healthy",
            "--on-conflict",
            "fail",
        ],
    );
    assert_eq!(next.code, 0, "{}", next.log());
}

#[test]
fn throttling_is_retried() {
    let emu = emulator();
    faults(
        &emu,
        r#"{"rules":[{"kind":"throttle","action":"DescribeServerManageTask","times":3},
                    {"kind":"throttle","action":"DescribeCloudRunServerDetail","times":1}]}"#,
    );
    let run = deploy(&emu, "busy", &[]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(run.output("result"), "deployed");
}

#[test]
fn a_failing_health_check_fails_the_deploy() {
    let emu = emulator();
    let run = deploy(
        &emu,
        "sick",
        &[
            "--image",
            "registry.local/synthetic:unhealthy",
            "--health-timeout",
            "1s",
            "--health-path",
            "/healthz",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.log());
    assert_eq!(run.output("result"), "failed");
    assert!(run.summary.contains("health check"), "{}", run.summary);
    assert!(run.summary.contains("HTTP 503"), "{}", run.summary);
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let emu = emulator();
    let run = deploy(
        &emu,
        "plan-only",
        &[
            "--dry-run",
            "--cpu",
            "2",
            "--secret-env-vars",
            "DB_PASSWORD=hunter2-secret",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(run.output("result"), "planned");
    assert!(
        run.stderr.contains("create service plan-only"),
        "{}",
        run.stderr
    );
    assert!(
        run.output("plan")
            .contains(r#""field":"env.DB_PASSWORD","before":null,"after":"***""#)
    );
    assert!(!emu.world().envs[ENV].services.contains_key("plan-only"));
    for text in [
        &run.stdout,
        &run.stderr,
        &run.summary,
        &run.output("plan").to_string(),
    ] {
        assert!(!text.contains("hunter2-secret"), "a secret leaked: {text}");
    }
}

#[test]
fn bad_inputs_exit_2_naming_the_input() {
    let emu = emulator();
    let run = deploy(&emu, "x", &["--cpu", "99"]);
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(
        run.stderr.contains("input `cpu`") && run.stderr.contains("Fix:"),
        "{}",
        run.stderr
    );

    let missing = Command::new(support::binary())
        .args(["deploy", "--env-id", ENV, "--image", HEALTHY])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("input `service`"));

    let wrong = Command::new(support::binary())
        .args([
            "deploy",
            "--env-id",
            "no-such-env",
            "--service",
            "s",
            "--image",
            HEALTHY,
        ])
        .args([
            "--secret-id",
            SECRET_ID,
            "--secret-key",
            SECRET_KEY,
            "--tcb-endpoint",
            &emu.base_url(),
        ])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("input `env_id`"));
}

#[test]
fn config_errors_point_at_file_line_and_column() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deploy-tcb.yml");
    std::fs::write(
        &path,
        "environments:\n  staging:\n    service: cfg-svc\n    cpus: 1\n",
    )
    .unwrap();
    let config = path.to_string_lossy().into_owned();
    let run = deploy_with(
        &emu,
        "x",
        &["--config", &config, "--environment", "staging"],
        &[("GITHUB_ACTIONS", "true")],
        true,
    );
    assert_eq!(run.code, 2, "{}", run.log());
    let expected = format!(
        "::error file={},line=4,col=5,title=Invalid configuration::",
        config
    );
    assert!(run.stdout.contains(&expected), "{}", run.stdout);

    std::fs::write(
        &path,
        "environments:\n  staging:\n    service: cfg-svc\n    cpu: 0.5\n",
    )
    .unwrap();
    let args = ["--config", config.as_str(), "--environment", "staging"];
    let from_config = Command::new(support::binary())
        .args([
            "deploy",
            "--env-id",
            ENV,
            "--image",
            HEALTHY,
            "--tcb-endpoint",
            &emu.base_url(),
        ])
        .args(["--secret-id", SECRET_ID, "--secret-key", SECRET_KEY])
        .args(args)
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(
        from_config.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&from_config.stderr)
    );
    assert!(emu.world().envs[ENV].services.contains_key("cfg-svc"));
}

/// A fake runner token endpoint: answers one OIDC token request per connection and records
/// the request line and the Authorization header.
fn fake_token_endpoint(jwt: String) -> (String, std::sync::mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/token?api-version=2.0",
        listener.local_addr().unwrap()
    );
    let (seen, requests) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut auth = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if line.to_ascii_lowercase().starts_with("authorization:") {
                    auth = line[14..].trim().to_string();
                }
            }
            let _ = seen.send((request_line.trim().to_string(), auth));
            let body = format!("{{\"value\":\"{jwt}\"}}");
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, requests)
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn keyless_exchanges_the_oidc_token_for_temporary_credentials() {
    let emu = emulator();
    let claims = br#"{"iss":"https://token.actions.githubusercontent.com","aud":"sts.tencentcloudapi.com","sub":"repo:o/r:ref:refs/heads/main"}"#;
    let jwt = format!(
        "{}.{}.c2lnbmF0dXJl",
        base64url(br#"{"alg":"RS256","typ":"JWT"}"#),
        base64url(claims)
    );
    let (url, requests) = fake_token_endpoint(jwt.clone());
    let role = "qcs::cam::uin/100000000001:roleName/github-deploy";
    let run = deploy_with(
        &emu,
        "keyless",
        &["--role-arn", role, "--provider-id", "github"],
        &[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &url),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-bearer-token-123"),
            ("GITHUB_RUN_ID", "42"),
        ],
        false,
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(run.output("result"), "deployed");
    let (line, auth) = requests.try_recv().expect("the token endpoint was asked");
    assert!(line.contains("audience=sts.tencentcloudapi.com"), "{line}");
    assert_eq!(auth, "Bearer runner-bearer-token-123");
    assert_eq!(
        emu.world().temp_credentials.len(),
        1,
        "one exchange served the whole deploy"
    );
    assert!(!run.log().contains(&jwt), "the OIDC token leaked");

    let no_permission = deploy_with(
        &emu,
        "keyless",
        &["--role-arn", role, "--provider-id", "github"],
        &[],
        false,
    );
    assert_eq!(no_permission.code, 2);
    assert!(
        no_permission.stderr.contains("id-token: write"),
        "{}",
        no_permission.stderr
    );
}

/// The number at the end of `/…/deployments/{id}/statuses` or `/check-runs/{id}`.
fn id_in_path(path: &str, after: &str) -> u64 {
    let rest = &path[path.find(after).expect("the path names the resource") + after.len()..];
    rest.split('/').next().unwrap().parse().unwrap()
}

#[test]
fn reports_to_github_and_chat_without_openapi_violations() {
    use support::fake_github::{FakeGithub, TOKEN, WebhookSink};
    let Some(spec) = support::shared_or_skip("spec/github/rest-subset.openapi.json") else {
        return;
    };
    let github = FakeGithub::start(&spec);
    let sink = WebhookSink::start();
    sink.answer("/slack", 500, "no_service");
    sink.answer("/wecom", 200, r#"{"errcode":0,"errmsg":"ok"}"#);
    let emu = emulator();
    let slack = format!("{}/slack", sink.base_url);
    let wecom = format!("{}/wecom", sink.base_url);
    let repository = github.repository();
    let env = [
        ("GITHUB_API_URL", github.url()),
        ("GITHUB_SERVER_URL", "https://github.example"),
        ("GITHUB_REPOSITORY", repository.as_str()),
        ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
        ("GITHUB_REF", "refs/pull/7/merge"),
        ("GITHUB_RUN_ID", "9001"),
        ("GITHUB_WORKFLOW", "deploy"),
    ];
    let args = [
        "--environment",
        "staging",
        "--github-token",
        TOKEN,
        "--slack-webhook",
        slack.as_str(),
        "--wecom-webhook",
        wecom.as_str(),
    ];
    let run = deploy_with(&emu, "reported", &args, &env, true);
    assert_eq!(
        run.code,
        0,
        "a failing webhook is a warning, not a failure:\n{}",
        run.log()
    );
    assert!(run.stderr.contains("warning"), "{}", run.stderr);
    github.assert_no_violations();

    let statuses = github.requests_for("repos/create-deployment-status");
    let deployment = id_in_path(&statuses[0].path, "/deployments/");
    assert_eq!(
        github.deployment_states(deployment),
        vec!["in_progress", "success"]
    );
    let last = statuses.last().unwrap().body.clone().unwrap();
    assert_eq!(last["environment_url"], emu.service_url(ENV, "reported"));
    assert_eq!(
        last["log_url"],
        "https://github.example/acme/shop/actions/runs/9001"
    );
    let created = github.requests_for("repos/create-deployment")[0]
        .body
        .clone()
        .unwrap();
    assert_eq!(created["environment"], "staging");
    assert_eq!(created["payload"]["image"], HEALTHY);
    // The payload names the version, for rollback.
    assert_eq!(created["payload"]["version_name"], "reported-001");

    let update = github.requests_for("checks/update");
    let check = github
        .check_run(id_in_path(&update[0].path, "/check-runs/"))
        .unwrap();
    assert_eq!(check["conclusion"], "success");
    let comments = github.comment_bodies(7);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].contains("Deployed") && comments[0].contains("`reported`"),
        "{}",
        comments[0]
    );

    let deliveries = sink.deliveries();
    for chat in ["/slack", "/wecom"] {
        assert!(
            deliveries
                .iter()
                .any(|d| d.path_and_query.starts_with(chat)),
            "{chat} was not told"
        );
    }

    // A failed deploy marks the Deployment and the check run failed, and updates the comment.
    let failed = deploy_with(
        &emu,
        "reported",
        &[&args[..4], &["--image", "registry.local/synthetic:crash"]].concat(),
        &env,
        true,
    );
    assert_eq!(failed.code, 1, "{}", failed.log());
    github.assert_no_violations();
    let statuses = github.requests_for("repos/create-deployment-status");
    let second = id_in_path(&statuses.last().unwrap().path, "/deployments/");
    assert_eq!(
        github.deployment_states(second),
        vec!["in_progress", "failure"]
    );
    let comments = github.comment_bodies(7);
    assert_eq!(comments.len(), 1, "the sticky comment is updated in place");
    assert!(comments[0].contains("Deploy failed"), "{}", comments[0]);
    for request in github.requests() {
        let text = format!("{:?} {:?}", request.body, request.query);
        assert!(!text.contains(SECRET_KEY), "the cloud key reached GitHub");
    }
}

#[test]
fn demo_runs_offline_and_writes_outputs_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (output, summary) = (dir.path().join("output"), dir.path().join("summary"));
    let run = Command::new(support::binary())
        .args(["demo", "--speed", "60"])
        .env_clear()
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for stage in ["1. Create the service", "2. Update it", "3. Gray release"] {
        assert!(stdout.contains(stage), "{stage} missing from:\n{stdout}");
    }
    for stage in [
        "4. Canary-promote the healthy",
        "6. Canary-promote a version failing",
    ] {
        assert!(stdout.contains(stage), "{stage} missing from:\n{stdout}");
    }
    let outputs = crate::support::runner::parse_outputs(&std::fs::read_to_string(&output).unwrap());
    // The last deploy: the failing canary's gray release beside the promoted hello-003.
    assert_eq!(outputs["result"], "gray");
    assert_eq!(outputs["version_name"], "hello-004");
    assert_eq!(outputs["previous_version"], "hello-003");
    assert_eq!(outputs["promoted"], "promoted");
    assert_eq!(outputs["rolled_back"], "rolled_back");
    let markdown = std::fs::read_to_string(&summary).unwrap();
    assert!(markdown.starts_with("# deploy-tcb demo"), "{markdown}");
    assert!(markdown.contains("Gray release deployed"), "{markdown}");
    assert!(markdown.contains("+ env.API_TOKEN: ***"), "{markdown}");
    assert!(
        markdown.contains("canary hello-003 of hello promoted to 100%"),
        "{markdown}"
    );
    assert!(
        markdown.contains("canary hello-004 of hello rolled back to hello-003"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| probe |"),
        "the probe analysis is tabled: {markdown}"
    );
}

#[test]
fn inputs_come_from_input_variables_like_a_docker_action() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    let endpoint = emu.base_url();
    let run = Command::new(support::binary())
        .arg("deploy")
        .env_clear()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .env("INPUT_ENV_ID", ENV)
        .env("INPUT_SERVICE", "from-inputs")
        .env("INPUT_IMAGE", HEALTHY)
        .env("INPUT_SECRET_ID", SECRET_ID)
        .env("INPUT_SECRET_KEY", SECRET_KEY)
        .env("INPUT_TCB_ENDPOINT", &endpoint)
        .env("INPUT_RELEASE_TYPE", "full")
        .env("INPUT_DRY_RUN", "false")
        .env("INPUT_ROLE_ARN", "")
        .env(
            "INPUT_SECRET_ENV_VARS",
            "DB_PASSWORD=pw-value-that-must-not-leak",
        )
        .env("RUNNER_DEBUG", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains(&format!("::add-mask::{SECRET_KEY}")));
    assert!(stdout.contains("::group::Deploy"), "{stdout}");
    let stderr = String::from_utf8_lossy(&run.stderr);
    let without_mask: String = stdout
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .chain(stderr.lines())
        .collect();
    assert!(stdout.contains("::debug::"), "step debug is on: {stdout}");
    for secret in [SECRET_KEY, "pw-value-that-must-not-leak"] {
        assert!(
            !without_mask.contains(secret),
            "{secret} leaked: {without_mask}"
        );
    }
    let outputs = crate::support::runner::parse_outputs(&std::fs::read_to_string(&output).unwrap());
    assert_eq!(outputs["result"], "deployed");
}
