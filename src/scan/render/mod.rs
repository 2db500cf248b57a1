//! Outputs: the merged SARIF, the findings JSON, the job summary and the step outputs.

pub mod sarif;

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use super::baseline::Applied;
use super::gate::Verdict;
use super::model::{ScannerIssue, Severity};
use super::store::Findings;
use crate::runner::Summary;

/// Everything the outputs describe.
pub struct Outcome<'a> {
    pub findings: &'a Findings,
    pub raw: usize,
    pub issues: &'a [ScannerIssue],
    pub verdict: &'a Verdict,
    pub baseline: Option<&'a Applied>,
    pub truncation: Option<&'a sarif::Truncation>,
}

#[derive(Serialize)]
struct Report<'a> {
    findings: &'a Findings,
    summary: SummaryJson<'a>,
    gate: &'a Verdict,
}

#[derive(Serialize)]
struct SummaryJson<'a> {
    raw: usize,
    unique: usize,
    merged: usize,
    by_severity: BTreeMap<&'static str, usize>,
    by_tool: BTreeMap<&'a str, usize>,
    scanner_errors: &'a [ScannerIssue],
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<&'a Applied>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sarif_truncated: Option<&'a sarif::Truncation>,
}

pub fn by_severity(findings: &Findings) -> BTreeMap<&'static str, usize> {
    let mut counts: BTreeMap<&'static str, usize> =
        Severity::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for severity in findings.severities() {
        *counts.entry(severity.as_str()).or_default() += 1;
    }
    counts
}

/// Unique findings per tool; a merged finding counts for each tool that reported it.
pub fn by_tool(findings: &Findings) -> BTreeMap<&str, usize> {
    findings
        .per_tool()
        .iter()
        .map(|(tool, row)| (tool.as_str(), row.iter().sum()))
        .collect()
}

/// Writes `{"findings": [...], "summary": {...}, "gate": {...}}`.
pub fn write_json(outcome: &Outcome, out: impl Write) -> std::io::Result<()> {
    let report = Report {
        findings: outcome.findings,
        summary: SummaryJson {
            raw: outcome.raw,
            unique: outcome.findings.len(),
            merged: outcome.raw - outcome.findings.len(),
            by_severity: by_severity(outcome.findings),
            by_tool: by_tool(outcome.findings),
            scanner_errors: outcome.issues,
            baseline: outcome.baseline,
            sarif_truncated: outcome.truncation.filter(|t| t.note.is_some()),
        },
        gate: outcome.verdict,
    };
    let mut out = std::io::BufWriter::new(out);
    serde_json::to_writer_pretty(&mut out, &report)?;
    out.write_all(b"\n")?;
    out.flush()
}

const TOP: usize = 20;

/// The job summary: verdict, counts by severity and tool, the top findings, scanner errors,
/// baseline notes.
pub fn summary(outcome: &Outcome) -> Summary {
    let mut s = Summary::new();
    s.heading(2, "Security scan");
    let mark = if outcome.verdict.passed { "✅" } else { "❌" };
    s.paragraph(&format!("{mark} **{}**", outcome.verdict.reason));
    let merged = outcome.raw - outcome.findings.len();
    s.paragraph(&format!(
        "{} unique findings from {} reported ({} duplicates merged).",
        outcome.findings.len(),
        outcome.raw,
        merged
    ));
    let severities = by_severity(outcome.findings);
    let header: Vec<&str> = std::iter::once("tool")
        .chain(Severity::ALL.iter().map(|s| s.as_str()))
        .collect();
    let mut rows: Vec<Vec<String>> = outcome
        .findings
        .per_tool()
        .iter()
        .map(|(tool, counts)| {
            std::iter::once(tool.clone())
                .chain(counts.iter().map(usize::to_string))
                .collect()
        })
        .collect();
    let mut total = vec![String::from("**all (unique)**")];
    total.extend(
        Severity::ALL
            .iter()
            .map(|sev| severities[sev.as_str()].to_string()),
    );
    rows.push(total);
    s.table(&header, &rows);
    top_findings(&mut s, outcome.findings);
    if !outcome.issues.is_empty() {
        s.heading(3, "Scanner errors");
        let rows: Vec<Vec<String>> = outcome
            .issues
            .iter()
            .take(50)
            .map(|i| {
                vec![
                    i.tool.clone(),
                    i.file.clone(),
                    i.message.chars().take(300).collect(),
                ]
            })
            .collect();
        s.table(&["tool", "report", "error"], &rows);
    }
    if let Some(applied) = outcome.baseline {
        baseline_notes(&mut s, applied);
    }
    if let Some(note) = outcome.truncation.and_then(|t| t.note.as_ref()) {
        s.paragraph(&format!("⚠️ SARIF: {note}."));
    }
    s
}

fn top_findings(s: &mut Summary, findings: &Findings) {
    if findings.is_empty() {
        return;
    }
    let order = findings.most_severe(|_| true);
    s.heading(
        3,
        &format!(
            "Top findings ({} of {})",
            order.len().min(TOP),
            findings.len()
        ),
    );
    let rows: Vec<Vec<String>> = order
        .into_iter()
        .take(TOP)
        .map(|i| findings.get(i))
        .map(|f| {
            let mut tools = vec![format!("{}:{}", f.tool, f.rule)];
            tools.extend(f.also_reported_by.iter().cloned());
            let accepted = if f.accepted.is_some() {
                " (accepted)"
            } else {
                ""
            };
            vec![
                format!("{}{accepted}", f.severity),
                f.location_label(),
                tools.join(", "),
                f.message.chars().take(200).collect(),
            ]
        })
        .collect();
    s.table(&["severity", "where", "rule", "message"], &rows);
}

fn baseline_notes(s: &mut Summary, applied: &Applied) {
    s.paragraph(&format!(
        "Baseline: {} finding(s) accepted.",
        applied.accepted
    ));
    if !applied.expired.is_empty() {
        s.heading(3, "Expired baseline entries (no longer suppressing)");
        let rows: Vec<Vec<String>> = applied
            .expired
            .iter()
            .map(|e| {
                let what = e.fingerprint.clone().or(e.id.clone()).unwrap_or_default();
                vec![what, e.reason.clone(), e.expires.to_string()]
            })
            .collect();
        s.table(&["entry", "reason", "expired"], &rows);
    }
}
