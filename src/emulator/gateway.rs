//! The gateway: `/_gw/<env>/<service>/<path>` is a service's URL (its DefaultDomainName). Each
//! request goes to one version, chosen by the traffic split, and is answered by that version's
//! synthetic app, or forwarded to its real container (`--engine`). Every answer is counted per
//! version for `/metrics`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::containers::VersionKey;
use super::faults::RequestFault;
use super::routing::{RequestKeys, choose_version};
use super::server::{Answer, Body, Dropped, Shared, json};
use super::synthetic::{Behaviour, HEALTH_PATHS};

/// The path prefix of every gateway URL.
pub const PREFIX: &str = "/_gw/";

/// The URL of a service: `<base>/_gw/<env>/<service>`.
pub fn service_url(base_url: &str, env: &str, service: &str) -> String {
    format!("{}{PREFIX}{env}/{service}", base_url.trim_end_matches('/'))
}

/// Splits `/_gw/<env>/<service>/<rest>` into its parts; `rest` keeps its leading `/`.
pub fn parse_path(path: &str) -> Option<(&str, &str, String)> {
    let rest = path.strip_prefix(PREFIX)?;
    let mut parts = rest.splitn(3, '/');
    let env = parts.next().filter(|s| !s.is_empty())?;
    let service = parts.next().filter(|s| !s.is_empty())?;
    Some((env, service, format!("/{}", parts.next().unwrap_or(""))))
}

/// What one request was routed to, decided under the lock.
struct Decision {
    version: String,
    image: String,
    behaviour: Behaviour,
    fail: bool,
    fault_latency: Duration,
    fault: Option<RequestFault>,
    /// A version served by a real container: where it listens, or why it cannot answer.
    upstream: Option<Result<SocketAddr, String>>,
}

pub async fn handle(shared: &Shared, request: Request<Incoming>) -> Answer {
    let started = Instant::now();
    let path = request.uri().path().to_string();
    let Some((env, service, rest)) = parse_path(&path) else {
        return Ok(problem(
            StatusCode::NOT_FOUND,
            "gateway URLs are /_gw/<env>/<service>/<path>",
        ));
    };
    let decision = match decide(shared, &request, env, service) {
        Ok(decision) => decision,
        Err((status, message)) => {
            record(shared, env, service, "", status, started);
            return Ok(problem(status, &message));
        }
    };
    let delay = decision.fault_latency + decision.behaviour.latency();
    // A zero sleep still waits for the timer's next tick (about 1 ms): skip it.
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let method = request.method().to_string();
    let mut response = match (&decision.fault, &decision.upstream) {
        (Some(RequestFault::Drop), _) => return Err(Dropped),
        (Some(RequestFault::InternalError(message)), _) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            message.as_deref().unwrap_or("injected gateway fault"),
        ),
        (_, Some(Ok(addr))) => match &shared.containers {
            Some(containers) => {
                containers
                    .forward(*addr, request, &rest, &decision.version)
                    .await
            }
            None => problem(StatusCode::SERVICE_UNAVAILABLE, NO_ENGINE),
        },
        (_, Some(Err(reason))) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("version {reason}"),
        ),
        _ => answer(&decision, env, service, &rest, &method),
    };
    if let Ok(value) = decision.version.parse() {
        response.headers_mut().insert("x-tcb-version", value);
    }
    record(
        shared,
        env,
        service,
        &decision.version,
        response.status(),
        started,
    );
    Ok(response)
}

fn decide(
    shared: &Shared,
    request: &Request<Incoming>,
    env: &str,
    service: &str,
) -> Result<Decision, (StatusCode, String)> {
    let seed = shared.settings.seed;
    let mut inner = shared.lock();
    let faults = inner.faults.for_gateway(service);
    let traffic = match inner.world.service(env, service) {
        Ok(found) => found.traffic.clone(),
        Err(e) => return Err((StatusCode::NOT_FOUND, e.message)),
    };
    let keys = request_keys(request);
    let roll = inner.rng(seed, &format!("route/{env}/{service}")).unit();
    let Some(version) = choose_version(&traffic, &keys, roll).map(str::to_string) else {
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            format!("service `{service}` has no version online yet"),
        ));
    };
    let (image, behaviour) = match inner
        .world
        .service(env, service)
        .and_then(|s| s.version(&version))
    {
        Ok(v) => (v.image.clone(), v.behaviour.clone()),
        Err(e) => return Err((StatusCode::SERVICE_UNAVAILABLE, e.message)),
    };
    let fail = inner
        .rng(seed, &format!("errors/{env}/{version}"))
        .chance(behaviour.error_rate);
    drop(inner);
    let upstream = behaviour.container.then(|| match &shared.containers {
        Some(containers) => containers.upstream(&VersionKey::new(env, service, &version)),
        None => Err(format!("`{version}` runs as a container: {NO_ENGINE}")),
    });
    Ok(Decision {
        version,
        image,
        behaviour,
        fail,
        fault_latency: faults.latency,
        fault: faults.outcome,
        upstream,
    })
}

fn request_keys<'r>(request: &'r Request<Incoming>) -> RequestKeys<'r> {
    let query = request
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    let headers = request
        .headers()
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    RequestKeys { query, headers }
}

/// The synthetic app's answer.
fn answer(
    decision: &Decision,
    env: &str,
    service: &str,
    path: &str,
    method: &str,
) -> Response<Body> {
    if HEALTH_PATHS.contains(&path) {
        if decision.behaviour.healthy {
            json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
        } else {
            problem(StatusCode::SERVICE_UNAVAILABLE, "unhealthy (synthetic)")
        }
    } else if decision.fail {
        problem(StatusCode::INTERNAL_SERVER_ERROR, "synthetic error")
    } else {
        json(
            StatusCode::OK,
            &serde_json::json!({
                "env": env,
                "service": service,
                "version": decision.version,
                "image": decision.image,
                "method": method,
                "path": path,
            }),
        )
    }
}

const NO_ENGINE: &str =
    "start the emulator with --engine URL to serve versions that run as containers";

fn problem(status: StatusCode, message: &str) -> Response<Body> {
    json(status, &serde_json::json!({ "error": message }))
}

fn record(
    shared: &Shared,
    env: &str,
    service: &str,
    version: &str,
    status: StatusCode,
    started: Instant,
) {
    shared
        .lock()
        .metrics
        .record_gateway(env, service, version, status.as_u16(), started.elapsed());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_paths_name_env_service_and_the_app_path() {
        assert_eq!(
            parse_path("/_gw/env-1/web/api/items"),
            Some(("env-1", "web", "/api/items".to_string()))
        );
        assert_eq!(
            parse_path("/_gw/env-1/web"),
            Some(("env-1", "web", "/".to_string()))
        );
        assert_eq!(parse_path("/_gw/env-1/"), None);
        assert_eq!(parse_path("/other"), None);
        assert_eq!(
            service_url("http://127.0.0.1:9000/", "env-1", "web"),
            "http://127.0.0.1:9000/_gw/env-1/web"
        );
    }
}
