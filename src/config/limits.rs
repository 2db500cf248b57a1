//! The limits every deploy setting must respect, shared by the config file (checked while it is
//! parsed, so the error points at the line) and the inline inputs (checked before anything runs).
//!
//! Each check returns the problem and the fix in one sentence, so the caller only adds where the
//! value came from.

use std::sync::OnceLock;

use regex::Regex;

/// CloudBase Run's smallest and largest CPU size per instance, in cores.
pub const CPU_RANGE: (f64, f64) = (0.25, 16.0);
/// Memory per instance, in GiB.
pub const MEM_RANGE: (f64, f64) = (0.5, 64.0);
/// The access types `DiffConfigItem{Key:"AccessTypes"}` accepts.
pub const ACCESS_TYPES: [&str; 4] = ["PUBLIC", "OA", "MINIAPP", "VPC"];
/// The policy types `PolicyDetails[].PolicyType` accepts.
pub const POLICY_TYPES: [&str; 3] = ["cpu", "mem", "cpu/mem"];

/// CPU cores per instance.
pub fn cpu(value: f64) -> Result<(), String> {
    in_range(value, CPU_RANGE, "cores", "for example 0.5, 1 or 2")
}

/// Memory per instance in GiB.
pub fn mem(value: f64) -> Result<(), String> {
    in_range(value, MEM_RANGE, "GiB", "for example 1 or 2")
}

fn in_range(value: f64, (low, high): (f64, f64), unit: &str, example: &str) -> Result<(), String> {
    if value.is_finite() && (low..=high).contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{value} is outside {low} to {high} {unit}; use a value in that range, {example}"
        ))
    }
}

/// Minimum and maximum instance counts, when both are known.
pub fn instances(min: Option<u32>, max: Option<u32>) -> Result<(), String> {
    match (min, max) {
        (_, Some(0)) => Err("max_instances is 0, so nothing could serve; use 1 or more".into()),
        (Some(min), Some(max)) if min > max => Err(format!(
            "min_instances ({min}) is larger than max_instances ({max}); make min_instances at most max_instances"
        )),
        _ => Ok(()),
    }
}

/// An autoscaling policy, `type:threshold` (`cpu:60`, `mem:70`, `cpu/mem:60`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Policy {
    pub kind: String,
    pub threshold: u32,
}

impl Policy {
    pub fn parse(text: &str) -> Result<Self, String> {
        let fix = "write it as type:threshold, for example cpu:60 or mem:70 (types: cpu, mem, cpu/mem; threshold 1 to 100)";
        let Some((kind, threshold)) = text.trim().rsplit_once(':') else {
            return Err(format!("`{text}` is not a policy; {fix}"));
        };
        let kind = kind.trim().to_ascii_lowercase();
        if !POLICY_TYPES.contains(&kind.as_str()) {
            return Err(format!("`{kind}` is not a policy type; {fix}"));
        }
        match threshold.trim().trim_end_matches('%').parse::<u32>() {
            Ok(t) if (1..=100).contains(&t) => Ok(Policy { kind, threshold: t }),
            _ => Err(format!("`{threshold}` is not a threshold; {fix}")),
        }
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind, self.threshold)
    }
}

/// An access type, normalised to the upper case the API uses.
pub fn access_type(text: &str) -> Result<String, String> {
    let upper = text.trim().to_ascii_uppercase();
    if ACCESS_TYPES.contains(&upper.as_str()) {
        Ok(upper)
    } else {
        Err(format!(
            "`{text}` is not an access type; use some of {}",
            ACCESS_TYPES.join(", ")
        ))
    }
}

/// An environment variable name.
pub fn env_var_name(name: &str) -> Result<(), String> {
    static NAME: OnceLock<Regex> = OnceLock::new();
    let pattern = NAME.get_or_init(|| Regex::new("^[A-Za-z_][A-Za-z0-9_]*$").expect("valid regex"));
    if pattern.is_match(name) {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid variable name; use letters, digits and _, not starting with a digit"
        ))
    }
}

/// A service name: letters, digits, `-` and `_`, starting with a letter. Deliberately lenient:
/// it catches paths, spaces and typos without guessing the cloud's exact rule.
pub fn service_name(name: &str) -> Result<(), String> {
    static NAME: OnceLock<Regex> = OnceLock::new();
    let pattern =
        NAME.get_or_init(|| Regex::new("^[A-Za-z][A-Za-z0-9_-]{0,63}$").expect("valid regex"));
    if pattern.is_match(name) {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a service name; use letters, digits, - and _ (starting with a letter, at most 64 characters)"
        ))
    }
}

/// An environment id such as `prod-1a2b3c`.
pub fn env_id(id: &str) -> Result<(), String> {
    static ID: OnceLock<Regex> = OnceLock::new();
    let pattern =
        ID.get_or_init(|| Regex::new("^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$").expect("valid regex"));
    if pattern.is_match(id) {
        Ok(())
    } else {
        Err(format!(
            "`{id}` is not an environment id; copy the id from the CloudBase console, for example prod-1a2b3c"
        ))
    }
}

/// An image reference: `[registry/]repository[:tag][@sha256:<64 hex>]`, lower-case repository.
pub fn image(reference: &str) -> Result<(), String> {
    static IMAGE: OnceLock<Regex> = OnceLock::new();
    let pattern = IMAGE.get_or_init(|| {
        Regex::new(concat!(
            r"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?",   // registry host and port
            r"[a-z0-9]+(?:[._-]+[a-z0-9]+)*",       // first path component
            r"(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*", // more path components
            r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?", // tag
            r"(?:@sha256:[0-9a-f]{64})?$",          // digest
        ))
        .expect("valid regex")
    });
    if pattern.is_match(reference) {
        Ok(())
    } else {
        Err(format!(
            "`{reference}` is not an image reference; write it as registry/repository:tag or with @sha256:<digest>, repository in lower case, for example ccr.ccs.tencentyun.com/team/app:1.2.3"
        ))
    }
}

/// The path the health check requests.
pub fn health_path(path: &str) -> Result<(), String> {
    if path.starts_with('/') && !path.chars().any(char::is_whitespace) {
        Ok(())
    } else {
        Err(format!(
            "`{path}` is not a path; start it with / and leave out spaces, for example /healthz"
        ))
    }
}

/// A traffic share for a gray release.
pub fn gray_traffic(percent: u8) -> Result<(), String> {
    if percent < 100 {
        Ok(())
    } else {
        Err("a gray release with 100% traffic is a full release; use release_type: full, or a traffic share below 100".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_and_mem_ranges() {
        assert!(cpu(0.25).is_ok() && cpu(16.0).is_ok());
        assert!(cpu(0.1).unwrap_err().contains("0.25 to 16"));
        assert!(cpu(f64::NAN).is_err());
        assert!(mem(2.0).is_ok());
        assert!(mem(0.1).is_err());
    }

    #[test]
    fn instances_must_be_ordered() {
        assert!(instances(Some(1), Some(3)).is_ok());
        assert!(instances(Some(4), Some(3)).unwrap_err().contains("larger"));
        assert!(instances(None, Some(0)).is_err());
        assert!(instances(Some(9), None).is_ok());
    }

    #[test]
    fn policies_parse_and_print() {
        let p = Policy::parse("CPU:60").unwrap();
        assert_eq!(p.to_string(), "cpu:60");
        assert_eq!(Policy::parse("cpu/mem:70%").unwrap().threshold, 70);
        assert!(Policy::parse("disk:60").unwrap_err().contains("cpu:60"));
        assert!(Policy::parse("cpu:0").is_err());
        assert!(Policy::parse("cpu").is_err());
    }

    #[test]
    fn access_types_are_normalised() {
        assert_eq!(access_type("public").unwrap(), "PUBLIC");
        assert!(access_type("internet").unwrap_err().contains("MINIAPP"));
    }

    #[test]
    fn names_and_images() {
        assert!(env_var_name("DATABASE_URL").is_ok());
        assert!(env_var_name("1X").is_err());
        assert!(service_name("api-server").is_ok());
        assert!(service_name("api/server").is_err());
        assert!(env_id("prod-1a2b3c").is_ok());
        assert!(env_id("prod 1").is_err());
        for ok in [
            "nginx",
            "ccr.ccs.tencentyun.com/team/app:1.2.3",
            "localhost:5000/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "registry.local/synthetic:healthy",
        ] {
            assert!(image(ok).is_ok(), "{ok}");
        }
        for bad in ["", "App:1", "team/app:", "app:1 2", "app@sha256:xyz"] {
            assert!(image(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn health_paths_and_gray_traffic() {
        assert!(health_path("/healthz").is_ok());
        assert!(health_path("healthz").is_err());
        assert!(gray_traffic(10).is_ok());
        assert!(
            gray_traffic(100)
                .unwrap_err()
                .contains("release_type: full")
        );
    }
}
