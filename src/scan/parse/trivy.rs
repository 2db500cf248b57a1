//! Trivy JSON: SchemaVersion 2, the array written before 0.20, and Kubernetes reports (both
//! the `Resources` form and the older `Vulnerabilities`/`Misconfigurations` lists).
//!
//! Severity: CRITICAL/HIGH/MEDIUM/LOW map directly. UNKNOWN (or missing) falls back to CVSS:
//! the `SeveritySource`'s scores first, then any source, v4 before v3 before v2, banded as
//! GitHub does; no score → info. Misconfigurations without a severity are low. VEX
//! `not_affected` vulnerabilities and misconfigurations that passed are not findings.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::lenient;
use super::{Ctx, Input, first_line, order_ids, read_json};
use crate::scan::model::{Package, Region, Severity, cwes_in};

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Report {
    #[serde(deserialize_with = "lenient::seq")]
    results: Vec<TrivyResult>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct TrivyResult {
    #[serde(deserialize_with = "lenient::text")]
    target: String,
    #[serde(deserialize_with = "lenient::text")]
    class: String,
    #[serde(deserialize_with = "lenient::seq")]
    vulnerabilities: Vec<Vulnerability>,
    #[serde(deserialize_with = "lenient::seq")]
    misconfigurations: Vec<Misconfiguration>,
    #[serde(deserialize_with = "lenient::seq")]
    secrets: Vec<Secret>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Vulnerability {
    #[serde(rename = "VulnerabilityID", deserialize_with = "lenient::text")]
    vulnerability_id: String,
    #[serde(deserialize_with = "lenient::text")]
    pkg_name: String,
    #[serde(deserialize_with = "lenient::text")]
    installed_version: String,
    #[serde(deserialize_with = "lenient::text")]
    fixed_version: String,
    #[serde(deserialize_with = "lenient::text")]
    pkg_path: String,
    #[serde(deserialize_with = "lenient::text")]
    severity: String,
    #[serde(deserialize_with = "lenient::text")]
    severity_source: String,
    #[serde(deserialize_with = "lenient::text")]
    title: String,
    #[serde(deserialize_with = "lenient::text")]
    description: String,
    #[serde(rename = "PrimaryURL", deserialize_with = "lenient::text")]
    primary_url: String,
    #[serde(rename = "CweIDs", deserialize_with = "lenient::strings")]
    cwe_ids: Vec<String>,
    #[serde(rename = "CVSS")]
    cvss: Option<BTreeMap<String, Cvss>>,
    #[serde(deserialize_with = "lenient::text")]
    status: String,
    #[serde(deserialize_with = "lenient::text")]
    fingerprint: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Cvss {
    #[serde(rename = "V40Score", deserialize_with = "lenient::score")]
    v40: Option<f64>,
    #[serde(rename = "V3Score", deserialize_with = "lenient::score")]
    v3: Option<f64>,
    #[serde(rename = "V2Score", deserialize_with = "lenient::score")]
    v2: Option<f64>,
}

impl Cvss {
    fn best(&self) -> Option<f64> {
        self.v40.or(self.v3).or(self.v2).filter(|s| *s > 0.0)
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Misconfiguration {
    #[serde(rename = "ID", deserialize_with = "lenient::text")]
    id: String,
    #[serde(deserialize_with = "lenient::text")]
    title: String,
    #[serde(deserialize_with = "lenient::text")]
    description: String,
    #[serde(deserialize_with = "lenient::text")]
    message: String,
    #[serde(deserialize_with = "lenient::text")]
    resolution: String,
    #[serde(deserialize_with = "lenient::text")]
    severity: String,
    #[serde(rename = "PrimaryURL", deserialize_with = "lenient::text")]
    primary_url: String,
    #[serde(deserialize_with = "lenient::text")]
    status: String,
    cause_metadata: Option<CauseMetadata>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct CauseMetadata {
    #[serde(deserialize_with = "lenient::number")]
    start_line: u64,
    #[serde(deserialize_with = "lenient::number")]
    end_line: u64,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Secret {
    #[serde(rename = "RuleID", deserialize_with = "lenient::text")]
    rule_id: String,
    #[serde(deserialize_with = "lenient::text")]
    severity: String,
    #[serde(deserialize_with = "lenient::text")]
    title: String,
    #[serde(deserialize_with = "lenient::number")]
    start_line: u64,
    #[serde(deserialize_with = "lenient::number")]
    end_line: u64,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct KubernetesReport {
    #[serde(deserialize_with = "lenient::seq")]
    resources: Vec<Resource>,
    #[serde(deserialize_with = "lenient::seq")]
    vulnerabilities: Vec<Resource>,
    #[serde(deserialize_with = "lenient::seq")]
    misconfigurations: Vec<Resource>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Resource {
    #[serde(deserialize_with = "lenient::text")]
    namespace: String,
    #[serde(deserialize_with = "lenient::text")]
    kind: String,
    #[serde(deserialize_with = "lenient::text")]
    name: String,
    #[serde(deserialize_with = "lenient::seq")]
    results: Vec<TrivyResult>,
}

pub fn schema_v2(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let report: Report = read_json(reader)?;
    report
        .results
        .into_iter()
        .for_each(|r| result(r, None, ctx));
    Ok(())
}

pub fn legacy(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let results: Vec<TrivyResult> = read_json(reader)?;
    results.into_iter().for_each(|r| result(r, None, ctx));
    Ok(())
}

pub fn kubernetes(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let report: KubernetesReport = read_json(reader)?;
    let resources = report
        .resources
        .into_iter()
        .chain(report.vulnerabilities)
        .chain(report.misconfigurations);
    for resource in resources {
        let label = format!(
            "{}/{} in namespace {}",
            resource.kind, resource.name, resource.namespace
        );
        for r in resource.results {
            result(r, Some(&label), ctx);
        }
    }
    Ok(())
}

/// A target is a repository file when it is a path (lockfile, Dockerfile), not an image name.
fn target_path(target: &str, class: &str, ctx: &mut Ctx) -> Option<std::sync::Arc<str>> {
    let looks_like_file = !target.contains(' ') && !target.contains(':') && class != "os-pkgs";
    if looks_like_file {
        ctx.path(target)
    } else {
        None
    }
}

fn result(r: TrivyResult, resource: Option<&str>, ctx: &mut Ctx) {
    let path = if resource.is_some() {
        None
    } else {
        target_path(&r.target, &r.class, ctx)
    };
    let context = resource.map_or_else(|| r.target.clone(), str::to_string);
    for v in r.vulnerabilities {
        vulnerability(v, path.clone(), &context, ctx);
    }
    for m in r.misconfigurations {
        misconfiguration(m, path.clone(), &context, ctx);
    }
    for s in r.secrets {
        let severity = Severity::from_word(&s.severity).unwrap_or(Severity::High);
        let message = format!("{} ({}) in {}", s.title.trim(), s.rule_id, context);
        let mut f = ctx.finding("trivy", &s.rule_id, severity, &message);
        f.tool_severity = ctx.s(&s.severity);
        f.title = ctx.opt(Some(&s.title));
        f.path = path.clone();
        f.region = Region::span(s.start_line, 0, s.end_line, 0);
        f.cwes = thin_vec::thin_vec![798];
        ctx.push(f);
    }
}

fn vulnerability_severity(v: &Vulnerability) -> (Severity, Option<f64>) {
    let scores = v.cvss.as_ref();
    let score = scores
        .and_then(|c| c.get(&v.severity_source))
        .and_then(Cvss::best)
        .or_else(|| scores.and_then(|c| c.values().find_map(Cvss::best)));
    let word =
        Severity::from_word(&v.severity).filter(|_| !v.severity.eq_ignore_ascii_case("unknown"));
    match (word, score) {
        (Some(severity), score) => (severity, score),
        (None, Some(score)) => (Severity::from_score(score), Some(score)),
        (None, None) => (Severity::Info, None),
    }
}

fn vulnerability(
    v: Vulnerability,
    path: Option<std::sync::Arc<str>>,
    context: &str,
    ctx: &mut Ctx,
) {
    if v.status == "not_affected" {
        return;
    }
    let (severity, score) = vulnerability_severity(&v);
    let title = if v.title.trim().is_empty() {
        first_line(&v.description, 120)
    } else {
        v.title.clone()
    };
    let fixed = if v.fixed_version.is_empty() {
        String::from("no fix yet")
    } else {
        format!("fixed in {}", v.fixed_version)
    };
    let message = format!(
        "{} in {} {} ({}; {}): {}",
        v.vulnerability_id, v.pkg_name, v.installed_version, context, fixed, title
    );
    let mut f = ctx.finding("trivy", &v.vulnerability_id, severity, &message);
    f.tool_severity = ctx.s(&v.severity);
    f.score = score;
    f.title = ctx.opt(Some(&title));
    f.description = ctx.opt(Some(&v.description));
    f.help_uri = ctx.opt(Some(&v.primary_url));
    f.cwes = v.cwe_ids.iter().flat_map(|c| cwes_in(c)).collect();
    let mut ids = vec![ctx.s(&v.vulnerability_id)];
    order_ids(&mut ids);
    f.ids = ids.into();
    f.package = Some(Box::new(Package {
        name: ctx.s(&v.pkg_name),
        version: ctx.opt(Some(&v.installed_version)),
        fixed: ctx.opt(Some(&v.fixed_version)),
    }));
    f.path = path.or_else(|| {
        if v.pkg_path.is_empty() {
            None
        } else {
            ctx.path(&v.pkg_path)
        }
    });
    f.tool_fingerprint = ctx.opt(Some(&v.fingerprint));
    ctx.push(f);
}

fn misconfiguration(
    m: Misconfiguration,
    path: Option<std::sync::Arc<str>>,
    context: &str,
    ctx: &mut Ctx,
) {
    if matches!(m.status.as_str(), "PASS" | "EXCEPTION") {
        return;
    }
    let severity = Severity::from_word(&m.severity).unwrap_or(Severity::Low);
    let message = format!("{}: {} ({})", m.title.trim(), m.message.trim(), context);
    let mut f = ctx.finding("trivy", &m.id, severity, &message);
    f.tool_severity = ctx.s(&m.severity);
    f.title = ctx.opt(Some(&m.title));
    let description = format!(
        "{}\n\nResolution: {}",
        m.description.trim(),
        m.resolution.trim()
    );
    f.description = ctx.opt(Some(&description));
    f.help_uri = ctx.opt(Some(&m.primary_url));
    f.path = path;
    f.region = m
        .cause_metadata
        .and_then(|c| Region::span(c.start_line, 0, c.end_line, 0));
    ctx.push(f);
}
