//! The lines a pull request or push changed, so that annotations land where the reviewer looks.
//!
//! One `GET /repos/{owner}/{repo}/compare/{base}...{head}` (three dots: the changes since the
//! merge base, which is what a pull request shows) gives every changed file with its unified
//! diff `patch`; [`added_lines`] reads the new-file line numbers of the added lines from it.
//! GitHub leaves `patch` out for binary and very large diffs and lists at most 300 files: such
//! files, and with a full list every file it does not show, cannot be told apart from changed
//! ones, so [`ChangedLines`] counts them as wholly changed rather than hide their findings.

use std::collections::HashMap;

use reqwest::Method;
use serde::Deserialize;

use super::client::{Client, encode_segment};
use super::error::Result;

/// The most files GitHub lists in a comparison; a list this long may have been cut.
pub const MAX_COMPARE_FILES: usize = 300;

/// One changed file of a comparison (the fields we use).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DiffFile {
    /// The file's name after the change (a renamed file's new name).
    pub filename: String,
    /// `added`, `removed`, `modified`, `renamed`, `copied`, `changed` or `unchanged`.
    pub status: String,
    /// The unified diff hunks; absent for binary files and diffs too large to show.
    #[serde(default)]
    pub patch: Option<String>,
    #[serde(default)]
    pub previous_filename: Option<String>,
}

/// A comparison of two commits (the fields we use).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Comparison {
    #[serde(default)]
    pub files: Vec<DiffFile>,
}

impl Client {
    /// Compares `base...head`: the files changed on head since the merge base.
    pub async fn compare(&self, base: &str, head: &str) -> Result<Comparison> {
        let basehead = format!("{}...{}", encode_segment(base), encode_segment(head));
        let path = self.repo_path(&format!("/compare/{basehead}"));
        // With a page size the files come on the first page only, and the commits we do not
        // need (up to 250 of them otherwise) stay on the server.
        let query = [("per_page", "1".to_string())];
        self.call("repos/compare-commits", Method::GET, &path, &query, None)
            .await
    }
}

/// Why the added lines of a patch cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} of the patch: {problem}")]
pub struct PatchError {
    pub line: usize,
    pub problem: String,
}

/// The start and line count of one side of a hunk header (`+12,3`, or `+12` for one line).
fn side(text: &str, sign: char) -> Option<(u32, u32)> {
    let numbers = text.strip_prefix(sign)?;
    let (start, count) = match numbers.split_once(',') {
        Some((start, count)) => (start.parse().ok()?, count.parse().ok()?),
        None => (numbers.parse().ok()?, 1),
    };
    Some((start, count))
}

/// `@@ -a,b +c,d @@ optional section`: the old and new sides.
fn hunk_header(line: &str) -> Option<((u32, u32), (u32, u32))> {
    let mut words = line.strip_prefix("@@ ")?.split(' ');
    let old = side(words.next()?, '-')?;
    let new = side(words.next()?, '+')?;
    (words.next()? == "@@").then_some((old, new))
}

/// The new-file line numbers of the added (`+`) lines of a unified diff, ascending.
///
/// Lines outside hunks (`diff --git`, `---`/`+++` headers) are skipped; inside a hunk the
/// header's counts say where it ends, so an added line that itself starts with `++` is not
/// mistaken for a header. `\ No newline at end of file` belongs to neither side.
pub fn added_lines(patch: &str) -> std::result::Result<Vec<u32>, PatchError> {
    let mut added = Vec::new();
    let (mut old_left, mut new_left, mut next_new) = (0u32, 0u32, 0u32);
    for (index, line) in patch.lines().enumerate() {
        let error = |problem: &str| PatchError {
            line: index + 1,
            problem: problem.to_string(),
        };
        if old_left == 0 && new_left == 0 {
            if line.starts_with("@@") {
                let (old, new) = hunk_header(line).ok_or_else(|| error("bad hunk header"))?;
                (old_left, new_left, next_new) = (old.1, new.1, new.0);
            }
            continue;
        }
        match line.chars().next() {
            Some('+') => {
                new_left = new_left
                    .checked_sub(1)
                    .ok_or_else(|| error("too many added lines"))?;
                added.push(next_new);
                next_new += 1;
            }
            Some('-') => {
                old_left = old_left
                    .checked_sub(1)
                    .ok_or_else(|| error("too many removed lines"))?;
            }
            Some('\\') => {}
            // Context; some tools strip the lone space of an empty context line.
            Some(' ') | None => {
                old_left = old_left
                    .checked_sub(1)
                    .ok_or_else(|| error("too many lines"))?;
                new_left = new_left
                    .checked_sub(1)
                    .ok_or_else(|| error("too many lines"))?;
                next_new += 1;
            }
            Some(_) => return Err(error("a line in a hunk must start with +, - or space")),
        }
    }
    if old_left != 0 || new_left != 0 {
        return Err(PatchError {
            line: patch.lines().count(),
            problem: "the last hunk ends early".into(),
        });
    }
    Ok(added)
}

/// What is known about one file's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    /// The added lines, ascending (empty for a file with only deletions).
    Lines(Vec<u32>),
    /// No readable patch (binary, too large, unparsable): every line counts as changed.
    Whole,
}

/// The changed lines of a comparison, per file (by its new name).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangedLines {
    files: HashMap<String, FileChange>,
    /// GitHub's list may have been cut, so a file not in it may have changed too.
    truncated: bool,
}

impl ChangedLines {
    /// Reads the files of a comparison.
    pub fn from_files(files: &[DiffFile]) -> ChangedLines {
        let changes = files.iter().map(|file| {
            let change = match file.patch.as_deref().map(added_lines) {
                Some(Ok(lines)) => FileChange::Lines(lines),
                Some(Err(e)) => {
                    tracing::debug!(file = %file.filename, error = %e, "unreadable patch");
                    FileChange::Whole
                }
                None => FileChange::Whole,
            };
            (file.filename.clone(), change)
        });
        ChangedLines::new(changes, files.len() >= MAX_COMPARE_FILES)
    }

    /// A change from `(path, change)` pairs, for callers that know the lines already.
    pub fn new(files: impl IntoIterator<Item = (String, FileChange)>, truncated: bool) -> Self {
        ChangedLines {
            files: files.into_iter().collect(),
            truncated,
        }
    }

    /// True when any line of `start..=end` of `path` changed, or when that cannot be told.
    pub fn touches(&self, path: &str, start: u32, end: u32) -> bool {
        match self.files.get(path) {
            Some(FileChange::Whole) => true,
            Some(FileChange::Lines(lines)) => {
                let from = lines.partition_point(|l| *l < start);
                lines.get(from).is_some_and(|l| *l <= end.max(start))
            }
            None => self.truncated,
        }
    }

    /// The files whose changed lines could not be read, sorted.
    pub fn whole_files(&self) -> Vec<&str> {
        let mut whole: Vec<&str> = self
            .files
            .iter()
            .filter(|(_, change)| **change == FileChange::Whole)
            .map(|(name, _)| name.as_str())
            .collect();
        whole.sort_unstable();
        whole
    }

    /// True when GitHub's file list may have been cut (files not listed count as changed).
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Files in the comparison.
    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// What could not be told, in a sentence for the summary; `None` when everything could.
    pub fn caveat(&self) -> Option<String> {
        let whole = self.whole_files();
        let mut parts = Vec::new();
        if !whole.is_empty() {
            let shown: Vec<String> = whole.iter().take(5).map(|f| format!("`{f}`")).collect();
            let more = whole.len().saturating_sub(shown.len());
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            parts.push(format!(
                "GitHub gave no readable diff for {}{more}, so every line there counts as changed",
                shown.join(", ")
            ));
        }
        if self.truncated {
            parts.push(format!(
                "GitHub lists at most {MAX_COMPARE_FILES} changed files, so files it did not list count as changed"
            ));
        }
        (!parts.is_empty()).then(|| format!("{}.", parts.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, patch: Option<&str>) -> DiffFile {
        DiffFile {
            filename: name.into(),
            status: "modified".into(),
            patch: patch.map(str::to_string),
            previous_filename: None,
        }
    }

    #[test]
    fn added_lines_of_several_hunks_count_from_each_header() {
        let patch = "@@ -1,3 +1,4 @@ def main():\n import os\n+import subprocess\n \n x = 1\n\
                     @@ -20,4 +21,4 @@ class A:\n a\n-b\n+c\n+d\n-e\n f\n";
        assert_eq!(added_lines(patch).unwrap(), vec![2, 22, 23]);
    }

    #[test]
    fn no_newline_markers_belong_to_neither_side() {
        let patch = "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n\\ No newline at end of file\n";
        assert_eq!(added_lines(patch).unwrap(), vec![2]);
    }

    #[test]
    fn deletions_only_add_nothing() {
        let patch = "@@ -5,3 +4,0 @@\n-x\n-y\n-z\n";
        assert_eq!(added_lines(patch).unwrap(), Vec::<u32>::new());
    }

    #[test]
    fn a_new_file_adds_every_line() {
        let patch = "@@ -0,0 +1,3 @@\n+a\n+b\n+c";
        assert_eq!(added_lines(patch).unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn omitted_counts_mean_one_line() {
        let patch = "@@ -1 +1 @@\n-old\n+new\n";
        assert_eq!(added_lines(patch).unwrap(), vec![1]);
    }

    #[test]
    fn file_headers_are_skipped_and_plus_plus_content_is_an_added_line() {
        let patch = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,1 +1,2 @@\n a\n+++counter;\n";
        assert_eq!(added_lines(patch).unwrap(), vec![2]);
    }

    #[test]
    fn broken_patches_are_errors() {
        assert!(added_lines("@@ -1,2 +1,x @@\n").is_err());
        assert!(added_lines("@@ -1,2 +1,2 @@\n a\n").is_err(), "ends early");
        assert!(
            added_lines("@@ -1,1 +1,1 @@\n a\n+b\n").is_ok(),
            "+b is outside the hunk"
        );
        assert!(added_lines("@@ -1,1 +1,1 @@\n*a\n").is_err());
    }

    #[test]
    fn findings_touch_changed_lines_by_range() {
        let changed =
            ChangedLines::from_files(&[file("app.py", Some("@@ -9,0 +10,2 @@\n+a\n+b\n"))]);
        assert!(changed.touches("app.py", 10, 10));
        assert!(
            changed.touches("app.py", 5, 10),
            "a region that ends on a changed line"
        );
        assert!(changed.touches("app.py", 11, 40));
        assert!(!changed.touches("app.py", 12, 40));
        assert!(!changed.touches("app.py", 1, 9));
        assert!(
            !changed.touches("other.py", 10, 10),
            "an unlisted file did not change"
        );
        assert_eq!(changed.caveat(), None);
    }

    #[test]
    fn files_without_a_patch_and_cut_lists_count_as_changed() {
        let changed =
            ChangedLines::from_files(&[file("logo.png", None), file("a.py", Some("@@ bad"))]);
        assert!(changed.touches("logo.png", 1, 1));
        assert!(
            changed.touches("a.py", 99, 99),
            "an unreadable patch cannot rule lines out"
        );
        assert_eq!(changed.whole_files(), vec!["a.py", "logo.png"]);
        assert!(changed.caveat().unwrap().contains("`a.py`, `logo.png`"));

        let many: Vec<DiffFile> = (0..MAX_COMPARE_FILES)
            .map(|i| file(&format!("f{i}.py"), Some("@@ -1 +1 @@\n-a\n+b\n")))
            .collect();
        let cut = ChangedLines::from_files(&many);
        assert!(cut.truncated());
        assert!(cut.touches("unlisted.py", 7, 7));
        assert!(!cut.touches("f1.py", 7, 7));
        assert!(cut.caveat().unwrap().contains("at most 300"));
    }

    #[test]
    fn a_comparison_reads_from_githubs_shape() {
        let body = r#"{"status":"ahead","files":[{"sha":null,"filename":"new.py","status":"renamed",
            "previous_filename":"old.py","additions":1,"deletions":0,"changes":1,
            "patch":"@@ -1,1 +1,2 @@\n a\n+b"}]}"#;
        let comparison: Comparison = serde_json::from_str(body).unwrap();
        let changed = ChangedLines::from_files(&comparison.files);
        assert!(changed.touches("new.py", 2, 2));
        assert!(
            !changed.touches("old.py", 2, 2),
            "renamed files keep their new name"
        );
    }
}
