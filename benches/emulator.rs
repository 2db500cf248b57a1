//! Emulator benchmark: API requests per second (signed `DescribeCloudRunServerDetail`, verified
//! and answered by the in-process emulator over keep-alive HTTP/1.1) and the latency the gateway
//! adds (p50/p99 of `GET /_gw/<env>/<service>/` against `GET /_emulator/health`, the same HTTP
//! stack without routing, synthetic app or metrics).
//!
//! Run: `cargo bench --bench emulator` (EMULATOR_BENCH_SECONDS, EMULATOR_BENCH_CLIENTS).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use deploy_tcb::emulator::{Emulator, EmulatorConfig};
use deploy_tcb::tcb::tc3::{CallInput, SigningKey, sign_request};

const ID: &str = "AKIDBENCH";
const KEY: &str = "bench-key";
const ENV: &str = "env-bench";

/// One keep-alive connection that sends prepared requests and reads whole answers.
struct Connection {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Connection {
    fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Connection {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            writer: stream,
        }
    }

    /// Sends `request` and returns the status code after reading the body.
    fn exchange(&mut self, request: &[u8]) -> u16 {
        self.writer.write_all(request).expect("send");
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("status line");
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("header");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).expect("body");
        status
    }
}

fn signed_request(host: &str, action: &str, body: &str) -> Vec<u8> {
    let call = CallInput {
        service: "tcbr",
        host,
        action,
        version: "2022-02-17",
        region: None,
        timestamp: chrono::Utc::now().timestamp(),
        body: body.as_bytes(),
    };
    let key = SigningKey {
        secret_id: ID,
        secret_key: KEY,
        token: None,
    };
    let mut text = String::from("POST / HTTP/1.1\r\n");
    for (name, value) in sign_request(&call, Some(&key)) {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    text.into_bytes()
}

fn get_request(host: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn api_throughput(addr: SocketAddr, host: &str, clients: usize, seconds: f64) -> f64 {
    let body = format!(r#"{{"EnvId":"{ENV}","ServerName":"bench"}}"#);
    let request = signed_request(host, "DescribeCloudRunServerDetail", &body);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let request = request.clone();
            std::thread::spawn(move || {
                let mut connection = Connection::open(addr);
                let mut count = 0u64;
                while Instant::now() < deadline {
                    assert_eq!(connection.exchange(&request), 200);
                    count += 1;
                }
                count
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().expect("client")).sum();
    total as f64 / started.elapsed().as_secs_f64()
}

/// Latencies of `a` and `b`, sampled alternately on one connection each so both see the same
/// machine load (this machine is shared; its load average is printed with the figures).
fn paired_latencies(
    addr: SocketAddr,
    a: &[u8],
    b: &[u8],
    count: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    let (mut first, mut second) = (Connection::open(addr), Connection::open(addr));
    for _ in 0..200 {
        first.exchange(a);
        second.exchange(b);
    }
    let time = |connection: &mut Connection, request: &[u8]| {
        let started = Instant::now();
        assert_eq!(connection.exchange(request), 200);
        started.elapsed()
    };
    let (mut xs, mut ys) = (Vec::with_capacity(count), Vec::with_capacity(count));
    for _ in 0..count {
        xs.push(time(&mut first, a));
        ys.push(time(&mut second, b));
    }
    xs.sort();
    ys.sort();
    (xs, ys)
}

fn main() {
    let seconds: f64 = std::env::var("EMULATOR_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let clients: usize = std::env::var("EMULATOR_BENCH_CLIENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let mut config = EmulatorConfig::local(ID, KEY, ENV);
    config.speed = 1000.0;
    let emulator = Emulator::start(config).expect("the emulator starts");
    let (addr, host) = (emulator.addr(), emulator.host());
    let create = format!(
        r#"{{"EnvId":"{ENV}","ServerName":"bench","DeployInfo":{{"DeployType":"image","ImageUrl":"synthetic:healthy"}}}}"#
    );
    Connection::open(addr).exchange(&signed_request(&host, "CreateCloudRunServer", &create));
    std::thread::sleep(Duration::from_millis(100));

    let rps = api_throughput(addr, &host, clients, seconds);
    println!(
        "api: {rps:.0} requests/s (signed DescribeCloudRunServerDetail, {clients} keep-alive clients, {seconds} s)"
    );

    let samples = 20_000;
    let gateway_request = get_request(&host, &format!("/_gw/{ENV}/bench/"));
    let (gateway, baseline) = paired_latencies(
        addr,
        &gateway_request,
        &get_request(&host, "/_emulator/health"),
        samples,
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let added = |p: f64| (ms(percentile(&gateway, p)) - ms(percentile(&baseline, p))).max(0.0);
    println!(
        "gateway: p50 {:.3} ms, p99 {:.3} ms; baseline (/_emulator/health): p50 {:.3} ms, p99 {:.3} ms",
        ms(percentile(&gateway, 0.5)),
        ms(percentile(&gateway, 0.99)),
        ms(percentile(&baseline, 0.5)),
        ms(percentile(&baseline, 0.99)),
    );
    println!(
        "gateway added latency: p50 {:.3} ms, p99 {:.3} ms ({samples} alternating requests each; load average {})",
        added(0.5),
        added(0.99),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split(' ')
            .next()
            .unwrap_or("?"),
    );
    emulator.shutdown().expect("the emulator stops");
}
