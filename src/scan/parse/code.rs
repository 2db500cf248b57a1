//! Code scanners' own JSON: bandit and semgrep.
//!
//! Bandit severity: HIGH → high, MEDIUM → medium, LOW → low, UNDEFINED → info; confidence is
//! not folded in (it stays in the message). `errors[]` (files bandit could not scan) are
//! scanner issues.
//!
//! Semgrep severity: CRITICAL → critical; ERROR or HIGH → high; WARNING or MEDIUM → medium;
//! INFO or LOW → low; anything else (EXPERIMENT, INVENTORY) → info. Every entry of
//! `errors[]` (parse errors, timeouts, invalid rules) is a scanner issue: that code was not
//! fully scanned. `"requires login"` fingerprints are ignored. `nosemgrep` results
//! (`is_ignored`) are not findings.

use serde::Deserialize;
use serde_json::Value;

use super::lenient;
use super::sarif::normalise_rule;
use super::{Ctx, Input, order_ids, read_json};
use crate::scan::model::{Package, Region, Severity, cwes_in};

#[derive(Deserialize)]
struct BanditReport {
    #[serde(default, deserialize_with = "lenient::seq")]
    results: Vec<BanditResult>,
    #[serde(default, deserialize_with = "lenient::seq")]
    errors: Vec<BanditError>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BanditResult {
    #[serde(deserialize_with = "lenient::text")]
    filename: String,
    #[serde(deserialize_with = "lenient::number")]
    line_number: u64,
    #[serde(deserialize_with = "lenient::seq")]
    line_range: Vec<u64>,
    col_offset: Option<u64>,
    end_col_offset: Option<u64>,
    #[serde(deserialize_with = "lenient::text")]
    issue_severity: String,
    #[serde(deserialize_with = "lenient::text")]
    issue_confidence: String,
    issue_cwe: Option<BanditCwe>,
    #[serde(deserialize_with = "lenient::text")]
    issue_text: String,
    #[serde(deserialize_with = "lenient::text")]
    test_id: String,
    #[serde(deserialize_with = "lenient::text")]
    test_name: String,
    #[serde(deserialize_with = "lenient::text")]
    more_info: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BanditCwe {
    #[serde(deserialize_with = "lenient::number")]
    id: u64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BanditError {
    #[serde(deserialize_with = "lenient::text")]
    filename: String,
    #[serde(deserialize_with = "lenient::text")]
    reason: String,
}

pub fn bandit(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let report: BanditReport = read_json(reader)?;
    for error in report.errors {
        ctx.issue("bandit", format!("{}: {}", error.filename, error.reason));
    }
    for r in report.results {
        let severity = Severity::from_word(&r.issue_severity)
            .filter(|_| !r.issue_severity.eq_ignore_ascii_case("undefined"))
            .unwrap_or(Severity::Info);
        let message = format!(
            "{} (confidence: {})",
            r.issue_text.trim(),
            r.issue_confidence.to_ascii_lowercase()
        );
        let mut f = ctx.finding("bandit", &r.test_id, severity, &message);
        f.tool_severity = ctx.s(&r.issue_severity);
        f.title = ctx.opt(Some(&r.test_name));
        f.help_uri = ctx.opt(Some(&r.more_info));
        f.path = ctx.path(&r.filename);
        let end_line = r.line_range.iter().copied().max().unwrap_or(r.line_number);
        f.region = Region::span(
            r.line_number,
            r.col_offset.map_or(0, |c| c + 1),
            end_line,
            r.end_col_offset.map_or(0, |c| c + 1),
        );
        f.cwes = r
            .issue_cwe
            .map(|c| c.id as u32)
            .filter(|c| *c > 0)
            .into_iter()
            .collect();
        ctx.push(f);
    }
    Ok(())
}

#[derive(Deserialize)]
struct SemgrepReport {
    #[serde(default, deserialize_with = "lenient::seq")]
    results: Vec<SemgrepResult>,
    #[serde(default, deserialize_with = "lenient::seq")]
    errors: Vec<SemgrepError>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SemgrepResult {
    #[serde(deserialize_with = "lenient::text")]
    check_id: String,
    #[serde(deserialize_with = "lenient::text")]
    path: String,
    start: Position,
    end: Position,
    extra: SemgrepExtra,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Position {
    #[serde(deserialize_with = "lenient::number")]
    line: u64,
    #[serde(deserialize_with = "lenient::number")]
    col: u64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SemgrepExtra {
    #[serde(deserialize_with = "lenient::text")]
    message: String,
    #[serde(deserialize_with = "lenient::text")]
    severity: String,
    metadata: SemgrepMetadata,
    #[serde(deserialize_with = "lenient::text")]
    fingerprint: String,
    is_ignored: Option<bool>,
    #[serde(deserialize_with = "lenient::seq")]
    dependency_matches: Vec<DependencyMatch>,
    sca_info: Option<ScaInfo>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SemgrepMetadata {
    #[serde(deserialize_with = "lenient::strings")]
    cwe: Vec<String>,
    #[serde(deserialize_with = "lenient::strings")]
    references: Vec<String>,
    #[serde(deserialize_with = "lenient::text")]
    shortlink: String,
    #[serde(deserialize_with = "lenient::text")]
    source: String,
    #[serde(
        rename = "sca-vuln-database-identifier",
        deserialize_with = "lenient::text"
    )]
    vuln_id: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DependencyMatch {
    found_dependency: FoundDependency,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FoundDependency {
    #[serde(alias = "package", deserialize_with = "lenient::text")]
    name: String,
    #[serde(deserialize_with = "lenient::text")]
    version: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ScaInfo {
    dependency_match: Option<DependencyMatch>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SemgrepError {
    #[serde(deserialize_with = "lenient::text")]
    level: String,
    #[serde(rename = "type")]
    kind: Value,
    #[serde(deserialize_with = "lenient::text")]
    message: String,
    #[serde(deserialize_with = "lenient::text")]
    long_msg: String,
    #[serde(deserialize_with = "lenient::text")]
    short_msg: String,
    #[serde(deserialize_with = "lenient::text")]
    path: String,
}

/// Semgrep's documented severity words.
pub fn semgrep_severity(word: &str) -> Severity {
    match word.trim().to_ascii_uppercase().as_str() {
        "CRITICAL" => Severity::Critical,
        "ERROR" | "HIGH" => Severity::High,
        "WARNING" | "MEDIUM" => Severity::Medium,
        "INFO" | "LOW" => Severity::Low,
        _ => Severity::Info,
    }
}

pub fn semgrep(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let report: SemgrepReport = read_json(reader)?;
    for error in report.errors {
        ctx.issue("semgrep", describe_error(&error));
    }
    for r in report.results {
        if r.extra.is_ignored == Some(true) {
            continue;
        }
        semgrep_result(r, ctx);
    }
    Ok(())
}

fn describe_error(error: &SemgrepError) -> String {
    let kind = match &error.kind {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .first()
            .and_then(Value::as_str)
            .unwrap_or("error")
            .to_string(),
        _ => String::from("error"),
    };
    let text = [&error.message, &error.long_msg, &error.short_msg]
        .into_iter()
        .find(|t| !t.trim().is_empty())
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    let level = if error.level.is_empty() {
        "error"
    } else {
        &error.level
    };
    let path = if error.path.is_empty() {
        String::new()
    } else {
        format!(" in {}", error.path)
    };
    format!("{level} {kind}{path}: {text}")
}

fn semgrep_result(r: SemgrepResult, ctx: &mut Ctx) {
    let rule = normalise_rule("semgrep", &r.check_id);
    let severity = semgrep_severity(&r.extra.severity);
    let mut f = ctx.finding("semgrep", &rule, severity, &r.extra.message);
    f.tool_severity = ctx.s(&r.extra.severity);
    f.path = ctx.path(&r.path);
    f.region = Region::span(r.start.line, r.start.col, r.end.line, r.end.col);
    let meta = &r.extra.metadata;
    f.cwes = meta.cwe.iter().flat_map(|c| cwes_in(c)).collect();
    let help = [&meta.shortlink, &meta.source]
        .into_iter()
        .find(|u| !u.is_empty())
        .cloned();
    f.help_uri = ctx.opt(help.as_deref());
    let fingerprint =
        Some(r.extra.fingerprint.as_str()).filter(|f| !f.is_empty() && *f != "requires login");
    f.tool_fingerprint = ctx.opt(fingerprint);
    let dependency = r.extra.dependency_matches.first().or(r
        .extra
        .sca_info
        .as_ref()
        .and_then(|s| s.dependency_match.as_ref()));
    if let Some(dep) = dependency.filter(|d| !d.found_dependency.name.is_empty()) {
        f.package = Some(Box::new(Package {
            name: ctx.s(&dep.found_dependency.name),
            version: ctx.opt(Some(&dep.found_dependency.version)),
            fixed: None,
        }));
        let mut ids: Vec<_> = meta
            .references
            .iter()
            .chain(std::iter::once(&meta.vuln_id))
            .filter_map(|u| u.rsplit('/').next())
            .filter(|id| id.starts_with("CVE-") || id.starts_with("GHSA-"))
            .map(|id| ctx.s(id))
            .collect();
        order_ids(&mut ids);
        f.ids = ids.into();
    }
    ctx.push(f);
}
