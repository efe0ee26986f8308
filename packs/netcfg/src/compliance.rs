//! Per-feature compliance of a running config against an intended one.
//!
//! A [`Rule`] names a feature (`ntp`, `aaa`, `acl-mgmt`) and the prefixes of the top-level
//! lines that make it up (`ntp `, `ip access-list extended MGMT`; for Junos, set commands such
//! as `set system ntp `): each selected line comes with its whole section. Per feature the
//! result says whether running matches intended, and if not, the lines missing from running and
//! the extra ones, each shown under its parents (a missing `description` appears under its
//! `interface` line). With `ordered`, the same lines in another order are not compliant (ACLs,
//! route maps). A rule that selects nothing in either config is reported as `no_match`, never
//! as compliant: a mistyped prefix must not look like a passing check. The running config's
//! top-level lines that no rule selects are reported too (`uncovered`).

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::syntax::{Compiled, Syntax};
use crate::tree::{self, Node};

/// A compliance rule: one feature of one platform.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Platform the rule applies to (`cisco_ios`); absent: every platform.
    #[serde(default)]
    pub platform: Option<String>,
    /// Feature name (`ntp`).
    pub feature: String,
    /// Prefixes of the top-level lines (with their sections) that make up the feature.
    #[serde(rename = "match")]
    pub prefixes: Vec<String>,
    /// Whether the order of the lines matters (ACLs, route maps).
    #[serde(default)]
    pub ordered: bool,
}

impl Rule {
    /// Whether the rule applies to `syntax`'s platform.
    pub fn applies_to(&self, syntax: &Syntax) -> bool {
        match &self.platform {
            None => true,
            Some(p) => Syntax::for_platform(p).is_some_and(|s| s.platform == syntax.platform),
        }
    }

    fn selects(&self, line: &str) -> bool {
        self.prefixes.iter().any(|p| line.starts_with(p.as_str()))
    }
}

/// A feature's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeatureStatus {
    /// Running has exactly the intended lines (in order, for an ordered rule).
    Compliant,
    /// Lines are missing or extra, or out of order.
    NonCompliant,
    /// The rule selects no line in either config: a rule to fix, not a pass.
    NoMatch,
}

/// The compliance of one feature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FeatureResult {
    /// Feature name.
    pub feature: String,
    /// The verdict.
    pub status: FeatureStatus,
    /// `status == compliant`.
    pub compliant: bool,
    /// Whether order counts.
    pub ordered: bool,
    /// Intended lines running lacks, under their parents, as config text.
    pub missing: String,
    /// Running lines intended lacks, under their parents, as config text.
    pub extra: String,
    /// The feature's lines in the intended config.
    pub intended: String,
    /// The feature's lines in the running config.
    pub actual: String,
    /// Why, in words, when it is not compliant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The compliance of one config against its intended one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Compliance {
    /// The platform whose syntax and rules were used.
    pub platform: String,
    /// Whether every feature is compliant.
    pub compliant: bool,
    /// One result per rule of the platform, in the rules' order.
    pub features: Vec<FeatureResult>,
    /// Running config no rule selects, as config text.
    pub uncovered: String,
    /// How many lines that is.
    pub uncovered_lines: usize,
}

/// The top-level nodes of `nodes` that `rule` selects.
fn select<'n>(rule: &Rule, nodes: &'n [Node]) -> Vec<&'n Node> {
    nodes.iter().filter(|n| rule.selects(&n.text)).collect()
}

/// Lines of `want` that `have` lacks, under their parents.
pub fn lacking(want: &[&Node], have: &[&Node]) -> Vec<Node> {
    let index: HashMap<&str, &Node> = have.iter().rev().map(|n| (n.text.as_str(), *n)).collect();
    let mut out = Vec::new();
    for w in want {
        match index.get(w.text.as_str()) {
            None => out.push((*w).clone()),
            Some(h) => {
                let want_children: Vec<&Node> = w.children.iter().collect();
                let have_children: Vec<&Node> = h.children.iter().collect();
                let sub = lacking(&want_children, &have_children);
                if !sub.is_empty() {
                    out.push(Node {
                        text: w.text.clone(),
                        children: sub,
                    });
                }
            }
        }
    }
    out
}

fn owned(nodes: &[&Node]) -> Vec<Node> {
    nodes.iter().map(|n| (*n).clone()).collect()
}

/// Compares `running` with `intended` (config texts of `syntax`'s platform) feature by feature
/// with the `rules` that apply to the platform.
pub fn compliance(syntax: &Syntax, running: &str, intended: &str, rules: &[Rule]) -> Compliance {
    let running = tree::parse(syntax, running);
    let intended = tree::parse(syntax, intended);
    let rules: Vec<&Rule> = rules.iter().filter(|r| r.applies_to(syntax)).collect();
    // Only ordered rules need the platform's patterns (which lines form groups).
    let compiled = rules.iter().any(|r| r.ordered).then(|| syntax.compile());
    let mut features = Vec::with_capacity(rules.len());
    for rule in &rules {
        let have = select(rule, &running);
        let want = select(rule, &intended);
        let missing = lacking(&want, &have);
        let extra = lacking(&have, &want);
        let actual = tree::render(syntax, &owned(&have));
        let intended_text = tree::render(syntax, &owned(&want));
        let (status, message) = if have.is_empty() && want.is_empty() {
            (
                FeatureStatus::NoMatch,
                Some(format!(
                    "rule {:?} selects no line of the running or the intended config (prefixes {:?}); check its prefixes",
                    rule.feature, rule.prefixes
                )),
            )
        } else if !missing.is_empty() || !extra.is_empty() {
            (
                FeatureStatus::NonCompliant,
                Some(format!(
                    "{} line(s) missing, {} extra",
                    tree::count(&missing),
                    tree::count(&extra)
                )),
            )
        } else if let Some(compiled) = compiled.as_ref().filter(|_| rule.ordered)
            && order_differs(compiled, &have, &want)
        {
            (
                FeatureStatus::NonCompliant,
                Some("the same lines in another order, and order matters here".to_owned()),
            )
        } else {
            (FeatureStatus::Compliant, None)
        };
        features.push(FeatureResult {
            feature: rule.feature.clone(),
            status,
            compliant: status == FeatureStatus::Compliant,
            ordered: rule.ordered,
            missing: tree::render(syntax, &missing),
            extra: tree::render(syntax, &extra),
            intended: intended_text,
            actual,
            message,
        });
    }
    let uncovered: Vec<Node> = running
        .iter()
        .filter(|n| !rules.iter().any(|r| r.selects(&n.text)))
        .cloned()
        .collect();
    Compliance {
        platform: syntax.platform.to_owned(),
        compliant: !features.is_empty() && features.iter().all(|f| f.compliant),
        features,
        uncovered_lines: tree::count(&uncovered),
        uncovered: tree::render(syntax, &uncovered),
    }
}

/// Whether `have` holds `want`'s lines (the same set: checked before) in another order where
/// order matters: inside each section (an ACL's entries, a policy's statements), and within
/// each group of top-level lines replaced whole (an ASA ACL, a Junos filter). The order of
/// distinct sections and groups among themselves is not compared: devices print them in an
/// order of their own (creation, sequence number), which no command sets.
fn order_differs(compiled: &Compiled, have: &[&Node], want: &[&Node]) -> bool {
    let group = |nodes: &[&Node]| -> HashMap<String, Vec<String>> {
        let mut groups: HashMap<String, Vec<String>> = HashMap::new();
        for node in nodes {
            let key = match compiled.replaced_whole(&node.text) {
                Some(key) if node.children.is_empty() => key.to_owned(),
                _ => node.text.clone(),
            };
            groups.entry(key).or_default().push(node.text.clone());
        }
        groups
    };
    if group(have) != group(want) {
        return true;
    }
    let sections: HashMap<&str, &Node> = have.iter().map(|n| (n.text.as_str(), *n)).collect();
    want.iter().any(|w| {
        sections.get(w.text.as_str()).is_some_and(|h| {
            let have: Vec<&Node> = h.children.iter().collect();
            let want: Vec<&Node> = w.children.iter().collect();
            have.iter()
                .map(|n| &n.text)
                .ne(want.iter().map(|n| &n.text))
                || order_differs(compiled, &have, &want)
        })
    })
}

/// The top-level nodes of `nodes` that any of `rules` (applying to `syntax`) selects.
pub fn scope(syntax: &Syntax, nodes: &[Node], rules: &[Rule]) -> Vec<Node> {
    let rules: Vec<&Rule> = rules.iter().filter(|r| r.applies_to(syntax)).collect();
    nodes
        .iter()
        .filter(|n| rules.iter().any(|r| r.selects(&n.text)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::{CISCO_IOS, JUNIPER_JUNOS};

    fn rule(platform: &str, feature: &str, prefixes: &[&str], ordered: bool) -> Rule {
        Rule {
            platform: Some(platform.into()),
            feature: feature.into(),
            prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
            ordered,
        }
    }

    const RUNNING: &str = "hostname R1
ntp server 192.0.2.1
ntp server 192.0.2.9
interface Loopback0
 ip address 10.0.0.1 255.255.255.255
ip access-list extended MGMT
 permit tcp any any eq 22
 deny ip any any
snmp-server community public RO
end
";

    const INTENDED: &str = "hostname R1
ntp server 192.0.2.1
ntp server 192.0.2.2
interface Loopback0
 description managed
 ip address 10.0.0.1 255.255.255.255
ip access-list extended MGMT
 deny ip any any
 permit tcp any any eq 22
end
";

    #[test]
    fn reports_each_feature_with_parent_aware_missing_and_extra_lines() {
        let rules = [
            rule("cisco_ios", "ntp", &["ntp "], false),
            rule("cisco_ios", "interfaces", &["interface "], false),
            rule(
                "cisco_ios",
                "acl-mgmt",
                &["ip access-list extended MGMT"],
                true,
            ),
            rule("cisco_ios", "hostname", &["hostname "], false),
            rule("cisco_ios", "aaa", &["aaa "], false),
            rule("juniper_junos", "ntp", &["set system ntp "], false),
        ];
        let report = compliance(&CISCO_IOS, RUNNING, INTENDED, &rules);
        let by: HashMap<&str, &FeatureResult> = report
            .features
            .iter()
            .map(|f| (f.feature.as_str(), f))
            .collect();
        assert_eq!(report.features.len(), 5, "the junos rule does not apply");
        assert!(!report.compliant);

        let ntp = by["ntp"];
        assert_eq!(ntp.status, FeatureStatus::NonCompliant);
        assert_eq!(ntp.missing, "ntp server 192.0.2.2\n");
        assert_eq!(ntp.extra, "ntp server 192.0.2.9\n");

        let interfaces = by["interfaces"];
        assert_eq!(
            interfaces.missing,
            "interface Loopback0\n description managed\n"
        );
        assert_eq!(interfaces.extra, "");

        let acl = by["acl-mgmt"];
        assert_eq!(acl.status, FeatureStatus::NonCompliant);
        assert_eq!((acl.missing.as_str(), acl.extra.as_str()), ("", ""));
        assert!(
            acl.message.as_deref().is_some_and(|m| m.contains("order")),
            "{acl:?}"
        );

        assert_eq!(by["hostname"].status, FeatureStatus::Compliant);
        assert!(by["hostname"].compliant);

        let aaa = by["aaa"];
        assert_eq!(aaa.status, FeatureStatus::NoMatch);
        assert!(!aaa.compliant);
        assert!(
            aaa.message
                .as_deref()
                .is_some_and(|m| m.contains("\"aaa \"")),
            "{aaa:?}"
        );

        assert_eq!(report.uncovered, "snmp-server community public RO\n");
        assert_eq!(report.uncovered_lines, 1);
    }

    #[test]
    fn order_counts_inside_an_acl_not_between_acls() {
        let rules = [rule("cisco_asa", "acl", &["access-list "], true)];
        let syntax = &crate::syntax::CISCO_ASA;
        let running = "access-list MGMT standard permit 192.0.2.0 255.255.255.0\naccess-list IN extended permit tcp any any eq 443\naccess-list IN extended deny ip any any\n";
        // The two ACLs in the other order: the device chose it, nothing to fix.
        let regrouped = "access-list IN extended permit tcp any any eq 443\naccess-list IN extended deny ip any any\naccess-list MGMT standard permit 192.0.2.0 255.255.255.0\n";
        assert!(compliance(syntax, running, regrouped, &rules).compliant);
        // Entries of one ACL in another order: not compliant.
        let reordered = "access-list MGMT standard permit 192.0.2.0 255.255.255.0\naccess-list IN extended deny ip any any\naccess-list IN extended permit tcp any any eq 443\n";
        let c = compliance(syntax, running, reordered, &rules);
        assert_eq!(c.features[0].status, FeatureStatus::NonCompliant);
        // The same for sections: two ACL sections swapped is fine, entries swapped is not.
        let ios = [rule("cisco_ios", "acl", &["ip access-list "], true)];
        let a = "ip access-list standard A\n permit any\nip access-list extended B\n permit ip any any\n deny ip any any\n";
        let swapped = "ip access-list extended B\n permit ip any any\n deny ip any any\nip access-list standard A\n permit any\n";
        assert!(compliance(&CISCO_IOS, a, swapped, &ios).compliant);
        let inner = "ip access-list standard A\n permit any\nip access-list extended B\n deny ip any any\n permit ip any any\n";
        assert!(!compliance(&CISCO_IOS, a, inner, &ios).compliant);
    }

    #[test]
    fn unordered_rule_accepts_another_order() {
        let rules = [rule("cisco_ios", "acl", &["ip access-list "], false)];
        let report = compliance(&CISCO_IOS, RUNNING, INTENDED, &rules);
        assert!(report.features[0].compliant, "{report:#?}");
    }

    #[test]
    fn junos_compares_set_commands_from_either_display() {
        let running =
            "system {\n    host-name J1;\n    ntp {\n        server 192.0.2.1;\n    }\n}\n";
        let intended = "set system host-name J1\nset system ntp server 192.0.2.2\n";
        let rules = [rule("juniper_junos", "ntp", &["set system ntp "], false)];
        let report = compliance(&JUNIPER_JUNOS, running, intended, &rules);
        let ntp = &report.features[0];
        assert_eq!(ntp.missing, "set system ntp server 192.0.2.2\n");
        assert_eq!(ntp.extra, "set system ntp server 192.0.2.1\n");
        assert_eq!(report.uncovered, "set system host-name J1\n");
    }

    #[test]
    fn rules_read_from_json() {
        let rules: Vec<Rule> = serde_json::from_str(
            r#"[{"platform": "cisco_ios", "feature": "ntp", "match": ["ntp "]},
                {"feature": "any", "match": ["x"], "ordered": true}]"#,
        )
        .expect("rules");
        assert!(!rules[0].ordered);
        assert!(rules[1].applies_to(&JUNIPER_JUNOS));
        assert!(
            serde_json::from_str::<Vec<Rule>>(r#"[{"feature": "x", "match": [], "prefix": 1}]"#)
                .is_err()
        );
    }
}
