//! Publishing through the GitHub API: the annotated release tag, the GitHub release, the
//! moving major/minor tags, and the PR authors for the notes. Every step looks first and only
//! writes what is missing, so a re-run after a partial failure completes the release.

use std::collections::HashMap;

use super::apply::Step;
use crate::error::Result;
use crate::github::{Client, MakeLatest, NewRelease, RefName, Tagger};

/// What to publish.
#[derive(Debug, Clone)]
pub struct Publication<'a> {
    pub tag: &'a str,
    pub head_sha: String,
    /// The tag message and release body.
    pub notes: &'a str,
    pub moving_tags: &'a [String],
    pub create_release: bool,
    pub draft: bool,
    pub prerelease: bool,
    pub dry_run: bool,
    pub tagger: Tagger,
}

/// Publishes the release, step by step.
pub async fn publish(client: &Client, what: &Publication<'_>) -> Result<Vec<Step>> {
    let mut steps = vec![release_tag(client, what).await?];
    if what.create_release {
        steps.push(release(client, what).await?);
    }
    for name in what.moving_tags {
        steps.push(moving_tag(client, what, name).await?);
    }
    Ok(steps)
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

async fn release_tag(client: &Client, what: &Publication<'_>) -> Result<Step> {
    let name = RefName::Tag(what.tag.to_string());
    if client.get_ref(&name).await?.is_some() {
        return Ok(Step::Skipped(format!(
            "tag {} already exists on GitHub",
            what.tag
        )));
    }
    if what.dry_run {
        return Ok(Step::WouldDo(format!(
            "create the annotated tag {} on GitHub at {}",
            what.tag,
            short(&what.head_sha)
        )));
    }
    let message = format!("Release {}\n\n{}", what.tag, what.notes);
    client
        .create_annotated_tag(what.tag, &message, &what.head_sha, Some(&what.tagger))
        .await?;
    Ok(Step::Done(format!(
        "created the annotated tag {} on GitHub at {}",
        what.tag,
        short(&what.head_sha)
    )))
}

async fn release(client: &Client, what: &Publication<'_>) -> Result<Step> {
    if let Some(existing) = client.find_release_by_tag(what.tag).await? {
        return Ok(Step::Skipped(format!(
            "GitHub release {} already exists: {}",
            what.tag, existing.html_url
        )));
    }
    let kind = match (what.draft, what.prerelease) {
        (true, _) => "draft ",
        (false, true) => "prerelease ",
        _ => "",
    };
    if what.dry_run {
        return Ok(Step::WouldDo(format!(
            "create the {kind}GitHub release {}",
            what.tag
        )));
    }
    let body = if what.notes.is_empty() {
        "No user-facing changes.".to_string()
    } else {
        what.notes.to_string()
    };
    let created = client
        .create_release(&NewRelease {
            tag_name: what.tag.to_string(),
            target_commitish: Some(what.head_sha.clone()),
            name: Some(what.tag.to_string()),
            body: Some(body),
            draft: what.draft,
            prerelease: what.prerelease,
            make_latest: Some(if what.prerelease || what.draft {
                MakeLatest::False
            } else {
                MakeLatest::True
            }),
        })
        .await?;
    Ok(Step::Done(format!(
        "created the {kind}GitHub release {}: {}",
        what.tag, created.html_url
    )))
}

async fn moving_tag(client: &Client, what: &Publication<'_>, name: &str) -> Result<Step> {
    let reference = RefName::Tag(name.to_string());
    let current = client.get_ref(&reference).await?;
    if current
        .as_ref()
        .is_some_and(|r| r.object.sha == what.head_sha)
    {
        return Ok(Step::Skipped(format!(
            "{name} already points at {} on GitHub",
            short(&what.head_sha)
        )));
    }
    if what.dry_run {
        return Ok(Step::WouldDo(format!(
            "move {name} to {} on GitHub",
            short(&what.head_sha)
        )));
    }
    match current {
        Some(_) => client.update_ref(&reference, &what.head_sha, true).await?,
        None => client.create_ref(&reference, &what.head_sha).await?,
    };
    Ok(Step::Done(format!(
        "moved {name} to {} on GitHub",
        short(&what.head_sha)
    )))
}

/// GitHub logins of the pull requests that brought each commit in, for the notes. At most
/// `limit` commits are looked up (one request each); a failed lookup leaves the git author.
pub async fn logins(client: &Client, commits: &[String], limit: usize) -> HashMap<String, String> {
    let mut found = HashMap::new();
    for sha in commits.iter().take(limit) {
        match client.pull_requests_for_commit(sha).await {
            Ok(pulls) => {
                if let Some(login) = pulls.into_iter().find_map(|p| p.user.map(|u| u.login)) {
                    found.insert(sha.clone(), login);
                }
            }
            Err(error) => {
                error.warn("resolving PR authors for the release notes");
                break;
            }
        }
    }
    found
}
