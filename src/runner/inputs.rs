//! Typed input values. Each parser is used by clap for both the `--flag` and the runner's
//! `INPUT_<NAME>` variable, so a terminal and a workflow get the same validation and messages.

use std::fmt;
use std::time::Duration;

/// A secret input value: registered with the mask as soon as it is parsed (before anything is
/// printed), and never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        super::mask::register(&value);
        Secret(value)
    }

    /// The secret itself, for the one place that needs it (a signature, a header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// clap parser for secrets.
pub fn parse_secret(value: &str) -> Result<Secret, String> {
    Ok(Secret::new(value.trim()))
}

/// clap parser for booleans, as the YAML 1.2 core schema spells them in `with:`.
pub fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim() {
        "true" | "True" | "TRUE" => Ok(true),
        "false" | "False" | "FALSE" | "" => Ok(false),
        other => Err(format!("`{other}` is not a boolean; use true or false")),
    }
}

/// A list input: items separated by commas or newlines, trimmed, empty items dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct List(pub Vec<String>);

impl List {
    pub fn items(&self) -> &[String] {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// clap parser for lists.
pub fn parse_list(value: &str) -> Result<List, String> {
    Ok(List(split_list(value)))
}

/// Splits on commas and newlines.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Lines of `KEY=VALUE` pairs (env vars, build args). Only newlines separate entries, because
/// values may contain commas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyValues(pub Vec<(String, String)>);

/// clap parser for `KEY=VALUE` lines; `#` starts a comment line.
pub fn parse_key_values(value: &str) -> Result<KeyValues, String> {
    let mut pairs = Vec::new();
    for (index, line) in value.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, val)) = line.split_once('=') else {
            return Err(format!(
                "line {} (`{line}`) is not KEY=VALUE; write one KEY=VALUE per line",
                index + 1
            ));
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "line {}: `{key}` is not a valid name; use letters, digits and _",
                index + 1
            ));
        }
        pairs.push((key.to_string(), val.trim().to_string()));
    }
    Ok(KeyValues(pairs))
}

/// Secret `KEY=VALUE` lines: every value is masked as soon as it is parsed.
pub fn parse_secret_key_values(value: &str) -> Result<KeyValues, String> {
    super::mask::register(value);
    let pairs = parse_key_values(value)?;
    pairs.0.iter().for_each(|(_, v)| super::mask::register(v));
    Ok(pairs)
}

/// clap parser for durations: `90s`, `5m`, `1h 30m`, or a bare number of seconds.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(value)
        .map_err(|e| format!("`{value}` is not a duration ({e}); write it like 90s, 5m or 1h30m"))
}

/// clap parser for a traffic share in percent, 0 to 100.
pub fn parse_percent(value: &str) -> Result<u8, String> {
    let trimmed = value.trim().trim_end_matches('%');
    match trimmed.parse::<u8>() {
        Ok(p) if p <= 100 => Ok(p),
        _ => Err(format!(
            "`{value}` is not a percentage; use a whole number from 0 to 100"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_follow_yaml_core_schema() {
        assert_eq!(parse_bool("True"), Ok(true));
        assert_eq!(parse_bool("FALSE"), Ok(false));
        assert!(parse_bool("yes").unwrap_err().contains("true or false"));
    }

    #[test]
    fn lists_split_on_commas_and_newlines() {
        assert_eq!(parse_list("a, b\nc,,\n").unwrap().0, vec!["a", "b", "c"]);
    }

    #[test]
    fn key_values_keep_commas_and_reject_bad_lines() {
        let kv = parse_key_values("# c\nA=1,2\nB = x=y\n").unwrap();
        assert_eq!(
            kv.0,
            vec![("A".into(), "1,2".into()), ("B".into(), "x=y".into())]
        );
        assert!(parse_key_values("JUSTKEY").unwrap_err().contains("line 1"));
    }

    #[test]
    fn durations_accept_units_and_bare_seconds() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("soon").unwrap_err().contains("90s"));
    }

    #[test]
    fn percent_is_bounded() {
        assert_eq!(parse_percent("25%"), Ok(25));
        assert!(parse_percent("101").is_err());
    }

    #[test]
    fn secret_debug_never_shows_the_value() {
        assert_eq!(format!("{:?}", Secret::new("hunter2-long")), "Secret(***)");
    }
}
