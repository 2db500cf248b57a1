//! Git refs and annotated tags (release tags, the moving `v1` / `v1.2` tags), and the pull
//! requests that brought a commit in (release notes authors and links).

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::{Client, encode_path, encode_segment};
use super::error::{GithubError, Result};

/// A branch or tag name, without `refs/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefName {
    Tag(String),
    Branch(String),
}

impl RefName {
    /// `tags/v1` — the form the ref endpoints take in their path.
    pub fn short(&self) -> String {
        match self {
            RefName::Tag(name) => format!("tags/{name}"),
            RefName::Branch(name) => format!("heads/{name}"),
        }
    }

    /// `refs/tags/v1` — the form `POST git/refs` takes.
    pub fn full(&self) -> String {
        format!("refs/{}", self.short())
    }
}

/// A ref as GitHub returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GitRef {
    #[serde(rename = "ref")]
    pub name: String,
    pub object: GitObject,
}

/// What a ref points at: a commit, or (for annotated tags) a tag object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GitObject {
    pub sha: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// Who made a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagger {
    pub name: String,
    pub email: String,
    pub date: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct TagObject {
    sha: String,
}

/// A pull request that introduced a commit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    pub title: String,
    pub html_url: String,
    pub user: Option<User>,
    pub merged_at: Option<String>,
}

/// A GitHub account, by login.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    pub login: String,
    pub html_url: Option<String>,
}

impl Client {
    /// The ref, or `None` when it does not exist.
    pub async fn get_ref(&self, name: &RefName) -> Result<Option<GitRef>> {
        let path = self.repo_path(&format!("/git/ref/{}", encode_path(&name.short())));
        match self
            .call("git/get-ref", Method::GET, &path, &[], None)
            .await
        {
            Ok(found) => Ok(Some(found)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a ref pointing at `sha`.
    pub async fn create_ref(&self, name: &RefName, sha: &str) -> Result<GitRef> {
        let path = self.repo_path("/git/refs");
        let body = json!({"ref": name.full(), "sha": sha});
        self.call("git/create-ref", Method::POST, &path, &[], Some(&body))
            .await
    }

    /// Points an existing ref at `sha`; `force` allows a non-fast-forward move (tags need it).
    pub async fn update_ref(&self, name: &RefName, sha: &str, force: bool) -> Result<GitRef> {
        let path = self.repo_path(&format!("/git/refs/{}", encode_path(&name.short())));
        let body = json!({"sha": sha, "force": force});
        self.call("git/update-ref", Method::PATCH, &path, &[], Some(&body))
            .await
    }

    /// Moves `name` to `sha`, creating it when it does not exist (the moving `v1` tag).
    pub async fn force_ref(&self, name: &RefName, sha: &str) -> Result<GitRef> {
        match self.get_ref(name).await? {
            Some(current) if current.object.sha == sha => Ok(current),
            Some(_) => self.update_ref(name, sha, true).await,
            None => self.create_ref(name, sha).await,
        }
    }

    /// Creates an annotated tag: the tag object on `commit_sha`, then `refs/tags/<tag>` on it.
    pub async fn create_annotated_tag(
        &self,
        tag: &str,
        message: &str,
        commit_sha: &str,
        tagger: Option<&Tagger>,
    ) -> Result<GitRef> {
        if tag.is_empty() || tag.contains("..") || tag.starts_with('/') || tag.ends_with('/') {
            return Err(GithubError::config(
                format!("`{tag}` is not a valid tag name"),
                "use a name like v1.2.3",
            ));
        }
        let mut body =
            json!({"tag": tag, "message": message, "object": commit_sha, "type": "commit"});
        if let Some(tagger) = tagger {
            body["tagger"] = json!({"name": tagger.name, "email": tagger.email});
            if let Some(date) = &tagger.date {
                body["tagger"]["date"] = json!(date.to_rfc3339_opts(SecondsFormat::Secs, true));
            }
        }
        let path = self.repo_path("/git/tags");
        let object: TagObject = self
            .call("git/create-tag", Method::POST, &path, &[], Some(&body))
            .await?;
        self.create_ref(&RefName::Tag(tag.to_string()), &object.sha)
            .await
    }

    /// The pull requests that introduced commit `sha` (merged PRs on the default branch).
    pub async fn pull_requests_for_commit(&self, sha: &str) -> Result<Vec<PullRequest>> {
        let path = self.repo_path(&format!("/commits/{}/pulls", encode_segment(sha)));
        let query = [("per_page", "100".to_string())];
        self.call(
            "repos/list-pull-requests-associated-with-commit",
            Method::GET,
            &path,
            &query,
            None,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_names_have_short_and_full_forms() {
        let tag = RefName::Tag("v1".into());
        assert_eq!(tag.short(), "tags/v1");
        assert_eq!(tag.full(), "refs/tags/v1");
        assert_eq!(RefName::Branch("main".into()).full(), "refs/heads/main");
    }
}
