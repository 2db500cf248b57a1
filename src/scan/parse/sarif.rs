//! SARIF 2.1.0 from any tool (bandit's two writers, semgrep, trivy, checkov, hadolint,
//! gitleaks, CodeQL, Snyk Code…): one tool per run, named by `tool.driver.name`.
//!
//! Severity: `security-severity` (result, then rule) by GitHub's bands when present; else the
//! result's `level`, then the rule's `defaultConfiguration.level`, then `warning`:
//! error → high, warning → medium, note → low, none → info. Checkov marks every result
//! `error` when it has no platform key, so checkov results without a `security-severity`
//! are medium, as in its JSON. Results the tool itself suppressed (`suppressions`), results of
//! kind `pass`/`notApplicable` and results of baseline state `absent` are not findings.
//! Execution notifications at level error or warning, and `executionSuccessful: false`,
//! are scanner issues.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use thin_vec::ThinVec;

use super::lenient;
use super::{Ctx, Input};
use crate::scan::model::{Package, Region, Severity, cwes_in};

#[derive(Deserialize, Default)]
#[serde(default)]
struct Tool {
    driver: Driver,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Driver {
    #[serde(deserialize_with = "lenient::text")]
    name: String,
    #[serde(deserialize_with = "lenient::seq")]
    rules: Vec<Rule>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Text {
    #[serde(deserialize_with = "lenient::text")]
    text: String,
    #[serde(deserialize_with = "lenient::text")]
    markdown: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Rule {
    #[serde(deserialize_with = "lenient::text")]
    id: String,
    #[serde(deserialize_with = "lenient::text")]
    name: String,
    short_description: Option<Text>,
    full_description: Option<Text>,
    help: Option<Text>,
    #[serde(deserialize_with = "lenient::text")]
    help_uri: String,
    default_configuration: Option<Configuration>,
    properties: Option<Properties>,
    /// What every finding of the rule shares, worked out at its first finding.
    #[serde(skip)]
    described: std::cell::OnceCell<Described>,
}

/// A rule's texts and CWEs as findings carry them.
#[derive(Default)]
struct Described {
    title: Option<Arc<str>>,
    description: Option<Arc<str>>,
    help_uri: Option<Arc<str>>,
    cwes: ThinVec<u32>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Configuration {
    #[serde(deserialize_with = "lenient::text")]
    level: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Properties {
    #[serde(rename = "security-severity", deserialize_with = "lenient::score")]
    security_severity: Option<f64>,
    #[serde(deserialize_with = "lenient::strings")]
    tags: Vec<String>,
    #[serde(deserialize_with = "lenient::strings")]
    cwe: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SarifResult {
    #[serde(deserialize_with = "lenient::text")]
    rule_id: String,
    rule_index: Option<usize>,
    rule: Option<RuleReference>,
    #[serde(deserialize_with = "lenient::text")]
    level: String,
    #[serde(deserialize_with = "lenient::text")]
    kind: String,
    #[serde(deserialize_with = "lenient::text")]
    baseline_state: String,
    message: Text,
    #[serde(deserialize_with = "lenient::seq")]
    locations: Vec<Location>,
    #[serde(deserialize_with = "lenient::seq")]
    suppressions: Vec<Suppression>,
    fingerprints: Option<BTreeMap<String, AnyText>>,
    partial_fingerprints: Option<BTreeMap<String, AnyText>>,
    properties: Option<Properties>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RuleReference {
    #[serde(deserialize_with = "lenient::text")]
    id: String,
    index: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Suppression {
    #[serde(deserialize_with = "lenient::text")]
    status: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Location {
    physical_location: Option<PhysicalLocation>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: Option<ArtifactLocation>,
    region: Option<SarifRegion>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ArtifactLocation {
    #[serde(deserialize_with = "lenient::text")]
    uri: String,
    index: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Artifact {
    location: Option<ArtifactLocation>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SarifRegion {
    #[serde(deserialize_with = "lenient::number")]
    start_line: u64,
    #[serde(deserialize_with = "lenient::number")]
    start_column: u64,
    #[serde(deserialize_with = "lenient::number")]
    end_line: u64,
    #[serde(deserialize_with = "lenient::number")]
    end_column: u64,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Invocation {
    execution_successful: Option<bool>,
    #[serde(deserialize_with = "lenient::seq")]
    tool_execution_notifications: Vec<Notification>,
    #[serde(deserialize_with = "lenient::seq")]
    tool_configuration_notifications: Vec<Notification>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Notification {
    level: Option<String>,
    message: Text,
}

/// Any scalar as text (fingerprint values), without a JSON tree in between.
#[derive(Deserialize, Default)]
#[serde(transparent)]
struct AnyText(#[serde(deserialize_with = "lenient::text")] String);

/// A list that may be null.
#[derive(Deserialize)]
#[serde(transparent, bound = "T: Deserialize<'de>")]
struct Lenient<T>(#[serde(deserialize_with = "lenient::seq")] Vec<T>);

/// Reads the log as a stream: each result becomes a finding as soon as it is read, so a run's
/// results are never all held at once (only a run whose results come before its `tool`, or
/// that points into `artifacts` written after the results, keeps those results until the
/// end of the run).
pub fn parse(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    match reader {
        Input::Bytes(bytes) => read(&mut serde_json::Deserializer::from_slice(bytes), ctx),
        Input::Reader(reader) => read(&mut serde_json::Deserializer::from_reader(reader), ctx),
    }
}

fn read<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    ctx: &mut Ctx,
) -> Result<(), String> {
    LogSeed { ctx }
        .deserialize(&mut *de)
        .and_then(|()| de.end())
        .map_err(|e| e.to_string())
}

struct LogSeed<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
}

impl<'de> DeserializeSeed<'de> for LogSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LogSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a SARIF log object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<str>>()? {
            if key == "runs" {
                map.next_value_seed(RunsSeed {
                    ctx: &mut *self.ctx,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct RunsSeed<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
}

impl<'de> DeserializeSeed<'de> for RunsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RunsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of runs")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(run) = seq.next_element_seed(RunSeed {
            ctx: &mut *self.ctx,
        })? {
            run.finish(self.ctx);
        }
        Ok(())
    }
}

/// One run as it is read: what came so far, and results waiting for the tool or artifacts.
#[derive(Default)]
struct RunState {
    tool: Option<Tool>,
    /// Our name for the run's tool, once the tool is known.
    name: Option<String>,
    /// Rule positions by id, for results that name their rule without an index.
    rules_by_id: hashbrown::HashMap<String, usize>,
    artifacts: Option<Vec<Artifact>>,
    invocations: Vec<Invocation>,
    pending: Vec<SarifResult>,
}

impl RunState {
    fn set_tool(&mut self, tool: Tool, ctx: &Ctx) {
        self.rules_by_id = tool
            .driver
            .rules
            .iter()
            .enumerate()
            .rev()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        self.tool = Some(tool);
        self.name = Some(self.tool_name(ctx));
    }

    fn tool_name(&self, ctx: &Ctx) -> String {
        ctx.forced_tool
            .clone()
            .filter(|t| t != "sarif")
            .unwrap_or_else(|| tool_name(self.tool.as_ref().map_or("", |t| &t.driver.name)))
    }

    /// Converts one result now, or keeps it when what it refers to may still come.
    fn take(&mut self, result: SarifResult, ctx: &mut Ctx) {
        if is_not_a_finding(&result) {
            return;
        }
        let needs_artifacts = self.artifacts.is_none() && refers_to_artifact(&result);
        if self.tool.is_none() || needs_artifacts {
            self.pending.push(result);
            return;
        }
        self.convert(result, ctx);
    }

    /// The tool's name: worked out once when the tool is read, as every result needs it.
    fn name(&self, ctx: &Ctx) -> std::borrow::Cow<'_, str> {
        match &self.name {
            Some(name) => std::borrow::Cow::Borrowed(name.as_str()),
            None => std::borrow::Cow::Owned(self.tool_name(ctx)),
        }
    }

    fn convert(&self, result: SarifResult, ctx: &mut Ctx) {
        let tool = self.name(ctx);
        let rules = self.tool.as_ref().map_or(&[][..], |t| &t.driver.rules);
        let rule = find_rule(rules, &self.rules_by_id, &result);
        let artifacts = self.artifacts.as_deref().unwrap_or_default();
        convert(result, rule, artifacts, &tool, ctx);
    }

    fn finish(mut self, ctx: &mut Ctx) {
        let tool = self.name(ctx).into_owned();
        ctx.saw_tool(&tool);
        report_invocations(&self.invocations, &tool, ctx);
        for result in std::mem::take(&mut self.pending) {
            self.convert(result, ctx);
        }
    }
}

fn refers_to_artifact(result: &SarifResult) -> bool {
    result
        .locations
        .first()
        .and_then(|l| l.physical_location.as_ref())
        .and_then(|p| p.artifact_location.as_ref())
        .is_some_and(|a| a.uri.is_empty() && a.index.is_some())
}

struct RunSeed<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
}

impl<'de> DeserializeSeed<'de> for RunSeed<'_, '_> {
    type Value = RunState;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RunState, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RunSeed<'_, '_> {
    type Value = RunState;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a SARIF run object")
    }
    // A null run is an empty run, as before.
    fn visit_unit<E: de::Error>(self) -> Result<RunState, E> {
        Ok(RunState::default())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RunState, A::Error> {
        let mut run = RunState::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<str>>()? {
            match key.as_ref() {
                "tool" => run.set_tool(
                    map.next_value::<Option<Tool>>()?.unwrap_or_default(),
                    self.ctx,
                ),
                "artifacts" => run.artifacts = Some(map.next_value::<Lenient<Artifact>>()?.0),
                "invocations" => run.invocations = map.next_value::<Lenient<Invocation>>()?.0,
                "results" => map.next_value_seed(ResultsSeed {
                    run: &mut run,
                    ctx: &mut *self.ctx,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(run)
    }
}

struct ResultsSeed<'r, 'c, 'a> {
    run: &'r mut RunState,
    ctx: &'c mut Ctx<'a>,
}

impl<'de> DeserializeSeed<'de> for ResultsSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ResultsSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of results")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(result) = seq.next_element::<SarifResult>()? {
            self.run.take(result, self.ctx);
        }
        Ok(())
    }
}

/// Our name for a SARIF driver: the well-known tools by their usual short name.
pub fn tool_name(driver: &str) -> String {
    let lower = driver.trim().to_ascii_lowercase();
    const KNOWN: [&str; 12] = [
        "semgrep",
        "bandit",
        "trivy",
        "checkov",
        "hadolint",
        "gitleaks",
        "grype",
        "codeql",
        "snyk",
        "govulncheck",
        "dependency-check",
        "osv-scanner",
    ];
    if let Some(known) = KNOWN.iter().find(|k| lower.contains(*k)) {
        return known.to_string();
    }
    let name: String = lower
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let name = name.trim_matches('-').to_string();
    if name.is_empty() {
        "sarif".into()
    } else {
        name
    }
}

/// Semgrep prefixes rule ids with the rule file's directory (`sample-app.rules.x` vs
/// `rules.x` depending on where it ran); only the last segment identifies the rule.
pub fn normalise_rule(tool: &str, rule: &str) -> String {
    match tool {
        "semgrep" => rule.rsplit('.').next().unwrap_or(rule).to_string(),
        _ => rule.to_string(),
    }
}

fn report_invocations(invocations: &[Invocation], tool: &str, ctx: &mut Ctx) {
    for invocation in invocations {
        if invocation.execution_successful == Some(false) {
            ctx.issue(
                tool,
                "the tool reported that its run did not succeed (executionSuccessful: false)",
            );
        }
        let notes = invocation
            .tool_execution_notifications
            .iter()
            .chain(&invocation.tool_configuration_notifications);
        for note in notes {
            let level = note.level.as_deref().unwrap_or("warning");
            if level == "error" || level == "warning" {
                ctx.issue(tool, format!("{level}: {}", note.message.text.trim()));
            }
        }
    }
}

fn is_not_a_finding(result: &SarifResult) -> bool {
    let suppressed = result
        .suppressions
        .iter()
        .any(|s| s.status.is_empty() || s.status == "accepted");
    suppressed
        || matches!(result.kind.as_str(), "pass" | "notApplicable")
        || result.baseline_state == "absent"
}

fn find_rule<'r>(
    rules: &'r [Rule],
    by_id: &hashbrown::HashMap<String, usize>,
    result: &SarifResult,
) -> Option<&'r Rule> {
    let index = result
        .rule_index
        .or_else(|| result.rule.as_ref().and_then(|r| r.index));
    let id = if result.rule_id.is_empty() {
        result.rule.as_ref().map(|r| r.id.as_str()).unwrap_or("")
    } else {
        result.rule_id.as_str()
    };
    index
        .and_then(|i| rules.get(i))
        .filter(|r| id.is_empty() || r.id == id)
        .or_else(|| rules.get(*by_id.get(id)?))
}

fn severity(
    tool: &str,
    result: &SarifResult,
    rule: Option<&Rule>,
) -> (Severity, String, Option<f64>) {
    let score = result
        .properties
        .as_ref()
        .and_then(|p| p.security_severity)
        .or_else(|| rule.and_then(|r| r.properties.as_ref()?.security_severity))
        .filter(|s| (0.0..=10.0).contains(s));
    if let Some(score) = score {
        return (
            Severity::from_score(score),
            format!("security-severity {score}"),
            Some(score),
        );
    }
    let level = Some(result.level.as_str())
        .filter(|l| !l.is_empty())
        .or_else(|| {
            rule.and_then(|r| r.default_configuration.as_ref())
                .map(|c| c.level.as_str())
        })
        .filter(|l| !l.is_empty())
        .unwrap_or("warning");
    let severity = match level {
        _ if tool == "checkov" => Severity::Medium,
        "error" => Severity::High,
        "note" => Severity::Low,
        "none" => Severity::Info,
        _ => Severity::Medium,
    };
    (severity, level.to_string(), None)
}

fn convert(
    result: SarifResult,
    rule: Option<&Rule>,
    artifacts: &[Artifact],
    tool: &str,
    ctx: &mut Ctx,
) {
    let raw_rule = if !result.rule_id.is_empty() {
        result.rule_id.clone()
    } else if let Some(r) = rule {
        r.id.clone()
    } else {
        result
            .rule
            .as_ref()
            .map(|r| r.id.clone())
            .unwrap_or_default()
    };
    let rule_id = normalise_rule(tool, &raw_rule);
    let (severity, tool_severity, score) = severity(tool, &result, rule);
    let message = if result.message.text.trim().is_empty() {
        result.message.markdown.clone()
    } else {
        result.message.text.clone()
    };
    let message = if message.trim().is_empty() {
        rule.and_then(|r| r.short_description.as_ref())
            .map(|t| t.text.clone())
            .unwrap_or_default()
    } else {
        message
    };
    let mut finding = ctx.finding(tool, &rule_id, severity, &message);
    finding.tool_severity = ctx.s(&tool_severity);
    finding.score = score;
    if let Some(rule) = rule {
        describe_rule(&mut finding, rule, ctx);
    }
    locate(&mut finding, &result, artifacts, ctx);
    let mut ids: Vec<_> = [raw_rule.as_str()]
        .into_iter()
        .filter(|id| id.starts_with("CVE-") || id.starts_with("GHSA-") || id.starts_with("GO-"))
        .map(|id| ctx.s(id))
        .collect();
    super::order_ids(&mut ids);
    finding.ids = ids.into();
    if tool == "trivy" {
        finding.package = package_from_message(&message, ctx).map(Box::new);
    }
    // The tool's fingerprint tells apart findings that have no line (dedupe and identity use
    // it only then); keeping it for located findings would cost memory for nothing.
    if finding.path.is_none() || finding.region.is_none() {
        finding.tool_fingerprint = tool_fingerprint(&result).map(|f| ctx.s(&f));
    }
    ctx.push(finding);
}

fn describe_rule(finding: &mut crate::scan::model::Finding, rule: &Rule, ctx: &mut Ctx) {
    let described = rule.described.get_or_init(|| describe(rule, ctx));
    finding.title = described.title.clone();
    finding.description = described.description.clone();
    finding.help_uri = described.help_uri.clone();
    finding.cwes = described.cwes.clone();
}

fn describe(rule: &Rule, ctx: &mut Ctx) -> Described {
    let short = rule
        .short_description
        .as_ref()
        .map(|t| t.text.as_str())
        .filter(|t| !t.trim().is_empty())
        .or(Some(rule.name.as_str()));
    let full = rule
        .full_description
        .as_ref()
        .map(|t| t.text.as_str())
        .filter(|t| !t.trim().is_empty())
        .or_else(|| rule.help.as_ref().map(|t| t.text.as_str()));
    let mut cwes: ThinVec<u32> = rule
        .properties
        .iter()
        .flat_map(|props| props.tags.iter().chain(&props.cwe))
        .flat_map(|t| cwes_in(t))
        .collect();
    cwes.dedup();
    Described {
        title: ctx.opt(short),
        description: ctx.opt(full),
        help_uri: ctx.opt(Some(&rule.help_uri)),
        cwes,
    }
}

fn locate(
    finding: &mut crate::scan::model::Finding,
    result: &SarifResult,
    artifacts: &[Artifact],
    ctx: &mut Ctx,
) {
    let Some(physical) = result
        .locations
        .first()
        .and_then(|l| l.physical_location.as_ref())
    else {
        return;
    };
    if let Some(artifact) = &physical.artifact_location {
        let uri = if artifact.uri.is_empty() {
            artifact
                .index
                .and_then(|i| artifacts.get(i))
                .and_then(|a| a.location.as_ref())
                .map(|l| l.uri.as_str())
                .unwrap_or("")
        } else {
            artifact.uri.as_str()
        };
        finding.path = ctx.path(uri);
    }
    if let Some(r) = &physical.region {
        finding.region = Region::span(r.start_line, r.start_column, r.end_line, r.end_column);
    }
}

fn tool_fingerprint(result: &SarifResult) -> Option<String> {
    let real = |v: &AnyText| {
        Some(v.0.as_str())
            .filter(|s| !s.is_empty() && *s != "requires login")
            .map(str::to_string)
    };
    if let Some(value) = result
        .fingerprints
        .as_ref()
        .and_then(|f| f.values().find_map(real))
    {
        return Some(value);
    }
    let partial = result.partial_fingerprints.as_ref()?;
    let joined: Vec<String> = partial
        .iter()
        .filter_map(|(k, v)| real(v).map(|v| format!("{k}:{v}")))
        .collect();
    (!joined.is_empty()).then(|| joined.join("|"))
}

/// Trivy's SARIF puts the package in the message (`Package: x` / `Installed Version: y`).
fn package_from_message(message: &str, ctx: &mut Ctx) -> Option<Package> {
    let field = |name: &str| {
        message
            .lines()
            .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
    };
    let name = field("Package:")?;
    Some(Package {
        name: ctx.s(&name),
        version: ctx.opt(field("Installed Version:").as_deref()),
        fixed: ctx.opt(field("Fixed Version:").as_deref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::model::{Interner, Parsed};
    use crate::scan::paths::RepoPaths;

    const TOOL: &str = r#""tool":{"driver":{"name":"Bandit","rules":[{"id":"B101","shortDescription":{"text":"assert used"},"properties":{"tags":["CWE-703"]}},{"id":"B602","shortDescription":{"text":"shell true"},"properties":{"tags":["external/cwe/cwe-78"]}}]}}"#;
    const RESULTS: &str = r#""results":[{"ruleId":"B602","level":"error","message":{"text":"shell"},"locations":[{"physicalLocation":{"artifactLocation":{"index":1},"region":{"startLine":7}}}]},{"ruleId":"B101","ruleIndex":0,"message":{"text":"assert"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"app/a.py"},"region":{"startLine":3}}}]}]"#;
    const ARTIFACTS: &str =
        r#""artifacts":[{"location":{"uri":"app/a.py"}},{"location":{"uri":"app/b.py"}}]"#;

    /// What the findings of a log say, in a form that compares.
    fn read(log: &str, streamed: bool) -> Vec<String> {
        let paths = RepoPaths::new(std::path::Path::new("/repo"));
        let mut interner = Interner::default();
        let mut ctx = Ctx {
            interner: &mut interner,
            paths: &paths,
            file: "test.sarif".into(),
            forced_tool: None,
            parsed: Parsed::default(),
            sink: None,
        };
        let input = if streamed {
            Input::Reader(Box::new(log.as_bytes()))
        } else {
            Input::Bytes(log.as_bytes())
        };
        parse(input, &mut ctx).unwrap();
        assert_eq!(ctx.parsed.tools, vec!["bandit"]);
        let mut seen: Vec<String> = ctx
            .parsed
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{} {} {:?}:{:?} {:?} {:?}",
                    f.tool,
                    f.rule,
                    f.path,
                    f.start_line(),
                    f.title,
                    f.cwes
                )
            })
            .collect();
        seen.sort();
        seen
    }

    #[test]
    fn a_run_reads_the_same_whatever_order_its_parts_come_in() {
        let expected = read(
            &format!(r#"{{"runs":[{{{TOOL},{ARTIFACTS},{RESULTS}}}]}}"#),
            false,
        );
        assert_eq!(expected.len(), 2);
        assert!(expected[1].contains("B602 Some(\"app/b.py\"):Some(7) Some(\"shell true\") [78]"));
        for order in [
            format!("{RESULTS},{TOOL},{ARTIFACTS}"),
            format!("{TOOL},{RESULTS},{ARTIFACTS}"),
            format!("{ARTIFACTS},{RESULTS},{TOOL}"),
        ] {
            let log = format!(r#"{{"version":"2.1.0","runs":[{{{order}}}]}}"#);
            assert_eq!(read(&log, false), expected, "{order}");
            assert_eq!(read(&log, true), expected, "streamed: {order}");
        }
    }

    #[test]
    fn null_runs_and_results_are_no_findings_and_garbage_is_an_error() {
        assert!(
            read(
                r#"{"runs":[{"tool":{"driver":{"name":"bandit"}},"results":null}]}"#,
                false
            )
            .is_empty()
        );
        let paths = RepoPaths::new(std::path::Path::new("/repo"));
        let mut interner = Interner::default();
        let mut ctx = Ctx {
            interner: &mut interner,
            paths: &paths,
            file: "x".into(),
            forced_tool: None,
            parsed: Parsed::default(),
            sink: None,
        };
        assert!(parse(Input::Bytes(br#"{"runs":[{"results":[1]}]}"#), &mut ctx).is_err());
        assert!(parse(Input::Bytes(br#"{"runs":[]} trailing"#), &mut ctx).is_err());
    }
}
