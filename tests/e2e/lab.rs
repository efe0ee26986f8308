//! The network-automation lab of the workflow tests (`discover.rs`, `compliance.rs`): a
//! fakenos fleet ([`crate::fleet`]), and a host with the `netdev` and `golden` packs installed
//! with the grants they ask for, the TextFSM templates loaded (`scripts/load-templates`), the
//! login credential `lab` and one enable credential per device that has an enable secret, and
//! the fleet's inventory imported (tags `site: lab`, `role: <platform>`), plus any extra
//! inventory devices a test adds (an unreachable one, a mislabelled one).

#![allow(
    dead_code,
    reason = "shared by the e2e test files; each uses part of the API"
)]

use serde_json::{Value, json};

use crate::fleet::{DeviceSpec, Fleet};
use crate::harness::{Run, TestHost, guest};
use crate::peers;

/// The fleet and the host.
pub struct NetLab {
    pub fleet: Fleet,
    pub host: TestHost,
}

impl NetLab {
    /// Starts `specs`, installs the packs and imports the inventory with `extra` devices
    /// (inventory entries as JSON) appended; a device whose name is in `relabel` gets that
    /// platform in the inventory instead of its own.
    pub fn start(specs: &[DeviceSpec], extra: &[Value], relabel: &[(&str, &str)]) -> Self {
        let fleet = Fleet::start(specs);
        let host = TestHost::new();
        for pack in ["netdev", "golden"] {
            let wasm = guest(pack);
            host.orch(&["pack", "add", wasm.to_str().expect("utf-8 path"), "--yes"])
                .ok();
        }
        host.load_templates();
        let lab = Self { fleet, host };
        lab.secret("lab", &lab.fleet.password);
        let mut inventory: Value =
            serde_json::from_str(&lab.fleet.inventory_yaml("lab", "lab-enable")).expect("json");
        let devices = inventory["devices"].as_array_mut().expect("devices");
        for device in devices.iter_mut() {
            let name = device["name"].as_str().unwrap_or_default().to_owned();
            if let Some((_, platform)) = relabel.iter().find(|(n, _)| *n == name) {
                device["platform"] = json!(platform);
            }
            if let Some(enable) = lab.fleet.device(&name).enable_password.clone() {
                let credential = format!("{name}-enable");
                lab.secret(&credential, &enable);
                device["vars"]["enable_credential"] = json!(credential);
            }
        }
        devices.extend(extra.iter().cloned());
        let path = lab.host.home().join("inventory.yaml");
        std::fs::write(&path, inventory.to_string()).expect("writing the inventory");
        lab.orch(&["inventory", "import", path.to_str().expect("utf-8 path")])
            .ok();
        lab
    }

    fn secret(&self, name: &str, password: &str) {
        self.orch_stdin(
            &[
                "secret",
                "set",
                name,
                "--kind",
                "ssh-password",
                "--username",
                &self.fleet.username,
                "--bind",
                peers::HOST,
                "--from-stdin",
            ],
            password,
        )
        .ok();
    }

    /// An inventory device on a port nothing listens on.
    pub fn dead_device(name: &str) -> Value {
        json!({
            "name": name, "address": peers::HOST, "port": peers::free_port(),
            "platform": "cisco_ios", "credential": "lab", "tags": { "site": "lab" },
        })
    }

    /// Asserts the login password (and every enable secret) is nowhere in what `run` printed.
    #[track_caller]
    pub fn checked(&self, run: Run) -> Run {
        let mut secrets = vec![self.fleet.password.clone()];
        secrets.extend(
            self.fleet
                .devices
                .iter()
                .filter_map(|d| d.enable_password.clone()),
        );
        for secret in secrets {
            assert!(
                !run.stdout.contains(&secret) && !run.stderr.contains(&secret),
                "a device secret leaked into the output: {run:#?}"
            );
        }
        run
    }

    /// `orch ARGS`, checked for secrets.
    pub fn orch(&self, args: &[&str]) -> Run {
        self.checked(self.host.orch(args))
    }

    fn orch_stdin(&self, args: &[&str], stdin: &str) -> Run {
        self.checked(self.host.orch_with_stdin(args, stdin))
    }

    /// `orch run WORKFLOW` from `workflows/` with `inputs` (`name=value`), as JSON.
    pub fn run(&self, workflow: &str, inputs: &[&str]) -> Run {
        let examples = TestHost::examples();
        let mut args = vec![
            "run",
            workflow,
            "--workflows",
            examples.to_str().expect("utf-8 path"),
            "--host-key-policy",
            "accept-new",
            "--json",
        ];
        for input in inputs {
            args.push("-i");
            args.push(input);
        }
        self.orch(&args)
    }

    /// A run that must have succeeded: its output.
    #[track_caller]
    pub fn succeeded(&self, run: &Run) -> Value {
        let body = run.json();
        assert!(
            run.code == 0 && body["status"] == "succeeded",
            "expected a succeeded run: {run:#?}\nfakenos log:\n{}",
            self.fleet.log()
        );
        body["output"].clone()
    }

    /// `orch action run PACK.ACTION` with `input`: its output (asserting success).
    #[track_caller]
    pub fn action(&self, action: &str, input: &Value) -> Value {
        let input = input.to_string();
        let run = self.orch(&[
            "action",
            "run",
            action,
            "--input",
            &input,
            "--json",
            "--host-key-policy",
            "accept-new",
        ]);
        assert_eq!(
            run.code,
            0,
            "{action} failed: {run:#?}\nfakenos log:\n{}",
            self.fleet.log()
        );
        run.json()["output"].clone()
    }

    /// The latest value of `COLLECTION/KEY` and its version.
    #[track_caller]
    pub fn record(&self, collection: &str, key: &str) -> (Value, u64) {
        let entry = self
            .orch(&["catalog", "get", collection, key, "--json"])
            .json();
        (
            entry["value"].clone(),
            entry["version"].as_u64().unwrap_or_default(),
        )
    }

    /// Stores `text` at `COLLECTION/KEY`.
    pub fn put_text(&self, collection: &str, key: &str, text: &str) {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), text).expect("writing");
        self.orch(&[
            "catalog",
            "put",
            collection,
            key,
            "--text-file",
            file.path().to_str().expect("utf-8 path"),
        ])
        .ok();
    }

    /// Stores the JSON `value` at `COLLECTION/KEY`.
    pub fn put_json(&self, collection: &str, key: &str, value: &Value) {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), value.to_string()).expect("writing");
        self.orch(&[
            "catalog",
            "put",
            collection,
            key,
            "--file",
            file.path().to_str().expect("utf-8 path"),
        ])
        .ok();
    }
}
