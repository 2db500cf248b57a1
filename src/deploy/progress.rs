//! Reading a release task's progress, and when to look again. Pure.
//!
//! The spec documents step statuses (`todo|running|failed|finished`) and only the example task
//! status `finished`; `failed`, `cancelled`/`canceled` and `rolled_back` are our reading
//! (reference §12), and anything unknown counts as still running until the timeout.

use std::time::Duration;

/// A step of `DescribeServerManageTask.Task.Steps[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepView {
    pub name: String,
    pub status: String,
    pub fail_reason: String,
    /// Seconds the step took, when it has ended.
    pub cost_seconds: Option<i64>,
}

/// The parts of `DescribeServerManageTask.Task` the deploy reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskView {
    pub id: i64,
    pub status: String,
    pub release_type: String,
    pub version_name: String,
    pub pre_version_name: String,
    pub fail_reason: String,
    pub steps: Vec<StepView>,
}

/// Where a release stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Still going; the step that is running, if any.
    Running { step: Option<String> },
    /// A full release finished, or a gray release is deployed and waiting with its share.
    Done,
    /// Failed (or cancelled, or rolled back): the step and why.
    Failed {
        step: Option<String>,
        reason: String,
    },
}

/// Reads the task, and the newest deploy record's status (`deploy_failed`, `build_failed`…).
pub fn assess(task: &TaskView, record_status: Option<&str>, gray: bool) -> Progress {
    let failed_step = task.steps.iter().find(|s| s.status == "failed");
    let status = task.status.to_ascii_lowercase();
    let record_failed = record_status.is_some_and(|s| s.ends_with("_failed") || s == "failed");
    if let Some(step) = failed_step {
        let reason = first_non_empty(&[&step.fail_reason, &task.fail_reason]);
        return Progress::Failed {
            step: Some(step.name.clone()),
            reason: reason.unwrap_or_else(|| format!("step {} failed", step.name)),
        };
    }
    let ended_badly = match status.as_str() {
        "failed" => Some("the release task failed"),
        "cancelled" | "canceled" => Some("the release task was cancelled"),
        "rolled_back" => Some("the release was rolled back"),
        _ if record_failed => Some("the deploy record reports a failure"),
        _ => None,
    };
    if let Some(default) = ended_badly {
        let record = record_status.map(|s| format!("{default} (deploy record: {s})"));
        return Progress::Failed {
            step: running_step(task),
            reason: first_non_empty(&[&task.fail_reason])
                .or(record)
                .unwrap_or_else(|| default.to_string()),
        };
    }
    if status == "finished" || (gray && gray_ready(task)) {
        return Progress::Done;
    }
    Progress::Running {
        step: running_step(task),
    }
}

/// A gray release is ready when every step before the last (the traffic switch, which stays
/// open while the canary runs) has finished.
fn gray_ready(task: &TaskView) -> bool {
    let Some((last, before)) = task.steps.split_last() else {
        return false;
    };
    task.status.eq_ignore_ascii_case("running")
        && before.iter().all(|s| s.status == "finished")
        && matches!(last.status.as_str(), "running" | "finished")
}

fn running_step(task: &TaskView) -> Option<String> {
    task.steps
        .iter()
        .find(|s| s.status == "running")
        .map(|s| s.name.clone())
}

fn first_non_empty(values: &[&String]) -> Option<String> {
    values
        .iter()
        .find(|v| !v.trim().is_empty())
        .map(|v| v.to_string())
}

/// The adaptive poll schedule: ask again soon after something moved (the next step often
/// follows quickly), and otherwise wait a twentieth of the time waited so far, so the wait past
/// a task's end stays under 5% of its duration, within `[min, max]` and never past the deadline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollSchedule {
    pub min: Duration,
    pub max: Duration,
    pub fraction: f64,
}

impl Default for PollSchedule {
    fn default() -> Self {
        PollSchedule {
            min: Duration::from_millis(250),
            max: Duration::from_secs(5),
            fraction: 0.05,
        }
    }
}

impl PollSchedule {
    /// The wait before the next look.
    pub fn next(&self, waited: Duration, moved: bool, remaining: Duration) -> Duration {
        let interval = if moved {
            self.min
        } else {
            waited.mul_f64(self.fraction).clamp(self.min, self.max)
        };
        interval.min(remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, status: &str) -> StepView {
        StepView {
            name: name.into(),
            status: status.into(),
            ..StepView::default()
        }
    }

    fn task(status: &str, steps: &[(&str, &str)]) -> TaskView {
        TaskView {
            status: status.into(),
            steps: steps.iter().map(|(n, s)| step(n, s)).collect(),
            ..TaskView::default()
        }
    }

    #[test]
    fn running_tasks_name_their_step() {
        let t = task(
            "running",
            &[("build_image", "finished"), ("deploy_instance", "running")],
        );
        assert_eq!(
            assess(&t, Some("deploying"), false),
            Progress::Running {
                step: Some("deploy_instance".into())
            }
        );
    }

    #[test]
    fn finished_tasks_are_done() {
        let t = task("finished", &[("build_image", "finished")]);
        assert_eq!(assess(&t, None, false), Progress::Done);
    }

    #[test]
    fn a_failed_step_gives_its_reason() {
        let mut t = task(
            "failed",
            &[("build_image", "finished"), ("deploy_instance", "failed")],
        );
        t.steps[1].fail_reason = "container exited with code 1".into();
        assert_eq!(
            assess(&t, None, false),
            Progress::Failed {
                step: Some("deploy_instance".into()),
                reason: "container exited with code 1".into()
            }
        );
    }

    #[test]
    fn failed_records_and_cancelled_tasks_fail() {
        let t = task("running", &[("build_image", "running")]);
        assert!(matches!(
            assess(&t, Some("build_failed"), false),
            Progress::Failed { reason, .. } if reason.contains("build_failed")
        ));
        let t = task("cancelled", &[]);
        assert!(
            matches!(assess(&t, None, false), Progress::Failed { reason, .. } if reason.contains("cancelled"))
        );
    }

    #[test]
    fn gray_is_done_when_only_the_traffic_step_is_open() {
        let open = task(
            "running",
            &[("build_image", "finished"), ("switch_traffic", "running")],
        );
        assert_eq!(assess(&open, None, true), Progress::Done);
        assert!(matches!(
            assess(&open, None, false),
            Progress::Running { .. }
        ));
        let early = task(
            "running",
            &[("build_image", "running"), ("switch_traffic", "todo")],
        );
        assert!(matches!(
            assess(&early, None, true),
            Progress::Running { .. }
        ));
    }

    #[test]
    fn unknown_statuses_keep_waiting() {
        let t = task("queued", &[]);
        assert_eq!(assess(&t, None, false), Progress::Running { step: None });
    }

    #[test]
    fn the_schedule_adapts_and_respects_the_deadline() {
        let s = PollSchedule::default();
        let long = Duration::from_secs(3600);
        assert_eq!(
            s.next(Duration::ZERO, false, long),
            Duration::from_millis(250)
        );
        assert_eq!(
            s.next(Duration::from_secs(20), false, long),
            Duration::from_secs(1)
        );
        assert_eq!(
            s.next(Duration::from_secs(600), false, long),
            Duration::from_secs(5)
        );
        assert_eq!(
            s.next(Duration::from_secs(600), true, long),
            Duration::from_millis(250)
        );
        assert_eq!(
            s.next(Duration::from_secs(600), false, Duration::from_millis(100)),
            Duration::from_millis(100)
        );
    }
}
