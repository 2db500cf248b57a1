//! A real container registry (`docker-registry` from Debian) on a random loopback port and a
//! real Docker-compatible engine (`podman system service`) on a private socket, both started
//! by the test and stopped by their own process ids when dropped.
//!
//! The podman service gets its own registries.conf (through `CONTAINERS_REGISTRIES_CONF`)
//! that lists the loopback registry as insecure, so no machine-wide file has to know the
//! port. Images live in the machine's container storage, as with any podman.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// True when the tools these tests need are installed (or the test must fail under CI).
pub fn engine_tools_or_skip() -> bool {
    super::tool_or_skip("docker-registry") && super::tool_or_skip("podman")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn wait_until(what: &str, child: &mut Child, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ready() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early with {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not become ready in 30 s");
}

fn stop(child: &mut Child) {
    // Our own child, by its id: SIGTERM first so podman can clean up its socket.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A `docker-registry serve` on 127.0.0.1:<random port>, storing into a temporary directory.
pub struct Registry {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let config = dir.path().join("config.yml");
        let storage = dir.path().join("storage");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                storage.display()
            ),
        )
        .expect("registry config written");
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry starts");
        let address = format!("127.0.0.1:{port}");
        wait_until("docker-registry", &mut child, || {
            http(&address, "GET", "/v2/", &[]).is_some_and(|r| r.status == 200)
        });
        Registry {
            port,
            child,
            _dir: dir,
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `GET /v2/<name>/manifests/<reference>` accepting Docker and OCI manifests.
    pub fn manifest(&self, name: &str, reference: &str) -> HttpResponse {
        let accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";
        http(
            &self.address(),
            "GET",
            &format!("/v2/{name}/manifests/{reference}"),
            &[("Accept", accept)],
        )
        .expect("the registry answers")
    }

    /// `GET /v2/<name>/blobs/<digest>`.
    pub fn blob(&self, name: &str, digest: &str) -> Vec<u8> {
        let response = http(
            &self.address(),
            "GET",
            &format!("/v2/{name}/blobs/{digest}"),
            &[],
        )
        .expect("the registry answers");
        assert_eq!(response.status, 200, "blob {digest}");
        response.body
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// `podman system service` on a private unix socket.
pub struct Podman {
    pub socket: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Podman {
    /// Starts the service, trusting the given loopback registries over plain HTTP.
    pub fn start(insecure_registries: &[String]) -> Podman {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let socket = dir.path().join("podman.sock");
        let registries = dir.path().join("registries.conf");
        let entries: String = insecure_registries
            .iter()
            .map(|r| format!("[[registry]]\nlocation = \"{r}\"\ninsecure = true\n"))
            .collect();
        std::fs::write(&registries, entries).expect("registries.conf written");
        let mut child = Command::new("podman")
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .env("CONTAINERS_REGISTRIES_CONF", &registries)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("podman system service starts");
        let path = socket.clone();
        wait_until("podman system service", &mut child, || ping(&path));
        Podman {
            socket,
            child,
            _dir: dir,
        }
    }

    /// Removes images a test built, so test runs do not pile up in the machine's storage.
    pub fn remove_images(&self, references: &[String]) {
        let _ = Command::new("podman")
            .args(["rmi", "--force", "--ignore"])
            .args(references)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// The `DOCKER_HOST` value for this engine.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

fn ping(socket: &Path) -> bool {
    let Ok(mut stream) = std::os::unix::net::UnixStream::connect(socket) else {
        return false;
    };
    let request = "GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n";
    let mut answer = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

/// A plain HTTP/1.1 answer.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// One HTTP/1.1 request over TCP (`Connection: close`, no chunked bodies from the registry
/// for these endpoints other than the ones handled below).
pub fn http(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Option<HttpResponse> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Option<HttpResponse> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}

/// A stand-in engine on a unix socket that keeps the build context each `/build` uploads and
/// answers the few other calls a build makes (`/_ping`, `/version`, image inspect, history),
/// so the docker CLI's own upload and ours can be compared byte for byte.
pub struct CaptureEngine {
    pub socket: PathBuf,
    uploads: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
    _dir: tempfile::TempDir,
}

impl CaptureEngine {
    pub fn start() -> CaptureEngine {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let socket = dir.path().join("capture.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).expect("socket bound");
        let uploads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = uploads.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = kept.clone();
                std::thread::spawn(move || serve_capture(stream, &kept));
            }
        });
        CaptureEngine {
            socket,
            uploads,
            _dir: dir,
        }
    }

    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The contexts uploaded so far, oldest first.
    pub fn uploads(&self) -> Vec<Vec<u8>> {
        self.uploads.lock().unwrap().clone()
    }
}

fn serve_capture(stream: std::os::unix::net::UnixStream, uploads: &std::sync::Mutex<Vec<Vec<u8>>>) {
    use std::io::BufRead;
    let mut writer = stream.try_clone().expect("a second handle");
    let mut reader = std::io::BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let (mut length, mut chunked) = (0u64, false);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let lower = line.trim_end().to_ascii_lowercase();
            if lower.is_empty() {
                break;
            }
            if let Some(value) = lower.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
            chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size_line = String::new();
                reader.read_line(&mut size_line).unwrap_or(0);
                let size_text = size_line
                    .trim()
                    .split(';')
                    .next()
                    .unwrap_or("0")
                    .to_string();
                let size = u64::from_str_radix(&size_text, 16).unwrap_or(0);
                let _ = (&mut reader).take(size).read_to_end(&mut body);
                let mut crlf = String::new();
                let _ = reader.read_line(&mut crlf);
                if size == 0 {
                    break;
                }
            }
        } else {
            let _ = (&mut reader).take(length).read_to_end(&mut body);
        }
        let mut words = request_line.split(' ');
        let method = words.next().unwrap_or_default().to_string();
        let path = words.next().unwrap_or("/").to_string();
        let id = format!("sha256:{}", "cd".repeat(32));
        let content = if path.contains("/build") {
            uploads.lock().unwrap().push(body);
            format!(
                "{{\"stream\":\"Successfully built cdcdcdcdcdcd\\n\"}}\r\n{{\"aux\":{{\"ID\":\"{id}\"}}}}\r\n"
            )
        } else if path.contains("/version") {
            r#"{"Version":"capture","ApiVersion":"1.41","Components":[{"Name":"capture engine"}]}"#
                .to_string()
        } else if path.contains("/history") {
            "[]".to_string()
        } else if path.contains("/images/") {
            format!("{{\"Id\":\"{id}\",\"Size\":1}}")
        } else {
            "OK".to_string()
        };
        let shown = if method == "HEAD" {
            ""
        } else {
            content.as_str()
        };
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\nContent-Length: {}\r\n\r\n{shown}",
            content.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}
