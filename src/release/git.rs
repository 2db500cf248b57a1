//! The git edge (libgit2 through git2): release tags reachable from HEAD, commit ranges with
//! optional path filters, and local tags. Nothing here decides anything.

use std::collections::HashMap;
use std::path::Path;

use git2::{DiffOptions, ObjectType, Oid, Repository, Signature, Sort};

use super::commit::RawCommit;
use super::plan::Bases;
use super::version::{self, Version};
use crate::error::{Error, Result};

/// A release tag: its name, the version it stands for and the commit it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseTag {
    pub name: String,
    pub version: Version,
    pub commit: Oid,
}

/// The release tags that shape the next version.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub stable: Option<ReleaseTag>,
    pub prerelease: Option<ReleaseTag>,
    pub channel: Option<ReleaseTag>,
    /// Release tags on HEAD itself (a re-run after a release), highest first.
    pub at_head: Vec<ReleaseTag>,
}

impl Discovery {
    pub fn bases(&self) -> Bases {
        let v = |t: &Option<ReleaseTag>| t.as_ref().map(|t| t.version.clone());
        Bases {
            stable: v(&self.stable),
            prerelease: v(&self.prerelease),
            channel: v(&self.channel),
        }
    }
}

/// Opens the repository at `path`; a shallow clone is refused because its tags and ranges lie.
pub fn open(path: &Path) -> Result<Repository> {
    let repo = open_trusting_workspace(path).map_err(|e| {
        Error::input(
            "path",
            format!(
                "{} is not a git repository ({})",
                path.display(),
                e.message()
            ),
            "point path at the checked-out repository (actions/checkout puts it in the workspace)",
        )
    })?;
    if repo.is_shallow() {
        return Err(Error::config(
            format!(
                "{} is a shallow clone: its history and tags are incomplete",
                path.display()
            ),
            "check out the full history: actions/checkout with `fetch-depth: 0`",
        ));
    }
    Ok(repo)
}

/// Opens the repository. A Docker action runs as root on a workspace owned by the runner's
/// user, which libgit2's ownership check (git's `safe.directory`) refuses; the workspace is the
/// one this job checked out, so on that refusal the check is switched off and the open retried.
fn open_trusting_workspace(path: &Path) -> std::result::Result<Repository, git2::Error> {
    match Repository::open(path) {
        Err(e) if e.code() == git2::ErrorCode::Owner => {
            tracing::debug!(
                "{}: owned by another user; opening it as the job's workspace",
                path.display()
            );
            // SAFETY: a process-wide libgit2 option, set once here before any other thread
            // uses libgit2 (the action is single-threaded until it publishes).
            unsafe { git2::opts::set_verify_owner_validation(false)? };
            Repository::open(path)
        }
        other => other,
    }
}

/// The commit HEAD points at.
pub fn head(repo: &Repository) -> Result<Oid> {
    let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(|e| {
        Error::config(
            format!("HEAD does not point at a commit ({})", e.message()),
            "run the action on a branch with at least one commit",
        )
    })?;
    Ok(head.id())
}

/// Every tag that names a version under `prefix`, peeled to its commit.
pub fn release_tags(repo: &Repository, prefix: &str) -> Result<Vec<ReleaseTag>> {
    let mut tags = Vec::new();
    let references = repo.references_glob("refs/tags/*").map_err(git_failure)?;
    for reference in references.flatten() {
        let Ok(name) = reference.shorthand() else {
            continue;
        };
        let Some(version) = version::parse_tag(name, prefix) else {
            continue;
        };
        let Ok(commit) = reference.peel_to_commit() else {
            continue;
        };
        tags.push(ReleaseTag {
            name: name.to_string(),
            version,
            commit: commit.id(),
        });
    }
    // Highest version first; among equal versions (v1.2.3 and 1.2.3) the prefixed name first.
    tags.sort_by(|a, b| {
        b.version
            .cmp(&a.version)
            .then_with(|| b.name.starts_with(prefix).cmp(&a.name.starts_with(prefix)))
    });
    Ok(tags)
}

/// Finds the highest stable tag, prerelease and channel prerelease reachable from `head`.
/// Tags are checked highest first, so usually one reachability walk is enough.
pub fn discover(
    repo: &Repository,
    head: Oid,
    tags: &[ReleaseTag],
    channel: Option<&str>,
) -> Result<Discovery> {
    let mut reachable: HashMap<Oid, bool> = HashMap::new();
    let mut is_reachable = |commit: Oid| -> Result<bool> {
        if let Some(known) = reachable.get(&commit) {
            return Ok(*known);
        }
        let answer = repo
            .graph_descendant_of(head, commit)
            .map_err(git_failure)?;
        reachable.insert(commit, answer);
        Ok(answer)
    };
    let mut found = Discovery {
        at_head: tags.iter().filter(|t| t.commit == head).cloned().collect(),
        ..Discovery::default()
    };
    let candidates = tags.iter().filter(|t| t.commit != head);
    for tag in candidates.clone().filter(|t| t.version.pre.is_empty()) {
        if is_reachable(tag.commit)? {
            found.stable = Some(tag.clone());
            break;
        }
    }
    let floor = found.stable.as_ref().map(|t| t.version.clone());
    let above_stable = |t: &&ReleaseTag| {
        !t.version.pre.is_empty()
            && floor
                .as_ref()
                .is_none_or(|f| version::core(&t.version) > *f)
    };
    for tag in candidates.clone().filter(above_stable) {
        if is_reachable(tag.commit)? {
            found.prerelease = Some(tag.clone());
            break;
        }
    }
    if let Some(channel) = channel {
        let on_channel = candidates
            .filter(above_stable)
            .filter(|t| version::channel(&t.version) == Some(channel));
        for tag in on_channel {
            if is_reachable(tag.commit)? {
                found.channel = Some(tag.clone());
                break;
            }
        }
    }
    Ok(found)
}

/// The commits of `since..head`, newest first (children before parents). With path filters,
/// only commits that change a matching path against their first parent are kept.
pub fn log(
    repo: &Repository,
    head: Oid,
    since: Option<Oid>,
    path_filters: &[String],
) -> Result<Vec<RawCommit>> {
    let mut walk = repo.revwalk().map_err(git_failure)?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME)
        .map_err(git_failure)?;
    walk.push(head).map_err(git_failure)?;
    if let Some(since) = since {
        walk.hide(since).map_err(git_failure)?;
    }
    let mut commits = Vec::new();
    for oid in walk {
        let commit = repo
            .find_commit(oid.map_err(git_failure)?)
            .map_err(git_failure)?;
        if !path_filters.is_empty() && !touches(repo, &commit, path_filters)? {
            continue;
        }
        commits.push(RawCommit {
            id: commit.id().to_string(),
            parents: commit.parent_count(),
            author: commit.author().name().unwrap_or("").to_string(),
            message: String::from_utf8_lossy(commit.message_bytes()).into_owned(),
        });
    }
    Ok(commits)
}

fn touches(repo: &Repository, commit: &git2::Commit, filters: &[String]) -> Result<bool> {
    let tree = commit.tree().map_err(git_failure)?;
    let parent_tree = match commit.parent(0) {
        Ok(parent) => Some(parent.tree().map_err(git_failure)?),
        Err(_) => None,
    };
    let mut options = DiffOptions::new();
    filters.iter().for_each(|f| {
        options.pathspec(f);
    });
    let diff = repo
        .diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), Some(&mut options))
        .map_err(git_failure)?;
    Ok(diff.deltas().len() > 0)
}

/// The identity tags are made with: the repository's user, or the Actions bot.
pub fn signature(repo: &Repository) -> Result<Signature<'static>> {
    if let Ok(signature) = repo.signature() {
        return Ok(signature.to_owned());
    }
    Signature::now(
        "github-actions[bot]",
        "41898282+github-actions[bot]@users.noreply.github.com",
    )
    .map_err(git_failure)
}

/// Creates the annotated release tag on `target` unless it already points there.
/// Returns false when there was nothing to do.
pub fn create_annotated_tag(
    repo: &Repository,
    name: &str,
    target: Oid,
    message: &str,
) -> Result<bool> {
    if let Ok(existing) = repo.revparse_single(&format!("refs/tags/{name}")) {
        let commit = existing.peel_to_commit().map_err(git_failure)?;
        if commit.id() == target {
            return Ok(false);
        }
        return Err(Error::config(
            format!(
                "tag {name} already exists on another commit ({})",
                commit.id()
            ),
            "delete the stray tag or set release_as to a version that is not taken",
        ));
    }
    let object = repo
        .find_object(target, Some(ObjectType::Commit))
        .map_err(git_failure)?;
    repo.tag(name, &object, &signature(repo)?, message, false)
        .map_err(git_failure)?;
    Ok(true)
}

/// Points a lightweight tag (`v1`, `v1.2`) at `target`, creating or moving it.
/// Returns false when it already pointed there.
pub fn move_tag(repo: &Repository, name: &str, target: Oid) -> Result<bool> {
    let reference_name = format!("refs/tags/{name}");
    if let Ok(existing) = repo.revparse_single(&reference_name)
        && existing.peel_to_commit().map(|c| c.id()).ok() == Some(target)
    {
        return Ok(false);
    }
    repo.reference(
        &reference_name,
        target,
        true,
        &format!("release-semver: move {name}"),
    )
    .map_err(git_failure)?;
    Ok(true)
}

fn git_failure(error: git2::Error) -> Error {
    Error::Failure(anyhow::anyhow!("git: {}", error.message()))
}
