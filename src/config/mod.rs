//! The config file with named environments, and its JSON Schema.
//!
//! A config file holds `defaults` and `environments` (development, staging, production, or any
//! other name). The settings of the chosen environment are laid over the defaults, and the inline
//! inputs are laid over both. Unknown keys are rejected, values are checked while the file is
//! parsed, and every error carries the file, line and column. The JSON Schema editors use is
//! generated from these types (`schema_json`) and kept at `schema/deploy-tcb.schema.json`.

pub mod limits;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};

/// A whole config file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "deploy-tcb configuration")]
pub struct ConfigFile {
    /// Settings every environment starts from.
    #[serde(default)]
    pub defaults: Settings,
    /// Named environments, e.g. development, staging and production. Their settings override
    /// `defaults`; the deploy step's inputs override both.
    #[serde(default)]
    pub environments: BTreeMap<String, Settings>,
}

/// The settings of one environment. Every field is optional; an inline input wins over it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// CloudBase environment id, e.g. prod-1a2b3c.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "checked_env_id"
    )]
    pub env_id: Option<String>,
    /// CloudBase Run service name.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "checked_service"
    )]
    pub service: Option<String>,
    /// Image to deploy (usually given by the workflow instead).
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "checked_image"
    )]
    pub image: Option<String>,
    /// Tencent Cloud region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// full replaces the serving version; gray deploys beside it with `traffic` percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_type: Option<ReleaseKind>,
    /// Initial traffic share of a gray release, in percent.
    #[schemars(range(max = 99))]
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "checked_traffic"
    )]
    pub traffic: Option<u8>,
    /// CPU cores per instance.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "checked_cpu"
    )]
    #[schemars(range(min = 0.25, max = 16.0))]
    pub cpu: Option<f64>,
    /// Memory per instance in GiB.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "checked_mem"
    )]
    #[schemars(range(min = 0.5, max = 64.0))]
    pub mem: Option<f64>,
    /// Minimum number of instances.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_instances: Option<u32>,
    /// Maximum number of instances.
    #[schemars(range(min = 1))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_instances: Option<u32>,
    /// Autoscaling policy as type:threshold, e.g. cpu:60 or mem:70.
    #[serde(default, deserialize_with = "checked_policy")]
    #[schemars(
        with = "Option<String>",
        regex(pattern = r"^(cpu|mem|cpu/mem):[0-9]{1,3}%?$")
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<limits::Policy>,
    /// Container port the app listens on.
    #[schemars(range(min = 1))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Access types: PUBLIC, OA, MINIAPP, VPC.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "checked_access_types"
    )]
    pub access_types: Option<Vec<AccessType>>,
    /// Environment variables (not secrets: those belong in `secret_env_vars` from GitHub secrets).
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "checked_env_vars"
    )]
    #[schemars(with = "Option<BTreeMap<String, EnvValue>>")]
    pub env_vars: Option<BTreeMap<String, String>>,
    /// Path the health check requests on the service URL.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "checked_health_path"
    )]
    pub health_path: Option<String>,
    /// How long the health check may take to pass, e.g. 2m.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "checked_health_timeout"
    )]
    #[schemars(with = "Option<String>")]
    pub health_timeout: Option<Duration>,
    /// How long to wait for the release task, e.g. 20m.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "checked_wait_timeout"
    )]
    #[schemars(with = "Option<String>")]
    pub wait_timeout: Option<Duration>,
    /// What to do when another release is running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_conflict: Option<ConflictPolicy>,
}

/// An env var value as the config file may write it (the parser turns it into text).
#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
enum EnvValue {
    Text(String),
    Number(f64),
    Flag(bool),
}

/// `release_type` in a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseKind {
    Full,
    Gray,
}

/// `on_conflict` in a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConflictPolicy {
    Wait,
    Cancel,
    Fail,
}

/// One access type.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum AccessType {
    Public,
    Oa,
    Miniapp,
    Vpc,
}

impl Settings {
    /// These settings with every field that `over` sets replaced by it; env vars merge by key.
    pub fn overlaid_with(&self, over: &Settings) -> Settings {
        let env_vars = match (&self.env_vars, &over.env_vars) {
            (Some(base), Some(top)) => {
                let mut merged = base.clone();
                merged.extend(top.clone());
                Some(merged)
            }
            (base, top) => top.clone().or_else(|| base.clone()),
        };
        Settings {
            env_id: over.env_id.clone().or_else(|| self.env_id.clone()),
            service: over.service.clone().or_else(|| self.service.clone()),
            image: over.image.clone().or_else(|| self.image.clone()),
            region: over.region.clone().or_else(|| self.region.clone()),
            release_type: over.release_type.or(self.release_type),
            traffic: over.traffic.or(self.traffic),
            cpu: over.cpu.or(self.cpu),
            mem: over.mem.or(self.mem),
            min_instances: over.min_instances.or(self.min_instances),
            max_instances: over.max_instances.or(self.max_instances),
            policy: over.policy.clone().or_else(|| self.policy.clone()),
            port: over.port.or(self.port),
            access_types: over
                .access_types
                .clone()
                .or_else(|| self.access_types.clone()),
            env_vars,
            health_path: over
                .health_path
                .clone()
                .or_else(|| self.health_path.clone()),
            health_timeout: over.health_timeout.or(self.health_timeout),
            wait_timeout: over.wait_timeout.or(self.wait_timeout),
            on_conflict: over.on_conflict.or(self.on_conflict),
        }
    }
}

impl ConfigFile {
    /// Parses a config file's text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self> {
        let config: ConfigFile =
            serde_yaml::from_str(text).map_err(|e| yaml_error(&e, file, text))?;
        config.check(file)?;
        Ok(config)
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Self> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            problem: format!("cannot read the config file {file}: {e}"),
            fix: "check the `config` input: the path is relative to the workspace (the repository checkout)".into(),
            location: None,
        })?;
        Self::parse(&text, &file)
    }

    /// The settings of `environment` over the defaults, or the defaults alone when no
    /// environment is named.
    pub fn resolve(&self, environment: Option<&str>, file: &str) -> Result<Settings> {
        let Some(name) = environment else {
            return Ok(self.defaults.clone());
        };
        match self.environments.get(name) {
            Some(env) => Ok(self.defaults.overlaid_with(env)),
            None => Err(Error::input(
                "environment",
                format!("`{name}` is not an environment of {file}"),
                format!(
                    "use one of: {} (or add `{name}` under `environments:` in {file})",
                    self.environment_names()
                ),
            )),
        }
    }

    fn environment_names(&self) -> String {
        if self.environments.is_empty() {
            return "none defined".to_string();
        }
        self.environments
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Checks that need more than one field: instance bounds after the overlay.
    fn check(&self, file: &str) -> Result<()> {
        let mut all = vec![("defaults".to_string(), self.defaults.clone())];
        for (name, env) in &self.environments {
            all.push((
                format!("environments.{name}"),
                self.defaults.overlaid_with(env),
            ));
        }
        for (place, settings) in all {
            if let Err(problem) = limits::instances(settings.min_instances, settings.max_instances)
            {
                return Err(Error::Config {
                    problem: format!("{file}: {place}: {problem}"),
                    fix: "change min_instances or max_instances in the config file".into(),
                    location: Some((file.to_string(), 1, 1)),
                });
            }
        }
        Ok(())
    }
}

/// Turns a YAML error into a configuration error with the file, line and column.
fn yaml_error(error: &serde_yaml::Error, file: &str, text: &str) -> Error {
    let message = error.to_string();
    let location = error.location().map(|at| {
        let (line, column) =
            key_position(text, &message, at.line()).unwrap_or((at.line(), at.column()));
        (file.to_string(), line, column)
    });
    let fix = if message.contains("unknown field") {
        "remove or rename the key; the keys a config file accepts are in schema/deploy-tcb.schema.json"
    } else {
        "correct the value at that position; see docs/deploy.md for the config file format"
    };
    Error::Config {
        problem: format!("{file}: {message}"),
        fix: fix.to_string(),
        location,
    }
}

/// A checked value's error names its key (`` `cpu`: … ``) but serde_yaml places it at the
/// enclosing mapping; the key's own line is the first line from there that starts with it.
fn key_position(text: &str, message: &str, from_line: usize) -> Option<(usize, usize)> {
    // serde_yaml puts the path first (`defaults: `), then our `` `key`: ``.
    let after = match message.split_once(": `") {
        Some((_, after)) => after,
        None => message.strip_prefix('`')?,
    };
    let key = after.split('`').next()?;
    text.lines()
        .enumerate()
        .skip(from_line.saturating_sub(1))
        .find_map(|(index, line)| {
            let indent = line.len() - line.trim_start().len();
            let rest = line.trim_start().strip_prefix(key)?;
            rest.trim_start()
                .starts_with(':')
                .then_some((index + 1, indent + 1))
        })
}

/// The JSON Schema of the config file, pretty-printed with a final newline.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(ConfigFile);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}

type Field<T> = std::result::Result<Option<T>, String>;

/// Deserializes an optional value and checks it; a failed check names the key as `` `key`: ``
/// so the error's position can be moved from the enclosing mapping to the key itself.
fn checked<'de, D, T, U>(
    d: D,
    key: &str,
    check: impl FnOnce(T) -> Field<U>,
) -> std::result::Result<Option<U>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(d)? {
        None => Ok(None),
        Some(value) => check(value).map_err(|e| serde::de::Error::custom(format!("`{key}`: {e}"))),
    }
}

fn checked_env_id<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    checked(d, "env_id", |v: String| {
        limits::env_id(&v).map(|()| Some(v))
    })
}

fn checked_service<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    checked(d, "service", |v: String| {
        limits::service_name(&v).map(|()| Some(v))
    })
}

fn checked_image<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    checked(d, "image", |v: String| limits::image(&v).map(|()| Some(v)))
}

fn checked_traffic<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u8>, D::Error> {
    checked(d, "traffic", |v: u64| match u8::try_from(v) {
        Ok(percent) => limits::gray_traffic(percent).map(|()| Some(percent)),
        Err(_) => Err(format!(
            "{v} is not a percentage; use a whole number from 0 to 99"
        )),
    })
}

fn checked_cpu<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<f64>, D::Error> {
    checked(d, "cpu", |v: f64| limits::cpu(v).map(|()| Some(v)))
}

fn checked_mem<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<f64>, D::Error> {
    checked(d, "mem", |v: f64| limits::mem(v).map(|()| Some(v)))
}

fn checked_policy<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<limits::Policy>, D::Error> {
    checked(d, "policy", |v: String| limits::Policy::parse(&v).map(Some))
}

fn checked_access_types<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Vec<AccessType>>, D::Error> {
    checked(d, "access_types", |v: Vec<String>| {
        let mut types = Vec::new();
        for text in v {
            let upper = limits::access_type(&text)?;
            let parsed: AccessType = serde_json::from_value(serde_json::Value::String(upper))
                .map_err(|e| e.to_string())?;
            types.push(parsed);
        }
        Ok(Some(types))
    })
}

fn checked_env_vars<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<BTreeMap<String, String>>, D::Error> {
    checked(d, "env_vars", |v: BTreeMap<String, serde_yaml::Value>| {
        let mut vars = BTreeMap::new();
        for (name, value) in v {
            limits::env_var_name(&name)?;
            vars.insert(name, scalar_text(&value)?);
        }
        Ok(Some(vars))
    })
}

/// An env var value written as a YAML string, number or boolean, as text.
fn scalar_text(value: &serde_yaml::Value) -> std::result::Result<String, String> {
    match value {
        serde_yaml::Value::String(s) => Ok(s.clone()),
        serde_yaml::Value::Number(n) => Ok(n.to_string()),
        serde_yaml::Value::Bool(b) => Ok(b.to_string()),
        serde_yaml::Value::Null => Ok(String::new()),
        _ => Err("an env var value must be a string, number or boolean; quote it".to_string()),
    }
}

fn checked_health_path<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    checked(d, "health_path", |v: String| {
        limits::health_path(&v).map(|()| Some(v))
    })
}

fn checked_health_timeout<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Duration>, D::Error> {
    checked(d, "health_timeout", duration_text)
}

fn checked_wait_timeout<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Duration>, D::Error> {
    checked(d, "wait_timeout", duration_text)
}

fn duration_text(value: serde_yaml::Value) -> Field<Duration> {
    let text = match value {
        serde_yaml::Value::Number(n) => n.to_string(),
        other => scalar_text(&other)?,
    };
    crate::runner::inputs::parse_duration(&text).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
defaults:
  env_id: prod-1a2b3c
  cpu: 1
  mem: 2
  env_vars:
    LOG_LEVEL: info
    WORKERS: 4
environments:
  staging:
    service: app-staging
    env_vars:
      LOG_LEVEL: debug
  production:
    service: app
    release_type: gray
    traffic: 10
    policy: cpu:60
    access_types: [public, OA]
    wait_timeout: 15m
";

    #[test]
    fn environments_overlay_the_defaults() {
        let config = ConfigFile::parse(SAMPLE, "deploy-tcb.yml").unwrap();
        let staging = config.resolve(Some("staging"), "f").unwrap();
        assert_eq!(staging.env_id.as_deref(), Some("prod-1a2b3c"));
        assert_eq!(staging.service.as_deref(), Some("app-staging"));
        let vars = staging.env_vars.unwrap();
        assert_eq!(vars["LOG_LEVEL"], "debug");
        assert_eq!(vars["WORKERS"], "4");
        let prod = config.resolve(Some("production"), "f").unwrap();
        assert_eq!(prod.release_type, Some(ReleaseKind::Gray));
        assert_eq!(prod.policy.unwrap().to_string(), "cpu:60");
        assert_eq!(
            prod.access_types.unwrap(),
            vec![AccessType::Public, AccessType::Oa]
        );
        assert_eq!(prod.wait_timeout, Some(Duration::from_secs(900)));
        assert_eq!(config.resolve(None, "f").unwrap(), config.defaults);
    }

    #[test]
    fn unknown_environment_names_the_choices() {
        let config = ConfigFile::parse(SAMPLE, "f").unwrap();
        let err = config.resolve(Some("prod"), "deploy-tcb.yml").unwrap_err();
        assert!(err.to_string().contains("`prod` is not an environment"));
        assert!(err.fix().unwrap().contains("production, staging"));
    }

    #[test]
    fn unknown_keys_carry_line_and_column() {
        let text = "environments:\n  staging:\n    servce: app\n";
        let Error::Config {
            location, problem, ..
        } = ConfigFile::parse(text, "c.yml").unwrap_err()
        else {
            panic!("expected a config error")
        };
        assert_eq!(location, Some(("c.yml".to_string(), 3, 5)));
        assert!(problem.contains("unknown field `servce`"), "{problem}");
    }

    #[test]
    fn bad_values_carry_their_position() {
        let text = "defaults:\n  env_id: e\n  cpu: 64\n";
        let Error::Config {
            location, problem, ..
        } = ConfigFile::parse(text, "c.yml").unwrap_err()
        else {
            panic!("expected a config error")
        };
        assert_eq!(location.map(|(_, line, _)| line), Some(3), "{problem}");
        assert!(problem.contains("0.25 to 16"), "{problem}");
    }

    #[test]
    fn a_gray_share_of_100_is_refused_where_it_is_written() {
        let text = "defaults:\n  release_type: gray\n  traffic: 100\n";
        let Error::Config {
            location, problem, ..
        } = ConfigFile::parse(text, "c.yml").unwrap_err()
        else {
            panic!("expected a config error")
        };
        assert_eq!(location.map(|(_, line, _)| line), Some(3), "{problem}");
    }

    #[test]
    fn instance_bounds_are_checked_after_the_overlay() {
        let text = "defaults:\n  max_instances: 2\nenvironments:\n  prod:\n    min_instances: 5\n";
        let err = ConfigFile::parse(text, "c.yml").unwrap_err();
        assert!(err.to_string().contains("environments.prod"), "{err}");
    }

    #[test]
    fn schema_lists_every_setting() {
        let schema: serde_json::Value = serde_json::from_str(&schema_json()).unwrap();
        let text = schema.to_string();
        for key in [
            "env_id",
            "health_timeout",
            "access_types",
            "on_conflict",
            "environments",
        ] {
            assert!(text.contains(key), "{key} missing from the schema");
        }
    }
}
