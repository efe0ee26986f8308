//! The configuration-drift and backup workflows (`workflows/config-drift.yaml`,
//! `workflows/config-backup.yaml`, `workflows/backup-device.yaml`) end to end: the real `orch`
//! binary with the netdev, servicenow, text and golden packs installed, a fakenos fleet whose
//! running configs really change ([`crate::fleet`]) and the ServiceNow stand-in
//! ([`crate::servicenow_peer`]). Covered: no drift, drift kept (ticket, new golden), drift
//! reverted (device restored), an unreachable device during a backup, a 5xx during the ticket
//! creation, and a crash during the ticket creation followed by `orch runs resume`. Every `orch`
//! command's output is checked for the SSH and the ServiceNow passwords.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fleet::{DeviceSpec, Fleet};
use crate::harness::{Run, TestHost, guest};
use crate::peers;
use crate::servicenow_peer::{ServiceNow, USER};

pub(crate) const R1_CONFIG: &str = "hostname R1
!
interface Loopback0
 ip address 10.0.0.1 255.255.255.255
!
ntp server 192.0.2.1
logging host 192.0.2.50
end
";

/// The out-of-band change the drift tests make.
pub(crate) const DRIFT_LINE: &str = "snmp-server community public RO";

/// The `config_user` input: the ticket's caller.
const CONFIG_USER: &str = "jdoe";

/// A fleet, the ServiceNow stand-in, and a host with the four packs installed and granted,
/// the fleet's inventory imported (credential `lab`) and the ServiceNow credential
/// `servicenow` (the workflow's default) stored.
pub(crate) struct Lab {
    pub(crate) fleet: Fleet,
    pub(crate) snow: ServiceNow,
    pub(crate) host: TestHost,
}

impl Lab {
    pub(crate) fn start(specs: &[DeviceSpec]) -> Self {
        let fleet = Fleet::start(specs);
        let snow = ServiceNow::start();
        let host = TestHost::new();
        for pack in ["netdev", "servicenow", "text", "golden"] {
            let wasm = guest(pack);
            host.orch(&["pack", "add", wasm.to_str().expect("utf-8 path"), "--yes"])
                .ok();
        }
        host.orch(&[
            "pack",
            "grant",
            "servicenow",
            &format!("http:http://{}", snow.address()),
        ])
        .ok();
        let lab = Self { fleet, snow, host };
        lab.checked(lab.host.orch_with_stdin(
            &[
                "secret",
                "set",
                "lab",
                "--kind",
                "ssh-password",
                "--username",
                &lab.fleet.username,
                "--bind",
                peers::HOST,
                "--from-stdin",
            ],
            &lab.fleet.password,
        ))
        .ok();
        lab.checked(lab.host.orch_with_stdin(
            &[
                "secret",
                "set",
                "servicenow",
                "--kind",
                "basic",
                "--username",
                USER,
                "--bind",
                &lab.snow.address(),
                "--from-stdin",
            ],
            lab.snow.password(),
        ))
        .ok();
        lab
    }

    /// One IOS router `R1`, the inventory imported.
    pub(crate) fn r1() -> Self {
        let lab = Self::start(&[DeviceSpec::new("R1", "cisco_ios", R1_CONFIG)]);
        lab.import(&lab.fleet.inventory_yaml("lab", "lab-enable"));
        lab
    }

    pub(crate) fn import(&self, inventory: &str) {
        let path = self.host.home().join("inventory.yaml");
        std::fs::write(&path, inventory).expect("writing the inventory");
        self.orch(&["inventory", "import", path.to_str().expect("utf-8 path")])
            .ok();
    }

    /// Asserts neither password is in what `run` printed, and returns it.
    #[track_caller]
    pub(crate) fn checked(&self, run: Run) -> Run {
        for (what, secret) in [
            ("the ssh password", self.fleet.password.as_str()),
            ("the servicenow password", self.snow.password()),
        ] {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "{what} leaked into the output: {run:#?}"
            );
        }
        run
    }

    /// `orch ARGS`, checked for secrets.
    pub(crate) fn orch(&self, args: &[&str]) -> Run {
        self.checked(self.host.orch(args))
    }

    /// The arguments of `orch run config-drift` for R1 against the stand-in, plus `extra`.
    fn drift_args(&self, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "run",
            "config-drift",
            "--workflows",
            &examples(),
            "-i",
            "device=R1",
            "-i",
            &format!("config_user={CONFIG_USER}"),
            "-i",
            &format!("servicenow_instance={}", self.snow.url()),
            "--host-key-policy",
            "accept-new",
            "--json",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    }

    /// `orch run config-drift` for R1 with `extra` arguments.
    fn drift(&self, extra: &[&str]) -> Run {
        let args = self.drift_args(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.orch(&args)
    }

    /// A run that must have succeeded: its output.
    #[track_caller]
    pub(crate) fn succeeded(&self, run: &Run) -> Value {
        let body = run.json();
        assert!(
            run.code == 0 && body["status"] == "succeeded",
            "expected a succeeded run: {run:#?}\nfakenos log:\n{}\nstand-in stderr:\n{}",
            self.fleet.log(),
            self.snow.stderr()
        );
        body["output"].clone()
    }

    /// `orch action run netdev.ACTION` with `input`; its output (asserting success).
    #[track_caller]
    pub(crate) fn netdev(&self, action: &str, input: &Value) -> Value {
        let input = input.to_string();
        let run = self.orch(&[
            "action",
            "run",
            &format!("netdev.{action}"),
            "--input",
            &input,
            "--json",
            "--host-key-policy",
            "accept-new",
        ]);
        assert_eq!(
            run.code,
            0,
            "netdev.{action} failed: {run:#?}\nfakenos log:\n{}",
            self.fleet.log()
        );
        run.json()["output"].clone()
    }

    pub(crate) fn running_config(&self, device: &str) -> String {
        self.netdev("get_running_config", &json!({ "device": device }))["config"]
            .as_str()
            .expect("config is a string")
            .to_owned()
    }

    /// Changes R1 out of band: merges [`DRIFT_LINE`].
    pub(crate) fn drift_r1(&self) {
        let pushed = self.netdev(
            "push_config",
            &json!({ "device": "R1", "config": [DRIFT_LINE] }),
        );
        assert_eq!(pushed["errors"], json!([]), "{pushed:#}");
        assert!(self.running_config("R1").contains(DRIFT_LINE));
    }

    /// `orch catalog history configs KEY --json`: the versions, newest first.
    pub(crate) fn history(&self, key: &str) -> Vec<Value> {
        let run = self.orch(&["catalog", "history", "configs", key, "--json"]);
        run.json().as_array().cloned().unwrap_or_default()
    }

    /// The latest value of `configs/KEY` as text.
    pub(crate) fn record(&self, key: &str) -> String {
        let entry = self
            .orch(&["catalog", "get", "configs", key, "--json"])
            .json();
        entry["value"]
            .as_str()
            .unwrap_or_else(|| panic!("configs/{key} is not a string: {entry:#}"))
            .to_owned()
    }

    /// The first run stores the golden config (version 1).
    pub(crate) fn baseline(&self) {
        let out = self.succeeded(&self.drift(&[]));
        assert_eq!(out["action"], "baseline", "{out:#}");
        assert_eq!(out["golden_version"], 1, "{out:#}");
        assert_eq!(out["ticket"], Value::Null, "{out:#}");
        assert_eq!(self.record("R1/golden"), R1_CONFIG);
    }

    pub(crate) fn incidents(&self) -> Vec<Value> {
        self.snow.records("incident")
    }
}

fn examples() -> String {
    TestHost::examples()
        .to_str()
        .expect("utf-8 path")
        .to_owned()
}

#[test]
fn drift_first_run_stores_the_golden_config_and_second_finds_no_drift() {
    let lab = Lab::r1();
    lab.baseline();

    let run = lab.drift(&[]);
    let out = lab.succeeded(&run);
    assert_eq!(out["action"], "none", "{out:#}");
    assert_eq!(out["diff"], "", "{out:#}");
    assert_eq!(out["ticket"], Value::Null, "{out:#}");
    assert_eq!(out["golden_version"], 1, "{out:#}");
    assert!(run.json()["questions"].as_array().is_none_or(Vec::is_empty));
    assert_eq!(lab.history("R1/golden").len(), 1);
    assert!(lab.incidents().is_empty());
    let stats = lab.snow.stats();
    assert_eq!(
        stats["table"],
        json!({}),
        "nothing was asked of ServiceNow: {stats:#}"
    );
}

#[test]
fn drift_kept_becomes_the_golden_config_and_opens_a_ticket_with_the_diff() {
    let lab = Lab::r1();
    lab.baseline();
    lab.drift_r1();

    let out = lab.succeeded(&lab.drift(&["--answer", r#"decide={"keep": true}"#]));
    assert_eq!(out["action"], "keep", "{out:#}");
    let diff = out["diff"].as_str().expect("diff is text");
    assert!(diff.contains(&format!("+{DRIFT_LINE}")), "{diff}");
    let ticket = out["ticket"].as_str().expect("a ticket number");
    assert!(ticket.starts_with("INC"), "{ticket}");
    assert_eq!(out["golden_version"], 2, "{out:#}");

    let incidents = lab.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let incident = &incidents[0];
    assert_eq!(incident["number"], ticket);
    assert_eq!(incident["caller_id"], CONFIG_USER);
    assert_eq!(incident["description"], diff);
    assert!(
        incident["short_description"]
            .as_str()
            .is_some_and(|s| s.contains("R1")),
        "{incident:#}"
    );

    let history = lab.history("R1/golden");
    assert_eq!(history.len(), 2, "{history:#?}");
    let golden = lab.record("R1/golden");
    assert!(golden.contains(DRIFT_LINE), "{golden}");
    assert_eq!(golden, lab.running_config("R1"));

    // Kept: the next run sees no drift.
    let again = lab.succeeded(&lab.drift(&[]));
    assert_eq!(again["action"], "none", "{again:#}");
    assert_eq!(lab.incidents().len(), 1);
}

#[test]
fn drift_reverted_restores_the_device_and_keeps_the_golden_config() {
    let lab = Lab::r1();
    lab.baseline();
    lab.drift_r1();

    // Nobody answered up front: the run waits at `decide`.
    let waiting = lab.drift(&[]);
    assert_eq!(
        waiting.code, 4,
        "expected a run waiting for an answer: {waiting:#?}"
    );
    let body = waiting.json();
    let run_id = body["run"].as_str().expect("run id").to_owned();
    let questions = body["questions"].as_array().cloned().unwrap_or_default();
    assert!(questions.iter().any(|q| q["task"] == "decide"), "{body:#}");
    assert!(
        lab.running_config("R1").contains(DRIFT_LINE),
        "nothing is reverted before the answer"
    );

    let answered = lab.orch(&[
        "runs",
        "respond",
        &run_id,
        "decide",
        "--input",
        r#"{"keep": false}"#,
        "--host-key-policy",
        "accept-new",
        "--json",
    ]);
    let out = lab.succeeded(&answered);
    assert_eq!(out["action"], "revert", "{out:#}");
    assert!(
        out["diff"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("+{DRIFT_LINE}"))),
        "{out:#}"
    );
    assert_eq!(out["ticket"], Value::Null, "{out:#}");

    let golden = lab.record("R1/golden");
    assert_eq!(golden, R1_CONFIG);
    assert_eq!(
        lab.running_config("R1"),
        golden,
        "the device is back on the golden config"
    );
    assert_eq!(
        lab.history("R1/golden").len(),
        1,
        "the golden config has no new version"
    );
    assert!(lab.incidents().is_empty());
    assert_eq!(lab.snow.stats()["table"], json!({}));
}

#[test]
fn backup_goes_past_an_unreachable_device_and_versions_each_config() {
    let configs = [
        ("R1", "cisco_ios", R1_CONFIG.to_owned()),
        ("R2", "cisco_ios", R1_CONFIG.replace("R1", "R2")),
        (
            "SW1",
            "arista_eos",
            "hostname SW1\ninterface Ethernet1\n   description uplink\nend\n".to_owned(),
        ),
    ];
    let specs: Vec<DeviceSpec> = configs
        .iter()
        .map(|(name, platform, config)| DeviceSpec::new(name, platform, config))
        .collect();
    let lab = Lab::start(&specs);
    // One more device in the inventory, on a port nothing listens on.
    let mut inventory: Value =
        serde_json::from_str(&lab.fleet.inventory_yaml("lab", "lab-enable")).expect("json");
    inventory["devices"]
        .as_array_mut()
        .expect("devices")
        .push(json!({
            "name": "DEAD1", "address": peers::HOST, "port": peers::free_port(),
            "platform": "cisco_ios", "credential": "lab", "tags": { "site": "lab" },
        }));
    lab.import(&inventory.to_string());

    let backup = |run: u64| {
        let out = lab.succeeded(&lab.orch(&[
            "run",
            "config-backup",
            "--workflows",
            &examples(),
            "-i",
            r#"tags={"site": "lab"}"#,
            "-i",
            "concurrency=2",
            "--host-key-policy",
            "accept-new",
            "--json",
        ]));
        assert_eq!(out["devices"], 4, "{out:#}");
        assert_eq!(out["unreachable"], json!(["DEAD1"]), "{out:#}");
        let mut backed_up: Vec<&str> = out["backed_up"]
            .as_array()
            .expect("backed_up")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        backed_up.sort_unstable();
        assert_eq!(backed_up, ["R1", "R2", "SW1"], "{out:#}");
        let errors = out["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 1, "{out:#}");
        assert_eq!(errors[0]["device"], "DEAD1");
        assert!(
            errors[0]["error"].as_str().is_some_and(|e| !e.is_empty()),
            "the unreachable device's error is reported: {out:#}"
        );
        for (name, _, config) in &configs {
            let key = format!("{name}/running");
            assert_eq!(lab.history(&key).len() as u64, run, "{key}");
            assert_eq!(&lab.record(&key), config, "{key}");
        }
        let dead = lab.orch(&["catalog", "get", "configs", "DEAD1/running"]);
        assert_eq!(
            dead.code, 2,
            "nothing stored for the dead device: {dead:#?}"
        );
    };
    backup(1);
    backup(2);
}

#[test]
fn drift_ticket_survives_servicenow_503s_with_one_incident() {
    let lab = Lab::r1();
    lab.baseline();
    lab.drift_r1();
    lab.snow.faults(json!({ "fail_next": 2, "status": 503 }));

    let out = lab.succeeded(&lab.drift(&["--answer", r#"decide={"keep": true}"#]));
    assert_eq!(out["action"], "keep", "{out:#}");
    let incidents = lab.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(out["ticket"], incidents[0]["number"], "{out:#}");
    let stats = lab.snow.stats();
    assert_eq!(stats["faults_served"], 2, "{stats:#}");
    assert_eq!(stats["table"]["incident"]["POST"], 1, "{stats:#}");
    assert_eq!(lab.history("R1/golden").len(), 2);
}

#[test]
fn drift_kept_without_a_ticket_leaves_the_golden_config_unchanged() {
    let lab = Lab::r1();
    lab.baseline();
    lab.drift_r1();
    // More 503s than the task's retries: the ticket cannot be opened.
    lab.snow.faults(json!({ "fail_next": 20, "status": 503 }));
    let run = lab.drift(&["--answer", r#"decide={"keep": true}"#]);
    assert_eq!(run.code, 1, "the run fails without its ticket: {run:#?}");
    assert!(lab.incidents().is_empty());
    assert_eq!(
        lab.history("R1/golden").len(),
        1,
        "no ticket, no new golden: the drift is found again next time"
    );
    lab.snow.faults(json!({ "fail_next": 0 }));
    let again = lab.succeeded(&lab.drift(&["--answer", r#"decide={"keep": true}"#]));
    assert_eq!(again["action"], "keep", "{again:#}");
    assert_eq!(lab.incidents().len(), 1);
}

#[test]
fn drift_ticket_creation_killed_and_resumed_leaves_one_incident() {
    let lab = Lab::r1();
    lab.baseline();
    lab.drift_r1();
    // Every request to the stand-in takes 3 s: time to kill orch while its create is in flight.
    lab.snow.faults(json!({ "delay_ms": 3000 }));
    let args = lab.drift_args(&["--answer", r#"decide={"keep": true}"#]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let bg = lab.host.spawn(&args);

    let started = Instant::now();
    while lab.snow.stats()["table"]["incident"]["POST"]
        .as_u64()
        .unwrap_or(0)
        == 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run never sent its create: {:#}",
            lab.snow.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    bg.signal("-KILL");
    let killed = lab.checked(bg.wait());
    assert_ne!(killed.code, 0, "{killed:#?}");
    let run_id: String = lab
        .host
        .sql(
            "SELECT id FROM runs WHERE parent_run IS NULL AND status != 'succeeded'
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .expect("the killed run is in the store");

    // The stand-in finishes the request of the dead process and commits the record; only then
    // does the resumed run look for it (a lookup racing the commit would not see it).
    let started = Instant::now();
    while lab.incidents().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the stand-in never committed the create"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    lab.snow.faults(json!({ "reset": true }));

    let resumed = lab.orch(&[
        "runs",
        "resume",
        &run_id,
        "--host-key-policy",
        "accept-new",
        "--json",
    ]);
    let out = lab.succeeded(&resumed);
    assert_eq!(out["action"], "keep", "{out:#}");
    let incidents = lab.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(out["ticket"], incidents[0]["number"], "{out:#}");
    assert_eq!(incidents[0]["caller_id"], CONFIG_USER);
    assert_eq!(
        lab.history("R1/golden").len(),
        2,
        "the golden config is stored once"
    );
    // The resumed attempt found the record by its correlation id instead of posting again.
    let stats = lab.snow.stats();
    assert_eq!(stats["table"]["incident"]["POST"], 1, "{stats:#}");
    let report = lab.orch(&["runs", "show", &run_id, "--json"]).json();
    let ticket = report["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["exec"] == "create_ticket#1")
        .unwrap_or_else(|| panic!("no create_ticket#1 in {report:#}"));
    let attempts = ticket["attempts"].as_array().expect("attempts");
    let last = attempts.last().expect("an attempt");
    assert_eq!(last["result"]["created"], false, "{ticket:#}");
}
