//! Versioning and releasing from Conventional Commits (`deploy-tcb release-semver`).
//!
//! Plan, then apply: the plan reads the repository (release tags reachable from HEAD, the
//! commits since the last release) and decides the version and the notes without writing
//! anything; apply updates the changelog, creates the annotated tag, moves the major and minor
//! tags and publishes through GitHub. `dry_run` stops after printing the plan.

pub mod apply;
pub mod commit;
pub mod git;
pub mod history;
pub mod notes;
pub mod plan;
pub mod publish;
pub mod rules;
pub mod version;

use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

use crate::cli::{BreakingPreMajor, FeaturePreMajor, NonConventional, ReleaseSemverArgs};
use crate::error::{Error, Result};
use crate::github::{Client, RunContext};
use crate::runner::command::{annotate, println_raw};
use crate::runner::{Level as Severity, Outputs, Secret, Summary};
use plan::{Decision, Forced, Options};
use rules::{Analysis, Rules};
use version::{Level, PreMajor, Version};

/// Everything the action needs, validated.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: PathBuf,
    pub tag_prefix: String,
    pub options: Options,
    pub rules: Rules,
    pub path_filters: Vec<String>,
    pub release_as: Option<Version>,
    /// Relative to `path`; `None` skips the changelog.
    pub changelog_file: Option<PathBuf>,
    pub create_release: bool,
    pub draft: bool,
    pub move_major_tag: bool,
    pub dry_run: bool,
    pub github_token: Option<Secret>,
    /// The run's repository and API URL, when `GITHUB_REPOSITORY` is set.
    pub github: Option<RunContext>,
    pub links: notes::Links,
    /// The release date written in the changelog (`YYYY-MM-DD`).
    pub date: String,
    /// The user's layout for each changelog section (`changelog_template`).
    pub template: Option<notes::Template>,
}

impl Request {
    /// Validates the inputs; every error names the input, the problem and the fix.
    pub fn from_args(args: ReleaseSemverArgs) -> Result<Request> {
        let tag_prefix = args.tag_prefix.trim().to_string();
        if !git2::Reference::is_valid_name(&format!("refs/tags/{tag_prefix}1.0.0")) {
            return Err(Error::input(
                "tag_prefix",
                format!("`{tag_prefix}` cannot start a git tag name"),
                "use letters, digits, - _ / and ., e.g. v or deploy-tcb-v",
            ));
        }
        let initial = version::parse_loose(&args.initial_version)
            .filter(|v| v.pre.is_empty())
            .ok_or_else(|| {
                Error::input(
                    "initial_version",
                    format!(
                        "`{}` is not a stable semantic version",
                        args.initial_version
                    ),
                    "write it as MAJOR.MINOR.PATCH, e.g. 0.1.0 or 1.0.0",
                )
            })?;
        let channel = match args.prerelease.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) if version::valid_channel(c) => Some(c.to_string()),
            Some(c) => {
                return Err(Error::input(
                    "prerelease",
                    format!("`{c}` is not a prerelease channel id"),
                    "use letters, digits and hyphens, e.g. rc, beta or alpha",
                ));
            }
        };
        let release_as = match args.release_as.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(version::parse_loose(text).ok_or_else(|| {
                Error::input(
                    "release_as",
                    format!("`{text}` is not a semantic version"),
                    "write it as MAJOR.MINOR.PATCH (optionally -PRERELEASE), e.g. 2.0.0",
                )
            })?),
        };
        let rules = Rules {
            non_conventional: match args.non_conventional {
                NonConventional::Ignore => Level::None,
                NonConventional::Patch => Level::Patch,
            },
            pre_major: PreMajor {
                breaking: match args.breaking_pre_major {
                    BreakingPreMajor::Major => Level::Major,
                    BreakingPreMajor::Minor => Level::Minor,
                },
                feature: match args.feature_pre_major {
                    FeaturePreMajor::Minor => Level::Minor,
                    FeaturePreMajor::Patch => Level::Patch,
                },
            },
            squash_entries: args.squash_entries,
            ..Rules::default()
        }
        .with_types(args.types.items())
        .map_err(|problem| {
            Error::input(
                "types",
                problem,
                "list type:level items, e.g. feat:minor,fix:patch,perf:patch",
            )
        })?;
        let changelog_file = changelog_path(&args.changelog_file)?;
        let template = args
            .changelog_template
            .as_deref()
            .map(load_template)
            .transpose()?;
        Ok(Request {
            path: args.path,
            tag_prefix,
            options: Options {
                initial,
                pre_major: rules.pre_major,
                channel,
            },
            rules,
            path_filters: args.path_filters.items().to_vec(),
            release_as,
            changelog_file,
            create_release: args.create_release,
            draft: args.draft,
            move_major_tag: args.move_major_tag,
            dry_run: args.dry_run,
            github_token: args.github.github_token,
            github: RunContext::from_env().ok(),
            links: links_from_env(),
            date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
            template,
        })
    }
}

fn load_template(path: &std::path::Path) -> Result<notes::Template> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::input(
            "changelog_template",
            format!("cannot read `{}`: {e}", path.display()),
            "give the path of a template file in the workspace, or leave the input empty",
        )
    })?;
    notes::Template::parse(&text).map_err(|problem| {
        Error::input(
            "changelog_template",
            format!("`{}`: {problem}", path.display()),
            "write placeholders like {{version}}, {{date}} and {{notes}}",
        )
    })
}

fn changelog_path(text: &str) -> Result<Option<PathBuf>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let path = PathBuf::from(text);
    if path.is_absolute()
        || path
            .components()
            .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(Error::input(
            "changelog_file",
            format!("`{text}` is outside the repository"),
            "give a path relative to the repository, e.g. CHANGELOG.md, or empty to skip",
        ));
    }
    Ok(Some(path))
}

/// Links for the notes from the runner's variables (GitHub Enterprise Server included).
fn links_from_env() -> notes::Links {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    notes::Links {
        server: var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into()),
        repository: var("GITHUB_REPOSITORY"),
        logins: Default::default(),
    }
}

/// What the action will do, computed without writing anything.
#[derive(Debug, Clone)]
pub struct Plan {
    pub decision: Decision,
    pub head: Oid,
    pub previous_tag: Option<git::ReleaseTag>,
    /// The tag to create, when there is a version to release.
    pub tag: Option<String>,
    /// Set when HEAD already carries the release (a re-run): nothing is released again.
    pub already_released: Option<git::ReleaseTag>,
    /// The commits since the previous release, read.
    pub analysis: Analysis,
    pub notes: String,
    /// `v1`, `v1.3` when they move.
    pub moving_tags: Vec<String>,
    pub warnings: Vec<String>,
}

impl Plan {
    /// True when applying the plan releases something new.
    pub fn releases(&self) -> bool {
        self.already_released.is_none() && self.decision.version.is_some()
    }
}

/// Reads the repository and decides.
pub fn plan(repo: &Repository, request: &Request) -> Result<Plan> {
    let head = git::head(repo)?;
    let tags = git::release_tags(repo, &request.tag_prefix)?;
    let channel = request.options.channel.as_deref();
    let found = git::discover(repo, head, &tags, channel)?;
    let since_stable = analyse_since(repo, head, found.stable.as_ref(), request)?;
    let since_channel = match &found.channel {
        Some(tag) => Some(analyse_since(repo, head, Some(tag), request)?),
        None => None,
    };
    let bases = found.bases();
    let mut decision = plan::decide(
        &bases,
        &request.options,
        since_stable.level,
        since_channel.as_ref().map(|a| a.level),
    );
    let mut warnings = Vec::new();
    let uses_channel = channel.is_some() && found.channel.is_some();
    let (analysis, previous_tag) = match since_channel {
        Some(analysis) if uses_channel => (analysis, found.channel.clone()),
        _ => (since_stable, found.stable.clone()),
    };
    decision = apply_forced(decision, &analysis, &bases, request, &mut warnings)?;
    let already_released = already_released(&found, channel);
    if let Some(tag) = &already_released {
        decision.version = Some(tag.version.clone());
        decision.reason = format!("HEAD is already released as {}: nothing to do", tag.name);
    }
    let version = decision.version.clone();
    let tag = match &already_released {
        Some(existing) => Some(existing.name.clone()),
        None => version
            .as_ref()
            .map(|v| version::tag_name(&request.tag_prefix, v)),
    };
    let notes = notes::render(&analysis.changes, &request.links);
    let moving_tags = match &version {
        Some(v) if request.move_major_tag && v.pre.is_empty() => vec![
            format!("{}{}", request.tag_prefix, v.major),
            format!("{}{}.{}", request.tag_prefix, v.major, v.minor),
        ],
        _ => Vec::new(),
    };
    Ok(Plan {
        tag,
        decision,
        head,
        previous_tag,
        already_released,
        analysis,
        notes,
        moving_tags,
        warnings,
    })
}

fn analyse_since(
    repo: &Repository,
    head: Oid,
    since: Option<&git::ReleaseTag>,
    request: &Request,
) -> Result<Analysis> {
    let commits = git::log(repo, head, since.map(|t| t.commit), &request.path_filters)?;
    Ok(rules::analyse(&commits, &request.rules))
}

/// The `release_as` input wins over a `Release-As:` footer; a footer that does not move the
/// version forward is ignored with a warning, an input that does not is an input error.
fn apply_forced(
    decision: Decision,
    analysis: &Analysis,
    bases: &plan::Bases,
    request: &Request,
    warnings: &mut Vec<String>,
) -> Result<Decision> {
    let forced = match (&request.release_as, &analysis.release_as) {
        (Some(v), _) => Some((v.clone(), Forced::Input)),
        (None, Some(text)) => match version::parse_loose(text) {
            Some(v) => Some((v, Forced::Footer)),
            None => {
                warnings.push(format!(
                    "ignored `Release-As: {text}`: not a semantic version"
                ));
                None
            }
        },
        (None, None) => None,
    };
    let Some((version, source)) = forced else {
        return Ok(decision);
    };
    match (plan::force(decision.clone(), version, bases), source) {
        (Ok(forced), _) => Ok(forced),
        (Err(problem), Forced::Input) => Err(Error::input(
            "release_as",
            problem,
            "give a version above the last release, or leave release_as empty",
        )),
        (Err(problem), Forced::Footer) => {
            warnings.push(format!("ignored the Release-As footer: {problem}"));
            Ok(decision)
        }
    }
}

/// The release tag already on HEAD for the kind of release asked (stable, or this channel).
fn already_released(found: &git::Discovery, channel: Option<&str>) -> Option<git::ReleaseTag> {
    found
        .at_head
        .iter()
        .find(|t| match channel {
            None => t.version.pre.is_empty(),
            Some(c) => version::channel(&t.version) == Some(c) || t.version.pre.is_empty(),
        })
        .cloned()
}

/// Runs `deploy-tcb release-semver`.
pub fn run(args: ReleaseSemverArgs) -> Result<()> {
    let request = Request::from_args(args)?;
    let repo = git::open(&request.path)?;
    let github = github_client(&request)?;
    let plan = {
        let _group = crate::runner::command::group("Plan the release");
        let mut plan = plan(&repo, &request)?;
        if let Some(client) = &github {
            with_github_authors(&mut plan, &request, client);
        }
        plan
    };
    for warning in &plan.warnings {
        annotate(Severity::Warning, &Default::default(), warning);
    }
    print_plan(&plan, &request);
    let steps = apply::apply(&repo, &plan, &request, github.as_ref())?;
    for step in &steps {
        println_raw(&step.to_string());
    }
    report(&plan, &request, &steps)
}

/// The GitHub client when a token and the repository are known; without a token the release
/// stays local (and says so).
fn github_client(request: &Request) -> Result<Option<Client>> {
    match (&request.github_token, &request.github) {
        (Some(token), Some(context)) => Ok(Some(Client::from_context(context, token.clone())?)),
        _ => Ok(None),
    }
}

/// How many commits get their PR author looked up (one request each).
const AUTHOR_LOOKUPS: usize = 100;

/// Re-renders the notes with the GitHub logins of the PR authors.
fn with_github_authors(plan: &mut Plan, request: &Request, client: &Client) {
    let commits: Vec<String> = plan
        .analysis
        .changes
        .iter()
        .filter(|c| c.level > Level::None)
        .map(|c| c.commit.id.clone())
        .collect();
    if commits.is_empty() {
        return;
    }
    let mut links = request.links.clone();
    links.logins = crate::app::block_on(publish::logins(client, &commits, AUTHOR_LOOKUPS));
    plan.notes = notes::render(&plan.analysis.changes, &links);
}

fn print_plan(plan: &Plan, request: &Request) {
    let previous = plan
        .previous_tag
        .as_ref()
        .map_or("(none)".to_string(), |t| t.name.clone());
    let next = plan.tag.as_deref().unwrap_or("(no release)");
    let mode = if request.dry_run { " [dry run]" } else { "" };
    println_raw(&format!(
        "release-semver{mode}: {previous} → {next} ({})",
        plan.decision.bump
    ));
    println_raw(&plan.decision.reason);
    if plan.analysis.skipped > 0 || !plan.analysis.cancelled.is_empty() {
        println_raw(&format!(
            "{} commit(s) skipped by [skip release], {} revert pair(s) cancelled",
            plan.analysis.skipped,
            plan.analysis.cancelled.len()
        ));
    }
    if plan.releases() && !plan.notes.is_empty() {
        print_untrusted(&plan.notes);
    }
}

/// Prints text made of commit messages. Under a runner, workflow commands are switched off
/// around it (`::stop-commands::`), so a message line starting with `::` stays text.
fn print_untrusted(text: &str) {
    let token = format!("release-notes-{}", uuid::Uuid::new_v4());
    let in_actions = crate::runner::in_actions();
    if in_actions {
        println_raw(&format!("::stop-commands::{token}"));
    }
    println_raw("");
    text.lines().for_each(println_raw);
    println_raw("");
    if in_actions {
        println_raw(&format!("::{token}::"));
    }
}

/// Sets the outputs and writes the job summary.
fn report(plan: &Plan, request: &Request, steps: &[apply::Step]) -> Result<()> {
    let released = plan.releases() && !request.dry_run;
    let version = plan
        .decision
        .version
        .as_ref()
        .or(plan.decision.previous.as_ref())
        .map(ToString::to_string)
        .unwrap_or_default();
    let tag = plan.tag.clone().unwrap_or_else(|| {
        plan.previous_tag
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default()
    });
    let previous = plan
        .decision
        .previous
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let changelog = if plan.releases() {
        plan.notes.clone()
    } else {
        String::new()
    };
    let mut outputs = Outputs::new();
    outputs.set("version", &version)?;
    outputs.set("previous_version", &previous)?;
    outputs.set("bump", plan.decision.bump.as_str())?;
    outputs.set("tag", &tag)?;
    outputs.set("changelog", &changelog)?;
    outputs.set("released", released.to_string())?;
    outputs.print_if_no_runner();
    summary(plan, request, steps, &version, &previous).write()?;
    Ok(())
}

fn summary(
    plan: &Plan,
    request: &Request,
    steps: &[apply::Step],
    version: &str,
    previous: &str,
) -> Summary {
    let mut summary = Summary::new();
    let title = match (&plan.tag, plan.releases(), request.dry_run) {
        (Some(tag), true, true) => format!("Release {tag} (dry run)"),
        (Some(tag), true, false) => format!("Released {tag}"),
        (Some(tag), false, _) => format!("{tag} is already released"),
        (None, _, _) => "No release".to_string(),
    };
    summary.heading(2, &title);
    summary.table(
        &["version", "previous", "bump", "commits read"],
        &[vec![
            version.to_string(),
            previous.to_string(),
            plan.decision.bump.to_string(),
            plan.analysis.changes.len().to_string(),
        ]],
    );
    summary.paragraph(&plan.decision.reason);
    if plan.releases() && !plan.notes.is_empty() {
        summary.paragraph(&plan.notes);
    }
    if !steps.is_empty() {
        let rows: Vec<Vec<String>> = steps.iter().map(|s| vec![s.to_string()]).collect();
        summary.table(&["step"], &rows);
    }
    summary
}

/// The path of the changelog inside the repository.
pub fn changelog_location(request: &Request) -> Option<PathBuf> {
    request
        .changelog_file
        .as_ref()
        .map(|file| Path::new(&request.path).join(file))
}
