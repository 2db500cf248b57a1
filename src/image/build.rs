//! The I/O edge: stream the context to the engine, follow the build, push every tag, then set
//! the outputs and write the job summary.

use std::collections::BTreeMap;

use anyhow::anyhow;
use base64::Engine as _;
use serde_json::{Value, json};

use super::context::{BuildContext, ChunkWriter, ContextError};
use super::dockerfile::{self, Instruction, Step};
use super::engine::{Endpoint, Engine, StreamMessage, query};
use super::plan::{BuildPlan, RegistryAuth};
use super::report::{self, Built};
use crate::error::{Error, Result};
use crate::runner::command::{annotate, group};
use crate::runner::{Annotation, Level};

/// Why no image came out: the error, and the Dockerfile line of the step that failed when the
/// build itself failed there.
#[derive(Debug)]
pub struct Failed {
    pub error: Error,
    /// (Dockerfile as the workflow names it, line).
    pub at: Option<(String, usize)>,
}

impl From<Error> for Failed {
    fn from(error: Error) -> Self {
        Failed { error, at: None }
    }
}

impl From<anyhow::Error> for Failed {
    fn from(error: anyhow::Error) -> Self {
        Failed::from(Error::Failure(error))
    }
}

/// Builds, pushes and publishes the outputs and the job summary.
pub async fn execute(plan: &BuildPlan) -> Result<Built, Failed> {
    let context = BuildContext::new(&plan.context_dir, &plan.dockerfile).map_err(context_error)?;
    let engine = connect().await?;
    let auth_header = match plan.push {
        true => Some(login(plan).await?),
        false => None,
    };
    let image_id = build(&engine, plan, &context).await?;
    let inspect = engine.inspect_image(&image_id).await?;
    let history = engine.history(&image_id).await?;
    let digest = match &auth_header {
        Some(header) => Some(push(&engine, plan, header).await?),
        None => None,
    };
    let built = Built {
        image_id: inspect.id,
        size: inspect.size,
        digest,
        layers: report::layers(&history),
    };
    report::publish(plan, &built)?;
    Ok(built)
}

fn context_error(error: ContextError) -> Error {
    match error {
        ContextError::NotADirectory(path) => Error::input(
            "context",
            format!("{} is not a directory", path.display()),
            "set `context` to a directory of the workspace, e.g. `.` or `services/web`",
        ),
        ContextError::NoDockerfile(path) => Error::input(
            "file",
            format!("{} does not exist", path.display()),
            "set `file` to the Dockerfile's path relative to `context`",
        ),
        ContextError::Ignore { path, source } => Error::Config {
            problem: format!("{}: {source}", path.display()),
            fix: "fix the pattern; `.dockerignore` uses Go filepath.Match syntax plus `**` and `!`"
                .into(),
            location: Some((path.display().to_string(), source.line, 1)),
        },
        ContextError::Io { .. } => Error::Failure(anyhow!(error)),
    }
}

async fn connect() -> Result<Engine> {
    let host = std::env::var("DOCKER_HOST").ok();
    let endpoint = Endpoint::parse(host.as_deref()).map_err(|problem| {
        Error::config(
            problem,
            "set DOCKER_HOST to unix:///var/run/docker.sock or tcp://host:2375",
        )
    })?;
    let engine = Engine::new(endpoint);
    let version = engine.version().await.map_err(|e| {
        Error::config(
            format!("{e:#}"),
            "run the action on a runner with Docker (the socket is mounted into Docker actions), or set DOCKER_HOST to a Docker-compatible engine such as `podman system service`",
        )
    })?;
    let name = version
        .pointer("/Components/0/Name")
        .and_then(Value::as_str)
        .unwrap_or("Docker Engine");
    let number = version
        .get("Version")
        .and_then(Value::as_str)
        .unwrap_or("?");
    tracing::info!("engine: {name} {number} at {}", engine.endpoint());
    Ok(engine)
}

/// The `/build` query: tags, Dockerfile, target, build args, labels, cache, pull, platform.
pub fn build_query(plan: &BuildPlan, dockerfile_name: &str) -> String {
    let object = |pairs: &[(String, String)]| -> String {
        let map: BTreeMap<&str, &str> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        json!(map).to_string()
    };
    let mut pairs: Vec<(&str, String)> = plan.references().into_iter().map(|r| ("t", r)).collect();
    pairs.push(("dockerfile", dockerfile_name.to_string()));
    pairs.push(("buildargs", object(&plan.build_args)));
    pairs.push(("labels", object(&plan.labels)));
    pairs.push(("rm", "1".into()));
    pairs.push(("forcerm", "1".into()));
    if let Some(target) = &plan.target {
        pairs.push(("target", target.clone()));
    }
    if !plan.cache_from.is_empty() {
        pairs.push(("cachefrom", json!(plan.cache_from).to_string()));
    }
    if plan.pull {
        pairs.push(("pull", "1".into()));
    }
    if let Some(platform) = &plan.platform {
        pairs.push(("platform", platform.clone()));
    }
    query(&pairs)
}

/// Follows the build's progress stream: prints it, remembers the step being run, the image id
/// and the first error.
#[derive(Default)]
struct BuildLog {
    step: Option<Step>,
    error: Option<String>,
    image_id: Option<String>,
    partial: String,
}

impl BuildLog {
    fn take(&mut self, message: StreamMessage) {
        if let Some(id) = message
            .aux
            .as_ref()
            .and_then(|a| a.get("ID"))
            .and_then(Value::as_str)
        {
            self.image_id = Some(id.to_string());
        }
        if let Some(error) = message.error {
            print_line(&error);
            self.error.get_or_insert(error);
        }
        if let Some(text) = message.stream.or(message.status) {
            self.partial.push_str(&text);
            while let Some(end) = self.partial.find('\n') {
                let line: String = self.partial.drain(..=end).collect();
                self.line(line.trim_end());
            }
        }
    }

    fn line(&mut self, line: &str) {
        print_line(line);
        if let Some(step) = dockerfile::parse_step(line) {
            self.step = Some(step);
        }
        if let Some(id) = line.strip_prefix("Successfully built ") {
            self.image_id.get_or_insert(id.trim().to_string());
        }
    }

    fn finish(&mut self) {
        let rest = std::mem::take(&mut self.partial);
        if !rest.trim().is_empty() {
            self.line(rest.trim_end());
        }
    }
}

/// Build output is data: a line that happens to start with `::` must not become a command.
fn print_line(line: &str) {
    let safe = if line.trim_start().starts_with("::") {
        format!(" {line}")
    } else {
        line.to_string()
    };
    crate::runner::command::println_raw(&safe);
}

async fn build(
    engine: &Engine,
    plan: &BuildPlan,
    context: &BuildContext,
) -> Result<String, Failed> {
    let _group = group(&format!("Build {}", plan.references().join(", ")));
    let entries = context.entries().map_err(context_error)?;
    tracing::info!(
        "context: {} entries from {} (Dockerfile {})",
        entries.len(),
        plan.context_dir.display(),
        context.dockerfile_name
    );
    let (sender, receiver) = tokio::sync::mpsc::channel(8);
    let producer = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
        let writer = BuildContext::write_tar(&entries, ChunkWriter::new(sender.clone()));
        match writer {
            Ok(mut writer) => {
                std::io::Write::flush(&mut writer)?;
                Ok(writer.written)
            }
            Err(error) => {
                let _ =
                    sender.blocking_send(Err(std::io::Error::new(error.kind(), error.to_string())));
                Err(error)
            }
        }
    });
    let mut log = BuildLog::default();
    let sent = engine
        .build(
            &build_query(plan, &context.dockerfile_name),
            receiver,
            |m| log.take(m),
        )
        .await;
    log.finish();
    let uploaded = producer
        .await
        .map_err(|e| anyhow!("the context writer stopped: {e}"))?;
    // The build's own error says most; then a packaging error (unless it is only the engine
    // hanging up, which the request's error explains); then the request's error.
    if log.error.is_some() {
        return Err(build_failed(plan, &log));
    }
    let bytes = match uploaded {
        Ok(bytes) => bytes,
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(anyhow!("cannot package the build context: {e}").into());
        }
        Err(_) => 0,
    };
    sent.map_err(Error::from)?;
    tracing::info!("context: {bytes} bytes sent");
    match log.image_id.clone() {
        Some(id) => Ok(id),
        None => Ok(plan.references()[0].clone()),
    }
}

/// Points the failure at the Dockerfile line of the step that failed.
fn build_failed(plan: &BuildPlan, log: &BuildLog) -> Failed {
    let error = log.error.clone().unwrap_or_default();
    let source =
        std::fs::read_to_string(plan.context_dir.join(&plan.dockerfile)).unwrap_or_default();
    let instructions: Vec<Instruction> = dockerfile::parse(&source);
    let located = log
        .step
        .as_ref()
        .and_then(|step| dockerfile::locate(&instructions, step));
    let mut at = Annotation::titled("Image build failed");
    at.file = Some(plan.dockerfile_display.clone());
    let place = match located {
        Some(instruction) => {
            at.line = Some(instruction.line);
            format!(
                "{}:{} (`{}`)",
                plan.dockerfile_display, instruction.line, instruction.text
            )
        }
        None => plan.dockerfile_display.clone(),
    };
    annotate(Level::Error, &at, error.trim());
    Failed {
        error: Error::Verdict(format!(
            "the image build failed at {place}: {}",
            error.trim()
        )),
        at: at.file.zip(at.line),
    }
}

/// The `X-Registry-Auth` header: base64url of the credentials JSON (`{}` when anonymous).
pub fn encode_auth(login: Option<(&str, &str)>, server: &str) -> String {
    let body = match login {
        None => json!({}),
        Some((username, password)) => {
            json!({"username": username, "password": password, "serveraddress": server})
        }
    };
    base64::engine::general_purpose::URL_SAFE.encode(body.to_string())
}

/// Logs in before the build, so bad credentials fail in seconds rather than after it.
async fn login(plan: &BuildPlan) -> Result<String> {
    Ok(match &plan.auth {
        RegistryAuth::Anonymous { server } => encode_auth(None, server),
        RegistryAuth::Password {
            server,
            username,
            password,
        } => encode_auth(Some((username, password.expose())), server),
        RegistryAuth::Tcr {
            server,
            instance_id,
        } => {
            let login = super::tcr::instance_token(&plan.cloud, instance_id).await?;
            tracing::info!(
                "TCR: temporary token for instance {instance_id} as {}",
                login.username
            );
            encode_auth(Some((&login.username, login.token.expose())), server)
        }
    })
}

async fn push(engine: &Engine, plan: &BuildPlan, header: &str) -> Result<String> {
    let mut digest = None;
    for tag in &plan.tags {
        let _group = group(&format!("Push {}:{tag}", plan.image));
        let mut error = None;
        engine
            .push(&plan.image, tag, header, |message| {
                if let Some(found) = push_digest(&message) {
                    digest = Some(found);
                }
                if let Some(text) = message.status.as_deref().or(message.stream.as_deref()) {
                    print_line(text.trim_end());
                }
                if let Some(text) = message.error {
                    error.get_or_insert(text);
                }
            })
            .await?;
        if let Some(error) = error {
            return Err(Error::Failure(anyhow!(
                "pushing {}:{tag} failed: {error}",
                plan.image
            )));
        }
    }
    digest.ok_or_else(|| {
        Error::Failure(anyhow!(
            "the engine pushed {} but reported no digest",
            plan.image
        ))
    })
}

/// The manifest digest from a push message: `aux.Digest`, or the `digest: sha256:… size: N`
/// status line.
pub fn push_digest(message: &StreamMessage) -> Option<String> {
    if let Some(digest) = message
        .aux
        .as_ref()
        .and_then(|a| a.get("Digest"))
        .and_then(Value::as_str)
    {
        return Some(digest.to_string());
    }
    let text = message.status.as_deref().or(message.stream.as_deref())?;
    let start = text.find("digest: sha256:")? + "digest: ".len();
    let digest: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
        .collect();
    (digest.len() == 71).then_some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::plan::BuildPlan;

    fn plan() -> BuildPlan {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "deploy-tcb",
            "build-image",
            "--image",
            "reg:5000/app",
            "--tags",
            "a,b",
            "--tag-rules",
            "",
            "--target",
            "final",
            "--build-args",
            "B=2\nA=1",
            "--cache-from",
            "reg:5000/app:cache",
            "--pull",
            "--platform",
            "linux/amd64",
        ])
        .unwrap();
        let crate::cli::Command::BuildImage(args) = cli.command else {
            unreachable!()
        };
        crate::image::plan::plan(&args, &Default::default(), "now").unwrap()
    }

    #[test]
    fn build_query_carries_every_input() {
        let query = build_query(&plan(), "Dockerfile");
        let decoded: Vec<(String, String)> = query
            .split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                let bytes = v.as_bytes();
                let mut out = Vec::new();
                let mut i = 0;
                while i < bytes.len() {
                    if bytes[i] == b'%' {
                        out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                        i += 3;
                    } else {
                        out.push(bytes[i]);
                        i += 1;
                    }
                }
                (k.to_string(), String::from_utf8(out).unwrap())
            })
            .collect();
        let get = |k: &str| -> Vec<&str> {
            decoded
                .iter()
                .filter(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(get("t"), ["reg:5000/app:a", "reg:5000/app:b"]);
        assert_eq!(get("target"), ["final"]);
        assert_eq!(get("buildargs"), [r#"{"A":"1","B":"2"}"#]);
        assert_eq!(get("cachefrom"), [r#"["reg:5000/app:cache"]"#]);
        assert_eq!(get("pull"), ["1"]);
        assert_eq!(get("platform"), ["linux/amd64"]);
        assert_eq!(get("dockerfile"), ["Dockerfile"]);
    }

    #[test]
    fn push_digest_from_aux_or_status() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let aux = StreamMessage {
            aux: Some(json!({"Tag": "1", "Digest": digest})),
            ..Default::default()
        };
        assert_eq!(push_digest(&aux), Some(digest.clone()));
        let status = StreamMessage {
            status: Some(format!("1: digest: {digest} size: 527")),
            ..Default::default()
        };
        assert_eq!(push_digest(&status), Some(digest));
        assert_eq!(push_digest(&StreamMessage::default()), None);
    }

    #[test]
    fn auth_header_is_base64url_json() {
        let header = encode_auth(Some(("bot", "p+/w")), "reg:5000");
        let json = base64::engine::general_purpose::URL_SAFE
            .decode(header)
            .unwrap();
        let value: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["username"], "bot");
        assert_eq!(value["serveraddress"], "reg:5000");
        assert_eq!(encode_auth(None, "x"), "e30=");
    }
}
