//! `deploy-tcb emulator --engine`: versions served by real containers through podman's
//! Docker-compatible service. A tiny real app (busybox's static `httpd` in a `FROM scratch`
//! image, built with buildah, pushed to a loopback registry and removed locally so the engine
//! must pull it) is deployed with the deploy action against the emulator binary; traffic
//! through the gateway reaches the container and is counted for its version; an image that
//! exits, one that never listens on the service's port and one that cannot be pulled fail their
//! releases with the reason while the previous version keeps serving; a replaced version's
//! container is removed, a rollback starts the earlier one again, and SIGTERM removes the rest.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support;
use crate::support::registry::{Podman, Registry, http};
use crate::support::runner::{Step, StepResult};

const SECRET_ID: &str = "AKIDENGINETEST";
const SECRET_KEY: &str = "engine-test-secret-key";
const ENV: &str = "env-engine-1a2b";
const APP_PORT: &str = "8080";

/// The app: writes a page from its environment, then serves it on port 8080.
const APP_SCRIPT: &str =
    "mkdir -p /www && echo \"hello $GREETING\" > /www/index.html && exec httpd -f -p 8080 -h /www";
/// A CGI script of the app that echoes the request: method, query, a header, then the body.
const ECHO_CGI: &str = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n\
echo \"$REQUEST_METHOD $QUERY_STRING $HTTP_X_PROBE\"\nhead -c \"${CONTENT_LENGTH:-0}\"\n";
/// An app that cannot start: it says why and exits.
const CRASH_SCRIPT: &str = "echo 'fatal: DATABASE_URL is not set' >&2; exit 3";

fn tools_or_skip() -> bool {
    support::registry::engine_tools_or_skip()
        && support::tool_or_skip("buildah")
        && support::tool_or_skip("busybox")
        && static_busybox_or_skip()
}

/// The image is empty but for busybox: it must not need a dynamic loader (Debian's
/// busybox-static, which scripts/ci.d/emulator.sh installs).
fn static_busybox_or_skip() -> bool {
    let binary = std::fs::read(which("busybox")).expect("busybox readable");
    let dynamic = has_interpreter(&binary);
    if dynamic {
        if std::env::var("DEPLOY_TCB_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
            panic!("busybox is dynamically linked; install busybox-static");
        }
        eprintln!("skipped: busybox is dynamically linked; install busybox-static");
    }
    !dynamic
}

/// Builds a `FROM scratch` image holding the static busybox, running `script` with its `sh`,
/// pushes it to the registry as `name:tag` and removes the local copy.
fn publish_image(registry: &Registry, name: &str, script: &str) -> String {
    let context = tempfile::tempdir().expect("a build context");
    let busybox = which("busybox");
    std::fs::copy(&busybox, context.path().join("busybox")).expect("busybox copied");
    let echo = context.path().join("echo");
    std::fs::write(&echo, ECHO_CGI).expect("CGI script written");
    std::fs::set_permissions(&echo, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("CGI script executable");
    let entrypoint = serde_json::json!(["/bin/sh", "-c", script]);
    std::fs::write(
        context.path().join("Containerfile"),
        format!(
            "FROM scratch\nCOPY busybox /bin/busybox\n\
             RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
             COPY echo /www/cgi-bin/echo\nENTRYPOINT {entrypoint}\n"
        ),
    )
    .expect("Containerfile written");
    let local = format!(
        "localhost/deploy-tcb-engine-test:{}",
        uuid::Uuid::new_v4().simple()
    );
    run(Command::new("buildah")
        .args(["bud", "--isolation", "chroot", "--quiet", "-t", &local])
        .arg(context.path()));
    let remote = format!("{}/{name}", registry.address());
    run(Command::new("buildah").args([
        "push",
        "--quiet",
        "--tls-verify=false",
        &local,
        &format!("docker://{remote}"),
    ]));
    run(Command::new("buildah").args(["rmi", &local]));
    remote
}

/// True when a 64-bit little-endian ELF file asks for a program interpreter (PT_INTERP).
fn has_interpreter(elf: &[u8]) -> bool {
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]) as usize;
    let u64_at = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&elf[at..at + 8]);
        u64::from_le_bytes(bytes) as usize
    };
    assert!(
        elf.starts_with(b"\x7fELF") && elf[4] == 2,
        "a 64-bit ELF file"
    );
    let (table, size, count) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..count).any(|i| elf[table + i * size..][..4] == 3u32.to_le_bytes())
}

fn which(tool: &str) -> std::path::PathBuf {
    let paths = std::env::var_os("PATH").expect("PATH");
    std::env::split_paths(&paths)
        .map(|dir| dir.join(tool))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{tool} on PATH"))
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("the tool runs");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `deploy-tcb emulator --engine …` as a child process, stopped with SIGTERM when dropped.
struct EmulatorProcess {
    child: Child,
    host: String,
    run_id: String,
}

impl EmulatorProcess {
    /// Starts the emulator on `engine`, keeping its state in `state_file`.
    fn start(engine: &str, state_file: &Path) -> EmulatorProcess {
        let mut child = Command::new(support::binary())
            .args(["emulator", "--port", "0", "--env", ENV])
            .args(["--secret-id", SECRET_ID, "--secret-key", SECRET_KEY])
            .args(["--speed", "20", "--engine", engine])
            .arg("--state-file")
            .arg(state_file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the emulator starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let (mut host, mut run_id) = (String::new(), String::new());
        for line in lines.by_ref() {
            let line = line.expect("a line of the banner");
            if let Some(url) = line.strip_prefix("deploy-tcb emulator listening on http://") {
                host = url.trim().to_string();
            }
            if let Some((_, run)) = line.split_once("deploy-tcb.emulator=") {
                run_id = run.trim_end_matches(')').to_string();
                break;
            }
        }
        assert!(
            !host.is_empty() && !run_id.is_empty(),
            "the banner names the engine"
        );
        // Keep reading so the emulator never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        EmulatorProcess {
            child,
            host,
            run_id,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.host)
    }

    fn get(&self, path: &str) -> support::registry::HttpResponse {
        http(&self.host, "GET", path, &[]).expect("the emulator answers")
    }

    /// SIGTERM, as `docker stop` or a CI runner sends it; returns the exit code.
    fn stop(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

fn deploy(emulator: &EmulatorProcess, image: &str, port: &str, greeting: &str) -> StepResult {
    let env_vars = format!("GREETING={greeting}");
    let args = [
        "deploy",
        "--env-id",
        ENV,
        "--service",
        "web",
        "--image",
        image,
        "--port",
        port,
        "--env-vars",
        &env_vars,
        "--health-timeout",
        "20s",
    ];
    run_against(emulator, &args)
}

/// Runs an action against the emulator with its endpoint and credentials.
fn run_against(emulator: &EmulatorProcess, args: &[&str]) -> StepResult {
    let endpoint = emulator.endpoint();
    let mut all = args.to_vec();
    all.extend([
        "--tcb-endpoint",
        &endpoint,
        "--secret-id",
        SECRET_ID,
        "--secret-key",
        SECRET_KEY,
    ]);
    Step::terminal(&all).timeout(Duration::from_secs(90)).run()
}

/// POSTs `body` with the header `X-Probe: yes`; returns the answer's body.
fn post(url: &str, body: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("a client");
        let answer = client
            .post(url)
            .header("X-Probe", "yes")
            .body(body.to_string())
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(answer.status(), 200);
        answer.text().await.expect("a body")
    })
}

fn output(result: &StepResult, name: &str) -> String {
    result
        .outputs()
        .expect("outputs parse")
        .get(name)
        .cloned()
        .unwrap_or_default()
}

/// The names of the containers labelled with this emulator run, as podman lists them.
fn containers_of(run_id: &str) -> Vec<String> {
    let listed = run(Command::new("podman").args([
        "ps",
        "--all",
        "--filter",
        &format!("label=deploy-tcb.emulator={run_id}"),
        "--format",
        "{{.Names}} {{.Labels}}",
    ]));
    listed.lines().map(str::to_string).collect()
}

fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within 30 s");
}

/// `tcb_gateway_requests_total` for one version and status code.
fn requests_counted(metrics: &str, version: &str, code: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("tcb_gateway_requests_total{"))
        .filter(|l| l.contains(&format!("version=\"{version}\"")))
        .filter(|l| l.contains(&format!("code=\"{code}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn assert_fails_with(result: &StepResult, step: &str, reasons: &[&str]) {
    assert_eq!(result.code, Some(1), "{}", result.describe());
    assert_eq!(output(result, "result"), "failed");
    let summary = result.summary();
    assert!(
        summary.contains(&format!("**Failed at step `{step}`:**")),
        "{summary}"
    );
    for reason in reasons {
        assert!(summary.contains(reason), "`{reason}` in:\n{summary}");
    }
    assert!(summary.contains("`web-001` keeps serving"), "{summary}");
}

fn page(emulator: &EmulatorProcess) -> (u16, String, String) {
    let answer = emulator.get(&format!("/_gw/{ENV}/web/"));
    let version = answer.header("x-tcb-version").unwrap_or("").to_string();
    let body = String::from_utf8_lossy(&answer.body).trim().to_string();
    (answer.status, version, body)
}

#[test]
fn versions_run_as_real_containers_through_the_engine() {
    if !tools_or_skip() {
        return;
    }
    let registry = Registry::start();
    let podman = Podman::start(&[registry.address()]);
    let app = publish_image(&registry, "engine-app:1", APP_SCRIPT);
    let crash = publish_image(&registry, "engine-crash:1", CRASH_SCRIPT);
    let state_dir = tempfile::tempdir().unwrap();
    let state_file = state_dir.path().join("state.json");
    let mut emulator = EmulatorProcess::start(&podman.docker_host(), &state_file);

    // A first release: pulled, started with the port and the environment, served.
    let first = deploy(&emulator, &app, APP_PORT, "from-v1");
    assert_eq!(first.code, Some(0), "{}", first.describe());
    assert_eq!(output(&first, "version_name"), "web-001");
    let state = String::from_utf8_lossy(&emulator.get("/_emulator/state").body).into_owned();
    assert!(
        state.contains(&format!("[build_image] pulled {app}")),
        "the engine pulled the image from the registry: {state}"
    );
    let running = containers_of(&emulator.run_id);
    assert_eq!(running.len(), 1, "{running:?}");
    assert!(
        running[0].contains("deploy-tcb.version:web-001"),
        "{running:?}"
    );
    for _ in 0..20 {
        assert_eq!(
            page(&emulator),
            (200, "web-001".to_string(), "hello from-v1".to_string()),
            "the container answers with the environment it was given"
        );
    }
    let echoed = post(
        &format!(
            "http://{}/_gw/{ENV}/web/cgi-bin/echo?a=1&b=2",
            emulator.host
        ),
        "ping",
    );
    assert_eq!(
        echoed, "POST a=1&b=2 yes\nping",
        "method, query, headers and body reach the container"
    );
    let metrics = String::from_utf8_lossy(&emulator.get("/metrics").body).into_owned();
    let counted = requests_counted(&metrics, "web-001", "200");
    assert!(
        counted >= 20.0,
        "20 requests counted for web-001:\n{metrics}"
    );

    // Failures: the release fails with the engine's reason, web-001 keeps serving.
    let exits = deploy(&emulator, &crash, APP_PORT, "from-v2");
    assert_fails_with(
        &exits,
        "deploy_instance",
        &["exited with code 3", "DATABASE_URL is not set"],
    );
    let deaf = deploy(&emulator, &app, "9090", "from-v3");
    assert_fails_with(
        &deaf,
        "deploy_instance",
        &["did not accept connections on port 9090"],
    );
    let missing = format!("{}/engine-missing:1", registry.address());
    let unpullable = deploy(&emulator, &missing, APP_PORT, "from-v4");
    assert_fails_with(
        &unpullable,
        "build_image",
        &[&format!("cannot pull image {missing}")],
    );
    assert_eq!(page(&emulator).2, "hello from-v1");
    eventually("only web-001's container is left", || {
        containers_of(&emulator.run_id).len() == 1
    });

    // A new version replaces the old one; the old container goes.
    let second = deploy(&emulator, &app, APP_PORT, "from-v5");
    assert_eq!(second.code, Some(0), "{}", second.describe());
    let version = output(&second, "version_name");
    assert_eq!(version, "web-005");
    assert_eq!(
        page(&emulator),
        (200, version.clone(), "hello from-v5".to_string())
    );
    eventually("the replaced version's container is removed", || {
        let left = containers_of(&emulator.run_id);
        left.len() == 1 && left[0].contains("deploy-tcb.version:web-005")
    });
    let metrics = String::from_utf8_lossy(&emulator.get("/metrics").body).into_owned();
    assert!(
        requests_counted(&metrics, "web-005", "200") >= 1.0,
        "{metrics}"
    );

    // A rollback starts the earlier version's container again, with its own configuration.
    let rollback = run_against(
        &emulator,
        &[
            "rollback",
            "--env-id",
            ENV,
            "--service",
            "web",
            "--to-version",
            "web-001",
        ],
    );
    assert_eq!(rollback.code, Some(0), "{}", rollback.describe());
    assert_eq!(
        page(&emulator),
        (200, "web-001".to_string(), "hello from-v1".to_string())
    );
    eventually("the rolled-back version's container is removed", || {
        let left = containers_of(&emulator.run_id);
        left.len() == 1 && left[0].contains("deploy-tcb.version:web-001")
    });

    // SIGTERM stops the emulator and removes its containers.
    assert_eq!(emulator.stop(), Some(0));
    assert_eq!(containers_of(&emulator.run_id), Vec::<String>::new());

    // Restarted from its state file, the emulator starts the serving version's container again.
    let mut restarted = EmulatorProcess::start(&podman.docker_host(), &state_file);
    assert_ne!(restarted.run_id, emulator.run_id);
    eventually("the serving version runs again after a restart", || {
        page(&restarted) == (200, "web-001".to_string(), "hello from-v1".to_string())
    });
    let running = containers_of(&restarted.run_id);
    assert_eq!(running.len(), 1, "only the serving version: {running:?}");
    assert!(
        running[0].contains("deploy-tcb.version:web-001"),
        "{running:?}"
    );
    assert_eq!(restarted.stop(), Some(0));
    assert_eq!(containers_of(&restarted.run_id), Vec::<String>::new());
    podman.remove_images(&[app, crash]);
}

#[test]
fn an_unreachable_engine_is_an_input_error() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let socket = dir.path().join("nothing.sock");
    let engine = format!("unix://{}", socket.display());
    let result = Step::terminal(&["emulator", "--port", "0", "--engine", &engine])
        .timeout(Duration::from_secs(30))
        .run();
    assert_eq!(result.code, Some(2), "{}", result.describe());
    let text = result.everything();
    assert!(text.contains("engine"), "{text}");
    assert!(text.contains(&socket.display().to_string()), "{text}");
    assert!(text.contains("podman system service"), "{text}");

    let bad = Step::terminal(&["emulator", "--port", "0", "--engine", "ssh://host"]).run();
    assert_eq!(bad.code, Some(2), "{}", bad.describe());
    assert!(
        bad.everything().contains("unix:///path"),
        "{}",
        bad.describe()
    );
}
