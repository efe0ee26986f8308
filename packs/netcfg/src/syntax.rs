//! Each platform's config syntax and remediation rules, as data.
//!
//! The remediation rules follow what the devices do (hier_config's drivers were read for ideas,
//! none of their code is used):
//! - **negation**: `no X` (IOS, EOS, NX-OS, IOS XR, ASA), `undo X` (Huawei VRP), `delete X` for a
//!   `set X` (Junos); a line that is itself a negation (`no shutdown`) is undone by the positive
//!   form (`shutdown`).
//! - **last value wins** ([`Syntax::idempotent`]): a command the device keeps one of per slot
//!   (`hostname`, `description`, `ip address`, `set system host-name`, an ACL entry by its
//!   sequence number): the new value replaces the old, so the old gets no negation (`no
//!   hostname R1` after `hostname R2` would reset the name).
//! - **sections replaced whole** ([`Syntax::replace_whole`]): sections whose lines' order
//!   matters and that the device cannot edit in place (IOS named ACLs shown without sequence
//!   numbers, Junos firewall filters and policy statements, ASA and IOS numbered ACLs as groups
//!   of top-level lines): when they differ, the whole section is removed and sent again in the
//!   intended order.
//! - **sections sent whole** ([`Syntax::resend_whole`]): IOS XR route policies and sets, which
//!   the device replaces whole when they are entered again (no removal first).
//! - **never negated** ([`Syntax::never_negate`]): lines describing the software or hardware
//!   (`version`, physical interfaces), which no command removes.
//! - **removed last** ([`Syntax::negate_late`]): sections that other config may still reference
//!   while the additions are sent (interfaces, VRFs, ACLs, route maps), removed after them.

use regex::Regex;

/// How a platform writes its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Sections are lines indented under their parent (IOS and its kind, VRP).
    Indented,
    /// One `set …` command per line, the whole path in it (Junos `| display set`); Junos's
    /// hierarchical (braces) display is turned into this form when parsed.
    Set,
}

/// One platform's config syntax and remediation rules. Patterns are regular expressions matched
/// at the start of a line (trimmed); for [`idempotent`](Self::idempotent) and
/// [`replace_whole`](Self::replace_whole) on flat lines, the matched text is the slot or group
/// key.
#[derive(Debug, PartialEq, Eq)]
pub struct Syntax {
    /// Platform name as in the inventory.
    pub platform: &'static str,
    /// Indented sections or set commands.
    pub style: Style,
    /// The indentation of one level when rendering.
    pub indent: &'static str,
    /// Prefixes of comment lines (`!`, `#`), dropped when parsing.
    pub comments: &'static [&'static str],
    /// Whole lines that carry no configuration (`end`, `return`, `exit-address-family`),
    /// dropped when parsing.
    pub drop_lines: &'static [&'static str],
    /// Lines at the top level that close the section above and belong to it (IOS XR
    /// `end-policy`, `end-set`).
    pub closes_section: &'static [&'static str],
    /// The negation word.
    pub negation: &'static str,
    /// The word that starts every line of a set-style config (`set`), replaced by the
    /// negation rather than prefixed.
    pub positive: Option<&'static str>,
    /// The command that leaves a section for its parent (`exit`, `quit`).
    pub section_exit: &'static str,
    /// Commands whose last value wins, by slot (see the module docs).
    pub idempotent: &'static [&'static str],
    /// Sections, or groups of top-level lines, replaced whole when they differ.
    pub replace_whole: &'static [&'static str],
    /// How a group of top-level lines replaced whole is cleared: `{key}` is the group key
    /// (trimmed); default: the negation of the key.
    pub clear_group: Option<&'static str>,
    /// Sections sent again whole, without a removal first, when they differ.
    pub resend_whole: &'static [&'static str],
    /// Top-level lines never negated.
    pub never_negate: &'static [&'static str],
    /// Top-level sections whose removal is sent after everything else.
    pub negate_late: &'static [&'static str],
    /// Banner statements spanning lines up to a delimiter (`banner motd ^C … ^C`).
    pub banners: bool,
}

const IOS_IDEMPOTENT: &[&str] = &[
    r"hostname ",
    r"ip domain[- ]name ",
    r"enable (?:secret|password) ",
    r"clock timezone ",
    r"banner (?:motd|login|exec) ",
    r"logging buffered ",
    r"spanning-tree mode ",
    r"ip default-gateway ",
    r"snmp-server location ",
    r"snmp-server contact ",
    r"ntp source ",
    r"description ",
    r"ip address ",
    r"mtu ",
    r"speed ",
    r"duplex ",
    r"bandwidth ",
    r"switchport mode ",
    r"switchport access vlan ",
    r"encapsulation ",
    r"vrf forwarding ",
    r"ip vrf forwarding ",
    r"channel-group ",
    r"router-id ",
    r"bgp router-id ",
    r"load-interval ",
    r"exec-timeout ",
    r"transport input ",
    // EOS `management ssh` / `management api`.
    r"idle-timeout ",
    r"\d+ ",
];

const IOS_NEVER_NEGATE: &[&str] = &[
    r"version ",
    r"boot-start-marker",
    r"boot-end-marker",
    r"interface (?:GigabitEthernet|FastEthernet|TenGigabitEthernet|Ethernet|Management|mgmt)",
];

const IOS_NEGATE_LATE: &[&str] = &[
    r"interface ",
    r"vrf definition ",
    r"ip vrf ",
    r"ip access-list ",
    r"route-map ",
    r"ip prefix-list ",
    r"class-map ",
    r"policy-map ",
];

/// Cisco IOS / IOS XE.
pub static CISCO_IOS: Syntax = Syntax {
    platform: "cisco_ios",
    style: Style::Indented,
    indent: " ",
    comments: &["!"],
    drop_lines: &[
        "end",
        "exit-address-family",
        "exit-peer-policy",
        "exit-peer-session",
        "exit-service-insertion",
    ],
    closes_section: &[],
    negation: "no",
    positive: None,
    section_exit: "exit",
    idempotent: IOS_IDEMPOTENT,
    replace_whole: &[
        r"ip access-list ",
        r"ipv6 access-list ",
        r"access-list \S+ ",
    ],
    clear_group: None,
    resend_whole: &[],
    never_negate: IOS_NEVER_NEGATE,
    negate_late: IOS_NEGATE_LATE,
    banners: true,
};

/// Arista EOS.
pub static ARISTA_EOS: Syntax = Syntax {
    platform: "arista_eos",
    indent: "   ",
    replace_whole: &[r"ip access-list ", r"ipv6 access-list "],
    ..CISCO_IOS
};

/// Cisco NX-OS.
pub static CISCO_NXOS: Syntax = Syntax {
    platform: "cisco_nxos",
    indent: "  ",
    replace_whole: &[r"ip access-list ", r"ipv6 access-list "],
    never_negate: &[
        r"version ",
        r"interface (?:Ethernet|mgmt)",
        r"boot ",
        r"feature ",
    ],
    ..CISCO_IOS
};

/// Cisco IOS XR.
pub static CISCO_XR: Syntax = Syntax {
    platform: "cisco_xr",
    closes_section: &["end-policy", "end-set", "end-group"],
    // Entered again, a route policy or set replaces the old one whole.
    resend_whole: &[
        r"route-policy ",
        r"prefix-set ",
        r"as-path-set ",
        r"community-set ",
        r"extcommunity-set ",
    ],
    replace_whole: &[],
    idempotent: &[
        r"hostname ",
        r"domain name ",
        r"clock timezone ",
        r"description ",
        r"ipv4 address ",
        r"mtu ",
        r"router-id ",
        r"bgp router-id ",
        r"remote-as ",
        r"logging buffered ",
        r"snmp-server location ",
        r"snmp-server contact ",
        r"\d+ ",
    ],
    never_negate: &[
        r"version ",
        r"interface (?:GigabitEthernet|TenGigE|HundredGigE|FortyGigE|MgmtEth)",
    ],
    negate_late: &[
        r"interface ",
        r"vrf ",
        r"ipv4 access-list ",
        r"route-policy ",
        r"prefix-set ",
    ],
    ..CISCO_IOS
};

/// Cisco ASA.
pub static CISCO_ASA: Syntax = Syntax {
    platform: "cisco_asa",
    comments: &["!", ":"],
    drop_lines: &["end"],
    // ASA ACLs are top-level lines in order; a group is cleared and entered again.
    replace_whole: &[r"access-list \S+ "],
    clear_group: Some("clear configure {key}"),
    never_negate: &[
        r"ASA Version ",
        r"interface (?:GigabitEthernet|Management|Ethernet)",
    ],
    negate_late: &[r"interface ", r"object ", r"object-group "],
    idempotent: &[
        r"hostname ",
        r"domain-name ",
        r"enable password ",
        r"clock timezone ",
        r"description ",
        r"nameif ",
        r"security-level ",
        r"ip address ",
        r"mtu \S+ ",
        r"logging buffered ",
        r"snmp-server location ",
        r"snmp-server contact ",
        r"ssh timeout ",
        r"ssh version ",
    ],
    banners: false,
    ..CISCO_IOS
};

/// Huawei VRP.
pub static HUAWEI_VRP: Syntax = Syntax {
    platform: "huawei_vrp",
    style: Style::Indented,
    indent: " ",
    comments: &["#", "!"],
    drop_lines: &["return"],
    closes_section: &[],
    negation: "undo",
    positive: None,
    section_exit: "quit",
    idempotent: &[
        r"sysname ",
        r"clock timezone ",
        r"description ",
        r"ip address ",
        r"mtu ",
        r"router id ",
        r"router-id ",
        r"snmp-agent sys-info location ",
        r"snmp-agent sys-info contact ",
        r"info-center loghost source ",
        r"rule \d+ ",
        r"port link-type ",
        r"port default vlan ",
        r"idle-timeout ",
    ],
    replace_whole: &[],
    clear_group: None,
    resend_whole: &[],
    never_negate: &[r"interface (?:GigabitEthernet|Ethernet|XGigabitEthernet|MEth|NULL)"],
    negate_late: &[
        r"interface ",
        r"ip vpn-instance ",
        r"acl ",
        r"route-policy ",
        r"ip ip-prefix ",
    ],
    banners: false,
};

/// Juniper Junos, in set form (its hierarchical display is turned into set commands).
pub static JUNIPER_JUNOS: Syntax = Syntax {
    platform: "juniper_junos",
    style: Style::Set,
    indent: "    ",
    comments: &["#", "/*"],
    drop_lines: &[],
    closes_section: &[],
    negation: "delete",
    positive: Some("set"),
    section_exit: "",
    idempotent: &[
        r"set system host-name ",
        r"set system domain-name ",
        r"set system time-zone ",
        r"set system root-authentication encrypted-password ",
        r"set (?:.* )?description ",
        r"set (?:.* )?mtu ",
        r"set routing-options router-id ",
        r"set routing-options autonomous-system ",
        r"set snmp location ",
        r"set snmp contact ",
        r"set version ",
    ],
    replace_whole: &[
        r"set firewall (?:family \S+ )?filter \S+ ",
        r"set policy-options policy-statement \S+ ",
    ],
    clear_group: None,
    resend_whole: &[],
    never_negate: &[r"set version "],
    negate_late: &[r"set interfaces ", r"set policy-options ", r"set firewall "],
    banners: false,
};

/// Every platform with a syntax.
pub static ALL: &[&Syntax] = &[
    &CISCO_IOS,
    &ARISTA_EOS,
    &CISCO_NXOS,
    &CISCO_XR,
    &CISCO_ASA,
    &HUAWEI_VRP,
    &JUNIPER_JUNOS,
];

/// The platforms [`Syntax::for_platform`] knows, for error messages.
pub const PLATFORMS: &str =
    "cisco_ios, arista_eos, cisco_nxos, cisco_xr, cisco_asa, huawei_vrp, juniper_junos";

impl Syntax {
    /// The syntax of `platform` (with the aliases the inventory may use), or `None`.
    pub fn for_platform(platform: &str) -> Option<&'static Syntax> {
        let name = match platform {
            "cisco_xe" | "ios" => "cisco_ios",
            "eos" => "arista_eos",
            "nxos" | "cisco_nxos_ssh" => "cisco_nxos",
            "iosxr" | "cisco_iosxr" => "cisco_xr",
            "asa" => "cisco_asa",
            "huawei" | "vrp" => "huawei_vrp",
            "junos" | "juniper" => "juniper_junos",
            other => other,
        };
        ALL.iter().copied().find(|s| s.platform == name)
    }

    /// The command that removes `line`: the positive form of a negation (`no shutdown` →
    /// `shutdown`), else the negation (`no X`, `undo X`, `delete X` for `set X`).
    pub fn negate(&self, line: &str) -> String {
        if let Some(positive) = self.positive {
            if let Some(rest) = line
                .strip_prefix(positive)
                .and_then(|r| r.strip_prefix(' '))
            {
                return format!("{} {rest}", self.negation);
            }
            if let Some(rest) = line
                .strip_prefix(self.negation)
                .and_then(|r| r.strip_prefix(' '))
            {
                return format!("{positive} {rest}");
            }
            return format!("{} {line}", self.negation);
        }
        match line
            .strip_prefix(self.negation)
            .and_then(|r| r.strip_prefix(' '))
        {
            Some(positive) => positive.to_owned(),
            None => format!("{} {line}", self.negation),
        }
    }

    /// The patterns of this syntax, compiled once for one computation. Most patterns are plain
    /// prefixes (`hostname `, `description `): those are compared as text, and only the others
    /// become regular expressions. Compiling ~50 regexes took ~1 ms natively and several in the
    /// sandbox, on every compliance or remediation call (a fresh instance keeps nothing).
    pub fn compile(&self) -> Compiled {
        Compiled {
            idempotent: Patterns::new(self.idempotent),
            replace_whole: Patterns::new(self.replace_whole),
            resend_whole: Patterns::new(self.resend_whole),
            never_negate: Patterns::new(self.never_negate),
            negate_late: Patterns::new(self.negate_late),
        }
    }
}

/// A set of line-start patterns: plain prefixes, and regular expressions for the rest.
#[derive(Debug)]
struct Patterns {
    prefixes: Vec<&'static str>,
    regexes: Vec<Regex>,
}

impl Patterns {
    fn new(patterns: &[&'static str]) -> Self {
        let (prefixes, regexes): (Vec<&'static str>, Vec<&'static str>) = patterns
            .iter()
            .partition(|p| !p.chars().any(regex_syntax_meta));
        Self {
            prefixes,
            regexes: regexes
                .iter()
                .filter_map(|p| Regex::new(&format!("^(?:{p})")).ok())
                .collect(),
        }
    }

    /// The longest match at the start of `line`, if any.
    fn longest<'t>(&self, line: &'t str) -> Option<&'t str> {
        let literal = self
            .prefixes
            .iter()
            .filter(|p| line.starts_with(**p))
            .map(|p| p.len());
        let regex = self
            .regexes
            .iter()
            .filter_map(|re| re.find(line))
            .map(|m| m.end());
        literal.chain(regex).max().map(|end| &line[..end])
    }
}

/// Whether `c` means something in a regular expression outside a class (the rest, such as `-`
/// and `#`, only inside one or in verbose mode, which these patterns do not use).
fn regex_syntax_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$'
    )
}

/// A [`Syntax`]'s patterns, compiled.
#[derive(Debug)]
pub struct Compiled {
    idempotent: Patterns,
    replace_whole: Patterns,
    resend_whole: Patterns,
    never_negate: Patterns,
    negate_late: Patterns,
}

impl Compiled {
    /// The slot of a command whose last value wins (its matched prefix), if it is one. An IOS
    /// `ip address … secondary` is not: a device keeps several.
    pub fn slot<'t>(&self, line: &'t str) -> Option<&'t str> {
        if line.ends_with(" secondary") || line.ends_with(" sub") {
            return None;
        }
        self.idempotent.longest(line)
    }

    /// The key of the section or line group replaced whole that `line` starts, if any.
    pub fn replaced_whole<'t>(&self, line: &'t str) -> Option<&'t str> {
        self.replace_whole.longest(line)
    }

    /// Whether the section `line` starts is sent again whole when it differs.
    pub fn resent_whole(&self, line: &str) -> bool {
        self.resend_whole.longest(line).is_some()
    }

    /// Whether `line` is never negated.
    pub fn never_negated(&self, line: &str) -> bool {
        self.never_negate.longest(line).is_some()
    }

    /// Whether the removal of top-level `line` comes after the additions.
    pub fn negated_late(&self, line: &str) -> bool {
        self.negate_late.longest(line).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for syntax in ALL {
            for patterns in [
                syntax.idempotent,
                syntax.replace_whole,
                syntax.resend_whole,
                syntax.never_negate,
                syntax.negate_late,
            ] {
                for p in patterns {
                    assert!(Regex::new(p).is_ok(), "{}: {p}", syntax.platform);
                }
            }
        }
        assert_eq!(ALL.len(), PLATFORMS.split(", ").count());
    }

    #[test]
    fn negation_per_platform() {
        assert_eq!(
            CISCO_IOS.negate("ntp server 192.0.2.1"),
            "no ntp server 192.0.2.1"
        );
        assert_eq!(CISCO_IOS.negate("no shutdown"), "shutdown");
        assert_eq!(
            HUAWEI_VRP.negate("ntp-service unicast-server 192.0.2.1"),
            "undo ntp-service unicast-server 192.0.2.1"
        );
        assert_eq!(HUAWEI_VRP.negate("undo shutdown"), "shutdown");
        assert_eq!(
            JUNIPER_JUNOS.negate("set system ntp server 192.0.2.1"),
            "delete system ntp server 192.0.2.1"
        );
    }

    #[test]
    fn slots_of_last_value_wins_commands() {
        let ios = CISCO_IOS.compile();
        assert_eq!(ios.slot("hostname R1"), Some("hostname "));
        assert_eq!(
            ios.slot("ip address 10.0.0.1 255.255.255.0"),
            Some("ip address ")
        );
        assert_eq!(
            ios.slot("ip address 10.0.0.9 255.255.255.0 secondary"),
            None
        );
        assert_eq!(ios.slot("ntp server 192.0.2.1"), None);
        let junos = JUNIPER_JUNOS.compile();
        assert_eq!(
            junos.slot("set interfaces ge-0/0/0 description \"to core\""),
            Some("set interfaces ge-0/0/0 description ")
        );
        assert_eq!(junos.slot("set system ntp server 192.0.2.1"), None);
    }

    #[test]
    fn knows_aliases_and_refuses_unknown_platforms() {
        assert_eq!(
            Syntax::for_platform("junos").map(|s| s.platform),
            Some("juniper_junos")
        );
        assert_eq!(
            Syntax::for_platform("cisco_xe").map(|s| s.platform),
            Some("cisco_ios")
        );
        assert!(Syntax::for_platform("mikrotik_routeros").is_none());
    }
}
