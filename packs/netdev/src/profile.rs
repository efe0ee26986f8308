//! Platform profiles: how to drive each kind of device. Pure data and regexes, no I/O, so the
//! dialogue rules are unit-tested without a device.

use netcfg::Syntax;
use netcfg::syntax;
use orch_sdk::ssh::Elevation;
use regex::Regex;

/// How a platform is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// An interactive CLI on a pseudo-terminal (network operating systems).
    Cli(&'static CliProfile),
    /// Commands over SSH exec (Linux hosts): the config is a file named by a device var.
    Exec,
}

/// When the pack asks the host to reach privileged mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elevate {
    /// When the login prompt is not privileged (IOS-like `R1>`): `enable`.
    WhenUnprivileged(Elevation),
    /// When an enable credential is named (Huawei VRP: `super` raises the user level only
    /// where the account needs it).
    WithCredential(Elevation),
    /// Never: the login is what it is (Junos, IOS XR: roles decide).
    Never,
}

/// How a platform with a candidate config commits it.
#[derive(Debug, PartialEq, Eq)]
pub struct Commit {
    /// Commits the candidate (`commit`); also confirms a confirmed commit.
    pub commit: &'static str,
    /// A commit rolled back unless confirmed; `{n}` is the time in [`Self::confirm_unit`].
    pub confirmed: &'static str,
    /// Seconds per unit of `{n}` (60 for Junos minutes, 1 for IOS XR seconds).
    pub confirm_unit: u32,
    /// The smallest confirm time the platform takes, in seconds.
    pub confirm_min: u32,
    /// Throws the candidate away and leaves config mode (IOS XR `abort`), or throws it away
    /// before `config_exit` (Junos `rollback 0`).
    pub discard: &'static str,
    /// Whether `discard` already leaves config mode.
    pub discard_leaves: bool,
    /// What the commit prints when it fails (a regex at a line start).
    pub failed: &'static [&'static str],
}

/// How a platform saves its running config to startup.
#[derive(Debug, PartialEq, Eq)]
pub struct Save {
    /// The command (`write memory`, `save`).
    pub command: &'static str,
    /// A question the command asks before saving (a regex at the end of the output), and the
    /// answer typed.
    pub question: Option<(&'static str, &'static str)>,
}

/// The dialogue of a network operating system's CLI.
#[derive(Debug, PartialEq, Eq)]
pub struct CliProfile {
    /// Platform name as in the inventory.
    pub platform: &'static str,
    /// The platform's config syntax (sections, negation, remediation rules).
    pub syntax: &'static Syntax,
    /// Any prompt of the CLI at the end of the output (`R1>`, `R1#`, `R1(config-if)#`).
    pub prompt: &'static str,
    /// The prompt that shows privileged mode was reached (`R1#`).
    pub privileged_prompt: &'static str,
    /// Lines the CLI prints between a command's output and its prompt (Junos `[edit]`),
    /// dropped from outputs.
    pub context_lines: &'static [&'static str],
    /// Commands that turn paging (and wrapping) off, sent once after login.
    pub paging_off: &'static [&'static str],
    /// When and how privileged mode is reached (the host types the command and the secret).
    pub elevate: Elevate,
    /// The command that enters config mode.
    pub config_enter: &'static str,
    /// The command that leaves config mode from any depth.
    pub config_exit: &'static str,
    /// The command printing the running config in the platform's native display.
    pub show_running: &'static str,
    /// The command printing it as set commands, where the platform has that display (Junos).
    pub show_running_set: Option<&'static str>,
    /// How a candidate config is committed, on platforms that have one.
    pub commit: Option<&'static Commit>,
    /// How the running config is saved to startup; `None` where a commit persists it.
    pub save: Option<&'static Save>,
    /// Lines of the `show_running` output that are not config (banners, sizes, timestamps).
    pub strip: &'static [&'static str],
    /// Error answers of the CLI, each a regex matched at the start of a line (`% Invalid
    /// input`, `Unknown command`, `Error: …`).
    pub errors: &'static [&'static str],
}

/// The prompt of IOS-like CLIs: a hostname, an optional `(config…)` mode, `>` or `#`, at the end
/// of the output. Anchored to the start of a line so that `#` inside output does not match.
const IOS_LIKE_PROMPT: &str = r"(?:^|\n)[A-Za-z0-9_.\-]+(?:\([A-Za-z0-9_.\-]+\))?[>#]\s*$";

/// The privileged prompts of IOS-like CLIs: [`IOS_LIKE_PROMPT`] ending in `#`.
const IOS_LIKE_PRIVILEGED_PROMPT: &str = r"(?:^|\n)[A-Za-z0-9_.\-]+(?:\([A-Za-z0-9_.\-]+\))?#\s*$";

/// IOS XR: `RP/0/RP0/CPU0:X1#`, `RP/0/RP0/CPU0:X1(config-if)#`.
const XR_PROMPT: &str =
    r"(?:^|\n)(?:RP/\d+/(?:RP|RSP)?\d+/CPU\d+:)?[A-Za-z0-9_.\-]+(?:\([A-Za-z0-9_.\-]+\))?[>#]\s*$";

/// Huawei VRP: `<HW1>` (user view), `[HW1]`, `[HW1-GigabitEthernet0/0/1]`, `[~HW1]` (two-stage).
const VRP_PROMPT: &str = r"(?:^|\n)(?:<[A-Za-z0-9_.\-]+>|\[~?\*?[A-Za-z0-9_.\-/:]+\])\s*$";

/// Huawei VRP after `super`: the level change message, then the user view prompt.
const VRP_SUPER_DONE: &str = r"(?s)Now user privilege is \d+ level.*(?:^|\n)<[A-Za-z0-9_.\-]+>\s*$";

/// Junos: `admin@J1> ` (operational mode), `admin@J1# ` (configuration mode).
const JUNOS_PROMPT: &str = r"(?:^|\n)[A-Za-z0-9_.\-]+@[A-Za-z0-9_.\-]+[>#] ?$";

/// Errors IOS and EOS print for lines they refuse.
const IOS_LIKE_ERRORS: &[&str] = &[
    r"% ?(?:Invalid input|Incomplete command|Ambiguous command|Unknown command|Error|Bad secrets|Access denied)",
];

/// A show command's timestamp line on IOS XR (`Tue Dec 01 04:54:02.000 UTC`).
const XR_TIMESTAMP: &str =
    r"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \w{3} +\d+ \d\d:\d\d:\d\d(?:\.\d+)? \w+$";

/// What any CLI may answer instead of output, whatever its platform: a device mislabelled in
/// the inventory, or one that lacks the command, answers in its own words. Matched
/// case-insensitively at the start of the first lines of a reply only (see
/// [`CliProfile::reply_error`]), so config text further down never counts.
const ANY_CLI_ERRORS: &str = r"(?i)^\s*(?:%\s*|error:\s*|\^\s*|-?[\w.-]+: (?:[\w.-]+: )?)?(?:unknown command|invalid (?:input|command|parameter)|incomplete command|ambiguous command|unrecognized command|syntax error|error:|wrong parameter|command not found|command rejected|bad command)";

/// How many non-blank lines at the start of a reply [`CliProfile::reply_error`] looks at: an
/// error reply has its message there (after an echo and a `^` marker line), while a banner or
/// a description that happens to start with `Error:` is never among a config's first lines.
const REPLY_HEAD_LINES: usize = 3;

const IOS_PAGING: &[&str] = &["terminal length 0", "terminal width 511"];

/// Cisco IOS / IOS XE.
pub static CISCO_IOS: CliProfile = CliProfile {
    platform: "cisco_ios",
    syntax: &syntax::CISCO_IOS,
    prompt: IOS_LIKE_PROMPT,
    privileged_prompt: IOS_LIKE_PRIVILEGED_PROMPT,
    context_lines: &[],
    paging_off: IOS_PAGING,
    elevate: Elevate::WhenUnprivileged(Elevation::Enable),
    config_enter: "configure terminal",
    config_exit: "end",
    show_running: "show running-config",
    show_running_set: None,
    commit: None,
    save: Some(&Save {
        command: "write memory",
        question: None,
    }),
    strip: &[
        r"^Building configuration\.\.\.$",
        r"^Current configuration ?: ?\d+ bytes$",
        r"^! Last configuration change at ",
        r"^! NVRAM config last updated at ",
        r"^! No configuration change since last restart",
    ],
    errors: IOS_LIKE_ERRORS,
};

/// Arista EOS.
pub static ARISTA_EOS: CliProfile = CliProfile {
    platform: "arista_eos",
    syntax: &syntax::ARISTA_EOS,
    strip: &[
        r"^! Command: show running-config",
        r"^! device: ",
        r"^! Time: ",
        r"^! Startup-config last modified at ",
    ],
    ..CISCO_IOS
};

/// Cisco NX-OS.
pub static CISCO_NXOS: CliProfile = CliProfile {
    platform: "cisco_nxos",
    syntax: &syntax::CISCO_NXOS,
    save: Some(&Save {
        command: "copy running-config startup-config",
        question: None,
    }),
    strip: &[
        r"^!Command: show running-config",
        r"^!Running configuration last done at: ",
        r"^!Time: ",
    ],
    errors: &[
        r"% ?(?:Invalid command|Invalid input|Incomplete command|Ambiguous command|Invalid parameter|Permission denied|Invalid range)",
        r"ERROR: ",
    ],
    ..CISCO_IOS
};

/// Cisco IOS XR: a candidate config, committed.
pub static CISCO_XR: CliProfile = CliProfile {
    platform: "cisco_xr",
    syntax: &syntax::CISCO_XR,
    prompt: XR_PROMPT,
    privileged_prompt: XR_PROMPT,
    elevate: Elevate::Never,
    commit: Some(&Commit {
        commit: "commit",
        confirmed: "commit confirmed {n}",
        confirm_unit: 1,
        confirm_min: 30,
        discard: "abort",
        discard_leaves: true,
        failed: &[r"% ?Failed to commit", r"% ?Commit failed"],
    }),
    save: None,
    strip: &[
        XR_TIMESTAMP,
        r"^Building configuration\.\.\.$",
        r"^!! IOS XR Configuration ",
        r"^!! Last configuration change at ",
    ],
    errors: &[
        r"% ?(?:Invalid input|Incomplete command|Ambiguous command|Failed to commit|Commit failed|This configuration failed)",
    ],
    ..CISCO_IOS
};

/// Cisco ASA.
pub static CISCO_ASA: CliProfile = CliProfile {
    platform: "cisco_asa",
    syntax: &syntax::CISCO_ASA,
    paging_off: &["terminal pager 0"],
    strip: &[
        r"^: Saved$",
        r"^:$",
        r"^: Serial Number: ",
        r"^: Hardware: ",
        r"^Cryptochecksum:",
    ],
    errors: &[
        r"ERROR: ",
        r"% ?(?:Invalid input|Incomplete command|Ambiguous command)",
    ],
    ..CISCO_IOS
};

/// Huawei VRP.
pub static HUAWEI_VRP: CliProfile = CliProfile {
    platform: "huawei_vrp",
    syntax: &syntax::HUAWEI_VRP,
    prompt: VRP_PROMPT,
    privileged_prompt: VRP_SUPER_DONE,
    context_lines: &[],
    paging_off: &["screen-length 0 temporary"],
    elevate: Elevate::WithCredential(Elevation::Super),
    config_enter: "system-view",
    config_exit: "return",
    show_running: "display current-configuration",
    show_running_set: None,
    commit: None,
    save: Some(&Save {
        command: "save",
        question: Some((r"\[Y/N\]:?\s*$", "y")),
    }),
    strip: &[r"^!Software Version ", r"^!Last configuration was "],
    errors: &[r"Error: ", r"Error:"],
};

/// Juniper Junos: a candidate config, committed; set and hierarchical displays.
pub static JUNIPER_JUNOS: CliProfile = CliProfile {
    platform: "juniper_junos",
    syntax: &syntax::JUNIPER_JUNOS,
    prompt: JUNOS_PROMPT,
    privileged_prompt: JUNOS_PROMPT,
    context_lines: &[
        r"^\[edit.*\]$",
        r"^\{(?:master|backup|primary|secondary|line).*\}$",
    ],
    paging_off: &[
        "set cli screen-length 0",
        "set cli screen-width 511",
        "set cli complete-on-space off",
    ],
    elevate: Elevate::Never,
    config_enter: "configure",
    config_exit: "exit configuration-mode",
    show_running: "show configuration",
    show_running_set: Some("show configuration | display set"),
    commit: Some(&Commit {
        commit: "commit",
        confirmed: "commit confirmed {n}",
        confirm_unit: 60,
        confirm_min: 60,
        discard: "rollback 0",
        discard_leaves: false,
        failed: &[r"error: ", r"commit failed"],
    }),
    save: None,
    strip: &[r"^## Last commit: ", r"^## Last changed: "],
    errors: &[
        r"syntax error",
        r"unknown command",
        r"error: ",
        r"missing argument",
        r"invalid (?:value|interface|ip address)",
    ],
};

/// Every CLI platform.
pub static CLI_PROFILES: &[&CliProfile] = &[
    &CISCO_IOS,
    &ARISTA_EOS,
    &CISCO_NXOS,
    &CISCO_XR,
    &CISCO_ASA,
    &HUAWEI_VRP,
    &JUNIPER_JUNOS,
];

/// The profile of `platform`, or `None` for a platform this pack does not know.
pub fn for_platform(platform: &str) -> Option<Access> {
    if platform == "linux" {
        return Some(Access::Exec);
    }
    let syntax = Syntax::for_platform(platform)?;
    CLI_PROFILES
        .iter()
        .copied()
        .find(|p| p.platform == syntax.platform)
        .map(Access::Cli)
}

/// The platforms [`for_platform`] knows, for error messages.
pub const PLATFORMS: &str =
    "cisco_ios, arista_eos, cisco_nxos, cisco_xr, cisco_asa, huawei_vrp, juniper_junos, linux";

impl CliProfile {
    /// Whether `output` (a command's answer) contains one of the CLI's error lines; returns it.
    pub fn error_in(&self, output: &str) -> Option<String> {
        self.errors.iter().find_map(|pattern| {
            let re = Regex::new(&format!("(?m)^{pattern}")).ok()?;
            let found = re.find(output)?;
            let line_end = output[found.start()..]
                .find('\n')
                .map_or(output.len(), |i| found.start() + i);
            Some(output[found.start()..line_end].trim_end().to_owned())
        })
    }

    /// Whether a whole reply (to `show running-config`, a paging command, a save) is an error
    /// rather than output: one of the CLI's error lines anywhere, or, among its first
    /// non-blank lines, an error in any CLI's words (`Unknown command`, `syntax error`,
    /// `Error: …`), which is what a device of another platform answers.
    pub fn reply_error(&self, output: &str) -> Option<String> {
        if let Some(error) = self.error_in(output) {
            return Some(error);
        }
        let any = Regex::new(ANY_CLI_ERRORS).ok()?;
        output
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && *line != "^")
            .take(REPLY_HEAD_LINES)
            .find(|line| any.is_match(line))
            .map(str::to_owned)
    }

    /// Whether `prompt_text` (the tail of the output, ending with a prompt) is privileged
    /// (`#`) rather than user mode (`>`).
    pub fn is_privileged(prompt_text: &str) -> bool {
        prompt_text.trim_end().ends_with('#')
    }

    /// `output` without the context lines the CLI prints before its prompt (Junos `[edit]`)
    /// and blank lines at its end.
    pub fn without_context(&self, output: &str) -> String {
        let context: Vec<Regex> = self
            .context_lines
            .iter()
            .filter_map(|p| Regex::new(p).ok())
            .collect();
        let mut lines: Vec<&str> = output.split('\n').collect();
        while let Some(last) = lines.last() {
            let trimmed = last.trim();
            if trimmed.is_empty() || context.iter().any(|re| re.is_match(trimmed)) {
                lines.pop();
            } else {
                break;
            }
        }
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        Regex::new(pattern).expect("valid regex").is_match(text)
    }

    #[test]
    fn knows_each_platform_and_its_aliases() {
        assert_eq!(for_platform("cisco_ios"), Some(Access::Cli(&CISCO_IOS)));
        assert_eq!(for_platform("arista_eos"), Some(Access::Cli(&ARISTA_EOS)));
        assert_eq!(for_platform("linux"), Some(Access::Exec));
        assert_eq!(for_platform("junos"), Some(Access::Cli(&JUNIPER_JUNOS)));
        assert_eq!(for_platform("huawei"), Some(Access::Cli(&HUAWEI_VRP)));
        assert_eq!(for_platform("mikrotik_routeros"), None);
        for profile in CLI_PROFILES {
            assert!(PLATFORMS.contains(profile.platform), "{}", profile.platform);
            for pattern in profile
                .errors
                .iter()
                .chain(profile.strip)
                .chain(profile.context_lines)
                .chain([&profile.prompt, &profile.privileged_prompt])
            {
                assert!(
                    Regex::new(pattern).is_ok(),
                    "{}: {pattern}",
                    profile.platform
                );
            }
        }
    }

    #[test]
    fn prompts_of_xr_vrp_and_junos() {
        for (profile, yes, no) in [
            (
                &CISCO_XR,
                &[
                    "RP/0/RP0/CPU0:X1#",
                    "\r\nRP/0/RP0/CPU0:X1(config-if)#",
                    "X1#",
                ][..],
                &["RP/0/RP0/CPU0:X1#show run\r\nhostname X1"][..],
            ),
            (
                &HUAWEI_VRP,
                &[
                    "<HW1>",
                    "\r\n[HW1]",
                    "[HW1-GigabitEthernet0/0/1]",
                    "[~HW1-ospf-1-area-0.0.0.0]",
                ][..],
                &["<HW1>display version\r\nHuawei", "Password:"][..],
            ),
            (
                &JUNIPER_JUNOS,
                &["admin@J1> ", "\r\n[edit]\r\nadmin@J1# "][..],
                &["admin@J1> show version\r\nHostname: J1", "J1>"][..],
            ),
        ] {
            for text in yes {
                assert!(
                    matches(profile.prompt, text),
                    "{}: {text:?}",
                    profile.platform
                );
            }
            for text in no {
                assert!(
                    !matches(profile.prompt, text),
                    "{}: {text:?}",
                    profile.platform
                );
            }
        }
        assert!(matches(
            HUAWEI_VRP.privileged_prompt,
            "super\r\nPassword:\r\nNow user privilege is 3 level, and only those commands whose level is equal to or less than this level can be used.\r\n<HW1>"
        ));
        assert!(!matches(
            HUAWEI_VRP.privileged_prompt,
            "super\r\nPassword:\r\nError: Failed to verify the password.\r\n<HW1>"
        ));
    }

    #[test]
    fn junos_context_lines_are_not_output() {
        assert_eq!(
            JUNIPER_JUNOS.without_context("commit complete\n\n[edit]"),
            "commit complete"
        );
        assert_eq!(CISCO_IOS.without_context("[edit]"), "[edit]");
    }

    #[test]
    fn each_platform_knows_its_own_errors() {
        for (profile, reply) in [
            (&CISCO_NXOS, "% Invalid command at '^' marker."),
            (&CISCO_XR, "% Invalid input detected at '^' marker."),
            (&CISCO_ASA, "ERROR: % Invalid input detected at '^' marker."),
            (
                &HUAWEI_VRP,
                "Error: Unrecognized command found at '^' position.",
            ),
            (&JUNIPER_JUNOS, "syntax error."),
            (&JUNIPER_JUNOS, "error: configuration check-out failed"),
        ] {
            let text = format!("            ^\n{reply}\n");
            assert_eq!(
                profile.error_in(&text).as_deref(),
                Some(reply),
                "{}",
                profile.platform
            );
        }
        assert_eq!(JUNIPER_JUNOS.error_in("warning: statement not found"), None);
    }

    #[test]
    fn prompt_matches_every_mode_at_the_end_only() {
        for profile in [&CISCO_IOS, &ARISTA_EOS] {
            for text in [
                "Custom SSH Shell\r\nR1>",
                "show clock\r\n10:00\r\nR1#",
                "configure terminal\r\nR1(config)#",
                "interface Lo0\r\nR1(config-if)#",
                "interface Ethernet1\r\nSW1(config-if-Et1)#",
                "R1# ",
            ] {
                assert!(matches(profile.prompt, text), "{text:?}");
            }
            for text in [
                "R1#show running-config\r\nBuilding configuration...",
                "hostname R1\r\n banner #",
                "Password: ",
            ] {
                assert!(!matches(profile.prompt, text), "{text:?}");
            }
        }
    }

    #[test]
    fn privileged_prompt_matches_hash_prompts_only() {
        for profile in [&CISCO_IOS, &ARISTA_EOS] {
            for text in ["enable\r\nR1#", "R1(config)# ", "\r\nSW1(config-if-Et1)#"] {
                assert!(matches(profile.privileged_prompt, text), "{text:?}");
            }
            for text in [
                "enable\r\nR1>",
                "enable\r\nPassword: ",
                "R1#show run\r\nhostname R1",
                "banner motd #",
            ] {
                assert!(!matches(profile.privileged_prompt, text), "{text:?}");
            }
        }
    }

    #[test]
    fn privileged_prompts_end_with_hash() {
        assert!(CliProfile::is_privileged("R1#"));
        assert!(CliProfile::is_privileged("\r\nR1(config)# "));
        assert!(!CliProfile::is_privileged("R1>"));
    }

    #[test]
    fn finds_error_lines_of_ios_and_eos() {
        let ios = "            ^\n% Invalid input detected at '^' marker.\n";
        assert_eq!(
            CISCO_IOS.error_in(ios).as_deref(),
            Some("% Invalid input detected at '^' marker.")
        );
        assert_eq!(
            ARISTA_EOS.error_in("% Invalid input").as_deref(),
            Some("% Invalid input")
        );
        assert_eq!(
            CISCO_IOS.error_in("% Incomplete command.").as_deref(),
            Some("% Incomplete command.")
        );
        assert_eq!(CISCO_IOS.error_in("hostname R1\n% is fine mid-line"), None);
        assert_eq!(CISCO_IOS.error_in("Enter configuration commands"), None);
    }

    #[test]
    fn a_reply_in_another_cli_s_words_is_an_error() {
        for (reply, error) in [
            ("Unknown command", "Unknown command"),
            (
                "\n                  ^\nunknown command.\n",
                "unknown command.",
            ),
            (
                "              ^\nsyntax error, expecting <command>.",
                "syntax error, expecting <command>.",
            ),
            (
                "Error: Unrecognized command found at '^' position.",
                "Error: Unrecognized command found at '^' position.",
            ),
            (
                "% Invalid command at '^' marker.",
                "% Invalid command at '^' marker.",
            ),
            (
                "ERROR: % Invalid input detected at '^' marker.",
                "ERROR: % Invalid input detected at '^' marker.",
            ),
            (
                "-bash: show: command not found",
                "-bash: show: command not found",
            ),
        ] {
            for profile in [&CISCO_IOS, &ARISTA_EOS] {
                assert_eq!(
                    profile.reply_error(reply).as_deref(),
                    Some(error),
                    "{reply:?}"
                );
            }
        }
    }

    #[test]
    fn a_config_mentioning_errors_further_down_is_not_an_error_reply() {
        let config = "hostname R1\n!\ninterface Loopback0\n description Error: not a reply\nbanner motd ^C\nUnknown command is what intruders get\n^C\nend\n";
        assert_eq!(CISCO_IOS.reply_error(config), None);
        assert_eq!(CISCO_IOS.reply_error(""), None);
    }
}
