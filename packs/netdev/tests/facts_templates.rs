//! The facts templates on real-looking output: every command `netdev.facts` reads, as our
//! fakenos NOS plugin prints it for configs with the awkward cases (shut ports, several
//! interfaces, Junos units, ASA zones, loopbacks) and as fakenos's captures of real devices
//! print it, parsed by the ntc-templates files (and our corrections) with the Rust TextFSM the
//! pack runs. Python's textfsm is the oracle (`tests/peers/textfsm_oracle.py`): both must give
//! the same records, or both fail. Then the normalised facts are checked against the configs.
//!
//! Needs the peers venv (`scripts/setup`: textfsm, ntc-templates and fakenos).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use netdev::facts::{self, Facts, Interface};
use serde_json::{Value, json};
use textfsm_rs::DataRecord;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn venv_python() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        workspace().join(target)
    };
    let python = target.join("peers-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing; run scripts/setup to create the test peers' venv",
        python.display()
    );
    python
}

/// Runs the oracle on `request`; one entry per output.
fn oracle(request: &Value) -> Vec<Value> {
    let mut child = Command::new(venv_python())
        .arg(workspace().join("tests/peers/textfsm_oracle.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the textfsm oracle");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("writing the request");
    let out = child.wait_with_output().expect("running the oracle");
    assert!(
        out.status.success(),
        "oracle failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let entries: Value = serde_json::from_slice(&out.stdout).expect("oracle JSON");
    entries.as_array().expect("a list").clone()
}

/// A device of each platform, its config with the awkward cases, and the facts expected.
struct Case {
    platform: &'static str,
    name: &'static str,
    config: &'static str,
    serial: &'static str,
    expected: Expected,
}

struct Expected {
    model: &'static str,
    os_version: &'static str,
    uptime: &'static str,
    interfaces: &'static [(
        &'static str,
        &'static str,
        &'static str,
        &'static [&'static str],
    )],
}

const CASES: &[Case] = &[
    Case {
        platform: "cisco_ios",
        name: "R1",
        config: "hostname R1
interface Loopback0
 ip address 10.0.0.1 255.255.255.255
interface GigabitEthernet0/1
 description to R2 (core link)
 ip address 10.1.2.1 255.255.255.252
interface GigabitEthernet0/2
 shutdown
",
        serial: "9TEST0IOS01",
        expected: Expected {
            model: "IOSv",
            os_version: "15.9(3)M4",
            uptime: "3 days, 4 hours, 5 minutes",
            interfaces: &[
                ("Loopback0", "up", "", &["10.0.0.1/32"]),
                (
                    "GigabitEthernet0/1",
                    "up",
                    "to R2 (core link)",
                    &["10.1.2.1/30"],
                ),
                ("GigabitEthernet0/2", "admin_down", "", &[]),
            ],
        },
    },
    Case {
        platform: "arista_eos",
        name: "SW1",
        config: "hostname SW1
interface Ethernet1
   description uplink to spine
   no switchport
   ip address 10.0.1.1/31
interface Ethernet2
   shutdown
interface Management1
   ip address 192.168.0.11/24
",
        serial: "SSJTEST0EOS",
        expected: Expected {
            model: "vEOS-lab",
            os_version: "4.30.0F",
            uptime: "76 hours and 5 minutes",
            interfaces: &[
                ("Ethernet1", "up", "uplink to spine", &["10.0.1.1/31"]),
                ("Ethernet2", "admin_down", "", &[]),
                ("Management1", "up", "", &["192.168.0.11/24"]),
            ],
        },
    },
    Case {
        platform: "cisco_nxos",
        name: "N1",
        config: "hostname N1
interface Ethernet1/1
  description uplink
  no switchport
  ip address 10.0.2.1/30
  no shutdown
interface Ethernet1/2
  shutdown
interface Vlan10
  ip address 10.10.0.1/24
interface loopback0
  ip address 10.255.0.3/32
",
        serial: "9NTEST0NX01",
        expected: Expected {
            model: "C9300v",
            os_version: "9.3(8)",
            uptime: "3 day(s), 4 hour(s), 5 minute(s), 6 second(s)",
            interfaces: &[
                ("Ethernet1/1", "up", "uplink", &["10.0.2.1/30"]),
                ("Ethernet1/2", "admin_down", "", &[]),
                ("Vlan10", "up", "", &["10.10.0.1/24"]),
                ("loopback0", "up", "", &["10.255.0.3/32"]),
            ],
        },
    },
    Case {
        platform: "cisco_xr",
        name: "X1",
        config: "hostname X1
interface Loopback0
 ipv4 address 10.0.0.4 255.255.255.255
!
interface GigabitEthernet0/0/0/0
 description core
 ipv4 address 192.0.2.9 255.255.255.252
!
interface GigabitEthernet0/0/0/1
 shutdown
!
",
        serial: "FOXTEST0XR1",
        expected: Expected {
            model: "IOS-XRv 9000",
            os_version: "7.3.2",
            uptime: "3 days 4 hours 5 minutes",
            interfaces: &[
                ("Loopback0", "up", "", &["10.0.0.4/32"]),
                ("GigabitEthernet0/0/0/0", "up", "core", &["192.0.2.9/30"]),
                ("GigabitEthernet0/0/0/1", "admin_down", "", &[]),
            ],
        },
    },
    Case {
        platform: "cisco_asa",
        name: "A1",
        config: "hostname A1
interface GigabitEthernet0/0
 nameif outside
 security-level 0
 ip address 192.0.2.1 255.255.255.0
!
interface GigabitEthernet0/1
 description DMZ servers
 nameif dmz
 security-level 50
 ip address 172.16.0.1 255.255.255.0
!
interface GigabitEthernet0/2
 shutdown
 no nameif
!
",
        serial: "JADTEST0ASA",
        expected: Expected {
            model: "ASA5506",
            os_version: "9.8(2)",
            uptime: "3 days 4 hours",
            interfaces: &[
                ("GigabitEthernet0/0", "up", "", &["192.0.2.1/24"]),
                (
                    "GigabitEthernet0/1",
                    "up",
                    "DMZ servers",
                    &["172.16.0.1/24"],
                ),
                ("GigabitEthernet0/2", "admin_down", "", &[]),
            ],
        },
    },
    Case {
        platform: "huawei_vrp",
        name: "HW1",
        config: "sysname HW1
#
interface GigabitEthernet0/0/1
 description uplink
 ip address 10.0.0.1 255.255.255.0
#
interface GigabitEthernet0/0/2
 shutdown
#
interface LoopBack0
 ip address 10.255.0.6 255.255.255.255
#
return
",
        serial: "2102TEST0VRP",
        expected: Expected {
            model: "CE6800",
            os_version: "8.210",
            uptime: "3 days, 4 hours, 5 minutes",
            interfaces: &[
                ("GigabitEthernet0/0/1", "up", "uplink", &["10.0.0.1/24"]),
                ("GigabitEthernet0/0/2", "admin_down", "", &[]),
                ("LoopBack0", "up", "", &["10.255.0.6/32"]),
            ],
        },
    },
    Case {
        platform: "juniper_junos",
        name: "J1",
        config: "set system host-name J1
set interfaces ge-0/0/0 description \"to core\"
set interfaces ge-0/0/0 unit 0 family inet address 10.0.0.1/24
set interfaces ge-0/0/1 disable
set interfaces lo0 unit 0 family inet address 10.255.0.7/32
",
        serial: "JNTEST0JUN1",
        expected: Expected {
            model: "mx104",
            os_version: "21.4R3.15",
            uptime: "since 2025-11-30 10:53:20 UTC",
            interfaces: &[
                ("ge-0/0/0", "up", "to core", &[]),
                ("ge-0/0/0.0", "up", "", &["10.0.0.1/24"]),
                ("ge-0/0/1", "admin_down", "", &[]),
                ("lo0", "up", "", &[]),
                ("lo0.0", "up", "", &["10.255.0.7/32"]),
            ],
        },
    },
];

fn commands(platform: &str) -> Vec<&'static str> {
    facts::spec(platform)
        .expect("spec")
        .sources()
        .map(|s| s.command)
        .collect()
}

/// What the oracle says for `case`'s device, one entry per command in order.
fn plugin_outputs() -> Vec<Value> {
    let devices: Vec<Value> = CASES
        .iter()
        .map(|c| {
            json!({ "platform": c.platform, "name": c.name, "config": c.config,
                    "settings": { "serial": c.serial }, "commands": commands(c.platform) })
        })
        .collect();
    oracle(&json!({ "devices": devices }))
}

/// fakenos's captures of real devices for every command facts reads (fakenos has them all).
fn stock_outputs() -> Vec<Value> {
    let stock: Vec<Value> = facts::SPECS
        .iter()
        .flat_map(|spec| {
            spec.sources()
                .map(|s| json!({ "platform": spec.platform, "command": s.command }))
        })
        .collect();
    oracle(&json!({ "stock": stock }))
}

/// Rust TextFSM's records of one oracle entry, compared with Python's.
fn parse_like_python(entry: &Value) -> Result<Vec<DataRecord>, String> {
    let platform = entry["platform"].as_str().expect("platform");
    let command = entry["command"].as_str().expect("command");
    let source = facts::spec(platform)
        .expect("spec")
        .sources()
        .find(|s| s.command == command)
        .expect("source");
    let template = std::fs::read_to_string(entry["template"].as_str().expect("template path"))
        .expect("reading the template");
    let output = entry["output"].as_str().expect("output");
    let what = format!(
        "{platform} {command:?} ({}) with {}",
        entry["source"], entry["template"]
    );
    let ours = facts::parse(source, &template, output);
    match (&ours, entry["records"].as_array()) {
        (Ok(records), Some(python)) => {
            assert_eq!(records.len(), python.len(), "{what}: record counts");
            for (index, (rust, python)) in records.iter().zip(python).enumerate() {
                for (field, value) in python.as_object().expect("record") {
                    let rust_value = match rust.fields.get(field) {
                        Some(textfsm_rs::Value::Single(s)) => json!(s),
                        Some(textfsm_rs::Value::List(l)) => json!(l),
                        None if value.is_array() => json!([]),
                        None => json!(""),
                    };
                    assert_eq!(&rust_value, value, "{what}: record {index} field {field}");
                }
            }
        }
        (Err(err), None) => {
            // Both refuse it; ours says which command and template.
            assert_eq!(err.code(), "unrecognised_output", "{what}: {err}");
            assert!(err.message().contains(command), "{err}");
        }
        (Err(err), Some(_)) => panic!("{what}: Python parses it, Rust fails: {err}"),
        (Ok(_), None) => panic!("{what}: Rust parses it, Python fails: {}", entry["error"]),
    }
    ours.map_err(|e| e.to_string())
}

fn facts_of(entries: &[&Value], platform: &str, prompt: &str) -> Facts {
    let records: Vec<Vec<DataRecord>> = entries
        .iter()
        .map(|e| parse_like_python(e).unwrap_or_else(|err| panic!("{err}")))
        .collect();
    let slices: Vec<&[DataRecord]> = records.iter().map(Vec::as_slice).collect();
    facts::normalise(facts::spec(platform).expect("spec"), &slices, prompt)
        .unwrap_or_else(|err| panic!("{platform}: {err}"))
}

#[test]
fn rust_textfsm_reads_every_facts_output_as_python_textfsm_does() {
    let entries: Vec<Value> = plugin_outputs()
        .into_iter()
        .chain(stock_outputs())
        .collect();
    // Every platform's every command, from both sources.
    let expected: usize = facts::SPECS.iter().map(|s| s.sources().count()).sum();
    assert_eq!(entries.len(), expected * 2);
    for entry in &entries {
        if entry["source"] == "plugin" {
            assert!(
                entry["error"].is_null(),
                "the plugin's output must parse: {entry:#}"
            );
        }
        let _ = parse_like_python(entry);
    }
}

#[test]
fn facts_of_each_platform_come_from_its_config() {
    let entries = plugin_outputs();
    for case in CASES {
        let mine: Vec<&Value> = entries
            .iter()
            .filter(|e| e["device"] == case.name)
            .collect();
        let facts = facts_of(&mine, case.platform, case.name);
        let spec = facts::spec(case.platform).expect("spec");
        let interfaces: Vec<Interface> = case
            .expected
            .interfaces
            .iter()
            .map(|(name, status, description, addresses)| Interface {
                name: (*name).to_owned(),
                status: (*status).to_owned(),
                description: (*description).to_owned(),
                addresses: addresses.iter().map(|a| (*a).to_owned()).collect(),
            })
            .collect();
        assert_eq!(
            facts,
            Facts {
                hostname: case.name.to_owned(),
                vendor: spec.vendor.to_owned(),
                model: case.expected.model.to_owned(),
                os_version: case.expected.os_version.to_owned(),
                serial: case.serial.to_owned(),
                uptime: case.expected.uptime.to_owned(),
                interfaces,
            },
            "{}",
            case.platform
        );
    }
}

#[test]
fn captures_of_real_devices_give_their_facts() {
    let entries = stock_outputs();
    // (platform, OS version, model, serial, interfaces) of each capture.
    let expected = [
        (
            "cisco_ios",
            "15.8(3)M2",
            "IOSv",
            "991UCMIHG4UAJ1J010CQG",
            16,
        ),
        ("arista_eos", "4.14.7M", "vEOS", "", 8),
        ("cisco_nxos", "7.1(4)N1(1)", "5596", "FOC17153X08", 6),
        ("cisco_xr", "4.1.0", "CRS-8/S", "FOX0000X0XX", 10),
        ("cisco_asa", "9.8(3)21", "FPR4K-SM-12", "", 6),
        (
            "huawei_vrp",
            "8.180",
            "ATN 910C-B",
            "21500104792SM8504636",
            6,
        ),
    ];
    for (platform, os_version, model, serial, interfaces) in expected {
        let mine: Vec<&Value> = entries
            .iter()
            .filter(|e| e["platform"] == platform)
            .collect();
        let facts = facts_of(&mine, platform, "PROMPT");
        assert_eq!(
            (facts.os_version.as_str(), facts.model.as_str()),
            (os_version, model),
            "{platform}"
        );
        assert_eq!(facts.serial, serial, "{platform}");
        assert_eq!(facts.interfaces.len(), interfaces, "{platform}");
        assert!(!facts.uptime.is_empty(), "{platform}");
    }
    let junos: Vec<&Value> = entries
        .iter()
        .filter(|e| e["platform"] == "juniper_junos")
        .collect();
    let facts = facts_of(&junos, "juniper_junos", "PROMPT");
    assert_eq!(facts.os_version, "13.2X51-D35.3");
    assert_eq!(facts.serial, "A0000");
    assert_eq!(facts.uptime, "since 2021-02-26 18:30:12 MSK");
    let addressed: Vec<(&str, &[String])> = facts
        .interfaces
        .iter()
        .filter(|i| !i.addresses.is_empty())
        .map(|i| (i.name.as_str(), i.addresses.as_slice()))
        .collect();
    assert_eq!(
        addressed,
        [("ge-0/0/0.2036", &["10.10.199.180/29".to_owned()][..])]
    );
}

#[test]
fn upstream_junos_interfaces_template_fails_on_a_disabled_port_and_ours_reads_it() {
    let entry = plugin_outputs()
        .into_iter()
        .find(|e| e["device"] == "J1" && e["command"] == "show interfaces")
        .expect("J1's interfaces");
    let ours = PathBuf::from(entry["template"].as_str().expect("path"));
    let corrections = workspace()
        .join("packs/netdev/templates")
        .canonicalize()
        .expect("packs/netdev/templates");
    assert!(ours.starts_with(&corrections), "{ours:?}");
    let upstream_dir = plugin_outputs()
        .into_iter()
        .find(|e| e["device"] == "J1" && e["command"] == "show version")
        .map(|e| PathBuf::from(e["template"].as_str().expect("path")))
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .expect("ntc-templates directory");
    let upstream =
        std::fs::read_to_string(upstream_dir.join("juniper_junos_show_interfaces.textfsm"))
            .expect("upstream template");
    let source = &facts::spec("juniper_junos").expect("spec").interfaces;
    let output = entry["output"].as_str().expect("output");
    let err = facts::parse(source, &upstream, output).expect_err(
        "upstream now reads a disabled Junos port: drop packs/netdev/templates/juniper_junos_show_interfaces.textfsm",
    );
    assert_eq!(err.code(), "unrecognised_output");
    assert!(
        err.message().contains("\"show interfaces\"")
            && err
                .message()
                .contains("textfsm/juniper_junos_show_interfaces.textfsm"),
        "{err}"
    );
    let ours = std::fs::read_to_string(ours).expect("our template");
    assert!(facts::parse(source, &ours, output).is_ok());
}

#[test]
fn load_templates_loads_every_template_facts_reads_and_our_corrections() {
    let script = std::fs::read_to_string(workspace().join("scripts/load-templates"))
        .expect("scripts/load-templates");
    for spec in facts::SPECS {
        for source in spec.sources() {
            assert!(
                script.contains(source.template),
                "scripts/load-templates does not load {}",
                source.template
            );
        }
    }
    assert!(script.contains("packs/netdev/templates"));
}
