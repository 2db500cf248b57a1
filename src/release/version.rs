//! Version arithmetic: bump levels, the pre-1.0 shift, prerelease channels and tag names.
//!
//! Versions are `semver::Version`. Build metadata is dropped everywhere it is read, because it
//! carries no precedence and a release must not inherit the previous build's metadata.

use std::fmt;

pub use semver::Version;
use semver::{BuildMetadata, Prerelease};

/// How far a release moves the version. Ordered, so the highest level in a range wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Level {
    #[default]
    None,
    Patch,
    Minor,
    Major,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Patch => "patch",
            Level::Minor => "minor",
            Level::Major => "major",
        }
    }

    /// Parses `major`, `minor`, `patch` or `none` (case-insensitive).
    pub fn parse(text: &str) -> Option<Level> {
        match text.trim().to_ascii_lowercase().as_str() {
            "major" => Some(Level::Major),
            "minor" => Some(Level::Minor),
            "patch" => Some(Level::Patch),
            "none" => Some(Level::None),
            _ => None,
        }
    }

    /// The level that separates two versions (what moved first), `None` when equal cores.
    pub fn between(from: &Version, to: &Version) -> Level {
        if to.major != from.major {
            Level::Major
        } else if to.minor != from.minor {
            Level::Minor
        } else if to.patch != from.patch {
            Level::Patch
        } else {
            Level::None
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What breaking changes and features do while the major version is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreMajor {
    /// `Major` (semver: 0.x → 1.0.0) or `Minor` (release-please `bump-minor-pre-major`).
    pub breaking: Level,
    /// `Minor` (semver) or `Patch` (release-please `bump-patch-for-minor-pre-major`).
    pub feature: Level,
}

impl Default for PreMajor {
    fn default() -> Self {
        PreMajor {
            breaking: Level::Major,
            feature: Level::Minor,
        }
    }
}

impl PreMajor {
    /// The level actually applied to `base`: before 1.0.0 the configured shift applies.
    pub fn effective(self, level: Level, base: &Version) -> Level {
        if base.major != 0 {
            return level;
        }
        match level {
            Level::Major => self.breaking,
            Level::Minor => self.feature,
            other => other,
        }
    }
}

/// The release core of a version: no prerelease, no build metadata.
pub fn core(version: &Version) -> Version {
    Version::new(version.major, version.minor, version.patch)
}

/// Bumps the core of `base` by `level`. `None` returns the core unchanged.
pub fn bump(base: &Version, level: Level) -> Version {
    let (major, minor, patch) = (base.major, base.minor, base.patch);
    match level {
        Level::Major => Version::new(major + 1, 0, 0),
        Level::Minor => Version::new(major, minor + 1, 0),
        Level::Patch => Version::new(major, minor, patch + 1),
        Level::None => core(base),
    }
}

/// `core-channel.n`, e.g. `1.3.0-rc.2`.
pub fn with_prerelease(core_version: &Version, channel: &str, number: u64) -> Version {
    let mut version = core(core_version);
    version.pre = Prerelease::new(&format!("{channel}.{number}"))
        .expect("a validated channel id followed by a number is a valid prerelease");
    version
}

/// The channel of a prerelease version (`rc` in `1.3.0-rc.2`), `None` for a stable version.
pub fn channel(version: &Version) -> Option<&str> {
    if version.pre.is_empty() {
        return None;
    }
    version.pre.as_str().split('.').next()
}

/// The counter of a prerelease (`2` in `1.3.0-rc.2`); a channel without a number counts as 0.
pub fn prerelease_number(version: &Version) -> u64 {
    version
        .pre
        .as_str()
        .split('.')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Checks a prerelease channel id: ASCII letters, digits and hyphens, not only digits.
pub fn valid_channel(channel: &str) -> bool {
    !channel.is_empty()
        && channel
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !channel.chars().all(|c| c.is_ascii_digit())
}

/// Parses a version written by a person (`1.2.3` or `v1.2.3`), dropping build metadata.
pub fn parse_loose(text: &str) -> Option<Version> {
    let text = text.trim();
    let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
    let mut version = Version::parse(text).ok()?;
    version.build = BuildMetadata::EMPTY;
    Some(version)
}

/// The version a tag name stands for under `prefix`. Bare `1.2.3` tags are also read when the
/// prefix is `v`, because many repositories switched between the two spellings.
pub fn parse_tag(name: &str, prefix: &str) -> Option<Version> {
    let rest = match name.strip_prefix(prefix) {
        Some(rest) => rest,
        None if prefix == "v" => name,
        None => return None,
    };
    if !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut version = Version::parse(rest).ok()?;
    version.build = BuildMetadata::EMPTY;
    Some(version)
}

/// The tag name for a version.
pub fn tag_name(prefix: &str, version: &Version) -> String {
    format!("{prefix}{version}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn bumps_reset_lower_parts_and_drop_prerelease() {
        let table = [
            ("1.2.3", Level::Major, "2.0.0"),
            ("1.2.3", Level::Minor, "1.3.0"),
            ("1.2.3", Level::Patch, "1.2.4"),
            ("1.2.3", Level::None, "1.2.3"),
            ("1.3.0-rc.2", Level::Patch, "1.3.1"),
            ("0.9.9", Level::Major, "1.0.0"),
        ];
        for (base, level, expected) in table {
            assert_eq!(bump(&v(base), level), v(expected), "{base} + {level}");
        }
    }

    #[test]
    fn pre_major_options_shift_levels_only_before_one() {
        let shift = PreMajor {
            breaking: Level::Minor,
            feature: Level::Patch,
        };
        assert_eq!(shift.effective(Level::Major, &v("0.3.1")), Level::Minor);
        assert_eq!(shift.effective(Level::Minor, &v("0.3.1")), Level::Patch);
        assert_eq!(shift.effective(Level::Patch, &v("0.3.1")), Level::Patch);
        assert_eq!(shift.effective(Level::Major, &v("1.3.1")), Level::Major);
        let semver = PreMajor::default();
        assert_eq!(semver.effective(Level::Major, &v("0.3.1")), Level::Major);
    }

    #[test]
    fn tags_are_read_under_their_prefix() {
        assert_eq!(parse_tag("v1.2.3", "v"), Some(v("1.2.3")));
        assert_eq!(parse_tag("1.2.3", "v"), Some(v("1.2.3")));
        assert_eq!(parse_tag("v1.2.3+build.7", "v"), Some(v("1.2.3")));
        assert_eq!(parse_tag("v1.3.0-rc.1", "v"), Some(v("1.3.0-rc.1")));
        assert_eq!(
            parse_tag("deploy-tcb-v2.0.0", "deploy-tcb-v"),
            Some(v("2.0.0"))
        );
        assert_eq!(parse_tag("v2.0.0", "deploy-tcb-v"), None);
        assert_eq!(parse_tag("v1", "v"), None);
        assert_eq!(parse_tag("vnext", "v"), None);
        assert_eq!(parse_tag("latest", "v"), None);
    }

    #[test]
    fn prerelease_parts() {
        let rc = v("1.3.0-rc.2");
        assert_eq!(channel(&rc), Some("rc"));
        assert_eq!(prerelease_number(&rc), 2);
        assert_eq!(prerelease_number(&v("1.3.0-beta")), 0);
        assert_eq!(channel(&v("1.3.0")), None);
        assert_eq!(with_prerelease(&v("1.3.0"), "rc", 3), v("1.3.0-rc.3"));
        assert!(valid_channel("beta") && valid_channel("rc-x"));
        assert!(!valid_channel("") && !valid_channel("12") && !valid_channel("a.b"));
    }

    #[test]
    fn level_between_versions() {
        assert_eq!(Level::between(&v("1.2.3"), &v("2.0.0")), Level::Major);
        assert_eq!(Level::between(&v("1.2.3"), &v("1.2.9")), Level::Patch);
        assert_eq!(Level::between(&v("1.3.0-rc.1"), &v("1.3.0")), Level::None);
    }
}
