//! Reporting to GitHub when a token is given: a check run whose annotations point at the
//! findings' lines (the client sends them 50 per request), this action's section of the run's
//! sticky PR comment, and, with `upload`, the SARIF to code scanning. Reporting is best effort:
//! a failure is a warning, never the verdict.
//!
//! In a pull request or a push, the annotations are the findings on the lines it changed (from
//! GitHub's comparison of its base and head), where a reviewer looks; the rest are counted in
//! the check run's summary and are all in the SARIF. Without a change to compare, or when
//! GitHub cannot give it, they are the most severe findings anywhere.

use super::model::{Finding, Severity};
use super::render::{self, Outcome};
use super::store::Findings;
use crate::github::diff::ChangedLines;
use crate::github::{
    AnnotationLevel, CheckAnnotation, CheckOutput, Client, Conclusion, NewCheckRun, RunContext,
    SarifUpload,
};
use crate::runner::command::annotate;
use crate::runner::{Annotation, Level};

/// GitHub keeps at most this many annotations of a check run worth reading.
const MAX_ANNOTATIONS: usize = 500;
/// This action's section id in the sticky comment.
pub const SECTION: &str = "security-scan";

/// The change the annotations are limited to, and what to call it.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub lines: &'a ChangedLines,
    /// `this pull request` or `this push`.
    pub what: &'static str,
}

/// The check run's annotations and where the findings are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotated {
    pub annotations: Vec<CheckAnnotation>,
    /// Located findings on the changed lines (all located findings without a change).
    pub on_changed_lines: usize,
    /// Findings not on the changed lines, unlocated ones included (0 without a change).
    pub elsewhere: usize,
}

fn located(f: &Finding) -> Option<(&str, u32, u32)> {
    let path = f.path.as_deref()?;
    let start = f.start_line()?;
    let end = f
        .region
        .and_then(|r| r.end_line)
        .unwrap_or(start)
        .max(start);
    Some((path, start, end))
}

fn annotation(
    f: &Finding,
    (path, start, end): (&str, u32, u32),
    threshold: Severity,
) -> CheckAnnotation {
    let level = if f.accepted.is_some() || f.severity < Severity::Medium {
        AnnotationLevel::Notice
    } else if f.severity >= threshold {
        AnnotationLevel::Failure
    } else {
        AnnotationLevel::Warning
    };
    let mut a = CheckAnnotation::new(path, start, level, &f.message);
    a.end_line = end;
    a.title = Some(format!("{} {} ({})", f.severity, f.rule, f.tool));
    a
}

/// Annotations, most severe first, at most [`MAX_ANNOTATIONS`]: with a change, for the
/// findings whose lines intersect its changed lines; without one, for every located finding.
pub fn annotations(
    findings: &Findings,
    threshold: Severity,
    change: Option<&ChangedLines>,
) -> Annotated {
    let chosen = located_on(findings, change, |_| true);
    let on_changed_lines = chosen.len();
    let elsewhere = if change.is_some() {
        findings.len() - on_changed_lines
    } else {
        0
    };
    let annotations = chosen
        .into_iter()
        .take(MAX_ANNOTATIONS)
        .map(|index| findings.get(index))
        .filter_map(|f| located(&f).map(|at| annotation(&f, at, threshold)))
        .collect();
    Annotated {
        annotations,
        on_changed_lines,
        elsewhere,
    }
}

/// GitHub turns at most this many workflow-command annotations of each level into
/// annotations per step; the rest are only log lines.
pub const LOG_ANNOTATIONS_PER_LEVEL: usize = 10;

/// A workflow-command annotation for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogAnnotation {
    pub level: Level,
    pub at: Annotation,
    pub message: String,
}

/// The log's annotations, spent where they matter since GitHub keeps only
/// [`LOG_ANNOTATIONS_PER_LEVEL`] of each level: findings at or above `threshold` are the
/// errors; the SARIF having been cut, scanner failures, then findings below the threshold
/// share the warnings. With a change, only findings on its changed lines are annotated.
/// Accepted findings are not. A notice says how many findings are not annotated here and
/// where they all are.
pub fn log_annotations(
    outcome: &Outcome,
    threshold: Severity,
    change: Option<&Change>,
) -> Vec<LogAnnotation> {
    let findings = outcome.findings;
    let cut = outcome.truncation.and_then(|t| t.note.as_ref());
    let mut out: Vec<LogAnnotation> = cut
        .map(|note| LogAnnotation {
            level: Level::Warning,
            at: Annotation::titled("SARIF cut to GitHub's limits"),
            message: note.clone(),
        })
        .into_iter()
        .chain(outcome.issues.iter().map(|issue| LogAnnotation {
            level: Level::Warning,
            at: Annotation::titled(format!("{} did not scan completely", issue.tool)),
            message: format!("{}: {}", issue.file, issue.message),
        }))
        .take(LOG_ANNOTATIONS_PER_LEVEL)
        .collect();
    let candidates = log_candidates(findings, change.map(|c| c.lines));
    let errors = candidates
        .iter()
        .filter(|i| findings.severity(**i) >= threshold)
        .take(LOG_ANNOTATIONS_PER_LEVEL);
    let warnings = candidates
        .iter()
        .filter(|i| findings.severity(**i) < threshold)
        .take(LOG_ANNOTATIONS_PER_LEVEL.saturating_sub(out.len()));
    let chosen: Vec<usize> = errors.chain(warnings).copied().collect();
    out.extend(
        chosen
            .iter()
            .map(|i| log_annotation(&findings.get(*i), threshold)),
    );
    if let Some(notice) =
        not_annotated_notice(findings.len(), chosen.len(), candidates.len(), change)
    {
        out.push(notice);
    }
    out
}

/// Findings worth a log annotation, most severe first: not accepted and, with a change, on
/// its changed lines.
fn log_candidates(findings: &Findings, change: Option<&ChangedLines>) -> Vec<usize> {
    let Some(change) = change else {
        return findings.most_severe(|i| !findings.is_accepted(i));
    };
    located_on(findings, Some(change), |f| f.accepted.is_none())
}

/// Indexes of the located findings `keep` admits whose lines intersect `change` (every located
/// one without a change), most severe first, earlier first among equals.
fn located_on(
    findings: &Findings,
    change: Option<&ChangedLines>,
    keep: impl Fn(&Finding) -> bool,
) -> Vec<usize> {
    let mut chosen: Vec<usize> = findings
        .iter()
        .enumerate()
        .filter(|(_, f)| keep(f))
        .filter(|(_, f)| {
            located(f).is_some_and(|(path, start, end)| {
                change.is_none_or(|c| c.touches(path, start, end))
            })
        })
        .map(|(index, _)| index)
        .collect();
    chosen.sort_by_key(|i| std::cmp::Reverse(findings.severity(*i)));
    chosen
}

fn log_annotation(f: &Finding, threshold: Severity) -> LogAnnotation {
    let level = if f.severity >= threshold {
        Level::Error
    } else {
        Level::Warning
    };
    let end_line = f.region.and_then(|r| r.end_line).map(|l| l as usize);
    LogAnnotation {
        level,
        at: Annotation {
            title: Some(format!("{} {} ({})", f.severity, f.rule, f.tool)),
            file: f.path.as_ref().map(|p| p.to_string()),
            line: f.start_line().map(|l| l as usize),
            end_line: end_line.filter(|_| f.path.is_some()),
            ..Annotation::default()
        },
        message: f.message.to_string(),
    }
}

fn not_annotated_notice(
    total: usize,
    shown: usize,
    candidates: usize,
    change: Option<&Change>,
) -> Option<LogAnnotation> {
    if shown == total {
        return None;
    }
    let which = match change {
        Some(change) => format!(
            ": those on changed lines of {} ({candidates}, accepted ones left out), the most severe first",
            change.what
        ),
        None => String::from(", the most severe first"),
    };
    let message = format!(
        "{shown} of {total} findings annotated here{which}; GitHub keeps {LOG_ANNOTATIONS_PER_LEVEL} annotations per level and step. Every finding is in the SARIF and the job summary."
    );
    Some(LogAnnotation {
        level: Level::Notice,
        at: Annotation::titled("More findings than annotations"),
        message,
    })
}

/// One paragraph on where the annotations are, for the check run's summary.
pub fn placement(annotated: &Annotated, change: Option<&Change>) -> String {
    let shown = annotated.annotations.len();
    let cap = if annotated.on_changed_lines > shown {
        format!(" (the {shown} most severe are annotated)")
    } else {
        String::new()
    };
    let Some(change) = change else {
        return format!(
            "Annotations: the {shown} most severe located findings; with a pull request or a push to compare, only those on its changed lines are annotated."
        );
    };
    let mut text = format!(
        "{} on changed lines of {}{cap}; {} elsewhere are in the SARIF and the summary.",
        annotated.on_changed_lines, change.what, annotated.elsewhere
    );
    if let Some(caveat) = change.lines.caveat() {
        text.push(' ');
        text.push_str(&caveat);
    }
    text
}

/// The check run, completed, with the job summary as its output.
pub fn check_run(
    outcome: &Outcome,
    sha: &str,
    threshold: Severity,
    change: Option<&Change>,
) -> NewCheckRun {
    let conclusion = if outcome.verdict.passed {
        Conclusion::Success
    } else {
        Conclusion::Failure
    };
    let annotated = annotations(outcome.findings, threshold, change.map(|c| c.lines));
    let title = match change {
        Some(_) => format!(
            "{} · {} on changed lines",
            outcome.verdict.reason, annotated.on_changed_lines
        ),
        None => outcome.verdict.reason.clone(),
    };
    let summary = format!(
        "{}\n\n{}",
        placement(&annotated, change),
        render::summary(outcome).as_markdown()
    );
    let output = CheckOutput::within_limits(&title, &summary, annotated.annotations);
    NewCheckRun::completed("deploy-tcb security-scan", sha, conclusion, output)
}

/// This action's section of the sticky PR comment: the verdict and the counts.
pub fn comment_section(outcome: &Outcome) -> String {
    let mark = if outcome.verdict.passed { "✅" } else { "❌" };
    let counts: Vec<String> = render::by_severity(outcome.findings)
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    let counts = if counts.is_empty() {
        String::from("no findings")
    } else {
        counts.join(", ")
    };
    format!(
        "### Security scan\n\n{mark} {}\n\n{} unique findings ({counts}) from {} reported; {} scanner error(s).\n",
        outcome.verdict.reason,
        outcome.findings.len(),
        outcome.raw,
        outcome.issues.len()
    )
}

/// The lines this run's pull request or push changed, and what to call the change. `None`
/// when there is nothing to compare (said on the log) or GitHub cannot tell (a warning): the
/// annotations then go on the most severe findings anywhere.
pub async fn changed_lines(
    client: &Client,
    context: &RunContext,
) -> Option<(ChangedLines, &'static str)> {
    let Some(range) = context.change_range() else {
        println!(
            "No pull request or push to compare against: the annotations are the most severe findings anywhere"
        );
        return None;
    };
    let (what, base, head) = (range.what(), range.base, range.head);
    match client.compare(base, head).await {
        Ok(comparison) => Some((ChangedLines::from_files(&comparison.files), what)),
        Err(e) => {
            annotate(
                Level::Warning,
                &Annotation::titled("Annotations not limited to changed lines"),
                &format!(
                    "cannot read the changes of {what} ({base}...{head}): {e}; the annotations are the most severe findings anywhere instead"
                ),
            );
            None
        }
    }
}

/// Sends everything; returns what failed, as warnings already shown.
pub async fn report(
    client: &Client,
    context: &RunContext,
    outcome: &Outcome<'_>,
    sarif: Option<Vec<u8>>,
    threshold: Severity,
    change: Option<&Change<'_>>,
) -> usize {
    let mut failures = 0;
    let sha = context
        .pull_request_head_sha
        .clone()
        .or_else(|| context.sha.clone());
    match &sha {
        Some(sha) => {
            if let Err(e) = client
                .create_check_run(&check_run(outcome, sha, threshold, change))
                .await
            {
                e.warn("creating the security-scan check run");
                failures += 1;
            }
        }
        None => {
            annotate(
                Level::Warning,
                &Annotation::titled("No check run"),
                "GITHUB_SHA is not set, so there is no commit to attach a check run to",
            );
            failures += 1;
        }
    }
    if let Some((number, sticky)) = context.sticky_comment()
        && let Err(e) = client
            .upsert_sticky_section(number, &sticky, SECTION, &comment_section(outcome))
            .await
    {
        e.warn("updating the pull request comment");
        failures += 1;
    }
    if let (Some(sarif), Some(sha), Some(git_ref)) =
        (sarif, context.sha.clone(), context.git_ref.clone())
    {
        let upload = SarifUpload {
            commit_sha: sha,
            git_ref,
            sarif,
            checkout_uri: None,
            tool_name: Some("deploy-tcb security-scan".into()),
            started_at: None,
        };
        match client.upload_sarif(&upload).await {
            Ok(receipt) => println!("SARIF uploaded to code scanning (id {})", receipt.id),
            Err(e) => {
                e.warn("uploading the SARIF to code scanning");
                failures += 1;
            }
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::diff::FileChange;
    use crate::scan::gate::Verdict;
    use crate::scan::model::{Interner, ScannerIssue};
    use crate::scan::parse::parse_bytes;
    use crate::scan::paths::RepoPaths;
    use crate::scan::render::sarif::Truncation;
    use serde_json::json;

    /// Findings as a scanner reports them: `(path, start, end, SARIF level)`.
    fn findings(located: &[(&str, u32, u32, &str)], unlocated: usize) -> Findings {
        let mut results: Vec<_> = located
            .iter()
            .enumerate()
            .map(|(i, (path, start, end, level))| {
                json!({"ruleId": format!("r{i}"), "level": level, "message": {"text": format!("finding {i}")},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": path},
                        "region": {"startLine": start, "endLine": end}}}]})
            })
            .collect();
        results.extend((0..unlocated).map(|i| {
            json!({"ruleId": format!("u{i}"), "level": "error", "message": {"text": "no location"}})
        }));
        let sarif = json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "semgrep"}}, "results": results}]});
        let parsed = parse_bytes(
            "test.sarif",
            sarif.to_string().as_bytes(),
            Some("sarif"),
            &RepoPaths::new(std::path::Path::new("/repo")),
            &mut Interner::default(),
        )
        .unwrap();
        parsed.findings.into_iter().collect()
    }

    fn changed(files: &[(&str, &[u32])]) -> ChangedLines {
        ChangedLines::new(
            files
                .iter()
                .map(|(path, lines)| (path.to_string(), FileChange::Lines(lines.to_vec()))),
            false,
        )
    }

    fn lines(annotated: &Annotated) -> Vec<(String, u32, u32)> {
        annotated
            .annotations
            .iter()
            .map(|a| (a.path.clone(), a.start_line, a.end_line))
            .collect()
    }

    #[test]
    fn with_a_change_only_findings_on_changed_lines_are_annotated_most_severe_first() {
        let all = findings(
            &[
                ("app.py", 3, 3, "note"),
                ("app.py", 8, 12, "error"),
                ("app.py", 20, 20, "error"),
                ("lib.py", 1, 1, "error"),
                ("web.py", 5, 5, "warning"),
            ],
            2,
        );
        let change = changed(&[("app.py", &[3, 10]), ("web.py", &[5])]);
        let annotated = annotations(&all, Severity::High, Some(&change));
        assert_eq!(
            lines(&annotated),
            vec![
                ("app.py".into(), 8, 12),
                ("web.py".into(), 5, 5),
                ("app.py".into(), 3, 3)
            ]
        );
        assert_eq!((annotated.on_changed_lines, annotated.elsewhere), (3, 4));
        let levels: Vec<AnnotationLevel> = annotated
            .annotations
            .iter()
            .map(|a| a.annotation_level)
            .collect();
        use AnnotationLevel::*;
        assert_eq!(levels, vec![Failure, Warning, Notice]);
    }

    fn outcome<'a>(
        findings: &'a Findings,
        issues: &'a [ScannerIssue],
        verdict: &'a Verdict,
        truncation: Option<&'a Truncation>,
    ) -> Outcome<'a> {
        Outcome {
            findings,
            raw: findings.len(),
            issues,
            verdict,
            baseline: None,
            truncation,
        }
    }

    fn kinds(annotations: &[LogAnnotation]) -> Vec<(Level, String)> {
        annotations
            .iter()
            .map(|a| {
                let at = match (&a.at.file, a.at.line) {
                    (Some(file), Some(line)) => format!("{file}:{line}"),
                    _ => a.at.title.clone().unwrap_or_default(),
                };
                (a.level, at)
            })
            .collect()
    }

    #[test]
    fn the_log_spends_its_ten_annotations_per_level_on_what_matters_most() {
        let mut located: Vec<(&str, u32, u32, &str)> =
            (1..=12).map(|l| ("low.py", l, l, "warning")).collect();
        located.extend((1..=15).map(|l| ("high.py", l, l, "error")));
        let all = findings(&located, 0);
        let issue = |tool: &str| ScannerIssue {
            tool: tool.into(),
            file: format!("{tool}.json"),
            message: "errors[] not empty".into(),
        };
        let issues = [issue("semgrep"), issue("bandit"), issue("trivy")];
        let verdict = Verdict {
            passed: false,
            reason: "failed".into(),
        };
        let cut = Truncation {
            note: Some("GitHub limits: kept the 25000 most severe".into()),
            ..Truncation::default()
        };
        let logged = log_annotations(
            &outcome(&all, &issues, &verdict, Some(&cut)),
            Severity::High,
            None,
        );
        let kinds = kinds(&logged);
        let count = |level| kinds.iter().filter(|(l, _)| *l == level).count();
        assert_eq!(
            (
                count(Level::Error),
                count(Level::Warning),
                count(Level::Notice)
            ),
            (10, 10, 1)
        );
        assert_eq!(
            kinds[0],
            (Level::Warning, "SARIF cut to GitHub's limits".into())
        );
        assert_eq!(
            kinds[1],
            (Level::Warning, "semgrep did not scan completely".into())
        );
        assert_eq!(
            kinds[4],
            (Level::Error, "high.py:1".into()),
            "errors most severe, in order"
        );
        assert_eq!(
            kinds[14],
            (Level::Warning, "low.py:1".into()),
            "then six findings below the threshold"
        );
        assert_eq!(kinds[19], (Level::Warning, "low.py:6".into()));
        assert!(
            logged[20]
                .message
                .starts_with("16 of 27 findings annotated here, the most severe first"),
            "{}",
            logged[20].message
        );
    }

    #[test]
    fn with_a_change_the_log_annotates_only_unaccepted_findings_on_changed_lines() {
        let mut all = findings(
            &[
                ("app.py", 3, 3, "error"),
                ("app.py", 20, 20, "error"),
                ("web.py", 5, 7, "warning"),
            ],
            1,
        );
        all.accept(0, "reviewed".into());
        let change = changed(&[("app.py", &[3]), ("web.py", &[6])]);
        let verdict = Verdict {
            passed: true,
            reason: "passed".into(),
        };
        let change = Change {
            lines: &change,
            what: "this pull request",
        };
        let logged = log_annotations(
            &outcome(&all, &[], &verdict, None),
            Severity::High,
            Some(&change),
        );
        assert_eq!(
            kinds(&logged),
            vec![
                (Level::Warning, "web.py:5".into()),
                (Level::Notice, "More findings than annotations".into())
            ]
        );
        assert_eq!(logged[0].at.end_line, Some(7));
        assert!(logged[1].message.starts_with("1 of 4 findings annotated here: those on changed lines of this pull request (1, accepted ones left out)"), "{}", logged[1].message);
        let all_shown = findings(&[("web.py", 6, 6, "warning")], 0);
        let logged = log_annotations(
            &outcome(&all_shown, &[], &verdict, None),
            Severity::High,
            Some(&change),
        );
        assert_eq!(logged.len(), 1, "no notice when every finding is annotated");
    }

    #[test]
    fn without_a_change_every_located_finding_is_a_candidate() {
        let all = findings(&[("a.py", 1, 1, "note"), ("b.py", 2, 2, "error")], 1);
        let annotated = annotations(&all, Severity::High, None);
        assert_eq!(
            lines(&annotated),
            vec![("b.py".into(), 2, 2), ("a.py".into(), 1, 1)]
        );
        assert_eq!((annotated.on_changed_lines, annotated.elsewhere), (2, 0));
        assert!(placement(&annotated, None).contains("the 2 most severe"));
    }

    #[test]
    fn at_most_500_annotations_and_the_summary_says_so() {
        let many: Vec<(&str, u32, u32, &str)> =
            (1..=600).map(|l| ("big.py", l, l, "warning")).collect();
        let all = findings(&many, 0);
        let every_line: Vec<u32> = (1..=600).collect();
        let change = changed(&[("big.py", &every_line)]);
        let annotated = annotations(&all, Severity::High, Some(&change));
        assert_eq!(annotated.annotations.len(), MAX_ANNOTATIONS);
        assert_eq!(annotated.on_changed_lines, 600);
        let text = placement(
            &annotated,
            Some(&Change {
                lines: &change,
                what: "this push",
            }),
        );
        assert!(
            text.starts_with(
                "600 on changed lines of this push (the 500 most severe are annotated); 0 elsewhere"
            ),
            "{text}"
        );
    }

    #[test]
    fn files_github_could_not_diff_count_as_changed_and_the_summary_says_why() {
        let all = findings(&[("logo.svg", 40, 40, "error"), ("a.py", 1, 1, "error")], 0);
        let change = ChangedLines::new([("logo.svg".to_string(), FileChange::Whole)], false);
        let annotated = annotations(&all, Severity::High, Some(&change));
        assert_eq!(lines(&annotated), vec![("logo.svg".into(), 40, 40)]);
        let text = placement(
            &annotated,
            Some(&Change {
                lines: &change,
                what: "this pull request",
            }),
        );
        assert!(
            text.contains("1 on changed lines of this pull request; 1 elsewhere"),
            "{text}"
        );
        assert!(text.contains("no readable diff for `logo.svg`"), "{text}");
    }
}
