//! Context packaging benchmark: a tree of 60,000 files with a `.dockerignore` (exclusions,
//! `**`, `!` exceptions), sent to the same engine by `deploy-tcb build-image` and by the docker
//! CLI's own classic-builder upload (`DOCKER_BUILDKIT=0 docker build`), side by side.
//!
//! Run: `cargo bench --bench build_image` (needs podman and the docker CLI; it starts its own
//! `podman system service` on a private socket and stops it by pid). Also reports our
//! packaging alone (walk + `.dockerignore` + tar into a sink), which has no peer to compare
//! with because the docker CLI cannot package without uploading.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use deploy_tcb::image::context::BuildContext;

const DIRS: usize = 450;
const FILES_PER_DIR: usize = 100;
const IGNORED_FILES: usize = 15_000;
const RUNS: usize = 5;

const DOCKERIGNORE: &str = "\
node_modules
**/*.log
**/__pycache__
docs
!docs/README.md
build/*
!build/keep
";

fn main() {
    let root = std::env::temp_dir().join("deploy-tcb-bench-context");
    let total = make_tree(&root);
    println!("tree: {total} files under {}", root.display());

    let sent = packaging_only(&root);
    for tool in ["podman", "docker"] {
        if !on_path(tool) {
            println!("skipped the engine comparison: `{tool}` is not installed");
            return;
        }
    }
    let engine = PodmanService::start();
    let host = engine.docker_host();
    let ours = time_runs("deploy-tcb build-image", || ours(&root, &host));
    let docker = time_runs("DOCKER_BUILDKIT=0 docker build", || docker(&root, &host));
    println!();
    println!("| context upload + build (same engine, same context) | median | min |");
    println!("| --- | --- | --- |");
    row("deploy-tcb build-image", &ours);
    row("docker CLI (classic builder upload)", &docker);
    let ratio = median(&docker).as_secs_f64() / median(&ours).as_secs_f64();
    println!();
    println!(
        "context: {} files kept, {:.1} MiB tar",
        sent.0,
        sent.1 as f64 / 1048576.0
    );
    println!("ratio docker / deploy-tcb (median wall time): {ratio:.2}x");
}

/// 45,000 kept source files, 15,000 in node_modules, logs and caches that `.dockerignore`
/// drops, and a couple of exceptions. Created once and reused.
fn make_tree(root: &Path) -> usize {
    let marker = root.join(".complete");
    let total = DIRS * FILES_PER_DIR + IGNORED_FILES + 2 * DIRS + 4;
    if marker.exists() {
        return total;
    }
    let _ = std::fs::remove_dir_all(root);
    let body = "x".repeat(600);
    for d in 0..DIRS {
        let dir = root.join(format!("src/pkg{:03}/mod{}", d / 10, d % 10));
        std::fs::create_dir_all(dir.join("__pycache__")).unwrap();
        for f in 0..FILES_PER_DIR {
            std::fs::write(dir.join(format!("file{f:03}.py")), &body).unwrap();
        }
        std::fs::write(dir.join("debug.log"), "log").unwrap();
        std::fs::write(dir.join("__pycache__/cached.pyc"), "pyc").unwrap();
    }
    for f in 0..IGNORED_FILES {
        let dir = root.join(format!("node_modules/dep{:03}", f / 100));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("index{f}.js")), &body).unwrap();
    }
    for (path, text) in [
        ("docs/README.md", "kept"),
        ("docs/internal.md", "dropped"),
        ("build/keep", "kept"),
        ("build/out.bin", "dropped"),
    ] {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::write(root.join(".dockerignore"), DOCKERIGNORE).unwrap();
    std::fs::write(
        root.join("Dockerfile"),
        "FROM scratch\nCOPY docs/README.md /README.md\n",
    )
    .unwrap();
    std::fs::write(marker, "").unwrap();
    total
}

/// Our walk + `.dockerignore` + tar, into a counting sink.
fn packaging_only(root: &Path) -> (usize, u64) {
    let mut result = (0, 0);
    let times = time_runs("packaging only (walk + .dockerignore + tar)", || {
        let context = BuildContext::new(root, Path::new("Dockerfile")).unwrap();
        let entries = context.entries().unwrap();
        let sink = BuildContext::write_tar(&entries, Counter(0)).unwrap();
        result = (
            entries
                .iter()
                .filter(|e| e.kind == deploy_tcb::image::context::Kind::File)
                .count(),
            sink.0,
        );
    });
    println!(
        "packaging only: median {:.3}s for {} files, {:.1} MiB",
        median(&times).as_secs_f64(),
        result.0,
        result.1 as f64 / 1048576.0
    );
    result
}

struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0 += data.len() as u64;
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn ours(root: &Path, host: &str) {
    let status = Command::new(env!("CARGO_BIN_EXE_deploy-tcb"))
        .args([
            "build-image",
            "--image",
            "localhost/bench/ours",
            "--tags",
            "bench",
        ])
        .args(["--tag-rules", ""])
        .current_dir(root)
        .env("DOCKER_HOST", host)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "deploy-tcb build-image failed");
}

fn docker(root: &Path, host: &str) {
    let status = Command::new("docker")
        .args(["build", "-q", "-t", "localhost/bench/docker:bench", "."])
        .current_dir(root)
        .env("DOCKER_HOST", host)
        .env("DOCKER_BUILDKIT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "docker build failed");
}

/// One warm-up run, then `RUNS` timed runs.
fn time_runs(label: &str, mut run: impl FnMut()) -> Vec<Duration> {
    run();
    let times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    eprintln!("{label}: {times:?}");
    times
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn row(label: &str, times: &[Duration]) {
    let min = times.iter().min().copied().unwrap_or_default();
    println!(
        "| {label} | {:.3}s | {:.3}s |",
        median(times).as_secs_f64(),
        min.as_secs_f64()
    );
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()))
}

/// `podman system service` on a private socket, stopped by its pid.
struct PodmanService {
    socket: PathBuf,
    child: Child,
}

impl PodmanService {
    fn start() -> Self {
        let socket =
            std::env::temp_dir().join(format!("deploy-tcb-bench-{}.sock", std::process::id()));
        let child = Command::new("podman")
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !socket.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        PodmanService { socket, child }
    }

    fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}
