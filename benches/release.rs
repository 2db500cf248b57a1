//! release-semver next to its peers, wall time on generated histories.
//!
//! `cargo bench --bench release` builds two repositories with `git fast-import` (cached under
//! target/): one shaped like octokit/rest.js (3,140 commits, 400 tags, merges) and one of 100k
//! commits (400 tags). On each it times, median of several runs:
//! - the next version: `deploy-tcb release-semver --dry-run`, `cog bump --auto --dry-run`,
//!   `git-cliff --bumped-version`, `semantic-release --dry-run` (file:// remote);
//! - release notes over the whole history: ours (library), `git-cliff -o`, `cog changelog`;
//! - ours with 1k, 10k and 100k commits since the last tag (linearity).
//!
//! Peers missing from PATH are reported and skipped. semantic-release is looked up in
//! `RELEASE_BENCH_NPM` (a folder with node_modules/.bin/semantic-release), default /tmp/peers/npm.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deploy_tcb::release::commit::RawCommit;
use deploy_tcb::release::history;
use deploy_tcb::release::rules::{Rules, analyse};
use deploy_tcb::release::version::{self, Level, Version};

/// Ours is fast enough to always take the median of several runs.
const OURS_RUNS: usize = 5;

struct Shape {
    name: &'static str,
    commits: usize,
    tags: usize,
    /// A merged two-commit branch every this many main commits (0: linear).
    merge_every: usize,
    /// Commits after the last release tag.
    tail: usize,
}

const SHAPES: [Shape; 2] = [
    Shape {
        name: "restjs-shaped",
        commits: 3_140,
        tags: 400,
        merge_every: 12,
        tail: 6,
    },
    Shape {
        name: "100k",
        commits: 100_000,
        tags: 400,
        merge_every: 0,
        tail: 40,
    },
];

fn main() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("release-bench");
    std::fs::create_dir_all(&root).expect("bench dir");
    let runs_from = |name: &str, default: usize| -> usize {
        std::env::var(name)
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(default)
    };
    for shape in &SHAPES {
        // Peers take minutes per run on 100k commits: one run there unless asked for more.
        let runs = if shape.commits >= 100_000 {
            runs_from("RELEASE_BENCH_LARGE_RUNS", 1)
        } else {
            runs_from("RELEASE_BENCH_RUNS", 3)
        };
        let repo = generate(&root, shape);
        println!(
            "\n## {} ({} commits, {} tags)\n",
            shape.name, shape.commits, shape.tags
        );
        println!("| task | tool | median wall s | runs | result | ours vs peer |");
        println!("|---|---|---|---|---|---|");
        next_version(&repo, runs);
        whole_history(&repo, runs);
        if shape.commits >= 100_000 {
            linearity(&repo);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring.

struct Timing {
    median: Duration,
    result: String,
}

fn time_command(dir: &Path, program: &str, args: &[&str], runs: usize) -> Option<Timing> {
    let mut times = Vec::new();
    let mut result = String::new();
    for _ in 0..runs {
        let start = Instant::now();
        let output = Command::new(program)
            .args(args)
            .current_dir(dir)
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_OUTPUT")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("GITHUB_REPOSITORY")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .ok()?;
        times.push(start.elapsed());
        result = summarise(
            &String::from_utf8_lossy(&output.stdout),
            &String::from_utf8_lossy(&output.stderr),
            output.status.code(),
        );
    }
    Some(Timing {
        median: median(times),
        result,
    })
}

fn time_fn(runs: usize, mut f: impl FnMut() -> String) -> Timing {
    let mut times = Vec::new();
    let mut result = String::new();
    for _ in 0..runs {
        let start = Instant::now();
        result = f();
        times.push(start.elapsed());
    }
    Timing {
        median: median(times),
        result,
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The line of a tool's output that carries the answer: a short stdout is the answer itself
/// (`git-cliff --bumped-version`, `cog bump --dry-run`), else the line naming the version.
fn summarise(stdout: &str, stderr: &str, code: Option<i32>) -> String {
    let stdout = strip_ansi(stdout);
    let stderr = strip_ansi(stderr);
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    let keys = [
        "next release version",
        "no relevant changes",
        "release-semver",
        "No conventional commit",
        "Error",
        "error",
    ];
    let line = if (1..=2).contains(&lines.len()) {
        lines[lines.len() - 1]
    } else {
        stdout
            .lines()
            .chain(stderr.lines())
            .find(|l| keys.iter().any(|k| l.contains(k)))
            .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()))
            .unwrap_or("")
    };
    let line = line.rsplit('›').next().unwrap_or(line).trim();
    let line: String = line.chars().take(60).collect();
    format!("exit {} {}", code.unwrap_or(-1), line.replace('|', "/"))
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for next in chars.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn row(task: &str, tool: &str, timing: &Option<Timing>, runs: usize, ours: Option<Duration>) {
    match timing {
        Some(t) => {
            let ratio = ours.map_or(String::from("—"), |o| {
                format!("{:.1}× faster", t.median.as_secs_f64() / o.as_secs_f64())
            });
            let ratio = if Some(t.median) == ours {
                "—".into()
            } else {
                ratio
            };
            println!(
                "| {task} | {tool} | {:.3} | {runs} | {} | {ratio} |",
                t.median.as_secs_f64(),
                t.result
            );
        }
        None => println!("| {task} | {tool} | not installed | — | — | — |"),
    }
}

fn on_path(tool: &str) -> Option<String> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}

fn ours() -> &'static str {
    env!("CARGO_BIN_EXE_deploy-tcb")
}

fn semantic_release() -> Option<String> {
    let npm = std::env::var("RELEASE_BENCH_NPM").unwrap_or_else(|_| "/tmp/peers/npm".into());
    let bin = Path::new(&npm).join("node_modules/.bin/semantic-release");
    bin.is_file().then(|| bin.display().to_string())
}

fn next_version(repo: &Repo, runs: usize) {
    let path = repo.dir.display().to_string();
    let ours_timing = time_command(
        &repo.dir,
        ours(),
        &[
            "release-semver",
            "--path",
            &path,
            "--dry-run",
            "--changelog-file",
            "",
        ],
        OURS_RUNS,
    );
    let ours_median = ours_timing.as_ref().map(|t| t.median);
    row(
        "next version",
        "deploy-tcb",
        &ours_timing,
        OURS_RUNS,
        ours_median,
    );
    let cog_config = repo.cog_config.display().to_string();
    let cog = on_path("cog").and_then(|cog| {
        time_command(
            &repo.dir,
            &cog,
            &[
                "--config",
                &cog_config,
                "bump",
                "--auto",
                "--dry-run",
                "--skip-untracked",
            ],
            runs,
        )
    });
    row(
        "next version",
        "cog bump --auto --dry-run",
        &cog,
        runs,
        ours_median,
    );
    let cliff = on_path("git-cliff")
        .and_then(|bin| time_command(&repo.dir, &bin, &["--bumped-version"], runs));
    row(
        "next version",
        "git-cliff --bumped-version",
        &cliff,
        runs,
        ours_median,
    );
    let remote = format!("file://{}", repo.remote.display());
    let semrel = semantic_release().and_then(|bin| {
        time_command(
            &repo.dir,
            &bin,
            &[
                "--dry-run",
                "--no-ci",
                "--branches",
                "main",
                "--repository-url",
                &remote,
                "--plugins",
                "@semantic-release/commit-analyzer,@semantic-release/release-notes-generator",
            ],
            runs,
        )
    });
    row(
        "next version",
        "semantic-release --dry-run",
        &semrel,
        runs,
        ours_median,
    );
}

fn whole_history(repo: &Repo, runs: usize) {
    let rules = Rules::default();
    let links = Default::default();
    let ours_timing = time_fn(OURS_RUNS, || {
        let git = git2::Repository::open(&repo.dir).expect("open");
        let releases = history::releases(&git, "v", &rules, &links).expect("history");
        let text = history::changelog(&releases, &links);
        format!(
            "{} releases, {} lines",
            releases.len(),
            text.lines().count()
        )
    });
    let ours_median = Some(ours_timing.median);
    row(
        "whole-history notes",
        "deploy-tcb (library)",
        &Some(ours_timing),
        OURS_RUNS,
        ours_median,
    );
    let out = repo.dir.parent().unwrap().join("cliff-changelog.md");
    let out = out.display().to_string();
    let cliff =
        on_path("git-cliff").and_then(|bin| time_command(&repo.dir, &bin, &["-o", &out], runs));
    row(
        "whole-history notes",
        "git-cliff -o",
        &cliff,
        runs,
        ours_median,
    );
    let cog_config = repo.cog_config.display().to_string();
    let cog = on_path("cog").and_then(|cog| {
        time_command(
            &repo.dir,
            &cog,
            &["--config", &cog_config, "changelog"],
            runs,
        )
    });
    row(
        "whole-history notes",
        "cog changelog",
        &cog,
        runs,
        ours_median,
    );
}

fn linearity(repo: &Repo) {
    let runs = OURS_RUNS;
    let path = repo.dir.display().to_string();
    for (prefix, label) in [
        ("lin1k-v", "1k"),
        ("lin10k-v", "10k"),
        ("none-v", "100k (no tag)"),
    ] {
        let timing = time_command(
            &repo.dir,
            ours(),
            &[
                "release-semver",
                "--path",
                &path,
                "--dry-run",
                "--changelog-file",
                "",
                "--tag-prefix",
                prefix,
            ],
            runs,
        );
        row(
            &format!("{label} commits since tag"),
            "deploy-tcb",
            &timing,
            runs,
            None,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Generating the repositories.

struct Repo {
    dir: PathBuf,
    remote: PathBuf,
    cog_config: PathBuf,
}

/// Builds (or reuses) the repository for a shape, with a bare `file://` remote.
fn generate(root: &Path, shape: &Shape) -> Repo {
    let base = root.join(shape.name);
    let repo = Repo {
        dir: base.join("repo"),
        remote: base.join("remote.git"),
        cog_config: base.join("cog.toml"),
    };
    let ready = base.join("ready");
    if ready.is_file() {
        return repo;
    }
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&repo.dir).expect("repo dir");
    git(&repo.dir, &["init", "-q", "-b", "main"]);
    let stream = fast_import_stream(shape);
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(&repo.dir)
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stream.as_bytes())
        .expect("stream");
    assert!(child.wait().expect("fast-import").success());
    git(&repo.dir, &["reset", "-q", "--hard", "main"]);
    git(&repo.dir, &["config", "user.name", "Bench"]);
    git(&repo.dir, &["config", "user.email", "bench@example.com"]);
    let remote = repo.remote.display().to_string();
    git(&base, &["clone", "-q", "--bare", "repo", &remote]);
    git(
        &repo.dir,
        &["remote", "add", "origin", &format!("file://{remote}")],
    );
    git(&repo.dir, &["fetch", "-q", "origin"]);
    git(&repo.dir, &["branch", "-q", "-u", "origin/main"]);
    std::fs::write(&repo.cog_config, "tag_prefix = \"v\"\n").expect("cog.toml");
    std::fs::write(&ready, "").expect("marker");
    repo
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git");
    assert!(status.success(), "git {args:?}");
}

/// A small deterministic generator, so every run builds the same history.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// A message mix like a busy npm package: many dependency chores, fixes and features, some
/// non-conventional commits, rare breaking changes.
fn message(rng: &mut Lcg, n: usize) -> String {
    let scope = ["api", "core", "deps", "docs", "types"][(rng.next() % 5) as usize];
    match rng.next() % 1000 {
        0..=2 => {
            format!("feat({scope})!: drop the old endpoint {n}\n\nBREAKING CHANGE: use the new one")
        }
        3..=5 => format!("fix: rename option {n}\n\nBREAKING CHANGE:\n\nthe option is renamed"),
        6..=159 => format!("feat({scope}): add endpoint {n} (#{n})"),
        160..=459 => {
            format!("fix({scope}): handle edge case {n} (#{n})\n\nLonger body.\n\nRefs: #{n}")
        }
        460..=499 => format!("perf: faster path {n}"),
        500..=749 => format!(
            "chore(deps): bump dependency-{n} from 1.0.{} to 1.0.{}",
            n % 7,
            n % 7 + 1
        ),
        750..=849 => format!("docs: document {n}"),
        850..=899 => format!("build: ci tweak {n}"),
        _ => format!("Update README.md ({n})"),
    }
}

fn fast_import_stream(shape: &Shape) -> String {
    let mut rng = Lcg(42);
    let mut out = String::with_capacity(shape.commits * 200);
    let mut mark = 0usize;
    let mut time = 1_500_000_000u64;
    let span = shape.commits - shape.tail;
    let mut segment: Vec<RawCommit> = Vec::new();
    let mut current = Version::new(0, 1, 0);
    let mut tags_made = 0;
    let mut main_tip: Option<usize> = None;
    let rules = Rules::default();
    let mut made = 0;
    while made < shape.commits {
        let merging = shape.merge_every > 0 && made > 0 && made % shape.merge_every == 0;
        if merging {
            let from = main_tip.expect("a tip");
            let mut side_tip = from;
            for _ in 0..2 {
                let text = message(&mut rng, made);
                mark += 1;
                time += 60;
                commit(
                    &mut out,
                    "refs/heads/side",
                    mark,
                    Some(side_tip),
                    None,
                    time,
                    &text,
                    made,
                );
                segment.push(raw(&text, 1));
                side_tip = mark;
                made += 1;
            }
            let text = format!("Merge pull request #{made} from octo/branch-{made}");
            mark += 1;
            time += 60;
            commit(
                &mut out,
                "refs/heads/main",
                mark,
                Some(from),
                Some(side_tip),
                time,
                &text,
                made,
            );
            segment.push(raw(&text, 2));
        } else {
            let text = message(&mut rng, made);
            mark += 1;
            time += 60;
            commit(
                &mut out,
                "refs/heads/main",
                mark,
                main_tip,
                None,
                time,
                &text,
                made,
            );
            segment.push(raw(&text, 1));
        }
        main_tip = Some(mark);
        made += 1;
        let due = made * shape.tags >= (tags_made + 1) * span && tags_made < shape.tags;
        if due {
            segment.reverse();
            let level = analyse(&segment, &rules).level.max(Level::Patch);
            current = version::bump(&current, level);
            out.push_str(&format!("reset refs/tags/v{current}\nfrom :{mark}\n\n"));
            segment.clear();
            tags_made += 1;
        }
        // Extra component tags 1k and 10k commits before HEAD, for the linearity runs.
        for (prefix, before) in [("lin1k-v", 1_000), ("lin10k-v", 10_000)] {
            if shape.commits >= 100_000 && made == shape.commits - before {
                out.push_str(&format!("reset refs/tags/{prefix}1.0.0\nfrom :{mark}\n\n"));
            }
        }
    }
    out.push_str("done\n");
    out
}

fn raw(message: &str, parents: usize) -> RawCommit {
    RawCommit {
        id: String::new(),
        parents,
        author: "Octo Cat".into(),
        message: message.into(),
    }
}

#[allow(clippy::too_many_arguments)]
fn commit(
    out: &mut String,
    branch: &str,
    mark: usize,
    from: Option<usize>,
    merge: Option<usize>,
    time: u64,
    message: &str,
    n: usize,
) {
    out.push_str(&format!("commit {branch}\nmark :{mark}\n"));
    out.push_str(&format!(
        "author Octo Cat <octo@example.com> {time} +0000\n"
    ));
    out.push_str(&format!(
        "committer Octo Cat <octo@example.com> {time} +0000\n"
    ));
    out.push_str(&format!("data {}\n{message}\n", message.len() + 1));
    if let Some(from) = from {
        out.push_str(&format!("from :{from}\n"));
    }
    if let Some(merge) = merge {
        out.push_str(&format!("merge :{merge}\n"));
    }
    let content = format!("{n}\n");
    out.push_str(&format!(
        "M 644 inline src/file{}.txt\ndata {}\n{content}\n",
        n % 50,
        content.len()
    ));
}
