//! Instant queries against the Prometheus HTTP API (`POST /api/v1/query`, form-encoded so long
//! templated PromQL fits), and the reading of its answer as an [`Observation`].

use std::time::Duration;

use serde_json::Value;

use super::decision::Observation;
use crate::runner::mask::redact;

/// A Prometheus server.
#[derive(Debug, Clone)]
pub struct Prometheus {
    base: String,
    http: reqwest::Client,
}

impl Prometheus {
    pub fn new(base: &str, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Prometheus {
            base: base.trim_end_matches('/').to_string(),
            http,
        })
    }

    /// Runs `query` now and reads one number from it.
    pub async fn observe(&self, query: &str) -> Observation {
        let url = format!("{}/api/v1/query", self.base);
        let sent = self.http.post(&url).form(&[("query", query)]).send().await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Observation::Error(redact(&transport(&error))),
        };
        let status = response.status().as_u16();
        match response.text().await {
            Ok(body) => read_answer(status, &body),
            Err(error) => Observation::Error(redact(&transport(&error))),
        }
    }
}

fn transport(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "Prometheus did not answer in time".into()
    } else if error.is_connect() {
        "cannot connect to Prometheus".into()
    } else {
        format!("request to Prometheus failed: {error}")
    }
}

/// Reads a `/api/v1/query` answer: one series or a scalar is a value; no series or NaN is no
/// data; an error envelope, a non-JSON body, several series, a matrix or a string is an error.
pub fn read_answer(status: u16, body: &str) -> Observation {
    let Ok(envelope) = serde_json::from_str::<Value>(body) else {
        let start: String = body.trim().chars().take(80).collect();
        return Observation::Error(format!("HTTP {status}, not a Prometheus answer: {start}"));
    };
    if envelope["status"] != "success" {
        let kind = envelope["errorType"].as_str().unwrap_or("unknown");
        let message = envelope["error"].as_str().unwrap_or("no message");
        return Observation::Error(format!("HTTP {status}, {kind}: {message}"));
    }
    let data = &envelope["data"];
    match data["resultType"].as_str() {
        Some("vector") => read_vector(&data["result"]),
        Some("scalar") => read_sample(&data["result"]),
        Some(other) => Observation::Error(format!(
            "the query returned a {other}; write it to return one number (an instant vector of one series)"
        )),
        None => Observation::Error("the answer has no resultType".into()),
    }
}

fn read_vector(result: &Value) -> Observation {
    let Some(series) = result.as_array() else {
        return Observation::Error("the vector result is not a list".into());
    };
    match series.as_slice() {
        [] => Observation::NoData,
        [one] => read_sample(&one["value"]),
        many => Observation::Error(format!(
            "the query returned {} series; aggregate it to one (sum, max, …)",
            many.len()
        )),
    }
}

/// `[<ts>, "<value>"]`; values are strings so that NaN and ±Inf survive JSON.
fn read_sample(sample: &Value) -> Observation {
    let text = sample.get(1).and_then(Value::as_str).unwrap_or_default();
    match text {
        "+Inf" | "Inf" => Observation::Value(f64::INFINITY),
        "-Inf" => Observation::Value(f64::NEG_INFINITY),
        _ => match text.parse::<f64>() {
            Ok(value) => Observation::from_value(value),
            Err(_) => Observation::Error(format!("`{text}` is not a sample value")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Observation::*;

    fn vector(values: &[&str]) -> String {
        let series: Vec<String> = values
            .iter()
            .map(|v| format!(r#"{{"metric":{{}},"value":[1700000000.1,"{v}"]}}"#))
            .collect();
        format!(
            r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
            series.join(",")
        )
    }

    #[test]
    fn answers_are_classified() {
        let cases: Vec<(u16, String, Observation)> = vec![
            (200, vector(&["0.25"]), Value(0.25)),
            (200, vector(&[]), NoData),
            (200, vector(&["NaN"]), NoData),
            (200, vector(&["+Inf"]), Value(f64::INFINITY)),
            (200, vector(&["-Inf"]), Value(f64::NEG_INFINITY)),
            (
                200,
                r#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"42"]}}"#.into(),
                Value(42.0),
            ),
        ];
        for (status, body, expected) in cases {
            assert_eq!(read_answer(status, &body), expected, "{body}");
        }
    }

    #[test]
    fn errors_are_errors_not_failures() {
        let cases: Vec<(u16, String, &str)> = vec![
            (200, vector(&["1", "2"]), "2 series"),
            (
                200,
                r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#.into(),
                "matrix",
            ),
            (
                200,
                r#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#.into(),
                "string",
            ),
            (
                400,
                r#"{"status":"error","errorType":"bad_data","error":"parse error at char 4"}"#
                    .into(),
                "bad_data: parse error",
            ),
            (
                422,
                r#"{"status":"error","errorType":"execution","error":"many-to-many"}"#.into(),
                "execution",
            ),
            (
                503,
                r#"{"status":"error","errorType":"timeout","error":"query timed out"}"#.into(),
                "timeout",
            ),
            (
                502,
                "<html><body>Bad Gateway</body></html>".into(),
                "HTTP 502, not a Prometheus answer",
            ),
            (200, vector(&["abc"]), "not a sample value"),
        ];
        for (status, body, needle) in cases {
            match read_answer(status, &body) {
                Error(message) => assert!(message.contains(needle), "{message} lacks {needle}"),
                other => panic!("{body} read as {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn an_unreachable_server_is_an_error() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let prometheus =
            Prometheus::new(&format!("http://127.0.0.1:{port}/"), Duration::from_secs(2)).unwrap();
        assert_eq!(
            prometheus.observe("up").await,
            Error("cannot connect to Prometheus".into())
        );
    }
}
