//! Reporting a build to GitHub when a token is given: a completed check run
//! `deploy-tcb build-image (<image>)` whose summary is the job summary, or the error with, when
//! a step failed, an annotation on its Dockerfile line; and this action's section of the run's
//! sticky PR comment. Best effort: a failed report is a warning, never the verdict.

use super::build::Failed;
use super::plan::BuildPlan;
use super::report::{self, Built, human_size, image_output};
use crate::github::{
    AnnotationLevel, CheckAnnotation, CheckOutput, Client, Conclusion, NewCheckRun, RunContext,
    section_id_for,
};

/// The check run for the build's outcome.
pub fn check_run(plan: &BuildPlan, outcome: &Result<Built, Failed>, sha: &str) -> NewCheckRun {
    let name = format!("deploy-tcb build-image ({})", plan.image);
    let (conclusion, output) = match outcome {
        Ok(built) => (Conclusion::Success, built_output(plan, built)),
        Err(failed) => (Conclusion::Failure, failed_output(failed)),
    };
    NewCheckRun::completed(&name, sha, conclusion, output)
}

fn built_output(plan: &BuildPlan, built: &Built) -> CheckOutput {
    let verb = if built.digest.is_some() {
        "Built and pushed"
    } else {
        "Built"
    };
    let title = format!(
        "{verb} {} ({})",
        image_output(plan, built),
        human_size(built.size)
    );
    let summary = report::summary(plan, built);
    CheckOutput::within_limits(&title, summary.as_markdown(), Vec::new())
}

fn failed_output(failed: &Failed) -> CheckOutput {
    let message = failed.error.message();
    let mut summary = format!("### Image build failed\n\n{message}\n");
    if let Some(fix) = failed.error.fix() {
        summary.push_str(&format!("\nFix: {fix}\n"));
    }
    let annotations = failed
        .at
        .iter()
        .map(|(path, line)| {
            let path = path.trim_start_matches("./");
            let line = u32::try_from(*line).unwrap_or(u32::MAX);
            let mut a = CheckAnnotation::new(path, line, AnnotationLevel::Failure, &message);
            a.title = Some("Image build failed".into());
            a
        })
        .collect();
    CheckOutput::within_limits(&message, &summary, annotations)
}

/// This action's section of the sticky PR comment: what was built, or why not.
pub fn comment_section(plan: &BuildPlan, outcome: &Result<Built, Failed>) -> String {
    match outcome {
        Ok(built) => {
            let pushed = if built.digest.is_some() {
                "built and pushed"
            } else {
                "built (not pushed)"
            };
            let tags: Vec<String> = plan.references().iter().map(|r| format!("`{r}`")).collect();
            format!(
                "### Image `{}`\n\n✅ {pushed}: `{}`, {}.\n\nTags: {}\n",
                plan.image,
                image_output(plan, built),
                human_size(built.size),
                tags.join(", ")
            )
        }
        Err(failed) => format!(
            "### Image `{}`\n\n❌ {}\n",
            plan.image,
            failed.error.message()
        ),
    }
}

/// Sends the check run and the comment section.
pub async fn report(
    client: &Client,
    context: &RunContext,
    plan: &BuildPlan,
    outcome: &Result<Built, Failed>,
) {
    match context.head_sha() {
        Some(sha) => {
            if let Err(error) = client
                .create_check_run(&check_run(plan, outcome, sha))
                .await
            {
                error.warn("creating the build-image check run");
            }
        }
        None => tracing::warn!("GITHUB_SHA is not set: no check run for the build"),
    }
    if let Some((number, sticky)) = context.sticky_comment() {
        let section = format!("build-image/{}", section_id_for(&plan.image));
        if let Err(error) = client
            .upsert_sticky_section(number, &sticky, &section, &comment_section(plan, outcome))
            .await
        {
            error.warn("writing the PR comment");
        }
    }
}
