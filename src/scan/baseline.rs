//! The baseline: a reviewed file of accepted findings, each with a reason and an expiry date.
//! Expired entries stop suppressing and are reported, so an acceptance cannot outlive its
//! review.
//!
//! ```yaml
//! accepted:
//!   - fingerprint: 4be1c1a0e3f2d5a9b8c7d6e5   # from the JSON output or the SARIF
//!     reason: yaml input is produced by our own build
//!     expires: 2026-12-31
//!   - id: CVE-2018-1000656        # a vulnerability or rule id…
//!     package: flask              # …optionally narrowed to a package
//!     path: app/main.py           # …or to a file
//!     reason: not reachable, flask only serves the health check
//!     expires: 2027-03-01
//! ```

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::model::Finding;
use super::store::Findings;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    accepted: Vec<RawEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    fingerprint: Option<String>,
    id: Option<String>,
    package: Option<String>,
    path: Option<String>,
    reason: Option<String>,
    expires: Option<serde_yaml::Value>,
}

/// One accepted finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub reason: String,
    pub expires: NaiveDate,
}

#[derive(Debug, Clone, Default)]
pub struct Baseline {
    pub entries: Vec<Entry>,
}

impl Baseline {
    /// Parses a baseline (YAML or JSON). The error names the entry and what to fix.
    pub fn parse(text: &str) -> Result<Baseline, String> {
        if text.trim().is_empty() {
            return Ok(Baseline::default());
        }
        let file: File = serde_yaml::from_str(text).map_err(|e| {
            format!("{e}; write `accepted:` as a list of entries with fingerprint or id, reason and expires")
        })?;
        let entries = file
            .accepted
            .into_iter()
            .enumerate()
            .map(|(i, raw)| validate(raw).map_err(|problem| format!("entry {}: {problem}", i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Baseline { entries })
    }
}

fn validate(raw: RawEntry) -> Result<Entry, String> {
    let text = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (fingerprint, id) = (text(raw.fingerprint), text(raw.id));
    if fingerprint.is_none() && id.is_none() {
        return Err("has neither `fingerprint` nor `id`; add one so it matches a finding".into());
    }
    let reason = text(raw.reason).ok_or("has no `reason`; say why the finding is accepted")?;
    let expires = match raw.expires {
        Some(serde_yaml::Value::String(s)) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| format!("`expires: {s}` is not a date; write it as YYYY-MM-DD"))?,
        Some(other) => {
            return Err(format!(
                "`expires: {other:?}` is not a date; write it as YYYY-MM-DD"
            ));
        }
        None => {
            return Err(
                "has no `expires`; every acceptance needs a review date (YYYY-MM-DD)".into(),
            );
        }
    };
    Ok(Entry {
        fingerprint,
        id,
        package: text(raw.package),
        path: text(raw.path),
        reason,
        expires,
    })
}

impl Entry {
    pub fn expired(&self, today: NaiveDate) -> bool {
        today > self.expires
    }

    /// Whether the entry names this finding: every selector it has must agree.
    pub fn matches(&self, finding: &Finding) -> bool {
        let fingerprint = self
            .fingerprint
            .as_ref()
            .is_none_or(|f| finding.fingerprint.matches(f));
        let id = self.id.as_ref().is_none_or(|id| {
            finding.rule.as_ref() == id
                || finding.ids.iter().any(|i| i.as_ref() == id)
                || finding
                    .also_reported_by
                    .iter()
                    .any(|a| a.rsplit(':').next() == Some(id))
        });
        let package = self.package.as_ref().is_none_or(|p| {
            finding
                .package
                .as_ref()
                .is_some_and(|fp| fp.name.eq_ignore_ascii_case(p))
        });
        let path = self
            .path
            .as_ref()
            .is_none_or(|p| finding.path.as_deref() == Some(p.trim_start_matches("./")));
        fingerprint && id && package && path
    }
}

/// What the baseline did to a set of findings.
#[derive(Debug, Default, Serialize)]
pub struct Applied {
    /// Findings accepted by a current entry.
    pub accepted: usize,
    /// Entries past their expiry: they no longer suppress anything.
    pub expired: Vec<Entry>,
    /// Current entries that matched nothing (the problem is gone: the entry can be removed).
    pub unused: Vec<Entry>,
}

/// Marks findings that a current entry accepts (`Finding::accepted`).
pub fn apply(baseline: &Baseline, findings: &mut Findings, today: NaiveDate) -> Applied {
    let mut applied = Applied::default();
    let (expired, live): (Vec<&Entry>, Vec<&Entry>) =
        baseline.entries.iter().partition(|e| e.expired(today));
    applied.expired = expired.into_iter().cloned().collect();
    let mut used = vec![false; live.len()];
    // Each finding is read once; the first live entry that matches gives the reason.
    let mut accepted = Vec::new();
    for (index, finding) in findings.iter().enumerate() {
        let mut reason = None;
        for (entry, used) in live.iter().zip(used.iter_mut()) {
            if entry.matches(&finding) {
                *used = true;
                reason.get_or_insert_with(|| format!("{} (until {})", entry.reason, entry.expires));
            }
        }
        if let Some(reason) = reason.filter(|_| finding.accepted.is_none()) {
            accepted.push((index, reason));
        }
    }
    applied.accepted = accepted.len();
    for (index, reason) in accepted {
        findings.accept(index, reason);
    }
    applied.unused = live
        .iter()
        .zip(used)
        .filter(|(_, used)| !used)
        .map(|(entry, _)| (*entry).clone())
        .collect();
    applied
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::model::Severity;

    fn finding(rule: &str) -> Finding {
        let mut f = Finding::new("bandit".into(), rule.into(), Severity::High, "m".into());
        f.fingerprint =
            crate::scan::model::Fingerprint([0xab, 0xc1, 0x23, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        f.path = Some("app/main.py".into());
        f
    }

    #[test]
    fn entries_need_a_reason_and_an_expiry() {
        let missing_reason = Baseline::parse("accepted:\n  - id: B602\n    expires: 2030-01-01\n");
        assert!(
            missing_reason
                .unwrap_err()
                .contains("entry 1: has no `reason`")
        );
        let bad_date =
            Baseline::parse("accepted:\n  - id: B602\n    reason: r\n    expires: soon\n");
        assert!(bad_date.unwrap_err().contains("YYYY-MM-DD"));
        assert!(Baseline::parse("accepted:\n  - reason: r\n    expires: 2030-01-01\n").is_err());
    }

    #[test]
    fn current_entries_accept_and_expired_ones_are_reported() {
        let baseline = Baseline::parse(
            "accepted:\n  - fingerprint: ABC123000000000000000000\n    reason: fine\n    expires: 2030-01-01\n  - id: B602\n    reason: old\n    expires: 2020-01-01\n",
        )
        .unwrap();
        let mut findings: Findings = [finding("B602")].into_iter().collect();
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let applied = apply(&baseline, &mut findings, today);
        assert_eq!(applied.accepted, 1);
        assert_eq!(applied.expired.len(), 1);
        assert_eq!(
            findings.get(0).accepted.as_deref(),
            Some("fine (until 2030-01-01)")
        );
    }
}
