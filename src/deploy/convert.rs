//! Conversions between the tcbr models and the deploy's own views. Pure.

use std::collections::BTreeMap;

use super::flow::{EnvState, RecordView, Submission};
use super::plan::{ConfigItem, CurrentService};
use super::progress::{StepView, TaskView};
use crate::config::limits::Policy;
use crate::tcb::models::tcbr::{
    DeployParam, DeployRecord, DescribeCloudRunServerDetailResponse, DescribeEnvBaseInfoResponse,
    DiffConfigItem, HpaPolicy, ServerManageTaskInfo,
};

/// DescribeEnvBaseInfo → exists and status. `IsExist` absent counts as existing when the info
/// names the environment, since only a missing environment comes back empty.
pub fn env_state(response: &DescribeEnvBaseInfoResponse) -> EnvState {
    let info = &response.env_base_info;
    let exists = response.is_exist.unwrap_or(!info.env_id.is_empty());
    let recycled = info.recycle.as_deref() == Some("recycle");
    EnvState {
        exists: exists && !recycled,
        status: info.status.clone(),
    }
}

/// DescribeCloudRunServerDetail → the service as it is. The serving version is the one with
/// the largest flow ratio (`FlowRatio` is a string in this response).
pub fn current_service(detail: &DescribeCloudRunServerDetailResponse) -> CurrentService {
    let serving = detail
        .online_version_infos
        .iter()
        .max_by_key(|v| v.flow_ratio.trim().parse::<f64>().unwrap_or(0.0) as i64);
    let config = &detail.server_config;
    let positive = |v: f64| (v > 0.0).then_some(v);
    let count = |v: u64| u32::try_from(v).ok();
    CurrentService {
        version_name: serving.map(|v| v.version_name.clone()),
        image: serving
            .map(|v| v.image_url.clone())
            .filter(|i| !i.is_empty()),
        cpu: positive(config.cpu),
        mem: positive(config.mem),
        min_instances: count(config.min_num),
        max_instances: count(config.max_num).filter(|n| *n > 0),
        policy: config.policy_details.first().and_then(policy),
        port: u16::try_from(config.port).ok().filter(|p| *p > 0),
        access_types: access_types(detail),
        env_vars: env_params(&config.env_params),
        url: service_url(&detail.base_info.default_domain_name),
    }
}

fn policy(details: &HpaPolicy) -> Option<Policy> {
    Some(Policy {
        kind: details.policy_type.clone()?,
        threshold: u32::try_from(details.policy_threshold?).ok()?,
    })
}

fn access_types(detail: &DescribeCloudRunServerDetailResponse) -> Vec<String> {
    let from_config = &detail.server_config.open_access_types;
    if from_config.is_empty() {
        detail.base_info.access_types.clone()
    } else {
        from_config.clone()
    }
}

/// `EnvParams` is a JSON object in a string; values that are not strings are kept as JSON.
fn env_params(text: &str) -> BTreeMap<String, String> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(text) else {
        return BTreeMap::new();
    };
    map.into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect()
}

/// A domain name becomes an https URL; a full URL (as the emulator gives) is kept.
pub fn service_url(domain: &str) -> Option<String> {
    let domain = domain.trim();
    if domain.is_empty() {
        None
    } else if domain.starts_with("http://") || domain.starts_with("https://") {
        Some(domain.to_string())
    } else {
        Some(format!("https://{domain}"))
    }
}

/// ServerManageTaskInfo → the task view.
pub fn task_view(task: &ServerManageTaskInfo) -> TaskView {
    TaskView {
        id: task.id,
        status: task.status.clone(),
        release_type: task.release_type.clone(),
        version_name: task.version_name.clone(),
        pre_version_name: task.pre_version_name.clone(),
        fail_reason: task.fail_reason.clone(),
        steps: task
            .steps
            .iter()
            .map(|s| StepView {
                name: s.name.clone(),
                status: s.status.clone(),
                fail_reason: s.fail_reason.clone(),
                cost_seconds: (s.cost_time > 0).then_some(s.cost_time),
            })
            .collect(),
    }
}

/// The records newest first by `DeployTime` (the API does not promise an order); records
/// with the same time keep the API's order reversed, since it lists in creation order.
pub fn records(records: &[DeployRecord]) -> Vec<RecordView> {
    let mut sorted: Vec<&DeployRecord> = records.iter().rev().collect();
    sorted.sort_by(|a, b| b.deploy_time.cmp(&a.deploy_time));
    sorted
        .into_iter()
        .map(|r| RecordView {
            deploy_id: r.deploy_id.clone(),
            status: r.status.clone(),
            run_id: r.run_id.clone(),
        })
        .collect()
}

/// A config item as the API's `DiffConfigItem`, with exactly one value field set.
pub fn diff_item(item: &ConfigItem) -> DiffConfigItem {
    match item {
        ConfigItem::Float(key, value) => DiffConfigItem {
            key: key.to_string(),
            float_value: Some(*value),
            ..DiffConfigItem::default()
        },
        ConfigItem::Int(key, value) => DiffConfigItem {
            key: key.to_string(),
            int_value: Some(*value),
            ..DiffConfigItem::default()
        },
        ConfigItem::Array(key, values) => DiffConfigItem {
            key: key.to_string(),
            array_value: Some(values.clone()),
            ..DiffConfigItem::default()
        },
        ConfigItem::Text(key, value) => DiffConfigItem {
            key: key.to_string(),
            value: Some(value.clone()),
            ..DiffConfigItem::default()
        },
        ConfigItem::Policies(policies) => DiffConfigItem {
            key: "PolicyDetails".to_string(),
            policy_details: Some(
                policies
                    .iter()
                    .map(|p| HpaPolicy {
                        policy_type: Some(p.kind.clone()),
                        policy_threshold: Some(u64::from(p.threshold)),
                    })
                    .collect(),
            ),
            ..DiffConfigItem::default()
        },
    }
}

/// The `DeployInfo` of a submission: an image deploy with its release type.
pub fn deploy_param(submission: &Submission) -> DeployParam {
    DeployParam {
        deploy_type: "image".to_string(),
        image_url: Some(submission.image.clone()),
        deploy_remark: Some(submission.remark.clone()),
        release_type: Some(submission.release.api_name().to_string()),
        ..DeployParam::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcb::models::tcbr::{OnlineVersionInfo, ServerBaseConfig, ServerBaseInfo};

    #[test]
    fn detail_becomes_the_current_service() {
        let detail = DescribeCloudRunServerDetailResponse {
            base_info: ServerBaseInfo {
                default_domain_name: "api-123.sh.run.tcloudbase.com".into(),
                ..ServerBaseInfo::default()
            },
            server_config: ServerBaseConfig {
                cpu: 0.5,
                mem: 1.0,
                max_num: 3,
                port: 8080,
                env_params: r#"{"A":"1","N":2}"#.into(),
                open_access_types: vec!["PUBLIC".into()],
                policy_details: vec![HpaPolicy {
                    policy_type: Some("cpu".into()),
                    policy_threshold: Some(60),
                }],
                ..ServerBaseConfig::default()
            },
            online_version_infos: vec![
                OnlineVersionInfo {
                    version_name: "api-001".into(),
                    image_url: "a:1".into(),
                    flow_ratio: "10".into(),
                },
                OnlineVersionInfo {
                    version_name: "api-002".into(),
                    image_url: "a:2".into(),
                    flow_ratio: "90".into(),
                },
            ],
            ..DescribeCloudRunServerDetailResponse::default()
        };
        let current = current_service(&detail);
        assert_eq!(current.version_name.as_deref(), Some("api-002"));
        assert_eq!(current.image.as_deref(), Some("a:2"));
        assert_eq!(current.cpu, Some(0.5));
        assert_eq!(current.port, Some(8080));
        assert_eq!(current.env_vars["N"], "2");
        assert_eq!(current.policy.unwrap().to_string(), "cpu:60");
        assert_eq!(
            current.url.as_deref(),
            Some("https://api-123.sh.run.tcloudbase.com")
        );
    }

    #[test]
    fn items_carry_exactly_one_value() {
        let item = diff_item(&ConfigItem::Policies(vec![
            Policy::parse("mem:70").unwrap(),
        ]));
        let json = serde_json::to_value(&item).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"Key":"PolicyDetails","PolicyDetails":[{"PolicyType":"mem","PolicyThreshold":70}]})
        );
        let json = serde_json::to_value(diff_item(&ConfigItem::Float("CpuSpecs", 1.0))).unwrap();
        assert_eq!(json, serde_json::json!({"Key":"CpuSpecs","FloatValue":1.0}));
    }

    #[test]
    fn records_are_newest_first() {
        let records = vec![
            DeployRecord {
                deploy_time: "2026-01-01 10:00:00".into(),
                status: "running".into(),
                ..DeployRecord::default()
            },
            DeployRecord {
                deploy_time: "2026-01-02 10:00:00".into(),
                status: "deploy_failed".into(),
                run_id: "run-2".into(),
                ..DeployRecord::default()
            },
        ];
        assert_eq!(super::records(&records)[0].run_id, "run-2");
        assert_eq!(
            service_url("http://127.0.0.1:9/s/api").as_deref(),
            Some("http://127.0.0.1:9/s/api")
        );
        assert_eq!(service_url(" "), None);
    }
}
