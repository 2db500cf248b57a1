//! Release tasks: the steps a deploy or rollback goes through, and how they advance over
//! emulated time. Pure: every function takes the time it needs.
//!
//! Step names and the task status values `cancelled` / `rolled_back` are the emulator's
//! reading: the public spec documents step statuses (`todo|running|failed|finished`) and the
//! example task status `finished`, nothing more (reference §12).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The steps of a release task, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepName {
    /// Pull (or build) the image.
    BuildImage,
    /// Record the version and its configuration.
    CreateVersion,
    /// Start the version's instances and wait until they are ready.
    DeployInstance,
    /// Move traffic: to 100% for a full release; for a gray release the step stays running
    /// while the canary is open, until `ReleaseGray` to 100% / `done`, `go_back` or `cancel`.
    SwitchTraffic,
}

impl StepName {
    pub const ALL: [StepName; 4] = [
        StepName::BuildImage,
        StepName::CreateVersion,
        StepName::DeployInstance,
        StepName::SwitchTraffic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepName::BuildImage => "build_image",
            StepName::CreateVersion => "create_version",
            StepName::DeployInstance => "deploy_instance",
            StepName::SwitchTraffic => "switch_traffic",
        }
    }

    /// Emulated milliseconds the step takes at speed 1 (a release takes about three seconds).
    pub fn duration_ms(self) -> u64 {
        match self {
            StepName::BuildImage => 600,
            StepName::CreateVersion => 400,
            StepName::DeployInstance => 1_600,
            StepName::SwitchTraffic => 400,
        }
    }
}

impl fmt::Display for StepName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `TaskStepInfo.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Todo,
    Running,
    Failed,
    Finished,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Todo => "todo",
            StepStatus::Running => "running",
            StepStatus::Failed => "failed",
            StepStatus::Finished => "finished",
        }
    }
}

/// `ServerManageTaskInfo.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Running,
    Finished,
    Failed,
    Cancelled,
    RolledBack,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Running => "running",
            TaskStatus::Finished => "finished",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::RolledBack => "rolled_back",
        }
    }
}

/// One step with its times (emulated ms for the schedule, wall stamps for the API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: StepName,
    pub status: StepStatus,
    pub started_emu: Option<u64>,
    pub ended_emu: Option<u64>,
    pub start_time: String,
    pub end_time: String,
    pub fail_reason: String,
}

/// How a task will end, decided when it is created (synthetic app behaviour and faults).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The task fails when this step's time is up.
    pub fail_at: Option<(StepName, String)>,
    /// The task never leaves this step.
    pub stuck_at: Option<StepName>,
    /// A gray release: the last step waits for the operator.
    pub gray: bool,
    /// Steps that also wait for the container engine's word (the version runs as a real
    /// container): they end when their time is up and the engine has answered.
    #[serde(default)]
    pub awaiting: Vec<StepName>,
}

/// What changed when a task was advanced, for the caller to apply to the service.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    StepStarted(StepName),
    StepFinished(StepName),
    /// The deploy steps are done; a gray release now waits with the canary open.
    GrayReady,
    Finished,
    Failed(StepName, String),
}

/// The step machine of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub steps: Vec<Step>,
    pub outcome: Outcome,
    pub status: TaskStatus,
    pub fail_reason: String,
    /// Emulated time up to which the steps have been advanced.
    pub advanced_to: u64,
}

impl Progress {
    /// A task that starts at `now_emu` with the given steps.
    pub fn start(steps: &[StepName], outcome: Outcome, now_emu: u64) -> Self {
        let steps = steps
            .iter()
            .map(|name| Step {
                name: *name,
                status: StepStatus::Todo,
                started_emu: None,
                ended_emu: None,
                start_time: String::new(),
                end_time: String::new(),
                fail_reason: String::new(),
            })
            .collect();
        Progress {
            steps,
            outcome,
            status: TaskStatus::Running,
            fail_reason: String::new(),
            advanced_to: now_emu,
        }
    }

    /// True while the gray canary is open: deploy steps finished, traffic step waiting.
    pub fn gray_open(&self) -> bool {
        self.status == TaskStatus::Running
            && self.outcome.gray
            && self.steps.last().is_some_and(|s| {
                s.name == StepName::SwitchTraffic && s.status == StepStatus::Running
            })
            && self.steps[..self.steps.len() - 1]
                .iter()
                .all(|s| s.status == StepStatus::Finished)
    }

    /// Advances the steps to `now_emu`, stamping with `stamp` (the wall time of this reading).
    /// Steps chain: a step starts when the one before it ends, at that emulated moment.
    pub fn advance(&mut self, now_emu: u64, stamp: &str) -> Vec<Transition> {
        let mut transitions = Vec::new();
        while self.status == TaskStatus::Running {
            let Some(index) = self
                .steps
                .iter()
                .position(|s| matches!(s.status, StepStatus::Todo | StepStatus::Running))
            else {
                self.status = TaskStatus::Finished;
                transitions.push(Transition::Finished);
                break;
            };
            if !self.advance_step(index, now_emu, stamp, &mut transitions) {
                break;
            }
        }
        self.advanced_to = self.advanced_to.max(now_emu);
        transitions
    }

    /// Moves one step on; returns false when it has to wait for time or the operator.
    fn advance_step(
        &mut self,
        index: usize,
        now_emu: u64,
        stamp: &str,
        transitions: &mut Vec<Transition>,
    ) -> bool {
        let begin = match index {
            0 => self.advanced_to.min(now_emu),
            _ => self.steps[index - 1].ended_emu.unwrap_or(now_emu),
        };
        let step = &mut self.steps[index];
        if step.status == StepStatus::Todo {
            step.status = StepStatus::Running;
            step.started_emu = Some(begin);
            step.start_time = stamp.to_string();
            transitions.push(Transition::StepStarted(step.name));
        }
        let name = step.name;
        let started = step.started_emu.unwrap_or(begin);
        if self.outcome.stuck_at == Some(name) {
            return false;
        }
        let last = index + 1 == self.steps.len();
        if last && self.outcome.gray && self.outcome.fail_at.is_none() {
            if !transitions.contains(&Transition::GrayReady) && step_started_now(transitions, name)
            {
                transitions.push(Transition::GrayReady);
            }
            return false;
        }
        let due = started + name.duration_ms();
        if now_emu < due || self.waits_for_engine(name) {
            return false;
        }
        let step = &mut self.steps[index];
        step.ended_emu = Some(due);
        step.end_time = stamp.to_string();
        match &self.outcome.fail_at {
            Some((at, reason)) if *at == name => {
                step.status = StepStatus::Failed;
                step.fail_reason = reason.clone();
                self.status = TaskStatus::Failed;
                self.fail_reason = reason.clone();
                transitions.push(Transition::Failed(name, reason.clone()));
            }
            _ => {
                step.status = StepStatus::Finished;
                transitions.push(Transition::StepFinished(name));
            }
        }
        true
    }

    /// True while `step` waits for the engine (an injected failure at that step does not wait).
    fn waits_for_engine(&self, step: StepName) -> bool {
        self.outcome.awaiting.contains(&step)
            && !matches!(&self.outcome.fail_at, Some((at, _)) if *at == step)
    }

    /// The engine's word on an awaited step: done, or failed with a reason. A failure takes
    /// the place of any failure planned for a later step.
    pub fn engine_answered(&mut self, step: StepName, answer: Result<(), String>) {
        self.outcome.awaiting.retain(|s| *s != step);
        if let Err(reason) = answer {
            let order = |s: StepName| StepName::ALL.iter().position(|x| *x == s);
            let earlier = match &self.outcome.fail_at {
                Some((at, _)) => order(step) < order(*at),
                None => true,
            };
            if earlier {
                self.outcome.fail_at = Some((step, reason));
            }
        }
    }

    /// Ends the task by the operator's hand (promote, cancel, go_back) at `now_emu`.
    pub fn close(&mut self, status: TaskStatus, now_emu: u64, stamp: &str, reason: &str) {
        for step in &mut self.steps {
            match step.status {
                StepStatus::Running if status == TaskStatus::Finished => {
                    step.status = StepStatus::Finished;
                }
                StepStatus::Running => {
                    step.status = StepStatus::Failed;
                    step.fail_reason = reason.to_string();
                }
                _ => continue,
            }
            step.ended_emu = Some(now_emu);
            step.end_time = stamp.to_string();
        }
        self.status = status;
        if status != TaskStatus::Finished {
            self.fail_reason = reason.to_string();
        }
        self.advanced_to = self.advanced_to.max(now_emu);
    }

    /// Seconds a step took (emulated), for `TaskStepInfo.CostTime`.
    pub fn cost_seconds(step: &Step) -> i64 {
        match (step.started_emu, step.ended_emu) {
            (Some(start), Some(end)) => ((end - start) / 1000) as i64,
            _ => 0,
        }
    }
}

fn step_started_now(transitions: &[Transition], name: StepName) -> bool {
    transitions.contains(&Transition::StepStarted(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(outcome: Outcome) -> Progress {
        Progress::start(&StepName::ALL, outcome, 0)
    }

    #[test]
    fn a_full_release_walks_every_step_then_finishes() {
        let mut task = full(Outcome::default());
        let first = task.advance(0, "t0");
        assert_eq!(first, vec![Transition::StepStarted(StepName::BuildImage)]);
        task.advance(700, "t1");
        assert_eq!(task.steps[0].status, StepStatus::Finished);
        assert_eq!(task.steps[1].status, StepStatus::Running);
        let total: u64 = StepName::ALL.iter().map(|s| s.duration_ms()).sum();
        let last = task.advance(total, "t2");
        assert_eq!(task.status, TaskStatus::Finished);
        assert_eq!(last.last(), Some(&Transition::Finished));
        assert!(task.steps.iter().all(|s| s.status == StepStatus::Finished));
    }

    #[test]
    fn one_late_reading_catches_up_on_every_step() {
        let mut task = full(Outcome::default());
        let transitions = task.advance(60_000, "late");
        assert_eq!(task.status, TaskStatus::Finished);
        assert_eq!(transitions.len(), 4 * 2 + 1);
        assert_eq!(task.steps[1].started_emu, Some(600));
    }

    #[test]
    fn a_failing_step_fails_the_task_with_its_reason() {
        let mut task = full(Outcome {
            fail_at: Some((StepName::DeployInstance, "crashed".into())),
            ..Outcome::default()
        });
        let transitions = task.advance(60_000, "t");
        assert_eq!(task.status, TaskStatus::Failed);
        assert_eq!(task.fail_reason, "crashed");
        assert_eq!(task.steps[2].status, StepStatus::Failed);
        assert_eq!(task.steps[3].status, StepStatus::Todo);
        assert!(transitions.contains(&Transition::Failed(
            StepName::DeployInstance,
            "crashed".into()
        )));
    }

    #[test]
    fn a_stuck_task_never_finishes() {
        let mut task = full(Outcome {
            stuck_at: Some(StepName::CreateVersion),
            ..Outcome::default()
        });
        task.advance(10_000_000, "t");
        assert_eq!(task.status, TaskStatus::Running);
        assert_eq!(task.steps[1].status, StepStatus::Running);
    }

    #[test]
    fn a_gray_release_waits_with_the_canary_open_until_closed() {
        let mut task = full(Outcome {
            gray: true,
            ..Outcome::default()
        });
        assert!(!task.gray_open());
        let transitions = task.advance(60_000, "t");
        assert!(transitions.contains(&Transition::GrayReady));
        assert!(task.gray_open());
        assert!(task.advance(120_000, "t").is_empty());
        task.close(TaskStatus::Finished, 130_000, "t", "");
        assert_eq!(task.status, TaskStatus::Finished);
        assert!(task.steps.iter().all(|s| s.status == StepStatus::Finished));
    }

    #[test]
    fn awaited_steps_end_only_when_the_engine_answers() {
        let mut task = full(Outcome {
            awaiting: vec![StepName::BuildImage, StepName::DeployInstance],
            ..Outcome::default()
        });
        task.advance(60_000, "t");
        assert_eq!(
            task.steps[0].status,
            StepStatus::Running,
            "waits for the pull"
        );
        task.engine_answered(StepName::BuildImage, Ok(()));
        task.advance(61_000, "t");
        assert_eq!(task.steps[0].status, StepStatus::Finished);
        assert_eq!(
            task.steps[2].status,
            StepStatus::Running,
            "waits for the container"
        );
        task.engine_answered(StepName::DeployInstance, Err("exited with code 3".into()));
        task.advance(62_000, "t");
        assert_eq!(task.status, TaskStatus::Failed);
        assert_eq!(task.steps[2].fail_reason, "exited with code 3");
    }

    #[test]
    fn cancel_marks_the_running_step_failed() {
        let mut task = full(Outcome::default());
        task.advance(100, "t");
        task.close(TaskStatus::Cancelled, 200, "t", "cancelled by operator");
        assert_eq!(task.status, TaskStatus::Cancelled);
        assert_eq!(task.steps[0].status, StepStatus::Failed);
        assert_eq!(task.steps[1].status, StepStatus::Todo);
    }
}
