//! Release notes for every release in the history (a whole changelog), from the release tags
//! reachable from HEAD: each release holds the commits between the previous tag and its own.

use std::collections::HashSet;

use git2::{Oid, Repository};

use super::commit::RawCommit;
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
/// Stable and prerelease tags both count, like the tags a changelog lists. Each commit belongs
/// to the lowest version that contains it, and every commit is read once: the cost is linear
/// in the history, whatever the number of tags.
pub fn releases(
    repo: &Repository,
    prefix: &str,
    rules: &Rules,
    links: &Links,
) -> Result<Vec<Release>> {
    let head = git::head(repo)?;
    let reachable = reachable_from(repo, head)?;
    let mut tags = git::release_tags(repo, prefix)?;
    tags.retain(|t| reachable.contains(&t.commit));
    // One tag per commit (the highest), oldest version first.
    let mut seen = HashSet::new();
    tags.retain(|t| seen.insert(t.commit));
    tags.reverse();
    let mut assigned = HashSet::with_capacity(reachable.len());
    let mut releases = Vec::with_capacity(tags.len());
    let mut previous: Option<&git::ReleaseTag> = None;
    for tag in &tags {
        let commits = new_commits(repo, tag.commit, &mut assigned)?;
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

fn reachable_from(repo: &Repository, head: Oid) -> Result<HashSet<Oid>> {
    let mut walk = repo.revwalk().map_err(failure)?;
    walk.push(head).map_err(failure)?;
    walk.map(|oid| oid.map_err(failure)).collect()
}

/// The commits reachable from `tip` that no earlier release took, newest first.
fn new_commits(repo: &Repository, tip: Oid, assigned: &mut HashSet<Oid>) -> Result<Vec<RawCommit>> {
    let mut found: Vec<(i64, RawCommit)> = Vec::new();
    let mut stack = vec![tip];
    while let Some(oid) = stack.pop() {
        if !assigned.insert(oid) {
            continue;
        }
        let commit = repo.find_commit(oid).map_err(failure)?;
        stack.extend(commit.parent_ids().filter(|p| !assigned.contains(p)));
        found.push((
            commit.time().seconds(),
            RawCommit {
                id: oid.to_string(),
                parents: commit.parent_count(),
                author: commit.author().name().unwrap_or("").to_string(),
                message: String::from_utf8_lossy(commit.message_bytes()).into_owned(),
            },
        ));
    }
    // Newest first, like git log; the walk order breaks ties in commit time.
    found.sort_by_key(|(time, _)| std::cmp::Reverse(*time));
    Ok(found.into_iter().map(|(_, c)| c).collect())
}

fn failure(error: git2::Error) -> crate::error::Error {
    crate::error::Error::Failure(anyhow::anyhow!("git: {}", error.message()))
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
            None,
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
