//! Building and pushing the application image through the Docker Engine API.
//!
//! `plan` validates the inputs and computes tags and labels (pure); `context` walks the
//! workspace with `.dockerignore` and streams it as a tar; `engine` talks to Docker or podman;
//! `build` runs the build, push and report.

pub mod build;
pub mod context;
pub mod dockerfile;
pub mod engine;
pub mod github;
pub mod ignore;
pub mod metadata;
pub mod plan;
pub mod report;
pub mod tcr;

use crate::cli::BuildImageArgs;
use crate::error::Result;

/// Runs `deploy-tcb build-image`.
pub fn run(args: BuildImageArgs) -> Result<()> {
    let git = metadata::GitContext::from_env();
    let created = created_timestamp(std::env::var("SOURCE_DATE_EPOCH").ok().as_deref())?;
    let plan = plan::plan(&args, &git, &created)?;
    let github = crate::github::connect(&args.github);
    crate::app::block_on(async {
        let outcome = build::execute(&plan).await;
        if let Some((client, context)) = &github {
            github::report(client, context, &plan, &outcome).await;
        }
        outcome.map(|_| ()).map_err(|failed| failed.error)
    })
}

/// `org.opencontainers.image.created`: now, or `SOURCE_DATE_EPOCH` for reproducible builds.
fn created_timestamp(source_date_epoch: Option<&str>) -> Result<String> {
    let at = match source_date_epoch.map(str::trim).filter(|s| !s.is_empty()) {
        None => chrono::Utc::now(),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
            .ok_or_else(|| {
                crate::error::Error::config(
                    format!("SOURCE_DATE_EPOCH `{text}` is not a Unix timestamp"),
                    "set SOURCE_DATE_EPOCH to whole seconds since 1970, e.g. $(git log -1 --format=%ct)",
                )
            })?,
    };
    Ok(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    #[test]
    fn created_honours_source_date_epoch() {
        assert_eq!(
            super::created_timestamp(Some("1700000000")).unwrap(),
            "2023-11-14T22:13:20Z"
        );
        assert!(super::created_timestamp(Some("yesterday")).is_err());
        assert!(super::created_timestamp(None).unwrap().ends_with('Z'));
    }
}
