//! The deploy itself: preflight, plan, apply, wait, verify. The cloud is reached through
//! [`CloudRunApi`], so this file holds the decisions and the order of calls, not the wire.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::plan::{self, Action, ConfigItem, CurrentService, Plan};
use super::progress::{self, PollSchedule, Progress, TaskView};
use super::report::{Failure, Outcome, Report};
use super::request::{DeployRequest, Release};
use super::verify;
use crate::cli::OnConflict;
use crate::error::{Error, Result};

/// The environment as DescribeEnvBaseInfo tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvState {
    pub exists: bool,
    pub status: String,
}

/// A deploy record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordView {
    pub deploy_id: String,
    pub status: String,
    pub run_id: String,
}

/// What to submit: Create or Update, the image, the release type and the config items.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub create: bool,
    pub env_id: String,
    pub service: String,
    pub image: String,
    pub release: Release,
    pub items: Vec<ConfigItem>,
    pub remark: String,
    /// The latest task before submitting, to tell ours from it.
    pub before_task: Option<i64>,
}

/// Why a submission was refused.
#[derive(Debug)]
pub enum SubmitError {
    /// `ResourceInUse`: another release task is running.
    InUse(String),
    Other(Error),
}

/// The calls a deploy makes. Implemented over the tcbr client in `cloud.rs`.
#[allow(async_fn_in_trait)]
pub trait CloudRunApi {
    async fn environment(&self, env_id: &str) -> Result<EnvState>;
    /// `None` when the service does not exist.
    async fn service(&self, env_id: &str, service: &str) -> Result<Option<CurrentService>>;
    /// The task with this id, or the latest one for id 0; `None` when there is none.
    async fn task(&self, env_id: &str, service: &str, task_id: i64) -> Result<Option<TaskView>>;
    /// The deploy records, newest first.
    async fn records(&self, env_id: &str, service: &str) -> Result<Vec<RecordView>>;
    async fn process_log(&self, env_id: &str, run_id: &str) -> Result<Vec<String>>;
    /// Returns the task id the cloud gave (often 0).
    async fn submit(&self, submission: &Submission) -> std::result::Result<i64, SubmitError>;
    async fn cancel(&self, env_id: &str, service: &str, task_id: i64) -> Result<()>;
    /// ReleaseGray: `canary` gets `percent` of the traffic, `stable` the rest.
    async fn gray_split(&self, split: &GraySplit) -> Result<()>;
}

/// The initial traffic split of a gray release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraySplit {
    pub env_id: String,
    pub service: String,
    pub stable: String,
    pub canary: String,
    pub percent: u8,
}

/// Lines of the process log kept for the report.
const LOG_TAIL: usize = 20;

/// Steps and how long each took.
#[derive(Debug, Default)]
struct Timings(Vec<(String, Duration)>);

impl Timings {
    fn record(&mut self, name: &str, since: Instant) {
        self.0.push((name.to_string(), since.elapsed()));
    }
}

/// Told when the release task of this deploy is first seen naming its version, so that the
/// version can be recorded while the release runs (the GitHub Deployment's payload).
#[allow(async_fn_in_trait)]
pub trait Watcher {
    async fn release_started(&self, task: &TaskView);
}

/// Nobody is watching.
impl Watcher for () {
    async fn release_started(&self, _: &TaskView) {}
}

/// Runs the deploy and returns its report; a failed release is a report with
/// `Outcome::Failed`, while errors are for what stopped the deploy from running at all.
pub async fn deploy(
    api: &impl CloudRunApi,
    request: &DeployRequest,
    http: &reqwest::Client,
) -> Result<Report> {
    deploy_watched(api, request, http, &()).await
}

/// [`deploy`], telling `watcher` when the release task names its version.
pub async fn deploy_watched(
    api: &impl CloudRunApi,
    request: &DeployRequest,
    http: &reqwest::Client,
    watcher: &impl Watcher,
) -> Result<Report> {
    let mut timings = Timings::default();
    let started = Instant::now();
    let current = preflight(api, request).await?;
    let before_task = api
        .task(&request.env_id, &request.service, 0)
        .await?
        .map(|t| t.id);
    let before_records = match current {
        Some(_) => record_ids(api, request).await?,
        None => HashSet::new(),
    };
    timings.record("preflight", started);

    let plan = plan::plan(request, current.as_ref());
    let mut report = initial_report(request, &plan, current.as_ref());
    tracing::info!("{}", plan.render_diff().trim_end());
    if request.dry_run {
        report.outcome = Outcome::Planned;
        report.timings = timings.0;
        return Ok(report);
    }
    if plan.action == Action::Unchanged {
        report.outcome = Outcome::Unchanged;
        report.version_name = report.previous_version.clone();
        report.timings = timings.0;
        return Ok(report);
    }

    let deadline = Instant::now() + request.wait_timeout;
    let applied = Instant::now();
    let mut before = Before {
        task: before_task,
        records: before_records,
    };
    let mut submission = submission(request, &plan, before_task);
    let returned =
        submit_resolving_conflicts(api, request, &mut submission, &mut before, deadline).await?;
    timings.record("apply", applied);

    let waited = Instant::now();
    let finish = wait_for_release(api, request, returned, &before, deadline, watcher).await?;
    timings.record("wait for release", waited);
    report.task_id = Some(finish.task.id);
    if !finish.task.version_name.is_empty() {
        report.version_name = Some(finish.task.version_name.clone());
    }
    if let Some(pre) = Some(finish.task.pre_version_name.clone()).filter(|p| !p.is_empty()) {
        report.previous_version = Some(pre);
    }
    if let Some(failure) = finish.failure {
        report.outcome = Outcome::Failed;
        report.failure = Some(failure);
        report.timings = timings.0;
        return Ok(report);
    }

    if let Release::Gray { traffic } = request.release {
        let split = Instant::now();
        if let Some(failure) = open_gray(api, request, &finish.task, traffic).await {
            report.outcome = Outcome::Failed;
            report.failure = Some(failure);
            report.timings = timings.0;
            return Ok(report);
        }
        timings.record("gray traffic split", split);
    }

    let verified = Instant::now();
    let after = api.service(&request.env_id, &request.service).await?;
    report.url = after.and_then(|s| s.url).or(report.url);
    verify_health(request, http, &mut report).await;
    timings.record("health check", verified);
    report.timings = timings.0;
    Ok(report)
}

fn initial_report(
    request: &DeployRequest,
    plan: &Plan,
    current: Option<&CurrentService>,
) -> Report {
    Report {
        environment: request.environment.clone(),
        env_id: request.env_id.clone(),
        service: request.service.clone(),
        image: request.image.clone(),
        plan: plan.clone(),
        outcome: Outcome::Deployed,
        version_name: None,
        previous_version: current.and_then(|c| c.version_name.clone()),
        url: current.and_then(|c| c.url.clone()),
        task_id: None,
        traffic: match request.release {
            Release::Gray { traffic } => Some(traffic),
            Release::Full => None,
        },
        timings: Vec::new(),
        failure: None,
        health: None,
    }
}

/// The environment exists and is normal; the service exists or will be created.
async fn preflight(
    api: &impl CloudRunApi,
    request: &DeployRequest,
) -> Result<Option<CurrentService>> {
    let env = api.environment(&request.env_id).await?;
    if !env.exists {
        return Err(Error::input(
            "env_id",
            format!(
                "CloudBase environment `{}` does not exist, or CloudBase Run is not opened in it",
                request.env_id
            ),
            "check env_id against the CloudBase console (and the region), and open CloudBase Run for the environment",
        ));
    }
    if !env.status.eq_ignore_ascii_case("normal") {
        return Err(Error::Config {
            problem: format!("CloudBase environment `{}` is `{}`, not normal", request.env_id, env.status),
            fix: "wait until the environment is normal (a new one takes a few minutes to open), or renew or unfreeze it in the console".into(),
            location: None,
        });
    }
    let current = api.service(&request.env_id, &request.service).await?;
    if current.is_none() && matches!(request.release, Release::Gray { .. }) {
        return Err(Error::input(
            "release_type",
            format!(
                "service `{}` does not exist yet, so there is nothing to run a gray release beside",
                request.service
            ),
            "deploy the first version with release_type: full",
        ));
    }
    Ok(current)
}

fn submission(request: &DeployRequest, plan: &Plan, before_task: Option<i64>) -> Submission {
    let run = std::env::var("GITHUB_RUN_ID")
        .map(|r| format!(" (run {r})"))
        .unwrap_or_default();
    Submission {
        create: plan.action == Action::Create,
        env_id: request.env_id.clone(),
        service: request.service.clone(),
        image: request.image.clone(),
        release: request.release,
        items: plan::config_items(request, plan),
        remark: format!("deploy-tcb {}{run}", request.image),
        before_task,
    }
}

/// Submits; on `ResourceInUse`, waits for the running task, cancels it, or fails, as asked.
async fn submit_resolving_conflicts(
    api: &impl CloudRunApi,
    request: &DeployRequest,
    submission: &mut Submission,
    before: &mut Before,
    deadline: Instant,
) -> Result<i64> {
    loop {
        let message = match api.submit(submission).await {
            Ok(task_id) => return Ok(task_id),
            Err(SubmitError::Other(error)) => return Err(error),
            Err(SubmitError::InUse(message)) => message,
        };
        let running = api.task(&request.env_id, &request.service, 0).await?;
        let what = running
            .as_ref()
            .map(|t| format!("task {} releasing `{}`", t.id, t.version_name))
            .unwrap_or_else(|| "another release".to_string());
        match request.on_conflict {
            OnConflict::Fail => {
                return Err(Error::Verdict(format!(
                    "another release is running on `{}` ({what}): {message}. on_conflict is fail; rerun when it ends, or set on_conflict: wait or cancel",
                    request.service
                )));
            }
            OnConflict::Cancel => {
                let id = running.as_ref().map(|t| t.id).unwrap_or(0);
                tracing::warn!(
                    "another release is running ({what}); cancelling it as on_conflict: cancel asks"
                );
                api.cancel(&request.env_id, &request.service, id).await?;
            }
            OnConflict::Wait if running.as_ref().is_some_and(is_open_gray) => {
                return Err(Error::Verdict(format!(
                    "a gray release is open on `{}` ({what}); it ends only when promoted or rolled back, so waiting would not help. Promote it with canary-promote, end it with rollback, or set on_conflict: cancel",
                    request.service
                )));
            }
            OnConflict::Wait => {
                tracing::info!("another release is running ({what}); waiting for it to end")
            }
        }
        wait_until_idle(api, request, deadline).await?;
        // The release that was in the way left its own task and records: they are not ours.
        before.task = api
            .task(&request.env_id, &request.service, 0)
            .await?
            .map(|t| t.id);
        before.records = record_ids(api, request).await?;
        submission.before_task = before.task;
    }
}

/// A gray release whose version is deployed and waits for promotion: it never ends by itself.
fn is_open_gray(task: &TaskView) -> bool {
    task.release_type.eq_ignore_ascii_case("GRAY")
        && task.status.eq_ignore_ascii_case("running")
        && progress::assess(task, None, true) == Progress::Done
}

/// Waits until the latest task is no longer running.
async fn wait_until_idle(
    api: &impl CloudRunApi,
    request: &DeployRequest,
    deadline: Instant,
) -> Result<()> {
    let schedule = PollSchedule::default();
    let started = Instant::now();
    loop {
        let task = api.task(&request.env_id, &request.service, 0).await?;
        let busy = task
            .as_ref()
            .is_some_and(|t| t.status.eq_ignore_ascii_case("running"));
        if !busy {
            return Ok(());
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Error::Verdict(format!(
                "another release on `{}` was still running after wait_timeout ({}); nothing was deployed",
                request.service,
                humantime::format_duration(request.wait_timeout)
            )));
        }
        tokio::time::sleep(schedule.next(started.elapsed(), false, remaining)).await;
    }
}

/// What existed before the submission: the latest task and the deploy records, so that the
/// wait only reads what the submission made (timestamps have one-second resolution, so a
/// record from a failed deploy a moment earlier can look as new as ours).
struct Before {
    task: Option<i64>,
    records: HashSet<String>,
}

async fn record_ids(api: &impl CloudRunApi, request: &DeployRequest) -> Result<HashSet<String>> {
    let records = api.records(&request.env_id, &request.service).await?;
    Ok(records.into_iter().map(|r| r.deploy_id).collect())
}

/// How the wait ended: the task as last seen, and the failure if it failed.
struct Finish {
    task: TaskView,
    failure: Option<Failure>,
}

/// Polls the task and the deploy records with the adaptive schedule until the release is done,
/// failed or out of time. A task that outlives the timeout is cancelled, so it does not block
/// the next deploy, and the previous version keeps serving.
async fn wait_for_release(
    api: &impl CloudRunApi,
    request: &DeployRequest,
    returned: i64,
    before: &Before,
    deadline: Instant,
    watcher: &impl Watcher,
) -> Result<Finish> {
    let schedule = PollSchedule::default();
    let gray = matches!(request.release, Release::Gray { .. });
    let started = Instant::now();
    let mut announced = false;
    let mut last_seen: Option<(String, Vec<String>)> = None;
    let mut task = TaskView::default();
    loop {
        let (env, service) = (&request.env_id, &request.service);
        // The record first, then the task: the task is then at least as new as the record, so
        // a record that reports a failure comes with a task that shows the failed step and its
        // reason (read the other way round, a task read a moment before the failure would
        // leave only the record's bare status to report).
        let record = api
            .records(env, service)
            .await?
            .into_iter()
            .find(|r| !before.records.contains(&r.deploy_id));
        let fetched = api.task(env, service, returned).await?;
        // With TaskId 0 the latest task may still be the one before ours for a moment.
        let ours = fetched.filter(|t| returned > 0 || Some(t.id) != before.task);
        let mut moved = false;
        if let Some(current) = ours {
            let fingerprint = (
                current.status.clone(),
                current.steps.iter().map(|s| s.status.clone()).collect(),
            );
            moved = last_seen.as_ref() != Some(&fingerprint);
            last_seen = Some(fingerprint);
            task = current;
            if !announced && !task.version_name.is_empty() {
                announced = true;
                watcher.release_started(&task).await;
            }
            let record_status = record.as_ref().map(|r| r.status.as_str());
            match progress::assess(&task, record_status, gray) {
                Progress::Done => {
                    return Ok(Finish {
                        task,
                        failure: None,
                    });
                }
                Progress::Failed { step, reason } => {
                    let log_tail = log_tail(api, request, record.as_ref()).await;
                    let failure = Failure {
                        step,
                        reason,
                        log_tail,
                    };
                    return Ok(Finish {
                        task,
                        failure: Some(failure),
                    });
                }
                Progress::Running { step } if moved => {
                    tracing::info!(
                        "release task {}: {}",
                        task.id,
                        step.as_deref().unwrap_or(&task.status)
                    );
                }
                Progress::Running { .. } => {}
            }
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return timed_out(api, request, task, record.as_ref()).await;
        }
        tokio::time::sleep(schedule.next(started.elapsed(), moved, remaining)).await;
    }
}

async fn timed_out(
    api: &impl CloudRunApi,
    request: &DeployRequest,
    task: TaskView,
    record: Option<&RecordView>,
) -> Result<Finish> {
    let step = task
        .steps
        .iter()
        .find(|s| s.status == "running")
        .map(|s| s.name.clone());
    let at = step
        .as_deref()
        .map(|s| format!(" at step `{s}`"))
        .unwrap_or_default();
    let mut reason = format!(
        "the release task did not finish within wait_timeout ({}){at}",
        humantime::format_duration(request.wait_timeout)
    );
    if task.id > 0 || !task.status.is_empty() {
        match api.cancel(&request.env_id, &request.service, task.id).await {
            Ok(()) => reason.push_str("; it was cancelled so the next deploy is not blocked"),
            Err(error) => reason.push_str(&format!("; cancelling it failed too: {error}")),
        }
    }
    let log_tail = log_tail(api, request, record).await;
    Ok(Finish {
        task,
        failure: Some(Failure {
            step,
            reason,
            log_tail,
        }),
    })
}

/// Gives the deployed gray version its initial share (the cloud opens it with none).
async fn open_gray(
    api: &impl CloudRunApi,
    request: &DeployRequest,
    task: &TaskView,
    percent: u8,
) -> Option<Failure> {
    if percent == 0 {
        return None;
    }
    let split = GraySplit {
        env_id: request.env_id.clone(),
        service: request.service.clone(),
        stable: task.pre_version_name.clone(),
        canary: task.version_name.clone(),
        percent,
    };
    match api.gray_split(&split).await {
        Ok(()) => {
            tracing::info!(
                "gray release: {} serves {percent}%, {} the rest",
                split.canary,
                split.stable
            );
            None
        }
        Err(error) => Some(Failure {
            step: Some("gray traffic split".into()),
            reason: format!(
                "version {} is deployed but its {percent}% share could not be set: {}",
                split.canary,
                error.message()
            ),
            log_tail: Vec::new(),
        }),
    }
}

/// The end of the process log of the newest deploy record, for the failure report.
async fn log_tail(
    api: &impl CloudRunApi,
    request: &DeployRequest,
    record: Option<&RecordView>,
) -> Vec<String> {
    let Some(run_id) = record.map(|r| r.run_id.clone()).filter(|r| !r.is_empty()) else {
        return Vec::new();
    };
    match api.process_log(&request.env_id, &run_id).await {
        Ok(lines) => {
            let skip = lines.len().saturating_sub(LOG_TAIL);
            lines.into_iter().skip(skip).collect()
        }
        Err(error) => vec![format!("(the process log could not be read: {error})")],
    }
}

/// Requests the health path; a failure turns the outcome into `Failed`.
async fn verify_health(request: &DeployRequest, http: &reqwest::Client, report: &mut Report) {
    report.outcome = match request.release {
        Release::Gray { .. } => Outcome::Gray,
        Release::Full => Outcome::Deployed,
    };
    let Some(base) = report.url.clone() else {
        report.health = Some("skipped: the service has no URL (no public access type)".into());
        return;
    };
    let url = verify::health_url(&base, &request.health_path);
    match verify::wait_healthy(http, &url, request.health_timeout).await {
        Ok(healthy) => {
            report.health = Some(format!(
                "HTTP {} from {} after {} attempt(s)",
                healthy.status, healthy.url, healthy.attempts
            ));
        }
        Err(unhealthy) => {
            report.health = Some(format!("failed: {unhealthy}"));
            report.outcome = Outcome::Failed;
            report.failure = Some(Failure {
                step: Some("health check".into()),
                reason: unhealthy.to_string(),
                log_tail: Vec::new(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;

    use super::*;
    use crate::deploy::plan::CurrentService;
    use crate::deploy::progress::StepView;
    use crate::deploy::request::DesiredConfig;

    /// A scripted cloud: `tasks` answers successive DescribeServerManageTask calls (the last
    /// answer repeats), `submits` successive submissions.
    #[derive(Default)]
    struct Scripted {
        tasks: RefCell<VecDeque<Option<TaskView>>>,
        submits: RefCell<VecDeque<std::result::Result<i64, String>>>,
        cancelled: RefCell<Vec<i64>>,
    }

    fn task(id: i64, status: &str, version: &str) -> Option<TaskView> {
        Some(TaskView {
            id,
            status: status.into(),
            release_type: "FULL".into(),
            version_name: version.into(),
            pre_version_name: "svc-001".into(),
            steps: vec![StepView {
                name: "deploy_instance".into(),
                status: if status == "finished" {
                    "finished"
                } else {
                    "running"
                }
                .into(),
                ..StepView::default()
            }],
            ..TaskView::default()
        })
    }

    impl CloudRunApi for Scripted {
        async fn environment(&self, _: &str) -> Result<EnvState> {
            Ok(EnvState {
                exists: true,
                status: "NORMAL".into(),
            })
        }
        async fn service(&self, _: &str, _: &str) -> Result<Option<CurrentService>> {
            Ok(Some(CurrentService {
                version_name: Some("svc-001".into()),
                image: Some("reg.io/a/svc:1".into()),
                ..CurrentService::default()
            }))
        }
        async fn task(&self, _: &str, _: &str, _: i64) -> Result<Option<TaskView>> {
            let mut tasks = self.tasks.borrow_mut();
            Ok(if tasks.len() > 1 {
                tasks.pop_front().flatten()
            } else {
                tasks.front().cloned().flatten()
            })
        }
        async fn records(&self, _: &str, _: &str) -> Result<Vec<RecordView>> {
            Ok(Vec::new())
        }
        async fn process_log(&self, _: &str, _: &str) -> Result<Vec<String>> {
            Ok(Vec::new())
        }
        async fn submit(&self, _: &Submission) -> std::result::Result<i64, SubmitError> {
            match self.submits.borrow_mut().pop_front().unwrap_or(Ok(0)) {
                Ok(id) => Ok(id),
                Err(message) => Err(SubmitError::InUse(message)),
            }
        }
        async fn cancel(&self, _: &str, _: &str, task_id: i64) -> Result<()> {
            self.cancelled.borrow_mut().push(task_id);
            Ok(())
        }
        async fn gray_split(&self, _: &GraySplit) -> Result<()> {
            Ok(())
        }
    }

    fn request(wait: Duration) -> DeployRequest {
        DeployRequest {
            env_id: "env".into(),
            service: "svc".into(),
            image: "reg.io/a/svc:2".into(),
            region: "ap-shanghai".into(),
            release: Release::Full,
            config: DesiredConfig::default(),
            health_path: "/".into(),
            health_timeout: Duration::from_secs(1),
            wait_timeout: wait,
            on_conflict: OnConflict::Wait,
            dry_run: false,
            environment: None,
        }
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn with_task_id_0_the_task_from_before_is_not_taken_for_ours() {
        let api = Scripted::default();
        api.tasks.borrow_mut().extend([
            task(5, "finished", "svc-001"), // preflight: the latest task before submitting
            task(5, "finished", "svc-001"), // first poll: ours is not visible yet
            task(6, "running", "svc-002"),
            task(6, "finished", "svc-002"),
        ]);
        let http = reqwest::Client::new();
        let report = block_on(deploy(&api, &request(Duration::from_secs(10)), &http)).unwrap();
        assert_eq!(report.task_id, Some(6));
        assert_eq!(report.version_name.as_deref(), Some("svc-002"));
        assert_eq!(report.previous_version.as_deref(), Some("svc-001"));
    }

    #[test]
    fn a_conflict_that_outlasts_the_wait_timeout_deploys_nothing() {
        let api = Scripted::default();
        api.tasks
            .borrow_mut()
            .push_back(task(9, "running", "svc-009"));
        api.submits.borrow_mut().push_back(Err("busy".into()));
        let http = reqwest::Client::new();
        let error =
            block_on(deploy(&api, &request(Duration::from_millis(400)), &http)).unwrap_err();
        assert_eq!(error.exit_code(), 1);
        assert!(
            error
                .to_string()
                .contains("still running after wait_timeout"),
            "{error}"
        );
        assert!(api.cancelled.borrow().is_empty(), "wait never cancels");
    }

    #[test]
    fn a_timeout_cancels_the_task_it_waited_for() {
        let api = Scripted::default();
        api.tasks
            .borrow_mut()
            .extend([None, task(7, "running", "svc-002")]);
        let http = reqwest::Client::new();
        let report = block_on(deploy(&api, &request(Duration::from_millis(400)), &http)).unwrap();
        assert_eq!(report.outcome, Outcome::Failed);
        assert_eq!(*api.cancelled.borrow(), vec![7]);
        let failure = report.failure.unwrap();
        assert_eq!(failure.step.as_deref(), Some("deploy_instance"));
        assert!(
            failure.reason.contains("it was cancelled"),
            "{}",
            failure.reason
        );
    }

    /// A cloud whose release fails at the build step once `fail_at` calls have been made, the
    /// task and the record changing together, as one state read by two calls.
    struct Racing {
        calls: std::cell::Cell<u32>,
        fail_at: u32,
    }

    impl Racing {
        fn tick(&self) -> bool {
            self.calls.set(self.calls.get() + 1);
            self.calls.get() >= self.fail_at
        }
    }

    impl CloudRunApi for Racing {
        async fn environment(&self, _: &str) -> Result<EnvState> {
            Scripted::default().environment("").await
        }
        async fn service(&self, _: &str, _: &str) -> Result<Option<CurrentService>> {
            Scripted::default().service("", "").await
        }
        async fn task(&self, _: &str, _: &str, _: i64) -> Result<Option<TaskView>> {
            if self.calls.get() == 0 {
                self.calls.set(1);
                return Ok(task(5, "finished", "svc-001"));
            }
            let failed = self.tick();
            let mut view = task(6, "running", "svc-002").unwrap();
            view.steps[0].name = "build_image".into();
            if failed {
                view.status = "failed".into();
                view.steps[0].status = "failed".into();
                view.steps[0].fail_reason = "COPY failed: no such file".into();
            }
            Ok(Some(view))
        }
        async fn records(&self, _: &str, _: &str) -> Result<Vec<RecordView>> {
            if self.calls.get() <= 1 {
                return Ok(Vec::new());
            }
            let failed = self.tick();
            Ok(vec![RecordView {
                deploy_id: "6".into(),
                status: if failed { "build_failed" } else { "deploying" }.into(),
                run_id: String::new(),
            }])
        }
        async fn process_log(&self, _: &str, _: &str) -> Result<Vec<String>> {
            Ok(Vec::new())
        }
        async fn submit(&self, _: &Submission) -> std::result::Result<i64, SubmitError> {
            Ok(0)
        }
        async fn cancel(&self, _: &str, _: &str, _: i64) -> Result<()> {
            Ok(())
        }
        async fn gray_split(&self, _: &GraySplit) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failure_is_reported_with_its_step_reason_wherever_it_falls_between_reads() {
        for fail_at in 2..8 {
            let api = Racing {
                calls: Default::default(),
                fail_at,
            };
            let http = reqwest::Client::new();
            let report = block_on(deploy(&api, &request(Duration::from_secs(30)), &http)).unwrap();
            let failure = report.failure.expect("the release failed");
            assert_eq!(failure.step.as_deref(), Some("build_image"), "{fail_at}");
            assert!(
                failure.reason.contains("COPY failed"),
                "failing at call {fail_at}: {}",
                failure.reason
            );
        }
    }

    /// Records the version it was told and the task's status then.
    #[derive(Default)]
    struct Recorder(RefCell<Vec<String>>);

    impl Watcher for Recorder {
        async fn release_started(&self, task: &TaskView) {
            let heard = format!("{} {}", task.version_name, task.status);
            self.0.borrow_mut().push(heard);
        }
    }

    #[test]
    fn the_watcher_hears_the_version_once_while_the_release_runs() {
        let api = Scripted::default();
        api.tasks.borrow_mut().extend([
            task(5, "finished", "svc-001"),
            task(6, "running", "svc-002"),
            task(6, "running", "svc-002"),
            task(6, "finished", "svc-002"),
        ]);
        let http = reqwest::Client::new();
        let watcher = Recorder::default();
        let request = request(Duration::from_secs(10));
        let report = block_on(deploy_watched(&api, &request, &http, &watcher)).unwrap();
        assert_eq!(report.version_name.as_deref(), Some("svc-002"));
        assert_eq!(*watcher.0.borrow(), vec!["svc-002 running".to_string()]);
    }
}
