//! A small client for the Docker Engine API over its unix socket (or TCP): build, inspect,
//! history, push, pull, and containers (create, start, inspect, logs, stop, remove, list). It speaks plain HTTP/1.1 with hyper, so it works with Docker and with
//! podman's Docker-compatible service alike, and needs no docker CLI.

use std::io;
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::Value;
use tokio::net::{TcpStream, UnixStream};

/// The API version we ask for: Docker 20.10+ and podman 4+ both serve it.
const API: &str = "/v1.41";

/// Where the engine listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(String),
}

impl Endpoint {
    /// Reads `DOCKER_HOST` (`unix:///path`, `tcp://host:port`); the default is the socket the
    /// runner mounts into Docker actions.
    pub fn parse(docker_host: Option<&str>) -> Result<Self, String> {
        let host = docker_host.map(str::trim).filter(|h| !h.is_empty());
        match host {
            None => Ok(Endpoint::Unix(PathBuf::from("/var/run/docker.sock"))),
            Some(h) => {
                if let Some(path) = h.strip_prefix("unix://") {
                    Ok(Endpoint::Unix(PathBuf::from(path)))
                } else if let Some(address) = h
                    .strip_prefix("tcp://")
                    .or_else(|| h.strip_prefix("http://"))
                {
                    Ok(Endpoint::Tcp(address.trim_end_matches('/').to_string()))
                } else {
                    Err(format!(
                        "DOCKER_HOST `{h}` is neither unix:///path nor tcp://host:port"
                    ))
                }
            }
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
            Endpoint::Tcp(address) => write!(f, "tcp://{address}"),
        }
    }
}

type Body = BoxBody<Bytes, io::Error>;

/// A Docker Engine API client.
#[derive(Debug, Clone)]
pub struct Engine {
    endpoint: Endpoint,
}

/// One message of a JSON progress stream (build or push).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamMessage {
    #[serde(default)]
    pub stream: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default, rename = "errorDetail")]
    pub error_detail: Option<Value>,
    #[serde(default)]
    pub aux: Option<Value>,
}

/// `GET /images/{name}/json`, the fields we use.
#[derive(Debug, Clone, Deserialize)]
pub struct ImageInspect {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Size", default)]
    pub size: u64,
    #[serde(rename = "RepoDigests", default)]
    pub repo_digests: Option<Vec<String>>,
}

/// One entry of `GET /images/{name}/history`.
#[derive(Debug, Clone, Deserialize)]
pub struct HistoryItem {
    #[serde(rename = "CreatedBy", default)]
    pub created_by: String,
    #[serde(rename = "Size", default)]
    pub size: i64,
}

impl Engine {
    pub fn new(endpoint: Endpoint) -> Self {
        Engine { endpoint }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    async fn send(&self, request: Request<Body>) -> anyhow::Result<Response<Incoming>> {
        let connect_error = || format!("cannot reach the container engine at {}", self.endpoint);
        let mut sender = match &self.endpoint {
            Endpoint::Unix(path) => {
                let stream = UnixStream::connect(path)
                    .await
                    .with_context(connect_error)?;
                handshake(stream).await?
            }
            Endpoint::Tcp(address) => {
                let stream = TcpStream::connect(address)
                    .await
                    .with_context(connect_error)?;
                handshake(stream).await?
            }
        };
        sender
            .send_request(request)
            .await
            .with_context(|| format!("the request to the engine at {} failed", self.endpoint))
    }

    fn request(method: &str, path: &str) -> hyper::http::request::Builder {
        Request::builder()
            .method(method)
            .uri(format!("{API}{path}"))
            .header("Host", "docker")
    }

    async fn call_json<T: for<'de> Deserialize<'de>>(
        &self,
        method: &str,
        path: &str,
    ) -> anyhow::Result<T> {
        let request = Self::request(method, path).body(empty())?;
        let response = self.send(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!("{method} {path}: {status}: {}", engine_message(&body));
        }
        serde_json::from_slice(&body).with_context(|| format!("{method} {path}: unexpected answer"))
    }

    /// `GET /version`: proves the engine answers, and names it for the log.
    pub async fn version(&self) -> anyhow::Result<Value> {
        self.call_json("GET", "/version").await
    }

    /// `POST /build` with the context tar streamed from `chunks`; every message of the
    /// progress stream goes to `on_message`. Returns the HTTP status's error, if any.
    pub async fn build(
        &self,
        query: &str,
        chunks: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
        on_message: impl FnMut(StreamMessage),
    ) -> anyhow::Result<()> {
        let stream = futures_util::stream::unfold(chunks, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk.map(Frame::data), rx))
        });
        let body: Body = BodyExt::boxed(StreamBody::new(stream));
        let request = Self::request("POST", &format!("/build?{query}"))
            .header("Content-Type", "application/x-tar")
            .body(body)?;
        let response = self.send(request).await?;
        read_stream(response, "POST /build", on_message).await
    }

    pub async fn inspect_image(&self, name: &str) -> anyhow::Result<ImageInspect> {
        self.call_json("GET", &format!("/images/{}/json", encode_path(name)))
            .await
    }

    pub async fn history(&self, name: &str) -> anyhow::Result<Vec<HistoryItem>> {
        self.call_json("GET", &format!("/images/{}/history", encode_path(name)))
            .await
    }

    /// `POST /images/{name}/push?tag=…` with `X-Registry-Auth` (never logged).
    pub async fn push(
        &self,
        name: &str,
        tag: &str,
        registry_auth: &str,
        on_message: impl FnMut(StreamMessage),
    ) -> anyhow::Result<()> {
        let path = format!("/images/{}/push?tag={}", encode_path(name), encode(tag));
        let request = Self::request("POST", &path)
            .header("X-Registry-Auth", registry_auth)
            .body(empty())?;
        let response = self.send(request).await?;
        read_stream(response, "POST /images/push", on_message).await
    }
}

/// What a container is created with: the fields of `POST /containers/create` this client sets.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    /// The container's name (unique on the engine).
    pub name: String,
    pub image: String,
    /// `KEY=VALUE` pairs.
    pub env: Vec<String>,
    pub labels: std::collections::BTreeMap<String, String>,
    /// Replaces the image's entrypoint when not empty.
    pub entrypoint: Vec<String>,
    /// Replaces the image's command when not empty.
    pub cmd: Vec<String>,
    /// A container TCP port to publish on the engine host's 127.0.0.1, at a port the engine
    /// picks (read it back with [`Engine::inspect_container`]).
    pub publish_tcp: Option<u16>,
}

impl ContainerSpec {
    fn create_body(&self) -> Value {
        let mut body = serde_json::json!({
            "Image": self.image,
            "Env": self.env,
            "Labels": self.labels,
        });
        if !self.entrypoint.is_empty() {
            body["Entrypoint"] = serde_json::json!(self.entrypoint);
        }
        if !self.cmd.is_empty() {
            body["Cmd"] = serde_json::json!(self.cmd);
        }
        if let Some(port) = self.publish_tcp {
            let key = format!("{port}/tcp");
            body["ExposedPorts"] = serde_json::json!({ &key: {} });
            body["HostConfig"] = serde_json::json!({
                "PortBindings": { &key: [{"HostIp": "127.0.0.1", "HostPort": ""}] }
            });
        }
        body
    }
}

/// `GET /containers/{id}/json`, the fields we use.
#[derive(Debug, Clone, Deserialize)]
pub struct ContainerInspect {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "State")]
    pub state: ContainerState,
    #[serde(rename = "NetworkSettings", default)]
    pub network: Option<NetworkSettings>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ContainerState {
    #[serde(rename = "Status", default)]
    pub status: String,
    #[serde(rename = "Running", default)]
    pub running: bool,
    #[serde(rename = "ExitCode", default)]
    pub exit_code: i64,
    #[serde(rename = "Error", default)]
    pub error: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NetworkSettings {
    #[serde(rename = "Ports", default)]
    pub ports: Option<std::collections::BTreeMap<String, Option<Vec<PortBinding>>>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PortBinding {
    #[serde(rename = "HostIp", default)]
    pub host_ip: String,
    #[serde(rename = "HostPort", default)]
    pub host_port: String,
}

impl ContainerInspect {
    /// The host port a container TCP port is published on, once the engine has bound it.
    pub fn published_port(&self, container_port: u16) -> Option<u16> {
        let ports = self.network.as_ref()?.ports.as_ref()?;
        ports
            .get(&format!("{container_port}/tcp"))?
            .as_ref()?
            .iter()
            .find_map(|binding| binding.host_port.parse().ok())
    }
}

/// One entry of `GET /containers/json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ContainerSummary {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Names", default)]
    pub names: Vec<String>,
    #[serde(rename = "Labels", default)]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
    #[serde(rename = "State", default)]
    pub state: String,
}

impl Engine {
    /// Sends a request with an optional JSON body; returns the status and the whole answer.
    async fn call_raw(
        &self,
        method: &str,
        path: &str,
        json: Option<&Value>,
    ) -> anyhow::Result<(hyper::StatusCode, Bytes)> {
        let builder = Self::request(method, path);
        let request = match json {
            Some(value) => {
                builder
                    .header("Content-Type", "application/json")
                    .body(BodyExt::boxed(
                        Full::new(Bytes::from(value.to_string())).map_err(|never| match never {}),
                    ))?
            }
            None => builder.body(empty())?,
        };
        let response = self.send(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// Like [`Self::call_raw`], failing with the engine's message unless the status is a
    /// success or one of `also_fine` (e.g. 304 "already started", 404 "already gone").
    async fn call_expect(
        &self,
        method: &str,
        path: &str,
        json: Option<&Value>,
        also_fine: &[u16],
    ) -> anyhow::Result<Bytes> {
        let (status, body) = self.call_raw(method, path, json).await?;
        if status.is_success() || also_fine.contains(&status.as_u16()) {
            Ok(body)
        } else {
            bail!("{method} {path}: {status}: {}", engine_message(&body))
        }
    }

    /// `POST /images/create?fromImage=…`: pulls an image (the reference may carry a tag or a
    /// digest). Engines report a failed pull either as an HTTP error or as an `error` message
    /// in a 200 stream; both become the error returned here.
    pub async fn pull(
        &self,
        reference: &str,
        mut on_message: impl FnMut(&StreamMessage),
    ) -> anyhow::Result<()> {
        let path = format!(
            "/images/create?{}",
            query(&[("fromImage", reference.into())])
        );
        let request = Self::request("POST", &path).body(empty())?;
        let response = self.send(request).await?;
        let mut failure = None;
        read_stream(response, "POST /images/create", |message| {
            if failure.is_none() {
                failure = message.error.clone();
            }
            on_message(&message);
        })
        .await?;
        match failure {
            Some(error) => Err(anyhow!("{}", error.trim())),
            None => Ok(()),
        }
    }

    /// `POST /containers/create?name=…`; returns the container id.
    pub async fn create_container(&self, spec: &ContainerSpec) -> anyhow::Result<String> {
        let path = format!(
            "/containers/create?{}",
            query(&[("name", spec.name.clone())])
        );
        let body = self
            .call_expect("POST", &path, Some(&spec.create_body()), &[])
            .await?;
        let created: Value = serde_json::from_slice(&body)
            .with_context(|| format!("POST {path}: unexpected answer"))?;
        created
            .get("Id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| anyhow!("POST {path}: the answer has no Id"))
    }

    /// `POST /containers/{id}/start` (an already running container is fine).
    pub async fn start_container(&self, id: &str) -> anyhow::Result<()> {
        let path = format!("/containers/{}/start", encode(id));
        self.call_expect("POST", &path, None, &[304]).await?;
        Ok(())
    }

    pub async fn inspect_container(&self, id: &str) -> anyhow::Result<ContainerInspect> {
        self.call_json("GET", &format!("/containers/{}/json", encode(id)))
            .await
    }

    /// `POST /containers/{id}/stop?t=…`: SIGTERM, then SIGKILL after `grace_seconds`. A
    /// container that is already stopped or gone is fine.
    pub async fn stop_container(&self, id: &str, grace_seconds: u64) -> anyhow::Result<()> {
        let path = format!("/containers/{}/stop?t={grace_seconds}", encode(id));
        self.call_expect("POST", &path, None, &[304, 404]).await?;
        Ok(())
    }

    /// `DELETE /containers/{id}?force=true&v=true`; a container that is gone is fine.
    pub async fn remove_container(&self, id: &str) -> anyhow::Result<()> {
        let path = format!("/containers/{}?force=true&v=true", encode(id));
        self.call_expect("DELETE", &path, None, &[404]).await?;
        Ok(())
    }

    /// The last `tail` lines a container wrote to stdout and stderr.
    pub async fn container_logs(&self, id: &str, tail: u32) -> anyhow::Result<String> {
        let path = format!(
            "/containers/{}/logs?stdout=true&stderr=true&tail={tail}",
            encode(id)
        );
        let body = self.call_expect("GET", &path, None, &[]).await?;
        Ok(demultiplex(&body))
    }

    /// `GET /containers/json?all=true` filtered by labels (`key=value`, all must match).
    pub async fn list_containers(
        &self,
        labels: &[String],
    ) -> anyhow::Result<Vec<ContainerSummary>> {
        let filters = serde_json::json!({ "label": labels }).to_string();
        let path = format!(
            "/containers/json?all=true&{}",
            query(&[("filters", filters)])
        );
        self.call_json("GET", &path).await
    }
}

/// Log output without a TTY comes in frames: 1 byte stream, 3 zero bytes, a 4-byte big-endian
/// length, then the payload. Text that is not framed is returned as it is.
fn demultiplex(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while rest.len() >= 8 && matches!(rest[0], 0..=2) && rest[1..4] == [0, 0, 0] {
        let size = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let end = (8 + size).min(rest.len());
        out.extend_from_slice(&rest[8..end]);
        rest = &rest[end..];
    }
    out.extend_from_slice(rest);
    String::from_utf8_lossy(&out).into_owned()
}

async fn handshake<S>(stream: S) -> anyhow::Result<hyper::client::conn::http1::SendRequest<Body>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake with the container engine failed")?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!("engine connection closed: {error}");
        }
    });
    Ok(sender)
}

fn empty() -> Body {
    BodyExt::boxed(Full::new(Bytes::new()).map_err(|never| match never {}))
}

/// Reads a newline-delimited JSON progress stream, handing each message on.
async fn read_stream(
    response: Response<Incoming>,
    what: &str,
    mut on_message: impl FnMut(StreamMessage),
) -> anyhow::Result<()> {
    let status = response.status();
    let mut body = response.into_body().into_data_stream();
    if !status.is_success() {
        let mut text = Vec::new();
        while let Some(chunk) = body.next().await {
            text.extend_from_slice(&chunk?);
        }
        return Err(anyhow!("{what}: {status}: {}", engine_message(&text)));
    }
    let mut pending: Vec<u8> = Vec::new();
    while let Some(chunk) = body.next().await {
        pending.extend_from_slice(&chunk.with_context(|| format!("{what}: stream broke"))?);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            dispatch_line(&line, &mut on_message);
        }
    }
    dispatch_line(&pending, &mut on_message);
    Ok(())
}

fn dispatch_line(line: &[u8], on_message: &mut impl FnMut(StreamMessage)) {
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() {
        return;
    }
    // Some engines put several objects on one line; read them all.
    let messages = serde_json::Deserializer::from_slice(trimmed).into_iter::<StreamMessage>();
    for message in messages {
        match message {
            Ok(message) => on_message(message),
            Err(_) => on_message(StreamMessage {
                stream: Some(String::from_utf8_lossy(trimmed).into_owned()),
                ..Default::default()
            }),
        }
    }
}

/// The engine's `{"message": …}` error body, or the raw text.
fn engine_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string())
}

/// Percent-encodes a query or path value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Percent-encodes an image reference for a path, keeping `/`, `:` and `@` as the engines'
/// routers expect them (the Docker CLI sends names unescaped).
pub fn encode_path(value: &str) -> String {
    value
        .split('/')
        .map(|part| {
            part.split(':')
                .map(|p| p.split('@').map(encode).collect::<Vec<_>>().join("@"))
                .collect::<Vec<_>>()
                .join(":")
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Builds a query string from pairs, encoding each value.
pub fn query(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_forms() {
        assert_eq!(
            Endpoint::parse(None),
            Ok(Endpoint::Unix("/var/run/docker.sock".into()))
        );
        assert_eq!(
            Endpoint::parse(Some("unix:///tmp/p.sock")),
            Ok(Endpoint::Unix("/tmp/p.sock".into()))
        );
        assert_eq!(
            Endpoint::parse(Some("tcp://127.0.0.1:2375")),
            Ok(Endpoint::Tcp("127.0.0.1:2375".into()))
        );
        assert!(
            Endpoint::parse(Some("ssh://host"))
                .unwrap_err()
                .contains("DOCKER_HOST")
        );
    }

    #[test]
    fn stream_lines_with_several_objects() {
        let mut seen = Vec::new();
        dispatch_line(b"{\"stream\":\"a\"}{\"error\":\"b\"}\r\n", &mut |m| {
            seen.push(m)
        });
        assert_eq!(seen[0].stream.as_deref(), Some("a"));
        assert_eq!(seen[1].error.as_deref(), Some("b"));
    }

    #[test]
    fn log_frames_are_joined_and_plain_text_is_kept() {
        let mut framed = vec![1, 0, 0, 0, 0, 0, 0, 4];
        framed.extend_from_slice(b"out\n");
        framed.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 4]);
        framed.extend_from_slice(b"err\n");
        assert_eq!(demultiplex(&framed), "out\nerr\n");
        assert_eq!(demultiplex(b"plain text\n"), "plain text\n");
    }

    #[test]
    fn a_published_port_is_read_from_inspect() {
        let inspect: ContainerInspect = serde_json::from_value(serde_json::json!({
            "Id": "abc",
            "State": {"Status": "running", "Running": true, "ExitCode": 0},
            "NetworkSettings": {"Ports": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "38683"}], "9/tcp": null}}
        }))
        .unwrap();
        assert_eq!(inspect.published_port(8080), Some(38683));
        assert_eq!(inspect.published_port(9), None);
        let spec = ContainerSpec {
            image: "app:1".into(),
            publish_tcp: Some(8080),
            ..ContainerSpec::default()
        };
        let body = spec.create_body();
        assert_eq!(
            body["HostConfig"]["PortBindings"]["8080/tcp"][0]["HostIp"],
            "127.0.0.1"
        );
        assert!(body.get("Cmd").is_none(), "the image's command is kept");
    }

    #[test]
    fn encodes_queries() {
        assert_eq!(
            query(&[
                ("t", "reg:5000/app:1.0".into()),
                ("q", "{\"A\":\"b c\"}".into())
            ]),
            "t=reg%3A5000%2Fapp%3A1.0&q=%7B%22A%22%3A%22b%20c%22%7D"
        );
    }
}
