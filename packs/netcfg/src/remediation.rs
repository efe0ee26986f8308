//! The commands that turn a running config into an intended one, and those that roll them back.
//!
//! Per level of the tree (see [`crate::syntax`] for each platform's rules):
//! 1. running lines the intended config lacks are negated, except those the intended config
//!    replaces anyway (last value wins: same slot) and those never negated; at the top level,
//!    sections that other config may still reference are negated after everything else;
//! 2. intended lines running lacks are added with their whole section, in the intended order;
//! 3. a section in both is entered and compared the same way, unless it is one replaced whole
//!    (negated, then sent again in the intended order) or sent whole (sent again, no negation),
//!    in which case any difference, order included, sends it whole;
//! 4. top-level lines without a section that share the key of a group replaced whole (ASA and
//!    IOS numbered ACLs, Junos filters and policies in set form) are compared as one ordered
//!    group: a difference clears the group and sends it again.
//!
//! The rollback is the same computation from intended back to running: once the remediation is
//! applied, what the scope held is the intended config, so the commands from it to the old
//! running config restore it.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::compliance::{Rule, scope};
use crate::syntax::{Compiled, Syntax};
use crate::tree::{self, Node};

/// A remediation and its rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remediation {
    /// The commands that make running equal intended (over the scope), as a tree: a section
    /// line with the commands to type inside it.
    pub commands: Vec<Node>,
    /// The commands that undo them.
    pub rollback: Vec<Node>,
}

/// The remediation from `running` to `intended` (texts of `syntax`'s platform); with `rules`,
/// only over the top-level sections they select (what no rule covers is left alone).
pub fn remediation(
    syntax: &Syntax,
    running: &str,
    intended: &str,
    rules: Option<&[Rule]>,
) -> Remediation {
    let mut running = tree::parse(syntax, running);
    let mut intended = tree::parse(syntax, intended);
    if let Some(rules) = rules {
        running = scope(syntax, &running, rules);
        intended = scope(syntax, &intended, rules);
    }
    let compiled = syntax.compile();
    Remediation {
        commands: commands(syntax, &compiled, &running, &intended),
        rollback: commands(syntax, &compiled, &intended, &running),
    }
}

/// The commands that turn the top-level `running` nodes into `intended`.
pub fn commands(
    syntax: &Syntax,
    compiled: &Compiled,
    running: &[Node],
    intended: &[Node],
) -> Vec<Node> {
    let mut early = Vec::new();
    let mut late = Vec::new();
    let mut body = Vec::new();

    // Flat lines replaced whole, by group key.
    let group_of = |n: &Node| -> Option<String> {
        if n.children.is_empty() {
            compiled.replaced_whole(&n.text).map(str::to_owned)
        } else {
            None
        }
    };
    let mut run_groups: HashMap<String, Vec<&Node>> = HashMap::new();
    for n in running {
        if let Some(key) = group_of(n) {
            run_groups.entry(key).or_default().push(n);
        }
    }
    let mut want_groups: HashMap<String, Vec<&Node>> = HashMap::new();
    for n in intended {
        if let Some(key) = group_of(n) {
            want_groups.entry(key).or_default().push(n);
        }
    }

    let want_texts: HashSet<&str> = intended.iter().map(|n| n.text.as_str()).collect();
    let want_slots: HashSet<&str> = intended
        .iter()
        .filter_map(|n| compiled.slot(&n.text))
        .collect();
    let run_index: HashMap<&str, &Node> =
        running.iter().rev().map(|n| (n.text.as_str(), n)).collect();

    // 1. Removals.
    let mut cleared_groups: HashSet<String> = HashSet::new();
    for r in running {
        if let Some(key) = group_of(r) {
            if !want_groups.contains_key(&key) && cleared_groups.insert(key.clone()) {
                let target = if compiled.negated_late(&r.text) {
                    &mut late
                } else {
                    &mut early
                };
                target.push(Node::leaf(clear_group(syntax, &key)));
            }
            continue;
        }
        if want_texts.contains(r.text.as_str()) || compiled.never_negated(&r.text) {
            continue;
        }
        if compiled
            .slot(&r.text)
            .is_some_and(|slot| want_slots.contains(slot))
        {
            continue;
        }
        let negation = syntax.negate(first_line(&r.text));
        if added_anyway(&negation, &want_texts) {
            continue;
        }
        let negation = Node::leaf(negation);
        if compiled.negated_late(&r.text) {
            late.push(negation);
        } else {
            early.push(negation);
        }
    }

    // 2 and 3. Additions and sections in both, in the intended order; 4. groups.
    let mut sent_groups: HashSet<String> = HashSet::new();
    for w in intended {
        if let Some(key) = group_of(w) {
            if !sent_groups.insert(key.clone()) {
                continue;
            }
            let want = &want_groups[&key];
            let have = run_groups.get(&key).map(Vec::as_slice).unwrap_or(&[]);
            let same =
                have.len() == want.len() && have.iter().zip(want).all(|(a, b)| a.text == b.text);
            if same {
                continue;
            }
            if !have.is_empty() {
                body.push(Node::leaf(clear_group(syntax, &key)));
            }
            body.extend(want.iter().map(|n| (*n).clone()));
            continue;
        }
        match run_index.get(w.text.as_str()) {
            None => body.push(w.clone()),
            Some(r) => {
                if w.children.is_empty() && r.children.is_empty() {
                    continue;
                }
                if compiled.replaced_whole(&w.text).is_some() {
                    if r.children != w.children {
                        body.push(Node::leaf(syntax.negate(first_line(&w.text))));
                        body.push(w.clone());
                    }
                } else if compiled.resent_whole(&w.text) {
                    if r.children != w.children {
                        body.push(w.clone());
                    }
                } else {
                    let inner = section_commands(syntax, compiled, &r.children, &w.children);
                    if !inner.is_empty() {
                        body.push(Node {
                            text: w.text.clone(),
                            children: inner,
                        });
                    }
                }
            }
        }
    }
    early.extend(body);
    early.extend(late);
    early
}

/// The commands inside a section: removals first (a new value after `no` of the old), then
/// additions and subsections in the intended order.
fn section_commands(
    syntax: &Syntax,
    compiled: &Compiled,
    running: &[Node],
    intended: &[Node],
) -> Vec<Node> {
    let want_texts: HashSet<&str> = intended.iter().map(|n| n.text.as_str()).collect();
    let want_slots: HashSet<&str> = intended
        .iter()
        .filter_map(|n| compiled.slot(&n.text))
        .collect();
    let mut out = Vec::new();
    for r in running {
        if want_texts.contains(r.text.as_str()) {
            continue;
        }
        if compiled
            .slot(&r.text)
            .is_some_and(|slot| want_slots.contains(slot))
        {
            continue;
        }
        let negation = syntax.negate(first_line(&r.text));
        if !added_anyway(&negation, &want_texts) {
            out.push(Node::leaf(negation));
        }
    }
    let run_index: HashMap<&str, &Node> =
        running.iter().rev().map(|n| (n.text.as_str(), n)).collect();
    for w in intended {
        match run_index.get(w.text.as_str()) {
            None => out.push(w.clone()),
            Some(r) => {
                if w.children.is_empty() && r.children.is_empty() {
                    continue;
                }
                if compiled.resent_whole(&w.text) || compiled.replaced_whole(&w.text).is_some() {
                    if r.children != w.children {
                        if compiled.replaced_whole(&w.text).is_some() {
                            out.push(Node::leaf(syntax.negate(first_line(&w.text))));
                        }
                        out.push(w.clone());
                    }
                    continue;
                }
                let inner = section_commands(syntax, compiled, &r.children, &w.children);
                if !inner.is_empty() {
                    out.push(Node {
                        text: w.text.clone(),
                        children: inner,
                    });
                }
            }
        }
    }
    out
}

/// Whether the command that removes a running line is itself an intended line, which the
/// additions send anyway (`ip http server` running, `no ip http server` intended): sending it
/// as a removal too would type it twice.
fn added_anyway(negation: &str, want_texts: &HashSet<&str>) -> bool {
    want_texts.contains(negation)
}

/// The first line of a statement (a banner is negated by its opening line's kind).
fn first_line(text: &str) -> &str {
    match text.split_once('\n') {
        Some((first, _)) => banner_kind(first).unwrap_or(first),
        None => text,
    }
}

/// `banner motd` of `banner motd ^C`: what `no` takes to remove a banner.
fn banner_kind(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("banner ")?;
    let kind_end = rest.find(' ')?;
    Some(&line[..7 + kind_end])
}

fn clear_group(syntax: &Syntax, key: &str) -> String {
    let key = key.trim();
    match syntax.clear_group {
        Some(template) => template.replace("{key}", key),
        None => syntax.negate(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::{CISCO_ASA, CISCO_IOS, CISCO_XR, HUAWEI_VRP, JUNIPER_JUNOS};

    fn lines(syntax: &Syntax, nodes: &[Node]) -> Vec<String> {
        tree::typed_lines(syntax, nodes)
    }

    #[test]
    fn ios_negates_adds_and_lets_last_values_win() {
        let running = "hostname R1\ninterface Loopback0\n ip address 10.0.0.1 255.255.255.255\n shutdown\ninterface Loopback9\n description old\nntp server 192.0.2.1\nlogging host 192.0.2.50\nno ip domain lookup\nend\n";
        let intended = "hostname R2\ninterface Loopback0\n ip address 10.0.0.2 255.255.255.255\n description loopback\nntp server 192.0.2.2\nend\n";
        let r = remediation(&CISCO_IOS, running, intended, None);
        assert_eq!(
            lines(&CISCO_IOS, &r.commands),
            [
                "no ntp server 192.0.2.1",
                "no logging host 192.0.2.50",
                "ip domain lookup",
                "hostname R2",
                "interface Loopback0",
                " no shutdown",
                " ip address 10.0.0.2 255.255.255.255",
                " description loopback",
                "exit",
                "ntp server 192.0.2.2",
                // removed after the additions: config may still point at it
                "no interface Loopback9",
            ]
        );
        assert_eq!(
            lines(&CISCO_IOS, &r.rollback),
            [
                "no ntp server 192.0.2.2",
                "hostname R1",
                "interface Loopback0",
                " no description loopback",
                " ip address 10.0.0.1 255.255.255.255",
                " shutdown",
                "exit",
                "interface Loopback9",
                " description old",
                "exit",
                "ntp server 192.0.2.1",
                "logging host 192.0.2.50",
                "no ip domain lookup",
            ]
        );
        assert!(
            remediation(&CISCO_IOS, running, running, None)
                .commands
                .is_empty()
        );
    }

    #[test]
    fn a_negation_that_is_intended_is_sent_once() {
        let running = "ip http server\ninterface Loopback0\n shutdown\n";
        let intended = "no ip http server\ninterface Loopback0\n no shutdown\n";
        let r = remediation(&CISCO_IOS, running, intended, None);
        assert_eq!(
            lines(&CISCO_IOS, &r.commands),
            [
                "no ip http server",
                "interface Loopback0",
                " no shutdown",
                "exit"
            ]
        );
        assert_eq!(
            lines(&CISCO_IOS, &r.rollback),
            ["ip http server", "interface Loopback0", " shutdown", "exit"]
        );
    }

    #[test]
    fn ios_acl_in_another_order_is_replaced_whole() {
        let running = "ip access-list extended MGMT\n permit tcp any any eq 22\n deny ip any any\n";
        let intended =
            "ip access-list extended MGMT\n deny ip any any\n permit tcp any any eq 22\n";
        let r = remediation(&CISCO_IOS, running, intended, None);
        assert_eq!(
            lines(&CISCO_IOS, &r.commands),
            [
                "no ip access-list extended MGMT",
                "ip access-list extended MGMT",
                " deny ip any any",
                " permit tcp any any eq 22",
                "exit",
            ]
        );
    }

    #[test]
    fn nested_sections_are_entered_level_by_level() {
        let running = "router bgp 65001\n neighbor 192.0.2.2 remote-as 65002\n address-family ipv4\n  neighbor 192.0.2.2 activate\n exit-address-family\n";
        let intended = "router bgp 65001\n neighbor 192.0.2.2 remote-as 65002\n address-family ipv4\n  neighbor 192.0.2.2 activate\n  network 10.0.0.0 mask 255.0.0.0\n exit-address-family\n";
        let r = remediation(&CISCO_IOS, running, intended, None);
        assert_eq!(
            lines(&CISCO_IOS, &r.commands),
            [
                "router bgp 65001",
                " address-family ipv4",
                "  network 10.0.0.0 mask 255.0.0.0",
                " exit",
                "exit",
            ]
        );
        assert_eq!(
            lines(&CISCO_IOS, &r.rollback)[2],
            "  no network 10.0.0.0 mask 255.0.0.0"
        );
    }

    #[test]
    fn a_banner_is_set_again_or_removed_by_its_kind() {
        let running = "banner motd ^C\nold text\n^C\n";
        let intended = "banner motd ^C\nnew text\n^C\n";
        let r = remediation(&CISCO_IOS, running, intended, None);
        assert_eq!(
            lines(&CISCO_IOS, &r.commands),
            ["banner motd ^C", "new text", "^C"]
        );
        let gone = remediation(&CISCO_IOS, running, "hostname R1\n", None);
        assert_eq!(
            lines(&CISCO_IOS, &gone.commands),
            ["no banner motd", "hostname R1"]
        );
    }

    #[test]
    fn vrp_undoes() {
        let running = "sysname HW1\nntp-service unicast-server 192.0.2.1\ninterface GigabitEthernet0/0/1\n undo shutdown\n description a\n";
        let intended = "sysname HW2\nntp-service unicast-server 192.0.2.2\ninterface GigabitEthernet0/0/1\n description b\n";
        let r = remediation(&HUAWEI_VRP, running, intended, None);
        assert_eq!(
            lines(&HUAWEI_VRP, &r.commands),
            [
                "undo ntp-service unicast-server 192.0.2.1",
                "sysname HW2",
                "ntp-service unicast-server 192.0.2.2",
                "interface GigabitEthernet0/0/1",
                " shutdown",
                " description b",
                "quit",
            ]
        );
    }

    #[test]
    fn junos_deletes_sets_and_replaces_filters_whole() {
        let running = "set system host-name J1\nset system ntp server 192.0.2.1\nset firewall family inet filter MGMT term ssh from protocol tcp\nset firewall family inet filter MGMT term deny then discard\n";
        let intended = "set system host-name J2\nset system ntp server 192.0.2.2\nset firewall family inet filter MGMT term deny then discard\nset firewall family inet filter MGMT term ssh from protocol tcp\n";
        let r = remediation(&JUNIPER_JUNOS, running, intended, None);
        assert_eq!(
            lines(&JUNIPER_JUNOS, &r.commands),
            [
                "delete system ntp server 192.0.2.1",
                "set system host-name J2",
                "set system ntp server 192.0.2.2",
                "delete firewall family inet filter MGMT",
                "set firewall family inet filter MGMT term deny then discard",
                "set firewall family inet filter MGMT term ssh from protocol tcp",
            ]
        );
    }

    #[test]
    fn xr_route_policy_is_sent_whole_without_removal() {
        let running = "route-policy PASS\n  drop\nend-policy\n!\n";
        let intended = "route-policy PASS\n  pass\nend-policy\n!\n";
        let r = remediation(&CISCO_XR, running, intended, None);
        assert_eq!(
            lines(&CISCO_XR, &r.commands),
            ["route-policy PASS", " pass", " end-policy"]
        );
    }

    #[test]
    fn asa_acl_groups_are_cleared_and_entered_again_in_order() {
        let running = "access-list OUTSIDE extended permit tcp any any eq 443\naccess-list OUTSIDE extended deny ip any any\nhostname A1\n";
        let intended = "access-list OUTSIDE extended deny ip any any\naccess-list OUTSIDE extended permit tcp any any eq 443\nhostname A1\n";
        let r = remediation(&CISCO_ASA, running, intended, None);
        assert_eq!(
            lines(&CISCO_ASA, &r.commands),
            [
                "clear configure access-list OUTSIDE",
                "access-list OUTSIDE extended deny ip any any",
                "access-list OUTSIDE extended permit tcp any any eq 443",
            ]
        );
    }

    #[test]
    fn rules_scope_the_remediation_to_their_features() {
        let running = "hostname R1\nntp server 192.0.2.1\nsnmp-server community x RO\n";
        let intended = "hostname R2\nntp server 192.0.2.2\n";
        let rules = [Rule {
            platform: None,
            feature: "ntp".into(),
            prefixes: vec!["ntp ".into()],
            ordered: false,
        }];
        let r = remediation(&CISCO_IOS, running, intended, Some(&rules));
        assert_eq!(
            lines(&CISCO_IOS, &r.commands),
            ["no ntp server 192.0.2.1", "ntp server 192.0.2.2"]
        );
    }
}
