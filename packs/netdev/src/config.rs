//! Config text, pure: cleaning what `show running-config` printed into a normalised config,
//! and the lines a push types (a merge: the given config's lines, each section closed; a
//! replace: the remediation from the running config to the given one, by the platform's rules
//! in `netcfg`).

use netcfg::{Syntax, tree};
use regex::Regex;

use crate::profile::CliProfile;

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

/// The lines a merge push of `text` types in config mode: each section's lines indented under
/// it and closed with the platform's section exit; for Junos, set (and delete) commands, the
/// hierarchical display turned into them.
pub fn merge_lines(syntax: &Syntax, text: &str) -> Vec<String> {
    typed(syntax, &tree::parse(syntax, text))
}

/// The lines a replace push types to turn `running` into `target`: the remediation by the
/// platform's rules (see `netcfg::remediation`); empty when they already match.
pub fn replace_lines(syntax: &Syntax, running: &str, target: &str) -> Vec<String> {
    let remediation = netcfg::remediation(syntax, running, target, None);
    typed(syntax, &remediation.commands)
}

/// Typed lines of `nodes`: banners get a delimiter that can be typed (IOS shows the control
/// character it stores as `^C`; typing `^C` would make `^` the delimiter and `C` text).
fn typed(syntax: &Syntax, nodes: &[tree::Node]) -> Vec<String> {
    let nodes: Vec<tree::Node> = nodes.iter().map(typeable_banner).collect();
    tree::typed_lines(syntax, &nodes)
}

fn typeable_banner(node: &tree::Node) -> tree::Node {
    if !node.text.starts_with("banner ") || !node.text.contains("^C") {
        return node.clone();
    }
    let delimiter = ['#', '%', '~', '@', '&', '$']
        .into_iter()
        .find(|c| !node.text.replace("^C", "").contains(*c))
        .unwrap_or('#');
    tree::Node {
        text: node.text.replace("^C", &delimiter.to_string()),
        children: node.children.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{ARISTA_EOS, CISCO_IOS, CISCO_XR, HUAWEI_VRP, JUNIPER_JUNOS};

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
    fn cleans_the_headers_of_xr_vrp_and_junos() {
        let xr = "Tue Dec 01 04:54:02.000 UTC\nBuilding configuration...\n!! IOS XR Configuration 7.3.2\n!! Last configuration change at Tue Dec 01 04:53:46 2026 by admin\n!\nhostname X1\nend";
        assert_eq!(clean_running_config(&CISCO_XR, xr), "!\nhostname X1\nend\n");
        let vrp = "!Software Version V800R021C10SPC100\n!Last configuration was updated at 2026-12-01 04:53:18+00:00\n#\nsysname HW1\n#\nreturn";
        assert_eq!(
            clean_running_config(&HUAWEI_VRP, vrp),
            "#\nsysname HW1\n#\nreturn\n"
        );
        let junos = "## Last commit: 2026-12-01 04:53:18 UTC by admin\nversion 21.4R3.15;";
        assert_eq!(
            clean_running_config(&JUNIPER_JUNOS, junos),
            "version 21.4R3.15;\n"
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
    fn merge_closes_each_section_and_converts_junos_braces() {
        assert_eq!(
            merge_lines(
                &netcfg::syntax::CISCO_IOS,
                "interface Lo1\n   description x\nntp server 192.0.2.9\n"
            ),
            [
                "interface Lo1",
                " description x",
                "exit",
                "ntp server 192.0.2.9"
            ]
        );
        assert_eq!(
            merge_lines(
                &netcfg::syntax::JUNIPER_JUNOS,
                "system {\n    ntp {\n        server 192.0.2.9;\n    }\n}\ndelete snmp\n"
            ),
            ["set system ntp server 192.0.2.9", "delete snmp"]
        );
    }

    #[test]
    fn replace_of_an_equal_config_sends_nothing() {
        let text = "hostname R1\n!\ninterface Lo0\n ip address 10.0.0.1 255.255.255.255\nend\n";
        // Comments and indentation width do not count as differences.
        let eos_style = "hostname R1\ninterface Lo0\n   ip address 10.0.0.1 255.255.255.255\n";
        assert!(replace_lines(&netcfg::syntax::CISCO_IOS, text, eos_style).is_empty());
    }

    #[test]
    fn banners_are_typed_with_a_delimiter_that_can_be_typed() {
        let lines = merge_lines(
            &netcfg::syntax::CISCO_IOS,
            "banner motd ^C\nNo entry # here\n^C\n",
        );
        assert_eq!(lines, ["banner motd %", "No entry # here", "%"]);
    }
}
