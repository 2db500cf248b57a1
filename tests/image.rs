//! The action image: built from the Dockerfile with buildah (no daemon, no pulls) and run with
//! podman exactly as the GitHub Actions runner runs a Docker action: the same `docker run`
//! arguments, the five mounts, environment passed by name (`-e NAME`), `GITHUB_ACTIONS=true`,
//! `CI=true`, the file-command files under the mounted `/github/file_commands`, and the args
//! from action.yml. Then the outputs file and the step summary the container wrote are read
//! on the host with the runner's own parser.
//!
//! Needs the static binary (`scripts/test` builds it and sets `DEPLOY_TCB_STATIC_BIN`), podman
//! and buildah; skips with a message without them, except under `.ci/run`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::runner::{
    StepResult, action_args, action_inputs, parse_key_value_file, run_with_timeout,
};

/// The image must stay small: it is pulled at the start of every job that uses an action.
const MAX_IMAGE_BYTES: u64 = 20 * 1024 * 1024;
const STATIC_BINARY: &str = "DEPLOY_TCB_STATIC_BIN";
/// A loopback port nothing listens on.
const CLOSED_PORT_URL: &str = "http://127.0.0.1:9";

fn required() -> bool {
    std::env::var("DEPLOY_TCB_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// The static binary `scripts/test` built, or a skip message.
fn static_binary_or_skip() -> Option<PathBuf> {
    match std::env::var_os(STATIC_BINARY) {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "{STATIC_BINARY}={} is not a file",
                path.display()
            );
            Some(path)
        }
        None if required() => panic!("{STATIC_BINARY} is not set; run the tests with scripts/test"),
        None => {
            eprintln!(
                "skipped: the image test needs the static binary; run scripts/test \
                 (it builds it and sets {STATIC_BINARY})"
            );
            None
        }
    }
}

/// An image built for this test run, removed when dropped.
struct Image {
    tag: String,
}

impl Image {
    fn build(binary: &Path) -> Image {
        // The context holds only the binary, as the Dockerfile expects.
        let context = tempfile::tempdir().expect("build context");
        std::fs::copy(binary, context.path().join("deploy-tcb")).expect("copy the binary");
        let tag = format!(
            "localhost/deploy-tcb-image-test:{}",
            uuid::Uuid::new_v4().simple()
        );
        let dockerfile = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Dockerfile");
        let output = Command::new("buildah")
            .args(["bud", "--isolation", "chroot", "--quiet"])
            .args([
                "--build-arg",
                &format!("VERSION={}", env!("CARGO_PKG_VERSION")),
            ])
            .arg("-f")
            .arg(&dockerfile)
            .args(["-t", &tag])
            .arg(context.path())
            .output()
            .expect("run buildah");
        assert!(
            output.status.success(),
            "buildah bud failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Image { tag }
    }

    fn inspect(&self) -> serde_json::Value {
        let output = Command::new("podman")
            .args(["image", "inspect", &self.tag])
            .output()
            .expect("podman image inspect");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let all: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
        all[0].clone()
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rmi", "--force", &self.tag])
            .output();
    }
}

/// The directories the runner prepares for a container step, on the host.
struct RunnerDirs {
    temp: tempfile::TempDir,
    workspace: tempfile::TempDir,
    guid: String,
}

/// File commands: (variable, file prefix).
const FILE_COMMANDS: [(&str, &str); 5] = [
    ("GITHUB_OUTPUT", "set_output_"),
    ("GITHUB_ENV", "set_env_"),
    ("GITHUB_STATE", "save_state_"),
    ("GITHUB_PATH", "add_path_"),
    ("GITHUB_STEP_SUMMARY", "step_summary_"),
];

impl RunnerDirs {
    fn new() -> RunnerDirs {
        let dirs = RunnerDirs {
            temp: tempfile::tempdir().expect("RUNNER_TEMP"),
            workspace: tempfile::tempdir().expect("GITHUB_WORKSPACE"),
            guid: uuid::Uuid::new_v4().to_string(),
        };
        for sub in ["_github_home", "_github_workflow", "_runner_file_commands"] {
            std::fs::create_dir_all(dirs.temp.path().join(sub)).expect("runner directory");
        }
        std::fs::write(dirs.temp.path().join("_github_workflow/event.json"), "{}\n")
            .expect("event.json");
        for (_, prefix) in FILE_COMMANDS {
            std::fs::write(dirs.file_command(prefix), "").expect("file command");
        }
        dirs
    }

    fn file_command(&self, prefix: &str) -> PathBuf {
        self.temp
            .path()
            .join("_runner_file_commands")
            .join(format!("{prefix}{}", self.guid))
    }

    /// The environment the container gets, with host paths already translated to container
    /// paths as `ContainerInfo.TranslateToContainerPath` does.
    fn environment(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        let mut set = |k: &str, v: &str| env.insert(k.to_string(), v.to_string());
        set("HOME", "/github/home");
        set("GITHUB_WORKSPACE", "/github/workspace");
        set("GITHUB_EVENT_PATH", "/github/workflow/event.json");
        set("GITHUB_EVENT_NAME", "push");
        set("GITHUB_REPOSITORY", "superinsight/image-test");
        set("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567");
        set("GITHUB_REF", "refs/heads/main");
        set("GITHUB_RUN_ID", "1");
        set("GITHUB_API_URL", CLOSED_PORT_URL);
        set("GITHUB_SERVER_URL", "https://github.com");
        set("RUNNER_TEMP", "/github/runner_temp");
        set("RUNNER_OS", "Linux");
        set("RUNNER_ARCH", "X64");
        // Not under a mapped path, so it keeps its host value (which the container lacks).
        let parent = self.workspace.path().parent().unwrap_or(Path::new("/"));
        set("RUNNER_WORKSPACE", &parent.display().to_string());
        for (variable, prefix) in FILE_COMMANDS {
            set(
                variable,
                &format!("/github/file_commands/{prefix}{}", self.guid),
            );
        }
        env
    }

    /// The five `-v` mounts of `DockerCommandManager.DockerRun`, plus the Docker socket.
    fn mounts(&self) -> Vec<String> {
        let temp = self.temp.path().display().to_string();
        let socket = Path::new("/var/run/docker.sock");
        // No Docker daemon here: a stand-in file keeps the mount (and its target) as on a runner.
        let socket_source = if socket.exists() {
            socket.display().to_string()
        } else {
            let stand_in = self.temp.path().join("docker.sock");
            std::fs::write(&stand_in, "").expect("socket stand-in");
            stand_in.display().to_string()
        };
        vec![
            format!("{socket_source}:/var/run/docker.sock"),
            format!("{temp}:/github/runner_temp"),
            format!("{temp}/_github_home:/github/home"),
            format!("{temp}/_github_workflow:/github/workflow"),
            format!("{temp}/_runner_file_commands:/github/file_commands"),
            format!("{}:/github/workspace", self.workspace.path().display()),
        ]
    }

    fn read_files(&self) -> BTreeMap<String, String> {
        FILE_COMMANDS
            .iter()
            .map(|(variable, prefix)| {
                let text = std::fs::read_to_string(self.file_command(prefix)).unwrap_or_default();
                (variable.to_string(), text)
            })
            .collect()
    }
}

/// Runs the image as the runner runs a Docker action step: `inputs` become `INPUT_*` (every
/// input of the action, defaulted like the runner does), passed by name only.
fn run_action(
    image: &Image,
    action: &str,
    inputs: &[(&str, &str)],
    timeout: Duration,
) -> StepResult {
    run_action_on(image, action, inputs, timeout, None)
}

/// [`run_action`] on a given network: the runner adds `--network <job network>` when the job
/// has service containers, which is how a step reaches a service such as the emulator.
fn run_action_on(
    image: &Image,
    action: &str,
    inputs: &[(&str, &str)],
    timeout: Duration,
    network: Option<&str>,
) -> StepResult {
    let dirs = RunnerDirs::new();
    let mut env = dirs.environment();
    let mut given: BTreeMap<String, String> = action_inputs(action).into_iter().collect();
    for (name, value) in inputs {
        given.insert(name.to_string(), value.to_string());
    }
    for (name, value) in &given {
        env.insert(deploy_tcb::cli::input_variable(name), value.clone());
    }
    let args = action_args(action, &given).unwrap_or_else(|| vec![action.to_string()]);
    let name = format!("deploy-tcb-image-test_{}", &dirs.guid[..6]);

    let mut command = Command::new("podman");
    command
        .args(["run", "--name", &name, "--label", "deploy-tcb-image-test"])
        .args(["--workdir", "/github/workspace", "--rm"]);
    for variable in env.keys() {
        command.args(["-e", variable]);
    }
    command.args(["-e", "GITHUB_ACTIONS=true", "-e", "CI=true"]);
    if let Some(network) = network {
        command.args(["--network", network]);
    }
    for mount in dirs.mounts() {
        command.args(["-v", &mount]);
    }
    command.arg(&image.tag).args(&args);
    // The values reach the container from podman's own environment, never its command line.
    command.env_clear().envs(&env);
    command.env("PATH", std::env::var("PATH").unwrap_or_default());

    let finished = run_with_timeout(command, timeout);
    if finished.timed_out {
        let _ = Command::new("podman")
            .args(["rm", "--force", &name])
            .output();
    }
    StepResult {
        stdout: finished.stdout,
        stderr: finished.stderr,
        code: finished.code,
        timed_out: finished.timed_out,
        files: dirs.read_files(),
    }
}

#[test]
fn the_action_image_runs_as_the_runner_runs_it() {
    let Some(binary) = static_binary_or_skip() else {
        return;
    };
    if !crate::support::tool_or_skip("podman") || !crate::support::tool_or_skip("buildah") {
        return;
    }
    let image = Image::build(&binary);
    check_image_config(&image);
    check_demo(&image);
    check_bad_deploy_input(&image);
    check_deploys_against_the_emulator(&image);
}

/// The deploy action in its image against an emulator on the host (the job's service network):
/// a dry run, a new service, a gray release beside it, and a release that crashes, which fails
/// the step and leaves the previous version serving.
fn check_deploys_against_the_emulator(image: &Image) {
    use crate::support::emulator::{ENV, SECRET_ID, SECRET_KEY, TestEmulator};
    let emulator = TestEmulator::start();
    let endpoint = emulator.base_url();
    let deploy = |extra: &[(&str, &str)]| {
        let mut inputs = vec![
            ("env_id", ENV),
            ("service", "web"),
            ("secret_id", SECRET_ID),
            ("secret_key", SECRET_KEY),
            ("tcb_endpoint", endpoint.as_str()),
            ("wait_timeout", "60s"),
            ("health_timeout", "20s"),
        ];
        inputs.extend_from_slice(extra);
        let result = run_action_on(
            image,
            "deploy",
            &inputs,
            Duration::from_secs(120),
            Some("host"),
        );
        let outputs = result
            .outputs()
            .expect("GITHUB_OUTPUT parses as the runner parses it");
        (result, outputs)
    };
    let healthy = "ccr.ccs.tencentyun.com/demo/synthetic:healthy";

    let (planned, outputs) = deploy(&[("image", healthy), ("dry_run", "true")]);
    assert_eq!(planned.code, Some(0), "{}", planned.describe());
    assert_eq!(
        outputs.get("result").map(String::as_str),
        Some("planned"),
        "{outputs:?}"
    );
    let detail = emulator.call(
        "DescribeCloudRunServerDetail",
        serde_json::json!({"EnvId": ENV, "ServerName": "web"}),
    );
    assert!(
        detail["Error"]["Code"].is_string(),
        "a dry run created the service: {detail}"
    );

    let (first, outputs) = deploy(&[("image", healthy)]);
    assert_eq!(first.code, Some(0), "{}", first.describe());
    assert_eq!(
        outputs.get("result").map(String::as_str),
        Some("deployed"),
        "{outputs:?}"
    );
    let serving = outputs["version_name"].clone();
    assert!(
        first.summary().contains(&serving),
        "summary: {}",
        first.summary()
    );

    let (gray, outputs) = deploy(&[
        ("image", "ccr.ccs.tencentyun.com/demo/synthetic:errors-20"),
        ("release_type", "gray"),
        ("traffic", "20"),
    ]);
    assert_eq!(gray.code, Some(0), "{}", gray.describe());
    assert_eq!(
        outputs.get("result").map(String::as_str),
        Some("gray"),
        "{outputs:?}"
    );
    assert_eq!(
        outputs.get("previous_version"),
        Some(&serving),
        "{outputs:?}"
    );

    // The open gray release is in the way of the next deploy: on_conflict cancel closes it.
    let (crashed, outputs) = deploy(&[
        ("image", "ccr.ccs.tencentyun.com/demo/synthetic:crash"),
        ("on_conflict", "cancel"),
    ]);
    assert_eq!(crashed.code, Some(1), "{}", crashed.describe());
    assert_eq!(
        outputs.get("result").map(String::as_str),
        Some("failed"),
        "{outputs:?}"
    );
    assert_eq!(crashed.errors().len(), 1, "{}", crashed.describe());
    let online: Vec<String> = emulator.online("web").into_iter().map(|(v, _)| v).collect();
    assert_eq!(
        online,
        vec![serving],
        "the previous version must keep serving"
    );
    let leaked = crashed
        .everything()
        .lines()
        .any(|l| l.contains(SECRET_KEY) && !l.starts_with("::add-mask::"));
    assert!(!leaked, "the secret key leaked: {}", crashed.describe());
}

/// Small, from scratch, the binary as entrypoint, and root (no `USER`).
fn check_image_config(image: &Image) {
    let info = image.inspect();
    let size = info["Size"].as_u64().expect("image size");
    // Written to stderr directly, past the test harness's capture, so every run shows it.
    let _ = writeln!(
        std::io::stderr(),
        "action image {}: {size} bytes ({:.1} MiB)",
        image.tag,
        size as f64 / 1024.0 / 1024.0
    );
    assert!(
        size < MAX_IMAGE_BYTES,
        "the image is {size} bytes; the limit is 20 MiB"
    );
    let config = &info["Config"];
    assert_eq!(config["Entrypoint"], serde_json::json!(["/deploy-tcb"]));
    let user = config["User"].as_str().unwrap_or("");
    assert!(
        user.is_empty() || user == "root" || user == "0",
        "USER {user}"
    );
    let labels = &config["Labels"];
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://github.com/superinsight/deploy-tcb"
    );
    assert_eq!(
        labels["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        info["RootFS"]["Layers"].as_array().map(Vec::len),
        Some(1),
        "one layer"
    );
}

/// `demo` runs the emulator inside the container (loopback only, no credentials) and writes
/// its outputs and summary through the mounted file commands, as the runner reads them.
fn check_demo(image: &Image) {
    let result = run_action(image, "demo", &[], Duration::from_secs(180));
    assert!(
        !result.timed_out,
        "demo did not finish: {}",
        result.describe()
    );
    assert_eq!(result.code, Some(0), "{}", result.describe());
    assert!(result.errors().is_empty(), "{}", result.describe());
    let outputs = result
        .outputs()
        .expect("GITHUB_OUTPUT parses as the runner parses it");
    let output = |name: &str| outputs.get(name).map(String::as_str).unwrap_or_default();
    assert_eq!(output("result"), "gray", "{outputs:?}");
    assert_eq!(output("version_name"), "hello-004", "{outputs:?}");
    assert_eq!(output("previous_version"), "hello-003", "{outputs:?}");
    assert_eq!(output("promoted"), "promoted", "{outputs:?}");
    assert_eq!(output("rolled_back"), "rolled_back", "{outputs:?}");
    assert!(
        output("url").starts_with("http://127.0.0.1:"),
        "{outputs:?}"
    );
    let summary = result.summary();
    assert!(
        summary.starts_with("# deploy-tcb demo"),
        "summary: {summary}"
    );
    assert!(summary.len() < 1024 * 1024, "summary over 1 MiB");
    for line in [
        "canary hello-003 of hello promoted to 100%",
        "canary hello-004 of hello rolled back to hello-003",
    ] {
        assert!(summary.contains(line), "{line} missing from: {summary}");
    }
}

/// A bad input fails the step with an `::error` annotation and exit 2, and the secret given
/// beside it is masked and appears nowhere else.
fn check_bad_deploy_input(image: &Image) {
    let canary = format!("imagecanary{}", uuid::Uuid::new_v4().simple());
    let inputs = [
        ("dry_run", "maybe"),
        ("secret_key", canary.as_str()),
        ("tcb_endpoint", CLOSED_PORT_URL),
    ];
    let result = run_action(image, "deploy", &inputs, Duration::from_secs(60));
    assert_eq!(result.code, Some(2), "{}", result.describe());
    let errors = result.errors();
    assert_eq!(errors.len(), 1, "{}", result.describe());
    assert_eq!(
        errors[0].properties.get("title").map(String::as_str),
        Some("Invalid input")
    );
    assert!(errors[0].data.contains("`dry_run`"), "{:?}", errors[0]);
    assert!(
        result
            .stdout
            .lines()
            .any(|l| l == format!("::add-mask::{canary}"))
    );
    let unmasked = result
        .everything()
        .lines()
        .filter(|l| l.contains(&canary) && !l.starts_with("::add-mask::"))
        .count();
    assert_eq!(unmasked, 0, "the secret leaked: {}", result.describe());
    parse_key_value_file(result.file("GITHUB_OUTPUT")).expect("GITHUB_OUTPUT parses");
}
