//! The JSON bodies of successful answers, built from the state with the field names of the
//! official API description (tcbr 2022-02-17). Pure: state in, `serde_json::Value` out.

use serde_json::{Value, json};

use super::config::ServiceConfig;
use super::state::{Env, ReleaseOrder, Service, Task, Traffic, Version};
use super::task::Progress;

/// `DescribeEnvBaseInfo`.
pub fn env_base_info(env: Option<&Env>) -> Value {
    match env {
        Some(env) => json!({
            "EnvBaseInfo": {
                "EnvId": env.id,
                "PackageType": "Standard",
                "VpcId": "",
                "CreateTime": env.created,
                "Alias": env.alias,
                "Status": "normal",
                "Region": env.region,
                "EnvType": "tcbr",
                "SubnetIds": "",
                "Recycle": "",
            },
            "IsExist": true,
        }),
        // Empty values, the way DescribeServerManageTask answers for a task that does not exist.
        None => json!({
            "EnvBaseInfo": {
                "EnvId": "", "PackageType": "", "VpcId": "", "CreateTime": "", "Alias": "",
                "Status": "", "Region": "", "EnvType": "", "SubnetIds": "", "Recycle": "",
            },
            "IsExist": false,
        }),
    }
}

/// One `EnvInfo` of `DescribeCloudRunEnvs`.
pub fn env_info(env: &Env) -> Value {
    json!({
        "EnvId": env.id,
        "Source": "qcloud",
        "Alias": env.alias,
        "CreateTime": env.created,
        "UpdateTime": env.created,
        "Status": "NORMAL",
        "IsAutoDegrade": false,
        "EnvChannel": "qcloud",
        "PayMode": "postpaid",
        "IsDefault": false,
        "Region": env.region,
        "EnvType": "tcbr",
        "Databases": [],
        "Storages": [],
        "Functions": [],
        "LogServices": [],
        "StaticStorages": [],
        "Tags": [],
        "CustomLogServices": [],
        "PackageId": "baas_standard",
        "PackageName": "Standard",
    })
}

/// `ServerBaseInfo`.
pub fn server_base_info(service: &Service, base_url: &str) -> Value {
    json!({
        "ServerName": service.name,
        "DefaultDomainName": super::gateway::service_url(base_url, &service.env_id, &service.name),
        "CustomDomainName": "",
        "Status": service.status,
        "UpdateTime": service.updated,
        "AccessTypes": service.config.access_types,
        "CustomDomainNames": [],
        "ServerType": "container",
        "TrafficType": service.traffic.kind,
        "CreateTime": service.created,
    })
}

/// `ServerBaseConfig`.
pub fn server_config(service: &Service) -> Value {
    let c = &service.config;
    let mut value = json!({
        "EnvId": service.env_id,
        "ServerName": service.name,
        "OpenAccessTypes": c.access_types,
        "Cpu": c.cpu,
        "Mem": c.mem,
        "MinNum": c.min_num,
        "MaxNum": c.max_num,
        "PolicyDetails": policies(c),
        "CustomLogs": c.log_path,
        "EnvParams": c.env_params,
        "InitialDelaySeconds": c.initial_delay_seconds,
        "CreateTime": service.created,
        "Port": c.port,
        "HasDockerfile": c.has_dockerfile,
        "Dockerfile": c.dockerfile,
        "BuildDir": c.build_dir,
        "LogType": c.log_type,
        "Tag": c.tag,
        "InternalAccess": c.internal_access,
        "InternalDomain": "",
        "OperationMode": c.operation_mode,
        "EntryPoint": c.entry_point,
        "Cmd": c.cmd,
        "SessionAffinity": c.session_affinity,
    });
    if let Value::Object(map) = &mut value {
        for (key, extra) in &c.extra {
            map.insert(key.clone(), extra.clone());
        }
    }
    value
}

fn policies(c: &ServiceConfig) -> Value {
    c.policies
        .iter()
        .map(|p| json!({"PolicyType": p.policy_type, "PolicyThreshold": p.threshold}))
        .collect()
}

/// `DescribeCloudRunServerDetail`.
pub fn server_detail(service: &Service, base_url: &str) -> Value {
    json!({
        "BaseInfo": server_base_info(service, base_url),
        "ServerConfig": server_config(service),
        "OnlineVersionInfos": online_versions(service),
    })
}

/// The versions in the traffic split; `FlowRatio` is a string, as the cloud sends it.
fn online_versions(service: &Service) -> Value {
    service
        .traffic
        .routes
        .iter()
        .map(|route| {
            let image = service
                .version(&route.version)
                .map(|v| v.image.clone())
                .unwrap_or_default();
            json!({
                "VersionName": route.version,
                "ImageUrl": image,
                "FlowRatio": route.ratio.to_string(),
            })
        })
        .collect()
}

/// `DescribeServerManageTask`: the task, or the cloud's empty answer when there is none.
pub fn manage_task(task: Option<(&Service, &Task)>) -> Value {
    let Some((service, task)) = task else {
        return json!({
            "IsExist": false,
            "Task": {
                "Id": 0, "EnvId": "", "ServerName": "", "CreateTime": "", "ChangeType": "",
                "ReleaseType": "", "DeployType": "", "PreVersionName": "", "VersionName": "",
                "PipelineId": 0, "PipelineTaskId": 0, "ReleaseId": 0, "Status": "",
                "Steps": [], "FailReason": "", "OperatorRemark": "",
            },
        });
    };
    json!({
        "IsExist": true,
        "Task": {
            "Id": task.id,
            "EnvId": service.env_id,
            "ServerName": service.name,
            "CreateTime": task.created,
            "ChangeType": task.change_type,
            "ReleaseType": task.release_type,
            "DeployType": task.deploy_type,
            "PreVersionName": task.pre_version,
            "VersionName": task.version,
            "PipelineId": 0,
            "PipelineTaskId": 0,
            "ReleaseId": task.order_id,
            "Status": task.progress.status.as_str(),
            "Steps": steps(&task.progress),
            "FailReason": task.progress.fail_reason,
            "OperatorRemark": task.remark,
        },
    })
}

fn steps(progress: &Progress) -> Value {
    progress
        .steps
        .iter()
        .map(|step| {
            json!({
                "Name": step.name.as_str(),
                "Status": step.status.as_str(),
                "StartTime": step.start_time,
                "EndTime": step.end_time,
                "CostTime": Progress::cost_seconds(step),
                "FailReason": step.fail_reason,
            })
        })
        .collect()
}

/// `DescribeCloudRunDeployRecord`, newest first.
pub fn deploy_records(service: &Service) -> Value {
    let releasing = service.is_releasing();
    let records: Vec<Value> = service
        .records
        .iter()
        .rev()
        .map(|record| {
            let ratio = service.traffic.ratio_of(&record.version);
            let running = service
                .running_task()
                .is_some_and(|t| t.id == record.task_id);
            json!({
                "DeployId": record.deploy_id,
                "DeployTime": record.time,
                "Status": record.status,
                "RunId": record.run_id,
                "BuildId": 0,
                "FlowRatio": ratio,
                "ImageUrl": record.image,
                "ScaleStatus": if record.status == "running" { "normal" } else { "" },
                "HasTraffic": ratio > 0,
                "TrafficType": service.traffic.kind,
                "IsReleasing": running && releasing,
            })
        })
        .collect();
    json!({ "DeployRecords": records })
}

/// `DescribeReleaseOrder`: the latest order, or the one with `status` when asked.
pub fn release_order(service: &Service, status: Option<&str>) -> Value {
    let order = service
        .orders
        .iter()
        .rev()
        .find(|o| status.is_none_or(|s| s.is_empty() || o.release_status == s));
    let Some(order) = order else {
        return json!({ "IsExist": false, "LastReleasedSuccessTime": service.last_released });
    };
    json!({
        "IsExist": true,
        "ReleaseOrderInfo": order_info(service, order),
        "LastReleasedSuccessTime": service.last_released,
    })
}

fn order_info(service: &Service, order: &ReleaseOrder) -> Value {
    let version_info = |name: &str| match service.version(name) {
        Ok(v) => version_info(v, &service.traffic),
        Err(_) => json!({ "VersionName": name, "FlowRatio": 0 }),
    };
    json!({
        "Id": order.id,
        "ServerName": service.name,
        "CurrentVersion": version_info(&order.current_version),
        "ReleaseVersion": version_info(&order.release_version),
        "GrayStatus": order.gray_status,
        "ReleaseStatus": order.release_status,
        "TrafficTypeValues": [],
        "TrafficType": service.traffic.kind,
        "FlowRatio": service.traffic.ratio_of(&order.release_version),
        "CreateTime": order.created,
        "IsReleasing": order.is_releasing,
    })
}

fn version_info(version: &Version, traffic: &Traffic) -> Value {
    let route = traffic.routes.iter().find(|r| r.version == version.name);
    let mut info = json!({
        "VersionName": version.name,
        "FlowRatio": route.map_or(0, |r| r.ratio),
        "Status": version.status,
        "CreatedTime": version.created,
        "UpdatedTime": version.updated,
        "BuildId": 0,
        "UploadType": version.deploy_type,
        "Remark": version.remark,
        "Priority": route.map_or(0, |r| r.priority),
        "IsDefaultPriority": route.is_some_and(|r| r.is_default),
        "FlowParams": [],
        "MinReplicas": version.config.min_num,
        "MaxReplicas": version.config.max_num,
        "RunId": version.run_id,
        "Percent": if version.status == "creating" { 50 } else { 100 },
        "CurrentReplicas": if route.is_some_and(|r| r.ratio > 0) { version.config.min_num.max(1) } else { 0 },
        "Architecture": "amd64",
    });
    // UrlParam is a required output that may not be null: empty key and value when unused.
    let (key, value) = route.and_then(|r| r.param.clone()).unwrap_or_default();
    info["UrlParam"] = json!({"Key": key, "Value": value});
    info
}

/// `DescribeVersionDetail`.
pub fn version_detail(version: &Version) -> Value {
    let c = &version.config;
    json!({
        "Name": version.name,
        "Port": c.port,
        "Cpu": c.cpu,
        "Mem": c.mem,
        "MinNum": c.min_num,
        "MaxNum": c.max_num,
        "PolicyDetails": policies(c),
        "Dockerfile": c.dockerfile,
        "BuildDir": c.build_dir,
        "EnvParams": c.env_params,
        "Status": version.status,
        "CreatedTime": version.created,
        "UpdatedTime": version.updated,
        "LogPath": c.log_path,
        "EntryPoint": serde_json::to_string(&c.entry_point).unwrap_or_default(),
        "Cmd": serde_json::to_string(&c.cmd).unwrap_or_default(),
        "VpcConf": c.extra.get("VpcConf").cloned().unwrap_or_else(
            || json!({"VpcId": "", "VpcCIDR": "", "SubnetId": "", "SubnetCIDR": ""})),
        "VolumesConf": c.extra.get("VolumesConf").cloned().unwrap_or_else(|| json!([])),
    })
}
