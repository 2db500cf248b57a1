//! Synthetic apps: what a version does is chosen by its image. An image whose repository name is
//! `synthetic` takes its behaviour from its tag (`synthetic:errors-20`); an apps file can define
//! more tags. Any other image runs as a healthy echo app, or, with `--engine`, as a real
//! container (src/emulator/containers.rs).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a version behaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    /// Share of requests answered with HTTP 500, 0 to 1.
    #[serde(default)]
    pub error_rate: f64,
    /// Time each request takes.
    #[serde(default)]
    pub latency_ms: u64,
    /// False: the instances never become ready and the release fails.
    #[serde(default = "yes")]
    pub ready: bool,
    /// False: the app runs but its health path answers 503.
    #[serde(default = "yes")]
    pub healthy: bool,
    /// Served by a real container through the engine (`--engine`) instead of a synthetic app.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub container: bool,
}

fn yes() -> bool {
    true
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            error_rate: 0.0,
            latency_ms: 0,
            ready: true,
            healthy: true,
            container: false,
        }
    }
}

impl Behaviour {
    /// A version served by a real container.
    pub fn container() -> Self {
        Behaviour {
            container: true,
            ..Behaviour::default()
        }
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms)
    }
}

/// The paths a synthetic app answers as its health check.
pub const HEALTH_PATHS: [&str; 2] = ["/healthz", "/health"];

/// User-defined behaviours: `{"apps": {"flaky": {"error_rate": 0.5}}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppCatalog {
    #[serde(default)]
    pub apps: BTreeMap<String, Behaviour>,
}

impl AppCatalog {
    pub fn parse(json: &str) -> Result<Self, String> {
        let catalog: AppCatalog = serde_json::from_str(json).map_err(|e| e.to_string())?;
        for (tag, app) in &catalog.apps {
            if app.container {
                return Err(format!(
                    "app `{tag}`: `container` is not an app setting; run the emulator with --engine to serve images as containers"
                ));
            }
            if !(0.0..=1.0).contains(&app.error_rate) {
                return Err(format!(
                    "app `{tag}`: error_rate {} is outside 0..1",
                    app.error_rate
                ));
            }
        }
        Ok(catalog)
    }

    /// True when `image` names a built-in synthetic app (its repository is `synthetic`).
    pub fn is_synthetic(image: &str) -> bool {
        synthetic_tag(image).is_some()
    }

    /// The behaviour of `image`, or why the image cannot run.
    pub fn behaviour(&self, image: &str) -> Result<Behaviour, String> {
        let Some(tag) = synthetic_tag(image) else {
            return Ok(Behaviour::default());
        };
        if let Some(app) = self.apps.get(tag) {
            return Ok(app.clone());
        }
        builtin(tag).ok_or_else(|| {
            format!(
                "image {image}: `{tag}` is not a synthetic behaviour (healthy, errors-N, \
                 slow-Nms, crash, unhealthy, or one from the apps file)"
            )
        })
    }
}

/// The tag of a `…/synthetic:<tag>` image; `latest` when it has none.
pub fn synthetic_tag(image: &str) -> Option<&str> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let (repository, tag) = last.split_once(':').unwrap_or((last, "latest"));
    (repository == "synthetic").then_some(tag)
}

fn builtin(tag: &str) -> Option<Behaviour> {
    let base = Behaviour::default();
    match tag {
        "healthy" | "latest" => Some(base),
        "crash" => Some(Behaviour {
            ready: false,
            ..base
        }),
        "unhealthy" => Some(Behaviour {
            healthy: false,
            ..base
        }),
        _ => {
            if let Some(percent) = tag.strip_prefix("errors-") {
                let percent: u32 = percent.parse().ok().filter(|p| *p <= 100)?;
                return Some(Behaviour {
                    error_rate: f64::from(percent) / 100.0,
                    ..base
                });
            }
            let ms = tag.strip_prefix("slow-")?.strip_suffix("ms")?;
            Some(Behaviour {
                latency_ms: ms.parse().ok()?,
                ..base
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_of_a_synthetic_image_chooses_its_behaviour() {
        let apps = AppCatalog::default();
        let of = |image: &str| apps.behaviour(image).unwrap();
        assert_eq!(of("synthetic:healthy"), Behaviour::default());
        assert_eq!(
            of("ccr.ccs.tencentyun.com/ns/synthetic:errors-20").error_rate,
            0.2
        );
        assert_eq!(of("localhost:5000/synthetic:slow-800ms").latency_ms, 800);
        assert!(!of("synthetic:crash").ready);
        assert!(!of("synthetic:unhealthy").healthy);
        assert_eq!(of("nginx:1.27"), Behaviour::default());
        assert_eq!(of("registry:5000/team/app"), Behaviour::default());
        assert!(apps.behaviour("synthetic:errors-200").is_err());
        assert!(
            apps.behaviour("synthetic:wobbly")
                .unwrap_err()
                .contains("wobbly")
        );
    }

    #[test]
    fn the_apps_file_adds_behaviours() {
        let apps =
            AppCatalog::parse(r#"{"apps":{"flaky":{"error_rate":0.5,"latency_ms":10}}}"#).unwrap();
        let flaky = apps.behaviour("synthetic:flaky").unwrap();
        assert_eq!(
            (flaky.error_rate, flaky.latency_ms, flaky.ready),
            (0.5, 10, true)
        );
        assert!(AppCatalog::parse(r#"{"apps":{"x":{"error_rate":3}}}"#).is_err());
        assert!(AppCatalog::parse(r#"{"apps":{"x":{"colour":1}}}"#).is_err());
    }

    #[test]
    fn only_the_repository_named_synthetic_counts() {
        assert_eq!(synthetic_tag("synthetic"), Some("latest"));
        assert_eq!(synthetic_tag("synthetic@sha256:abc"), Some("latest"));
        assert_eq!(synthetic_tag("synthetic-app:healthy"), None);
        assert_eq!(synthetic_tag("synthetic.io/app:healthy"), None);
    }
}
