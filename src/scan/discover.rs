//! Finding the report files: each `reports` item is a path or a glob, optionally prefixed with
//! `tool:` to force the format.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

use super::detect::TOOLS;

/// One `reports` item, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub tool: Option<String>,
    pub pattern: String,
}

/// Splits `tool:path`. A prefix that is not a known tool is an error, unless the whole item is
/// an existing path (a file name may contain a colon).
pub fn parse_spec(item: &str) -> Result<Spec, String> {
    let item = item.trim();
    if let Some((tool, pattern)) = item.split_once(':') {
        let tool = tool.trim().to_ascii_lowercase();
        if TOOLS.contains(&tool.as_str()) {
            return Ok(Spec {
                tool: Some(tool),
                pattern: pattern.trim().to_string(),
            });
        }
        let looks_like_tool = !tool.is_empty()
            && tool
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if looks_like_tool && !Path::new(item).exists() {
            return Err(format!(
                "`{tool}` in `{item}` is not a tool we parse; known tools: {}",
                TOOLS.join(", ")
            ));
        }
    }
    Ok(Spec {
        tool: None,
        pattern: item.to_string(),
    })
}

fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', '{'])
}

/// The directory to walk for a glob: its longest leading part without glob characters.
fn walk_root(pattern: &str) -> PathBuf {
    let literal: Vec<&str> = pattern
        .split('/')
        .take_while(|part| !is_glob(part))
        .collect();
    let root = literal.join("/");
    if root.is_empty() {
        PathBuf::from(if pattern.starts_with('/') { "/" } else { "." })
    } else {
        PathBuf::from(root)
    }
}

fn walk(dir: &Path, matcher: &GlobMatcher, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if entry.file_name() != ".git" {
                walk(&path, matcher, found);
            }
        } else {
            let candidate = path.strip_prefix("./").unwrap_or(&path);
            if matcher.is_match(candidate) {
                found.push(path);
            }
        }
    }
}

/// The files a pattern names, sorted. A literal path is returned as it is (it may not exist).
pub fn expand(pattern: &str) -> Result<Vec<PathBuf>, String> {
    if !is_glob(pattern) {
        return Ok(vec![PathBuf::from(pattern)]);
    }
    let normalised = pattern.strip_prefix("./").unwrap_or(pattern);
    let glob = GlobBuilder::new(normalised)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("`{pattern}` is not a valid glob: {e}"))?;
    let matcher = glob.compile_matcher();
    let mut found = Vec::new();
    walk(&walk_root(normalised), &matcher, &mut found);
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_prefixes_force_the_format() {
        assert_eq!(
            parse_spec("trivy:out/trivy.json").unwrap(),
            Spec {
                tool: Some("trivy".into()),
                pattern: "out/trivy.json".into()
            }
        );
        assert_eq!(parse_spec("reports/*.sarif").unwrap().tool, None);
        assert!(
            parse_spec("nessus:scan.xml")
                .unwrap_err()
                .contains("known tools")
        );
    }

    #[test]
    fn globs_walk_from_their_literal_prefix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        for f in ["a/x.json", "a/b/y.json", "a/z.txt"] {
            std::fs::write(dir.path().join(f), "[]").unwrap();
        }
        let base = dir.path().display().to_string();
        let all = expand(&format!("{base}/a/**/*.json")).unwrap();
        assert_eq!(all.len(), 2);
        let top = expand(&format!("{base}/a/*.json")).unwrap();
        assert_eq!(top, vec![dir.path().join("a/x.json")]);
    }
}
