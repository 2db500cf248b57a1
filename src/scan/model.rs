//! The one finding model every scanner format is normalised into.

use std::fmt;

use hashbrown::HashSet;
use std::sync::Arc;

use serde::Serialize;
use thin_vec::ThinVec;

/// Five-level severity shared by every tool (DefectDojo's scale). Each parser documents how
/// its tool's own levels map onto it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Severity from a CVSS base score (or SARIF `security-severity`), with GitHub's bands:
    /// ≥9 critical, ≥7 high, ≥4 medium, >0 low, 0 info.
    pub fn from_score(score: f64) -> Severity {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::Info,
        }
    }

    /// Severity from a textual level used by most tools (critical/high/medium/moderate/low/
    /// info/negligible/unknown, any case). `None` when the word is not a level.
    pub fn from_word(word: &str) -> Option<Severity> {
        match word.trim().to_ascii_lowercase().as_str() {
            "critical" | "crit" | "blocker" => Some(Severity::Critical),
            "high" | "error" | "major" => Some(Severity::High),
            "medium" | "moderate" | "warning" | "warn" => Some(Severity::Medium),
            "low" | "minor" | "note" => Some(Severity::Low),
            "info" | "informational" | "negligible" | "unknown" | "none" | "style" => {
                Some(Severity::Info)
            }
            _ => None,
        }
    }

    /// The score we publish as SARIF `security-severity` when the tool gave none: the middle
    /// of GitHub's band for the level.
    pub fn default_score(self) -> f64 {
        match self {
            Severity::Critical => 9.5,
            Severity::High => 8.0,
            Severity::Medium => 5.5,
            Severity::Low => 2.0,
            Severity::Info => 0.0,
        }
    }

    /// SARIF `level` for the severity.
    pub fn sarif_level(self) -> &'static str {
        match self {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low | Severity::Info => "note",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Our identity for a finding, stable across runs, which baselines refer to: 12 bytes of a
/// SHA-256, written as 24 hex digits. Held as bytes since a large report keeps one per finding.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 12]);

impl Fingerprint {
    /// Whether `text` (hex digits, any case) names this fingerprint.
    pub fn matches(&self, text: &str) -> bool {
        hex::encode(self.0).eq_ignore_ascii_case(text.trim())
    }

    /// The first eight bytes, for the `primaryLocationLineHash` of a finding without source.
    pub fn prefix(&self) -> u64 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        u64::from_be_bytes(first)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A dependency a vulnerability was found in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    pub name: Arc<str>,
    pub version: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed: Option<Arc<str>>,
}

/// Lines and columns are 1-based, as in SARIF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Region {
    pub start_line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_column: Option<u32>,
}

impl Region {
    pub fn line(line: u64) -> Option<Region> {
        let line = u32::try_from(line).ok().filter(|l| *l > 0)?;
        Some(Region {
            start_line: line,
            start_column: None,
            end_line: None,
            end_column: None,
        })
    }

    /// A region from possibly-missing numbers; `None` without a positive start line.
    pub fn span(start: u64, start_col: u64, end: u64, end_col: u64) -> Option<Region> {
        let positive = |n: u64| u32::try_from(n).ok().filter(|n| *n > 0);
        let start_line = positive(start)?;
        let end_line = positive(end).filter(|e| *e >= start_line);
        let start_column = positive(start_col);
        let end_column = positive(end_col).filter(|e| {
            end_line.is_some_and(|l| l > start_line) || start_column.is_none_or(|s| *e > s)
        });
        Some(Region {
            start_line,
            start_column,
            end_line,
            end_column,
        })
    }
}

/// One problem as one tool reported it (before deduplication), or the merged record of the
/// same problem reported several times (after).
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Normalised tool name (`bandit`, `semgrep`, `trivy`, …).
    pub tool: Arc<str>,
    /// The tool's rule or check id, normalised (semgrep's rule-directory prefix removed).
    pub rule: Arc<str>,
    /// One-line title of the rule, when the tool gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<Arc<str>>,
    /// Longer description or remediation of the rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help_uri: Option<Arc<str>>,
    pub severity: Severity,
    /// The tool's own severity word or score, kept for traceability.
    pub tool_severity: Arc<str>,
    /// CVSS base score or SARIF security-severity when the tool gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(skip_serializing_if = "ThinVec::is_empty")]
    pub cwes: ThinVec<u32>,
    /// Vulnerability ids: CVE first when there is one, then GHSA, PYSEC, OSV ids…
    #[serde(skip_serializing_if = "ThinVec::is_empty")]
    pub ids: ThinVec<Arc<str>>,
    /// Boxed: most findings have none, and a report can hold millions of findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<Box<Package>>,
    /// Path relative to the repository root, `/`-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
    pub message: Arc<str>,
    /// A stable id the tool itself gave (SARIF fingerprints, gitleaks Fingerprint…).
    #[serde(skip)]
    pub tool_fingerprint: Option<Arc<str>>,
    /// Our identity for the finding, stable across runs; what baselines refer to.
    pub fingerprint: Fingerprint,
    /// Other tools/rules that reported the same problem and were merged into this one.
    #[serde(skip_serializing_if = "ThinVec::is_empty")]
    pub also_reported_by: ThinVec<String>,
    /// How many raw reports were merged into this finding (1 = not merged).
    pub occurrences: u32,
    /// The baseline's reason when this finding is an accepted one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<String>,
}

impl Finding {
    pub fn new(tool: Arc<str>, rule: Arc<str>, severity: Severity, message: Arc<str>) -> Self {
        Finding {
            tool,
            rule,
            title: None,
            description: None,
            help_uri: None,
            severity,
            tool_severity: Arc::from(""),
            score: None,
            cwes: ThinVec::new(),
            ids: ThinVec::new(),
            package: None,
            path: None,
            region: None,
            message,
            tool_fingerprint: None,
            fingerprint: Fingerprint::default(),
            also_reported_by: ThinVec::new(),
            occurrences: 1,
            accepted: None,
        }
    }

    pub fn start_line(&self) -> Option<u32> {
        self.region.map(|r| r.start_line)
    }

    /// Where the finding is, for people: `path:line`, the package, or the rule.
    pub fn location_label(&self) -> String {
        match (&self.path, self.start_line(), &self.package) {
            (Some(path), Some(line), _) => format!("{path}:{line}"),
            (Some(path), None, _) => path.to_string(),
            (None, _, Some(p)) => match &p.version {
                Some(v) => format!("{}@{v}", p.name),
                None => p.name.to_string(),
            },
            _ => String::from("-"),
        }
    }
}

/// A scanner that failed, partly or wholly: its findings cannot be trusted as complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScannerIssue {
    pub tool: String,
    pub file: String,
    pub message: String,
}

/// What one report file yielded.
#[derive(Debug, Default)]
pub struct Parsed {
    pub findings: Vec<Finding>,
    pub issues: Vec<ScannerIssue>,
    /// The tools whose output the file held (a SARIF file may hold several runs).
    pub tools: Vec<String>,
}

/// Shares repeated strings (rule ids, paths, messages) between findings, which keeps memory
/// far below the input size on large reports.
#[derive(Debug, Default)]
pub struct Interner {
    strings: HashSet<Arc<str>>,
}

impl Interner {
    pub fn get(&mut self, value: &str) -> Arc<str> {
        if let Some(existing) = self.strings.get(value) {
            return existing.clone();
        }
        let shared: Arc<str> = Arc::from(value);
        self.strings.insert(shared.clone());
        shared
    }

    pub fn opt(&mut self, value: Option<&str>) -> Option<Arc<str>> {
        value
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| self.get(v))
    }
}

/// CWE numbers found in free text or tags (`CWE-79`, `cwe-079`, `external/cwe/cwe-22`).
pub fn cwes_in(text: &str) -> Vec<u32> {
    let lower = text.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut rest = lower.as_str();
    while let Some(at) = rest.find("cwe") {
        rest = &rest[at + 3..];
        let digits: String = rest
            .trim_start_matches(['-', ':', '_', ' '])
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(n) = digits.parse::<u32>()
            && n > 0
            && !found.contains(&n)
        {
            found.push(n);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_follow_github_bands() {
        assert_eq!(Severity::from_score(9.0), Severity::Critical);
        assert_eq!(Severity::from_score(8.9), Severity::High);
        assert_eq!(Severity::from_score(4.0), Severity::Medium);
        assert_eq!(Severity::from_score(0.1), Severity::Low);
        assert_eq!(Severity::from_score(0.0), Severity::Info);
    }

    #[test]
    fn cwe_ids_are_found_in_any_spelling() {
        assert_eq!(
            cwes_in("CWE-502: Deserialization; external/cwe/cwe-079, cwe:22"),
            vec![502, 79, 22]
        );
        assert!(cwes_in("no weakness").is_empty());
    }

    #[test]
    fn regions_drop_impossible_ends() {
        let r = Region::span(5, 10, 3, 2).unwrap();
        assert_eq!((r.end_line, r.end_column), (None, None));
        assert!(Region::span(0, 1, 1, 1).is_none());
    }
}
