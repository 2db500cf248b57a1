//! Applying a plan: the changelog, the annotated tag, the moving major/minor tags, and the
//! publication through GitHub. Every step checks first whether it is already done, so a re-run
//! changes nothing; under `dry_run` every step only says what it would do.

use std::fmt;

use git2::Repository;

use super::publish::{self, Publication};
use super::{Plan, Request, git, notes};
use crate::error::{Error, Result};
use crate::github::{Client, Tagger};

/// One thing the apply phase did, skipped, or (dry run) would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Done(String),
    Skipped(String),
    WouldDo(String),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Done(text) => write!(f, "done: {text}"),
            Step::Skipped(text) => write!(f, "skipped: {text}"),
            Step::WouldDo(text) => write!(f, "dry run, would: {text}"),
        }
    }
}

/// Applies the plan and lists the steps. With a GitHub client the release is also published
/// there; on a commit that is already released only missing GitHub pieces are completed.
pub fn apply(
    repo: &Repository,
    plan: &Plan,
    request: &Request,
    github: Option<&Client>,
) -> Result<Vec<Step>> {
    let (Some(tag), Some(version)) = (&plan.tag, &plan.decision.version) else {
        return Ok(vec![Step::Skipped("no release: nothing to do".into())]);
    };
    let mut steps = Vec::new();
    match &plan.already_released {
        Some(existing) => steps.push(Step::Skipped(format!(
            "HEAD is already released as {}; nothing changes locally",
            existing.name
        ))),
        None => steps.extend(local_steps(repo, plan, request, tag, version)?),
    }
    match github {
        Some(client) => {
            let publication = Publication {
                tag,
                head_sha: plan.head.to_string(),
                notes: &plan.notes,
                moving_tags: &plan.moving_tags,
                create_release: request.create_release,
                draft: request.draft,
                prerelease: !version.pre.is_empty(),
                dry_run: request.dry_run,
                tagger: tagger(repo)?,
            };
            steps.extend(crate::app::block_on(publish::publish(
                client,
                &publication,
            ))?);
        }
        None if plan.already_released.is_none() => steps.extend(local_only(plan, request, tag)),
        None => {}
    }
    Ok(steps)
}

fn local_steps(
    repo: &Repository,
    plan: &Plan,
    request: &Request,
    tag: &str,
    version: &super::version::Version,
) -> Result<Vec<Step>> {
    let mut steps = vec![changelog(plan, request, tag, &version.to_string())?];
    let message = format!("Release {tag}\n\n{}", plan.notes);
    steps.push(if request.dry_run {
        Step::WouldDo(format!("create the annotated tag {tag} on {}", short(plan)))
    } else if git::create_annotated_tag(repo, tag, plan.head, &message)? {
        Step::Done(format!(
            "created the annotated tag {tag} on {}",
            short(plan)
        ))
    } else {
        Step::Skipped(format!("tag {tag} already points at {}", short(plan)))
    });
    for moving in &plan.moving_tags {
        steps.push(if request.dry_run {
            Step::WouldDo(format!("move {moving} to {}", short(plan)))
        } else if git::move_tag(repo, moving, plan.head)? {
            Step::Done(format!("moved {moving} to {}", short(plan)))
        } else {
            Step::Skipped(format!("{moving} already points at {}", short(plan)))
        });
    }
    Ok(steps)
}

fn short(plan: &Plan) -> String {
    plan.head.to_string()[..7].to_string()
}

fn tagger(repo: &Repository) -> Result<Tagger> {
    let signature = git::signature(repo)?;
    Ok(Tagger {
        name: signature
            .name()
            .unwrap_or("github-actions[bot]")
            .to_string(),
        email: signature.email().unwrap_or_default().to_string(),
        date: None,
    })
}

/// Without GitHub the tags stay in the local repository; say how to publish them.
fn local_only(plan: &Plan, request: &Request, tag: &str) -> Vec<Step> {
    let mut refs = vec![tag.to_string()];
    refs.extend(plan.moving_tags.iter().cloned());
    let mut steps = vec![Step::Skipped(format!(
        "publishing: no github_token (or GITHUB_REPOSITORY) given, so {} stay local; \
         push them with `git push origin {}`",
        refs.join(", "),
        refs.join(" ")
    ))];
    if request.create_release {
        steps.push(Step::Skipped(
            "GitHub release: needs github_token and GITHUB_REPOSITORY".into(),
        ));
    }
    steps
}

fn changelog(plan: &Plan, request: &Request, tag: &str, version: &str) -> Result<Step> {
    let Some(path) = super::changelog_location(request) else {
        return Ok(Step::Skipped("changelog: changelog_file is empty".into()));
    };
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Error::Failure(anyhow::anyhow!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let previous = plan.previous_tag.as_ref().map(|t| t.name.as_str());
    let section = notes::section(
        tag,
        version,
        previous,
        &request.date,
        &plan.notes,
        &request.links,
        request.template.as_ref(),
    );
    let shown = path.display();
    let Some(updated) = notes::update_changelog(&existing, version, &section) else {
        return Ok(Step::Skipped(format!("{shown} already has {version}")));
    };
    if request.dry_run {
        return Ok(Step::WouldDo(format!("add {version} to {shown}")));
    }
    std::fs::write(&path, updated)
        .map_err(|e| Error::Failure(anyhow::anyhow!("cannot write {shown}: {e}")))?;
    Ok(Step::Done(format!("added {version} to {shown}")))
}
