//! The emulator's state and every change the API can make to it. Pure: each operation takes the
//! time (`Now`) and whatever was drawn at random (faults, behaviour) as arguments, so the state
//! machine is tested without a server or a clock.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::clock::Now;
use super::config::{ConfigValue, ServiceConfig};
use super::faults::TaskFaults;
use super::rng::SeededRng;
use super::synthetic::Behaviour;
use super::task::{Outcome, Progress, StepName, TaskStatus, Transition};

/// An error the API answers with (`Response.Error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ApiError {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidParameterValue", message)
}

fn failed(message: impl Into<String>) -> ApiError {
    ApiError::new("FailedOperation", message)
}

/// Everything the emulator remembers; the state file is this, as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct World {
    pub envs: BTreeMap<String, Env>,
    pub next_task_id: u64,
    pub next_order_id: u64,
    /// The emulated clock when the state was saved, so tasks resume where they were.
    pub emu_ms: u64,
    pub seed: u64,
    /// Temporary credentials issued by sts, by TmpSecretId.
    #[serde(default)]
    pub temp_credentials: BTreeMap<String, super::auth::TempCredential>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Env {
    pub id: String,
    pub alias: String,
    pub region: String,
    pub created: String,
    pub services: BTreeMap<String, Service>,
    /// Process logs by RunId.
    pub logs: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    pub env_id: String,
    pub created: String,
    pub updated: String,
    /// `ServerBaseInfo.Status`: creating, create_failed, normal.
    pub status: String,
    pub config: ServiceConfig,
    pub versions: Vec<Version>,
    pub tasks: Vec<Task>,
    pub records: Vec<DeployRecord>,
    pub traffic: Traffic,
    pub orders: Vec<ReleaseOrder>,
    pub next_version: u32,
    pub last_released: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    /// `<service>-<NNN>`, as the cloud names versions (`golang-h7yv-001`).
    pub name: String,
    pub image: String,
    /// creating, normal, build_failed, deploy_failed, cancelled.
    pub status: String,
    pub created: String,
    pub updated: String,
    pub run_id: String,
    pub remark: String,
    pub deploy_type: String,
    pub behaviour: Behaviour,
    pub config: ServiceConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    pub id: u64,
    pub created: String,
    /// `deploy` or `rollback`.
    pub change_type: String,
    /// `FULL` or `GRAY`.
    pub release_type: String,
    pub deploy_type: String,
    pub pre_version: String,
    pub version: String,
    pub remark: String,
    pub order_id: u64,
    pub run_id: String,
    pub progress: Progress,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployRecord {
    pub deploy_id: String,
    pub time: String,
    /// deploying, running, deploy_failed, build_failed, cancelled.
    pub status: String,
    pub run_id: String,
    pub image: String,
    pub version: String,
    pub task_id: u64,
}

/// The traffic split of a service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    /// FLOW, URL_PARAMS or HEADERS.
    pub kind: String,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub version: String,
    pub ratio: u32,
    pub priority: i64,
    pub is_default: bool,
    /// For URL_PARAMS / HEADERS: the key and the value (a glob) that select this version.
    pub param: Option<(String, String)>,
}

impl Traffic {
    pub fn ratio_of(&self, version: &str) -> u32 {
        self.routes
            .iter()
            .find(|r| r.version == version)
            .map_or(0, |r| r.ratio)
    }

    /// The version that serves by default: the default route, else the largest share.
    pub fn serving(&self) -> Option<&str> {
        self.routes
            .iter()
            .find(|r| r.is_default)
            .or_else(|| self.routes.iter().max_by_key(|r| r.ratio))
            .map(|r| r.version.as_str())
    }

    fn only(version: &str) -> Traffic {
        Traffic {
            kind: "FLOW".into(),
            routes: vec![Route {
                version: version.to_string(),
                ratio: 100,
                priority: 0,
                is_default: true,
                param: None,
            }],
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseOrder {
    pub id: u64,
    pub task_id: u64,
    pub current_version: String,
    pub release_version: String,
    /// open (canary open), closed.
    pub gray_status: String,
    /// deploying, open, finished, failed, cancelled, rolled_back.
    pub release_status: String,
    pub created: String,
    pub is_releasing: bool,
}

/// What a deploy asks for (from CreateCloudRunServer / UpdateCloudRunServer).
#[derive(Debug, Clone, PartialEq)]
pub struct DeploySpec {
    pub deploy_type: String,
    pub image: String,
    pub gray: bool,
    pub remark: String,
    pub items: Vec<(String, ConfigValue)>,
}

/// What `ReleaseGray` asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct GraySpec {
    pub traffic_type: String,
    pub gray_flow_ratio: Option<u32>,
    pub items: Vec<Route>,
    /// manager-node's undocumented `CloseGrayRelease: true`: close the canary at 100%.
    pub close: bool,
}

/// What `SubmitServerRollback` asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RollbackSpec<'a> {
    /// The version serving now (the cloud checks the caller knows it).
    pub current: &'a str,
    pub target: &'a str,
    pub remark: &'a str,
}

/// `OperateServerManage.OperateType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Cancel,
    GoBack,
    Done,
}

impl Operation {
    pub fn parse(value: &str) -> ApiResult<Operation> {
        match value {
            "cancel" => Ok(Operation::Cancel),
            "go_back" => Ok(Operation::GoBack),
            "done" => Ok(Operation::Done),
            other => Err(invalid(format!(
                "OperateType `{other}` is not one of cancel, go_back, done"
            ))),
        }
    }
}

const CONFLICT: &str = "当前已有部署发布任务运行中,请结束后再执行";

impl World {
    /// A fresh world with these environments.
    pub fn new(envs: &[String], seed: u64, now: Now) -> World {
        let mut world = World {
            envs: BTreeMap::new(),
            next_task_id: 1001,
            next_order_id: 1,
            emu_ms: now.emu_ms,
            seed,
            temp_credentials: BTreeMap::new(),
        };
        for env in envs {
            world.ensure_env(env, now);
        }
        world
    }

    /// Adds an environment unless it exists (restarts with `--env` keep the old one).
    pub fn ensure_env(&mut self, id: &str, now: Now) {
        self.envs.entry(id.to_string()).or_insert_with(|| Env {
            id: id.to_string(),
            alias: id
                .rsplit_once('-')
                .map_or(id, |(alias, _)| alias)
                .to_string(),
            region: "ap-shanghai".into(),
            created: now.stamp(),
            services: BTreeMap::new(),
            logs: BTreeMap::new(),
        });
    }

    pub fn env(&self, env: &str) -> ApiResult<&Env> {
        self.envs.get(env).ok_or_else(|| {
            ApiError::new(
                "ResourceNotFound",
                format!("environment `{env}` does not exist"),
            )
        })
    }

    pub fn service(&self, env: &str, name: &str) -> ApiResult<&Service> {
        self.env(env)?
            .services
            .get(name)
            .ok_or_else(|| server_not_found(env, name))
    }

    fn service_mut(&mut self, env: &str, name: &str) -> ApiResult<&mut Service> {
        self.envs
            .get_mut(env)
            .ok_or_else(|| {
                ApiError::new(
                    "ResourceNotFound",
                    format!("environment `{env}` does not exist"),
                )
            })?
            .services
            .get_mut(name)
            .ok_or_else(|| server_not_found(env, name))
    }

    /// Advances every running task to `now` and applies what happened.
    pub fn tick(&mut self, now: Now) {
        self.emu_ms = self.emu_ms.max(now.emu_ms);
        let stamp = now.stamp();
        for env in self.envs.values_mut() {
            for service in env.services.values_mut() {
                for index in 0..service.tasks.len() {
                    if service.tasks[index].progress.status != TaskStatus::Running {
                        continue;
                    }
                    let transitions = service.tasks[index].progress.advance(now.emu_ms, &stamp);
                    for transition in transitions {
                        service.apply(index, &transition, &stamp, &mut env.logs);
                    }
                }
            }
        }
    }

    /// `CreateCloudRunServer`: a new service and its first release.
    pub fn create_service(
        &mut self,
        now: Now,
        env: &str,
        name: &str,
        spec: DeploySpec,
        behaviour: Result<Behaviour, String>,
        faults: TaskFaults,
    ) -> ApiResult<u64> {
        check_server_name(name)?;
        let stamp = now.stamp();
        let environment = self.envs.get_mut(env).ok_or_else(|| {
            ApiError::new(
                "ResourceNotFound",
                format!("environment `{env}` does not exist"),
            )
        })?;
        if environment.services.contains_key(name) {
            return Err(failed(format!(
                "service `{name}` already exists in `{env}`; deploy to it with UpdateCloudRunServer"
            )));
        }
        let mut config = ServiceConfig::default();
        apply_items(&mut config, &spec.items)?;
        environment.services.insert(
            name.to_string(),
            Service {
                name: name.to_string(),
                env_id: env.to_string(),
                created: stamp.clone(),
                updated: stamp,
                status: "creating".into(),
                config,
                versions: Vec::new(),
                tasks: Vec::new(),
                records: Vec::new(),
                traffic: Traffic {
                    kind: "FLOW".into(),
                    routes: Vec::new(),
                },
                orders: Vec::new(),
                next_version: 1,
                last_released: String::new(),
            },
        );
        let spec = DeploySpec {
            gray: false,
            ..spec
        };
        self.start_deploy(now, env, name, spec, behaviour, faults)
    }

    /// `UpdateCloudRunServer`: release a new version of an existing service.
    pub fn update_service(
        &mut self,
        now: Now,
        env: &str,
        name: &str,
        spec: DeploySpec,
        behaviour: Result<Behaviour, String>,
        faults: TaskFaults,
    ) -> ApiResult<u64> {
        let service = self.service_mut(env, name)?;
        service.check_no_running_task("UpdateCloudRunServer")?;
        let mut config = service.config.clone();
        apply_items(&mut config, &spec.items)?;
        service.config = config;
        // A gray release needs a serving version to compare with.
        let gray = spec.gray && service.traffic.serving().is_some();
        self.start_deploy(
            now,
            env,
            name,
            DeploySpec { gray, ..spec },
            behaviour,
            faults,
        )
    }

    fn start_deploy(
        &mut self,
        now: Now,
        env: &str,
        name: &str,
        spec: DeploySpec,
        behaviour: Result<Behaviour, String>,
        faults: TaskFaults,
    ) -> ApiResult<u64> {
        let (task_id, order_id, run_id) = self.allocate_ids();
        let stamp = now.stamp();
        let service = self.service_mut(env, name)?;
        let version_name = format!("{}-{:03}", service.name, service.next_version);
        service.next_version += 1;
        let outcome = deploy_outcome(&behaviour, &faults, spec.gray);
        service.versions.push(Version {
            name: version_name.clone(),
            image: spec.image.clone(),
            status: "creating".into(),
            created: stamp.clone(),
            updated: stamp.clone(),
            run_id: run_id.clone(),
            remark: spec.remark.clone(),
            deploy_type: spec.deploy_type.clone(),
            behaviour: behaviour.unwrap_or_default(),
            config: service.config.clone(),
        });
        let release_type = if spec.gray { "GRAY" } else { "FULL" };
        service.begin_task(
            now,
            TaskStart {
                id: task_id,
                order_id,
                run_id,
                change_type: "deploy",
                release_type,
                deploy_type: &spec.deploy_type,
                version: &version_name,
                image: &spec.image,
                remark: &spec.remark,
                steps: &StepName::ALL,
                outcome,
            },
        );
        self.tick(now);
        Ok(task_id)
    }

    /// `SubmitServerRollback`: serve an earlier version again.
    pub fn rollback(
        &mut self,
        now: Now,
        env: &str,
        name: &str,
        spec: RollbackSpec<'_>,
        faults: TaskFaults,
    ) -> ApiResult<u64> {
        let RollbackSpec {
            current,
            target,
            remark,
        } = spec;
        self.tick(now);
        let (task_id, order_id, run_id) = self.allocate_ids();
        let service = self.service_mut(env, name)?;
        service.check_no_running_task("SubmitServerRollback")?;
        let serving = service.traffic.serving().unwrap_or_default().to_string();
        if current != serving {
            return Err(invalid(format!(
                "CurrentVersionName `{current}` is not the online version (`{serving}` is)"
            )));
        }
        let version = service.version(target)?;
        if version.status != "normal" {
            return Err(invalid(format!(
                "RollbackVersionName `{target}` is {} and cannot serve",
                version.status
            )));
        }
        if target == current {
            return Err(invalid(format!("`{target}` is already the online version")));
        }
        let image = version.image.clone();
        let steps = [StepName::DeployInstance, StepName::SwitchTraffic];
        let outcome = Outcome {
            fail_at: faults
                .fail_at
                .filter(|(step, _, _)| steps.contains(step))
                .map(|(step, reason, _)| (step, reason)),
            stuck_at: faults.stuck_at.filter(|step| steps.contains(step)),
            gray: false,
            // A real container of an earlier version was removed when it stopped serving:
            // the rollback starts it again.
            awaiting: if version.behaviour.container {
                vec![StepName::DeployInstance]
            } else {
                Vec::new()
            },
        };
        service.begin_task(
            now,
            TaskStart {
                id: task_id,
                order_id,
                run_id,
                change_type: "rollback",
                release_type: "FULL",
                deploy_type: "image",
                version: target,
                image: &image,
                remark,
                steps: &steps,
                outcome,
            },
        );
        self.tick(now);
        Ok(task_id)
    }

    /// `ReleaseGray`: set the split of the open canary, or close it at 100%.
    pub fn release_gray(
        &mut self,
        now: Now,
        env: &str,
        name: &str,
        spec: GraySpec,
    ) -> ApiResult<()> {
        self.tick(now);
        let stamp = now.stamp();
        let environment = self.envs.get_mut(env).ok_or_else(|| {
            ApiError::new(
                "ResourceNotFound",
                format!("environment `{env}` does not exist"),
            )
        })?;
        let service = environment
            .services
            .get_mut(name)
            .ok_or_else(|| server_not_found(env, name))?;
        let index = service.open_gray_task()?;
        let (current, release) = {
            let task = &service.tasks[index];
            (task.pre_version.clone(), task.version.clone())
        };
        let traffic = gray_traffic(&spec, &current, &release)?;
        service.traffic = traffic;
        service.updated = stamp.clone();
        if spec.close && service.traffic.ratio_of(&release) == 100 {
            service.close_task(index, Operation::Done, now, &mut environment.logs);
        } else {
            let run_id = service.tasks[index].run_id.clone();
            let split = describe_split(&service.traffic);
            log(
                &mut environment.logs,
                &run_id,
                &stamp,
                &format!("traffic split set: {split}"),
            );
        }
        Ok(())
    }

    /// `OperateServerManage`: cancel, go_back or done on a running task.
    pub fn operate(
        &mut self,
        now: Now,
        env: &str,
        name: &str,
        task_id: u64,
        operation: Operation,
    ) -> ApiResult<()> {
        self.tick(now);
        let environment = self.envs.get_mut(env).ok_or_else(|| {
            ApiError::new(
                "ResourceNotFound",
                format!("environment `{env}` does not exist"),
            )
        })?;
        let service = environment
            .services
            .get_mut(name)
            .ok_or_else(|| server_not_found(env, name))?;
        let index = service.task_index(task_id).ok_or_else(|| {
            ApiError::new("ResourceNotFound", format!("task {task_id} does not exist"))
        })?;
        let task = &service.tasks[index];
        if task.progress.status != TaskStatus::Running {
            return Err(failed(format!(
                "task {} is {}; only a running task can be operated",
                task.id,
                task.progress.status.as_str()
            )));
        }
        if operation == Operation::Done && !task.progress.gray_open() {
            return Err(failed(format!(
                "task {} has no open gray release to complete",
                task.id
            )));
        }
        service.close_task(index, operation, now, &mut environment.logs);
        Ok(())
    }

    /// The container engine's word on a step that task `task_id` awaits: `Ok(note)` ends the
    /// step's wait (the note goes to the task's process log), `Err(reason)` fails the task at
    /// that step. Ignored when the task no longer awaits that step.
    pub fn engine_answered(
        &mut self,
        now: Now,
        env: &str,
        name: &str,
        task_id: u64,
        step: StepName,
        answer: Result<String, String>,
    ) {
        let Some(environment) = self.envs.get_mut(env) else {
            return;
        };
        let Some(task) = environment
            .services
            .get_mut(name)
            .and_then(|s| s.tasks.iter_mut().find(|t| t.id == task_id))
        else {
            return;
        };
        if task.progress.status != TaskStatus::Running
            || !task.progress.outcome.awaiting.contains(&step)
        {
            return;
        }
        // A failure is logged once, as the step's ERROR line, when the task fails.
        if let Ok(note) = &answer {
            let line = format!("[{step}] {note}");
            log(&mut environment.logs, &task.run_id, &now.stamp(), &line);
        }
        task.progress.engine_answered(step, answer.map(|_| ()));
        self.tick(now);
    }

    fn allocate_ids(&mut self) -> (u64, u64, String) {
        let task_id = self.next_task_id;
        self.next_task_id += 1;
        let order_id = self.next_order_id;
        self.next_order_id += 1;
        let run_id = SeededRng::derive(self.seed, &format!("run-{task_id}")).alphanumeric(14);
        (task_id, order_id, run_id)
    }
}

/// The parts of a new task.
struct TaskStart<'a> {
    id: u64,
    order_id: u64,
    run_id: String,
    change_type: &'static str,
    release_type: &'static str,
    deploy_type: &'a str,
    version: &'a str,
    image: &'a str,
    remark: &'a str,
    steps: &'a [StepName],
    outcome: Outcome,
}

impl Service {
    pub fn version(&self, name: &str) -> ApiResult<&Version> {
        self.versions
            .iter()
            .find(|v| v.name == name)
            .ok_or_else(|| {
                ApiError::new(
                    "ResourceNotFound.VersionNotFound",
                    format!("version `{name}` of `{}` does not exist", self.name),
                )
            })
    }

    fn version_mut(&mut self, name: &str) -> Option<&mut Version> {
        self.versions.iter_mut().find(|v| v.name == name)
    }

    /// The task with this id; 0 means the latest.
    pub fn task_index(&self, task_id: u64) -> Option<usize> {
        match task_id {
            0 => self.tasks.len().checked_sub(1),
            id => self.tasks.iter().position(|t| t.id == id),
        }
    }

    pub fn running_task(&self) -> Option<&Task> {
        self.tasks
            .iter()
            .rev()
            .find(|t| t.progress.status == TaskStatus::Running)
    }

    fn check_no_running_task(&self, action: &str) -> ApiResult<()> {
        match self.running_task() {
            Some(_) => Err(ApiError::new(
                "ResourceInUse",
                format!("[{action}] {CONFLICT}"),
            )),
            None => Ok(()),
        }
    }

    fn open_gray_task(&self) -> ApiResult<usize> {
        let index = self.task_index(0);
        match index.map(|i| &self.tasks[i]) {
            Some(task) if task.progress.gray_open() => Ok(index.unwrap_or_default()),
            Some(task)
                if task.release_type == "GRAY" && task.progress.status == TaskStatus::Running =>
            {
                Err(failed(format!(
                    "gray release task {} is still deploying version `{}`; wait until its deploy steps finish",
                    task.id, task.version
                )))
            }
            _ => Err(failed(format!(
                "service `{}` has no open gray release; deploy with DeployInfo.ReleaseType GRAY first",
                self.name
            ))),
        }
    }

    fn begin_task(&mut self, now: Now, start: TaskStart<'_>) {
        let stamp = now.stamp();
        let pre_version = self.traffic.serving().unwrap_or_default().to_string();
        self.records.push(DeployRecord {
            deploy_id: start.id.to_string(),
            time: stamp.clone(),
            status: "deploying".into(),
            run_id: start.run_id.clone(),
            image: start.image.to_string(),
            version: start.version.to_string(),
            task_id: start.id,
        });
        self.orders.push(ReleaseOrder {
            id: start.order_id,
            task_id: start.id,
            current_version: pre_version.clone(),
            release_version: start.version.to_string(),
            gray_status: if start.outcome.gray { "open" } else { "closed" }.into(),
            release_status: "deploying".into(),
            created: stamp.clone(),
            is_releasing: true,
        });
        self.tasks.push(Task {
            id: start.id,
            created: stamp.clone(),
            change_type: start.change_type.into(),
            release_type: start.release_type.into(),
            deploy_type: start.deploy_type.to_string(),
            pre_version,
            version: start.version.to_string(),
            remark: start.remark.to_string(),
            order_id: start.order_id,
            run_id: start.run_id,
            progress: Progress::start(start.steps, start.outcome, now.emu_ms),
        });
        self.updated = stamp;
    }

    /// Applies one transition of task `index` to the service.
    fn apply(
        &mut self,
        index: usize,
        transition: &Transition,
        stamp: &str,
        logs: &mut BTreeMap<String, Vec<String>>,
    ) {
        let task = self.tasks[index].clone();
        let line = |logs: &mut BTreeMap<String, Vec<String>>, text: &str| {
            log(logs, &task.run_id, stamp, text)
        };
        match transition {
            Transition::StepStarted(step) => {
                let image = self
                    .records
                    .iter()
                    .find(|r| r.task_id == task.id)
                    .map_or("", |r| r.image.as_str());
                line(logs, &step_started_line(*step, &task, image));
            }
            Transition::StepFinished(step) => {
                line(logs, &format!("[{step}] finished"));
                if *step == StepName::DeployInstance {
                    self.set_version_status(&task.version, "normal", stamp);
                    self.set_record_status(task.id, "running");
                }
            }
            Transition::GrayReady => {
                let pre = task.pre_version.clone();
                self.traffic.routes.retain(|r| r.version == pre);
                self.traffic.routes.push(Route {
                    version: task.version.clone(),
                    ratio: 0,
                    priority: 2,
                    is_default: false,
                    param: None,
                });
                self.set_order(task.order_id, "open", false);
                line(
                    logs,
                    &format!("gray release open: `{}` is ready for traffic", task.version),
                );
            }
            Transition::Finished => {
                self.traffic = Traffic::only(&task.version);
                self.status = "normal".into();
                self.updated = stamp.to_string();
                self.last_released = stamp.to_string();
                self.set_order(task.order_id, "finished", false);
                line(
                    logs,
                    &format!("release finished: `{}` serves 100%", task.version),
                );
            }
            Transition::Failed(step, reason) => {
                let status = if *step == StepName::BuildImage {
                    "build_failed"
                } else {
                    "deploy_failed"
                };
                if task.change_type == "deploy" {
                    self.set_version_status(&task.version, status, stamp);
                }
                self.set_record_status(task.id, status);
                self.set_order(task.order_id, "failed", false);
                if self.traffic.routes.is_empty() {
                    self.status = "create_failed".into();
                }
                self.updated = stamp.to_string();
                line(logs, &format!("[{step}] ERROR {reason}"));
            }
        }
    }

    /// Ends a running task by the operator's hand.
    fn close_task(
        &mut self,
        index: usize,
        operation: Operation,
        now: Now,
        logs: &mut BTreeMap<String, Vec<String>>,
    ) {
        let stamp = now.stamp();
        let task = self.tasks[index].clone();
        let was_open = task.progress.gray_open();
        let (status, order_status, reason) = match operation {
            Operation::Done => (TaskStatus::Finished, "finished", ""),
            Operation::Cancel => (TaskStatus::Cancelled, "cancelled", "cancelled by operator"),
            Operation::GoBack => (
                TaskStatus::RolledBack,
                "rolled_back",
                "rolled back by operator",
            ),
        };
        self.tasks[index]
            .progress
            .close(status, now.emu_ms, &stamp, reason);
        if operation == Operation::Done {
            self.traffic = Traffic::only(&task.version);
            self.status = "normal".into();
            self.last_released = stamp.clone();
        } else {
            self.restore_traffic(&task.pre_version);
            if !was_open {
                self.set_version_status(&task.version, "cancelled", &stamp);
                self.set_record_status(task.id, "cancelled");
            }
        }
        self.set_order(task.order_id, order_status, false);
        if let Some(order) = self.orders.iter_mut().find(|o| o.id == task.order_id) {
            order.gray_status = "closed".into();
        }
        self.updated = stamp.clone();
        let text = match operation {
            Operation::Done => format!("release completed: `{}` serves 100%", task.version),
            Operation::Cancel => format!("task {} cancelled", task.id),
            Operation::GoBack => format!("went back: `{}` serves 100%", task.pre_version),
        };
        log(logs, &task.run_id, &stamp, &text);
    }

    fn restore_traffic(&mut self, previous: &str) {
        self.traffic = if previous.is_empty() {
            Traffic {
                kind: "FLOW".into(),
                routes: Vec::new(),
            }
        } else {
            Traffic::only(previous)
        };
    }

    fn set_version_status(&mut self, version: &str, status: &str, stamp: &str) {
        if let Some(v) = self.version_mut(version) {
            v.status = status.to_string();
            v.updated = stamp.to_string();
        }
    }

    fn set_record_status(&mut self, task_id: u64, status: &str) {
        if let Some(record) = self.records.iter_mut().find(|r| r.task_id == task_id) {
            record.status = status.to_string();
        }
    }

    fn set_order(&mut self, order_id: u64, status: &str, releasing: bool) {
        if let Some(order) = self.orders.iter_mut().find(|o| o.id == order_id) {
            order.release_status = status.to_string();
            order.is_releasing = releasing;
        }
    }

    /// True while a task of this service is releasing (for records and orders).
    pub fn is_releasing(&self) -> bool {
        self.running_task().is_some_and(|t| !t.progress.gray_open())
    }
}

fn server_not_found(env: &str, name: &str) -> ApiError {
    ApiError::new(
        "ResourceNotFound.ServerNotFound",
        format!("service `{name}` does not exist in environment `{env}`"),
    )
}

/// Service names: lowercase letters, digits and hyphens, starting with a letter, at most 45.
fn check_server_name(name: &str) -> ApiResult<()> {
    let ok = name.len() <= 45
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "ServerName `{name}` must be 1-45 lowercase letters, digits or hyphens, starting with a letter"
        )))
    }
}

fn apply_items(config: &mut ServiceConfig, items: &[(String, ConfigValue)]) -> ApiResult<()> {
    let mut changed = config.clone();
    for (key, value) in items {
        changed.apply(key, value.clone()).map_err(invalid)?;
    }
    *config = changed;
    Ok(())
}

/// How a deploy will end: an image that cannot run fails its build; a synthetic `crash` never
/// becomes ready; faults come first.
fn deploy_outcome(
    behaviour: &Result<Behaviour, String>,
    faults: &TaskFaults,
    gray: bool,
) -> Outcome {
    let fail_at = match (&faults.fail_at, behaviour) {
        (Some((step, reason, _)), _) => Some((*step, reason.clone())),
        (None, Err(reason)) => Some((StepName::BuildImage, reason.clone())),
        (None, Ok(b)) if !b.ready => Some((
            StepName::DeployInstance,
            "instances never became ready: the container exited during startup".into(),
        )),
        _ => None,
    };
    let awaiting = match behaviour {
        Ok(b) if b.container => vec![StepName::BuildImage, StepName::DeployInstance],
        _ => Vec::new(),
    };
    Outcome {
        fail_at,
        stuck_at: faults.stuck_at,
        gray,
        awaiting,
    }
}

/// The routes `ReleaseGray` asks for, checked against the release order's two versions.
fn gray_traffic(spec: &GraySpec, current: &str, release: &str) -> ApiResult<Traffic> {
    let kind = match spec.traffic_type.as_str() {
        "" | "FLOW" => "FLOW",
        "URL_PARAMS" => "URL_PARAMS",
        "HEADERS" => "HEADERS",
        other => {
            return Err(invalid(format!(
                "TrafficType `{other}` is not one of FLOW, URL_PARAMS, HEADERS"
            )));
        }
    };
    let mut routes = spec.items.clone();
    if routes.is_empty() {
        let ratio = spec.gray_flow_ratio.ok_or_else(|| {
            ApiError::new("MissingParameter", "give VersionFlowItems or GrayFlowRatio")
        })?;
        routes = flow_pair(current, release, ratio)?;
    }
    for route in &routes {
        if route.version != current && route.version != release {
            return Err(invalid(format!(
                "VersionFlowItems: `{}` is neither the current version `{current}` nor the release version `{release}`",
                route.version
            )));
        }
    }
    if kind == "FLOW" {
        let total: u32 = routes.iter().map(|r| r.ratio).sum();
        if total != 100 {
            return Err(invalid(format!(
                "VersionFlowItems: the FlowRatio values add up to {total}, not 100"
            )));
        }
    } else {
        check_param_routes(&routes)?;
    }
    routes.retain(|r| kind != "FLOW" || r.ratio > 0 || r.version == release);
    Ok(Traffic {
        kind: kind.into(),
        routes,
    })
}

fn flow_pair(current: &str, release: &str, ratio: u32) -> ApiResult<Vec<Route>> {
    if ratio > 100 {
        return Err(invalid(format!("GrayFlowRatio {ratio} is above 100")));
    }
    let route = |version: &str, ratio, is_default, priority| Route {
        version: version.to_string(),
        ratio,
        priority,
        is_default,
        param: None,
    };
    Ok(vec![
        route(current, 100 - ratio, true, 1),
        route(release, ratio, false, 2),
    ])
}

fn check_param_routes(routes: &[Route]) -> ApiResult<()> {
    let defaults = routes.iter().filter(|r| r.is_default).count();
    if defaults != 1 {
        return Err(invalid(format!(
            "VersionFlowItems: exactly one item needs IsDefaultPriority true, found {defaults}"
        )));
    }
    match routes.iter().find(|r| !r.is_default && r.param.is_none()) {
        Some(r) => Err(invalid(format!(
            "VersionFlowItems: `{}` needs UrlParam {{Key, Value}} for this TrafficType",
            r.version
        ))),
        None => Ok(()),
    }
}

fn describe_split(traffic: &Traffic) -> String {
    traffic
        .routes
        .iter()
        .map(|r| match &r.param {
            Some((k, v)) => format!("{} when {k}={v}", r.version),
            None => format!("{} {}%", r.version, r.ratio),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn step_started_line(step: StepName, task: &Task, image: &str) -> String {
    match step {
        StepName::BuildImage => format!("[{step}] pulling image {image}"),
        StepName::CreateVersion => format!("[{step}] creating version `{}`", task.version),
        StepName::DeployInstance => format!("[{step}] starting instances of `{}`", task.version),
        StepName::SwitchTraffic if task.release_type == "GRAY" => {
            format!("[{step}] gray release: waiting for the traffic split")
        }
        StepName::SwitchTraffic => format!("[{step}] moving traffic to `{}`", task.version),
    }
}

fn log(logs: &mut BTreeMap<String, Vec<String>>, run_id: &str, stamp: &str, text: &str) {
    logs.entry(run_id.to_string())
        .or_default()
        .push(format!("{stamp} {text}"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::faults::TaskFaults;
    use chrono::Utc;

    const ENV: &str = "env-test";
    const DONE: u64 = 60_000;

    fn at(ms: u64) -> Now {
        Now::at(ms, Utc::now())
    }

    fn spec(image: &str, gray: bool) -> DeploySpec {
        DeploySpec {
            deploy_type: "image".into(),
            image: image.into(),
            gray,
            remark: String::new(),
            items: vec![("Port".into(), ConfigValue::Int(8080))],
        }
    }

    fn world_with_service() -> World {
        let mut w = World::new(&[ENV.to_string()], 1, at(0));
        w.create_service(
            at(0),
            ENV,
            "web",
            spec("synthetic:healthy", false),
            Ok(Behaviour::default()),
            TaskFaults::default(),
        )
        .unwrap();
        w.tick(at(DONE));
        w
    }

    /// The service with a gray update of it started at `DONE`.
    fn world_with_gray_update() -> World {
        let mut w = world_with_service();
        w.update_service(
            at(DONE),
            ENV,
            "web",
            spec("synthetic:healthy", true),
            Ok(Behaviour::default()),
            TaskFaults::default(),
        )
        .unwrap();
        w
    }

    fn service(w: &World) -> &Service {
        w.service(ENV, "web").unwrap()
    }

    fn latest(w: &World) -> &Task {
        service(w).tasks.last().unwrap()
    }

    #[test]
    fn a_first_deploy_creates_version_001_and_serves_it_fully() {
        let w = world_with_service();
        let s = service(&w);
        assert_eq!(s.versions[0].name, "web-001");
        assert_eq!(s.versions[0].status, "normal");
        assert_eq!(s.status, "normal");
        assert_eq!(s.config.port, 8080);
        assert_eq!(s.traffic, Traffic::only("web-001"));
        assert_eq!(latest(&w).progress.status, TaskStatus::Finished);
        assert_eq!(latest(&w).id, 1001);
        assert_eq!(s.records[0].status, "running");
        let logs = &w.env(ENV).unwrap().logs[&s.records[0].run_id];
        assert!(
            logs.iter()
                .any(|l| l.contains("pulling image synthetic:healthy")),
            "{logs:?}"
        );
        assert!(logs.last().unwrap().contains("serves 100%"));
    }

    #[test]
    fn while_a_release_runs_another_one_is_refused_with_resource_in_use() {
        let mut w = world_with_service();
        w.update_service(
            at(DONE),
            ENV,
            "web",
            spec("synthetic:healthy", false),
            Ok(Behaviour::default()),
            TaskFaults::default(),
        )
        .unwrap();
        let err = w
            .update_service(
                at(DONE + 10),
                ENV,
                "web",
                spec("synthetic:healthy", false),
                Ok(Behaviour::default()),
                TaskFaults::default(),
            )
            .unwrap_err();
        assert_eq!(err.code, "ResourceInUse");
        assert!(err.message.contains("[UpdateCloudRunServer]"));
        // The old version serves until the new one takes over.
        assert_eq!(service(&w).traffic.serving(), Some("web-001"));
        w.tick(at(2 * DONE));
        assert_eq!(service(&w).traffic.serving(), Some("web-002"));
    }

    #[test]
    fn a_crashing_image_fails_the_release_and_keeps_the_old_version() {
        let mut w = world_with_service();
        let crash = Behaviour {
            ready: false,
            ..Behaviour::default()
        };
        w.update_service(
            at(DONE),
            ENV,
            "web",
            spec("synthetic:crash", false),
            Ok(crash),
            TaskFaults::default(),
        )
        .unwrap();
        w.tick(at(2 * DONE));
        let task = latest(&w);
        assert_eq!(task.progress.status, TaskStatus::Failed);
        assert!(task.progress.fail_reason.contains("never became ready"));
        let s = service(&w);
        assert_eq!(s.version("web-002").unwrap().status, "deploy_failed");
        assert_eq!(s.records.last().unwrap().status, "deploy_failed");
        assert_eq!(s.traffic, Traffic::only("web-001"));
    }

    #[test]
    fn an_unknown_image_and_a_build_fault_fail_at_the_build_step() {
        let mut w = world_with_service();
        w.update_service(
            at(DONE),
            ENV,
            "web",
            spec("synthetic:nope", false),
            Err("no such tag".into()),
            TaskFaults::default(),
        )
        .unwrap();
        w.tick(at(2 * DONE));
        assert_eq!(
            service(&w).version("web-002").unwrap().status,
            "build_failed"
        );
        assert_eq!(latest(&w).progress.steps[0].fail_reason, "no such tag");
        let faults = TaskFaults {
            fail_at: Some((StepName::BuildImage, "build failed".into(), true)),
            stuck_at: None,
        };
        w.update_service(
            at(2 * DONE),
            ENV,
            "web",
            spec("synthetic:healthy", false),
            Ok(Behaviour::default()),
            faults,
        )
        .unwrap();
        w.tick(at(3 * DONE));
        assert_eq!(service(&w).records.last().unwrap().status, "build_failed");
    }

    #[test]
    fn a_gray_release_splits_traffic_then_promotes() {
        let mut w = world_with_gray_update();
        let early = GraySpec {
            traffic_type: "FLOW".into(),
            gray_flow_ratio: Some(10),
            items: vec![],
            close: false,
        };
        let err = w
            .release_gray(at(DONE + 1), ENV, "web", early.clone())
            .unwrap_err();
        assert!(err.message.contains("still deploying"), "{err}");
        w.tick(at(2 * DONE));
        assert!(latest(&w).progress.gray_open());
        assert_eq!(latest(&w).release_type, "GRAY");
        assert_eq!(service(&w).traffic.ratio_of("web-002"), 0);
        w.release_gray(at(2 * DONE), ENV, "web", early).unwrap();
        assert_eq!(service(&w).traffic.ratio_of("web-001"), 90);
        assert_eq!(service(&w).traffic.ratio_of("web-002"), 10);
        let promote = GraySpec {
            traffic_type: "FLOW".into(),
            gray_flow_ratio: Some(100),
            items: vec![Route {
                version: "web-002".into(),
                ratio: 100,
                priority: 0,
                is_default: true,
                param: None,
            }],
            close: true,
        };
        w.release_gray(at(2 * DONE + 5), ENV, "web", promote)
            .unwrap();
        assert_eq!(service(&w).traffic, Traffic::only("web-002"));
        assert_eq!(latest(&w).progress.status, TaskStatus::Finished);
        assert_eq!(
            service(&w).orders.last().unwrap().release_status,
            "finished"
        );
    }

    #[test]
    fn ratios_must_add_up_and_name_the_order_versions() {
        let mut w = world_with_gray_update();
        w.tick(at(2 * DONE));
        let route = |v: &str, r| Route {
            version: v.into(),
            ratio: r,
            priority: 0,
            is_default: false,
            param: None,
        };
        let bad_sum = GraySpec {
            traffic_type: "FLOW".into(),
            gray_flow_ratio: None,
            items: vec![route("web-001", 50), route("web-002", 40)],
            close: false,
        };
        assert!(
            w.release_gray(at(2 * DONE), ENV, "web", bad_sum)
                .unwrap_err()
                .message
                .contains("add up to 90")
        );
        let stranger = GraySpec {
            traffic_type: "FLOW".into(),
            gray_flow_ratio: None,
            items: vec![route("web-009", 100)],
            close: false,
        };
        assert_eq!(
            w.release_gray(at(2 * DONE), ENV, "web", stranger)
                .unwrap_err()
                .code,
            "InvalidParameterValue"
        );
    }

    #[test]
    fn go_back_returns_all_traffic_to_the_current_version() {
        let mut w = world_with_gray_update();
        w.tick(at(2 * DONE));
        let split = GraySpec {
            traffic_type: "FLOW".into(),
            gray_flow_ratio: Some(50),
            items: vec![],
            close: false,
        };
        w.release_gray(at(2 * DONE), ENV, "web", split).unwrap();
        let id = latest(&w).id;
        w.operate(at(2 * DONE), ENV, "web", id, Operation::GoBack)
            .unwrap();
        assert_eq!(service(&w).traffic, Traffic::only("web-001"));
        assert_eq!(latest(&w).progress.status, TaskStatus::RolledBack);
        let again = w
            .operate(at(2 * DONE), ENV, "web", id, Operation::Cancel)
            .unwrap_err();
        assert_eq!(again.code, "FailedOperation");
        assert_eq!(
            w.operate(at(2 * DONE), ENV, "web", 999, Operation::Cancel)
                .unwrap_err()
                .code,
            "ResourceNotFound"
        );
    }

    #[test]
    fn cancel_stops_a_deploy_in_flight_and_frees_the_service() {
        let mut w = world_with_service();
        w.update_service(
            at(DONE),
            ENV,
            "web",
            spec("synthetic:healthy", false),
            Ok(Behaviour::default()),
            TaskFaults::default(),
        )
        .unwrap();
        w.operate(at(DONE + 100), ENV, "web", 0, Operation::Cancel)
            .unwrap();
        assert_eq!(latest(&w).progress.status, TaskStatus::Cancelled);
        assert_eq!(service(&w).version("web-002").unwrap().status, "cancelled");
        assert_eq!(service(&w).traffic, Traffic::only("web-001"));
        w.update_service(
            at(DONE + 200),
            ENV,
            "web",
            spec("synthetic:healthy", false),
            Ok(Behaviour::default()),
            TaskFaults::default(),
        )
        .unwrap();
        assert_eq!(latest(&w).version, "web-003");
    }

    #[test]
    fn rollback_serves_an_earlier_version_again() {
        let mut w = world_with_service();
        w.update_service(
            at(DONE),
            ENV,
            "web",
            spec("synthetic:errors-20", false),
            Ok(Behaviour::default()),
            TaskFaults::default(),
        )
        .unwrap();
        w.tick(at(2 * DONE));
        let wrong = w
            .rollback(
                at(2 * DONE),
                ENV,
                "web",
                RollbackSpec {
                    current: "web-001",
                    target: "web-001",
                    remark: "",
                },
                TaskFaults::default(),
            )
            .unwrap_err();
        assert!(wrong.message.contains("not the online version"), "{wrong}");
        let missing = w
            .rollback(
                at(2 * DONE),
                ENV,
                "web",
                RollbackSpec {
                    current: "web-002",
                    target: "web-404",
                    remark: "",
                },
                TaskFaults::default(),
            )
            .unwrap_err();
        assert_eq!(missing.code, "ResourceNotFound.VersionNotFound");
        let id = w
            .rollback(
                at(2 * DONE),
                ENV,
                "web",
                RollbackSpec {
                    current: "web-002",
                    target: "web-001",
                    remark: "bad deploy",
                },
                TaskFaults::default(),
            )
            .unwrap();
        let task = latest(&w);
        assert_eq!(
            (
                task.id,
                task.change_type.as_str(),
                task.pre_version.as_str()
            ),
            (id, "rollback", "web-002")
        );
        w.tick(at(3 * DONE));
        assert_eq!(service(&w).traffic, Traffic::only("web-001"));
        assert_eq!(latest(&w).progress.status, TaskStatus::Finished);
    }

    #[test]
    fn a_stuck_task_blocks_until_cancelled() {
        let mut w = world_with_service();
        let stuck = TaskFaults {
            fail_at: None,
            stuck_at: Some(StepName::DeployInstance),
        };
        w.update_service(
            at(DONE),
            ENV,
            "web",
            spec("synthetic:healthy", false),
            Ok(Behaviour::default()),
            stuck,
        )
        .unwrap();
        w.tick(at(100 * DONE));
        assert_eq!(latest(&w).progress.status, TaskStatus::Running);
        w.operate(at(100 * DONE), ENV, "web", 0, Operation::Cancel)
            .unwrap();
        assert!(service(&w).running_task().is_none());
    }

    #[test]
    fn names_and_missing_things_get_the_cloud_codes() {
        let mut w = world_with_service();
        let dup = w.create_service(
            at(DONE),
            ENV,
            "web",
            spec("nginx", false),
            Ok(Behaviour::default()),
            TaskFaults::default(),
        );
        assert_eq!(dup.unwrap_err().code, "FailedOperation");
        let bad = w.create_service(
            at(DONE),
            ENV,
            "Web_1",
            spec("nginx", false),
            Ok(Behaviour::default()),
            TaskFaults::default(),
        );
        assert_eq!(bad.unwrap_err().code, "InvalidParameterValue");
        assert_eq!(
            w.service(ENV, "nope").unwrap_err().code,
            "ResourceNotFound.ServerNotFound"
        );
        assert_eq!(
            w.service("env-nope", "web").unwrap_err().code,
            "ResourceNotFound"
        );
        let item = DeploySpec {
            items: vec![("MinNum".into(), ConfigValue::Str("x".into()))],
            ..spec("nginx", false)
        };
        let err = w.update_service(
            at(DONE),
            ENV,
            "web",
            item,
            Ok(Behaviour::default()),
            TaskFaults::default(),
        );
        assert_eq!(err.unwrap_err().code, "InvalidParameterValue");
    }

    #[test]
    fn the_world_round_trips_through_json() {
        let w = world_with_service();
        let back: World = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        assert_eq!(
            back.service(ENV, "web").unwrap().traffic,
            service(&w).traffic
        );
        assert_eq!(back.next_task_id, w.next_task_id);
    }
}
