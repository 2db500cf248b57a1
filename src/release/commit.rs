//! Conventional Commits 1.0.0, read the way real release histories need it.
//!
//! The header is `type(scope)!: description`. Type and scope are case-insensitive; one or more
//! ASCII spaces follow the colon (a no-break space does not count). A breaking change is a `!`
//! or a `BREAKING CHANGE:` / `BREAKING-CHANGE:` line (uppercase token) anywhere after the header,
//! even under a non-conventional header and even when its text starts on the next line.
//! Reverts come as `revert: …` or GitHub's `Revert "…"`, with `This reverts commit <sha>.`.

use std::sync::LazyLock;

use regex::Regex;

/// One commit as read from git (or from the replay corpus).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawCommit {
    pub id: String,
    pub parents: usize,
    pub author: String,
    pub message: String,
}

/// A conventional entry: the header of a commit, or one entry listed in a squash body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Lowercased type (`feat`, `fix`, …).
    pub kind: String,
    /// Scope as written, if any.
    pub scope: Option<String>,
    pub description: String,
    /// True for `!` in the header.
    pub bang: bool,
}

/// What a revert points at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevertOf {
    /// The reverted commit's header, when the revert quotes it.
    pub header: Option<String>,
    /// The reverted commit's id (full or abbreviated), from `This reverts commit <sha>`.
    pub id: Option<String>,
}

/// A commit message taken apart.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    /// The first line.
    pub header: String,
    /// The header as a conventional entry, if it is one.
    pub entry: Option<Entry>,
    /// Further conventional entries in the body (squash merges), read only when asked.
    pub body_entries: Vec<Entry>,
    /// Texts of `BREAKING CHANGE` footers (an empty string when the note has no text).
    pub breaking_notes: Vec<String>,
    pub revert: Option<RevertOf>,
    /// `Release-As: x.y.z`.
    pub release_as: Option<String>,
    /// `[skip release]` or `[release skip]`.
    pub skip: bool,
    /// The pull request number from `(#123)` or `Merge pull request #123`.
    pub pull_request: Option<u64>,
}

impl Parsed {
    /// True when the commit breaks compatibility (`!` or a breaking footer).
    pub fn is_breaking(&self) -> bool {
        self.entry.as_ref().is_some_and(|e| e.bang) || !self.breaking_notes.is_empty()
    }
}

static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<type>[A-Za-z][A-Za-z0-9_-]*)(?:\((?P<scope>[^()\r\n]*)\))?(?P<bang>!)?: +(?P<desc>\S.*)$")
        .expect("header regex")
});
static GITHUB_REVERT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^Revert "(?P<header>.+)"(?: \(#\d+\))?\s*$"#).expect("revert"));
static REVERTS_COMMIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)This reverts commit (?P<id>[0-9a-f]{7,40})").expect("reverts commit")
});
static BREAKING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^BREAKING[ -]CHANGE(?:: ?| #)(?P<text>.*)$").expect("breaking"));
static RELEASE_AS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?im)^release-as: *(?P<v>\S+)\s*$").expect("release-as"));
static PULL_REQUEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\(#(?P<a>\d+)\)\s*$|^Merge pull request #(?P<b>\d+) )").expect("pull request")
});
static BULLET: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*[*-]\s+").expect("bullet"));

/// Parses a header line as a conventional entry; `feat : x` and `feat:x` are not headers.
pub fn parse_header(line: &str) -> Option<Entry> {
    let caps = HEADER.captures(line.trim_end())?;
    Some(Entry {
        kind: caps["type"].to_ascii_lowercase(),
        scope: caps.name("scope").map(|s| s.as_str().trim().to_string()),
        description: caps["desc"].trim().to_string(),
        bang: caps.name("bang").is_some(),
    })
}

/// Takes a commit message apart. `squash_entries` reads conventional paragraphs and bullets in
/// the body as further entries (release-please style).
pub fn parse(message: &str, squash_entries: bool) -> Parsed {
    let message = message.replace("\r\n", "\n");
    let mut lines = message.lines();
    let header = lines.next().unwrap_or("").trim().to_string();
    let body: Vec<&str> = lines.collect();
    let entry = parse_header(&header);
    Parsed {
        revert: revert_of(&header, entry.as_ref(), &message),
        breaking_notes: breaking_notes(&body),
        release_as: RELEASE_AS
            .captures(&body.join("\n"))
            .map(|c| c["v"].to_string()),
        skip: message.contains("[skip release]") || message.contains("[release skip]"),
        pull_request: pull_request(&header),
        body_entries: if squash_entries {
            squash_body_entries(&body)
        } else {
            Vec::new()
        },
        header,
        entry,
    }
}

fn pull_request(header: &str) -> Option<u64> {
    let caps = PULL_REQUEST.captures(header)?;
    caps.name("a").or(caps.name("b"))?.as_str().parse().ok()
}

/// `Revert "feat: x"` (GitHub) or `revert: feat: x` (conventional), with the reverted id.
fn revert_of(header: &str, entry: Option<&Entry>, message: &str) -> Option<RevertOf> {
    let quoted = if let Some(caps) = GITHUB_REVERT.captures(header) {
        Some(caps["header"].to_string())
    } else if let Some(entry) = entry.filter(|e| e.kind == "revert") {
        Some(entry.description.trim_matches('"').to_string())
    } else {
        return None;
    };
    let id = REVERTS_COMMIT
        .captures(message)
        .map(|c| c["id"].to_ascii_lowercase());
    Some(RevertOf { header: quoted, id })
}

/// Every `BREAKING CHANGE:` / `BREAKING-CHANGE:` line after the header. When the token line has
/// no text, the note is the next non-empty line (a common way to write long notes).
fn breaking_notes(body: &[&str]) -> Vec<String> {
    let mut notes = Vec::new();
    for (index, line) in body.iter().enumerate() {
        let Some(caps) = BREAKING.captures(line.trim_end()) else {
            continue;
        };
        let text = caps["text"].trim();
        let text = if text.is_empty() {
            body[index + 1..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.is_empty())
                .unwrap_or("")
        } else {
            text
        };
        notes.push(text.to_string());
    }
    notes
}

/// Conventional headers that start a body paragraph or a bullet line (squash merges).
fn squash_body_entries(body: &[&str]) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut previous_blank = true;
    for line in body {
        let is_bullet = BULLET.is_match(line);
        if previous_blank || is_bullet {
            let text = BULLET.replace(line, "");
            if let Some(entry) = parse_header(text.trim()) {
                entries.push(entry);
            }
        }
        previous_blank = line.trim().is_empty();
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, scope: Option<&str>, bang: bool, description: &str) -> Option<Entry> {
        Some(Entry {
            kind: kind.into(),
            scope: scope.map(Into::into),
            description: description.into(),
            bang,
        })
    }

    #[test]
    fn headers() {
        let table: &[(&str, Option<Entry>)] = &[
            ("feat: add x", entry("feat", None, false, "add x")),
            ("fix(api): y", entry("fix", Some("api"), false, "y")),
            (
                "refactor(core)!: z",
                entry("refactor", Some("core"), true, "z"),
            ),
            ("feat!: z", entry("feat", None, true, "z")),
            ("Feat: upper", entry("feat", None, false, "upper")),
            ("FIX(Api): upper", entry("fix", Some("Api"), false, "upper")),
            (
                "feat:  two spaces",
                entry("feat", None, false, "two spaces"),
            ),
            (
                "build(deps-dev): bump a",
                entry("build", Some("deps-dev"), false, "bump a"),
            ),
            ("feat:missing space", None),
            ("feat:\u{a0}nbsp", None),
            ("feat : spaced colon", None),
            ("feat: ", None),
            ("Merge pull request #12 from a/b", None),
            ("Update README.md", None),
            ("1.0.1", None),
        ];
        for (line, expected) in table {
            assert_eq!(&parse_header(line), expected, "{line:?}");
        }
    }

    #[test]
    fn breaking_footers() {
        let p = parse("feat: x\n\nBREAKING CHANGE: drops y", false);
        assert_eq!(p.breaking_notes, vec!["drops y"]);
        let p = parse("fix: x\n\nBREAKING-CHANGE: drops y", false);
        assert!(p.is_breaking());
        // Lenient: the text on the next paragraph.
        let p = parse("feat: x\n\nBREAKING CHANGE:\n\nthe whole story", false);
        assert_eq!(p.breaking_notes, vec!["the whole story"]);
        // Lenient: under a non-conventional header.
        let p = parse(
            "remove all deprecated APIs (#1760)\n\nBREAKING CHANGE: gone",
            false,
        );
        assert!(p.is_breaking() && p.entry.is_none());
        // The token must be uppercase and at the start of a line.
        assert!(!parse("fix: x\n\nbreaking change: no", false).is_breaking());
        assert!(!parse("fix: x\n\nsee BREAKING CHANGE: no", false).is_breaking());
        assert!(!parse("fix: mention BREAKING CHANGE: in header", false).is_breaking());
    }

    #[test]
    fn reverts() {
        let p = parse(
            "Revert \"feat: add x\" (#44)\n\nThis reverts commit ABCDEF1234567.",
            false,
        );
        assert_eq!(
            p.revert,
            Some(RevertOf {
                header: Some("feat: add x".into()),
                id: Some("abcdef1234567".into())
            })
        );
        let p = parse("revert: \"fix: y\"\n\nRefs: 123", false);
        assert_eq!(p.revert.unwrap().header.as_deref(), Some("fix: y"));
        assert!(parse("fix: revert the layout", false).revert.is_none());
    }

    #[test]
    fn footers_markers_and_pull_requests() {
        let p = parse("chore: release\n\nRelease-As: 7.1.0", false);
        assert_eq!(p.release_as.as_deref(), Some("7.1.0"));
        assert!(parse("feat: x [skip release]", false).skip);
        assert!(parse("feat: x\n\n[release skip]", false).skip);
        assert_eq!(parse("feat: x (#123)", false).pull_request, Some(123));
        assert_eq!(
            parse("Merge pull request #9 from o/b\n\nfeat: y", false).pull_request,
            Some(9)
        );
        assert_eq!(parse("feat: see #5", false).pull_request, None);
    }

    #[test]
    fn squash_bodies_are_read_only_when_asked() {
        let message = "Add PR templates (#547)\n\n* feat: add template\n* fix(ci): lint\n\nfix: another paragraph\nnot a header: really";
        assert!(parse(message, false).body_entries.is_empty());
        let kinds: Vec<String> = parse(message, true)
            .body_entries
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, vec!["feat", "fix", "fix"]);
    }

    #[test]
    fn multi_paragraph_bodies_keep_their_footers() {
        let message = "fix(x): y\n\nFirst paragraph.\n\nSecond paragraph\nwith two lines.\n\nRefs: #1\nBREAKING CHANGE: z";
        let p = parse(message, false);
        assert_eq!(p.breaking_notes, vec!["z"]);
        assert_eq!(p.entry.unwrap().kind, "fix");
    }
}
