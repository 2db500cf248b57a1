//! The gate: one verdict with its reason.
//!
//! It fails when (1) a gated finding is at or above `fail_on`, (2) a severity's count is over
//! its `max_*`, or (3) a scanner failed and `scanner_errors` is `fail`: a crashed or partial
//! scanner is never read as clean. With `new_only`, findings a current baseline entry accepts
//! are not gated (they are still reported).

use serde::Serialize;

use super::model::{ScannerIssue, Severity};
use super::store::Findings;

#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// `None` disables the severity threshold.
    pub fail_on: Option<Severity>,
    pub max_critical: Option<u32>,
    pub max_high: Option<u32>,
    pub max_medium: Option<u32>,
    pub max_low: Option<u32>,
    pub new_only: bool,
    pub fail_on_scanner_errors: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub passed: bool,
    pub reason: String,
}

fn count(gated: &[Severity], severity: Severity) -> usize {
    gated.iter().filter(|s| **s == severity).count()
}

/// Decides. `issues` are the scanner failures found while parsing.
pub fn decide(policy: &Policy, findings: &Findings, issues: &[ScannerIssue]) -> Verdict {
    let gated: Vec<Severity> = (0..findings.len())
        .filter(|i| !(policy.new_only && findings.is_accepted(*i)))
        .map(|i| findings.severity(i))
        .collect();
    let scope = if policy.new_only { "new " } else { "" };
    let mut failures = Vec::new();
    if let Some(threshold) = policy.fail_on {
        let over: Vec<String> = Severity::ALL
            .iter()
            .filter(|s| **s >= threshold)
            .map(|s| (s, count(&gated, *s)))
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        if !over.is_empty() {
            failures.push(format!(
                "{} {scope}finding(s) at or above {threshold}",
                over.join(", ")
            ));
        }
    }
    let limits = [
        (Severity::Critical, policy.max_critical),
        (Severity::High, policy.max_high),
        (Severity::Medium, policy.max_medium),
        (Severity::Low, policy.max_low),
    ];
    for (severity, limit) in limits {
        let n = count(&gated, severity);
        if let Some(max) = limit.filter(|max| n > *max as usize) {
            failures.push(format!(
                "{n} {scope}{severity} finding(s), more than max_{severity} {max}"
            ));
        }
    }
    let incomplete: Vec<&str> = {
        let mut tools: Vec<&str> = issues.iter().map(|i| i.tool.as_str()).collect();
        tools.sort_unstable();
        tools.dedup();
        tools
    };
    if policy.fail_on_scanner_errors && !incomplete.is_empty() {
        failures.push(format!(
            "incomplete scan: {} reported errors (scanner_errors: fail)",
            incomplete.join(", ")
        ));
    }
    if failures.is_empty() {
        let threshold = policy.fail_on.map_or_else(
            || "no severity threshold".to_string(),
            |t| format!("nothing at or above {t}"),
        );
        let warned = if incomplete.is_empty() {
            String::new()
        } else {
            format!(
                "; scanner errors from {} only warned (scanner_errors: warn)",
                incomplete.join(", ")
            )
        };
        Verdict {
            passed: true,
            reason: format!(
                "passed: {} {scope}finding(s), {threshold}{warned}",
                gated.len()
            ),
        }
    } else {
        Verdict {
            passed: false,
            reason: format!("failed: {}", failures.join("; ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::model::Finding;

    fn f(severity: Severity) -> Finding {
        Finding::new("t".into(), "r".into(), severity, "m".into())
    }

    fn all(findings: &[Finding]) -> Findings {
        findings.iter().cloned().collect()
    }

    #[test]
    fn threshold_counts_and_issues_each_fail() {
        let policy = Policy {
            fail_on: Some(Severity::High),
            ..Policy::default()
        };
        let v = decide(
            &policy,
            &all(&[f(Severity::Critical), f(Severity::Medium)]),
            &[],
        );
        assert!(!v.passed);
        assert_eq!(v.reason, "failed: 1 critical finding(s) at or above high");
        assert!(decide(&policy, &all(&[f(Severity::Medium)]), &[]).passed);

        let policy = Policy {
            max_medium: Some(1),
            ..Policy::default()
        };
        let v = decide(
            &policy,
            &all(&[f(Severity::Medium), f(Severity::Medium)]),
            &[],
        );
        assert!(v.reason.contains("more than max_medium 1"));

        let issue = ScannerIssue {
            tool: "pip-audit".into(),
            file: "a.json".into(),
            message: "skipped".into(),
        };
        let strict = Policy {
            fail_on_scanner_errors: true,
            ..Policy::default()
        };
        assert!(
            decide(&strict, &Findings::new(), std::slice::from_ref(&issue))
                .reason
                .contains("incomplete scan: pip-audit")
        );
        let lenient = Policy::default();
        assert!(decide(&lenient, &Findings::new(), &[issue]).passed);
    }

    #[test]
    fn new_only_ignores_accepted_findings() {
        let mut accepted = f(Severity::Critical);
        accepted.accepted = Some("ok".into());
        let policy = Policy {
            fail_on: Some(Severity::Low),
            new_only: true,
            ..Policy::default()
        };
        assert!(decide(&policy, &all(&[accepted.clone()]), &[]).passed);
        let everything = Policy {
            new_only: false,
            ..policy
        };
        assert!(!decide(&everything, &all(&[accepted]), &[]).passed);
    }
}
