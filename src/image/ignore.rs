//! `.dockerignore` with the semantics of Docker's own pattern matcher (moby/patternmatcher and
//! the CLI's ignorefile reader): comments only at the very start of a line, paths cleaned and
//! made relative, `*` and `?` never cross `/`, `**` crosses any number of directories, a pattern
//! that matches a parent directory matches everything below it, and `!` exceptions re-include
//! what an earlier pattern excluded (the last matching pattern wins).

use regex::Regex;

/// A `.dockerignore` pattern that cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: `{pattern}` is not a valid pattern: {problem}")]
pub struct PatternError {
    pub line: usize,
    pub pattern: String,
    pub problem: String,
}

/// How a compiled pattern is checked; the three cheap forms avoid a regular expression, as
/// Docker's matcher does.
#[derive(Debug, Clone)]
enum Kind {
    Exact,
    /// `dir/**`: everything under `dir/` (and `dir` itself when the prefix allows).
    Prefix(String),
    /// `**/name`: any path ending with `/name`, or `name` itself.
    Suffix(String),
    Regex(Regex),
}

/// One pattern of a `.dockerignore`.
#[derive(Debug, Clone)]
pub struct Pattern {
    cleaned: String,
    exclusion: bool,
    kind: Kind,
}

impl Pattern {
    /// The cleaned pattern text, without the `!`.
    pub fn text(&self) -> &str {
        &self.cleaned
    }

    /// True for a `!` exception.
    pub fn is_exception(&self) -> bool {
        self.exclusion
    }

    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.cleaned,
            Kind::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Kind::Suffix(suffix) => {
                path.ends_with(suffix.as_str())
                    || suffix.strip_prefix('/').is_some_and(|rest| path == rest)
            }
            Kind::Regex(regex) => regex.is_match(path),
        }
    }
}

/// The compiled `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
}

/// Per-path match state, passed from a directory to its children so each pattern is evaluated
/// once per path rather than once per ancestor.
#[derive(Debug, Clone, Default)]
pub struct ParentMatches(Vec<bool>);

impl Matcher {
    /// Reads `.dockerignore` text the way the Docker CLI does.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let mut lines = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let raw = if index == 0 {
                raw.trim_start_matches('\u{feff}')
            } else {
                raw
            };
            if let Some(pattern) = read_line(raw) {
                lines.push((index + 1, pattern));
            }
        }
        Self::from_lines(lines)
    }

    /// Compiles patterns already in the CLI's normalised form (as `parse` produces them).
    pub fn from_patterns(patterns: &[String]) -> Result<Self, PatternError> {
        Self::from_lines(patterns.iter().cloned().enumerate().collect())
    }

    fn from_lines(lines: Vec<(usize, String)>) -> Result<Self, PatternError> {
        let mut patterns = Vec::new();
        for (line, text) in lines {
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            patterns.push(compile(line, &clean(text))?);
        }
        Ok(Matcher { patterns })
    }

    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// True when some pattern is a `!` exception.
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// Adds an exception at the end (the CLI does this for the Dockerfile and `.dockerignore`).
    pub fn push_exception(&mut self, path: &str) -> Result<(), PatternError> {
        let pattern = compile(0, &clean(&format!("!{path}")))?;
        self.patterns.push(pattern);
        Ok(())
    }

    /// True when `path` (relative, `/`-separated) is excluded, looking at its parents too.
    pub fn is_excluded(&self, path: &str) -> bool {
        self.matches_with_parents(path, None).0
    }

    /// Like [`Matcher::is_excluded`], reusing the parent directory's results from a walk.
    pub fn matches_with_parents(
        &self,
        path: &str,
        parent: Option<&ParentMatches>,
    ) -> (bool, ParentMatches) {
        let mut excluded = false;
        let mut state = vec![false; self.patterns.len()];
        for (index, pattern) in self.patterns.iter().enumerate() {
            let mut hit = parent.is_some_and(|p| p.0.get(index).copied().unwrap_or(false));
            if !hit {
                // An inclusion cannot change an already excluded path, nor an exception an
                // included one: skip them, exactly as Docker does (this decides `state` too).
                if pattern.exclusion != excluded {
                    continue;
                }
                hit = pattern.matches(path)
                    || (parent.is_none() && ancestors(path).any(|dir| pattern.matches(dir)));
            }
            state[index] = hit;
            if hit {
                excluded = !pattern.exclusion;
            }
        }
        (excluded, ParentMatches(state))
    }

    /// Whether an excluded directory must still be walked because an exception may re-include
    /// something inside it (Docker only looks for exceptions that literally start with the dir).
    pub fn must_descend(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        self.patterns
            .iter()
            .any(|p| p.exclusion && format!("{}/", p.cleaned).starts_with(&dir_slash))
    }
}

/// One line of `.dockerignore` as the CLI reads it: `#` comments only in column one, trimmed,
/// cleaned, leading `/` dropped, `!` kept in front.
fn read_line(raw: &str) -> Option<String> {
    if raw.starts_with('#') {
        return None;
    }
    let mut pattern = raw.trim();
    if pattern.is_empty() {
        return None;
    }
    let invert = pattern.starts_with('!');
    if invert {
        pattern = pattern[1..].trim();
    }
    let mut cleaned = String::new();
    if !pattern.is_empty() {
        cleaned = clean(pattern);
        if cleaned.len() > 1 && cleaned.starts_with('/') {
            cleaned.remove(0);
        }
    }
    Some(if invert {
        format!("!{cleaned}")
    } else {
        cleaned
    })
}

/// Every proper ancestor of a relative path: `a/b/c` gives `a`, `a/b`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// Go's `filepath.Clean` for `/`-separated paths.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

fn compile(line: usize, cleaned: &str) -> Result<Pattern, PatternError> {
    let error = |problem: &str| PatternError {
        line,
        pattern: cleaned.to_string(),
        problem: problem.to_string(),
    };
    let (exclusion, text) = match cleaned.strip_prefix('!') {
        Some("") => return Err(error("a lone `!` excludes nothing; remove the line")),
        Some(rest) => (true, rest.to_string()),
        None => (false, cleaned.to_string()),
    };
    check_brackets(&text).map_err(|p| error(&p))?;
    let kind = translate(&text).map_err(|p| error(&p))?;
    Ok(Pattern {
        cleaned: text,
        exclusion,
        kind,
    })
}

/// Go's `filepath.Match` rejects unbalanced character classes; so do we, with the reason.
fn check_brackets(text: &str) -> Result<(), String> {
    let mut open = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '[' if !open => {
                open = true;
                if chars.peek() == Some(&']') {
                    return Err("empty character class `[]`".into());
                }
            }
            ']' if open => open = false,
            _ => {}
        }
    }
    if open {
        return Err("unclosed `[`; escape it as `\\[` to match it literally".into());
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Form {
    Exact,
    Prefix,
    Suffix,
    Regex,
}

/// Translates a pattern into the cheapest form that matches like Docker's regular expression.
fn translate(text: &str) -> Result<Kind, String> {
    let mut regex = String::from("^");
    let mut form = Form::Exact;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if form == Form::Exact {
                        form = Form::Prefix;
                    } else {
                        regex.push_str(".*");
                        form = Form::Regex;
                    }
                } else {
                    regex.push_str("(.*/)?");
                    form = Form::Regex;
                }
                if first {
                    form = Form::Suffix;
                }
            }
            '*' => {
                regex.push_str("[^/]*");
                form = Form::Regex;
            }
            '?' => {
                regex.push_str("[^/]");
                form = Form::Regex;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                regex.push('\\');
                regex.push(c);
            }
            '\\' => match chars.get(i) {
                Some(next) => {
                    regex.push_str(&regex::escape(&next.to_string()));
                    i += 1;
                }
                None => regex.push_str("\\\\"),
            },
            '[' | ']' => {
                regex.push(c);
                form = Form::Regex;
            }
            other => regex.push(other),
        }
        first = false;
    }
    Ok(match form {
        Form::Exact => Kind::Exact,
        Form::Prefix => Kind::Prefix(text[..text.len() - 2].to_string()),
        Form::Suffix => Kind::Suffix(text[2..].to_string()),
        Form::Regex => {
            regex.push('$');
            Kind::Regex(Regex::new(&regex).map_err(|e| e.to_string())?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excluded(dockerignore: &str, path: &str) -> bool {
        Matcher::parse(dockerignore).unwrap().is_excluded(path)
    }

    #[test]
    fn table_of_docker_semantics() {
        // (patterns, path, excluded) — cases from Docker's documented behaviour.
        let cases: &[(&str, &str, bool)] = &[
            ("*.md", "README.md", true),
            ("*.md", "docs/README.md", false),
            ("*/*.md", "docs/README.md", true),
            ("**/*.md", "docs/a/b/README.md", true),
            ("**/*.md", "README.md", true),
            ("**", "anything/at/all", true),
            ("docs", "docs/a/b.txt", true),
            ("docs/", "docs/a/b.txt", true),
            ("/docs", "docs/a.txt", true),
            ("./docs/../docs", "docs/a.txt", true),
            ("docs/**", "docs/a/b", true),
            ("docs/**", "docsx", false),
            ("temp?", "temp1", true),
            ("temp?", "temp1/x", true),
            ("temp?", "temp/x", false),
            ("temp?", "temp12", false),
            ("**/node_modules", "a/b/node_modules/x.js", true),
            ("**/node_modules", "node_modules", true),
            ("a/**/b", "a/b", true),
            ("a/**/b", "a/x/y/b", true),
            ("a/**/b", "a/xb", false),
            ("*.md\n!README.md", "README.md", false),
            ("*.md\n!README.md", "CHANGES.md", true),
            ("*.md\n!README.md\nREADME.md", "README.md", true),
            ("docs\n!docs/keep.txt", "docs/keep.txt", false),
            ("docs\n!docs/keep.txt", "docs/drop.txt", true),
            ("# comment\n*.log", "# comment", false),
            (" # not a comment", " # not a comment", false),
            ("*.log", "a.log", true),
            ("[a-c].txt", "b.txt", true),
            ("[a-c].txt", "d.txt", false),
            ("a+b(c)", "a+b(c)", true),
            // Docker compares a pattern without wildcards literally, escapes included.
            ("\\*x", "*x", false),
            ("\\*x?", "*xy", true),
            ("\\*x?", "axy", false),
            ("!x", "x", false),
        ];
        for (patterns, path, expected) in cases {
            assert_eq!(
                excluded(patterns, path),
                *expected,
                "patterns {patterns:?} on {path:?}"
            );
        }
    }

    #[test]
    fn reading_trims_cleans_and_skips_comments() {
        let m = Matcher::parse("\u{feff}# c\n\n  /a/./b/  \n! c \n").unwrap();
        let texts: Vec<(&str, bool)> = m
            .patterns()
            .iter()
            .map(|p| (p.text(), p.is_exception()))
            .collect();
        assert_eq!(texts, vec![("a/b", false), ("c", true)]);
    }

    #[test]
    fn descends_only_for_exceptions_inside_the_dir() {
        let m = Matcher::parse("docs\n!docs/keep.txt\n!**/*.md").unwrap();
        assert!(m.must_descend("docs"));
        assert!(!m.must_descend("other"));
    }

    #[test]
    fn bad_patterns_name_their_line() {
        let error = Matcher::parse("ok\n[abc").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.problem.contains("unclosed"));
        assert!(Matcher::parse("!").unwrap_err().problem.contains("lone"));
    }

    #[test]
    fn clean_matches_go() {
        for (input, cleaned) in [
            ("a//b/./c/..", "a/b"),
            ("/../a", "/a"),
            ("../a", "../a"),
            ("", "."),
            ("a/", "a"),
        ] {
            assert_eq!(clean(input), cleaned);
        }
    }

    #[test]
    fn parent_results_agree_with_the_full_check() {
        let m = Matcher::parse("a\n!a/b\na/b/c*").unwrap();
        let (_, a) = m.matches_with_parents("a", None);
        let (_, ab) = m.matches_with_parents("a/b", Some(&a));
        for path in ["a/b/c1", "a/b/d"] {
            assert_eq!(
                m.matches_with_parents(path, Some(&ab)).0,
                m.is_excluded(path),
                "{path}"
            );
        }
    }
}
