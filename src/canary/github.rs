//! Reporting a canary or a rollback to GitHub: a Deployment with its final status (the record
//! rollback reads "the last verified version" from), a check run, and this action's section of
//! the sticky PR comment. Best effort: a failed report is a warning.

use serde_json::Value;

use crate::github::{
    CheckOutput, CheckRunUpdate, Client, Conclusion, DeploymentState, NewCheckRun, NewDeployment,
    NewDeploymentStatus, RunContext,
};

/// The GitHub Deployment environment for a service, as the deploy action names it.
pub fn environment(env_id: &str, service: &str) -> String {
    format!("{env_id}/{service}")
}

/// What to record.
pub struct Record<'a> {
    /// `canary-promote` or `rollback`.
    pub action: &'a str,
    pub environment: String,
    pub payload: Value,
    pub description: String,
    /// `None`: no Deployment (a dry run).
    pub state: Option<DeploymentState>,
    pub url: Option<String>,
    pub conclusion: Conclusion,
    pub summary: String,
    pub comment: String,
}

/// Creates the Deployment with its status, the check run and the comment section.
pub async fn report(client: &Client, context: &RunContext, record: &Record<'_>) {
    let Some(sha) = context.head_sha().map(str::to_string) else {
        tracing::warn!("GITHUB_SHA is not set: no GitHub Deployment or check run");
        return;
    };
    if let Some(state) = record.state {
        deployment(client, context, record, &sha, state).await;
    }
    let name = format!("deploy-tcb {} ({})", record.action, record.environment);
    let mut run = NewCheckRun::started(&name, &sha);
    run.details_url = context.run_url();
    match client.create_check_run(&run).await {
        Ok(created) => {
            let output = CheckOutput {
                title: record.description.clone(),
                summary: record.summary.clone(),
                text: None,
                annotations: Vec::new(),
            };
            let update = CheckRunUpdate::completed(record.conclusion, output);
            if let Err(error) = client.update_check_run(created.id, &update).await {
                error.warn("completing the check run");
            }
        }
        Err(error) => error.warn("creating the check run"),
    }
    if let Some((number, sticky)) = context.sticky_comment() {
        let section = format!(
            "{}/{}",
            record.action,
            crate::github::section_id_for(&record.environment)
        );
        if let Err(error) = client
            .upsert_sticky_section(number, &sticky, &section, &record.comment)
            .await
        {
            error.warn("writing the PR comment");
        }
    }
}

async fn deployment(
    client: &Client,
    context: &RunContext,
    record: &Record<'_>,
    sha: &str,
    state: DeploymentState,
) {
    let mut new = NewDeployment::new(sha, &record.environment, record.payload.clone());
    new.description = Some(record.description.clone());
    new.task = format!("deploy:{}", record.action);
    let created = match client.create_deployment(&new).await {
        Ok(created) => created,
        Err(error) => return error.warn("creating the GitHub Deployment"),
    };
    let mut status = NewDeploymentStatus::new(state);
    status.environment_url = record.url.clone();
    status.log_url = context.run_url();
    status.description = Some(record.description.clone());
    if let Err(error) = client.create_deployment_status(created.id, &status).await {
        error.warn("setting the Deployment status");
    }
}
