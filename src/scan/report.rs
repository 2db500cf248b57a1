//! Reporting to GitHub when a token is given: a check run whose annotations point at the
//! findings' lines (the client sends them 50 per request), this action's section of the run's
//! sticky PR comment, and, with `upload`, the SARIF to code scanning. Reporting is best effort:
//! a failure is a warning, never the verdict.

use chrono::Utc;

use super::model::{Finding, Severity};
use super::render::{self, Outcome};
use crate::github::{
    AnnotationLevel, CheckAnnotation, CheckOutput, CheckStatus, Client, Conclusion, NewCheckRun,
    RunContext, SarifUpload, StickyComment,
};

/// GitHub keeps at most this many annotations of a check run worth reading.
const MAX_ANNOTATIONS: usize = 500;
/// The check run output's summary limit is 65,535 characters.
const SUMMARY_LIMIT: usize = 60_000;
/// This action's section id in the sticky comment.
pub const SECTION: &str = "security-scan";

fn cut(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((end, _)) => format!("{}\n\n…", &text[..end]),
        None => text.to_string(),
    }
}

/// Annotations for the located findings, most severe first.
pub fn annotations(findings: &[Finding], threshold: Severity) -> Vec<CheckAnnotation> {
    let mut located: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.path.is_some() && f.start_line().is_some())
        .collect();
    located.sort_by_key(|f| std::cmp::Reverse(f.severity));
    located
        .into_iter()
        .take(MAX_ANNOTATIONS)
        .map(|f| {
            let level = if f.accepted.is_some() || f.severity < Severity::Medium {
                AnnotationLevel::Notice
            } else if f.severity >= threshold {
                AnnotationLevel::Failure
            } else {
                AnnotationLevel::Warning
            };
            let path = f.path.as_deref().unwrap_or_default();
            let mut a = CheckAnnotation::new(path, f.start_line().unwrap_or(1), level, &f.message);
            a.end_line = f.region.and_then(|r| r.end_line).unwrap_or(a.start_line);
            a.title = Some(format!("{} {} ({})", f.severity, f.rule, f.tool));
            a
        })
        .collect()
}

/// The check run, completed, with the job summary as its output.
pub fn check_run(outcome: &Outcome, sha: &str, threshold: Severity) -> NewCheckRun {
    let conclusion = if outcome.verdict.passed {
        Conclusion::Success
    } else {
        Conclusion::Failure
    };
    let mut run = NewCheckRun::started("deploy-tcb security-scan", sha);
    run.status = CheckStatus::Completed;
    run.conclusion = Some(conclusion);
    run.completed_at = Some(Utc::now());
    run.output = Some(CheckOutput {
        title: cut(&outcome.verdict.reason, 200),
        summary: cut(render::summary(outcome).as_markdown(), SUMMARY_LIMIT),
        text: None,
        annotations: annotations(outcome.findings, threshold),
    });
    run
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

/// Sends everything; returns what failed, as warnings already shown.
pub async fn report(
    client: &Client,
    context: &RunContext,
    outcome: &Outcome<'_>,
    sarif: Option<Vec<u8>>,
    threshold: Severity,
) -> usize {
    let mut failures = 0;
    let sha = context
        .pull_request_head_sha
        .clone()
        .or_else(|| context.sha.clone());
    match &sha {
        Some(sha) => {
            if let Err(e) = client
                .create_check_run(&check_run(outcome, sha, threshold))
                .await
            {
                e.warn("creating the security-scan check run");
                failures += 1;
            }
        }
        None => {
            crate::runner::command::annotate(
                crate::runner::Level::Warning,
                &crate::runner::Annotation::titled("No check run"),
                "GITHUB_SHA is not set, so there is no commit to attach a check run to",
            );
            failures += 1;
        }
    }
    if let Some(number) = context.pull_request {
        let sticky = StickyComment::new(context.run_id.unwrap_or(0), "deploy-tcb");
        if let Err(e) = client
            .upsert_sticky_section(number, &sticky, SECTION, &comment_section(outcome))
            .await
        {
            e.warn("updating the pull request comment");
            failures += 1;
        }
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
