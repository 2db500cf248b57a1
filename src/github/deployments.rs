//! GitHub Deployments: one per deploy, with statuses, and the history rollback reads to find the
//! last verified version (from each deployment's payload).

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::checks::truncate;
use super::client::Client;
use super::error::{GithubError, Result};

/// Longest deployment status description GitHub accepts.
pub const MAX_DESCRIPTION: usize = 140;

/// A deployment to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDeployment {
    /// Branch, tag or SHA being deployed.
    pub git_ref: String,
    pub environment: String,
    pub description: Option<String>,
    /// Free-form data kept with the deployment (image, version name, service…).
    pub payload: Value,
    pub task: String,
    pub transient_environment: bool,
    /// `None` lets GitHub decide (true only for `production`).
    pub production_environment: Option<bool>,
}

impl NewDeployment {
    pub fn new(git_ref: &str, environment: &str, payload: Value) -> Self {
        NewDeployment {
            git_ref: git_ref.to_string(),
            environment: environment.to_string(),
            description: None,
            payload,
            task: "deploy".to_string(),
            transient_environment: false,
            production_environment: None,
        }
    }

    fn body(&self) -> Value {
        let mut body = json!({
            "ref": self.git_ref,
            "task": self.task,
            "environment": self.environment,
            "payload": self.payload,
            // The deploy runs inside the workflow whose checks are still pending, so GitHub's
            // default (all contexts must be green) would refuse it; and the action must deploy
            // exactly the ref it was given, never a merge GitHub makes on its behalf.
            "auto_merge": false,
            "required_contexts": [],
            "transient_environment": self.transient_environment,
        });
        if let Some(description) = &self.description {
            body["description"] = json!(truncate(description, MAX_DESCRIPTION));
        }
        if let Some(production) = self.production_environment {
            body["production_environment"] = json!(production);
        }
        body
    }
}

/// A deployment as GitHub returns it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Deployment {
    pub id: u64,
    pub sha: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub environment: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Always an object here: GitHub may return the payload as a JSON string.
    #[serde(default, deserialize_with = "payload_object")]
    pub payload: Value,
    pub created_at: String,
}

fn payload_object<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    let raw = Value::deserialize(d)?;
    Ok(match raw {
        Value::String(text) if text.trim().is_empty() => json!({}),
        Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        Value::Null => json!({}),
        other => other,
    })
}

/// Deployment status states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentState {
    Queued,
    Pending,
    InProgress,
    Success,
    Failure,
    Error,
    Inactive,
}

/// A status to add to a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeploymentStatus {
    pub state: DeploymentState,
    /// Where the deployed service answers.
    pub environment_url: Option<String>,
    /// Where the deploy's log is (the workflow run).
    pub log_url: Option<String>,
    pub description: Option<String>,
    /// `None` keeps GitHub's default (earlier deployments of the environment become inactive).
    pub auto_inactive: Option<bool>,
}

impl NewDeploymentStatus {
    pub fn new(state: DeploymentState) -> Self {
        NewDeploymentStatus {
            state,
            environment_url: None,
            log_url: None,
            description: None,
            auto_inactive: None,
        }
    }

    fn body(&self) -> Value {
        let mut body = json!({ "state": self.state });
        let fields = [
            (
                "environment_url",
                self.environment_url.clone().map(Value::from),
            ),
            ("log_url", self.log_url.clone().map(Value::from)),
            (
                "description",
                self.description
                    .as_ref()
                    .map(|d| Value::from(truncate(d, MAX_DESCRIPTION))),
            ),
            ("auto_inactive", self.auto_inactive.map(Value::from)),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                body[key] = value;
            }
        }
        body
    }
}

/// A deployment status as GitHub returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeploymentStatus {
    pub id: u64,
    pub state: DeploymentState,
    #[serde(default)]
    pub environment_url: Option<String>,
    #[serde(default)]
    pub log_url: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub created_at: String,
}

/// A deployment that reached `success`, with the status that says so.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedDeployment {
    pub deployment: Deployment,
    pub status: DeploymentStatus,
}

/// A deployment counts as verified when one of its statuses is `success` and its latest status
/// is not `failure` or `error` (a later `inactive` only means a newer deploy replaced it).
/// `statuses` are newest first, as GitHub lists them.
pub fn verified_status(statuses: &[DeploymentStatus]) -> Option<&DeploymentStatus> {
    let latest = statuses.first()?;
    if matches!(
        latest.state,
        DeploymentState::Failure | DeploymentState::Error
    ) {
        return None;
    }
    statuses
        .iter()
        .find(|s| s.state == DeploymentState::Success)
}

impl Client {
    /// Creates a deployment of `git_ref` to its environment.
    pub async fn create_deployment(&self, deployment: &NewDeployment) -> Result<Deployment> {
        let path = self.repo_path("/deployments");
        let body = deployment.body();
        let (status, text) = self
            .exchange(
                "repos/create-deployment",
                Method::POST,
                &path,
                &[],
                Some(&body),
            )
            .await?;
        if status == 202 {
            // "Merged branch response": GitHub merged instead of creating a deployment.
            return Err(GithubError::api(
                "repos/create-deployment",
                202,
                "GitHub merged the default branch into the ref instead of creating a deployment",
            ));
        }
        serde_json::from_str(&text)
            .map_err(|e| GithubError::decode("repos/create-deployment", &e.to_string()))
    }

    /// Adds a status to deployment `id`.
    pub async fn create_deployment_status(
        &self,
        id: u64,
        status: &NewDeploymentStatus,
    ) -> Result<DeploymentStatus> {
        let path = self.repo_path(&format!("/deployments/{id}/statuses"));
        self.call(
            "repos/create-deployment-status",
            Method::POST,
            &path,
            &[],
            Some(&status.body()),
        )
        .await
    }

    /// Deployments to `environment`, newest first, at most `limit`.
    pub async fn list_deployments(
        &self,
        environment: &str,
        limit: usize,
    ) -> Result<Vec<Deployment>> {
        let path = self.repo_path("/deployments");
        let mut all = Vec::new();
        for page in 1.. {
            let query = [
                ("environment", environment.to_string()),
                ("per_page", "100".to_string()),
                ("page", page.to_string()),
            ];
            let batch: Vec<Deployment> = self
                .call("repos/list-deployments", Method::GET, &path, &query, None)
                .await?;
            let last = batch.len() < 100;
            all.extend(batch);
            if last || all.len() >= limit {
                break;
            }
        }
        all.truncate(limit);
        Ok(all)
    }

    /// Statuses of deployment `id`, newest first.
    pub async fn list_deployment_statuses(&self, id: u64) -> Result<Vec<DeploymentStatus>> {
        let path = self.repo_path(&format!("/deployments/{id}/statuses"));
        let query = [("per_page", "100".to_string())];
        self.call(
            "repos/list-deployment-statuses",
            Method::GET,
            &path,
            &query,
            None,
        )
        .await
    }

    /// Verified deployments to `environment`, newest first, looking at the newest `scan`
    /// deployments. Rollback takes the version to return to from their payloads.
    pub async fn successful_deployments(
        &self,
        environment: &str,
        scan: usize,
    ) -> Result<Vec<VerifiedDeployment>> {
        let mut verified = Vec::new();
        for deployment in self.list_deployments(environment, scan).await? {
            let statuses = self.list_deployment_statuses(deployment.id).await?;
            if let Some(status) = verified_status(&statuses) {
                verified.push(VerifiedDeployment {
                    status: status.clone(),
                    deployment,
                });
            }
        }
        Ok(verified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(id: u64, state: DeploymentState) -> DeploymentStatus {
        DeploymentStatus {
            id,
            state,
            environment_url: None,
            log_url: None,
            description: None,
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn success_then_inactive_is_still_verified() {
        use DeploymentState::*;
        let list = [
            status(3, Inactive),
            status(2, Success),
            status(1, InProgress),
        ];
        assert_eq!(verified_status(&list).map(|s| s.id), Some(2));
    }

    #[test]
    fn failed_after_success_or_never_successful_is_not() {
        use DeploymentState::*;
        assert!(verified_status(&[status(2, Failure), status(1, Success)]).is_none());
        assert!(verified_status(&[status(1, InProgress)]).is_none());
        assert!(verified_status(&[]).is_none());
    }

    #[test]
    fn payload_strings_are_parsed_into_objects() {
        let d: Deployment = serde_json::from_value(json!({
            "id": 1, "sha": "a", "ref": "main", "environment": "prod",
            "payload": "{\"version\":\"v-3\"}", "created_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        assert_eq!(d.payload["version"], "v-3");
    }

    #[test]
    fn create_body_bypasses_merges_and_pending_checks() {
        let body = NewDeployment::new("abc", "staging", json!({"image": "i"})).body();
        assert_eq!(body["auto_merge"], false);
        assert_eq!(body["required_contexts"], json!([]));
        assert!(body.get("production_environment").is_none());
    }

    #[test]
    fn status_description_is_cut_to_140() {
        let mut s = NewDeploymentStatus::new(DeploymentState::Success);
        s.description = Some("d".repeat(300));
        let body = s.body();
        assert_eq!(body["description"].as_str().unwrap().chars().count(), 140);
    }
}
