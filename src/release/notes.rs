//! Release notes grouped by type (breaking changes first) and CHANGELOG.md updated in place in
//! the Keep a Changelog layout. Pure: the caller supplies links and GitHub logins.

use std::collections::HashMap;

use super::rules::Change;
use super::version::Level;

/// Where links point. Without a repository, notes carry short ids and no links.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    /// `https://github.com` (or a GitHub Enterprise Server URL).
    pub server: String,
    /// `owner/name`.
    pub repository: Option<String>,
    /// GitHub logins by commit id, resolved through the API when a token is given.
    pub logins: HashMap<String, String>,
}

impl Links {
    fn base(&self) -> Option<String> {
        self.repository
            .as_ref()
            .map(|r| format!("{}/{r}", self.server.trim_end_matches('/')))
    }

    /// The compare URL between two tags, when the repository is known.
    pub fn compare(&self, from: Option<&str>, to: &str) -> Option<String> {
        let base = self.base()?;
        Some(match from {
            Some(from) => format!("{base}/compare/{from}...{to}"),
            None => format!("{base}/releases/tag/{to}"),
        })
    }
}

/// Sections in the order they are printed, with the types that go in each.
const SECTIONS: [(&str, &[&str]); 4] = [
    ("Features", &["feat", "feature"]),
    ("Bug fixes", &["fix"]),
    ("Performance", &["perf"]),
    ("Reverts", &["revert"]),
];

/// The notes body for a set of changes (newest first), without a version heading. Commits
/// that are worth nothing (chore, docs, …) are left out; breaking changes come first.
pub fn render(changes: &[Change], links: &Links) -> String {
    let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
    let mut push =
        |title: &'static str, line: String| match groups.iter_mut().find(|(t, _)| *t == title) {
            Some((_, lines)) => lines.push(line),
            None => groups.push((title, vec![line])),
        };
    for change in changes {
        if change.level == Level::Major {
            push("⚠ Breaking changes", breaking_line(change, links));
        } else if change.level > Level::None {
            push(section_of(change), line(change, links));
        }
    }
    groups.sort_by_key(|(title, _)| order(title));
    let mut out = String::new();
    for (title, lines) in groups {
        out.push_str(&format!("### {title}\n\n"));
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
        out.push('\n');
    }
    out.trim_end().to_string()
}

fn order(title: &str) -> usize {
    if title.starts_with('⚠') {
        return 0;
    }
    SECTIONS
        .iter()
        .position(|(t, _)| *t == title)
        .map_or(SECTIONS.len() + 1, |i| i + 1)
}

fn section_of(change: &Change) -> &'static str {
    if change.parsed.revert.is_some() {
        return "Reverts";
    }
    let kind = change
        .parsed
        .entry
        .as_ref()
        .map(|e| e.kind.as_str())
        .or_else(|| change.parsed.body_entries.first().map(|e| e.kind.as_str()));
    SECTIONS
        .iter()
        .find(|(_, kinds)| kind.is_some_and(|k| kinds.contains(&k)))
        .map_or("Other changes", |(title, _)| title)
}

fn description(change: &Change) -> (Option<&str>, String) {
    match &change.parsed.entry {
        Some(entry) => (entry.scope.as_deref(), entry.description.clone()),
        None => (None, change.parsed.header.clone()),
    }
}

fn line(change: &Change, links: &Links) -> String {
    let (scope, text) = description(change);
    let scope = scope.map_or(String::new(), |s| format!("**{s}:** "));
    format!(
        "- {scope}{}{}",
        strip_pr_suffix(&text),
        reference(change, links)
    )
}

fn breaking_line(change: &Change, links: &Links) -> String {
    let mut text = line(change, links);
    for note in change
        .parsed
        .breaking_notes
        .iter()
        .filter(|n| !n.is_empty())
    {
        text.push_str(&format!("\n  {note}"));
    }
    text
}

/// `(#12)` at the end of a header is shown as a link instead.
fn strip_pr_suffix(text: &str) -> &str {
    match text.rfind(" (#") {
        Some(at) if text.ends_with(')') => &text[..at],
        _ => text,
    }
}

fn reference(change: &Change, links: &Links) -> String {
    let id = &change.commit.id;
    let short = &id[..id.len().min(7)];
    let base = links.base();
    let commit = match &base {
        Some(base) => format!("[{short}]({base}/commit/{id})"),
        None => short.to_string(),
    };
    let pr = match (change.parsed.pull_request, &base) {
        (Some(n), Some(base)) => format!(" [#{n}]({base}/pull/{n})"),
        (Some(n), None) => format!(" #{n}"),
        _ => String::new(),
    };
    let author = match links.logins.get(id) {
        Some(login) => format!(" by @{login}"),
        None if change.commit.author.is_empty() => String::new(),
        None => format!(" by {}", change.commit.author),
    };
    format!(" ({commit}{pr}){author}")
}

/// The placeholders a changelog template may use.
pub const TEMPLATE_FIELDS: [&str; 6] = [
    "version",
    "tag",
    "previous_tag",
    "date",
    "compare_url",
    "notes",
];

/// `{{ name }}` in a changelog template, compiled once.
fn placeholder() -> &'static regex::Regex {
    static PLACEHOLDER: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    PLACEHOLDER.get_or_init(|| regex::Regex::new(r"\{\{\s*([^}]*?)\s*\}\}").expect("valid regex"))
}

/// A user's template for one changelog section, e.g. `## {{version}} ({{date}})\n\n{{notes}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(String);

impl Template {
    /// Checks that every `{{placeholder}}` is one of [`TEMPLATE_FIELDS`], so a typo fails the
    /// run up front instead of landing verbatim in the changelog.
    pub fn parse(text: &str) -> Result<Template, String> {
        for found in placeholder().captures_iter(text) {
            let name = &found[1];
            if !TEMPLATE_FIELDS.contains(&name) {
                return Err(format!(
                    "`{{{{{name}}}}}` is not a placeholder; use {}",
                    TEMPLATE_FIELDS.map(|f| format!("{{{{{f}}}}}")).join(", ")
                ));
            }
        }
        if !text.contains("{{") {
            return Err("the template has no {{placeholder}}; it would repeat the same text for every release".to_string());
        }
        Ok(Template(text.to_string()))
    }

    fn render(&self, fields: &[(&str, &str)]) -> String {
        let rendered = placeholder().replace_all(&self.0, |found: &regex::Captures| {
            let name = &found[1];
            let value = fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
            value.unwrap_or_default().to_string()
        });
        format!("{}\n", rendered.trim_end())
    }
}

/// A release section for the changelog: `## [1.3.0](compare) - 2026-11-26` and the notes, or
/// the user's template filled with the same values.
pub fn section(
    tag: &str,
    version: &str,
    previous_tag: Option<&str>,
    date: &str,
    body: &str,
    links: &Links,
    template: Option<&Template>,
) -> String {
    let body = if body.is_empty() {
        "No user-facing changes."
    } else {
        body
    };
    if let Some(template) = template {
        let compare = links.compare(previous_tag, tag).unwrap_or_default();
        return template.render(&[
            ("version", version),
            ("tag", tag),
            ("previous_tag", previous_tag.unwrap_or_default()),
            ("date", date),
            ("compare_url", &compare),
            ("notes", body),
        ]);
    }
    let heading = match links.compare(previous_tag, tag) {
        Some(url) => format!("## [{version}]({url}) - {date}"),
        None => format!("## [{version}] - {date}"),
    };
    format!("{heading}\n\n{body}\n")
}

const HEADER: &str = "# Changelog\n\nAll notable changes to this project are documented in this file.\n\
The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/), and this project\n\
adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).\n\n## [Unreleased]\n";

/// Inserts a release section into a changelog (Keep a Changelog layout): below `[Unreleased]`,
/// above the newest release. Returns `None` when the version is already there (idempotent).
pub fn update_changelog(existing: &str, version: &str, section: &str) -> Option<String> {
    let marker = format!("## [{version}]");
    if existing.lines().any(|l| l.starts_with(&marker)) {
        return None;
    }
    let text = if existing.trim().is_empty() {
        HEADER.to_string()
    } else {
        existing.to_string()
    };
    let insert_at = release_heading_offset(&text).unwrap_or(text.len());
    let (before, after) = text.split_at(insert_at);
    let before = before.trim_end();
    let after = after.trim_start_matches('\n');
    let mut out = format!("{before}\n\n{}\n", section.trim_end());
    if !after.is_empty() {
        out.push('\n');
        out.push_str(after);
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Some(out)
}

/// Byte offset of the first `## ` heading that is a release (not `[Unreleased]`), or of the
/// link-reference block at the end when there is no release yet.
fn release_heading_offset(text: &str) -> Option<usize> {
    let mut offset = 0;
    let mut first_link_ref = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed.starts_with("## ") && !trimmed.to_ascii_lowercase().contains("unreleased") {
            return Some(offset);
        }
        let link_ref = trimmed.starts_with('[') && trimmed.contains("]: ");
        if first_link_ref.is_none() && link_ref {
            first_link_ref = Some(offset);
        }
        if !trimmed.is_empty() && !link_ref {
            first_link_ref = None;
        }
        offset += line.len();
    }
    first_link_ref
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::commit::RawCommit;
    use crate::release::rules::{Rules, analyse};

    fn changes(messages: &[&str]) -> Vec<Change> {
        let commits: Vec<RawCommit> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| RawCommit {
                id: format!("{:040x}", 100 - i),
                parents: 1,
                author: "Ada".into(),
                message: m.to_string(),
            })
            .collect();
        analyse(&commits, &Rules::default()).changes
    }

    #[test]
    fn notes_group_by_type_with_breaking_first() {
        let notes = render(
            &changes(&[
                "fix(api): handle nulls (#12)",
                "chore: tidy",
                "feat: add export",
                "feat!: drop v1 endpoints\n\nBREAKING CHANGE: use /v2",
                "perf: faster parse",
            ]),
            &Links::default(),
        );
        assert!(
            notes.starts_with("### ⚠ Breaking changes\n\n- drop v1 endpoints ("),
            "{notes}"
        );
        assert!(notes.contains("\n  use /v2\n"));
        let features = notes.find("### Features").unwrap();
        let fixes = notes.find("### Bug fixes").unwrap();
        let perf = notes.find("### Performance").unwrap();
        assert!(features < fixes && fixes < perf);
        assert!(notes.contains("- **api:** handle nulls (0000000 #12) by Ada"));
        assert!(!notes.contains("tidy"));
    }

    #[test]
    fn links_and_logins_when_the_repository_is_known() {
        let list = changes(&["fix: x (#7)"]);
        let mut links = Links {
            server: "https://github.com".into(),
            repository: Some("o/r".into()),
            logins: HashMap::new(),
        };
        links.logins.insert(list[0].commit.id.clone(), "ada".into());
        let notes = render(&list, &links);
        assert!(
            notes.contains("[#7](https://github.com/o/r/pull/7)"),
            "{notes}"
        );
        assert!(notes.contains("/o/r/commit/0000000000000000000000000000000000000064)"));
        assert!(notes.ends_with("by @ada"));
        assert_eq!(
            links.compare(Some("v1.0.0"), "v1.1.0").unwrap(),
            "https://github.com/o/r/compare/v1.0.0...v1.1.0"
        );
    }

    #[test]
    fn changelog_is_created_then_updated_in_place() {
        let first = update_changelog("", "1.0.0", "## [1.0.0] - 2026-01-01\n\nA\n").unwrap();
        assert!(first.starts_with("# Changelog\n"));
        assert!(first.contains("## [Unreleased]\n\n## [1.0.0] - 2026-01-01\n\nA\n"));
        let second = update_changelog(&first, "1.1.0", "## [1.1.0] - 2026-02-01\n\nB\n").unwrap();
        let unreleased = second.find("## [Unreleased]").unwrap();
        let new = second.find("## [1.1.0]").unwrap();
        let old = second.find("## [1.0.0]").unwrap();
        assert!(unreleased < new && new < old, "{second}");
        assert_eq!(update_changelog(&second, "1.1.0", "## [1.1.0] - x\n"), None);
    }

    #[test]
    fn changelog_keeps_link_references_at_the_end() {
        let existing =
            "# Changelog\n\n## [Unreleased]\n\n[Unreleased]: https://x/compare/v1...HEAD\n";
        let updated = update_changelog(existing, "1.0.0", "## [1.0.0] - d\n\nA\n").unwrap();
        assert!(updated.find("## [1.0.0]").unwrap() < updated.find("[Unreleased]: ").unwrap());
    }
}

#[cfg(test)]
mod template_tests {
    use super::*;

    #[test]
    fn templates_fill_every_field_and_reject_unknown_ones() {
        let template =
            Template::parse("# {{tag}} {{ version }} {{date}} {{compare_url}}\n{{notes}}").unwrap();
        let out = template.render(&[
            ("tag", "v2.0.0"),
            ("version", "2.0.0"),
            ("date", "2026-11-26"),
            ("compare_url", "https://x/compare"),
            ("notes", "- a"),
        ]);
        assert_eq!(out, "# v2.0.0 2.0.0 2026-11-26 https://x/compare\n- a\n");
        assert!(Template::parse("{{ver}}").unwrap_err().contains("{{ver}}"));
        assert!(Template::parse("static text").is_err());
    }
}
