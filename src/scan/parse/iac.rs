//! Infrastructure-as-code linters: hadolint JSON and checkov JSON (one framework: an object;
//! several: a list of objects; nothing scanned: a summary object).
//!
//! Hadolint severity: error → high, warning → medium, info → low, style → info.
//! Checkov severity: its `severity` word when present (only with a platform key); otherwise
//! medium, since checkov gives none (DefectDojo does the same).

use serde::Deserialize;

use super::lenient;
use super::{Ctx, Input, read_json};
use crate::scan::model::{Region, Severity};

#[derive(Deserialize, Default)]
#[serde(default)]
struct HadolintEntry {
    #[serde(deserialize_with = "lenient::number")]
    line: u64,
    #[serde(deserialize_with = "lenient::number")]
    column: u64,
    #[serde(deserialize_with = "lenient::text")]
    code: String,
    #[serde(deserialize_with = "lenient::text")]
    message: String,
    #[serde(deserialize_with = "lenient::text")]
    file: String,
    #[serde(deserialize_with = "lenient::text")]
    level: String,
}

pub fn hadolint(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let entries: Vec<HadolintEntry> = read_json(reader)?;
    for e in entries {
        let severity = match e.level.as_str() {
            "error" => Severity::High,
            "warning" => Severity::Medium,
            "info" => Severity::Low,
            _ => Severity::Info,
        };
        let mut f = ctx.finding("hadolint", &e.code, severity, &e.message);
        f.tool_severity = ctx.s(&e.level);
        f.path = ctx.path(&e.file);
        f.region = Region::span(e.line, e.column, 0, 0);
        let wiki = if e.code.starts_with("DL") {
            format!("https://github.com/hadolint/hadolint/wiki/{}", e.code)
        } else {
            format!("https://www.shellcheck.net/wiki/{}", e.code)
        };
        f.help_uri = Some(ctx.s(&wiki));
        ctx.push(f);
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CheckovReport {
    Many(Vec<CheckovFramework>),
    One(CheckovFramework),
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CheckovFramework {
    #[serde(deserialize_with = "lenient::text")]
    check_type: String,
    results: Option<CheckovResults>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CheckovResults {
    #[serde(deserialize_with = "lenient::seq")]
    failed_checks: Vec<CheckovCheck>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CheckovCheck {
    #[serde(deserialize_with = "lenient::text")]
    check_id: String,
    #[serde(deserialize_with = "lenient::text")]
    check_name: String,
    #[serde(deserialize_with = "lenient::text")]
    file_path: String,
    #[serde(deserialize_with = "lenient::seq")]
    file_line_range: Vec<u64>,
    #[serde(deserialize_with = "lenient::text")]
    resource: String,
    #[serde(deserialize_with = "lenient::text")]
    guideline: String,
    #[serde(deserialize_with = "lenient::text")]
    severity: String,
}

pub fn checkov(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let frameworks = match read_json::<CheckovReport>(reader)? {
        CheckovReport::Many(many) => many,
        CheckovReport::One(one) => vec![one],
    };
    for framework in frameworks {
        let checks = framework
            .results
            .map(|r| r.failed_checks)
            .unwrap_or_default();
        for c in checks {
            let severity = Severity::from_word(&c.severity).unwrap_or(Severity::Medium);
            let message = format!(
                "{} ({}: {})",
                c.check_name, framework.check_type, c.resource
            );
            let mut f = ctx.finding("checkov", &c.check_id, severity, &message);
            f.tool_severity = ctx.s(if c.severity.is_empty() {
                "none"
            } else {
                &c.severity
            });
            f.title = ctx.opt(Some(&c.check_name));
            f.help_uri = ctx.opt(Some(&c.guideline));
            // checkov writes paths relative to the scanned directory with a leading `/`.
            f.path = ctx.path(c.file_path.trim_start_matches('/'));
            let start = c.file_line_range.first().copied().unwrap_or(0);
            let end = c.file_line_range.get(1).copied().unwrap_or(0);
            f.region = Region::span(start, 0, end, 0);
            ctx.push(f);
        }
    }
    Ok(())
}
