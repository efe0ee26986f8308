//! The `netdev` pack end to end: the real `orch` binary, the pack installed with the grants it
//! asks for (`ssh:inventory`, `catalog:inventory`), an imported inventory, vault credentials, and
//! one fakenos process per test binary ([`crate::fleet`]) serving every device the tests use,
//! each test with devices of its own (the ones it changes are its alone). Our NOS plugin makes
//! their running configs change: Cisco IOS (`enable` behind a password), Arista EOS, Cisco NX-OS,
//! IOS XR (candidate config, commit), ASA (enable password), Huawei VRP (`super`) and Junos
//! (candidate config, both displays); plus one stock fakenos device. For each platform netmiko
//! is the oracle: it reads the same device, and the configs must be the same text.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fleet::{DeviceSpec, Fleet};
use crate::harness::{Run, TestHost, assert_no_leak, guest};
use crate::peers;

const R1_CONFIG: &str = "hostname R1
!
interface Loopback0
 ip address 10.0.0.1 255.255.255.255
!
ntp server 192.0.2.1
logging host 192.0.2.50
end
";

const SW1_CONFIG: &str = "hostname SW1
interface Ethernet1
   description uplink
ntp server 192.0.2.1
end
";

const NXOS_CONFIG: &str = "version 9.3(8) Bios:version 05.45
hostname N1
feature bgp
ip access-list MGMT
  10 permit tcp 192.0.2.0/24 any eq 22
  20 deny ip any any
interface Ethernet1/1
  description uplink
  no shutdown
router bgp 65001
  router-id 10.0.0.1
  neighbor 192.0.2.2
    remote-as 65002
    address-family ipv4 unicast
ntp server 192.0.2.1 use-vrf management
";

const XR_CONFIG: &str = "hostname X1
interface Loopback0
 ipv4 address 10.0.0.1 255.255.255.255
!
route-policy PASS
  pass
end-policy
!
router bgp 65001
 bgp router-id 10.0.0.1
 neighbor 192.0.2.2
  remote-as 65002
  address-family ipv4 unicast
  !
 !
!
ntp
 server 192.0.2.1
!
";

const ASA_CONFIG: &str = "ASA Version 9.8(2)
!
hostname A1
interface GigabitEthernet0/0
 nameif outside
 security-level 0
 ip address 192.0.2.1 255.255.255.0
!
access-list OUTSIDE extended permit tcp any any eq 443
access-list OUTSIDE extended deny ip any any
ntp server 192.0.2.1
";

const VRP_CONFIG: &str = "sysname HW1
#
interface GigabitEthernet0/0/1
 description uplink
 ip address 10.0.0.1 255.255.255.0
#
ospf 1
 area 0.0.0.0
  network 10.0.0.0 0.0.0.255
#
ntp-service unicast-server 192.0.2.1
#
return
";

const JUNOS_CONFIG: &str = "version 21.4R3.15;
system {
    host-name J1;
    services {
        ssh;
    }
    ntp {
        server 192.0.2.1;
    }
}
interfaces {
    ge-0/0/0 {
        description \"to core\";
        unit 0 {
            family inet {
                address 10.0.0.1/24;
            }
        }
    }
}
";

const FACTS_IOS: &str = "hostname R9
interface Loopback0
 ip address 10.0.0.9 255.255.255.255
interface GigabitEthernet0/1
 description to core
 ip address 10.1.9.1 255.255.255.252
interface GigabitEthernet0/2
 shutdown
";

const FACTS_EOS: &str = "hostname SW9
interface Ethernet1
   description uplink
   no switchport
   ip address 10.0.9.1/31
interface Ethernet2
   shutdown
";

const FACTS_NXOS: &str = "hostname N9
interface Ethernet1/1
  description uplink
  no switchport
  ip address 10.0.9.5/30
  no shutdown
interface Ethernet1/2
  shutdown
";

const FACTS_XR: &str = "hostname X9
interface Loopback0
 ipv4 address 10.0.0.19 255.255.255.255
!
interface GigabitEthernet0/0/0/1
 shutdown
!
";

const FACTS_ASA: &str = "hostname A9
interface GigabitEthernet0/0
 nameif outside
 security-level 0
 ip address 192.0.2.9 255.255.255.0
!
interface GigabitEthernet0/2
 shutdown
!
";

const FACTS_VRP: &str = "sysname HW9
#
interface GigabitEthernet0/0/1
 description uplink
 ip address 10.0.9.9 255.255.255.0
#
interface GigabitEthernet0/0/2
 shutdown
#
return
";

const FACTS_JUNOS: &str = "system {
    host-name J9;
}
interfaces {
    ge-0/0/0 {
        description \"to core\";
        unit 0 {
            family inet {
                address 10.0.9.13/24;
            }
        }
    }
}
";

/// The device `name` of `platform` booting with `config` (its hostname replaced by `name`).
fn spec(name: &str, platform: &str, config: &str, from: &str) -> DeviceSpec {
    DeviceSpec::new(name, platform, &config.replace(from, name))
}

/// The fleet of this test binary's netdev tests, started on first use.
fn fleet() -> &'static Fleet {
    static FLEET: OnceLock<Fleet> = OnceLock::new();
    FLEET.get_or_init(|| {
        Fleet::start(&[
            spec("R1", "cisco_ios", R1_CONFIG, "R1").with_enable_password(),
            spec("R2", "cisco_ios", R1_CONFIG, "R1").with_enable_password(),
            spec("R3", "cisco_ios", R1_CONFIG, "R1").with_enable_password(),
            spec("SW1", "arista_eos", SW1_CONFIG, "SW1"),
            spec("SW2", "arista_eos", SW1_CONFIG, "SW1"),
            spec("SW3", "arista_eos", SW1_CONFIG, "SW1"),
            spec("N1", "cisco_nxos", NXOS_CONFIG, "N1"),
            spec("X1", "cisco_xr", XR_CONFIG, "X1"),
            spec("A1", "cisco_asa", ASA_CONFIG, "A1").with_enable_password(),
            spec("HW1", "huawei_vrp", VRP_CONFIG, "HW1"),
            spec("HW2", "huawei_vrp", VRP_CONFIG, "HW1").with_enable_password(),
            spec("J1", "juniper_junos", JUNOS_CONFIG, "J1"),
            DeviceSpec::stock("BARE1", "cisco_xr"),
            // The facts test's own, each with a port shut down.
            spec("R9", "cisco_ios", FACTS_IOS, "R9").with_enable_password(),
            spec("SW9", "arista_eos", FACTS_EOS, "SW9"),
            spec("N9", "cisco_nxos", FACTS_NXOS, "N9"),
            spec("X9", "cisco_xr", FACTS_XR, "X9"),
            spec("A9", "cisco_asa", FACTS_ASA, "A9").with_enable_password(),
            spec("HW9", "huawei_vrp", FACTS_VRP, "HW9"),
            spec("J9", "juniper_junos", FACTS_JUNOS, "J9"),
        ])
    })
}

/// A host with netdev installed, the fleet's inventory imported (BARE1 claimed to be
/// `cisco_ios`) and credentials `lab` (login) and `lab-enable` (the enable secrets) stored.
fn lab() -> (&'static Fleet, TestHost) {
    let fleet = fleet();
    let host = TestHost::new();
    let wasm = guest("netdev");
    host.orch(&["pack", "add", wasm.to_str().expect("utf-8 path"), "--yes"])
        .ok();
    secret(&host, "lab", &fleet.username, &fleet.password);
    let mut inventory: Value =
        serde_json::from_str(&fleet.inventory_yaml("lab", "lab-enable")).expect("json");
    for device in inventory["devices"].as_array_mut().expect("devices") {
        if device["name"] == "BARE1" {
            device["platform"] = json!("cisco_ios");
        }
        // Each device with an enable secret gets a credential of its own.
        if let Some(name) = device["name"].as_str().map(str::to_owned)
            && let Some(enable) = fleet.device(&name).enable_password.clone()
        {
            let credential = format!("{name}-enable");
            secret(&host, &credential, &fleet.username, &enable);
            device["vars"]["enable_credential"] = json!(credential);
        }
    }
    let path = host.home().join("inventory.yaml");
    std::fs::write(&path, inventory.to_string()).expect("writing the inventory");
    host.orch(&["inventory", "import", path.to_str().expect("utf-8 path")])
        .ok();
    (fleet, host)
}

fn secret(host: &TestHost, name: &str, username: &str, password: &str) {
    host.orch_with_stdin(
        &[
            "secret",
            "set",
            name,
            "--kind",
            "ssh-password",
            "--username",
            username,
            "--bind",
            peers::HOST,
            "--from-stdin",
        ],
        password,
    )
    .ok();
}

fn action(host: &TestHost, name: &str, input: &Value) -> Run {
    let input = input.to_string();
    host.orch(&[
        "action",
        "run",
        &format!("netdev.{name}"),
        "--input",
        &input,
        "--json",
        "--host-key-policy",
        "accept-new",
    ])
}

#[track_caller]
fn output(run: &Run, fleet: &Fleet) -> Value {
    assert_eq!(
        run.code,
        0,
        "expected success: {run:#?}\nfakenos log:\n{}",
        fleet.log()
    );
    run.json()["output"].clone()
}

fn running_config(host: &TestHost, fleet: &Fleet, device: &str) -> String {
    let out = output(
        &action(host, "get_running_config", &json!({ "device": device })),
        fleet,
    );
    assert_eq!(out["device"], device);
    out["config"]
        .as_str()
        .expect("config is a string")
        .to_owned()
}

#[test]
fn netdev_reads_the_running_config_of_ios_and_eos_devices() {
    let (fleet, host) = lab();
    let r1 = action(&host, "get_running_config", &json!({ "device": "R1" }));
    let out = output(&r1, fleet);
    assert_eq!(out["platform"], "cisco_ios");
    assert_eq!(
        out["config"], R1_CONFIG,
        "banners and size lines are removed"
    );
    let sw1 = output(
        &action(&host, "get_running_config", &json!({ "device": "SW1" })),
        fleet,
    );
    assert_eq!(sw1["platform"], "arista_eos");
    assert_eq!(sw1["config"], SW1_CONFIG);

    // The enable secret is typed by the host: never in the pack's output or logs.
    let enable = fleet
        .device("R1")
        .enable_password
        .clone()
        .unwrap_or_default();
    assert!(!enable.is_empty());
    assert!(
        !r1.stdout.contains(&enable) && !r1.stderr.contains(&enable),
        "{r1:#?}"
    );
}

#[test]
fn netdev_run_commands_returns_each_output_without_echo_or_prompt() {
    let (fleet, host) = lab();
    let out = output(
        &action(
            &host,
            "run_commands",
            &json!({ "device": "R1", "commands": ["show version", "show clock"] }),
        ),
        fleet,
    );
    let outputs = out["outputs"].as_array().expect("outputs");
    assert_eq!(outputs.len(), 2);
    assert_eq!(outputs[0]["command"], "show version");
    let version = outputs[0]["output"].as_str().unwrap_or_default();
    assert!(version.starts_with("Cisco IOS Software"), "{version:?}");
    assert!(!version.contains("R1#"), "{version:?}");
}

#[test]
fn netdev_dry_run_sends_nothing() {
    let (fleet, host) = lab();
    let merge = output(
        &action(
            &host,
            "push_config",
            &json!({ "device": "R1", "dry_run": true,
                     "config": "interface Loopback1\n ip address 10.1.1.1 255.255.255.255\nntp server 192.0.2.2\n" }),
        ),
        fleet,
    );
    assert_eq!(merge["mode"], "merge");
    assert_eq!(
        merge["would_send"],
        json!([
            "interface Loopback1",
            " ip address 10.1.1.1 255.255.255.255",
            "exit",
            "ntp server 192.0.2.2"
        ])
    );
    let replace = output(
        &action(
            &host,
            "push_config",
            &json!({ "device": "SW1", "dry_run": true, "replace": true,
                     "config": ["hostname SW1", "interface Ethernet1", "   description uplink"] }),
        ),
        fleet,
    );
    assert_eq!(replace["mode"], "replace");
    assert_eq!(replace["would_send"], json!(["no ntp server 192.0.2.1"]));

    assert_eq!(running_config(&host, fleet, "R1"), R1_CONFIG);
    assert_eq!(running_config(&host, fleet, "SW1"), SW1_CONFIG);
}

#[test]
fn netdev_push_changes_the_running_config() {
    let (fleet, host) = lab();
    let pushed = output(
        &action(
            &host,
            "push_config",
            &json!({ "device": "R2", "save": true,
                     "config": ["interface Loopback1", " ip address 10.1.1.1 255.255.255.255",
                                "ntp server 192.0.2.2"] }),
        ),
        fleet,
    );
    assert_eq!(pushed["errors"], json!([]));
    assert_eq!(pushed["saved"], true);
    assert_eq!(
        pushed["sent"],
        json!([
            "interface Loopback1",
            " ip address 10.1.1.1 255.255.255.255",
            "exit",
            "ntp server 192.0.2.2"
        ])
    );
    let config = running_config(&host, fleet, "R2");
    assert_eq!(
        config,
        R1_CONFIG.replace("R1", "R2").replace(
            "end\n",
            "interface Loopback1\n ip address 10.1.1.1 255.255.255.255\nntp server 192.0.2.2\nend\n"
        )
    );

    let eos = output(
        &action(
            &host,
            "push_config",
            &json!({ "device": "SW2", "config": "interface Ethernet1\n   description core uplink\n" }),
        ),
        fleet,
    );
    assert_eq!(eos["errors"], json!([]));
    assert_eq!(
        running_config(&host, fleet, "SW2"),
        SW1_CONFIG
            .replace("SW1", "SW2")
            .replace("description uplink", "description core uplink")
    );
}

#[test]
fn netdev_replace_push_removes_lines_absent_from_the_target() {
    let (fleet, host) = lab();
    let golden = "hostname R3
!
interface Loopback0
 ip address 10.0.0.9 255.255.255.255
 description managed
!
ntp server 192.0.2.1
end
";
    let pushed = output(
        &action(
            &host,
            "push_config",
            &json!({ "device": "R3", "replace": true, "config": golden }),
        ),
        fleet,
    );
    assert_eq!(
        pushed["sent"],
        json!([
            "no logging host 192.0.2.50",
            "interface Loopback0",
            " ip address 10.0.0.9 255.255.255.255",
            " description managed",
            "exit"
        ])
    );
    let config = running_config(&host, fleet, "R3");
    assert!(!config.contains("logging host"), "{config}");
    assert!(
        config.contains(" ip address 10.0.0.9 255.255.255.255\n description managed\n"),
        "{config}"
    );

    // Pushing the same golden config again finds nothing to change.
    let again = output(
        &action(
            &host,
            "push_config",
            &json!({ "device": "R3", "replace": true, "config": golden }),
        ),
        fleet,
    );
    assert_eq!(again["sent"], json!([]));
}

#[test]
fn netdev_push_of_a_refused_line_fails_with_rejected_and_stops() {
    let (fleet, host) = lab();
    let run = action(
        &host,
        "push_config",
        &json!({ "device": "SW3", "config": ["ntp server 192.0.2.7", "frobnicate everything", "ntp server 192.0.2.8"] }),
    );
    let (code, message) = run.action_error();
    assert_eq!(code, "rejected", "{run:#?}");
    assert!(message.contains("frobnicate everything"), "{message}");
    assert!(message.contains("% Invalid input"), "{message}");
    let config = running_config(&host, fleet, "SW3");
    assert!(config.contains("ntp server 192.0.2.7"), "{config}");
    assert!(
        !config.contains("192.0.2.8"),
        "lines after the refusal are not sent: {config}"
    );
}

#[test]
fn netdev_unreachable_device_fails_quickly_with_unreachable() {
    let (_fleet, host) = lab();
    // A port nothing listens on.
    let port = peers::free_port();
    let inventory = host.home().join("dead.yaml");
    std::fs::write(
        &inventory,
        format!(
            "devices:\n  - {{name: R9, address: {}, port: {port}, platform: cisco_ios, credential: lab}}\n",
            peers::HOST
        ),
    )
    .expect("writing the inventory");
    host.orch(&[
        "inventory",
        "import",
        inventory.to_str().expect("utf-8 path"),
    ])
    .ok();
    let started = Instant::now();
    let run = action(&host, "get_running_config", &json!({ "device": "R9" }));
    let elapsed = started.elapsed();
    let (code, message) = run.action_error();
    assert_eq!(code, "unreachable", "{run:#?}");
    assert!(message.contains(&port.to_string()), "{message}");
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");

    let (code, _) =
        (action(&host, "get_running_config", &json!({ "device": "nope" }))).action_error();
    assert_eq!(code, "not_found");
}

#[test]
fn netdev_reads_a_linux_config_file_over_exec() {
    let sshd = peers::sshd();
    let host = TestHost::new();
    let wasm = guest("netdev");
    host.orch(&["pack", "add", wasm.to_str().expect("utf-8 path"), "--yes"])
        .ok();
    host.orch_with_stdin(
        &[
            "secret",
            "set",
            "box-key",
            "--kind",
            "ssh-key",
            "--username",
            &sshd.user,
            "--bind",
            peers::HOST,
            "--from-stdin",
        ],
        &sshd.client_key,
    )
    .ok();
    let dir = tempfile::Builder::new()
        .prefix("netdev-linux-")
        .tempdir_in(&sshd.scratch)
        .expect("temp dir in the sshd scratch");
    let path = dir.path().join("frr.conf");
    std::fs::write(
        &path,
        "hostname box1   \r\nrouter bgp 65001\n neighbor 192.0.2.1 remote-as 65002\n\n",
    )
    .expect("writing the config");
    let inventory = host.home().join("linux.yaml");
    std::fs::write(
        &inventory,
        json!({ "devices": [{ "name": "box1", "address": peers::HOST, "port": sshd.port,
                              "platform": "linux", "credential": "box-key",
                              "vars": { "config_path": path } }] })
        .to_string(),
    )
    .expect("writing the inventory");
    host.orch(&[
        "inventory",
        "import",
        inventory.to_str().expect("utf-8 path"),
    ])
    .ok();
    let run = action(&host, "get_running_config", &json!({ "device": "box1" }));
    assert_eq!(run.code, 0, "{run:#?}");
    let out = run.json()["output"].clone();
    assert_eq!(out["platform"], "linux");
    assert_eq!(
        out["config"],
        "hostname box1\nrouter bgp 65001\n neighbor 192.0.2.1 remote-as 65002\n"
    );
    let (code, message) = (action(
        &host,
        "push_config",
        &json!({ "device": "box1", "config": "hostname box2" }),
    ))
    .action_error();
    assert_eq!(code, "unsupported_platform", "{message}");
}

#[test]
fn netdev_enable_fails_clearly_without_a_credential_or_with_a_wrong_one() {
    let (fleet, host) = lab();
    let r1 = fleet.device("R1");
    let enable = r1.enable_password.clone().unwrap_or_default();
    let wrong = format!("wrong-{}", peers::random_hex(8));
    secret(&host, "wrong-enable", &fleet.username, &wrong);
    // R1 again, without its enable_credential var.
    let inventory = host.home().join("bare.yaml");
    std::fs::write(
        &inventory,
        json!({ "devices": [{ "name": "R1-bare", "address": peers::HOST, "port": r1.port,
                              "platform": "cisco_ios", "credential": "lab" }] })
        .to_string(),
    )
    .expect("writing the inventory");
    host.orch(&[
        "inventory",
        "import",
        inventory.to_str().expect("utf-8 path"),
    ])
    .ok();

    // The device asks for a password and none is named: the host types nothing and says so.
    let unnamed = action(&host, "get_running_config", &json!({ "device": "R1-bare" }));
    let (code, message) = unnamed.action_error();
    assert_eq!(code, "enable_failed", "{unnamed:#?}");
    for needle in [
        "\"R1-bare\"",
        "asked for a password after `enable` and no credential was named",
        "enable_credential",
    ] {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }

    // A wrong secret is typed once; the device's refusal is reported.
    let refused = action(
        &host,
        "get_running_config",
        &json!({ "device": "R1", "enable_credential": "wrong-enable" }),
    );
    let (code, message) = refused.action_error();
    assert_eq!(code, "enable_failed", "{refused:#?}");
    for needle in [
        "refused the secret of credential \"wrong-enable\"",
        "% Bad secrets",
        "check the enable credential",
    ] {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }

    // The right one still works, and neither secret shows anywhere.
    let ok = action(&host, "get_running_config", &json!({ "device": "R1" }));
    assert_eq!(output(&ok, fleet)["config"], R1_CONFIG);
    for secret in [&wrong, &enable] {
        assert_no_leak(&host, secret, &[&unnamed, &refused, &ok]);
    }
}

/// Issue 13's defect: a device that answers `show running-config` with a bare `Unknown command`
/// (here fakenos's stock IOS XR, which knows no such command, mislabelled `cisco_ios` in the
/// inventory) must fail the read, never hand the reply back as a configuration.
#[test]
fn netdev_reports_a_bare_unknown_command_reply_as_an_error_not_a_config() {
    let (_fleet, host) = lab();
    let run = action(&host, "get_running_config", &json!({ "device": "BARE1" }));
    assert_ne!(
        run.code, 0,
        "an error reply was returned as a config: {run:#?}"
    );
    let (code, message) = run.action_error();
    assert_eq!(code, "rejected", "{run:#?}");
    for needle in ["\"BARE1\"", "Unknown command", "cisco_ios"] {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }
}

/// What netmiko read as `device`'s config with `command`, with the header lines each platform
/// prints before its config (sizes, times, build notes) taken out: this test's own list, not
/// the pack's, so the two cleanings check each other.
fn netmiko_config(fleet: &Fleet, device: &str, command: &str) -> String {
    let platform = fleet.device(device).platform.clone();
    let headers: &[&str] = match platform.as_str() {
        "cisco_ios" => &[
            r"^Building configuration\.\.\.$",
            r"^Current configuration : \d+ bytes$",
        ],
        "arista_eos" => &[r"^! Command: ", r"^! device: "],
        "cisco_nxos" => &[
            r"^!Command: ",
            r"^!Running configuration last done at: ",
            r"^!Time: ",
        ],
        "cisco_xr" => &[
            r"^\w{3} \w{3} +\d+ \d\d:\d\d:\d\d\.\d+ UTC$",
            r"^Building configuration\.\.\.$",
            r"^!! IOS XR Configuration ",
            r"^!! Last configuration change at ",
        ],
        "cisco_asa" => &[
            r"^: Saved$",
            r"^:$",
            r"^: Serial Number: ",
            r"^: Hardware: ",
        ],
        "huawei_vrp" => &[
            r"^!Software Version ",
            r"^!Last configuration was updated at ",
        ],
        "juniper_junos" => &[r"^## Last commit: "],
        other => panic!("no header list for {other}"),
    };
    let headers: Vec<regex::Regex> = headers
        .iter()
        .map(|h| regex::Regex::new(h).expect("header regex"))
        .collect();
    let raw = fleet.netmiko(device, &[command]).remove(0);
    let lines: Vec<&str> = raw
        .lines()
        .map(str::trim_end)
        .filter(|line| !headers.iter().any(|h| h.is_match(line)))
        .collect();
    let start = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |e| e + 1);
    let mut text = lines[start..end].join("\n");
    text.push('\n');
    text
}

/// `netcfg`'s reading of a config: the lines and their sections, without comments and end
/// markers, in the platform's rendering.
fn config_lines(platform: &str, text: &str) -> String {
    let syntax = netcfg::Syntax::for_platform(platform).expect("a netcfg platform");
    netcfg::render(syntax, &netcfg::parse(syntax, text))
}

/// Reads `device` with orch and with netmiko: the same text, holding the lines of `expected`.
#[track_caller]
fn reads_like_netmiko(host: &TestHost, fleet: &Fleet, device: &str, expected: &str) -> String {
    let platform = fleet.device(device).platform.clone();
    let command = match platform.as_str() {
        "huawei_vrp" => "display current-configuration",
        "juniper_junos" => "show configuration",
        _ => "show running-config",
    };
    let ours = running_config(host, fleet, device);
    let theirs = netmiko_config(fleet, device, command);
    assert_eq!(ours, theirs, "orch and netmiko read {device} differently");
    assert_eq!(
        config_lines(&platform, &ours),
        config_lines(&platform, expected),
        "{device} does not hold the expected config"
    );
    ours
}

fn push(host: &TestHost, input: Value) -> Run {
    action(host, "push_config", &input)
}

/// A refused line stops the push: reported with the device's words; lines after it are never
/// sent; on platforms with a candidate config nothing at all is applied.
#[track_caller]
fn refusal_stops_the_push(
    host: &TestHost,
    fleet: &Fleet,
    device: &str,
    good: &str,
    error: &str,
    candidate: bool,
) {
    let run = push(
        host,
        json!({ "device": device, "config": [good, "frobnicate everything", "ntp server 198.51.100.99"] }),
    );
    let (code, message) = run.action_error();
    assert_eq!(code, "rejected", "{run:#?}");
    assert!(message.contains("frobnicate everything"), "{message}");
    assert!(message.contains(error), "{error:?} not in {message}");
    let config = running_config(host, fleet, device);
    assert!(
        !config.contains("198.51.100.99"),
        "sent after the refusal: {config}"
    );
    let good_value = good.rsplit(' ').next().unwrap_or(good);
    assert_eq!(
        config.contains(good_value),
        !candidate,
        "the line before the refusal ({good:?}) is applied only without a candidate config: {config}"
    );
    if candidate {
        assert!(message.contains("nothing was applied"), "{message}");
    }
}

#[test]
fn netdev_nxos_reads_like_netmiko_pushes_saves_and_stops_at_a_refusal() {
    let (fleet, host) = lab();
    reads_like_netmiko(&host, fleet, "N1", NXOS_CONFIG);
    let pushed = output(
        &push(
            &host,
            json!({ "device": "N1", "save": true,
                    "config": "interface Ethernet1/1\n  description core uplink\nrouter bgp 65001\n  neighbor 192.0.2.2\n    address-family ipv4 unicast\n      send-community\n" }),
        ),
        fleet,
    );
    assert_eq!(pushed["saved"], true, "{pushed:#}");
    let expected = NXOS_CONFIG
        .replace("description uplink", "description core uplink")
        .replace(
            "    address-family ipv4 unicast\n",
            "    address-family ipv4 unicast\n      send-community\n",
        );
    reads_like_netmiko(&host, fleet, "N1", &expected);
    refusal_stops_the_push(
        &host,
        fleet,
        "N1",
        "ntp server 198.51.100.1",
        "% Invalid command",
        false,
    );
}

#[test]
fn netdev_xr_commits_confirms_and_throws_away_a_refused_candidate() {
    let (fleet, host) = lab();
    reads_like_netmiko(&host, fleet, "X1", XR_CONFIG);
    let pushed = output(
        &push(
            &host,
            json!({ "device": "X1", "confirm_seconds": 30, "save": true,
                    "config": "ntp\n server 192.0.2.2\ninterface Loopback0\n description managed\n" }),
        ),
        fleet,
    );
    assert_eq!(
        pushed["committed"],
        json!({ "commit": "confirmed", "seconds": 30 }),
        "{pushed:#}"
    );
    assert_eq!(
        pushed["saved"], false,
        "a commit persists on XR: nothing to save"
    );
    let expected = XR_CONFIG
        .replace(
            " server 192.0.2.1\n",
            " server 192.0.2.1\n server 192.0.2.2\n",
        )
        .replace(
            " ipv4 address 10.0.0.1 255.255.255.255\n",
            " ipv4 address 10.0.0.1 255.255.255.255\n description managed\n",
        );
    reads_like_netmiko(&host, fleet, "X1", &expected);
    refusal_stops_the_push(
        &host,
        fleet,
        "X1",
        "logging 198.51.100.1",
        "% Invalid input",
        true,
    );
}

#[test]
fn netdev_asa_enables_with_the_host_typed_secret_and_appends_acl_lines() {
    let (fleet, host) = lab();
    reads_like_netmiko(&host, fleet, "A1", ASA_CONFIG);
    let pushed = output(
        &push(
            &host,
            json!({ "device": "A1", "save": true,
                    "config": ["access-list OUTSIDE extended permit udp any any eq 53"] }),
        ),
        fleet,
    );
    assert_eq!(pushed["saved"], true, "{pushed:#}");
    let expected = ASA_CONFIG.replace(
        "access-list OUTSIDE extended deny ip any any\n",
        "access-list OUTSIDE extended deny ip any any\naccess-list OUTSIDE extended permit udp any any eq 53\n",
    );
    reads_like_netmiko(&host, fleet, "A1", &expected);
    refusal_stops_the_push(
        &host,
        fleet,
        "A1",
        "ntp server 198.51.100.1",
        "ERROR: % Invalid input",
        false,
    );
}

#[test]
fn netdev_vrp_reads_like_netmiko_undoes_saves_and_uses_super() {
    let (fleet, host) = lab();
    reads_like_netmiko(&host, fleet, "HW1", VRP_CONFIG);
    let pushed = output(
        &push(
            &host,
            json!({ "device": "HW1", "save": true,
                    "config": "undo ntp-service unicast-server 192.0.2.1\nntp-service unicast-server 192.0.2.2\ninterface GigabitEthernet0/0/1\n description core\nospf 1\n area 0.0.0.0\n  network 10.1.0.0 0.0.0.255\n" }),
        ),
        fleet,
    );
    assert_eq!(pushed["saved"], true, "{pushed:#}");
    assert_eq!(
        pushed["sent"],
        json!([
            "undo ntp-service unicast-server 192.0.2.1",
            "ntp-service unicast-server 192.0.2.2",
            "interface GigabitEthernet0/0/1",
            " description core",
            "quit",
            "ospf 1",
            " area 0.0.0.0",
            "  network 10.1.0.0 0.0.0.255",
            " quit",
            "quit"
        ])
    );
    let expected = VRP_CONFIG
        .replace("192.0.2.1", "192.0.2.2")
        .replace("description uplink", "description core")
        .replace(
            "  network 10.0.0.0 0.0.0.255\n",
            "  network 10.0.0.0 0.0.0.255\n  network 10.1.0.0 0.0.0.255\n",
        );
    reads_like_netmiko(&host, fleet, "HW1", &expected);
    refusal_stops_the_push(
        &host,
        fleet,
        "HW1",
        "ntp-service unicast-server 198.51.100.1",
        "Error: Unrecognized command",
        false,
    );

    // HW2's account needs `super` (the host types it and the password) to see its config.
    let config = running_config(&host, fleet, "HW2");
    assert_eq!(
        config_lines("huawei_vrp", &config),
        config_lines("huawei_vrp", &VRP_CONFIG.replace("HW1", "HW2"))
    );
}

#[test]
fn netdev_junos_reads_both_displays_like_netmiko_commits_and_rolls_back_unconfirmed() {
    let (fleet, host) = lab();
    let hierarchical = reads_like_netmiko(&host, fleet, "J1", JUNOS_CONFIG);
    // The set display: netmiko's and orch's agree, and equal orch's own reading of the braces.
    let set = output(
        &action(
            &host,
            "get_running_config",
            &json!({ "device": "J1", "format": "set" }),
        ),
        fleet,
    );
    assert_eq!(set["format"], "set");
    let set_text = set["config"].as_str().expect("config").to_owned();
    assert_eq!(
        set_text,
        netmiko_config(fleet, "J1", "show configuration | display set")
    );
    assert_eq!(
        config_lines("juniper_junos", &set_text),
        config_lines("juniper_junos", &hierarchical)
    );

    let pushed = output(
        &push(
            &host,
            json!({ "device": "J1", "config": "system {\n    ntp {\n        server 192.0.2.2;\n    }\n}\ndelete system ntp server 192.0.2.1\n" }),
        ),
        fleet,
    );
    assert_eq!(
        pushed["committed"],
        json!({ "commit": "committed" }),
        "{pushed:#}"
    );
    assert_eq!(
        pushed["sent"],
        json!([
            "set system ntp server 192.0.2.2",
            "delete system ntp server 192.0.2.1"
        ])
    );
    let expected = JUNOS_CONFIG.replace("server 192.0.2.1;", "server 192.0.2.2;");
    reads_like_netmiko(&host, fleet, "J1", &expected);

    // Committed with a confirm timer left running (our device counts a minute as a second, so
    // five minutes are five seconds):
    // live at once, rolled back when nobody confirms.
    let pending = output(
        &push(
            &host,
            json!({ "device": "J1", "config": ["set snmp location lab"],
                             "confirm_seconds": 300, "leave_unconfirmed": true }),
        ),
        fleet,
    );
    assert_eq!(
        pending["committed"],
        json!({ "commit": "pending_confirmation", "seconds": 300 })
    );
    let live = running_config(&host, fleet, "J1");
    assert!(live.contains("location lab;"), "{pending:#}\n{live}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while running_config(&host, fleet, "J1").contains("location lab;") {
        assert!(
            Instant::now() < deadline,
            "the unconfirmed commit was never rolled back"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    reads_like_netmiko(&host, fleet, "J1", &expected);
    refusal_stops_the_push(
        &host,
        fleet,
        "J1",
        "set system location building-1",
        "syntax error",
        true,
    );
}

/// One device of the facts test and what it should say.
struct FactsCase {
    device: &'static str,
    /// The version command and netmiko's field for the OS version.
    version: (&'static str, &'static str),
    interfaces_command: &'static str,
    /// netmiko's field for the serial in the version output (None: read from another command).
    serial_field: Option<&'static str>,
    /// (name, status, addresses) from the config.
    interfaces: &'static [(&'static str, &'static str, &'static [&'static str])],
}

/// `netdev.facts` on a device of each platform: the facts reflect the device (its name, its
/// configured interfaces, addresses and shut ports), and netmiko's own TextFSM parsing of the
/// same commands (ntc-templates, Python's textfsm) agrees on the version, serial and interfaces.
#[test]
fn netdev_facts_of_each_platform_agree_with_netmiko_s_textfsm() {
    let (fleet, host) = lab();
    host.load_templates();
    let cases = [
        FactsCase {
            device: "R9",
            version: ("show version", "version"),
            interfaces_command: "show interfaces",
            serial_field: Some("serial"),
            interfaces: &[
                ("Loopback0", "up", &["10.0.0.9/32"]),
                ("GigabitEthernet0/1", "up", &["10.1.9.1/30"]),
                ("GigabitEthernet0/2", "admin_down", &[]),
            ],
        },
        FactsCase {
            device: "SW9",
            version: ("show version", "image"),
            interfaces_command: "show interfaces",
            serial_field: Some("serial_number"),
            interfaces: &[
                ("Ethernet1", "up", &["10.0.9.1/31"]),
                ("Ethernet2", "admin_down", &[]),
            ],
        },
        FactsCase {
            device: "N9",
            version: ("show version", "os"),
            interfaces_command: "show interface",
            serial_field: Some("serial"),
            interfaces: &[
                ("Ethernet1/1", "up", &["10.0.9.5/30"]),
                ("Ethernet1/2", "admin_down", &[]),
            ],
        },
        FactsCase {
            device: "X9",
            version: ("show version", "version"),
            interfaces_command: "show interfaces",
            serial_field: None,
            interfaces: &[
                ("Loopback0", "up", &["10.0.0.19/32"]),
                ("GigabitEthernet0/0/0/1", "admin_down", &[]),
            ],
        },
        FactsCase {
            device: "A9",
            version: ("show version", "version"),
            interfaces_command: "show interface",
            serial_field: Some("serial"),
            interfaces: &[
                ("GigabitEthernet0/0", "up", &["192.0.2.9/24"]),
                ("GigabitEthernet0/2", "admin_down", &[]),
            ],
        },
        FactsCase {
            device: "HW9",
            version: ("display version", "vrp_version"),
            interfaces_command: "display interface",
            serial_field: None,
            interfaces: &[
                ("GigabitEthernet0/0/1", "up", &["10.0.9.9/24"]),
                ("GigabitEthernet0/0/2", "admin_down", &[]),
            ],
        },
        FactsCase {
            device: "J9",
            version: ("show version", "junos_version"),
            interfaces_command: "show interfaces",
            serial_field: None,
            interfaces: &[
                ("ge-0/0/0", "up", &[]),
                ("ge-0/0/0.0", "up", &["10.0.9.13/24"]),
            ],
        },
    ];
    let mut serials = Vec::new();
    for FactsCase {
        device,
        version: (version_command, version_field),
        interfaces_command,
        serial_field,
        interfaces: expected,
    } in cases
    {
        let run = action(&host, "facts", &json!({ "device": device }));
        let out = output(&run, fleet);
        let facts = &out["facts"];
        assert_eq!(out["platform"], fleet.device(device).platform);
        assert_eq!(facts["hostname"], device, "{out:#}");
        for fact in ["vendor", "model", "os_version", "serial", "uptime"] {
            assert!(
                facts[fact].as_str().is_some_and(|v| !v.is_empty()),
                "{device}: no {fact}: {out:#}"
            );
        }
        let interfaces: Vec<(String, String, Vec<String>)> = facts["interfaces"]
            .as_array()
            .expect("interfaces")
            .iter()
            .map(|i| {
                let addresses = i["addresses"].as_array().expect("addresses");
                (
                    i["name"].as_str().unwrap_or_default().to_owned(),
                    i["status"].as_str().unwrap_or_default().to_owned(),
                    addresses
                        .iter()
                        .map(|a| a.as_str().unwrap_or_default().to_owned())
                        .collect(),
                )
            })
            .collect();
        let expected: Vec<(String, String, Vec<String>)> = expected
            .iter()
            .map(|(n, s, a)| {
                (
                    (*n).to_owned(),
                    (*s).to_owned(),
                    a.iter().map(|a| (*a).to_owned()).collect(),
                )
            })
            .collect();
        assert_eq!(interfaces, expected, "{device}: {out:#}");
        // Each command read is named with the template that read it.
        let parsed = out["parsed"].as_array().expect("parsed");
        assert_eq!(parsed[0]["command"], version_command);
        assert_eq!(parsed[parsed.len() - 1]["command"], interfaces_command);
        assert!(parsed.iter().all(|p| {
            p["records"].as_u64() > Some(0)
                && p["template"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("textfsm/"))
        }));

        let theirs = fleet.netmiko_parsed(device, &[version_command, interfaces_command]);
        let version = &theirs[0][0];
        assert_eq!(
            facts["os_version"], version[version_field],
            "{device}: netmiko read {theirs:#?}"
        );
        if let Some(field) = serial_field {
            let serial = match &version[field] {
                Value::Array(items) => items[0].clone(),
                other => other.clone(),
            };
            assert_eq!(
                facts["serial"], serial,
                "{device}: netmiko read {version:#}"
            );
        }
        let names: Vec<&str> = theirs[1]
            .as_array()
            .unwrap_or_else(|| panic!("netmiko did not parse {device}'s interfaces: {theirs:#?}"))
            .iter()
            .map(|r| r["interface"].as_str().unwrap_or_default())
            .collect();
        let ours: Vec<&str> = interfaces.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(ours, names, "{device}");
        serials.push(facts["serial"].as_str().unwrap_or_default().to_owned());
    }
    serials.sort();
    serials.dedup();
    assert_eq!(
        serials.len(),
        7,
        "every device has its own serial: {serials:?}"
    );
}

/// Facts never come back empty: templates missing from the catalog fail before the device is
/// touched and say how to load them; output a template does not recognise (fakenos's stock
/// IOS XR, mislabelled `cisco_ios`) names the command and the template.
#[test]
fn netdev_facts_errors_name_the_template_and_the_fix() {
    let (_fleet, host) = lab();
    let missing = action(&host, "facts", &json!({ "device": "R9" }));
    let (code, message) = missing.action_error();
    assert_eq!(code, "not_found", "{missing:#?}");
    for needle in [
        "textfsm/cisco_ios_show_version.textfsm",
        "scripts/load-templates",
    ] {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }

    host.load_templates();
    let bare = action(&host, "facts", &json!({ "device": "BARE1" }));
    let (code, message) = bare.action_error();
    assert_eq!(code, "unrecognised_output", "{bare:#?}");
    assert!(message.contains("textfsm/cisco_ios_show_"), "{message}");
    assert!(
        message.contains("\"show version\"") || message.contains("\"show interfaces\""),
        "{message}"
    );
}
