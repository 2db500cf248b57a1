//! release-semver: the 26 edge-case probes of the reference on real git repositories, the
//! action end to end through the binary, and the replay of real release histories.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use clap::Parser;
use deploy_tcb::cli::{Cli, Command as Sub};
use deploy_tcb::release::{self, Request};

use crate::support::{self, release_git::TestRepo};

fn request(repo: &TestRepo, extra: &[&str]) -> Request {
    let mut argv = vec![
        "deploy-tcb".to_string(),
        "release-semver".into(),
        "--path".into(),
        repo.path().display().to_string(),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    let Sub::ReleaseSemver(args) = Cli::try_parse_from(argv).expect("arguments").command else {
        unreachable!("release-semver parses as release-semver")
    };
    Request::from_args(args).expect("valid inputs")
}

/// The version the plan would release, `None` for no release.
fn next(repo: &TestRepo, extra: &[&str]) -> Option<String> {
    let plan = release::plan(&repo.repo, &request(repo, extra)).expect("plan");
    plan.releases()
        .then(|| plan.decision.version.expect("a version").to_string())
}

/// `chore: init` tagged `base`, then `messages` oldest first.
fn scenario(base: Option<&str>, messages: &[&str]) -> TestRepo {
    let mut repo = TestRepo::new();
    repo.commit("chore: init");
    if let Some(tag) = base {
        repo.tag(tag);
    }
    for message in messages {
        repo.commit(message);
    }
    repo
}

/// The reference's 26 probes (base tag v1.2.3 unless noted), with our documented answer.
/// Where we differ from the Conventional Commits reading, docs/release-semver.md says why.
#[test]
fn the_26_probes() {
    let b = Some("v1.2.3");
    let table: Vec<(&str, TestRepo, &[&str], Option<&str>)> = vec![
        ("fix", scenario(b, &["fix: a"]), &[], Some("1.2.4")),
        ("feat", scenario(b, &["feat: a"]), &[], Some("1.3.0")),
        ("perf", scenario(b, &["perf: a"]), &[], Some("1.2.4")),
        (
            "feat-scope",
            scenario(b, &["feat(api): a"]),
            &[],
            Some("1.3.0"),
        ),
        ("bang-only", scenario(b, &["feat!: a"]), &[], Some("2.0.0")),
        (
            "bang-scope-refactor",
            scenario(b, &["refactor(core)!: a"]),
            &[],
            Some("2.0.0"),
        ),
        (
            "footer-BREAKING-CHANGE",
            scenario(b, &["fix: a\n\nBREAKING CHANGE: b"]),
            &[],
            Some("2.0.0"),
        ),
        (
            "footer-BREAKING-hyphen",
            scenario(b, &["fix: a\n\nBREAKING-CHANGE: b"]),
            &[],
            Some("2.0.0"),
        ),
        (
            "footer-lowercase",
            scenario(b, &["fix: a\n\nbreaking change: b"]),
            &[],
            Some("1.2.4"),
        ),
        (
            "breaking-nonconv-header",
            scenario(b, &["Remove the old API\n\nBREAKING CHANGE: gone"]),
            &[],
            Some("2.0.0"),
        ),
        (
            "chore-docs-only",
            scenario(b, &["chore: a", "docs: b"]),
            &[],
            None,
        ),
        (
            "nonconventional-only",
            scenario(b, &["Update README", "tweak"]),
            &[],
            None,
        ),
        (
            "uppercase-type",
            scenario(b, &["Feat: a"]),
            &[],
            Some("1.3.0"),
        ),
        ("no-space-after-colon", scenario(b, &["fix:a"]), &[], None),
        (
            "revert-of-released-feat",
            revert_of_released(),
            &[],
            Some("1.2.4"),
        ),
        ("feat-and-its-revert", feat_and_its_revert(), &[], None),
        (
            "squash-nonconv-header-bullets",
            scenario(b, &["Add templates (#547)\n\n* feat: add x\n* fix: y"]),
            &[],
            None,
        ),
        (
            "squash-nonconv-header-bullets (squash_entries)",
            scenario(b, &["Add templates (#547)\n\n* feat: add x\n* fix: y"]),
            &["--squash-entries"],
            Some("1.3.0"),
        ),
        (
            "squash-body-paragraph",
            scenario(b, &["fix: a (#5)\n\nfeat: second entry"]),
            &[],
            Some("1.2.4"),
        ),
        (
            "squash-body-paragraph (squash_entries)",
            scenario(b, &["fix: a (#5)\n\nfeat: second entry"]),
            &["--squash-entries"],
            Some("1.3.0"),
        ),
        ("merge-commit", merge_commit(), &[], Some("1.3.0")),
        (
            "pre1.0-feat",
            scenario(Some("v0.3.1"), &["feat: a"]),
            &["--breaking-pre-major", "major"],
            Some("0.4.0"),
        ),
        (
            "pre1.0-feat (feature_pre_major=patch)",
            scenario(Some("v0.3.1"), &["feat: a"]),
            &["--feature-pre-major", "patch"],
            Some("0.3.2"),
        ),
        (
            "pre1.0-breaking (breaking_pre_major=major)",
            scenario(Some("v0.3.1"), &["feat!: a"]),
            &["--breaking-pre-major", "major"],
            Some("1.0.0"),
        ),
        (
            "pre1.0-breaking (default minor)",
            scenario(Some("v0.3.1"), &["feat!: a"]),
            &[],
            Some("0.4.0"),
        ),
        (
            "prerelease-last-fix",
            scenario(Some("v1.2.0-rc.1"), &["fix: a"]),
            &[],
            Some("1.2.0"),
        ),
        (
            "prerelease-last-fix (prerelease=rc)",
            scenario(Some("v1.2.0-rc.1"), &["fix: a"]),
            &["--prerelease", "rc"],
            Some("1.2.0-rc.2"),
        ),
        (
            "build-metadata-tag",
            scenario(Some("v1.2.3+build.7"), &["fix: a"]),
            &[],
            Some("1.2.4"),
        ),
        (
            "no-v-prefix-tag",
            scenario(Some("1.2.3"), &["fix: a"]),
            &[],
            Some("1.2.4"),
        ),
        (
            "first-release-no-tag",
            scenario(None, &["fix: a"]),
            &[],
            Some("0.1.0"),
        ),
        (
            "first-release-no-tag (initial 1.0.0)",
            scenario(None, &["fix: a"]),
            &["--initial-version", "1.0.0"],
            Some("1.0.0"),
        ),
        (
            "skip-release-marker",
            scenario(b, &["feat: a [skip release]"]),
            &[],
            None,
        ),
    ];
    let mut failures = Vec::new();
    for (name, repo, extra, expected) in &table {
        let got = next(repo, extra);
        if got.as_deref() != *expected {
            failures.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn revert_of_released() -> TestRepo {
    let mut repo = TestRepo::new();
    repo.commit("chore: init");
    let feat = repo.commit("feat: add x");
    repo.tag("v1.2.3");
    repo.commit(&format!(
        "Revert \"feat: add x\"\n\nThis reverts commit {feat}."
    ));
    repo
}

fn feat_and_its_revert() -> TestRepo {
    let mut repo = scenario(Some("v1.2.3"), &[]);
    let feat = repo.commit("feat: add x (#3)");
    repo.commit(&format!(
        "Revert \"feat: add x (#3)\" (#4)\n\nThis reverts commit {feat}."
    ));
    repo
}

fn merge_commit() -> TestRepo {
    let mut repo = scenario(Some("v1.2.3"), &[]);
    let base = repo.head().unwrap();
    let side = repo.side_commit(base, "feat: on a branch");
    repo.commit("chore: on main");
    repo.merge(side, "Merge pull request #8 from o/branch");
    repo
}

#[test]
fn tags_must_be_reachable_and_the_highest_wins() {
    let mut repo = scenario(Some("v1.0.0"), &["fix: a"]);
    repo.tag("v1.0.1");
    let base = repo.head().unwrap();
    // A higher tag on a line HEAD does not contain is ignored.
    let side = repo.side_commit(base, "feat: elsewhere");
    repo.repo
        .tag_lightweight("v9.0.0", &repo.repo.find_object(side, None).unwrap(), false)
        .unwrap();
    repo.commit("feat: here");
    assert_eq!(next(&repo, &[]).as_deref(), Some("1.1.0"));
    // Other prefixes are other components.
    repo.tag("web-v5.0.0");
    assert_eq!(next(&repo, &[]).as_deref(), Some("1.1.0"));
    assert_eq!(next(&repo, &["--tag-prefix", "web-v"]), None);
}

#[test]
fn prerelease_channel_then_graduation() {
    let mut repo = scenario(Some("v1.2.3"), &["feat: a"]);
    assert_eq!(
        next(&repo, &["--prerelease", "rc"]).as_deref(),
        Some("1.3.0-rc.1")
    );
    repo.tag("v1.3.0-rc.1");
    assert_eq!(next(&repo, &["--prerelease", "rc"]), None);
    repo.commit("fix: b");
    assert_eq!(
        next(&repo, &["--prerelease", "rc"]).as_deref(),
        Some("1.3.0-rc.2")
    );
    repo.tag("v1.3.0-rc.2");
    // A beta channel starts its own counter on the same core.
    repo.commit("fix: c");
    assert_eq!(
        next(&repo, &["--prerelease", "beta"]).as_deref(),
        Some("1.3.0-beta.1")
    );
    // A breaking change moves the channel to a new core.
    repo.commit("feat!: d");
    assert_eq!(
        next(&repo, &["--prerelease", "rc"]).as_deref(),
        Some("2.0.0-rc.1")
    );
    // The stable release graduates.
    assert_eq!(next(&repo, &[]).as_deref(), Some("2.0.0"));
}

#[test]
fn path_filters_keep_only_commits_that_touch_the_paths() {
    let mut repo = scenario(Some("v1.0.0"), &[]);
    repo.commit_file("services/web/app.py", "fix(web): a");
    repo.commit_file("services/api/app.py", "feat(api): b");
    assert_eq!(
        next(&repo, &["--path-filters", "services/web"]).as_deref(),
        Some("1.0.1")
    );
    assert_eq!(
        next(&repo, &["--path-filters", "services/*/app.py"]).as_deref(),
        Some("1.1.0")
    );
    assert_eq!(next(&repo, &["--path-filters", "docs"]), None);
}

#[test]
fn release_as_input_and_footer() {
    let repo = scenario(Some("v7.0.1"), &["feat!: a\n\nRelease-As: 7.1.0"]);
    assert_eq!(next(&repo, &[]).as_deref(), Some("7.1.0"));
    assert_eq!(
        next(&repo, &["--release-as", "8.0.0"]).as_deref(),
        Some("8.0.0")
    );
    let plan = release::plan(&repo.repo, &request(&repo, &["--release-as", "7.0.0"]));
    let error = plan.expect_err("a version below the last release is refused");
    assert!(error.to_string().contains("release_as"), "{error}");
    // A stale footer is ignored with a warning.
    let repo = scenario(Some("v7.0.1"), &["fix: a\n\nRelease-As: 6.0.0"]);
    let plan = release::plan(&repo.repo, &request(&repo, &[])).unwrap();
    assert_eq!(plan.decision.version.unwrap().to_string(), "7.0.2");
    assert!(plan.warnings[0].contains("not above"));
}

#[test]
fn non_conventional_commits_can_count_as_patches() {
    let repo = scenario(Some("v1.0.0"), &["Update README"]);
    assert_eq!(next(&repo, &[]), None);
    assert_eq!(
        next(&repo, &["--non-conventional", "patch"]).as_deref(),
        Some("1.0.1")
    );
    assert_eq!(
        next(&repo, &["--types", "feat:minor,fix:patch,*:patch"]),
        None
    );
    let repo = scenario(Some("v1.0.0"), &["docs: x"]);
    assert_eq!(
        next(&repo, &["--types", "feat:minor,docs:patch"]).as_deref(),
        Some("1.0.1")
    );
}

// ---------------------------------------------------------------------------------------------
// Through the binary.

struct Run {
    output: Output,
    outputs: BTreeMap<String, String>,
    summary: String,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }
}

fn run_binary(repo: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let files = tempfile::tempdir().unwrap();
    let output_file = files.path().join("output");
    let summary_file = files.path().join("summary");
    let mut command = Command::new(support::binary());
    command
        .arg("release-semver")
        .arg("--path")
        .arg(repo)
        .args(args)
        .env("GITHUB_OUTPUT", &output_file)
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_REPOSITORY")
        .env_remove("INPUT_GITHUB_TOKEN");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("the binary runs");
    let raw = std::fs::read_to_string(&output_file).unwrap_or_default();
    Run {
        output,
        outputs: crate::support::runner::parse_outputs(&raw),
        summary: std::fs::read_to_string(&summary_file).unwrap_or_default(),
    }
}

#[test]
fn binary_releases_then_a_rerun_does_nothing() {
    let mut repo = scenario(
        Some("v1.2.3"),
        &["feat(api): add export (#12)", "fix: typo", "chore: tidy"],
    );
    repo.commit("feat!: drop v1\n\nBREAKING CHANGE: use v2");
    let run = run_binary(repo.path(), &["--move-major-tag"], &[]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    assert_eq!(run.outputs["version"], "2.0.0");
    assert_eq!(run.outputs["previous_version"], "1.2.3");
    assert_eq!(run.outputs["bump"], "major");
    assert_eq!(run.outputs["tag"], "v2.0.0");
    assert_eq!(run.outputs["released"], "true");
    let notes = &run.outputs["changelog"];
    assert!(notes.starts_with("### ⚠ Breaking changes"), "{notes}");
    assert!(notes.contains("### Features\n\n- **api:** add export (") && notes.contains("#12"));
    assert!(!notes.contains("tidy"));
    let head = repo.head().unwrap();
    assert_eq!(repo.tag_target("v2.0.0"), Some((head, true)));
    assert_eq!(repo.tag_target("v2"), Some((head, false)));
    assert_eq!(repo.tag_target("v2.0"), Some((head, false)));
    let changelog = std::fs::read_to_string(repo.path().join("CHANGELOG.md")).unwrap();
    assert!(
        changelog.contains("## [Unreleased]\n\n## [2.0.0] - "),
        "{changelog}"
    );
    assert!(
        run.summary.contains("## Released v2.0.0"),
        "{}",
        run.summary
    );

    let again = run_binary(repo.path(), &["--move-major-tag"], &[]);
    assert_eq!(again.code(), 0, "{}", again.stderr());
    assert_eq!(again.outputs["released"], "false");
    assert_eq!(again.outputs["version"], "2.0.0");
    assert!(
        again.stdout().contains("already released as v2.0.0"),
        "{}",
        again.stdout()
    );
    let unchanged = std::fs::read_to_string(repo.path().join("CHANGELOG.md")).unwrap();
    assert_eq!(unchanged, changelog);

    // The next release moves the major and minor tags.
    let fix = repo.commit("fix: after");
    let third = run_binary(repo.path(), &["--move-major-tag"], &[]);
    assert_eq!(third.outputs["version"], "2.0.1");
    assert_eq!(repo.tag_target("v2"), Some((fix, false)));
    let changelog = std::fs::read_to_string(repo.path().join("CHANGELOG.md")).unwrap();
    assert!(changelog.find("## [2.0.1]").unwrap() < changelog.find("## [2.0.0]").unwrap());
}

#[test]
fn binary_dry_run_writes_nothing() {
    let repo = scenario(Some("v1.2.3"), &["feat: a"]);
    let run = run_binary(repo.path(), &["--dry-run", "--move-major-tag"], &[]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.outputs["version"], "1.3.0");
    assert_eq!(run.outputs["released"], "false");
    assert!(
        run.stdout()
            .contains("would: create the annotated tag v1.3.0"),
        "{}",
        run.stdout()
    );
    assert!(run.stdout().contains("would: move v1 to"));
    assert_eq!(repo.tag_target("v1.3.0"), None);
    assert_eq!(repo.tag_target("v1"), None);
    assert!(!repo.path().join("CHANGELOG.md").exists());
}

#[test]
fn binary_reports_no_release() {
    let repo = scenario(Some("v1.2.3"), &["chore: a"]);
    let run = run_binary(repo.path(), &[], &[]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.outputs["released"], "false");
    assert_eq!(run.outputs["bump"], "none");
    assert_eq!(run.outputs["version"], "1.2.3");
    assert_eq!(run.outputs["changelog"], "");
    assert!(run.summary.contains("## No release"));
}

#[test]
fn binary_reads_inputs_from_the_runner_environment() {
    let repo = scenario(Some("v0.4.0"), &["feat: a"]);
    let run = run_binary(
        repo.path(),
        &[],
        &[
            ("INPUT_FEATURE_PRE_MAJOR", "patch"),
            ("INPUT_CHANGELOG_FILE", "docs/CHANGES.md"),
            ("INPUT_DRY_RUN", "true"),
        ],
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.outputs["version"], "0.4.1");
    assert!(run.stdout().contains("docs/CHANGES.md"));
}

#[test]
fn binary_rejects_bad_inputs_naming_them() {
    let repo = scenario(Some("v1.0.0"), &["feat: a"]);
    let cases: &[(&[&str], &str)] = &[
        (&["--types", "feat"], "types"),
        (&["--types", "feat:huge"], "types"),
        (&["--initial-version", "one"], "initial_version"),
        (&["--prerelease", "r.c"], "prerelease"),
        (&["--release-as", "next"], "release_as"),
        (&["--tag-prefix", "v 1"], "tag_prefix"),
        (&["--changelog-file", "../outside.md"], "changelog_file"),
    ];
    for (args, input) in cases {
        let run = run_binary(repo.path(), args, &[]);
        assert_eq!(run.code(), 2, "{args:?}: {}", run.stderr());
        let all = format!("{}{}", run.stdout(), run.stderr());
        assert!(all.contains(&format!("`{input}`")), "{args:?}: {all}");
        assert!(all.contains("Fix:"), "{args:?}: {all}");
    }
    let empty = tempfile::tempdir().unwrap();
    let run = run_binary(empty.path(), &[], &[]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("`path`"), "{}", run.stderr());
}

#[test]
fn binary_never_prints_the_token() {
    let repo = scenario(Some("v1.0.0"), &["fix: a"]);
    let token = "ghp_release_semver_secret_0123456789";
    let run = run_binary(repo.path(), &["--dry-run", "--github-token", token], &[]);
    let all = format!(
        "{}{}{:?}{}",
        run.stdout(),
        run.stderr(),
        run.outputs,
        run.summary
    );
    assert!(!all.contains(token), "{all}");
}

// ---------------------------------------------------------------------------------------------
// Replay of real release histories (../shared/corpus/release).

mod replay {
    use std::collections::BTreeMap;
    use std::path::Path;

    use deploy_tcb::release::commit::RawCommit;
    use deploy_tcb::release::rules::{Rules, analyse, levels_as_they_land};
    use deploy_tcb::release::version::{self, Level, PreMajor, Version};
    use serde_json::Value;

    /// One release pair of the corpus.
    pub struct Pair {
        pub tag_a: String,
        pub tag_b: String,
        pub version_a: Version,
        pub version_b: Version,
        pub kind: String,
        pub bump: String,
        pub tool_active: bool,
        pub merges: u64,
        pub commits: Vec<RawCommit>,
    }

    pub fn load(file: &Path) -> Vec<Pair> {
        let text = std::fs::read_to_string(file).expect("corpus file");
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let v: Value = serde_json::from_str(line).expect("a JSON pair");
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                Pair {
                    tag_a: s("tag_a"),
                    tag_b: s("tag_b"),
                    version_a: Version::parse(&s("version_a")).expect("version_a"),
                    version_b: Version::parse(&s("version_b")).expect("version_b"),
                    kind: s("kind"),
                    bump: s("bump"),
                    tool_active: v["tool_active"].as_bool().unwrap_or(false),
                    merges: v["n_merges"].as_u64().unwrap_or(0),
                    commits: v["commits"]
                        .as_array()
                        .expect("commits")
                        .iter()
                        .map(|c| RawCommit {
                            id: c["sha"].as_str().unwrap_or_default().into(),
                            parents: c["parents"].as_array().map_or(1, Vec::len),
                            author: c["author"].as_str().unwrap_or_default().into(),
                            message: c["message"].as_str().unwrap_or_default().into(),
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// Each repository's own options, translated to ours (repos.json says what they are).
    pub fn rules_for(repo: &str) -> Rules {
        match repo {
            // release-plz on 0.x: breaking → minor, feat → patch, any other commit → patch.
            "XAMPPRocky/octocrab" => Rules {
                non_conventional: Level::Patch,
                pre_major: PreMajor {
                    breaking: Level::Minor,
                    feature: Level::Patch,
                },
                ..Rules::default()
            }
            .with_types(&["feat:minor", "*:patch"])
            .expect("types"),
            // semantic-release (angular defaults) and release-please (node, no pre-major
            // options): feat → minor, fix/perf/revert → patch, semver before 1.0.
            _ => Rules::default(),
        }
    }

    /// The bump we compute for a stable pair, with the version it leads to.
    pub fn predict(pair: &Pair, rules: &Rules) -> (Level, Version) {
        let analysis = analyse(&pair.commits, rules);
        let forced = analysis
            .release_as
            .as_deref()
            .and_then(version::parse_loose)
            .filter(|v| *v > pair.version_a);
        if let Some(forced) = forced {
            return (Level::between(&pair.version_a, &forced), forced);
        }
        let level = rules.pre_major.effective(analysis.level, &pair.version_a);
        (level, version::bump(&pair.version_a, level))
    }

    /// Agreement on the stable pairs made while the tool was active.
    #[derive(Debug, Default, Clone, PartialEq, Eq)]
    pub struct Score {
        pub pairs: usize,
        pub bump: usize,
        pub exact: usize,
        pub misses: Vec<String>,
    }

    pub fn score(repo: &str, pairs: &[Pair]) -> Score {
        let rules = rules_for(repo);
        let mut score = Score::default();
        for pair in pairs.iter().filter(|p| p.tool_active && p.kind == "stable") {
            score.pairs += 1;
            let (level, version) = predict(pair, &rules);
            if level.as_str() == pair.bump {
                score.bump += 1;
            } else {
                score.misses.push(format!(
                    "{} {}→{}: shipped {}, we say {}",
                    repo, pair.tag_a, pair.tag_b, pair.bump, level
                ));
            }
            if version == pair.version_b {
                score.exact += 1;
            } else if level.as_str() == pair.bump {
                score.misses.push(format!(
                    "{} {}→{}: same bump, but we say {version} (a version was skipped)",
                    repo, pair.tag_a, pair.tag_b
                ));
            }
        }
        score
    }

    /// Untagged intermediate commits of linear ranges at which we would already release.
    pub fn early_releases(repo: &str, pairs: &[Pair]) -> (usize, usize) {
        let rules = rules_for(repo);
        let (mut points, mut releasing) = (0, 0);
        for pair in pairs
            .iter()
            .filter(|p| p.tool_active && p.kind == "stable" && p.merges == 0)
        {
            // Every commit but the released one is an earlier, untagged HEAD.
            let levels = levels_as_they_land(&pair.commits, &rules);
            let earlier = &levels[..levels.len().saturating_sub(1)];
            points += earlier.len();
            releasing += earlier.iter().filter(|l| **l > Level::None).count();
        }
        (points, releasing)
    }

    /// Prerelease pairs that stay on one channel and core (`-beta.3` → `-beta.4`): the counter
    /// rule must give exactly B when something releasable landed. Returns (pairs, agreeing).
    pub fn counter_pairs(repo: &str, pairs: &[Pair]) -> (usize, usize) {
        let rules = rules_for(repo);
        let (mut total, mut agree) = (0, 0);
        for pair in pairs.iter().filter(|p| p.kind == "prerelease") {
            let (a, b) = (&pair.version_a, &pair.version_b);
            let channel = version::channel(b);
            if version::channel(a) != channel || version::core(a) != version::core(b) {
                continue;
            }
            total += 1;
            let releasable = analyse(&pair.commits, &rules).level > Level::None;
            let next = version::with_prerelease(
                &version::core(a),
                channel.expect("a prerelease"),
                version::prerelease_number(a) + 1,
            );
            if releasable && next == *b {
                agree += 1;
            }
        }
        (total, agree)
    }

    pub fn corpus(dir: &Path) -> BTreeMap<String, Vec<Pair>> {
        let mut all = BTreeMap::new();
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("corpus dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        files.sort();
        for file in files {
            let pairs = load(&file);
            let repo = file
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .replacen("__", "/", 1);
            all.insert(repo, pairs);
        }
        all
    }
}

#[test]
fn replay_of_real_release_histories() {
    let Some(dir) = support::shared_or_skip("corpus/release") else {
        return;
    };
    let corpus = replay::corpus(&dir);
    let mut table = Vec::new();
    let mut misses = Vec::new();
    for (repo, pairs) in &corpus {
        let score = replay::score(repo, pairs);
        let (points, early) = replay::early_releases(repo, pairs);
        let (counter_pairs, counter_agree) = replay::counter_pairs(repo, pairs);
        eprintln!(
            "{repo}: {}/{} bumps, {} exact versions; early release at {early}/{points} \
             untagged points; prerelease counter {counter_agree}/{counter_pairs}",
            score.bump, score.pairs, score.exact
        );
        misses.extend(score.misses.iter().cloned());
        table.push((
            repo.as_str(),
            [
                score.pairs,
                score.bump,
                score.exact,
                counter_pairs,
                counter_agree,
                points,
                early,
            ],
        ));
    }
    misses.iter().for_each(|m| eprintln!("  {m}"));
    // Per repository: [stable tool-active pairs, same bump, same version, prerelease counter
    // pairs, agreeing, untagged points in linear ranges, points where we would already release].
    // Every miss is classified in docs/release-semver.md.
    let expected: Vec<(&str, [usize; 7])> = vec![
        ("XAMPPRocky/octocrab", [65, 44, 44, 3, 3, 313, 313]),
        ("googleapis/gaxios", [49, 48, 48, 0, 0, 319, 143]),
        ("googleapis/nodejs-storage", [145, 145, 145, 0, 0, 723, 447]),
        ("octokit/rest.js", [298, 297, 296, 0, 0, 1748, 610]),
        ("orhun/git-cliff", [56, 38, 38, 32, 25, 1080, 960]),
        (
            "semantic-release/semantic-release",
            [314, 313, 311, 91, 91, 978, 111],
        ),
    ];
    assert_eq!(table, expected);
}

#[test]
fn whole_history_changelog() {
    let mut repo = scenario(None, &["feat: first"]);
    repo.tag("v0.1.0");
    repo.commit("fix: second");
    repo.commit("chore: hidden");
    repo.tag("v0.1.1");
    repo.commit("feat: third");
    repo.tag("v0.2.0-rc.1");
    repo.commit("docs: unreleased");
    let links = Default::default();
    let rules = Default::default();
    let releases = release::history::releases(&repo.repo, "v", &rules, &links).unwrap();
    let tags: Vec<(&str, Option<&str>, usize)> = releases
        .iter()
        .map(|r| (r.tag.as_str(), r.previous_tag.as_deref(), r.commits))
        .collect();
    assert_eq!(
        tags,
        vec![
            ("v0.1.0", None, 2),
            ("v0.1.1", Some("v0.1.0"), 2),
            ("v0.2.0-rc.1", Some("v0.1.1"), 1)
        ]
    );
    let changelog = release::history::changelog(&releases, &links);
    let newest = changelog.find("## [0.2.0-rc.1]").unwrap();
    let oldest = changelog.find("## [0.1.0]").unwrap();
    assert!(changelog.find("## [Unreleased]").unwrap() < newest && newest < oldest);
    assert!(changelog.contains("- second (") && !changelog.contains("hidden"));
}

#[test]
fn shallow_clones_are_refused_with_the_fix() {
    if !support::tool_or_skip("git") {
        return;
    }
    let repo = scenario(Some("v1.0.0"), &["fix: a", "fix: b"]);
    let clone = tempfile::tempdir().unwrap();
    let status = Command::new("git")
        .args(["clone", "-q", "--depth", "1"])
        .arg(format!("file://{}", repo.path().display()))
        .arg(clone.path().join("c"))
        .status()
        .unwrap();
    assert!(status.success());
    let run = run_binary(&clone.path().join("c"), &[], &[]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("shallow") && run.stderr().contains("fetch-depth: 0"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_taken_tag_on_another_commit_is_a_configuration_error() {
    let mut repo = scenario(Some("v1.0.0"), &["fix: a"]);
    repo.tag("v1.0.1");
    repo.commit("fix: b");
    let run = run_binary(repo.path(), &["--release-as", "1.0.1"], &[]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains("release_as"), "{}", run.stderr());
    // A tag that exists elsewhere but is not reachable (another branch) is refused on apply.
    let mut repo = scenario(Some("v1.0.0"), &[]);
    let base = repo.head().unwrap();
    let side = repo.side_commit(base, "fix: elsewhere");
    repo.repo
        .tag_lightweight("v1.0.1", &repo.repo.find_object(side, None).unwrap(), false)
        .unwrap();
    repo.commit("fix: here");
    let run = run_binary(repo.path(), &[], &[]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("v1.0.1 already exists on another commit"),
        "{}",
        run.stderr()
    );
}

// ---------------------------------------------------------------------------------------------
// Publishing through GitHub (the fake validates every request against GitHub's description).

mod publishing {
    use super::*;
    use crate::support::fake_github::{FakeGithub, Fault, TOKEN};

    fn fake() -> Option<FakeGithub> {
        Some(FakeGithub::start(&support::shared_or_skip(
            "spec/github/rest-subset.openapi.json",
        )?))
    }

    fn run_with(fake: &FakeGithub, repo: &TestRepo, args: &[&str]) -> Run {
        let mut all = vec!["--github-token", TOKEN];
        all.extend_from_slice(args);
        let run = run_binary(
            repo.path(),
            &all,
            &[
                ("GITHUB_API_URL", fake.url()),
                ("GITHUB_REPOSITORY", "acme/shop"),
            ],
        );
        let everything = format!(
            "{}{}{:?}{}",
            run.stdout(),
            run.stderr(),
            run.outputs,
            run.summary
        );
        assert!(
            !everything.contains(TOKEN),
            "the token leaked: {everything}"
        );
        run
    }

    fn writes(fake: &FakeGithub) -> usize {
        fake.requests().iter().filter(|r| r.method != "GET").count()
    }

    #[test]
    fn release_tag_release_and_moving_tags_then_a_rerun_writes_nothing() {
        let Some(fake) = fake() else { return };
        let mut repo = scenario(Some("v1.2.3"), &["fix: a"]);
        let feat = repo.commit("feat(api): add export (#12)");
        fake.seed_pull_requests(&feat.to_string(), &[(12, "Add export", "octo-dev")]);
        let run = run_with(&fake, &repo, &["--move-major-tag"]);
        assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
        assert_eq!(run.outputs["released"], "true");
        let head = repo.head().unwrap().to_string();
        let refs = fake.refs();
        let (tag_sha, kind) = &refs["refs/tags/v1.3.0"];
        assert_eq!(kind, "tag");
        let tag = fake.tag_object(tag_sha).expect("an annotated tag object");
        assert_eq!(tag["object"]["sha"], head.as_str());
        assert!(
            tag["message"]
                .as_str()
                .unwrap()
                .starts_with("Release v1.3.0")
        );
        assert_eq!(refs["refs/tags/v1"], (head.clone(), "commit".to_string()));
        assert_eq!(refs["refs/tags/v1.3"], (head.clone(), "commit".to_string()));
        let releases = fake.releases();
        assert_eq!(releases.len(), 1);
        let release = &releases[0];
        assert_eq!(release["tag_name"], "v1.3.0");
        assert_eq!(release["draft"], false);
        assert_eq!(release["prerelease"], false);
        let body = release["body"].as_str().unwrap();
        assert!(
            body.contains("- **api:** add export (") && body.contains("by @octo-dev"),
            "{body}"
        );
        assert!(
            body.contains("[#12](https://github.com/acme/shop/pull/12)"),
            "{body}"
        );
        assert!(run.outputs["changelog"].contains("by @octo-dev"));
        fake.assert_no_violations();

        let before = writes(&fake);
        let again = run_with(&fake, &repo, &["--move-major-tag"]);
        assert_eq!(again.code(), 0, "{}", again.stderr());
        assert_eq!(again.outputs["released"], "false");
        assert_eq!(writes(&fake), before, "a re-run must not write");
        assert!(
            again
                .stdout()
                .contains("GitHub release v1.3.0 already exists"),
            "{}",
            again.stdout()
        );
        fake.assert_no_violations();
    }

    #[test]
    fn a_rerun_completes_a_release_that_failed_half_way() {
        let Some(fake) = fake() else { return };
        let repo = scenario(Some("v2.0.0"), &["fix: a"]);
        fake.inject(Fault::status(422, "Validation Failed").on("repos/create-release"));
        let run = run_with(&fake, &repo, &[]);
        assert_eq!(run.code(), 1, "{}", run.stdout());
        assert!(
            run.stderr().contains("repos/create-release"),
            "{}",
            run.stderr()
        );
        assert!(fake.refs().contains_key("refs/tags/v2.0.1"));
        assert!(fake.releases().is_empty());
        let again = run_with(&fake, &repo, &[]);
        assert_eq!(again.code(), 0, "{}", again.stderr());
        assert!(again.stdout().contains("already released as v2.0.1"));
        assert!(
            again.stdout().contains("created the GitHub release v2.0.1"),
            "{}",
            again.stdout()
        );
        assert_eq!(fake.releases().len(), 1);
        fake.assert_no_violations();
    }

    #[test]
    fn prereleases_are_marked_and_never_move_the_major_tag() {
        let Some(fake) = fake() else { return };
        let repo = scenario(Some("v1.2.3"), &["feat: a"]);
        let run = run_with(
            &fake,
            &repo,
            &["--prerelease", "rc", "--draft", "--move-major-tag"],
        );
        assert_eq!(run.code(), 0, "{}", run.stderr());
        assert_eq!(run.outputs["version"], "1.3.0-rc.1");
        let release = &fake.releases()[0];
        assert_eq!(
            (release["draft"].as_bool(), release["prerelease"].as_bool()),
            (Some(true), Some(true))
        );
        assert!(!fake.refs().contains_key("refs/tags/v1"));
        fake.assert_no_violations();
    }

    #[test]
    fn dry_run_reads_but_never_writes() {
        let Some(fake) = fake() else { return };
        let repo = scenario(Some("v1.2.3"), &["feat: a"]);
        let run = run_with(&fake, &repo, &["--dry-run", "--move-major-tag"]);
        assert_eq!(run.code(), 0, "{}", run.stderr());
        assert_eq!(writes(&fake), 0);
        assert!(
            run.stdout()
                .contains("would: create the GitHub release v1.3.0"),
            "{}",
            run.stdout()
        );
        assert!(run.stdout().contains("would: move v1 to"));
        fake.assert_no_violations();
    }
}

#[test]
fn changelog_template_lays_out_each_section() {
    let repo = scenario(Some("v1.4.0"), &["feat: export to CSV", "fix: typo"]);
    let templates = tempfile::tempdir().unwrap();
    let template = templates.path().join("section.md");
    std::fs::write(
        &template,
        "## Release {{version}} ({{ date }})\n\nSince {{previous_tag}}:\n\n{{notes}}\n",
    )
    .unwrap();
    let template_arg = template.to_str().unwrap();
    let run = run_binary(repo.path(), &["--changelog-template", template_arg], &[]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    let changelog = std::fs::read_to_string(repo.path().join("CHANGELOG.md")).unwrap();
    let section = changelog
        .split("## Release 1.5.0 (")
        .nth(1)
        .unwrap_or_else(|| panic!("no templated section:\n{changelog}"));
    assert!(
        section.contains(")\n\nSince v1.4.0:\n\n### Features"),
        "{changelog}"
    );
    assert!(section.contains("export to CSV") && section.contains("typo"));

    std::fs::write(&template, "## {{verison}}\n\n{{notes}}\n").unwrap();
    let run = run_binary(repo.path(), &["--changelog-template", template_arg], &[]);
    assert_eq!(run.code(), 2);
    let all = format!("{}{}", run.stdout(), run.stderr());
    assert!(
        all.contains("`changelog_template`") && all.contains("{{verison}}"),
        "{all}"
    );
}
