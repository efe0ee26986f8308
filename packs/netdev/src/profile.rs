//! Platform profiles: how to drive each kind of device. Pure data and regexes, no I/O, so the
//! dialogue rules are unit-tested without a device.

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

/// The dialogue of a network operating system's CLI.
#[derive(Debug, PartialEq, Eq)]
pub struct CliProfile {
    /// Platform name as in the inventory.
    pub platform: &'static str,
    /// Any prompt of the CLI at the end of the output (`R1>`, `R1#`, `R1(config-if)#`).
    pub prompt: &'static str,
    /// A privileged prompt at the end of the output (`R1#`, `R1(config)#`).
    pub privileged_prompt: &'static str,
    /// Commands that turn paging (and wrapping) off, sent once after login.
    pub paging_off: &'static [&'static str],
    /// How the host reaches privileged mode (it types the command and the secret itself).
    pub elevation: Elevation,
    /// The command that enters config mode.
    pub config_enter: &'static str,
    /// The command that leaves config mode from any depth.
    pub config_exit: &'static str,
    /// The command that leaves a config section for the top level of config mode.
    pub section_exit: &'static str,
    /// The command printing the running config.
    pub show_running: &'static str,
    /// The command saving the running config to startup.
    pub save: &'static str,
    /// Lines of the `show_running` output that are not config (banners, sizes, timestamps).
    pub strip: &'static [&'static str],
    /// Error answers of the CLI, each a regex matched at the start of a line (`% Invalid
    /// input`, `Unknown command`, `Error: …`).
    pub errors: &'static [&'static str],
    /// The indentation of section lines in `show_running`.
    pub indent: &'static str,
}

/// The prompt of IOS-like CLIs: a hostname, an optional `(config…)` mode, `>` or `#`, at the end
/// of the output. Anchored to the start of a line so that `#` inside output does not match.
const IOS_LIKE_PROMPT: &str = r"(?:^|\n)[A-Za-z0-9_.\-]+(?:\([A-Za-z0-9_.\-]+\))?[>#]\s*$";

/// The privileged prompts of IOS-like CLIs: [`IOS_LIKE_PROMPT`] ending in `#`.
const IOS_LIKE_PRIVILEGED_PROMPT: &str = r"(?:^|\n)[A-Za-z0-9_.\-]+(?:\([A-Za-z0-9_.\-]+\))?#\s*$";

/// Errors IOS and EOS print for lines they refuse.
const IOS_LIKE_ERRORS: &[&str] = &[
    r"% ?(?:Invalid input|Incomplete command|Ambiguous command|Unknown command|Error|Bad secrets|Access denied)",
];

/// What any CLI may answer instead of output, whatever its platform: a device mislabelled in
/// the inventory, or one that lacks the command, answers in its own words. Matched
/// case-insensitively at the start of the first lines of a reply only (see
/// [`CliProfile::reply_error`]), so config text further down never counts.
const ANY_CLI_ERRORS: &str = r"(?i)^\s*(?:%\s*|error:\s*|\^\s*|-?[\w.-]+: (?:[\w.-]+: )?)?(?:unknown command|invalid (?:input|command|parameter)|incomplete command|ambiguous command|unrecognized command|syntax error|error:|wrong parameter|command not found|command rejected|bad command)";

/// How many non-blank lines at the start of a reply [`CliProfile::reply_error`] looks at: an
/// error reply has its message there (after an echo and a `^` marker line), while a banner or
/// a description that happens to start with `Error:` is never among a config's first lines.
const REPLY_HEAD_LINES: usize = 3;

/// Cisco IOS / IOS XE.
pub static CISCO_IOS: CliProfile = CliProfile {
    platform: "cisco_ios",
    prompt: IOS_LIKE_PROMPT,
    privileged_prompt: IOS_LIKE_PRIVILEGED_PROMPT,
    paging_off: &["terminal length 0", "terminal width 511"],
    elevation: Elevation::Enable,
    config_enter: "configure terminal",
    config_exit: "end",
    section_exit: "exit",
    show_running: "show running-config",
    save: "write memory",
    strip: &[
        r"^Building configuration\.\.\.$",
        r"^Current configuration ?: ?\d+ bytes$",
        r"^! Last configuration change at ",
        r"^! NVRAM config last updated at ",
        r"^! No configuration change since last restart",
    ],
    errors: IOS_LIKE_ERRORS,
    indent: " ",
};

/// Arista EOS.
pub static ARISTA_EOS: CliProfile = CliProfile {
    platform: "arista_eos",
    prompt: IOS_LIKE_PROMPT,
    privileged_prompt: IOS_LIKE_PRIVILEGED_PROMPT,
    paging_off: &["terminal length 0", "terminal width 511"],
    elevation: Elevation::Enable,
    config_enter: "configure terminal",
    config_exit: "end",
    section_exit: "exit",
    show_running: "show running-config",
    save: "write memory",
    strip: &[
        r"^! Command: show running-config",
        r"^! device: ",
        r"^! Time: ",
        r"^! Startup-config last modified at ",
    ],
    errors: IOS_LIKE_ERRORS,
    indent: "   ",
};

/// The profile of `platform`, or `None` for a platform this pack does not know.
pub fn for_platform(platform: &str) -> Option<Access> {
    match platform {
        "cisco_ios" | "cisco_xe" | "ios" => Some(Access::Cli(&CISCO_IOS)),
        "arista_eos" | "eos" => Some(Access::Cli(&ARISTA_EOS)),
        "linux" => Some(Access::Exec),
        _ => None,
    }
}

/// The platforms [`for_platform`] knows, for error messages.
pub const PLATFORMS: &str = "cisco_ios, arista_eos, linux";

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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        Regex::new(pattern).expect("valid regex").is_match(text)
    }

    #[test]
    fn knows_ios_eos_and_linux_only() {
        assert_eq!(for_platform("cisco_ios"), Some(Access::Cli(&CISCO_IOS)));
        assert_eq!(for_platform("arista_eos"), Some(Access::Cli(&ARISTA_EOS)));
        assert_eq!(for_platform("linux"), Some(Access::Exec));
        assert_eq!(for_platform("juniper_junos"), None);
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
