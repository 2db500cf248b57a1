//! Versions as real containers (`deploy-tcb emulator --engine URL`): a version whose image is
//! not a synthetic app is pulled, created and started through a Docker-compatible engine, with
//! the version's port published on 127.0.0.1 and its environment variables; the gateway
//! forwards that version's share of traffic to it.
//!
//! The state machine stays pure: a release task whose version runs as a container has steps
//! that wait for the engine's word ([`super::task::Outcome::awaiting`]). A reconciler compares,
//! every [`RECONCILE_EVERY`], the containers the world needs ([`plan`]) with the ones it has:
//! it starts what is missing, removes what no longer serves (replaced, rolled back, failed,
//! cancelled), and answers the steps that wait. Every container carries the label
//! `deploy-tcb.emulator=<run id>`, so shutdown removes them all and leftovers are identifiable.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::sync::watch;

use crate::image::engine::{ContainerSpec, Endpoint, Engine};

use super::server::{Body, Shared, json, read_body};
use super::state::{Version, World};
use super::task::{StepName, TaskStatus};

/// The label every container of one emulator run carries.
pub const LABEL_RUN: &str = "deploy-tcb.emulator";
const LABEL_ENV: &str = "deploy-tcb.env";
const LABEL_SERVICE: &str = "deploy-tcb.service";
const LABEL_VERSION: &str = "deploy-tcb.version";

/// How often the reconciler compares the world with the containers.
pub const RECONCILE_EVERY: Duration = Duration::from_millis(100);
/// Emulated time a container gets to accept connections (divided by `--speed`, but never
/// below [`MIN_READY_TIMEOUT`]: a real process does not start faster because time is sped up).
const READY_TIMEOUT_EMULATED: Duration = Duration::from_secs(60);
const MIN_READY_TIMEOUT: Duration = Duration::from_secs(5);
/// Emulated grace between SIGTERM and SIGKILL when a container is stopped (at least 1 s).
const STOP_GRACE_EMULATED: Duration = Duration::from_secs(10);
/// How long shutdown waits for starts in flight to notice and clean up.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(20);
/// How many log lines a failure quotes.
const LOG_TAIL: u32 = 20;
const LOG_QUOTE_CHARS: usize = 800;

/// The engine's word for a step of a release task: (version, task id, step, note or reason).
type StepAnswer = (VersionKey, u64, StepName, Result<String, String>);

/// The version a container serves.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VersionKey {
    pub env: String,
    pub service: String,
    pub version: String,
}

impl VersionKey {
    pub fn new(env: &str, service: &str, version: &str) -> Self {
        VersionKey {
            env: env.to_string(),
            service: service.to_string(),
            version: version.to_string(),
        }
    }
}

/// What a version's container runs, from the version's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    pub image: String,
    pub port: u16,
    /// `KEY=VALUE`, from the version's `EnvParams`.
    pub env: Vec<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
}

impl Want {
    fn of(version: &Version) -> Want {
        Want {
            image: version.image.clone(),
            port: u16::try_from(version.config.port).unwrap_or(80),
            env: env_pairs(&version.config.env_params),
            entrypoint: version.config.entry_point.clone(),
            cmd: version.config.cmd.clone(),
        }
    }
}

/// `EnvParams` (a JSON object in a string) as `KEY=VALUE`; values that are not strings keep
/// their JSON text.
fn env_pairs(env_params: &str) -> Vec<String> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(env_params) else {
        return Vec::new();
    };
    map.into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(text) => format!("{key}={text}"),
            other => format!("{key}={other}"),
        })
        .collect()
}

/// The steps of a running task that wait for a version's container.
#[derive(Debug, Clone, PartialEq)]
pub struct Awaiting {
    pub key: VersionKey,
    pub task_id: u64,
    pub steps: Vec<StepName>,
}

/// What the world needs now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Versions that serve (have a route) or are being released, with their containers.
    pub wanted: BTreeMap<VersionKey, Want>,
    pub awaiting: Vec<Awaiting>,
}

/// Which containers the world needs: every container-served version that has a route in its
/// service's traffic, or that a running task deploys; and which task steps wait for them.
pub fn plan(world: &World) -> Plan {
    let mut plan = Plan::default();
    for env in world.envs.values() {
        for service in env.services.values() {
            for version in service.versions.iter().filter(|v| v.behaviour.container) {
                let key = VersionKey::new(&env.id, &service.name, &version.name);
                let task = service.tasks.iter().rev().find(|t| {
                    t.version == version.name && t.progress.status == TaskStatus::Running
                });
                let online = service
                    .traffic
                    .routes
                    .iter()
                    .any(|r| r.version == version.name);
                if !online && task.is_none() {
                    continue;
                }
                plan.wanted.insert(key.clone(), Want::of(version));
                if let Some(task) = task.filter(|t| !t.progress.outcome.awaiting.is_empty()) {
                    plan.awaiting.push(Awaiting {
                        key,
                        task_id: task.id,
                        steps: task.progress.outcome.awaiting.clone(),
                    });
                }
            }
        }
    }
    plan
}

/// Where a version's container is in its life.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Pulling,
    /// Pulled (the note says how); being created, started and waited for.
    Starting {
        pulled: String,
    },
    Running {
        id: String,
        addr: SocketAddr,
    },
    Failed {
        stage: Stage,
        reason: String,
    },
}

/// Where a container failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Pull,
    Start,
}

/// The engine's word on one awaited step, once the phase gives one.
pub fn answer(step: StepName, phase: &Phase, want: &Want) -> Option<Result<String, String>> {
    match (step, phase) {
        (_, Phase::Failed { stage, reason }) => match (step, stage) {
            // The image was pulled; the step that starts the container is the one that fails.
            (StepName::BuildImage, Stage::Start) => Some(Ok(format!("pulled {}", want.image))),
            _ => Some(Err(reason.clone())),
        },
        (StepName::BuildImage, Phase::Starting { pulled }) => Some(Ok(pulled.clone())),
        (StepName::BuildImage, Phase::Running { .. }) => Some(Ok(format!("pulled {}", want.image))),
        (StepName::DeployInstance, Phase::Running { id, addr }) => Some(Ok(format!(
            "container {} is listening: port {} published on {addr}",
            short(id),
            want.port
        ))),
        _ => None,
    }
}

struct Slot {
    phase: Phase,
    /// Set (under the slots lock) when the version stops being wanted.
    cancel: Arc<AtomicBool>,
}

/// The containers of one emulator run.
pub struct Containers {
    engine: Engine,
    run_id: String,
    ready_timeout: Duration,
    stop_grace_seconds: u64,
    slots: Mutex<HashMap<VersionKey, Slot>>,
    /// Starts and removals in flight, awaited at shutdown.
    jobs: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    closing: AtomicBool,
    client: reqwest::Client,
}

impl Containers {
    /// Containers through the engine at `endpoint`; `speed` is the emulator's time factor.
    pub fn new(endpoint: Endpoint, speed: f64) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()?;
        // `--speed` is checked positive; an in-process config could still hold anything.
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Ok(Containers {
            engine: Engine::new(endpoint),
            run_id: format!("{}-{:06x}", std::process::id(), nanos & 0xff_ffff),
            ready_timeout: READY_TIMEOUT_EMULATED.div_f64(speed).max(MIN_READY_TIMEOUT),
            stop_grace_seconds: STOP_GRACE_EMULATED.div_f64(speed).as_secs().max(1),
            slots: Mutex::new(HashMap::new()),
            jobs: Mutex::new(Vec::new()),
            closing: AtomicBool::new(false),
            client,
        })
    }

    /// The value of the [`LABEL_RUN`] label on this run's containers.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn endpoint(&self) -> &Endpoint {
        self.engine.endpoint()
    }

    /// Proves the engine answers; returns how it names itself.
    pub async fn check(&self) -> anyhow::Result<String> {
        let version = self.engine.version().await?;
        let name = version
            .pointer("/Components/0/Name")
            .or_else(|| version.get("Platform").and_then(|p| p.get("Name")))
            .and_then(serde_json::Value::as_str)
            .unwrap_or("engine");
        let number = version
            .get("Version")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?");
        Ok(format!("{name} {number}"))
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<VersionKey, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn track(&self, job: tokio::task::JoinHandle<()>) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.retain(|j| !j.is_finished());
        jobs.push(job);
    }

    /// Where the gateway sends a version's traffic, or why it cannot.
    pub fn upstream(&self, key: &VersionKey) -> Result<SocketAddr, String> {
        let version = &key.version;
        match self.slots().get(key).map(|s| &s.phase) {
            Some(Phase::Running { addr, .. }) => Ok(*addr),
            Some(Phase::Pulling) => Err(format!("`{version}`: its image is being pulled")),
            Some(Phase::Starting { .. }) => Err(format!("`{version}`: its container is starting")),
            Some(Phase::Failed { reason, .. }) => Err(format!("`{version}`: {reason}")),
            None => Err(format!("`{version}` has no container running")),
        }
    }

    /// Runs the reconciler until `stop` turns true.
    pub async fn run(self: Arc<Self>, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
        loop {
            self.reconcile(&shared);
            tokio::select! {
                _ = tokio::time::sleep(RECONCILE_EVERY) => {}
                _ = stop.changed() => break,
            }
        }
    }

    /// One pass: start what the world needs, remove what it no longer needs, answer the steps
    /// that wait.
    pub fn reconcile(self: &Arc<Self>, shared: &Shared) {
        if self.closing.load(Ordering::SeqCst) {
            return;
        }
        let plan = plan(&shared.lock().world);
        let answers = self.apply(&plan);
        if answers.is_empty() {
            return;
        }
        let now = shared.clock.now();
        {
            let mut inner = shared.lock();
            for (key, task_id, step, answer) in answers {
                inner
                    .world
                    .engine_answered(now, &key.env, &key.service, task_id, step, answer);
            }
        }
        if let Err(e) = shared.save() {
            tracing::warn!("could not write the emulator state file: {e}");
        }
    }

    /// Starts and removes containers to match `plan`; returns the answers for waiting steps.
    fn apply(self: &Arc<Self>, plan: &Plan) -> Vec<StepAnswer> {
        let mut slots = self.slots();
        for (key, want) in &plan.wanted {
            if slots.contains_key(key) {
                continue;
            }
            let cancel = Arc::new(AtomicBool::new(false));
            slots.insert(
                key.clone(),
                Slot {
                    phase: Phase::Pulling,
                    cancel: cancel.clone(),
                },
            );
            let job = tokio::spawn(self.clone().bring_up(key.clone(), want.clone(), cancel));
            self.track(job);
        }
        let unwanted: Vec<VersionKey> = slots
            .keys()
            .filter(|key| !plan.wanted.contains_key(*key))
            .cloned()
            .collect();
        for key in unwanted {
            if let Some(slot) = slots.remove(&key) {
                slot.cancel.store(true, Ordering::SeqCst);
            }
            let me = self.clone();
            let job =
                tokio::spawn(async move { me.remove_labelled(&me.version_labels(&key)).await });
            self.track(job);
        }
        let mut answers = Vec::new();
        for waiting in &plan.awaiting {
            let (Some(slot), Some(want)) = (slots.get(&waiting.key), plan.wanted.get(&waiting.key))
            else {
                continue;
            };
            for step in &waiting.steps {
                if let Some(answer) = answer(*step, &slot.phase, want) {
                    answers.push((waiting.key.clone(), waiting.task_id, *step, answer));
                }
            }
        }
        answers
    }

    /// Sets a slot's phase unless its version stopped being wanted (then returns false: the
    /// caller cleans up what it made).
    fn set_phase(&self, key: &VersionKey, cancel: &Arc<AtomicBool>, phase: Phase) -> bool {
        let mut slots = self.slots();
        match slots.get_mut(key) {
            Some(slot) if Arc::ptr_eq(&slot.cancel, cancel) && !cancel.load(Ordering::SeqCst) => {
                slot.phase = phase;
                true
            }
            _ => false,
        }
    }

    /// Pull, create, start, wait until it listens.
    async fn bring_up(self: Arc<Self>, key: VersionKey, want: Want, cancel: Arc<AtomicBool>) {
        let pulled = match self.pull(&want.image).await {
            Ok(note) => note,
            Err(reason) => {
                let failed = Phase::Failed {
                    stage: Stage::Pull,
                    reason,
                };
                self.set_phase(&key, &cancel, failed);
                return;
            }
        };
        if !self.set_phase(&key, &cancel, Phase::Starting { pulled }) {
            return;
        }
        let phase = match self.start(&key, &want, &cancel).await {
            Ok((id, addr)) => Phase::Running { id, addr },
            Err(reason) => Phase::Failed {
                stage: Stage::Start,
                reason,
            },
        };
        let running = match &phase {
            Phase::Running { id, .. } => Some(id.clone()),
            _ => None,
        };
        if !self.set_phase(&key, &cancel, phase)
            && let Some(id) = running
        {
            self.discard(&id).await;
        }
    }

    /// Gets the image as Kubernetes' default pull policy does: a pinned image (a tag other than
    /// `latest`, or a digest) the engine already holds is used as it is; anything else is
    /// pulled, falling back to the engine's copy when the pull fails.
    async fn pull(&self, image: &str) -> Result<String, String> {
        if is_pinned(image)
            && let Ok(found) = self.engine.inspect_image(image).await
        {
            return Ok(format!(
                "using {image} ({}) from the engine's storage",
                short(&found.id)
            ));
        }
        let pulled = self.engine.pull(image, |_| {}).await;
        match pulled {
            Ok(()) => Ok(format!("pulled {image}")),
            Err(error) => match self.engine.inspect_image(image).await {
                Ok(found) => Ok(format!(
                    "using {image} ({}) from the engine's storage; the pull failed: {error:#}",
                    short(&found.id)
                )),
                Err(_) => Err(format!("cannot pull image {image}: {error:#}")),
            },
        }
    }

    async fn start(
        &self,
        key: &VersionKey,
        want: &Want,
        cancel: &AtomicBool,
    ) -> Result<(String, SocketAddr), String> {
        let spec = self.spec(key, want);
        // A container left by an earlier attempt under this name goes first.
        let _ = self.engine.remove_container(&spec.name).await;
        let id = self.engine.create_container(&spec).await.map_err(|e| {
            format!(
                "the engine could not create a container from {}: {e:#}",
                want.image
            )
        })?;
        let started = match self.engine.start_container(&id).await {
            Ok(()) => self.wait_listening(&id, key, want, cancel).await,
            Err(e) => Err(format!(
                "the container of `{}` did not start: {e:#}{}",
                key.version,
                self.log_quote(&id).await
            )),
        };
        if started.is_err() {
            self.discard(&id).await;
        }
        started.map(|addr| (id, addr))
    }

    fn spec(&self, key: &VersionKey, want: &Want) -> ContainerSpec {
        let labels = [
            (LABEL_RUN, &self.run_id),
            (LABEL_ENV, &key.env),
            (LABEL_SERVICE, &key.service),
            (LABEL_VERSION, &key.version),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
        ContainerSpec {
            name: container_name(&self.run_id, key),
            image: want.image.clone(),
            env: want.env.clone(),
            labels,
            entrypoint: want.entrypoint.clone(),
            cmd: want.cmd.clone(),
            publish_tcp: Some(want.port),
        }
    }

    /// Waits until the published port accepts a TCP connection; fails when the container exits
    /// or the time is up, quoting its last log lines.
    async fn wait_listening(
        &self,
        id: &str,
        key: &VersionKey,
        want: &Want,
        cancel: &AtomicBool,
    ) -> Result<SocketAddr, String> {
        let deadline = Instant::now() + self.ready_timeout;
        let version = &key.version;
        while !cancel.load(Ordering::SeqCst) {
            let inspect = self
                .engine
                .inspect_container(id)
                .await
                .map_err(|e| format!("the container of `{version}` vanished: {e:#}"))?;
            if !inspect.state.running {
                let detail = match inspect.state.error.as_str() {
                    "" => String::new(),
                    error => format!(" ({error})"),
                };
                return Err(format!(
                    "the container of `{version}` exited with code {}{detail} before listening on port {}{}",
                    inspect.state.exit_code,
                    want.port,
                    self.log_quote(id).await
                ));
            }
            if let Some(port) = inspect.published_port(want.port) {
                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                let connect = tokio::net::TcpStream::connect(addr);
                if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), connect).await {
                    return Ok(addr);
                }
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the container of `{version}` did not accept connections on port {} within {} s{}",
                    want.port,
                    self.ready_timeout.as_secs_f64().ceil(),
                    self.log_quote(id).await
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("the start of `{version}` was abandoned"))
    }

    /// `; last log lines: …` or nothing.
    async fn log_quote(&self, id: &str) -> String {
        let Ok(logs) = self.engine.container_logs(id, LOG_TAIL).await else {
            return String::new();
        };
        let logs = logs.trim();
        if logs.is_empty() {
            return "; it wrote no logs".into();
        }
        let start = logs
            .char_indices()
            .rev()
            .nth(LOG_QUOTE_CHARS)
            .map_or(0, |(i, _)| i);
        format!("; last log lines: {}", logs[start..].replace('\n', " | "))
    }

    /// Stops (SIGTERM, then SIGKILL after the grace) and removes a container.
    async fn discard(&self, id: &str) {
        if let Err(e) = self
            .engine
            .stop_container(id, self.stop_grace_seconds)
            .await
        {
            tracing::debug!("stopping container {}: {e:#}", short(id));
        }
        if let Err(e) = self.engine.remove_container(id).await {
            tracing::warn!("could not remove container {}: {e:#}", short(id));
        }
    }

    fn version_labels(&self, key: &VersionKey) -> Vec<String> {
        vec![
            format!("{LABEL_RUN}={}", self.run_id),
            format!("{LABEL_ENV}={}", key.env),
            format!("{LABEL_SERVICE}={}", key.service),
            format!("{LABEL_VERSION}={}", key.version),
        ]
    }

    /// Removes every container that carries all these labels, in parallel.
    async fn remove_labelled(&self, labels: &[String]) {
        let found = match self.engine.list_containers(labels).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!("could not list the emulator's containers: {e:#}");
                return;
            }
        };
        let removals = found.iter().map(|c| self.discard(&c.id));
        futures_util::future::join_all(removals).await;
    }

    /// Removes every container of this run: starts in flight are abandoned (each cleans up
    /// what it made), then whatever still carries the run's label goes.
    pub async fn shutdown(&self) {
        self.closing.store(true, Ordering::SeqCst);
        for slot in self.slots().drain().map(|(_, slot)| slot) {
            slot.cancel.store(true, Ordering::SeqCst);
        }
        let run = [format!("{LABEL_RUN}={}", self.run_id)];
        self.remove_labelled(&run).await;
        let jobs = std::mem::take(&mut *self.jobs.lock().unwrap_or_else(|p| p.into_inner()));
        let wait = futures_util::future::join_all(jobs);
        if tokio::time::timeout(SHUTDOWN_WAIT, wait).await.is_err() {
            tracing::warn!("container starts were still running at shutdown");
        }
        self.remove_labelled(&run).await;
    }

    /// Sends a gateway request to a version's container and returns its answer.
    pub async fn forward(
        &self,
        addr: SocketAddr,
        request: Request<Incoming>,
        path: &str,
        version: &str,
    ) -> Response<Body> {
        let query = request
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let url = format!("http://{addr}{path}{query}");
        let method = request.method().clone();
        let mut headers = request.headers().clone();
        strip_hop_by_hop(&mut headers);
        headers.remove(hyper::header::HOST);
        let body = match read_body(request).await {
            Ok(body) => body,
            Err(message) => return problem(StatusCode::BAD_REQUEST, &message),
        };
        let sent = self
            .client
            .request(method, &url)
            .headers(headers)
            .body(body);
        match relay(sent).await {
            Ok(response) => response,
            Err(e) => problem(
                StatusCode::BAD_GATEWAY,
                &format!("the container of `{version}` did not answer: {e}"),
            ),
        }
    }
}

/// Sends the request and turns the container's answer into the gateway's.
async fn relay(request: reqwest::RequestBuilder) -> Result<Response<Body>, reqwest::Error> {
    let answer = request.send().await?;
    let status = answer.status();
    let mut headers = answer.headers().clone();
    let bytes = answer.bytes().await?;
    let mut response = Response::new(Full::new(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers_without_framing(&mut headers);
    Ok(response)
}

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn strip_hop_by_hop(headers: &mut hyper::HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// The answer's headers less the ones the emulator's own framing sets.
fn headers_without_framing(headers: &mut hyper::HeaderMap) -> hyper::HeaderMap {
    strip_hop_by_hop(headers);
    headers.remove(hyper::header::CONTENT_LENGTH);
    std::mem::take(headers)
}

fn problem(status: StatusCode, message: &str) -> Response<Body> {
    json(status, &serde_json::json!({ "error": message }))
}

/// `deploy-tcb-<run>-<env>-<version>`, with characters container names cannot hold replaced.
pub fn container_name(run_id: &str, key: &VersionKey) -> String {
    format!("deploy-tcb-{run_id}-{}-{}", key.env, key.version)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// True when the reference names a digest, or a tag other than `latest`.
fn is_pinned(image: &str) -> bool {
    if image.contains('@') {
        return true;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split_once(':').is_some_and(|(_, tag)| tag != "latest")
}

fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::clock::Now;
    use crate::emulator::config::ConfigValue;
    use crate::emulator::faults::TaskFaults;
    use crate::emulator::state::DeploySpec;
    use crate::emulator::synthetic::Behaviour;

    fn at(ms: u64) -> Now {
        Now::at(ms, chrono::Utc::now())
    }

    fn deploy(world: &mut World, create: bool, image: &str) -> u64 {
        let spec = DeploySpec {
            deploy_type: "image".into(),
            image: image.into(),
            gray: false,
            remark: String::new(),
            items: vec![
                ("Port".into(), ConfigValue::Int(8080)),
                (
                    "EnvParam".into(),
                    ConfigValue::Str(r#"{"GREETING":"hi","N":2}"#.into()),
                ),
            ],
        };
        let faults = TaskFaults::default();
        let behaviour = Ok(Behaviour::container());
        let now = at(world.emu_ms);
        if create {
            world.create_service(now, "env", "web", spec, behaviour, faults)
        } else {
            world.update_service(now, "env", "web", spec, behaviour, faults)
        }
        .unwrap()
    }

    fn running(id: &str) -> Phase {
        Phase::Running {
            id: id.into(),
            addr: SocketAddr::from(([127, 0, 0, 1], 40000)),
        }
    }

    #[test]
    fn a_release_wants_its_container_and_waits_for_it() {
        let mut world = World::new(&["env".into()], 1, at(0));
        let task = deploy(&mut world, true, "reg:5000/app:1");
        let first = plan(&world);
        let key = VersionKey::new("env", "web", "web-001");
        let want = &first.wanted[&key];
        assert_eq!(want.port, 8080);
        assert_eq!(want.env, vec!["GREETING=hi".to_string(), "N=2".to_string()]);
        assert_eq!(first.awaiting[0].task_id, task);

        world.tick(at(60_000));
        let version = &world.service("env", "web").unwrap().versions[0];
        assert_eq!(version.status, "creating", "no container answered yet");

        let pulled = Phase::Starting {
            pulled: "pulled reg:5000/app:1".into(),
        };
        for (step, phase) in [
            (StepName::BuildImage, &pulled),
            (StepName::DeployInstance, &running("abc")),
        ] {
            let word = answer(step, phase, want).unwrap();
            world.engine_answered(at(60_000), "env", "web", task, step, word);
        }
        world.tick(at(120_000));
        let service = world.service("env", "web").unwrap();
        assert_eq!(service.traffic.serving(), Some("web-001"));
        assert!(plan(&world).awaiting.is_empty());
        let log = &world.envs["env"].logs[&service.tasks[0].run_id];
        assert!(
            log.iter().any(|l| l.contains("container abc is listening")),
            "{log:?}"
        );
    }

    #[test]
    fn a_container_that_fails_fails_the_release_and_the_old_version_keeps_serving() {
        let mut world = World::new(&["env".into()], 1, at(0));
        let first = deploy(&mut world, true, "app:1");
        for step in [StepName::BuildImage, StepName::DeployInstance] {
            world.engine_answered(at(0), "env", "web", first, step, Ok("ok".into()));
        }
        world.tick(at(60_000));
        let second = deploy(&mut world, false, "app:2");
        let both = plan(&world);
        assert_eq!(
            both.wanted.len(),
            2,
            "the new one starts beside the serving one"
        );

        let failed = Phase::Failed {
            stage: Stage::Start,
            reason: "exited with code 3".into(),
        };
        let want = &both.wanted[&VersionKey::new("env", "web", "web-002")];
        assert!(answer(StepName::BuildImage, &failed, want).unwrap().is_ok());
        for step in [StepName::BuildImage, StepName::DeployInstance] {
            let word = answer(step, &failed, want).unwrap();
            world.engine_answered(at(60_000), "env", "web", second, step, word);
        }
        world.tick(at(120_000));
        let service = world.service("env", "web").unwrap();
        assert_eq!(service.tasks[1].progress.status, TaskStatus::Failed);
        assert_eq!(service.tasks[1].progress.fail_reason, "exited with code 3");
        assert_eq!(service.traffic.serving(), Some("web-001"));
        let left: Vec<_> = plan(&world).wanted.into_keys().map(|k| k.version).collect();
        assert_eq!(left, vec!["web-001"], "the failed version's container goes");
    }

    #[test]
    fn a_replaced_version_is_no_longer_wanted_and_synthetic_ones_never_are() {
        let mut world = World::new(&["env".into()], 1, at(0));
        for (create, image) in [(true, "app:1"), (false, "app:2")] {
            let task = deploy(&mut world, create, image);
            for step in [StepName::BuildImage, StepName::DeployInstance] {
                world.engine_answered(at(world.emu_ms), "env", "web", task, step, Ok("ok".into()));
            }
            world.tick(at(world.emu_ms + 60_000));
        }
        let left: Vec<_> = plan(&world).wanted.into_keys().map(|k| k.version).collect();
        assert_eq!(left, vec!["web-002"]);

        let spec = DeploySpec {
            deploy_type: "image".into(),
            image: "synthetic:healthy".into(),
            gray: false,
            remark: String::new(),
            items: Vec::new(),
        };
        let now = at(world.emu_ms);
        world
            .create_service(
                now,
                "env",
                "syn",
                spec,
                Ok(Behaviour::default()),
                TaskFaults::default(),
            )
            .unwrap();
        assert!(plan(&world).wanted.keys().all(|k| k.service == "web"));
    }

    #[test]
    fn an_open_canary_wants_both_containers_until_it_goes_back() {
        let mut world = World::new(&["env".into()], 1, at(0));
        let first = deploy(&mut world, true, "app:1");
        for step in [StepName::BuildImage, StepName::DeployInstance] {
            world.engine_answered(at(0), "env", "web", first, step, Ok("ok".into()));
        }
        world.tick(at(60_000));
        let spec = DeploySpec {
            deploy_type: "image".into(),
            image: "app:2".into(),
            gray: true,
            remark: String::new(),
            items: Vec::new(),
        };
        let now = at(60_000);
        let canary = world
            .update_service(
                now,
                "env",
                "web",
                spec,
                Ok(Behaviour::container()),
                TaskFaults::default(),
            )
            .unwrap();
        for step in [StepName::BuildImage, StepName::DeployInstance] {
            world.engine_answered(now, "env", "web", canary, step, Ok("ok".into()));
        }
        world.tick(at(120_000));
        let versions = |world: &World| -> Vec<String> {
            plan(world).wanted.into_keys().map(|k| k.version).collect()
        };
        assert_eq!(versions(&world), vec!["web-001", "web-002"]);
        world
            .operate(
                at(120_000),
                "env",
                "web",
                canary,
                crate::emulator::state::Operation::GoBack,
            )
            .unwrap();
        assert_eq!(versions(&world), vec!["web-001"]);
    }

    #[test]
    fn a_pull_failure_fails_the_build_step_and_names_the_image() {
        let want = Want {
            image: "reg/app:9".into(),
            port: 80,
            env: Vec::new(),
            entrypoint: Vec::new(),
            cmd: Vec::new(),
        };
        let failed = Phase::Failed {
            stage: Stage::Pull,
            reason: "cannot pull image reg/app:9: manifest unknown".into(),
        };
        assert_eq!(
            answer(StepName::BuildImage, &failed, &want),
            Some(Err("cannot pull image reg/app:9: manifest unknown".into()))
        );
        assert_eq!(
            answer(StepName::DeployInstance, &Phase::Pulling, &want),
            None
        );
    }

    #[test]
    fn pinned_images_are_not_pulled_again() {
        assert!(is_pinned("127.0.0.1:5000/app:1"));
        assert!(is_pinned("app@sha256:abc"));
        assert!(!is_pinned("127.0.0.1:5000/app"));
        assert!(!is_pinned("app:latest"));
    }

    #[test]
    fn container_names_are_safe() {
        let key = VersionKey::new("env-demo/1", "web", "web-001");
        assert_eq!(
            container_name("42-abc", &key),
            "deploy-tcb-42-abc-env-demo-1-web-001"
        );
    }
}
