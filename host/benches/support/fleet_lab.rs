//! Shared by the fleet benchmarks (`fleet.rs`, `compliance.rs`): a fakenos fleet started by
//! `tests/peers/fleet.py` in one Python process (stopped when dropped, also on a panic: its
//! stdin is a pipe we hold), an `ORCH_HOME` prepared as `scripts/demo` prepares one (packs with
//! their grants, the fleet's inventory, vault credentials, host keys trusted up front so runs
//! use the strict policy), and durable workflow runs through the library as `orch run` builds
//! them.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use orch::capabilities::ssh::hostkeys::PresentedKey;
use orch::capabilities::{Broker, BrokerSettings, HostKeyPolicy};
use orch::engine::{Engine, Quiet, RunState, Settings};
use orch::home::Home;
use orch::packs::Packs;
use orch::runtime::Runtime;
use orch::store::Store;
use orch::vault::{Kind, MasterKey, NewCredential, PublicField, Vault};
use serde_json::Value;
use zeroize::Zeroizing;

use super::guests::{guest, target_dir};

pub const LOGIN: &str = "lab";
pub const ENABLE: &str = "lab-enable";
/// A fixed key: the bench's vault lives in a temporary directory.
const MASTER_KEY: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn venv_python() -> PathBuf {
    let python = target_dir().join("peers-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup first",
        python.display()
    );
    python
}

/// The fleet process; dropping it closes its stdin, which stops it.
pub struct Fleet {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Fleet {
    /// Starts `count` devices (`cisco_ios` with an enable password and `arista_eos` in turn)
    /// writing into `dir`; `fast`: no per-byte sleep in fakenos.
    pub fn start(dir: &Path, count: usize, fast: bool) -> Self {
        std::fs::create_dir_all(dir).expect("creating the fleet directory");
        let mut command = Command::new(venv_python());
        command
            .arg(workspace().join("tests/peers/fleet.py"))
            .arg("--dir")
            .arg(dir)
            .args(["--count", &count.to_string()])
            .args(["--platforms", "cisco_ios,arista_eos"])
            .arg("--password-file")
            .arg(dir.join("password"))
            .arg("--enable-password-file")
            .arg(dir.join("enable-password"))
            .args(["--credential", LOGIN, "--enable-credential", ENABLE]);
        if fast {
            command.arg("--fast");
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("fleet.log")).expect("fleet log"),
            ))
            .spawn()
            .expect("starting tests/peers/fleet.py");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("fleet stdout");
        let fleet = Self { child, stdin };
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reading the fleet's first line");
        assert_eq!(
            line.trim(),
            format!("ready {count} devices"),
            "the fleet did not start; its log:\n{}",
            std::fs::read_to_string(dir.join("fleet.log")).unwrap_or_default()
        );
        fleet
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn first_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .expect("reading a fleet password file")
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn password_credential(name: &str, password: String) -> NewCredential {
    NewCredential {
        name: name.into(),
        kind: Kind::SshPassword,
        bindings: vec!["127.0.0.1".into()],
        packs: vec![],
        public: vec![(PublicField::Username, "admin".into())],
        secrets: vec![("password", Zeroizing::new(password.into_bytes()))],
    }
}

/// An ORCH_HOME with `packs` installed and granted (name, grants), the fleet's inventory,
/// credentials and host keys: what `scripts/demo` does with the CLI, through the library.
pub fn prepare_home(
    tokio: &tokio::runtime::Runtime,
    runtime: &Runtime,
    home: &Home,
    fleet: &Path,
    packs_and_grants: &[(&str, &[&str])],
) -> Store {
    let store = Store::open(&home.database()).expect("store");
    let packs = Packs::new(home, &store, runtime);
    for (pack, grants) in packs_and_grants {
        tokio
            .block_on(packs.add(&guest(pack), &|_| {}))
            .unwrap_or_else(|err| panic!("adding {pack}: {err:#}"));
        let grants: Vec<String> = grants.iter().map(|g| (*g).to_owned()).collect();
        store.add_grants(pack, &grants).expect("granting");
    }
    let devices = orch::catalog::parse_inventory(&fleet.join("inventory.yaml")).expect("inventory");
    orch::catalog::import(&store, &devices).expect("importing the inventory");
    let key = MasterKey::parse(MASTER_KEY, "the bench").expect("master key");
    let vault = Vault::new(&store);
    vault
        .set(
            &key,
            password_credential(LOGIN, first_line(&fleet.join("password"))),
        )
        .expect("login credential");
    vault
        .set(
            &key,
            password_credential(ENABLE, first_line(&fleet.join("enable-password"))),
        )
        .expect("enable credential");
    // Host keys trusted up front from the fleet's known_hosts, so the runs use the strict
    // policy and write nothing but their results.
    let known = std::fs::read_to_string(fleet.join("known_hosts")).expect("known_hosts");
    for line in known.lines().filter(|l| !l.trim().is_empty()) {
        let (destination, key_line) = line.split_once(' ').expect("known_hosts line");
        let port: u16 = destination
            .trim_start_matches("[127.0.0.1]:")
            .parse()
            .expect("known_hosts port");
        let presented = PresentedKey::parse(key_line).expect("host key");
        store
            .add_host_key(&presented.row("127.0.0.1", port, "bench"))
            .expect("recording a host key");
    }
    store
}

/// Runs `workflow` with `input` in `home`; returns the wall time and the output.
pub fn run_workflow(
    tokio: &tokio::runtime::Runtime,
    runtime: &Arc<Runtime>,
    home: &Home,
    workflow: &str,
    input: Value,
) -> (Duration, Value) {
    let store = Store::open(&home.database()).expect("store");
    let packs = Packs::new(home, &store, runtime);
    let key = MasterKey::parse(MASTER_KEY, "the bench").expect("master key");
    let broker = Broker::with_store(
        Store::open(&home.database()).expect("broker store"),
        key,
        BrokerSettings {
            host_key_policy: HostKeyPolicy::Strict,
        },
    )
    .expect("broker");
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    let engine = Engine::new(
        &store,
        packs,
        Arc::clone(runtime),
        broker,
        &Quiet,
        Settings {
            workflows_dir: Some(workspace().join("workflows")),
            ..Settings::default()
        },
        stop_rx,
    );
    let Value::Object(input) = input else {
        panic!("workflow input must be an object")
    };
    let started = Instant::now();
    let outcome = tokio
        .block_on(engine.start(workflow, input, &[]))
        .expect("run");
    let wall = started.elapsed();
    assert_eq!(outcome.status, RunState::Succeeded, "{outcome:#?}");
    (wall, outcome.output.unwrap_or(Value::Null))
}

pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
