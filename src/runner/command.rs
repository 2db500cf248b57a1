//! Workflow commands (`::error file=…::msg`, groups) with the runner's escaping rules, and their
//! plain-text equivalents for a terminal.

use std::io::Write;

use super::mask::redact;

/// Escapes the data part of a workflow command. `%` first, because the runner unescapes it last.
pub fn escape_data(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value of a workflow command.
pub fn escape_property(value: &str) -> String {
    escape_data(value).replace(':', "%3A").replace(',', "%2C")
}

/// Formats `::name k=v,k2=v2::data` with both parts escaped.
pub fn format_command(name: &str, properties: &[(&str, String)], data: &str) -> String {
    let props: Vec<String> = properties
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_property(v)))
        .collect();
    let space = if props.is_empty() { "" } else { " " };
    format!("::{name}{space}{}::{}", props.join(","), escape_data(data))
}

/// The severity of an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// Where an annotation points, and its title. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotation {
    pub title: Option<String>,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub end_line: Option<usize>,
    pub col: Option<usize>,
    pub end_column: Option<usize>,
}

impl Annotation {
    pub fn titled(title: impl Into<String>) -> Self {
        Annotation {
            title: Some(title.into()),
            ..Default::default()
        }
    }

    fn properties(&self) -> Vec<(&'static str, String)> {
        let mut props = Vec::new();
        let numbers = [
            ("line", self.line),
            ("endLine", self.end_line),
            ("col", self.col),
            ("endColumn", self.end_column),
        ];
        if let Some(file) = &self.file {
            props.push(("file", file.clone()));
        }
        props.extend(
            numbers
                .iter()
                .filter_map(|(k, v)| v.map(|n| (*k, n.to_string()))),
        );
        if let Some(title) = &self.title {
            props.push(("title", title.clone()));
        }
        props
    }
}

/// Formats an annotation as a workflow command, with secrets redacted.
pub fn format_annotation(level: Level, at: &Annotation, message: &str) -> String {
    format_command(level.command(), &at.properties(), &redact(message))
}

/// Formats an annotation for a person at a terminal: `error: title: message (file:line:col)`.
pub fn format_human(level: Level, at: &Annotation, message: &str) -> String {
    let mut text = format!("{}: ", level.command());
    if let Some(title) = &at.title {
        text.push_str(&format!("{title}: "));
    }
    text.push_str(message);
    if let Some(file) = &at.file {
        let line = at.line.map(|l| format!(":{l}")).unwrap_or_default();
        let col = at.col.map(|c| format!(":{c}")).unwrap_or_default();
        text.push_str(&format!(" ({file}{line}{col})"));
    }
    redact(&text)
}

/// Prints an annotation: a workflow command under a runner, plain text on stderr otherwise.
pub fn annotate(level: Level, at: &Annotation, message: &str) {
    if super::in_actions() {
        println_raw(&format_annotation(level, at, message));
    } else {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}", format_human(level, at, message));
    }
}

/// Prints one line to stdout, redacted. Under a runner a line that happens to start with `::`
/// would be taken for a command, so data lines never come through here unescaped by callers.
pub fn println_raw(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", redact(line));
}

/// A folded section of the log, closed when dropped.
pub struct Group {
    open: bool,
}

/// Opens `::group::title` under a runner, or prints a heading otherwise.
pub fn group(title: &str) -> Group {
    if super::in_actions() {
        println_raw(&format_command("group", &[], title));
    } else {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "== {}", redact(title));
    }
    Group { open: true }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.open && super::in_actions() {
            println_raw("::endgroup::");
        }
        self.open = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_percent_first_then_newlines() {
        assert_eq!(escape_data("100%\r\ndone"), "100%25%0D%0Adone");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
    }

    #[test]
    fn formats_annotation_with_every_property() {
        let at = Annotation {
            title: Some("Bad: input".into()),
            file: Some("src/a,b.rs".into()),
            line: Some(3),
            end_line: Some(4),
            col: Some(1),
            end_column: Some(9),
        };
        assert_eq!(
            format_annotation(Level::Error, &at, "line1\nline2"),
            "::error file=src/a%2Cb.rs,line=3,endLine=4,col=1,endColumn=9,title=Bad%3A input::line1%0Aline2"
        );
    }

    #[test]
    fn formats_bare_command_without_space() {
        assert_eq!(format_command("warning", &[], "x"), "::warning::x");
    }
}
