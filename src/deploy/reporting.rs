//! Reporting a deploy to GitHub (a Deployment with statuses, a check run, this action's section
//! of the sticky PR comment) and to chat. All of it is best effort: a failed report is a
//! warning, never a failed deploy.
//!
//! The check run opens when the deploy starts. The Deployment is created (`in_progress`) as
//! soon as the release task names the new version, because a Deployment's payload cannot
//! change after creation and CloudBase names the version only once the release is submitted;
//! a deploy that ends without one (unchanged, or stopped before the release) records it at the
//! end. Its payload carries `version_name`, which rollback reads as "the last verified version".

use std::sync::Mutex;

use serde_json::json;

use super::flow::Watcher;
use super::progress::TaskView;
use super::report::{Outcome, Report};
use super::request::DeployRequest;
use crate::cli::{GithubArgs, NotifyArgs};
use crate::error::Result;
use crate::github::{
    CheckOutput, CheckRunUpdate, Client, Conclusion, DeploymentState, NewCheckRun, NewDeployment,
    NewDeploymentStatus, RunContext,
};
use crate::notify::{Notification, Notifier, Status};

/// GitHub reporting for one deploy; `None` fields are what could not be started.
pub struct GithubReport {
    client: Client,
    context: RunContext,
    environment: String,
    sha: Option<String>,
    check_run: Option<u64>,
    /// The Deployment, once created.
    deployment: Mutex<Option<u64>>,
    /// What the Deployment payload says about the request.
    request: DeployRequest,
}

/// The GitHub Deployment environment: the named environment, else `<env_id>/<service>`.
pub fn deployment_environment(request: &DeployRequest) -> String {
    request
        .environment
        .clone()
        .unwrap_or_else(|| format!("{}/{}", request.env_id, request.service))
}

impl GithubReport {
    /// Starts reporting when a token is given and the run context is readable.
    pub async fn start(args: &GithubArgs, request: &DeployRequest) -> Option<Self> {
        let (client, context) = crate::github::connect(args)?;
        let sha = context.head_sha().map(str::to_string);
        let mut report = GithubReport {
            client,
            environment: deployment_environment(request),
            context,
            sha,
            check_run: None,
            deployment: Mutex::new(None),
            request: request.clone(),
        };
        report.open().await;
        Some(report)
    }

    async fn open(&mut self) {
        let Some(sha) = self.sha.clone() else {
            tracing::warn!("GITHUB_SHA is not set: no GitHub Deployment or check run");
            return;
        };
        let mut run =
            NewCheckRun::started(&format!("deploy-tcb deploy ({})", self.environment), &sha);
        run.details_url = self.context.run_url();
        match self.client.create_check_run(&run).await {
            Ok(created) => self.check_run = Some(created.id),
            Err(error) => error.warn("creating the check run"),
        }
    }

    /// Creates the Deployment and sets it `in_progress`; a refusal is a warning.
    async fn open_deployment(&self, payload: serde_json::Value) -> Option<u64> {
        let sha = self.sha.as_ref()?;
        let mut deployment = NewDeployment::new(sha, &self.environment, payload);
        deployment.description = Some(format!(
            "{} to {}",
            self.request.image, self.request.service
        ));
        let created = match self.client.create_deployment(&deployment).await {
            Ok(created) => created,
            Err(error) => {
                error.warn("creating the GitHub Deployment");
                return None;
            }
        };
        let mut started = NewDeploymentStatus::new(DeploymentState::InProgress);
        started.log_url = self.context.run_url();
        if let Err(error) = self
            .client
            .create_deployment_status(created.id, &started)
            .await
        {
            error.warn("setting the Deployment in progress");
        }
        Some(created.id)
    }

    /// The final status, on the Deployment opened during the release or on one created now
    /// with `payload`.
    async fn close_deployment(&self, payload: serde_json::Value, last: NewDeploymentStatus) {
        let opened = *self.deployment.lock().unwrap_or_else(|e| e.into_inner());
        let id = match opened {
            Some(id) => id,
            None => match self.open_deployment(payload).await {
                Some(id) => id,
                None => return,
            },
        };
        if let Err(error) = self.client.create_deployment_status(id, &last).await {
            error.warn("setting the Deployment status");
        }
    }

    /// Final Deployment status, check run conclusion and the sticky comment section.
    pub async fn finish(&self, report: &Report) {
        if report.outcome != Outcome::Planned {
            let state = match report.outcome {
                Outcome::Failed => DeploymentState::Failure,
                _ => DeploymentState::Success,
            };
            let mut status = NewDeploymentStatus::new(state);
            status.environment_url = report.url.clone();
            status.log_url = self.context.run_url();
            status.description = Some(status_description(report));
            self.close_deployment(deployment_payload(report), status)
                .await;
        }
        if let Some(id) = self.check_run {
            let conclusion = match report.outcome {
                Outcome::Failed => Conclusion::Failure,
                Outcome::Planned => Conclusion::Neutral,
                _ => Conclusion::Success,
            };
            let output = CheckOutput {
                title: status_description(report),
                summary: report.summary().as_markdown().to_string(),
                text: None,
                annotations: Vec::new(),
            };
            if let Err(error) = self
                .client
                .update_check_run(id, &CheckRunUpdate::completed(conclusion, output))
                .await
            {
                error.warn("completing the check run");
            }
        }
        self.comment(report).await;
    }

    /// The deploy stopped before it had a report (a network failure, refused credentials).
    pub async fn abort(&self, request: &DeployRequest, reason: &str) {
        let description = format!("deploy did not run to the end: {reason}");
        if !request.dry_run {
            let mut status = NewDeploymentStatus::new(DeploymentState::Error);
            status.log_url = self.context.run_url();
            status.description = Some(crate::runner::mask::redact(&description));
            self.close_deployment(request_payload(request, None), status)
                .await;
        }
        if let Some(id) = self.check_run {
            let output = CheckOutput {
                title: "deploy did not run to the end".into(),
                summary: crate::runner::mask::redact(&description),
                text: None,
                annotations: Vec::new(),
            };
            let update = CheckRunUpdate::completed(Conclusion::Failure, output);
            if let Err(error) = self.client.update_check_run(id, &update).await {
                error.warn("completing the check run");
            }
        }
    }

    async fn comment(&self, report: &Report) {
        let Some((number, sticky)) = self.context.sticky_comment() else {
            return;
        };
        let section = format!(
            "deploy/{}",
            crate::github::section_id_for(&self.environment)
        );
        if let Err(error) = self
            .client
            .upsert_sticky_section(number, &sticky, &section, &report.comment_section())
            .await
        {
            error.warn("writing the PR comment");
        }
    }
}

impl Watcher for GithubReport {
    /// Opens the Deployment as soon as the release names its version (not for a dry run,
    /// which has no release).
    async fn release_started(&self, task: &TaskView) {
        if self.request.dry_run || self.deployment_opened() {
            return;
        }
        let id = self
            .open_deployment(request_payload(&self.request, Some(task)))
            .await;
        *self.deployment.lock().unwrap_or_else(|e| e.into_inner()) = id;
    }
}

impl GithubReport {
    fn deployment_opened(&self) -> bool {
        self.deployment
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}

/// The payload of a Deployment opened during the release: the version the task releases.
fn request_payload(request: &DeployRequest, task: Option<&TaskView>) -> serde_json::Value {
    let text = |value: &str| (!value.is_empty()).then(|| value.to_string());
    json!({
        "action": "deploy",
        "env_id": request.env_id,
        "service": request.service,
        "image": request.image,
        "release_type": request.release.api_name(),
        "version_name": task.and_then(|t| text(&t.version_name)),
        "previous_version": task.and_then(|t| text(&t.pre_version_name)),
    })
}

/// What rollback reads back: the version this deploy left serving (`version_name`), the one it
/// replaced, and the release type (a gray release is not verified at 100%).
pub fn deployment_payload(report: &Report) -> serde_json::Value {
    json!({
        "action": "deploy",
        "env_id": report.env_id,
        "service": report.service,
        "image": report.image,
        "release_type": if report.traffic.is_some() { "GRAY" } else { "FULL" },
        "version_name": report.version_name,
        "previous_version": report.previous_version,
        "result": report.outcome.as_str(),
    })
}

/// One line for a Deployment status or a check run title.
pub fn status_description(report: &Report) -> String {
    let version = report.version_name.as_deref().unwrap_or("?");
    match report.outcome {
        Outcome::Deployed => format!("version {version} of {} serving", report.service),
        Outcome::Gray => format!(
            "version {version} of {} serving {}% (gray)",
            report.service,
            report.traffic.unwrap_or(0)
        ),
        Outcome::Unchanged => format!("{} unchanged at {version}", report.service),
        Outcome::Planned => format!("plan for {} (dry run)", report.service),
        Outcome::Failed => {
            let reason = report
                .failure
                .as_ref()
                .map(|f| f.reason.as_str())
                .unwrap_or("failed");
            format!("deploy of {} failed: {reason}", report.service)
        }
    }
}

/// Sends the chat notification; webhook failures are warnings.
pub async fn notify(args: &NotifyArgs, report: &Report) -> Result<()> {
    let notifier = Notifier::from_args(args)?;
    if notifier.is_empty() || report.outcome == Outcome::Planned {
        return Ok(());
    }
    let status = match report.outcome {
        Outcome::Failed => Status::Failed,
        _ => Status::Succeeded,
    };
    let mut notification = Notification::new(&format!("deploy {}", report.service), status);
    notification.environment = report.environment.clone().or(Some(report.env_id.clone()));
    notification.version = report.version_name.clone();
    notification.url = report.url.clone();
    notification.details = vec![
        ("image".into(), report.image.clone()),
        ("result".into(), report.outcome.as_str().into()),
    ];
    if let Some(failure) = &report.failure {
        notification
            .details
            .push(("reason".into(), failure.reason.clone()));
    }
    notifier.send_and_warn(&notification).await;
    Ok(())
}
