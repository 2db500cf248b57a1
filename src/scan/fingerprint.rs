//! Fingerprints: GitHub's `primaryLocationLineHash` (the rolling hash upload-sarif computes,
//! so alerts from our SARIF match alerts from other uploads of the same code), and our own
//! identity for a finding, which baselines refer to.

use std::collections::HashMap;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::family::family;
use super::model::{Finding, Fingerprint};

/// A finding's `primaryLocationLineHash`: GitHub's `hash:count` of its line when the source
/// is at hand, else the first 16 hex digits of our fingerprint and `:1`. Held as numbers (one
/// per finding), written as text only in the SARIF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineHash {
    Source { hash: u64, count: u32 },
    Fingerprint(u64),
}

impl LineHash {
    pub fn of_fingerprint(fingerprint: &Fingerprint) -> LineHash {
        LineHash::Fingerprint(fingerprint.prefix())
    }
}

impl std::fmt::Display for LineHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineHash::Source { hash, count } => write!(f, "{hash:x}:{count}"),
            LineHash::Fingerprint(prefix) => write!(f, "{prefix:016x}:1"),
        }
    }
}

impl serde::Serialize for LineHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

const BLOCK_SIZE: usize = 100;
const MOD: u64 = 37;

/// `hash:count` for every line of a text, as codeql-action's `fingerprints.ts` computes it:
/// a base-37 rolling hash over the 100 characters (UTF-16 units, spaces and tabs skipped,
/// CR and CRLF read as LF) starting at each line, in wrapping 64-bit arithmetic; the count
/// tells repeated hashes apart.
pub fn line_hashes(text: &str) -> Vec<Option<LineHash>> {
    let first_mod = (0..BLOCK_SIZE).fold(1u64, |m, _| m.wrapping_mul(MOD));
    let mut hasher = Rolling {
        window: [0; BLOCK_SIZE],
        line_numbers: [-1; BLOCK_SIZE],
        hash: 0,
        first_mod,
        index: 0,
        counts: HashMap::new(),
        out: Vec::new(),
    };
    let mut line_number: i64 = 0;
    let mut line_start = true;
    let mut previous_cr = false;
    let units = text.encode_utf16().chain(std::iter::once(65535u16));
    for unit in units {
        let mut current = u64::from(unit);
        if current == u64::from(b' ')
            || current == u64::from(b'\t')
            || (previous_cr && current == u64::from(b'\n'))
        {
            previous_cr = false;
            continue;
        }
        if current == u64::from(b'\r') {
            current = u64::from(b'\n');
            previous_cr = true;
        } else {
            previous_cr = false;
        }
        if hasher.line_numbers[hasher.index] != -1 {
            hasher.output();
        }
        if line_start {
            line_start = false;
            line_number += 1;
            hasher.line_numbers[hasher.index] = line_number;
        }
        if current == u64::from(b'\n') {
            line_start = true;
        }
        hasher.update(current);
    }
    for _ in 0..BLOCK_SIZE {
        if hasher.line_numbers[hasher.index] != -1 {
            hasher.output();
        }
        hasher.update(0);
    }
    let mut by_line = vec![None; line_number.max(0) as usize];
    for (line, value) in hasher.out {
        if let Some(slot) = by_line.get_mut((line - 1) as usize) {
            *slot = Some(value);
        }
    }
    by_line
}

struct Rolling {
    window: [u64; BLOCK_SIZE],
    line_numbers: [i64; BLOCK_SIZE],
    hash: u64,
    first_mod: u64,
    index: usize,
    counts: HashMap<u64, u32>,
    out: Vec<(i64, LineHash)>,
}

impl Rolling {
    fn output(&mut self) {
        let count = self.counts.entry(self.hash).or_insert(0);
        *count += 1;
        self.out.push((
            self.line_numbers[self.index],
            LineHash::Source {
                hash: self.hash,
                count: *count,
            },
        ));
        self.line_numbers[self.index] = -1;
    }

    fn update(&mut self, current: u64) {
        let begin = self.window[self.index];
        self.window[self.index] = current;
        self.hash = MOD
            .wrapping_mul(self.hash)
            .wrapping_add(current)
            .wrapping_sub(self.first_mod.wrapping_mul(begin));
        self.index = (self.index + 1) % BLOCK_SIZE;
    }
}

/// Line hashes of repository files, read once each; files that cannot be read have none.
#[derive(Debug)]
pub struct SourceHashes {
    root: PathBuf,
    files: HashMap<String, Option<Vec<Option<LineHash>>>>,
}

impl SourceHashes {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        SourceHashes {
            root: root.into(),
            files: HashMap::new(),
        }
    }

    /// The hash of a line (1-based) of a repository file.
    pub fn line(&mut self, path: &str, line: u32) -> Option<LineHash> {
        if path.starts_with("..") || path.starts_with('/') {
            return None;
        }
        let root = &self.root;
        if let Some(known) = self.files.get(path) {
            return *known.as_ref()?.get(line.checked_sub(1)? as usize)?;
        }
        let hashes = self.files.entry(path.to_string()).or_insert_with(|| {
            let full = root.join(path);
            let text = std::fs::read(&full).ok()?;
            Some(line_hashes(&String::from_utf8_lossy(&text)))
        });
        *hashes.as_ref()?.get(line.checked_sub(1)? as usize)?
    }
}

fn digest(parts: &[&str]) -> Fingerprint {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0x1f]);
    }
    let mut identity = [0u8; 12];
    identity.copy_from_slice(&hasher.finalize()[..12]);
    Fingerprint(identity)
}

/// The identity of a finding: for a dependency, the package, version and first id; for code,
/// the file, the line's content hash (so it survives lines moving) or its number, and the rule
/// family (so it does not depend on which tool reported it first).
pub fn identity(finding: &Finding, line_hash: Option<LineHash>) -> Fingerprint {
    if let (Some(package), Some(id)) = (&finding.package, finding.ids.first()) {
        let version = package.version.as_deref().unwrap_or("");
        return digest(&[
            "dependency",
            &package.name.to_ascii_lowercase(),
            version.trim_start_matches('v'),
            id,
        ]);
    }
    let rule = family(finding).map_or_else(
        || format!("{}:{}", finding.tool, finding.rule),
        str::to_string,
    );
    let path = finding.path.as_deref().unwrap_or("");
    let line = finding
        .start_line()
        .map(|l| l.to_string())
        .unwrap_or_default();
    let place = line_hash.map_or(line, |h| h.to_string());
    let detail = if path.is_empty() {
        finding
            .tool_fingerprint
            .as_deref()
            .unwrap_or(&finding.message)
    } else {
        ""
    };
    digest(&["code", &rule, path, &place, detail])
}

/// A finding's identity and its `primaryLocationLineHash`.
pub fn of(finding: &Finding, sources: &mut SourceHashes) -> (Fingerprint, LineHash) {
    let line_hash = finding
        .path
        .as_deref()
        .and_then(|p| sources.line(p, finding.start_line().unwrap_or(1)));
    let identity = identity(finding, line_hash);
    (
        identity,
        line_hash.unwrap_or_else(|| LineHash::of_fingerprint(&identity)),
    )
}

#[cfg(test)]
mod tests {
    /// The hashes as upload-sarif writes them ("" for a line without one).
    fn line_hashes(text: &str) -> Vec<String> {
        super::line_hashes(text)
            .iter()
            .map(|h| h.map_or_else(String::new, |h| h.to_string()))
            .collect()
    }

    #[test]
    fn hashes_ignore_whitespace_and_line_endings() {
        let a = line_hashes("import os\nos.system(x)\n");
        let b = line_hashes("import  os\r\n\tos.system(x)\r\n");
        assert_eq!(a, b);
        assert_eq!(
            a.len(),
            3,
            "a trailing newline starts one more (empty) line"
        );
        assert!(a[0].ends_with(":1"));
    }

    /// Published vectors of codeql-action's `fingerprints.test.ts`.
    #[test]
    fn hashes_match_upload_sarif() {
        assert_eq!(line_hashes(""), vec!["c129715d7a2bc9a3:1"]);
        assert_eq!(
            line_hashes(" a\nb\n  \t\tc\n d"),
            vec![
                "271789c17abda88f:1",
                "54703d4cd895b18:1",
                "180aee12dab6264:1",
                "a23a3dc5e078b07b:1"
            ]
        );
        let expected = [
            "e9496ae3ebfced30:1",
            "fb7c023a8b9ccb3f:1",
            "ce8ba1a563dcdaca:1",
            "e20e36e16fcb0cc8:1",
            "b3edc88f2938467e:1",
            "c8e28b0b4002a3a0:1",
            "c129715d7a2bc9a3:1",
        ];
        assert_eq!(
            line_hashes(" hello; \t\r\nworld!!!\r\n\r\n\r\n  \t\tGreetings\r\n End\r\n"),
            expected
        );
        assert_eq!(
            line_hashes(" hello; \t\nworld!!!\r\r\r  \t\tGreetings\r End\r"),
            expected
        );
        let lorem = line_hashes(&"Lorem ipsum dolor sit amet.\n".repeat(10));
        assert_eq!(lorem[5], "a7f2ff13bc495cf2:6");
        assert_eq!(lorem[6], "a7f2ff1481e87703:1");
        assert_eq!(lorem[10], "c129715d7a2bc9a3:1");
    }

    #[test]
    fn repeated_content_is_counted() {
        let hashes = line_hashes("x\nx\n");
        assert_ne!(hashes[0], hashes[1]);
        let single = line_hashes("a\n");
        // The last line's window ends at EOF: hash of "a\n" + EOF marker, then zeros.
        assert_eq!(single.len(), 2);
    }
}
