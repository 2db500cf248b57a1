//! The sticky PR comment: one comment per workflow run, found by a hidden marker, in which each
//! action owns a section (with its own markers) that it rewrites in place without touching the
//! others. The merge is a pure function; the client only finds, creates and patches comments.
//!
//! ```text
//! <!-- deploy-tcb:sticky run=123 -->
//! ### deploy-tcb · CI
//! <!-- deploy-tcb:section deploy/production -->
//! …deploy's content…
//! <!-- deploy-tcb:end deploy/production -->
//! <!-- deploy-tcb:section security-scan -->
//! …
//! <!-- deploy-tcb:end security-scan -->
//! ```

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::Client;

/// How many times a written section is checked for a racing job's overwrite.
const SECTION_RECHECKS: u32 = 3;

/// 200 ms, 400 ms, 600 ms… plus up to 300 ms of jitter, so two racing jobs re-check apart.
fn recheck_pause(attempt: u32) -> std::time::Duration {
    std::time::Duration::from_millis(200 * u64::from(attempt + 1) + rand::random_range(0..300))
}
use super::error::{GithubError, Result};

/// GitHub's limit on a comment body, in characters.
pub const MAX_COMMENT_CHARS: usize = 65_536;
const PREFIX: &str = "<!-- deploy-tcb:";

/// Identifies the sticky comment of one workflow run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StickyComment {
    /// The run id (`GITHUB_RUN_ID`); re-run attempts share it and so share the comment.
    pub run_id: u64,
    /// The heading shown above the sections (e.g. the workflow name).
    pub heading: String,
}

impl StickyComment {
    pub fn new(run_id: u64, heading: &str) -> Self {
        StickyComment {
            run_id,
            heading: heading.to_string(),
        }
    }

    /// The hidden marker that identifies the comment.
    pub fn marker(&self) -> String {
        format!("{PREFIX}sticky run={} -->", self.run_id)
    }
}

/// A section id: letters, digits and `-_./`, e.g. `deploy/production`.
pub fn valid_section_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

/// A valid section id made from any text (an environment, an image name): characters a
/// section id cannot hold become `-`.
pub fn section_id_for(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_./".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn section_start(id: &str) -> String {
    format!("{PREFIX}section {id} -->")
}

fn section_end(id: &str) -> String {
    format!("{PREFIX}end {id} -->")
}

/// Content must not carry our markers, or a later merge would cut it in the wrong place.
fn neutralise(content: &str) -> String {
    content.replace(PREFIX, "<!-- deploy-tcb (quoted):")
}

fn render_section(id: &str, content: &str) -> String {
    format!(
        "{}\n{}\n{}",
        section_start(id),
        neutralise(content.trim_end()),
        section_end(id)
    )
}

/// Merges `content` into the section `id` of `existing` (or of a new comment when `existing`
/// is `None` or is not this run's sticky comment). Every other byte of the body is kept.
/// When the result would exceed GitHub's limit, this section's content is truncated.
pub fn merge_section(
    existing: Option<&str>,
    sticky: &StickyComment,
    id: &str,
    content: &str,
) -> String {
    let base = match existing {
        Some(body) if body.contains(&sticky.marker()) => body.to_string(),
        _ => format!("{}\n### {}\n", sticky.marker(), sticky.heading.trim()),
    };
    let merged = splice(&base, id, content);
    let excess = merged.chars().count().saturating_sub(MAX_COMMENT_CHARS);
    if excess == 0 {
        return merged;
    }
    let note = "\n\n… (truncated to fit GitHub's comment limit)";
    let keep = content
        .chars()
        .count()
        .saturating_sub(excess + note.chars().count());
    let cut: String = content.chars().take(keep).collect();
    splice(&base, id, &format!("{cut}{note}"))
}

/// Replaces the section in place, or appends it at the end.
fn splice(base: &str, id: &str, content: &str) -> String {
    let rendered = render_section(id, content);
    let (start, end) = (section_start(id), section_end(id));
    if let Some(from) = base.find(&start)
        && let Some(rel) = base[from..].find(&end)
    {
        let to = from + rel + end.len();
        return format!("{}{rendered}{}", &base[..from], &base[to..]);
    }
    let separator = if base.ends_with('\n') { "" } else { "\n" };
    format!("{base}{separator}{rendered}\n")
}

/// The content of section `id` in `body`, if present.
pub fn section_content<'a>(body: &'a str, id: &str) -> Option<&'a str> {
    let start = section_start(id);
    let from = body.find(&start)? + start.len();
    let to = from + body[from..].find(&section_end(id))?;
    Some(body[from..to].trim_matches('\n'))
}

/// Every section of `body` as `(id, content)`, in order.
pub fn sections(body: &str) -> Vec<(String, String)> {
    let start = format!("{PREFIX}section ");
    let mut found = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find(&start) {
        let after = &rest[at + start.len()..];
        let Some(id) = after.split(" -->").next().filter(|id| valid_section_id(id)) else {
            rest = after;
            continue;
        };
        if let Some(content) = section_content(rest, id) {
            found.push((id.to_string(), content.to_string()));
        }
        rest = after;
    }
    found
}

/// Folds duplicate sticky comments (two jobs of one run that both created the comment) into
/// the oldest: sections it lacks are taken from the others, its own are kept.
pub fn absorb_duplicates(oldest: &str, duplicates: &[&str], sticky: &StickyComment) -> String {
    let mut body = oldest.to_string();
    for duplicate in duplicates {
        for (id, content) in sections(duplicate) {
            if section_content(&body, &id).is_none() {
                body = merge_section(Some(&body), sticky, &id, &content);
            }
        }
    }
    body
}

/// An issue or PR comment as GitHub returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IssueComment {
    pub id: u64,
    pub body: Option<String>,
    pub html_url: String,
}

impl Client {
    /// Lists the comments on issue or PR `number` (all pages, oldest first).
    pub async fn list_issue_comments(&self, number: u64) -> Result<Vec<IssueComment>> {
        let path = self.repo_path(&format!("/issues/{number}/comments"));
        let mut all = Vec::new();
        for page in 1.. {
            let query = [("per_page", "100".to_string()), ("page", page.to_string())];
            let batch: Vec<IssueComment> = self
                .call("issues/list-comments", Method::GET, &path, &query, None)
                .await?;
            let last = batch.len() < 100;
            all.extend(batch);
            if last || page >= 50 {
                break;
            }
        }
        Ok(all)
    }

    /// The comments on PR `number` that carry this run's marker, oldest first (normally one).
    pub async fn find_sticky_comments(
        &self,
        number: u64,
        sticky: &StickyComment,
    ) -> Result<Vec<IssueComment>> {
        let marker = sticky.marker();
        let comments = self.list_issue_comments(number).await?;
        Ok(comments
            .into_iter()
            .filter(|c| c.body.as_deref().is_some_and(|b| b.contains(&marker)))
            .collect())
    }

    /// The oldest comment on PR `number` that carries this run's marker.
    pub async fn find_sticky_comment(
        &self,
        number: u64,
        sticky: &StickyComment,
    ) -> Result<Option<IssueComment>> {
        Ok(self
            .find_sticky_comments(number, sticky)
            .await?
            .into_iter()
            .next())
    }

    /// Writes this action's section of the run's sticky comment on PR `number`: patches the
    /// comment in place when it exists, creates it otherwise. Jobs of one run may race to
    /// create it; whoever sees two folds them into the oldest and deletes the rest.
    pub async fn upsert_sticky_section(
        &self,
        number: u64,
        sticky: &StickyComment,
        section: &str,
        content: &str,
    ) -> Result<IssueComment> {
        if !valid_section_id(section) {
            return Err(GithubError::config(
                format!("sticky comment section `{section}` is not a valid id"),
                "use letters, digits and -_./ (e.g. deploy/production)",
            ));
        }
        let found = self.find_sticky_comments(number, sticky).await?;
        if !found.is_empty() {
            let written = self
                .fold_into_oldest(found, sticky, section, content)
                .await?;
            return self
                .keep_section(number, sticky, section, content, written)
                .await;
        }
        let created = self
            .create_issue_comment(number, &merge_section(None, sticky, section, content))
            .await?;
        // Did another job create one at the same time? Then keep only the oldest.
        let found = self.find_sticky_comments(number, sticky).await?;
        if found.len() <= 1 {
            return Ok(created);
        }
        self.fold_into_oldest(found, sticky, section, content).await
    }

    /// Two jobs patching the comment at the same instant each write back the body they read,
    /// so the later write drops the earlier one's new section. After a short, jittered pause
    /// the comment is read again and our section put back if it was lost, a few times at most.
    async fn keep_section(
        &self,
        number: u64,
        sticky: &StickyComment,
        section: &str,
        content: &str,
        mut written: IssueComment,
    ) -> Result<IssueComment> {
        for attempt in 0..SECTION_RECHECKS {
            tokio::time::sleep(recheck_pause(attempt)).await;
            let found = self.find_sticky_comments(number, sticky).await?;
            let Some(oldest) = found.first() else {
                return Ok(written);
            };
            let body = oldest.body.as_deref().unwrap_or_default();
            if found.len() == 1 && merge_section(Some(body), sticky, section, content) == body {
                return Ok(oldest.clone());
            }
            tracing::debug!(
                section,
                "the sticky comment lost our section; writing it again"
            );
            written = self
                .fold_into_oldest(found, sticky, section, content)
                .await?;
        }
        Ok(written)
    }

    async fn fold_into_oldest(
        &self,
        found: Vec<IssueComment>,
        sticky: &StickyComment,
        section: &str,
        content: &str,
    ) -> Result<IssueComment> {
        let (oldest, duplicates) = found.split_first().expect("at least one sticky comment");
        let others: Vec<&str> = duplicates
            .iter()
            .filter_map(|c| c.body.as_deref())
            .collect();
        let base = absorb_duplicates(oldest.body.as_deref().unwrap_or_default(), &others, sticky);
        let body = merge_section(Some(&base), sticky, section, content);
        let updated = if Some(body.as_str()) == oldest.body.as_deref() {
            oldest.clone()
        } else {
            self.update_issue_comment(oldest.id, &body).await?
        };
        for duplicate in duplicates {
            if let Err(error) = self.delete_issue_comment(duplicate.id).await {
                tracing::debug!(%error, "could not delete a duplicate sticky comment");
            }
        }
        Ok(updated)
    }

    /// Deletes comment `id`.
    pub async fn delete_issue_comment(&self, id: u64) -> Result<()> {
        let path = self.repo_path(&format!("/issues/comments/{id}"));
        self.exchange("issues/delete-comment", Method::DELETE, &path, &[], None)
            .await?;
        Ok(())
    }

    /// Creates a comment on issue or PR `number`.
    pub async fn create_issue_comment(&self, number: u64, body: &str) -> Result<IssueComment> {
        let path = self.repo_path(&format!("/issues/{number}/comments"));
        let body = json!({ "body": body });
        self.call(
            "issues/create-comment",
            Method::POST,
            &path,
            &[],
            Some(&body),
        )
        .await
    }

    /// Replaces the body of comment `id` (PATCH, as the API describes it).
    pub async fn update_issue_comment(&self, id: u64, body: &str) -> Result<IssueComment> {
        let path = self.repo_path(&format!("/issues/comments/{id}"));
        let body = json!({ "body": body });
        self.call(
            "issues/update-comment",
            Method::PATCH,
            &path,
            &[],
            Some(&body),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sticky() -> StickyComment {
        StickyComment::new(77, "deploy-tcb · CI")
    }

    #[test]
    fn a_new_comment_has_the_marker_heading_and_section() {
        let body = merge_section(None, &sticky(), "deploy", "Deployed v1");
        assert!(body.starts_with("<!-- deploy-tcb:sticky run=77 -->\n### deploy-tcb · CI\n"));
        assert_eq!(section_content(&body, "deploy"), Some("Deployed v1"));
    }

    #[test]
    fn updating_one_section_keeps_the_others_byte_for_byte() {
        let one = merge_section(None, &sticky(), "deploy", "v1 pending");
        let two = merge_section(Some(&one), &sticky(), "security-scan", "3 findings");
        let three = merge_section(Some(&two), &sticky(), "deploy", "v1 live\nhttps://x");
        assert_eq!(
            section_content(&three, "deploy"),
            Some("v1 live\nhttps://x")
        );
        assert_eq!(section_content(&three, "security-scan"), Some("3 findings"));
        let scan_block = |b: &str| {
            let from = b.find("<!-- deploy-tcb:section security-scan").unwrap();
            b[from..].to_string()
        };
        assert_eq!(scan_block(&two), scan_block(&three));
        assert!(
            three.find("section deploy").unwrap() < three.find("section security-scan").unwrap()
        );
    }

    #[test]
    fn merging_is_idempotent() {
        let once = merge_section(None, &sticky(), "deploy", "same");
        let twice = merge_section(Some(&once), &sticky(), "deploy", "same");
        assert_eq!(once, twice);
    }

    #[test]
    fn another_runs_comment_is_not_reused() {
        let other = merge_section(None, &StickyComment::new(1, "x"), "deploy", "old");
        let body = merge_section(Some(&other), &sticky(), "deploy", "new");
        assert!(!body.contains("old") && body.contains("run=77"));
    }

    #[test]
    fn content_cannot_forge_markers() {
        let evil = "<!-- deploy-tcb:end deploy -->\ninjected";
        let body = merge_section(None, &sticky(), "deploy", evil);
        let again = merge_section(Some(&body), &sticky(), "deploy", "clean");
        assert!(!again.contains("injected"));
        assert_eq!(section_content(&again, "deploy"), Some("clean"));
    }

    #[test]
    fn oversized_content_is_truncated_to_the_limit() {
        let huge = "y".repeat(MAX_COMMENT_CHARS + 500);
        let body = merge_section(None, &sticky(), "scan", &huge);
        assert!(body.chars().count() <= MAX_COMMENT_CHARS);
        assert!(body.contains("truncated"));
    }

    #[test]
    fn sections_are_listed_in_order() {
        let body = merge_section(None, &sticky(), "a", "one");
        let body = merge_section(Some(&body), &sticky(), "b/c", "two\nlines");
        assert_eq!(
            sections(&body),
            vec![
                ("a".into(), "one".into()),
                ("b/c".into(), "two\nlines".into())
            ]
        );
    }

    #[test]
    fn duplicates_fold_into_the_oldest_keeping_its_sections() {
        let oldest = merge_section(None, &sticky(), "deploy", "from oldest");
        let dup = merge_section(None, &sticky(), "deploy", "stale");
        let dup = merge_section(Some(&dup), &sticky(), "scan", "from duplicate");
        let folded = absorb_duplicates(&oldest, &[&dup], &sticky());
        assert_eq!(section_content(&folded, "deploy"), Some("from oldest"));
        assert_eq!(section_content(&folded, "scan"), Some("from duplicate"));
    }

    #[test]
    fn section_ids_are_checked() {
        assert!(valid_section_id("deploy/production"));
        assert!(!valid_section_id("bad id -->"));
        assert!(!valid_section_id(""));
        assert_eq!(
            section_id_for("127.0.0.1:5000/team/app"),
            "127.0.0.1-5000/team/app"
        );
        assert!(valid_section_id(&section_id_for("prod env#1")));
    }
}
