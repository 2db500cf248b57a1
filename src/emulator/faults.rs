//! Fault injection: rules set from the `--faults` file or `POST /_emulator/faults`, drawn with
//! the emulator's seed so a run with faults repeats exactly.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::rng::SeededRng;
use super::task::StepName;

/// The faults file and the control endpoint's body: `{"rules": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSet {
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Adds `ms` milliseconds before answering.
    Latency,
    /// Answers `RequestLimitExceeded`.
    Throttle,
    /// Answers `InternalError` (API) or HTTP 500 (gateway).
    InternalError,
    /// Closes the connection without an answer.
    Drop,
    /// Answers `ResourceInUse`, as when another release is running.
    ResourceInUse,
    /// The next release task fails at `step`.
    TaskFail,
    /// The next release task never finishes: it stays running at `step`.
    TaskStuck,
    /// The next release task fails at its build step, and the version is `build_failed`.
    BuildFail,
}

/// Where a request-level fault applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    #[default]
    Api,
    Gateway,
}

/// One rule. Filters left out match everything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    pub kind: FaultKind,
    /// Milliseconds of added latency (`latency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    /// The task step (`task_fail`, `task_stuck`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepName>,
    /// `api` (default) or `gateway`, for latency, internal_error and drop.
    #[serde(default)]
    pub target: Target,
    /// Only this API action (e.g. `UpdateCloudRunServer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Only this service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Chance that a matching request is hit, 0 to 1 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// How many more times the rule applies (default: always).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// The message of the error or failure, instead of the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A fault set that cannot be applied, with what to change.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("fault rule {index} ({kind:?}): {problem}")]
pub struct FaultError {
    pub index: usize,
    pub kind: FaultKind,
    pub problem: String,
}

impl FaultSet {
    /// Parses and checks a fault set (the file or the control endpoint's body).
    pub fn parse(json: &str) -> Result<FaultSet, String> {
        let set: FaultSet = serde_json::from_str(json).map_err(|e| e.to_string())?;
        set.validate().map_err(|e| e.to_string())?;
        Ok(set)
    }

    /// Checks each rule carries what its kind needs.
    pub fn validate(&self) -> Result<(), FaultError> {
        for (index, rule) in self.rules.iter().enumerate() {
            if let Some(problem) = rule.problem() {
                return Err(FaultError {
                    index,
                    kind: rule.kind,
                    problem,
                });
            }
        }
        Ok(())
    }
}

impl FaultRule {
    fn problem(&self) -> Option<String> {
        use FaultKind::*;
        if let Some(p) = self.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Some(format!("probability {p} is outside 0..1"));
        }
        match self.kind {
            Latency if self.ms.is_none() => Some("needs `ms`, the added milliseconds".into()),
            TaskFail | TaskStuck if self.step.is_none() => Some(
                "needs `step`: build_image, create_version, deploy_instance or switch_traffic"
                    .into(),
            ),
            Throttle | ResourceInUse | TaskFail | TaskStuck | BuildFail
                if self.target == Target::Gateway =>
            {
                Some("applies to the API only; remove `target: gateway`".into())
            }
            _ => None,
        }
    }

    fn matches(&self, target: Target, action: Option<&str>, service: Option<&str>) -> bool {
        let task_rule = matches!(
            self.kind,
            FaultKind::TaskFail | FaultKind::TaskStuck | FaultKind::BuildFail
        );
        let target_ok = if task_rule {
            action.is_none() && target == Target::Api
        } else {
            self.target == target && (target == Target::Gateway || action.is_some())
        };
        target_ok
            && self
                .action
                .as_deref()
                .is_none_or(|a| Some(a) == action || task_rule)
            && self.service.as_deref().is_none_or(|s| Some(s) == service)
    }
}

/// What happens to one API request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestFaults {
    pub latency: Duration,
    pub outcome: Option<RequestFault>,
}

/// A fault that replaces the answer.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestFault {
    Throttle(Option<String>),
    InternalError(Option<String>),
    Drop,
    ResourceInUse(Option<String>),
}

/// What happens to a release task when it is created.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskFaults {
    /// Fail at this step with this reason; `true` when it is a build failure.
    pub fail_at: Option<(StepName, String, bool)>,
    /// Stay running at this step forever.
    pub stuck_at: Option<StepName>,
}

/// The live fault rules and the seeded generator that draws them.
#[derive(Debug, Clone)]
pub struct Faults {
    set: FaultSet,
    rng: SeededRng,
}

impl Faults {
    pub fn new(set: FaultSet, seed: u64) -> Self {
        Faults {
            set,
            rng: SeededRng::derive(seed, "faults"),
        }
    }

    pub fn set(&self) -> &FaultSet {
        &self.set
    }

    pub fn replace(&mut self, set: FaultSet) {
        self.set = set;
    }

    /// Faults for one API request.
    pub fn for_api(&mut self, action: &str, service: Option<&str>) -> RequestFaults {
        self.request_faults(Target::Api, Some(action), service)
    }

    /// Faults for one gateway request.
    pub fn for_gateway(&mut self, service: &str) -> RequestFaults {
        self.request_faults(Target::Gateway, None, Some(service))
    }

    fn request_faults(
        &mut self,
        target: Target,
        action: Option<&str>,
        service: Option<&str>,
    ) -> RequestFaults {
        let mut faults = RequestFaults::default();
        self.fire(target, action, service, |rule| match rule.kind {
            FaultKind::Latency => {
                faults.latency += Duration::from_millis(rule.ms.unwrap_or(0));
                true
            }
            kind if faults.outcome.is_none() => {
                faults.outcome = request_fault(kind, rule.message.clone());
                faults.outcome.is_some()
            }
            _ => false,
        });
        faults
    }

    /// Faults for a release task of `service` created now.
    pub fn for_task(&mut self, service: &str) -> TaskFaults {
        let mut faults = TaskFaults::default();
        self.fire(Target::Api, None, Some(service), |rule| {
            let message = rule.message.clone();
            match (rule.kind, rule.step) {
                (FaultKind::BuildFail, _) if faults.fail_at.is_none() => {
                    let reason = message.unwrap_or_else(|| "build failed (injected fault)".into());
                    faults.fail_at = Some((StepName::BuildImage, reason, true));
                    true
                }
                (FaultKind::TaskFail, Some(step)) if faults.fail_at.is_none() => {
                    let reason =
                        message.unwrap_or_else(|| format!("{step} failed (injected fault)"));
                    faults.fail_at = Some((step, reason, false));
                    true
                }
                (FaultKind::TaskStuck, Some(step)) if faults.stuck_at.is_none() => {
                    faults.stuck_at = Some(step);
                    true
                }
                _ => false,
            }
        });
        faults
    }

    /// Offers each rule that matches and is drawn this time to `apply`; a rule `apply` takes
    /// spends one of its `times` (a rule that had no effect is not spent).
    fn fire(
        &mut self,
        target: Target,
        action: Option<&str>,
        service: Option<&str>,
        mut apply: impl FnMut(&FaultRule) -> bool,
    ) {
        for rule in &mut self.set.rules {
            if rule.times == Some(0) || !rule.matches(target, action, service) {
                continue;
            }
            if !self.rng.chance(rule.probability.unwrap_or(1.0)) {
                continue;
            }
            if apply(rule)
                && let Some(times) = rule.times.as_mut()
            {
                *times -= 1;
            }
        }
    }
}

fn request_fault(kind: FaultKind, message: Option<String>) -> Option<RequestFault> {
    match kind {
        FaultKind::Throttle => Some(RequestFault::Throttle(message)),
        FaultKind::InternalError => Some(RequestFault::InternalError(message)),
        FaultKind::Drop => Some(RequestFault::Drop),
        FaultKind::ResourceInUse => Some(RequestFault::ResourceInUse(message)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(json: &str) -> Faults {
        Faults::new(FaultSet::parse(json).unwrap(), 1)
    }

    #[test]
    fn a_throttle_rule_hits_only_its_action_and_only_as_often_as_told() {
        let mut f =
            faults(r#"{"rules":[{"kind":"throttle","action":"UpdateCloudRunServer","times":1}]}"#);
        assert_eq!(f.for_api("DescribeCloudRunServers", None).outcome, None);
        assert_eq!(
            f.for_api("UpdateCloudRunServer", Some("api")).outcome,
            Some(RequestFault::Throttle(None))
        );
        assert_eq!(f.for_api("UpdateCloudRunServer", Some("api")).outcome, None);
    }

    #[test]
    fn latency_adds_up_and_gateway_rules_stay_off_the_api() {
        let mut f = faults(
            r#"{"rules":[{"kind":"latency","ms":30},{"kind":"latency","ms":20},
                {"kind":"drop","target":"gateway","service":"web"}]}"#,
        );
        let api = f.for_api("DescribeCloudRunServers", None);
        assert_eq!(api.latency, Duration::from_millis(50));
        assert_eq!(api.outcome, None);
        assert_eq!(f.for_gateway("web").outcome, Some(RequestFault::Drop));
        assert_eq!(f.for_gateway("other").outcome, None);
    }

    #[test]
    fn task_rules_shape_the_next_task_only() {
        let mut f = faults(
            r#"{"rules":[{"kind":"task_fail","step":"deploy_instance","times":1,"message":"boom"},
                {"kind":"task_stuck","step":"switch_traffic","service":"slow"}]}"#,
        );
        let first = f.for_task("web");
        assert_eq!(
            first.fail_at,
            Some((StepName::DeployInstance, "boom".into(), false))
        );
        assert_eq!(f.for_task("web"), TaskFaults::default());
        assert_eq!(f.for_task("slow").stuck_at, Some(StepName::SwitchTraffic));
        assert_eq!(f.for_api("UpdateCloudRunServer", Some("web")).outcome, None);
    }

    #[test]
    fn a_rule_that_had_no_effect_is_not_spent() {
        let mut f = faults(
            r#"{"rules":[{"kind":"throttle","times":1},{"kind":"internal_error","times":1}]}"#,
        );
        let outcomes: Vec<_> = (0..3).map(|_| f.for_api("X", None).outcome).collect();
        assert_eq!(
            outcomes,
            [
                Some(RequestFault::Throttle(None)),
                Some(RequestFault::InternalError(None)),
                None
            ]
        );
    }

    #[test]
    fn invalid_rules_say_what_is_missing() {
        let err = FaultSet::parse(r#"{"rules":[{"kind":"latency"}]}"#).unwrap_err();
        assert!(err.contains("needs `ms`"), "{err}");
        let err =
            FaultSet::parse(r#"{"rules":[{"kind":"throttle","probability":2}]}"#).unwrap_err();
        assert!(err.contains("outside 0..1"), "{err}");
        assert!(FaultSet::parse(r#"{"rules":[{"kind":"nope"}]}"#).is_err());
        assert!(FaultSet::parse(r#"{"rules":[],"extra":1}"#).is_err());
    }

    #[test]
    fn probability_is_drawn_from_the_seed() {
        let json = r#"{"rules":[{"kind":"internal_error","probability":0.5}]}"#;
        let draw = |seed| {
            let mut f = Faults::new(FaultSet::parse(json).unwrap(), seed);
            (0..64)
                .map(|_| f.for_api("X", None).outcome.is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        let hits = draw(3).iter().filter(|h| **h).count();
        assert!((16..48).contains(&hits), "{hits}");
    }
}
