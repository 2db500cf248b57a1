//! The next version, decided from the release tags reachable from HEAD and the level of the
//! commits since them. Pure: the git edge supplies the tags and levels.
//!
//! Stable releases ignore prerelease tags for their base but graduate them: with `v1.2.3` and
//! `v1.3.0-rc.2` reachable, a fix releases `1.3.0`, not `1.2.4`. On a prerelease channel the
//! counter moves while the core stays (`1.3.0-rc.1` → `1.3.0-rc.2`), and a bigger change than
//! the channel's core starts a new one (`2.0.0-rc.1`).

use super::version::{self, Level, PreMajor, Version};

/// The release tags that matter, already restricted to those reachable from HEAD.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bases {
    /// The highest stable version.
    pub stable: Option<Version>,
    /// The highest prerelease whose core is above `stable` (any channel): what graduates.
    pub prerelease: Option<Version>,
    /// The highest prerelease on the requested channel whose core is above `stable`.
    pub channel: Option<Version>,
}

/// The options that shape the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub initial: Version,
    pub pre_major: PreMajor,
    /// The prerelease channel (`rc`), or `None` for stable releases.
    pub channel: Option<String>,
}

/// Where a forced version came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forced {
    Input,
    Footer,
}

/// What to release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The version to release, `None` when nothing releasable landed.
    pub version: Option<Version>,
    /// The release this one follows (the channel's last prerelease on a channel).
    pub previous: Option<Version>,
    /// The level applied to the core (after the pre-1.0 shift).
    pub bump: Level,
    /// Why, in one sentence.
    pub reason: String,
}

/// Decides the next version. `since_stable` is the level of `stable..HEAD` (the whole history
/// without a stable tag); `since_channel` that of `channel..HEAD` when a channel tag exists.
pub fn decide(
    bases: &Bases,
    options: &Options,
    since_stable: Level,
    since_channel: Option<Level>,
) -> Decision {
    match &options.channel {
        None => decide_stable(bases, options, since_stable),
        Some(channel) => decide_channel(bases, options, channel, since_stable, since_channel),
    }
}

fn first_release(options: &Options, previous: Option<Version>) -> Decision {
    let core = version::core(&options.initial);
    let version = match &options.channel {
        Some(channel) => version::with_prerelease(&core, channel, 1),
        None => core,
    };
    Decision {
        version: Some(version),
        previous,
        bump: Level::None,
        reason: "no release tag is reachable from HEAD: first release at the initial version"
            .into(),
    }
}

fn decide_stable(bases: &Bases, options: &Options, level: Level) -> Decision {
    let previous = bases.stable.clone();
    if bases.stable.is_none() && bases.prerelease.is_none() {
        return first_release(options, None);
    }
    if level == Level::None {
        return nothing(previous, "no releasable commit since the last release");
    }
    let (bumped, bump) = match &bases.stable {
        Some(stable) => {
            let bump = options.pre_major.effective(level, stable);
            (version::bump(stable, bump), bump)
        }
        None => (Version::new(0, 0, 0), level),
    };
    // A prerelease of a higher core graduates: 1.3.0-rc.2 + fix → 1.3.0.
    let graduating = bases
        .prerelease
        .as_ref()
        .map(version::core)
        .filter(|core| *core > bumped);
    let version = graduating.clone().unwrap_or(bumped);
    let bump = match &previous {
        Some(stable) => Level::between(stable, &version),
        None => bump,
    };
    let reason = match graduating {
        Some(_) => format!("{level} changes graduate the prerelease to {version}"),
        None => format!("the highest change since the last release is {level}"),
    };
    Decision {
        version: Some(version),
        previous,
        bump,
        reason,
    }
}

fn decide_channel(
    bases: &Bases,
    options: &Options,
    channel: &str,
    since_stable: Level,
    since_channel: Option<Level>,
) -> Decision {
    let previous = bases.channel.clone().or_else(|| bases.stable.clone());
    if bases.stable.is_none() && bases.channel.is_none() && bases.prerelease.is_none() {
        return first_release(options, None);
    }
    let new_since_last = match (&bases.channel, since_channel) {
        (Some(_), Some(level)) => level,
        _ => since_stable,
    };
    if new_since_last == Level::None {
        return nothing(previous, "no releasable commit since the last prerelease");
    }
    let (core, bump) = match &bases.stable {
        Some(stable) => {
            let bump = options
                .pre_major
                .effective(since_stable.max(Level::Patch), stable);
            (version::bump(stable, bump), bump)
        }
        None => (version::core(&options.initial), Level::None),
    };
    let version = match &bases.channel {
        Some(last) if version::core(last) >= core => version::with_prerelease(
            &version::core(last),
            channel,
            version::prerelease_number(last) + 1,
        ),
        _ => version::with_prerelease(&core, channel, 1),
    };
    Decision {
        reason: format!(
            "{new_since_last} changes since {} on channel {channel}",
            describe(&previous)
        ),
        version: Some(version),
        previous,
        bump,
    }
}

fn describe(previous: &Option<Version>) -> String {
    previous
        .as_ref()
        .map_or_else(|| "the start".to_string(), |v| v.to_string())
}

fn nothing(previous: Option<Version>, reason: &str) -> Decision {
    Decision {
        version: None,
        previous,
        bump: Level::None,
        reason: reason.to_string(),
    }
}

/// Applies a forced version (`release_as` input or `Release-As:` footer). A forced version must
/// be above every release it follows; otherwise the message says why it cannot be used.
pub fn force(decision: Decision, forced: Version, bases: &Bases) -> Result<Decision, String> {
    let highest = [&bases.stable, &bases.channel, &bases.prerelease]
        .into_iter()
        .flatten()
        .max();
    if let Some(highest) = highest.filter(|h| forced <= **h) {
        return Err(format!(
            "{forced} is not above the last release {highest} reachable from HEAD"
        ));
    }
    let bump = decision
        .previous
        .as_ref()
        .map_or(Level::None, |p| Level::between(p, &forced));
    Ok(Decision {
        reason: format!("the version is forced to {forced}"),
        version: Some(forced),
        bump,
        ..decision
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    fn bases(stable: Option<&str>, prerelease: Option<&str>, channel: Option<&str>) -> Bases {
        Bases {
            stable: stable.map(v),
            prerelease: prerelease.map(v),
            channel: channel.map(v),
        }
    }

    fn options(channel: Option<&str>) -> Options {
        Options {
            initial: v("0.1.0"),
            pre_major: PreMajor::default(),
            channel: channel.map(Into::into),
        }
    }

    fn next(b: &Bases, o: &Options, s: Level, c: Option<Level>) -> Option<String> {
        decide(b, o, s, c).version.map(|v| v.to_string())
    }

    #[test]
    fn stable_table() {
        let o = options(None);
        let table = [
            (
                bases(Some("1.2.3"), None, None),
                Level::Patch,
                Some("1.2.4"),
            ),
            (
                bases(Some("1.2.3"), None, None),
                Level::Minor,
                Some("1.3.0"),
            ),
            (
                bases(Some("1.2.3"), None, None),
                Level::Major,
                Some("2.0.0"),
            ),
            (bases(Some("1.2.3"), None, None), Level::None, None),
            (bases(None, None, None), Level::None, Some("0.1.0")),
            (bases(None, None, None), Level::Minor, Some("0.1.0")),
            (
                bases(Some("1.2.3"), Some("1.3.0-rc.2"), None),
                Level::Patch,
                Some("1.3.0"),
            ),
            (
                bases(Some("1.2.3"), Some("1.3.0-rc.2"), None),
                Level::Major,
                Some("2.0.0"),
            ),
            (
                bases(None, Some("1.2.0-rc.1"), None),
                Level::Patch,
                Some("1.2.0"),
            ),
            (
                bases(Some("0.3.1"), None, None),
                Level::Major,
                Some("1.0.0"),
            ),
        ];
        for (b, level, expected) in table {
            assert_eq!(
                next(&b, &o, level, None).as_deref(),
                expected,
                "{b:?} {level}"
            );
        }
    }

    #[test]
    fn pre_major_shift() {
        let o = Options {
            pre_major: PreMajor {
                breaking: Level::Minor,
                feature: Level::Patch,
            },
            ..options(None)
        };
        let b = bases(Some("0.3.1"), None, None);
        assert_eq!(next(&b, &o, Level::Major, None).as_deref(), Some("0.4.0"));
        assert_eq!(next(&b, &o, Level::Minor, None).as_deref(), Some("0.3.2"));
        assert_eq!(decide(&b, &o, Level::Minor, None).bump, Level::Patch);
    }

    #[test]
    fn channel_table() {
        let o = options(Some("rc"));
        let table = [
            // First prerelease of a new core.
            (
                bases(Some("1.2.3"), None, None),
                Level::Minor,
                None,
                Some("1.3.0-rc.1"),
            ),
            // Same core: the counter moves.
            (
                bases(Some("1.2.3"), Some("1.3.0-rc.1"), Some("1.3.0-rc.1")),
                Level::Minor,
                Some(Level::Patch),
                Some("1.3.0-rc.2"),
            ),
            // A bigger change starts a new core.
            (
                bases(Some("1.2.3"), Some("1.3.0-rc.2"), Some("1.3.0-rc.2")),
                Level::Major,
                Some(Level::Major),
                Some("2.0.0-rc.1"),
            ),
            // Nothing new since the last prerelease.
            (
                bases(Some("1.2.3"), Some("1.3.0-rc.2"), Some("1.3.0-rc.2")),
                Level::Minor,
                Some(Level::None),
                None,
            ),
            // No tag at all.
            (
                bases(None, None, None),
                Level::None,
                None,
                Some("0.1.0-rc.1"),
            ),
            // Only a prerelease of the same channel, no stable yet.
            (
                bases(None, Some("0.1.0-rc.1"), Some("0.1.0-rc.1")),
                Level::Patch,
                Some(Level::Patch),
                Some("0.1.0-rc.2"),
            ),
        ];
        for (b, s, c, expected) in table {
            assert_eq!(next(&b, &o, s, c).as_deref(), expected, "{b:?} {s} {c:?}");
        }
    }

    #[test]
    fn forced_versions_must_move_forward() {
        let b = bases(Some("7.0.1"), None, None);
        let d = decide(&b, &options(None), Level::Major, None);
        let forced = force(d.clone(), v("7.1.0"), &b).unwrap();
        assert_eq!(forced.version, Some(v("7.1.0")));
        assert_eq!(forced.bump, Level::Minor);
        assert!(force(d, v("7.0.1"), &b).unwrap_err().contains("not above"));
    }
}
