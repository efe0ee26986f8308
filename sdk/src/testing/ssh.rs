//! The test host's SSH: rules for connecting ([`TestSsh::on_connect`]), exec
//! ([`TestSsh::on_exec`]), lines typed into shells ([`TestSsh::on_line`]) and elevation
//! ([`TestSsh::on_elevate`]); remote files for SFTP; and the record of what the action sent.
//!
//! A shell behaves like a device's CLI on a pseudo-terminal: it opens showing the prompt, and a
//! typed line comes back echoed, followed by the rule's output and the prompt again, so
//! [`Shell::command`](crate::ssh::Shell::command) and [`Shell::read_until`](crate::ssh::Shell::read_until)
//! work as against a device. Prompt patterns are matched with the `regex` crate, as the host does.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::ssh::{Elevation, Target};
use crate::{ErrorCode, HostError};

/// The prompt a shell shows when no [`TestSsh::prompt`] was set.
const DEFAULT_PROMPT: &str = "device#";

#[derive(Debug)]
enum Output {
    Exec {
        stdout: String,
        stderr: String,
        exit_status: Option<u32>,
    },
    Text(String),
    Fail(HostError),
}

#[derive(Debug)]
struct Rule {
    /// The command, line or target name it answers.
    key: String,
    /// Only for sessions to this target (its inventory name or `host:port`).
    target: Option<String>,
    output: Output,
    /// For shell lines and elevation: the prompt from then on (`R1(config)#`).
    prompt: Option<String>,
}

impl Rule {
    fn matches(&self, key: &str, target: &str) -> bool {
        self.key == key && self.target.as_deref().is_none_or(|t| t == target)
    }
}

#[derive(Debug, Default)]
pub(super) struct SshState {
    prompt: Option<String>,
    connects: Vec<Rule>,
    execs: Vec<Rule>,
    lines: Vec<Rule>,
    elevations: Vec<(Elevation, Rule)>,
    files: BTreeMap<String, Vec<u8>>,
    connections: Vec<SshConnection>,
    commands: Vec<String>,
    secrets: Vec<SentSecret>,
}

/// What the backend gets back for a typed line or an elevation.
pub(super) struct Reply {
    pub(super) output: String,
    pub(super) prompt: Option<String>,
}

impl SshState {
    pub(super) fn prompt(&self) -> String {
        self.prompt
            .clone()
            .unwrap_or_else(|| DEFAULT_PROMPT.to_owned())
    }

    pub(super) fn connect(
        &mut self,
        target: Target,
        credential: Option<String>,
    ) -> Result<String, HostError> {
        let name = target_name(&target);
        self.connections.push(SshConnection { target, credential });
        match self.connects.iter().find(|rule| rule.key == name) {
            Some(Rule {
                output: Output::Fail(err),
                ..
            }) => Err(err.clone()),
            _ => Ok(name),
        }
    }

    pub(super) fn exec(
        &mut self,
        target: &str,
        command: &str,
    ) -> Result<(String, String, Option<u32>), HostError> {
        self.commands.push(command.to_owned());
        let rule = self
            .execs
            .iter()
            .find(|rule| rule.matches(command, target))
            .ok_or_else(|| {
                super::unscripted(
                    &format!("the command {command:?} run on {target}"),
                    &format!("host.ssh().on_exec({command:?}).reply(...)"),
                )
            })?;
        match &rule.output {
            Output::Exec {
                stdout,
                stderr,
                exit_status,
            } => Ok((stdout.clone(), stderr.clone(), *exit_status)),
            Output::Text(text) => Ok((text.clone(), String::new(), Some(0))),
            Output::Fail(err) => Err(err.clone()),
        }
    }

    /// Records `line` typed into a shell of `target` and answers it.
    pub(super) fn line(&mut self, target: &str, line: &str) -> Result<Reply, HostError> {
        self.commands.push(line.to_owned());
        let rule = self
            .lines
            .iter()
            .find(|rule| rule.matches(line, target))
            .ok_or_else(|| {
                super::unscripted(
                    &format!("the line {line:?} typed into a shell of {target}"),
                    &format!("host.ssh().on_line({line:?}).reply(...)"),
                )
            })?;
        reply(rule)
    }

    pub(super) fn elevate(
        &mut self,
        target: &str,
        method: Elevation,
        credential: Option<String>,
    ) -> Result<Reply, HostError> {
        self.secrets.push(SentSecret {
            credential,
            elevation: Some(method),
        });
        let rule = self
            .elevations
            .iter()
            .find(|(m, rule)| *m == method && rule.matches("", target))
            .map(|(_, rule)| rule)
            .ok_or_else(|| {
                super::unscripted(
                    &format!("elevation by {method:?} on {target}"),
                    &format!("host.ssh().on_elevate(Elevation::{method:?}).reply(...)"),
                )
            })?;
        reply(rule)
    }

    pub(super) fn secret(&mut self, credential: &str) {
        self.secrets.push(SentSecret {
            credential: Some(credential.to_owned()),
            elevation: None,
        });
    }

    pub(super) fn sftp_get(&self, target: &str, path: &str) -> Result<Vec<u8>, HostError> {
        self.files.get(path).cloned().ok_or_else(|| {
            HostError::new(
                ErrorCode::NotFound,
                format!(
                    "no remote file {path:?} on {target} in the test host; add one with \
                     host.ssh().file({path:?}, ...)"
                ),
            )
        })
    }

    pub(super) fn sftp_put(&mut self, path: &str, data: &[u8]) {
        self.files.insert(path.to_owned(), data.to_vec());
    }
}

fn reply(rule: &Rule) -> Result<Reply, HostError> {
    match &rule.output {
        Output::Text(text) => Ok(Reply {
            output: text.clone(),
            prompt: rule.prompt.clone(),
        }),
        Output::Exec { stdout, .. } => Ok(Reply {
            output: stdout.clone(),
            prompt: rule.prompt.clone(),
        }),
        Output::Fail(err) => Err(err.clone()),
    }
}

/// How rules and the record name a target: the inventory name, or `host:port`.
pub(super) fn target_name(target: &Target) -> String {
    match target {
        Target::Inventory(name) => name.clone(),
        Target::Address { host, port } => format!("{host}:{port}"),
    }
}

/// The SSH side of a [`TestHost`](super::TestHost).
///
/// Connecting succeeds to any target unless an [`on_connect`](Self::on_connect) rule fails it;
/// every exec, typed line and elevation needs a rule. Like the host, a shell refuses
/// [`elevate`](crate::ssh::Shell::elevate) and [`send_secret`](crate::ssh::Shell::send_secret)
/// with `denied` once the pack has typed into it; unlike the host, it does not check that the
/// device showed a password prompt before `send_secret`, and timeouts are not waited for (a
/// `read_until` whose pattern never matches fails with `timeout` at once).
#[derive(Debug)]
pub struct TestSsh<'a> {
    state: &'a RefCell<SshState>,
}

impl<'a> TestSsh<'a> {
    pub(super) fn new(state: &'a RefCell<SshState>) -> Self {
        Self { state }
    }

    /// The prompt shells show when they open and after every line (default `device#`).
    pub fn prompt(&self, prompt: impl Into<String>) -> &Self {
        self.state.borrow_mut().prompt = Some(prompt.into());
        self
    }

    /// A rule for connecting to `target`: an inventory name (`R1`) or `host:port`.
    pub fn on_connect(&self, target: &str) -> ConnectRule<'a> {
        ConnectRule {
            state: self.state,
            target: target.to_owned(),
        }
    }

    /// A rule for running `command` (exactly) by exec.
    pub fn on_exec(&self, command: &str) -> ExecRule<'a> {
        ExecRule {
            state: self.state,
            command: command.to_owned(),
            target: None,
        }
    }

    /// A rule for `line` (exactly, without its newline) typed into a shell.
    pub fn on_line(&self, line: &str) -> LineRule<'a> {
        LineRule {
            state: self.state,
            line: line.to_owned(),
            target: None,
            prompt: None,
            elevation: None,
        }
    }

    /// A rule for [`Shell::elevate`](crate::ssh::Shell::elevate) by `method`.
    pub fn on_elevate(&self, method: Elevation) -> ElevateRule<'a> {
        ElevateRule(LineRule {
            state: self.state,
            line: String::new(),
            target: None,
            prompt: None,
            elevation: Some(method),
        })
    }

    /// Puts a remote file at `path`, for [`Session::sftp_get`](crate::ssh::Session::sftp_get).
    pub fn file(&self, path: &str, contents: impl Into<Vec<u8>>) -> &Self {
        self.state
            .borrow_mut()
            .files
            .insert(path.to_owned(), contents.into());
        self
    }

    /// The remote file at `path`, as put there or written by the action through SFTP.
    pub fn file_contents(&self, path: &str) -> Option<Vec<u8>> {
        self.state.borrow().files.get(path).cloned()
    }

    /// Every session the action opened, in order.
    pub fn connections(&self) -> Vec<SshConnection> {
        self.state.borrow().connections.clone()
    }

    /// Every command run by exec and every line typed into a shell (without its newline), in
    /// order. What the host types for [`elevate`](crate::ssh::Shell::elevate) and
    /// [`send_secret`](crate::ssh::Shell::send_secret) is in [`secrets`](Self::secrets).
    pub fn commands(&self) -> Vec<String> {
        self.state.borrow().commands.clone()
    }

    /// Every elevation and secret the action asked the host to type, in order.
    pub fn secrets(&self) -> Vec<SentSecret> {
        self.state.borrow().secrets.clone()
    }
}

/// A connect rule being written: see [`TestSsh::on_connect`].
#[derive(Debug)]
#[must_use = "a rule is added by `fail`"]
pub struct ConnectRule<'a> {
    state: &'a RefCell<SshState>,
    target: String,
}

impl ConnectRule<'_> {
    /// Connecting fails with `code` (`HostKey`, `AuthFailed`, `Denied`, `Unreachable`, …).
    pub fn fail(self, code: ErrorCode, message: impl Into<String>) {
        self.state.borrow_mut().connects.push(Rule {
            key: self.target,
            target: None,
            output: Output::Fail(HostError::new(code, message)),
            prompt: None,
        });
    }
}

/// An exec rule being written: see [`TestSsh::on_exec`].
#[derive(Debug)]
#[must_use = "a rule is added by `reply`, `reply_with` or `fail`"]
pub struct ExecRule<'a> {
    state: &'a RefCell<SshState>,
    command: String,
    target: Option<String>,
}

impl ExecRule<'_> {
    /// Only on sessions to `target` (an inventory name or `host:port`).
    pub fn target(mut self, target: &str) -> Self {
        self.target = Some(target.to_owned());
        self
    }

    /// The command prints `stdout` and exits with 0.
    pub fn reply(self, stdout: impl Into<String>) {
        self.reply_with(stdout, "", Some(0));
    }

    /// The command prints `stdout` and `stderr` and exits with `exit_status` (`None`: ended by
    /// a signal).
    pub fn reply_with(
        self,
        stdout: impl Into<String>,
        stderr: impl Into<String>,
        exit_status: Option<u32>,
    ) {
        self.add(Output::Exec {
            stdout: stdout.into(),
            stderr: stderr.into(),
            exit_status,
        });
    }

    /// Running the command fails with `code` (`Timeout`, `Closed`, …).
    pub fn fail(self, code: ErrorCode, message: impl Into<String>) {
        self.add(Output::Fail(HostError::new(code, message)));
    }

    fn add(self, output: Output) {
        self.state.borrow_mut().execs.push(Rule {
            key: self.command,
            target: self.target,
            output,
            prompt: None,
        });
    }
}

/// A shell-line rule being written: see [`TestSsh::on_line`].
#[derive(Debug)]
#[must_use = "a rule is added by `reply` or `fail`"]
pub struct LineRule<'a> {
    state: &'a RefCell<SshState>,
    line: String,
    target: Option<String>,
    prompt: Option<String>,
    elevation: Option<Elevation>,
}

impl LineRule<'_> {
    /// Only in shells of sessions to `target` (an inventory name or `host:port`).
    pub fn target(mut self, target: &str) -> Self {
        self.target = Some(target.to_owned());
        self
    }

    /// The shell's prompt from this line on (`R1(config)#` after `configure terminal`).
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// The shell echoes the line, prints `output` (empty for none) and shows the prompt.
    pub fn reply(self, output: impl Into<String>) {
        self.add(Output::Text(output.into()));
    }

    /// Typing the line fails with `code` (`Closed`, …).
    pub fn fail(self, code: ErrorCode, message: impl Into<String>) {
        self.add(Output::Fail(HostError::new(code, message)));
    }

    fn add(self, output: Output) {
        let rule = Rule {
            key: self.line,
            target: self.target,
            output,
            prompt: self.prompt,
        };
        let mut state = self.state.borrow_mut();
        match self.elevation {
            Some(method) => state.elevations.push((method, rule)),
            None => state.lines.push(rule),
        }
    }
}

/// An elevation rule being written: see [`TestSsh::on_elevate`].
#[derive(Debug)]
#[must_use = "a rule is added by `reply` or `fail`"]
pub struct ElevateRule<'a>(LineRule<'a>);

impl ElevateRule<'_> {
    /// Only in shells of sessions to `target` (an inventory name or `host:port`).
    pub fn target(self, target: &str) -> Self {
        Self(self.0.target(target))
    }

    /// Elevation succeeds: the shell prints `output` (what the device says, if anything) and
    /// then shows `privileged_prompt`, which stays the prompt from then on.
    pub fn reply(self, output: impl Into<String>, privileged_prompt: impl Into<String>) {
        self.0.prompt(privileged_prompt).reply(output);
    }

    /// Elevation fails with `code` (`AuthFailed`, `Timeout`, …).
    pub fn fail(self, code: ErrorCode, message: impl Into<String>) {
        self.0.fail(code, message);
    }
}

/// One session an action opened through a [`TestHost`](super::TestHost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshConnection {
    target: Target,
    credential: Option<String>,
}

impl SshConnection {
    /// What it connected to (an address without a port is recorded with port 22).
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The vault credential the action named.
    pub fn credential(&self) -> Option<&str> {
        self.credential.as_deref()
    }
}

/// A secret an action asked the host to type: an elevation (with the credential it named, if
/// any) or [`send_secret`](crate::ssh::Shell::send_secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSecret {
    credential: Option<String>,
    elevation: Option<Elevation>,
}

impl SentSecret {
    /// The vault credential named.
    pub fn credential(&self) -> Option<&str> {
        self.credential.as_deref()
    }

    /// The elevation method, `None` for `send_secret`.
    pub fn elevation(&self) -> Option<Elevation> {
        self.elevation
    }
}
