//! The `golden` actions on real configurations of each platform (`tests/configs/`): per-device
//! compliance through the action (input checks, rules of every platform in one list), the
//! fleet report over all seven with an unreachable device, and its Markdown summary showing the
//! tricky differences where a person reads them (nested lines under their parents, a `no`
//! form, a banner, an ACL entry, a filter in another order, a rule selecting nothing).

use std::path::{Path, PathBuf};

use golden::{ComplianceInput, ReportInput, compliance, report};
use orch_sdk::Context;
use serde_json::json;

const DEVICES: [(&str, &str); 7] = [
    ("R1", "cisco_ios"),
    ("SW1", "arista_eos"),
    ("N1", "cisco_nxos"),
    ("X1", "cisco_xr"),
    ("A1", "cisco_asa"),
    ("HW1", "huawei_vrp"),
    ("J1", "juniper_junos"),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/configs")
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn fleet_report_of_real_configs_shows_each_tricky_difference() {
    let rules: serde_json::Value =
        serde_json::from_str(&read(root().join("rules.json"))).expect("rules");
    let ctx = Context::for_tests();
    let mut results = Vec::new();
    for (device, platform) in DEVICES {
        let input: ComplianceInput = serde_json::from_value(json!({
            "device": device,
            "platform": platform,
            "running": read(root().join(platform).join("running.cfg")),
            "intended": read(root().join(platform).join("intended.cfg")),
            "rules": rules,
        }))
        .expect("input");
        let out = compliance(input, &ctx).expect("compliance");
        results.push(json!({ "device": device, "ok": true,
                             "compliance": serde_json::to_value(&out).expect("json") }));
    }
    results.push(json!({ "device": "DEAD1", "ok": false,
                         "error": "device unreachable: connection refused" }));
    let out = report(
        serde_json::from_value::<ReportInput>(
            json!({ "results": results, "title": "Lab compliance" }),
        )
        .expect("input"),
        &ctx,
    )
    .expect("report");
    let r = serde_json::to_value(&out.report).expect("json");
    assert_eq!(
        (
            &r["devices"],
            &r["compliant"],
            &r["non_compliant"],
            &r["unreachable"]
        ),
        (&json!(8), &json!(0), &json!(7), &json!(1))
    );
    assert_eq!(r["features"]["ntp"]["non_compliant"], 7);
    assert_eq!(r["features"]["acl"]["non_compliant"], 6, "{r:#}");
    assert_eq!(r["features"]["logging"]["compliant"], 7, "{r:#}");
    assert_eq!(r["features"]["tacacs"]["no_match"], 1);
    let md = &out.markdown;
    for needle in [
        "# Lab compliance",
        "**8 devices**: 0 compliant, 7 not compliant, 1 unreachable, 0 errors.",
        "### R1 / routing",
        "router bgp 65001\n address-family ipv4\n  neighbor 192.0.2.2 send-community\n",
        "router bgp 65001\n neighbor 192.0.2.2 description transit-a\n",
        "### N1 / routing",
        "      route-map SPINE-IN in\n",
        "no ip http server",
        "banner motd ^C\nAuthorised access only.\nAll activity is logged.\n^C",
        "ip access-list extended MGMT\n permit tcp 198.51.100.0 0.0.0.255 any eq 22",
        "### J1 / firewall",
        "another order",
        "set interfaces ge-0/0/1 disable",
        "- R1 / tacacs: rule \"tacacs\" selects no line",
        "- DEAD1 (unreachable): device unreachable: connection refused",
    ] {
        assert!(md.contains(needle), "{needle:?} not in\n{md}");
    }
}
