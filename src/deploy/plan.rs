//! The plan: what the deploy will change, computed from the desired and the current service as
//! a pure function, printed as a diff and as JSON. Secret values never enter a plan: a changed
//! secret shows as `***` on both sides.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::request::{DeployRequest, DesiredConfig, Release};
use crate::config::limits::Policy;

/// The service as it is now, read from DescribeCloudRunServerDetail.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CurrentService {
    /// The version serving the most traffic.
    pub version_name: Option<String>,
    pub image: Option<String>,
    pub cpu: Option<f64>,
    pub mem: Option<f64>,
    pub min_instances: Option<u32>,
    pub max_instances: Option<u32>,
    pub policy: Option<Policy>,
    pub port: Option<u16>,
    pub access_types: Vec<String>,
    pub env_vars: BTreeMap<String, String>,
    /// The URL the service answers on, when it has one.
    pub url: Option<String>,
}

/// What the deploy does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The service does not exist: CreateCloudRunServer.
    Create,
    /// A new version: UpdateCloudRunServer.
    Update,
    /// Same image, same configuration: nothing to release.
    Unchanged,
}

/// One field that changes. Values are display text; secrets are `***`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub action: Action,
    pub env_id: String,
    pub service: String,
    pub release: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic: Option<u8>,
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,
    pub changes: Vec<Change>,
}

/// One `Items[]` entry of CreateCloudRunServer / UpdateCloudRunServer (`DiffConfigItem`), with
/// exactly one typed value, as the API wants.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigItem {
    Float(&'static str, f64),
    Int(&'static str, i64),
    Array(&'static str, Vec<String>),
    Text(&'static str, String),
    Policies(Vec<Policy>),
}

const SECRET: &str = "***";

/// Computes the plan. `current` is `None` when the service does not exist yet.
pub fn plan(request: &DeployRequest, current: Option<&CurrentService>) -> Plan {
    let (action, changes) = match current {
        None => (Action::Create, creation_changes(request)),
        Some(now) => {
            let changes = update_changes(request, now);
            let same_image = now.image.as_deref() == Some(request.image.as_str());
            let action = if same_image && changes.is_empty() {
                Action::Unchanged
            } else {
                Action::Update
            };
            (action, changes)
        }
    };
    Plan {
        action,
        env_id: request.env_id.clone(),
        service: request.service.clone(),
        release: match request.release {
            Release::Full => "full",
            Release::Gray { .. } => "gray",
        },
        traffic: match request.release {
            Release::Gray { traffic } => Some(traffic),
            Release::Full => None,
        },
        image: request.image.clone(),
        current_version: current.and_then(|c| c.version_name.clone()),
        changes,
    }
}

fn creation_changes(request: &DeployRequest) -> Vec<Change> {
    let blank = CurrentService::default();
    let mut changes = vec![change("image", None, Some(request.image.clone()))];
    changes.extend(config_changes(&request.config, &blank));
    changes
}

fn update_changes(request: &DeployRequest, now: &CurrentService) -> Vec<Change> {
    let mut changes = Vec::new();
    if now.image.as_deref() != Some(request.image.as_str()) {
        changes.push(change(
            "image",
            now.image.clone(),
            Some(request.image.clone()),
        ));
    }
    changes.extend(config_changes(&request.config, now));
    changes
}

fn change(field: &str, before: Option<String>, after: Option<String>) -> Change {
    Change {
        field: field.to_string(),
        before,
        after,
    }
}

/// Fields the user set that differ from the current service.
fn config_changes(desired: &DesiredConfig, now: &CurrentService) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut scalar = |field: &str, want: Option<String>, have: Option<String>| {
        if let Some(want) = want
            && have.as_ref() != Some(&want)
        {
            changes.push(change(field, have, Some(want)));
        }
    };
    scalar("cpu", desired.cpu.map(number), now.cpu.map(number));
    scalar("mem", desired.mem.map(number), now.mem.map(number));
    let min = desired.min_instances.map(|n| n.to_string());
    scalar(
        "min_instances",
        min,
        now.min_instances.map(|n| n.to_string()),
    );
    let max = desired.max_instances.map(|n| n.to_string());
    scalar(
        "max_instances",
        max,
        now.max_instances.map(|n| n.to_string()),
    );
    let policy = desired.policy.as_ref().map(Policy::to_string);
    scalar("policy", policy, now.policy.as_ref().map(Policy::to_string));
    scalar(
        "port",
        desired.port.map(|p| p.to_string()),
        now.port.map(|p| p.to_string()),
    );
    if let Some(types) = &desired.access_types
        && !same_set(types, &now.access_types)
    {
        let before = (!now.access_types.is_empty()).then(|| now.access_types.join(","));
        changes.push(change("access_types", before, Some(types.join(","))));
    }
    if let Some(vars) = &desired.env_vars {
        changes.extend(env_changes(vars, &now.env_vars, desired));
    }
    changes
}

/// A number as people write it: `1`, `0.5`.
fn number(value: f64) -> String {
    let rounded = (value * 1000.0).round() / 1000.0;
    format!("{rounded}")
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

/// Per-variable changes. The desired set replaces the current one, so a variable that is only
/// current is removed. A secret's value is shown as `***`, and so is the current value of a
/// variable that becomes secret.
fn env_changes(
    want: &BTreeMap<String, String>,
    have: &BTreeMap<String, String>,
    desired: &DesiredConfig,
) -> Vec<Change> {
    let shown = |name: &str, value: &String| {
        if desired.secret_names.contains(name) {
            SECRET.to_string()
        } else {
            value.clone()
        }
    };
    let mut changes = Vec::new();
    for (name, value) in want {
        if have.get(name) != Some(value) {
            let before = have.get(name).map(|v| shown(name, v));
            changes.push(change(
                &format!("env.{name}"),
                before,
                Some(shown(name, value)),
            ));
        }
    }
    for (name, value) in have {
        if !want.contains_key(name) {
            changes.push(change(
                &format!("env.{name}"),
                Some(shown(name, value)),
                None,
            ));
        }
    }
    changes
}

impl Plan {
    /// True when the deploy would release something.
    pub fn changes_anything(&self) -> bool {
        self.action != Action::Unchanged
    }

    /// The plan as a diff, one line per field: `+` added, `-` removed, `~` changed.
    pub fn render_diff(&self) -> String {
        let mut text = String::new();
        let verb = match self.action {
            Action::Create => "create service",
            Action::Update => "update service",
            Action::Unchanged => "no change to service",
        };
        let _ = writeln!(text, "{verb} {} in {}", self.service, self.env_id);
        let release = match self.traffic {
            Some(traffic) => format!("gray release with {traffic}% of traffic"),
            None => "full release".to_string(),
        };
        if self.changes_anything() {
            let _ = writeln!(text, "  release: {release}");
        }
        for change in &self.changes {
            let before = change.before.as_deref().map(one_line);
            let after = change.after.as_deref().map(one_line);
            let line = match (&before, &after) {
                (None, Some(after)) => format!("+ {}: {after}", change.field),
                (Some(before), None) => format!("- {}: {before}", change.field),
                (Some(before), Some(after)) => format!("~ {}: {before} -> {after}", change.field),
                (None, None) => continue,
            };
            let _ = writeln!(text, "  {line}");
        }
        if !self.changes_anything() {
            let _ = writeln!(
                text,
                "  image {} is already serving with this configuration",
                self.image
            );
        }
        text
    }

    /// The plan as compact JSON (the `plan` output).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a plan serialises")
    }
}

/// A value on one line: a newline inside a value could otherwise start a line that the runner
/// reads as a workflow command.
fn one_line(value: &str) -> String {
    value.replace('\r', "\\r").replace('\n', "\\n")
}

/// The `Items[]` to send. A new service gets every setting the user gave; an update sends only
/// the settings that change. Env vars go as one `EnvParam` JSON string holding the whole set.
pub fn config_items(request: &DeployRequest, plan: &Plan) -> Vec<ConfigItem> {
    let desired = &request.config;
    let changed = |field: &str| {
        plan.action == Action::Create
            || plan
                .changes
                .iter()
                .any(|c| c.field == field || (field == "env" && c.field.starts_with("env.")))
    };
    let mut items = Vec::new();
    if let Some(cpu) = desired.cpu.filter(|_| changed("cpu")) {
        items.push(ConfigItem::Float("CpuSpecs", cpu));
    }
    if let Some(mem) = desired.mem.filter(|_| changed("mem")) {
        items.push(ConfigItem::Float("MemSpecs", mem));
    }
    if let Some(min) = desired.min_instances.filter(|_| changed("min_instances")) {
        items.push(ConfigItem::Int("MinNum", i64::from(min)));
    }
    if let Some(max) = desired.max_instances.filter(|_| changed("max_instances")) {
        items.push(ConfigItem::Int("MaxNum", i64::from(max)));
    }
    if let Some(policy) = desired.policy.clone().filter(|_| changed("policy")) {
        items.push(ConfigItem::Policies(vec![policy]));
    }
    if let Some(port) = desired.port.filter(|_| changed("port")) {
        items.push(ConfigItem::Int("Port", i64::from(port)));
    }
    if let Some(types) = desired
        .access_types
        .clone()
        .filter(|_| changed("access_types"))
    {
        items.push(ConfigItem::Array("AccessTypes", types));
    }
    if let Some(vars) = desired.env_vars.as_ref().filter(|_| changed("env")) {
        let json = serde_json::to_string(vars).expect("a string map serialises");
        items.push(ConfigItem::Text("EnvParam", json));
    }
    items
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use super::*;
    use crate::cli::OnConflict;

    fn request(config: DesiredConfig) -> DeployRequest {
        DeployRequest {
            env_id: "env-1".into(),
            service: "api".into(),
            image: "reg.io/team/api:2".into(),
            region: "ap-shanghai".into(),
            release: Release::Full,
            config,
            health_path: "/".into(),
            health_timeout: Duration::from_secs(60),
            wait_timeout: Duration::from_secs(600),
            on_conflict: OnConflict::Wait,
            dry_run: false,
            environment: None,
        }
    }

    fn current() -> CurrentService {
        CurrentService {
            version_name: Some("api-001".into()),
            image: Some("reg.io/team/api:1".into()),
            cpu: Some(1.0),
            mem: Some(2.0),
            min_instances: Some(0),
            max_instances: Some(5),
            policy: Policy::parse("cpu:60").ok(),
            port: Some(8000),
            access_types: vec!["PUBLIC".into()],
            env_vars: BTreeMap::from([
                ("LOG".to_string(), "info".to_string()),
                ("OLD".to_string(), "x".to_string()),
                ("TOKEN".to_string(), "old-secret".to_string()),
            ]),
            url: None,
        }
    }

    #[test]
    fn a_missing_service_is_created_with_every_given_setting() {
        let desired = DesiredConfig {
            cpu: Some(0.5),
            port: Some(8080),
            ..DesiredConfig::default()
        };
        let req = request(desired);
        let plan = plan(&req, None);
        assert_eq!(plan.action, Action::Create);
        assert_eq!(
            plan.render_diff(),
            "create service api in env-1\n  release: full release\n  + image: reg.io/team/api:2\n  + cpu: 0.5\n  + port: 8080\n"
        );
        assert_eq!(
            config_items(&req, &plan),
            vec![
                ConfigItem::Float("CpuSpecs", 0.5),
                ConfigItem::Int("Port", 8080)
            ]
        );
    }

    #[test]
    fn same_image_and_config_is_unchanged() {
        let mut req = request(DesiredConfig {
            cpu: Some(1.0),
            ..DesiredConfig::default()
        });
        req.image = "reg.io/team/api:1".into();
        let plan = plan(&req, Some(&current()));
        assert_eq!(plan.action, Action::Unchanged);
        assert!(plan.changes.is_empty());
        assert!(plan.render_diff().contains("already serving"));
        assert!(config_items(&req, &plan).is_empty());
    }

    #[test]
    fn updates_list_only_what_changes_and_hide_secrets() {
        let req = request(DesiredConfig {
            cpu: Some(2.0),
            mem: Some(2.0),
            access_types: Some(vec!["PUBLIC".into(), "OA".into()]),
            env_vars: Some(BTreeMap::from([
                ("LOG".to_string(), "debug".to_string()),
                ("TOKEN".to_string(), "new-secret".to_string()),
            ])),
            secret_names: BTreeSet::from(["TOKEN".to_string()]),
            ..DesiredConfig::default()
        });
        let plan = plan(&req, Some(&current()));
        assert_eq!(plan.action, Action::Update);
        let diff = plan.render_diff();
        assert_eq!(
            diff,
            "update service api in env-1\n  release: full release\n  ~ image: reg.io/team/api:1 -> reg.io/team/api:2\n  ~ cpu: 1 -> 2\n  ~ access_types: PUBLIC -> PUBLIC,OA\n  ~ env.LOG: info -> debug\n  ~ env.TOKEN: *** -> ***\n  - env.OLD: x\n"
        );
        let json = plan.to_json();
        assert!(!json.contains("secret"), "{json}");
        assert!(json.contains(r#""action":"update""#));
        let items = config_items(&req, &plan);
        assert_eq!(items.len(), 3, "{items:?}");
        assert!(matches!(&items[2], ConfigItem::Text("EnvParam", v) if v.contains("new-secret")));
    }

    #[test]
    fn values_stay_on_one_line() {
        let req = request(DesiredConfig {
            env_vars: Some(BTreeMap::from([(
                "X".to_string(),
                "a\n::warning::x".to_string(),
            )])),
            ..DesiredConfig::default()
        });
        let diff = plan(&req, None).render_diff();
        assert!(diff.contains("+ env.X: a\\n::warning::x"), "{diff}");
        assert!(!diff.lines().any(|l| l.starts_with("::")));
    }

    #[test]
    fn gray_plans_carry_the_traffic() {
        let mut req = request(DesiredConfig::default());
        req.release = Release::Gray { traffic: 10 };
        let plan = plan(&req, Some(&current()));
        assert_eq!(plan.traffic, Some(10));
        assert!(
            plan.render_diff()
                .contains("gray release with 10% of traffic")
        );
        assert_eq!(plan.current_version.as_deref(), Some("api-001"));
    }
}
