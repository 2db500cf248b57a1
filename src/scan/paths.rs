//! Repository-relative paths. GitHub resolves relative URIs from the repository root and
//! reopens alerts when the same file is named differently, so every path is normalised here:
//! `file://` and `%SRCROOT%` forms, `./` prefixes, backslashes and absolute paths under the
//! checkout all become the same `dir/file` form.

use std::path::Path;

#[derive(Debug, Clone)]
pub struct RepoPaths {
    /// Absolute root with `/` separators and no trailing slash.
    root: String,
}

impl RepoPaths {
    pub fn new(root: &Path) -> Self {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let text = root.to_string_lossy().replace('\\', "/");
        RepoPaths {
            root: text.trim_end_matches('/').to_string(),
        }
    }

    /// The checkout: `GITHUB_WORKSPACE` under a runner, else the working directory.
    pub fn from_env() -> Self {
        let root = std::env::var_os("GITHUB_WORKSPACE")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| ".".into());
        RepoPaths::new(&root)
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    /// The path relative to the root; `None` for an empty path.
    pub fn relative(&self, raw: &str) -> Option<String> {
        let mut path = raw.trim().replace('\\', "/");
        if let Some(rest) = path.strip_prefix("file://") {
            path = percent_decode(rest.strip_prefix("localhost").unwrap_or(rest));
        }
        if let Some(rest) = path.strip_prefix("%SRCROOT%") {
            path = rest.to_string();
        }
        if let Some(rest) = path.strip_prefix(&self.root)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            path = rest.to_string();
        }
        let mut parts: Vec<&str> = Vec::new();
        for part in path.split('/') {
            match part {
                "" | "." => {}
                ".." if parts.last().is_some_and(|p| *p != "..") => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        (!parts.is_empty()).then(|| parts.join("/"))
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_repo_file_is_the_same_path() {
        let paths = RepoPaths {
            root: "/home/runner/work/app".into(),
        };
        for raw in [
            "app/main.py",
            "./app/main.py",
            "/home/runner/work/app/app/main.py",
            "file:///home/runner/work/app/app/main.py",
            "%SRCROOT%/app/main.py",
            "app\\main.py",
            "/app/main.py",
        ] {
            assert_eq!(paths.relative(raw).as_deref(), Some("app/main.py"), "{raw}");
        }
        assert_eq!(
            paths.relative("file:///x/my%20file.py").as_deref(),
            Some("x/my file.py")
        );
        assert_eq!(paths.relative(" "), None);
    }
}
