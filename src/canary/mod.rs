//! Metric-gated canary promotion: `deploy-tcb canary-promote`.
//!
//! The judgement is pure (`decision`: analysis + budgets → promote / hold / roll back /
//! inconclusive); `request` validates the inputs and builds the PromQL; `prometheus` reads the
//! HTTP API's answers; `cloud` holds the gray-release calls (shared with rollback); `flow`
//! orders the steps; `report` turns the run into outputs, a summary and a comment section.

pub mod cloud;
pub mod decision;
pub mod flow;
pub mod github;
pub mod prometheus;
pub mod report;
pub mod request;

use std::time::Duration;

use serde_json::json;

use crate::cli::CanaryPromoteArgs;
use crate::error::{Error, Result};
use crate::github::{Conclusion, DeploymentState};
use crate::notify::{Notification, Notifier, Status};
use crate::runner::Outputs;
use crate::runner::command::group;
use cloud::Gray;
use report::{CanaryReport, CanaryResult};
use request::CanaryRequest;

/// Runs `deploy-tcb canary-promote`.
pub fn run(args: CanaryPromoteArgs) -> Result<()> {
    let request = CanaryRequest::from_args(&args)?;
    let notifier = Notifier::from_args(&args.notify)?;
    let client = crate::deploy::cloud::client(&args.cloud, &request.region)?;
    crate::app::block_on(execute(&args, &request, Gray { client }, &notifier))
}

/// Runs the canary with an already built client, reports, and maps the result to the exit code.
pub async fn execute(
    args: &CanaryPromoteArgs,
    request: &CanaryRequest,
    gray: Gray,
    notifier: &Notifier,
) -> Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(anyhow::Error::from)?;
    let prometheus = match &request.prometheus_url {
        Some(url) => Some(prometheus::Prometheus::new(url, Duration::from_secs(10))?),
        None => None,
    };
    let target = flow::find_target(&gray, request).await?;
    let report = if request.dry_run {
        CanaryReport::new(request, &target)
    } else {
        let _group = group(&format!(
            "Canary {} of {}/{}",
            target.canary, request.env_id, request.service
        ));
        let tools = flow::Tools {
            gray: &gray,
            http: &http,
            prometheus: prometheus.as_ref(),
        };
        flow::run(&tools, request, &target).await?
    };
    publish(&report)?;
    if let Some((client, context)) = crate::github::connect(&args.github) {
        github::report(&client, &context, &github_record(&report)).await;
    }
    notify(notifier, &report).await;
    match report.result {
        CanaryResult::Planned | CanaryResult::Promoted => Ok(()),
        _ => Err(Error::Verdict(report.headline())),
    }
}

/// Outputs, the job summary, and the plan or the closing line in the log.
pub fn publish(report: &CanaryReport) -> Result<()> {
    let mut outputs = Outputs::new();
    report.write_outputs(&mut outputs)?;
    report.summary().write()?;
    if report.result == CanaryResult::Planned {
        let _group = group("Canary plan (dry run: nothing changes)");
        for line in &report.plan {
            tracing::info!("{line}");
        }
    }
    outputs.print_if_no_runner();
    tracing::info!("{}", report.headline());
    Ok(())
}

fn github_record(report: &CanaryReport) -> github::Record<'static> {
    let (state, conclusion) = match report.result {
        CanaryResult::Planned => (None, Conclusion::Neutral),
        CanaryResult::Promoted => (Some(DeploymentState::Success), Conclusion::Success),
        CanaryResult::RolledBack => (Some(DeploymentState::Failure), Conclusion::Failure),
        CanaryResult::Held => (Some(DeploymentState::Failure), Conclusion::Failure),
        CanaryResult::Inconclusive => (Some(DeploymentState::Error), Conclusion::Neutral),
    };
    github::Record {
        action: "canary-promote",
        environment: github::environment(&report.env_id, &report.service),
        payload: json!({
            "action": "canary-promote",
            "env_id": report.env_id,
            "service": report.service,
            "version": report.canary,
            "previous_version": report.stable,
            "result": report.result.as_str(),
            "traffic": report.final_traffic,
        }),
        description: report.headline(),
        state,
        url: report.url.clone(),
        conclusion,
        summary: report.summary().as_markdown().to_string(),
        comment: report.comment_section(),
    }
}

async fn notify(notifier: &Notifier, report: &CanaryReport) {
    if notifier.is_empty() || report.result == CanaryResult::Planned {
        return;
    }
    let status = match report.result {
        CanaryResult::Promoted => Status::Succeeded,
        CanaryResult::RolledBack => Status::RolledBack,
        CanaryResult::Held | CanaryResult::Inconclusive => Status::Warning,
        CanaryResult::Planned => Status::Started,
    };
    let mut notification = Notification::new(&format!("canary {}", report.service), status);
    notification.environment = Some(report.env_id.clone());
    notification.version = Some(report.canary.clone());
    notification.url = report.url.clone();
    notification.details = vec![
        ("result".into(), report.result.as_str().into()),
        ("stable".into(), report.stable.clone()),
        (
            "canary traffic".into(),
            format!("{}%", report.final_traffic),
        ),
    ];
    if let Some(reason) = &report.reason {
        notification.details.push(("reason".into(), reason.clone()));
    }
    notifier.send_and_warn(&notification).await;
}
