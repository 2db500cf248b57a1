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
    let mut parts: Vec<&str> = vec![secret.trim()];
    parts.extend(secret.lines().map(str::trim));
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
    fn ignores_tiny_values() {
        register("ab");
        assert_eq!(redact("abc"), "abc");
    }
}
