//! The canary's judgement: what one analysis of a step means, and what to do next. Pure.
//!
//! A check that could not be measured (a query error, no series, NaN, too few requests) is
//! *inconclusive*, never a failure: Flagger counts "no values" as a failed check and rolls back
//! idle canaries; we count it against its own budget instead.

use std::fmt;

/// What a check measured.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// A number (±Inf included: p99 = +Inf breaches any maximum).
    Value(f64),
    /// No series, or NaN (usually 0/0: no requests in the window).
    NoData,
    /// The measurement itself failed: transport, HTTP status, `status: error`, ambiguous result.
    Error(String),
}

impl Observation {
    /// NaN is no data, whatever produced it.
    pub fn from_value(value: f64) -> Self {
        if value.is_nan() {
            Observation::NoData
        } else {
            Observation::Value(value)
        }
    }
}

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Observation::Value(v) if v.is_infinite() => write!(f, "{v}"),
            Observation::Value(v) => write!(f, "{}", round(*v)),
            Observation::NoData => write!(f, "no data"),
            Observation::Error(e) => write!(f, "error: {e}"),
        }
    }
}

/// Four significant decimals are enough to read, and stable to print.
fn round(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// The side of the limit a value must stay on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// value ≤ limit passes.
    AtMost,
    /// value ≥ limit passes.
    AtLeast,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    pub bound: Bound,
    pub limit: f64,
}

impl Threshold {
    pub fn at_most(limit: f64) -> Self {
        Threshold {
            bound: Bound::AtMost,
            limit,
        }
    }

    pub fn at_least(limit: f64) -> Self {
        Threshold {
            bound: Bound::AtLeast,
            limit,
        }
    }

    pub fn holds(&self, value: f64) -> bool {
        match self.bound {
            Bound::AtMost => value <= self.limit,
            Bound::AtLeast => value >= self.limit,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.bound {
            Bound::AtMost => write!(f, "≤ {}", self.limit),
            Bound::AtLeast => write!(f, "≥ {}", self.limit),
        }
    }
}

/// One check's measurement in one analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    pub check: String,
    /// The resolved query (or what was probed), for the report.
    pub query: String,
    pub observation: Observation,
    pub threshold: Threshold,
}

/// One check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

impl Measurement {
    pub fn verdict(&self) -> Verdict {
        match self.observation {
            Observation::Value(v) if v.is_nan() => Verdict::Inconclusive,
            Observation::Value(v) if self.threshold.holds(v) => Verdict::Pass,
            Observation::Value(_) => Verdict::Fail,
            Observation::NoData | Observation::Error(_) => Verdict::Inconclusive,
        }
    }
}

/// Everything measured after one step's interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Requests the canary answered in the window (no series means none).
    pub canary_requests: Observation,
    pub measurements: Vec<Measurement>,
}

/// Limits on what is tolerated before the run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    /// Failed analyses tolerated; one more rolls back.
    pub failures: u32,
    /// Inconclusive analyses tolerated; one more ends the run inconclusive.
    pub inconclusive: u32,
    /// Fewest canary requests for the metrics to be judged at all.
    pub min_requests: u64,
}

/// Failed and inconclusive analyses so far in this run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub failures: u32,
    pub inconclusive: u32,
}

/// What to do after an analysis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The step passed: go to the next step (or promote after the last).
    Promote,
    /// Stay at this split and analyse again after another interval.
    Hold { reason: String },
    /// The canary failed beyond the failure budget.
    RollBack { check: String, reason: String },
    /// Too many analyses could not judge the canary.
    Inconclusive { check: String, reason: String },
}

impl Decision {
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Promote => "promote",
            Decision::Hold { .. } => "hold",
            Decision::RollBack { .. } => "roll back",
            Decision::Inconclusive { .. } => "inconclusive",
        }
    }
}

/// The name the request-count guard reports under.
pub const REQUESTS_CHECK: &str = "requests";

/// Judges one analysis. Too few canary requests make every metric meaningless, so that is
/// inconclusive before anything is judged. Then failures come first: a canary failing one check
/// is failing whatever else could not be measured.
pub fn decide(analysis: &Analysis, budgets: &Budgets, tally: Tally) -> (Decision, Tally) {
    let mut tally = tally;
    if let Some(reason) = too_few_requests(analysis, budgets) {
        return inconclusive(REQUESTS_CHECK, reason, budgets, tally);
    }
    if let Some(failed) = analysis
        .measurements
        .iter()
        .find(|m| m.verdict() == Verdict::Fail)
    {
        tally.failures += 1;
        let reason = format!(
            "{} = {} breaks {} ({})",
            failed.check,
            failed.observation,
            failed.threshold,
            against_budget("failed analysis", tally.failures, budgets.failures)
        );
        let decision = if tally.failures > budgets.failures {
            Decision::RollBack {
                check: failed.check.clone(),
                reason,
            }
        } else {
            Decision::Hold { reason }
        };
        return (decision, tally);
    }
    if let Some(unsure) = analysis
        .measurements
        .iter()
        .find(|m| m.verdict() == Verdict::Inconclusive)
    {
        let reason = format!("{}: {}", unsure.check, unsure.observation);
        return inconclusive(&unsure.check, reason, budgets, tally);
    }
    (Decision::Promote, tally)
}

/// Where a count stands against its budget, in words that read right for a budget of 0:
/// "failed analysis 1, more than the 0 tolerated" / "failed analysis 1 of 2 tolerated".
fn against_budget(what: &str, count: u32, budget: u32) -> String {
    if count > budget {
        format!("{what} {count}, more than the {budget} tolerated")
    } else {
        format!("{what} {count} of {budget} tolerated")
    }
}

fn too_few_requests(analysis: &Analysis, budgets: &Budgets) -> Option<String> {
    if budgets.min_requests == 0 {
        return None;
    }
    let count = match &analysis.canary_requests {
        Observation::Value(n) if n.is_finite() => n.max(0.0).round() as u64,
        Observation::Value(_) | Observation::NoData => 0,
        Observation::Error(e) => {
            return Some(format!("the canary's requests could not be counted: {e}"));
        }
    };
    (count < budgets.min_requests).then(|| {
        format!(
            "the canary answered {count} requests, fewer than min_requests {}",
            budgets.min_requests
        )
    })
}

fn inconclusive(check: &str, reason: String, budgets: &Budgets, tally: Tally) -> (Decision, Tally) {
    let tally = Tally {
        inconclusive: tally.inconclusive + 1,
        ..tally
    };
    let reason = format!(
        "{reason} ({})",
        against_budget(
            "inconclusive analysis",
            tally.inconclusive,
            budgets.inconclusive
        )
    );
    let decision = if tally.inconclusive > budgets.inconclusive {
        Decision::Inconclusive {
            check: check.to_string(),
            reason,
        }
    } else {
        Decision::Hold { reason }
    };
    (decision, tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(check: &str, observation: Observation, threshold: Threshold) -> Measurement {
        Measurement {
            check: check.into(),
            query: String::new(),
            observation,
            threshold,
        }
    }

    fn error_rate(o: Observation) -> Measurement {
        m("error_rate", o, Threshold::at_most(0.01))
    }

    fn p99(o: Observation) -> Measurement {
        m("p99_ms", o, Threshold::at_most(300.0))
    }

    const BUDGETS: Budgets = Budgets {
        failures: 0,
        inconclusive: 2,
        min_requests: 20,
    };

    use Observation::{Error, NoData, Value};

    #[test]
    fn verdicts_by_observation() {
        let cases = [
            (Value(0.0), Verdict::Pass),
            (Value(0.01), Verdict::Pass),
            (Value(0.2), Verdict::Fail),
            (Value(f64::INFINITY), Verdict::Fail),
            (Value(f64::NEG_INFINITY), Verdict::Pass),
            (Value(f64::NAN), Verdict::Inconclusive),
            (NoData, Verdict::Inconclusive),
            (Error("HTTP 503".into()), Verdict::Inconclusive),
        ];
        for (observation, expected) in cases {
            let label = format!("{observation:?}");
            assert_eq!(error_rate(observation).verdict(), expected, "{label}");
        }
        let min = m("success", Value(0.9), Threshold::at_least(0.95));
        assert_eq!(min.verdict(), Verdict::Fail);
        assert_eq!(Observation::from_value(f64::NAN), NoData);
    }

    #[test]
    fn decisions_by_analysis_and_tally() {
        struct Case {
            name: &'static str,
            requests: Observation,
            measurements: Vec<Measurement>,
            tally: Tally,
            expect: &'static str,
            check: Option<&'static str>,
            after: Tally,
        }
        let t = |failures, inconclusive| Tally {
            failures,
            inconclusive,
        };
        let cases = vec![
            Case {
                name: "all pass",
                requests: Value(500.0),
                measurements: vec![error_rate(Value(0.0)), p99(Value(12.0))],
                tally: t(0, 0),
                expect: "promote",
                check: None,
                after: t(0, 0),
            },
            Case {
                name: "error rate breach with no failure budget rolls back",
                requests: Value(500.0),
                measurements: vec![error_rate(Value(0.2)), p99(Value(12.0))],
                tally: t(0, 0),
                expect: "roll back",
                check: Some("error_rate"),
                after: t(1, 0),
            },
            Case {
                name: "a failure beats an inconclusive check",
                requests: Value(500.0),
                measurements: vec![error_rate(Error("timeout".into())), p99(Value(990.0))],
                tally: t(0, 0),
                expect: "roll back",
                check: Some("p99_ms"),
                after: t(1, 0),
            },
            Case {
                name: "too few requests is inconclusive, even with a breach",
                requests: Value(3.0),
                measurements: vec![error_rate(Value(0.5))],
                tally: t(0, 0),
                expect: "hold",
                check: None,
                after: t(0, 1),
            },
            Case {
                name: "uncountable requests are inconclusive",
                requests: Error("cannot connect to Prometheus".into()),
                measurements: vec![error_rate(NoData)],
                tally: t(0, 0),
                expect: "hold",
                check: None,
                after: t(0, 1),
            },
            Case {
                name: "NaN is inconclusive, not a failure",
                requests: Value(100.0),
                measurements: vec![error_rate(Value(f64::NAN))],
                tally: t(0, 1),
                expect: "hold",
                check: None,
                after: t(0, 2),
            },
            Case {
                name: "query errors past the inconclusive budget end the run",
                requests: Value(100.0),
                measurements: vec![error_rate(Error("connection refused".into()))],
                tally: t(0, 2),
                expect: "inconclusive",
                check: Some("error_rate"),
                after: t(0, 3),
            },
            Case {
                name: "idle canary past the budget ends inconclusive on the guard",
                requests: NoData,
                measurements: vec![error_rate(NoData)],
                tally: t(0, 2),
                expect: "inconclusive",
                check: Some(REQUESTS_CHECK),
                after: t(0, 3),
            },
        ];
        for case in cases {
            let analysis = Analysis {
                canary_requests: case.requests,
                measurements: case.measurements,
            };
            let (decision, after) = decide(&analysis, &BUDGETS, case.tally);
            assert_eq!(decision.as_str(), case.expect, "{}", case.name);
            assert_eq!(after, case.after, "{}", case.name);
            let check = match &decision {
                Decision::RollBack { check, .. } | Decision::Inconclusive { check, .. } => {
                    Some(check.as_str())
                }
                _ => None,
            };
            assert_eq!(check, case.check, "{}", case.name);
        }
    }

    #[test]
    fn a_failure_budget_holds_before_rolling_back() {
        let budgets = Budgets {
            failures: 1,
            ..BUDGETS
        };
        let analysis = Analysis {
            canary_requests: Value(100.0),
            measurements: vec![error_rate(Value(0.3))],
        };
        let (first, tally) = decide(&analysis, &budgets, Tally::default());
        assert!(matches!(first, Decision::Hold { .. }));
        let (second, _) = decide(&analysis, &budgets, tally);
        assert!(matches!(second, Decision::RollBack { .. }));
    }

    #[test]
    fn no_request_guard_when_min_requests_is_zero() {
        let budgets = Budgets {
            min_requests: 0,
            ..BUDGETS
        };
        let analysis = Analysis {
            canary_requests: Error("down".into()),
            measurements: vec![error_rate(Value(0.0))],
        };
        assert_eq!(
            decide(&analysis, &budgets, Tally::default()).0,
            Decision::Promote
        );
    }
}
