//! Reporting a deploy to GitHub (a Deployment with statuses, a check run, this action's section
//! of the sticky PR comment) and to chat. All of it is best effort: a failed report is a
//! warning, never a failed deploy.

use serde_json::json;

use super::report::{Outcome, Report};
use super::request::DeployRequest;
use crate::cli::{GithubArgs, NotifyArgs};
use crate::error::Result;
use crate::github::{
    CheckOutput, CheckRunUpdate, Client, Conclusion, DeploymentState, NewCheckRun, NewDeployment,
    NewDeploymentStatus, RunContext, StickyComment,
};
use crate::notify::{Notification, Notifier, Status};

/// GitHub reporting for one deploy; `None` fields are what could not be started.
pub struct GithubReport {
    client: Client,
    context: RunContext,
    environment: String,
    deployment: Option<u64>,
    check_run: Option<u64>,
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
        let token = args.github_token.clone()?;
        let context = match RunContext::from_env() {
            Ok(context) => context,
            Err(error) => {
                error.warn("GitHub reporting is off");
                return None;
            }
        };
        let client = match Client::from_context(&context, token) {
            Ok(client) => client,
            Err(error) => {
                error.warn("GitHub reporting is off");
                return None;
            }
        };
        let mut report = GithubReport {
            client,
            environment: deployment_environment(request),
            context,
            deployment: None,
            check_run: None,
        };
        report.open(request).await;
        Some(report)
    }

    async fn open(&mut self, request: &DeployRequest) {
        let Some(sha) = self.context.head_sha().map(str::to_string) else {
            tracing::warn!("GITHUB_SHA is not set: no GitHub Deployment or check run");
            return;
        };
        if !request.dry_run {
            self.deployment = self.create_deployment(request, &sha).await;
        }
        let mut run =
            NewCheckRun::started(&format!("deploy-tcb deploy ({})", self.environment), &sha);
        run.details_url = self.context.run_url();
        match self.client.create_check_run(&run).await {
            Ok(created) => self.check_run = Some(created.id),
            Err(error) => error.warn("creating the check run"),
        }
    }

    async fn create_deployment(&self, request: &DeployRequest, sha: &str) -> Option<u64> {
        let payload = json!({
            "env_id": request.env_id,
            "service": request.service,
            "image": request.image,
            "release_type": request.release.api_name(),
        });
        let mut deployment = NewDeployment::new(sha, &self.environment, payload);
        deployment.description = Some(format!("{} to {}", request.image, request.service));
        let created = match self.client.create_deployment(&deployment).await {
            Ok(created) => created,
            Err(error) => {
                error.warn("creating the GitHub Deployment");
                return None;
            }
        };
        let mut status = NewDeploymentStatus::new(DeploymentState::InProgress);
        status.log_url = self.context.run_url();
        if let Err(error) = self
            .client
            .create_deployment_status(created.id, &status)
            .await
        {
            error.warn("setting the Deployment in progress");
        }
        Some(created.id)
    }

    /// Final Deployment status, check run conclusion and the sticky comment section.
    pub async fn finish(&self, report: &Report) {
        if let Some(id) = self.deployment {
            let state = match report.outcome {
                Outcome::Failed => DeploymentState::Failure,
                _ => DeploymentState::Success,
            };
            let mut status = NewDeploymentStatus::new(state);
            status.environment_url = report.url.clone();
            status.log_url = self.context.run_url();
            status.description = Some(status_description(report));
            if let Err(error) = self.client.create_deployment_status(id, &status).await {
                error.warn("setting the Deployment status");
            }
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
    pub async fn abort(&self, reason: &str) {
        let description = format!("deploy did not run to the end: {reason}");
        if let Some(id) = self.deployment {
            let mut status = NewDeploymentStatus::new(DeploymentState::Error);
            status.log_url = self.context.run_url();
            status.description = Some(description.clone());
            if let Err(error) = self.client.create_deployment_status(id, &status).await {
                error.warn("setting the Deployment status");
            }
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
        let (Some(number), Some(run_id)) = (self.context.pull_request, self.context.run_id) else {
            return;
        };
        let heading = self
            .context
            .workflow
            .clone()
            .unwrap_or_else(|| "deploy-tcb".into());
        let sticky = StickyComment::new(run_id, &heading);
        let section = format!("deploy/{}", section_id(&self.environment));
        if let Err(error) = self
            .client
            .upsert_sticky_section(number, &sticky, &section, &report.comment_section())
            .await
        {
            error.warn("writing the PR comment");
        }
    }
}

/// A section id keeps letters, digits and `-_./`.
fn section_id(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_./".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
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
