//! The ServiceNow stand-in (`tests/peers/servicenow.py`) seen from the tests: started on a free
//! loopback port with a random password and OAuth client secret, read through its test
//! endpoints (`/__records/{table}`, `/__stats`) and steered with its fault switches
//! (`/__faults`).
//!
//! The stand-in exits when its stdin closes. This process holds the pipe, so dropping the
//! [`ServiceNow`] value, a panicking test and a killed test binary all stop it.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::harness::workspace;

/// The basic-auth user the stand-in accepts.
pub const USER: &str = "admin";
/// The OAuth client id the stand-in accepts.
pub const CLIENT_ID: &str = "orch-tests";

/// A running stand-in; stopped on drop.
pub struct ServiceNow {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    password: String,
    client_secret: String,
    dir: tempfile::TempDir,
}

impl ServiceNow {
    /// Starts the stand-in and waits for its `listening on 127.0.0.1:PORT` line.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir for the stand-in");
        let password = random_secret();
        let client_secret = random_secret();
        let password_file = dir.path().join("password");
        let secret_file = dir.path().join("client-secret");
        std::fs::write(&password_file, &password).expect("writing the password file");
        std::fs::write(&secret_file, &client_secret).expect("writing the client secret file");
        let log = std::fs::File::create(dir.path().join("stderr.log")).expect("stand-in log");
        let mut child = Command::new("python3")
            .arg(script())
            .args(["--port", "0", "--user", USER, "--password-file"])
            .arg(&password_file)
            .args(["--client-id", CLIENT_ID, "--client-secret-file"])
            .arg(&secret_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("starting python3 tests/peers/servicenow.py");
        let stdin = child.stdin.take();
        let mut first = String::new();
        let stdout = child.stdout.take().expect("stand-in stdout");
        let read = BufReader::new(stdout).read_line(&mut first);
        let port = read.ok().and_then(|_| {
            first
                .trim()
                .strip_prefix("listening on 127.0.0.1:")?
                .parse()
                .ok()
        });
        let mut peer = Self {
            child,
            stdin,
            port: 0,
            password,
            client_secret,
            dir,
        };
        match port {
            Some(port) => peer.port = port,
            None => panic!(
                "the servicenow stand-in did not start (first line {first:?}); its stderr: {}",
                peer.stderr()
            ),
        }
        peer
    }

    /// `http://127.0.0.1:PORT`: the `instance` input of the pack's actions.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT`: what a credential is bound to.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The password of [`USER`].
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The OAuth client secret of [`CLIENT_ID`].
    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// What the stand-in wrote to stderr (tracebacks), for failure messages.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Every stored record of `table`, in creation order.
    pub fn records(&self, table: &str) -> Vec<Value> {
        let (status, body) = self.admin("GET", &format!("/__records/{table}"), None);
        assert_eq!(status, 200, "reading records of {table}: {body}");
        body.as_array().cloned().expect("records are a json array")
    }

    /// Request counts: `{"table": {TABLE: {METHOD: n}}, "token_requests": n, "auth_failures": n,
    /// "faults_served": n}`.
    pub fn stats(&self) -> Value {
        let (status, body) = self.admin("GET", "/__stats", None);
        assert_eq!(status, 200, "reading stats: {body}");
        body
    }

    /// Sets fault switches (`{"fail_next": 1, "status": 503}`, `{"drop_after_commit_next": 1}`,
    /// `{"delay_ms": 100}`, `{"reset": true}`) and returns them all.
    pub fn faults(&self, switches: Value) -> Value {
        let (status, body) = self.admin("POST", "/__faults", Some(&switches));
        assert_eq!(status, 200, "setting faults {switches}: {body}");
        body
    }

    /// One request to a test endpoint, HTTP/1.0 over a fresh connection so the answer ends with
    /// the connection.
    fn admin(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut stream =
            TcpStream::connect(("127.0.0.1", self.port)).expect("connecting to the stand-in");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("writing to the stand-in");
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .expect("reading the stand-in's answer");
        let (head, body) = answer
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no http answer from the stand-in: {answer:?}"));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head:?}"));
        let body = serde_json::from_str(body)
            .unwrap_or_else(|err| panic!("stand-in answer {body:?} is not json: {err}"));
        (status, body)
    }
}

impl Drop for ServiceNow {
    fn drop(&mut self) {
        // Closing stdin asks it to stop; kill covers a stand-in that hangs.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn script() -> PathBuf {
    workspace()
        .join("tests")
        .join("peers")
        .join("servicenow.py")
}

/// 16 random bytes from the kernel as hex: a secret a test can search for in outputs.
fn random_secret() -> String {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("reading /dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
