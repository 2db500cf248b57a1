//! GitHub releases: create, find by tag (drafts included), update.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::client::{Client, encode_segment};
use super::error::Result;

/// `make_latest`: GitHub takes strings, not booleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MakeLatest {
    True,
    False,
    Legacy,
}

/// A release to create.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewRelease {
    pub tag_name: String,
    /// Used by GitHub only when the tag does not exist yet.
    pub target_commitish: Option<String>,
    pub name: Option<String>,
    pub body: Option<String>,
    pub draft: bool,
    pub prerelease: bool,
    pub make_latest: Option<MakeLatest>,
}

/// Changes to a release; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReleaseUpdate {
    pub tag_name: Option<String>,
    pub name: Option<String>,
    pub body: Option<String>,
    pub draft: Option<bool>,
    pub prerelease: Option<bool>,
    pub make_latest: Option<MakeLatest>,
}

/// A release as GitHub returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Release {
    pub id: u64,
    pub tag_name: String,
    pub name: Option<String>,
    pub body: Option<String>,
    pub draft: bool,
    pub prerelease: bool,
    pub html_url: String,
    pub upload_url: String,
    pub target_commitish: String,
}

/// GitHub caps a release body at 125,000 characters.
pub const MAX_RELEASE_BODY: usize = 125_000;

fn put(body: &mut Value, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        body[key] = value;
    }
}

fn release_body(text: &str) -> Value {
    json!(super::checks::truncate(text, MAX_RELEASE_BODY))
}

impl NewRelease {
    fn body(&self) -> Value {
        let mut body = json!({
            "tag_name": self.tag_name,
            "draft": self.draft,
            "prerelease": self.prerelease,
        });
        put(
            &mut body,
            "target_commitish",
            self.target_commitish.clone().map(Value::from),
        );
        put(&mut body, "name", self.name.clone().map(Value::from));
        put(&mut body, "body", self.body.as_deref().map(release_body));
        put(&mut body, "make_latest", self.make_latest.map(|m| json!(m)));
        body
    }
}

impl ReleaseUpdate {
    fn body(&self) -> Value {
        let mut body = json!({});
        put(
            &mut body,
            "tag_name",
            self.tag_name.clone().map(Value::from),
        );
        put(&mut body, "name", self.name.clone().map(Value::from));
        put(&mut body, "body", self.body.as_deref().map(release_body));
        put(&mut body, "draft", self.draft.map(Value::from));
        put(&mut body, "prerelease", self.prerelease.map(Value::from));
        put(&mut body, "make_latest", self.make_latest.map(|m| json!(m)));
        body
    }
}

impl Client {
    /// Creates a release.
    pub async fn create_release(&self, release: &NewRelease) -> Result<Release> {
        let path = self.repo_path("/releases");
        self.call(
            "repos/create-release",
            Method::POST,
            &path,
            &[],
            Some(&release.body()),
        )
        .await
    }

    /// The release for `tag`, drafts included (GitHub's by-tag lookup does not see drafts, so
    /// a miss falls back to the newest 100 releases).
    pub async fn find_release_by_tag(&self, tag: &str) -> Result<Option<Release>> {
        let path = self.repo_path(&format!("/releases/tags/{}", encode_segment(tag)));
        match self
            .call::<Release>("repos/get-release-by-tag", Method::GET, &path, &[], None)
            .await
        {
            Ok(release) => return Ok(Some(release)),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        let path = self.repo_path("/releases");
        let query = [("per_page", "100".to_string())];
        let releases: Vec<Release> = self
            .call("repos/list-releases", Method::GET, &path, &query, None)
            .await?;
        Ok(releases.into_iter().find(|r| r.tag_name == tag))
    }

    /// Updates release `id`.
    pub async fn update_release(&self, id: u64, update: &ReleaseUpdate) -> Result<Release> {
        let path = self.repo_path(&format!("/releases/{id}"));
        self.call(
            "repos/update-release",
            Method::PATCH,
            &path,
            &[],
            Some(&update.body()),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_has_string_make_latest_and_skips_absent_fields() {
        let release = NewRelease {
            tag_name: "v1.2.0".into(),
            make_latest: Some(MakeLatest::True),
            ..Default::default()
        };
        let body = release.body();
        assert_eq!(body["make_latest"], "true");
        assert!(body.get("name").is_none() && body.get("target_commitish").is_none());
    }

    #[test]
    fn update_body_only_carries_changes() {
        let update = ReleaseUpdate {
            draft: Some(false),
            ..Default::default()
        };
        assert_eq!(update.body(), json!({"draft": false}));
    }
}
