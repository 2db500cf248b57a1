//! security-scan reporting to GitHub: in a pull request the check run annotates the findings
//! on the lines the pull request changed (GitHub's comparison of its base and head), and
//! without a comparison it falls back to the most severe findings anywhere, with a warning.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::support;
use crate::support::fake_github::{FakeGithub, TOKEN};

const BASE: &str = "bbcd538c8e72b8c175046e27cc8f907076331401";
const HEAD: &str = "0328041d1152db8ae77652d1618a02e57f745f17";
const MERGE: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

/// A SARIF result at `path` lines `start..=end`.
fn result(rule: &str, level: &str, path: &str, start: u32, end: u32) -> Value {
    json!({"ruleId": rule, "level": level, "message": {"text": format!("{rule} at {path}:{start}")},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": path},
            "region": {"startLine": start, "endLine": end}}}]})
}

/// 200 findings in app.py (one a line), two in lib.py, one in an unchanged file, one in a
/// binary asset and one without a location.
fn report() -> Value {
    let mut results: Vec<Value> = (1..=200)
        .map(|line| {
            let level = if line % 2 == 0 { "warning" } else { "note" };
            result(&format!("app-{line}"), level, "app.py", line, line)
        })
        .collect();
    results.push(result("lib-single", "error", "lib.py", 10, 10));
    results.push(result("lib-span", "error", "lib.py", 18, 22));
    results.push(result("old", "error", "unchanged.py", 5, 5));
    results.push(result("asset", "warning", "assets/logo.bin", 1, 1));
    results
        .push(json!({"ruleId": "no-location", "level": "error", "message": {"text": "somewhere"}}));
    json!({"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{"tool": {"driver": {"name": "semgrep"}}, "results": results}]})
}

/// Adds app.py lines 51..=170 (120 lines) after deleting three, with a second hunk that only
/// deletes; lib.py gets line 21.
fn app_patch() -> String {
    let mut patch = String::from("@@ -48,6 +48,123 @@ def handler():\n a\n b\n c\n-x\n-y\n-z\n");
    patch.extend((51..=170).map(|l| format!("+line {l}\n")));
    patch.push_str("@@ -300,2 +417,0 @@\n-gone\n-gone too\n");
    patch
}

const LIB_PATCH: &str = "@@ -20,3 +20,4 @@\n a\n+b\n c\n d\n\\ No newline at end of file\n";

fn run(fake: &FakeGithub, dir: &Path, event_name: &str, event: &Value) -> Output {
    let reports = dir.join("semgrep.sarif");
    std::fs::write(&reports, report().to_string()).unwrap();
    let git_ref = match event_name {
        "push" => "refs/heads/main",
        _ => "refs/pull/9/merge",
    };
    let event_path = dir.join("event.json");
    std::fs::write(&event_path, event.to_string()).unwrap();
    Command::new(support::binary())
        .args(["security-scan", "--reports"])
        .arg(&reports)
        .args(["--fail-on", "critical", "--sarif-output"])
        .arg(dir.join("out.sarif"))
        .args(["--github-token", TOKEN])
        .current_dir(dir)
        .env("GITHUB_WORKSPACE", dir)
        .env("GITHUB_API_URL", fake.url())
        .env("GITHUB_REPOSITORY", fake.repository())
        .env("GITHUB_SHA", MERGE)
        .env("GITHUB_REF", git_ref)
        .env("GITHUB_EVENT_NAME", event_name)
        .env("GITHUB_EVENT_PATH", &event_path)
        .env("GITHUB_RUN_ID", "77")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap()
}

fn pull_request_event() -> Value {
    json!({"action": "synchronize", "number": 9, "pull_request": {"number": 9,
        "base": {"ref": "main", "sha": BASE}, "head": {"ref": "feature", "sha": HEAD}}})
}

/// Annotations per request, in order (the create, then each PATCH).
fn batches(fake: &FakeGithub) -> Vec<Vec<Value>> {
    let create = fake.requests_for("checks/create");
    let updates = fake.requests_for("checks/update");
    create
        .iter()
        .chain(&updates)
        .map(|r| {
            let body = r.body.clone().unwrap_or_default();
            body["output"]["annotations"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

fn places(annotations: &[Value]) -> Vec<(String, u64)> {
    let mut places: Vec<(String, u64)> = annotations
        .iter()
        .map(|a| {
            (
                a["path"].as_str().unwrap().to_string(),
                a["start_line"].as_u64().unwrap(),
            )
        })
        .collect();
    places.sort();
    places
}

#[test]
fn a_pull_requests_check_run_annotates_only_the_findings_on_its_changed_lines() {
    let Some(spec) = support::shared_or_skip("spec/github/rest-subset.openapi.json") else {
        return;
    };
    let fake = FakeGithub::start(&spec);
    let patch = app_patch();
    fake.with_compare(
        BASE,
        HEAD,
        &[
            ("app.py", Some(patch.as_str())),
            ("lib.py", Some(LIB_PATCH)),
            ("assets/logo.bin", None),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let output = run(&fake, dir.path(), "pull_request", &pull_request_event());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stderr}\n{stdout}");
    assert!(!stderr.contains("GitHub reporting failed"), "{stderr}");
    assert!(!stdout.contains("not limited to changed lines"), "{stdout}");

    let compares = fake.requests_for("repos/compare-commits");
    assert_eq!(compares.len(), 1);
    assert_eq!(
        compares[0].path,
        format!("/repos/acme/shop/compare/{BASE}...{HEAD}")
    );

    let sent = batches(&fake);
    let sizes: Vec<usize> = sent.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![50, 50, 22], "at most 50 per request");
    let all: Vec<Value> = sent.concat();
    let mut expected: Vec<(String, u64)> = (51..=170).map(|l| ("app.py".into(), l)).collect();
    expected.push(("assets/logo.bin".into(), 1));
    expected.push(("lib.py".into(), 18));
    expected.sort();
    assert_eq!(places(&all), expected);
    assert_eq!(all[0]["path"], "lib.py", "most severe first");
    assert_eq!(all[0]["end_line"], 22);
    assert_eq!(all[0]["annotation_level"], "warning");

    let created = fake.requests_for("checks/create");
    let body = created[0].body.clone().unwrap_or_default();
    assert_eq!(
        body["head_sha"], HEAD,
        "on the PR head, not the merge commit"
    );
    let summary = body["output"]["summary"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with(
            "122 on changed lines of this pull request; 83 elsewhere are in the SARIF and the summary."
        ),
        "{summary}"
    );
    assert!(
        summary.contains("no readable diff for `assets/logo.bin`"),
        "{summary}"
    );
    let title = body["output"]["title"].as_str().unwrap_or_default();
    assert!(title.ends_with("122 on changed lines"), "{title}");
    let updated = fake.requests_for("checks/update");
    let id: u64 = updated[0].path.rsplit('/').next().unwrap().parse().unwrap();
    assert!(updated.iter().all(|r| r.path.ends_with(&format!("/{id}"))));
    assert_eq!(fake.annotations(id).len(), 122, "what GitHub ends up with");
    fake.assert_no_violations();

    // The log's annotations (plain text outside a runner): ten per level, on changed lines.
    let logged = log_places(&stderr);
    let mut expected = vec![("lib.py".to_string(), 18)];
    expected.extend((52..=68).step_by(2).map(|l| ("app.py".to_string(), l)));
    assert_eq!(logged, expected, "{stderr}");
    assert!(
        stderr.contains("notice: More findings than annotations: 10 of 205 findings annotated here: those on changed lines of this pull request (122,"),
        "{stderr}"
    );
}

/// `(file, line)` of each error and warning annotation the log shows as text
/// (`level: title: message (file:line)`), in order.
fn log_places(log: &str) -> Vec<(String, u64)> {
    log.lines()
        .filter(|l| l.starts_with("error: ") || l.starts_with("warning: "))
        .filter_map(|l| {
            let (file, line) = l.strip_suffix(')')?.rsplit_once(" (")?.1.rsplit_once(':')?;
            Some((file.to_string(), line.parse().ok()?))
        })
        .collect()
}

#[test]
fn without_a_comparison_the_run_succeeds_with_a_warning_and_the_most_severe_findings() {
    let Some(spec) = support::shared_or_skip("spec/github/rest-subset.openapi.json") else {
        return;
    };
    let fake = FakeGithub::start(&spec);
    let dir = tempfile::tempdir().unwrap();
    let output = run(&fake, dir.path(), "pull_request", &pull_request_event());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stderr}\n{stdout}");
    let warnings = format!("{stdout}{stderr}");
    assert!(
        warnings.contains("warning: Annotations not limited to changed lines")
            && warnings.contains("HTTP 404"),
        "{warnings}"
    );
    assert_eq!(fake.requests_for("repos/compare-commits")[0].status, 404);

    let all: Vec<Value> = batches(&fake).concat();
    assert_eq!(
        all.len(),
        204,
        "every located finding, as without a pull request"
    );
    let levels: Vec<&str> = all
        .iter()
        .map(|a| a["annotation_level"].as_str().unwrap())
        .collect();
    assert!(levels[..3].iter().all(|l| *l == "warning"), "{levels:?}");
    assert!(
        all[..3].iter().all(|a| a["path"] != "app.py"),
        "the high findings come first"
    );
    let body = fake.requests_for("checks/create")[0]
        .body
        .clone()
        .unwrap_or_default();
    let summary = body["output"]["summary"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with("Annotations: the 204 most severe located findings"),
        "{summary}"
    );
    fake.assert_no_violations();
}

#[test]
fn a_push_compares_before_and_after_and_a_new_branch_has_nothing_to_compare() {
    let Some(spec) = support::shared_or_skip("spec/github/rest-subset.openapi.json") else {
        return;
    };
    let fake = FakeGithub::start(&spec);
    fake.with_compare(BASE, MERGE, &[("lib.py", Some(LIB_PATCH))]);
    let dir = tempfile::tempdir().unwrap();
    let push = json!({"ref": "refs/heads/main", "before": BASE, "after": MERGE});
    let output = run(&fake, dir.path(), "push", &push);
    assert_eq!(output.status.code(), Some(0));
    let sent: Vec<Value> = batches(&fake).concat();
    assert_eq!(places(&sent), vec![("lib.py".to_string(), 18)]);
    let body = fake.requests_for("checks/create")[0]
        .body
        .clone()
        .unwrap_or_default();
    assert_eq!(body["head_sha"], MERGE);
    let summary = body["output"]["summary"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with("1 on changed lines of this push; 204 elsewhere"),
        "{summary}"
    );

    let fresh = FakeGithub::start(&spec);
    let created = json!({"ref": "refs/heads/new", "before": "0000000000000000000000000000000000000000", "after": MERGE, "created": true});
    let output = run(&fresh, dir.path(), "push", &created);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("not limited to changed lines"), "{stderr}");
    assert!(fresh.requests_for("repos/compare-commits").is_empty());
    assert_eq!(batches(&fresh).concat().len(), 204);
    fake.assert_no_violations();
    fresh.assert_no_violations();
}
