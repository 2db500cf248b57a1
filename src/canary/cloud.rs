//! The CloudBase Run calls a canary and a rollback make: read the split and the release order,
//! set the gray split (`ReleaseGray`), close or go back (`OperateServerManage`), and submit a
//! rollback (`SubmitServerRollback`). Mutations that are safe to repeat re-read the state after a
//! transient failure before sending again.

use crate::deploy::convert;
use crate::deploy::progress::TaskView;
use crate::error::{Error, Result};
use crate::tcb::models::tcbr;
use crate::tcb::{Client, Recheck};

/// Traffic shares by version, as DescribeCloudRunServerDetail reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Split(pub Vec<(String, u32)>);

impl Split {
    pub fn share_of(&self, version: &str) -> u32 {
        self.0
            .iter()
            .find(|(v, _)| v == version)
            .map_or(0, |(_, share)| *share)
    }

    /// The version with the largest share.
    pub fn serving(&self) -> Option<&str> {
        self.0
            .iter()
            .max_by_key(|(_, share)| *share)
            .map(|(v, _)| v.as_str())
    }

    /// True when `version` takes all the traffic.
    pub fn all_on(&self, version: &str) -> bool {
        self.share_of(version) == 100 && self.0.iter().all(|(v, s)| v == version || *s == 0)
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(v, s)| format!("{v} {s}%")).collect();
        write!(f, "{}", parts.join(", "))
    }
}

/// The service now: its URL and split.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceView {
    pub url: Option<String>,
    pub split: Split,
}

/// The newest release order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub current: String,
    pub release: String,
    pub gray_open: bool,
    pub release_status: String,
}

/// The tcbr client with the canary's and rollback's operations.
#[derive(Clone)]
pub struct Gray {
    pub client: Client,
}

const REMARK: &str = "deploy-tcb";

impl Gray {
    pub async fn service(&self, env: &str, service: &str) -> Result<ServiceView> {
        let request = tcbr::DescribeCloudRunServerDetailRequest {
            env_id: env.into(),
            server_name: service.into(),
        };
        let detail = self
            .client
            .describe_cloud_run_server_detail(&request)
            .await?;
        let split = detail
            .online_version_infos
            .iter()
            .map(|v| {
                let share = v.flow_ratio.trim().parse::<f64>().unwrap_or(0.0);
                (
                    v.version_name.clone(),
                    share.round().clamp(0.0, 100.0) as u32,
                )
            })
            .collect();
        Ok(ServiceView {
            url: convert::service_url(&detail.base_info.default_domain_name),
            split: Split(split),
        })
    }

    pub async fn order(&self, env: &str, service: &str) -> Result<Option<Order>> {
        let request = tcbr::DescribeReleaseOrderRequest {
            env_id: env.into(),
            server_name: service.into(),
            status: None,
        };
        let answer = self
            .client
            .describe_release_order(&request)
            .await
            .map_err(|e| not_found_is_input(e, env, service))?;
        if !answer.is_exist {
            return Ok(None);
        }
        let info = answer.release_order_info;
        Ok(Some(Order {
            current: info.current_version.version_name,
            release: info.release_version.version_name,
            gray_open: info.gray_status.eq_ignore_ascii_case("open"),
            release_status: info.release_status,
        }))
    }

    /// The task with this id, or the latest for 0.
    pub async fn task(&self, env: &str, service: &str, id: i64) -> Result<Option<TaskView>> {
        let request = tcbr::DescribeServerManageTaskRequest {
            env_id: env.into(),
            server_name: service.into(),
            task_id: id,
            operator_remark: None,
        };
        let answer = self.client.describe_server_manage_task(&request).await?;
        Ok(answer.is_exist.then(|| convert::task_view(&answer.task)))
    }

    /// The task as the API describes it (with `ChangeType`), or the latest for id 0.
    pub async fn task_info(
        &self,
        env: &str,
        service: &str,
        id: i64,
    ) -> Result<Option<tcbr::ServerManageTaskInfo>> {
        let request = tcbr::DescribeServerManageTaskRequest {
            env_id: env.into(),
            server_name: service.into(),
            task_id: id,
            operator_remark: None,
        };
        let answer = self.client.describe_server_manage_task(&request).await?;
        Ok(answer.is_exist.then_some(answer.task))
    }

    /// The status of a version (`normal` can serve), `None` when it does not exist.
    pub async fn version_status(
        &self,
        env: &str,
        service: &str,
        name: &str,
    ) -> Result<Option<String>> {
        let request = tcbr::DescribeVersionDetailRequest {
            env_id: env.into(),
            server_name: service.into(),
            version_name: name.into(),
            channel: None,
        };
        match self.client.describe_version_detail(&request).await {
            Ok(detail) => Ok(Some(detail.status)),
            Err(error) if error.api().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Gives `canary` `percent` of the traffic and `stable` the rest.
    pub async fn set_split(
        &self,
        env: &str,
        service: &str,
        stable: &str,
        canary: &str,
        percent: u8,
    ) -> Result<()> {
        let percent = i64::from(percent);
        let item =
            |version: &str, ratio: i64, default: bool, priority: i64| tcbr::VersionFlowInfo {
                version_name: version.into(),
                is_default_priority: default,
                flow_ratio: Some(ratio),
                url_param: None,
                priority: Some(priority),
            };
        let request = tcbr::ReleaseGrayRequest {
            env_id: env.into(),
            server_name: service.into(),
            gray_type: "gray".into(),
            traffic_type: "FLOW".into(),
            version_flow_items: Some(vec![
                item(stable, 100 - percent, true, 1),
                item(canary, percent, false, 2),
            ]),
            operator_remark: Some(REMARK.into()),
            gray_flow_ratio: Some(percent),
            close_gray_release: None,
        };
        let wanted = u32::try_from(percent).unwrap_or(0);
        self.release_gray(&request, env, service, canary, wanted)
            .await
    }

    /// Moves all traffic to `canary` and closes the gray release (promote).
    pub async fn close_at_full(&self, env: &str, service: &str, canary: &str) -> Result<()> {
        let request = tcbr::ReleaseGrayRequest {
            env_id: env.into(),
            server_name: service.into(),
            gray_type: "gray".into(),
            traffic_type: "FLOW".into(),
            version_flow_items: Some(vec![tcbr::VersionFlowInfo {
                version_name: canary.into(),
                is_default_priority: true,
                flow_ratio: Some(100),
                url_param: None,
                priority: Some(0),
            }]),
            operator_remark: Some(REMARK.into()),
            gray_flow_ratio: Some(100),
            close_gray_release: Some(true),
        };
        self.release_gray(&request, env, service, canary, 100).await
    }

    async fn release_gray(
        &self,
        request: &tcbr::ReleaseGrayRequest,
        env: &str,
        service: &str,
        canary: &str,
        wanted: u32,
    ) -> Result<()> {
        let recheck = |_| async move {
            Ok(match self.service(env, service).await {
                Ok(view) if view.split.share_of(canary) == wanted => {
                    Recheck::Done(tcbr::ReleaseGrayResponse::default())
                }
                _ => Recheck::Resend,
            })
        };
        self.client.call_with_recheck(request, recheck).await?;
        Ok(())
    }

    /// `OperateServerManage` on a task: `go_back`, `done` or `cancel`.
    pub async fn operate(
        &self,
        env: &str,
        service: &str,
        task_id: i64,
        operation: &str,
    ) -> Result<()> {
        let request = tcbr::OperateServerManageRequest {
            env_id: env.into(),
            server_name: service.into(),
            task_id,
            operate_type: operation.into(),
            operator_remark: Some(REMARK.into()),
        };
        self.client.operate_server_manage(&request).await?;
        Ok(())
    }

    /// `SubmitServerRollback`; returns the task id (0 when the cloud gave none).
    pub async fn submit_rollback(
        &self,
        env: &str,
        service: &str,
        current: &str,
        target: &str,
        remark: &str,
    ) -> Result<i64> {
        let request = tcbr::SubmitServerRollbackRequest {
            env_id: env.into(),
            server_name: service.into(),
            current_version_name: current.into(),
            rollback_version_name: target.into(),
            operator_remark: Some(remark.chars().take(100).collect()),
        };
        Ok(self.client.submit_server_rollback(&request).await?.task_id)
    }

    /// Re-reads the split until `version` has `share`, for up to `within`.
    pub async fn wait_share(
        &self,
        env: &str,
        service: &str,
        version: &str,
        share: u32,
        within: std::time::Duration,
    ) -> Result<Split> {
        let started = std::time::Instant::now();
        loop {
            let split = self.service(env, service).await?.split;
            if split.share_of(version) == share || started.elapsed() >= within {
                return Ok(split);
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// Re-reads the split until `version` has all of it, for up to `within`.
    pub async fn wait_all_on(
        &self,
        env: &str,
        service: &str,
        version: &str,
        within: std::time::Duration,
    ) -> Result<Split> {
        let started = std::time::Instant::now();
        loop {
            let split = self.service(env, service).await?.split;
            if split.all_on(version) || started.elapsed() >= within {
                return Ok(split);
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}

/// A missing environment or service is the caller's input, not an outage.
fn not_found_is_input(error: crate::tcb::ClientError, env: &str, service: &str) -> Error {
    match error.api() {
        Some(api) if api.is_not_found() => Error::input(
            "service",
            format!(
                "`{service}` in environment `{env}` was not found: {}",
                api.message
            ),
            "check env_id and service (the service must exist; deploy it first)",
        ),
        _ => error.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_reads_shares() {
        let split = Split(vec![("web-001".into(), 90), ("web-002".into(), 10)]);
        assert_eq!(split.share_of("web-002"), 10);
        assert_eq!(split.serving(), Some("web-001"));
        assert!(!split.all_on("web-001"));
        assert!(Split(vec![("web-001".into(), 100), ("web-002".into(), 0)]).all_on("web-001"));
        assert_eq!(split.to_string(), "web-001 90%, web-002 10%");
    }
}
