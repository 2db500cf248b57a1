//! What a canary run did, as outputs, a job summary with one row per check per analysis, and a
//! PR comment section. Pure.

use super::decision::{Analysis, Decision, REQUESTS_CHECK};
use super::flow::Target;
use super::request::{CanaryRequest, QueryScope, requests_query};
use crate::runner::{Outputs, Summary};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CanaryResult {
    Planned,
    Promoted,
    RolledBack,
    Held,
    Inconclusive,
}

impl CanaryResult {
    pub fn as_str(self) -> &'static str {
        match self {
            CanaryResult::Planned => "planned",
            CanaryResult::Promoted => "promoted",
            CanaryResult::RolledBack => "rolled_back",
            CanaryResult::Held => "held",
            CanaryResult::Inconclusive => "inconclusive",
        }
    }
}

/// One analysis of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    pub traffic: u8,
    pub attempt: u32,
    pub analysis: Analysis,
    pub decision: Decision,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CanaryReport {
    pub env_id: String,
    pub service: String,
    pub canary: String,
    pub stable: String,
    pub url: Option<String>,
    pub result: CanaryResult,
    pub final_traffic: u32,
    pub failed_check: Option<String>,
    pub reason: Option<String>,
    pub rolled_back: bool,
    pub steps: Vec<StepRecord>,
    /// The plan's lines (steps and resolved queries), shown for dry runs and in the summary.
    pub plan: Vec<String>,
}

impl CanaryReport {
    pub fn new(request: &CanaryRequest, target: &Target) -> Self {
        CanaryReport {
            env_id: request.env_id.clone(),
            service: request.service.clone(),
            canary: target.canary.clone(),
            stable: target.stable.clone(),
            url: target.url.clone(),
            result: CanaryResult::Planned,
            final_traffic: target.split.share_of(&target.canary),
            failed_check: None,
            reason: None,
            rolled_back: false,
            steps: Vec::new(),
            plan: plan_lines(request, target),
        }
    }

    pub fn write_outputs(&self, outputs: &mut Outputs) -> anyhow::Result<()> {
        outputs.set("result", self.result.as_str())?;
        outputs.set("final_traffic", self.final_traffic.to_string())?;
        outputs.set("failed_check", self.failed_check.as_deref().unwrap_or(""))?;
        Ok(())
    }

    /// One line: the Deployment status, the check run title, the log's last word.
    pub fn headline(&self) -> String {
        let who = format!("{} of {}", self.canary, self.service);
        match self.result {
            CanaryResult::Planned => format!("canary plan for {who} (dry run)"),
            CanaryResult::Promoted => format!("canary {who} promoted to 100%"),
            CanaryResult::RolledBack => format!(
                "canary {who} rolled back to {}: {}",
                self.stable,
                self.failed_check.as_deref().unwrap_or("failed")
            ),
            CanaryResult::Held => format!(
                "canary {who} held at {}%: {}",
                self.final_traffic,
                self.failed_check.as_deref().unwrap_or("failed")
            ),
            CanaryResult::Inconclusive => format!(
                "canary {who} inconclusive ({}){}",
                self.failed_check.as_deref().unwrap_or("?"),
                if self.rolled_back {
                    ", traffic back on the stable version"
                } else {
                    ""
                }
            ),
        }
    }

    pub fn summary(&self) -> Summary {
        let mut summary = Summary::new();
        summary.heading(2, &format!("Canary: {}", self.headline()));
        summary.paragraph(&format!(
            "Service `{}` in `{}`: canary `{}`, stable `{}`. Result **{}**, canary traffic {}%.",
            self.service,
            self.env_id,
            self.canary,
            self.stable,
            self.result.as_str(),
            self.final_traffic
        ));
        if let Some(reason) = &self.reason {
            summary.paragraph(&format!("Why: {reason}"));
        }
        if !self.steps.is_empty() {
            summary.table(
                &[
                    "Step",
                    "Check",
                    "Query",
                    "Value",
                    "Threshold",
                    "Verdict",
                    "Decision",
                ],
                &self.rows(),
            );
        }
        summary.code_block("text", &self.plan.join("\n"));
        summary
    }

    fn rows(&self) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        for step in &self.steps {
            let label = format!("{}% #{}", step.traffic, step.attempt);
            rows.push(vec![
                label.clone(),
                REQUESTS_CHECK.into(),
                "canary requests in the window".into(),
                step.analysis.canary_requests.to_string(),
                "≥ min_requests".into(),
                String::new(),
                step.decision.as_str().into(),
            ]);
            for m in &step.analysis.measurements {
                rows.push(vec![
                    label.clone(),
                    m.check.clone(),
                    format!("`{}`", m.query),
                    m.observation.to_string(),
                    m.threshold.to_string(),
                    m.verdict().as_str().into(),
                    String::new(),
                ]);
            }
        }
        rows
    }

    /// This action's section of the sticky PR comment.
    pub fn comment_section(&self) -> String {
        let mut text = format!(
            "**canary-promote** `{}`: {}\n",
            self.service,
            self.headline()
        );
        let analyses = self.steps.len();
        text.push_str(&format!(
            "\n{analyses} analyses; final canary traffic {}%.",
            self.final_traffic
        ));
        if let Some(reason) = &self.reason {
            text.push_str(&format!(" {reason}"));
        }
        text
    }
}

fn plan_lines(request: &CanaryRequest, target: &Target) -> Vec<String> {
    let steps: Vec<String> = request.steps.iter().map(|s| format!("{s}%")).collect();
    let mut lines = vec![
        format!(
            "canary {} (stable {}) of {}/{}; split now: {}",
            target.canary, target.stable, request.env_id, request.service, target.split
        ),
        format!(
            "steps {} every {:?}; then close the gray release at 100%",
            steps.join(" → "),
            request.interval
        ),
        format!(
            "budgets: {} failed, {} inconclusive analyses; min_requests {}; timeout {:?}; on failure {:?}",
            request.budgets.failures,
            request.budgets.inconclusive,
            request.budgets.min_requests,
            request.timeout,
            request.on_failure
        ),
        format!(
            "probe: GET {}{} (failed share ≤ {})",
            target.url.as_deref().unwrap_or("(no service URL)"),
            request.probe_path,
            request.max_error_rate
        ),
    ];
    if request.prometheus_url.is_some() {
        let scope = QueryScope {
            env: request.env_id.clone(),
            service: request.service.clone(),
            version: target.canary.clone(),
            stable: target.stable.clone(),
            window: request.window(),
        };
        lines.push(format!(
            "{REQUESTS_CHECK}: {} ≥ {}",
            scope.resolve(&requests_query("{{version}}")),
            request.budgets.min_requests
        ));
        for check in &request.checks {
            lines.push(format!(
                "{}: {} {}",
                check.name,
                scope.resolve(&check.template),
                check.threshold
            ));
        }
    }
    lines
}
