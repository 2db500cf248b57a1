//! Per-version gateway metrics and per-action API counts, served at `/metrics` in the
//! Prometheus text format (version 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
pub const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Clone, Default)]
struct VersionStats {
    by_code: BTreeMap<u16, u64>,
    errors: u64,
    buckets: [u64; BUCKETS.len()],
    sum_seconds: f64,
    count: u64,
}

/// The counters. Kept behind the server's lock; rendering is a pure function of them.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    gateway: BTreeMap<(String, String, String), VersionStats>,
    api: BTreeMap<(String, String), u64>,
}

impl Metrics {
    /// Counts one gateway request answered by `version` (empty when no version could serve).
    pub fn record_gateway(
        &mut self,
        env: &str,
        service: &str,
        version: &str,
        code: u16,
        took: Duration,
    ) {
        let key = (env.to_string(), service.to_string(), version.to_string());
        let stats = self.gateway.entry(key).or_default();
        *stats.by_code.entry(code).or_default() += 1;
        if code >= 500 {
            stats.errors += 1;
        }
        let seconds = took.as_secs_f64();
        for (bucket, bound) in stats.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        stats.sum_seconds += seconds;
        stats.count += 1;
    }

    /// Counts one API request by action and answer (`ok` or the error code).
    pub fn record_api(&mut self, action: &str, code: &str) {
        *self
            .api
            .entry((action.to_string(), code.to_string()))
            .or_default() += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_requests(&mut out);
        self.render_errors(&mut out);
        self.render_latency(&mut out);
        self.render_api(&mut out);
        out
    }

    fn render_requests(&self, out: &mut String) {
        header(
            out,
            "tcb_gateway_requests_total",
            "counter",
            "Gateway requests by version and HTTP status.",
        );
        for ((env, service, version), stats) in &self.gateway {
            for (code, count) in &stats.by_code {
                let labels = labels(env, service, version);
                let _ = writeln!(
                    out,
                    "tcb_gateway_requests_total{{{labels},code=\"{code}\"}} {count}"
                );
            }
        }
    }

    fn render_errors(&self, out: &mut String) {
        header(
            out,
            "tcb_gateway_errors_total",
            "counter",
            "Gateway requests answered with a 5xx status.",
        );
        for ((env, service, version), stats) in &self.gateway {
            let labels = labels(env, service, version);
            let _ = writeln!(out, "tcb_gateway_errors_total{{{labels}}} {}", stats.errors);
        }
    }

    fn render_latency(&self, out: &mut String) {
        let name = "tcb_gateway_request_duration_seconds";
        header(
            out,
            name,
            "histogram",
            "Gateway request latency by version.",
        );
        for ((env, service, version), stats) in &self.gateway {
            let labels = labels(env, service, version);
            for (count, bound) in stats.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", stats.count);
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}", stats.sum_seconds);
            let _ = writeln!(out, "{name}_count{{{labels}}} {}", stats.count);
        }
    }

    fn render_api(&self, out: &mut String) {
        header(
            out,
            "tcb_api_requests_total",
            "counter",
            "API requests by action and result code.",
        );
        for ((action, code), count) in &self.api {
            let _ = writeln!(
                out,
                "tcb_api_requests_total{{action=\"{}\",code=\"{}\"}} {count}",
                escape(action),
                escape(code)
            );
        }
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn labels(env: &str, service: &str, version: &str) -> String {
    format!(
        "env=\"{}\",service=\"{}\",version=\"{}\"",
        escape(env),
        escape(service),
        escape(version)
    )
}

/// Label values escape backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_errors_and_fills_cumulative_buckets() {
        let mut m = Metrics::default();
        m.record_gateway("env-1", "web", "web-001", 200, Duration::from_millis(3));
        m.record_gateway("env-1", "web", "web-001", 500, Duration::from_millis(300));
        m.record_api("DescribeCloudRunServers", "ok");
        let text = m.render();
        let labels = r#"env="env-1",service="web",version="web-001""#;
        assert!(text.contains(&format!(
            "tcb_gateway_requests_total{{{labels},code=\"200\"}} 1"
        )));
        assert!(text.contains(&format!("tcb_gateway_errors_total{{{labels}}} 1")));
        assert!(text.contains(&format!(
            "tcb_gateway_request_duration_seconds_bucket{{{labels},le=\"0.005\"}} 1"
        )));
        assert!(text.contains(&format!(
            "tcb_gateway_request_duration_seconds_bucket{{{labels},le=\"0.5\"}} 2"
        )));
        assert!(text.contains(&format!(
            "tcb_gateway_request_duration_seconds_count{{{labels}}} 2"
        )));
        assert!(
            text.contains(
                r#"tcb_api_requests_total{action="DescribeCloudRunServers",code="ok"} 1"#
            )
        );
        assert!(text.contains("# TYPE tcb_gateway_request_duration_seconds histogram"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
