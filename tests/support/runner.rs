//! Runs `deploy-tcb` the way the GitHub Actions runner runs a Docker action's entrypoint, and
//! reads what the step leaves behind with the runner's own rules.
//!
//! The rules come from `actions/runner` (see ../shared/reference/github-actions-runner-contract.md):
//! every input of the action arrives as `INPUT_<NAME>` (empty when it has no default), the
//! file commands are fresh files per step, and `GITHUB_ACTIONS=true` and `CI=true` are set.
//! The child's environment is built from scratch, so tests behave the same inside a real
//! workflow (which sets GITHUB_* for the test process itself) and at a terminal.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One step: a command line, the environment the runner would give it, and its file commands.
pub struct Step {
    program: PathBuf,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    dir: tempfile::TempDir,
    timeout: Duration,
}

/// The file-command files of a step, named as the runner names them.
const FILE_COMMANDS: [(&str, &str); 5] = [
    ("GITHUB_OUTPUT", "set_output_"),
    ("GITHUB_ENV", "set_env_"),
    ("GITHUB_STATE", "save_state_"),
    ("GITHUB_PATH", "add_path_"),
    ("GITHUB_STEP_SUMMARY", "step_summary_"),
];

impl Step {
    /// A step as the runner starts it: `GITHUB_ACTIONS=true`, `CI=true`, fresh file commands.
    pub fn runner(args: &[&str]) -> Step {
        let mut step = Step::terminal(args);
        step.env.insert("GITHUB_ACTIONS".into(), "true".into());
        step.env.insert("CI".into(), "true".into());
        step
    }

    /// A person at a terminal: no `GITHUB_ACTIONS`, but the file-command variables are still set
    /// (the binary writes outputs whenever they are); drop them with [`Step::without_files`].
    pub fn terminal(args: &[&str]) -> Step {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut env = BTreeMap::new();
        env.insert(
            "PATH".to_string(),
            std::env::var("PATH").unwrap_or_default(),
        );
        env.insert("HOME".to_string(), dir.path().display().to_string());
        env.insert("RUNNER_TEMP".to_string(), dir.path().display().to_string());
        let guid = uuid::Uuid::new_v4();
        for (variable, prefix) in FILE_COMMANDS {
            let path = dir.path().join(format!("{prefix}{guid}"));
            std::fs::write(&path, "").expect("file command file");
            env.insert(variable.to_string(), path.display().to_string());
        }
        Step {
            program: super::binary(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env,
            dir,
            timeout: Duration::from_secs(60),
        }
    }

    /// Runs another program (the test binary itself, for probes) instead of `deploy-tcb`.
    pub fn program(mut self, program: PathBuf) -> Step {
        self.program = program;
        self
    }

    /// Sets the runner's variable for an input: `INPUT_` + upper case, spaces as `_`.
    pub fn input(mut self, name: &str, value: &str) -> Step {
        let variable = deploy_tcb::cli::input_variable(name);
        self.env.insert(variable, value.to_string());
        self
    }

    /// Sets `INPUT_*` for every input of the action as the runner does: the value from
    /// action.yml's `default`, or empty when there is none (or the default is an expression).
    /// Inputs set before or after this call keep their own value.
    pub fn all_inputs(mut self, subcommand: &str) -> Step {
        for (name, default) in action_inputs(subcommand) {
            let variable = deploy_tcb::cli::input_variable(&name);
            self.env.entry(variable).or_insert(default);
        }
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Step {
        self.env.insert(name.to_string(), value.to_string());
        self
    }

    pub fn arg(mut self, arg: &str) -> Step {
        self.args.push(arg.to_string());
        self
    }

    pub fn args(mut self, args: &[&str]) -> Step {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Step debug logging, as when a workflow is re-run with debug logging on.
    pub fn debug(self) -> Step {
        self.env("RUNNER_DEBUG", "1")
    }

    /// No file-command variables at all (a plain terminal).
    pub fn without_files(mut self) -> Step {
        for (variable, _) in FILE_COMMANDS {
            self.env.remove(variable);
        }
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Step {
        self.timeout = timeout;
        self
    }

    /// The step's temporary directory (for fixtures the step reads).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the step to completion, or kills its process group at the timeout.
    pub fn run(&self) -> StepResult {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .envs(&self.env)
            .current_dir(self.dir.path());
        let finished = run_with_timeout(command, self.timeout);
        StepResult {
            stdout: finished.stdout,
            stderr: finished.stderr,
            code: finished.code,
            timed_out: finished.timed_out,
            files: self.read_files(),
        }
    }

    fn read_files(&self) -> BTreeMap<String, String> {
        FILE_COMMANDS
            .iter()
            .filter_map(|(variable, _)| {
                let path = self.env.get(*variable)?;
                let text = std::fs::read_to_string(path).unwrap_or_default();
                Some((variable.to_string(), text))
            })
            .collect()
    }
}

/// What a finished (or stopped) process printed.
pub struct Finished {
    pub stdout: String,
    pub stderr: String,
    /// The exit code; `None` when it was killed.
    pub code: Option<i32>,
    pub timed_out: bool,
}

/// Runs a command with no stdin, its own process group, and a time limit after which the whole
/// group is killed.
pub fn run_with_timeout(mut command: Command, timeout: Duration) -> Finished {
    use std::os::unix::process::CommandExt;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", command.get_program()));
    let stdout = read_in_background(child.stdout.take().expect("stdout"));
    let stderr = read_in_background(child.stderr.take().expect("stderr"));
    let started = Instant::now();
    let (code, timed_out) = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break (status.code(), false);
        }
        if started.elapsed() > timeout {
            kill_group(child.id());
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Finished {
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        code,
        timed_out,
    }
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Kills the step and everything it started (it leads its own process group).
fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .status();
}

/// What a step left behind.
#[derive(Debug)]
pub struct StepResult {
    pub stdout: String,
    pub stderr: String,
    /// The exit code; `None` when the step was killed.
    pub code: Option<i32>,
    pub timed_out: bool,
    /// The file commands' contents by variable (`GITHUB_OUTPUT`, …).
    pub files: BTreeMap<String, String>,
}

impl StepResult {
    pub fn file(&self, variable: &str) -> &str {
        self.files.get(variable).map(String::as_str).unwrap_or("")
    }

    /// The step outputs, parsed as the runner parses `GITHUB_OUTPUT`.
    pub fn outputs(&self) -> Result<BTreeMap<String, String>, String> {
        parse_key_value_file(self.file("GITHUB_OUTPUT")).map(last_wins)
    }

    pub fn summary(&self) -> &str {
        self.file("GITHUB_STEP_SUMMARY")
    }

    /// Every workflow command the runner would act on, from stdout and stderr, honouring
    /// `::stop-commands::TOKEN` … `::TOKEN::` (the pause and resume lines are not listed).
    pub fn commands(&self) -> Vec<WorkflowCommand> {
        let mut commands = active_commands(&self.stdout);
        commands.extend(active_commands(&self.stderr));
        commands
    }

    /// The `::error` annotations.
    pub fn errors(&self) -> Vec<WorkflowCommand> {
        self.commands()
            .into_iter()
            .filter(|c| c.name == "error")
            .collect()
    }

    /// Everything the step printed or wrote, for searching.
    pub fn everything(&self) -> String {
        let files: Vec<&str> = self.files.values().map(String::as_str).collect();
        format!("{}\n{}\n{}", self.stdout, self.stderr, files.join("\n"))
    }

    /// A description for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "exit code {:?}{}\n--- stdout\n{}--- stderr\n{}--- files\n{:#?}",
            self.code,
            if self.timed_out { " (timed out)" } else { "" },
            self.stdout,
            self.stderr,
            self.files
        )
    }
}

fn active_commands(text: &str) -> Vec<WorkflowCommand> {
    let mut commands = Vec::new();
    let mut stopped_until: Option<String> = None;
    for command in text.lines().filter_map(parse_workflow_command) {
        match &stopped_until {
            Some(token) if command.name == *token => stopped_until = None,
            Some(_) => {}
            None if command.name == "stop-commands" => stopped_until = Some(command.data),
            None => commands.push(command),
        }
    }
    commands
}

/// Parses a `GITHUB_OUTPUT` file as the runner does; a malformed file fails the test, because
/// the runner would fail the step on it.
pub fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    parse_key_value_file(text)
        .map(last_wins)
        .unwrap_or_else(|problem| panic!("GITHUB_OUTPUT is malformed: {problem}\n{text}"))
}

fn last_wins(pairs: Vec<(String, String)>) -> BTreeMap<String, String> {
    pairs.into_iter().collect()
}

/// Parses a `GITHUB_OUTPUT`/`GITHUB_ENV`/`GITHUB_STATE` file exactly as the runner does
/// (`EnvFileKeyValuePairs`): lines end at `\n` only; `NAME=VALUE` splits at the first `=` when
/// `=` comes before any `<<`; `NAME<<DELIMITER` takes the lines up to the one equal to the
/// delimiter, without the last newline; empty lines are skipped. Errors carry the runner's text.
pub fn parse_key_value_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut lines = Lines { text, index: 0 };
    let mut pairs = Vec::new();
    while let Some((line, _)) = lines.next_line() {
        if line.is_empty() {
            continue;
        }
        let equals = line.find('=');
        let heredoc = line.find("<<");
        match (equals, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                pairs.push((line[..e].to_string(), line[e + 1..].to_string()));
            }
            (_, Some(h)) => pairs.push(read_heredoc(&mut lines, line, h)?),
            _ => return Err(format!("Invalid format '{line}'")),
        }
    }
    Ok(pairs)
}

fn read_heredoc(lines: &mut Lines, header: &str, at: usize) -> Result<(String, String), String> {
    let (name, delimiter) = (&header[..at], &header[at + 2..]);
    if name.is_empty() || delimiter.is_empty() {
        return Err(format!(
            "Invalid format '{header}'. Name must not be empty and delimiter must not be empty"
        ));
    }
    let start = lines.index;
    let mut end = None;
    loop {
        match lines.next_line() {
            None => {
                return Err(format!(
                    "Invalid value. Matching delimiter not found '{delimiter}'"
                ));
            }
            Some((line, _)) if line == delimiter => break,
            Some((_, false)) => return Err("Invalid value. EOF marker missing new line.".into()),
            Some((_, true)) => end = Some(lines.index - 1),
        }
    }
    let value = end.map_or("", |end| &lines.text[start..end]);
    Ok((name.to_string(), value.to_string()))
}

/// The runner's `ReadLine` on Linux: splits at `\n`; says whether the line had one.
struct Lines<'a> {
    text: &'a str,
    index: usize,
}

impl<'a> Lines<'a> {
    fn next_line(&mut self) -> Option<(&'a str, bool)> {
        if self.index >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.index..];
        match rest.find('\n') {
            Some(n) => {
                self.index += n + 1;
                Some((&rest[..n], true))
            }
            None => {
                self.index = self.text.len();
                Some((rest, false))
            }
        }
    }
}

/// A workflow command as the runner's v2 parser reads it: `::name k=v,k2=v2::data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowCommand {
    pub name: String,
    pub properties: BTreeMap<String, String>,
    pub data: String,
}

/// Parses one output line the way `ActionCommand.TryParseV2` does, unescaping data and
/// properties in the runner's order (`%25` last). `None` when the line is not a command.
pub fn parse_workflow_command(line: &str) -> Option<WorkflowCommand> {
    let line = line.trim_start();
    let rest = line.strip_prefix("::")?;
    let end = rest.find("::")?;
    let (info, data) = (&rest[..end], &rest[end + 2..]);
    let (name, props) = info.split_once(' ').unwrap_or((info, ""));
    let properties = props
        .split(',')
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), unescape_property(v)))
        .collect();
    Some(WorkflowCommand {
        name: name.to_string(),
        properties,
        data: unescape_data(data),
    })
}

fn unescape_data(value: &str) -> String {
    value
        .replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%25", "%")
}

fn unescape_property(value: &str) -> String {
    value
        .replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
}

/// Where a subcommand's action metadata lives: the deploy action at the root, the others under
/// `actions/<name>/`.
pub fn action_yml(subcommand: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    match subcommand {
        "deploy" => root.join("action.yml"),
        other => root.join("actions").join(other).join("action.yml"),
    }
}

/// The action's metadata, when its action.yml exists.
pub fn action_metadata(subcommand: &str) -> Option<serde_yaml::Value> {
    let text = std::fs::read_to_string(action_yml(subcommand)).ok()?;
    Some(serde_yaml::from_str(&text).expect("action.yml is valid YAML"))
}

/// Every input with the value the runner gives it when the workflow does not: the default, or
/// "" (an expression default such as `${{ github.token }}` evaluates to nothing here). Without
/// an action.yml the CLI's flags stand for the inputs, all without defaults.
pub fn action_inputs(subcommand: &str) -> Vec<(String, String)> {
    if let Some(meta) = action_metadata(subcommand) {
        let Some(inputs) = meta.get("inputs").and_then(|i| i.as_mapping()) else {
            return Vec::new();
        };
        return inputs
            .iter()
            .filter_map(|(name, spec)| {
                let default = spec.get("default").map(yaml_scalar).unwrap_or_default();
                let default = if default.contains("${{") {
                    String::new()
                } else {
                    default
                };
                Some((name.as_str()?.to_string(), default))
            })
            .collect();
    }
    subcommand_inputs(subcommand)
        .into_iter()
        .map(|name| (name, String::new()))
        .collect()
}

/// The `runs.args` of the action, evaluated with the given inputs as the runner does; `None`
/// when there is no action.yml.
pub fn action_args(subcommand: &str, inputs: &BTreeMap<String, String>) -> Option<Vec<String>> {
    let meta = action_metadata(subcommand)?;
    let args = meta.get("runs")?.get("args")?.as_sequence()?;
    Some(
        args.iter()
            .map(|a| evaluate_inputs(&yaml_scalar(a), inputs))
            .collect(),
    )
}

/// Replaces `${{ inputs.name }}` by the input's value; the only context `runs.args` may use.
fn evaluate_inputs(text: &str, inputs: &BTreeMap<String, String>) -> String {
    let pattern = regex::Regex::new(r"\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}").expect("regex");
    pattern
        .replace_all(text, |c: &regex::Captures| {
            inputs.get(&c[1]).cloned().unwrap_or_default()
        })
        .into_owned()
}

fn yaml_scalar(value: &serde_yaml::Value) -> String {
    match value {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        serde_yaml::Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// The input names of a subcommand: its flags' ids (`env_id` for `--env-id`).
pub fn subcommand_inputs(subcommand: &str) -> Vec<String> {
    let cmd = deploy_tcb::cli::command();
    let sub = cmd
        .find_subcommand(subcommand)
        .unwrap_or_else(|| panic!("no subcommand {subcommand}"));
    sub.get_arguments()
        .filter(|a| a.get_long().is_some() && !is_builtin(a))
        .map(|a| a.get_id().to_string())
        .collect()
}

/// The flags of a subcommand, as `--help` shows them (`--env-id`).
pub fn subcommand_flags(subcommand: &str) -> Vec<String> {
    let cmd = deploy_tcb::cli::command();
    let sub = cmd
        .find_subcommand(subcommand)
        .unwrap_or_else(|| panic!("no subcommand {subcommand}"));
    sub.get_arguments()
        .filter(|a| !is_builtin(a))
        .filter_map(|a| a.get_long().map(|long| format!("--{long}")))
        .collect()
}

/// The secret inputs of a subcommand: the arguments whose environment values clap hides.
pub fn secret_inputs(subcommand: &str) -> Vec<String> {
    let cmd = deploy_tcb::cli::command();
    let sub = cmd
        .find_subcommand(subcommand)
        .unwrap_or_else(|| panic!("no subcommand {subcommand}"));
    sub.get_arguments()
        .filter(|a| a.is_hide_env_values_set())
        .map(|a| a.get_id().to_string())
        .collect()
}

/// All eight subcommands, in the CLI's order.
pub fn subcommands() -> Vec<String> {
    deploy_tcb::cli::command()
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .filter(|name| name != "help")
        .collect()
}

fn is_builtin(arg: &clap::Arg) -> bool {
    matches!(arg.get_id().as_str(), "help" | "version")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_file_follows_the_runner() {
        let text = "a=1=2\n\nb<<EOF\nx\ny=z\nEOF\nc<<D\nD\na=3\n";
        let pairs = parse_key_value_file(text).unwrap();
        let expected = [("a", "1=2"), ("b", "x\ny=z"), ("c", ""), ("a", "3")];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(pairs, expected);
        assert_eq!(last_wins(pairs)["a"], "3");
    }

    #[test]
    fn key_value_file_errors_read_like_the_runner() {
        let err = |t: &str| parse_key_value_file(t).unwrap_err();
        assert_eq!(err("novalue\n"), "Invalid format 'novalue'");
        assert!(err("<<EOF\nx\nEOF\n").contains("Name must not be empty"));
        assert!(err("a<<\nx\n").contains("delimiter must not be empty"));
        assert_eq!(
            err("a<<EOF\nx\n"),
            "Invalid value. Matching delimiter not found 'EOF'"
        );
        assert_eq!(
            err("a<<EOF\nx"),
            "Invalid value. EOF marker missing new line."
        );
        assert_eq!(parse_key_value_file("a<<EOF\nx\nEOF").unwrap()[0].1, "x");
        assert_eq!(
            parse_key_value_file("a<<EOF\nx\r\nEOF\n").unwrap()[0].1,
            "x\r"
        );
    }

    #[test]
    fn workflow_commands_unescape_in_the_runners_order() {
        let c = parse_workflow_command("  ::error file=a%2Cb.rs,title=T%3A x::100%25%0Adone%250A")
            .unwrap();
        assert_eq!(c.name, "error");
        assert_eq!(c.properties["file"], "a,b.rs");
        assert_eq!(c.properties["title"], "T: x");
        assert_eq!(c.data, "100%\ndone%0A");
        assert_eq!(parse_workflow_command("plain :: text"), None);
        assert_eq!(parse_workflow_command("::endgroup::").unwrap().data, "");
    }
}
