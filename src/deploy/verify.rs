//! Verify: the service URL answers the health path, with retries until the health timeout.

use std::time::{Duration, Instant};

/// A passed health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthy {
    pub url: String,
    pub status: u16,
    pub attempts: u32,
    pub elapsed: Duration,
}

/// A failed health check: the last answer (or transport error) and how long it tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unhealthy {
    pub url: String,
    pub last: String,
    pub attempts: u32,
    pub elapsed: Duration,
}

impl std::fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} did not answer with a 2xx status within {:.1}s ({} attempts; last: {})",
            self.url,
            self.elapsed.as_secs_f64(),
            self.attempts,
            self.last
        )
    }
}

/// `base` + `path` with exactly one `/` between them.
pub fn health_url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// The wait before retry `attempt` (1-based): 250 ms doubling up to 4 s.
pub fn retry_delay(attempt: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << attempt.saturating_sub(1).min(4)))
}

/// Requests `url` until it answers 2xx or `timeout` has passed.
pub async fn wait_healthy(
    http: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> Result<Healthy, Unhealthy> {
    let started = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let remaining = timeout.saturating_sub(started.elapsed());
        let per_request = remaining.clamp(Duration::from_millis(100), Duration::from_secs(10));
        let last = match http.get(url).timeout(per_request).send().await {
            Ok(response) if response.status().is_success() => {
                return Ok(Healthy {
                    url: url.to_string(),
                    status: response.status().as_u16(),
                    attempts,
                    elapsed: started.elapsed(),
                });
            }
            Ok(response) => format!("HTTP {}", response.status()),
            Err(error) => crate::runner::mask::redact(&error.to_string()),
        };
        let delay = retry_delay(attempts);
        if started.elapsed() + delay >= timeout {
            return Err(Unhealthy {
                url: url.to_string(),
                last,
                attempts,
                elapsed: started.elapsed(),
            });
        }
        tracing::debug!("health check {url}: {last}; retrying");
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_join_with_one_slash() {
        assert_eq!(health_url("http://h:1/", "/healthz"), "http://h:1/healthz");
        assert_eq!(health_url("http://h:1", "healthz"), "http://h:1/healthz");
        assert_eq!(health_url("http://h:1/svc", "/"), "http://h:1/svc/");
    }

    #[test]
    fn retries_back_off_to_four_seconds() {
        let delays: Vec<u64> = (1..=7).map(|a| retry_delay(a).as_millis() as u64).collect();
        assert_eq!(delays, vec![250, 500, 1000, 2000, 4000, 4000, 4000]);
    }
}
