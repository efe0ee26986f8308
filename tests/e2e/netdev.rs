//! The `netdev` pack end to end: the real `orch` binary, the pack installed with the grants it
//! asks for (`ssh:inventory`, `catalog:inventory`), an imported inventory, vault credentials, and
//! a fleet of fakenos devices ([`crate::fleet`]) whose running config really changes: a Cisco IOS
//! `R1` whose `enable` asks for a password, and an Arista EOS `SW1`.

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

/// The fleet, and a host with netdev installed, the fleet's inventory imported and credentials
/// `lab` (login) and `lab-enable` (R1's enable secret) stored.
fn lab() -> (Fleet, TestHost) {
    let fleet = Fleet::start(&[
        DeviceSpec::new("R1", "cisco_ios", R1_CONFIG).with_enable_password(),
        DeviceSpec::new("SW1", "arista_eos", SW1_CONFIG),
    ]);
    let host = TestHost::new();
    let wasm = guest("netdev");
    host.orch(&["pack", "add", wasm.to_str().expect("utf-8 path"), "--yes"])
        .ok();
    secret(&host, "lab", &fleet.username, &fleet.password);
    let enable = fleet
        .device("R1")
        .enable_password
        .clone()
        .expect("R1 has an enable password");
    secret(&host, "lab-enable", &fleet.username, &enable);
    let inventory = fleet.write_inventory(host.home(), "lab", "lab-enable");
    host.orch(&[
        "inventory",
        "import",
        inventory.to_str().expect("utf-8 path"),
    ])
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
    let out = output(&r1, &fleet);
    assert_eq!(out["platform"], "cisco_ios");
    assert_eq!(
        out["config"], R1_CONFIG,
        "banners and size lines are removed"
    );
    let sw1 = output(
        &action(&host, "get_running_config", &json!({ "device": "SW1" })),
        &fleet,
    );
    assert_eq!(sw1["platform"], "arista_eos");
    assert_eq!(sw1["config"], SW1_CONFIG);

    // The enable secret is typed by the host: never in the pack's output or logs.
    let enable = fleet
        .device("R1")
        .enable_password
        .clone()
        .unwrap_or_default();
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
        &fleet,
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
        &fleet,
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
        &fleet,
    );
    assert_eq!(replace["mode"], "replace");
    assert_eq!(replace["would_send"], json!(["no ntp server 192.0.2.1"]));

    assert_eq!(running_config(&host, &fleet, "R1"), R1_CONFIG);
    assert_eq!(running_config(&host, &fleet, "SW1"), SW1_CONFIG);
}

#[test]
fn netdev_push_changes_the_running_config() {
    let (fleet, host) = lab();
    let pushed = output(
        &action(
            &host,
            "push_config",
            &json!({ "device": "R1", "save": true,
                     "config": ["interface Loopback1", " ip address 10.1.1.1 255.255.255.255",
                                "ntp server 192.0.2.2"] }),
        ),
        &fleet,
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
    let config = running_config(&host, &fleet, "R1");
    assert_eq!(
        config,
        R1_CONFIG.replace(
            "end\n",
            "interface Loopback1\n ip address 10.1.1.1 255.255.255.255\nntp server 192.0.2.2\nend\n"
        )
    );

    let eos = output(
        &action(
            &host,
            "push_config",
            &json!({ "device": "SW1", "config": "interface Ethernet1\n   description core uplink\n" }),
        ),
        &fleet,
    );
    assert_eq!(eos["errors"], json!([]));
    assert_eq!(
        running_config(&host, &fleet, "SW1"),
        SW1_CONFIG.replace("description uplink", "description core uplink")
    );
}

#[test]
fn netdev_replace_push_removes_lines_absent_from_the_target() {
    let (fleet, host) = lab();
    let golden = "hostname R1
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
            &json!({ "device": "R1", "replace": true, "config": golden }),
        ),
        &fleet,
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
    let config = running_config(&host, &fleet, "R1");
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
            &json!({ "device": "R1", "replace": true, "config": golden }),
        ),
        &fleet,
    );
    assert_eq!(again["sent"], json!([]));
}

#[test]
fn netdev_push_of_a_refused_line_fails_with_rejected_and_stops() {
    let (fleet, host) = lab();
    let run = action(
        &host,
        "push_config",
        &json!({ "device": "SW1", "config": ["ntp server 192.0.2.7", "frobnicate everything", "ntp server 192.0.2.8"] }),
    );
    let (code, message) = run.action_error();
    assert_eq!(code, "rejected", "{run:#?}");
    assert!(message.contains("frobnicate everything"), "{message}");
    assert!(message.contains("% Invalid input"), "{message}");
    let config = running_config(&host, &fleet, "SW1");
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
    assert_eq!(output(&ok, &fleet)["config"], R1_CONFIG);
    for secret in [&wrong, &enable] {
        assert_no_leak(&host, secret, &[&unnamed, &refused, &ok]);
    }
}

/// Issue 13's defect: a device that answers `show running-config` with a bare `Unknown command`
/// (here fakenos's stock IOS XR, which knows no such command, mislabelled `cisco_ios` in the
/// inventory) must fail the read, never hand the reply back as a configuration.
#[test]
fn netdev_reports_a_bare_unknown_command_reply_as_an_error_not_a_config() {
    let fleet = Fleet::start(&[DeviceSpec::stock("BARE1", "cisco_xr")]);
    let host = TestHost::new();
    let wasm = guest("netdev");
    host.orch(&["pack", "add", wasm.to_str().expect("utf-8 path"), "--yes"])
        .ok();
    secret(&host, "lab", &fleet.username, &fleet.password);
    let mut inventory: Value =
        serde_json::from_str(&fleet.inventory_yaml("lab", "lab-enable")).expect("json");
    inventory["devices"][0]["platform"] = json!("cisco_ios");
    let path = host.home().join("inventory.yaml");
    std::fs::write(&path, inventory.to_string()).expect("writing the inventory");
    host.orch(&["inventory", "import", path.to_str().expect("utf-8 path")])
        .ok();

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
