//! The deploy request: inline inputs laid over the config file's environment, validated before
//! anything touches the network. Every error names the input and says how to fix it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::cli::{DeployArgs, OnConflict, ReleaseType};
use crate::config::{ConfigFile, ConflictPolicy, ReleaseKind, Settings, limits};
use crate::error::{Error, Result};
use crate::runner::inputs::{parse_duration, parse_percent};

/// How the new version is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Replaces the serving version.
    Full,
    /// Serves beside the current version with this share of traffic, in percent.
    Gray { traffic: u8 },
}

impl Release {
    /// The API's `ReleaseType`.
    pub fn api_name(self) -> &'static str {
        match self {
            Release::Full => "FULL",
            Release::Gray { .. } => "GRAY",
        }
    }
}

/// The service configuration the user asked for. `None` leaves the current value alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DesiredConfig {
    pub cpu: Option<f64>,
    pub mem: Option<f64>,
    pub min_instances: Option<u32>,
    pub max_instances: Option<u32>,
    pub policy: Option<limits::Policy>,
    pub port: Option<u16>,
    pub access_types: Option<Vec<String>>,
    /// Every variable, plain and secret; `None` when none was given anywhere.
    pub env_vars: Option<BTreeMap<String, String>>,
    /// The names whose values are secret: shown as `***` in every plan and report.
    pub secret_names: BTreeSet<String>,
}

/// A validated deploy request.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployRequest {
    pub env_id: String,
    pub service: String,
    pub image: String,
    pub region: String,
    pub release: Release,
    pub config: DesiredConfig,
    pub health_path: String,
    pub health_timeout: Duration,
    pub wait_timeout: Duration,
    pub on_conflict: OnConflict,
    pub dry_run: bool,
    /// The named environment: the config file's block and the GitHub Deployment environment.
    pub environment: Option<String>,
}

impl DeployRequest {
    /// Loads the config file (when given) and resolves the request.
    pub fn from_args(args: &DeployArgs) -> Result<Self> {
        let settings = match &args.config {
            Some(path) => {
                let file = ConfigFile::load(path)?;
                file.resolve(args.environment.as_deref(), &path.display().to_string())?
            }
            None => Settings::default(),
        };
        Self::resolve(args, &settings)
    }

    /// Lays the inputs over the settings and validates the result. Pure.
    pub fn resolve(args: &DeployArgs, settings: &Settings) -> Result<Self> {
        let env_id = required("env_id", args.env_id.clone().or(settings.env_id.clone()))?;
        let service = required("service", args.service.clone().or(settings.service.clone()))?;
        let image = required("image", args.image.clone().or(settings.image.clone()))?;
        check("env_id", limits::env_id(&env_id))?;
        check("service", limits::service_name(&service))?;
        check("image", limits::image(&image))?;

        let release = release(args, settings)?;
        let health_path = pick(&args.health_path, "health-path", |s| Ok(s.to_string()))
            .or(settings.health_path.clone())
            .unwrap_or_else(|| args.health_path.clone());
        check("health_path", limits::health_path(&health_path))?;
        let health_timeout = duration(
            args.health_timeout,
            "health-timeout",
            settings.health_timeout,
        );
        let wait_timeout = duration(args.wait_timeout, "wait-timeout", settings.wait_timeout);
        positive("health_timeout", health_timeout)?;
        positive("wait_timeout", wait_timeout)?;

        Ok(DeployRequest {
            env_id,
            service,
            image,
            region: pick(&args.cloud.region, "region", |s| Ok(s.to_string()))
                .or(settings.region.clone())
                .unwrap_or_else(|| args.cloud.region.clone()),
            release,
            config: desired_config(args, settings)?,
            health_path,
            health_timeout,
            wait_timeout,
            on_conflict: on_conflict(args, settings),
            dry_run: args.dry_run,
            environment: args.environment.clone(),
        })
    }
}

fn required(input: &str, value: Option<String>) -> Result<String> {
    match value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    {
        Some(v) => Ok(v),
        None => Err(Error::input(
            input,
            "is required but was not given",
            format!(
                "set `{input}` in the step's `with:` (or pass --{}), or set it for the environment in the config file",
                input.replace('_', "-")
            ),
        )),
    }
}

fn check(input: &str, outcome: std::result::Result<(), String>) -> Result<()> {
    outcome.map_err(|problem| split_fix(input, &problem))
}

/// The limits' messages read "problem; fix": split them for the error's two parts.
fn split_fix(input: &str, message: &str) -> Error {
    match message.split_once("; ") {
        Some((problem, fix)) => Error::input(input, problem, fix),
        None => Error::input(input, message, "see `deploy-tcb deploy --help`"),
    }
}

fn positive(input: &str, value: Duration) -> Result<()> {
    if value.is_zero() {
        return Err(Error::input(
            input,
            "is zero",
            "give a duration such as 90s, 5m or 1h",
        ));
    }
    Ok(())
}

/// The clap default of a deploy flag, so an input counts as given only when it differs from
/// it: the defaults must not override the config file.
fn flag_default(flag: &str) -> Option<String> {
    let command = crate::cli::command();
    let deploy = command.find_subcommand("deploy")?;
    let arg = deploy
        .get_arguments()
        .find(|a| a.get_long() == Some(flag))?;
    arg.get_default_values()
        .first()
        .map(|v| v.to_string_lossy().into_owned())
}

/// `Some(value)` when the input differs from its default (so it overrides the config file).
fn pick<T: PartialEq + Clone>(
    value: &T,
    flag: &str,
    parse: impl Fn(&str) -> std::result::Result<T, String>,
) -> Option<T> {
    let default = flag_default(flag).and_then(|d| parse(&d).ok());
    (default.as_ref() != Some(value)).then(|| value.clone())
}

fn duration(value: Duration, flag: &str, configured: Option<Duration>) -> Duration {
    pick(&value, flag, parse_duration)
        .or(configured)
        .unwrap_or(value)
}

fn release(args: &DeployArgs, settings: &Settings) -> Result<Release> {
    let input_kind = pick(&args.release_type, "release-type", |s| {
        Ok(if s == "gray" {
            ReleaseType::Gray
        } else {
            ReleaseType::Full
        })
    });
    let kind = match (input_kind, settings.release_type) {
        (Some(kind), _) => kind,
        (None, Some(ReleaseKind::Gray)) => ReleaseType::Gray,
        (None, Some(ReleaseKind::Full)) => ReleaseType::Full,
        (None, None) => args.release_type,
    };
    let traffic = pick(&args.traffic, "traffic", parse_percent)
        .or(settings.traffic)
        .unwrap_or(args.traffic);
    match kind {
        ReleaseType::Full => Ok(Release::Full),
        ReleaseType::Gray => {
            check("traffic", limits::gray_traffic(traffic))?;
            Ok(Release::Gray { traffic })
        }
    }
}

fn on_conflict(args: &DeployArgs, settings: &Settings) -> OnConflict {
    let input = pick(&args.on_conflict, "on-conflict", |s| {
        Ok(match s {
            "cancel" => OnConflict::Cancel,
            "fail" => OnConflict::Fail,
            _ => OnConflict::Wait,
        })
    });
    input.unwrap_or(match settings.on_conflict {
        Some(ConflictPolicy::Cancel) => OnConflict::Cancel,
        Some(ConflictPolicy::Fail) => OnConflict::Fail,
        Some(ConflictPolicy::Wait) => OnConflict::Wait,
        None => args.on_conflict,
    })
}

fn desired_config(args: &DeployArgs, settings: &Settings) -> Result<DesiredConfig> {
    let cpu = args.cpu.or(settings.cpu);
    let mem = args.mem.or(settings.mem);
    if let Some(cpu) = args.cpu {
        check("cpu", limits::cpu(cpu))?;
    }
    if let Some(mem) = args.mem {
        check("mem", limits::mem(mem))?;
    }
    let min_instances = args.min_instances.or(settings.min_instances);
    let max_instances = args.max_instances.or(settings.max_instances);
    let bounds_input = if args.max_instances.is_some() {
        "max_instances"
    } else {
        "min_instances"
    };
    check(
        bounds_input,
        limits::instances(min_instances, max_instances),
    )?;
    let policy = match &args.policy {
        Some(text) => Some(limits::Policy::parse(text).map_err(|p| split_fix("policy", &p))?),
        None => settings.policy.clone(),
    };
    Ok(DesiredConfig {
        cpu,
        mem,
        min_instances,
        max_instances,
        policy,
        port: args.port.or(settings.port),
        access_types: access_types(args, settings)?,
        env_vars: env_vars(args, settings)?,
        secret_names: args
            .secret_env_vars
            .0
            .iter()
            .map(|(k, _)| k.clone())
            .collect(),
    })
}

fn access_types(args: &DeployArgs, settings: &Settings) -> Result<Option<Vec<String>>> {
    if args.access_types.is_empty() {
        let configured = settings.access_types.as_ref().map(|types| {
            types
                .iter()
                .map(|t| {
                    serde_json::to_value(t)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                })
                .map(Option::unwrap_or_default)
                .collect()
        });
        return Ok(configured);
    }
    let mut types = Vec::new();
    for item in args.access_types.items() {
        let upper = limits::access_type(item).map_err(|p| split_fix("access_types", &p))?;
        if !types.contains(&upper) {
            types.push(upper);
        }
    }
    Ok(Some(types))
}

fn env_vars(args: &DeployArgs, settings: &Settings) -> Result<Option<BTreeMap<String, String>>> {
    let given = settings.env_vars.is_some()
        || !args.env_vars.0.is_empty()
        || !args.secret_env_vars.0.is_empty();
    if !given {
        return Ok(None);
    }
    let mut vars = settings.env_vars.clone().unwrap_or_default();
    for (input, pairs) in [
        ("env_vars", &args.env_vars),
        ("secret_env_vars", &args.secret_env_vars),
    ] {
        for (name, value) in &pairs.0 {
            check(input, limits::env_var_name(name))?;
            vars.insert(name.clone(), value.clone());
        }
    }
    let both: Vec<&String> = args
        .env_vars
        .0
        .iter()
        .filter(|(k, _)| args.secret_env_vars.0.iter().any(|(s, _)| s == k))
        .map(|(k, _)| k)
        .collect();
    if let Some(name) = both.first() {
        return Err(Error::input(
            "env_vars",
            format!("`{name}` is in both env_vars and secret_env_vars"),
            "keep each variable in one of the two inputs: secret values belong in secret_env_vars only",
        ));
    }
    Ok(Some(vars))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn args(extra: &[&str]) -> DeployArgs {
        let mut argv = vec!["deploy-tcb", "deploy"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Deploy(args) => args,
            _ => unreachable!(),
        }
    }

    const BASIC: [&str; 6] = [
        "--env-id",
        "e-1",
        "--service",
        "svc",
        "--image",
        "reg.io/a/b:1",
    ];

    #[test]
    fn minimal_inputs_resolve_with_defaults() {
        let request = DeployRequest::resolve(&args(&BASIC), &Settings::default()).unwrap();
        assert_eq!(request.release, Release::Full);
        assert_eq!(request.health_path, "/");
        assert_eq!(request.wait_timeout, Duration::from_secs(20 * 60));
        assert_eq!(request.config, DesiredConfig::default());
        assert_eq!(request.region, "ap-shanghai");
    }

    #[test]
    fn missing_service_names_the_input_and_the_config_file() {
        let err =
            DeployRequest::resolve(&args(&["--env-id", "e"]), &Settings::default()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().starts_with("input `service`"), "{err}");
        assert!(err.fix().unwrap().contains("config file"));
    }

    #[test]
    fn inputs_override_the_config_but_defaults_do_not() {
        let config = ConfigFile::parse(
            "defaults:\n  env_id: cfg-env\n  service: cfg-svc\n  image: reg.io/a/b:0\n  release_type: gray\n  traffic: 20\n  health_path: /healthz\n  wait_timeout: 5m\n  cpu: 2\n",
            "c.yml",
        )
        .unwrap();
        let settings = config.resolve(None, "c.yml").unwrap();
        let request =
            DeployRequest::resolve(&args(&["--image", "reg.io/a/b:2", "--cpu", "1"]), &settings)
                .unwrap();
        assert_eq!(request.env_id, "cfg-env");
        assert_eq!(request.image, "reg.io/a/b:2");
        assert_eq!(request.release, Release::Gray { traffic: 20 });
        assert_eq!(request.health_path, "/healthz");
        assert_eq!(request.wait_timeout, Duration::from_secs(300));
        assert_eq!(request.config.cpu, Some(1.0));
        let explicit = DeployRequest::resolve(
            &args(&["--traffic", "30", "--wait-timeout", "1m"]),
            &settings,
        )
        .unwrap();
        assert_eq!(explicit.release, Release::Gray { traffic: 30 });
        assert_eq!(explicit.wait_timeout, Duration::from_secs(60));
    }

    #[test]
    fn bad_values_name_the_input_and_the_fix() {
        let cases: &[(&[&str], &str)] = &[
            (&["--cpu", "32"], "cpu"),
            (&["--mem", "0.1"], "mem"),
            (
                &["--min-instances", "5", "--max-instances", "2"],
                "max_instances",
            ),
            (&["--policy", "disk:5"], "policy"),
            (&["--access-types", "PUBLIC,INTERNET"], "access_types"),
            (&["--release-type", "gray", "--traffic", "100"], "traffic"),
            (&["--health-path", "healthz"], "health_path"),
            (&["--wait-timeout", "0"], "wait_timeout"),
            (
                &["--env-vars", "A=1", "--secret-env-vars", "A=2"],
                "env_vars",
            ),
        ];
        for (extra, input) in cases {
            let mut all = BASIC.to_vec();
            all.extend_from_slice(extra);
            let err = DeployRequest::resolve(&args(&all), &Settings::default()).unwrap_err();
            assert!(
                err.to_string().starts_with(&format!("input `{input}`")),
                "{extra:?}: {err}"
            );
            assert!(err.fix().is_some_and(|f| !f.is_empty()));
        }
        let mut bad_image = BASIC.to_vec();
        bad_image[5] = "Bad Image";
        let err = DeployRequest::resolve(&args(&bad_image), &Settings::default()).unwrap_err();
        assert!(err.to_string().starts_with("input `image`"));
    }

    #[test]
    fn env_vars_merge_config_inputs_and_secrets() {
        let settings = Settings {
            env_vars: Some(BTreeMap::from([
                ("A".into(), "cfg".into()),
                ("B".into(), "cfg".into()),
            ])),
            ..Settings::default()
        };
        let mut all = BASIC.to_vec();
        all.extend_from_slice(&[
            "--env-vars",
            "B=input",
            "--secret-env-vars",
            "TOKEN=s3cr3t-value",
        ]);
        let request = DeployRequest::resolve(&args(&all), &settings).unwrap();
        let vars = request.config.env_vars.unwrap();
        assert_eq!(vars["A"], "cfg");
        assert_eq!(vars["B"], "input");
        assert_eq!(vars["TOKEN"], "s3cr3t-value");
        assert!(request.config.secret_names.contains("TOKEN"));
        assert_eq!(request.config.access_types, None);
    }
}
