//! The secret registry: every value registered here is announced to the runner with
//! `::add-mask::` and replaced by `***` in everything this process writes itself (logs,
//! outputs, the summary), so a secret stays hidden even outside a runner.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

fn registry() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Registers a secret. Each line of a multi-line secret is masked on its own too, the way the
/// runner does it, because the runner masks line by line.
pub fn register(secret: &str) {
    let url_parts = url_credential_parts(secret.trim());
    let mut parts: Vec<&str> = vec![secret.trim()];
    parts.extend(secret.lines().map(str::trim));
    parts.extend(url_parts.iter().map(String::as_str));
    let mut secrets = registry().lock().unwrap_or_else(|e| e.into_inner());
    for part in parts {
        // Masking one- or two-character values would star out ordinary text everywhere.
        if part.len() < 3 || secrets.iter().any(|s| s == part) {
            continue;
        }
        secrets.push(part.to_string());
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        if super::in_actions() {
            // The one line that carries the value: the runner consumes it and echoes `***`.
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "::add-mask::{}", super::command::escape_data(part));
        }
    }
}

/// The credential parts of a secret URL (a webhook): its long query values (`key`,
/// `access_token`) and its last path segment (the token of Feishu and Slack hooks), so a part
/// quoted on its own is hidden as well. Short values (`send`, `true`) are ordinary words, not
/// credentials, and masking them would star out text everywhere.
fn url_credential_parts(secret: &str) -> Vec<String> {
    let Ok(url) = reqwest::Url::parse(secret) else {
        return Vec::new();
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Vec::new();
    }
    let credential = |value: &str| value.len() >= 12;
    let mut parts: Vec<String> = url
        .query_pairs()
        .map(|(_, value)| value.into_owned())
        .filter(|value| credential(value))
        .collect();
    if let Some(last) = url.path_segments().and_then(|mut s| s.next_back())
        && credential(last)
    {
        parts.push(last.to_string());
    }
    parts
}

/// Replaces every registered secret in `text` by `***`.
pub fn redact(text: &str) -> String {
    let secrets = registry().lock().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_whole_secrets_and_their_lines() {
        register("first-line-secret\nsecond-line-secret");
        let text = redact("a first-line-secret b second-line-secret c");
        assert_eq!(text, "a *** b *** c");
    }

    #[test]
    fn masks_the_token_parts_of_a_secret_url() {
        register(
            "https://hooks.example.com/services/T0/B0/slacktokenvalue123?access_token=dingtokenvalue456&x=1",
        );
        assert_eq!(
            redact("slacktokenvalue123 dingtokenvalue456 x=1"),
            "*** *** x=1"
        );
    }

    #[test]
    fn ignores_tiny_values() {
        register("ab");
        assert_eq!(redact("abc"), "abc");
    }
}
