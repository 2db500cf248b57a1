//! canary-promote end to end: the binary against the in-process emulator, with a real
//! Prometheus scraping the emulator's `/metrics` and a load generator driving the service URL
//! through the gateway.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support;
use crate::support::emulator::{ENV, SECRET_ID, SECRET_KEY, TestEmulator, http};
use crate::support::prometheus::{TestPrometheus, free_port};

pub const SERVICE: &str = "web";

/// What a run of the binary left behind.
pub struct Run {
    pub code: i32,
    pub outputs: BTreeMap<String, String>,
    pub summary: String,
    pub log: String,
}

/// Runs `deploy-tcb <args>` against `emu`, as a runner would (outputs and summary to files, no
/// GitHub token, no inherited inputs).
pub fn run_action(emu: &TestEmulator, args: &[&str]) -> Run {
    run_action_with(emu, args, &[])
}

/// The same with more environment variables (e.g. a GitHub context).
pub fn run_action_with(emu: &TestEmulator, args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().expect("a temp dir");
    let outputs = dir.path().join("output");
    let summary = dir.path().join("summary");
    let mut command = Command::new(support::binary());
    command.args(args).args([
        "--secret-id",
        SECRET_ID,
        "--secret-key",
        SECRET_KEY,
        "--tcb-endpoint",
        &emu.base_url(),
    ]);
    for (name, _) in std::env::vars() {
        if name.starts_with("INPUT_") || name.starts_with("GITHUB_") || name == "RUNNER_DEBUG" {
            command.env_remove(name);
        }
    }
    command
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .envs(env.iter().copied());
    let output = command.output().expect("run deploy-tcb");
    Run {
        code: output.status.code().unwrap_or(-1),
        outputs: crate::support::runner::parse_outputs(
            &std::fs::read_to_string(&outputs).unwrap_or_default(),
        ),
        summary: std::fs::read_to_string(&summary).unwrap_or_default(),
        log: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// A stable version serving 100% and a gray canary (`image`) open at 0%: (stable, canary).
pub fn stable_and_canary(emu: &TestEmulator, image: &str) -> (String, String) {
    emu.deploy_new(SERVICE, "synthetic:healthy");
    let stable = emu.online(SERVICE)[0].0.clone();
    emu.ok(
        "UpdateCloudRunServer",
        json!({"EnvId": ENV, "ServerName": SERVICE,
               "DeployInfo": {"DeployType": "image", "ImageUrl": image, "ReleaseType": "GRAY"}}),
    );
    let task = emu.wait_task(SERVICE);
    let canary = task["VersionName"].as_str().expect("a version").to_string();
    (stable, canary)
}

/// The path of the service URL on the emulator (`/_gw/<env>/<service>/`).
pub fn service_path(emu: &TestEmulator) -> String {
    let url = emu.handle.service_url(ENV, SERVICE);
    let path = url.trim_start_matches(&emu.base_url()).to_string();
    format!("{}/", path.trim_end_matches('/'))
}

/// Threads requesting the service URL until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    pub fn start(emu: &TestEmulator, threads: usize, pause: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let (addr, path) = (emu.handle.addr(), service_path(emu));
        let threads = (0..threads)
            .map(|_| {
                let (stop, path) = (stop.clone(), path.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let _ = http(addr, "GET", &path, &[], b"");
                        std::thread::sleep(pause);
                    }
                })
            })
            .collect();
        Load { stop, threads }
    }

    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// Sends `count` requests; returns how many each version answered and how many failed.
pub fn sample(emu: &TestEmulator, count: usize) -> (BTreeMap<String, usize>, usize) {
    let path = service_path(emu);
    let mut by_version = BTreeMap::new();
    let mut failed = 0;
    for _ in 0..count {
        let answer = http(emu.handle.addr(), "GET", &path, &[], b"");
        if answer.status >= 500 {
            failed += 1;
        }
        let version = answer.header("x-tcb-version").unwrap_or("").to_string();
        *by_version.entry(version).or_default() += 1;
    }
    (by_version, failed)
}

/// `tcb_gateway_errors_total` of `version` in the emulator's metrics.
pub fn errors_of(emu: &TestEmulator, version: &str) -> u64 {
    let needle = format!(
        "tcb_gateway_errors_total{{env=\"{ENV}\",service=\"{SERVICE}\",version=\"{version}\"}} "
    );
    emu.handle
        .metrics()
        .lines()
        .find_map(|line| {
            line.strip_prefix(&needle)
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Checks the rollback left all traffic on `stable` and its error count where it was.
pub fn assert_all_on_stable(emu: &TestEmulator, stable: &str) {
    let online = emu.online(SERVICE);
    assert_eq!(
        online,
        vec![(stable.to_string(), "100".to_string())],
        "{online:?}"
    );
    let errors_before = errors_of(emu, stable);
    let (by_version, failed) = sample(emu, 100);
    assert_eq!(by_version.get(stable), Some(&100), "{by_version:?}");
    assert_eq!(failed, 0);
    assert_eq!(errors_of(emu, stable), errors_before);
}

fn canary_args<'a>(prometheus: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "canary-promote",
        "--env-id",
        ENV,
        "--service",
        SERVICE,
        "--prometheus-url",
        prometheus,
    ];
    args.extend_from_slice(extra);
    args
}

/// The traffic shares at which analyses ran, from the summary's table.
fn analysed_steps(summary: &str) -> Vec<u32> {
    summary
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains("| requests |"))
        .filter_map(|l| l[2..].split('%').next()?.trim().parse().ok())
        .collect()
}

fn with_prometheus(emu: &TestEmulator) -> Option<TestPrometheus> {
    let prometheus = TestPrometheus::start(&emu.host())?;
    prometheus.wait_scraped();
    Some(prometheus)
}

#[test]
fn healthy_canary_is_promoted_to_100() {
    let emu = TestEmulator::start();
    let Some(prometheus) = with_prometheus(&emu) else {
        return;
    };
    let (_stable, canary) = stable_and_canary(&emu, "synthetic:healthy");
    let load = Load::start(&emu, 4, Duration::from_millis(15));
    let started = Instant::now();
    let url = prometheus.url();
    let run = run_action(
        &emu,
        &canary_args(
            &url,
            &[
                "--steps",
                "20,50,100",
                "--interval",
                "2s",
                "--max-p99-ms",
                "300",
            ],
        ),
    );
    load.stop();
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.outputs["result"], "promoted");
    assert_eq!(run.outputs["final_traffic"], "100");
    assert_eq!(run.outputs["failed_check"], "");
    assert!(!run.log.contains(SECRET_KEY) && !run.summary.contains(SECRET_KEY));
    assert_eq!(emu.online(SERVICE), vec![(canary.clone(), "100".into())]);
    assert!(run.summary.contains("| error_rate |"), "{}", run.summary);
    assert!(
        run.summary.contains("histogram_quantile(0.99"),
        "{}",
        run.summary
    );
    let steps = analysed_steps(&run.summary);
    assert!(steps.contains(&20) && steps.contains(&50), "{steps:?}");
    let (by_version, _) = sample(&emu, 20);
    assert_eq!(by_version.get(&canary), Some(&20));
    eprintln!("promoted in {:?}", started.elapsed());
}

#[test]
fn canary_failing_20_percent_is_rolled_back_before_25() {
    let emu = TestEmulator::start();
    let Some(prometheus) = with_prometheus(&emu) else {
        return;
    };
    let (stable, canary) = stable_and_canary(&emu, "synthetic:errors-20");
    let load = Load::start(&emu, 4, Duration::from_millis(15));
    let url = prometheus.url();
    let run = run_action(
        &emu,
        &canary_args(&url, &["--steps", "10,25,50,100", "--interval", "2s"]),
    );
    load.stop();
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["result"], "rolled_back", "{}", run.summary);
    assert_eq!(run.outputs["final_traffic"], "0");
    let failed = &run.outputs["failed_check"];
    assert!(failed == "error_rate" || failed == "probe", "{failed}");
    let steps = analysed_steps(&run.summary);
    assert!(steps.iter().all(|s| *s <= 25), "analysed at {steps:?}");
    assert!(run.summary.contains(&canary));
    assert_all_on_stable(&emu, &stable);
}

#[test]
fn slow_canary_is_caught_by_the_latency_check() {
    let emu = TestEmulator::start();
    let Some(prometheus) = with_prometheus(&emu) else {
        return;
    };
    let (stable, _canary) = stable_and_canary(&emu, "synthetic:slow-800ms");
    let load = Load::start(&emu, 8, Duration::from_millis(15));
    let url = prometheus.url();
    let run = run_action(
        &emu,
        &canary_args(
            &url,
            &[
                "--steps",
                "20,50,100",
                "--interval",
                "2s",
                "--max-p99-ms",
                "300",
                "--min-requests",
                "5",
            ],
        ),
    );
    load.stop();
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["result"], "rolled_back", "{}", run.summary);
    assert_eq!(run.outputs["failed_check"], "p99_ms", "{}", run.summary);
    assert_all_on_stable(&emu, &stable);
}

#[test]
fn idle_service_ends_inconclusive_not_failed() {
    let emu = TestEmulator::start();
    let Some(prometheus) = with_prometheus(&emu) else {
        return;
    };
    let (stable, _canary) = stable_and_canary(&emu, "synthetic:healthy");
    let url = prometheus.url();
    let run = run_action(
        &emu,
        &canary_args(
            &url,
            &[
                "--steps",
                "10,100",
                "--interval",
                "1s",
                "--inconclusive-budget",
                "1",
            ],
        ),
    );
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["result"], "inconclusive", "{}", run.summary);
    assert_eq!(run.outputs["failed_check"], "requests");
    assert!(
        run.summary.contains("fewer than min_requests"),
        "{}",
        run.summary
    );
    assert_all_on_stable(&emu, &stable);
}

#[test]
fn prometheus_down_is_inconclusive_then_ends_at_the_limit() {
    let emu = TestEmulator::start();
    let (stable, _canary) = stable_and_canary(&emu, "synthetic:healthy");
    let load = Load::start(&emu, 2, Duration::from_millis(20));
    let down = format!("http://127.0.0.1:{}", free_port());
    let run = run_action(
        &emu,
        &canary_args(
            &down,
            &[
                "--steps",
                "10,100",
                "--interval",
                "1s",
                "--inconclusive-budget",
                "2",
            ],
        ),
    );
    load.stop();
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["result"], "inconclusive", "{}", run.summary);
    assert!(
        run.summary.contains("cannot connect to Prometheus"),
        "{}",
        run.summary
    );
    // Two inconclusive analyses were tolerated; the third ended the run.
    assert_eq!(analysed_steps(&run.summary), vec![10, 10, 10]);
    assert_all_on_stable(&emu, &stable);
}

#[test]
fn on_failure_hold_keeps_the_split() {
    let emu = TestEmulator::start();
    let (stable, canary) = stable_and_canary(&emu, "synthetic:errors-100");
    let sink = crate::support::fake_github::WebhookSink::start();
    let slack = format!("{}/slack/T000/B000/secret", sink.base_url);
    let run = run_action(
        &emu,
        &[
            "canary-promote",
            "--env-id",
            ENV,
            "--service",
            SERVICE,
            "--steps",
            "60,100",
            "--interval",
            "1s",
            "--min-requests",
            "10",
            "--on-failure",
            "hold",
            "--slack-webhook",
            &slack,
        ],
    );
    let deliveries = sink.deliveries();
    assert_eq!(deliveries.len(), 1, "one chat message");
    let message = deliveries[0].body.to_string();
    assert!(
        message.contains("held") && message.contains(&canary),
        "{message}"
    );
    assert!(!run.log.contains(&slack), "the webhook URL leaked");
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["result"], "held", "{}", run.summary);
    assert_eq!(run.outputs["failed_check"], "probe");
    assert_eq!(run.outputs["final_traffic"], "60");
    let online: BTreeMap<_, _> = emu.online(SERVICE).into_iter().collect();
    assert_eq!(online.get(&canary).map(String::as_str), Some("60"));
    assert_eq!(online.get(&stable).map(String::as_str), Some("40"));
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let emu = TestEmulator::start();
    let (stable, canary) = stable_and_canary(&emu, "synthetic:healthy");
    let before = emu.online(SERVICE);
    let run = run_action(
        &emu,
        &canary_args(
            "http://127.0.0.1:9",
            &[
                "--dry-run",
                "--max-p99-ms",
                "250",
                "--queries",
                "success: sum(up) > 0",
            ],
        ),
    );
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.outputs["result"], "planned");
    assert!(run.log.contains("10% → 25% → 50% → 100%"), "{}", run.log);
    assert!(
        run.log.contains(&format!("version=\"{canary}\"")),
        "{}",
        run.log
    );
    assert!(run.log.contains("success: sum(up) ≥ 0"), "{}", run.log);
    assert!(run.log.contains(&stable));
    assert_eq!(emu.online(SERVICE), before);
}

#[test]
fn bad_inputs_exit_2_naming_the_input() {
    let emu = TestEmulator::start();
    for (args, input) in [
        (vec!["--steps", "50,25"], "steps"),
        (vec!["--max-error-rate", "3"], "max_error_rate"),
        (vec!["--queries", "broken"], "queries"),
        (vec!["--prometheus-url", "ftp://x"], "prometheus_url"),
    ] {
        let mut all = vec!["canary-promote", "--env-id", ENV, "--service", SERVICE];
        if !args.contains(&"--prometheus-url") {
            all.extend(["--prometheus-url", "http://127.0.0.1:9"]);
        }
        all.extend(args);
        let run = run_action(&emu, &all);
        assert_eq!(run.code, 2, "{all:?}: {}", run.log);
        assert!(run.log.contains(input), "{input}: {}", run.log);
    }
    let run = run_action(
        &emu,
        &["canary-promote", "--env-id", ENV, "--service", SERVICE],
    );
    assert_eq!(run.code, 2, "{}", run.log);
    assert!(run.log.contains("input `service`"), "{}", run.log);
    emu.deploy_new(SERVICE, "synthetic:healthy");
    let run = run_action(
        &emu,
        &["canary-promote", "--env-id", ENV, "--service", SERVICE],
    );
    assert_eq!(run.code, 2, "{}", run.log);
    assert!(run.log.contains("no open gray release"), "{}", run.log);
}

#[test]
fn compare_stable_judges_the_canary_against_the_stable_version() {
    let emu = TestEmulator::start();
    let Some(prometheus) = with_prometheus(&emu) else {
        return;
    };
    // Both versions fail 20% of requests: bad in absolute terms, no worse than stable.
    emu.deploy_new(SERVICE, "synthetic:errors-20");
    emu.ok(
        "UpdateCloudRunServer",
        json!({"EnvId": ENV, "ServerName": SERVICE,
               "DeployInfo": {"DeployType": "image", "ImageUrl": "synthetic:errors-20", "ReleaseType": "GRAY"}}),
    );
    let canary = emu.wait_task(SERVICE)["VersionName"]
        .as_str()
        .unwrap()
        .to_string();
    let load = Load::start(&emu, 4, Duration::from_millis(15));
    let url = prometheus.url();
    let run = run_action(
        &emu,
        &canary_args(
            &url,
            &[
                "--steps",
                "50,100",
                "--interval",
                "2s",
                "--compare-stable",
                "--max-error-rate",
                "0.15",
            ],
        ),
    );
    load.stop();
    assert_eq!(run.code, 0, "{}\n{}", run.log, run.summary);
    assert_eq!(run.outputs["result"], "promoted");
    assert!(run.summary.contains(") - ("), "{}", run.summary);
    assert_eq!(emu.online(SERVICE), vec![(canary, "100".into())]);
}

#[test]
fn a_run_that_would_pass_its_timeout_ends_inconclusive_on_stable() {
    let emu = TestEmulator::start();
    let (stable, _canary) = stable_and_canary(&emu, "synthetic:healthy");
    let run = run_action(
        &emu,
        &[
            "canary-promote",
            "--env-id",
            ENV,
            "--service",
            SERVICE,
            "--steps",
            "10,50,100",
            "--interval",
            "1s",
            "--timeout",
            "1500ms",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["result"], "inconclusive", "{}", run.summary);
    assert_eq!(run.outputs["failed_check"], "timeout");
    assert_eq!(analysed_steps(&run.summary), vec![10]);
    assert_all_on_stable(&emu, &stable);
}
