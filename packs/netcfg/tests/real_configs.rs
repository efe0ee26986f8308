//! Compliance and remediation on real configurations of each platform (`tests/configs/`): a
//! device's running config and its intended one, differing in the tricky cases (nested
//! sections, `no`/`undo`/`delete` forms, last-value-wins commands, banners, order-sensitive ACLs
//! and filters, route policies, a rule selecting nothing). Checked here: each feature's verdict
//! and its parent-aware missing/extra lines, the remediation and rollback commands (against the
//! reviewed `remediation.txt` / `rollback.txt` of each platform), and the properties that hold
//! whatever the config: nothing to do between equal configs, the rollback's remediation is the
//! remediation, per-feature remediations touch only their feature. `tests/e2e/compliance.rs`
//! applies the same commands to simulated devices and checks the result.

use std::path::{Path, PathBuf};

use netcfg::{FeatureStatus, Rule, Syntax, compliance, remediation, tree};

const PLATFORMS: [&str; 7] = [
    "cisco_ios",
    "arista_eos",
    "cisco_nxos",
    "cisco_xr",
    "cisco_asa",
    "huawei_vrp",
    "juniper_junos",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/configs")
}

fn read(platform: &str, file: &str) -> String {
    let path = root().join(platform).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn rules() -> Vec<Rule> {
    serde_json::from_str(&std::fs::read_to_string(root().join("rules.json")).expect("rules.json"))
        .expect("rules.json holds rules")
}

fn syntax(platform: &str) -> &'static Syntax {
    Syntax::for_platform(platform).expect("a platform")
}

/// The features of `platform` that are not compliant, in the rules' order, and those whose rule
/// selects nothing.
fn verdicts(platform: &str) -> (Vec<String>, Vec<String>) {
    let c = compliance(
        syntax(platform),
        &read(platform, "running.cfg"),
        &read(platform, "intended.cfg"),
        &rules(),
    );
    let of = |status: FeatureStatus| {
        c.features
            .iter()
            .filter(|f| f.status == status)
            .map(|f| f.feature.clone())
            .collect()
    };
    (of(FeatureStatus::NonCompliant), of(FeatureStatus::NoMatch))
}

#[test]
fn each_platform_s_features_are_judged_as_a_person_would() {
    let expected: [(&str, &[&str], &[&str]); 7] = [
        (
            "cisco_ios",
            &[
                "dns-http",
                "interfaces",
                "routing",
                "acl",
                "snmp",
                "ntp",
                "banner",
            ],
            &["tacacs"],
        ),
        (
            "arista_eos",
            &["vlans", "interfaces", "acl", "routing", "ntp", "management"],
            &[],
        ),
        (
            "cisco_nxos",
            &["dns", "acl", "ntp", "interfaces", "routing"],
            &[],
        ),
        (
            "cisco_xr",
            &["ntp", "acl", "interfaces", "policy", "routing", "snmp"],
            &[],
        ),
        (
            "cisco_asa",
            &["interfaces", "objects", "acl", "ntp", "ssh"],
            &[],
        ),
        (
            "huawei_vrp",
            &["acl", "interfaces", "routing", "snmp", "ntp", "vty"],
            &[],
        ),
        (
            "juniper_junos",
            &["ntp", "interfaces", "snmp", "policy", "firewall"],
            &[],
        ),
    ];
    for (platform, non_compliant, no_match) in expected {
        let (got, none) = verdicts(platform);
        assert_eq!(got, non_compliant, "{platform}: features not compliant");
        assert_eq!(none, no_match, "{platform}: rules selecting nothing");
    }
}

#[test]
fn missing_and_extra_lines_are_shown_under_their_parents() {
    let rules = rules();
    let feature = |platform: &str, name: &str| {
        compliance(
            syntax(platform),
            &read(platform, "running.cfg"),
            &read(platform, "intended.cfg"),
            &rules,
        )
        .features
        .into_iter()
        .find(|f| f.feature == name)
        .unwrap_or_else(|| panic!("{platform} has no feature {name}"))
    };
    // Two levels down, a line missing; one level down, a line extra.
    let bgp = feature("cisco_ios", "routing");
    assert_eq!(
        bgp.missing,
        "router bgp 65001\n address-family ipv4\n  neighbor 192.0.2.2 send-community\n"
    );
    assert_eq!(
        bgp.extra,
        "router bgp 65001\n neighbor 192.0.2.2 description transit-a\n"
    );
    // Three levels down (NX-OS neighbor address family).
    assert_eq!(
        feature("cisco_nxos", "routing").missing,
        "router bgp 65001\n  neighbor 10.0.2.2\n    address-family ipv4 unicast\n      route-map SPINE-IN in\n"
    );
    // A `no` form replacing its positive form.
    let http = feature("cisco_ios", "dns-http");
    assert_eq!(
        (http.missing.as_str(), http.extra.as_str()),
        ("no ip http server\n", "ip http server\n")
    );
    // A banner compared as one statement.
    let banner = feature("cisco_ios", "banner");
    assert!(
        banner.missing.contains("All activity is logged.")
            && banner.extra.contains("Disconnect now"),
        "{banner:#?}"
    );
    // An ACL entry inserted mid-list is missing under its ACL.
    assert_eq!(
        feature("cisco_ios", "acl").missing,
        "ip access-list extended MGMT\n permit tcp 198.51.100.0 0.0.0.255 any eq 22\n"
    );
    assert_eq!(
        feature("cisco_asa", "acl").missing,
        "access-list OUTSIDE-IN extended permit tcp object-group ADMINS host 10.5.0.10 eq ssh\n"
    );
    // The same terms in another order: nothing missing or extra, still not compliant.
    let filter = feature("juniper_junos", "firewall");
    assert_eq!((filter.missing.as_str(), filter.extra.as_str()), ("", ""));
    assert_eq!(filter.status, FeatureStatus::NonCompliant);
    assert!(
        filter
            .message
            .as_deref()
            .is_some_and(|m| m.contains("another order")),
        "{filter:#?}"
    );
    // A rule selecting nothing says so.
    let tacacs = feature("cisco_ios", "tacacs");
    assert!(!tacacs.compliant);
    assert!(
        tacacs
            .message
            .as_deref()
            .is_some_and(|m| m.contains("selects no line")),
        "{tacacs:#?}"
    );
}

#[test]
fn remediation_and_rollback_are_the_reviewed_commands() {
    for platform in PLATFORMS {
        let s = syntax(platform);
        let r = remediation(
            s,
            &read(platform, "running.cfg"),
            &read(platform, "intended.cfg"),
            None,
        );
        let typed = |nodes: &[netcfg::Node]| tree::typed_lines(s, nodes).join("\n") + "\n";
        assert_eq!(
            typed(&r.commands),
            read(platform, "remediation.txt"),
            "{platform}: remediation"
        );
        assert_eq!(
            typed(&r.rollback),
            read(platform, "rollback.txt"),
            "{platform}: rollback"
        );
    }
}

#[test]
fn the_tricky_cases_are_remediated_by_the_platform_s_rules() {
    let lines = |platform: &str| -> Vec<String> {
        read(platform, "remediation.txt")
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let has = |platform: &str, line: &str| lines(platform).iter().any(|l| l == line);
    let position = |platform: &str, line: &str| {
        lines(platform)
            .iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("{platform}: {line:?} not sent"))
    };
    // Last value wins: the new value only, never a negation of the old one first.
    for (platform, old) in [
        ("cisco_ios", "no snmp-server location lab rack 1"),
        ("cisco_ios", " no description to SW1"),
        ("cisco_asa", "no ssh timeout 15"),
        ("huawei_vrp", "undo snmp-agent sys-info location lab rack 1"),
        ("juniper_junos", "delete snmp location \"lab rack 1\""),
    ] {
        assert!(!has(platform, old), "{platform}: {old:?} sent");
    }
    // A `no` form is sent once, and a shut port is brought up by the negation of `shutdown`.
    assert_eq!(
        lines("cisco_ios")
            .iter()
            .filter(|l| *l == "no ip http server")
            .count(),
        1
    );
    assert!(has("cisco_ios", " no shutdown"));
    assert!(has("juniper_junos", "delete interfaces ge-0/0/1 disable"));
    // Ordered lists without sequence numbers are replaced whole, in the intended order.
    assert!(
        position("cisco_ios", "no ip access-list extended MGMT")
            < position("cisco_ios", "ip access-list extended MGMT")
    );
    assert!(
        position("cisco_asa", "clear configure access-list OUTSIDE-IN")
            < position(
                "cisco_asa",
                "access-list OUTSIDE-IN extended permit tcp any host 10.5.0.10 eq https"
            )
    );
    assert!(
        position(
            "juniper_junos",
            "delete firewall family inet filter PROTECT-RE"
        ) < position(
            "juniper_junos",
            "set firewall family inet filter PROTECT-RE term icmp then accept"
        )
    );
    // With sequence numbers the new entry is enough: the device sorts it in.
    assert!(has(
        "cisco_xr",
        " 15 permit tcp 198.51.100.0 0.0.0.255 any eq ssh"
    ));
    assert!(!has("cisco_xr", "no ipv4 access-list MGMT"));
    assert!(has(
        "huawei_vrp",
        " rule 8 permit udp source 192.0.2.0 0.0.0.255 destination-port eq snmp"
    ));
    // An IOS XR route policy is sent whole, without a removal first.
    assert!(has("cisco_xr", "route-policy TO-PE2"));
    assert!(!has("cisco_xr", "no route-policy TO-PE2"));
    // A banner is set again with its delimiter.
    assert!(has("cisco_ios", "banner motd ^C") && has("cisco_ios", "All activity is logged."));
}

#[test]
fn remediation_properties_hold_on_every_platform() {
    let rules = rules();
    for platform in PLATFORMS {
        let s = syntax(platform);
        let running = read(platform, "running.cfg");
        let intended = read(platform, "intended.cfg");
        for config in [&running, &intended] {
            let none = remediation(s, config, config, None);
            assert!(
                none.commands.is_empty() && none.rollback.is_empty(),
                "{platform}: equal configs need nothing"
            );
            let c = compliance(s, config, config, &rules);
            assert!(
                c.features
                    .iter()
                    .all(|f| f.compliant || f.status == FeatureStatus::NoMatch),
                "{platform}: a config is compliant with itself"
            );
        }
        // The way back is the way there, reversed.
        let there = remediation(s, &running, &intended, None);
        let back = remediation(s, &intended, &running, None);
        assert_eq!(there.commands, back.rollback, "{platform}");
        assert_eq!(there.rollback, back.commands, "{platform}");
        // A feature's remediation sends only lines of that feature's sections.
        for rule in rules.iter().filter(|r| r.applies_to(s)) {
            let scoped = remediation(s, &running, &intended, Some(std::slice::from_ref(rule)));
            for node in &scoped.commands {
                let text = node.text.trim_start_matches(s.negation).trim_start();
                let text = text.strip_prefix("clear configure ").unwrap_or(text);
                let text = match s.positive {
                    Some(set) if !text.starts_with(set) => format!("{set} {text}"),
                    _ => text.to_owned(),
                };
                assert!(
                    rule.prefixes.iter().any(|p| text.starts_with(p.as_str())),
                    "{platform} {}: {:?} is outside the feature",
                    rule.feature,
                    node.text
                );
            }
        }
    }
}
