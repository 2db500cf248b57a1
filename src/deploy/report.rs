//! What a deploy reports: the step outputs, the job summary and the lines of the PR comment.

use std::time::Duration;

use super::plan::Plan;
use crate::runner::{Outputs, Summary};

/// The `result` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Deployed,
    Gray,
    Unchanged,
    Failed,
    /// A dry run: the plan only.
    Planned,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Deployed => "deployed",
            Outcome::Gray => "gray",
            Outcome::Unchanged => "unchanged",
            Outcome::Failed => "failed",
            Outcome::Planned => "planned",
        }
    }

    fn headline(self) -> &'static str {
        match self {
            Outcome::Deployed => "✅ Deployed",
            Outcome::Gray => "🐤 Gray release deployed",
            Outcome::Unchanged => "⏸️ Unchanged",
            Outcome::Failed => "❌ Deploy failed",
            Outcome::Planned => "📝 Plan (dry run)",
        }
    }
}

/// Why a deploy failed, with what the cloud said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failure {
    pub step: Option<String>,
    pub reason: String,
    /// The last lines of DescribeCloudRunProcessLog.
    pub log_tail: Vec<String>,
}

/// Everything a finished (or failed) deploy has to say.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub environment: Option<String>,
    pub env_id: String,
    pub service: String,
    pub image: String,
    pub plan: Plan,
    pub outcome: Outcome,
    pub version_name: Option<String>,
    pub previous_version: Option<String>,
    pub url: Option<String>,
    pub task_id: Option<i64>,
    pub traffic: Option<u8>,
    pub timings: Vec<(String, Duration)>,
    pub failure: Option<Failure>,
    pub health: Option<String>,
}

impl Report {
    /// Sets the step outputs.
    pub fn write_outputs(&self, outputs: &mut Outputs) -> anyhow::Result<()> {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        outputs.set("version_name", text(&self.version_name))?;
        outputs.set("previous_version", text(&self.previous_version))?;
        outputs.set("url", text(&self.url))?;
        outputs.set(
            "task_id",
            self.task_id.map(|t| t.to_string()).unwrap_or_default(),
        )?;
        outputs.set("plan", self.plan.to_json())?;
        outputs.set("result", self.outcome.as_str())?;
        Ok(())
    }

    /// The job summary: what was deployed where, the plan diff and the step timings.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::new();
        summary.heading(
            2,
            &format!("{} — {}", self.outcome.headline(), self.service),
        );
        summary.table(&["", ""], &self.facts());
        if let Some(failure) = &self.failure {
            let step = failure
                .step
                .as_deref()
                .map(|s| format!(" at step `{s}`"))
                .unwrap_or_default();
            summary.paragraph(&format!("**Failed{step}:** {}", failure.reason));
            if !failure.log_tail.is_empty() {
                summary.paragraph("Last lines of the process log:");
                summary.code_block("text", &failure.log_tail.join("\n"));
            }
            match (&self.previous_version, failure.step.as_deref()) {
                (Some(previous), Some("health check")) => summary.paragraph(&format!(
                    "The new version serves but fails its health check; return to `{previous}` with the rollback action."
                )),
                (Some(previous), _) => {
                    summary.paragraph(&format!("The previous version `{previous}` keeps serving."))
                }
                (None, _) => &mut summary,
            };
        }
        summary.heading(3, "Plan");
        summary.code_block("diff", &diff_for_markdown(&self.plan.render_diff()));
        if !self.timings.is_empty() {
            summary.heading(3, "Steps");
            let rows: Vec<Vec<String>> = self
                .timings
                .iter()
                .map(|(name, took)| vec![name.clone(), format!("{:.1} s", took.as_secs_f64())])
                .collect();
            summary.table(&["step", "took"], &rows);
        }
        summary
    }

    fn facts(&self) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = |k: &str, v: String| rows.push(vec![format!("**{k}**"), v]);
        if let Some(environment) = &self.environment {
            row("environment", environment.clone());
        }
        row("CloudBase env", format!("`{}`", self.env_id));
        row("service", format!("`{}`", self.service));
        row("image", format!("`{}`", self.image));
        if let Some(version) = &self.version_name {
            row("version", format!("`{version}`"));
        }
        if let Some(previous) = &self.previous_version {
            row("previous version", format!("`{previous}`"));
        }
        if let Some(traffic) = self.traffic {
            row(
                "gray traffic",
                format!("{traffic}% (promote with canary-promote)"),
            );
        }
        if let Some(url) = &self.url {
            row("URL", url.clone());
        }
        if let Some(health) = &self.health {
            row("health check", health.clone());
        }
        if let Some(task) = self.task_id {
            row("task", task.to_string());
        }
        rows
    }

    /// This action's section of the sticky PR comment (markdown).
    pub fn comment_section(&self) -> String {
        let mut text = format!("### {} `{}`\n\n", self.outcome.headline(), self.service);
        for fact in self.facts() {
            text.push_str(&format!("- {}: {}\n", fact[0], fact[1]));
        }
        if let Some(failure) = &self.failure {
            text.push_str(&format!("\n**Reason:** {}\n", failure.reason));
        }
        text.push_str(&format!(
            "\n<details><summary>Plan</summary>\n\n```diff\n{}```\n</details>\n",
            diff_for_markdown(&self.plan.render_diff())
        ));
        text
    }
}

/// The plan's lines start with two spaces; a diff block colours them by their first character.
fn diff_for_markdown(diff: &str) -> String {
    diff.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            match trimmed.chars().next() {
                Some('+' | '-') => format!("{trimmed}\n"),
                Some('~') => format!("!{}\n", &trimmed[1..]),
                _ => format!("{line}\n"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::plan::{Action, Change};

    fn report(outcome: Outcome) -> Report {
        Report {
            environment: Some("production".into()),
            env_id: "env-1".into(),
            service: "api".into(),
            image: "reg.io/a/api:2".into(),
            plan: Plan {
                action: Action::Update,
                env_id: "env-1".into(),
                service: "api".into(),
                release: "full",
                traffic: None,
                image: "reg.io/a/api:2".into(),
                current_version: Some("api-001".into()),
                changes: vec![Change {
                    field: "image".into(),
                    before: Some("reg.io/a/api:1".into()),
                    after: Some("reg.io/a/api:2".into()),
                }],
            },
            outcome,
            version_name: Some("api-002".into()),
            previous_version: Some("api-001".into()),
            url: Some("https://api.example".into()),
            task_id: Some(7),
            traffic: None,
            timings: vec![("apply".into(), Duration::from_millis(1500))],
            failure: None,
            health: None,
        }
    }

    #[test]
    fn summary_shows_facts_plan_and_timings() {
        let markdown = report(Outcome::Deployed)
            .summary()
            .as_markdown()
            .to_string();
        assert!(markdown.starts_with("## ✅ Deployed — api"));
        assert!(markdown.contains("| **version** | `api-002` |"));
        assert!(markdown.contains("! image: reg.io/a/api:1 -> reg.io/a/api:2"));
        assert!(markdown.contains("| apply | 1.5 s |"));
    }

    #[test]
    fn failures_show_the_step_reason_and_log() {
        let mut failed = report(Outcome::Failed);
        failed.failure = Some(Failure {
            step: Some("deploy_instance".into()),
            reason: "readiness probe failed".into(),
            log_tail: vec!["boot".into(), "crash".into()],
        });
        let markdown = failed.summary().as_markdown().to_string();
        assert!(markdown.contains("**Failed at step `deploy_instance`:** readiness probe failed"));
        assert!(markdown.contains("```text\nboot\ncrash\n```"));
        assert!(markdown.contains("`api-001` keeps serving"));
        assert!(
            failed
                .comment_section()
                .contains("**Reason:** readiness probe failed")
        );
    }
}
