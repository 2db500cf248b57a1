//! GitHub reporting and chat notifications, driven through the fake GitHub (which validates
//! every request against GitHub's OpenAPI description) and a local webhook sink.

use std::time::Duration;

use deploy_tcb::github::{
    AnnotationLevel, CheckAnnotation, CheckOutput, CheckRunUpdate, Client, CommitState, Conclusion,
    DeploymentState, GithubError, NewCheckRun, NewCommitStatus, NewDeployment, NewDeploymentStatus,
    NewRelease, RefName, ReleaseUpdate, Repo, RetryPolicy, StickyComment, Tagger, merge_section,
    section_content, sections,
};
use deploy_tcb::notify::{Channel, Notification, Notifier, Status};
use deploy_tcb::runner::Secret;
use serde_json::{Value, json};

use crate::support::fake_github::{FakeGithub, Fault, TOKEN, WebhookSink};
use crate::support::shared_or_skip;

const SPEC: &str = "spec/github/rest-subset.openapi.json";
const SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

fn fake() -> Option<FakeGithub> {
    Some(FakeGithub::start(&shared_or_skip(SPEC)?))
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(50),
    }
}

fn client(fake: &FakeGithub) -> Client {
    Client::new(
        fake.url(),
        Secret::new(TOKEN),
        Repo::parse("acme/shop").unwrap(),
    )
    .unwrap()
    .with_retry(fast_retry())
}

fn annotations(count: u32) -> Vec<CheckAnnotation> {
    (1..=count)
        .map(|line| {
            let mut a = CheckAnnotation::new(
                "app/main.py",
                line,
                AnnotationLevel::Warning,
                "B101: assert used",
            );
            a.title = Some("bandit".into());
            a
        })
        .collect()
}

#[tokio::test]
async fn check_run_sends_annotations_fifty_per_request() {
    let Some(fake) = fake() else { return };
    let github = client(&fake);
    let mut run = NewCheckRun::started("deploy-tcb / security-scan", SHA);
    run.details_url = Some("https://github.com/acme/shop/actions/runs/1".into());
    let created = github.create_check_run(&run).await.unwrap();
    assert_eq!(created.status, "in_progress");
    let output = CheckOutput {
        title: "120 findings".into(),
        summary: "Bandit found 120 issues".into(),
        text: Some("details".into()),
        annotations: annotations(120),
    };
    let done = github
        .update_check_run(
            created.id,
            &CheckRunUpdate::completed(Conclusion::Failure, output),
        )
        .await
        .unwrap();
    assert_eq!(
        (done.status.as_str(), done.conclusion.as_deref()),
        ("completed", Some("failure"))
    );
    assert_eq!(fake.annotations(created.id).len(), 120);
    let sizes: Vec<usize> = fake
        .requests_for("checks/update")
        .iter()
        .map(|r| {
            r.body.as_ref().unwrap()["output"]["annotations"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .collect();
    assert_eq!(sizes, vec![50, 50, 20]);
    fake.assert_no_violations();
}

#[tokio::test]
async fn check_run_created_complete_with_many_annotations() {
    let Some(fake) = fake() else { return };
    let github = client(&fake);
    let mut run = NewCheckRun::started("deploy-tcb / deploy", SHA);
    run.status = deploy_tcb::github::CheckStatus::Completed;
    run.conclusion = Some(Conclusion::Success);
    run.completed_at = Some(chrono::Utc::now());
    run.output = Some(CheckOutput {
        title: "Deployed".into(),
        summary: "ok".into(),
        text: None,
        annotations: annotations(51),
    });
    let created = github.create_check_run(&run).await.unwrap();
    assert_eq!(fake.annotations(created.id).len(), 51);
    assert_eq!(fake.requests_for("checks/create").len(), 1);
    assert_eq!(fake.requests_for("checks/update").len(), 1);
    fake.assert_no_violations();
}

#[tokio::test]
async fn commit_status_is_set_with_a_short_description() {
    let Some(fake) = fake() else { return };
    let status = NewCommitStatus {
        state: CommitState::Success,
        context: "deploy-tcb/deploy".into(),
        description: Some("d".repeat(500)),
        target_url: Some("https://shop.example.com".into()),
    };
    let answer = client(&fake)
        .create_commit_status(SHA, &status)
        .await
        .unwrap();
    assert_eq!(answer.state, "success");
    let (sha, stored) = fake.commit_statuses().pop().unwrap();
    assert_eq!(sha, SHA);
    assert_eq!(stored["description"].as_str().unwrap().chars().count(), 140);
    fake.assert_no_violations();
}

#[tokio::test]
async fn sticky_comment_sections_update_in_place() {
    let Some(fake) = fake() else { return };
    let github = client(&fake);
    let other = fake.seed_comment(7, "LGTM from a human");
    let sticky = StickyComment::new(4242, "deploy-tcb · CI");
    github
        .upsert_sticky_section(7, &sticky, "deploy/staging", "⏳ deploying")
        .await
        .unwrap();
    github
        .upsert_sticky_section(7, &sticky, "security-scan", "✅ 0 findings")
        .await
        .unwrap();
    github
        .upsert_sticky_section(7, &sticky, "deploy/staging", "✅ live at https://s")
        .await
        .unwrap();
    let bodies = fake.comment_bodies(7);
    assert_eq!(
        bodies.len(),
        2,
        "one human comment and one sticky comment: {bodies:?}"
    );
    assert_eq!(bodies[0], "LGTM from a human");
    assert_eq!(
        section_content(&bodies[1], "deploy/staging"),
        Some("✅ live at https://s")
    );
    assert_eq!(
        section_content(&bodies[1], "security-scan"),
        Some("✅ 0 findings")
    );
    assert_eq!(fake.requests_for("issues/create-comment").len(), 1);
    assert_eq!(fake.requests_for("issues/update-comment").len(), 2);
    assert!(fake.requests().iter().all(|r| r.path
        != format!("/repos/acme/shop/issues/comments/{other}")
        || r.method == "GET"));
    // Another workflow run gets its own comment.
    github
        .upsert_sticky_section(
            7,
            &StickyComment::new(4243, "CI"),
            "deploy/staging",
            "again",
        )
        .await
        .unwrap();
    assert_eq!(fake.comment_bodies(7).len(), 3);
    fake.assert_no_violations();
}

#[tokio::test]
async fn sticky_comment_is_found_beyond_the_first_page() {
    let Some(fake) = fake() else { return };
    let github = client(&fake);
    let sticky = StickyComment::new(9, "CI");
    github
        .upsert_sticky_section(3, &sticky, "deploy", "first")
        .await
        .unwrap();
    for i in 0..130 {
        fake.seed_comment(3, &format!("chatter {i}"));
    }
    github
        .upsert_sticky_section(3, &sticky, "deploy", "second")
        .await
        .unwrap();
    let bodies = fake.comment_bodies(3);
    assert_eq!(bodies.len(), 131);
    assert_eq!(section_content(&bodies[0], "deploy"), Some("second"));
    let pages: Vec<String> = fake
        .requests_for("issues/list-comments")
        .iter()
        .filter_map(|r| {
            r.query
                .iter()
                .find(|(k, _)| k == "page")
                .map(|(_, v)| v.clone())
        })
        .collect();
    // First write: look, create, look again (a racing job); second write: two pages, then
    // two more to check no racing job overwrote the section.
    assert_eq!(pages, vec!["1", "1", "1", "2", "1", "2"]);
    fake.assert_no_violations();
}

/// Jobs of one run writing their sections at the same instant: each reads the comment, then
/// patches it with only its own section changed, so one write can drop the other's section.
/// Re-checking after writing puts it back: every section survives.
#[tokio::test]
async fn sections_written_at_the_same_instant_all_survive() {
    let Some(fake) = fake() else { return };
    let github = client(&fake);
    let sticky = StickyComment::new(77, "CI");
    github
        .upsert_sticky_section(9, &sticky, "deploy/staging", "deploying")
        .await
        .unwrap();
    let jobs = ["security-scan", "canary", "deploy/production", "release"].map(|section| {
        let github = github.clone();
        let sticky = sticky.clone();
        tokio::spawn(async move {
            github
                .upsert_sticky_section(9, &sticky, section, &format!("{section} done"))
                .await
                .unwrap();
        })
    });
    for job in jobs {
        job.await.unwrap();
    }
    let bodies = fake.comment_bodies(9);
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    for section in ["security-scan", "canary", "deploy/production", "release"] {
        assert_eq!(
            section_content(&bodies[0], section),
            Some(format!("{section} done").as_str()),
            "{}",
            bodies[0]
        );
    }
    assert_eq!(
        section_content(&bodies[0], "deploy/staging"),
        Some("deploying")
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn racing_sticky_comments_are_folded_into_the_oldest() {
    let Some(fake) = fake() else { return };
    let sticky = StickyComment::new(31, "CI");
    // Two jobs of the run each created the comment.
    let first = fake.seed_comment(
        8,
        &merge_section(None, &sticky, "deploy/staging", "deployed"),
    );
    let second = fake.seed_comment(
        8,
        &merge_section(None, &sticky, "security-scan", "2 findings"),
    );
    let kept = client(&fake)
        .upsert_sticky_section(8, &sticky, "canary", "step 2/4")
        .await
        .unwrap();
    assert_eq!(kept.id, first);
    let bodies = fake.comment_bodies(8);
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let ids: Vec<String> = sections(&bodies[0]).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, vec!["deploy/staging", "security-scan", "canary"]);
    let deleted = fake.requests_for("issues/delete-comment");
    assert_eq!(
        deleted[0].path,
        format!("/repos/acme/shop/issues/comments/{second}")
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_merged_branch_answer_is_an_error_not_a_deployment() {
    let Some(fake) = fake() else { return };
    let merged = Fault::status(202, "Auto-merged master into topic-branch on deployment.");
    fake.inject(merged.on("repos/create-deployment"));
    let new = NewDeployment::new("topic-branch", "staging", json!({}));
    let error = client(&fake).create_deployment(&new).await.unwrap_err();
    assert_eq!(error.status(), Some(202));
    assert!(error.to_string().contains("merged"), "{error}");
    fake.assert_no_violations();
}

#[tokio::test]
async fn an_exhausted_primary_rate_limit_waits_for_the_reset() {
    let Some(fake) = fake() else { return };
    let mut limited = Fault::status(403, "API rate limit exceeded for installation ID 1.");
    limited.headers = vec![
        ("x-ratelimit-remaining".into(), "0".into()),
        (
            "x-ratelimit-reset".into(),
            chrono::Utc::now().timestamp().to_string(),
        ),
    ];
    fake.inject(limited.on("checks/create"));
    let github = client(&fake).with_retry(RetryPolicy {
        attempts: 2,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_secs(2),
    });
    let started = std::time::Instant::now();
    github
        .create_check_run(&NewCheckRun::started("deploy", SHA))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for the reset"
    );
    let statuses: Vec<u16> = fake
        .requests_for("checks/create")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![403, 201]);
    fake.assert_no_violations();
}

async fn deploy(
    github: &Client,
    environment: &str,
    version: &str,
    outcome: DeploymentState,
) -> u64 {
    let mut new = NewDeployment::new(
        SHA,
        environment,
        json!({"version": version, "image": format!("ccr/acme/shop:{version}")}),
    );
    new.description = Some(format!("Deploy {version}"));
    let deployment = github.create_deployment(&new).await.unwrap();
    let mut progress = NewDeploymentStatus::new(DeploymentState::InProgress);
    progress.log_url = Some("https://github.com/acme/shop/actions/runs/1".into());
    github
        .create_deployment_status(deployment.id, &progress)
        .await
        .unwrap();
    let mut done = NewDeploymentStatus::new(outcome);
    done.environment_url = Some(format!("https://{version}.shop.example.com"));
    done.log_url = progress.log_url.clone();
    done.description = Some(format!("{version} {outcome:?}"));
    let status = github
        .create_deployment_status(deployment.id, &done)
        .await
        .unwrap();
    assert_eq!(status.state, outcome);
    deployment.id
}

#[tokio::test]
async fn deployments_record_statuses_and_rollback_finds_the_last_verified() {
    let Some(fake) = fake() else { return };
    let github = client(&fake);
    let first = deploy(&github, "staging", "shop-001", DeploymentState::Success).await;
    let second = deploy(&github, "staging", "shop-002", DeploymentState::Success).await;
    let third = deploy(&github, "staging", "shop-003", DeploymentState::Failure).await;
    deploy(&github, "production", "shop-001", DeploymentState::Success).await;
    // The deploy action names environments `<env_id>/<service>` when none is given.
    deploy(
        &github,
        "env-1a2b/shop",
        "shop-009",
        DeploymentState::Success,
    )
    .await;
    let other = github
        .successful_deployments("env-1a2b/shop", 10)
        .await
        .unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].deployment.environment, "env-1a2b/shop");
    // GitHub's auto_inactive marks the replaced staging deployment inactive.
    assert_eq!(
        fake.deployment_states(first),
        vec!["in_progress", "success", "inactive"]
    );
    assert_eq!(
        fake.deployment_states(third),
        vec!["in_progress", "failure"]
    );
    let verified = github.successful_deployments("staging", 50).await.unwrap();
    let versions: Vec<&str> = verified
        .iter()
        .map(|v| v.deployment.payload["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, vec!["shop-002", "shop-001"]);
    assert_eq!(verified[0].deployment.id, second);
    assert_eq!(
        verified[0].status.environment_url.as_deref(),
        Some("https://shop-002.shop.example.com")
    );
    let created = fake.requests_for("repos/create-deployment");
    assert_eq!(
        created[0].body.as_ref().unwrap()["required_contexts"],
        json!([])
    );
    fake.assert_no_violations();
}

#[tokio::test]
async fn releases_are_created_found_and_updated() {
    let Some(fake) = fake() else { return };
    let github = client(&fake);
    let release = NewRelease {
        tag_name: "v1.3.0".into(),
        target_commitish: Some(SHA.into()),
        name: Some("v1.3.0".into()),
        body: Some("## Features\n- canary steps".into()),
        draft: true,
        make_latest: Some(deploy_tcb::github::MakeLatest::True),
        ..Default::default()
    };
    let created = github.create_release(&release).await.unwrap();
    assert!(created.draft);
    // GitHub's by-tag lookup does not see drafts; the client falls back to the list.
    let found = github.find_release_by_tag("v1.3.0").await.unwrap().unwrap();
    assert_eq!(found.id, created.id);
    let update = ReleaseUpdate {
        draft: Some(false),
        ..Default::default()
    };
    let published = github.update_release(created.id, &update).await.unwrap();
    assert!(!published.draft);
    assert_eq!(
        github
            .find_release_by_tag("v1.3.0")
            .await
            .unwrap()
            .unwrap()
            .id,
        created.id
    );
    assert!(
        github
            .find_release_by_tag("v9.9.9")
            .await
            .unwrap()
            .is_none()
    );
    let duplicate = github.create_release(&release).await.unwrap_err();
    assert_eq!(duplicate.status(), Some(422));
    assert!(duplicate.to_string().contains("already_exists"));
    fake.assert_no_violations();
}

#[tokio::test]
async fn annotated_tags_and_moving_major_tags() {
    let Some(fake) = fake() else { return };
    let github = client(&fake);
    let tagger = Tagger {
        name: "deploy-tcb".into(),
        email: "bot@example.com".into(),
        date: Some(chrono::Utc::now()),
    };
    let tag = github
        .create_annotated_tag("v1.3.0", "Release v1.3.0", SHA, Some(&tagger))
        .await
        .unwrap();
    assert_eq!(tag.name, "refs/tags/v1.3.0");
    assert_eq!(tag.object.kind, "tag");
    assert_eq!(
        fake.tag_object(&tag.object.sha).unwrap()["object"]["sha"],
        SHA
    );
    let v1 = RefName::Tag("v1".into());
    assert!(github.get_ref(&v1).await.unwrap().is_none());
    github.force_ref(&v1, SHA).await.unwrap();
    let next = "1111111111111111111111111111111111111111";
    let moved = github.force_ref(&v1, next).await.unwrap();
    assert_eq!(moved.object.sha, next);
    assert_eq!(fake.refs()["refs/tags/v1"].0, next);
    let patch = fake.requests_for("git/update-ref");
    assert_eq!(patch.len(), 1);
    assert_eq!(patch[0].path, "/repos/acme/shop/git/refs/tags/v1");
    assert_eq!(patch[0].body.as_ref().unwrap()["force"], true);
    fake.assert_no_violations();
}

#[tokio::test]
async fn sarif_uploads_are_gzipped_base64_and_pollable() {
    let Some(fake) = fake() else { return };
    let github = client(&fake);
    let sarif = json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "deploy-tcb"}}, "results": []}]});
    let upload = deploy_tcb::github::SarifUpload {
        commit_sha: SHA.into(),
        git_ref: "refs/pull/7/merge".into(),
        sarif: serde_json::to_vec(&sarif).unwrap(),
        checkout_uri: Some("file:///github/workspace/".into()),
        tool_name: Some("deploy-tcb".into()),
        started_at: Some(chrono::Utc::now()),
    };
    let receipt = github.upload_sarif(&upload).await.unwrap();
    assert_eq!(fake.sarif_uploads(), vec![sarif]);
    let status = github.sarif_status(&receipt.id).await.unwrap();
    assert_eq!(status.processing_status.as_deref(), Some("complete"));
    fake.assert_no_violations();
}

#[tokio::test]
async fn matching_refs_list_release_tags() {
    let Some(fake) = fake() else { return };
    fake.seed_ref("tags/v1.2.0", SHA);
    fake.seed_ref("tags/v1.3.0", SHA);
    fake.seed_ref("tags/v2.0.0", SHA);
    let refs = client(&fake)
        .list_matching_refs(&RefName::Tag("v1.".into()))
        .await
        .unwrap();
    let names: Vec<&str> = refs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["refs/tags/v1.2.0", "refs/tags/v1.3.0"]);
    fake.assert_no_violations();
}

#[tokio::test]
async fn pull_requests_for_a_commit_give_authors_and_links() {
    let Some(fake) = fake() else { return };
    fake.seed_pull_requests(SHA, &[(12, "feat: canary", "octocat")]);
    let prs = client(&fake).pull_requests_for_commit(SHA).await.unwrap();
    assert_eq!(prs.len(), 1);
    assert_eq!(prs[0].number, 12);
    assert_eq!(prs[0].user.as_ref().unwrap().login, "octocat");
    assert_eq!(prs[0].html_url, "https://github.com/acme/shop/pull/12");
    fake.assert_no_violations();
}

#[tokio::test]
async fn ghes_base_url_with_api_prefix_works() {
    let Some(path) = shared_or_skip(SPEC) else {
        return;
    };
    let fake = FakeGithub::start_with(&path, "/api/v3");
    assert!(fake.url().ends_with("/api/v3"));
    let github = client(&fake);
    github
        .create_check_run(&NewCheckRun::started("deploy", SHA))
        .await
        .unwrap();
    assert_eq!(fake.requests()[0].path, "/repos/acme/shop/check-runs");
    fake.assert_no_violations();
}

#[tokio::test]
async fn server_errors_and_secondary_rate_limits_are_retried() {
    let Some(fake) = fake() else { return };
    let github = client(&fake);
    fake.inject(Fault::status(502, "Server Error").on("checks/create"));
    fake.inject(Fault::secondary_rate_limit(0).on("checks/create"));
    let created = github
        .create_check_run(&NewCheckRun::started("deploy", SHA))
        .await
        .unwrap();
    let statuses: Vec<u16> = fake
        .requests_for("checks/create")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![502, 403, 201]);
    assert!(created.id > 0);
    for _ in 0..3 {
        fake.inject(Fault::status(503, "Service Unavailable").on("repos/create-commit-status"));
    }
    let status = NewCommitStatus {
        state: CommitState::Pending,
        context: "c".into(),
        description: None,
        target_url: None,
    };
    let error = github.create_commit_status(SHA, &status).await.unwrap_err();
    assert_eq!(error.status(), Some(503));
    assert_eq!(fake.requests_for("repos/create-commit-status").len(), 3);
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_rate_limit_that_outlasts_the_retries_is_typed() {
    let Some(fake) = fake() else { return };
    for _ in 0..3 {
        fake.inject(Fault::secondary_rate_limit(0).on("checks/create"));
    }
    let error = client(&fake)
        .create_check_run(&NewCheckRun::started("deploy", SHA))
        .await
        .unwrap_err();
    assert!(
        matches!(error, GithubError::RateLimited { attempts: 3, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn a_bad_token_fails_without_leaking_it() {
    let Some(fake) = fake() else { return };
    let token = "ghp_wrongTokenThatMustNeverBePrinted";
    let github = Client::new(
        fake.url(),
        Secret::new(token),
        Repo::parse("acme/shop").unwrap(),
    )
    .unwrap();
    let error = github
        .create_check_run(&NewCheckRun::started("deploy", SHA))
        .await
        .unwrap_err();
    let text = format!("{error} {error:?} {github:?}");
    assert_eq!(error.status(), Some(401));
    assert!(text.contains("github_token"), "{text}");
    assert!(!text.contains(token), "{text}");
    let failure: deploy_tcb::error::Error = error.into();
    assert!(!failure.message().contains(token));
    // Only the Authorization header carries the token.
    let sent = fake.requests();
    assert_eq!(
        sent[0].authorization.as_deref(),
        Some(format!("Bearer {token}").as_str())
    );
    assert!(!sent[0].body.as_ref().unwrap().to_string().contains(token));
}

/// The fake really checks requests against the description: bad ones become violations.
#[tokio::test]
async fn the_fake_rejects_requests_the_description_does_not_allow() {
    let Some(fake) = fake() else { return };
    let http = reqwest::Client::new();
    let send = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = http
            .request(method, format!("{}{path}", fake.url()))
            .bearer_auth(TOKEN)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .header("user-agent", "test");
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    // `error` is not an annotation level; `head_sha` is required.
    let bad = json!({"name": "x", "output": {"title": "t", "summary": "s", "annotations": [
        {"path": "a", "start_line": 1, "end_line": 1, "annotation_level": "error", "message": "m"}]}});
    assert_eq!(
        send(
            reqwest::Method::POST,
            "/repos/acme/shop/check-runs",
            Some(bad)
        )
        .await
        .unwrap()
        .status(),
        422
    );
    // octocrab's comment update sends POST where the description says PATCH.
    send(
        reqwest::Method::POST,
        "/repos/acme/shop/issues/comments/1",
        Some(json!({"body": "b"})),
    )
    .await
    .unwrap();
    send(
        reqwest::Method::GET,
        "/repos/acme/shop/deployments?colour=red",
        None,
    )
    .await
    .unwrap();
    send(
        reqwest::Method::GET,
        "/repos/acme/shop/check-runs/not-a-number",
        None,
    )
    .await
    .unwrap();
    let violations = fake.violations().join("\n");
    assert!(violations.contains("annotation_level"), "{violations}");
    assert!(violations.contains("head_sha"), "{violations}");
    assert!(violations.contains("not with POST"), "{violations}");
    assert!(
        violations.contains("unknown query parameter `colour`"),
        "{violations}"
    );
    assert!(violations.contains("check_run_id"), "{violations}");
}

// ---------------------------------------------------------------------------------------------
// Chat notifications.
// ---------------------------------------------------------------------------------------------

fn vectors() -> Option<Value> {
    let path = shared_or_skip("vectors/notify.json")?;
    Some(serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
}

fn notification() -> Notification {
    Notification {
        title: "Deploy shop-api".into(),
        status: Status::Succeeded,
        environment: Some("production".into()),
        version: Some("shop-api-042".into()),
        url: Some("https://shop.example.com".into()),
        details: vec![(
            "Image".into(),
            "ccr.ccs.tencentyun.com/acme/shop:1.4.2".into(),
        )],
    }
}

#[tokio::test]
async fn every_channel_receives_its_format_signed_like_the_vectors() {
    let Some(vectors) = vectors() else { return };
    let ding = &vectors["dingtalk"][0];
    let feishu = &vectors["feishu"][0];
    let sink = WebhookSink::start();
    sink.answer("/slack", 200, "ok");
    sink.answer("/feishu", 200, r#"{"code":0,"msg":"success","data":{}}"#);
    let url = |path: &str| Secret::new(format!("{}{path}", sink.base_url));
    let channels = vec![
        Channel::WeCom {
            webhook: url("/wecom/send?key=wecom-key-123"),
        },
        Channel::DingTalk {
            webhook: url("/dingtalk/robot/send?access_token=ding-token-123"),
            secret: Some(Secret::new(ding["secret"].as_str().unwrap())),
        },
        Channel::Feishu {
            webhook: url("/feishu/open-apis/bot/v2/hook/feishu-hook-123"),
            secret: Some(Secret::new(feishu["secret"].as_str().unwrap())),
        },
        Channel::Slack {
            webhook: url("/slack/services/T0/B0/slack-123"),
        },
    ];
    let timestamp_ms = ding["timestamp_ms"].as_i64().unwrap();
    assert_eq!(timestamp_ms / 1000, feishu["timestamp_s"].as_i64().unwrap());
    let notifier = Notifier::new(channels).with_clock(move || timestamp_ms);
    let failures = notifier.send(&notification()).await;
    assert!(failures.is_empty(), "{failures:?}");
    let deliveries = sink.deliveries();
    let by = |prefix: &str| {
        deliveries
            .iter()
            .find(|d| d.path_and_query.starts_with(prefix))
            .unwrap()
            .clone()
    };
    let dingtalk = by("/dingtalk");
    let expected_query = format!(
        "&timestamp={timestamp_ms}&sign={}",
        ding["sign_query_value"].as_str().unwrap()
    );
    assert!(
        dingtalk.path_and_query.ends_with(&expected_query),
        "{}",
        dingtalk.path_and_query
    );
    assert_eq!(dingtalk.body["msgtype"], "markdown");
    let feishu_body = by("/feishu").body;
    assert_eq!(feishu_body["sign"], feishu["sign"]);
    assert_eq!(
        feishu_body["timestamp"],
        feishu["timestamp_s"].as_i64().unwrap().to_string()
    );
    assert_eq!(feishu_body["card"]["header"]["template"], "green");
    let wecom = by("/wecom").body;
    assert!(
        wecom["markdown"]["content"]
            .as_str()
            .unwrap()
            .contains("shop-api-042")
    );
    let slack = by("/slack").body;
    assert_eq!(slack["text"], "✅ Deploy shop-api succeeded");
    assert!(slack["blocks"].as_array().unwrap().len() >= 2);
    assert!(deliveries.iter().all(|d| {
        d.content_type
            .as_deref()
            .unwrap()
            .starts_with("application/json")
    }));
}

#[tokio::test]
async fn a_failing_webhook_is_a_warning_that_hides_the_url() {
    let sink = WebhookSink::start();
    sink.answer(
        "/dingtalk",
        200,
        r#"{"errcode":310000,"errmsg":"sign not match"}"#,
    );
    sink.answer("/slack", 404, "channel_not_found");
    let ding_url = format!(
        "{}/dingtalk/robot/send?access_token=secret-ding-token-987",
        sink.base_url
    );
    let slack_url = format!("{}/slack/services/T/B/secret-slack-path-987", sink.base_url);
    let notifier = Notifier::new(vec![
        Channel::DingTalk {
            webhook: Secret::new(&ding_url),
            secret: Some(Secret::new("SECsigning-secret-987")),
        },
        Channel::Slack {
            webhook: Secret::new(&slack_url),
        },
        Channel::WeCom {
            webhook: Secret::new("http://127.0.0.1:9/unreachable?key=secret-wecom-987"),
        },
    ]);
    let failures = notifier.send(&notification()).await;
    assert_eq!(failures.len(), 3, "{failures:?}");
    let text = format!(
        "{failures:?} {}",
        failures.iter().map(|f| f.to_string()).collect::<String>()
    );
    assert!(
        text.contains("310000") && text.contains("channel_not_found"),
        "{text}"
    );
    for secret in [
        "secret-ding-token-987",
        "secret-slack-path-987",
        "secret-wecom-987",
        "SECsigning-secret-987",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert_eq!(notifier.send_and_warn(&notification()).await, 0);
}

#[tokio::test]
async fn a_rate_limited_webhook_is_retried_once() {
    let sink = WebhookSink::start();
    sink.answer("/slack", 200, "ok");
    sink.answer_once("/slack", 429, "rate_limited");
    sink.answer("/wecom", 503, "busy");
    let notifier = Notifier::new(vec![
        Channel::Slack {
            webhook: Secret::new(format!("{}/slack/services/T/B/x-987", sink.base_url)),
        },
        Channel::WeCom {
            webhook: Secret::new(format!("{}/wecom/send?key=k-987", sink.base_url)),
        },
    ])
    .with_retry_delay(Duration::from_millis(5));
    let failures = notifier.send(&notification()).await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].channel, "WeCom");
    let count = |prefix: &str| {
        sink.deliveries()
            .iter()
            .filter(|d| d.path_and_query.starts_with(prefix))
            .count()
    };
    assert_eq!((count("/slack"), count("/wecom")), (2, 2));
}

// ---------------------------------------------------------------------------------------------
// Against the full description from npm @octokit/openapi 23.0.2 (scripts/ci.d/github.sh).
// ---------------------------------------------------------------------------------------------

/// `generated/<file>` of the installed @octokit/openapi package, or `None` (skip) outside CI.
fn octokit_description(file: &str) -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("OCTOKIT_OPENAPI_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/octokit-openapi/node_modules/@octokit/openapi")
        });
    let path = dir.join("generated").join(file);
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("DEPLOY_TCB_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
        panic!(
            "{} is missing: scripts/ci.d/github.sh installs it",
            path.display()
        );
    }
    eprintln!("skipped: needs npm @octokit/openapi 23.0.2 (scripts/ci.d/github.sh installs it)");
    None
}

#[test]
fn the_subset_is_faithful_to_octokit_openapi_23_0_2() {
    let (Some(subset), Some(full)) = (
        shared_or_skip(SPEC),
        octokit_description("api.github.com.json"),
    ) else {
        return;
    };
    let read = |p: &std::path::Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let (subset, full) = (read(&subset), read(&full));
    assert_eq!(full["info"]["version"], "23.0.2");
    assert_eq!(subset["info"]["version"], full["info"]["version"]);
    let mut compared = 0;
    for (template, item) in subset["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let official = &full["paths"][template][method];
            for key in ["parameters", "requestBody", "responses"] {
                assert_eq!(
                    op.get(key),
                    official.get(key),
                    "{method} {template}: `{key}` differs"
                );
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 45);
    // Every component the subset carries is the official one.
    for (kind, entries) in subset["components"].as_object().unwrap() {
        for (name, value) in entries.as_object().unwrap() {
            assert_eq!(
                value, &full["components"][kind][name],
                "components/{kind}/{name} differs"
            );
        }
    }
}

/// Every operation the client has, once.
async fn every_operation(github: &Client, fake: &FakeGithub) {
    let mut run = NewCheckRun::started("deploy-tcb / deploy", SHA);
    run.details_url = Some("https://ghe.example.com/acme/shop/actions/runs/1".into());
    let created = github.create_check_run(&run).await.unwrap();
    let output = CheckOutput {
        title: "t".into(),
        summary: "s".into(),
        text: None,
        annotations: annotations(60),
    };
    github
        .update_check_run(
            created.id,
            &CheckRunUpdate::completed(Conclusion::Success, output),
        )
        .await
        .unwrap();
    let status = NewCommitStatus {
        state: CommitState::Success,
        context: "deploy-tcb".into(),
        description: Some("ok".into()),
        target_url: None,
    };
    github.create_commit_status(SHA, &status).await.unwrap();
    let sticky = StickyComment::new(1, "CI");
    github
        .upsert_sticky_section(5, &sticky, "deploy", "one")
        .await
        .unwrap();
    github
        .upsert_sticky_section(5, &sticky, "deploy", "two")
        .await
        .unwrap();
    deploy(github, "staging", "shop-001", DeploymentState::Success).await;
    github.successful_deployments("staging", 10).await.unwrap();
    let release = NewRelease {
        tag_name: "v1.0.0".into(),
        body: Some("notes".into()),
        ..Default::default()
    };
    let created = github.create_release(&release).await.unwrap();
    github.find_release_by_tag("v1.0.0").await.unwrap();
    github
        .update_release(
            created.id,
            &ReleaseUpdate {
                name: Some("v1.0.0".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let tagger = Tagger {
        name: "bot".into(),
        email: "bot@example.com".into(),
        date: None,
    };
    github
        .create_annotated_tag("v1.0.0", "v1.0.0", SHA, Some(&tagger))
        .await
        .unwrap();
    github
        .force_ref(&RefName::Tag("v1".into()), SHA)
        .await
        .unwrap();
    github
        .list_matching_refs(&RefName::Tag("v1".into()))
        .await
        .unwrap();
    fake.seed_pull_requests(SHA, &[(1, "feat: x", "octocat")]);
    github.pull_requests_for_commit(SHA).await.unwrap();
    let upload = deploy_tcb::github::SarifUpload {
        commit_sha: SHA.into(),
        git_ref: "refs/heads/main".into(),
        sarif: br#"{"version":"2.1.0","runs":[]}"#.to_vec(),
        checkout_uri: None,
        tool_name: Some("deploy-tcb".into()),
        started_at: None,
    };
    let receipt = github.upload_sarif(&upload).await.unwrap();
    github.sarif_status(&receipt.id).await.unwrap();
}

#[tokio::test]
async fn every_request_is_valid_on_github_enterprise_server_3_17() {
    let (Some(subset), Some(ghes)) = (shared_or_skip(SPEC), octokit_description("ghes-3.17.json"))
    else {
        return;
    };
    let paths = crate::support::fake_github::Spec::path_templates(&subset);
    let spec = crate::support::fake_github::Spec::cached(&ghes, Some(&paths));
    let fake = FakeGithub::start_with_spec(spec, "/api/v3");
    let github = client(&fake);
    every_operation(&github, &fake).await;
    let operations: std::collections::BTreeSet<String> = fake
        .requests()
        .into_iter()
        .filter_map(|r| r.operation)
        .collect();
    assert_eq!(operations.len(), 20, "{operations:?}");
    fake.assert_no_violations();
}

#[tokio::test]
async fn every_operation_is_valid_on_the_subset() {
    let Some(fake) = fake() else { return };
    every_operation(&client(&fake), &fake).await;
    fake.assert_no_violations();
    // The token travels in the Authorization header and nowhere else.
    for request in fake.requests() {
        let visible = format!("{} {:?} {:?}", request.path, request.query, request.body);
        assert!(!visible.contains(TOKEN), "token in {visible}");
        assert_eq!(
            request.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
}
