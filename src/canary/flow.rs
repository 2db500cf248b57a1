//! The canary run: find the gray release, walk the steps (set the split, wait while probing,
//! analyse, decide), then promote, roll back or hold, and check the split really is what the
//! decision says.

use std::time::{Duration, Instant};

use super::cloud::{Gray, Split};
use super::decision::{self, Analysis, Decision, Measurement, Observation, Tally, Threshold};
use super::prometheus::Prometheus;
use super::report::{CanaryReport, CanaryResult, StepRecord};
use super::request::{CanaryRequest, QueryScope, requests_query};
use crate::cli::OnFailure;
use crate::deploy::verify::health_url;
use crate::error::{Error, Result};

/// Probes sent per step when Prometheus does the counting.
const PROBES_WITH_PROMETHEUS: u64 = 5;
/// How long a rollback or promotion may take to show in the split.
const SETTLE: Duration = Duration::from_secs(15);

/// The parts of a canary that the cloud decides: which versions, which task, which URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub canary: String,
    pub stable: String,
    pub task_id: i64,
    pub url: Option<String>,
    pub split: Split,
}

/// Finds the open gray release (and checks it is the version asked for).
pub async fn find_target(gray: &Gray, request: &CanaryRequest) -> Result<Target> {
    let (env, service) = (&request.env_id, &request.service);
    let order = gray.order(env, service).await?;
    let Some(order) = order.filter(|o| o.gray_open) else {
        return Err(Error::config(
            format!("service `{service}` in `{env}` has no open gray release"),
            "deploy the new version first with the deploy action's `release_type: gray`, then run canary-promote",
        ));
    };
    if let Some(version) = &request.version
        && *version != order.release
    {
        return Err(Error::input(
            "version",
            format!(
                "`{version}` is not the open gray release (`{}` is)",
                order.release
            ),
            "leave version empty to promote the open gray release, or deploy that version as gray first",
        ));
    }
    let task = gray.task(env, service, 0).await?;
    let view = gray.service(env, service).await?;
    Ok(Target {
        canary: order.release,
        stable: order.current,
        task_id: task.map_or(0, |t| t.id),
        url: view.url,
        split: view.split,
    })
}

/// What the run needs besides the request.
pub struct Tools<'a> {
    pub gray: &'a Gray,
    pub http: &'a reqwest::Client,
    pub prometheus: Option<&'a Prometheus>,
}

/// Runs the canary to its end. Errors are for what stopped it from running at all.
pub async fn run(
    tools: &Tools<'_>,
    request: &CanaryRequest,
    target: &Target,
) -> Result<CanaryReport> {
    let mut report = CanaryReport::new(request, target);
    let deadline = Instant::now() + request.timeout;
    let mut tally = Tally::default();
    for &step in &request.steps {
        if step == 100 {
            break;
        }
        if Instant::now() + request.interval > deadline {
            let reason = format!("step {step}% would run past timeout {:?}", request.timeout);
            let end = CanaryResult::Inconclusive;
            return fail(
                tools.gray,
                request,
                target,
                report,
                end,
                "timeout".into(),
                reason,
            )
            .await;
        }
        set_step(tools.gray, request, target, step).await?;
        report.final_traffic = u32::from(step);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let analysis = analyse_step(tools, request, target).await;
            let (mut decision, after) = decision::decide(&analysis, &request.budgets, tally);
            tally = after;
            if matches!(decision, Decision::Hold { .. })
                && Instant::now() + request.interval > deadline
            {
                decision = Decision::Inconclusive {
                    check: "timeout".into(),
                    reason: format!("the promotion would run past timeout {:?}", request.timeout),
                };
            }
            tracing::info!(
                "step {step}% (analysis {attempt}): {}{}",
                decision.as_str(),
                reason_suffix(&decision)
            );
            report.steps.push(StepRecord {
                traffic: step,
                attempt,
                analysis,
                decision: decision.clone(),
            });
            match decision {
                Decision::Promote => break,
                Decision::Hold { .. } => continue,
                Decision::RollBack { check, reason } => {
                    return fail(
                        tools.gray,
                        request,
                        target,
                        report,
                        CanaryResult::RolledBack,
                        check,
                        reason,
                    )
                    .await;
                }
                Decision::Inconclusive { check, reason } => {
                    return fail(
                        tools.gray,
                        request,
                        target,
                        report,
                        CanaryResult::Inconclusive,
                        check,
                        reason,
                    )
                    .await;
                }
            }
        }
    }
    promote(tools.gray, request, target, report).await
}

fn reason_suffix(decision: &Decision) -> String {
    match decision {
        Decision::Promote => String::new(),
        Decision::Hold { reason }
        | Decision::RollBack { reason, .. }
        | Decision::Inconclusive { reason, .. } => format!(": {reason}"),
    }
}

async fn set_step(gray: &Gray, request: &CanaryRequest, target: &Target, step: u8) -> Result<()> {
    let (env, service) = (&request.env_id, &request.service);
    gray.set_split(env, service, &target.stable, &target.canary, step)
        .await?;
    let split = gray
        .wait_share(env, service, &target.canary, u32::from(step), SETTLE)
        .await?;
    if split.share_of(&target.canary) != u32::from(step) {
        return Err(Error::Failure(anyhow::anyhow!(
            "ReleaseGray to {step}% was accepted but the split is {split}"
        )));
    }
    tracing::info!("traffic: {split}");
    Ok(())
}

/// Waits one interval while probing the service, then queries Prometheus.
async fn analyse_step(tools: &Tools<'_>, request: &CanaryRequest, target: &Target) -> Analysis {
    let probes = match tools.prometheus {
        Some(_) => PROBES_WITH_PROMETHEUS,
        None => request.budgets.min_requests.max(PROBES_WITH_PROMETHEUS),
    };
    let (probe, answered) = probe(tools.http, request, target, probes).await;
    let mut measurements = Vec::new();
    let canary_requests = match tools.prometheus {
        Some(prometheus) => {
            let scope = QueryScope {
                env: request.env_id.clone(),
                service: request.service.clone(),
                version: target.canary.clone(),
                stable: target.stable.clone(),
                window: request.window(),
            };
            let requests = prometheus
                .observe(&scope.resolve(&requests_query("{{version}}")))
                .await;
            for check in &request.checks {
                let query = scope.resolve(&check.template);
                measurements.push(Measurement {
                    check: check.name.clone(),
                    observation: prometheus.observe(&query).await,
                    query,
                    threshold: check.threshold,
                });
            }
            requests
        }
        None => Observation::Value(answered as f64),
    };
    if let Some(probe) = probe {
        measurements.push(probe);
    }
    Analysis {
        canary_requests,
        measurements,
    }
}

/// Sends `count` GETs to the service URL spread over the interval; the measurement is the
/// share that failed (non-2xx or no answer). Returns it and how many were answered.
async fn probe(
    http: &reqwest::Client,
    request: &CanaryRequest,
    target: &Target,
    count: u64,
) -> (Option<Measurement>, u64) {
    let Some(base) = &target.url else {
        tokio::time::sleep(request.interval).await;
        return (None, 0);
    };
    let url = health_url(base, &request.probe_path);
    // With compare_stable the stable version's own errors are tolerated, and a probe of the
    // service URL cannot tell them from the canary's: then only a missing answer counts.
    let count_statuses = !request.compare_stable;
    let gap = request.interval / u32::try_from(count).unwrap_or(u32::MAX).max(1);
    let (mut failed, mut answered) = (0u64, 0u64);
    for _ in 0..count {
        let started = Instant::now();
        match http
            .get(&url)
            .timeout(gap.max(Duration::from_secs(2)))
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => answered += 1,
            Ok(_) => {
                answered += 1;
                failed += u64::from(count_statuses);
            }
            Err(_) => failed += 1,
        }
        tokio::time::sleep(gap.saturating_sub(started.elapsed())).await;
    }
    let measurement = Measurement {
        check: "probe".into(),
        query: format!(
            "GET {url} ×{count} ({} counts as failed)",
            if count_statuses {
                "non-2xx or no answer"
            } else {
                "no answer"
            }
        ),
        observation: Observation::Value(failed as f64 / count.max(1) as f64),
        threshold: Threshold::at_most(request.max_error_rate),
    };
    (Some(measurement), answered)
}

async fn promote(
    gray: &Gray,
    request: &CanaryRequest,
    target: &Target,
    mut report: CanaryReport,
) -> Result<CanaryReport> {
    let (env, service) = (&request.env_id, &request.service);
    gray.close_at_full(env, service, &target.canary).await?;
    if let Some(task) = gray.task(env, service, target.task_id).await?
        && task.status.eq_ignore_ascii_case("running")
    {
        // ReleaseGray's CloseGrayRelease is undocumented; `done` closes the order for certain.
        gray.operate(env, service, task.id, "done").await?;
    }
    let split = gray
        .wait_all_on(env, service, &target.canary, SETTLE)
        .await?;
    if !split.all_on(&target.canary) {
        return Err(Error::Failure(anyhow::anyhow!(
            "the promotion was accepted but the split is {split}, not 100% on {}",
            target.canary
        )));
    }
    report.result = CanaryResult::Promoted;
    report.final_traffic = 100;
    Ok(report)
}

/// Ends a failed or inconclusive run: back to the stable version (go_back, else the split set
/// to 0%), verified; or the split kept with `on_failure: hold`.
async fn fail(
    gray: &Gray,
    request: &CanaryRequest,
    target: &Target,
    mut report: CanaryReport,
    result: CanaryResult,
    check: String,
    reason: String,
) -> Result<CanaryReport> {
    report.failed_check = Some(check);
    report.reason = Some(reason);
    if request.on_failure == OnFailure::Hold {
        report.result = if result == CanaryResult::Inconclusive {
            result
        } else {
            CanaryResult::Held
        };
        return Ok(report);
    }
    let (env, service) = (&request.env_id, &request.service);
    if let Err(error) = gray.operate(env, service, target.task_id, "go_back").await {
        tracing::warn!(
            "go_back failed ({}); setting the split back to the stable version",
            error.message()
        );
        gray.set_split(env, service, &target.stable, &target.canary, 0)
            .await?;
    }
    let split = gray
        .wait_all_on(env, service, &target.stable, SETTLE)
        .await?;
    if !split.all_on(&target.stable) {
        return Err(Error::Failure(anyhow::anyhow!(
            "the rollback was accepted but the split is {split}, not 100% on {}",
            target.stable
        )));
    }
    tracing::info!("rolled back: {split}");
    report.final_traffic = split.share_of(&target.canary);
    report.result = if result == CanaryResult::Inconclusive {
        result
    } else {
        CanaryResult::RolledBack
    };
    report.rolled_back = true;
    Ok(report)
}
