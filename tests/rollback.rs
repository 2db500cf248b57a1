//! rollback end to end: the binary against the in-process emulator.

use serde_json::json;

use crate::canary::{SERVICE, assert_all_on_stable, run_action, stable_and_canary};
use crate::support::emulator::{ENV, TestEmulator};

/// Deploys `images` one after another as full releases; returns the version names.
fn releases(emu: &TestEmulator, images: &[&str]) -> Vec<String> {
    let mut versions = Vec::new();
    for (i, image) in images.iter().enumerate() {
        let task = if i == 0 {
            emu.deploy_new(SERVICE, image)
        } else {
            emu.ok(
                "UpdateCloudRunServer",
                json!({"EnvId": ENV, "ServerName": SERVICE,
                       "DeployInfo": {"DeployType": "image", "ImageUrl": image}}),
            );
            emu.wait_task(SERVICE)
        };
        assert_eq!(task["Status"], "finished", "{task}");
        versions.push(task["VersionName"].as_str().unwrap().to_string());
    }
    versions
}

fn rollback(emu: &TestEmulator, extra: &[&str]) -> crate::canary::Run {
    let mut args = vec!["rollback", "--env-id", ENV, "--service", SERVICE];
    args.extend_from_slice(extra);
    run_action(emu, &args)
}

#[test]
fn manual_rollback_to_a_named_version_then_undo() {
    let emu = TestEmulator::start();
    let v = releases(
        &emu,
        &[
            "synthetic:healthy",
            "synthetic:healthy",
            "synthetic:errors-20",
        ],
    );
    let run = rollback(
        &emu,
        &["--to-version", &v[0], "--reason", "errors after v3"],
    );
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.outputs["result"], "rolled_back");
    assert_eq!(run.outputs["version_name"], v[0]);
    assert_eq!(run.outputs["previous_version"], v[2]);
    assert!(run.summary.contains("errors after v3"), "{}", run.summary);
    assert_all_on_stable(&emu, &v[0]);

    let undo = rollback(&emu, &["--undo", "--reason", "false alarm"]);
    assert_eq!(undo.code, 0, "{}", undo.log);
    assert_eq!(undo.outputs["result"], "rolled_back");
    assert_eq!(undo.outputs["version_name"], v[2]);
    assert_eq!(undo.outputs["previous_version"], v[0]);
    assert_eq!(emu.online(SERVICE), vec![(v[2].clone(), "100".into())]);
}

#[test]
fn default_target_is_the_version_the_last_release_replaced_not_a_guess() {
    let emu = TestEmulator::start();
    let v = releases(&emu, &["synthetic:healthy", "synthetic:errors-20"]);
    let run = rollback(&emu, &[]);
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.outputs["version_name"], v[0]);
    assert!(
        run.summary.contains("last finished release"),
        "{}",
        run.summary
    );
    assert_all_on_stable(&emu, &v[0]);

    // Now the newest task is a rollback: without GitHub records there is no verified version
    // to choose, and the action says so instead of guessing.
    let again = rollback(&emu, &[]);
    assert_eq!(again.code, 2, "{}", again.log);
    assert!(again.log.contains("to_version"), "{}", again.log);
}

#[test]
fn an_open_gray_release_goes_back_to_its_stable_side() {
    let emu = TestEmulator::start();
    let (stable, canary) = stable_and_canary(&emu, "synthetic:errors-20");
    emu.ok(
        "ReleaseGray",
        json!({"EnvId": ENV, "ServerName": SERVICE, "GrayType": "gray", "TrafficType": "FLOW",
               "GrayFlowRatio": 30}),
    );
    let run = rollback(&emu, &["--reason", "canary errors"]);
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.outputs["version_name"], stable);
    assert_eq!(run.outputs["previous_version"], canary);
    assert!(run.summary.contains("go_back"), "{}", run.summary);
    assert_all_on_stable(&emu, &stable);
}

#[test]
fn already_on_the_target_is_unchanged_and_dry_run_changes_nothing() {
    let emu = TestEmulator::start();
    let v = releases(&emu, &["synthetic:healthy", "synthetic:healthy"]);
    let same = rollback(&emu, &["--to-version", &v[1]]);
    assert_eq!(same.code, 0, "{}", same.log);
    assert_eq!(same.outputs["result"], "unchanged");

    let dry = rollback(&emu, &["--to-version", &v[0], "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.log);
    assert_eq!(dry.outputs["result"], "unchanged");
    assert!(dry.log.contains("dry run"), "{}", dry.log);
    assert_eq!(emu.online(SERVICE), vec![(v[1].clone(), "100".into())]);
}

#[test]
fn bad_rollback_inputs_exit_2() {
    let emu = TestEmulator::start();
    releases(&emu, &["synthetic:healthy"]);
    let missing = rollback(&emu, &["--to-version", "web-404"]);
    assert_eq!(missing.code, 2, "{}", missing.log);
    assert!(missing.log.contains("to_version"), "{}", missing.log);
    let both = rollback(&emu, &["--to-version", "x", "--undo"]);
    assert_eq!(both.code, 2, "{}", both.log);
    assert!(both.log.contains("undo"), "{}", both.log);
}

#[test]
fn verified_github_deployments_choose_the_target_and_record_the_rollback() {
    use crate::canary::run_action_with;
    use crate::support::fake_github::{FakeGithub, TOKEN};
    let Some(spec) = crate::support::shared_or_skip("spec/github/rest-subset.openapi.json") else {
        return;
    };
    let github = FakeGithub::start(&spec);
    let repository = github.repository();
    let env = [
        ("GITHUB_API_URL", github.url()),
        ("GITHUB_REPOSITORY", repository.as_str()),
        ("GITHUB_SHA", "6dcb09b5b57875f334f61aebed695e2e4193db5e"),
        ("GITHUB_RUN_ID", "77"),
    ];
    let emu = TestEmulator::start();
    // v1, then v2 through a promoted canary: the only verified record.
    let (_v1, v2) = stable_and_canary(&emu, "synthetic:healthy");
    let promote = run_action_with(
        &emu,
        &[
            "canary-promote",
            "--env-id",
            ENV,
            "--service",
            SERVICE,
            "--steps",
            "50,100",
            "--interval",
            "1s",
            "--min-requests",
            "5",
            "--github-token",
            TOKEN,
        ],
        &env,
    );
    assert_eq!(promote.code, 0, "{}", promote.log);
    // Two unverified full releases on top.
    let later = releases_after(&emu, &["synthetic:healthy", "synthetic:errors-20"]);

    let run = run_action_with(
        &emu,
        &[
            "rollback",
            "--env-id",
            ENV,
            "--service",
            SERVICE,
            "--reason",
            "errors",
            "--github-token",
            TOKEN,
        ],
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(
        run.outputs["version_name"], v2,
        "not {} (unverified)",
        later[0]
    );
    assert!(
        run.summary.contains("verified GitHub Deployment"),
        "{}",
        run.summary
    );
    assert_all_on_stable(&emu, &v2);

    let undo = run_action_with(
        &emu,
        &[
            "rollback",
            "--env-id",
            ENV,
            "--service",
            SERVICE,
            "--undo",
            "--github-token",
            TOKEN,
        ],
        &env,
    );
    assert_eq!(undo.code, 0, "{}", undo.log);
    assert_eq!(undo.outputs["version_name"], later[1]);

    let deployments = github.requests_for("repos/create-deployment");
    assert_eq!(deployments.len(), 3, "promote, rollback, undo");
    github.assert_no_violations();
}

/// Full releases of `images` on an existing service.
fn releases_after(emu: &TestEmulator, images: &[&str]) -> Vec<String> {
    images
        .iter()
        .map(|image| {
            emu.ok(
                "UpdateCloudRunServer",
                json!({"EnvId": ENV, "ServerName": SERVICE,
                       "DeployInfo": {"DeployType": "image", "ImageUrl": image}}),
            );
            let task = emu.wait_task(SERVICE);
            assert_eq!(task["Status"], "finished", "{task}");
            task["VersionName"].as_str().unwrap().to_string()
        })
        .collect()
}

/// The deploy action's own Deployments are what rollback reads: deploy v1, then v2, both under
/// the named environment; rollback with no version (and the same environment) returns to v1
/// because a verified Deployment names it, not because CloudBase's records suggest it.
#[test]
fn the_deploy_actions_deployments_are_the_verified_versions() {
    use crate::canary::run_action_with;
    use crate::support::fake_github::{FakeGithub, TOKEN};
    let Some(spec) = crate::support::shared_or_skip("spec/github/rest-subset.openapi.json") else {
        return;
    };
    let github = FakeGithub::start(&spec);
    let repository = github.repository();
    let env = [
        ("GITHUB_API_URL", github.url()),
        ("GITHUB_REPOSITORY", repository.as_str()),
        ("GITHUB_SHA", "6dcb09b5b57875f334f61aebed695e2e4193db5e"),
        ("GITHUB_RUN_ID", "78"),
    ];
    let emu = TestEmulator::start();
    let named = ["--environment", "production", "--github-token", TOKEN];
    let mut versions = Vec::new();
    for image in [
        "registry.local/v1/synthetic:healthy",
        "registry.local/v2/synthetic:healthy",
    ] {
        let mut args = vec![
            "deploy",
            "--env-id",
            ENV,
            "--service",
            SERVICE,
            "--image",
            image,
        ];
        args.extend_from_slice(&named);
        let run = run_action_with(&emu, &args, &env);
        assert_eq!(run.code, 0, "{}", run.log);
        versions.push(run.outputs["version_name"].clone());
    }
    let payloads: Vec<_> = github
        .requests_for("repos/create-deployment")
        .into_iter()
        .map(|r| r.body.unwrap())
        .collect();
    assert_eq!(payloads.len(), 2);
    assert_eq!(payloads[1]["environment"], "production");
    assert_eq!(payloads[1]["payload"]["version_name"], versions[1].as_str());

    let mut args = vec![
        "rollback",
        "--env-id",
        ENV,
        "--service",
        SERVICE,
        "--reason",
        "v2 misbehaves",
    ];
    args.extend_from_slice(&named);
    let run = run_action_with(&emu, &args, &env);
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.outputs["version_name"], versions[0]);
    assert_eq!(run.outputs["previous_version"], versions[1]);
    assert!(
        run.summary
            .contains("the newest verified GitHub Deployment"),
        "{}",
        run.summary
    );
    assert_all_on_stable(&emu, &versions[0]);
    github.assert_no_violations();
}
