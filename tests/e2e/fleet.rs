//! A simulated fleet for the netdev tests and the drift workflows: N fakenos devices (Cisco IOS
//! or Arista EOS) served by one fakenos process with our NOS plugin
//! (`tests/peers/fakenos_nos/configurable_nos.py`), whose running config really changes, and the
//! orch inventory YAML that names them.
//!
//! Lifetime: like the peers of [`crate::peers`], the fakenos process runs under a `sh` guard whose
//! stdin is a pipe this process holds; dropping the [`Fleet`], or the exit of the test binary for
//! any reason (the kernel closes the pipe), stops it and removes its temporary directory.

#![allow(
    dead_code,
    reason = "shared by the e2e test files; each uses part of the API"
)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::workspace;
use crate::peers::{self, HOST};

/// How long the fleet may take to accept SSH on every port.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The guard (the same contract as `peers.rs`'s): runs the command with its output in
/// `$PEER_LOG`, waits for its own stdin to close, then stops it and removes `$PEER_DIR`.
const GUARD: &str = r#""$@" </dev/null >>"$PEER_LOG" 2>&1 &
pid=$!
read _ignored
kill "$pid" 2>/dev/null
wait "$pid"
rm -rf "$PEER_DIR"
"#;

/// The NOS plugin file fakenos loads for every fleet device.
pub fn plugin_path() -> PathBuf {
    workspace().join("tests/peers/fakenos_nos/configurable_nos.py")
}

/// One device to start.
#[derive(Debug, Clone)]
pub struct DeviceSpec {
    /// Inventory and fakenos host name; also the prompt (`R1>`).
    pub name: String,
    /// `cisco_ios` or `arista_eos`.
    pub platform: String,
    /// The initial running config (indented lines belong to the line above).
    pub config: String,
    /// Whether `enable` asks for a password (a random one, see [`Device::enable_password`]).
    pub enable_password: bool,
}

impl DeviceSpec {
    /// A device `name` of `platform` booting with `config`, `enable` without a password.
    pub fn new(name: &str, platform: &str, config: &str) -> Self {
        Self {
            name: name.to_owned(),
            platform: platform.to_owned(),
            config: config.to_owned(),
            enable_password: false,
        }
    }

    /// Makes `enable` ask for a random password.
    pub fn with_enable_password(mut self) -> Self {
        self.enable_password = true;
        self
    }
}

/// A running device of the fleet.
#[derive(Debug, Clone)]
pub struct Device {
    /// Name, as in the inventory.
    pub name: String,
    /// Platform, as in the inventory.
    pub platform: String,
    /// Port on [`HOST`].
    pub port: u16,
    /// The config it booted with.
    pub initial_config: String,
    /// The secret `enable` asks for, if any.
    pub enable_password: Option<String>,
}

/// A fakenos process serving the devices, stopped on drop.
pub struct Fleet {
    /// The devices, in the order given.
    pub devices: Vec<Device>,
    /// Login user of every device.
    pub username: String,
    /// Login password of every device (random per fleet).
    pub password: String,
    dir: PathBuf,
    guard: Child,
    /// Closing it stops fakenos; `None` once stopped.
    stdin: Option<ChildStdin>,
}

impl Fleet {
    /// Starts one fakenos process serving `specs`, each on a free port, and waits until every
    /// device answers SSH; panics with fakenos's log otherwise.
    pub fn start(specs: &[DeviceSpec]) -> Self {
        let python = peers::venv_python();
        let dir = tempfile::Builder::new()
            .prefix("orch-fleet-")
            .tempdir()
            .expect("creating a temp dir")
            .keep();
        let username = "admin".to_owned();
        let password = format!("fleet-{}", peers::random_hex(8));
        let plugin = plugin_path();
        let mut hosts = serde_json::Map::new();
        let mut devices = Vec::new();
        for spec in specs {
            let port = peers::free_port();
            let enable_password = spec
                .enable_password
                .then(|| format!("en-{}", peers::random_hex(8)));
            // JSON is YAML: the plugin reads its settings with yaml.safe_load.
            let settings = serde_json::json!({
                "platform": spec.platform,
                "enable_password": enable_password,
                "config": spec.config,
            });
            let settings_path = dir.join(format!("{}.yaml", spec.name));
            std::fs::write(&settings_path, settings.to_string()).expect("writing device settings");
            hosts.insert(
                spec.name.clone(),
                serde_json::json!({
                    "port": port,
                    // fakenos checks the platform name; our plugin reads its own from settings.
                    "platform": spec.platform,
                    "nos": { "plugin": plugin },
                    "configuration_file": settings_path,
                }),
            );
            devices.push(Device {
                name: spec.name.clone(),
                platform: spec.platform.clone(),
                port,
                initial_config: spec.config.clone(),
                enable_password,
            });
        }
        let inventory = serde_json::json!({
            "default": {
                "username": username,
                "password": password,
                "server": {
                    "plugin": "ParamikoSshServer",
                    "configuration": { "address": HOST, "timeout": 1 },
                },
            },
            "hosts": hosts,
        });
        let inventory_path = dir.join("fakenos.yaml");
        std::fs::write(&inventory_path, inventory.to_string()).expect("writing the inventory");
        let log = dir.join("peer.log");
        let mut guard = Command::new("sh")
            .arg("-c")
            .arg(GUARD)
            .arg("sh")
            .arg(&python)
            .arg("-c")
            .arg("import sys; from fakenos.plugins.utils.cli import run_cli; run_cli(sys.argv[1:])")
            .arg("-i")
            .arg(&inventory_path)
            .args(["-l", "warning"])
            .env("PEER_LOG", &log)
            .env("PEER_DIR", &dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("starting fakenos: {err}"));
        let stdin = guard.stdin.take();
        let fleet = Self {
            devices,
            username,
            password,
            dir,
            guard,
            stdin,
        };
        for device in &fleet.devices {
            fleet.wait_for_ssh(device.port);
        }
        fleet
    }

    /// The device called `name`; panics if there is none.
    pub fn device(&self, name: &str) -> &Device {
        self.devices
            .iter()
            .find(|d| d.name == name)
            .unwrap_or_else(|| panic!("no fleet device named {name}"))
    }

    /// What fakenos logged so far (warnings and errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("peer.log")).unwrap_or_default()
    }

    /// The orch inventory (`orch inventory import`) of the fleet: every device at [`HOST`] with
    /// its port and platform, logging in with vault credential `credential`, tags `site: lab`
    /// and `role: <platform>`, and, for devices with an enable password, the var
    /// `enable_credential: <enable_credential>`.
    pub fn inventory_yaml(&self, credential: &str, enable_credential: &str) -> String {
        let devices: Vec<serde_json::Value> = self
            .devices
            .iter()
            .map(|d| {
                let mut vars = serde_json::Map::new();
                if d.enable_password.is_some() {
                    vars.insert("enable_credential".into(), enable_credential.into());
                }
                serde_json::json!({
                    "name": d.name,
                    "address": HOST,
                    "port": d.port,
                    "platform": d.platform,
                    "credential": credential,
                    "tags": { "site": "lab", "role": d.platform },
                    "vars": vars,
                })
            })
            .collect();
        serde_json::json!({ "devices": devices }).to_string()
    }

    /// Writes [`inventory_yaml`](Self::inventory_yaml) to `dir/inventory.yaml`, returning its path.
    pub fn write_inventory(
        &self,
        dir: &Path,
        credential: &str,
        enable_credential: &str,
    ) -> PathBuf {
        let path = dir.join("inventory.yaml");
        std::fs::write(&path, self.inventory_yaml(credential, enable_credential))
            .expect("writing the inventory");
        path
    }

    /// Waits until `port` sends an SSH banner.
    fn wait_for_ssh(&self, port: u16) {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut last_error = String::new();
        while Instant::now() < deadline {
            match banner(port) {
                Ok(line) if line.starts_with("SSH-") => return,
                Ok(other) => last_error = format!("unexpected banner {other:?}"),
                Err(err) => last_error = err.to_string(),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "fleet device on {HOST}:{port} did not accept SSH within {START_TIMEOUT:?} ({last_error}); fakenos log:\n{}",
            self.log()
        );
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if self.stdin.take().is_none() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.guard.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.guard.kill();
        let _ = self.guard.wait();
    }
}

/// The first line the server on `port` sends.
fn banner(port: u16) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    )?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 255 {
        if stream.read(&mut byte)? == 0 || byte[0] == b'\n' {
            break;
        }
        line.push(byte[0]);
    }
    // End the handshake in the protocol's terms so the server logs no broken connection.
    let _ = stream.write_all(b"SSH-2.0-orch-fleet-probe\r\n");
    Ok(String::from_utf8_lossy(&line).trim_end().to_owned())
}
