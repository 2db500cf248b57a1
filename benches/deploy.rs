//! The deploy action's own overhead over the release task it waits for, and its start-up time.
//!
//! For a task time T (the emulator's release task, set through its speed factor), it runs
//! `deploy-tcb deploy` for a new service against an in-process emulator and reports the wall
//! time W, the ratio W / T and the overhead W − T (target: under 10% and under one poll
//! interval). Start-up: `deploy-tcb --version`, and a deploy that stops at input validation.
//!
//! Run: `cargo bench --bench deploy` (add `--profile dev` to skip the release build).

use std::process::Command;
use std::time::{Duration, Instant};

use deploy_tcb::emulator::{Emulator, EmulatorConfig};

const SECRET_ID: &str = "AKIDBENCH000000000000000000000000";
const SECRET_KEY: &str = "bench-secret-key-0123456789";
const ENV: &str = "bench-env";
/// The emulator's release task at speed 1 (build 0.6 s, version 0.4 s, instances 1.6 s, traffic 0.4 s).
const TASK_AT_SPEED_1: f64 = 3.0;

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_deploy-tcb")
}

fn deploy_once(endpoint: &str, service: &str) -> Duration {
    let started = Instant::now();
    let status = Command::new(binary())
        .args(["deploy", "--env-id", ENV, "--service", service])
        .args(["--image", "registry.local/synthetic:healthy"])
        .args([
            "--secret-id",
            SECRET_ID,
            "--secret-key",
            SECRET_KEY,
            "--tcb-endpoint",
            endpoint,
        ])
        .env_clear()
        .output()
        .expect("the binary runs");
    let wall = started.elapsed();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    wall
}

fn overhead(task_seconds: f64, runs: usize) {
    let mut config = EmulatorConfig::local(SECRET_ID, SECRET_KEY, ENV);
    config.speed = TASK_AT_SPEED_1 / task_seconds;
    let emulator = Emulator::start(config).expect("the emulator starts");
    let endpoint = emulator.base_url();
    let mut walls = Vec::new();
    for run in 0..runs {
        walls.push(deploy_once(&endpoint, &format!("bench-{run}")).as_secs_f64());
    }
    walls.sort_by(f64::total_cmp);
    let median = walls[walls.len() / 2];
    println!(
        "task {task_seconds:>4.1} s: deploy wall median {median:.3} s over {runs} runs (min {:.3}, max {:.3}); \
         ratio {:.3}; overhead {:.3} s ({:.1}%)",
        walls[0],
        walls[walls.len() - 1],
        median / task_seconds,
        median - task_seconds,
        100.0 * (median - task_seconds) / task_seconds,
    );
    let _ = emulator.shutdown();
}

fn startup(runs: usize) {
    let time = |args: &[&str]| {
        let mut samples: Vec<f64> = (0..runs)
            .map(|_| {
                let started = Instant::now();
                let _ = Command::new(binary()).args(args).env_clear().output();
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        samples[samples.len() / 2]
    };
    println!(
        "start-up: `--version` median {:.1} ms",
        time(&["--version"])
    );
    println!(
        "start-up: deploy stopped by input validation (exit 2) median {:.1} ms",
        time(&["deploy", "--env-id", ENV])
    );
}

fn main() {
    startup(20);
    overhead(2.0, 5);
    overhead(30.0, 2);
}
