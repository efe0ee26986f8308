//! Configuration compliance end to end on real configurations of each platform
//! (`tests/configs/`): seven fakenos devices boot with their `running.cfg`, the intended configs
//! and the rules go into the catalog, and
//! - the `config-compliance` workflow (through `site-compliance` and `device-compliance`)
//!   reports every device per feature, the nested, `no`-form, banner and ACL differences in
//!   its Markdown summary, the rule that selects nothing, a device nothing answers on and one
//!   without an intended config;
//! - `golden.remediation` computed from what each device returns is the reviewed
//!   `remediation.txt`; pushed with `netdev.push_config` it makes the device compliant (the
//!   fleet check then says so), and the rollback pushed after it brings back the original
//!   config.

use serde_json::{Value, json};

use crate::fleet::DeviceSpec;
use crate::harness::workspace;
use crate::lab::NetLab;

/// Device name (the fixture's hostname) and platform.
const DEVICES: [(&str, &str); 7] = [
    ("R1", "cisco_ios"),
    ("SW1", "arista_eos"),
    ("N1", "cisco_nxos"),
    ("X1", "cisco_xr"),
    ("A1", "cisco_asa"),
    ("HW1", "huawei_vrp"),
    ("J1", "juniper_junos"),
];

fn fixture(platform: &str, file: &str) -> String {
    let path = workspace().join("tests/configs").join(platform).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn rules() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(workspace().join("tests/configs/rules.json")).expect("rules"),
    )
    .expect("rules.json")
}

fn lab() -> NetLab {
    let mut specs: Vec<DeviceSpec> = DEVICES
        .iter()
        .map(|(name, platform)| {
            let spec = DeviceSpec::new(name, platform, &fixture(platform, "running.cfg")).fast();
            if matches!(*platform, "cisco_ios" | "cisco_asa") {
                spec.with_enable_password()
            } else {
                spec
            }
        })
        .collect();
    // A device with no intended config.
    specs.push(DeviceSpec::new("R2", "cisco_ios", "hostname R2\nntp server 192.0.2.1\n").fast());
    let lab = NetLab::start(&specs, &[NetLab::dead_device("DEAD1")], &[]);
    lab.put_json("compliance", "rules/default", &rules());
    for (name, platform) in DEVICES {
        lab.put_text(
            "configs",
            &format!("{name}/intended"),
            &fixture(platform, "intended.cfg"),
        );
    }
    lab
}

/// Runs `config-compliance` over the lab: its output.
fn fleet_check(lab: &NetLab) -> Value {
    lab.succeeded(&lab.run(
        "config-compliance",
        &[
            r#"tags={"site": "lab"}"#,
            "concurrency=4",
            "per_site=2",
            "title=Lab compliance",
        ],
    ))
}

fn compliance(lab: &NetLab, device: &str, platform: &str, intended: &str) -> Value {
    let running =
        lab.action("netdev.get_running_config", &json!({ "device": device }))["config"].clone();
    lab.action(
        "golden.compliance",
        &json!({ "device": device, "platform": platform, "running": running,
                 "intended": intended, "rules": rules() }),
    )
}

/// The features of a compliance result that are not compliant (no-match rules aside).
fn failing(result: &Value) -> Vec<String> {
    result["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter(|f| f["status"] == "non_compliant")
        .map(|f| f["feature"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn fleet_compliance_reports_then_remediation_and_rollback_apply_on_every_platform() {
    let lab = lab();

    // 1. The fleet report: every real config differs from its intended one.
    let out = fleet_check(&lab);
    assert_eq!(
        (
            &out["devices"],
            &out["compliant"],
            &out["non_compliant"],
            &out["unreachable"],
            &out["errors"]
        ),
        (&json!(9), &json!(0), &json!(7), &json!(1), &json!(1)),
        "{out:#}"
    );
    let (report, version) = lab.record("compliance", "fleet/report");
    assert_eq!(out["report_version"], version);
    assert_eq!(report["features"]["ntp"]["non_compliant"], 7, "{report:#}");
    assert_eq!(report["features"]["tacacs"]["no_match"], 1, "{report:#}");
    let summary = out["summary"].as_str().expect("summary");
    let (stored, _) = lab.record("compliance", "fleet/summary");
    assert_eq!(stored.as_str(), Some(summary));
    for needle in [
        "# Lab compliance",
        "**9 devices**: 0 compliant, 7 not compliant, 1 unreachable, 1 errors.",
        // Nested: the missing line under both its parents.
        "router bgp 65001\n address-family ipv4\n  neighbor 192.0.2.2 send-community\n",
        "router bgp 65001\n  neighbor 10.0.2.2\n    address-family ipv4 unicast\n      route-map SPINE-IN in\n",
        // A `no` form, a banner, an ACL entry inserted mid-list, a VRP rule, a Junos filter.
        "no ip http server",
        "All activity is logged.",
        "permit tcp 198.51.100.0 0.0.0.255 any eq 22",
        "rule 8 permit udp source 192.0.2.0 0.0.0.255 destination-port eq snmp",
        "### J1 / firewall",
        "- R1 / tacacs: rule \"tacacs\" selects no line",
        "- DEAD1 (unreachable)",
        "- R2 (error): no intended config at configs/R2/intended",
    ] {
        assert!(
            summary.contains(needle),
            "{needle:?} not in the summary:\n{summary}"
        );
    }
    // Each device's result is stored too.
    let (r1, _) = lab.record("compliance", "device/R1");
    assert_eq!(
        failing(&r1),
        [
            "dns-http",
            "interfaces",
            "routing",
            "acl",
            "snmp",
            "ntp",
            "banner"
        ]
    );

    // 2. Remediation from what each device says, applied. One device at a time: the fleet is
    // one Python process, and seven pushes at once on two cores outlast the actions' deadline.
    let rollbacks: Vec<Value> = DEVICES
        .iter()
        .map(|(device, platform)| remediate(&lab, device, platform))
        .collect();

    // 3. The fleet check agrees: every remediated device is compliant, except R1, whose
    // `tacacs` rule selects nothing (a rule to fix, never a pass).
    let out = fleet_check(&lab);
    assert_eq!(
        (
            &out["compliant"],
            &out["non_compliant"],
            &out["unreachable"],
            &out["errors"]
        ),
        (&json!(6), &json!(1), &json!(1), &json!(1)),
        "{out:#}"
    );
    let (report, _) = lab.record("compliance", "fleet/report");
    let r1 = report["by_device"]
        .as_array()
        .expect("by_device")
        .iter()
        .find(|d| d["device"] == "R1")
        .expect("R1");
    assert_eq!(r1["features"]["tacacs"], "no_match", "{r1:#}");
    assert_eq!(r1["features"]["banner"], "compliant", "{r1:#}");

    // 4. The rollbacks bring every device back to its original config.
    for ((device, platform), rollback) in DEVICES.iter().zip(rollbacks) {
        roll_back(&lab, device, platform, &rollback);
    }
}

/// On one device: the remediation computed from its running config is the reviewed one, and
/// pushed it makes the device compliant. Returns the rollback (config text).
fn remediate(lab: &NetLab, device: &str, platform: &str) -> Value {
    let intended = fixture(platform, "intended.cfg");
    let running =
        lab.action("netdev.get_running_config", &json!({ "device": device }))["config"].clone();
    let plan = lab.action(
        "golden.remediation",
        &json!({ "platform": platform, "running": running, "intended": intended }),
    );
    let typed: Vec<String> = plan["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l.as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        typed.join("\n") + "\n",
        fixture(platform, "remediation.txt"),
        "{device}: the remediation from the device's config is not the reviewed one"
    );
    let pushed = lab.action(
        "netdev.push_config",
        &json!({ "device": device, "config": plan["commands"], "save": true }),
    );
    assert_eq!(pushed["errors"], json!([]), "{device}: {pushed:#}");
    let after = compliance(lab, device, platform, &intended);
    assert_eq!(
        failing(&after),
        Vec::<String>::new(),
        "{device} after remediation: {after:#}"
    );
    plan["rollback"].clone()
}

/// Pushes `rollback` to the device: its config is the original one again.
fn roll_back(lab: &NetLab, device: &str, platform: &str, rollback: &Value) {
    let rolled = lab.action(
        "netdev.push_config",
        &json!({ "device": device, "config": rollback }),
    );
    assert_eq!(rolled["errors"], json!([]), "{device}: {rolled:#}");
    let back = compliance(lab, device, platform, &fixture(platform, "running.cfg"));
    assert_eq!(
        failing(&back),
        Vec::<String>::new(),
        "{device} after rollback: {back:#}"
    );
}
