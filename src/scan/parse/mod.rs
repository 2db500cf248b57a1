//! Parsers: one per scanner family. Each reads the tool's own output with typed serde models
//! that keep only the fields we use (so large reports stream through without a JSON tree) and
//! normalises every finding into [`Finding`]. Each parser's module comment documents its
//! severity mapping.

mod code;
mod deps;
mod iac;
mod lenient;
mod sarif;
mod secrets;
mod trivy;

use std::io::{BufReader, Read};
use std::sync::Arc;

use super::dedupe::Deduper;
use super::detect::{self, Format};
use super::model::{Finding, Interner, Parsed, ScannerIssue, Severity};
use super::paths::RepoPaths;

/// A report's bytes: held in memory (files up to [`WHOLE_FILE_LIMIT`], parsed from the slice,
/// which is several times faster) or streamed from a reader (bigger files, bounded memory).
pub enum Input<'a> {
    Bytes(&'a [u8]),
    Reader(Box<dyn Read + 'a>),
}

impl<'a> Input<'a> {
    /// The input as a reader, for the formats read as a stream of documents or XML events.
    pub fn into_read(self) -> Box<dyn Read + 'a> {
        match self {
            Input::Bytes(bytes) => Box::new(bytes),
            Input::Reader(reader) => reader,
        }
    }
}

/// Files up to this size are read whole; larger ones are streamed.
pub const WHOLE_FILE_LIMIT: u64 = 64 * 1024 * 1024;

/// Why a report could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReportError {
    #[error("{file}: not a scanner report we know ({what})")]
    Unrecognised { file: String, what: String },
    #[error("{file}: looks like {format:?} output but is malformed: {problem}")]
    Malformed {
        file: String,
        format: Format,
        problem: String,
    },
    #[error("{file}: forced as `{tool}` output, but it is {what}")]
    WrongTool {
        file: String,
        tool: String,
        what: String,
    },
    #[error("{file}: cannot be read: {problem}")]
    Unreadable { file: String, problem: String },
}

/// Shared state for one report: the interner, the repository root, and where issues go.
pub struct Ctx<'a> {
    pub interner: &'a mut Interner,
    pub paths: &'a RepoPaths,
    /// The report file, as the user named it (for messages).
    pub file: String,
    /// The tool named in `tool:path`, which overrides what a SARIF run says.
    pub forced_tool: Option<String>,
    pub parsed: Parsed,
    /// Where findings go as they are read: straight into deduplication, so a report's
    /// findings are never all held before merging; `None` collects them in `parsed`.
    pub sink: Option<&'a mut Deduper>,
}

impl Ctx<'_> {
    pub fn s(&mut self, value: &str) -> Arc<str> {
        self.interner.get(value)
    }

    pub fn opt(&mut self, value: Option<&str>) -> Option<Arc<str>> {
        self.interner.opt(value)
    }

    /// A repository-relative path, interned.
    pub fn path(&mut self, raw: &str) -> Option<Arc<str>> {
        let relative = self.paths.relative(raw)?;
        Some(self.interner.get(&relative))
    }

    pub fn finding(
        &mut self,
        tool: &str,
        rule: &str,
        severity: Severity,
        message: &str,
    ) -> Finding {
        let tool = self.s(tool);
        let rule = self.s(if rule.trim().is_empty() {
            "unknown"
        } else {
            rule.trim()
        });
        // Not interned: most messages are one finding's own, and the store keeps them in its
        // records rather than in memory.
        let message = Arc::from(if message.trim().is_empty() {
            "(no message)"
        } else {
            message.trim()
        });
        Finding::new(tool, rule, severity, message)
    }

    pub fn push(&mut self, finding: Finding) {
        match self.sink.as_deref_mut() {
            Some(deduper) => deduper.add(finding),
            None => self.parsed.findings.push(finding),
        }
    }

    pub fn issue(&mut self, tool: &str, message: impl Into<String>) {
        self.parsed.issues.push(ScannerIssue {
            tool: tool.to_string(),
            file: self.file.clone(),
            message: message.into(),
        });
    }

    pub fn saw_tool(&mut self, tool: &str) {
        if !self.parsed.tools.iter().any(|t| t == tool) {
            self.parsed.tools.push(tool.to_string());
        }
    }
}

/// Parses one report. `open` is called once to detect the format and once to parse, so a file
/// is streamed twice rather than held in memory.
pub fn parse_report<'a>(
    open: impl Fn() -> std::io::Result<Input<'a>>,
    ctx: &mut Ctx,
) -> Result<(), ReportError> {
    let unreadable = |e: std::io::Error, file: &str| ReportError::Unreadable {
        file: file.to_string(),
        problem: e.to_string(),
    };
    let shape = match open().map_err(|e| unreadable(e, &ctx.file))? {
        Input::Bytes(bytes) => detect::probe_slice(bytes),
        Input::Reader(reader) => detect::probe(reader),
    };
    let format = detect::classify(&shape);
    let format = match (&ctx.forced_tool, format) {
        (_, Ok(format)) => format,
        (_, Err(what)) => {
            return Err(ReportError::Unrecognised {
                file: ctx.file.clone(),
                what,
            });
        }
    };
    if let Some(tool) = &ctx.forced_tool
        && !detect::tool_writes(tool, format)
        && tool != "sarif"
    {
        return Err(ReportError::WrongTool {
            file: ctx.file.clone(),
            tool: tool.clone(),
            what: format!("{} output", format.tool().unwrap_or("other")),
        });
    }
    if let Some(tool) = format.tool() {
        let tool = ctx.forced_tool.clone().unwrap_or_else(|| tool.to_string());
        ctx.saw_tool(&tool);
    }
    let input = match open().map_err(|e| unreadable(e, &ctx.file))? {
        Input::Reader(reader) => Input::Reader(Box::new(BufReader::with_capacity(1 << 16, reader))),
        bytes => bytes,
    };
    parse_format(format, input, ctx).map_err(|problem| ReportError::Malformed {
        file: ctx.file.clone(),
        format,
        problem,
    })
}

fn parse_format(format: Format, reader: Input, ctx: &mut Ctx) -> Result<(), String> {
    use Format::*;
    match format {
        NoFindings => Ok(()),
        Sarif => sarif::parse(reader, ctx),
        BanditJson => code::bandit(reader, ctx),
        SemgrepJson => code::semgrep(reader, ctx),
        TrivyJson => trivy::schema_v2(reader, ctx),
        TrivyLegacy => trivy::legacy(reader, ctx),
        TrivyKubernetes => trivy::kubernetes(reader, ctx),
        SafetyLegacy => deps::safety_legacy(reader, ctx),
        SafetyCheck => deps::safety_check(reader, ctx),
        SafetyScan => deps::safety_scan(reader, ctx),
        PipAudit => deps::pip_audit(reader, ctx),
        Grype => deps::grype(reader, ctx),
        OsvScanner => deps::osv_scanner(reader, ctx),
        NpmAuditV6 => deps::npm_v6(reader, ctx),
        NpmAuditV7 => deps::npm_v7(reader, ctx),
        NpmAuditError => deps::npm_error(reader, ctx),
        DependencyCheck => deps::dependency_check(reader, ctx),
        Snyk => deps::snyk(reader, ctx),
        Govulncheck => deps::govulncheck(reader, ctx),
        GovulncheckLegacy => deps::govulncheck_legacy(reader, ctx),
        GitleaksV7 => secrets::gitleaks_v7(reader, ctx),
        GitleaksV8 => secrets::gitleaks_v8(reader, ctx),
        DetectSecrets => secrets::detect_secrets(reader, ctx),
        Trufflehog => secrets::trufflehog(reader, ctx),
        Trufflehog3 => secrets::trufflehog3(reader, ctx),
        Hadolint => iac::hadolint(reader, ctx),
        Checkov => iac::checkov(reader, ctx),
    }
}

/// Deserialises a whole document from a reader, with the error as text.
fn read_json<T: serde::de::DeserializeOwned>(input: Input) -> Result<T, String> {
    match input {
        Input::Bytes(bytes) => serde_json::from_slice(bytes),
        Input::Reader(reader) => serde_json::from_reader(reader),
    }
    .map_err(|e| e.to_string())
}

/// Orders vulnerability ids so a CVE comes first (it is what other tools share), then GHSA.
fn order_ids(ids: &mut Vec<Arc<str>>) {
    let rank = |id: &str| {
        if id.starts_with("CVE-") {
            0
        } else if id.starts_with("GHSA-") {
            1
        } else {
            2
        }
    };
    ids.sort_by_key(|id| rank(id));
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
}

/// First `max` characters of a text, on a char boundary, for titles built from descriptions.
fn first_line(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    match line.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

/// Parses one report file; `forced` is the tool named in `tool:path`.
pub fn parse_file(
    path: &std::path::Path,
    forced: Option<&str>,
    paths: &RepoPaths,
    interner: &mut Interner,
) -> Result<Parsed, ReportError> {
    parse_file_into(path, forced, paths, interner, None, &mut Vec::new())
}

/// Parses one report file, handing each finding to `sink` as it is read (when given); the
/// returned [`Parsed`] then holds only the file's issues and tools. A file read whole is read
/// into `buffer`, which the caller keeps for the next file: one buffer for every report
/// rather than one large allocation per file, which the allocator cannot always give back.
pub fn parse_file_into(
    path: &std::path::Path,
    forced: Option<&str>,
    paths: &RepoPaths,
    interner: &mut Interner,
    sink: Option<&mut Deduper>,
    buffer: &mut Vec<u8>,
) -> Result<Parsed, ReportError> {
    let mut ctx = Ctx {
        interner,
        paths,
        file: path.display().to_string(),
        forced_tool: forced.map(str::to_string),
        parsed: Parsed::default(),
        sink,
    };
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(u64::MAX);
    if size <= WHOLE_FILE_LIMIT {
        buffer.clear();
        std::fs::File::open(path)
            .and_then(|mut file| file.read_to_end(buffer))
            .map_err(|e| ReportError::Unreadable {
                file: ctx.file.clone(),
                problem: e.to_string(),
            })?;
        parse_report(|| Ok(Input::Bytes(buffer)), &mut ctx)?;
    } else {
        parse_report(
            || Ok(Input::Reader(Box::new(std::fs::File::open(path)?))),
            &mut ctx,
        )?;
    }
    Ok(ctx.parsed)
}

/// Parses a report held in memory (tests, fuzzing).
pub fn parse_bytes(
    label: &str,
    bytes: &[u8],
    forced: Option<&str>,
    paths: &RepoPaths,
    interner: &mut Interner,
) -> Result<Parsed, ReportError> {
    let mut ctx = Ctx {
        interner,
        paths,
        file: label.to_string(),
        forced_tool: forced.map(str::to_string),
        parsed: Parsed::default(),
        sink: None,
    };
    parse_report(|| Ok(Input::Bytes(bytes)), &mut ctx)?;
    Ok(ctx.parsed)
}
