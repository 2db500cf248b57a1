//! The runner contract, checked through the binary as the runner runs it: inputs from
//! `INPUT_*` or flags, validation messages and exit codes, workflow-command escaping, file
//! commands parsed with the runner's own rules, debug logging, plain terminal output, help
//! texts, and the secret-leak test over every subcommand.

use std::collections::BTreeMap;
use std::time::Duration;

use deploy_tcb::runner::files::format_entry;
use deploy_tcb::runner::inputs::parse_list;

use crate::support::runner::{
    Step, StepResult, WorkflowCommand, parse_key_value_file, secret_inputs, subcommand_flags,
    subcommands,
};

/// An action step as the runner starts it, with every input of the action present.
fn action(subcommand: &str) -> Step {
    Step::runner(&[subcommand])
        .env("TENCENTCLOUD_ENDPOINT", CLOSED_PORT_URL)
        .env("GITHUB_API_URL", CLOSED_PORT_URL)
        .timeout(Duration::from_secs(60))
}

/// A loopback port nothing listens on: anything that gets as far as the network fails fast.
const CLOSED_PORT_URL: &str = "http://127.0.0.1:9";

/// The single `::error` of a step that must fail on input, with exit code 2.
fn single_error(result: &StepResult) -> WorkflowCommand {
    assert_eq!(result.code, Some(2), "{}", result.describe());
    let errors = result.errors();
    assert_eq!(errors.len(), 1, "{}", result.describe());
    errors.into_iter().next().unwrap()
}

/// Asserts the step rejected `input`: exit 2, one `::error title=Invalid input` naming the
/// input, saying what is wrong (`expect`) and how to fix it.
fn assert_rejects(result: &StepResult, input: &str, expect: &str) {
    let error = single_error(result);
    assert_eq!(
        error.properties.get("title").map(String::as_str),
        Some("Invalid input")
    );
    assert!(error.data.contains(&format!("`{input}`")), "{error:?}");
    assert!(
        error.data.contains(expect),
        "{error:?} should say {expect:?}"
    );
    assert!(
        error.data.contains("Fix:"),
        "{error:?} should say how to fix it"
    );
}

/// True when no error annotation mentions `input`.
fn accepts(result: &StepResult, input: &str) -> bool {
    !result
        .errors()
        .iter()
        .any(|e| e.data.contains(&format!("`{input}`")))
}

#[test]
fn inputs_come_from_input_variables() {
    let result = action("deploy")
        .all_inputs("deploy")
        .input("traffic", "150")
        .run();
    assert_rejects(&result, "traffic", "percentage");
}

#[test]
fn inputs_come_from_flags() {
    let result = action("deploy")
        .all_inputs("deploy")
        .arg("--traffic")
        .arg("150")
        .run();
    assert_rejects(&result, "traffic", "percentage");
}

#[test]
fn a_flag_wins_over_its_input_variable() {
    let result = action("deploy")
        .all_inputs("deploy")
        .input("traffic", "150")
        .args(&["--traffic", "50"])
        .run();
    assert!(accepts(&result, "traffic"), "{}", result.describe());
}

#[test]
fn an_empty_input_variable_means_not_given() {
    // The runner sets INPUT_X="" for every input without a default.
    for empty in ["", "   "] {
        let result = action("deploy")
            .all_inputs("deploy")
            .input("traffic", empty)
            .input("dry_run", empty)
            .input("wait_timeout", empty)
            .run();
        for input in ["traffic", "dry_run", "wait_timeout"] {
            assert!(accepts(&result, input), "{input}: {}", result.describe());
        }
        let result = action("security-scan")
            .all_inputs("security-scan")
            .input("reports", empty)
            .run();
        assert_rejects(&result, "reports", "required");
    }
}

#[test]
fn a_missing_required_input_names_the_input_and_the_fix() {
    let result = action("security-scan").all_inputs("security-scan").run();
    assert_rejects(&result, "reports", "required");
    let error = single_error(&result);
    assert!(error.data.contains("with:"), "{error:?}");
}

#[test]
fn bad_booleans_durations_lists_and_choices_are_input_errors() {
    let cases = [
        ("dry_run", "maybe", "true or false"),
        ("wait_timeout", "soon", "90s"),
        ("health_timeout", "5 parsecs", "90s"),
        ("env_vars", "NOT A PAIR", "KEY=VALUE"),
        ("release_type", "half", "half"),
        ("traffic", "ten", "0 to 100"),
    ];
    for (input, value, expect) in cases {
        let result = action("deploy")
            .all_inputs("deploy")
            .input(input, value)
            .run();
        assert_rejects(&result, input, expect);
    }
}

#[test]
fn lists_split_on_commas_and_newlines() {
    let list = parse_list(" PUBLIC, OA\nVPC\n\n,").unwrap();
    assert_eq!(list.items(), ["PUBLIC", "OA", "VPC"]);
    let result = action("deploy")
        .all_inputs("deploy")
        .input("access_types", "PUBLIC,\nOA")
        .run();
    assert!(accepts(&result, "access_types"), "{}", result.describe());
}

#[test]
fn annotation_data_is_escaped_so_a_value_cannot_inject_commands() {
    let value = "15%,: 0";
    let result = action("deploy")
        .all_inputs("deploy")
        .input("traffic", value)
        .run();
    let error = single_error(&result);
    assert!(error.data.contains(value), "{error:?}");
    let raw = result
        .stdout
        .lines()
        .find(|l| l.starts_with("::error"))
        .unwrap();
    assert!(
        raw.contains("15%25,: 0"),
        "`%` is escaped in the data: {raw}"
    );

    let injected = "7\n::warning title=x::injected\n##[error]legacy";
    let result = action("deploy")
        .all_inputs("deploy")
        .input("traffic", injected)
        .run();
    single_error(&result);
    let names: Vec<String> = result.commands().into_iter().map(|c| c.name).collect();
    assert!(
        !names.contains(&"warning".to_string()),
        "{}",
        result.describe()
    );
    assert!(
        !result.stdout.contains("##[error]"),
        "{}",
        result.describe()
    );
}

#[test]
fn terminal_output_is_plain_text() {
    let result = Step::terminal(&["deploy", "--traffic", "150"])
        .without_files()
        .run();
    assert_eq!(result.code, Some(2), "{}", result.describe());
    assert!(result.commands().is_empty(), "{}", result.describe());
    assert!(result.stderr.contains("--traffic"), "{}", result.describe());
    assert!(result.stderr.contains("error"), "{}", result.describe());

    let result = Step::terminal(&["security-scan"]).without_files().run();
    assert_eq!(result.code, Some(2), "{}", result.describe());
    assert!(result.commands().is_empty(), "{}", result.describe());
    assert!(result.stderr.contains("--reports"), "{}", result.describe());
}

#[test]
fn help_lists_the_eight_subcommands() {
    let expected = [
        "deploy",
        "build-image",
        "security-scan",
        "canary-promote",
        "rollback",
        "release-semver",
        "emulator",
        "demo",
    ];
    let mut listed = subcommands();
    listed.sort();
    let mut sorted = expected.to_vec();
    sorted.sort();
    assert_eq!(listed, sorted);
    let result = Step::terminal(&["--help"]).without_files().run();
    assert_eq!(result.code, Some(0), "{}", result.describe());
    for name in expected {
        let listed = result
            .stdout
            .lines()
            .any(|l| l.trim_start().starts_with(name));
        assert!(listed, "--help does not list {name}:\n{}", result.stdout);
    }
}

#[test]
fn each_subcommand_help_lists_its_inputs() {
    for subcommand in subcommands() {
        let result = Step::terminal(&[&subcommand, "--help"])
            .without_files()
            .run();
        assert_eq!(result.code, Some(0), "{}", result.describe());
        let flags = subcommand_flags(&subcommand);
        assert!(!flags.is_empty() || subcommand == "demo");
        for flag in flags {
            assert!(
                result.stdout.contains(&flag),
                "`{subcommand} --help` does not list {flag}"
            );
        }
        if deploy_tcb::cli::Command::ACTIONS.contains(&subcommand.as_str()) {
            assert!(
                result.stdout.contains("INPUT_"),
                "{subcommand}: {}",
                result.stdout
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The runner module's own functions, in a child process with the runner's environment (the
// probe), and directly through the library.

const PROBE: &str = "DEPLOY_TCB_RUNNER_PROBE";
const PROBE_SECRET: &str = "probe-secret-3f9a2c";
const MULTI_LINE: &str = "line one\nghadelimiter_not_random\nEOF\n\n  last line =<< \r";

/// Runs inside the child process the probe tests start; does nothing on its own.
#[test]
#[ignore = "started by the runner-contract tests in a child process"]
fn probe() {
    let Ok(scenario) = std::env::var(PROBE) else {
        return;
    };
    match scenario.as_str() {
        "log" => probe_log(),
        "files" => probe_files(),
        other => panic!("unknown probe {other}"),
    }
}

fn probe_log() {
    use deploy_tcb::runner;
    runner::log::init();
    runner::mask::register(PROBE_SECRET);
    tracing::info!("info with {PROBE_SECRET}");
    // Step debug turns on the product's own debug events (target `deploy_tcb…`).
    tracing::debug!(target: "deploy_tcb::probe", "debug detail");
    tracing::warn!(
        file = "src/a,b.rs",
        line = 7u64,
        title = "Careful: now",
        "warned 100%\nsecond"
    );
    tracing::info!("::error::not an error\n##[warning]not a warning");
    let group = runner::command::group("phase one");
    tracing::error!("it broke");
    drop(group);
}

fn probe_files() {
    use deploy_tcb::runner::{self, Outputs, Summary};
    runner::mask::register(PROBE_SECRET);
    let mut outputs = Outputs::new();
    outputs.set("single", "a=b<<c").unwrap();
    outputs.set("multi", MULTI_LINE).unwrap();
    outputs
        .set("secret", format!("token {PROBE_SECRET}"))
        .unwrap();
    outputs.print_if_no_runner();
    Summary::new()
        .heading(2, "Probe")
        .table(
            &["name", "value"],
            &[vec!["a|b".into(), PROBE_SECRET.into()]],
        )
        .write()
        .unwrap();
    runner::files::export_env("PROBE_ENV", "x\ny").unwrap();
    runner::files::save_state("probe_state", "saved").unwrap();
}

fn probe_step(scenario: &str, step: Step) -> Step {
    let exe = std::env::current_exe().expect("the test binary");
    step.program(exe)
        .args(&[
            "--exact",
            "runner_contract::probe",
            "--ignored",
            "--nocapture",
        ])
        .args(&["--test-threads=1", "--quiet"])
        .env(PROBE, scenario)
}

/// The probe's own lines, without the test harness's.
fn probe_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with("running ") && !l.starts_with("test result:"))
        .filter(|l| !l.is_empty() && *l != ".")
        .collect()
}

#[test]
fn log_events_become_workflow_commands_under_a_runner() {
    let result = probe_step("log", Step::runner(&[])).run();
    assert_eq!(result.code, Some(0), "{}", result.describe());
    let commands = result.commands();
    let names: Vec<&str> = commands.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["add-mask", "warning", "group", "error", "endgroup"],
        "{}",
        result.describe()
    );
    let warning = &commands[1];
    assert_eq!(warning.properties["file"], "src/a,b.rs");
    assert_eq!(warning.properties["line"], "7");
    assert_eq!(warning.properties["title"], "Careful: now");
    assert_eq!(warning.data, "warned 100%\nsecond");
    assert_eq!(commands[0].data, PROBE_SECRET);
    let lines = probe_lines(&result.stdout);
    assert_eq!(
        lines[0],
        format!("::add-mask::{PROBE_SECRET}"),
        "masked first"
    );
    assert!(
        result.stdout.contains("info with ***"),
        "{}",
        result.describe()
    );
    assert!(
        !result.stdout.contains("debug detail"),
        "{}",
        result.describe()
    );
    // The text that looks like commands reaches the log, but only as text.
    assert!(result.stdout.contains("::error::not an error"));
    assert!(result.stdout.contains("##[warning]not a warning"));
}

#[test]
fn debug_lines_appear_only_under_runner_debug() {
    let result = probe_step("log", Step::runner(&[]).debug()).run();
    let debug: Vec<WorkflowCommand> = result
        .commands()
        .into_iter()
        .filter(|c| c.name == "debug")
        .collect();
    assert_eq!(debug.len(), 1, "{}", result.describe());
    assert_eq!(debug[0].data, "debug detail");
    let result = probe_step("log", Step::runner(&[]).env("RUNNER_DEBUG", "0")).run();
    assert!(
        !result.stdout.contains("debug detail"),
        "{}",
        result.describe()
    );
}

#[test]
fn logs_are_plain_text_at_a_terminal() {
    let result = probe_step("log", Step::terminal(&[]).without_files()).run();
    assert_eq!(result.code, Some(0), "{}", result.describe());
    assert!(
        probe_lines(&result.stdout).is_empty(),
        "{}",
        result.describe()
    );
    assert!(!result.stderr.contains("add-mask"), "{}", result.describe());
    let stderr = probe_lines(&result.stderr);
    assert!(stderr.contains(&"info with ***"), "{stderr:?}");
    assert!(
        stderr
            .iter()
            .any(|l| l.starts_with("warning: Careful: now: warned 100%"))
    );
    assert!(stderr.iter().any(|l| l.starts_with("error: it broke")));
    assert!(stderr.contains(&"== phase one"), "{stderr:?}");
}

#[test]
fn file_commands_parse_with_the_runners_rules() {
    let first = probe_step("files", Step::runner(&[])).run();
    assert_eq!(first.code, Some(0), "{}", first.describe());
    let outputs = first.outputs().expect("GITHUB_OUTPUT parses");
    assert_eq!(outputs["single"], "a=b<<c");
    assert_eq!(outputs["multi"], MULTI_LINE);
    assert_eq!(outputs["secret"], "token ***");
    let env = parse_key_value_file(first.file("GITHUB_ENV")).expect("GITHUB_ENV parses");
    assert_eq!(env, [("PROBE_ENV".to_string(), "x\ny".to_string())]);
    let state = parse_key_value_file(first.file("GITHUB_STATE")).expect("GITHUB_STATE parses");
    assert_eq!(state, [("probe_state".to_string(), "saved".to_string())]);
    assert!(
        first.summary().starts_with("## Probe\n"),
        "{}",
        first.summary()
    );
    assert!(
        first.summary().contains("| a\\|b | *** |"),
        "{}",
        first.summary()
    );
    for variable in ["GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"] {
        assert!(!first.file(variable).contains(PROBE_SECRET), "{variable}");
    }

    let second = probe_step("files", Step::runner(&[])).run();
    assert_ne!(
        heredoc_delimiters(first.file("GITHUB_OUTPUT")),
        heredoc_delimiters(second.file("GITHUB_OUTPUT")),
        "each multi-line value gets a fresh random delimiter"
    );
}

#[test]
fn outputs_are_printed_at_a_terminal_without_github_output() {
    let result = probe_step("files", Step::terminal(&[]).without_files()).run();
    assert_eq!(result.code, Some(0), "{}", result.describe());
    assert!(
        result
            .stdout
            .contains("outputs:\n  single: a=b<<c\n  multi: |\n    line one")
    );
    assert!(
        result.stdout.contains("  secret: token ***"),
        "{}",
        result.stdout
    );
}

fn heredoc_delimiters(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_once("<<"))
        .filter(|(name, _)| !name.contains('='))
        .map(|(_, delimiter)| delimiter.to_string())
        .collect()
}

#[test]
fn every_value_survives_the_runners_parser() {
    let values = [
        "",
        "plain",
        "a=b",
        "x<<y",
        "two\nlines",
        "ends with a newline\n",
        "\nstarts with one",
        "crlf\r\nline",
        "lone\rreturn",
        "EOF\nghadelimiter_00000000-0000-0000-0000-000000000000\n",
    ];
    let mut file = String::new();
    for (i, value) in values.iter().enumerate() {
        file.push_str(&format_entry(&format!("v{i}"), value));
    }
    let parsed: BTreeMap<String, String> = parse_key_value_file(&file)
        .expect("parses")
        .into_iter()
        .collect();
    for (i, value) in values.iter().enumerate() {
        assert_eq!(parsed[&format!("v{i}")], *value, "value {i} in\n{file}");
    }
    assert!(file.ends_with('\n'));
}

// ---------------------------------------------------------------------------------------------
// The secret-leak test.

/// A secret value per input, unique per run and easy to find wherever it lands.
fn secret_value(input: &str, canary: &str) -> String {
    match input {
        "secret_env_vars" => format!("DB_PASSWORD={canary}-db\nAPI_TOKEN={canary}-api"),
        webhook if webhook.ends_with("_webhook") => {
            format!("{CLOSED_PORT_URL}/hook/{webhook}?key={canary}-{webhook}")
        }
        other => format!("{canary}-{other}"),
    }
}

/// Every secret input of every subcommand, with its value.
fn all_secrets(canary: &str) -> BTreeMap<String, String> {
    subcommands()
        .iter()
        .flat_map(|s| secret_inputs(s))
        .map(|input| {
            let value = secret_value(&input, canary);
            (input, value)
        })
        .collect()
}

/// Inputs that take each subcommand as far as it goes without a network: dry runs, endpoints
/// on a closed loopback port, fixtures in the step's directory.
fn reach_inputs(
    subcommand: &str,
    dir: &std::path::Path,
    endpoint: &str,
) -> Vec<(&'static str, String)> {
    let at = |name: &str| dir.join(name).display().to_string();
    let cloud = [
        ("env_id", "leak-env-1".to_string()),
        ("service", "leak-svc".to_string()),
        ("tcb_endpoint", endpoint.to_string()),
        ("dry_run", "true".to_string()),
    ];
    let mut inputs: Vec<(&'static str, String)> = match subcommand {
        "deploy" => cloud.to_vec(),
        "canary-promote" => cloud.to_vec(),
        "rollback" => cloud.to_vec(),
        "build-image" => vec![
            ("context", at("context")),
            ("image", "127.0.0.1:9/leak/app".to_string()),
            ("username", "leak-user".to_string()),
            ("push", "false".to_string()),
        ],
        "security-scan" => vec![
            ("reports", at("empty.sarif")),
            ("sarif_output", at("merged.sarif")),
            ("fail_on", "none".to_string()),
        ],
        "release-semver" => vec![("path", at("repo")), ("dry_run", "true".to_string())],
        _ => Vec::new(),
    };
    match subcommand {
        "deploy" => {
            inputs.push(("image", "127.0.0.1:9/leak/app:1".to_string()));
            inputs.push(("wait_timeout", "5s".to_string()));
            inputs.push(("health_timeout", "5s".to_string()));
        }
        "canary-promote" => {
            inputs.push(("prometheus_url", CLOSED_PORT_URL.to_string()));
            inputs.push(("interval", "1s".to_string()));
            inputs.push(("timeout", "10s".to_string()));
        }
        _ => {}
    }
    inputs
}

/// Fixtures the inputs point at: a build context, an empty SARIF report, a git repository.
fn write_fixtures(dir: &std::path::Path) {
    let context = dir.join("context");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("Dockerfile"), "FROM scratch\nCOPY app /app\n").unwrap();
    std::fs::write(context.join("app"), "app\n").unwrap();
    let sarif = r#"{"version":"2.1.0","$schema":"https://json.schemastore.org/sarif-2.1.0.json","runs":[{"tool":{"driver":{"name":"leak","rules":[]}},"results":[]}]}"#;
    std::fs::write(dir.join("empty.sarif"), sarif).unwrap();
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| {
        let _ = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=leak",
                "-c",
                "user.email=leak@example.invalid",
            ])
            .args(args)
            .current_dir(&repo)
            .output();
    };
    git(&["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README.md"), "leak\n").unwrap();
    git(&["add", "README.md"]);
    git(&["commit", "-q", "-m", "feat: first feature"]);
}

/// One leak run: the subcommand, in runner mode (`INPUT_*`) or terminal mode (flags).
fn leak_step(
    subcommand: &str,
    runner: bool,
    secrets: &BTreeMap<String, String>,
    endpoint: &str,
) -> Step {
    let mut step = if runner {
        Step::runner(&[subcommand])
    } else {
        Step::terminal(&[subcommand])
    };
    step = step
        .env("GITHUB_API_URL", CLOSED_PORT_URL)
        .env("TENCENTCLOUD_ENDPOINT", endpoint)
        .env("GITHUB_REPOSITORY", "leak/leak")
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env("GITHUB_REF", "refs/heads/main")
        .env("GITHUB_RUN_ID", "1")
        .env("GITHUB_EVENT_NAME", "push")
        // The most verbose logging each mode has: secrets must stay hidden at any level.
        .debug()
        .env("DEPLOY_TCB_LOG", "deploy_tcb=trace,info")
        .timeout(Duration::from_secs(if subcommand == "emulator" {
            3
        } else {
            60
        }));
    write_fixtures(step.dir());
    let workspace = step.dir().display().to_string();
    step = step.env("GITHUB_WORKSPACE", &workspace);
    let own_secrets = secret_inputs(subcommand);
    let inputs = reach_inputs(subcommand, step.dir(), endpoint);
    if subcommand == "emulator" {
        step = step.args(&["--port", "0"]);
    }
    if runner {
        for (input, value) in secrets {
            step = step.input(input, value);
        }
        for (input, value) in &inputs {
            step = step.input(input, value);
        }
        step.all_inputs(subcommand)
    } else {
        for (input, value) in &inputs {
            step = step.args(&[&flag(input), value]);
        }
        for input in own_secrets {
            step = step.args(&[&flag(&input), &secrets[&input]]);
        }
        step
    }
}

fn flag(input: &str) -> String {
    format!("--{}", input.replace('_', "-"))
}

/// The parts of a secret the runner would mask: the value and each of its lines.
fn mask_parts(secrets: &BTreeMap<String, String>) -> Vec<String> {
    secrets
        .values()
        .flat_map(|v| std::iter::once(v.trim()).chain(v.lines().map(str::trim)))
        .map(str::to_string)
        .collect()
}

/// Checks one run: the canary appears nowhere except in `::add-mask::` lines for a secret
/// (runner mode only), and every secret is masked before any other line on stdout.
fn check_no_leak(
    label: &str,
    result: &StepResult,
    runner: bool,
    canary: &str,
    secrets: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let parts = mask_parts(secrets);
    // The runner consumes `::add-mask::` lines; one may carry a secret or a part of one.
    let is_mask_line = |line: &str| {
        line.strip_prefix("::add-mask::")
            .map(|v| v.replace("%0A", "\n"))
            .is_some_and(|v| !v.is_empty() && parts.iter().any(|p| p.contains(&v)))
    };
    if result.timed_out {
        eprintln!("{label}: stopped at the time limit (checked what it wrote until then)");
    }
    for line in result.stdout.lines() {
        if line.contains(canary) && !(runner && is_mask_line(line)) {
            problems.push(format!("{label}: stdout leaks a secret: {line}"));
        }
    }
    for line in result.stderr.lines() {
        if line.contains(canary) {
            problems.push(format!("{label}: stderr leaks a secret: {line}"));
        }
    }
    for (variable, text) in &result.files {
        if text.contains(canary) {
            problems.push(format!("{label}: {variable} leaks a secret:\n{text}"));
        }
    }
    if !runner && result.stdout.contains("::add-mask::") {
        problems.push(format!("{label}: ::add-mask:: printed at a terminal"));
    }
    for (input, value) in secrets.iter().filter(|_| runner) {
        let line = format!("::add-mask::{}", value.trim().replace('\n', "%0A"));
        if !result.stdout.lines().any(|l| l == line) {
            problems.push(format!("{label}: input `{input}` was never masked"));
        }
    }
    if runner {
        let first_other = result.stdout.lines().position(|l| !is_mask_line(l));
        let lines: Vec<&str> = result.stdout.lines().collect();
        let last_mask = lines
            .iter()
            .rposition(|l| is_mask_line(l) && l.contains(canary));
        if let (Some(other), Some(mask)) = (first_other, last_mask)
            && mask > other
        {
            problems.push(format!(
                "{label}: a line was printed before every secret was masked"
            ));
        }
    }
    if let Err(e) = parse_key_value_file(result.file("GITHUB_OUTPUT")) {
        problems.push(format!("{label}: GITHUB_OUTPUT does not parse: {e}"));
    }
    problems
}

/// `deploy-tcb emulator` on a free loopback port, stopped when dropped.
struct Emulator {
    child: std::process::Child,
    endpoint: String,
}

impl Emulator {
    /// Starts the emulator with the given credentials; `None` while it is not built (or does
    /// not announce `listening on <url>` within ten seconds).
    fn start(secret_id: &str, secret_key: &str) -> Option<Emulator> {
        use std::io::BufRead;
        let mut child = std::process::Command::new(crate::support::binary())
            .args(["emulator", "--port", "0", "--env", "leak-env-1"])
            .args(["--secret-id", secret_id, "--secret-key", secret_key])
            .env_remove("GITHUB_ACTIONS")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let stdout = child.stdout.take()?;
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Keep draining the pipe so the emulator never blocks on a full one.
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = sender.send(line);
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            let Ok(line) = receiver.recv_timeout(left) else {
                break;
            };
            if let Some(url) = line.split("listening on ").nth(1) {
                let endpoint = url.split_whitespace().next()?.to_string();
                return Some(Emulator { child, endpoint });
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn no_subcommand_leaks_a_secret() {
    let canary = format!("leakcanary{}", uuid::Uuid::new_v4().simple());
    let secrets = all_secrets(&canary);
    for expected in [
        "secret_id",
        "secret_key",
        "github_token",
        "password",
        "secret_env_vars",
    ] {
        assert!(
            secrets.contains_key(expected),
            "{expected} is not a secret input"
        );
    }
    // With the emulator built, the cloud actions get as far as a real (dry) run against it,
    // signed with the secret credentials; without it they stop at a closed port.
    let emulator = Emulator::start(&secrets["secret_id"], &secrets["secret_key"]);
    let endpoint = emulator
        .as_ref()
        .map_or(CLOSED_PORT_URL.to_string(), |e| e.endpoint.clone());
    eprintln!("leak runs use the CloudBase endpoint {endpoint}");
    let mut runs = Vec::new();
    for subcommand in subcommands() {
        for runner in [true, false] {
            let step = leak_step(&subcommand, runner, &secrets, &endpoint);
            let label = format!(
                "{subcommand} ({})",
                if runner { "runner" } else { "terminal" }
            );
            runs.push(std::thread::spawn(move || (label, runner, step.run())));
        }
    }
    let mut problems = Vec::new();
    for run in runs {
        let (label, runner, result) = run.join().expect("leak run");
        eprintln!("{label}: exit {:?}", result.code);
        problems.extend(check_no_leak(&label, &result, runner, &canary, &secrets));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_malformed_secret_input_is_reported_without_its_value() {
    let canary = format!("leakcanary{}", uuid::Uuid::new_v4().simple());
    let value = format!("DB_URL postgres://app:{canary}@db");
    let result = action("deploy")
        .all_inputs("deploy")
        .input("secret_env_vars", &value)
        .run();
    assert_rejects(&result, "secret_env_vars", "KEY=VALUE");
    let secrets = BTreeMap::from([("secret_env_vars".to_string(), value.clone())]);
    let problems = check_no_leak("deploy (runner)", &result, true, &canary, &secrets);
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let result = Step::terminal(&["deploy", "--secret-env-vars", &value]).run();
    assert_eq!(result.code, Some(2), "{}", result.describe());
    let problems = check_no_leak("deploy (terminal)", &result, false, &canary, &secrets);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_command_line_definition_is_consistent() {
    // clap's own checks (unique names, valid defaults) run here, not only in debug binaries.
    deploy_tcb::cli::command().debug_assert();
}
