//! Config text, pure: cleaning what `show running-config` printed into a normalised config, the
//! lines a merge push sends, and the diff a replace push sends.
//!
//! The replace rule (what `push_config` with `replace: true` sends to make the running config
//! equal the target):
//! - top-level lines of the target missing from the running config are sent;
//! - a section (`interface X` and its indented lines) of the target is sent with the lines it
//!   lacks on the device and `no LINE` for lines the device has but the target does not, then
//!   `exit`;
//! - top-level lines (and whole sections) of the running config absent from the target get
//!   `no LINE` (`no interface X`); a running line that is itself `no X` is undone by sending `X`;
//! - no `no` is sent for a line the target replaces anyway: lines a device keeps one of
//!   (`hostname`, `ip address`, `description`, …, see [`SINGLE_VALUED`]) when the target has a
//!   line with the same keyword, because `no hostname R1` would reset the name after the new
//!   one was set.
//!
//! Limits: comparison is by exact line text after trimming, so a line the device prints
//! differently from how it was typed (abbreviations, defaults the device hides, secrets it
//! encrypts) is seen as a change every time; order within the config is not enforced (a device
//! decides its own order); sections are one level deep (IOS `address-family` inside
//! `router bgp` is compared as plain section lines); lines a platform cannot negate (physical
//! interfaces, `version`) are skipped only where listed in [`NEVER_NEGATE`].

use regex::Regex;

use crate::profile::CliProfile;

/// Lines a device keeps only one of: a target line with the same prefix replaces the running
/// one, so the running one gets no `no`. Longest prefix wins.
pub const SINGLE_VALUED: &[&str] = &[
    "hostname ",
    "ip domain-name ",
    "ip domain name ",
    "enable secret ",
    "enable password ",
    "clock timezone ",
    "banner motd ",
    "logging buffered ",
    "spanning-tree mode ",
    "ip default-gateway ",
    "snmp-server location ",
    "snmp-server contact ",
    "ntp source ",
    "description ",
    "ip address ",
    "mtu ",
    "speed ",
    "duplex ",
    "bandwidth ",
    "switchport mode ",
    "switchport access vlan ",
    "encapsulation ",
    "vrf forwarding ",
    "ip vrf forwarding ",
    "channel-group ",
    "router-id ",
    "load-interval ",
    "exec-timeout ",
    "transport input ",
];

/// Prefixes of top-level lines that are never negated by a replace push: they describe the
/// software or the hardware, not configuration an operator removes.
pub const NEVER_NEGATE: &[&str] = &[
    "version ",
    "boot-start-marker",
    "boot-end-marker",
    "interface GigabitEthernet",
    "interface FastEthernet",
    "interface TenGigabitEthernet",
    "interface Ethernet",
    "interface Management",
];

/// A top-level line and the indented lines of its section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The top-level line, trimmed.
    pub line: String,
    /// Its section's lines, trimmed.
    pub children: Vec<String>,
}

/// Normalises what `show running-config` printed (its echo and prompt already removed): no
/// banner or size lines, no trailing spaces, `\n` line ends, no blank lines at either end, one
/// final `\n`.
pub fn clean_running_config(profile: &CliProfile, raw: &str) -> String {
    let strip: Vec<Regex> = profile
        .strip
        .iter()
        .filter_map(|pattern| Regex::new(pattern).ok())
        .collect();
    let lines: Vec<&str> = raw
        .split('\n')
        .map(|line| line.trim_end_matches(['\r', ' ', '\t']))
        .filter(|line| !strip.iter().any(|re| re.is_match(line)))
        .collect();
    normalise_lines(&lines)
}

/// Normalises config text from a file or a user: `\n` line ends, no trailing spaces, no blank
/// lines at either end, one final `\n` (empty text stays empty).
pub fn normalise(text: &str) -> String {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|line| line.trim_end_matches(['\r', ' ', '\t']))
        .collect();
    normalise_lines(&lines)
}

fn normalise_lines(lines: &[&str]) -> String {
    let start = lines.iter().position(|l| !l.is_empty());
    let end = lines.iter().rposition(|l| !l.is_empty());
    match (start, end) {
        (Some(start), Some(end)) => {
            let mut text = lines[start..=end].join("\n");
            text.push('\n');
            text
        }
        _ => String::new(),
    }
}

/// Whether `line` (trimmed) carries no configuration: blank, a `!` comment, `end`.
fn is_noise(line: &str) -> bool {
    line.is_empty() || line.starts_with('!') || line == "end"
}

/// The blocks of a config: indented lines belong to the top-level line above them; comments,
/// blank lines and `end` are dropped.
pub fn parse_blocks(text: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    for raw in text.lines() {
        let trimmed = raw.trim();
        if is_noise(trimmed) {
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        match blocks.last_mut() {
            Some(last) if indented => last.children.push(trimmed.to_owned()),
            _ => blocks.push(Block {
                line: trimmed.to_owned(),
                children: Vec::new(),
            }),
        }
    }
    blocks
}

/// The lines a merge push of `blocks` types in config mode: each section's lines indented under
/// it and closed with `section_exit`, so the next top-level line is not taken as part of it.
pub fn merge_lines(blocks: &[Block], section_exit: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for block in blocks {
        push_block(
            &mut lines,
            &block.line,
            block.children.iter().cloned(),
            section_exit,
        );
    }
    lines
}

fn push_block(
    lines: &mut Vec<String>,
    header: &str,
    children: impl IntoIterator<Item = String>,
    section_exit: &str,
) {
    lines.push(header.to_owned());
    let before = lines.len();
    lines.extend(children.into_iter().map(|child| format!(" {child}")));
    if lines.len() > before {
        lines.push(section_exit.to_owned());
    }
}

fn single_valued_key(line: &str) -> Option<&'static str> {
    if line.ends_with(" secondary") {
        return None;
    }
    SINGLE_VALUED
        .iter()
        .copied()
        .filter(|key| line.starts_with(key))
        .max_by_key(|key| key.len())
}

/// The command that removes `line`: `no LINE`, or `X` for a line `no X`.
fn negation(line: &str) -> String {
    match line.strip_prefix("no ") {
        Some(positive) => positive.to_owned(),
        None => format!("no {line}"),
    }
}

/// Whether a target line replaces `line` by itself (same single-valued keyword).
fn replaced_by(line: &str, target: &[&str]) -> bool {
    single_valued_key(line).is_some_and(|key| target.iter().any(|t| t.starts_with(key)))
}

/// The lines a replace push types in config mode to turn `running` into `target` (see the
/// module docs for the rule); empty when they already match.
pub fn replace_lines(running: &[Block], target: &[Block], section_exit: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let target_tops: Vec<&str> = target.iter().map(|b| b.line.as_str()).collect();
    // Removals first: `no ntp server A` before `ntp server B`.
    for block in running {
        let kept = target_tops.contains(&block.line.as_str());
        let never = NEVER_NEGATE.iter().any(|p| block.line.starts_with(p));
        if !kept && !never && !replaced_by(&block.line, &target_tops) {
            lines.push(negation(&block.line));
        }
    }
    for block in target {
        match running.iter().find(|r| r.line == block.line) {
            None => push_block(
                &mut lines,
                &block.line,
                block.children.iter().cloned(),
                section_exit,
            ),
            Some(current) => {
                let wanted: Vec<&str> = block.children.iter().map(String::as_str).collect();
                let mut changes: Vec<String> = current
                    .children
                    .iter()
                    .filter(|c| !wanted.contains(&c.as_str()) && !replaced_by(c, &wanted))
                    .map(|c| negation(c))
                    .collect();
                changes.extend(
                    block
                        .children
                        .iter()
                        .filter(|c| !current.children.contains(c))
                        .cloned(),
                );
                if !changes.is_empty() {
                    push_block(&mut lines, &block.line, changes, section_exit);
                }
            }
        }
    }
    lines
}

/// Renders blocks the way `profile` prints them, for comparisons in tests and messages.
pub fn render(profile: &CliProfile, blocks: &[Block]) -> String {
    let mut text = String::new();
    for block in blocks {
        text.push_str(&block.line);
        text.push('\n');
        for child in &block.children {
            text.push_str(profile.indent);
            text.push_str(child);
            text.push('\n');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{ARISTA_EOS, CISCO_IOS};

    #[test]
    fn cleans_ios_banners_sizes_and_trailing_spaces() {
        let raw = "Building configuration...\n\nCurrent configuration : 98 bytes\n! Last configuration change at 10:00:00 UTC\nhostname R1   \r\n!\ninterface Loopback0\n ip address 10.0.0.1 255.255.255.255\nend\n\n";
        assert_eq!(
            clean_running_config(&CISCO_IOS, raw),
            "hostname R1\n!\ninterface Loopback0\n ip address 10.0.0.1 255.255.255.255\nend\n"
        );
    }

    #[test]
    fn cleans_eos_header() {
        let raw = "! Command: show running-config\n! device: SW1 (cEOSLab, EOS-4.30.0F)\nhostname SW1\ninterface Ethernet1\n   description uplink\nend";
        assert_eq!(
            clean_running_config(&ARISTA_EOS, raw),
            "hostname SW1\ninterface Ethernet1\n   description uplink\nend\n"
        );
    }

    #[test]
    fn normalise_trims_ends_and_keeps_inner_lines() {
        assert_eq!(
            normalise("\r\n\nhostname R1 \r\n\n!\nend\n\n"),
            "hostname R1\n\n!\nend\n"
        );
        assert_eq!(normalise(" \n\n"), "");
    }

    #[test]
    fn parses_sections_and_drops_comments() {
        let blocks = parse_blocks(
            "hostname R1\n!\ninterface Lo0\n ip address 1.1.1.1 255.255.255.255\n shutdown\n!\nntp server 192.0.2.1\nend\n",
        );
        assert_eq!(
            blocks,
            vec![
                Block {
                    line: "hostname R1".into(),
                    children: vec![]
                },
                Block {
                    line: "interface Lo0".into(),
                    children: vec![
                        "ip address 1.1.1.1 255.255.255.255".into(),
                        "shutdown".into()
                    ],
                },
                Block {
                    line: "ntp server 192.0.2.1".into(),
                    children: vec![]
                },
            ]
        );
    }

    #[test]
    fn merge_closes_each_section() {
        let blocks = parse_blocks("interface Lo1\n   description x\nntp server 192.0.2.9\n");
        assert_eq!(
            merge_lines(&blocks, "exit"),
            [
                "interface Lo1",
                " description x",
                "exit",
                "ntp server 192.0.2.9"
            ]
        );
    }

    #[test]
    fn replace_removes_absent_lines_and_adds_missing_ones() {
        let running = parse_blocks(
            "hostname R1\ninterface Lo0\n ip address 10.0.0.1 255.255.255.255\n shutdown\ninterface Lo9\n description old\nntp server 192.0.2.1\nlogging host 192.0.2.50\nno ip domain lookup\nend\n",
        );
        let target = parse_blocks(
            "hostname R2\ninterface Lo0\n ip address 10.0.0.2 255.255.255.255\n description loopback\nntp server 192.0.2.2\nend\n",
        );
        assert_eq!(
            replace_lines(&running, &target, "exit"),
            [
                // hostname is replaced by the target's, not negated
                "no interface Lo9",
                "no ntp server 192.0.2.1",
                "no logging host 192.0.2.50",
                "ip domain lookup",
                "hostname R2",
                "interface Lo0",
                " no shutdown",
                " ip address 10.0.0.2 255.255.255.255",
                " description loopback",
                "exit",
                "ntp server 192.0.2.2",
            ]
        );
    }

    #[test]
    fn replace_of_an_equal_config_sends_nothing() {
        let text = "hostname R1\n!\ninterface Lo0\n ip address 10.0.0.1 255.255.255.255\nend\n";
        // Comments and indentation width do not count as differences.
        let eos_style = "hostname R1\ninterface Lo0\n   ip address 10.0.0.1 255.255.255.255\n";
        assert!(replace_lines(&parse_blocks(text), &parse_blocks(eos_style), "exit").is_empty());
    }

    #[test]
    fn replace_never_negates_physical_interfaces_or_version() {
        let running = parse_blocks("version 15.9\ninterface GigabitEthernet0/0\n description a\n");
        assert!(replace_lines(&running, &[], "exit").is_empty());
    }

    #[test]
    fn render_uses_the_platform_indent() {
        let blocks = parse_blocks("interface Ethernet1\n description up\n");
        assert_eq!(
            render(&ARISTA_EOS, &blocks),
            "interface Ethernet1\n   description up\n"
        );
        assert_eq!(
            render(&CISCO_IOS, &blocks),
            "interface Ethernet1\n description up\n"
        );
    }
}
