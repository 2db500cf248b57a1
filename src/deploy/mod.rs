//! Deploying an image to CloudBase Run: resolve and validate the request, plan against the
//! current service, apply, wait for the release task, verify, report.
//!
//! The decisions are pure (`request`, `plan`, `progress`, `report`); `flow` orders the calls
//! through the [`flow::CloudRunApi`] trait, which `cloud` implements over the tcbr client.

pub mod cloud;
pub mod convert;
pub mod flow;
pub mod keyless;
pub mod plan;
pub mod progress;
pub mod report;
pub mod reporting;
pub mod request;
pub mod verify;

use std::time::Duration;

use crate::cli::DeployArgs;
use crate::error::{Error, Result};
use crate::runner::command::group;
use crate::runner::{Outputs, Summary};
use report::{Outcome, Report};
use request::DeployRequest;

/// Runs `deploy-tcb deploy`.
pub fn run(args: DeployArgs) -> Result<()> {
    let request = DeployRequest::from_args(&args)?;
    let client = cloud::client(&args.cloud, &request.region)?;
    crate::app::block_on(execute(&args, &request, cloud::CloudRun { client }))
}

/// Deploys with an already built client, reports, and turns a failed release into exit 1.
pub async fn execute(
    args: &DeployArgs,
    request: &DeployRequest,
    api: cloud::CloudRun,
) -> Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(anyhow::Error::from)?;
    let github = reporting::GithubReport::start(&args.github, request).await;
    let report = {
        let _group = group(&format!(
            "Deploy {} to {}/{}",
            request.image, request.env_id, request.service
        ));
        match &github {
            Some(github) => flow::deploy_watched(&api, request, &http, github).await,
            None => flow::deploy(&api, request, &http).await,
        }
    };
    let report = match report {
        Ok(report) => report,
        Err(error) => {
            if let Some(github) = &github {
                github.abort(request, &error.message()).await;
            }
            return Err(error);
        }
    };
    publish(&report)?;
    if let Some(github) = &github {
        github.finish(&report).await;
    }
    reporting::notify(&args.notify, &report).await?;
    match report.outcome {
        Outcome::Failed => Err(Error::Verdict(reporting::status_description(&report))),
        _ => Ok(()),
    }
}

/// Outputs, the job summary, and a closing line for the log.
pub fn publish(report: &Report) -> Result<()> {
    let mut outputs = Outputs::new();
    report.write_outputs(&mut outputs)?;
    let summary: Summary = report.summary();
    summary.write()?;
    outputs.print_if_no_runner();
    tracing::info!("{}", reporting::status_description(report));
    if let Some(failure) = &report.failure
        && !failure.log_tail.is_empty()
    {
        let _group = group("Process log (last lines)");
        for line in &failure.log_tail {
            tracing::info!("{line}");
        }
    }
    Ok(())
}
