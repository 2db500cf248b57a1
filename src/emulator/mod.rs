//! The local CloudBase Run emulator: `deploy-tcb emulator`, and the same thing in-process for
//! the demo and the tests ([`Emulator::start`]).
//!
//! One listener serves the Tencent Cloud API (`POST /`, tcbr 2022-02-17, sts 2018-08-13 and tcr
//! 2019-09-24, TC3-signed), each service's gateway URL (`/_gw/<env>/<service>/…`), Prometheus
//! metrics (`/metrics`) and the control endpoint (`/_emulator/faults`, `/_emulator/state`,
//! `/_emulator/health`). With `--engine`, versions run as real containers (containers.rs).
//! See docs/emulator.md.

mod api;
mod auth;
mod clock;
mod config;
mod containers;
mod faults;
mod gateway;
mod metrics;
mod render;
mod rng;
mod routing;
mod server;
mod state;
mod synthetic;
mod task;

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

pub use auth::TempCredential;
pub use clock::{Clock, Now};
pub use config::{ConfigValue, ServiceConfig};
pub use faults::{FaultKind, FaultRule, FaultSet, Target};
pub use metrics::Metrics;
pub use routing::{RequestKeys, choose_version};
pub use state::{ApiError, DeploySpec, GraySpec, Operation, RollbackSpec, Route, Traffic, World};
pub use synthetic::{AppCatalog, Behaviour};
pub use task::{StepName, StepStatus, TaskStatus};

pub use containers::LABEL_RUN;

use crate::cli::EmulatorArgs;
use crate::error::{Error, Result};
use crate::image::engine::Endpoint;
use containers::Containers;

/// How to start an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub bind: String,
    /// 0 picks a free port.
    pub port: u16,
    pub secret_id: String,
    pub secret_key: String,
    /// Environments that exist from the start (status normal).
    pub envs: Vec<String>,
    pub state_file: Option<PathBuf>,
    pub faults: FaultSet,
    pub apps: AppCatalog,
    /// Time factor for release tasks: 10 makes them ten times faster.
    pub speed: f64,
    pub seed: u64,
    /// A Docker-compatible engine: versions whose image is not a synthetic app run as real
    /// containers through it.
    pub engine: Option<Endpoint>,
}

impl EmulatorConfig {
    /// An in-process emulator on a free port of 127.0.0.1 with one environment.
    pub fn local(secret_id: &str, secret_key: &str, env: &str) -> Self {
        EmulatorConfig {
            bind: "127.0.0.1".into(),
            port: 0,
            secret_id: secret_id.into(),
            secret_key: secret_key.into(),
            envs: vec![env.into()],
            state_file: None,
            faults: FaultSet::default(),
            apps: AppCatalog::default(),
            speed: 1.0,
            seed: 1,
            engine: None,
        }
    }

    /// The configuration the command line asks for; reads the faults and apps files.
    pub fn from_args(args: &EmulatorArgs) -> Result<Self> {
        if !(args.speed.is_finite() && args.speed > 0.0) {
            return Err(Error::input(
                "speed",
                format!("{} is not a positive number", args.speed),
                "give a factor above 0, e.g. --speed 10 for ten times faster tasks",
            ));
        }
        let engine = engine_endpoint(args.engine.as_deref())?;
        for (input, value) in [
            ("secret_id", &args.secret_id),
            ("secret_key", &args.secret_key),
        ] {
            if value.trim().is_empty() {
                return Err(Error::input(
                    input,
                    "is empty",
                    "give the key pair clients sign with",
                ));
            }
        }
        let faults = match &args.faults {
            Some(path) => FaultSet::parse(&read_file("faults", path)?).map_err(|problem| {
                Error::input(
                    "faults",
                    format!("{}: {problem}", path.display()),
                    FAULTS_FIX,
                )
            })?,
            None => FaultSet::default(),
        };
        let apps = match &args.apps {
            Some(path) => AppCatalog::parse(&read_file("apps", path)?).map_err(|problem| {
                Error::input("apps", format!("{}: {problem}", path.display()), APPS_FIX)
            })?,
            None => AppCatalog::default(),
        };
        Ok(EmulatorConfig {
            bind: args.bind.clone(),
            port: args.port,
            secret_id: args.secret_id.clone(),
            secret_key: args.secret_key.clone(),
            envs: args.envs.clone(),
            state_file: args.state_file.clone(),
            faults,
            apps,
            speed: args.speed,
            seed: args.seed,
            engine,
        })
    }
}

const ENGINE_FIX: &str = "start the engine's API service, e.g. `podman system service --time=0 unix:///tmp/podman.sock &`, and pass --engine unix:///tmp/podman.sock (or tcp://HOST:PORT)";

/// `--engine`: `unix:///path.sock` or `tcp://host:port`; empty means none.
fn engine_endpoint(value: Option<&str>) -> Result<Option<Endpoint>> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    Endpoint::parse(Some(value)).map(Some).map_err(|_| {
        Error::input(
            "engine",
            format!("`{value}` is neither unix:///path nor tcp://host:port"),
            ENGINE_FIX,
        )
    })
}

const FAULTS_FIX: &str = "write {\"rules\": [{\"kind\": \"throttle\", \"action\": \"UpdateCloudRunServer\"}]} (see docs/emulator.md, Faults)";
const APPS_FIX: &str = "write {\"apps\": {\"flaky\": {\"error_rate\": 0.5, \"latency_ms\": 100}}} (see docs/emulator.md, Synthetic apps)";

fn read_file(input: &str, path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::input(
            input,
            format!("cannot read {}: {e}", path.display()),
            "give a readable JSON file",
        )
    })
}

/// Starts emulators.
pub struct Emulator;

impl Emulator {
    /// Binds, loads the state and serves on a background thread with its own tokio runtime, so
    /// it works from sync and async callers alike. Returns once the port is listening.
    pub fn start(config: EmulatorConfig) -> Result<EmulatorHandle> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tcb-emulator")
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)?;
        let containers = match &config.engine {
            Some(endpoint) => Some(Arc::new(connect_engine(&runtime, endpoint, config.speed)?)),
            None => None,
        };
        let listener = StdListener::bind((config.bind.as_str(), config.port)).map_err(|e| {
            Error::input(
                "port",
                format!("cannot listen on {}:{}: {e}", config.bind, config.port),
                "choose a free port (0 picks one)",
            )
        })?;
        listener
            .set_nonblocking(true)
            .map_err(anyhow::Error::from)?;
        let addr = listener.local_addr().map_err(anyhow::Error::from)?;
        let shared = Arc::new(build_shared(&config, addr, containers.clone())?);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let serving = shared.clone();
        let thread = std::thread::Builder::new()
            .name("tcb-emulator".into())
            .spawn(move || {
                runtime.block_on(async move {
                    if let Some(containers) = &containers {
                        let reconciler = containers.clone().run(serving.clone(), stopped.clone());
                        tokio::spawn(reconciler);
                    }
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => server::serve(listener, serving, stopped).await,
                        Err(e) => tracing::error!("emulator listener: {e}"),
                    }
                    // Stopped: no container of this run outlives it.
                    if let Some(containers) = containers {
                        containers.shutdown().await;
                    }
                });
                runtime.shutdown_timeout(std::time::Duration::from_millis(200));
            })
            .map_err(anyhow::Error::from)?;
        Ok(EmulatorHandle {
            addr,
            shared,
            stop,
            thread: Some(thread),
        })
    }
}

/// Proves the engine answers before anything is served: an unreachable engine is an input
/// error, not a failure of every later release.
fn connect_engine(
    runtime: &tokio::runtime::Runtime,
    endpoint: &Endpoint,
    speed: f64,
) -> Result<Containers> {
    let containers = Containers::new(endpoint.clone(), speed).map_err(Error::Failure)?;
    let engine = runtime.block_on(containers.check()).map_err(|e| {
        Error::input(
            "engine",
            format!("the engine at {endpoint} does not answer: {e:#}"),
            ENGINE_FIX,
        )
    })?;
    tracing::info!("container engine at {endpoint}: {engine}");
    Ok(containers)
}

fn build_shared(
    config: &EmulatorConfig,
    addr: SocketAddr,
    containers: Option<Arc<Containers>>,
) -> Result<server::Shared> {
    let wall = chrono::Utc::now();
    let mut world = match &config.state_file {
        Some(path) if path.exists() => load_world(path)?,
        _ => World::new(&[], config.seed, Now::at(0, wall)),
    };
    let clock = Clock::new(world.emu_ms, config.speed);
    for env in &config.envs {
        world.ensure_env(env, clock.now());
    }
    let host = match addr.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_string(),
        ip => ip.to_string(),
    };
    let settings = server::Settings {
        secret_id: config.secret_id.clone(),
        secret_key: config.secret_key.clone(),
        apps: config.apps.clone(),
        state_file: config.state_file.clone(),
        base_url: format!("http://{host}:{}", addr.port()),
        seed: world.seed,
    };
    Ok(server::Shared::new(
        settings,
        clock,
        world,
        config.faults.clone(),
        containers,
    ))
}

fn load_world(path: &Path) -> Result<World> {
    let text = read_file("state_file", path)?;
    serde_json::from_str(&text).map_err(|e| {
        Error::input(
            "state_file",
            format!("{} is not an emulator state file: {e}", path.display()),
            "point --state-file at a file this emulator wrote, or at a new path",
        )
    })
}

/// A running emulator. Dropping it stops it too.
pub struct EmulatorHandle {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl EmulatorHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the endpoint for every service (tcbr, sts, tcr).
    pub fn base_url(&self) -> String {
        self.shared.settings.base_url.clone()
    }

    /// `127.0.0.1:PORT`, the Host clients sign.
    pub fn host(&self) -> String {
        self.base_url().trim_start_matches("http://").to_string()
    }

    /// A service's gateway URL (its DefaultDomainName).
    pub fn service_url(&self, env: &str, service: &str) -> String {
        gateway::service_url(&self.base_url(), env, service)
    }

    /// With an engine: the value of the [`LABEL_RUN`] label on this emulator's containers.
    pub fn engine_run_id(&self) -> Option<String> {
        let containers = self.shared.containers.as_ref()?;
        Some(containers.run_id().to_string())
    }

    /// Replaces the fault rules (as `POST /_emulator/faults` does).
    pub fn set_faults(&self, faults: FaultSet) {
        self.shared.lock().faults.replace(faults);
    }

    /// A copy of the state, advanced to now.
    pub fn world(&self) -> World {
        self.shared.lock().world.clone()
    }

    /// The Prometheus text of `/metrics`.
    pub fn metrics(&self) -> String {
        self.shared.lock().metrics.render()
    }

    /// Stops serving, saves the state file and waits for the server thread.
    pub fn shutdown(mut self) -> Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<()> {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
            self.shared.save().map_err(|e| {
                Error::Failure(anyhow::anyhow!(
                    "could not write the emulator state file: {e}"
                ))
            })?;
        }
        Ok(())
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

/// Runs `deploy-tcb emulator` until Ctrl-C.
pub fn run(args: EmulatorArgs) -> Result<()> {
    let config = EmulatorConfig::from_args(&args)?;
    crate::runner::mask::register(&config.secret_key);
    let envs = config.envs.join(", ");
    let speed = config.speed;
    let handle = Emulator::start(config)?;
    let engine = match (&handle.shared.containers, handle.engine_run_id()) {
        (Some(containers), Some(run)) => format!(
            "\n  engine: {} (versions run as containers labelled {LABEL_RUN}={run})",
            containers.endpoint()
        ),
        _ => String::new(),
    };
    let base = handle.base_url();
    let envs = if envs.is_empty() {
        "(none)".to_string()
    } else {
        envs
    };
    // The first line is the one scripts read; nothing fails when stdout is closed early.
    say(&format!(
        "deploy-tcb emulator listening on {base}\n  endpoint: {base} (TENCENTCLOUD_ENDPOINT / tcb_endpoint)\n  \
         environments: {envs}\n  gateway: {base}/_gw/<env>/<service>/   metrics: {base}/metrics\n  \
         faults: {base}/_emulator/faults   speed: {speed}x{engine}"
    ));
    crate::app::block_on(stop_signal());
    say("deploy-tcb emulator stopping");
    handle.shutdown()
}

/// Ctrl-C, or SIGTERM (what `docker stop` sends).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn say(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}
