//! The end-to-end demo against the embedded emulator: no network, no credentials.
//!
//! It starts the emulator in the process, deploys the example app (a synthetic healthy image)
//! as a new service, updates it with new settings, runs a gray release beside it and promotes
//! that canary, then releases a canary that fails a fifth of its requests and watches
//! canary-promote roll it back. The canaries are judged by HTTP probes of the service URL
//! through the emulator's gateway (no Prometheus). Each part prints its summary; under a
//! runner the job summary gets all of them, and the step outputs are those of the last deploy
//! (`version_name`, `url`, …) with `promoted` and `rolled_back` naming the two canaries' results.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::canary::cloud::Gray;
use crate::canary::decision::Budgets;
use crate::canary::flow as canary_flow;
use crate::canary::report::{CanaryReport, CanaryResult};
use crate::canary::request::CanaryRequest;
use crate::cli::{DemoArgs, OnConflict, OnFailure};
use crate::deploy::cloud::CloudRun;
use crate::deploy::flow;
use crate::deploy::report::{Outcome, Report};
use crate::deploy::request::{DeployRequest, DesiredConfig, Release};
use crate::emulator::{Emulator, EmulatorConfig};
use crate::error::{Error, Result};
use crate::runner::{Outputs, Secret, Summary};
use crate::tcb::{Client, Credentials, Endpoint};

const ENV_ID: &str = "demo-env";
const SERVICE: &str = "hello";
const SECRET_ID: &str = "AKIDDEMO00000000000000000000000000";

/// One deploy of the demo: what it shows, and the request.
struct Stage {
    title: &'static str,
    request: DeployRequest,
}

/// Runs `deploy-tcb demo`.
pub fn run(args: DemoArgs) -> Result<()> {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        return Err(Error::input(
            "speed",
            format!("{} is not a positive number", args.speed),
            "give a factor above 0, e.g. --speed 20",
        ));
    }
    // A fresh key for each run: the emulator only has to agree with itself.
    let secret_key = Secret::new(format!("demo-{}", uuid::Uuid::new_v4().simple()));
    let mut config = EmulatorConfig::local(SECRET_ID, secret_key.expose(), ENV_ID);
    config.speed = args.speed;
    let emulator = Emulator::start(config)?;
    println!(
        "deploy-tcb demo: emulator at {} (speed {}x)",
        emulator.base_url(),
        args.speed
    );
    let client = Client::new(Credentials::new(Secret::new(SECRET_ID), secret_key))
        .endpoint(Endpoint::parse(&emulator.base_url()).map_err(anyhow::Error::msg)?);
    let result = crate::app::block_on(run_stages(CloudRun { client }));
    emulator.shutdown()?;
    result
}

async fn run_stages(api: CloudRun) -> Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(anyhow::Error::from)?;
    let gray = Gray {
        client: api.client.clone(),
    };
    let mut summary = Summary::new();
    summary.heading(1, "deploy-tcb demo");
    summary.paragraph("Deploys and canaries against the embedded CloudBase Run emulator: a new service, an update, a gray release promoted by canary-promote, and a failing canary rolled back.");
    let [create, update, gray_healthy, gray_failing] = stages();
    for stage in [create, update, gray_healthy] {
        deploy_stage(&api, &http, stage, &mut summary).await?;
    }
    let promoted = canary_stage(
        &gray,
        &http,
        "4. Canary-promote the healthy gray version",
        &mut summary,
    )
    .await?;
    let last = deploy_stage(&api, &http, gray_failing, &mut summary).await?;
    let rolled_back = canary_stage(
        &gray,
        &http,
        "6. Canary-promote a version failing 20% of requests",
        &mut summary,
    )
    .await?;
    summary.write()?;
    let mut outputs = Outputs::new();
    last.write_outputs(&mut outputs)?;
    outputs.set("promoted", promoted.result.as_str())?;
    outputs.set("rolled_back", rolled_back.result.as_str())?;
    outputs.print_if_no_runner();
    let expected = [
        (&promoted, CanaryResult::Promoted),
        (&rolled_back, CanaryResult::RolledBack),
    ];
    match expected
        .iter()
        .find(|(report, want)| report.result != *want)
    {
        Some((report, want)) => Err(Error::Verdict(format!(
            "demo canary of {} ended {}, not {}",
            report.canary,
            report.result.as_str(),
            want.as_str()
        ))),
        None => Ok(()),
    }
}

/// One deploy of the demo; a failed one ends the demo (with the summary written).
async fn deploy_stage(
    api: &CloudRun,
    http: &reqwest::Client,
    stage: Stage,
    summary: &mut Summary,
) -> Result<Report> {
    println!("\n== {}", stage.title);
    let report = flow::deploy(api, &stage.request, http).await?;
    print_report(&report);
    summary.heading(2, stage.title);
    append(summary, &report.summary());
    if report.outcome == Outcome::Failed {
        summary.write()?;
        return Err(Error::Verdict(format!(
            "demo stage `{}` failed",
            stage.title
        )));
    }
    Ok(report)
}

/// canary-promote of the open gray release: 50% for one probed interval, then 100%.
async fn canary_stage(
    gray: &Gray,
    http: &reqwest::Client,
    title: &str,
    summary: &mut Summary,
) -> Result<CanaryReport> {
    println!("\n== {title}");
    let request = canary_request();
    let target = canary_flow::find_target(gray, &request).await?;
    let tools = canary_flow::Tools {
        gray,
        http,
        prometheus: None,
    };
    let report = canary_flow::run(&tools, &request, &target).await?;
    println!("{}", report.headline());
    println!(
        "result: {}  canary traffic: {}%",
        report.result.as_str(),
        report.final_traffic
    );
    summary.heading(2, title);
    append(summary, &report.summary());
    Ok(report)
}

/// Probes only: 40 GETs in 2 s at 50%; one failure in 40 is over the 2% limit, so a canary
/// failing 20% of its half of the requests (about four failures) is rolled back.
fn canary_request() -> CanaryRequest {
    CanaryRequest {
        env_id: ENV_ID.into(),
        service: SERVICE.into(),
        version: None,
        steps: vec![50, 100],
        interval: Duration::from_secs(2),
        probe_path: "/".into(),
        prometheus_url: None,
        max_error_rate: 0.02,
        compare_stable: false,
        checks: Vec::new(),
        budgets: Budgets {
            failures: 0,
            inconclusive: 0,
            min_requests: 40,
        },
        timeout: Duration::from_secs(60),
        on_failure: OnFailure::Rollback,
        dry_run: false,
        region: "ap-shanghai".into(),
    }
}

fn stages() -> [Stage; 4] {
    let base = |image: &str, release: Release, config: DesiredConfig| DeployRequest {
        env_id: ENV_ID.into(),
        service: SERVICE.into(),
        image: image.into(),
        region: "ap-shanghai".into(),
        release,
        config,
        health_path: "/".into(),
        health_timeout: Duration::from_secs(30),
        wait_timeout: Duration::from_secs(300),
        on_conflict: OnConflict::Wait,
        dry_run: false,
        environment: Some("demo".into()),
    };
    let first = DesiredConfig {
        cpu: Some(0.5),
        mem: Some(1.0),
        port: Some(8080),
        access_types: Some(vec!["PUBLIC".into()]),
        env_vars: Some(BTreeMap::from([("GREETING".into(), "hello".into())])),
        ..DesiredConfig::default()
    };
    let update = DesiredConfig {
        cpu: Some(1.0),
        mem: Some(2.0),
        max_instances: Some(3),
        env_vars: Some(BTreeMap::from([
            ("GREETING".into(), "hello again".into()),
            ("API_TOKEN".into(), "demo-token-not-a-secret".into()),
        ])),
        secret_names: BTreeSet::from(["API_TOKEN".to_string()]),
        ..DesiredConfig::default()
    };
    [
        Stage {
            title: "1. Create the service",
            request: base(
                "registry.local/demo/synthetic:healthy",
                Release::Full,
                first,
            ),
        },
        Stage {
            title: "2. Update it (new image and settings)",
            request: base(
                "registry.local/demo2/synthetic:healthy",
                Release::Full,
                update,
            ),
        },
        Stage {
            title: "3. Gray release beside it (10%)",
            request: base(
                "registry.local/demo3/synthetic:healthy",
                Release::Gray { traffic: 10 },
                DesiredConfig::default(),
            ),
        },
        Stage {
            title: "5. Gray release of a version failing 20% of requests",
            request: base(
                "registry.local/demo4/synthetic:errors-20",
                Release::Gray { traffic: 10 },
                DesiredConfig::default(),
            ),
        },
    ]
}

fn print_report(report: &Report) {
    print!("{}", report.plan.render_diff());
    println!(
        "result: {}  version: {}  previous: {}",
        report.outcome.as_str(),
        report.version_name.as_deref().unwrap_or("-"),
        report.previous_version.as_deref().unwrap_or("-"),
    );
    if let Some(url) = &report.url {
        println!("url: {url}");
    }
    if let Some(health) = &report.health {
        println!("health: {health}");
    }
    for (step, took) in &report.timings {
        println!("  {step}: {:.2} s", took.as_secs_f64());
    }
}

/// Appends one summary's markdown under the demo's heading.
fn append(summary: &mut Summary, part: &Summary) {
    let markdown = part.as_markdown().replacen("## ", "### ", 1);
    summary.paragraph(markdown.trim_end());
}
