//! The `discover` workflow (`workflows/discover.yaml` + `discover-device.yaml`) end to end on a
//! fakenos fleet of four platforms, an inventory device nothing answers on and one whose output
//! no template recognises (fakenos's stock IOS XR labelled `cisco_ios`): facts are stored as
//! versions of `facts/<device>`, the failures are listed with their codes, and
//! `golden.render_intended` (and the `intended` workflow) render templates from those facts.

use serde_json::{Value, json};

use crate::fleet::DeviceSpec;
use crate::lab::NetLab;

const R1: &str = "hostname R1
interface Loopback0
 ip address 10.0.0.1 255.255.255.255
interface GigabitEthernet0/1
 description to SW1
 ip address 10.1.0.1 255.255.255.252
interface GigabitEthernet0/2
 shutdown
ntp server 192.0.2.1
";

const SW1: &str = "hostname SW1
interface Ethernet1
   description to R1
   no switchport
   ip address 10.1.0.2/30
ntp server 192.0.2.1
";

const J1: &str = "set system host-name J1
set interfaces ge-0/0/0 unit 0 family inet address 10.2.0.1/24
";

const HW1: &str = "sysname HW1
#
interface GigabitEthernet0/0/1
 ip address 10.3.0.1 255.255.255.0
#
return
";

fn lab() -> NetLab {
    NetLab::start(
        &[
            DeviceSpec::new("R1", "cisco_ios", R1).with_enable_password(),
            DeviceSpec::new("SW1", "arista_eos", SW1),
            DeviceSpec::new("J1", "juniper_junos", J1),
            DeviceSpec::new("HW1", "huawei_vrp", HW1),
            DeviceSpec::stock("BARE1", "cisco_xr"),
        ],
        &[NetLab::dead_device("DEAD1")],
        &[("BARE1", "cisco_ios")],
    )
}

fn names(value: &Value) -> Vec<String> {
    let mut names: Vec<String> = value
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn discover_stores_versioned_facts_lists_failures_and_feeds_intended_templates() {
    let lab = lab();
    let discover = |run: u64| {
        let out =
            lab.succeeded(&lab.run("discover", &[r#"tags={"site": "lab"}"#, "concurrency=2"]));
        assert_eq!(out["devices"], 6, "{out:#}");
        assert_eq!(
            names(&out["discovered"]),
            ["HW1", "J1", "R1", "SW1"],
            "{out:#}"
        );
        assert_eq!(out["unreachable"], json!(["DEAD1"]), "{out:#}");
        let failed = out["failed"].as_array().expect("failed");
        let codes: Vec<(&str, &str)> = failed
            .iter()
            .map(|f| {
                (
                    f["device"].as_str().unwrap_or_default(),
                    f["code"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            codes,
            [("BARE1", "unrecognised_output"), ("DEAD1", "unreachable")],
            "{out:#}"
        );
        let bare = failed[0]["error"].as_str().unwrap_or_default();
        assert!(bare.contains("textfsm/cisco_ios_show_"), "{bare}");
        for device in ["R1", "SW1", "J1", "HW1"] {
            let (facts, version) = lab.record("facts", device);
            assert_eq!(version, run, "facts/{device}");
            assert_eq!(facts["hostname"], device, "{facts:#}");
        }
        for device in ["DEAD1", "BARE1"] {
            let missing = lab.host.orch(&["catalog", "get", "facts", device]);
            assert_eq!(missing.code, 2, "nothing stored for {device}: {missing:#?}");
        }
    };
    discover(1);

    let (r1, _) = lab.record("facts", "R1");
    assert_eq!(r1["vendor"], "Cisco");
    assert_eq!(r1["os_version"], "15.9(3)M4");
    assert_eq!(
        r1["interfaces"],
        json!([
            { "name": "Loopback0", "status": "up", "description": "", "addresses": ["10.0.0.1/32"] },
            { "name": "GigabitEthernet0/1", "status": "up", "description": "to SW1", "addresses": ["10.1.0.1/30"] },
            { "name": "GigabitEthernet0/2", "status": "admin_down", "description": "", "addresses": [] },
        ])
    );
    let (j1, _) = lab.record("facts", "J1");
    assert_eq!(j1["vendor"], "Juniper");
    assert!(
        j1["uptime"]
            .as_str()
            .is_some_and(|u| u.starts_with("since ")),
        "{j1:#}"
    );

    // Templates see the facts: the serial in a comment, an interface per address.
    let template = "hostname {{ device.name }}
! serial {{ facts.serial }}, {{ facts.vendor }} {{ facts.model }} {{ facts.os_version }}
{% for i in facts.interfaces if i.addresses %}
interface {{ i.name }}
 description {{ i.description or 'managed' }}
{% endfor %}
";
    lab.put_text("templates", "ios-from-facts", template);
    let rendered = lab.action(
        "golden.render_intended",
        &json!({ "device": "R1", "template_key": "ios-from-facts" }),
    );
    assert_eq!(rendered["facts_version"], 1, "{rendered:#}");
    let serial = r1["serial"].as_str().expect("serial");
    assert_eq!(
        rendered["config"],
        format!(
            "hostname R1\n! serial {serial}, Cisco IOSv 15.9(3)M4\ninterface Loopback0\n description managed\ninterface GigabitEthernet0/1\n description to SW1\n"
        )
    );

    // A second discovery adds versions; the intended workflow renders from the newest.
    discover(2);
    let out = lab.succeeded(&lab.run(
        "intended",
        &[r#"tags={"site": "lab"}"#, "template_key=ios-from-facts"],
    ));
    assert_eq!(
        names(&out["rendered"]),
        ["HW1", "J1", "R1", "SW1"],
        "{out:#}"
    );
    // BARE1 and DEAD1 have no facts: the template fails for them, naming its line.
    let failed = out["failed"].as_array().expect("failed");
    let mut devices: Vec<&str> = failed
        .iter()
        .map(|f| f["device"].as_str().unwrap_or_default())
        .collect();
    devices.sort_unstable();
    assert_eq!(devices, ["BARE1", "DEAD1"], "{out:#}");
    assert!(
        failed
            .iter()
            .all(|f| f["error"].as_str().is_some_and(|e| e.contains("line 2"))),
        "{out:#}"
    );
    let (hw1, _) = lab.record("configs", "HW1/intended");
    assert!(
        hw1.as_str()
            .is_some_and(|c| c.contains("Huawei CE6800 8.210\ninterface GigabitEthernet0/0/1\n")),
        "{hw1:#}"
    );
    let (intended, _) = lab.record("configs", "R1/intended");
    assert!(
        intended
            .as_str()
            .is_some_and(|c| c.contains(&format!("! serial {serial}"))),
        "{intended:#}"
    );
}
