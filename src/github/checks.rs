//! Check runs with annotations, and commit statuses.
//!
//! GitHub takes at most 50 annotations per request and appends the annotations of each update,
//! so [`Client::create_check_run`] sends the first 50 with the create and the rest in PATCHes.

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::client::{Client, encode_segment};
use super::error::Result;

/// Annotations per request, GitHub's limit.
pub const ANNOTATIONS_PER_REQUEST: usize = 50;
/// Longest `title`, `summary` or `text` GitHub accepts.
pub const MAX_OUTPUT_CHARS: usize = 65_535;
/// Longest commit status description GitHub accepts.
pub const MAX_STATUS_DESCRIPTION: usize = 140;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Queued,
    InProgress,
    Completed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    Success,
    Failure,
    Neutral,
    Cancelled,
    Skipped,
    TimedOut,
    ActionRequired,
}

/// Annotation levels the Checks API accepts (`error` is not one of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationLevel {
    Notice,
    Warning,
    Failure,
}

impl From<crate::runner::Level> for AnnotationLevel {
    /// The runner's `error` is the Checks API's `failure`.
    fn from(level: crate::runner::Level) -> Self {
        match level {
            crate::runner::Level::Error => AnnotationLevel::Failure,
            crate::runner::Level::Warning => AnnotationLevel::Warning,
            crate::runner::Level::Notice => AnnotationLevel::Notice,
        }
    }
}

/// One annotation on a file and line range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckAnnotation {
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_column: Option<u32>,
    pub annotation_level: AnnotationLevel,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_details: Option<String>,
}

impl CheckAnnotation {
    pub fn new(path: &str, line: u32, level: AnnotationLevel, message: &str) -> Self {
        CheckAnnotation {
            path: path.to_string(),
            start_line: line.max(1),
            end_line: line.max(1),
            start_column: None,
            end_column: None,
            annotation_level: level,
            message: message.to_string(),
            title: None,
            raw_details: None,
        }
    }

    /// GitHub rejects columns on multi-line annotations and lines below 1.
    fn normalised(&self) -> CheckAnnotation {
        let mut a = self.clone();
        a.start_line = a.start_line.max(1);
        a.end_line = a.end_line.max(a.start_line);
        if a.start_line != a.end_line {
            a.start_column = None;
            a.end_column = None;
        }
        a.message = truncate(&a.message, MAX_OUTPUT_CHARS);
        a
    }
}

/// The check run's output: title and summary are required by GitHub whenever output is sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckOutput {
    pub title: String,
    pub summary: String,
    pub text: Option<String>,
    pub annotations: Vec<CheckAnnotation>,
}

/// Characters of a check run's title and summary kept, under GitHub's 255 and 65,535.
const TITLE_LIMIT: usize = 200;
const SUMMARY_LIMIT: usize = 60_000;

/// `text` cut to `limit` characters on a character boundary, ending in `…` when cut.
fn cut(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((end, _)) => format!("{}\n\n…", &text[..end]),
        None => text.to_string(),
    }
}

impl CheckOutput {
    /// An output whose title and summary are cut to fit GitHub's limits.
    pub fn within_limits(title: &str, summary: &str, annotations: Vec<CheckAnnotation>) -> Self {
        CheckOutput {
            title: cut(title, TITLE_LIMIT),
            summary: cut(summary, SUMMARY_LIMIT),
            text: None,
            annotations,
        }
    }
}

/// A check run to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCheckRun {
    pub name: String,
    pub head_sha: String,
    pub status: CheckStatus,
    /// Required by GitHub when `status` is completed.
    pub conclusion: Option<Conclusion>,
    pub details_url: Option<String>,
    pub external_id: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub output: Option<CheckOutput>,
}

impl NewCheckRun {
    /// An in-progress check run started now.
    pub fn started(name: &str, head_sha: &str) -> Self {
        NewCheckRun {
            name: name.to_string(),
            head_sha: head_sha.to_string(),
            status: CheckStatus::InProgress,
            conclusion: None,
            details_url: None,
            external_id: None,
            started_at: Some(Utc::now()),
            completed_at: None,
            output: None,
        }
    }

    /// A check run created already completed, with its conclusion and output.
    pub fn completed(
        name: &str,
        head_sha: &str,
        conclusion: Conclusion,
        output: CheckOutput,
    ) -> Self {
        NewCheckRun {
            status: CheckStatus::Completed,
            conclusion: Some(conclusion),
            completed_at: Some(Utc::now()),
            output: Some(output),
            ..NewCheckRun::started(name, head_sha)
        }
    }
}

/// Changes to a check run; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckRunUpdate {
    pub status: Option<CheckStatus>,
    pub conclusion: Option<Conclusion>,
    pub completed_at: Option<DateTime<Utc>>,
    pub details_url: Option<String>,
    pub output: Option<CheckOutput>,
}

impl CheckRunUpdate {
    /// Completes the run now with a conclusion and output.
    pub fn completed(conclusion: Conclusion, output: CheckOutput) -> Self {
        CheckRunUpdate {
            status: Some(CheckStatus::Completed),
            conclusion: Some(conclusion),
            completed_at: Some(Utc::now()),
            details_url: None,
            output: Some(output),
        }
    }
}

/// A check run as GitHub returns it (the fields we use).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub html_url: Option<String>,
    pub details_url: Option<String>,
}

/// The state of a commit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitState {
    Pending,
    Success,
    Failure,
    Error,
}

/// A commit status to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCommitStatus {
    pub state: CommitState,
    /// Statuses with the same context replace each other.
    pub context: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
}

/// A commit status as GitHub returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CommitStatus {
    pub id: u64,
    pub state: String,
    pub context: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
}

fn timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Cuts `text` to at most `max` characters, marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let marker = "\n… (truncated)";
    let keep = max.saturating_sub(marker.chars().count());
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(marker);
    out
}

/// The `output` object with one batch of annotations.
fn output_body(output: &CheckOutput, batch: &[CheckAnnotation]) -> Value {
    let mut body = json!({
        "title": truncate(&output.title, MAX_OUTPUT_CHARS),
        "summary": truncate(&output.summary, MAX_OUTPUT_CHARS),
    });
    if let Some(text) = &output.text {
        body["text"] = json!(truncate(text, MAX_OUTPUT_CHARS));
    }
    if !batch.is_empty() {
        let annotations: Vec<CheckAnnotation> = batch.iter().map(|a| a.normalised()).collect();
        body["annotations"] = json!(annotations);
    }
    body
}

/// Splits an output into request outputs of at most 50 annotations each; the first carries the
/// whole output, every later one repeats title and summary (GitHub requires them) and adds the
/// next batch. Always at least one.
pub fn output_batches(output: &CheckOutput) -> Vec<Value> {
    let mut chunks = output.annotations.chunks(ANNOTATIONS_PER_REQUEST);
    let first = output_body(output, chunks.next().unwrap_or(&[]));
    let mut batches = vec![first];
    for chunk in chunks {
        let mut later = output_body(output, chunk);
        if let Some(o) = later.as_object_mut() {
            o.remove("text");
        }
        batches.push(later);
    }
    batches
}

fn create_body(run: &NewCheckRun, output: Option<Value>) -> Value {
    let mut body = json!({"name": run.name, "head_sha": run.head_sha, "status": run.status});
    let fields = [
        ("conclusion", run.conclusion.map(|c| json!(c))),
        ("details_url", run.details_url.as_ref().map(|u| json!(u))),
        ("external_id", run.external_id.as_ref().map(|u| json!(u))),
        (
            "started_at",
            run.started_at.as_ref().map(|t| json!(timestamp(t))),
        ),
        (
            "completed_at",
            run.completed_at.as_ref().map(|t| json!(timestamp(t))),
        ),
        ("output", output),
    ];
    set_present(&mut body, fields);
    body
}

fn update_body(update: &CheckRunUpdate, output: Option<Value>) -> Value {
    let mut body = json!({});
    let fields = [
        ("status", update.status.map(|s| json!(s))),
        ("conclusion", update.conclusion.map(|c| json!(c))),
        (
            "completed_at",
            update.completed_at.as_ref().map(|t| json!(timestamp(t))),
        ),
        ("details_url", update.details_url.as_ref().map(|u| json!(u))),
        ("output", output),
    ];
    set_present(&mut body, fields);
    body
}

fn set_present<const N: usize>(body: &mut Value, fields: [(&str, Option<Value>); N]) {
    for (key, value) in fields {
        if let Some(value) = value {
            body[key] = value;
        }
    }
}

impl Client {
    /// Creates a check run; annotations beyond the first 50 follow in PATCH requests.
    pub async fn create_check_run(&self, run: &NewCheckRun) -> Result<CheckRun> {
        let mut batches = run.output.as_ref().map(output_batches).unwrap_or_default();
        let rest = if batches.len() > 1 {
            batches.split_off(1)
        } else {
            Vec::new()
        };
        let body = create_body(run, batches.pop());
        let path = self.repo_path("/check-runs");
        let mut created: CheckRun = self
            .call("checks/create", Method::POST, &path, &[], Some(&body))
            .await?;
        for output in rest {
            created = self
                .patch_check_run(created.id, &json!({ "output": output }))
                .await?;
        }
        Ok(created)
    }

    /// Updates a check run; more than 50 annotations are sent in several PATCHes.
    pub async fn update_check_run(&self, id: u64, update: &CheckRunUpdate) -> Result<CheckRun> {
        let batches = update
            .output
            .as_ref()
            .map(output_batches)
            .unwrap_or_default();
        let mut batches = batches.into_iter();
        let body = update_body(update, batches.next());
        let mut updated = self.patch_check_run(id, &body).await?;
        for output in batches {
            updated = self
                .patch_check_run(id, &json!({ "output": output }))
                .await?;
        }
        Ok(updated)
    }

    async fn patch_check_run(&self, id: u64, body: &Value) -> Result<CheckRun> {
        let path = self.repo_path(&format!("/check-runs/{id}"));
        self.call("checks/update", Method::PATCH, &path, &[], Some(body))
            .await
    }

    /// Sets a commit status on `sha`.
    pub async fn create_commit_status(
        &self,
        sha: &str,
        status: &NewCommitStatus,
    ) -> Result<CommitStatus> {
        let mut body = json!({"state": status.state, "context": status.context});
        if let Some(description) = &status.description {
            body["description"] = json!(truncate(description, MAX_STATUS_DESCRIPTION));
        }
        if let Some(url) = &status.target_url {
            body["target_url"] = json!(url);
        }
        let path = self.repo_path(&format!("/statuses/{}", encode_segment(sha)));
        self.call(
            "repos/create-commit-status",
            Method::POST,
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

    fn output_with(count: usize) -> CheckOutput {
        CheckOutput {
            title: "Scan".into(),
            summary: "summary".into(),
            text: Some("details".into()),
            annotations: (0..count)
                .map(|i| {
                    CheckAnnotation::new("src/a.py", i as u32 + 1, AnnotationLevel::Warning, "m")
                })
                .collect(),
        }
    }

    #[test]
    fn annotations_go_out_fifty_at_a_time() {
        let batches = output_batches(&output_with(120));
        let sizes: Vec<usize> = batches
            .iter()
            .map(|b| b["annotations"].as_array().map_or(0, Vec::len))
            .collect();
        assert_eq!(sizes, vec![50, 50, 20]);
        assert!(batches.iter().all(|b| b["summary"] == "summary"));
        assert!(batches[0].get("text").is_some() && batches[1].get("text").is_none());
    }

    #[test]
    fn no_annotations_is_one_batch_without_the_key() {
        let batches = output_batches(&output_with(0));
        assert_eq!(batches.len(), 1);
        assert!(batches[0].get("annotations").is_none());
    }

    #[test]
    fn multi_line_annotations_lose_their_columns() {
        let mut a = CheckAnnotation::new("f", 3, AnnotationLevel::Failure, "m");
        a.end_line = 5;
        a.start_column = Some(2);
        a.end_column = Some(4);
        let n = a.normalised();
        assert_eq!((n.start_column, n.end_column), (None, None));
    }

    #[test]
    fn long_text_is_truncated_with_a_marker() {
        let long = "x".repeat(70_000);
        let cut = truncate(&long, MAX_OUTPUT_CHARS);
        assert_eq!(cut.chars().count(), MAX_OUTPUT_CHARS);
        assert!(cut.ends_with("(truncated)"));
    }

    #[test]
    fn create_body_sends_only_present_fields() {
        let mut run = NewCheckRun::started("deploy", "abc");
        run.started_at = None;
        let body = create_body(&run, None);
        assert_eq!(
            body,
            json!({"name": "deploy", "head_sha": "abc", "status": "in_progress"})
        );
    }
}
