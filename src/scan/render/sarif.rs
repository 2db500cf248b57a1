//! The merged SARIF 2.1.0: one run per tool, each with its own `automationDetails.id` (code
//! scanning rejects several runs of one tool and category in a file), rules carrying the
//! descriptions, help and `security-severity` GitHub requires, relative URIs, and
//! `partialFingerprints.primaryLocationLineHash` on every result. GitHub's limits (25,000
//! results per run, 20 runs, 10 MB gzipped) are kept by dropping the least severe results
//! first, and the log says so.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use std::sync::Arc;

use crate::scan::fingerprint::LineHash;
use crate::scan::model::{Finding, Fingerprint, Severity};
use crate::scan::store::Findings;

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
pub const MAX_RESULTS_PER_RUN: usize = 25_000;
pub const MAX_RUNS: usize = 20;
pub const MAX_GZIP_BYTES: u64 = 10 * 1024 * 1024;
const TEXT_LIMIT: usize = 1024;

/// What had to be left out to stay within GitHub's limits.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Truncation {
    pub dropped_results: usize,
    pub dropped_tools: Vec<String>,
    pub note: Option<String>,
}

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    automation_details: AutomationDetails,
    column_kind: &'static str,
    results: Results<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<RunProperties>,
}

#[derive(Serialize)]
struct RunProperties {
    #[serde(rename = "deploy-tcb/truncated")]
    truncated: String,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'a str,
    full_name: String,
    information_uri: &'static str,
    version: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
struct AutomationDetails {
    id: String,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

/// A message borrowed from its finding, so large logs are not copied before being written.
#[derive(Serialize)]
struct TextRef<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    name: String,
    short_description: Text,
    full_description: Text,
    help: Help,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties {
    tags: Vec<String>,
    #[serde(rename = "security-severity")]
    security_severity: String,
    precision: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    level: &'static str,
    message: TextRef<'a>,
    locations: [Location<'a>; 1],
    partial_fingerprints: PartialFingerprints,
    fingerprints: Fingerprints,
    properties: ResultProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    physical_location: PhysicalLocation<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation<'a> {
    artifact_location: ArtifactLocation<'a>,
    region: Region,
}

#[derive(Serialize)]
struct ArtifactLocation<'a> {
    uri: std::borrow::Cow<'a, str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    start_column: u32,
    end_line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_column: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PartialFingerprints {
    primary_location_line_hash: LineHash,
}

#[derive(Serialize)]
struct Fingerprints {
    #[serde(rename = "deploy-tcb/v1")]
    identity: Fingerprint,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultProperties<'a> {
    severity: Severity,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    also_reported_by: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    vulnerability_ids: &'a [std::sync::Arc<str>],
    #[serde(skip_serializing_if = "Option::is_none")]
    accepted: Option<&'a str>,
}

/// Cuts a text to GitHub's 1024-character limit on a char boundary.
fn limit(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(TEXT_LIMIT - 1) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

fn readable_name(rule: &str) -> String {
    let words: String = rule
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    if words.is_empty() || words.eq_ignore_ascii_case(rule) {
        format!("Rule{words}")
    } else {
        words
    }
}

/// Where a finding points. Pathless findings (an image's OS packages, a cluster resource)
/// get a stable descriptive path so the result can still be shown.
fn uri(finding: &Finding) -> std::borrow::Cow<'_, str> {
    if let Some(path) = &finding.path {
        return std::borrow::Cow::Borrowed(path);
    }
    let name = match &finding.package {
        Some(p) => format!("dependencies/{}", p.name),
        None => format!("findings/{}", finding.tool),
    };
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "/._-@+".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    std::borrow::Cow::Owned(safe)
}

fn region(finding: &Finding) -> Region {
    let r = finding.region;
    let start_line = r.map_or(1, |r| r.start_line);
    let start_column = r.and_then(|r| r.start_column).unwrap_or(1);
    let end_line = r.and_then(|r| r.end_line).unwrap_or(start_line);
    let end_column = r
        .and_then(|r| r.end_column)
        .filter(|c| end_line > start_line || *c > start_column);
    Region {
        start_line,
        start_column,
        end_line,
        end_column,
    }
}

/// What a rule's entry is made of: the texts of its first finding, and the worst severity,
/// the highest score consistent with its finding's severity and every CWE of its findings.
struct RuleFacts {
    first: Finding,
    severity: Severity,
    score: Option<f64>,
    cwes: Vec<u32>,
}

impl RuleFacts {
    fn new(first: Finding) -> Self {
        let mut facts = RuleFacts {
            severity: Severity::Info,
            score: None,
            cwes: Vec::new(),
            first,
        };
        let first = facts.first.clone();
        facts.add(&first);
        facts
    }

    fn add(&mut self, f: &Finding) {
        self.severity = self.severity.max(f.severity);
        if let Some(score) = f.score.filter(|s| Severity::from_score(*s) == f.severity) {
            self.score = Some(self.score.map_or(score, |best| best.max(score)));
        }
        self.cwes.extend(f.cwes.iter().copied());
    }
}

fn rule_for(rule: &str, facts: &RuleFacts) -> Rule {
    let first = &facts.first;
    let severity = facts.severity;
    let score = facts.score.unwrap_or_else(|| severity.default_score());
    let short = first
        .title
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or(rule);
    let full = first
        .description
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| first.title.as_deref().unwrap_or(&first.message));
    let mut help = limit(full);
    if let Some(uri) = &first.help_uri {
        help = limit(&format!("{help}\n\nMore: {uri}"));
    }
    let mut cwes = facts.cwes.clone();
    cwes.sort_unstable();
    cwes.dedup();
    let mut tags = vec!["security".to_string(), first.tool.to_string()];
    tags.extend(cwes.iter().map(|c| format!("external/cwe/cwe-{c}")));
    tags.truncate(20);
    Rule {
        id: rule.to_string(),
        name: readable_name(rule),
        short_description: Text { text: limit(short) },
        full_description: Text { text: limit(full) },
        help: Help {
            markdown: help.clone(),
            text: help,
        },
        help_uri: first
            .help_uri
            .as_ref()
            .map(|u| u.to_string())
            .filter(|u| u.starts_with("http")),
        default_configuration: Configuration {
            level: severity.sarif_level(),
        },
        properties: RuleProperties {
            tags,
            security_severity: format!("{score:.1}"),
            precision: "high",
        },
    }
}

/// Chooses what fits: at most [`MAX_RUNS`] tools and [`MAX_RESULTS_PER_RUN`] results per tool
/// (and at most `total_cap` overall), the most severe first. Returns indexes per tool.
fn select(findings: &Findings, total_cap: usize) -> (BTreeMap<&str, Vec<usize>>, Truncation) {
    let order = findings.most_severe(|_| true);
    let mut worst: BTreeMap<&str, (Severity, usize)> = BTreeMap::new();
    for index in 0..findings.len() {
        let entry = worst
            .entry(findings.tool(index))
            .or_insert((Severity::Info, 0));
        entry.0 = entry.0.max(findings.severity(index));
        entry.1 += 1;
    }
    let mut tools: Vec<(&str, (Severity, usize))> = worst.into_iter().collect();
    tools.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let kept_tools: Vec<&str> = tools.iter().take(MAX_RUNS).map(|(t, _)| *t).collect();
    let mut truncation = Truncation {
        dropped_tools: tools
            .iter()
            .skip(MAX_RUNS)
            .map(|(t, _)| t.to_string())
            .collect(),
        ..Truncation::default()
    };
    let mut per_tool: BTreeMap<&str, Vec<usize>> =
        kept_tools.iter().map(|t| (*t, Vec::new())).collect();
    let mut total = 0;
    for index in order {
        match per_tool.get_mut(findings.tool(index)) {
            Some(list) if list.len() < MAX_RESULTS_PER_RUN && total < total_cap => {
                list.push(index);
                total += 1;
            }
            _ => truncation.dropped_results += 1,
        }
    }
    for list in per_tool.values_mut() {
        list.sort_unstable();
    }
    (per_tool, truncation)
}

/// A run's results, read back from the store one at a time while they are written.
struct Results<'a> {
    findings: &'a Findings,
    indexes: &'a [usize],
    rule_index: BTreeMap<Arc<str>, usize>,
}

impl Serialize for Results<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.indexes.len()))?;
        for (index, f) in self.findings.iter_at(self.indexes.iter().copied()) {
            seq.serialize_element(&result(
                &f,
                self.rule_index[&f.rule],
                self.findings.line_hash(index),
            ))?;
        }
        seq.end()
    }
}

fn result(f: &Finding, rule_index: usize, line_hash: LineHash) -> SarifResult<'_> {
    SarifResult {
        rule_id: &f.rule,
        rule_index,
        level: f.severity.sarif_level(),
        message: TextRef { text: &f.message },
        locations: [Location {
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation { uri: uri(f) },
                region: region(f),
            },
        }],
        partial_fingerprints: PartialFingerprints {
            primary_location_line_hash: line_hash,
        },
        fingerprints: Fingerprints {
            identity: f.fingerprint,
        },
        properties: ResultProperties {
            severity: f.severity,
            also_reported_by: &f.also_reported_by,
            vulnerability_ids: &f.ids,
            accepted: f.accepted.as_deref(),
        },
    }
}

fn run<'a>(
    findings: &'a Findings,
    tool: &'a str,
    indexes: &'a [usize],
    truncation: &Truncation,
) -> Run<'a> {
    let mut by_rule: BTreeMap<Arc<str>, RuleFacts> = BTreeMap::new();
    for (_, f) in findings.iter_at(indexes.iter().copied()) {
        match by_rule.get_mut(&f.rule) {
            Some(facts) => facts.add(&f),
            None => {
                by_rule.insert(f.rule.clone(), RuleFacts::new(f));
            }
        }
    }
    let rule_index = by_rule
        .keys()
        .enumerate()
        .map(|(i, r)| (r.clone(), i))
        .collect();
    let rules = by_rule
        .iter()
        .map(|(rule, facts)| rule_for(rule, facts))
        .collect();
    Run {
        tool: Tool {
            driver: Driver {
                name: tool,
                full_name: format!("{tool} (aggregated by deploy-tcb security-scan)"),
                information_uri: "https://github.com/superinsight/deploy-tcb",
                version: env!("CARGO_PKG_VERSION"),
                rules,
            },
        },
        automation_details: AutomationDetails {
            id: format!("deploy-tcb/security-scan/{tool}/"),
        },
        column_kind: "utf16CodeUnits",
        results: Results {
            findings,
            indexes,
            rule_index,
        },
        properties: truncation.note.as_ref().map(|n| RunProperties {
            truncated: n.clone(),
        }),
    }
}

fn build<'a>(
    findings: &'a Findings,
    selection: &'a BTreeMap<&'a str, Vec<usize>>,
    truncation: &Truncation,
) -> Log<'a> {
    Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: selection
            .iter()
            .map(|(tool, indexes)| run(findings, tool, indexes, truncation))
            .collect(),
    }
}

/// Counts bytes written, to measure the gzipped size without keeping it.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn plain_size(log: &Log) -> std::io::Result<u64> {
    let mut counter = std::io::BufWriter::with_capacity(1 << 16, Counter(0));
    serde_json::to_writer(&mut counter, log)?;
    Ok(counter.into_inner().map_err(|e| e.into_error())?.0)
}

fn gzipped_size(log: &Log) -> std::io::Result<u64> {
    // JSON only shrinks under gzip: a log well under the limit as plain text is under it
    // gzipped, and compressing it to find out would double the cost of writing it.
    if plain_size(log)? <= MAX_GZIP_BYTES - (1 << 16) {
        return Ok(0);
    }
    // Buffered: the encoder does costly work per write call, and serde writes tiny pieces.
    let encoder = flate2::write::GzEncoder::new(Counter(0), flate2::Compression::fast());
    let mut buffered = std::io::BufWriter::with_capacity(1 << 16, encoder);
    serde_json::to_writer(&mut buffered, log)?;
    let encoder = buffered.into_inner().map_err(|e| e.into_error())?;
    Ok(encoder.finish()?.0)
}

/// Writes the merged SARIF.
pub fn write(findings: &Findings, out: impl Write) -> std::io::Result<Truncation> {
    let mut cap = usize::MAX;
    loop {
        let (selection, mut truncation) = select(findings, cap);
        let kept: usize = selection.values().map(Vec::len).sum();
        if truncation.dropped_results > 0 || !truncation.dropped_tools.is_empty() {
            truncation.note = Some(format!(
                "GitHub limits: kept the {kept} most severe of {} results{}",
                findings.len(),
                if truncation.dropped_tools.is_empty() {
                    String::new()
                } else {
                    format!("; left out tools {}", truncation.dropped_tools.join(", "))
                }
            ));
        }
        let log = build(findings, &selection, &truncation);
        let size = if kept > 1_000 { gzipped_size(&log)? } else { 0 };
        if size <= MAX_GZIP_BYTES || kept == 0 {
            let mut out = std::io::BufWriter::new(out);
            serde_json::to_writer(&mut out, &log)?;
            out.flush()?;
            return Ok(truncation);
        }
        // Shrink in proportion to the overshoot, with a margin, and try again.
        let ratio = MAX_GZIP_BYTES as f64 / size as f64 * 0.95;
        cap = ((kept as f64) * ratio) as usize;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(i: usize, severity: Severity) -> Finding {
        let mut f = Finding::new(
            "semgrep".into(),
            format!("rule-{}", i % 7).into(),
            severity,
            "m".into(),
        );
        f.path = Some(format!("src/f{}.py", i % 100).into());
        f.region = crate::scan::model::Region::line(1 + (i % 300) as u64);
        let mut identity = [0u8; 12];
        identity[4..].copy_from_slice(&(i as u64).to_be_bytes());
        f.fingerprint = crate::scan::model::Fingerprint(identity);
        f
    }

    #[test]
    fn over_25000_results_the_most_severe_are_kept_and_the_log_says_so() {
        let mut findings: Vec<Finding> = (0..MAX_RESULTS_PER_RUN + 10)
            .map(|i| finding(i, Severity::Low))
            .collect();
        findings[7].severity = Severity::Critical;
        let findings: Findings = findings.into_iter().collect();
        let mut out = Vec::new();
        let truncation = write(&findings, &mut out).unwrap();
        assert_eq!(truncation.dropped_results, 10);
        let log: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let run = &log["runs"][0];
        assert_eq!(
            run["results"].as_array().unwrap().len(),
            MAX_RESULTS_PER_RUN
        );
        assert!(
            run["results"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["level"] == "error"),
            "the critical one is kept"
        );
        assert!(
            run["properties"]["deploy-tcb/truncated"]
                .as_str()
                .unwrap()
                .contains("25000 most severe")
        );
    }

    #[test]
    fn rule_names_never_repeat_their_ids() {
        assert_eq!(readable_name("B602"), "RuleB602");
        assert_eq!(readable_name("unknown"), "RuleUnknown");
        assert_eq!(
            readable_name("subprocess-shell-true"),
            "SubprocessShellTrue"
        );
    }
}
