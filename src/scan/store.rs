//! The unique findings of a scan, held compactly so memory stays well below the size of the
//! reports.
//!
//! Each finding is encoded into a record: strings shared between findings (tool, rule, rule
//! texts, paths, package names, ids) as numbers into a table of shared strings, and its own
//! text (the message) inline. Records go to an unlinked temporary file once more than
//! [`TAIL_LIMIT`] bytes wait in memory, so a report of any size costs a 32-byte slot per
//! finding plus the shared strings. The slot keeps what the gate, the sort and the SARIF
//! selection need without reading the record: severity, tool, fingerprint and whether a
//! baseline accepted it.
//!
//! A finding is changed by writing a new record and pointing its slot at it (deduplication
//! merges a few); reading them in order is a sequential read through a window.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use hashbrown::HashMap;
use thin_vec::ThinVec;

use super::fingerprint::{self, LineHash, SourceHashes};
use super::model::{Finding, Fingerprint, Package, Region, Severity};

/// Records wait in memory up to this many bytes, then go to the file together.
const TAIL_LIMIT: usize = 1 << 20;
/// How much a sequential read fetches from the file at once.
const WINDOW: usize = 1 << 20;

/// Where a finding's record is, and what is needed about it without reading it.
#[derive(Debug, Clone, Copy)]
struct Slot {
    at: u64,
    len: u32,
    tool: u32,
    fingerprint: Fingerprint,
    severity: Severity,
    accepted: bool,
}

/// Strings shared by many findings, each stored once and referred to by number.
#[derive(Debug, Default)]
struct Shared {
    index: HashMap<Arc<str>, u32>,
    strings: Vec<Arc<str>>,
}

impl Shared {
    fn symbol(&mut self, text: &Arc<str>) -> u32 {
        if let Some(symbol) = self.index.get(&**text) {
            return *symbol;
        }
        let symbol = self.strings.len() as u32;
        self.index.insert(text.clone(), symbol);
        self.strings.push(text.clone());
        symbol
    }
}

/// The records: appended to `tail` in memory, moved to `file` in batches.
#[derive(Debug, Default)]
struct Records {
    file: Option<File>,
    /// Bytes already in the file; a record at or past this offset is in `tail`.
    flushed: u64,
    tail: Vec<u8>,
    /// Set when no temporary file can be written: records then stay in memory.
    in_memory_only: bool,
}

impl Records {
    /// Appends a record, returning where it starts.
    fn append(&mut self, record: &[u8]) -> u64 {
        let at = self.flushed + self.tail.len() as u64;
        self.tail.extend_from_slice(record);
        if self.tail.len() >= TAIL_LIMIT && !self.in_memory_only {
            self.flush();
        }
        at
    }

    fn flush(&mut self) {
        if self.file.is_none() {
            match tempfile::tempfile() {
                Ok(file) => self.file = Some(file),
                Err(e) => return self.keep_in_memory(&e),
            }
        }
        let written = match self.file.as_mut() {
            Some(file) => file.write_all(&self.tail),
            None => return,
        };
        match written {
            Ok(()) => {
                self.flushed += self.tail.len() as u64;
                self.tail.clear();
            }
            Err(e) => self.keep_in_memory(&e),
        }
    }

    fn keep_in_memory(&mut self, problem: &std::io::Error) {
        tracing::debug!("findings stay in memory: no temporary file ({problem})");
        self.in_memory_only = true;
    }

    /// A record: from the tail in memory, or read from the file into `scratch`.
    fn read<'a>(&'a self, at: u64, len: usize, scratch: &'a mut Vec<u8>) -> &'a [u8] {
        if at >= self.flushed {
            let start = (at - self.flushed) as usize;
            return &self.tail[start..start + len];
        }
        self.read_file(at, len, scratch);
        scratch
    }

    /// Reads bytes from the file into `into`.
    fn read_file(&self, at: u64, len: usize, into: &mut Vec<u8>) {
        into.resize(len, 0);
        let file = self.file.as_ref().expect("a flushed record is in the file");
        // The file is our own, written moments ago; failing to read it back is a broken disk.
        file.read_exact_at(into, at)
            .expect("reading back the findings' temporary file");
    }
}

/// Reads records in order through a window, so a pass over all findings reads the file in
/// large sequential pieces.
struct Window {
    at: u64,
    bytes: Vec<u8>,
    scratch: Vec<u8>,
}

impl Window {
    fn new() -> Self {
        Window {
            at: 0,
            bytes: Vec::new(),
            scratch: Vec::new(),
        }
    }

    fn read<'a>(&'a mut self, records: &'a Records, at: u64, len: usize) -> &'a [u8] {
        let end = self.at + self.bytes.len() as u64;
        if at >= self.at && at + len as u64 <= end {
            let start = (at - self.at) as usize;
            return &self.bytes[start..start + len];
        }
        // In the tail, or a record moved by a merge far ahead: read it alone, keep the window.
        if at >= records.flushed || (!self.bytes.is_empty() && at > end + WINDOW as u64) {
            return records.read(at, len, &mut self.scratch);
        }
        let size = WINDOW.max(len).min((records.flushed - at) as usize);
        records.read_file(at, size, &mut self.bytes);
        self.at = at;
        &self.bytes[..len]
    }
}

/// The unique findings of a scan, in the order they were first reported.
#[derive(Debug, Default)]
pub struct Findings {
    slots: Vec<Slot>,
    line_hashes: Vec<LineHash>,
    accepted: HashMap<u32, String>,
    shared: Shared,
    records: Records,
    scratch: Vec<u8>,
    /// Counts per tool and severity, worked out once when first asked for.
    per_tool: OnceCell<BTreeMap<String, [usize; 5]>>,
}

impl Findings {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Adds a finding, returning its index.
    pub fn push(&mut self, finding: &Finding) -> u32 {
        let index = self.slots.len() as u32;
        let slot = self.write(finding);
        self.slots.push(slot);
        self.line_hashes
            .push(LineHash::of_fingerprint(&finding.fingerprint));
        self.set_accepted(index, finding.accepted.as_deref());
        index
    }

    /// Replaces finding `index` with `finding`.
    pub fn replace(&mut self, index: u32, finding: &Finding) {
        let slot = self.write(finding);
        self.slots[index as usize] = slot;
        self.set_accepted(index, finding.accepted.as_deref());
    }

    fn write(&mut self, finding: &Finding) -> Slot {
        self.per_tool.take();
        let mut record = std::mem::take(&mut self.scratch);
        record.clear();
        let tool = encode(finding, &mut self.shared, &mut record);
        let at = self.records.append(&record);
        let slot = Slot {
            at,
            len: record.len() as u32,
            tool,
            fingerprint: finding.fingerprint,
            severity: finding.severity,
            accepted: finding.accepted.is_some(),
        };
        self.scratch = record;
        slot
    }

    fn set_accepted(&mut self, index: u32, reason: Option<&str>) {
        match reason {
            Some(reason) => {
                self.accepted.insert(index, reason.to_string());
            }
            None => {
                self.accepted.remove(&index);
            }
        }
    }

    /// Finding `index`, read back.
    pub fn get(&self, index: usize) -> Finding {
        let slot = &self.slots[index];
        let mut scratch = Vec::new();
        let record = self.records.read(slot.at, slot.len as usize, &mut scratch);
        self.finish_reading(index, record)
    }

    fn finish_reading(&self, index: usize, record: &[u8]) -> Finding {
        let slot = &self.slots[index];
        let mut finding = decode(record, &self.shared.strings)
            .expect("a findings record reads back as it was written");
        finding.fingerprint = slot.fingerprint;
        finding.accepted = self.accepted.get(&(index as u32)).cloned();
        finding
    }

    /// Every finding, read back in order.
    pub fn iter(&self) -> impl Iterator<Item = Finding> + '_ {
        self.iter_at(0..self.slots.len())
            .map(|(_, finding)| finding)
    }

    /// The findings at `indexes` (ascending, for one sequential read), read back.
    pub fn iter_at(
        &self,
        indexes: impl Iterator<Item = usize>,
    ) -> impl Iterator<Item = (usize, Finding)> {
        let mut window = Window::new();
        indexes.map(move |index| {
            let slot = self.slots[index];
            let record = window.read(&self.records, slot.at, slot.len as usize);
            (index, self.finish_reading(index, record))
        })
    }

    pub fn severity(&self, index: usize) -> Severity {
        self.slots[index].severity
    }

    pub fn is_accepted(&self, index: usize) -> bool {
        self.slots[index].accepted
    }

    /// The tool that first reported finding `index`.
    pub fn tool(&self, index: usize) -> &str {
        &self.shared.strings[self.slots[index].tool as usize]
    }

    pub fn fingerprint(&self, index: usize) -> Fingerprint {
        self.slots[index].fingerprint
    }

    /// Finding `index`'s `primaryLocationLineHash`.
    pub fn line_hash(&self, index: usize) -> LineHash {
        self.line_hashes[index]
    }

    /// Marks finding `index` as accepted by a baseline entry, for `reason`.
    pub fn accept(&mut self, index: usize, reason: String) {
        self.slots[index].accepted = true;
        self.accepted.insert(index as u32, reason);
    }

    /// Unique findings per tool and severity (in [`Severity::ALL`] order); a merged finding
    /// counts for each tool that reported it. One pass over the records, the first time.
    pub fn per_tool(&self) -> &BTreeMap<String, [usize; 5]> {
        self.per_tool.get_or_init(|| {
            let mut counts: BTreeMap<String, [usize; 5]> = BTreeMap::new();
            for f in self.iter() {
                let column = Severity::ALL.iter().position(|s| *s == f.severity);
                for tool in reporting_tools(&f) {
                    let row = match counts.get_mut(tool) {
                        Some(row) => row,
                        None => counts.entry(tool.to_string()).or_default(),
                    };
                    column.into_iter().for_each(|c| row[c] += 1);
                }
            }
            counts
        })
    }

    /// Severities of all findings, in order, without reading the records.
    pub fn severities(&self) -> impl Iterator<Item = Severity> + '_ {
        self.slots.iter().map(|s| s.severity)
    }

    /// Indexes of the findings `keep` admits, most severe first, earlier first among equals.
    pub fn most_severe(&self, keep: impl Fn(usize) -> bool) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.slots.len()).filter(|i| keep(*i)).collect();
        order.sort_by_key(|i| std::cmp::Reverse(self.slots[*i].severity));
        order
    }

    /// Works out every finding's identity and `primaryLocationLineHash` (from the source
    /// lines under `sources` where the files are there).
    pub fn assign_identities(&mut self, sources: &mut SourceHashes) {
        let mut computed = Vec::with_capacity(self.slots.len());
        for finding in self.iter() {
            computed.push(fingerprint::of(&finding, sources));
        }
        for (index, (identity, line_hash)) in computed.into_iter().enumerate() {
            self.slots[index].fingerprint = identity;
            self.line_hashes[index] = line_hash;
        }
    }
}

/// The tools that reported a finding: its own and those merged into it, each once.
fn reporting_tools(f: &Finding) -> Vec<&str> {
    let mut tools: Vec<&str> = vec![&f.tool];
    tools.extend(
        f.also_reported_by
            .iter()
            .filter_map(|a| a.split(':').next()),
    );
    tools.sort_unstable();
    tools.dedup();
    tools
}

impl FromIterator<Finding> for Findings {
    fn from_iter<I: IntoIterator<Item = Finding>>(findings: I) -> Self {
        let mut store = Findings::new();
        for finding in findings {
            store.push(&finding);
        }
        store
    }
}

/// The JSON output lists every finding, read back one at a time while it is written.
impl serde::Serialize for Findings {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

fn put_number(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    put_number(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

/// `0` for none, else the shared string's number plus one.
fn put_shared(out: &mut Vec<u8>, shared: &mut Shared, text: Option<&Arc<str>>) {
    put_number(out, text.map_or(0, |t| u64::from(shared.symbol(t)) + 1));
}

/// `0` for none, else the number plus one.
fn put_optional(out: &mut Vec<u8>, n: Option<u32>) {
    put_number(out, n.map_or(0, |n| u64::from(n) + 1));
}

/// Encodes `f` into `out`; returns its tool's shared-string number.
fn encode(f: &Finding, shared: &mut Shared, out: &mut Vec<u8>) -> u32 {
    let tool = shared.symbol(&f.tool);
    put_number(out, u64::from(tool) + 1);
    for text in [&f.rule, &f.tool_severity] {
        put_shared(out, shared, Some(text));
    }
    for text in [&f.title, &f.description, &f.help_uri, &f.path] {
        put_shared(out, shared, text.as_ref());
    }
    out.push(f.severity as u8);
    match f.score {
        Some(score) => {
            out.push(1);
            out.extend_from_slice(&score.to_le_bytes());
        }
        None => out.push(0),
    }
    put_number(out, f.cwes.len() as u64);
    f.cwes.iter().for_each(|c| put_number(out, u64::from(*c)));
    put_number(out, f.ids.len() as u64);
    f.ids
        .iter()
        .for_each(|id| put_shared(out, shared, Some(id)));
    match &f.package {
        Some(p) => {
            put_shared(out, shared, Some(&p.name));
            put_shared(out, shared, p.version.as_ref());
            put_shared(out, shared, p.fixed.as_ref());
        }
        None => put_number(out, 0),
    }
    match f.region {
        Some(r) => {
            put_number(out, u64::from(r.start_line));
            [r.start_column, r.end_line, r.end_column]
                .into_iter()
                .for_each(|n| put_optional(out, n));
        }
        None => put_number(out, 0),
    }
    put_text(out, &f.message);
    match &f.tool_fingerprint {
        Some(text) => {
            out.push(1);
            put_text(out, text);
        }
        None => out.push(0),
    }
    put_number(out, f.also_reported_by.len() as u64);
    f.also_reported_by.iter().for_each(|a| put_text(out, a));
    put_number(out, u64::from(f.occurrences));
    tool
}

/// Reads what [`encode`] wrote.
struct Reader<'a> {
    bytes: &'a [u8],
    strings: &'a [Arc<str>],
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (first, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(*first)
    }

    fn number(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            n |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Some(n);
            }
        }
        None
    }

    fn small(&mut self) -> Option<u32> {
        u32::try_from(self.number()?).ok()
    }

    fn text(&mut self) -> Option<&str> {
        let len = usize::try_from(self.number()?).ok()?;
        let (text, rest) = self.bytes.split_at_checked(len)?;
        self.bytes = rest;
        std::str::from_utf8(text).ok()
    }

    fn shared(&mut self) -> Option<Option<Arc<str>>> {
        match self.number()? {
            0 => Some(None),
            n => Some(Some(
                self.strings.get(usize::try_from(n - 1).ok()?)?.clone(),
            )),
        }
    }

    fn required(&mut self) -> Option<Arc<str>> {
        self.shared()?
    }

    fn optional(&mut self) -> Option<Option<u32>> {
        match self.small()? {
            0 => Some(None),
            n => Some(Some(n - 1)),
        }
    }

    fn severity(&mut self) -> Option<Severity> {
        let byte = self.byte()?;
        Severity::ALL.into_iter().find(|s| *s as u8 == byte)
    }
}

fn decode(bytes: &[u8], strings: &[Arc<str>]) -> Option<Finding> {
    let mut r = Reader { bytes, strings };
    let (tool, rule, tool_severity) = (r.required()?, r.required()?, r.required()?);
    let (title, description, help_uri, path) = (r.shared()?, r.shared()?, r.shared()?, r.shared()?);
    let severity = r.severity()?;
    let score = match r.byte()? {
        0 => None,
        _ => {
            let (score, rest) = r.bytes.split_first_chunk::<8>()?;
            r.bytes = rest;
            Some(f64::from_le_bytes(*score))
        }
    };
    let cwes = (0..r.number()?)
        .map(|_| r.small())
        .collect::<Option<ThinVec<u32>>>()?;
    let ids = (0..r.number()?)
        .map(|_| r.required())
        .collect::<Option<ThinVec<Arc<str>>>>()?;
    let package = match r.shared()? {
        Some(name) => Some(Box::new(Package {
            name,
            version: r.shared()?,
            fixed: r.shared()?,
        })),
        None => None,
    };
    let region = match r.small()? {
        0 => None,
        start_line => Some(Region {
            start_line,
            start_column: r.optional()?,
            end_line: r.optional()?,
            end_column: r.optional()?,
        }),
    };
    let message: Arc<str> = Arc::from(r.text()?);
    let tool_fingerprint = match r.byte()? {
        0 => None,
        _ => Some(Arc::from(r.text()?)),
    };
    let also_reported_by = (0..r.number()?)
        .map(|_| r.text().map(str::to_string))
        .collect::<Option<ThinVec<String>>>()?;
    let occurrences = r.small()?;
    let mut finding = Finding::new(tool, rule, severity, message);
    finding.tool_severity = tool_severity;
    finding.title = title;
    finding.description = description;
    finding.help_uri = help_uri;
    finding.path = path;
    finding.score = score;
    finding.cwes = cwes;
    finding.ids = ids;
    finding.package = package;
    finding.region = region;
    finding.tool_fingerprint = tool_fingerprint;
    finding.also_reported_by = also_reported_by;
    finding.occurrences = occurrences;
    Some(finding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn full(i: u32) -> Finding {
        let mut f = Finding::new(
            "trivy".into(),
            "CVE-2024-1".into(),
            Severity::High,
            format!("message {i} ✓").into(),
        );
        f.tool_severity = "HIGH".into();
        f.title = Some("title".into());
        f.description = Some("description".into());
        f.help_uri = Some("https://example.com".into());
        f.score = Some(7.5);
        f.cwes = [79, 100_000].into_iter().collect();
        f.ids = ["CVE-2024-1".into(), "GHSA-x".into()].into_iter().collect();
        f.package = Some(Box::new(Package {
            name: "django".into(),
            version: Some("1.0".into()),
            fixed: None,
        }));
        f.path = Some("requirements.txt".into());
        f.region = Region::span(u64::from(i) + 1, 2, u64::from(i) + 3, 0);
        f.tool_fingerprint = Some("abc".into());
        f.also_reported_by = ["grype:CVE-2024-1".to_string()].into_iter().collect();
        f.occurrences = 2;
        f.fingerprint = Fingerprint([i as u8; 12]);
        f
    }

    /// Equal in everything the outputs show, and in the tool's own fingerprint.
    fn same(a: &Finding, b: &Finding) -> bool {
        serde_json::to_value(a).unwrap() == serde_json::to_value(b).unwrap()
            && a.tool_fingerprint == b.tool_fingerprint
            && a.score.map(f64::to_bits) == b.score.map(f64::to_bits)
    }

    fn text() -> impl Strategy<Value = Arc<str>> {
        ".{0,12}".prop_map(|s: String| Arc::from(s))
    }

    prop_compose! {
        fn any_finding()(
            (tool, rule, message, tool_severity) in (text(), text(), text(), text()),
            (title, description, help_uri, path) in (
                proptest::option::of(text()),
                proptest::option::of(text()),
                proptest::option::of(text()),
                proptest::option::of(text()),
            ),
            severity in proptest::sample::select(Severity::ALL.to_vec()),
            score in proptest::option::of(any::<f64>().prop_filter("comparable", |s| !s.is_nan())),
            cwes in proptest::collection::vec(any::<u32>(), 0..4),
            ids in proptest::collection::vec(text(), 0..4),
            package in proptest::option::of((text(), proptest::option::of(text()), proptest::option::of(text()))),
            region in proptest::option::of((1..=u32::MAX, any::<Option<u32>>(), any::<Option<u32>>(), any::<Option<u32>>())),
            tool_fingerprint in proptest::option::of(text()),
            also_reported_by in proptest::collection::vec(".{0,12}", 0..3),
            (occurrences, fingerprint, accepted) in (any::<u32>(), any::<[u8; 12]>(), proptest::option::of(".{0,12}")),
        ) -> Finding {
            let mut f = Finding::new(tool, rule, severity, message);
            f.tool_severity = tool_severity;
            (f.title, f.description, f.help_uri, f.path) = (title, description, help_uri, path);
            f.score = score;
            f.cwes = cwes.into_iter().collect();
            f.ids = ids.into_iter().collect();
            f.package = package.map(|(name, version, fixed)| Box::new(Package { name, version, fixed }));
            f.region = region.map(|(start_line, start_column, end_line, end_column)| Region {
                start_line, start_column, end_line, end_column,
            });
            f.tool_fingerprint = tool_fingerprint;
            f.also_reported_by = also_reported_by.into_iter().collect();
            f.occurrences = occurrences;
            f.fingerprint = Fingerprint(fingerprint);
            f.accepted = accepted;
            f
        }
    }

    proptest! {
        #[test]
        fn any_finding_reads_back_as_it_was_written(findings in proptest::collection::vec(any_finding(), 1..20)) {
            let store: Findings = findings.iter().cloned().collect();
            for (read, written) in store.iter().zip(&findings) {
                prop_assert!(same(&read, written), "{read:?} != {written:?}");
            }
        }
    }

    #[test]
    fn a_finding_reads_back_as_it_was_written() {
        let bare = Finding::new("bandit".into(), "B1".into(), Severity::Info, "m".into());
        let findings: Findings = [full(1), bare.clone()].into_iter().collect();
        assert!(same(&findings.get(0), &full(1)));
        assert!(same(&findings.get(1), &bare));
    }

    #[test]
    fn findings_past_the_memory_tail_come_back_from_the_file_in_order() {
        let count = 40_000;
        let mut findings: Findings = (0..count).map(full).collect();
        assert!(findings.records.flushed > 0, "records went to the file");
        let mut changed = full(7);
        changed.severity = Severity::Critical;
        findings.replace(7, &changed);
        findings.accept(9, "reviewed".into());
        for (i, f) in findings.iter().enumerate() {
            let mut expected = full(i as u32);
            if i == 7 {
                expected.severity = Severity::Critical;
            }
            if i == 9 {
                expected.accepted = Some("reviewed".into());
            }
            assert!(same(&f, &expected), "finding {i}");
        }
        assert!(same(&findings.get(count as usize - 1), &full(count - 1)));
        assert_eq!(findings.severity(7), Severity::Critical);
        assert!(findings.is_accepted(9));
    }
}
