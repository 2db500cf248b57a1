//! The action metadata is one contract with the CLI. Every `action.yml` declares exactly its
//! subcommand's flags (names, required, defaults), validates against GitHub's action schema, and
//! the READMEs and example workflows are kept in step with it.
//!
//! The README tables and workflow listings are generated from the metadata: after changing an
//! `action.yml` or an example, run `UPDATE_README=1 cargo test --test integration metadata::`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::ArgAction;
use regex::Regex;
use serde::Deserialize;

use crate::support;

/// The published action image every `action.yml` runs.
const IMAGE: &str = "docker://ghcr.io/superinsight/deploy-tcb:v1";

/// The repository users write in `uses:`.
const REPOSITORY: &str = "superinsight/deploy-tcb";

/// The outputs the issues promise for each action; an `action.yml` may declare more.
const PROMISED_OUTPUTS: [(&str, &[&str]); 6] = [
    (
        "deploy",
        &[
            "version_name",
            "previous_version",
            "url",
            "task_id",
            "plan",
            "result",
        ],
    ),
    ("build-image", &["image", "digest", "tags", "size"]),
    (
        "security-scan",
        &[
            "verdict", "reason", "findings", "critical", "high", "medium", "low", "sarif",
        ],
    ),
    (
        "canary-promote",
        &["result", "final_traffic", "failed_check"],
    ),
    ("rollback", &["version_name", "previous_version", "result"]),
    (
        "release-semver",
        &[
            "version",
            "previous_version",
            "bump",
            "tag",
            "changelog",
            "released",
        ],
    ),
];

/// Contexts the runner allows in input defaults.
const DEFAULT_CONTEXTS: [&str; 6] = ["github", "strategy", "matrix", "job", "runner", "hashFiles"];

// ---------------------------------------------------------------------------------------------
// Reading action.yml

#[derive(Debug, Deserialize)]
struct RawAction {
    name: String,
    description: String,
    #[serde(default)]
    inputs: serde_yaml::Mapping,
    #[serde(default)]
    outputs: serde_yaml::Mapping,
    runs: Runs,
    branding: Option<Branding>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    description: String,
    #[serde(default)]
    required: bool,
    default: Option<String>,
    #[serde(rename = "deprecationMessage")]
    deprecation_message: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Output {
    description: String,
}

#[derive(Debug, Deserialize)]
struct Runs {
    using: String,
    image: String,
    #[serde(default)]
    args: Vec<String>,
    entrypoint: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Branding {
    icon: Option<String>,
    color: Option<String>,
}

/// One parsed `action.yml`, its inputs and outputs in file order.
#[derive(Debug)]
struct Action {
    file: String,
    raw: RawAction,
    inputs: Vec<(String, Input)>,
    outputs: Vec<(String, Output)>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `deploy` is the root action; every other action lives in `actions/<subcommand>/`.
fn action_file(subcommand: &str) -> String {
    match subcommand {
        "deploy" => "action.yml".to_string(),
        name => format!("actions/{name}/action.yml"),
    }
}

fn all_action_files() -> Vec<String> {
    deploy_tcb::cli::Command::ACTIONS
        .iter()
        .map(|s| action_file(s))
        .collect()
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative))
        .unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

fn parse_action(file: &str, text: &str) -> Result<Action, String> {
    let raw: RawAction =
        serde_yaml::from_str(text).map_err(|e| format!("{file}: not a valid action.yml: {e}"))?;
    let inputs = entries(file, "input", &raw.inputs)?;
    let outputs = entries(file, "output", &raw.outputs)?;
    Ok(Action {
        file: file.to_string(),
        raw,
        inputs,
        outputs,
    })
}

fn entries<T: serde::de::DeserializeOwned>(
    file: &str,
    kind: &str,
    map: &serde_yaml::Mapping,
) -> Result<Vec<(String, T)>, String> {
    map.iter()
        .map(|(key, value)| {
            let name = key
                .as_str()
                .ok_or_else(|| format!("{file}: {kind} name {key:?} is not a string"))?;
            let parsed = serde_yaml::from_value(value.clone())
                .map_err(|e| format!("{file}: {kind} `{name}`: {e}"))?;
            Ok((name.to_string(), parsed))
        })
        .collect()
}

fn load_action(subcommand: &str) -> Action {
    let file = action_file(subcommand);
    parse_action(&file, &read(&file)).unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------------------------
// Comparing with the CLI

/// A flag of an action subcommand, as clap describes it.
struct Flag {
    id: String,
    long: Option<String>,
    required: bool,
    default: Option<String>,
    secret: bool,
}

fn cli_flags(subcommand: &str) -> Vec<Flag> {
    let cli = deploy_tcb::cli::command();
    let sub = cli
        .find_subcommand(subcommand)
        .unwrap_or_else(|| panic!("the CLI has no `{subcommand}` subcommand"));
    sub.get_arguments()
        .filter(|arg| !matches!(arg.get_action(), ArgAction::Help | ArgAction::Version))
        .map(|arg| {
            let defaults = arg.get_default_values();
            Flag {
                id: arg.get_id().to_string(),
                long: arg.get_long().map(str::to_string),
                required: arg.is_required_set(),
                default: (!defaults.is_empty()).then(|| {
                    defaults
                        .iter()
                        .map(|v| v.to_string_lossy())
                        .collect::<Vec<_>>()
                        .join(",")
                }),
                secret: arg.is_hide_env_values_set(),
            }
        })
        .collect()
}

fn is_snake_case(name: &str) -> bool {
    Regex::new(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
        .unwrap()
        .is_match(name)
}

/// `${{ github.token }}` → `Some("github")`.
fn expression_context(value: &str) -> Option<String> {
    let inner = value.trim().strip_prefix("${{")?.strip_suffix("}}")?.trim();
    let end = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    Some(inner[..end].to_string())
}

/// Every way `action` disagrees with `deploy-tcb <subcommand>` or with the metadata rules,
/// each naming the file, the input or output, and the difference.
fn differences(subcommand: &str, action: &Action, flags: &[Flag]) -> Vec<String> {
    let mut problems = Vec::new();
    let file = &action.file;
    let mut report = |problem: String| problems.push(format!("{file}: {problem}"));

    for (name, input) in &action.inputs {
        let Some(flag) = flags.iter().find(|f| &f.id == name) else {
            report(format!(
                "input `{name}` is not a flag of `deploy-tcb {subcommand}`; remove it from \
                 action.yml or add --{} to src/cli.rs",
                name.replace('_', "-")
            ));
            continue;
        };
        input_differences(name, input, flag)
            .into_iter()
            .for_each(|p| report(format!("input `{name}`: {p}")));
    }
    for flag in flags {
        if !action.inputs.iter().any(|(name, _)| name == &flag.id) {
            report(format!(
                "input `{}` is missing: `deploy-tcb {subcommand}` has --{} (required: {}, default: {:?})",
                flag.id,
                flag.long.as_deref().unwrap_or("?"),
                flag.required,
                flag.default
            ));
        }
    }
    for (name, output) in &action.outputs {
        if !is_snake_case(name) {
            report(format!("output `{name}` is not snake_case"));
        }
        if output.description.trim().is_empty() {
            report(format!("output `{name}` has no description"));
        }
    }
    let promised = PROMISED_OUTPUTS
        .iter()
        .find(|(s, _)| *s == subcommand)
        .map_or(&[][..], |(_, outputs)| *outputs);
    for output in promised {
        if !action.outputs.iter().any(|(name, _)| name == output) {
            report(format!(
                "output `{output}` is missing (the issue promises it)"
            ));
        }
    }
    runs_differences(subcommand, &action.raw)
        .into_iter()
        .for_each(&mut report);
    problems
}

fn input_differences(name: &str, input: &Input, flag: &Flag) -> Vec<String> {
    let mut problems = Vec::new();
    if !is_snake_case(name) {
        problems.push("the name is not snake_case (the runner keeps hyphens in INPUT_*, which breaks Docker actions)".to_string());
    }
    let expected_long = name.replace('_', "-");
    if flag.long.as_deref() != Some(expected_long.as_str()) {
        problems.push(format!(
            "the CLI flag is {:?}, expected --{expected_long}",
            flag.long
        ));
    }
    if input.description.trim().is_empty() {
        problems.push("no description".to_string());
    }
    if input.description.contains("${{") {
        problems.push("the description holds an expression, which the runner rejects".to_string());
    }
    if flag.secret && !input.description.to_lowercase().contains("mask") {
        problems.push("a secret input whose description does not say it is masked".to_string());
    }
    if input.required != flag.required {
        problems.push(format!(
            "required is {} in action.yml but {} in the CLI",
            input.required, flag.required
        ));
    }
    if input.required && input.default.is_some() {
        problems.push("required and with a default: one of them is wrong".to_string());
    }
    if let Some(problem) = default_difference(input.default.as_deref(), flag.default.as_deref()) {
        problems.push(problem);
    }
    if input.deprecation_message.is_some() {
        problems.push("deprecated inputs are not expected in v1".to_string());
    }
    problems
}

fn default_difference(yml: Option<&str>, cli: Option<&str>) -> Option<String> {
    match (yml, cli) {
        (Some(y), Some(c)) if y == c => None,
        (Some(y), Some(c)) => Some(format!(
            "default is {y:?} in action.yml but {c:?} in the CLI"
        )),
        (None, Some(c)) => Some(format!(
            "the CLI defaults to {c:?} but action.yml has no default"
        )),
        (Some(y), None) => match expression_context(y) {
            Some(context) if DEFAULT_CONTEXTS.contains(&context.as_str()) => None,
            Some(context) => Some(format!(
                "default {y:?} uses the `{context}` context, which input defaults cannot read"
            )),
            None => Some(format!(
                "default is {y:?} in action.yml but the CLI has no default"
            )),
        },
        (None, None) => None,
    }
}

fn runs_differences(subcommand: &str, raw: &RawAction) -> Vec<String> {
    let mut problems = Vec::new();
    if raw.name.trim().is_empty() || raw.description.trim().is_empty() {
        problems.push("name and description must not be empty".to_string());
    }
    if raw.runs.using != "docker" {
        problems.push(format!(
            "runs.using is {:?}, expected docker",
            raw.runs.using
        ));
    }
    if raw.runs.image != IMAGE {
        problems.push(format!(
            "runs.image is {:?}, expected the published image {IMAGE}",
            raw.runs.image
        ));
    }
    if raw.runs.args != [subcommand] {
        problems.push(format!(
            "runs.args is {:?}, expected [{subcommand}]",
            raw.runs.args
        ));
    }
    if let Some(entrypoint) = &raw.runs.entrypoint {
        problems.push(format!(
            "runs.entrypoint {entrypoint:?} overrides the image's deploy-tcb entrypoint"
        ));
    }
    match &raw.branding {
        Some(Branding {
            icon: Some(_),
            color: Some(_),
        }) => {}
        _ => problems.push("branding needs an icon and a color".to_string()),
    }
    problems
}

#[test]
fn the_cli_definition_passes_clap_s_own_checks() {
    // Debug builds run these lazily, when a subcommand is first parsed; run them for all now.
    deploy_tcb::cli::command().debug_assert();
}

#[test]
fn every_action_yml_matches_its_cli_subcommand() {
    let problems: Vec<String> = deploy_tcb::cli::Command::ACTIONS
        .iter()
        .flat_map(|sub| differences(sub, &load_action(sub), &cli_flags(sub)))
        .collect();
    assert!(
        problems.is_empty(),
        "action.yml and the CLI disagree:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn a_drifted_action_yml_is_reported_with_file_input_and_difference() {
    let mut yaml: serde_yaml::Value = serde_yaml::from_str(&read("action.yml")).unwrap();
    let inputs = yaml["inputs"].as_mapping_mut().unwrap();
    inputs.remove("service");
    inputs["traffic"]["default"] = "20".into();
    inputs["env_id"]["required"] = true.into();
    inputs.insert(
        "health-timeout".into(),
        serde_yaml::from_str("{description: hyphenated}").unwrap(),
    );
    inputs["region"]["default"] = "${{ secrets.REGION }}".into();
    yaml["runs"]["args"] = serde_yaml::from_str("[rollback]").unwrap();
    let text = serde_yaml::to_string(&yaml).unwrap();

    let action = parse_action("action.yml", &text).unwrap();
    let problems = differences("deploy", &action, &cli_flags("deploy")).join("\n");

    for expected in [
        "action.yml: input `service` is missing: `deploy-tcb deploy` has --service",
        "action.yml: input `traffic`: default is \"20\" in action.yml but \"10\" in the CLI",
        "action.yml: input `env_id`: required is true in action.yml but false in the CLI",
        "action.yml: input `health-timeout` is not a flag of `deploy-tcb deploy`",
        "action.yml: input `region`: default is \"${{ secrets.REGION }}\" in action.yml but \"ap-shanghai\" in the CLI",
        "action.yml: runs.args is [\"rollback\"], expected [deploy]",
    ] {
        assert!(
            problems.contains(expected),
            "expected {expected:?} among:\n{problems}"
        );
    }
}

#[test]
fn expression_defaults_are_allowed_only_for_readable_contexts() {
    assert_eq!(default_difference(Some("${{ github.token }}"), None), None);
    assert!(
        default_difference(Some("${{ secrets.TOKEN }}"), None)
            .unwrap()
            .contains("`secrets` context")
    );
    assert!(default_difference(Some("x"), None).is_some());
    assert!(default_difference(None, Some("")).is_some());
    assert_eq!(default_difference(Some(""), Some("")), None);
}

// ---------------------------------------------------------------------------------------------
// Schema validation with check-jsonschema (vendored SchemaStore schemas, offline)

#[derive(Debug, Deserialize)]
struct SchemaReport {
    status: String,
    #[serde(default)]
    errors: Vec<SchemaError>,
    #[serde(default)]
    parse_errors: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct SchemaError {
    filename: String,
    path: String,
    message: String,
}

fn check_jsonschema(schema: &str, files: &[PathBuf]) -> SchemaReport {
    let output = Command::new("check-jsonschema")
        .args(["--builtin-schema", schema, "--output-format", "json"])
        .args(files)
        .output()
        .expect("check-jsonschema runs");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "check-jsonschema gave no JSON report ({e}):\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Validates `files` and a known-bad control file together: the files must pass and the control
/// must fail on `control_path`, which proves the schema was really applied.
fn assert_valid_with_control(schema: &str, files: Vec<PathBuf>, control: &str, control_path: &str) {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("control.yml");
    std::fs::write(&bad, control).unwrap();
    let mut all = files.clone();
    all.push(bad.clone());
    let report = check_jsonschema(schema, &all);

    assert!(report.parse_errors.is_empty(), "{:?}", report.parse_errors);
    let real: Vec<String> = report
        .errors
        .iter()
        .filter(|e| Path::new(&e.filename) != bad)
        .map(|e| format!("{}: {}: {}", e.filename, e.path, e.message))
        .collect();
    assert!(
        real.is_empty(),
        "{schema} rejects:\n  {}",
        real.join("\n  ")
    );
    assert_eq!(report.status, "fail", "the control file must fail");
    assert!(
        report
            .errors
            .iter()
            .any(|e| Path::new(&e.filename) == bad && e.path.starts_with(control_path)),
        "the control file failed for another reason: {:?}",
        report.errors
    );
}

#[test]
fn every_action_yml_validates_against_the_github_action_schema() {
    if !support::tool_or_skip("check-jsonschema") {
        return;
    }
    let files = all_action_files().iter().map(|f| root().join(f)).collect();
    let control = read("action.yml").replace("color: blue", "color: pink");
    assert_valid_with_control("vendor.github-actions", files, &control, "$.branding.color");
}

fn example_workflows() -> Vec<PathBuf> {
    workflows_in("examples/workflows")
}

/// The copy-paste examples plus this repository's own workflows (CI and its release, which
/// runs our release-semver action from the checkout).
fn all_workflows() -> Vec<PathBuf> {
    let mut files = example_workflows();
    files.extend(workflows_in(".github/workflows"));
    files
}

fn workflows_in(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

#[test]
fn example_workflows_validate_against_the_github_workflow_schema() {
    if !support::tool_or_skip("check-jsonschema") {
        return;
    }
    let files = all_workflows();
    assert!(!files.is_empty(), "examples/workflows has no .yml file");
    let control = "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n";
    assert_valid_with_control("vendor.github-workflows", files, control, "$.jobs.x");
}

/// Our own actions are referenced by their moving major tag in copy-paste examples (users pin
/// them as they like); everything else must be pinned by commit hash.
const ZIZMOR_POLICY: &str = r#"rules:
  unpinned-uses:
    config:
      policies:
        "superinsight/deploy-tcb": ref-pin
        "superinsight/deploy-tcb/*": ref-pin
        "*": hash-pin
"#;

#[derive(Debug, Deserialize)]
struct ZizmorFinding {
    ident: String,
    determinations: serde_json::Value,
    locations: Vec<serde_json::Value>,
}

impl ZizmorFinding {
    fn file(&self) -> String {
        self.locations
            .first()
            .and_then(|l| l.pointer("/symbolic/key/Local/verbatim_path"))
            .and_then(|p| p.as_str())
            .unwrap_or_default()
            .to_string()
    }
}

#[test]
fn example_workflows_have_no_zizmor_findings() {
    if !support::tool_or_skip("zizmor") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("zizmor.yml");
    std::fs::write(&config, ZIZMOR_POLICY).unwrap();
    // A control with a template injection proves the audits really ran.
    let control = dir.path().join("control.yml");
    std::fs::write(
        &control,
        "name: control\non: pull_request\npermissions: {}\njobs:\n  x:\n    name: x\n    \
         runs-on: ubuntu-latest\n    steps:\n      - name: greet\n        \
         run: echo \"${{ github.event.pull_request.title }}\"\n",
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
        .arg(&control)
        .output()
        .expect("zizmor runs");
    let findings: Vec<ZizmorFinding> = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "zizmor gave no JSON report ({e}):\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let control_name = control.display().to_string();
    let (in_control, in_examples): (Vec<_>, Vec<_>) =
        findings.iter().partition(|f| f.file() == control_name);
    assert!(
        in_examples.is_empty(),
        "zizmor findings in examples/workflows:\n{}",
        in_examples
            .iter()
            .map(|f| format!("  {} {}: {}", f.file(), f.ident, f.determinations))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        in_control.iter().any(|f| f.ident == "template-injection"),
        "the control workflow was not flagged: {findings:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Workflows and README snippets use only what the actions declare

/// The action a `uses:` value refers to, when it is one of ours.
fn our_action(uses: &str) -> Option<Result<String, String>> {
    // `./actions/<name>` is this repository's own checkout using its actions.
    let path = match uses.strip_prefix('.') {
        Some(local) => local.trim_end_matches('/'),
        None => uses.strip_prefix(REPOSITORY)?,
    };
    let (path, _version) = path.split_once('@').unwrap_or((path, ""));
    Some(match path {
        "" => Ok("deploy".to_string()),
        sub => match sub.strip_prefix("/actions/") {
            Some(name) if deploy_tcb::cli::Command::ACTIONS.contains(&name) && name != "deploy" => {
                Ok(name.to_string())
            }
            _ => Err(format!("`uses: {uses}` is not one of the six actions")),
        },
    })
}

/// A step that uses one of our actions.
struct OurStep {
    id: Option<String>,
    /// The action's subcommand, or why the `uses:` names none of them.
    action: Result<String, String>,
    /// The keys of its `with:`.
    with: Vec<String>,
}

/// Collects every step that uses one of our actions.
fn our_steps(value: &serde_yaml::Value, found: &mut Vec<OurStep>) {
    match value {
        serde_yaml::Value::Mapping(map) => {
            if let Some(action) = map
                .get("uses")
                .and_then(|u| u.as_str())
                .and_then(our_action)
            {
                let id = map.get("id").and_then(|v| v.as_str()).map(str::to_string);
                let with = map
                    .get("with")
                    .and_then(|w| w.as_mapping())
                    .map(|w| {
                        w.keys()
                            .filter_map(|k| k.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                found.push(OurStep { id, action, with });
            }
            map.values().for_each(|v| our_steps(v, found));
        }
        serde_yaml::Value::Sequence(items) => items.iter().for_each(|v| our_steps(v, found)),
        _ => {}
    }
}

/// Checks one workflow or snippet: every `with:` key is an input, every required input is given,
/// and every `steps.<id>.outputs.<name>` of one of our steps is a declared output.
fn usage_problems(origin: &str, text: &str) -> (Vec<String>, BTreeSet<String>) {
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    let value: serde_yaml::Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => return (vec![format!("{origin}: not valid YAML: {e}")], used),
    };
    let mut steps = Vec::new();
    our_steps(&value, &mut steps);
    let mut ids = Vec::new();
    for OurStep { id, action, with } in steps {
        let action = match action {
            Ok(a) => a,
            Err(e) => {
                problems.push(format!("{origin}: {e}"));
                continue;
            }
        };
        let meta = load_action(&action);
        for key in &with {
            if !meta.inputs.iter().any(|(name, _)| name == key) {
                problems.push(format!("{origin}: `{action}` has no input `{key}`"));
            }
        }
        for (name, input) in &meta.inputs {
            if input.required && !with.contains(name) {
                problems.push(format!(
                    "{origin}: `{action}` needs the required input `{name}`"
                ));
            }
        }
        if let Some(id) = id {
            ids.push((id, meta));
        }
        used.insert(action);
    }
    let reference = Regex::new(r"steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)").unwrap();
    for capture in reference.captures_iter(text) {
        let Some((_, meta)) = ids.iter().find(|(id, _)| *id == capture[1]) else {
            continue;
        };
        if !meta.outputs.iter().any(|(name, _)| *name == capture[2]) {
            problems.push(format!(
                "{origin}: step `{}` ({}) has no output `{}`",
                &capture[1], meta.file, &capture[2]
            ));
        }
    }
    (problems, used)
}

fn readme_files() -> Vec<String> {
    std::iter::once("README.md".to_string())
        .chain(
            deploy_tcb::cli::Command::ACTIONS
                .iter()
                .filter(|s| **s != "deploy")
                .map(|s| format!("actions/{s}/README.md")),
        )
        .collect()
}

/// The fenced ```yaml blocks of a markdown file.
fn yaml_blocks(markdown: &str) -> Vec<String> {
    let fence = Regex::new(r"(?s)```ya?ml\n(.*?)```").unwrap();
    fence
        .captures_iter(markdown)
        .map(|c| c[1].to_string())
        .collect()
}

#[test]
fn workflows_and_readme_snippets_use_only_declared_inputs_and_outputs() {
    let mut problems = Vec::new();
    let mut used_by_examples = BTreeSet::new();
    for file in all_workflows() {
        let origin = file.strip_prefix(root()).unwrap().display().to_string();
        let (p, used) = usage_problems(&origin, &std::fs::read_to_string(&file).unwrap());
        problems.extend(p);
        used_by_examples.extend(used);
    }
    for readme in readme_files() {
        for (i, block) in yaml_blocks(&read(&readme)).iter().enumerate() {
            let (p, _) = usage_problems(&format!("{readme} yaml block {}", i + 1), block);
            problems.extend(p);
        }
    }
    for action in deploy_tcb::cli::Command::ACTIONS {
        if !used_by_examples.contains(action) {
            problems.push(format!("no example workflow uses `{action}`"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn usage_check_catches_unknown_inputs_missing_required_ones_and_unknown_outputs() {
    let snippet = "\
- id: scan
  uses: superinsight/deploy-tcb/actions/security-scan@v1
  with:
    fail-on: high
- run: echo ${{ steps.scan.outputs.verdict }} ${{ steps.scan.outputs.nope }}
- uses: superinsight/deploy-tcb/actions/deploy@v1
";
    let (problems, _) = usage_problems("snippet", snippet);
    let problems = problems.join("\n");
    for expected in [
        "snippet: `security-scan` has no input `fail-on`",
        "snippet: `security-scan` needs the required input `reports`",
        "snippet: step `scan` (actions/security-scan/action.yml) has no output `nope`",
        "is not one of the six actions",
    ] {
        assert!(
            problems.contains(expected),
            "expected {expected:?} in:\n{problems}"
        );
    }
    assert!(!problems.contains("`verdict`"), "{problems}");
}

// ---------------------------------------------------------------------------------------------
// Generated README blocks

const BEGIN: &str = "<!-- BEGIN GENERATED ";
const END: &str = "<!-- END GENERATED -->";

/// Markdown table cell text: pipes escaped, newlines folded.
fn cell(text: &str) -> String {
    text.trim().replace('|', "\\|").replace('\n', " ")
}

fn inputs_table(action: &Action) -> String {
    let mut table =
        String::from("| Input | Required | Default | Description |\n|---|---|---|---|\n");
    for (name, input) in &action.inputs {
        let default = match input.default.as_deref() {
            None => String::new(),
            Some("") => "`\"\"`".to_string(),
            Some(value) => format!("`{}`", cell(value)),
        };
        let required = if input.required { "**yes**" } else { "no" };
        table.push_str(&format!(
            "| `{name}` | {required} | {default} | {} |\n",
            cell(&input.description)
        ));
    }
    table
}

fn outputs_table(action: &Action) -> String {
    let mut table = String::from("| Output | Description |\n|---|---|\n");
    for (name, output) in &action.outputs {
        table.push_str(&format!("| `{name}` | {} |\n", cell(&output.description)));
    }
    table
}

/// The content of a generated block: `inputs <action.yml>`, `outputs <action.yml>` or
/// `workflow <examples/workflows/x.yml>`.
fn render_block(spec: &str) -> Result<String, String> {
    let (kind, path) = spec
        .split_once(' ')
        .ok_or_else(|| format!("generated block `{spec}` needs a kind and a path"))?;
    let action = |path: &str| {
        let sub = all_action_files()
            .iter()
            .zip(deploy_tcb::cli::Command::ACTIONS)
            .find(|(file, _)| *file == path)
            .map(|(_, sub)| sub)
            .ok_or_else(|| format!("`{path}` is not an action.yml"))?;
        Ok::<_, String>(load_action(sub))
    };
    match kind {
        "inputs" => Ok(inputs_table(&action(path)?)),
        "outputs" => Ok(outputs_table(&action(path)?)),
        "workflow" => Ok(format!("```yaml\n{}```\n", read(path))),
        other => Err(format!("unknown generated block kind `{other}`")),
    }
}

/// Regenerates every `<!-- BEGIN GENERATED kind path -->` … `<!-- END GENERATED -->` block.
fn regenerate(markdown: &str) -> Result<(String, Vec<String>), String> {
    let mut out = String::new();
    let mut specs = Vec::new();
    let mut rest = markdown;
    while let Some(start) = rest.find(BEGIN) {
        let header_end = start
            + rest[start..]
                .find("-->\n")
                .ok_or("unterminated BEGIN marker")?
            + 4;
        let spec = rest[start + BEGIN.len()..header_end - 4].trim().to_string();
        let end = rest[header_end..]
            .find(END)
            .ok_or_else(|| format!("block `{spec}` has no END marker"))?
            + header_end;
        out.push_str(&rest[..header_end]);
        out.push_str(&render_block(&spec)?);
        specs.push(spec);
        rest = &rest[end..];
    }
    out.push_str(rest);
    Ok((out, specs))
}

#[test]
fn readme_tables_and_workflows_are_generated_from_the_metadata() {
    let update = std::env::var("UPDATE_README").is_ok_and(|v| v == "1");
    let mut problems = Vec::new();
    for readme in readme_files() {
        let text = read(&readme);
        let (fresh, specs) = regenerate(&text).unwrap_or_else(|e| panic!("{readme}: {e}"));
        let own = if readme == "README.md" {
            "action.yml".to_string()
        } else {
            readme.replace("README.md", "action.yml")
        };
        for kind in ["inputs", "outputs"] {
            if !specs.contains(&format!("{kind} {own}")) {
                problems.push(format!("{readme}: no generated `{kind} {own}` table"));
            }
        }
        if !specs.iter().any(|s| s.starts_with("workflow ")) {
            problems.push(format!("{readme}: no generated copy-paste workflow"));
        }
        if fresh != text {
            if update {
                std::fs::write(root().join(&readme), fresh).unwrap();
            } else {
                problems.push(format!(
                    "{readme} is out of date with the metadata; run \
                     `UPDATE_README=1 cargo test --test integration metadata::`"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
