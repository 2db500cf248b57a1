//! The canary request: every input validated before anything is called, and the checks it
//! asks for (built-in templates and custom queries) with their PromQL. Pure.

use std::time::Duration;

use super::decision::{Budgets, Threshold};
use crate::cli::{CanaryPromoteArgs, OnFailure};
use crate::config::limits;
use crate::error::{Error, Result};

/// A check on Prometheus: a PromQL template and the limit its value must keep.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: String,
    /// PromQL with `{{env}}`, `{{service}}`, `{{version}}`, `{{stable}}`, `{{window}}`.
    pub template: String,
    pub threshold: Threshold,
}

/// What the templates are filled with for one analysis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryScope {
    pub env: String,
    pub service: String,
    pub version: String,
    pub stable: String,
    /// A PromQL range, e.g. `30s`.
    pub window: String,
}

impl QueryScope {
    pub fn resolve(&self, template: &str) -> String {
        template
            .replace("{{env}}", &self.env)
            .replace("{{service}}", &self.service)
            .replace("{{version}}", &self.version)
            .replace("{{stable}}", &self.stable)
            .replace("{{window}}", &self.window)
    }
}

/// The emulator's (and our documented) metric names; labels `env`, `service`, `version`.
const SELECTOR: &str = r#"env="{{env}}",service="{{service}}",version="{{V}}""#;

fn selector(version: &str) -> String {
    SELECTOR.replace("{{V}}", version)
}

/// Requests answered by `version` in the window.
pub fn requests_query(version: &str) -> String {
    format!(
        "sum(increase(tcb_gateway_requests_total{{{}}}[{{{{window}}}}]))",
        selector(version)
    )
}

fn error_rate_query(version: &str) -> String {
    let s = selector(version);
    format!(
        "sum(rate(tcb_gateway_errors_total{{{s}}}[{{{{window}}}}])) / sum(rate(tcb_gateway_requests_total{{{s}}}[{{{{window}}}}]))"
    )
}

fn p99_ms_query(version: &str) -> String {
    format!(
        "histogram_quantile(0.99, sum by (le) (rate(tcb_gateway_request_duration_seconds_bucket{{{}}}[{{{{window}}}}]))) * 1000",
        selector(version)
    )
}

/// The built-in checks: `error_rate` and (when a maximum is given) `p99_ms`, for the canary, or
/// with `compare_stable` as the canary's excess over the stable version.
pub fn builtin_checks(max_error_rate: f64, max_p99_ms: Option<f64>, relative: bool) -> Vec<Check> {
    let build = |name: &str, query: fn(&str) -> String, limit: f64| {
        let template = if relative {
            format!("({}) - ({})", query("{{version}}"), query("{{stable}}"))
        } else {
            query("{{version}}")
        };
        Check {
            name: name.to_string(),
            template,
            threshold: Threshold::at_most(limit),
        }
    };
    let mut checks = vec![build("error_rate", error_rate_query, max_error_rate)];
    if let Some(max) = max_p99_ms {
        checks.push(build("p99_ms", p99_ms_query, max));
    }
    checks
}

/// Parses `name: <PromQL> < threshold` (or `>`), one per line; `#` lines are comments.
pub fn parse_queries(text: &str) -> Result<Vec<Check>> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(parse_query_line)
        .collect()
}

fn parse_query_line(line: &str) -> Result<Check> {
    let bad = |problem: &str| {
        Error::input(
            "queries",
            format!("`{line}`: {problem}"),
            "write one check per line as `name: <PromQL> < 0.05` (or `> 0.95`); the PromQL may use {{version}}, {{stable}}, {{service}}, {{env}} and {{window}}",
        )
    };
    let (name, rest) = line.split_once(':').ok_or_else(|| bad("no `name:`"))?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        return Err(bad("the name must be letters, digits, `_`, `-` or `.`"));
    }
    let at = rest
        .rfind(['<', '>'])
        .ok_or_else(|| bad("no `< threshold` or `> threshold` at the end"))?;
    let limit: f64 = rest[at + 1..]
        .trim()
        .parse()
        .map_err(|_| bad("the threshold after `<` or `>` is not a number"))?;
    let query = rest[..at].trim();
    if query.is_empty() {
        return Err(bad("the PromQL is empty"));
    }
    let threshold = if rest.as_bytes()[at] == b'<' {
        Threshold::at_most(limit)
    } else {
        Threshold::at_least(limit)
    };
    Ok(Check {
        name: name.to_string(),
        template: query.to_string(),
        threshold,
    })
}

/// A validated canary-promote request.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryRequest {
    pub env_id: String,
    pub service: String,
    pub version: Option<String>,
    pub steps: Vec<u8>,
    pub interval: Duration,
    pub probe_path: String,
    pub prometheus_url: Option<String>,
    pub max_error_rate: f64,
    pub compare_stable: bool,
    pub checks: Vec<Check>,
    pub budgets: Budgets,
    pub timeout: Duration,
    pub on_failure: OnFailure,
    pub dry_run: bool,
    pub region: String,
}

impl CanaryRequest {
    pub fn from_args(args: &CanaryPromoteArgs) -> Result<Self> {
        let env_id = required("env_id", &args.env_id)?;
        let service = required("service", &args.service)?;
        limits::env_id(&env_id).map_err(|p| input_fix("env_id", p))?;
        limits::service_name(&service).map_err(|p| input_fix("service", p))?;
        let steps = parse_steps(args.steps.items())?;
        if args.interval.is_zero() {
            return Err(Error::input(
                "interval",
                "is zero",
                "give a duration such as 30s or 1m",
            ));
        }
        if args.timeout < args.interval {
            return Err(Error::input(
                "timeout",
                format!("{:?} is shorter than one interval", args.timeout),
                "give a timeout of at least one interval per step",
            ));
        }
        if !(0.0..=1.0).contains(&args.max_error_rate) {
            return Err(Error::input(
                "max_error_rate",
                format!("{} is outside 0..1", args.max_error_rate),
                "give a share such as 0.01 for 1%",
            ));
        }
        if let Some(max) = args.max_p99_ms
            && !(max.is_finite() && max > 0.0)
        {
            return Err(Error::input(
                "max_p99_ms",
                format!("{max} is not a positive number of milliseconds"),
                "give a latency such as 500",
            ));
        }
        let prometheus_url = prometheus_url(args.prometheus_url.as_deref())?;
        let mut checks = Vec::new();
        if prometheus_url.is_some() {
            checks = builtin_checks(args.max_error_rate, args.max_p99_ms, args.compare_stable);
            checks.extend(parse_queries(&args.queries)?);
        } else if !args.queries.trim().is_empty() || args.max_p99_ms.is_some() {
            return Err(Error::input(
                "prometheus_url",
                "is empty, but queries or max_p99_ms need Prometheus",
                "set prometheus_url to your Prometheus (e.g. http://prometheus:9090), or remove queries and max_p99_ms",
            ));
        }
        Ok(CanaryRequest {
            env_id,
            service,
            version: args.version.clone().filter(|v| !v.trim().is_empty()),
            steps,
            interval: args.interval,
            probe_path: args.probe_path.clone(),
            prometheus_url,
            max_error_rate: args.max_error_rate,
            compare_stable: args.compare_stable,
            checks,
            budgets: Budgets {
                failures: args.failure_budget,
                inconclusive: args.inconclusive_budget,
                min_requests: args.min_requests,
            },
            timeout: args.timeout,
            on_failure: args.on_failure,
            dry_run: args.dry_run,
            region: args.cloud.region.clone(),
        })
    }

    /// The PromQL range for an analysis: the interval, but at least 5 s so that `rate()` sees
    /// several scrapes even with short test intervals.
    pub fn window(&self) -> String {
        format!("{}s", self.interval.as_secs().max(5))
    }
}

fn required(input: &str, value: &Option<String>) -> Result<String> {
    match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => Ok(v.to_string()),
        None => Err(Error::input(
            input,
            "is required but was not given",
            format!("set `{input}` in the step's `with:`"),
        )),
    }
}

fn input_fix(input: &str, problem: String) -> Error {
    Error::input(input, problem, format!("correct `{input}`"))
}

/// Percentages, strictly increasing, 1 to 100.
pub fn parse_steps(items: &[String]) -> Result<Vec<u8>> {
    let fix = "give increasing percentages between 1 and 100, e.g. 10,25,50,100";
    if items.is_empty() {
        return Err(Error::input("steps", "is empty", fix));
    }
    let mut steps: Vec<u8> = Vec::new();
    for item in items {
        let step: u8 = item
            .trim()
            .trim_end_matches('%')
            .parse()
            .ok()
            .filter(|p| (1..=100).contains(p))
            .ok_or_else(|| {
                Error::input(
                    "steps",
                    format!("`{item}` is not a percentage from 1 to 100"),
                    fix,
                )
            })?;
        if steps.last().is_some_and(|last| *last >= step) {
            return Err(Error::input(
                "steps",
                format!("{step} does not increase"),
                fix,
            ));
        }
        steps.push(step);
    }
    Ok(steps)
}

fn prometheus_url(value: Option<&str>) -> Result<Option<String>> {
    let Some(url) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(Some(url.to_string())),
        _ => Err(Error::input(
            "prometheus_url",
            format!("`{url}` is not an http(s) URL"),
            "give the Prometheus base URL, e.g. http://prometheus:9090",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_must_increase_within_1_to_100() {
        let items = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            parse_steps(&items("10,25,50,100")).unwrap(),
            vec![10, 25, 50, 100]
        );
        assert_eq!(parse_steps(&items("5%,100%")).unwrap(), vec![5, 100]);
        for bad in ["0,10", "10,10", "50,25", "101", "ten"] {
            let error = parse_steps(&items(bad)).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{bad}");
            assert!(error.to_string().contains("steps"), "{bad}");
        }
    }

    #[test]
    fn custom_queries_parse_with_direction() {
        let checks = parse_queries(
            "# comment\nsuccess: sum(rate(ok{version=\"{{version}}\"}[{{window}}])) > 0.95\n\
             queue: max(queue_depth) < 100\n",
        )
        .unwrap();
        assert_eq!(checks.len(), 2);
        assert_eq!(checks[0].name, "success");
        assert_eq!(checks[0].threshold, Threshold::at_least(0.95));
        assert_eq!(checks[1].template, "max(queue_depth)");
        assert_eq!(checks[1].threshold, Threshold::at_most(100.0));
        for bad in [
            "no colon here",
            "x: up",
            "x: up < many",
            ": up < 1",
            "x: < 1",
        ] {
            let error = parse_queries(bad).unwrap_err();
            assert!(error.to_string().contains("queries"), "{bad}: {error}");
        }
    }

    #[test]
    fn templates_resolve_per_version() {
        let scope = QueryScope {
            env: "env-1".into(),
            service: "web".into(),
            version: "web-002".into(),
            stable: "web-001".into(),
            window: "30s".into(),
        };
        let checks = builtin_checks(0.01, Some(500.0), false);
        let error_rate = scope.resolve(&checks[0].template);
        assert_eq!(
            error_rate,
            "sum(rate(tcb_gateway_errors_total{env=\"env-1\",service=\"web\",version=\"web-002\"}[30s])) / sum(rate(tcb_gateway_requests_total{env=\"env-1\",service=\"web\",version=\"web-002\"}[30s]))"
        );
        assert!(
            scope
                .resolve(&checks[1].template)
                .starts_with("histogram_quantile(0.99")
        );
        let relative = builtin_checks(0.01, None, true);
        let resolved = scope.resolve(&relative[0].template);
        assert!(
            resolved.contains("web-002") && resolved.contains("web-001"),
            "{resolved}"
        );
        assert_eq!(
            scope.resolve(&requests_query("{{version}}")),
            "sum(increase(tcb_gateway_requests_total{env=\"env-1\",service=\"web\",version=\"web-002\"}[30s]))"
        );
    }
}
