//! Dependency scanners: safety (1.x array, 2.x `check --json`, 3.x `scan`), pip-audit (list
//! and object forms), grype, osv-scanner, npm audit (v6 `advisories`, v7+ `vulnerabilities`),
//! OWASP dependency-check XML, snyk (one project or `--all-projects`) and govulncheck
//! (the JSON message stream or array, and the pre-1.0 `Vulns` object).
//!
//! Severity mapping, per tool:
//! - safety, pip-audit: they publish no severity: medium (as DefectDojo does), unless safety
//!   2.x carries a CVSS score, which is banded.
//! - grype, snyk, npm, osv (`database_specific.severity`), dependency-check (`<severity>`):
//!   the tool's word (critical/high/medium|moderate/low/negligible|info); a missing or
//!   unknown word falls back to the CVSS score banded as GitHub does, then to low (osv, as
//!   DefectDojo) or info.
//! - govulncheck: the OSV record's own severity when present; otherwise high when the
//!   vulnerable symbol is reachable from the code (a trace with a function), medium when only
//!   the package or module is used.
//!
//! Scanner issues: pip-audit's skipped dependencies (`skip_reason`: not audited ≠ clean),
//! npm audit's `{"error": …}`, snyk's `ok: false` with an `error`.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::lenient;
use super::{Ctx, Input, first_line, order_ids, read_json};
use crate::scan::model::{Package, Severity, cwes_in};

/// A vulnerable dependency, as every dependency parser describes it.
#[derive(Default)]
struct DepVuln {
    tool: &'static str,
    id: String,
    aliases: Vec<String>,
    package: String,
    version: String,
    fixed: String,
    severity: Option<Severity>,
    tool_severity: String,
    score: Option<f64>,
    title: String,
    description: String,
    url: String,
    path: String,
    cwes: Vec<u32>,
    /// Severity when the tool gave neither a word nor a score.
    fallback: Option<Severity>,
}

fn push_dep(v: DepVuln, ctx: &mut Ctx) {
    let severity = v
        .severity
        .or_else(|| v.score.filter(|s| *s > 0.0).map(Severity::from_score))
        .or(v.fallback)
        .unwrap_or(Severity::Info);
    let title = if v.title.trim().is_empty() {
        first_line(&v.description, 120)
    } else {
        first_line(&v.title, 200)
    };
    let version = if v.version.is_empty() {
        String::new()
    } else {
        format!(" {}", v.version)
    };
    let fixed = if v.fixed.is_empty() {
        String::new()
    } else {
        format!(" (fixed in {})", v.fixed)
    };
    let message = format!("{} in {}{}{}: {}", v.id, v.package, version, fixed, title);
    let mut f = ctx.finding(v.tool, &v.id, severity, &message);
    f.tool_severity = ctx.s(&v.tool_severity);
    f.score = v.score;
    f.title = ctx.opt(Some(&title));
    f.description = ctx.opt(Some(&v.description));
    f.help_uri = ctx.opt(Some(&v.url));
    f.path = if v.path.is_empty() {
        None
    } else {
        ctx.path(&v.path)
    };
    f.cwes = v.cwes.into();
    let mut ids: Vec<Arc<str>> = std::iter::once(&v.id)
        .chain(&v.aliases)
        .filter(|id| !id.trim().is_empty())
        .map(|id| ctx.s(id.trim()))
        .collect();
    order_ids(&mut ids);
    f.ids = ids.into();
    f.package = Some(Box::new(Package {
        name: ctx.s(&v.package),
        version: ctx.opt(Some(&v.version)),
        fixed: ctx.opt(Some(&v.fixed)),
    }));
    ctx.push(f);
}

fn word(text: &str) -> Option<Severity> {
    Severity::from_word(text).filter(|_| !text.eq_ignore_ascii_case("unknown"))
}

// ---- safety ----

pub fn safety_legacy(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let rows: Vec<Vec<Value>> = read_json(reader)?;
    for row in rows {
        let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or("").to_string();
        let description = text(3);
        let cve = description
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .find(|w| w.starts_with("CVE-"))
            .map(str::to_string);
        push_dep(
            DepVuln {
                tool: "safety",
                id: format!("pyup-{}", text(4)),
                aliases: cve.into_iter().collect(),
                package: text(0),
                version: text(2),
                title: format!("{} {} is vulnerable ({})", text(0), text(2), text(1)),
                description,
                fallback: Some(Severity::Medium),
                tool_severity: String::from("none"),
                ..DepVuln::default()
            },
            ctx,
        );
    }
    Ok(())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SafetyCheck {
    #[serde(deserialize_with = "lenient::seq")]
    vulnerabilities: Vec<SafetyVuln>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SafetyVuln {
    #[serde(deserialize_with = "lenient::text")]
    vulnerability_id: String,
    #[serde(deserialize_with = "lenient::text")]
    package_name: String,
    #[serde(deserialize_with = "lenient::text")]
    analyzed_version: String,
    #[serde(deserialize_with = "lenient::text")]
    advisory: String,
    #[serde(rename = "CVE", deserialize_with = "lenient::text")]
    cve: String,
    severity: Option<Value>,
    #[serde(deserialize_with = "lenient::text")]
    more_info_url: String,
    #[serde(deserialize_with = "lenient::strings")]
    fixed_versions: Vec<String>,
    #[serde(deserialize_with = "lenient::text")]
    vulnerable_spec: String,
}

/// Safety 2.x severity is null or `{cvssv3: {base_score}, cvssv2: {base_score}}`.
fn safety_score(severity: &Option<Value>) -> Option<f64> {
    let s = severity.as_ref()?;
    ["cvssv3", "cvssv2"]
        .iter()
        .find_map(|k| s.get(k)?.get("base_score")?.as_f64())
}

pub fn safety_check(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let report: SafetyCheck = read_json(reader)?;
    for v in report.vulnerabilities {
        push_dep(
            DepVuln {
                tool: "safety",
                id: format!("pyup-{}", v.vulnerability_id),
                aliases: vec![v.cve.clone()],
                package: v.package_name.clone(),
                version: v.analyzed_version.clone(),
                fixed: v.fixed_versions.first().cloned().unwrap_or_default(),
                score: safety_score(&v.severity),
                tool_severity: safety_score(&v.severity)
                    .map_or_else(|| "none".into(), |s| s.to_string()),
                title: format!(
                    "{} {} is vulnerable ({})",
                    v.package_name, v.analyzed_version, v.vulnerable_spec
                ),
                description: v.advisory.clone(),
                url: v.more_info_url,
                cwes: cwes_in(&v.advisory),
                fallback: Some(Severity::Medium),
                ..DepVuln::default()
            },
            ctx,
        );
    }
    Ok(())
}

/// Moves the array at `pointer` out of an owned report (empty when absent or not an array),
/// instead of copying it.
fn take_array(report: &mut Value, pointer: &str) -> Vec<Value> {
    match report.pointer_mut(pointer).map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

/// Moves the object at `pointer` out of an owned report (empty when absent or not an object).
fn take_object(report: &mut Value, pointer: &str) -> serde_json::Map<String, Value> {
    match report.pointer_mut(pointer).map(Value::take) {
        Some(Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    }
}

pub fn safety_scan(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let mut report: Value = read_json(reader)?;
    for mut file in take_array(&mut report, "/scan_results/files") {
        let path = file
            .pointer("/location")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        for dep in take_array(&mut file, "/results/dependencies") {
            let name = dep
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            for spec in dep
                .get("specifications")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let raw = spec.get("raw").and_then(Value::as_str).unwrap_or("");
                let version = raw
                    .rsplit("==")
                    .next()
                    .filter(|_| raw.contains("=="))
                    .unwrap_or("")
                    .to_string();
                let known = spec
                    .pointer("/vulnerabilities/known_vulnerabilities")
                    .and_then(Value::as_array);
                for vuln in known.into_iter().flatten() {
                    if vuln.get("ignored").is_some_and(|i| !i.is_null()) {
                        continue;
                    }
                    let id = vuln
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    let spec_text = vuln
                        .get("vulnerable_spec")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    push_dep(
                        DepVuln {
                            tool: "safety",
                            id: format!("pyup-{id}"),
                            package: name.clone(),
                            version: version.clone(),
                            title: format!("{raw} is vulnerable ({spec_text})"),
                            path: path.clone(),
                            fallback: Some(Severity::Medium),
                            tool_severity: String::from("none"),
                            ..DepVuln::default()
                        },
                        ctx,
                    );
                }
            }
        }
    }
    Ok(())
}

// ---- pip-audit ----

#[derive(Deserialize)]
#[serde(untagged)]
enum PipAuditReport {
    List(Vec<PipDependency>),
    Object {
        #[serde(default, deserialize_with = "lenient::seq")]
        dependencies: Vec<PipDependency>,
    },
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PipDependency {
    #[serde(deserialize_with = "lenient::text")]
    name: String,
    #[serde(deserialize_with = "lenient::text")]
    version: String,
    #[serde(deserialize_with = "lenient::seq")]
    vulns: Vec<PipVuln>,
    skip_reason: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PipVuln {
    #[serde(deserialize_with = "lenient::text")]
    id: String,
    #[serde(deserialize_with = "lenient::strings")]
    fix_versions: Vec<String>,
    #[serde(deserialize_with = "lenient::strings")]
    aliases: Vec<String>,
    #[serde(deserialize_with = "lenient::text")]
    description: String,
}

pub fn pip_audit(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let dependencies = match read_json::<PipAuditReport>(reader)? {
        PipAuditReport::List(list) => list,
        PipAuditReport::Object { dependencies } => dependencies,
    };
    let mut skipped = Vec::new();
    for dep in dependencies {
        if let Some(reason) = dep.skip_reason.as_ref().filter(|r| !r.trim().is_empty()) {
            skipped.push(format!("{} ({})", dep.name, reason.trim()));
            continue;
        }
        for v in dep.vulns {
            push_dep(
                DepVuln {
                    tool: "pip-audit",
                    id: v.id,
                    aliases: v.aliases,
                    package: dep.name.clone(),
                    version: dep.version.clone(),
                    fixed: v.fix_versions.first().cloned().unwrap_or_default(),
                    description: v.description,
                    fallback: Some(Severity::Medium),
                    tool_severity: String::from("none"),
                    ..DepVuln::default()
                },
                ctx,
            );
        }
    }
    if !skipped.is_empty() {
        let shown: Vec<_> = skipped.iter().take(5).cloned().collect();
        let more = skipped.len().saturating_sub(shown.len());
        let tail = if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        };
        ctx.issue(
            "pip-audit",
            format!(
                "{} dependencies were not audited: {}{tail}",
                skipped.len(),
                shown.join("; ")
            ),
        );
    }
    Ok(())
}

// ---- grype ----

#[derive(Deserialize, Default)]
#[serde(default)]
struct GrypeReport {
    #[serde(deserialize_with = "lenient::seq")]
    matches: Vec<GrypeMatch>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct GrypeMatch {
    vulnerability: GrypeVuln,
    #[serde(deserialize_with = "lenient::seq")]
    related_vulnerabilities: Vec<GrypeVuln>,
    artifact: GrypeArtifact,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GrypeVuln {
    #[serde(deserialize_with = "lenient::text")]
    id: String,
    #[serde(deserialize_with = "lenient::text")]
    severity: String,
    #[serde(deserialize_with = "lenient::text")]
    description: String,
    #[serde(rename = "dataSource", deserialize_with = "lenient::text")]
    data_source: String,
    #[serde(deserialize_with = "lenient::seq")]
    cvss: Vec<GrypeCvss>,
    fix: Option<GrypeFix>,
    #[serde(deserialize_with = "lenient::strings")]
    cwes: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GrypeCvss {
    metrics: BTreeMap<String, Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GrypeFix {
    #[serde(deserialize_with = "lenient::strings")]
    versions: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GrypeArtifact {
    #[serde(deserialize_with = "lenient::text")]
    name: String,
    #[serde(deserialize_with = "lenient::text")]
    version: String,
    #[serde(deserialize_with = "lenient::seq")]
    locations: Vec<GrypeLocation>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GrypeLocation {
    #[serde(deserialize_with = "lenient::text")]
    path: String,
}

fn grype_score(vulns: &[&GrypeVuln]) -> Option<f64> {
    vulns
        .iter()
        .flat_map(|v| &v.cvss)
        .filter_map(|c| c.metrics.get("baseScore")?.as_f64())
        .fold(None, |best: Option<f64>, s| {
            Some(best.map_or(s, |b| b.max(s)))
        })
}

pub fn grype(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let report: GrypeReport = read_json(reader)?;
    for m in report.matches {
        let all: Vec<&GrypeVuln> = std::iter::once(&m.vulnerability)
            .chain(&m.related_vulnerabilities)
            .collect();
        let score = grype_score(&all);
        let description = all
            .iter()
            .map(|v| v.description.as_str())
            .find(|d| !d.is_empty())
            .unwrap_or("");
        let path = m
            .artifact
            .locations
            .first()
            .map(|l| l.path.clone())
            .unwrap_or_default();
        let dependency_manifest =
            !path.starts_with('/') || path.ends_with(".lock") || path.ends_with(".json");
        push_dep(
            DepVuln {
                tool: "grype",
                id: m.vulnerability.id.clone(),
                aliases: m
                    .related_vulnerabilities
                    .iter()
                    .map(|v| v.id.clone())
                    .collect(),
                package: m.artifact.name.clone(),
                version: m.artifact.version.clone(),
                fixed: m
                    .vulnerability
                    .fix
                    .as_ref()
                    .and_then(|f| f.versions.first().cloned())
                    .unwrap_or_default(),
                severity: word(&m.vulnerability.severity),
                tool_severity: m.vulnerability.severity.clone(),
                score,
                description: description.to_string(),
                url: m.vulnerability.data_source.clone(),
                path: if dependency_manifest {
                    path
                } else {
                    String::new()
                },
                cwes: m
                    .vulnerability
                    .cwes
                    .iter()
                    .flat_map(|c| cwes_in(c))
                    .collect(),
                ..DepVuln::default()
            },
            ctx,
        );
    }
    Ok(())
}

// ---- osv-scanner ----

pub fn osv_scanner(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let report: Value = read_json(reader)?;
    for result in report
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let path = result
            .pointer("/source/path")
            .and_then(Value::as_str)
            .unwrap_or("");
        for pkg in result
            .get("packages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for vuln in pkg
                .get("vulnerabilities")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                osv_vuln(pkg, vuln, path, ctx);
            }
        }
    }
    Ok(())
}

fn osv_vuln(pkg: &Value, vuln: &Value, path: &str, ctx: &mut Ctx) {
    let text = text_at;
    let id = text(vuln, "/id");
    let group_score = pkg
        .get("groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|g| {
            g.get("ids")
                .and_then(Value::as_array)
                .is_some_and(|ids| ids.iter().any(|i| i.as_str() == Some(&id)))
        })
        .and_then(|g| g.get("max_severity"))
        .and_then(|s| {
            s.as_str()
                .and_then(|s| s.parse::<f64>().ok())
                .or_else(|| s.as_f64())
        });
    let severity_word = text(vuln, "/database_specific/severity");
    let cwes = vuln
        .pointer("/database_specific/cwe_ids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .flat_map(cwes_in)
        .collect();
    push_dep(
        DepVuln {
            tool: "osv-scanner",
            aliases: vuln
                .get("aliases")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
            id,
            package: text(pkg, "/package/name"),
            version: text(pkg, "/package/version"),
            severity: word(&severity_word),
            tool_severity: severity_word,
            score: group_score,
            title: text(vuln, "/summary"),
            description: text(vuln, "/details"),
            path: path.to_string(),
            cwes,
            fallback: Some(Severity::Low),
            ..DepVuln::default()
        },
        ctx,
    );
}

// ---- npm audit ----

pub fn npm_v6(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let mut report: Value = read_json(reader)?;
    let advisories = take_object(&mut report, "/advisories");
    for advisory in advisories.values() {
        let text = |p: &str| text_at(advisory, p);
        let cves: Vec<String> = advisory
            .get("cves")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect();
        let ghsa = text("/github_advisory_id");
        let id = cves
            .first()
            .cloned()
            .or(Some(ghsa.clone()).filter(|g| !g.is_empty()))
            .unwrap_or_else(|| {
                format!(
                    "npm-{}",
                    advisory
                        .get("id")
                        .map(|i| i.to_string())
                        .unwrap_or_default()
                )
            });
        let mut versions: Vec<String> = advisory
            .get("findings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| f.get("version").and_then(Value::as_str).map(str::to_string))
            .collect();
        versions.dedup();
        if versions.is_empty() {
            versions.push(String::new());
        }
        let severity = text("/severity");
        for version in versions {
            push_dep(
                DepVuln {
                    tool: "npm-audit",
                    id: id.clone(),
                    aliases: cves
                        .iter()
                        .cloned()
                        .chain(std::iter::once(ghsa.clone()))
                        .collect(),
                    package: text("/module_name"),
                    version,
                    fixed: text("/patched_versions"),
                    severity: word(&severity),
                    tool_severity: severity.clone(),
                    title: text("/title"),
                    description: format!("{}\n\n{}", text("/overview"), text("/recommendation")),
                    url: text("/url"),
                    cwes: advisory
                        .get("cwe")
                        .map(|c| cwes_in(&c.to_string()))
                        .unwrap_or_default(),
                    ..DepVuln::default()
                },
                ctx,
            );
        }
    }
    Ok(())
}

/// The string at a JSON pointer, or empty.
fn text_at(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

pub fn npm_v7(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let mut report: Value = read_json(reader)?;
    let vulnerabilities = take_object(&mut report, "/vulnerabilities");
    for (name, entry) in &vulnerabilities {
        for via in entry
            .get("via")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            // A string `via` names another vulnerable package: it is reported under that one.
            if !via.is_object() {
                continue;
            }
            let text = |p: &str| text_at(via, p);
            let url = text("/url");
            let ghsa = url
                .rsplit('/')
                .next()
                .filter(|s| s.starts_with("GHSA-"))
                .unwrap_or("")
                .to_string();
            let id = if ghsa.is_empty() {
                format!(
                    "npm-{}",
                    via.get("source").map(|s| s.to_string()).unwrap_or_default()
                )
            } else {
                ghsa
            };
            let severity = text("/severity");
            let package = Some(text("/name"))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| name.clone());
            push_dep(
                DepVuln {
                    tool: "npm-audit",
                    id,
                    package,
                    fixed: entry
                        .pointer("/fixAvailable/version")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    severity: word(&severity),
                    tool_severity: severity,
                    score: via.pointer("/cvss/score").and_then(Value::as_f64),
                    title: text("/title"),
                    description: format!("vulnerable range {}", text("/range")),
                    url,
                    cwes: via
                        .get("cwe")
                        .map(|c| cwes_in(&c.to_string()))
                        .unwrap_or_default(),
                    ..DepVuln::default()
                },
                ctx,
            );
        }
    }
    Ok(())
}

pub fn npm_error(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let report: Value = read_json(reader)?;
    let error = report.get("error").cloned().unwrap_or(Value::Null);
    let text = |k: &str| {
        error
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let message = match error {
        Value::String(s) => s,
        _ => format!("{} {}", text("code"), text("summary"))
            .trim()
            .to_string(),
    };
    ctx.issue("npm-audit", format!("npm audit failed: {message}"));
    Ok(())
}

// ---- snyk ----

#[derive(Deserialize)]
#[serde(untagged)]
enum SnykReport {
    Many(Vec<SnykProject>),
    One(SnykProject),
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SnykProject {
    #[serde(deserialize_with = "lenient::seq")]
    vulnerabilities: Vec<SnykVuln>,
    #[serde(deserialize_with = "lenient::text")]
    display_target_file: String,
    #[serde(deserialize_with = "lenient::text")]
    target_file: String,
    ok: Option<bool>,
    error: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SnykVuln {
    #[serde(deserialize_with = "lenient::text")]
    id: String,
    #[serde(deserialize_with = "lenient::text")]
    title: String,
    #[serde(deserialize_with = "lenient::text")]
    severity: String,
    #[serde(deserialize_with = "lenient::score")]
    cvss_score: Option<f64>,
    identifiers: BTreeMap<String, Value>,
    #[serde(deserialize_with = "lenient::text")]
    package_name: String,
    #[serde(deserialize_with = "lenient::text")]
    version: String,
    #[serde(deserialize_with = "lenient::strings")]
    fixed_in: Vec<String>,
}

pub fn snyk(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let projects = match read_json::<SnykReport>(reader)? {
        SnykReport::Many(many) => many,
        SnykReport::One(one) => vec![one],
    };
    for project in projects {
        if let Some(error) = project.error.as_ref().filter(|_| project.ok != Some(true)) {
            let text = error
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| error.to_string());
            ctx.issue("snyk", format!("snyk failed: {text}"));
        }
        let path = if project.display_target_file.is_empty() {
            project.target_file.clone()
        } else {
            project.display_target_file.clone()
        };
        for v in project.vulnerabilities {
            let listed = |key: &str| -> Vec<String> {
                v.identifiers
                    .get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            };
            let aliases: Vec<String> = listed("CVE").into_iter().chain(listed("GHSA")).collect();
            push_dep(
                DepVuln {
                    tool: "snyk",
                    id: v.id.clone(),
                    aliases,
                    package: v.package_name.clone(),
                    version: v.version.clone(),
                    fixed: v.fixed_in.first().cloned().unwrap_or_default(),
                    severity: word(&v.severity),
                    tool_severity: v.severity.clone(),
                    score: v.cvss_score,
                    title: v.title.clone(),
                    url: format!("https://security.snyk.io/vuln/{}", v.id),
                    path: path.clone(),
                    cwes: listed("CWE").iter().flat_map(|c| cwes_in(c)).collect(),
                    ..DepVuln::default()
                },
                ctx,
            );
        }
    }
    Ok(())
}

// ---- govulncheck ----

pub fn govulncheck(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let mut osvs: BTreeMap<String, Value> = BTreeMap::new();
    let mut findings: Vec<Value> = Vec::new();
    let mut sort = |message: Value| {
        if let Some(osv) = message.get("osv") {
            let id = osv
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            osvs.insert(id, osv.clone());
        } else if let Some(finding) = message.get("finding") {
            findings.push(finding.clone());
        }
    };
    for document in serde_json::Deserializer::from_reader(reader.into_read()).into_iter::<Value>() {
        match document.map_err(|e| e.to_string())? {
            Value::Array(messages) => messages.into_iter().for_each(&mut sort),
            message => sort(message),
        }
    }
    for finding in findings {
        govulncheck_finding(&finding, &osvs, ctx);
    }
    Ok(())
}

fn govulncheck_finding(finding: &Value, osvs: &BTreeMap<String, Value>, ctx: &mut Ctx) {
    let id = finding
        .get("osv")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let osv = osvs.get(&id).cloned().unwrap_or(Value::Null);
    let trace = finding
        .get("trace")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let vulnerable = trace.first().cloned().unwrap_or(Value::Null);
    let text = text_at;
    let reachable = !text(&vulnerable, "/function").is_empty();
    let osv_severity = text(&osv, "/severity");
    let call_site = trace
        .iter()
        .rev()
        .find(|frame| frame.get("position").is_some())
        .map(|f| {
            format!(
                " (called from {}.{})",
                text(f, "/package"),
                text(f, "/function")
            )
        })
        .unwrap_or_default();
    let level = if reachable { "symbol" } else { "module" };
    push_dep(
        DepVuln {
            tool: "govulncheck",
            aliases: osv
                .get("aliases")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
            id,
            package: text(&vulnerable, "/module"),
            version: text(&vulnerable, "/version"),
            fixed: text(finding, "/fixed_version"),
            severity: word(&osv_severity),
            tool_severity: if osv_severity.is_empty() {
                format!("{level}-level finding")
            } else {
                osv_severity
            },
            title: format!("{}{call_site}", text(&osv, "/summary")),
            description: text(&osv, "/details"),
            url: text(&osv, "/database_specific/url"),
            fallback: Some(if reachable {
                Severity::High
            } else {
                Severity::Medium
            }),
            ..DepVuln::default()
        },
        ctx,
    );
}

pub fn govulncheck_legacy(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let report: Value = read_json(reader)?;
    for vuln in report
        .get("Vulns")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let osv = vuln.get("OSV").cloned().unwrap_or(Value::Null);
        let text = text_at;
        for module in vuln
            .get("Modules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            push_dep(
                DepVuln {
                    tool: "govulncheck",
                    id: text(&osv, "/id"),
                    aliases: osv
                        .get("aliases")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a.as_str().map(str::to_string))
                        .collect(),
                    package: text(module, "/Path"),
                    version: text(module, "/FoundVersion"),
                    fixed: text(module, "/FixedVersion"),
                    title: text(&osv, "/summary"),
                    description: text(&osv, "/details"),
                    fallback: Some(Severity::Medium),
                    ..DepVuln::default()
                },
                ctx,
            );
        }
    }
    Ok(())
}

// ---- OWASP dependency-check XML ----

/// Streams the XML: one `<dependency>` at a time, one finding per `<vulnerability>`.
pub fn dependency_check(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    use quick_xml::events::Event;
    let mut xml = quick_xml::Reader::from_reader(BufReader::new(reader.into_read()));
    let mut buf = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut dep = XmlDependency::default();
    let mut vuln = XmlVuln::default();
    loop {
        let event = xml.read_event_into(&mut buf).map_err(|e| e.to_string())?;
        match event {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                match name.as_str() {
                    "dependency" if !in_related(&stack) => dep = XmlDependency::default(),
                    "vulnerability" => vuln = XmlVuln::default(),
                    _ => {}
                }
                stack.push(name);
            }
            Event::Text(t) => {
                let text = t.xml_content().map(|c| c.into_owned()).unwrap_or_default();
                absorb(&stack, text.trim(), &mut dep, &mut vuln);
            }
            Event::CData(t) => {
                let text = String::from_utf8_lossy(&t).into_owned();
                absorb(&stack, text.trim(), &mut dep, &mut vuln);
            }
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                if name == "vulnerability" && stack.last().is_some_and(|p| p == "vulnerabilities") {
                    dep.vulns.push(std::mem::take(&mut vuln));
                } else if name == "dependency" && !in_related(&stack) {
                    push_xml_dependency(std::mem::take(&mut dep), ctx);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(())
}

fn in_related(stack: &[String]) -> bool {
    stack.iter().any(|s| s == "relatedDependencies")
}

#[derive(Default)]
struct XmlDependency {
    file_name: String,
    file_path: String,
    package_id: String,
    identifier_name: String,
    vulns: Vec<XmlVuln>,
}

#[derive(Default)]
struct XmlVuln {
    name: String,
    severity: String,
    score_v3: Option<f64>,
    score_other: Option<f64>,
    cwes: Vec<u32>,
    description: String,
}

fn absorb(stack: &[String], text: &str, dep: &mut XmlDependency, vuln: &mut XmlVuln) {
    if text.is_empty() || in_related(stack) {
        return;
    }
    let n = stack.len();
    let last = stack.last().map(String::as_str).unwrap_or("");
    let parent = if n >= 2 { stack[n - 2].as_str() } else { "" };
    let in_vuln = stack.iter().any(|s| s == "vulnerability");
    let in_suppressed = stack.iter().any(|s| s == "suppressedVulnerabilities");
    if in_suppressed {
        return;
    }
    if in_vuln {
        match (parent, last) {
            ("vulnerability", "name") => vuln.name = text.to_string(),
            ("vulnerability", "severity") => vuln.severity = text.to_string(),
            ("vulnerability", "description") => vuln.description = text.to_string(),
            ("cvssV3", "baseScore") => vuln.score_v3 = text.parse().ok(),
            ("vulnerability", "cvssScore") | ("cvssV2", "score") => {
                vuln.score_other = text.parse().ok()
            }
            (_, "cwe") => vuln.cwes.extend(cwes_in(text)),
            _ => {}
        }
        return;
    }
    match (parent, last) {
        ("dependency", "fileName") => dep.file_name = text.to_string(),
        ("dependency", "filePath") => dep.file_path = text.to_string(),
        ("package", "id") if dep.package_id.is_empty() => dep.package_id = text.to_string(),
        ("identifier", "name") if dep.identifier_name.is_empty() => {
            dep.identifier_name = text.to_string()
        }
        _ => {}
    }
}

/// Package and version from `pkg:maven/group/artifact@1.2` or `group:artifact:1.2`.
fn xml_package(dep: &XmlDependency) -> (String, String) {
    if let Some(purl) = dep.package_id.strip_prefix("pkg:") {
        let purl = purl.split(['?', '#']).next().unwrap_or(purl);
        let (name, version) = purl.rsplit_once('@').unwrap_or((purl, ""));
        let name = name.split_once('/').map_or(name, |(_, rest)| rest);
        return (name.replace('/', ":"), version.to_string());
    }
    if !dep.identifier_name.is_empty() {
        let trimmed = dep.identifier_name.trim_matches(['(', ')']);
        if let Some((name, version)) = trimmed.rsplit_once(':') {
            return (name.to_string(), version.to_string());
        }
    }
    (dep.file_name.clone(), String::new())
}

fn push_xml_dependency(dep: XmlDependency, ctx: &mut Ctx) {
    let (package, version) = xml_package(&dep);
    for vuln in &dep.vulns {
        push_dep(
            DepVuln {
                tool: "dependency-check",
                id: vuln.name.clone(),
                package: package.clone(),
                version: version.clone(),
                severity: word(&vuln.severity),
                tool_severity: vuln.severity.clone(),
                score: vuln.score_v3.or(vuln.score_other),
                description: vuln.description.clone(),
                url: if vuln.name.starts_with("CVE-") {
                    format!("https://nvd.nist.gov/vuln/detail/{}", vuln.name)
                } else {
                    String::new()
                },
                cwes: vuln.cwes.clone(),
                fallback: Some(Severity::Medium),
                path: if dep.file_path.contains(":\\") {
                    String::new()
                } else {
                    dep.file_path.clone()
                },
                ..DepVuln::default()
            },
            ctx,
        );
    }
}
