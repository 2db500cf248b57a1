//! Bump rules: what each commit in `last_release..HEAD` is worth, and the range's level.
//!
//! The highest level wins. A revert whose target is in the same range cancels both; a revert
//! of something already released is a patch. `[skip release]` removes a commit. Merge commits
//! count through the branch commits they bring, never through their own `Merge …` header.

use std::collections::BTreeMap;

use super::commit::{self, Entry, Parsed, RawCommit};
use super::version::{Level, PreMajor};

/// The configurable rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// Level per lowercased commit type.
    pub types: BTreeMap<String, Level>,
    /// Level of a conventional type not in `types` (`*:level`; `none` by default).
    pub other_types: Level,
    /// Level of a revert unless `types` names `revert`.
    pub revert: Level,
    /// Level of a non-merge commit whose header is not conventional.
    pub non_conventional: Level,
    pub pre_major: PreMajor,
    /// Read conventional entries listed in squash-merge bodies.
    pub squash_entries: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            types: parse_types(&["feat:minor", "fix:patch", "perf:patch"]).expect("defaults"),
            other_types: Level::None,
            revert: Level::Patch,
            non_conventional: Level::None,
            pre_major: PreMajor::default(),
            squash_entries: false,
        }
    }
}

impl Rules {
    /// Sets the type map from `type:level` items; `*:level` sets the level of other types.
    pub fn with_types<S: AsRef<str>>(mut self, items: &[S]) -> Result<Self, String> {
        let mut types = parse_types(items)?;
        self.other_types = types.remove("*").unwrap_or(Level::None);
        if let Some(level) = types.get("revert") {
            self.revert = *level;
        }
        self.types = types;
        Ok(self)
    }

    /// What one parsed commit is worth on its own (before reverts cancel anything).
    pub fn level_of(&self, commit: &RawCommit, parsed: &Parsed) -> Level {
        if parsed.skip {
            return Level::None;
        }
        if parsed.is_breaking() || parsed.body_entries.iter().any(|e| e.bang) {
            return Level::Major;
        }
        let body = parsed
            .body_entries
            .iter()
            .map(|e| self.level_of_entry(e))
            .max()
            .unwrap_or(Level::None);
        let own = if parsed.revert.is_some() {
            self.revert
        } else if let Some(entry) = &parsed.entry {
            self.level_of_entry(entry)
        } else if commit.parents > 1 {
            Level::None
        } else {
            self.non_conventional
        };
        own.max(body)
    }

    fn level_of_entry(&self, entry: &Entry) -> Level {
        if entry.bang {
            return Level::Major;
        }
        self.types
            .get(&entry.kind)
            .copied()
            .unwrap_or(self.other_types)
    }
}

/// Parses `type:level` items, naming the bad item in the error.
pub fn parse_types<S: AsRef<str>>(items: &[S]) -> Result<BTreeMap<String, Level>, String> {
    let mut types = BTreeMap::new();
    for item in items {
        let item = item.as_ref();
        let Some((kind, level)) = item.split_once(':') else {
            return Err(format!(
                "`{item}` is not type:level; write items like feat:minor,fix:patch"
            ));
        };
        let kind = kind.trim().to_ascii_lowercase();
        let valid_kind = kind == "*"
            || (!kind.is_empty()
                && kind
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        if !valid_kind {
            return Err(format!(
                "`{kind}` in `{item}` is not a commit type; use letters, digits, - and _ (or *)"
            ));
        }
        let Some(level) = Level::parse(level) else {
            return Err(format!(
                "`{}` in `{item}` is not a level; use major, minor, patch or none",
                level.trim()
            ));
        };
        types.insert(kind, level);
    }
    Ok(types)
}

/// One commit of the range with what it is worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub commit: RawCommit,
    pub parsed: Parsed,
    pub level: Level,
}

/// The outcome of reading a range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    /// The commits that still count, newest first.
    pub changes: Vec<Change>,
    /// The highest level in the range, before the pre-1.0 shift.
    pub level: Level,
    /// The newest `Release-As:` footer.
    pub release_as: Option<String>,
    /// Pairs (revert, reverted) that cancelled each other.
    pub cancelled: Vec<(String, String)>,
    /// Commits marked `[skip release]`.
    pub skipped: usize,
}

/// Reads a range given newest first (git log order).
pub fn analyse(commits: &[RawCommit], rules: &Rules) -> Analysis {
    let mut fold = Fold::default();
    // Oldest first, so a revert always comes after what it reverts.
    commits.iter().rev().for_each(|c| fold.land(c, rules));
    fold.finish()
}

/// The level of the range at each commit as it lands (oldest first): where a release would
/// already have been proposed had the action run there. The last item is `analyse(..).level`.
pub fn levels_as_they_land(commits: &[RawCommit], rules: &Rules) -> Vec<Level> {
    let mut fold = Fold::default();
    commits
        .iter()
        .rev()
        .map(|c| {
            fold.land(c, rules);
            fold.level()
        })
        .collect()
}

/// The state of a range read oldest first.
#[derive(Default)]
struct Fold {
    kept: Vec<Change>,
    cancelled: Vec<(String, String)>,
    skipped: usize,
}

impl Fold {
    fn land(&mut self, commit: &RawCommit, rules: &Rules) {
        let parsed = commit::parse(&commit.message, rules.squash_entries);
        if parsed.skip {
            self.skipped += 1;
            return;
        }
        if let Some(position) = reverted_position(&parsed, &self.kept) {
            let target = self.kept.remove(position);
            self.cancelled.push((commit.id.clone(), target.commit.id));
            return;
        }
        let level = rules.level_of(commit, &parsed);
        self.kept.push(Change {
            commit: commit.clone(),
            parsed,
            level,
        });
    }

    fn level(&self) -> Level {
        self.kept
            .iter()
            .map(|c| c.level)
            .max()
            .unwrap_or(Level::None)
    }

    fn finish(mut self) -> Analysis {
        let level = self.level();
        self.kept.reverse();
        Analysis {
            level,
            release_as: self.kept.iter().find_map(|c| c.parsed.release_as.clone()),
            changes: self.kept,
            cancelled: self.cancelled,
            skipped: self.skipped,
        }
    }
}

/// Where the commit a revert undoes sits among the kept ones: by id first, then by header.
fn reverted_position(parsed: &Parsed, kept: &[Change]) -> Option<usize> {
    let revert = parsed.revert.as_ref()?;
    if let Some(id) = &revert.id {
        let by_id = kept.iter().rposition(|c| {
            let kept_id = c.commit.id.to_ascii_lowercase();
            kept_id.starts_with(id.as_str()) || id.starts_with(kept_id.as_str())
        });
        if by_id.is_some() {
            return by_id;
        }
        // An id that names a commit outside the range: a revert of something released.
        return None;
    }
    let header = revert.header.as_deref()?;
    kept.iter().rposition(|c| c.parsed.header == header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commits(messages: &[&str]) -> Vec<RawCommit> {
        // Newest first, like git log: the last message is the oldest commit.
        let n = messages.len();
        messages
            .iter()
            .enumerate()
            .map(|(i, m)| RawCommit {
                id: format!("{:040x}", n - i),
                parents: if m.starts_with("Merge ") { 2 } else { 1 },
                author: "A".into(),
                message: m.to_string(),
            })
            .collect()
    }

    fn level(messages: &[&str], rules: &Rules) -> Level {
        analyse(&commits(messages), rules).level
    }

    #[test]
    fn default_rule_table() {
        let rules = Rules::default();
        let table: &[(&[&str], Level)] = &[
            (&["fix: a"], Level::Patch),
            (&["feat: a", "fix: b"], Level::Minor),
            (&["perf: a"], Level::Patch),
            (&["feat(api): a"], Level::Minor),
            (&["feat!: a"], Level::Major),
            (&["refactor(core)!: a"], Level::Major),
            (&["fix: a\n\nBREAKING CHANGE: b"], Level::Major),
            (&["fix: a\n\nBREAKING-CHANGE: b"], Level::Major),
            (&["fix: a\n\nbreaking change: b"], Level::Patch),
            (&["Remove x\n\nBREAKING CHANGE: b"], Level::Major),
            (&["chore: a", "docs: b"], Level::None),
            (&["Update README", "bump deps"], Level::None),
            (&["FEAT: a"], Level::Minor),
            (&["fix:a"], Level::None),
            (
                &["Revert \"feat: a\"\n\nThis reverts commit 1234567890abcdef."],
                Level::Patch,
            ),
            (&["revert: feat: a"], Level::Patch),
            (&["Merge pull request #1 from o/b", "feat: a"], Level::Minor),
            (&["feat: a [skip release]", "fix: b"], Level::Patch),
            (&["Add templates (#547)\n\n* feat: add x"], Level::None),
            (&["fix: a (#5)\n\nfeat: second paragraph"], Level::Patch),
            (&[], Level::None),
        ];
        for (messages, expected) in table {
            assert_eq!(level(messages, &rules), *expected, "{messages:?}");
        }
    }

    #[test]
    fn a_revert_in_the_same_range_cancels_both() {
        let rules = Rules::default();
        let range = commits(&[
            "Revert \"feat: add x (#3)\" (#4)\n\nThis reverts commit 0000000000000000000000000000000000000001.",
            "feat: add x (#3)",
        ]);
        let analysis = analyse(&range, &rules);
        assert_eq!(analysis.level, Level::None);
        assert_eq!(analysis.cancelled.len(), 1);
        assert!(analysis.changes.is_empty());
        // Matched by header when the body names no commit.
        assert_eq!(
            level(&["revert: fix: y", "fix: y", "feat: z"], &rules),
            Level::Minor
        );
        // A revert of a released commit stays a patch.
        assert_eq!(
            level(
                &[
                    "Revert \"feat: old\"\n\nThis reverts commit abcdef0123456.",
                    "chore: x"
                ],
                &rules
            ),
            Level::Patch
        );
    }

    #[test]
    fn options_change_the_table() {
        let patchy = Rules {
            non_conventional: Level::Patch,
            squash_entries: true,
            ..Rules::default()
        }
        .with_types(&["feat:minor", "fix:patch", "*:patch", "revert:none"])
        .unwrap();
        assert_eq!(level(&["Update README"], &patchy), Level::Patch);
        assert_eq!(level(&["Merge branch 'x'"], &patchy), Level::None);
        assert_eq!(level(&["chore: a"], &patchy), Level::Patch);
        assert_eq!(level(&["Revert \"x\""], &patchy), Level::None);
        assert_eq!(
            level(&["Add templates (#547)\n\n* feat: add x"], &patchy),
            Level::Minor
        );
        assert_eq!(level(&["Squash\n\n- feat!: drop y"], &patchy), Level::Major);
    }

    #[test]
    fn levels_as_commits_land() {
        let range = commits(&["fix: c", "feat: b", "chore: a"]);
        let levels = levels_as_they_land(&range, &Rules::default());
        assert_eq!(levels, vec![Level::None, Level::Minor, Level::Minor]);
    }

    #[test]
    fn newest_release_as_footer_wins() {
        let analysis = analyse(
            &commits(&[
                "fix: b\n\nRelease-As: 2.0.0",
                "feat!: a\n\nRelease-As: 1.5.0",
            ]),
            &Rules::default(),
        );
        assert_eq!(analysis.release_as.as_deref(), Some("2.0.0"));
    }

    #[test]
    fn bad_types_name_the_item() {
        assert!(parse_types(&["feat"]).unwrap_err().contains("`feat`"));
        assert!(
            parse_types(&["feat:huge"])
                .unwrap_err()
                .contains("major, minor")
        );
        assert!(
            parse_types(&["fe at:minor"])
                .unwrap_err()
                .contains("not a commit type")
        );
        assert_eq!(
            parse_types(&["Feat:MINOR"]).unwrap().get("feat"),
            Some(&Level::Minor)
        );
    }
}
