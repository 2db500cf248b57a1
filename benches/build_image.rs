//! Context packaging benchmark: a tree of 60,000 files with a `.dockerignore` (exclusions,
//! `**`, `!` exceptions), packaged and uploaded by `deploy-tcb build-image` and by the docker
//! CLI's own classic-builder upload (`DOCKER_BUILDKIT=0 docker build`), side by side, to:
//!
//! 1. a sink engine (in this process, on a unix socket) that speaks just enough of the Engine
//!    API (`/_ping`, `/version`, `/build`, image inspect and history), reads the whole context
//!    and answers at once: this isolates the client side, walk + `.dockerignore` + tar + upload;
//! 2. the real engine, `podman system service` (started here, stopped by pid): end to end,
//!    where the engine's own unpacking of the context dominates.
//!
//! Run: `cargo bench --bench build_image` (needs the docker CLI, and podman for part 2). Also
//! reports our packaging alone (into a counting writer), which has no docker CLI peer.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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

    let kept = packaging_only(&root);
    if !on_path("docker") {
        println!("skipped the comparison: the docker CLI is not installed");
        return;
    }
    let sink = SinkEngine::start();
    let host = sink.docker_host();
    let ours_sink = time_runs("sink: deploy-tcb build-image", RUNS, true, || {
        ours(&root, &host)
    });
    let ours_bytes = sink.last_upload();
    let docker_sink = time_runs("sink: docker build", RUNS, true, || docker(&root, &host));
    let docker_bytes = sink.last_upload();
    println!();
    println!(
        "context: {} files kept; uploaded tar: deploy-tcb {:.1} MiB, docker CLI {:.1} MiB",
        kept.0,
        mib(ours_bytes),
        mib(docker_bytes)
    );
    println!();
    println!("| packaging + upload to a sink engine (client side only) | median | min |");
    println!("| --- | --- | --- |");
    row("deploy-tcb build-image", &ours_sink);
    row("docker CLI, DOCKER_BUILDKIT=0", &docker_sink);
    println!(
        "ratio docker / deploy-tcb (median): {:.2}x",
        ratio(&docker_sink, &ours_sink)
    );

    if !on_path("podman") || std::env::var_os("BENCH_SKIP_PODMAN").is_some() {
        println!("skipped the podman comparison");
        return;
    }
    // The real engine is slow and noisy on a shared machine: three runs each, no warm-up.
    let engine = PodmanService::start();
    let host = engine.docker_host();
    let ours = time_runs("podman: deploy-tcb build-image", 3, false, || {
        ours(&root, &host)
    });
    let docker = time_runs("podman: docker build", 3, false, || docker(&root, &host));
    println!();
    println!("| upload + build on podman (same engine, same context) | median | min |");
    println!("| --- | --- | --- |");
    row("deploy-tcb build-image", &ours);
    row("docker CLI, DOCKER_BUILDKIT=0", &docker);
    println!(
        "ratio docker / deploy-tcb (median): {:.2}x",
        ratio(&docker, &ours)
    );
    let _ = Command::new("podman")
        .args(["rmi", "--force", "--ignore"])
        .args(["localhost/bench/ours:bench", "localhost/bench/docker:bench"])
        .stdout(Stdio::null())
        .status();
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1048576.0
}

fn ratio(peer: &[Duration], ours: &[Duration]) -> f64 {
    median(peer).as_secs_f64() / median(ours).as_secs_f64()
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
    let times = time_runs(
        "packaging only (walk + .dockerignore + tar)",
        RUNS,
        true,
        || {
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
        },
    );
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

/// An optional warm-up run, then `runs` timed runs.
fn time_runs(label: &str, runs: usize, warm_up: bool, mut run: impl FnMut()) -> Vec<Duration> {
    if warm_up {
        run();
    }
    let times: Vec<Duration> = (0..runs)
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

/// Just enough of the Engine API for a build to complete: the context is read to the end and
/// counted, and every call is answered at once.
struct SinkEngine {
    socket: PathBuf,
    uploaded: Arc<AtomicU64>,
}

impl SinkEngine {
    fn start() -> Self {
        let name = format!("deploy-tcb-bench-sink-{}.sock", std::process::id());
        let socket = std::env::temp_dir().join(name);
        let _ = std::fs::remove_file(&socket);
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let uploaded = Arc::new(AtomicU64::new(0));
        let counter = uploaded.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counter = counter.clone();
                std::thread::spawn(move || serve(stream, &counter));
            }
        });
        SinkEngine { socket, uploaded }
    }

    fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    fn last_upload(&self) -> u64 {
        self.uploaded.load(Ordering::SeqCst)
    }
}

impl Drop for SinkEngine {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Serves requests on one connection until the client closes it.
fn serve(stream: std::os::unix::net::UnixStream, uploaded: &AtomicU64) {
    use std::io::BufReader;
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::with_capacity(256 * 1024, stream);
    while let Some((method, path, chunked, length)) = read_head(&mut reader) {
        let body = read_body(&mut reader, chunked, length);
        let (status, content) = answer(&path, body, uploaded);
        // A HEAD answer announces the length but carries no body.
        let shown = if method == "HEAD" {
            ""
        } else {
            content.as_str()
        };
        let response = format!(
            "HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\nOstype: linux\r\nContent-Length: {}\r\n\r\n{shown}",
            content.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn read_head(reader: &mut impl std::io::BufRead) -> Option<(String, String, bool, u64)> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let (mut length, mut chunked) = (0, false);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let lower = line.trim_end().to_ascii_lowercase();
        if lower.is_empty() {
            break;
        }
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
    }
    let mut words = request_line.split(' ');
    let method = words.next().unwrap_or_default().to_string();
    let path = words.next().unwrap_or("/").to_string();
    Some((method, path, chunked, length))
}

fn read_body(reader: &mut impl std::io::BufRead, chunked: bool, length: u64) -> u64 {
    let mut sink = std::io::sink();
    if !chunked {
        return std::io::copy(&mut std::io::Read::take(&mut *reader, length), &mut sink)
            .unwrap_or(0);
    }
    let mut total = 0;
    loop {
        let mut size_line = String::new();
        if reader.read_line(&mut size_line).unwrap_or(0) == 0 {
            return total;
        }
        let size_text = size_line.trim().split(';').next().unwrap_or("0");
        let size = u64::from_str_radix(size_text, 16).unwrap_or(0);
        total +=
            std::io::copy(&mut std::io::Read::take(&mut *reader, size), &mut sink).unwrap_or(0);
        let mut crlf = String::new();
        let _ = reader.read_line(&mut crlf);
        if size == 0 {
            return total;
        }
    }
}

fn answer(path: &str, body: u64, uploaded: &AtomicU64) -> (u16, String) {
    let id = format!("sha256:{}", "ab".repeat(32));
    if path.contains("/build") {
        uploaded.store(body, Ordering::SeqCst);
        let stream = "{\"stream\":\"Successfully built abababababab\\n\"}";
        (
            200,
            format!("{stream}\r\n{{\"aux\":{{\"ID\":\"{id}\"}}}}\r\n"),
        )
    } else if path.contains("/_ping") {
        (200, "OK".to_string())
    } else if path.contains("/version") {
        let version = r#"{"Version":"sink","ApiVersion":"1.41","MinAPIVersion":"1.24","Os":"linux","Arch":"amd64","Components":[{"Name":"sink engine","Version":"1"}]}"#;
        (200, version.to_string())
    } else if path.contains("/history") {
        (200, "[]".to_string())
    } else if path.contains("/images/") {
        (200, format!("{{\"Id\":\"{id}\",\"Size\":1}}"))
    } else {
        (404, r#"{"message":"not served by the sink"}"#.to_string())
    }
}
