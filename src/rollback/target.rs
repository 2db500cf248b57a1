//! Which version a rollback returns to, and how. Pure.
//!
//! Never blindly "the previous version": the default is the newest *verified* version (a
//! successful GitHub Deployment, skipping versions a later rollback left), or, without
//! GitHub, the stable side of an open gray release, or the version CloudBase's last finished
//! release replaced (it served 100% until then).

use serde_json::Value;

use crate::canary::cloud::{Order, Split};
use crate::error::{Error, Result};

/// A verified GitHub Deployment's payload, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub version: String,
    /// Set for rollback deployments: the version the rollback left.
    pub left: Option<String>,
    pub undo: bool,
    pub is_rollback: bool,
}

impl Verified {
    /// Reads a deployment payload; `None` when it names no version, or records a gray
    /// release (the deploy action's `release_type: GRAY`: it served only part of the traffic,
    /// so it is verified only when canary-promote promotes it, in a Deployment of its own).
    pub fn from_payload(payload: &Value) -> Option<Verified> {
        if payload["release_type"] == "GRAY" {
            return None;
        }
        let text = |key: &str| {
            payload[key]
                .as_str()
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let version = text("version_name").or_else(|| text("version"))?;
        let is_rollback = payload["action"] == "rollback";
        Some(Verified {
            version,
            left: text("previous_version"),
            undo: payload["undo"].as_bool().unwrap_or(false),
            is_rollback,
        })
    }
}

/// The newest task, as far as the rollback cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastTask {
    pub id: i64,
    /// `deploy` or `rollback`.
    pub change_type: String,
    pub status: String,
    pub version: String,
    pub pre_version: String,
}

/// What is known before choosing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub split: Split,
    pub gray: Option<Order>,
    pub last_task: Option<LastTask>,
    /// `None`: GitHub was not asked (no token).
    pub verified: Option<Vec<Verified>>,
}

/// What the caller asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    Version(String),
    Undo,
    LastVerified,
}

/// How the cloud gets there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// Already serving 100%.
    Nothing,
    /// `OperateServerManage go_back` on the open gray release's task.
    GoBack { task_id: i64 },
    /// `SubmitServerRollback` (after going back, when a gray release is open).
    Submit { go_back_first: Option<i64> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub current: String,
    pub target: String,
    /// Where the target came from, in words.
    pub source: String,
    pub method: Method,
}

/// Chooses the target and the method.
pub fn plan(want: &Want, facts: &Facts) -> Result<Plan> {
    let current = facts.split.serving().unwrap_or_default().to_string();
    let (target, source) = match want {
        Want::Version(version) => (version.clone(), "to_version".to_string()),
        Want::Undo => undo_target(facts)?,
        Want::LastVerified => last_verified(facts, &current)?,
    };
    let method = match &facts.gray {
        _ if facts.split.all_on(&target) => Method::Nothing,
        Some(order) if order.gray_open && order.current == target => Method::GoBack {
            task_id: open_task(facts),
        },
        Some(order) if order.gray_open => Method::Submit {
            go_back_first: Some(open_task(facts)),
        },
        _ => Method::Submit {
            go_back_first: None,
        },
    };
    // With an open gray release, going back leaves the canary; a rollback submitted after
    // going back leaves the stable side.
    let current = match (&facts.gray, &method) {
        (Some(order), Method::GoBack { .. }) => order.release.clone(),
        (
            Some(order),
            Method::Submit {
                go_back_first: Some(_),
            },
        ) => order.current.clone(),
        _ => current,
    };
    Ok(Plan {
        current,
        target,
        source,
        method,
    })
}

fn open_task(facts: &Facts) -> i64 {
    facts.last_task.as_ref().map_or(0, |t| t.id)
}

fn undo_target(facts: &Facts) -> Result<(String, String)> {
    let from_github = facts
        .verified
        .iter()
        .flatten()
        .find(|v| v.is_rollback && !v.undo)
        .and_then(|v| v.left.clone());
    if let Some(version) = from_github {
        return Ok((
            version,
            "the version the last rollback left (GitHub Deployment)".into(),
        ));
    }
    match &facts.last_task {
        Some(task) if task.change_type == "rollback" && !task.pre_version.is_empty() => Ok((
            task.pre_version.clone(),
            format!("the version rollback task {} left (CloudBase)", task.id),
        )),
        _ => Err(Error::config(
            "there is no rollback to undo: the newest release is not a rollback",
            "give to_version to choose the version, or leave undo off",
        )),
    }
}

fn last_verified(facts: &Facts, current: &str) -> Result<(String, String)> {
    if let Some(order) = facts.gray.as_ref().filter(|o| o.gray_open) {
        return Ok((
            order.current.clone(),
            "the stable side of the open gray release".into(),
        ));
    }
    if let Some(verified) = &facts.verified {
        let mut left_behind: Vec<&str> = Vec::new();
        for entry in verified {
            if entry.version != current && !left_behind.contains(&entry.version.as_str()) {
                return Ok((
                    entry.version.clone(),
                    "the newest verified GitHub Deployment".into(),
                ));
            }
            if entry.is_rollback
                && !entry.undo
                && let Some(left) = &entry.left
            {
                left_behind.push(left);
            }
        }
    }
    match &facts.last_task {
        Some(task)
            if task.status.eq_ignore_ascii_case("finished")
                && task.change_type != "rollback"
                && !task.pre_version.is_empty()
                && task.pre_version != current =>
        {
            Ok((
                task.pre_version.clone(),
                format!(
                    "the version CloudBase's last finished release (task {}) replaced",
                    task.id
                ),
            ))
        }
        _ => Err(Error::config(
            "no verified version to return to: no successful GitHub Deployment names one, and CloudBase's records do not either",
            "give to_version (a version name from the CloudBase console), or pass github_token so deployments can be read",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(pairs: &[(&str, u32)]) -> Split {
        Split(pairs.iter().map(|(v, s)| (v.to_string(), *s)).collect())
    }

    fn task(change: &str, status: &str, version: &str, pre: &str) -> Option<LastTask> {
        Some(LastTask {
            id: 7,
            change_type: change.into(),
            status: status.into(),
            version: version.into(),
            pre_version: pre.into(),
        })
    }

    fn deployed(version: &str) -> Verified {
        Verified {
            version: version.into(),
            left: None,
            undo: false,
            is_rollback: false,
        }
    }

    fn rolled_back(to: &str, left: &str) -> Verified {
        Verified {
            version: to.into(),
            left: Some(left.into()),
            undo: false,
            is_rollback: true,
        }
    }

    #[test]
    fn targets_by_case() {
        let on3 = split(&[("v3", 100)]);
        let open_gray = Some(Order {
            current: "v2".into(),
            release: "v3".into(),
            gray_open: true,
            release_status: "open".into(),
        });
        struct Case {
            name: &'static str,
            want: Want,
            facts: Facts,
            target: Option<&'static str>,
            method: Option<Method>,
        }
        let cases = vec![
            Case {
                name: "a named version is submitted",
                want: Want::Version("v1".into()),
                facts: Facts {
                    split: on3.clone(),
                    ..Facts::default()
                },
                target: Some("v1"),
                method: Some(Method::Submit {
                    go_back_first: None,
                }),
            },
            Case {
                name: "already there is nothing to do",
                want: Want::Version("v3".into()),
                facts: Facts {
                    split: on3.clone(),
                    ..Facts::default()
                },
                target: Some("v3"),
                method: Some(Method::Nothing),
            },
            Case {
                name: "newest verified deployment that is not current",
                want: Want::LastVerified,
                facts: Facts {
                    split: on3.clone(),
                    verified: Some(vec![deployed("v3"), deployed("v2"), deployed("v1")]),
                    last_task: task("deploy", "finished", "v3", "v2"),
                    ..Facts::default()
                },
                target: Some("v2"),
                method: None,
            },
            Case {
                name: "a version a rollback left is skipped",
                want: Want::LastVerified,
                facts: Facts {
                    split: split(&[("v1", 100)]),
                    verified: Some(vec![
                        rolled_back("v1", "v2"),
                        deployed("v2"),
                        deployed("v1"),
                        deployed("v0"),
                    ]),
                    ..Facts::default()
                },
                target: Some("v0"),
                method: None,
            },
            Case {
                name: "without GitHub, the version the last finished release replaced",
                want: Want::LastVerified,
                facts: Facts {
                    split: on3.clone(),
                    last_task: task("deploy", "finished", "v3", "v2"),
                    ..Facts::default()
                },
                target: Some("v2"),
                method: None,
            },
            Case {
                name: "a rollback's previous version is not evidence either",
                want: Want::LastVerified,
                facts: Facts {
                    split: split(&[("v1", 100)]),
                    last_task: task("rollback", "finished", "v1", "v2"),
                    ..Facts::default()
                },
                target: None,
                method: None,
            },
            Case {
                name: "a failed last release is no evidence",
                want: Want::LastVerified,
                facts: Facts {
                    split: on3.clone(),
                    last_task: task("deploy", "failed", "v4", "v3"),
                    verified: Some(vec![]),
                    ..Facts::default()
                },
                target: None,
                method: None,
            },
            Case {
                name: "an open gray release goes back to its stable side",
                want: Want::LastVerified,
                facts: Facts {
                    split: split(&[("v2", 90), ("v3", 10)]),
                    gray: open_gray.clone(),
                    last_task: task("deploy", "running", "v3", "v2"),
                    ..Facts::default()
                },
                target: Some("v2"),
                method: Some(Method::GoBack { task_id: 7 }),
            },
            Case {
                name: "another version with a gray open goes back first",
                want: Want::Version("v1".into()),
                facts: Facts {
                    split: split(&[("v2", 90), ("v3", 10)]),
                    gray: open_gray,
                    last_task: task("deploy", "running", "v3", "v2"),
                    ..Facts::default()
                },
                target: Some("v1"),
                method: Some(Method::Submit {
                    go_back_first: Some(7),
                }),
            },
            Case {
                name: "undo returns to what the last rollback left (CloudBase)",
                want: Want::Undo,
                facts: Facts {
                    split: split(&[("v1", 100)]),
                    last_task: task("rollback", "finished", "v1", "v3"),
                    ..Facts::default()
                },
                target: Some("v3"),
                method: None,
            },
            Case {
                name: "undo prefers the GitHub record",
                want: Want::Undo,
                facts: Facts {
                    split: split(&[("v1", 100)]),
                    verified: Some(vec![rolled_back("v1", "v2")]),
                    last_task: task("rollback", "finished", "v1", "v3"),
                    ..Facts::default()
                },
                target: Some("v2"),
                method: None,
            },
            Case {
                name: "undo without a rollback is an error",
                want: Want::Undo,
                facts: Facts {
                    split: on3,
                    last_task: task("deploy", "finished", "v3", "v2"),
                    ..Facts::default()
                },
                target: None,
                method: None,
            },
        ];
        for case in cases {
            match (plan(&case.want, &case.facts), case.target) {
                (Ok(plan), Some(target)) => {
                    assert_eq!(plan.target, target, "{}", case.name);
                    if let Some(method) = case.method {
                        assert_eq!(plan.method, method, "{}", case.name);
                    }
                }
                (Err(error), None) => assert_eq!(error.exit_code(), 2, "{}", case.name),
                (other, _) => panic!("{}: {other:?}", case.name),
            }
        }
    }

    #[test]
    fn payloads_name_their_version() {
        let v = Verified::from_payload(&serde_json::json!({
            "action": "rollback", "version": "v1", "previous_version": "v2"
        }))
        .unwrap();
        assert!(v.is_rollback);
        assert_eq!(v.left.as_deref(), Some("v2"));
        assert!(Verified::from_payload(&serde_json::json!({"image": "x"})).is_none());
        // What the deploy action records.
        let deployed = serde_json::json!({
            "action": "deploy", "image": "x", "release_type": "FULL",
            "version_name": "svc-002", "previous_version": "svc-001"
        });
        let v = Verified::from_payload(&deployed).unwrap();
        assert_eq!(v.version, "svc-002");
        assert!(!v.is_rollback);
        let gray = serde_json::json!({"release_type": "GRAY", "version_name": "svc-003"});
        assert!(Verified::from_payload(&gray).is_none());
    }
}
