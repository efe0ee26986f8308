//! A config text as a tree of lines, and back.
//!
//! Indented platforms: a line belongs to the nearest line above it that is indented less, to
//! any depth (IOS `router bgp` → `address-family` → `neighbor … activate`); comments, blank lines
//! and end markers are dropped; an IOS banner (`banner motd ^C` … `^C`) is one statement whose
//! text spans its lines. Junos: set commands are one line each; the hierarchical (braces)
//! display is turned into the set commands Junos's own `| display set` prints (a bracketed
//! list `[ a b ]` gives one command per value).

use regex::Regex;
use serde::Serialize;

use crate::syntax::{Style, Syntax};

/// A config line and the lines of its section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// The line, trimmed (a banner: its lines joined by `\n`).
    pub text: String,
    /// Its section's lines, in order.
    pub children: Vec<Node>,
}

impl Node {
    /// A line without children.
    pub fn leaf(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            children: Vec::new(),
        }
    }

    /// Lines in this subtree, this one included.
    pub fn len(&self) -> usize {
        1 + self.children.iter().map(Node::len).sum::<usize>()
    }

    /// Always false: a node is at least its own line.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Lines in `nodes` and their subtrees.
pub fn count(nodes: &[Node]) -> usize {
    nodes.iter().map(Node::len).sum()
}

/// Parses `text` as `syntax` writes configs.
pub fn parse(syntax: &Syntax, text: &str) -> Vec<Node> {
    match syntax.style {
        Style::Indented => parse_indented(syntax, text),
        Style::Set => set_lines(syntax, text)
            .into_iter()
            .map(Node::leaf)
            .collect(),
    }
}

fn is_comment(syntax: &Syntax, trimmed: &str) -> bool {
    syntax.comments.iter().any(|c| trimmed.starts_with(c))
}

/// A banner's opening line: `banner KIND DELIM…`, with the delimiter (`^C` as IOS shows the
/// control character, else the first character after the kind).
fn banner_delimiter(trimmed: &str) -> Option<String> {
    let rest = trimmed.strip_prefix("banner ")?;
    let (_, after_kind) = rest.split_once(' ')?;
    if after_kind.starts_with("^C") {
        Some("^C".to_owned())
    } else {
        after_kind.chars().next().map(String::from)
    }
}

fn parse_indented(syntax: &Syntax, text: &str) -> Vec<Node> {
    let mut roots: Vec<Node> = Vec::new();
    // The open sections: their indentation and the node being filled.
    let mut stack: Vec<(usize, Node)> = Vec::new();
    let mut banner: Option<(String, Node, usize)> = None;

    fn close_to(stack: &mut Vec<(usize, Node)>, roots: &mut Vec<Node>, indent: usize) {
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            let Some((_, node)) = stack.pop() else { break };
            match stack.last_mut() {
                Some((_, parent)) => parent.children.push(node),
                None => roots.push(node),
            }
        }
    }

    for raw in text.split('\n') {
        let line = raw.trim_end_matches(['\r', ' ', '\t']);
        if let Some((delimiter, mut node, indent)) = banner.take() {
            node.text.push('\n');
            node.text.push_str(line);
            if line.contains(delimiter.as_str()) {
                close_to(&mut stack, &mut roots, indent);
                stack.push((indent, node));
            } else {
                banner = Some((delimiter, node, indent));
            }
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.is_empty() || is_comment(syntax, trimmed) || syntax.drop_lines.contains(&trimmed)
        {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if indent == 0 && syntax.closes_section.contains(&trimmed) {
            close_to(&mut stack, &mut roots, 1);
            if let Some((_, section)) = stack.last_mut() {
                section.children.push(Node::leaf(trimmed));
            } else if let Some(last) = roots.last_mut() {
                last.children.push(Node::leaf(trimmed));
            }
            continue;
        }
        if syntax.banners
            && let Some(delimiter) = banner_delimiter(trimmed)
        {
            let after_open = trimmed
                .split_once(delimiter.as_str())
                .map_or("", |(_, rest)| rest);
            let node = Node::leaf(trimmed);
            if !after_open.contains(delimiter.as_str()) {
                banner = Some((delimiter, node, indent));
                continue;
            }
            close_to(&mut stack, &mut roots, indent);
            stack.push((indent, node));
            continue;
        }
        close_to(&mut stack, &mut roots, indent);
        stack.push((indent, Node::leaf(trimmed)));
    }
    if let Some((_, node, indent)) = banner {
        // An unterminated banner still ends the config: keep what was read.
        close_to(&mut stack, &mut roots, indent);
        stack.push((indent, node));
    }
    close_to(&mut stack, &mut roots, 0);
    roots
}

/// The set commands of a Junos config in either display: set lines are kept as they are,
/// the hierarchical (braces) display is flattened into the set commands Junos prints for it.
pub fn set_lines(syntax: &Syntax, text: &str) -> Vec<String> {
    let positive = syntax.positive.unwrap_or("set");
    let mut lines = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let bracket = Regex::new(r"^(.*?)\s*\[\s*(.*?)\s*\]$").ok();
    for raw in text.split('\n') {
        let trimmed = raw.trim();
        if trimmed.is_empty() || is_comment(syntax, trimmed) {
            continue;
        }
        if trimmed.starts_with(&format!("{positive} "))
            || trimmed.starts_with(&format!("{} ", syntax.negation))
        {
            lines.push(trimmed.to_owned());
            continue;
        }
        if trimmed == "}" {
            path.pop();
            continue;
        }
        let statement = trimmed
            .strip_prefix("inactive: ")
            .unwrap_or(trimmed)
            .trim_end();
        if let Some(open) = statement.strip_suffix('{') {
            path.push(open.trim().to_owned());
            continue;
        }
        let Some(leaf) = statement.strip_suffix(';') else {
            // Not the braces display and not a set command: kept as it is, so the device
            // judges it (a push must never drop a line silently).
            lines.push(trimmed.to_owned());
            continue;
        };
        let leaf = leaf.trim();
        let prefix = if path.is_empty() {
            positive.to_owned()
        } else {
            format!("{positive} {}", path.join(" "))
        };
        match bracket.as_ref().and_then(|re| re.captures(leaf)) {
            Some(caps) => {
                let base = caps.get(1).map_or("", |m| m.as_str());
                let values = caps.get(2).map_or("", |m| m.as_str());
                for value in values.split_whitespace() {
                    lines.push(join_words(&[&prefix, base, value]));
                }
            }
            None => lines.push(join_words(&[&prefix, leaf])),
        }
    }
    lines
}

fn join_words(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Renders `nodes` the way `syntax` prints a config (one level of [`Syntax::indent`] per
/// depth), each line ending in `\n`.
pub fn render(syntax: &Syntax, nodes: &[Node]) -> String {
    let mut out = String::new();
    render_into(syntax, nodes, 0, &mut out);
    out
}

fn render_into(syntax: &Syntax, nodes: &[Node], depth: usize, out: &mut String) {
    for node in nodes {
        for _ in 0..depth {
            out.push_str(syntax.indent);
        }
        out.push_str(&node.text);
        out.push('\n');
        render_into(syntax, &node.children, depth + 1, out);
    }
}

/// The lines of `nodes` as typed in config mode: each section's lines after it, one space of
/// indentation per depth, and [`Syntax::section_exit`] after each section so that the next line
/// is taken at the right level. Banner text is split into its lines.
pub fn typed_lines(syntax: &Syntax, nodes: &[Node]) -> Vec<String> {
    let mut lines = Vec::new();
    typed_into(syntax, nodes, 0, &mut lines);
    lines
}

fn typed_into(syntax: &Syntax, nodes: &[Node], depth: usize, lines: &mut Vec<String>) {
    let pad = " ".repeat(depth);
    for node in nodes {
        for line in node.text.split('\n') {
            lines.push(format!("{pad}{line}"));
        }
        if !node.children.is_empty() {
            typed_into(syntax, &node.children, depth + 1, lines);
            let closed = node
                .children
                .last()
                .is_some_and(|last| syntax.closes_section.contains(&last.text.as_str()));
            if !syntax.section_exit.is_empty() && !closed {
                lines.push(format!("{pad}{}", syntax.section_exit));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::{ARISTA_EOS, CISCO_IOS, CISCO_XR, HUAWEI_VRP, JUNIPER_JUNOS};

    #[test]
    fn nests_sections_to_any_depth_and_drops_noise() {
        let text = "Building configuration...\n!\nhostname R1\n!\nrouter bgp 65001\n bgp router-id 10.0.0.1\n neighbor 192.0.2.2 remote-as 65002\n !\n address-family ipv4\n  neighbor 192.0.2.2 activate\n exit-address-family\n!\nend\n";
        let nodes = parse(&CISCO_IOS, text);
        assert_eq!(
            nodes,
            vec![
                Node::leaf("Building configuration..."),
                Node::leaf("hostname R1"),
                Node {
                    text: "router bgp 65001".into(),
                    children: vec![
                        Node::leaf("bgp router-id 10.0.0.1"),
                        Node::leaf("neighbor 192.0.2.2 remote-as 65002"),
                        Node {
                            text: "address-family ipv4".into(),
                            children: vec![Node::leaf("neighbor 192.0.2.2 activate")],
                        },
                    ],
                },
            ]
        );
        assert_eq!(count(&nodes), 7);
    }

    #[test]
    fn a_banner_is_one_statement() {
        let text = "hostname R1\nbanner motd ^C\nAuthorised access only\n! not a comment here\n^C\nntp server 192.0.2.1\n";
        let nodes = parse(&CISCO_IOS, text);
        assert_eq!(nodes.len(), 3, "{nodes:#?}");
        assert_eq!(
            nodes[1].text,
            "banner motd ^C\nAuthorised access only\n! not a comment here\n^C"
        );
        let one_line = parse(&CISCO_IOS, "banner login #Keep out#\nhostname R1\n");
        assert_eq!(one_line[0].text, "banner login #Keep out#");
        assert_eq!(
            typed_lines(&CISCO_IOS, &nodes[1..2]),
            [
                "banner motd ^C",
                "Authorised access only",
                "! not a comment here",
                "^C"
            ]
        );
    }

    #[test]
    fn xr_policy_ends_belong_to_their_policy() {
        let text = "route-policy PASS\n  if destination in (10.0.0.0/8) then\n    pass\n  endif\nend-policy\n!\nhostname X1\n";
        let nodes = parse(&CISCO_XR, text);
        assert_eq!(nodes.len(), 2);
        assert_eq!(
            nodes[0].children.last().map(|n| n.text.as_str()),
            Some("end-policy")
        );
    }

    #[test]
    fn vrp_drops_separators_and_return() {
        let text = "!Software Version V800R021C10SPC100\n#\nsysname HW1\n#\ninterface GigabitEthernet0/0/1\n description uplink\n#\nospf 1\n area 0.0.0.0\n  network 10.0.0.0 0.0.0.255\n#\nreturn\n";
        let nodes = parse(&HUAWEI_VRP, text);
        assert_eq!(
            render(&HUAWEI_VRP, &nodes),
            "sysname HW1\ninterface GigabitEthernet0/0/1\n description uplink\nospf 1\n area 0.0.0.0\n  network 10.0.0.0 0.0.0.255\n"
        );
    }

    #[test]
    fn junos_braces_become_set_commands() {
        let text = "## Last commit: 2026-12-01 04:00:00 UTC by admin\nversion 21.4R3.15;\nsystem {\n    host-name J1;\n    name-server {\n        192.0.2.53;\n    }\n    ntp {\n        server 192.0.2.1;\n    }\n}\ninterfaces {\n    ge-0/0/0 {\n        description \"to core\";\n        unit 0 {\n            family inet {\n                address 10.0.0.1/24;\n            }\n        }\n    }\n}\npolicy-options {\n    community LAB members [ 65000:1 65000:2 ];\n}\n";
        assert_eq!(
            set_lines(&JUNIPER_JUNOS, text),
            [
                "set version 21.4R3.15",
                "set system host-name J1",
                "set system name-server 192.0.2.53",
                "set system ntp server 192.0.2.1",
                "set interfaces ge-0/0/0 description \"to core\"",
                "set interfaces ge-0/0/0 unit 0 family inet address 10.0.0.1/24",
                "set policy-options community LAB members 65000:1",
                "set policy-options community LAB members 65000:2",
            ]
        );
        let set_form = "set version 21.4R3.15\nset system host-name J1\nfrobnicate\n";
        assert_eq!(
            parse(&JUNIPER_JUNOS, set_form).len(),
            3,
            "an unknown line is kept"
        );
    }

    #[test]
    fn render_uses_the_platform_indent_and_typing_closes_sections() {
        let nodes = parse(
            &CISCO_IOS,
            "interface Ethernet1\n description up\nntp server 192.0.2.1\n",
        );
        assert_eq!(
            render(&ARISTA_EOS, &nodes),
            "interface Ethernet1\n   description up\nntp server 192.0.2.1\n"
        );
        assert_eq!(
            typed_lines(&CISCO_IOS, &nodes),
            [
                "interface Ethernet1",
                " description up",
                "exit",
                "ntp server 192.0.2.1"
            ]
        );
        assert_eq!(
            typed_lines(
                &HUAWEI_VRP,
                &parse(
                    &HUAWEI_VRP,
                    "ospf 1\n area 0\n  network 10.0.0.0 0.0.0.255\n"
                )
            ),
            [
                "ospf 1",
                " area 0",
                "  network 10.0.0.0 0.0.0.255",
                " quit",
                "quit"
            ]
        );
    }
}
