//! Rolling back to the last verified version: `deploy-tcb rollback`.
//!
//! `target` chooses the version and the method (pure). This file gathers the facts (the split,
//! the open gray release, the newest task, verified GitHub Deployments), applies the plan
//! (`go_back` and/or `SubmitServerRollback`, then polls the task), verifies that 100% of the
//! traffic is on the target and that it answers, and reports.

pub mod target;

use std::time::{Duration, Instant};

use serde_json::json;

use crate::canary::cloud::Gray;
use crate::canary::github;
use crate::cli::RollbackArgs;
use crate::config::{ConfigFile, limits};
use crate::deploy::progress::{self, Progress};
use crate::deploy::verify::{health_url, wait_healthy};
use crate::error::{Error, Result};
use crate::github::{Conclusion, DeploymentState};
use crate::notify::{Notification, Notifier, Status};
use crate::runner::command::group;
use crate::runner::{Outputs, Summary};
use target::{Facts, LastTask, Method, Plan, Verified, Want};

/// Deployments read from GitHub to find the last verified version.
const DEPLOYMENTS_SCANNED: usize = 30;
/// How long the split may take to show the rollback.
const SETTLE: Duration = Duration::from_secs(15);

/// A validated rollback request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackRequest {
    pub env_id: String,
    pub service: String,
    pub environment: String,
    pub want: Want,
    pub reason: String,
    pub health_path: String,
    pub wait_timeout: Duration,
    pub dry_run: bool,
    pub region: String,
}

impl RollbackRequest {
    pub fn from_args(args: &RollbackArgs) -> Result<Self> {
        let settings = match &args.config {
            Some(path) => ConfigFile::load(path)?
                .resolve(args.environment.as_deref(), &path.display().to_string())?,
            None => Default::default(),
        };
        let env_id = required("env_id", args.env_id.clone().or(settings.env_id))?;
        let service = required("service", args.service.clone().or(settings.service))?;
        limits::env_id(&env_id).map_err(|p| Error::input("env_id", p, "correct env_id"))?;
        limits::service_name(&service)
            .map_err(|p| Error::input("service", p, "correct service"))?;
        limits::health_path(&args.health_path)
            .map_err(|p| Error::input("health_path", p, "give a path such as /healthz"))?;
        let to_version = args.to_version.clone().filter(|v| !v.trim().is_empty());
        let want = match (to_version, args.undo) {
            (Some(_), true) => {
                return Err(Error::input(
                    "undo",
                    "is set together with to_version",
                    "either name the version with to_version, or undo the last rollback, not both",
                ));
            }
            (Some(version), false) => Want::Version(version.trim().to_string()),
            (None, true) => Want::Undo,
            (None, false) => Want::LastVerified,
        };
        if args.reason.trim().is_empty() {
            return Err(Error::input(
                "reason",
                "is empty",
                "say why, e.g. `reason: errors after v1.4.2`",
            ));
        }
        if args.wait_timeout.is_zero() {
            return Err(Error::input(
                "wait_timeout",
                "is zero",
                "give a duration such as 10m",
            ));
        }
        Ok(RollbackRequest {
            environment: args
                .environment
                .clone()
                .unwrap_or_else(|| github::environment(&env_id, &service)),
            env_id,
            service,
            want,
            reason: args.reason.trim().to_string(),
            health_path: args.health_path.clone(),
            wait_timeout: args.wait_timeout,
            dry_run: args.dry_run,
            region: settings.region.unwrap_or_else(|| args.cloud.region.clone()),
        })
    }
}

fn required(input: &str, value: Option<String>) -> Result<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            Error::input(
                input,
                "is required but was not given",
                format!("set `{input}` in the step's `with:`, or environment and config"),
            )
        })
}

/// How the rollback ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    RolledBack,
    Unchanged,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::RolledBack => "rolled_back",
            Outcome::Unchanged => "unchanged",
            Outcome::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackReport {
    pub plan: Plan,
    pub outcome: Outcome,
    pub url: Option<String>,
    pub failure: Option<String>,
    pub health: Option<String>,
}

/// Runs `deploy-tcb rollback`.
pub fn run(args: RollbackArgs) -> Result<()> {
    let request = RollbackRequest::from_args(&args)?;
    let notifier = Notifier::from_args(&args.notify)?;
    let client = crate::deploy::cloud::client(&args.cloud, &request.region)?;
    crate::app::block_on(execute(&args, &request, Gray { client }, &notifier))
}

pub async fn execute(
    args: &RollbackArgs,
    request: &RollbackRequest,
    gray: Gray,
    notifier: &Notifier,
) -> Result<()> {
    let github = crate::github::connect(&args.github);
    let verified = match &github {
        Some((client, _)) => read_verified(client, request).await,
        None => None,
    };
    let (facts, url) = gather(&gray, request, verified).await?;
    let plan = target::plan(&request.want, &facts)?;
    tracing::info!(
        "rollback {}/{}: {} → {} ({}; {:?})",
        request.env_id,
        request.service,
        plan.current,
        plan.target,
        plan.source,
        plan.method
    );
    check_target(&gray, request, &plan).await?;
    let report = if request.dry_run {
        RollbackReport {
            outcome: Outcome::Unchanged,
            url,
            failure: None,
            health: None,
            plan,
        }
    } else {
        let _group = group(&format!("Roll back {} to {}", request.service, plan.target));
        apply(&gray, request, plan, url).await?
    };
    publish(request, &report)?;
    if let Some((client, context)) = &github {
        github::report(client, context, &github_record(request, &report)).await;
    }
    notify(notifier, request, &report).await;
    match report.outcome {
        Outcome::Failed => Err(Error::Verdict(headline(request, &report))),
        _ => Ok(()),
    }
}

/// Verified versions, newest first, from the named environment and from `<env_id>/<service>`
/// (where canary-promote records its promotions).
async fn read_verified(
    client: &crate::github::Client,
    request: &RollbackRequest,
) -> Option<Vec<Verified>> {
    let mut environments = vec![request.environment.clone()];
    let service_environment = github::environment(&request.env_id, &request.service);
    if !environments.contains(&service_environment) {
        environments.push(service_environment);
    }
    let mut found = Vec::new();
    for environment in &environments {
        match client
            .successful_deployments(environment, DEPLOYMENTS_SCANNED)
            .await
        {
            Ok(list) => found.extend(list),
            Err(error) => {
                error.warn("reading GitHub Deployments (falling back to CloudBase records)");
                return None;
            }
        }
    }
    found.sort_by(|a, b| {
        b.deployment
            .created_at
            .cmp(&a.deployment.created_at)
            .then(b.deployment.id.cmp(&a.deployment.id))
    });
    Some(
        found
            .iter()
            .filter_map(|d| Verified::from_payload(&d.deployment.payload))
            .collect(),
    )
}

async fn gather(
    gray: &Gray,
    request: &RollbackRequest,
    verified: Option<Vec<Verified>>,
) -> Result<(Facts, Option<String>)> {
    let (env, service) = (&request.env_id, &request.service);
    let view = gray.service(env, service).await?;
    let order = gray.order(env, service).await?.filter(|o| o.gray_open);
    let last_task = gray.task_info(env, service, 0).await?.map(|t| LastTask {
        id: t.id,
        change_type: t.change_type,
        status: t.status,
        version: t.version_name,
        pre_version: t.pre_version_name,
    });
    Ok((
        Facts {
            split: view.split,
            gray: order,
            last_task,
            verified,
        },
        view.url,
    ))
}

/// The target must exist and be able to serve before anything changes.
async fn check_target(gray: &Gray, request: &RollbackRequest, plan: &Plan) -> Result<()> {
    let status = gray
        .version_status(&request.env_id, &request.service, &plan.target)
        .await?;
    let input = if matches!(request.want, Want::Version(_)) {
        "to_version"
    } else {
        "undo"
    };
    match status.as_deref() {
        Some("normal") | Some("") => Ok(()),
        Some(other) => Err(Error::input(
            input,
            format!("version `{}` is {other} and cannot serve", plan.target),
            "choose a version whose status is normal",
        )),
        None => Err(Error::input(
            input,
            format!(
                "version `{}` does not exist in service `{}`",
                plan.target, request.service
            ),
            "use a version name from DescribeCloudRunServerDetail or the console",
        )),
    }
}

async fn apply(
    gray: &Gray,
    request: &RollbackRequest,
    plan: Plan,
    url: Option<String>,
) -> Result<RollbackReport> {
    let (env, service) = (&request.env_id, &request.service);
    let started = Instant::now();
    let mut report = RollbackReport {
        outcome: Outcome::RolledBack,
        url,
        failure: None,
        health: None,
        plan,
    };
    let remark = format!("deploy-tcb rollback: {}", request.reason);
    match report.plan.method.clone() {
        Method::Nothing => {
            report.outcome = Outcome::Unchanged;
            return Ok(report);
        }
        Method::GoBack { task_id } => gray.operate(env, service, task_id, "go_back").await?,
        Method::Submit { go_back_first } => {
            if let Some(task_id) = go_back_first {
                gray.operate(env, service, task_id, "go_back").await?;
                gray.wait_all_on(env, service, &report.plan.current, SETTLE)
                    .await?;
            }
            let task_id = gray
                .submit_rollback(
                    env,
                    service,
                    &report.plan.current,
                    &report.plan.target,
                    &remark,
                )
                .await?;
            if let Err(reason) = wait_task(gray, request, task_id, started).await? {
                report.outcome = Outcome::Failed;
                report.failure = Some(reason);
                return Ok(report);
            }
        }
    }
    let split = gray
        .wait_all_on(env, service, &report.plan.target, SETTLE)
        .await?;
    if !split.all_on(&report.plan.target) {
        report.outcome = Outcome::Failed;
        report.failure = Some(format!("the rollback finished but the split is {split}"));
        return Ok(report);
    }
    if let Some(base) = &report.url {
        let http = reqwest::Client::new();
        let timeout = request
            .wait_timeout
            .saturating_sub(started.elapsed())
            .clamp(Duration::from_secs(5), Duration::from_secs(60));
        match wait_healthy(&http, &health_url(base, &request.health_path), timeout).await {
            Ok(healthy) => {
                report.health = Some(format!("{} answered {}", healthy.url, healthy.status))
            }
            Err(unhealthy) => {
                report.outcome = Outcome::Failed;
                report.failure = Some(unhealthy.to_string());
            }
        }
    }
    Ok(report)
}

/// Polls the rollback task (the latest one when the cloud gave id 0) until it ends.
async fn wait_task(
    gray: &Gray,
    request: &RollbackRequest,
    task_id: i64,
    started: Instant,
) -> Result<std::result::Result<(), String>> {
    let (env, service) = (&request.env_id, &request.service);
    let mut delay = Duration::from_millis(100);
    loop {
        if let Some(task) = gray.task(env, service, task_id).await? {
            match progress::assess(&task, None, false) {
                Progress::Done => return Ok(Ok(())),
                Progress::Failed { reason, .. } => {
                    return Ok(Err(format!("rollback task {}: {reason}", task.id)));
                }
                Progress::Running { .. } => {}
            }
        }
        if started.elapsed() + delay > request.wait_timeout {
            return Ok(Err(format!(
                "the rollback task did not finish within {:?}",
                request.wait_timeout
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

fn headline(request: &RollbackRequest, report: &RollbackReport) -> String {
    let plan = &report.plan;
    match report.outcome {
        Outcome::RolledBack => format!(
            "{} rolled back from {} to {}",
            request.service, plan.current, plan.target
        ),
        Outcome::Unchanged if request.dry_run => format!(
            "plan: roll {} back from {} to {} (dry run)",
            request.service, plan.current, plan.target
        ),
        Outcome::Unchanged => format!("{} already serves {}", request.service, plan.target),
        Outcome::Failed => format!(
            "rollback of {} to {} failed: {}",
            request.service,
            plan.target,
            report.failure.as_deref().unwrap_or("unknown")
        ),
    }
}

fn publish(request: &RollbackRequest, report: &RollbackReport) -> Result<()> {
    let mut outputs = Outputs::new();
    outputs.set("version_name", &report.plan.target)?;
    outputs.set("previous_version", &report.plan.current)?;
    outputs.set("result", report.outcome.as_str())?;
    summary(request, report).write()?;
    outputs.print_if_no_runner();
    tracing::info!("{}", headline(request, report));
    Ok(())
}

fn summary(request: &RollbackRequest, report: &RollbackReport) -> Summary {
    let mut summary = Summary::new();
    summary.heading(2, &format!("Rollback: {}", headline(request, report)));
    let method = match &report.plan.method {
        Method::Nothing => "nothing to do".to_string(),
        Method::GoBack { task_id } => format!("OperateServerManage go_back (task {task_id})"),
        Method::Submit {
            go_back_first: Some(id),
        } => format!("go_back (task {id}), then SubmitServerRollback"),
        Method::Submit {
            go_back_first: None,
        } => "SubmitServerRollback".to_string(),
    };
    let rows = vec![
        vec![
            "service".into(),
            format!("{}/{}", request.env_id, request.service),
        ],
        vec!["from".into(), report.plan.current.clone()],
        vec!["to".into(), report.plan.target.clone()],
        vec!["chosen because".into(), report.plan.source.clone()],
        vec!["method".into(), method],
        vec!["reason".into(), request.reason.clone()],
        vec!["result".into(), report.outcome.as_str().into()],
        vec!["health".into(), report.health.clone().unwrap_or_default()],
    ];
    summary.table(&["", ""], &rows);
    summary
}

fn github_record(request: &RollbackRequest, report: &RollbackReport) -> github::Record<'static> {
    let (state, conclusion) = match (request.dry_run, report.outcome) {
        (true, _) => (None, Conclusion::Neutral),
        (false, Outcome::Failed) => (Some(DeploymentState::Failure), Conclusion::Failure),
        (false, _) => (Some(DeploymentState::Success), Conclusion::Success),
    };
    github::Record {
        action: "rollback",
        environment: request.environment.clone(),
        payload: json!({
            "action": "rollback",
            "env_id": request.env_id,
            "service": request.service,
            "version": report.plan.target,
            "previous_version": report.plan.current,
            "reason": request.reason,
            "undo": request.want == Want::Undo,
        }),
        description: format!("rollback: {}", request.reason),
        state,
        url: report.url.clone(),
        conclusion,
        summary: summary(request, report).as_markdown().to_string(),
        comment: format!(
            "**rollback** `{}`: {}",
            request.service,
            headline(request, report)
        ),
    }
}

async fn notify(notifier: &Notifier, request: &RollbackRequest, report: &RollbackReport) {
    if notifier.is_empty() || request.dry_run {
        return;
    }
    let status = match report.outcome {
        Outcome::RolledBack => Status::RolledBack,
        Outcome::Unchanged => Status::Succeeded,
        Outcome::Failed => Status::Failed,
    };
    let mut notification = Notification::new(&format!("rollback {}", request.service), status);
    notification.environment = Some(request.environment.clone());
    notification.version = Some(report.plan.target.clone());
    notification.url = report.url.clone();
    notification.details = vec![
        ("from".into(), report.plan.current.clone()),
        ("reason".into(), request.reason.clone()),
        ("result".into(), report.outcome.as_str().into()),
    ];
    notifier.send_and_warn(&notification).await;
}
