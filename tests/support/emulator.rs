//! An in-process emulator for tests, with signed calls over a plain HTTP/1.1 client, so the
//! deploy, canary and rollback tests can drive a real CloudBase Run API without a cloud.
//!
//! ```ignore
//! let emu = support::emulator::TestEmulator::start();
//! let task = emu.call("CreateCloudRunServer", json!({...}))["TaskId"].as_u64();
//! std::env::set_var("TENCENTCLOUD_ENDPOINT", emu.base_url());
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use deploy_tcb::emulator::{Emulator, EmulatorConfig, EmulatorHandle, FaultSet};
use deploy_tcb::tcb::tc3::{CallInput, SigningKey, sign_request};
use serde_json::{Value, json};

pub const SECRET_ID: &str = "AKIDTESTEMULATOR";
pub const SECRET_KEY: &str = "test-emulator-secret-key";
pub const ENV: &str = "env-test-1a2b3c";
/// Release tasks run this many times faster than at speed 1 (a release takes ~30 ms).
pub const SPEED: f64 = 100.0;

/// A raw HTTP answer.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A running emulator plus the key pair it trusts.
pub struct TestEmulator {
    pub handle: EmulatorHandle,
}

impl TestEmulator {
    /// An emulator with [`ENV`], [`SECRET_ID`]/[`SECRET_KEY`] and speed [`SPEED`].
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    /// The same, after `adjust` changed the configuration.
    pub fn start_with(adjust: impl FnOnce(&mut EmulatorConfig)) -> Self {
        let mut config = EmulatorConfig::local(SECRET_ID, SECRET_KEY, ENV);
        config.speed = SPEED;
        adjust(&mut config);
        let handle = Emulator::start(config).expect("the emulator starts");
        TestEmulator { handle }
    }

    pub fn base_url(&self) -> String {
        self.handle.base_url()
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.handle.host()
    }

    pub fn set_faults(&self, faults: Value) {
        let set: FaultSet = serde_json::from_value(faults).expect("a valid fault set");
        self.handle.set_faults(set);
    }

    /// Calls `action` signed with the emulator's key; returns `Response` (error or not).
    pub fn call(&self, action: &str, body: Value) -> Value {
        let key = SigningKey {
            secret_id: SECRET_ID,
            secret_key: SECRET_KEY,
            token: None,
        };
        self.call_signed(action, &body.to_string(), Some(&key))
            .json()["Response"]
            .clone()
    }

    /// Calls `action` and fails the test on an error answer.
    pub fn ok(&self, action: &str, body: Value) -> Value {
        let response = self.call(action, body);
        assert!(
            response.get("Error").is_none(),
            "{action} failed: {}",
            response["Error"]
        );
        response
    }

    /// The error code of an answer, or "" on success.
    pub fn code(response: &Value) -> String {
        response["Error"]["Code"].as_str().unwrap_or("").to_string()
    }

    /// Sends `body` for `action` signed with `key` (unsigned when `None`), now.
    pub fn call_signed(
        &self,
        action: &str,
        body: &str,
        key: Option<&SigningKey<'_>>,
    ) -> HttpAnswer {
        let host = self.host();
        let headers = signed_headers(
            action,
            body.as_bytes(),
            &host,
            chrono::Utc::now().timestamp(),
            key,
        );
        self.send("POST", "/", &headers, body.as_bytes())
    }

    /// A raw request to the emulator (`Host` and `Content-Length` are added).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> HttpAnswer {
        http(self.handle.addr(), method, path, headers, body)
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> HttpAnswer {
        self.send("GET", path, &[], b"")
    }

    /// The latest task of `service` once it is no longer running (or its gray canary is open),
    /// within five seconds.
    pub fn wait_task(&self, service: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let task = self.ok(
                "DescribeServerManageTask",
                json!({"EnvId": ENV, "ServerName": service, "TaskId": 0}),
            )["Task"]
                .clone();
            let gray_open = task["ReleaseType"] == "GRAY"
                && task["Steps"].as_array().is_some_and(|s| {
                    s.last().is_some_and(|last| last["Status"] == "running")
                        && s[..s.len() - 1]
                            .iter()
                            .all(|step| step["Status"] == "finished")
                });
            if task["Status"] != "running" || gray_open {
                return task;
            }
            assert!(Instant::now() < deadline, "task still running: {task}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Creates `service` from `image` and waits for its first release.
    pub fn deploy_new(&self, service: &str, image: &str) -> Value {
        self.ok(
            "CreateCloudRunServer",
            json!({"EnvId": ENV, "ServerName": service,
                   "DeployInfo": {"DeployType": "image", "ImageUrl": image}}),
        );
        self.wait_task(service)
    }

    /// `{version: FlowRatio}` of the service's online versions.
    pub fn online(&self, service: &str) -> Vec<(String, String)> {
        let detail = self.ok(
            "DescribeCloudRunServerDetail",
            json!({"EnvId": ENV, "ServerName": service}),
        );
        detail["OnlineVersionInfos"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| {
                (
                    v["VersionName"].as_str().unwrap_or("").to_string(),
                    v["FlowRatio"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }
}

/// The headers of a TC3-signed call (through `tcb::tc3`, the client's signer).
pub fn signed_headers(
    action: &str,
    body: &[u8],
    host: &str,
    timestamp: i64,
    key: Option<&SigningKey<'_>>,
) -> Vec<(String, String)> {
    let (service, version) = match action {
        "AssumeRoleWithWebIdentity" => ("sts", "2018-08-13"),
        "CreateInstanceToken" => ("tcr", "2019-09-24"),
        _ => ("tcbr", "2022-02-17"),
    };
    let call = CallInput {
        service,
        host,
        action,
        version,
        region: Some("ap-shanghai"),
        timestamp,
        body,
    };
    sign_request(&call, key)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// A minimal HTTP/1.1 exchange (one request per connection).
pub fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> HttpAnswer {
    let mut stream = TcpStream::connect(addr).expect("connect to the emulator");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    let mut request = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        request.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).expect("send the request");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_answer(&raw)
}

fn parse_answer(raw: &[u8]) -> HttpAnswer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let body = raw.get(split + 4..).unwrap_or_default().to_vec();
    HttpAnswer {
        status,
        headers,
        body,
    }
}
