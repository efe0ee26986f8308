//! Driving a device CLI through the host's SSH shell: log in to an inventory device, reach
//! privileged mode (the host's `elevate` types `enable` and the enable secret itself, as the
//! first input on the shell, so the pack never sees the secret and could not capture it), turn
//! paging off, run commands, and send config lines one at a time, stopping at the first line
//! the device refuses.

use std::time::Duration;

use orch_sdk::ssh::{self, ConnectOptions, ElevateOptions, Session, Shell, ShellOptions, Target};
use orch_sdk::{ActionError, ErrorCode};
use serde::Serialize;

use crate::profile::{CliProfile, Commit, Elevate};

/// Connecting and logging in.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// One ordinary command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
/// `show running-config` and `write memory` on a large device.
const LONG_TIMEOUT: Duration = Duration::from_secs(60);

/// A line the device refused.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, PartialEq, Eq)]
pub struct Refusal {
    /// The line as sent.
    pub line: String,
    /// The device's error line (`% Invalid input detected at '^' marker.`).
    pub error: String,
}

/// An open CLI in privileged mode.
pub struct Cli {
    profile: &'static CliProfile,
    device: String,
    /// The prompt the device showed at login (it names the device).
    login_prompt: String,
    // Declared before the session: the shell closes first.
    shell: Shell,
    _session: Session,
}

/// Opens a session to inventory device `device` (the host supplies address, port and
/// credential), a shell, reaches privileged mode and turns paging off.
pub fn open(
    profile: &'static CliProfile,
    device: &str,
    enable_credential: Option<&str>,
) -> Result<Cli, ActionError> {
    let session = ConnectOptions::new(Target::inventory(device))
        .timeout(CONNECT_TIMEOUT)
        .connect()?;
    let shell = session.shell(ShellOptions::default())?;
    let banner = shell.read_until(profile.prompt, COMMAND_TIMEOUT)?;
    let cli = Cli {
        profile,
        device: device.to_owned(),
        login_prompt: banner.rsplit('\n').next().unwrap_or_default().to_owned(),
        shell,
        _session: session,
    };
    match profile.elevate {
        Elevate::WhenUnprivileged(_) if !CliProfile::is_privileged(&banner) => {
            cli.enable(enable_credential)?;
        }
        Elevate::WithCredential(_) if enable_credential.is_some() => {
            cli.enable(enable_credential)?;
        }
        _ => {}
    }
    for command in profile.paging_off {
        let out = cli.command(command)?;
        // A device of another platform refuses these first: say so before its pages of output
        // (or its error text) are taken for a config.
        if let Some(error) = profile.reply_error(&out) {
            return Err(cli.refused(command, &error));
        }
    }
    Ok(cli)
}

impl Cli {
    /// Privileged mode through the host's `elevate`: the first thing typed on this shell. Without
    /// a credential the host types nothing at a password prompt and says so.
    fn enable(&self, enable_credential: Option<&str>) -> Result<(), ActionError> {
        let (Elevate::WhenUnprivileged(method) | Elevate::WithCredential(method)) =
            self.profile.elevate
        else {
            return Ok(());
        };
        let mut options = ElevateOptions::new(method, self.profile.privileged_prompt)
            .prompt(self.profile.prompt)
            .timeout(COMMAND_TIMEOUT);
        if let Some(credential) = enable_credential {
            options = options.credential(credential);
        }
        match self.shell.elevate(&options) {
            Ok(_) => Ok(()),
            Err(err) if err.code() == ErrorCode::AuthFailed => {
                let fix = match enable_credential {
                    None => {
                        "if it asks for an enable password, name an ssh-password credential \
                         holding it in the input enable_credential or the device var \
                         enable_credential"
                    }
                    Some(_) => "check the enable credential",
                };
                Err(ActionError::new(
                    "enable_failed",
                    format!(
                        "device {:?} did not enter privileged mode ({}); {fix}",
                        self.device,
                        err.message()
                    ),
                ))
            }
            Err(err) => Err(err.into()),
        }
    }

    /// The prompt the device showed at login.
    pub fn login_prompt(&self) -> &str {
        &self.login_prompt
    }

    /// Runs a show command that must answer with output: a reply that is an error (in any
    /// CLI's words) fails, naming the command.
    pub fn show(&self, command: &str) -> Result<String, ActionError> {
        let out = self.command_within(command, LONG_TIMEOUT)?;
        if let Some(error) = self.profile.reply_error(&out) {
            return Err(self.refused(command, &error));
        }
        Ok(out)
    }

    /// Whether the platform edits a candidate config (a refusal leaves the device unchanged).
    pub fn has_candidate(&self) -> bool {
        self.profile.commit.is_some()
    }

    /// The error of a command the device refused outright, naming the platform the inventory
    /// claims, since the likeliest cause is a device of another platform.
    fn refused(&self, command: &str, error: &str) -> ActionError {
        ActionError::new(
            "rejected",
            format!(
                "device {:?} answered {command:?} with {error:?}, not output: is its inventory \
                 platform {} right?",
                self.device, self.profile.platform
            ),
        )
    }

    /// Runs `command` and returns its output without echo and prompt.
    pub fn command(&self, command: &str) -> Result<String, ActionError> {
        self.command_within(command, COMMAND_TIMEOUT)
    }

    fn command_within(&self, command: &str, timeout: Duration) -> Result<String, ActionError> {
        self.shell.send_line(command)?;
        let raw = self.shell.read_until(self.profile.prompt, timeout)?;
        Ok(self
            .profile
            .without_context(&ssh::command_output(&raw, command)))
    }

    /// The raw output of `show running-config` (or the platform's equivalent; with `set`, its
    /// set-command display where it has one).
    pub fn show_running(&self, set: bool) -> Result<String, ActionError> {
        let command = match (set, self.profile.show_running_set) {
            (true, Some(command)) => command,
            _ => self.profile.show_running,
        };
        let out = self.command_within(command, LONG_TIMEOUT)?;
        if let Some(error) = self.profile.reply_error(&out) {
            return Err(self.refused(command, &error));
        }
        Ok(out)
    }

    /// Enters config mode, sends `lines` one at a time, commits where the platform has a
    /// candidate config (with `confirm`, as a confirmed commit that is then confirmed, unless
    /// `leave_unconfirmed`), and leaves config mode. Stops at the first line the device refuses:
    /// on a platform with a candidate config the candidate is thrown away (nothing was applied),
    /// elsewhere the lines before it stay applied. Returns what was sent and the refusal.
    pub fn configure(
        &self,
        lines: &[String],
        confirm: Option<Confirm>,
    ) -> Result<Configured, ActionError> {
        let enter = self.command(self.profile.config_enter)?;
        if let Some(error) = self.profile.error_in(&enter) {
            return Err(ActionError::new(
                "rejected",
                format!("device {:?} refused config mode: {error}", self.device),
            ));
        }
        let mut sent = Vec::with_capacity(lines.len());
        let mut refusal = None;
        // Inside a multi-line banner the device shows no prompt until the closing delimiter.
        let mut banner: Option<char> = None;
        for line in lines {
            match banner {
                Some(delimiter) if !line.contains(delimiter) => {
                    self.shell.send_line(line)?;
                    sent.push(line.clone());
                    continue;
                }
                Some(_) => banner = None,
                None => {
                    banner = opens_banner(line);
                    if banner.is_some() {
                        self.shell.send_line(line)?;
                        sent.push(line.clone());
                        continue;
                    }
                }
            }
            let out = self.command(line)?;
            sent.push(line.clone());
            if let Some(error) = self.profile.error_in(&out) {
                refusal = Some(Refusal {
                    line: line.clone(),
                    error,
                });
                break;
            }
        }
        let Some(commit) = self.profile.commit else {
            self.command(self.profile.config_exit)?;
            return Ok(Configured {
                sent,
                refusal,
                committed: None,
            });
        };
        if refusal.is_some() {
            self.discard(commit)?;
            return Ok(Configured {
                sent,
                refusal,
                committed: None,
            });
        }
        let committed = match confirm {
            None => {
                self.commit_with(commit, commit.commit)?;
                Commitment::Committed
            }
            Some(confirm) => {
                let units = confirm
                    .seconds
                    .max(commit.confirm_min)
                    .div_ceil(commit.confirm_unit);
                let command = commit.confirmed.replace("{n}", &units.to_string());
                self.commit_with(commit, &command)?;
                if confirm.leave_unconfirmed {
                    Commitment::PendingConfirmation {
                        seconds: units * commit.confirm_unit,
                    }
                } else {
                    // The session still answers after the change: confirm it.
                    self.commit_with(commit, commit.commit)?;
                    Commitment::Confirmed {
                        seconds: units * commit.confirm_unit,
                    }
                }
            }
        };
        self.command(self.profile.config_exit)?;
        Ok(Configured {
            sent,
            refusal: None,
            committed: Some(committed),
        })
    }

    fn commit_with(&self, commit: &Commit, command: &str) -> Result<(), ActionError> {
        let out = self.command_within(command, LONG_TIMEOUT)?;
        let failed = commit.failed.iter().find_map(|pattern| {
            regex::Regex::new(&format!("(?m)^{pattern}"))
                .ok()?
                .find(&out)
                .map(|m| {
                    out[m.start()..]
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                })
        });
        if let Some(error) = failed {
            self.discard(commit)?;
            return Err(ActionError::new(
                "rejected",
                format!(
                    "device {:?} refused to commit ({command:?}): {error}; the candidate was thrown away, nothing was applied",
                    self.device
                ),
            ));
        }
        Ok(())
    }

    /// Throws the candidate away and leaves config mode.
    fn discard(&self, commit: &Commit) -> Result<(), ActionError> {
        self.command(commit.discard)?;
        if !commit.discard_leaves {
            self.command(self.profile.config_exit)?;
        }
        Ok(())
    }

    /// Saves the running config to startup (answering the platform's question); false where
    /// a commit already persists it.
    pub fn save(&self) -> Result<bool, ActionError> {
        let Some(save) = self.profile.save else {
            return Ok(false);
        };
        let out = match save.question {
            None => self.command_within(save.command, LONG_TIMEOUT)?,
            Some((question, answer)) => {
                self.shell.send_line(save.command)?;
                let either = format!("(?:{question})|(?:{})", self.profile.prompt);
                let asked = self.shell.read_until(&either, LONG_TIMEOUT)?;
                if regex::Regex::new(question).is_ok_and(|re| re.is_match(&asked)) {
                    self.command_within(answer, LONG_TIMEOUT)?
                } else {
                    ssh::command_output(&asked, save.command)
                }
            }
        };
        if let Some(error) = self.profile.error_in(&out) {
            return Err(ActionError::new(
                "rejected",
                format!(
                    "device {:?} refused to save its config: {error}",
                    self.device
                ),
            ));
        }
        Ok(true)
    }
}

/// A confirmed commit: rolled back by the device unless confirmed within `seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirm {
    /// The time the device waits for the confirmation (raised to the platform's minimum and
    /// rounded up to its unit).
    pub seconds: u32,
    /// Leave it unconfirmed: the device rolls back unless someone confirms in time.
    pub leave_unconfirmed: bool,
}

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "commit", rename_all = "snake_case")]
pub enum Commitment {
    /// Committed.
    Committed,
    /// Committed with a confirm timer, then confirmed.
    Confirmed {
        /// The confirm time the device was given.
        seconds: u32,
    },
    /// Committed with a confirm timer left running: rolled back unless confirmed in time.
    PendingConfirmation {
        /// The confirm time the device was given.
        seconds: u32,
    },
}

/// The result of [`Cli::configure`].
#[derive(Debug)]
pub struct Configured {
    /// The lines typed, the refused one included.
    pub sent: Vec<String>,
    /// The line the device refused, if any.
    pub refusal: Option<Refusal>,
    /// On a platform with a candidate config: how it was committed (none after a refusal).
    pub committed: Option<Commitment>,
}
/// The delimiter of a banner that `line` opens and leaves open (`banner motd #` and the text on
/// the lines after it, up to the one holding `#`); None for any other line, and for a banner
/// closed on its own line (`banner motd #text#`).
fn opens_banner(line: &str) -> Option<char> {
    let rest = line.strip_prefix("banner ")?;
    let (_kind, text) = rest.split_once(' ')?;
    let delimiter = text.chars().next()?;
    (!text[delimiter.len_utf8()..].contains(delimiter)).then_some(delimiter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_banner_left_open_is_typed_without_waiting_for_prompts() {
        assert_eq!(opens_banner("banner motd #"), Some('#'));
        assert_eq!(opens_banner("banner login %Authorised only"), Some('%'));
        assert_eq!(opens_banner("banner motd #closed here#"), None);
        assert_eq!(opens_banner("hostname R1"), None);
        assert_eq!(opens_banner("banner"), None);
    }
}
