//! `deploy-tcb build-image` against a real engine and a real registry: podman's
//! Docker-compatible API (started by the test) builds, and `docker-registry` on loopback
//! receives the push. Nothing is pulled: every stage is `FROM scratch` and copies files.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::process::Command;

use deploy_tcb::image::context::{BuildContext, Kind};
use serde_json::Value;

use crate::support::fake_github::{FakeGithub, TOKEN};
use crate::support::registry::{Podman, Registry, engine_tools_or_skip};

const PASSWORD: &str = "registry-pass-7b1e9c";
const SHA: &str = "4f2d0c1b9a8e7d6c5b4a39281706f5e4d3c2b1a0";

const DOCKERFILE: &str = "\
# The app: a base stage with a build argument, the target, and a stage that must not be built.
FROM scratch AS base
ARG VARIANT=plain
COPY ${VARIANT}.txt /variant.txt

FROM base AS final
COPY . /ctx/
LABEL stage=final

FROM final AS never
COPY does-not-exist /nope
";

const DOCKERIGNORE: &str = "\
# comments only count at the start of a line
.git
**/*.pyc
docs
!docs/keep.md
logs/*.log
!logs/important.log
node_modules
*.env
Dockerfile
";

/// The files of the fixture workspace; `.dockerignore` keeps only some of them.
const FILES: &[&str] = &[
    "plain.txt",
    "fancy.txt",
    "app/main.py",
    "app/__pycache__/main.cpython-311.pyc",
    "app/util.pyc",
    "docs/keep.md",
    "docs/drop.md",
    "logs/a.log",
    "logs/important.log",
    "node_modules/pkg/index.js",
    ".git/HEAD",
    "secrets.env",
];

/// What Docker would send: Dockerfile and .dockerignore are kept although listed.
const EXPECTED_CONTEXT: &[&str] = &[
    ".dockerignore",
    "Dockerfile",
    "app/main.py",
    "docs/keep.md",
    "fancy.txt",
    "logs/important.log",
    "plain.txt",
];

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in FILES {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let content = file.trim_end_matches(".txt");
        std::fs::write(&path, content).unwrap();
    }
    std::fs::write(dir.path().join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(dir.path().join(".dockerignore"), DOCKERIGNORE).unwrap();
    dir
}

fn event_payload(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("event.json");
    let payload = serde_json::json!({
        "ref": "refs/tags/v1.2.3",
        "repository": {
            "default_branch": "main",
            "license": {"spdx_id": "Apache-2.0"},
            "description": "Data labelling platform"
        }
    });
    std::fs::write(&path, payload.to_string()).unwrap();
    path
}

/// Runs the binary as the runner would: inputs and context in the environment (`extra_env`
/// last, so it can override the context).
fn run_action(
    workspace: &Path,
    runner: &Path,
    docker_host: &str,
    inputs: &[(&str, &str)],
    extra_env: &[(&str, String)],
) -> (std::process::Output, BTreeMap<String, String>, String) {
    let output_file = runner.join("output");
    let summary_file = runner.join("summary.md");
    let mut command = Command::new(crate::support::binary());
    command
        .arg("build-image")
        .current_dir(workspace)
        .env("DOCKER_HOST", docker_host)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output_file)
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .env("GITHUB_EVENT_NAME", "push")
        .env("GITHUB_EVENT_PATH", event_payload(runner))
        .env("GITHUB_REF", "refs/tags/v1.2.3")
        .env("GITHUB_SHA", SHA)
        .env("GITHUB_REPOSITORY", "superinsight/superinsight")
        .env("GITHUB_SERVER_URL", "https://github.com");
    for (name, value) in inputs {
        command.env(format!("INPUT_{}", name.to_uppercase()), value);
    }
    command.envs(extra_env.iter().map(|(k, v)| (k, v)));
    let output = command.output().expect("deploy-tcb runs");
    let outputs = crate::support::runner::parse_outputs(
        &std::fs::read_to_string(&output_file).unwrap_or_default(),
    );
    let summary = std::fs::read_to_string(&summary_file).unwrap_or_default();
    (output, outputs, summary)
}

/// Every file in the image's layers (paths without the leading `/`) with its content.
fn image_files(registry: &Registry, name: &str, manifest: &Value) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for layer in manifest["layers"].as_array().expect("layers") {
        let blob = registry.blob(name, layer["digest"].as_str().unwrap());
        let media_type = layer["mediaType"].as_str().unwrap_or_default();
        let tar_bytes = if media_type.contains("gzip") {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(blob.as_slice())
                .read_to_end(&mut out)
                .unwrap();
            out
        } else {
            blob
        };
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.header().entry_type().is_file() {
                let path = entry.path().unwrap().to_string_lossy().into_owned();
                let mut content = String::new();
                entry.read_to_string(&mut content).unwrap();
                files.insert(path.trim_start_matches("./").to_string(), content);
            }
        }
    }
    files
}

#[test]
fn the_context_holds_exactly_what_dockerignore_keeps() {
    let dir = workspace();
    let context = BuildContext::new(dir.path(), Path::new("Dockerfile")).unwrap();
    let files: Vec<String> = context
        .entries()
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == Kind::File)
        .map(|e| e.name)
        .collect();
    assert_eq!(files, EXPECTED_CONTEXT);
}

#[test]
fn builds_the_target_with_args_and_pushes_every_computed_tag() {
    if !engine_tools_or_skip() {
        return;
    }
    let Some(spec) = crate::support::shared_or_skip("spec/github/rest-subset.openapi.json") else {
        return;
    };
    let fake = FakeGithub::start(&spec);
    let registry = Registry::start();
    let podman = Podman::start(&[registry.address()]);
    let dir = workspace();
    let runner = tempfile::tempdir().unwrap();
    let repository = format!("{}/superinsight/app", registry.address());
    let (output, outputs, summary) = run_action(
        dir.path(),
        runner.path(),
        &podman.docker_host(),
        &[
            ("image", &repository),
            ("target", "final"),
            ("build_args", "VARIANT=fancy"),
            ("labels", "com.example.team=platform"),
            ("push", "true"),
            ("username", "bot"),
            ("password", PASSWORD),
            ("tag_rules", "semver,major_minor,major,sha,branch,pr,latest"),
        ],
        &github_env(&fake, runner.path(), false),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "build-image failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("::group::Build "),
        "build log folded: {stdout}"
    );
    let shown: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    assert!(!shown.join("\n").contains(PASSWORD), "the password leaked");
    assert!(!String::from_utf8_lossy(&output.stderr).contains(PASSWORD));

    // Tags as computed from the tag push: version, major.minor, major, sha, latest.
    let expected_tags = ["1.2.3", "1.2", "1", "sha-4f2d0c1", "latest"];
    let tags: Vec<String> = expected_tags
        .iter()
        .map(|t| format!("{repository}:{t}"))
        .collect();
    assert_eq!(outputs["tags"], tags.join("\n"));
    let listed = registry.manifest("superinsight/app", "1.2.3");
    assert_eq!(listed.status, 200);
    let tag_list = crate::support::registry::http(
        &registry.address(),
        "GET",
        "/v2/superinsight/app/tags/list",
        &[],
    )
    .unwrap()
    .json();
    let pushed: BTreeSet<&str> = tag_list["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(pushed, expected_tags.iter().copied().collect());

    // The digest output is the registry's own digest for every tag.
    let digest = &outputs["digest"];
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    assert_eq!(outputs["image"], format!("{repository}@{digest}"));
    for tag in expected_tags {
        let manifest = registry.manifest("superinsight/app", tag);
        assert_eq!(
            manifest.header("Docker-Content-Digest"),
            Some(digest.as_str()),
            "{tag}"
        );
    }
    let size: u64 = outputs["size"].parse().unwrap();
    assert!(size > 0);

    // The image: the target stage (not `never`), the build argument, the filtered context.
    let manifest = listed.json();
    let files = image_files(&registry, "superinsight/app", &manifest);
    assert_eq!(files.get("variant.txt").map(String::as_str), Some("fancy"));
    assert!(!files.contains_key("nope"));
    let in_image: BTreeSet<&str> = files
        .keys()
        .filter_map(|k| k.strip_prefix("ctx/"))
        .collect();
    let sent: BTreeSet<&str> = EXPECTED_CONTEXT.iter().copied().collect();
    // The engine drops the build files that .dockerignore lists from what COPY sees.
    let copied: BTreeSet<&str> = sent.difference(&["Dockerfile"].into()).copied().collect();
    assert_eq!(in_image, copied);

    // OCI labels from the repository and the run, and the user's label.
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let config: Value =
        serde_json::from_slice(&registry.blob("superinsight/app", config_digest)).unwrap();
    let labels = &config["config"]["Labels"];
    let label = |k: &str| {
        labels[format!("org.opencontainers.image.{k}")]
            .as_str()
            .map(str::to_string)
    };
    assert_eq!(
        label("source").as_deref(),
        Some("https://github.com/acme/shop")
    );
    assert_eq!(label("revision").as_deref(), Some(SHA));
    assert_eq!(label("version").as_deref(), Some("1.2.3"));
    assert_eq!(label("title").as_deref(), Some("shop"));
    assert_eq!(label("licenses").as_deref(), Some("Apache-2.0"));
    assert!(label("created").is_some_and(|c| c.ends_with('Z')));
    assert_eq!(labels["com.example.team"], "platform");
    assert_eq!(labels["stage"], "final");

    // The summary: tags, digest, size and layers by size.
    assert!(summary.contains(digest.as_str()), "{summary}");
    assert!(!summary.contains(PASSWORD));
    assert!(summary.contains(&format!("`{repository}:latest`")));
    assert!(summary.contains("| Layer size | Created by |"), "{summary}");

    // GitHub: a successful check run on the pushed commit, its summary the job summary.
    let created = fake.requests_for("checks/create");
    assert_eq!(created.len(), 1);
    let body = created[0].body.clone().unwrap_or_default();
    assert_eq!(body["head_sha"], SHA);
    assert_eq!(body["conclusion"], "success");
    let title = body["output"]["title"].as_str().unwrap_or_default();
    assert!(
        title.starts_with(&format!("Built and pushed {repository}@{digest}")),
        "{title}"
    );
    let check_summary = body["output"]["summary"].as_str().unwrap_or_default();
    assert!(
        check_summary.contains("| Layer size | Created by |"),
        "{check_summary}"
    );
    assert!(!check_summary.contains(PASSWORD));
    assert!(
        fake.requests_for("issues/create-comment").is_empty(),
        "no PR, no comment"
    );
    fake.assert_no_violations();
    podman.remove_images(&tags);
}

#[test]
fn a_failed_step_is_annotated_on_its_dockerfile_line() {
    if !engine_tools_or_skip() {
        return;
    }
    let Some(spec) = crate::support::shared_or_skip("spec/github/rest-subset.openapi.json") else {
        return;
    };
    let fake = FakeGithub::start(&spec);
    let podman = Podman::start(&[]);
    let dir = workspace();
    let runner = tempfile::tempdir().unwrap();
    let (output, outputs, _) = run_action(
        dir.path(),
        runner.path(),
        &podman.docker_host(),
        &[
            ("image", "localhost/superinsight/broken"),
            ("target", "never"),
            ("tags", "test"),
        ],
        &github_env(&fake, runner.path(), true),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let line = DOCKERFILE
        .lines()
        .position(|l| l.contains("does-not-exist"))
        .unwrap()
        + 1;
    assert!(
        stdout.contains(&format!(
            "::error file=Dockerfile,line={line},title=Image build failed::"
        )),
        "{stdout}"
    );
    assert!(
        outputs.is_empty(),
        "no outputs after a failed build: {outputs:?}"
    );

    // GitHub: a failed check run on the PR head, annotated on the step's line, and the
    // action's section of the run's PR comment.
    let created = fake.requests_for("checks/create");
    assert_eq!(created.len(), 1);
    let body = created[0].body.clone().unwrap_or_default();
    assert_eq!(
        body["name"],
        "deploy-tcb build-image (localhost/superinsight/broken)"
    );
    assert_eq!(body["head_sha"], PR_HEAD);
    assert_eq!(body["conclusion"], "failure");
    let annotation = &body["output"]["annotations"][0];
    assert_eq!(annotation["path"], "Dockerfile");
    assert_eq!(annotation["start_line"], line);
    assert_eq!(annotation["annotation_level"], "failure");
    let comments = fake.comment_bodies(7);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].contains("section build-image/localhost/superinsight/broken")
            && comments[0].contains(&format!("❌ the image build failed at Dockerfile:{line}")),
        "{}",
        comments[0]
    );
    fake.assert_no_violations();
}

/// Commit a pull request's head, as GitHub names it in the event.
const PR_HEAD: &str = "0328041d1152db8ae77652d1618a02e57f745f17";

/// The environment that reports to the fake GitHub (`acme/shop`): a token, the API URL and,
/// for a pull request, the event of pull request #7.
fn github_env(fake: &FakeGithub, runner: &Path, pull_request: bool) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("INPUT_GITHUB_TOKEN", TOKEN.to_string()),
        ("GITHUB_API_URL", fake.url().to_string()),
        ("GITHUB_REPOSITORY", fake.repository()),
        ("GITHUB_RUN_ID", "41".to_string()),
    ];
    if pull_request {
        let event = runner.join("pull_request.json");
        let payload = serde_json::json!({
            "number": 7,
            "pull_request": {"number": 7,
                "head": {"ref": "feature", "sha": PR_HEAD},
                "base": {"ref": "main", "sha": SHA}},
            "repository": {"default_branch": "main"}
        });
        std::fs::write(&event, payload.to_string()).unwrap();
        env.extend([
            ("GITHUB_EVENT_NAME", "pull_request".to_string()),
            ("GITHUB_EVENT_PATH", event.display().to_string()),
            ("GITHUB_REF", "refs/pull/7/merge".to_string()),
        ]);
    }
    env
}

#[test]
fn an_unreachable_engine_is_a_configuration_error() {
    let dir = workspace();
    let runner = tempfile::tempdir().unwrap();
    let (output, _, _) = run_action(
        dir.path(),
        runner.path(),
        "unix:///nonexistent/docker.sock",
        &[("image", "localhost/app")],
        &[],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("cannot reach the container engine"),
        "{stdout}"
    );
    assert!(stdout.contains("DOCKER_HOST"), "{stdout}");
}

#[test]
fn bad_inputs_exit_2_before_any_engine_call() {
    let dir = workspace();
    let runner = tempfile::tempdir().unwrap();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("image", "localhost/app"), ("file", "nope/Dockerfile")],
            "input `file`",
        ),
        (&[("image", "localhost/app:1")], "input `image`"),
        (
            &[("image", "localhost/app"), ("version", "one")],
            "input `version`",
        ),
        (
            &[("image", "localhost/app"), ("username", "bot")],
            "input `password`",
        ),
    ];
    for (inputs, expected) in cases {
        let (output, _, _) = run_action(
            dir.path(),
            runner.path(),
            "unix:///nonexistent",
            inputs,
            &[],
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(2), "{inputs:?}: {stdout}");
        assert!(stdout.contains(expected), "{inputs:?}: {stdout}");
    }
}

// ---------------------------------------------------------------------------------------------
// The reference app (examples/superinsight): linted and validated, not built (no pulls here).

fn example() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/superinsight")
}

fn example_workflows() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(example().join("workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_example_context_holds_only_what_the_image_needs() {
    let context = BuildContext::new(&example(), Path::new("Dockerfile.fullstack")).unwrap();
    let files: Vec<String> = context
        .entries()
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == Kind::File)
        .map(|e| e.name)
        .collect();
    assert_eq!(
        files,
        [
            ".dockerignore",
            "Dockerfile.fullstack",
            "app/requirements.txt",
            "app/superinsight/__init__.py",
            "app/superinsight/main.py",
            "scripts/entrypoint.sh",
            "scripts/graceful-shutdown.sh",
            "scripts/health-check.sh",
            "scripts/wait-for-services.sh",
            "supervisor/supervisord.conf",
        ]
    );
}

#[test]
fn the_example_dockerfile_has_nothing_above_warning_in_hadolint() {
    if !crate::support::tool_or_skip("hadolint") {
        return;
    }
    let output = Command::new("hadolint")
        .args(["--no-fail", "--format", "json"])
        .arg(example().join("Dockerfile.fullstack"))
        .output()
        .expect("hadolint runs");
    let findings: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "hadolint gave no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let errors: Vec<&Value> = findings.iter().filter(|f| f["level"] == "error").collect();
    assert!(errors.is_empty(), "hadolint errors: {errors:#?}");
    // The control: hadolint really checks (a bare apt-get install is flagged).
    let control = tempfile::tempdir().unwrap();
    let dockerfile = control.path().join("Dockerfile");
    std::fs::write(&dockerfile, "FROM debian\nRUN apt-get install curl\n").unwrap();
    let output = Command::new("hadolint")
        .args(["--no-fail", "--format", "json"])
        .arg(&dockerfile)
        .output()
        .unwrap();
    let flagged: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        !flagged.is_empty(),
        "the control Dockerfile was not flagged"
    );
}

#[test]
fn the_example_dockerfile_runs_as_a_numeric_non_root_user_with_a_health_check() {
    let source = std::fs::read_to_string(example().join("Dockerfile.fullstack")).unwrap();
    let instructions = deploy_tcb::image::dockerfile::parse(&source);
    let stages: Vec<&str> = instructions
        .iter()
        .filter(|i| i.keyword == "FROM")
        .map(|i| i.text.as_str())
        .collect();
    assert_eq!(stages.len(), 2, "multi-stage: {stages:?}");
    assert!(
        stages
            .iter()
            .all(|s| s.contains("python:${PYTHON_VERSION}-slim"))
    );
    assert!(source.contains("ARG PYTHON_VERSION=3.11"));
    let runtime: Vec<_> = instructions.iter().filter(|i| i.stage == 1).collect();
    let user = runtime
        .iter()
        .rev()
        .find(|i| i.keyword == "USER")
        .expect("a USER");
    assert_eq!(user.text, "USER ${APP_UID}:${APP_UID}");
    assert!(source.contains("ARG APP_UID=10001"));
    assert!(runtime.iter().any(|i| i.keyword == "HEALTHCHECK"));
    assert!(
        runtime
            .iter()
            .any(|i| i.text.starts_with("ENTRYPOINT [\"/usr/bin/tini\""))
    );
    for script in [
        "entrypoint",
        "wait-for-services",
        "health-check",
        "graceful-shutdown",
    ] {
        let path = example().join(format!("scripts/{script}.sh"));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(
            mode & 0o111,
            0o111,
            "{script}.sh is executable (COPY keeps the mode)"
        );
        let status = Command::new("bash").arg("-n").arg(&path).status().unwrap();
        assert!(status.success(), "{script}.sh parses");
    }
}

#[test]
fn supervisor_starts_in_dependency_order_and_stops_gracefully() {
    let text = std::fs::read_to_string(example().join("supervisor/supervisord.conf")).unwrap();
    let mut programs: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line
            .strip_prefix("[program:")
            .and_then(|l| l.strip_suffix(']'))
        {
            programs.push((name.to_string(), BTreeMap::new()));
        } else if let (Some((_, keys)), Some((k, v)), false) = (
            programs.last_mut(),
            line.split_once('='),
            line.starts_with(';'),
        ) {
            keys.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    programs.sort_by_key(|(_, keys)| keys["priority"].parse::<u32>().unwrap());
    let order: Vec<&str> = programs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(order, ["postgres", "redis", "label-studio", "api"]);
    let get = |name: &str, key: &str| {
        programs
            .iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1
            .get(key)
            .cloned()
            .unwrap_or_default()
    };
    assert!(get("label-studio", "command").starts_with("wait-for-services.sh postgres --"));
    assert!(get("api", "command").starts_with("wait-for-services.sh postgres redis --"));
    assert_eq!(get("postgres", "stopsignal"), "INT");
    assert!(
        !text.contains("\nuser="),
        "supervisor runs everything as the image's user"
    );
    let shutdown = std::fs::read_to_string(example().join("scripts/graceful-shutdown.sh")).unwrap();
    assert!(shutdown.contains("for program in api label-studio redis postgres"));
}

#[test]
fn the_alert_rules_are_well_formed() {
    let text = std::fs::read_to_string(example().join("monitoring/prometheus-alerts.yml")).unwrap();
    let rules: Value = serde_yaml::from_str(&text).unwrap();
    let mut alerts = BTreeSet::new();
    for group in rules["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            assert!(
                rule["expr"].as_str().is_some_and(|e| !e.trim().is_empty()),
                "{rule}"
            );
            if let Some(alert) = rule["alert"].as_str() {
                let severity = rule["labels"]["severity"].as_str().unwrap_or_default();
                assert!(
                    ["warning", "critical"].contains(&severity),
                    "{alert}: {severity}"
                );
                assert!(rule["for"].as_str().is_some(), "{alert} has `for`");
                assert!(rule["annotations"]["summary"].as_str().is_some(), "{alert}");
                assert!(alerts.insert(alert.to_string()), "duplicate {alert}");
            } else {
                assert!(
                    rule["record"].as_str().is_some_and(|r| r.contains(':')),
                    "{rule}"
                );
            }
        }
    }
    for needed in [
        "SuperInsightApiDown",
        "PostgresDown",
        "RedisDown",
        "LabelStudioDown",
        "SuperInsightHighErrorRate",
    ] {
        assert!(alerts.contains(needed), "missing {needed}");
    }
}

#[test]
fn the_example_workflows_validate_against_the_workflow_schema() {
    if !crate::support::tool_or_skip("check-jsonschema") {
        return;
    }
    let output = Command::new("check-jsonschema")
        .args(["--builtin-schema", "vendor.github-workflows"])
        .args(example_workflows())
        .output()
        .expect("check-jsonschema runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_example_workflows_have_no_high_zizmor_findings() {
    if !crate::support::tool_or_skip("zizmor") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("zizmor.yml");
    // Our own actions by their major tag (as users copy them); everything else by commit hash.
    std::fs::write(
        &config,
        "rules:\n  unpinned-uses:\n    config:\n      policies:\n        \"superinsight/deploy-tcb\": ref-pin\n        \"superinsight/deploy-tcb/*\": ref-pin\n        \"*\": hash-pin\n",
    )
    .unwrap();
    let output = Command::new("zizmor")
        .args([
            "--offline",
            "--persona",
            "pedantic",
            "--format",
            "json",
            "--config",
        ])
        .arg(&config)
        .args(example_workflows())
        .output()
        .expect("zizmor runs");
    let findings: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "zizmor gave no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let serious: Vec<String> = findings
        .iter()
        .filter(|f| {
            matches!(
                f["determinations"]["severity"].as_str(),
                Some("High" | "Medium")
            )
        })
        .map(|f| format!("{} {}", f["ident"], f["determinations"]))
        .collect();
    assert!(serious.is_empty(), "zizmor: {serious:#?}");
}

#[test]
fn the_example_workflows_use_only_declared_inputs_of_our_actions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let inputs_of = |uses: &str| -> Option<BTreeSet<String>> {
        let rest = uses.strip_prefix("superinsight/deploy-tcb")?;
        let path = rest.split('@').next().unwrap().trim_start_matches('/');
        let file = root.join(path).join("action.yml");
        let action: Value = serde_yaml::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        Some(
            action["inputs"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect(),
        )
    };
    let mut used = BTreeSet::new();
    for file in example_workflows() {
        let workflow: Value =
            serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for (job, body) in workflow["jobs"].as_object().unwrap() {
            for step in body["steps"].as_array().into_iter().flatten() {
                let Some(declared) = step["uses"].as_str().and_then(inputs_of) else {
                    continue;
                };
                used.insert(step["uses"].as_str().unwrap().to_string());
                for key in step["with"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k)
                {
                    assert!(
                        declared.contains(key),
                        "{}: job {job} passes unknown input `{key}`",
                        file.display()
                    );
                }
            }
        }
    }
    // The pipeline uses every action of the suite.
    let actions: BTreeSet<&str> = used.iter().map(|u| u.split('@').next().unwrap()).collect();
    assert_eq!(actions.len(), 6, "{actions:?}");
}

/// A stand-in for the Tencent Cloud endpoint (sts and tcr) and the runner's OIDC token
/// endpoint: records each request and answers it by its action.
fn fake_tcr(token: &'static str) -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let request = read_http_request(&mut stream);
            let lower = request.to_ascii_lowercase();
            let body = if request.starts_with("GET /oidc") {
                serde_json::json!({"value": OIDC_TOKEN})
            } else if lower.contains("x-tc-action: assumerolewithwebidentity") {
                serde_json::json!({"Response": {
                    "Credentials": {"Token": STS_TOKEN, "TmpSecretId": "AKIDtemporary0001", "TmpSecretKey": "temporary-secret-key-0001"},
                    "ExpiredTime": 1_900_000_000_u64, "Expiration": "2030-03-17T17:46:40Z", "RequestId": "req-0"
                }})
            } else {
                serde_json::json!({"Response": {
                    "Username": "100012345678", "Token": token, "ExpTime": 1_900_000_000_000_i64,
                    "TokenId": "tok-1", "RequestId": "req-1"
                }})
            }
            .to_string();
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = std::io::Write::write_all(&mut stream, answer.as_bytes());
            if sender.send(request).is_err() {
                return;
            }
        }
    });
    (format!("http://{address}"), receiver)
}

const OIDC_TOKEN: &str = "oidc-jwt-eyJhbGciOiJSUzI1NiJ9-test";
const STS_TOKEN: &str = "sts-session-token-7f3a9c2e";

fn read_http_request(stream: &mut std::net::TcpStream) -> String {
    let mut raw = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = stream.read(&mut buffer).unwrap_or(0);
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&raw);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if raw.len() >= end + 4 + length {
                break;
            }
        }
    }
    String::from_utf8_lossy(&raw).into_owned()
}

#[test]
fn tcr_login_uses_a_temporary_instance_token_and_masks_it() {
    if !engine_tools_or_skip() {
        return;
    }
    const TOKEN: &str = "tcr-temporary-token-5d41402abc4b2a76";
    let (endpoint, requests) = fake_tcr(TOKEN);
    let registry = Registry::start();
    let podman = Podman::start(&[registry.address()]);
    let dir = workspace();
    let runner = tempfile::tempdir().unwrap();
    let repository = format!("{}/superinsight/tcr", registry.address());
    let (output, outputs, _) = run_action(
        dir.path(),
        runner.path(),
        &podman.docker_host(),
        &[
            ("image", &repository),
            ("target", "base"),
            ("tags", "tcr"),
            ("tag_rules", "sha"),
            ("push", "true"),
            ("tcr_instance_id", "tcr-abc123"),
            ("secret_id", "AKIDtestsecretid0001"),
            ("secret_key", "test-secret-key-0001"),
            ("tcb_endpoint", &endpoint),
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let request = requests
        .recv_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    assert!(
        request.contains("X-TC-Action: CreateInstanceToken")
            || request
                .to_ascii_lowercase()
                .contains("x-tc-action: createinstancetoken"),
        "{request}"
    );
    assert!(
        request.contains("\"RegistryId\":\"tcr-abc123\""),
        "{request}"
    );
    assert!(
        request.contains("Credential=AKIDtestsecretid0001/"),
        "signed with the keys: {request}"
    );
    let shown: String = stdout
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    for secret in [TOKEN, "test-secret-key-0001"] {
        assert!(
            !shown.contains(secret) && !stderr.contains(secret),
            "{secret} leaked"
        );
    }
    assert!(
        stdout.contains(&format!("::add-mask::{TOKEN}")),
        "the token is masked"
    );
    let manifest = registry.manifest("superinsight/tcr", "tcr");
    assert_eq!(
        manifest.header("Docker-Content-Digest"),
        Some(outputs["digest"].as_str())
    );
    podman.remove_images(&[
        format!("{repository}:tcr"),
        format!("{repository}:sha-4f2d0c1"),
    ]);
}

/// Entry names of a tar (directories end with `/`), in archive order.
fn tar_names(bytes: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let entry = e.unwrap();
            let mut name = entry.path().unwrap().to_string_lossy().into_owned();
            if entry.header().entry_type().is_dir() && !name.ends_with('/') {
                name.push('/');
            }
            name
        })
        .collect()
}

#[test]
fn the_context_matches_the_docker_cli_upload_entry_for_entry() {
    if !crate::support::tool_or_skip("docker") {
        return;
    }
    // A tree and a .dockerignore that exercise the matcher's corners.
    let dir = tempfile::tempdir().unwrap();
    let files = [
        "Dockerfile",
        "README.md",
        "CHANGES.md",
        "notes.txt",
        "important-notes.txt",
        "a/b/c/deep.md",
        "a/x/b/keep.py",
        "a/b/skip.py",
        "docs/guide.md",
        "docs/api/ref.md",
        "docs/img/logo.png",
        "logs/app.log",
        "logs/keep/important.log",
        "build/out.o",
        "build/keep.txt",
        "src/main.rs",
        "src/gen/schema.rs",
        "src/gen/cache.tmp",
        "temp1",
        "temp12",
        "space name.txt",
        ".env",
        ".git/HEAD",
        "node_modules/x/index.js",
        "vendor/lib/code.c",
        "vendor/lib/LICENSE",
    ];
    for file in files {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, file).unwrap();
    }
    std::fs::write(
        dir.path().join(".dockerignore"),
        "# corner cases\n*.md\n!README.md\n*.txt\n!important*.txt\n/docs/\n!docs/*.md\n\
         logs\n!logs/keep\n**/*.tmp\nbuild/*\n!build/keep.txt\na/**/b\ntemp?\n./.env\n.git\n\
         node_modules/\nvendor\n!vendor/lib/LICENSE\nDockerfile\n",
    )
    .unwrap();
    let engine = crate::support::registry::CaptureEngine::start();
    let docker = Command::new("docker")
        .args(["build", "-q", "-t", "capture/docker", "."])
        .current_dir(dir.path())
        .env("DOCKER_HOST", engine.docker_host())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .expect("docker runs");
    assert!(
        docker.status.success(),
        "{}",
        String::from_utf8_lossy(&docker.stderr)
    );
    let runner = tempfile::tempdir().unwrap();
    let (ours, _, _) = run_action(
        dir.path(),
        runner.path(),
        &engine.docker_host(),
        &[("image", "capture/ours"), ("tags", "t"), ("tag_rules", "")],
        &[],
    );
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stdout)
    );
    let uploads = engine.uploads();
    assert_eq!(uploads.len(), 2);
    let (from_docker, from_us) = (tar_names(&uploads[0]), tar_names(&uploads[1]));
    assert_eq!(from_us, from_docker, "deploy-tcb vs the docker CLI");
    // And the expectations in plain words, so a change in both is noticed too.
    for kept in [
        "README.md",
        "important-notes.txt",
        "docs/guide.md",
        "logs/keep/important.log",
        "build/keep.txt",
        "vendor/lib/LICENSE",
        "temp12",
        "Dockerfile",
        ".dockerignore",
    ] {
        assert!(
            from_us.iter().any(|n| n == kept),
            "{kept} kept: {from_us:?}"
        );
    }
    for dropped in [
        "CHANGES.md",
        "notes.txt",
        "docs/api/ref.md",
        "logs/app.log",
        "build/out.o",
        "a/b/skip.py",
        "temp1",
        ".env",
        "src/gen/cache.tmp",
        "a/x/b/keep.py",
    ] {
        assert!(
            !from_us.iter().any(|n| n == dropped),
            "{dropped} dropped: {from_us:?}"
        );
    }
}

#[test]
fn keyless_tcr_login_exchanges_the_oidc_token_through_sts() {
    if !engine_tools_or_skip() {
        return;
    }
    const TOKEN: &str = "tcr-keyless-token-8e2f61a0c9d4";
    let (endpoint, requests) = fake_tcr(TOKEN);
    let registry = Registry::start();
    let podman = Podman::start(&[registry.address()]);
    let dir = workspace();
    let runner = tempfile::tempdir().unwrap();
    let repository = format!("{}/superinsight/keyless", registry.address());
    let mut command = Command::new(crate::support::binary());
    command
        .args(["build-image", "--image", &repository, "--target", "base"])
        .args(["--tags", "k", "--tag-rules", "", "--push", "true"])
        .args([
            "--tcr-instance-id",
            "tcr-abc123",
            "--tcb-endpoint",
            &endpoint,
        ])
        .args(["--role-arn", "qcs::cam::uin/100012345678:roleName/deploy"])
        .args(["--provider-id", "github"])
        .current_dir(dir.path())
        .env("DOCKER_HOST", podman.docker_host())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", runner.path().join("output"))
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{endpoint}/oidc?api-version=2.0"),
        )
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "runner-request-token-31d9",
        );
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Vec<String> = requests.try_iter().collect();
    assert_eq!(seen.len(), 3, "oidc, sts, tcr: {seen:#?}");
    assert!(
        seen[0].contains("audience=sts.tencentcloudapi.com"),
        "{}",
        seen[0]
    );
    assert!(
        seen[0].contains("Bearer runner-request-token-31d9"),
        "{}",
        seen[0]
    );
    assert!(
        seen[1].contains(OIDC_TOKEN),
        "the OIDC token goes to sts: {}",
        seen[1]
    );
    assert!(
        seen[2].contains("Credential=AKIDtemporary0001/"),
        "{}",
        seen[2]
    );
    assert!(
        seen[2]
            .to_ascii_lowercase()
            .contains(&format!("x-tc-token: {}", STS_TOKEN.to_ascii_lowercase())),
        "{}",
        seen[2]
    );
    let shown: String = stdout
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    for secret in [
        TOKEN,
        OIDC_TOKEN,
        STS_TOKEN,
        "temporary-secret-key-0001",
        "runner-request-token-31d9",
    ] {
        assert!(!shown.contains(secret), "{secret} leaked: {stdout}");
    }
    let outputs = crate::support::runner::parse_outputs(
        &std::fs::read_to_string(runner.path().join("output")).unwrap(),
    );
    let manifest = registry.manifest("superinsight/keyless", "k");
    assert_eq!(
        manifest.header("Docker-Content-Digest"),
        Some(outputs["digest"].as_str())
    );
    podman.remove_images(&[format!("{repository}:k")]);
}
