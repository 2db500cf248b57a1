//! Release notes for every release in the history (a whole changelog), from the release tags
//! reachable from HEAD: each release holds the commits between the previous tag and its own.

use git2::Repository;

use super::notes::{self, Links};
use super::rules::{self, Rules};
use super::{git, version};
use crate::error::Result;

/// One past release with its notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub tag: String,
    pub version: version::Version,
    pub previous_tag: Option<String>,
    pub commits: usize,
    /// The date of the tagged commit, `YYYY-MM-DD`.
    pub date: String,
    pub notes: String,
}

/// The releases reachable from HEAD under `prefix`, oldest first, each with its notes.
/// Stable and prerelease tags both count, like the tags a changelog lists.
pub fn releases(
    repo: &Repository,
    prefix: &str,
    rules: &Rules,
    links: &Links,
) -> Result<Vec<Release>> {
    let head = git::head(repo)?;
    let mut tags = git::release_tags(repo, prefix)?;
    tags.retain(|t| t.commit == head || repo.graph_descendant_of(head, t.commit).unwrap_or(false));
    // One tag per commit (the highest), oldest version first.
    let mut seen = std::collections::HashSet::new();
    tags.retain(|t| seen.insert(t.commit));
    tags.reverse();
    let mut releases = Vec::with_capacity(tags.len());
    let mut previous: Option<&git::ReleaseTag> = None;
    for tag in &tags {
        let commits = git::log(repo, tag.commit, previous.map(|p| p.commit), &[])?;
        let analysis = rules::analyse(&commits, rules);
        releases.push(Release {
            tag: tag.name.clone(),
            version: tag.version.clone(),
            previous_tag: previous.map(|p| p.name.clone()),
            commits: commits.len(),
            date: commit_date(repo, tag.commit),
            notes: notes::render(&analysis.changes, links),
        });
        previous = Some(tag);
    }
    Ok(releases)
}

fn commit_date(repo: &Repository, commit: git2::Oid) -> String {
    repo.find_commit(commit)
        .ok()
        .and_then(|c| chrono::DateTime::from_timestamp(c.time().seconds(), 0))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The whole changelog in the Keep a Changelog layout, newest release first.
pub fn changelog(releases: &[Release], links: &Links) -> String {
    let mut text = String::new();
    for (index, release) in releases.iter().rev().enumerate() {
        let version = release.version.to_string();
        let section = notes::section(
            &release.tag,
            &version,
            release.previous_tag.as_deref(),
            &release.date,
            &release.notes,
            links,
        );
        if index == 0 {
            text = notes::update_changelog("", &version, &section).unwrap_or_default();
        } else {
            text.push('\n');
            text.push_str(&section);
        }
    }
    text
}
