//! Recognising a report's format from its content, in one streaming pass that keeps only
//! the top-level keys (and the first element's keys for arrays).

use std::fmt;
use std::io::{BufRead, BufReader, Read};

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The scanner formats we parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Sarif,
    BanditJson,
    SemgrepJson,
    TrivyJson,
    TrivyLegacy,
    TrivyKubernetes,
    SafetyLegacy,
    SafetyCheck,
    SafetyScan,
    PipAudit,
    GitleaksV7,
    GitleaksV8,
    Grype,
    Hadolint,
    Checkov,
    OsvScanner,
    NpmAuditV6,
    NpmAuditV7,
    NpmAuditError,
    DependencyCheck,
    DetectSecrets,
    Trufflehog,
    Trufflehog3,
    Snyk,
    Govulncheck,
    GovulncheckLegacy,
    /// Empty file, `null`, `[]`, or a summary with no results: no findings.
    NoFindings,
}

impl Format {
    /// The tool that writes this format (`None` for SARIF, whose runs name their tool).
    pub fn tool(self) -> Option<&'static str> {
        use Format::*;
        Some(match self {
            Sarif | NoFindings => return None,
            BanditJson => "bandit",
            SemgrepJson => "semgrep",
            TrivyJson | TrivyLegacy | TrivyKubernetes => "trivy",
            SafetyLegacy | SafetyCheck | SafetyScan => "safety",
            PipAudit => "pip-audit",
            GitleaksV7 | GitleaksV8 => "gitleaks",
            Grype => "grype",
            Hadolint => "hadolint",
            Checkov => "checkov",
            OsvScanner => "osv-scanner",
            NpmAuditV6 | NpmAuditV7 | NpmAuditError => "npm-audit",
            DependencyCheck => "dependency-check",
            DetectSecrets => "detect-secrets",
            Trufflehog | Trufflehog3 => "trufflehog",
            Snyk => "snyk",
            Govulncheck | GovulncheckLegacy => "govulncheck",
        })
    }
}

/// Tool names accepted in `tool:path` to force a format.
pub const TOOLS: [&str; 18] = [
    "bandit",
    "semgrep",
    "trivy",
    "safety",
    "pip-audit",
    "gitleaks",
    "grype",
    "hadolint",
    "checkov",
    "osv-scanner",
    "npm-audit",
    "dependency-check",
    "detect-secrets",
    "trufflehog",
    "snyk",
    "govulncheck",
    "sarif",
    "codeql",
];

/// What the first pass saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    Empty,
    Null,
    Object(Vec<String>),
    /// An array: its length and the shape of its first element.
    Array(usize, Element),
    /// Several JSON documents one after another (JSON lines): the first one's keys.
    Stream(Vec<String>),
    Xml(String),
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    None,
    Object(Vec<String>),
    Array,
    Scalar,
}

/// Reads the shape of a report without keeping its values.
pub fn probe(reader: impl Read) -> Shape {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let first = loop {
        match reader.fill_buf() {
            Ok([]) | Err(_) => return Shape::Empty,
            Ok(buf) => {
                let skip = buf
                    .iter()
                    .take_while(|b| {
                        b.is_ascii_whitespace() || **b == 0xEF || **b == 0xBB || **b == 0xBF
                    })
                    .count();
                if skip < buf.len() {
                    let byte = buf[skip];
                    reader.consume(skip);
                    break byte;
                }
                let all = buf.len();
                reader.consume(all);
            }
        }
    };
    match first {
        b'<' => Shape::Xml(xml_root(reader)),
        b'{' | b'[' | b'n' => json_shape(reader),
        _ => Shape::Unknown(String::from("not JSON or XML")),
    }
}

/// [`probe`] for a report held in memory.
pub fn probe_slice(bytes: &[u8]) -> Shape {
    let start = bytes
        .iter()
        .position(|b| !(b.is_ascii_whitespace() || *b == 0xEF || *b == 0xBB || *b == 0xBF));
    let Some(start) = start else {
        return Shape::Empty;
    };
    let rest = &bytes[start..];
    match rest[0] {
        b'<' => Shape::Xml(xml_root(rest)),
        b'{' | b'[' | b'n' => {
            documents_shape(serde_json::Deserializer::from_slice(rest).into_iter::<Top>())
        }
        _ => Shape::Unknown(String::from("not JSON or XML")),
    }
}

fn json_shape(reader: impl Read) -> Shape {
    documents_shape(serde_json::Deserializer::from_reader(reader).into_iter::<Top>())
}

fn documents_shape(mut documents: impl Iterator<Item = serde_json::Result<Top>>) -> Shape {
    let first = match documents.next() {
        Some(Ok(top)) => top,
        Some(Err(e)) if e.to_string().starts_with(SARIF_SEEN) => {
            return Shape::Object(vec!["version".into(), "runs".into()]);
        }
        Some(Err(e)) => return Shape::Unknown(format!("invalid JSON: {e}")),
        None => return Shape::Empty,
    };
    match (first, documents.next()) {
        (Top::Object(keys), Some(Ok(_))) => Shape::Stream(keys),
        (_, Some(Err(e))) => Shape::Unknown(format!("invalid JSON after the first document: {e}")),
        (Top::Object(keys), _) => Shape::Object(keys),
        (Top::Array(n, element), None) => Shape::Array(n, element),
        (Top::Null, None) => Shape::Null,
        (Top::Scalar, _) | (_, Some(Ok(_))) => {
            Shape::Unknown(String::from("unexpected JSON value"))
        }
    }
}

fn xml_root(reader: impl BufRead) -> String {
    let mut xml = quick_xml::Reader::from_reader(reader);
    let mut buf = Vec::new();
    loop {
        match xml.read_event_into(&mut buf) {
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)) => {
                return String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
            }
            Ok(quick_xml::events::Event::Eof) | Err(_) => return String::new(),
            Ok(_) => buf.clear(),
        }
    }
}

enum Top {
    Null,
    Scalar,
    Object(Vec<String>),
    Array(usize, Element),
}

impl<'de> Deserialize<'de> for Top {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON document")
    }
    fn visit_unit<E>(self) -> Result<Top, E> {
        Ok(Top::Null)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Top, E> {
        Ok(Top::Scalar)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Top, E> {
        Ok(Top::Scalar)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Top, E> {
        Ok(Top::Scalar)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Top, E> {
        Ok(Top::Scalar)
    }
    fn visit_str<E>(self, _: &str) -> Result<Top, E> {
        Ok(Top::Scalar)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Top, A::Error> {
        top_keys_of(map).map(Top::Object)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top, A::Error> {
        let Some(first) = seq.next_element::<ElementProbe>()? else {
            return Ok(Top::Array(0, Element::None));
        };
        let mut count = 1;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            count += 1;
        }
        Ok(Top::Array(count, first.0))
    }
}

fn keys_of<'de, A: MapAccess<'de>>(mut map: A) -> Result<Vec<String>, A::Error> {
    let mut keys = Vec::new();
    while let Some(key) = map.next_key::<String>()? {
        map.next_value::<IgnoredAny>()?;
        keys.push(key);
    }
    Ok(keys)
}

/// Raised to stop probing once a SARIF header (`version` or `$schema`, then `runs`) is seen:
/// the rest of a large log need not be scanned twice.
const SARIF_SEEN: &str = "deploy-tcb: SARIF header seen";

fn top_keys_of<'de, A: MapAccess<'de>>(mut map: A) -> Result<Vec<String>, A::Error> {
    let mut keys: Vec<String> = Vec::new();
    while let Some(key) = map.next_key::<String>()? {
        let header = keys.iter().any(|k| k == "version" || k == "$schema");
        if key == "runs" && header {
            return Err(de::Error::custom(SARIF_SEEN));
        }
        map.next_value::<IgnoredAny>()?;
        keys.push(key);
    }
    Ok(keys)
}

struct ElementProbe(Element);

impl<'de> Deserialize<'de> for ElementProbe {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ElementVisitor).map(ElementProbe)
    }
}

struct ElementVisitor;

impl<'de> Visitor<'de> for ElementVisitor {
    type Value = Element;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array element")
    }
    fn visit_unit<E>(self) -> Result<Element, E> {
        Ok(Element::Scalar)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Element, E> {
        Ok(Element::Scalar)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Element, E> {
        Ok(Element::Scalar)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Element, E> {
        Ok(Element::Scalar)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Element, E> {
        Ok(Element::Scalar)
    }
    fn visit_str<E>(self, _: &str) -> Result<Element, E> {
        Ok(Element::Scalar)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Element, A::Error> {
        keys_of(map).map(Element::Object)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Element, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Element::Array)
    }
}

/// The format a shape belongs to, or a description of what it is when it is none of ours.
pub fn classify(shape: &Shape) -> Result<Format, String> {
    match shape {
        Shape::Empty | Shape::Null => Ok(Format::NoFindings),
        Shape::Object(keys) => classify_object(keys),
        Shape::Array(0, _) => Ok(Format::NoFindings),
        Shape::Array(_, Element::Array) => Ok(Format::SafetyLegacy),
        Shape::Array(_, Element::Object(keys)) => classify_array(keys),
        Shape::Array(_, _) => Err(String::from("an array of plain values")),
        Shape::Stream(keys) => classify_stream(keys),
        Shape::Xml(root) if root == "analysis" => Ok(Format::DependencyCheck),
        Shape::Xml(root) => Err(format!("XML with root element <{root}>")),
        Shape::Unknown(what) => Err(what.clone()),
    }
}

fn has(keys: &[String], wanted: &str) -> bool {
    keys.iter().any(|k| k == wanted)
}

fn classify_object(keys: &[String]) -> Result<Format, String> {
    let k = |name| has(keys, name);
    let format = if k("runs") && (k("version") || k("$schema")) {
        Format::Sarif
    } else if k("SchemaVersion") || (k("ArtifactName") && k("ArtifactType")) {
        Format::TrivyJson
    } else if k("ClusterName") {
        Format::TrivyKubernetes
    } else if k("matches") {
        Format::Grype
    } else if k("results") && k("errors") && (k("metrics") || k("generated_at")) {
        Format::BanditJson
    } else if k("results") && k("errors") {
        Format::SemgrepJson
    } else if k("check_type") {
        Format::Checkov
    } else if k("checkov_version") && k("failed") {
        Format::NoFindings
    } else if k("plugins_used") && k("results") {
        Format::DetectSecrets
    } else if k("report_meta") && k("vulnerabilities") {
        Format::SafetyCheck
    } else if k("scan_results") && k("meta") {
        Format::SafetyScan
    } else if k("dependencies") && !k("vulnerabilities") {
        Format::PipAudit
    } else if k("advisories") {
        Format::NpmAuditV6
    } else if k("auditReportVersion") {
        Format::NpmAuditV7
    } else if k("error") && keys.len() == 1 {
        Format::NpmAuditError
    } else if k("vulnerabilities") && (k("packageManager") || k("dependencyCount") || k("ok")) {
        Format::Snyk
    } else if k("Vulns") && (k("Modules") || k("Calls")) {
        Format::GovulncheckLegacy
    } else if k("config") || k("osv") || k("finding") || k("progress") {
        Format::Govulncheck
    } else if k("SourceMetadata") || k("stringsFound") {
        Format::Trufflehog
    } else if k("results") && !k("errors") {
        Format::OsvScanner
    } else {
        return Err(format!(
            "a JSON object with keys [{}]",
            keys.iter().take(8).cloned().collect::<Vec<_>>().join(", ")
        ));
    };
    Ok(format)
}

fn classify_array(keys: &[String]) -> Result<Format, String> {
    let k = |name| has(keys, name);
    let format = if k("Target") && (k("Vulnerabilities") || k("Type") || k("Class")) {
        Format::TrivyLegacy
    } else if k("RuleID") || (k("Description") && k("StartLine")) {
        Format::GitleaksV8
    } else if k("offender") && k("rule") {
        Format::GitleaksV7
    } else if k("code") && k("level") && k("message") && k("line") {
        Format::Hadolint
    } else if k("check_type") {
        Format::Checkov
    } else if k("name") && k("vulns") {
        Format::PipAudit
    } else if k("vulnerabilities") && (k("packageManager") || k("ok")) {
        Format::Snyk
    } else if k("rule") && k("path") && (k("secret") || k("context")) {
        Format::Trufflehog3
    } else if k("stringsFound") && k("reason") {
        Format::Trufflehog
    } else if k("config") || k("osv") || k("finding") || k("progress") {
        Format::Govulncheck
    } else {
        return Err(format!(
            "a JSON array of objects with keys [{}]",
            keys.iter().take(8).cloned().collect::<Vec<_>>().join(", ")
        ));
    };
    Ok(format)
}

fn classify_stream(keys: &[String]) -> Result<Format, String> {
    let k = |name| has(keys, name);
    if k("SourceMetadata") || k("DetectorName") || k("stringsFound") {
        Ok(Format::Trufflehog)
    } else if k("config") || k("osv") || k("finding") || k("progress") || k("SBOM") {
        Ok(Format::Govulncheck)
    } else {
        Err(format!(
            "a stream of JSON objects with keys [{}]",
            keys.iter().take(8).cloned().collect::<Vec<_>>().join(", ")
        ))
    }
}

/// Whether a forced tool can have written a file of this format.
pub fn tool_writes(tool: &str, format: Format) -> bool {
    match format {
        Format::Sarif | Format::NoFindings => true,
        other => other.tool() == Some(tool),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format_of(text: &str) -> Result<Format, String> {
        classify(&probe(text.as_bytes()))
    }

    #[test]
    fn empty_null_and_empty_arrays_hold_no_findings() {
        for text in ["", "  \n", "null", "[]", " [ ] "] {
            assert_eq!(format_of(text), Ok(Format::NoFindings), "{text:?}");
        }
    }

    #[test]
    fn shapes_pick_the_format() {
        assert_eq!(
            format_of(r#"{"version":"2.1.0","runs":[]}"#),
            Ok(Format::Sarif)
        );
        assert_eq!(
            format_of(r#"[["django","<1","0.9","x","1"]]"#),
            Ok(Format::SafetyLegacy)
        );
        assert_eq!(
            format_of("{\"SourceMetadata\":{}}\n{\"SourceMetadata\":{}}\n"),
            Ok(Format::Trufflehog)
        );
        assert_eq!(
            format_of("<?xml version=\"1.0\"?><analysis/>"),
            Ok(Format::DependencyCheck)
        );
    }

    #[test]
    fn anything_else_is_described() {
        assert!(format_of("Run started").unwrap_err().contains("not JSON"));
        assert!(format_of(r#"{"a":1}"#).unwrap_err().contains("keys [a]"));
        assert!(
            format_of("<testsuites/>")
                .unwrap_err()
                .contains("testsuites")
        );
        assert!(format_of("{\"a\":").unwrap_err().contains("invalid JSON"));
    }
}
