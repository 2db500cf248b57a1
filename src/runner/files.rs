//! File commands: step outputs (`GITHUB_OUTPUT`), the job summary (`GITHUB_STEP_SUMMARY`),
//! `GITHUB_ENV` and `GITHUB_STATE`. Written whenever the variable is set, runner or not.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use super::mask::redact;

/// The runner refuses a step summary over 1 MiB; we stop a little short of it.
pub const SUMMARY_LIMIT: usize = 1024 * 1024 - 1024;

/// Formats one `KEY=VALUE` entry, or the heredoc form with a random delimiter when the value
/// has more than one line (or could be mistaken for one), so no value can end the heredoc early.
pub fn format_entry(name: &str, value: &str) -> String {
    if !value.contains('\n') && !value.contains('\r') {
        return format!("{name}={value}\n");
    }
    let delimiter = loop {
        let candidate = format!("ghadelimiter_{}", uuid::Uuid::new_v4());
        if !value.contains(&candidate) {
            break candidate;
        }
    };
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

fn append(variable: &str, text: &str) -> anyhow::Result<bool> {
    let Some(path) = std::env::var_os(variable).filter(|p| !p.is_empty()) else {
        return Ok(false);
    };
    let path = PathBuf::from(path);
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {variable} file {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {variable} file {}", path.display()))?;
    Ok(true)
}

/// Sets step outputs. Under a terminal with no `GITHUB_OUTPUT`, the outputs are printed instead.
#[derive(Debug, Default)]
pub struct Outputs {
    written: Vec<(String, String)>,
}

impl Outputs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets one output. Secrets are redacted even here.
    pub fn set(&mut self, name: &str, value: impl AsRef<str>) -> anyhow::Result<()> {
        let value = redact(value.as_ref());
        append("GITHUB_OUTPUT", &format_entry(name, &value))?;
        self.written.push((name.to_string(), value));
        Ok(())
    }

    /// The outputs set so far, in order.
    pub fn entries(&self) -> &[(String, String)] {
        &self.written
    }

    /// Prints the outputs for a person when there is no `GITHUB_OUTPUT` file to hold them.
    pub fn print_if_no_runner(&self) {
        if std::env::var_os("GITHUB_OUTPUT").is_some() || self.written.is_empty() {
            return;
        }
        println!("outputs:");
        for (name, value) in &self.written {
            if value.contains('\n') {
                println!("  {name}: |");
                value.lines().for_each(|l| println!("    {l}"));
            } else {
                println!("  {name}: {value}");
            }
        }
    }
}

/// Exports a variable for later steps (`GITHUB_ENV`).
pub fn export_env(name: &str, value: &str) -> anyhow::Result<bool> {
    append("GITHUB_ENV", &format_entry(name, &redact(value)))
}

/// Saves state for this action's post step (`GITHUB_STATE`).
pub fn save_state(name: &str, value: &str) -> anyhow::Result<bool> {
    append("GITHUB_STATE", &format_entry(name, value))
}

/// The job summary, built in memory and written once, within the runner's 1 MiB limit.
#[derive(Debug, Default)]
pub struct Summary {
    markdown: String,
}

impl Summary {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn heading(&mut self, level: usize, text: &str) -> &mut Self {
        self.markdown
            .push_str(&format!("{} {text}\n\n", "#".repeat(level.clamp(1, 6))));
        self
    }

    pub fn paragraph(&mut self, text: &str) -> &mut Self {
        self.markdown.push_str(text);
        self.markdown.push_str("\n\n");
        self
    }

    /// A markdown table; `|` in cells is escaped so a value cannot break the layout.
    pub fn table(&mut self, header: &[&str], rows: &[Vec<String>]) -> &mut Self {
        let cell = |c: &str| c.replace('|', "\\|").replace('\n', "<br>");
        self.markdown
            .push_str(&format!("| {} |\n", header.join(" | ")));
        self.markdown
            .push_str(&format!("|{}\n", " --- |".repeat(header.len())));
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
            self.markdown
                .push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        self.markdown.push('\n');
        self
    }

    pub fn code_block(&mut self, language: &str, code: &str) -> &mut Self {
        self.markdown
            .push_str(&format!("```{language}\n{}\n```\n\n", code.trim_end()));
        self
    }

    pub fn as_markdown(&self) -> &str {
        &self.markdown
    }

    /// Writes the summary to `GITHUB_STEP_SUMMARY`, redacted and cut to the size limit.
    pub fn write(&self) -> anyhow::Result<bool> {
        if self.markdown.is_empty() {
            return Ok(false);
        }
        append(
            "GITHUB_STEP_SUMMARY",
            &fit_to_limit(&redact(&self.markdown)),
        )
    }
}

/// Cuts the summary at a line boundary under the limit and says that it did.
pub fn fit_to_limit(markdown: &str) -> String {
    if markdown.len() <= SUMMARY_LIMIT {
        return markdown.to_string();
    }
    let note = "\n\n_The summary was cut here to stay under GitHub's 1 MiB limit._\n";
    let mut end = SUMMARY_LIMIT - note.len();
    while !markdown.is_char_boundary(end) {
        end -= 1;
    }
    let cut = markdown[..end].rfind('\n').unwrap_or(end);
    format!("{}{note}", &markdown[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_values_use_key_equals_value() {
        assert_eq!(format_entry("url", "http://x/?a=b"), "url=http://x/?a=b\n");
    }

    #[test]
    fn multi_line_values_use_a_random_heredoc_delimiter() {
        let entry = format_entry("plan", "a\nb");
        let header = entry.lines().next().unwrap();
        let delimiter = header.strip_prefix("plan<<").unwrap();
        assert!(delimiter.starts_with("ghadelimiter_"));
        assert_eq!(entry, format!("plan<<{delimiter}\na\nb\n{delimiter}\n"));
        assert_ne!(
            delimiter,
            format_entry("plan", "a\nb").lines().next().unwrap()
        );
    }

    #[test]
    fn oversized_summary_is_cut_under_the_limit() {
        let big = "row\n".repeat(400_000);
        let cut = fit_to_limit(&big);
        assert!(cut.len() <= SUMMARY_LIMIT);
        assert!(cut.ends_with("limit._\n"));
    }
}
