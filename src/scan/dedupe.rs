//! Deduplication within and across tools.
//!
//! - A dependency finding (a package and vulnerability ids) is the same problem as another
//!   when the package (name normalised, version without a leading `v`) is the same and they
//!   share any id, CVE or alias: Trivy's CVE and Grype's GHSA with that CVE related merge;
//!   the same CVE in two versions of a package does not.
//! - A code finding is a duplicate of one from the same tool with the same rule on the same
//!   line of the same file, and of one from another tool on the same line when both rules
//!   are in the same [family](super::family) (bandit B602 and semgrep subprocess-shell-true).
//!   A cluster takes at most one finding per tool from that cross-tool match, so two
//!   different bandit checks on one line stay two findings.
//! - Anything else merges only with an identical report (tool, rule, path, message).
//!
//! A merged finding keeps the first report's text, the highest severity, the union of ids
//! and CWEs, and lists the other tools' rules in `also_reported_by`.

use std::sync::Arc;

use hashbrown::HashMap;

use super::family::family;
use super::model::Finding;
use super::store::Findings;

/// (tool, rule, path, line) as symbols: the same rule of one tool on one line.
type RuleLine = [u32; 4];
/// (path, line, family) as symbols: the cross-tool match.
type FamilyLine = [u32; 3];
/// (tool, rule, path, detail): an identical report of a finding without a line.
type Identity = (Arc<str>, Arc<str>, Option<Arc<str>>, Arc<str>);

/// Small numbers for the strings keys are made of, so the indexes of a report with millions
/// of findings hold four integers per finding rather than four shared strings.
#[derive(Debug, Default)]
struct Symbols(HashMap<Arc<str>, u32>);

impl Symbols {
    fn of(&mut self, text: &str) -> u32 {
        if let Some(symbol) = self.0.get(text) {
            return *symbol;
        }
        let next = self.0.len() as u32;
        self.0.insert(Arc::from(text), next);
        next
    }
}

/// The keys of a finding with a path and line, worked out once per finding.
struct LineKeys {
    rule_line: RuleLine,
    family_line: Option<FamilyLine>,
}

#[derive(Debug, Default)]
pub struct Deduper {
    findings: Findings,
    symbols: Symbols,
    by_dependency: HashMap<(String, String, Arc<str>), u32>,
    by_rule_line: HashMap<RuleLine, u32>,
    /// The first cluster on a line for a family; the few lines with more have the others in
    /// `more_on_family_line`, so the common case costs no list per line.
    by_family_line: HashMap<FamilyLine, u32>,
    more_on_family_line: HashMap<FamilyLine, Vec<u32>>,
    by_identity: HashMap<Identity, u32>,
    raw: usize,
}

/// The result: unique findings, and how many raw reports went in.
#[derive(Debug, Default)]
pub struct Deduped {
    pub findings: Findings,
    pub raw: usize,
}

impl Deduped {
    pub fn merged(&self) -> usize {
        self.raw - self.findings.len()
    }
}

fn normalise_package(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace(['_', '.'], "-")
}

fn normalise_version(version: Option<&Arc<str>>) -> String {
    version
        .map(|v| v.trim().trim_start_matches('v').to_string())
        .unwrap_or_default()
}

/// Whether a cluster already holds a report of `tool`: its own tool, or one of the tools
/// (`tool:rule`) merged into it.
fn cluster_has_tool(kept: &Finding, tool: &str) -> bool {
    kept.tool.as_ref() == tool
        || kept
            .also_reported_by
            .iter()
            .any(|label| label.split(':').next() == Some(tool))
}

impl Deduper {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one raw finding, merging it into an earlier one when it is the same problem.
    pub fn add(&mut self, finding: Finding) {
        self.raw += 1;
        let keys = self.line_keys(&finding);
        let target = if finding.package.is_some() && !finding.ids.is_empty() {
            self.dependency_match(&finding)
        } else if let Some(keys) = &keys {
            self.line_match(&finding, keys)
        } else {
            self.identity_match(&finding)
        };
        match target {
            Some(index) => self.merge(index as usize, finding, keys.as_ref()),
            None => self.insert(finding, keys.as_ref()),
        }
    }

    pub fn finish(self) -> Deduped {
        Deduped {
            findings: self.findings,
            raw: self.raw,
        }
    }

    fn dependency_keys(finding: &Finding) -> Vec<(String, String, Arc<str>)> {
        let Some(package) = &finding.package else {
            return Vec::new();
        };
        let name = normalise_package(&package.name);
        let version = normalise_version(package.version.as_ref());
        finding
            .ids
            .iter()
            .map(|id| (name.clone(), version.clone(), id.clone()))
            .collect()
    }

    fn dependency_match(&self, finding: &Finding) -> Option<u32> {
        Self::dependency_keys(finding)
            .iter()
            .find_map(|key| self.by_dependency.get(key).copied())
    }

    fn line_keys(&mut self, finding: &Finding) -> Option<LineKeys> {
        let (path, line) = (finding.path.as_deref()?, finding.start_line()?);
        let path = self.symbols.of(path);
        let rule_line = [
            self.symbols.of(&finding.tool),
            self.symbols.of(&finding.rule),
            path,
            line,
        ];
        let family_line = family(finding).map(|f| [path, line, self.symbols.of(f)]);
        Some(LineKeys {
            rule_line,
            family_line,
        })
    }

    fn line_match(&self, finding: &Finding, keys: &LineKeys) -> Option<u32> {
        if let Some(index) = self.by_rule_line.get(&keys.rule_line) {
            return Some(*index);
        }
        let key = keys.family_line.as_ref()?;
        let first = *self.by_family_line.get(key)?;
        let more = self.more_on_family_line.get(key).into_iter().flatten();
        std::iter::once(first)
            .chain(more.copied())
            .find(|i| !cluster_has_tool(&self.findings.get(*i as usize), &finding.tool))
    }

    fn identity_key(finding: &Finding) -> Identity {
        let detail = finding
            .tool_fingerprint
            .clone()
            .unwrap_or_else(|| finding.message.clone());
        (
            finding.tool.clone(),
            finding.rule.clone(),
            finding.path.clone(),
            detail,
        )
    }

    fn identity_match(&self, finding: &Finding) -> Option<u32> {
        self.by_identity.get(&Self::identity_key(finding)).copied()
    }

    fn register(&mut self, index: u32, finding: &Finding, keys: Option<&LineKeys>) {
        for key in Self::dependency_keys(finding) {
            self.by_dependency.entry(key).or_insert(index);
        }
        if let Some(keys) = keys {
            self.by_rule_line.entry(keys.rule_line).or_insert(index);
            if let Some(key) = keys.family_line {
                self.add_to_family_line(key, index);
            }
        }
        // Only findings without a line or package are matched by identity; keeping the key for
        // the others would cost memory on large reports for nothing.
        let dependency = finding.package.is_some() && !finding.ids.is_empty();
        if keys.is_none() && !dependency {
            self.by_identity
                .entry(Self::identity_key(finding))
                .or_insert(index);
        }
    }

    fn add_to_family_line(&mut self, key: FamilyLine, index: u32) {
        let first = *self.by_family_line.entry(key).or_insert(index);
        if first == index {
            return;
        }
        let more = self.more_on_family_line.entry(key).or_default();
        if !more.contains(&index) {
            more.push(index);
        }
    }

    fn insert(&mut self, finding: Finding, keys: Option<&LineKeys>) {
        // u32 indexes halve the indexes' size; four billion findings is beyond any report.
        let index = u32::try_from(self.findings.len()).unwrap_or(u32::MAX);
        self.register(index, &finding, keys);
        self.findings.push(&finding);
    }

    fn merge(&mut self, index: usize, other: Finding, keys: Option<&LineKeys>) {
        self.register(index as u32, &other, keys);
        let mut kept = self.findings.get(index);
        merge_into(&mut kept, other);
        self.findings.replace(index as u32, &kept);
    }
}

/// Folds `other` into `kept`: the highest severity and score, the union of ids and CWEs.
fn merge_into(kept: &mut Finding, other: Finding) {
    kept.occurrences += other.occurrences;
    if other.severity > kept.severity {
        kept.severity = other.severity;
    }
    kept.score = match (kept.score, other.score) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    for id in other.ids {
        if !kept.ids.contains(&id) {
            kept.ids.push(id);
        }
    }
    for cwe in other.cwes {
        if !kept.cwes.contains(&cwe) {
            kept.cwes.push(cwe);
        }
    }
    let label = format!("{}:{}", other.tool, other.rule);
    let same = other.tool == kept.tool && other.rule == kept.rule;
    if !same && !kept.also_reported_by.contains(&label) {
        kept.also_reported_by.push(label);
    }
    if kept.path.is_none() {
        kept.path = other.path;
        kept.region = other.region;
    }
}

/// Deduplicates a batch of findings.
pub fn dedupe(findings: impl IntoIterator<Item = Finding>) -> Deduped {
    let mut deduper = Deduper::new();
    findings.into_iter().for_each(|f| deduper.add(f));
    deduper.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::model::{Package, Region, Severity};

    fn code(tool: &str, rule: &str, line: u64) -> Finding {
        let mut f = Finding::new(tool.into(), rule.into(), Severity::Medium, "m".into());
        f.path = Some("app/main.py".into());
        f.region = Region::line(line);
        f
    }

    fn dep(tool: &str, ids: &[&str], version: &str) -> Finding {
        let mut f = Finding::new(tool.into(), ids[0].into(), Severity::High, "m".into());
        f.ids = ids.iter().map(|i| Arc::from(*i)).collect();
        f.package = Some(Box::new(Package {
            name: "Django".into(),
            version: Some(version.into()),
            fixed: None,
        }));
        f
    }

    #[test]
    fn same_line_same_family_across_tools_merges() {
        let d = dedupe([
            code("bandit", "B602", 16),
            code("semgrep", "subprocess-shell-true", 16),
        ]);
        assert_eq!(d.findings.len(), 1);
        assert_eq!(
            d.findings.get(0).also_reported_by,
            vec!["semgrep:subprocess-shell-true"]
        );
        assert_eq!(d.merged(), 1);
    }

    #[test]
    fn distinct_problems_on_one_line_stay_apart() {
        let d = dedupe([
            code("bandit", "B501", 37),
            code("bandit", "B113", 37),
            code("semgrep", "requests-verify-false", 37),
        ]);
        assert_eq!(d.findings.len(), 2);
        let d = dedupe([
            code("bandit", "B105", 10),
            code("bandit", "B106", 10),
            code("semgrep", "hardcoded-password", 10),
        ]);
        assert_eq!(
            d.findings.len(),
            2,
            "one semgrep finding merges into one bandit finding"
        );
        let d = dedupe([
            code("bandit", "B602", 16),
            code("semgrep", "subprocess-shell-true", 17),
        ]);
        assert_eq!(d.findings.len(), 2);
    }

    #[test]
    fn same_cve_same_package_merges_across_tools_and_aliases() {
        let d = dedupe([
            dep("trivy", &["CVE-2021-1"], "1.2"),
            dep("grype", &["GHSA-x", "CVE-2021-1"], "1.2"),
            dep("pip-audit", &["PYSEC-1", "GHSA-x"], "v1.2"),
        ]);
        assert_eq!(d.findings.len(), 1);
        assert_eq!(d.findings.get(0).occurrences, 3);
        let d = dedupe([
            dep("trivy", &["CVE-2021-1"], "1.2"),
            dep("grype", &["CVE-2021-1"], "1.3"),
        ]);
        assert_eq!(d.findings.len(), 2, "another version is another finding");
    }

    /// Enough findings that most records are in the store's file when later reports merge
    /// into them.
    #[test]
    fn merges_into_findings_already_written_out_keep_every_report() {
        let lines = 30_000;
        let bandit = (1..=lines).map(|line| code("bandit", "B602", line));
        let semgrep = (1..=lines).map(|line| {
            let mut f = code("semgrep", "subprocess-shell-true", line);
            f.severity = Severity::High;
            f.cwes = [78].into_iter().collect();
            f
        });
        let d = dedupe(bandit.chain(semgrep));
        assert_eq!(
            (d.findings.len(), d.merged()),
            (lines as usize, lines as usize)
        );
        for (i, f) in d.findings.iter().enumerate() {
            assert_eq!(f.start_line(), Some(i as u32 + 1));
            assert_eq!(f.also_reported_by, vec!["semgrep:subprocess-shell-true"]);
            assert_eq!((f.severity, f.occurrences), (Severity::High, 2));
            assert_eq!(f.cwes.as_slice(), &[78]);
        }
    }

    #[test]
    fn merged_severity_is_the_highest() {
        let mut low = code("bandit", "B602", 1);
        low.severity = Severity::Low;
        let mut high = code("semgrep", "shell-true", 1);
        high.severity = Severity::High;
        assert_eq!(dedupe([low, high]).findings.get(0).severity, Severity::High);
    }
}
