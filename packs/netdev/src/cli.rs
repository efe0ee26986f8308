//! Driving a device CLI through the host's SSH shell: log in to an inventory device, reach
//! privileged mode (the host's `elevate` types `enable` and the enable secret itself, as the
//! first input on the shell, so the pack never sees the secret and could not capture it), turn
//! paging off, run commands, and send config lines one at a time, stopping at the first line
//! the device refuses.

use std::time::Duration;

use orch_sdk::ssh::{self, ConnectOptions, ElevateOptions, Session, Shell, ShellOptions, Target};
use orch_sdk::{ActionError, ErrorCode};
use serde::Serialize;

use crate::profile::CliProfile;

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
        shell,
        _session: session,
    };
    if !CliProfile::is_privileged(&banner) {
        cli.enable(enable_credential)?;
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
        let mut options =
            ElevateOptions::new(self.profile.elevation, self.profile.privileged_prompt)
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
        Ok(ssh::command_output(&raw, command))
    }

    /// The raw output of `show running-config`.
    pub fn show_running(&self) -> Result<String, ActionError> {
        let command = self.profile.show_running;
        let out = self.command_within(command, LONG_TIMEOUT)?;
        if let Some(error) = self.profile.reply_error(&out) {
            return Err(self.refused(command, &error));
        }
        Ok(out)
    }

    /// Enters config mode, sends `lines` one at a time and leaves config mode. Stops at the first
    /// line the device refuses (still leaving config mode) and returns what was sent and the
    /// refusal.
    pub fn configure(
        &self,
        lines: &[String],
    ) -> Result<(Vec<String>, Option<Refusal>), ActionError> {
        let enter = self.command(self.profile.config_enter)?;
        if let Some(error) = self.profile.error_in(&enter) {
            return Err(ActionError::new(
                "rejected",
                format!("device {:?} refused config mode: {error}", self.device),
            ));
        }
        let mut sent = Vec::with_capacity(lines.len());
        let mut refusal = None;
        for line in lines {
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
        self.command(self.profile.config_exit)?;
        Ok((sent, refusal))
    }

    /// Saves the running config to startup.
    pub fn save(&self) -> Result<(), ActionError> {
        let out = self.command_within(self.profile.save, LONG_TIMEOUT)?;
        if let Some(error) = self.profile.error_in(&out) {
            return Err(ActionError::new(
                "rejected",
                format!(
                    "device {:?} refused to save its config: {error}",
                    self.device
                ),
            ));
        }
        Ok(())
    }
}
