//! A real Prometheus (the Debian package's `prometheus` binary) for the canary tests: started
//! on a free loopback port with a temporary config that scrapes one target every second, and
//! stopped by its pid when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TestPrometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

/// A free port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

impl TestPrometheus {
    /// Starts Prometheus scraping `target` (`host:port`, path `/metrics`) every second. `None`
    /// when the binary is not installed (see `support::tool_or_skip`).
    pub fn start(target: &str) -> Option<Self> {
        if !super::tool_or_skip("prometheus") {
            return None;
        }
        let dir = tempfile::tempdir().expect("a temp dir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: emulator\n    metrics_path: /metrics\n\
                 \x20   static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("write the config");
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        let prometheus = TestPrometheus {
            child,
            port,
            _dir: dir,
        };
        prometheus.wait_ready();
        Some(prometheus)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.get("/-/ready").starts_with("HTTP/1.1 200") {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("prometheus on port {} did not become ready", self.port);
    }

    /// Waits until the target has been scraped (`up == 1`).
    pub fn wait_scraped(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let answer = self.get("/api/v1/query?query=up");
            if answer.contains(r#""value":["#) && answer.contains(r#","1"]"#) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("prometheus never scraped its target");
    }

    /// A raw `GET` (status line, headers and body).
    pub fn get(&self, path: &str) -> String {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return String::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        if stream.write_all(request.as_bytes()).is_err() {
            return String::new();
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    }

    /// Stops the server (by its pid) and waits for it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestPrometheus {
    fn drop(&mut self) {
        self.stop();
    }
}
