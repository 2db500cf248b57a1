//! `deploy-tcb build-image` against a real engine and a real registry: podman's
//! Docker-compatible API (started by the test) builds, and `docker-registry` on loopback
//! receives the push. Nothing is pulled: every stage is `FROM scratch` and copies files.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::process::Command;

use deploy_tcb::image::context::{BuildContext, Kind};
use serde_json::Value;

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

/// Runs the binary as the runner would: inputs and context in the environment.
fn run_action(
    workspace: &Path,
    runner: &Path,
    docker_host: &str,
    inputs: &[(&str, &str)],
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
    let output = command.output().expect("deploy-tcb runs");
    let outputs = parse_outputs(&std::fs::read_to_string(&output_file).unwrap_or_default());
    let summary = std::fs::read_to_string(&summary_file).unwrap_or_default();
    (output, outputs, summary)
}

/// Reads `GITHUB_OUTPUT`: `k=v` lines and `k<<DELIM` heredocs.
fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut outputs = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delimiter).collect();
            outputs.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            outputs.insert(name.to_string(), value.to_string());
        }
    }
    outputs
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
        Some("https://github.com/superinsight/superinsight")
    );
    assert_eq!(label("revision").as_deref(), Some(SHA));
    assert_eq!(label("version").as_deref(), Some("1.2.3"));
    assert_eq!(label("title").as_deref(), Some("superinsight"));
    assert_eq!(label("licenses").as_deref(), Some("Apache-2.0"));
    assert!(label("created").is_some_and(|c| c.ends_with('Z')));
    assert_eq!(labels["com.example.team"], "platform");
    assert_eq!(labels["stage"], "final");

    // The summary: tags, digest, size and layers by size.
    assert!(summary.contains(digest.as_str()), "{summary}");
    assert!(!summary.contains(PASSWORD));
    assert!(summary.contains(&format!("`{repository}:latest`")));
    assert!(summary.contains("| Layer size | Created by |"), "{summary}");
}

#[test]
fn a_failed_step_is_annotated_on_its_dockerfile_line() {
    if !engine_tools_or_skip() {
        return;
    }
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
        let (output, _, _) = run_action(dir.path(), runner.path(), "unix:///nonexistent", inputs);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(2), "{inputs:?}: {stdout}");
        assert!(stdout.contains(expected), "{inputs:?}: {stdout}");
    }
}
