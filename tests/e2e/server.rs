//! A real `orch serve` process for the tests of the service: started on free ports (port 0,
//! read back from what it prints), talked to over real sockets (HTTP/1.1 written by hand, UDP
//! and TCP syslog), stopped with SIGTERM or SIGKILL. Killed and reaped on drop, so a failing
//! test leaves nothing running.

#![allow(
    dead_code,
    reason = "shared by the e2e test files; each uses part of the API"
)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Run, TestHost};

/// A running `orch serve`.
pub struct Server {
    child: Option<Child>,
    /// HTTP address.
    pub http: SocketAddr,
    /// Syslog UDP address, when asked for.
    pub udp: Option<SocketAddr>,
    /// Syslog TCP address, when asked for.
    pub tcp: Option<SocketAddr>,
    /// Runs it resumed at start-up.
    pub resumed: Vec<String>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

/// A directory of rules written by a test.
pub fn rules_dir(rules: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in rules {
        std::fs::write(dir.path().join(format!("{name}.yaml")), text).expect("writing a rule");
    }
    dir
}

/// A directory of workflows written by a test.
pub fn workflows_dir(workflows: &[(&str, &str)]) -> tempfile::TempDir {
    rules_dir(workflows)
}

fn collect(mut from: impl std::io::Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(&mut from);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            into.lock().expect("lock").push_str(&line);
            line.clear();
        }
    });
}

impl Server {
    /// Starts `orch serve --listen 127.0.0.1:0 ARGS` in `host`'s home and waits until it says
    /// it is ready (it prints where it listens); panics with its output if it does not.
    pub fn start(host: &TestHost, args: &[&str]) -> Self {
        Self::start_env(host, args, &[])
    }

    /// [`start`](Self::start) with extra environment variables.
    pub fn start_env(host: &TestHost, args: &[&str], env: &[(&str, &str)]) -> Self {
        let listen: &[&str] = if args.contains(&"--listen") {
            &[]
        } else {
            &["--listen", "127.0.0.1:0"]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_orch"))
            .arg("serve")
            .args(listen)
            .args(args)
            .env("ORCH_HOME", host.home())
            .env_remove("ORCH_DATABASE_URL")
            .envs(host.database_env())
            .env("ORCH_LOG", "orch=info")
            .env_remove("ORCH_MASTER_KEY")
            .env_remove("ORCH_RULES")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting orch serve");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().expect("stdout"), Arc::clone(&stdout));
        collect(child.stderr.take().expect("stderr"), Arc::clone(&stderr));
        let mut server = Self {
            child: Some(child),
            http: "127.0.0.1:0".parse().expect("addr"),
            udp: None,
            tcp: None,
            resumed: Vec::new(),
            stdout,
            stderr,
        };
        let started = Instant::now();
        loop {
            let out = server.stdout();
            if out.lines().any(|l| l == "ready") {
                for line in out.lines() {
                    let http = line
                        .strip_prefix("http: http://")
                        .or_else(|| line.strip_prefix("http: https://"));
                    if let Some(a) = http {
                        server.http = a.parse().expect("http address");
                    } else if let Some(a) = line.strip_prefix("syslog udp: ") {
                        server.udp = Some(a.parse().expect("udp address"));
                    } else if let Some(a) = line.strip_prefix("syslog tcp: ") {
                        server.tcp = Some(a.parse().expect("tcp address"));
                    } else if let Some(r) = line.strip_prefix("resumed runs: ") {
                        server.resumed = r.split(", ").map(str::to_owned).collect();
                    }
                }
                return server;
            }
            if let Some(status) = server
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "orch serve exited ({status}) before it was ready\nstdout:\n{}\nstderr:\n{}",
                    server.stdout(),
                    server.stderr()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "orch serve was not ready in 60 s\nstdout:\n{}\nstderr:\n{}",
                server.stdout(),
                server.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What it printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().expect("lock").clone()
    }

    /// What it logged on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends `signal` (`-TERM`, `-KILL`, …) and waits for the exit: the exit code (-1 for a
    /// signal) and everything it printed.
    pub fn stop(mut self, signal: &str) -> Run {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill {signal} failed");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting") {
                break status;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!(
                    "orch serve did not stop in 60 s after {signal}\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The readers finish once the pipes close.
        std::thread::sleep(Duration::from_millis(100));
        Run {
            code: status.code().unwrap_or(-1),
            stdout: self.stdout(),
            stderr: self.stderr(),
        }
    }

    /// `GET /healthz`'s counters.
    pub fn counters(&self) -> Value {
        let (status, body) = self.request("GET", "/healthz", &[], b"");
        assert_eq!(status, 200, "{body}");
        body["counters"].clone()
    }

    /// One counter (0 when absent).
    pub fn counter(&self, name: &str) -> u64 {
        self.counters()[name].as_u64().unwrap_or(0)
    }

    /// An HTTP/1.1 request over a new connection: status and JSON body (`Null` if not JSON).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Value) {
        http(self.http, method, path, headers, body)
    }

    /// A webhook signed with `key` (HMAC-SHA256 of `TIMESTAMP.BODY`) at `timestamp` (now when
    /// `None`).
    pub fn signed_hook(
        &self,
        hook: &str,
        key: &str,
        body: &Value,
        timestamp: Option<i64>,
    ) -> (u16, Value) {
        let body = body.to_string();
        let ts = timestamp.unwrap_or_else(now_s).to_string();
        let sig = orch::service::webhook::signature(key.as_bytes(), &ts, body.as_bytes());
        self.request(
            "POST",
            &format!("/hooks/{hook}"),
            &[
                ("content-type", "application/json"),
                ("x-orch-timestamp", &ts),
                ("x-orch-signature", &sig),
            ],
            body.as_bytes(),
        )
    }

    /// Sends one syslog datagram from a new UDP socket on 127.0.0.1.
    pub fn syslog_udp(&self, message: &str) {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
        socket
            .send_to(message.as_bytes(), self.udp.expect("a UDP listener"))
            .expect("sending a datagram");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Unix seconds now.
pub fn now_s() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("seconds")
}

/// A minimal HTTP/1.1 client: one request, `Connection: close`, the status and the body as JSON.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Value) {
    let (status, _, body) = http_text(addr, method, path, headers, body);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// [`http`] with the response's head and body as text.
pub fn http_text(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).expect("connecting");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("writing");
    // A server may answer (and close) before the body is written (413): ignore write errors.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_owned(), body.to_owned())
}

/// Polls `check` every 50 ms until it gives `Some`, for at most `secs` seconds.
#[track_caller]
pub fn wait_for<T>(secs: u64, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `orch events show ID --json` of `host`.
pub fn event(host: &TestHost, id: i64) -> Value {
    host.orch(&["events", "show", &id.to_string(), "--json"])
        .json()
}

/// Waits until event `id` is decided; it.
pub fn decided(host: &TestHost, id: i64) -> Value {
    wait_for(30, &format!("event {id} to be decided"), || {
        let e = event(host, id);
        (e["decided"] == true).then_some(e)
    })
}

/// Waits until run `run` is finished; its status.
pub fn finished(host: &TestHost, run: &str) -> String {
    wait_for(120, &format!("run {run} to finish"), || {
        let show = host.orch(&["runs", "show", run, "--json"]);
        let status = show.json()["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        matches!(status.as_str(), "succeeded" | "failed" | "canceled").then_some(status)
    })
}

/// The path of a file in a temp dir, as a string.
pub fn path_str(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_owned()
}

/// The workspace's `rules/` directory.
pub fn example_rules() -> PathBuf {
    crate::harness::workspace().join("rules")
}
