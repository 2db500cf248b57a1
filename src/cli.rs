//! The command line: one subcommand per action, plus `emulator` and `demo`.
//!
//! Every flag of an action subcommand mirrors an action input: the input `env_id` is the flag
//! `--env-id`, and when the flag is absent the value comes from the runner's `INPUT_ENV_ID`
//! variable. An empty `INPUT_*` counts as not given, because the runner sets one, empty, for
//! every input without a default.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::runner::inputs::{
    KeyValues, List, Secret, parse_bool, parse_duration, parse_key_values, parse_list,
    parse_percent, parse_secret, parse_secret_key_values,
};

const INPUTS_NOTE: &str = "Every flag is also read from the action input variable \
INPUT_<NAME> (for example --env-id from INPUT_ENV_ID) when the flag is not given.";

#[derive(Debug, Parser)]
#[command(
    name = "deploy-tcb",
    version,
    about = "Build, scan, deploy, canary, roll back and release containerised apps on Tencent CloudBase Run",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands. The first six are the six actions.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Deploy an image to a CloudBase Run service: plan, create or update, wait, verify, report.
    Deploy(DeployArgs),
    /// Build and push the application image, with computed tags and OCI labels.
    // The `version` input takes --version, so no auto-generated version flag here.
    #[command(disable_version_flag = true)]
    BuildImage(BuildImageArgs),
    /// Aggregate scanner reports into one deduplicated, gated verdict and one valid SARIF.
    SecurityScan(SecurityScanArgs),
    /// Shift traffic to a gray version in steps, analyse metrics, promote or roll back.
    // The `version` input takes --version, so no auto-generated version flag here.
    #[command(disable_version_flag = true)]
    CanaryPromote(CanaryPromoteArgs),
    /// Return a service to the last verified stable version.
    Rollback(RollbackArgs),
    /// Compute the next version from Conventional Commits; changelog, tag and release.
    ReleaseSemver(ReleaseSemverArgs),
    /// Run a local CloudBase Run that speaks the real API.
    Emulator(EmulatorArgs),
    /// Run the main job end to end against an embedded emulator.
    Demo(DemoArgs),
}

impl Command {
    /// The action subcommands, whose flags mirror `INPUT_*` variables.
    pub const ACTIONS: [&'static str; 6] = [
        "deploy",
        "build-image",
        "security-scan",
        "canary-promote",
        "rollback",
        "release-semver",
    ];
}

/// Credentials and endpoint for Tencent Cloud, shared by every action that calls it.
#[derive(Debug, Clone, Args)]
pub struct CloudArgs {
    /// Tencent Cloud SecretId (masked). Leave empty for keyless authentication with role_arn.
    #[arg(long, value_parser = parse_secret, hide_env_values = true)]
    pub secret_id: Option<Secret>,
    /// Tencent Cloud SecretKey (masked).
    #[arg(long, value_parser = parse_secret, hide_env_values = true)]
    pub secret_key: Option<Secret>,
    /// Role to assume with the job's GitHub OIDC token (keyless; needs `id-token: write`).
    #[arg(long)]
    pub role_arn: Option<String>,
    /// The OIDC identity provider id configured in Tencent Cloud CAM (keyless).
    #[arg(long)]
    pub provider_id: Option<String>,
    /// API endpoint for every Tencent Cloud service, e.g. an emulator at http://127.0.0.1:9000.
    #[arg(long)]
    pub tcb_endpoint: Option<String>,
    /// Tencent Cloud region.
    #[arg(long, default_value = "ap-shanghai")]
    pub region: String,
}

/// Where to report: the GitHub token (masked) for deployments, check runs and PR comments.
#[derive(Debug, Clone, Args)]
pub struct GithubArgs {
    /// Token for GitHub reporting (check run, PR comment, deployments). Masked.
    #[arg(long, value_parser = parse_secret, hide_env_values = true)]
    pub github_token: Option<Secret>,
}

/// Chat notifications; every webhook URL and signing secret is masked.
#[derive(Debug, Clone, Args)]
pub struct NotifyArgs {
    /// WeCom (企业微信) group robot webhook URL.
    #[arg(long, value_parser = parse_secret, hide_env_values = true)]
    pub wecom_webhook: Option<Secret>,
    /// DingTalk robot webhook URL.
    #[arg(long, value_parser = parse_secret, hide_env_values = true)]
    pub dingtalk_webhook: Option<Secret>,
    /// DingTalk robot signing secret (SEC…).
    #[arg(long, value_parser = parse_secret, hide_env_values = true)]
    pub dingtalk_secret: Option<Secret>,
    /// Feishu / Lark custom bot webhook URL.
    #[arg(long, value_parser = parse_secret, hide_env_values = true)]
    pub feishu_webhook: Option<Secret>,
    /// Feishu / Lark bot signing secret.
    #[arg(long, value_parser = parse_secret, hide_env_values = true)]
    pub feishu_secret: Option<Secret>,
    /// Slack incoming webhook URL.
    #[arg(long, value_parser = parse_secret, hide_env_values = true)]
    pub slack_webhook: Option<Secret>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReleaseType {
    Full,
    Gray,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnConflict {
    Wait,
    Cancel,
    Fail,
}

#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    /// CloudBase environment id, e.g. prod-1a2b3c.
    #[arg(long)]
    pub env_id: Option<String>,
    /// CloudBase Run service name.
    #[arg(long)]
    pub service: Option<String>,
    /// Image to deploy, e.g. ccr.ccs.tencentyun.com/team/app:1.2.3 or an image with @sha256 digest.
    #[arg(long)]
    pub image: Option<String>,
    /// full replaces the serving version; gray deploys beside it with `traffic` percent.
    #[arg(long, value_enum, default_value = "full")]
    pub release_type: ReleaseType,
    /// Initial traffic share of a gray release, in percent.
    #[arg(long, value_parser = parse_percent, default_value = "10")]
    pub traffic: u8,
    /// CPU cores per instance (0.25 to 16).
    #[arg(long)]
    pub cpu: Option<f64>,
    /// Memory per instance in GiB.
    #[arg(long)]
    pub mem: Option<f64>,
    /// Minimum number of instances.
    #[arg(long)]
    pub min_instances: Option<u32>,
    /// Maximum number of instances.
    #[arg(long)]
    pub max_instances: Option<u32>,
    /// Autoscaling policy, e.g. cpu:60 or mem:70 (type:threshold).
    #[arg(long)]
    pub policy: Option<String>,
    /// Container port the app listens on.
    #[arg(long)]
    pub port: Option<u16>,
    /// Access types: PUBLIC, OA, MINIAPP, VPC (comma or newline separated).
    #[arg(long, value_parser = parse_list, default_value = "")]
    pub access_types: List,
    /// Environment variables, one KEY=VALUE per line.
    #[arg(long, value_parser = parse_key_values, default_value = "")]
    pub env_vars: KeyValues,
    /// Secret environment variables, one KEY=VALUE per line; values are masked everywhere.
    #[arg(long, value_parser = parse_secret_key_values, default_value = "", hide_env_values = true)]
    pub secret_env_vars: KeyValues,
    /// Path the health check requests on the service URL.
    #[arg(long, default_value = "/")]
    pub health_path: String,
    /// How long the health check may take to pass.
    #[arg(long, value_parser = parse_duration, default_value = "2m")]
    pub health_timeout: Duration,
    /// How long to wait for the release task to finish.
    #[arg(long, value_parser = parse_duration, default_value = "20m")]
    pub wait_timeout: Duration,
    /// What to do when another release is running: wait, cancel it, or fail.
    #[arg(long, value_enum, default_value = "wait")]
    pub on_conflict: OnConflict,
    /// Print the plan and change nothing.
    #[arg(long, value_parser = parse_bool, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub dry_run: bool,
    /// Config file with named environments (development, staging, production).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Named environment from the config file; also the GitHub Deployment environment.
    #[arg(long)]
    pub environment: Option<String>,
    #[command(flatten)]
    pub cloud: CloudArgs,
    #[command(flatten)]
    pub github: GithubArgs,
    #[command(flatten)]
    pub notify: NotifyArgs,
}

#[derive(Debug, Clone, Args)]
pub struct BuildImageArgs {
    /// Build context directory, relative to the workspace.
    #[arg(long, default_value = ".")]
    pub context: PathBuf,
    /// Dockerfile path, relative to the context.
    #[arg(long, default_value = "Dockerfile")]
    pub file: PathBuf,
    /// Target stage of a multi-stage Dockerfile.
    #[arg(long)]
    pub target: Option<String>,
    /// Build arguments, one KEY=VALUE per line.
    #[arg(long, value_parser = parse_key_values, default_value = "")]
    pub build_args: KeyValues,
    /// Extra image labels, one KEY=VALUE per line (OCI labels are added automatically).
    #[arg(long, value_parser = crate::image::plan::parse_labels, default_value = "")]
    pub labels: KeyValues,
    /// Image name without tag, e.g. ccr.ccs.tencentyun.com/team/app.
    #[arg(long)]
    pub image: Option<String>,
    /// Explicit tags (comma or newline separated), added to the computed ones.
    #[arg(long, value_parser = parse_list, default_value = "")]
    pub tags: List,
    /// Tag rules: semver, major_minor, major, sha, branch, pr, latest.
    #[arg(long, value_parser = parse_list, default_value = "semver,major_minor,sha,branch,pr,latest")]
    pub tag_rules: List,
    /// Release version for the semver rules, e.g. the release-semver output.
    #[arg(long)]
    pub version: Option<String>,
    /// Push the image after building it.
    #[arg(long, value_parser = parse_bool, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub push: bool,
    /// Registry host to log in to; defaults to the host of `image`.
    #[arg(long)]
    pub registry: Option<String>,
    /// Registry username.
    #[arg(long)]
    pub username: Option<String>,
    /// Registry password or token (masked).
    #[arg(long, value_parser = parse_secret, hide_env_values = true)]
    pub password: Option<Secret>,
    /// Enterprise TCR instance id: log in with a temporary token from tcr CreateInstanceToken.
    #[arg(long)]
    pub tcr_instance_id: Option<String>,
    /// Images to use as build cache (comma or newline separated).
    #[arg(long, value_parser = parse_list, default_value = "")]
    pub cache_from: List,
    /// Always pull newer base images.
    #[arg(long, value_parser = parse_bool, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub pull: bool,
    /// Target platform, e.g. linux/amd64, where the engine supports it.
    #[arg(long)]
    pub platform: Option<String>,
    #[command(flatten)]
    pub cloud: CloudArgs,
    #[command(flatten)]
    pub github: GithubArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Severity {
    None,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScannerErrors {
    Fail,
    Warn,
}

#[derive(Debug, Clone, Args)]
pub struct SecurityScanArgs {
    /// Report files or globs; prefix with tool: to force the format (e.g. trivy:out.json).
    #[arg(long, value_parser = parse_list, required = true)]
    pub reports: List,
    /// Fail when a finding at or above this severity remains (none disables).
    #[arg(long, value_enum, default_value = "high")]
    pub fail_on: Severity,
    /// Gate only on findings that are not in the baseline.
    #[arg(long, value_parser = parse_bool, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub new_only: bool,
    /// Baseline file of accepted findings, each with a reason and an expiry date.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Most critical findings allowed.
    #[arg(long)]
    pub max_critical: Option<u32>,
    /// Most high findings allowed.
    #[arg(long)]
    pub max_high: Option<u32>,
    /// Most medium findings allowed.
    #[arg(long)]
    pub max_medium: Option<u32>,
    /// Most low findings allowed.
    #[arg(long)]
    pub max_low: Option<u32>,
    /// What a crashed or partial scanner does to the verdict.
    #[arg(long, value_enum, default_value = "fail")]
    pub scanner_errors: ScannerErrors,
    /// Where to write the merged SARIF 2.1.0.
    #[arg(long, default_value = "deploy-tcb.sarif")]
    pub sarif_output: PathBuf,
    /// Where to write the findings as JSON.
    #[arg(long)]
    pub json_output: Option<PathBuf>,
    /// Upload the SARIF to GitHub code scanning.
    #[arg(long, value_parser = parse_bool, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub upload: bool,
    #[command(flatten)]
    pub github: GithubArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnFailure {
    Rollback,
    Hold,
}

#[derive(Debug, Clone, Args)]
pub struct CanaryPromoteArgs {
    /// CloudBase environment id.
    #[arg(long)]
    pub env_id: Option<String>,
    /// CloudBase Run service name.
    #[arg(long)]
    pub service: Option<String>,
    /// Gray version to promote; default: the open release order's new version.
    #[arg(long)]
    pub version: Option<String>,
    /// Traffic percentages to step through.
    #[arg(long, value_parser = parse_list, default_value = "10,25,50,100")]
    pub steps: List,
    /// How long each step runs before it is analysed.
    #[arg(long, value_parser = parse_duration, default_value = "1m")]
    pub interval: Duration,
    /// Path probed over HTTP on the service URL during each step.
    #[arg(long, default_value = "/")]
    pub probe_path: String,
    /// Prometheus base URL for metric analysis.
    #[arg(long)]
    pub prometheus_url: Option<String>,
    /// Highest error rate allowed for the canary (0 to 1).
    #[arg(long, default_value = "0.01")]
    pub max_error_rate: f64,
    /// Highest p99 latency allowed for the canary, in milliseconds.
    #[arg(long)]
    pub max_p99_ms: Option<f64>,
    /// Also compare the canary with the stable version (relative thresholds).
    #[arg(long, value_parser = parse_bool, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub compare_stable: bool,
    /// Custom checks, one per line: `name: <PromQL> < threshold` (or >).
    #[arg(long, default_value = "")]
    pub queries: String,
    /// Fewest canary requests in a step for the analysis to count.
    #[arg(long, default_value = "20")]
    pub min_requests: u64,
    /// Failed analyses tolerated before the canary is rolled back.
    #[arg(long, default_value = "0")]
    pub failure_budget: u32,
    /// Inconclusive analyses tolerated before the run ends inconclusive.
    #[arg(long, default_value = "2")]
    pub inconclusive_budget: u32,
    /// Longest the whole promotion may take.
    #[arg(long, value_parser = parse_duration, default_value = "30m")]
    pub timeout: Duration,
    /// On failure roll back to the stable version, or hold the current split.
    #[arg(long, value_enum, default_value = "rollback")]
    pub on_failure: OnFailure,
    /// Print the plan and change nothing.
    #[arg(long, value_parser = parse_bool, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub dry_run: bool,
    #[command(flatten)]
    pub cloud: CloudArgs,
    #[command(flatten)]
    pub github: GithubArgs,
    #[command(flatten)]
    pub notify: NotifyArgs,
}

#[derive(Debug, Clone, Args)]
pub struct RollbackArgs {
    /// CloudBase environment id.
    #[arg(long)]
    pub env_id: Option<String>,
    /// CloudBase Run service name.
    #[arg(long)]
    pub service: Option<String>,
    /// Named environment from the config file, instead of env_id and service.
    #[arg(long)]
    pub environment: Option<String>,
    /// Config file with named environments.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Version to return to; default: the last verified stable version.
    #[arg(long)]
    pub to_version: Option<String>,
    /// Why the rollback happens; recorded on the Deployment and in notifications.
    #[arg(long, default_value = "manual rollback")]
    pub reason: String,
    /// Undo the last rollback (return to the version it replaced).
    #[arg(long, value_parser = parse_bool, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub undo: bool,
    /// Path the health check requests after the rollback.
    #[arg(long, default_value = "/")]
    pub health_path: String,
    /// How long to wait for the rollback task.
    #[arg(long, value_parser = parse_duration, default_value = "10m")]
    pub wait_timeout: Duration,
    /// Print the plan and change nothing.
    #[arg(long, value_parser = parse_bool, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub dry_run: bool,
    #[command(flatten)]
    pub cloud: CloudArgs,
    #[command(flatten)]
    pub github: GithubArgs,
    #[command(flatten)]
    pub notify: NotifyArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BreakingPreMajor {
    Major,
    Minor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FeaturePreMajor {
    Minor,
    Patch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NonConventional {
    Ignore,
    Patch,
}

#[derive(Debug, Clone, Args)]
pub struct ReleaseSemverArgs {
    /// Repository path.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// Tag prefix, e.g. v or deploy-tcb-v.
    #[arg(long, default_value = "v")]
    pub tag_prefix: String,
    /// Version of the first release when no tag exists.
    #[arg(long, default_value = "0.1.0")]
    pub initial_version: String,
    /// What a breaking change bumps before 1.0.0.
    #[arg(long, value_enum, default_value = "minor")]
    pub breaking_pre_major: BreakingPreMajor,
    /// What a feature bumps before 1.0.0.
    #[arg(long, value_enum, default_value = "minor")]
    pub feature_pre_major: FeaturePreMajor,
    /// Prerelease channel id, e.g. rc or beta.
    #[arg(long)]
    pub prerelease: Option<String>,
    /// Commit types and their bump, e.g. feat:minor,fix:patch,perf:patch.
    #[arg(long, value_parser = parse_list, default_value = "feat:minor,fix:patch,perf:patch")]
    pub types: List,
    /// Only commits touching these paths count (monorepos).
    #[arg(long, value_parser = parse_list, default_value = "")]
    pub path_filters: List,
    /// Non-conventional commits are ignored or count as a patch.
    #[arg(long, value_enum, default_value = "ignore")]
    pub non_conventional: NonConventional,
    /// Read conventional entries listed in squash-merge bodies.
    #[arg(long, value_parser = parse_bool, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub squash_entries: bool,
    /// Force the next version.
    #[arg(long)]
    pub release_as: Option<String>,
    /// Changelog file updated in place (empty to skip).
    #[arg(long, default_value = "CHANGELOG.md")]
    pub changelog_file: String,
    /// Template file for each changelog section, with {{version}}, {{tag}}, {{previous_tag}},
    /// {{date}}, {{compare_url}} and {{notes}}; default: the Keep a Changelog layout.
    #[arg(long)]
    pub changelog_template: Option<PathBuf>,
    /// Create a GitHub release.
    #[arg(long, value_parser = parse_bool, default_value = "true", num_args = 0..=1, default_missing_value = "true")]
    pub create_release: bool,
    /// Create the release as a draft.
    #[arg(long, value_parser = parse_bool, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub draft: bool,
    /// Move the major (v1) and minor (v1.2) tags to the release.
    #[arg(long, value_parser = parse_bool, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub move_major_tag: bool,
    /// Print everything and write nothing.
    #[arg(long, value_parser = parse_bool, default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub dry_run: bool,
    #[command(flatten)]
    pub github: GithubArgs,
}

#[derive(Debug, Clone, Args)]
pub struct EmulatorArgs {
    /// Port to listen on (0 picks a free one and prints it).
    #[arg(long, default_value = "9000")]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// SecretId clients must sign with.
    #[arg(long, default_value = "AKIDEMULATOR")]
    pub secret_id: String,
    /// SecretKey clients must sign with.
    #[arg(long, default_value = "emulator-secret-key")]
    pub secret_key: String,
    /// Environment that exists from the start (repeatable).
    #[arg(long = "env")]
    pub envs: Vec<String>,
    /// File the state is kept in across restarts.
    #[arg(long)]
    pub state_file: Option<PathBuf>,
    /// Faults to inject from the start (JSON file).
    #[arg(long)]
    pub faults: Option<PathBuf>,
    /// Synthetic app behaviours beyond the built-in ones (JSON file).
    #[arg(long)]
    pub apps: Option<PathBuf>,
    /// Docker-compatible engine for real containers, e.g. unix:///run/podman.sock.
    #[arg(long)]
    pub engine: Option<String>,
    /// Time factor: 10 makes release tasks ten times faster.
    #[arg(long, default_value = "1")]
    pub speed: f64,
    /// Seed for the randomness of synthetic apps and faults.
    #[arg(long, default_value = "1")]
    pub seed: u64,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Time factor for the embedded emulator's release tasks.
    #[arg(long, default_value = "20")]
    pub speed: f64,
}

/// Parses the command line, filling absent flags of action subcommands from `INPUT_*`.
/// On a usage error, prints it the way the context expects and returns the exit code.
pub fn parse() -> Result<Cli, ExitCode> {
    let cmd = command();
    mask_secret_inputs(&cmd, &std::env::args().collect::<Vec<_>>());
    let matches = cmd.try_get_matches().map_err(report_usage_error)?;
    Cli::from_arg_matches(&matches).map_err(report_usage_error)
}

/// The clap command with every action flag bound to its `INPUT_<NAME>` variable.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    for name in Command::ACTIONS {
        cmd = cmd.mut_subcommand(name, |sub| {
            sub.after_help(INPUTS_NOTE).mut_args(|arg| {
                let variable = input_variable(arg.get_id().as_str());
                // Bind only a non-empty variable: the runner sets "" for inputs with no default.
                match std::env::var(&variable) {
                    Ok(value) if !value.trim().is_empty() => arg.env(variable),
                    _ => arg,
                }
            })
        });
    }
    cmd
}

/// Masks every secret input before anything can be printed, including a usage error about an
/// unrelated input: secrets are the arguments with hidden environment values.
fn mask_secret_inputs(cmd: &clap::Command, argv: &[String]) {
    for sub in cmd.get_subcommands() {
        for arg in sub.get_arguments().filter(|a| a.is_hide_env_values_set()) {
            let Some(long) = arg.get_long() else { continue };
            if let Ok(value) = std::env::var(input_variable(arg.get_id().as_str())) {
                crate::runner::mask::register(&value);
            }
            let flag = format!("--{long}");
            for (i, token) in argv.iter().enumerate() {
                if let Some(value) = token.strip_prefix(&format!("{flag}=")) {
                    crate::runner::mask::register(value);
                } else if *token == flag {
                    argv.get(i + 1)
                        .inspect(|v| crate::runner::mask::register(v));
                }
            }
        }
    }
}

/// The runner's variable for an input: `INPUT_` + the name upper-cased, spaces as `_`.
pub fn input_variable(input: &str) -> String {
    format!("INPUT_{}", input.replace(' ', "_").to_uppercase())
}

fn report_usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    let problem = usage_problem(&error);
    if crate::runner::in_actions() {
        let at = crate::runner::Annotation::titled("Invalid input");
        crate::runner::command::annotate(crate::runner::Level::Error, &at, &problem);
    } else {
        eprintln!(
            "{}",
            crate::runner::mask::redact(&error.render().to_string())
        );
    }
    ExitCode::from(2)
}

/// Rewrites clap's message in terms of the action input, for workflow users.
fn usage_problem(error: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let flag = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    if error.kind() == clap::error::ErrorKind::MissingRequiredArgument
        && let Some(input) = flag.as_deref().and_then(flag_input_name)
    {
        return format!(
            "input `{input}` is required but was not given. Fix: set `{input}` in the step's `with:` (or pass --{})",
            input.replace('_', "-")
        );
    }
    let rendered = error.to_string();
    let detail = usage_detail(&rendered);
    match flag.as_deref().and_then(flag_input_name) {
        Some(input) => format!(
            "input `{input}`: {detail}. Fix: set `{input}` in the step's `with:` (or pass --{})",
            input.replace('_', "-")
        ),
        None => detail.to_string(),
    }
}

/// clap's message on one line: the problem, then the lines clap adds that help (the possible
/// values, a tip). Only those: other lines can be the rest of a multi-line value, which must
/// not reach the log as lines of their own.
fn usage_detail(rendered: &str) -> String {
    let mut lines = rendered.lines().map(str::trim);
    let mut detail = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_string();
    for line in lines {
        if line.starts_with("[possible values:") || line.starts_with("tip: ") {
            detail.push_str("; ");
            detail.push_str(line.trim_start_matches("tip: "));
        }
    }
    detail
}

/// `--env-id <ENV_ID>` → `env_id`.
fn flag_input_name(flag: &str) -> Option<String> {
    let name = flag.strip_prefix("--")?.split([' ', '=']).next()?;
    Some(name.replace('-', "_"))
}

#[cfg(test)]
mod usage_tests {
    use super::*;

    fn problem(args: &[&str]) -> String {
        let error = command().try_get_matches_from(args).unwrap_err();
        usage_problem(&error)
    }

    #[test]
    fn a_bad_choice_lists_the_possible_values() {
        let text = problem(&["deploy-tcb", "security-scan", "--fail-on", "severe"]);
        assert!(
            text.starts_with("input `fail_on`: invalid value 'severe'"),
            "{text}"
        );
        assert!(
            text.contains("[possible values: none, low, medium, high, critical]"),
            "{text}"
        );
        assert!(
            !text.contains("Usage:") && !text.contains("--help"),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn an_unknown_flag_keeps_clap_tip() {
        let text = problem(&["deploy-tcb", "security-scan", "--fail-onn", "high"]);
        assert!(text.contains("--fail-onn"), "{text}");
        assert!(text.contains("similar argument exists"), "{text}");
    }
}
