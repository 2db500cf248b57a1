//! Secret scanners: gitleaks (v7 and v8 JSON), detect-secrets baselines, trufflehog (v2 and
//! v3 JSON lines) and trufflehog3 (legacy and current).
//!
//! Severity: a leaked credential is high; critical when the tool verified it is live
//! (trufflehog `Verified`, detect-secrets `is_verified`). trufflehog3's own rule severity is
//! used when present. The secret itself (gitleaks `Secret`/`Match`/`line`, trufflehog `Raw`,
//! trufflehog3 `secret`) is never copied into a finding.

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::lenient;
use super::{Ctx, Input, read_json};
use crate::scan::model::{Region, Severity};

/// Hashes what identifies a secret without keeping it.
fn secret_id(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..8])
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct GitleaksV7 {
    #[serde(deserialize_with = "lenient::number")]
    line_number: u64,
    #[serde(deserialize_with = "lenient::text")]
    offender: String,
    #[serde(deserialize_with = "lenient::text")]
    commit: String,
    #[serde(deserialize_with = "lenient::text")]
    rule: String,
    #[serde(deserialize_with = "lenient::text")]
    file: String,
}

pub fn gitleaks_v7(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let leaks: Vec<GitleaksV7> = read_json(reader)?;
    for leak in leaks {
        let message = format!("{} found in {}", leak.rule, leak.file);
        let mut f = ctx.finding("gitleaks", &leak.rule, Severity::High, &message);
        f.tool_severity = ctx.s("none");
        f.path = ctx.path(&leak.file);
        f.region = Region::line(leak.line_number);
        f.cwes = thin_vec::thin_vec![798];
        let id = secret_id(&[&leak.commit, &leak.file, &leak.rule, &leak.offender]);
        f.tool_fingerprint = Some(ctx.s(&id));
        ctx.push(f);
    }
    Ok(())
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct GitleaksV8 {
    #[serde(deserialize_with = "lenient::text")]
    description: String,
    #[serde(deserialize_with = "lenient::number")]
    start_line: u64,
    #[serde(deserialize_with = "lenient::number")]
    end_line: u64,
    #[serde(deserialize_with = "lenient::number")]
    start_column: u64,
    #[serde(deserialize_with = "lenient::number")]
    end_column: u64,
    #[serde(deserialize_with = "lenient::text")]
    file: String,
    #[serde(rename = "RuleID", deserialize_with = "lenient::text")]
    rule_id: String,
    #[serde(deserialize_with = "lenient::text")]
    fingerprint: String,
}

pub fn gitleaks_v8(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let leaks: Vec<GitleaksV8> = read_json(reader)?;
    for leak in leaks {
        let message = format!(
            "{} ({}) found in {}",
            leak.description, leak.rule_id, leak.file
        );
        let mut f = ctx.finding("gitleaks", &leak.rule_id, Severity::High, &message);
        f.tool_severity = ctx.s("none");
        f.title = ctx.opt(Some(&leak.description));
        f.path = ctx.path(&leak.file);
        f.region = Region::span(
            leak.start_line,
            leak.start_column,
            leak.end_line,
            leak.end_column,
        );
        f.cwes = thin_vec::thin_vec![798];
        f.tool_fingerprint = ctx.opt(Some(&leak.fingerprint));
        ctx.push(f);
    }
    Ok(())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DetectSecrets {
    results: std::collections::BTreeMap<String, Vec<DetectedSecret>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DetectedSecret {
    #[serde(rename = "type", deserialize_with = "lenient::text")]
    kind: String,
    #[serde(deserialize_with = "lenient::text")]
    filename: String,
    #[serde(deserialize_with = "lenient::number")]
    line_number: u64,
    #[serde(deserialize_with = "lenient::text")]
    hashed_secret: String,
    is_verified: Option<bool>,
    is_secret: Option<bool>,
}

pub fn detect_secrets(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let report: DetectSecrets = read_json(reader)?;
    for (file, secrets) in report.results {
        for s in secrets {
            // A person audited the baseline and marked this one a false positive.
            if s.is_secret == Some(false) {
                continue;
            }
            let severity = if s.is_verified == Some(true) {
                Severity::Critical
            } else {
                Severity::High
            };
            let path = if s.filename.is_empty() {
                file.clone()
            } else {
                s.filename.clone()
            };
            let message = format!("{} found in {}", s.kind, path);
            let mut f = ctx.finding("detect-secrets", &s.kind, severity, &message);
            f.tool_severity = ctx.s(if s.is_verified == Some(true) {
                "verified"
            } else {
                "unverified"
            });
            f.path = ctx.path(&path);
            f.region = Region::line(s.line_number);
            f.cwes = thin_vec::thin_vec![798];
            f.tool_fingerprint = ctx.opt(Some(&s.hashed_secret));
            ctx.push(f);
        }
    }
    Ok(())
}

/// trufflehog v2 and v3 write one JSON object per line; some wrappers collect them in an array.
pub fn trufflehog(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    for document in serde_json::Deserializer::from_reader(reader.into_read()).into_iter::<Value>() {
        match document.map_err(|e| e.to_string())? {
            Value::Array(items) => items.iter().for_each(|item| trufflehog_item(item, ctx)),
            item => trufflehog_item(&item, ctx),
        }
    }
    Ok(())
}

fn trufflehog_item(item: &Value, ctx: &mut Ctx) {
    if item.get("SourceMetadata").is_some() || item.get("DetectorName").is_some() {
        trufflehog_v3(item, ctx);
    } else {
        trufflehog_v2(item, "trufflehog", ctx);
    }
}

fn trufflehog_v3(item: &Value, ctx: &mut Ctx) {
    let source = item
        .pointer("/SourceMetadata/Data")
        .and_then(Value::as_object)
        .and_then(|data| data.values().next())
        .cloned()
        .unwrap_or(Value::Null);
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let detector = text(item, "DetectorName");
    let verified = item.get("Verified").and_then(Value::as_bool) == Some(true);
    let file = text(&source, "file");
    let line = source.get("line").and_then(Value::as_u64).unwrap_or(0);
    let state = if verified { "verified" } else { "unverified" };
    let message = format!("{state} {detector} credential found in {file}");
    let severity = if verified {
        Severity::Critical
    } else {
        Severity::High
    };
    let mut f = ctx.finding("trufflehog", &detector, severity, &message);
    f.tool_severity = ctx.s(state);
    f.path = ctx.path(&file);
    f.region = Region::line(line);
    f.cwes = thin_vec::thin_vec![798];
    let raw = text(item, "Raw");
    let id = secret_id(&[&detector, &file, &raw, &text(&source, "commit")]);
    f.tool_fingerprint = Some(ctx.s(&id));
    ctx.push(f);
}

fn trufflehog_v2(item: &Value, tool: &str, ctx: &mut Ctx) {
    let text = |k: &str| {
        item.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let reason = text("reason");
    let path = text("path");
    let strings: Vec<String> = item
        .get("stringsFound")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect();
    let message = format!("{reason}: {} suspicious string(s) in {path}", strings.len());
    let mut f = ctx.finding(tool, &reason, Severity::High, &message);
    f.tool_severity = ctx.s("none");
    f.path = ctx.path(&path);
    f.cwes = thin_vec::thin_vec![798];
    let mut parts: Vec<&str> = vec![&reason, &path];
    parts.extend(strings.iter().map(String::as_str));
    f.tool_fingerprint = Some(ctx.s(&secret_id(&parts)));
    ctx.push(f);
}

pub fn trufflehog3(reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    let items: Vec<Value> = read_json(reader)?;
    for item in &items {
        let Some(rule) = item.get("rule") else {
            trufflehog_v2(item, "trufflehog", ctx);
            continue;
        };
        let text = |v: &Value, k: &str| match v.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let id = text(rule, "id");
        let word = text(rule, "severity");
        let severity = Severity::from_word(&word).unwrap_or(Severity::High);
        let path = text(item, "path");
        let message = format!("{} found in {}", text(rule, "message"), path);
        let mut f = ctx.finding("trufflehog", &id, severity, &message);
        f.tool_severity = ctx.s(&word);
        f.path = ctx.path(&path);
        f.region = Region::line(text(item, "line").parse().unwrap_or(0));
        f.cwes = thin_vec::thin_vec![798];
        let fingerprint = secret_id(&[&id, &path, &text(item, "secret"), &text(item, "commit")]);
        f.tool_fingerprint = Some(ctx.s(&fingerprint));
        ctx.push(f);
    }
    Ok(())
}
