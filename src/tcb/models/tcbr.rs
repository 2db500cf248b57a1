//! tcbr models (generated field for field from the official API description; see the module docs).

api_object! {
    /// `DescribeEnvBaseInfoRequest` (request).
    #[serde(deny_unknown_fields)]
    pub struct DescribeEnvBaseInfoRequest {
        "EnvId" env_id: String,
    }
}

api_object! {
    #[output]
    /// `DescribeEnvBaseInfoResponse` (response).
    #[serde(default)]
    pub struct DescribeEnvBaseInfoResponse {
        "EnvBaseInfo" env_base_info: EnvBaseInfo,
        "IsExist" is_exist: Option<bool>,
        "RequestId" request_id: String,
    }
}

api_object! {
    /// `DescribeCloudRunEnvsRequest` (request).
    #[serde(deny_unknown_fields)]
    pub struct DescribeCloudRunEnvsRequest {
        "EnvId" env_id: Option<String>,
        "IsVisible" is_visible: Option<bool>,
        "Channels" channels: Option<Vec<String>>,
    }
}

api_object! {
    #[output]
    /// `DescribeCloudRunEnvsResponse` (response).
    #[serde(default)]
    pub struct DescribeCloudRunEnvsResponse {
        "EnvList" env_list: Vec<EnvInfo>,
        "RequestId" request_id: String,
    }
}

api_object! {
    /// `DescribeCloudRunServersRequest` (request).
    #[serde(deny_unknown_fields)]
    pub struct DescribeCloudRunServersRequest {
        "EnvId" env_id: String,
        "PageSize" page_size: Option<i64>,
        "PageNum" page_num: Option<i64>,
        "ServerName" server_name: Option<String>,
        "ServerType" server_type: Option<String>,
        "VpcId" vpc_id: Option<String>,
    }
}

api_object! {
    #[output]
    /// `DescribeCloudRunServersResponse` (response).
    #[serde(default)]
    pub struct DescribeCloudRunServersResponse {
        "ServerList" server_list: Vec<ServerBaseInfo>,
        "Total" total: i64,
        "RequestId" request_id: String,
    }
}

api_object! {
    /// `DescribeCloudRunServerDetailRequest` (request).
    #[serde(deny_unknown_fields)]
    pub struct DescribeCloudRunServerDetailRequest {
        "EnvId" env_id: String,
        "ServerName" server_name: String,
    }
}

api_object! {
    #[output]
    /// `DescribeCloudRunServerDetailResponse` (response).
    #[serde(default)]
    pub struct DescribeCloudRunServerDetailResponse {
        "BaseInfo" base_info: ServerBaseInfo,
        "ServerConfig" server_config: ServerBaseConfig,
        "OnlineVersionInfos" online_version_infos: Vec<OnlineVersionInfo>,
        "RequestId" request_id: String,
    }
}

api_object! {
    /// `CreateCloudRunServerRequest` (request).
    #[serde(deny_unknown_fields)]
    pub struct CreateCloudRunServerRequest {
        "EnvId" env_id: String,
        "ServerName" server_name: String,
        "DeployInfo" deploy_info: DeployParam,
        "ServerConfig" server_config: Option<ServerBaseConfig>,
        "Items" items: Option<Vec<DiffConfigItem>>,
        "VpcInfo" vpc_info: Option<CreateVpcInfo>,
    }
}

api_object! {
    #[output]
    /// `CreateCloudRunServerResponse` (response).
    #[serde(default)]
    pub struct CreateCloudRunServerResponse {
        "TaskId" task_id: i64,
        "RequestId" request_id: String,
    }
}

api_object! {
    /// `UpdateCloudRunServerRequest` (request).
    #[serde(deny_unknown_fields)]
    pub struct UpdateCloudRunServerRequest {
        "EnvId" env_id: String,
        "ServerName" server_name: String,
        "DeployInfo" deploy_info: DeployParam,
        "ServerConfig" server_config: Option<ServerBaseConfig>,
        "Business" business: Option<String>,
        "Items" items: Option<Vec<DiffConfigItem>>,
    }
}

api_object! {
    #[output]
    /// `UpdateCloudRunServerResponse` (response).
    #[serde(default)]
    pub struct UpdateCloudRunServerResponse {
        "EnvId" env_id: String,
        "TaskId" task_id: i64,
        "RequestId" request_id: String,
    }
}

api_object! {
    /// `DescribeServerManageTaskRequest` (request).
    #[serde(deny_unknown_fields)]
    pub struct DescribeServerManageTaskRequest {
        "EnvId" env_id: String,
        "ServerName" server_name: String,
        "TaskId" task_id: i64,
        "OperatorRemark" operator_remark: Option<String>,
    }
}

api_object! {
    #[output]
    /// `DescribeServerManageTaskResponse` (response).
    #[serde(default)]
    pub struct DescribeServerManageTaskResponse {
        "IsExist" is_exist: bool,
        "Task" task: ServerManageTaskInfo,
        "RequestId" request_id: String,
    }
}

api_object! {
    /// `DescribeCloudRunDeployRecordRequest` (request).
    #[serde(deny_unknown_fields)]
    pub struct DescribeCloudRunDeployRecordRequest {
        "EnvId" env_id: String,
        "ServerName" server_name: String,
    }
}

api_object! {
    #[output]
    /// `DescribeCloudRunDeployRecordResponse` (response).
    #[serde(default)]
    pub struct DescribeCloudRunDeployRecordResponse {
        "DeployRecords" deploy_records: Vec<DeployRecord>,
        "RequestId" request_id: String,
    }
}

api_object! {
    /// `DescribeCloudRunProcessLogRequest` (request).
    #[serde(deny_unknown_fields)]
    pub struct DescribeCloudRunProcessLogRequest {
        "EnvId" env_id: String,
        "RunId" run_id: String,
    }
}

api_object! {
    #[output]
    /// `DescribeCloudRunProcessLogResponse` (response).
    #[serde(default)]
    pub struct DescribeCloudRunProcessLogResponse {
        "Logs" logs: Vec<String>,
        "RequestId" request_id: String,
    }
}

api_object! {
    /// `DescribeReleaseOrderRequest` (request).
    #[serde(deny_unknown_fields)]
    pub struct DescribeReleaseOrderRequest {
        "EnvId" env_id: String,
        "ServerName" server_name: String,
        "Status" status: Option<String>,
    }
}

api_object! {
    #[output]
    /// `DescribeReleaseOrderResponse` (response).
    #[serde(default)]
    pub struct DescribeReleaseOrderResponse {
        "IsExist" is_exist: bool,
        "ReleaseOrderInfo" release_order_info: ReleaseOrderInfo,
        "LastReleasedSuccessTime" last_released_success_time: String,
        "RequestId" request_id: String,
    }
}

api_object! {
    /// `ReleaseGrayRequest` (request).
    #[serde(deny_unknown_fields)]
    pub struct ReleaseGrayRequest {
        "EnvId" env_id: String,
        "ServerName" server_name: String,
        "GrayType" gray_type: String,
        "TrafficType" traffic_type: String,
        "VersionFlowItems" version_flow_items: Option<Vec<VersionFlowInfo>>,
        "OperatorRemark" operator_remark: Option<String>,
        "GrayFlowRatio" gray_flow_ratio: Option<i64>,
        /// Undocumented: sent by Tencent's own clients (see UNDOCUMENTED_FIELDS).
        "CloseGrayRelease" close_gray_release: Option<bool>,
    }
}

api_object! {
    #[output]
    /// `ReleaseGrayResponse` (response).
    #[serde(default)]
    pub struct ReleaseGrayResponse {
        "RequestId" request_id: String,
    }
}

api_object! {
    /// `OperateServerManageRequest` (request).
    #[serde(deny_unknown_fields)]
    pub struct OperateServerManageRequest {
        "EnvId" env_id: String,
        "ServerName" server_name: String,
        "TaskId" task_id: i64,
        "OperateType" operate_type: String,
        "OperatorRemark" operator_remark: Option<String>,
    }
}

api_object! {
    #[output]
    /// `OperateServerManageResponse` (response).
    #[serde(default)]
    pub struct OperateServerManageResponse {
        "RequestId" request_id: String,
    }
}

api_object! {
    /// `SubmitServerRollbackRequest` (request).
    #[serde(deny_unknown_fields)]
    pub struct SubmitServerRollbackRequest {
        "EnvId" env_id: String,
        "ServerName" server_name: String,
        "CurrentVersionName" current_version_name: String,
        "RollbackVersionName" rollback_version_name: String,
        "OperatorRemark" operator_remark: Option<String>,
    }
}

api_object! {
    #[output]
    /// `SubmitServerRollbackResponse` (response).
    #[serde(default)]
    pub struct SubmitServerRollbackResponse {
        "TaskId" task_id: i64,
        "RequestId" request_id: String,
    }
}

api_object! {
    /// `DescribeVersionDetailRequest` (request).
    #[serde(deny_unknown_fields)]
    pub struct DescribeVersionDetailRequest {
        "EnvId" env_id: String,
        "ServerName" server_name: String,
        "VersionName" version_name: String,
        "Channel" channel: Option<String>,
    }
}

api_object! {
    #[output]
    /// `DescribeVersionDetailResponse` (response).
    #[serde(default)]
    pub struct DescribeVersionDetailResponse {
        "Name" name: String,
        "Port" port: i64,
        "Cpu" cpu: f64,
        "Mem" mem: f64,
        "MinNum" min_num: i64,
        "MaxNum" max_num: i64,
        "PolicyDetails" policy_details: Vec<HpaPolicy>,
        "Dockerfile" dockerfile: String,
        "BuildDir" build_dir: String,
        "EnvParams" env_params: String,
        "Status" status: String,
        "CreatedTime" created_time: String,
        "UpdatedTime" updated_time: String,
        "LogPath" log_path: String,
        "EntryPoint" entry_point: Option<String>,
        "Cmd" cmd: Option<String>,
        "VpcConf" vpc_conf: Option<VpcConf>,
        "VolumesConf" volumes_conf: Option<Vec<VolumeConf>>,
        "BuildPacks" build_packs: Option<BuildPacksInfo>,
        "RequestId" request_id: String,
    }
}

api_object! {
    /// `DeployParam` (input).
    #[serde(deny_unknown_fields)]
    pub struct DeployParam {
        "DeployType" deploy_type: String,
        "ImageUrl" image_url: Option<String>,
        "PackageName" package_name: Option<String>,
        "PackageVersion" package_version: Option<String>,
        "DeployRemark" deploy_remark: Option<String>,
        "RepoInfo" repo_info: Option<RepositoryInfo>,
        "BuildPacks" build_packs: Option<BuildPacksInfo>,
        "ReleaseType" release_type: Option<String>,
    }
}

api_object! {
    #[output]
    /// `ServerBaseConfig` (input and output).
    #[serde(default)]
    pub struct ServerBaseConfig {
        "EnvId" env_id: String,
        "ServerName" server_name: String,
        "OpenAccessTypes" open_access_types: Vec<String>,
        "Cpu" cpu: f64,
        "Mem" mem: f64,
        "MinNum" min_num: u64,
        "MaxNum" max_num: u64,
        "PolicyDetails" policy_details: Vec<HpaPolicy>,
        "CustomLogs" custom_logs: String,
        "EnvParams" env_params: String,
        "InitialDelaySeconds" initial_delay_seconds: u64,
        "CreateTime" create_time: String,
        "Port" port: i64,
        "HasDockerfile" has_dockerfile: bool,
        "Dockerfile" dockerfile: String,
        "BuildDir" build_dir: String,
        "LogType" log_type: Option<String>,
        "LogSetId" log_set_id: Option<String>,
        "LogTopicId" log_topic_id: Option<String>,
        "LogParseType" log_parse_type: Option<String>,
        "Tag" tag: Option<String>,
        "InternalAccess" internal_access: Option<String>,
        "InternalDomain" internal_domain: Option<String>,
        "OperationMode" operation_mode: Option<String>,
        "TimerScale" timer_scale: Option<Vec<TimerScale>>,
        "EntryPoint" entry_point: Option<Vec<String>>,
        "Cmd" cmd: Option<Vec<String>>,
        "SessionAffinity" session_affinity: Option<String>,
        "VpcConf" vpc_conf: Option<VpcConf>,
        "VolumesConf" volumes_conf: Option<Vec<VolumeConf>>,
        "LinkImageRegistry" link_image_registry: Option<String>,
        "PublicNetConf" public_net_conf: Option<PublicNetConf>,
    }
}

api_object! {
    /// `DiffConfigItem` (input).
    #[serde(deny_unknown_fields)]
    pub struct DiffConfigItem {
        "Key" key: String,
        "Value" value: Option<String>,
        "IntValue" int_value: Option<i64>,
        "BoolValue" bool_value: Option<bool>,
        "FloatValue" float_value: Option<f64>,
        "ArrayValue" array_value: Option<Vec<String>>,
        "PolicyDetails" policy_details: Option<Vec<HpaPolicy>>,
        "TimerScale" timer_scale: Option<Vec<TimerScale>>,
        "VpcConf" vpc_conf: Option<VpcConf>,
        "VolumesConf" volumes_conf: Option<Vec<VolumeConf>>,
        "PublicNetConf" public_net_conf: Option<PublicNetConf>,
    }
}

api_object! {
    /// `CreateVpcInfo` (input).
    #[serde(deny_unknown_fields)]
    pub struct CreateVpcInfo {
        "VpcId" vpc_id: String,
        "CreateType" create_type: i64,
        "SubnetIds" subnet_ids: Option<Vec<String>>,
    }
}

api_object! {
    /// `VersionFlowInfo` (input).
    #[serde(deny_unknown_fields)]
    pub struct VersionFlowInfo {
        "VersionName" version_name: String,
        "IsDefaultPriority" is_default_priority: bool,
        "FlowRatio" flow_ratio: Option<i64>,
        "UrlParam" url_param: Option<ObjectKV>,
        "Priority" priority: Option<i64>,
    }
}

api_object! {
    /// `RepositoryInfo` (input).
    #[serde(deny_unknown_fields)]
    pub struct RepositoryInfo {
        "Source" source: String,
        "Repo" repo: String,
        "Branch" branch: String,
    }
}

api_object! {
    #[output]
    /// `BuildPacksInfo` (input and output).
    #[serde(default)]
    pub struct BuildPacksInfo {
        "BaseImage" base_image: String,
        "EntryPoint" entry_point: String,
        "RepoLanguage" repo_language: String,
        "UploadFilename" upload_filename: String,
        "LanguageVersion" language_version: Option<String>,
    }
}

api_object! {
    #[output]
    /// `HpaPolicy` (input and output).
    #[serde(default)]
    pub struct HpaPolicy {
        "PolicyType" policy_type: Option<String>,
        "PolicyThreshold" policy_threshold: Option<u64>,
    }
}

api_object! {
    #[output]
    /// `TimerScale` (input and output).
    #[serde(default)]
    pub struct TimerScale {
        "CycleType" cycle_type: Option<String>,
        "StartDate" start_date: Option<String>,
        "EndDate" end_date: Option<String>,
        "StartTime" start_time: Option<String>,
        "EndTime" end_time: Option<String>,
        "ReplicaNum" replica_num: Option<u64>,
    }
}

api_object! {
    #[output]
    /// `VpcConf` (input and output).
    #[serde(default)]
    pub struct VpcConf {
        "VpcId" vpc_id: Option<String>,
        "VpcCIDR" vpc_cidr: Option<String>,
        "SubnetId" subnet_id: Option<String>,
        "SubnetCIDR" subnet_cidr: Option<String>,
    }
}

api_object! {
    #[output]
    /// `VolumeConf` (input and output).
    #[serde(default)]
    pub struct VolumeConf {
        "Type" r#type: Option<String>,
        "BucketName" bucket_name: Option<String>,
        "Endpoint" endpoint: Option<String>,
        "KeyID" key_id: Option<String>,
        "DstPath" dst_path: Option<String>,
        "SrcPath" src_path: Option<String>,
        "MountIP" mount_ip: Option<String>,
        "ReadOnly" read_only: Option<bool>,
        "InstanceId" instance_id: Option<String>,
    }
}

api_object! {
    #[output]
    /// `PublicNetConf` (input and output).
    #[serde(default)]
    pub struct PublicNetConf {
        "PublicNetStatus" public_net_status: Option<String>,
    }
}

api_object! {
    #[output]
    /// `ObjectKV` (input and output).
    #[serde(default)]
    pub struct ObjectKV {
        "Key" key: String,
        "Value" value: String,
    }
}

api_object! {
    #[output]
    /// `EnvBaseInfo` (output).
    #[serde(default)]
    pub struct EnvBaseInfo {
        "EnvId" env_id: String,
        "PackageType" package_type: String,
        "VpcId" vpc_id: String,
        "CreateTime" create_time: String,
        "Alias" alias: String,
        "Status" status: String,
        "Region" region: String,
        "EnvType" env_type: String,
        "SubnetIds" subnet_ids: String,
        "Recycle" recycle: Option<String>,
    }
}

api_object! {
    #[output]
    /// `EnvInfo` (output).
    #[serde(default)]
    pub struct EnvInfo {
        "EnvId" env_id: String,
        "Source" source: String,
        "Alias" alias: String,
        "CreateTime" create_time: String,
        "UpdateTime" update_time: String,
        "Status" status: String,
        "IsAutoDegrade" is_auto_degrade: bool,
        "EnvChannel" env_channel: String,
        "PayMode" pay_mode: String,
        "IsDefault" is_default: bool,
        "Region" region: String,
        "EnvType" env_type: String,
        "Databases" databases: Vec<DatabasesInfo>,
        "Storages" storages: Vec<StorageInfo>,
        "Functions" functions: Vec<FunctionInfo>,
        "LogServices" log_services: Vec<LogServiceInfo>,
        "StaticStorages" static_storages: Vec<StaticStorageInfo>,
        "Tags" tags: Vec<Tag>,
        "CustomLogServices" custom_log_services: Vec<ClsInfo>,
        "PackageId" package_id: String,
        "PackageName" package_name: String,
    }
}

api_object! {
    #[output]
    /// `ServerBaseInfo` (output).
    #[serde(default)]
    pub struct ServerBaseInfo {
        "ServerName" server_name: String,
        "DefaultDomainName" default_domain_name: String,
        "CustomDomainName" custom_domain_name: String,
        "Status" status: String,
        "UpdateTime" update_time: String,
        "AccessTypes" access_types: Vec<String>,
        "CustomDomainNames" custom_domain_names: Vec<String>,
        "ServerType" server_type: Option<String>,
        "TrafficType" traffic_type: Option<String>,
        "CreateTime" create_time: Option<String>,
    }
}

api_object! {
    #[output]
    /// `OnlineVersionInfo` (output).
    #[serde(default)]
    pub struct OnlineVersionInfo {
        "VersionName" version_name: String,
        "ImageUrl" image_url: String,
        "FlowRatio" flow_ratio: String,
    }
}

api_object! {
    #[output]
    /// `ServerManageTaskInfo` (output).
    #[serde(default)]
    pub struct ServerManageTaskInfo {
        "Id" id: i64,
        "EnvId" env_id: String,
        "ServerName" server_name: String,
        "CreateTime" create_time: String,
        "ChangeType" change_type: String,
        "ReleaseType" release_type: String,
        "DeployType" deploy_type: String,
        "PreVersionName" pre_version_name: String,
        "VersionName" version_name: String,
        "PipelineId" pipeline_id: i64,
        "PipelineTaskId" pipeline_task_id: i64,
        "ReleaseId" release_id: i64,
        "Status" status: String,
        "Steps" steps: Vec<TaskStepInfo>,
        "FailReason" fail_reason: String,
        "OperatorRemark" operator_remark: String,
    }
}

api_object! {
    #[output]
    /// `DeployRecord` (output).
    #[serde(default)]
    pub struct DeployRecord {
        "DeployId" deploy_id: String,
        "DeployTime" deploy_time: String,
        "Status" status: String,
        "RunId" run_id: String,
        "BuildId" build_id: i64,
        "FlowRatio" flow_ratio: i64,
        "ImageUrl" image_url: Option<String>,
        "ScaleStatus" scale_status: Option<String>,
        "HasTraffic" has_traffic: Option<bool>,
        "TrafficType" traffic_type: Option<String>,
        "IsReleasing" is_releasing: Option<bool>,
    }
}

api_object! {
    #[output]
    /// `ReleaseOrderInfo` (output).
    #[serde(default)]
    pub struct ReleaseOrderInfo {
        "Id" id: i64,
        "ServerName" server_name: String,
        "CurrentVersion" current_version: VersionInfo,
        "ReleaseVersion" release_version: VersionInfo,
        "GrayStatus" gray_status: String,
        "ReleaseStatus" release_status: String,
        "TrafficTypeValues" traffic_type_values: Vec<ObjectKV>,
        "TrafficType" traffic_type: String,
        "FlowRatio" flow_ratio: i64,
        "CreateTime" create_time: String,
        "IsReleasing" is_releasing: bool,
    }
}

api_object! {
    #[output]
    /// `DatabasesInfo` (output).
    #[serde(default)]
    pub struct DatabasesInfo {
        "InstanceId" instance_id: String,
        "Status" status: String,
        "Region" region: String,
    }
}

api_object! {
    #[output]
    /// `StorageInfo` (output).
    #[serde(default)]
    pub struct StorageInfo {
        "Region" region: String,
        "Bucket" bucket: String,
        "CdnDomain" cdn_domain: String,
        "AppId" app_id: String,
    }
}

api_object! {
    #[output]
    /// `FunctionInfo` (output).
    #[serde(default)]
    pub struct FunctionInfo {
        "Namespace" namespace: String,
        "Region" region: String,
    }
}

api_object! {
    #[output]
    /// `LogServiceInfo` (output).
    #[serde(default)]
    pub struct LogServiceInfo {
        "LogsetName" logset_name: String,
        "LogsetId" logset_id: String,
        "TopicName" topic_name: String,
        "TopicId" topic_id: String,
        "Region" region: String,
    }
}

api_object! {
    #[output]
    /// `StaticStorageInfo` (output).
    #[serde(default)]
    pub struct StaticStorageInfo {
        "StaticDomain" static_domain: String,
        "DefaultDirName" default_dir_name: String,
        "Status" status: String,
        "Region" region: String,
        "Bucket" bucket: String,
    }
}

api_object! {
    #[output]
    /// `Tag` (output).
    #[serde(default)]
    pub struct Tag {
        "Key" key: String,
        "Value" value: String,
    }
}

api_object! {
    #[output]
    /// `ClsInfo` (output).
    #[serde(default)]
    pub struct ClsInfo {
        "ClsRegion" cls_region: String,
        "ClsLogsetId" cls_logset_id: String,
        "ClsTopicId" cls_topic_id: String,
        "CreateTime" create_time: String,
    }
}

api_object! {
    #[output]
    /// `TaskStepInfo` (output).
    #[serde(default)]
    pub struct TaskStepInfo {
        "Name" name: String,
        "Status" status: String,
        "StartTime" start_time: String,
        "EndTime" end_time: String,
        "CostTime" cost_time: i64,
        "FailReason" fail_reason: String,
    }
}

api_object! {
    #[output]
    /// `VersionInfo` (output).
    #[serde(default)]
    pub struct VersionInfo {
        "VersionName" version_name: String,
        "FlowRatio" flow_ratio: i64,
        "Status" status: String,
        "CreatedTime" created_time: String,
        "UpdatedTime" updated_time: String,
        "BuildId" build_id: i64,
        "UploadType" upload_type: String,
        "Remark" remark: String,
        "UrlParam" url_param: ObjectKV,
        "Priority" priority: i64,
        "IsDefaultPriority" is_default_priority: bool,
        "FlowParams" flow_params: Vec<ObjectKVPriority>,
        "MinReplicas" min_replicas: i64,
        "MaxReplicas" max_replicas: i64,
        "RunId" run_id: String,
        "Percent" percent: i64,
        "CurrentReplicas" current_replicas: i64,
        "Architecture" architecture: String,
    }
}

api_object! {
    #[output]
    /// `ObjectKVPriority` (output).
    #[serde(default)]
    pub struct ObjectKVPriority {
        "Key" key: String,
        "Value" value: String,
        "Priority" priority: i64,
    }
}

registry! {
    DescribeEnvBaseInfoRequest,
    DescribeEnvBaseInfoResponse,
    DescribeCloudRunEnvsRequest,
    DescribeCloudRunEnvsResponse,
    DescribeCloudRunServersRequest,
    DescribeCloudRunServersResponse,
    DescribeCloudRunServerDetailRequest,
    DescribeCloudRunServerDetailResponse,
    CreateCloudRunServerRequest,
    CreateCloudRunServerResponse,
    UpdateCloudRunServerRequest,
    UpdateCloudRunServerResponse,
    DescribeServerManageTaskRequest,
    DescribeServerManageTaskResponse,
    DescribeCloudRunDeployRecordRequest,
    DescribeCloudRunDeployRecordResponse,
    DescribeCloudRunProcessLogRequest,
    DescribeCloudRunProcessLogResponse,
    DescribeReleaseOrderRequest,
    DescribeReleaseOrderResponse,
    ReleaseGrayRequest,
    ReleaseGrayResponse,
    OperateServerManageRequest,
    OperateServerManageResponse,
    SubmitServerRollbackRequest,
    SubmitServerRollbackResponse,
    DescribeVersionDetailRequest,
    DescribeVersionDetailResponse,
    DeployParam,
    ServerBaseConfig,
    DiffConfigItem,
    CreateVpcInfo,
    VersionFlowInfo,
    RepositoryInfo,
    BuildPacksInfo,
    HpaPolicy,
    TimerScale,
    VpcConf,
    VolumeConf,
    PublicNetConf,
    ObjectKV,
    EnvBaseInfo,
    EnvInfo,
    ServerBaseInfo,
    OnlineVersionInfo,
    ServerManageTaskInfo,
    DeployRecord,
    ReleaseOrderInfo,
    DatabasesInfo,
    StorageInfo,
    FunctionInfo,
    LogServiceInfo,
    StaticStorageInfo,
    Tag,
    ClsInfo,
    TaskStepInfo,
    VersionInfo,
    ObjectKVPriority,
}
