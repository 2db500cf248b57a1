//! Rule families: which rules of different tools describe the same kind of problem. Two tools
//! flagging the same line are merged only when their rules are in the same family, because
//! CWE ids disagree across tools (bandit B506 says CWE-20 for `yaml.load`, semgrep CWE-502)
//! and one line can hold two distinct problems (bandit B501 and B113 on one `requests` call).

use std::sync::Arc;

use hashbrown::HashMap;

use crate::scan::model::Finding;

/// Bandit test ids by family.
const BANDIT: &[(&str, &str)] = &[
    ("B101", "assert"),
    ("B102", "code-exec"),
    ("B103", "permissions"),
    ("B104", "bind-all"),
    ("B105", "hardcoded-secret"),
    ("B106", "hardcoded-secret"),
    ("B107", "hardcoded-secret"),
    ("B108", "temp-file"),
    ("B113", "request-timeout"),
    ("B201", "debug-mode"),
    ("B301", "deserialization"),
    ("B302", "deserialization"),
    ("B303", "weak-hash"),
    ("B304", "weak-cipher"),
    ("B305", "weak-cipher"),
    ("B306", "temp-file"),
    ("B307", "code-exec"),
    ("B308", "xss"),
    ("B310", "url-open"),
    ("B311", "weak-random"),
    ("B313", "xml"),
    ("B314", "xml"),
    ("B315", "xml"),
    ("B316", "xml"),
    ("B317", "xml"),
    ("B318", "xml"),
    ("B319", "xml"),
    ("B320", "xml"),
    ("B323", "tls-verify"),
    ("B324", "weak-hash"),
    ("B501", "tls-verify"),
    ("B502", "weak-tls"),
    ("B503", "weak-tls"),
    ("B504", "weak-tls"),
    ("B506", "deserialization"),
    ("B601", "shell-injection"),
    ("B602", "shell-injection"),
    ("B604", "shell-injection"),
    ("B605", "shell-injection"),
    ("B606", "shell-injection"),
    ("B607", "shell-injection"),
    ("B608", "sql-injection"),
    ("B609", "shell-injection"),
    ("B610", "sql-injection"),
    ("B611", "sql-injection"),
    ("B701", "xss"),
    ("B702", "xss"),
    ("B703", "xss"),
];

/// Dockerfile checks of hadolint, checkov and trivy that describe the same problem.
const DOCKERFILE: &[(&str, &str)] = &[
    ("DL3007", "latest-tag"),
    ("DL3006", "latest-tag"),
    ("CKV_DOCKER_7", "latest-tag"),
    ("DS001", "latest-tag"),
    ("DL3020", "add-instead-of-copy"),
    ("CKV_DOCKER_4", "add-instead-of-copy"),
    ("DS005", "add-instead-of-copy"),
    ("DL3002", "root-user"),
    ("CKV_DOCKER_8", "root-user"),
    ("DS002", "root-user"),
    ("CKV_DOCKER_2", "healthcheck"),
    ("DS026", "healthcheck"),
    ("CKV_DOCKER_1", "ssh-port"),
    ("DS004", "ssh-port"),
    ("DL3004", "sudo"),
    ("DS010", "sudo"),
];

/// Keywords in other tools' rule ids, in order: the first match wins, so the more specific
/// words come first ("subprocess-shell" is shell injection before it is anything else).
const KEYWORDS: &[(&str, &str)] = &[
    ("password", "hardcoded-secret"),
    ("secret", "hardcoded-secret"),
    ("credential", "hardcoded-secret"),
    ("api-key", "hardcoded-secret"),
    ("private-key", "hardcoded-secret"),
    ("sql", "sql-injection"),
    ("subprocess", "shell-injection"),
    ("os-system", "shell-injection"),
    ("shell", "shell-injection"),
    ("popen", "shell-injection"),
    ("command-injection", "shell-injection"),
    ("yaml", "deserialization"),
    ("pickle", "deserialization"),
    ("marshal", "deserialization"),
    ("deserializ", "deserialization"),
    ("md5", "weak-hash"),
    ("sha1", "weak-hash"),
    ("insecure-hash", "weak-hash"),
    ("weak-hash", "weak-hash"),
    ("verify", "tls-verify"),
    ("cert-validation", "tls-verify"),
    ("eval", "code-exec"),
    ("exec", "code-exec"),
    ("code-injection", "code-exec"),
    ("debug", "debug-mode"),
    ("bind-all", "bind-all"),
    ("all-interfaces", "bind-all"),
    ("mktemp", "temp-file"),
    ("tempfile", "temp-file"),
    ("timeout", "request-timeout"),
    ("random", "weak-random"),
    ("xss", "xss"),
    ("autoescape", "xss"),
    ("mark-safe", "xss"),
    ("xxe", "xml"),
    ("assert", "assert"),
];

const SECRET_TOOLS: &[&str] = &["gitleaks", "trufflehog", "detect-secrets"];

/// Families by (tool, rule): large reports repeat a few hundred rules many times.
type Known = HashMap<(Arc<str>, Arc<str>), Option<&'static str>>;

thread_local! {
    static KNOWN: std::cell::RefCell<Known> = std::cell::RefCell::new(HashMap::new());
}

/// The family of a finding's rule, or `None` when it has no known peer in another tool.
pub fn family(finding: &Finding) -> Option<&'static str> {
    if SECRET_TOOLS.contains(&finding.tool.as_ref())
        || finding.cwes.iter().any(|c| *c == 798 || *c == 259)
    {
        return Some("hardcoded-secret");
    }
    let key = (finding.tool.clone(), finding.rule.clone());
    if let Some(known) = KNOWN.with(|k| k.borrow().get(&key).copied()) {
        return known;
    }
    let found = rule_family(&finding.tool, &finding.rule);
    KNOWN.with(|k| {
        let mut known = k.borrow_mut();
        if known.len() > 100_000 {
            known.clear();
        }
        known.insert(key, found);
    });
    found
}

fn rule_family(tool: &str, rule: &str) -> Option<&'static str> {
    if tool == "bandit" {
        return lookup(BANDIT, rule);
    }
    if let Some(found) = lookup(DOCKERFILE, rule) {
        return Some(found);
    }
    if matches!(tool, "hadolint" | "checkov") {
        return None;
    }
    let words = rule.to_ascii_lowercase().replace(['_', '.', ' '], "-");
    KEYWORDS
        .iter()
        .find(|(keyword, _)| words.contains(keyword))
        .map(|(_, family)| *family)
}

fn lookup(table: &[(&str, &'static str)], rule: &str) -> Option<&'static str> {
    table
        .iter()
        .find(|(id, _)| *id == rule)
        .map(|(_, family)| *family)
}
