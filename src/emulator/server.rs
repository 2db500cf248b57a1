//! The HTTP server: one listener for the API (`POST /`), the gateway (`/_gw/…`), `/metrics` and
//! the control endpoint (`/_emulator/…`). Built on hyper directly so a fault can drop a
//! connection without answering.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::api;
use super::clock::Clock;
use super::containers::Containers;
use super::faults::{FaultSet, Faults};
use super::gateway;
use super::metrics::Metrics;
use super::rng::SeededRng;
use super::state::World;
use super::synthetic::AppCatalog;

/// The largest request body read, in bytes.
const MAX_BODY: usize = 10 * 1024 * 1024;

pub type Body = Full<Bytes>;

/// A handler's answer: a response, or "close the connection without one" (an injected fault).
pub type Answer = Result<Response<Body>, Dropped>;

/// The connection is dropped on purpose.
#[derive(Debug)]
pub struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

/// What does not change while the emulator runs.
pub struct Settings {
    pub secret_id: String,
    pub secret_key: String,
    pub apps: AppCatalog,
    pub state_file: Option<PathBuf>,
    /// `http://host:port`, the base of every gateway URL.
    pub base_url: String,
    pub seed: u64,
}

/// What changes, behind one lock that is never held across an await.
pub struct Inner {
    pub world: World,
    pub faults: Faults,
    pub metrics: Metrics,
    /// One generator per service for the traffic split, one per version for synthetic errors.
    pub rngs: HashMap<String, SeededRng>,
    pub sts_rng: SeededRng,
}

impl Inner {
    pub fn rng(&mut self, seed: u64, label: &str) -> &mut SeededRng {
        self.rngs
            .entry(label.to_string())
            .or_insert_with(|| SeededRng::derive(seed, label))
    }
}

pub struct Shared {
    pub settings: Settings,
    pub clock: Clock,
    /// With `--engine`: the versions that run as real containers.
    pub containers: Option<Arc<Containers>>,
    inner: Mutex<Inner>,
}

impl Shared {
    pub fn new(
        settings: Settings,
        clock: Clock,
        world: World,
        faults: FaultSet,
        containers: Option<Arc<Containers>>,
    ) -> Self {
        let seed = settings.seed;
        Shared {
            settings,
            clock,
            containers,
            inner: Mutex::new(Inner {
                world,
                faults: Faults::new(faults, seed),
                metrics: Metrics::default(),
                rngs: HashMap::new(),
                sts_rng: SeededRng::derive(seed, "sts"),
            }),
        }
    }

    /// The state, advanced to now.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        inner.world.tick(self.clock.now());
        inner
    }

    /// Writes the state file, when there is one (atomically: a temp file, then a rename).
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.settings.state_file else {
            return Ok(());
        };
        let json = {
            let inner = self.lock();
            serde_json::to_vec_pretty(&inner.world).map_err(std::io::Error::other)?
        };
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, path)
    }
}

/// Accepts connections until `stop` turns true.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => break,
        };
        let Ok((stream, peer)) = accepted else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| route(shared.clone(), peer, request));
            // An error here is a client going away or an injected drop: nothing to report.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn route(shared: Arc<Shared>, _peer: SocketAddr, request: Request<Incoming>) -> Answer {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    match (method.clone(), path.as_str()) {
        (Method::POST, "/") => api::handle(&shared, request).await,
        (_, "/") => Ok(text(
            StatusCode::METHOD_NOT_ALLOWED,
            "the API takes POST / with X-TC-Action and a TC3-HMAC-SHA256 signature\n",
        )),
        (Method::GET, "/metrics") => {
            let body = shared.lock().metrics.render();
            let mut response = text(StatusCode::OK, &body);
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            Ok(response)
        }
        (_, p) if p.starts_with("/_gw/") => gateway::handle(&shared, request).await,
        (_, p) if p.starts_with("/_emulator/") => Ok(control(&shared, request).await),
        _ => Ok(text(StatusCode::NOT_FOUND, "not found\n")),
    }
}

/// The control endpoint.
async fn control(shared: &Shared, request: Request<Incoming>) -> Response<Body> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    match (method, path.as_str()) {
        (Method::GET, "/_emulator/health") => text(StatusCode::OK, "ok\n"),
        (Method::GET, "/_emulator/faults") => {
            let set = shared.lock().faults.set().clone();
            json(
                StatusCode::OK,
                &serde_json::to_value(set).unwrap_or_default(),
            )
        }
        (Method::DELETE, "/_emulator/faults") => {
            shared.lock().faults.replace(FaultSet::default());
            json(StatusCode::OK, &serde_json::json!({"rules": []}))
        }
        (Method::POST | Method::PUT, "/_emulator/faults") => {
            let body = match read_body(request).await {
                Ok(body) => body,
                Err(message) => return problem(StatusCode::BAD_REQUEST, &message),
            };
            match FaultSet::parse(&String::from_utf8_lossy(&body)) {
                Ok(set) => {
                    shared.lock().faults.replace(set.clone());
                    json(
                        StatusCode::OK,
                        &serde_json::to_value(set).unwrap_or_default(),
                    )
                }
                Err(message) => problem(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "faults: {message}; send {{\"rules\": [{{\"kind\": \"throttle\", ...}}]}}"
                    ),
                ),
            }
        }
        (Method::GET, "/_emulator/state") => {
            let world = serde_json::to_value(&shared.lock().world).unwrap_or_default();
            json(StatusCode::OK, &world)
        }
        _ => problem(
            StatusCode::NOT_FOUND,
            "control endpoints: GET /_emulator/health, GET|POST|DELETE /_emulator/faults, GET /_emulator/state",
        ),
    }
}

/// Reads a request body up to [`MAX_BODY`].
pub async fn read_body(request: Request<Incoming>) -> Result<Bytes, String> {
    Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|e| format!("could not read the request body: {e}"))
}

pub fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A JSON answer with `Content-Type: application/json` exactly (the Python SDK ignores error
/// envelopes under any other value).
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn problem(status: StatusCode, message: &str) -> Response<Body> {
    json(status, &serde_json::json!({ "error": message }))
}
