//! `deploy-tcb security-scan`: aggregate every scanner's report into one deduplicated, gated
//! verdict and one valid SARIF.
//!
//! parse (per format, streaming) → normalise (one [`model::Finding`]) → dedupe (within and
//! across tools) → baseline → gate → render (SARIF, JSON, job summary, outputs). Everything
//! but reading and writing files is pure.

pub mod baseline;
pub mod dedupe;
pub mod detect;
pub mod discover;
pub mod family;
pub mod fingerprint;
pub mod model;
pub mod parse;
pub mod paths;
pub mod render;
pub mod report;
pub mod store;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::{ScannerErrors, SecurityScanArgs, Severity as FailOn};
use crate::error::{Error, Result};
use crate::runner::Outputs;
use crate::runner::command::annotate;
use model::{Interner, ScannerIssue, Severity};
use store::Findings;

/// Everything aggregated from the reports, before the gate.
#[derive(Debug, Default)]
pub struct Aggregate {
    pub findings: Findings,
    pub raw: usize,
    pub issues: Vec<ScannerIssue>,
    pub tools: Vec<String>,
    pub files: Vec<PathBuf>,
}

/// Reads, parses and deduplicates the reports `items` name (paths, globs, `tool:path`).
/// `exclude` are our own output files, which a broad glob must not read back in.
pub fn aggregate(items: &[String], root: &Path, exclude: &[PathBuf]) -> Result<Aggregate> {
    let paths = paths::RepoPaths::new(root);
    let mut interner = Interner::default();
    let mut deduper = dedupe::Deduper::new();
    let mut buffer = Vec::new();
    let mut aggregate = Aggregate::default();
    let excluded: Vec<PathBuf> = exclude
        .iter()
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    let mut seen = std::collections::HashSet::new();
    for item in items {
        let spec = discover::parse_spec(item).map_err(|problem| {
            Error::input(
                "reports",
                problem,
                "name a report file or glob, optionally as tool:path",
            )
        })?;
        let files = discover::expand(&spec.pattern).map_err(|problem| {
            Error::input("reports", problem, "fix the glob (e.g. reports/**/*.json)")
        })?;
        // Our own outputs are never inputs, and a file named twice is read once.
        let files: Vec<PathBuf> = files
            .into_iter()
            .filter(|f| match f.canonicalize() {
                Ok(c) => !excluded.contains(&c) && seen.insert(c),
                Err(_) => true,
            })
            .collect();
        if files.is_empty() {
            aggregate.issues.push(ScannerIssue {
                tool: spec.tool.clone().unwrap_or_else(|| "unknown".into()),
                file: spec.pattern.clone(),
                message: format!(
                    "`{}` matched no report file: did the scanner run?",
                    spec.pattern
                ),
            });
        }
        for file in files {
            if !file.is_file() {
                return Err(Error::input(
                    "reports",
                    format!("`{}` does not exist or is not a file", file.display()),
                    "run the scanner first, or fix the path",
                ));
            }
            let parsed = parse::parse_file_into(&file, spec.tool.as_deref(), &paths, &mut interner, Some(&mut deduper), &mut buffer).map_err(|e| {
                Error::input(
                    "reports",
                    e.to_string(),
                    "point reports at a scanner's own JSON, XML or SARIF output, or force the tool with tool:path",
                )
            })?;
            aggregate.issues.extend(parsed.issues);
            for tool in parsed.tools {
                if !aggregate.tools.contains(&tool) {
                    aggregate.tools.push(tool);
                }
            }
            aggregate.files.push(file);
        }
    }
    if aggregate.files.is_empty() {
        return Err(Error::input(
            "reports",
            format!("no report file matched {}", items.join(", ")),
            "run the scanners before this step and point reports at their output",
        ));
    }
    let deduped = deduper.finish();
    aggregate.raw = deduped.raw;
    aggregate.findings = deduped.findings;
    let mut sources = fingerprint::SourceHashes::new(root);
    aggregate.findings.assign_identities(&mut sources);
    Ok(aggregate)
}

fn policy(args: &SecurityScanArgs) -> gate::Policy {
    let fail_on = match args.fail_on {
        FailOn::None => None,
        FailOn::Low => Some(Severity::Low),
        FailOn::Medium => Some(Severity::Medium),
        FailOn::High => Some(Severity::High),
        FailOn::Critical => Some(Severity::Critical),
    };
    gate::Policy {
        fail_on,
        max_critical: args.max_critical,
        max_high: args.max_high,
        max_medium: args.max_medium,
        max_low: args.max_low,
        new_only: args.new_only,
        fail_on_scanner_errors: args.scanner_errors == ScannerErrors::Fail,
    }
}

pub mod gate;

fn load_baseline(args: &SecurityScanArgs) -> Result<Option<baseline::Baseline>> {
    let Some(path) = &args.baseline else {
        if args.new_only {
            return Err(Error::input(
                "new_only",
                "new_only needs a baseline to know which findings are not new",
                "set baseline to a file of accepted findings, or set new_only: false",
            ));
        }
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::input(
            "baseline",
            format!("cannot read `{}`: {e}", path.display()),
            "commit the baseline file or fix the path",
        )
    })?;
    baseline::Baseline::parse(&text)
        .map(Some)
        .map_err(|problem| {
            Error::input(
                "baseline",
                format!("`{}`: {problem}", path.display()),
                "fix the entry as described",
            )
        })
}

fn create(path: &Path, input: &str) -> Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::input(
                input,
                format!("cannot create `{}`: {e}", dir.display()),
                "choose a writable path",
            )
        })?;
    }
    std::fs::File::create(path).map_err(|e| {
        Error::input(
            input,
            format!("cannot write `{}`: {e}", path.display()),
            "choose a writable path",
        )
    })
}

/// Runs `deploy-tcb security-scan`.
pub fn run(args: SecurityScanArgs) -> Result<()> {
    if args.upload && args.github.github_token.is_none() {
        return Err(Error::input(
            "upload",
            "uploading to code scanning needs a token",
            "set github_token (with security-events: write), or upload: false",
        ));
    }
    let baseline = load_baseline(&args)?;
    let root = paths::RepoPaths::from_env();
    let mut exclude = vec![args.sarif_output.clone()];
    exclude.extend(args.json_output.clone());
    let mut aggregate = aggregate(args.reports.items(), Path::new(root.root()), &exclude)?;
    let applied = baseline
        .map(|b| baseline::apply(&b, &mut aggregate.findings, chrono::Utc::now().date_naive()));
    let verdict = gate::decide(&policy(&args), &aggregate.findings, &aggregate.issues);

    let sarif_file = create(&args.sarif_output, "sarif_output")?;
    let truncation = render::sarif::write(&aggregate.findings, sarif_file)
        .with_context(|| format!("writing {}", args.sarif_output.display()))?;
    let outcome = render::Outcome {
        findings: &aggregate.findings,
        raw: aggregate.raw,
        issues: &aggregate.issues,
        verdict: &verdict,
        baseline: applied.as_ref(),
        truncation: Some(&truncation),
    };
    if let Some(path) = &args.json_output {
        render::write_json(&outcome, create(path, "json_output")?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let github = crate::github::connect(&args.github);
    let changed = github
        .as_ref()
        .and_then(|(client, context)| crate::app::block_on(report::changed_lines(client, context)));
    let change = changed
        .as_ref()
        .map(|(lines, what)| report::Change { lines, what });
    announce(&outcome, &args, change.as_ref());
    render::summary(&outcome).write()?;
    set_outputs(&outcome, &args)?;
    if let Some(github) = &github {
        to_github(github, &outcome, &args, change.as_ref())?;
    }
    if verdict.passed {
        Ok(())
    } else {
        Err(Error::Verdict(verdict.reason.clone()))
    }
}

/// Reports to GitHub: check run, PR comment, and the SARIF upload when asked.
fn to_github(
    (client, context): &(crate::github::Client, crate::github::RunContext),
    outcome: &render::Outcome,
    args: &SecurityScanArgs,
    change: Option<&report::Change>,
) -> Result<()> {
    let sarif = if args.upload {
        Some(
            std::fs::read(&args.sarif_output)
                .with_context(|| format!("reading {}", args.sarif_output.display()))?,
        )
    } else {
        None
    };
    let threshold = threshold(args);
    crate::app::block_on(report::report(
        client, context, outcome, sarif, threshold, change,
    ));
    Ok(())
}

/// The severity from which findings are errors: `fail_on`, or critical without one.
fn threshold(args: &SecurityScanArgs) -> Severity {
    policy(args).fail_on.unwrap_or(Severity::Critical)
}

/// The log's annotations (see [`report::log_annotations`]) and the verdict.
fn announce(outcome: &render::Outcome, args: &SecurityScanArgs, change: Option<&report::Change>) {
    for a in report::log_annotations(outcome, threshold(args), change) {
        annotate(a.level, &a.at, &a.message);
    }
    println!("{}", outcome.verdict.reason);
}

fn set_outputs(outcome: &render::Outcome, args: &SecurityScanArgs) -> Result<()> {
    let mut outputs = Outputs::new();
    let verdict = if outcome.verdict.passed {
        "passed"
    } else {
        "failed"
    };
    outputs.set("verdict", verdict)?;
    outputs.set("reason", &outcome.verdict.reason)?;
    outputs.set("findings", outcome.findings.len().to_string())?;
    outputs.set("raw_findings", outcome.raw.to_string())?;
    outputs.set(
        "duplicates",
        (outcome.raw - outcome.findings.len()).to_string(),
    )?;
    for (severity, count) in render::by_severity(outcome.findings) {
        outputs.set(severity, count.to_string())?;
    }
    let mut failed: Vec<&str> = outcome.issues.iter().map(|i| i.tool.as_str()).collect();
    failed.dedup();
    outputs.set("failed_scanners", failed.join(","))?;
    outputs.set("sarif", args.sarif_output.display().to_string())?;
    if let Some(path) = &args.json_output {
        outputs.set("json", path.display().to_string())?;
    }
    outputs.print_if_no_runner();
    Ok(())
}
