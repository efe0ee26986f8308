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

use std::path::{Path, PathBuf};

use crate::harness::workspace;
use crate::peers::{self, HOST, PeerProcess};

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
    /// Served by fakenos's own platform `platform` (canned answers, a bare `Unknown command`
    /// for anything else) instead of our NOS plugin; `config` is unused.
    pub stock: bool,
    /// No 10 ms sleep per typed byte (fakenos's default, like a slow device): for tests that
    /// type a lot and do not measure time. It applies to the whole fakenos process.
    pub fast: bool,
}

impl DeviceSpec {
    /// A device `name` of `platform` booting with `config`, `enable` without a password.
    pub fn new(name: &str, platform: &str, config: &str) -> Self {
        Self {
            name: name.to_owned(),
            platform: platform.to_owned(),
            config: config.to_owned(),
            enable_password: false,
            stock: false,
            fast: false,
        }
    }

    /// A device `name` served by fakenos's stock platform `fakenos_platform`, which answers
    /// commands it does not know with a bare `Unknown command`.
    pub fn stock(name: &str, fakenos_platform: &str) -> Self {
        Self {
            stock: true,
            ..Self::new(name, fakenos_platform, "")
        }
    }

    /// Turns fakenos's per-byte sleep off (see [`DeviceSpec::fast`]).
    pub fn fast(mut self) -> Self {
        self.fast = true;
        self
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
    /// fakenos under the peers' guard: stopped (and its directory removed) on drop or when
    /// the test process ends.
    process: PeerProcess,
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
                "fast": spec.fast,
            });
            let settings_path = dir.join(format!("{}.yaml", spec.name));
            std::fs::write(&settings_path, settings.to_string()).expect("writing device settings");
            let host = if spec.stock {
                serde_json::json!({
                    "port": port,
                    "platform": spec.platform,
                    "nos": { "plugin": spec.platform },
                })
            } else {
                serde_json::json!({
                    "port": port,
                    // fakenos checks the platform name; our plugin reads its own from settings.
                    "platform": spec.platform,
                    "nos": { "plugin": plugin },
                    "configuration_file": settings_path,
                })
            };
            hosts.insert(spec.name.clone(), host);
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
        let process = PeerProcess::spawn(
            "fakenos fleet",
            &dir,
            &python,
            [
                "-c".as_ref(),
                "import sys; from fakenos.plugins.utils.cli import run_cli; run_cli(sys.argv[1:])"
                    .as_ref(),
                "-i".as_ref(),
                inventory_path.as_os_str(),
                "-l".as_ref(),
                "warning".as_ref(),
            ],
        );
        let fleet = Self {
            devices,
            username,
            password,
            process,
        };
        for device in &fleet.devices {
            fleet.process.wait_for_ssh(device.port);
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
        self.process.log()
    }

    /// What netmiko (the oracle, `tests/peers/netmiko_oracle.py`) reads on device `name` for
    /// each of `commands`: its `send_command` output, in privileged mode where the platform has
    /// one. Panics with netmiko's error.
    pub fn netmiko(&self, name: &str, commands: &[&str]) -> Vec<String> {
        self.netmiko_request(name, commands, false)
            .iter()
            .map(|o| o.as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// What netmiko's own TextFSM parsing (ntc-templates, as `send_command(use_textfsm=True)`)
    /// makes of each command's output on device `name`: a list of records, or the raw text
    /// when no template matched.
    pub fn netmiko_parsed(&self, name: &str, commands: &[&str]) -> Vec<serde_json::Value> {
        self.netmiko_request(name, commands, true)
    }

    fn netmiko_request(
        &self,
        name: &str,
        commands: &[&str],
        textfsm: bool,
    ) -> Vec<serde_json::Value> {
        let device = self.device(name);
        let request = serde_json::json!({
            "device_type": device.platform,
            "host": HOST,
            "port": device.port,
            "username": self.username,
            "password": self.password,
            "secret": device.enable_password.clone().unwrap_or_default(),
            "commands": commands,
            "textfsm": textfsm,
        });
        let mut child = std::process::Command::new(peers::venv_python())
            .arg(workspace().join("tests/peers/netmiko_oracle.py"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starting the netmiko oracle");
        {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().expect("oracle stdin");
            stdin
                .write_all(request.to_string().as_bytes())
                .expect("writing the oracle's request");
        }
        let out = child.wait_with_output().expect("waiting for the oracle");
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
            panic!(
                "netmiko oracle on {name}: {err}; stdout {:?}, stderr {:?}\nfakenos log:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.log()
            )
        });
        answer["outputs"]
            .as_array()
            .unwrap_or_else(|| {
                panic!(
                    "netmiko could not read {name}: {answer}\nfakenos log:\n{}",
                    self.log()
                )
            })
            .clone()
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
}
