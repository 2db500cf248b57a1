//! Tags and OCI labels, computed the way docker/metadata-action users expect them: semver tags
//! from the release version (`{{version}}`, `{{major}}.{{minor}}`, `{{major}}`, the last two not
//! for pre-releases), `sha-<7>`, the branch name, `pr-N`, and `latest` on the default branch or
//! for a stable version pushed as a tag. Everything here is pure: the workflow context comes in
//! as a value ([`GitContext::from_env`] is the one I/O edge).

use std::path::Path;

use serde_json::Value;

/// What the workflow run tells us about the commit being built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitContext {
    /// `GITHUB_EVENT_NAME`: push, pull_request, workflow_dispatch…
    pub event_name: String,
    /// `GITHUB_REF`: refs/heads/main, refs/tags/v1.2.3, refs/pull/7/merge.
    pub git_ref: String,
    /// `GITHUB_SHA`.
    pub sha: String,
    /// `GITHUB_REPOSITORY`: owner/name.
    pub repository: String,
    /// `GITHUB_SERVER_URL`: https://github.com or a GitHub Enterprise Server.
    pub server_url: String,
    /// From the event payload: `repository.default_branch`.
    pub default_branch: Option<String>,
    /// From the event payload (`pull_request.number`, `number`) or the ref.
    pub pr_number: Option<u64>,
    /// From the event payload: `repository.license.spdx_id`.
    pub license: Option<String>,
    /// From the event payload: `repository.description`.
    pub description: Option<String>,
}

impl GitContext {
    /// Reads the `GITHUB_*` variables and the event payload at `GITHUB_EVENT_PATH`.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        let payload = std::env::var_os("GITHUB_EVENT_PATH")
            .and_then(|p| std::fs::read_to_string(Path::new(&p)).ok())
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .unwrap_or(Value::Null);
        let mut context = GitContext {
            event_name: var("GITHUB_EVENT_NAME"),
            git_ref: var("GITHUB_REF"),
            sha: var("GITHUB_SHA"),
            repository: var("GITHUB_REPOSITORY"),
            server_url: var("GITHUB_SERVER_URL"),
            ..Default::default()
        };
        context.apply_payload(&payload);
        context
    }

    /// Takes the default branch, PR number, license and description from an event payload.
    pub fn apply_payload(&mut self, payload: &Value) {
        let text = |pointer: &str| {
            payload
                .pointer(pointer)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        self.default_branch = text("/repository/default_branch");
        self.license = text("/repository/license/spdx_id").filter(|l| l != "NOASSERTION");
        self.description = text("/repository/description");
        self.pr_number = payload
            .pointer("/pull_request/number")
            .or_else(|| payload.pointer("/number"))
            .and_then(Value::as_u64)
            .or_else(|| pr_from_ref(&self.git_ref));
    }

    fn is_pull_request(&self) -> bool {
        self.event_name.starts_with("pull_request") || self.git_ref.starts_with("refs/pull/")
    }

    /// The branch a push built, if this run is a branch push.
    pub fn branch(&self) -> Option<&str> {
        self.git_ref
            .strip_prefix("refs/heads/")
            .filter(|_| !self.is_pull_request())
    }

    /// The tag a push built, if this run is a tag push.
    pub fn tag(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/tags/")
    }

    fn short_sha(&self) -> Option<&str> {
        (self.sha.len() >= 7).then(|| &self.sha[..7])
    }

    fn repository_url(&self) -> Option<String> {
        if self.repository.is_empty() {
            return None;
        }
        let server = if self.server_url.is_empty() {
            "https://github.com"
        } else {
            self.server_url.trim_end_matches('/')
        };
        Some(format!("{server}/{}", self.repository))
    }
}

fn pr_from_ref(git_ref: &str) -> Option<u64> {
    git_ref
        .strip_prefix("refs/pull/")?
        .split('/')
        .next()?
        .parse()
        .ok()
}

/// A release version: `1.2.3`, `v1.2.3`, `1.2.3-rc.1`, `1.2.3+build.5`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: String,
    pub build: String,
}

impl Version {
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let text = text.strip_prefix('v').unwrap_or(text);
        let (head, build) = text.split_once('+').unwrap_or((text, ""));
        let (core, pre) = head.split_once('-').unwrap_or((head, ""));
        let numbers: Vec<&str> = core.split('.').collect();
        let number = |s: &str| -> Option<u64> {
            let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            let no_leading_zero = s == "0" || !s.starts_with('0');
            (ok && no_leading_zero).then(|| s.parse().ok()).flatten()
        };
        let identifiers_ok = |s: &str| {
            s.split('.').all(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
        };
        if numbers.len() != 3
            || (!pre.is_empty() && !identifiers_ok(pre))
            || (!build.is_empty() && !identifiers_ok(build))
            || (head.contains('-') && pre.is_empty())
            || (text.contains('+') && build.is_empty())
        {
            return None;
        }
        Some(Version {
            major: number(numbers[0])?,
            minor: number(numbers[1])?,
            patch: number(numbers[2])?,
            pre: pre.to_string(),
            build: build.to_string(),
        })
    }

    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }

    /// `{{version}}`: the full version without the `v`.
    pub fn full(&self) -> String {
        let mut text = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.pre.is_empty() {
            text.push_str(&format!("-{}", self.pre));
        }
        if !self.build.is_empty() {
            text.push_str(&format!("+{}", self.build));
        }
        text
    }
}

/// One rule of the `tag_rules` input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagRule {
    Semver,
    MajorMinor,
    Major,
    Sha,
    Branch,
    Pr,
    Latest,
}

impl TagRule {
    pub const NAMES: &'static str = "semver, major_minor, major, sha, branch, pr, latest";

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "semver" | "version" => TagRule::Semver,
            "major_minor" => TagRule::MajorMinor,
            "major" => TagRule::Major,
            "sha" => TagRule::Sha,
            "branch" => TagRule::Branch,
            "pr" => TagRule::Pr,
            "latest" => TagRule::Latest,
            _ => return None,
        })
    }
}

/// Docker's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Turns a ref name into a valid tag the way metadata-action does: runs of other characters
/// become `-`, leading `.`/`-` are dropped, 128 characters at most.
pub fn sanitize_tag(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    let trimmed = out.trim_start_matches(['.', '-']);
    trimmed.chars().take(128).collect()
}

/// Where the version came from: the input, or the tag this run built.
pub fn release_version(input: Option<&str>, context: &GitContext) -> Option<Version> {
    match input.map(str::trim).filter(|v| !v.is_empty()) {
        Some(text) => Version::parse(text),
        None => context.tag().and_then(Version::parse),
    }
}

/// The computed tags, in rule order, then the explicit ones; duplicates dropped.
pub fn compute_tags(
    rules: &[TagRule],
    version: Option<&Version>,
    context: &GitContext,
    explicit: &[String],
) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for rule in rules {
        if let Some(tag) = tag_for(*rule, version, context) {
            tags.push(tag);
        }
    }
    tags.extend(explicit.iter().map(|t| t.trim().to_string()));
    let mut seen = std::collections::HashSet::new();
    tags.retain(|t| !t.is_empty() && seen.insert(t.clone()));
    tags
}

fn tag_for(rule: TagRule, version: Option<&Version>, context: &GitContext) -> Option<String> {
    let stable = version.filter(|v| !v.is_prerelease());
    match rule {
        TagRule::Semver => version.map(|v| sanitize_tag(&v.full())),
        TagRule::MajorMinor => stable.map(|v| format!("{}.{}", v.major, v.minor)),
        TagRule::Major => stable.map(|v| v.major.to_string()),
        TagRule::Sha => context.short_sha().map(|s| format!("sha-{s}")),
        TagRule::Branch => context.branch().map(sanitize_tag).filter(|t| !t.is_empty()),
        TagRule::Pr => context
            .is_pull_request()
            .then_some(context.pr_number)
            .flatten()
            .map(|n| format!("pr-{n}")),
        TagRule::Latest => is_latest(stable, context).then(|| "latest".to_string()),
    }
}

/// `latest` on a push to the default branch, or for a stable version pushed as a tag.
fn is_latest(stable: Option<&Version>, context: &GitContext) -> bool {
    let on_default = context
        .branch()
        .is_some_and(|b| context.default_branch.as_deref() == Some(b));
    let stable_tag = stable.is_some() && context.tag().and_then(Version::parse).is_some();
    on_default || stable_tag
}

/// The value of `org.opencontainers.image.version`: the release version, else the branch,
/// else `pr-N`, else the short sha, as metadata-action does.
pub fn version_label(version: Option<&Version>, context: &GitContext) -> Option<String> {
    version
        .map(Version::full)
        .or_else(|| tag_for(TagRule::Branch, None, context))
        .or_else(|| tag_for(TagRule::Pr, None, context))
        .or_else(|| context.short_sha().map(|s| format!("sha-{s}")))
}

/// The OCI labels, then the user's labels (which win on a clash).
pub fn compute_labels(
    version: Option<&Version>,
    context: &GitContext,
    created: &str,
    extra: &[(String, String)],
) -> Vec<(String, String)> {
    let title = context.repository.rsplit('/').next().map(str::to_string);
    let url = context.repository_url();
    let revision = (!context.sha.is_empty()).then(|| context.sha.clone());
    let entries = [
        ("title", title.filter(|t| !t.is_empty())),
        ("description", context.description.clone()),
        ("url", url.clone()),
        ("source", url),
        ("version", version_label(version, context)),
        ("created", Some(created.to_string())),
        ("revision", revision),
        ("licenses", context.license.clone()),
    ];
    let mut labels: Vec<(String, String)> = entries
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (format!("org.opencontainers.image.{k}"), v)))
        .collect();
    for (key, value) in extra {
        labels.retain(|(k, _)| k != key);
        labels.push((key.clone(), value.clone()));
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use TagRule::*;

    const ALL: [TagRule; 7] = [Semver, MajorMinor, Major, Sha, Branch, Pr, Latest];
    const SHA: &str = "860c1904a1ce19322e91ac35af1ab07466440c37";

    fn context(event: &str, git_ref: &str) -> GitContext {
        GitContext {
            event_name: event.into(),
            git_ref: git_ref.into(),
            sha: SHA.into(),
            repository: "superinsight/app".into(),
            server_url: "https://github.com".into(),
            default_branch: Some("main".into()),
            pr_number: pr_from_ref(git_ref),
            license: Some("Apache-2.0".into()),
            description: None,
        }
    }

    #[test]
    fn table_of_tags() {
        // (event, ref, version input, expected tags)
        let cases: &[(&str, &str, Option<&str>, &[&str])] = &[
            (
                "push",
                "refs/heads/main",
                None,
                &["sha-860c190", "main", "latest"],
            ),
            (
                "push",
                "refs/heads/feature/new-ui",
                None,
                &["sha-860c190", "feature-new-ui"],
            ),
            (
                "pull_request",
                "refs/pull/42/merge",
                None,
                &["sha-860c190", "pr-42"],
            ),
            (
                "push",
                "refs/tags/v1.2.3",
                None,
                &["1.2.3", "1.2", "1", "sha-860c190", "latest"],
            ),
            (
                "push",
                "refs/tags/v2.0.0-rc.1",
                None,
                &["2.0.0-rc.1", "sha-860c190"],
            ),
            (
                "push",
                "refs/heads/main",
                Some("1.4.0"),
                &["1.4.0", "1.4", "1", "sha-860c190", "main", "latest"],
            ),
            (
                "push",
                "refs/heads/release",
                Some("v3.1.4+build.7"),
                &["3.1.4-build.7", "3.1", "3", "sha-860c190", "release"],
            ),
            ("push", "refs/tags/not-a-version", None, &["sha-860c190"]),
            (
                "workflow_dispatch",
                "refs/heads/main",
                None,
                &["sha-860c190", "main", "latest"],
            ),
        ];
        for (event, git_ref, input, expected) in cases {
            let ctx = context(event, git_ref);
            let version = release_version(*input, &ctx);
            let tags = compute_tags(&ALL, version.as_ref(), &ctx, &[]);
            assert_eq!(tags, *expected, "{event} {git_ref} {input:?}");
        }
    }

    #[test]
    fn explicit_tags_follow_and_duplicates_go() {
        let ctx = context("push", "refs/heads/main");
        let tags = compute_tags(
            &[Sha, Latest],
            None,
            &ctx,
            &["latest".into(), "stable".into()],
        );
        assert_eq!(tags, vec!["sha-860c190", "latest", "stable"]);
    }

    #[test]
    fn pr_number_comes_from_the_payload() {
        let mut ctx = context("pull_request", "refs/pull/7/merge");
        ctx.apply_payload(&serde_json::json!({
            "number": 9,
            "pull_request": {"number": 9},
            "repository": {"default_branch": "trunk", "license": {"spdx_id": "MIT"}}
        }));
        assert_eq!(ctx.pr_number, Some(9));
        assert_eq!(ctx.default_branch.as_deref(), Some("trunk"));
        assert_eq!(ctx.license.as_deref(), Some("MIT"));
        assert_eq!(compute_tags(&[Pr, Branch], None, &ctx, &[]), vec!["pr-9"]);
    }

    #[test]
    fn versions_parse_like_semver() {
        type Parsed<'a> = Option<(u64, u64, u64, &'a str)>;
        let cases: &[(&str, Parsed)] = &[
            ("1.2.3", Some((1, 2, 3, ""))),
            ("v0.10.0-alpha.1", Some((0, 10, 0, "alpha.1"))),
            ("1.2", None),
            ("01.2.3", None),
            ("1.2.3-", None),
            ("1.2.x", None),
            ("release", None),
        ];
        for (text, expected) in cases {
            let parsed = Version::parse(text).map(|v| (v.major, v.minor, v.patch, v.pre.clone()));
            let expected = expected.map(|(a, b, c, p)| (a, b, c, p.to_string()));
            assert_eq!(parsed, expected, "{text}");
        }
    }

    #[test]
    fn sanitizes_like_metadata_action() {
        for (name, tag) in [
            ("feature/new-ui", "feature-new-ui"),
            ("dependabot/npm_and_yarn/a@1", "dependabot-npm_and_yarn-a-1"),
            ("-weird", "weird"),
            ("ü", ""),
        ] {
            assert_eq!(sanitize_tag(name), tag);
        }
        assert!(is_valid_tag("1.2.3-rc.1"));
        assert!(!is_valid_tag(".hidden"));
        assert!(!is_valid_tag(&"a".repeat(129)));
    }

    #[test]
    fn labels_carry_the_repository_and_user_labels_win() {
        let ctx = context("push", "refs/tags/v1.2.3");
        let version = release_version(None, &ctx);
        let labels = compute_labels(
            version.as_ref(),
            &ctx,
            "2026-11-26T00:00:00Z",
            &[(
                "org.opencontainers.image.title".into(),
                "SuperInsight".into(),
            )],
        );
        let get = |k: &str| {
            labels
                .iter()
                .find(|(key, _)| key == &format!("org.opencontainers.image.{k}"))
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("source"), Some("https://github.com/superinsight/app"));
        assert_eq!(get("revision"), Some(SHA));
        assert_eq!(get("version"), Some("1.2.3"));
        assert_eq!(get("created"), Some("2026-11-26T00:00:00Z"));
        assert_eq!(get("licenses"), Some("Apache-2.0"));
        assert_eq!(get("title"), Some("SuperInsight"));
        assert_eq!(get("description"), None);
    }

    #[test]
    fn version_label_falls_back_to_branch_pr_and_sha() {
        assert_eq!(
            version_label(None, &context("push", "refs/heads/dev")).as_deref(),
            Some("dev")
        );
        assert_eq!(
            version_label(None, &context("pull_request", "refs/pull/3/merge")).as_deref(),
            Some("pr-3")
        );
        assert_eq!(
            version_label(None, &context("push", "refs/tags/x")).as_deref(),
            Some("sha-860c190")
        );
    }
}
