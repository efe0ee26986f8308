//! SSH sessions opened by the host on the pack's behalf: [`Session::connect`] to a [`Target`],
//! then [`exec`](Session::exec), an interactive [`Shell`] for network-device CLIs, and SFTP.
//!
//! The host checks the pack's ssh grant, verifies the server's host key against the keys it
//! keeps, and logs in with a vault credential the pack names but never sees. Every session is
//! closed when the invocation ends (and when the [`Session`] is dropped).
//!
//! A privileged mode (`enable`, `su -`, …) is reached with [`Shell::elevate`]: the host types
//! the command and the password itself, and only as the first input on a shell, since what a
//! pack typed before could capture the secret. Read the login prompt, elevate, then type
//! commands:
//!
//! ```no_run
//! use orch_sdk::ssh::{ElevateOptions, Elevation, Session, ShellOptions, Target};
//! use orch_sdk::ActionError;
//! use std::time::Duration;
//!
//! fn kernel(host: &str) -> Result<String, ActionError> {
//!     let session = Session::connect(Target::address(host, 22), Some("ops-key"))?;
//!     let out = session.exec("uname -s", Duration::from_secs(10))?;
//!     Ok(out.stdout.trim().to_owned())
//! }
//!
//! fn running_config(device: &str) -> Result<String, ActionError> {
//!     let session = Session::connect(Target::inventory(device), None)?;
//!     let shell = session.shell(ShellOptions::default())?;
//!     let prompt = r"[>#]\s*$";
//!     shell.read_until(prompt, Duration::from_secs(10))?;
//!     shell.elevate(
//!         &ElevateOptions::new(Elevation::Enable, r"#\s*$")
//!             .credential("enable-secret")
//!             .prompt(prompt),
//!     )?;
//!     shell.command("terminal length 0", prompt, Duration::from_secs(5))?;
//!     Ok(shell.command("show running-config", prompt, Duration::from_secs(30))?)
//! }
//! ```

use std::time::Duration;

use crate::__private::orch::pack::ssh as wit;
use crate::HostError;
use crate::host_error::millis;
use crate::imports::ssh as host;

/// What to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A device of the inventory, by name: the host supplies its address, port and credential.
    Inventory(String),
    /// An address.
    Address {
        /// Host name or IP address.
        host: String,
        /// Port.
        port: u16,
    },
}

impl Target {
    /// The inventory device `name`.
    pub fn inventory(name: impl Into<String>) -> Self {
        Self::Inventory(name.into())
    }

    /// The server at `host` (name or IP address) and `port`.
    pub fn address(host: impl Into<String>, port: u16) -> Self {
        Self::Address {
            host: host.into(),
            port,
        }
    }

    fn into_wit(self) -> wit::Target {
        match self {
            Self::Inventory(name) => wit::Target::Inventory(name),
            Self::Address { host, port } => wit::Target::Address(wit::Endpoint {
                host,
                port: Some(port),
            }),
        }
    }
}

/// How to open a session: [`Session::connect`] with a timeout or other options.
///
/// ```no_run
/// # fn main() -> Result<(), orch_sdk::HostError> {
/// use orch_sdk::ssh::{ConnectOptions, Target};
/// use std::time::Duration;
///
/// let session = ConnectOptions::new(Target::address("10.0.0.1", 22))
///     .credential("ops-key")
///     .timeout(Duration::from_secs(5))
///     .connect()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "options do nothing until `connect` is called"]
pub struct ConnectOptions {
    target: Target,
    credential: Option<String>,
    timeout: Option<Duration>,
}

impl ConnectOptions {
    /// Options to connect to `target`, with no credential and the host's default timeout (15 s).
    pub fn new(target: Target) -> Self {
        Self {
            target,
            credential: None,
            timeout: None,
        }
    }

    /// Logs in with vault credential `name` (`ssh-password` or `ssh-key`). Optional for an
    /// inventory target, which names its own.
    pub fn credential(mut self, name: impl Into<String>) -> Self {
        self.credential = Some(name.into());
        self
    }

    /// Timeout for connecting and logging in.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Connects and logs in. Fails with [`Denied`](crate::ErrorCode::Denied) without a grant
    /// for the destination or the credential, [`HostKey`](crate::ErrorCode::HostKey) for an
    /// unknown or changed host key, [`AuthFailed`](crate::ErrorCode::AuthFailed) when the server
    /// refuses the credential.
    pub fn connect(self) -> Result<Session, HostError> {
        let options = wit::ConnectOptions {
            target: self.target.into_wit(),
            credential: self.credential,
            timeout_ms: self.timeout.map(millis),
        };
        Ok(Session {
            inner: host::Session::connect(&options)?,
        })
    }
}

/// An authenticated SSH connection, closed when dropped.
#[derive(Debug)]
pub struct Session {
    inner: host::Session,
}

/// What a command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExecOutput {
    /// Standard output, decoded as UTF-8 (invalid bytes replaced).
    pub stdout: String,
    /// Standard error, decoded as UTF-8 (invalid bytes replaced).
    pub stderr: String,
    /// Exit status; `None` when the command was ended by a signal.
    pub exit_status: Option<u32>,
}

impl ExecOutput {
    /// Whether the command exited with status 0.
    pub fn success(&self) -> bool {
        self.exit_status == Some(0)
    }
}

impl Session {
    /// Connects to `target` and logs in with vault credential `credential` (optional for an
    /// inventory target), with the host's default timeout. See [`ConnectOptions`] for more.
    pub fn connect(target: Target, credential: Option<&str>) -> Result<Self, HostError> {
        let mut options = ConnectOptions::new(target);
        if let Some(name) = credential {
            options = options.credential(name);
        }
        options.connect()
    }

    /// Runs `command` and waits for it to end; `None` for the host's default timeout (60 s).
    pub fn exec(
        &self,
        command: &str,
        timeout: impl Into<Option<Duration>>,
    ) -> Result<ExecOutput, HostError> {
        let out = self.inner.exec(command, timeout.into().map(millis))?;
        Ok(ExecOutput {
            stdout: out.stdout,
            stderr: out.stderr,
            exit_status: out.exit_status,
        })
    }

    /// Opens an interactive shell on a pseudo-terminal.
    pub fn shell(&self, options: ShellOptions) -> Result<Shell, HostError> {
        let options = wit::ShellOptions {
            term: options.term,
            width: options.width,
            height: options.height,
        };
        Ok(Shell {
            inner: self.inner.shell(&options)?,
        })
    }

    /// Reads the remote file at `path` by SFTP (at most the host's cap, 16 MiB).
    pub fn sftp_get(&self, path: &str) -> Result<Vec<u8>, HostError> {
        Ok(self.inner.sftp_get(path, None)?)
    }

    /// Reads the remote file at `path` by SFTP, failing with
    /// [`TooLarge`](crate::ErrorCode::TooLarge) beyond `max_bytes`.
    pub fn sftp_get_max(&self, path: &str, max_bytes: u32) -> Result<Vec<u8>, HostError> {
        Ok(self.inner.sftp_get(path, Some(max_bytes))?)
    }

    /// Writes `data` to the remote file at `path` by SFTP, replacing it; `mode` sets its
    /// permissions (such as `0o644`), `None` leaves the server's default.
    pub fn sftp_put(
        &self,
        path: &str,
        data: &[u8],
        mode: impl Into<Option<u32>>,
    ) -> Result<(), HostError> {
        Ok(self.inner.sftp_put(path, data, mode.into())?)
    }
}

/// Terminal settings of an interactive shell; the default is the host's (`vt100`, 511 columns
/// so devices do not wrap lines, 24 rows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct ShellOptions {
    term: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
}

impl ShellOptions {
    /// Sets the terminal type (such as `xterm`).
    pub fn term(mut self, term: impl Into<String>) -> Self {
        self.term = Some(term.into());
        self
    }

    /// Sets the terminal size in columns and rows.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = Some(width);
        self.height = Some(height);
        self
    }
}

/// How [`Shell::elevate`] reaches a privileged mode: the command the host types for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Elevation {
    /// `enable` (Cisco IOS and NX-OS, Arista EOS).
    Enable,
    /// `super` (Huawei VRP).
    Super,
    /// `su -` (a root login shell on Linux and other Unix systems).
    Su,
    /// `sudo -i` (a root login shell through sudo).
    Sudo,
}

impl Elevation {
    fn into_wit(self) -> wit::Elevation {
        match self {
            Self::Enable => wit::Elevation::Enable,
            Self::Super => wit::Elevation::Super,
            Self::Su => wit::Elevation::Su,
            Self::Sudo => wit::Elevation::Sudo,
        }
    }
}

/// What [`Shell::elevate`] does: the method, the credential whose password answers the
/// device's password prompt, the prompts that end the dialogue, and its timeout.
///
/// ```no_run
/// # fn main() -> Result<(), orch_sdk::HostError> {
/// use orch_sdk::ssh::{ElevateOptions, Elevation, Session, ShellOptions, Target};
/// use std::time::Duration;
///
/// let session = Session::connect(Target::inventory("R1"), None)?;
/// let shell = session.shell(ShellOptions::default())?;
/// shell.read_until(r"R1[>#]\s*$", Duration::from_secs(10))?;
/// let transcript = shell.elevate(
///     &ElevateOptions::new(Elevation::Enable, r"R1#\s*$")
///         .credential("r1-enable")
///         .prompt(r"R1[>#]\s*$")
///         .timeout(Duration::from_secs(10)),
/// )?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "options do nothing until passed to `Shell::elevate`"]
pub struct ElevateOptions {
    method: Elevation,
    credential: Option<String>,
    privileged_prompt: String,
    prompt: Option<String>,
    timeout: Option<Duration>,
}

impl ElevateOptions {
    /// Elevation by `method`, succeeding when the output matches the regular expression
    /// `privileged_prompt` (such as `(?:^|\n)R1#\s*$`); no credential, no ordinary prompt, the
    /// host's default timeout (15 s).
    pub fn new(method: Elevation, privileged_prompt: impl Into<String>) -> Self {
        Self {
            method,
            credential: None,
            privileged_prompt: privileged_prompt.into(),
            prompt: None,
            timeout: None,
        }
    }

    /// Answers the device's password prompt with the password of vault credential `name` (an
    /// `ssh-password` bound to this session's destination). Without one, a password prompt fails
    /// the call with [`AuthFailed`](crate::ErrorCode::AuthFailed) saying that no credential was
    /// named, and nothing is typed.
    pub fn credential(mut self, name: impl Into<String>) -> Self {
        self.credential = Some(name.into());
        self
    }

    /// The regular expression of any ordinary prompt of the shell (such as `R1[>#]\s*$`): when
    /// it matches and the privileged prompt does not, the call fails at once with
    /// [`AuthFailed`](crate::ErrorCode::AuthFailed) instead of waiting for the timeout.
    pub fn prompt(mut self, pattern: impl Into<String>) -> Self {
        self.prompt = Some(pattern.into());
        self
    }

    /// Timeout of the whole dialogue.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    fn to_wit(&self) -> wit::ElevateOptions {
        wit::ElevateOptions {
            method: self.method.into_wit(),
            credential: self.credential.clone(),
            privileged_prompt: self.privileged_prompt.clone(),
            prompt: self.prompt.clone(),
            timeout_ms: self.timeout.map(millis),
        }
    }
}

/// An interactive shell of a [`Session`], closed when dropped.
///
/// The host types a secret into a shell only through [`elevate`](Self::elevate) and
/// [`send_secret`](Self::send_secret), and only before the pack has sent anything on it: what
/// a pack types first (an alias, a function, a `read`) could capture the secret. The line the
/// device sends right after the secret (its echo) arrives as `***`, and no pattern of the pack
/// runs over it. The device's own software still decides what happens to the secret: elevate
/// only on devices whose login account cannot script its shell (network-device CLIs), not where
/// files such as `.bashrc`, written earlier through this account, could do the capturing.
#[derive(Debug)]
pub struct Shell {
    inner: host::Shell,
}

impl Shell {
    /// Sends `text` as typed. After it, the shell refuses [`elevate`](Self::elevate) and
    /// [`send_secret`](Self::send_secret) with [`Denied`](crate::ErrorCode::Denied).
    pub fn send(&self, text: &str) -> Result<(), HostError> {
        Ok(self.inner.send(text)?)
    }

    /// Sends `line` followed by a newline (see [`send`](Self::send)).
    pub fn send_line(&self, line: &str) -> Result<(), HostError> {
        Ok(self.inner.send(&format!("{line}\n"))?)
    }

    /// Reaches a privileged mode with the host typing everything: the command of the method,
    /// then, only when the output ends in a password prompt, the credential's password (once).
    /// Succeeds when the output matches the privileged prompt and returns what was read, masked,
    /// through it. Fails with [`AuthFailed`](crate::ErrorCode::AuthFailed) when the device asks
    /// for a password and no credential was named, asks again after it, refuses the command or
    /// the secret, or shows the ordinary prompt; with [`Timeout`](crate::ErrorCode::Timeout)
    /// when neither prompt comes. Refused with [`Denied`](crate::ErrorCode::Denied) once the
    /// pack has sent anything on this shell, or after a failed elevation (open a new shell).
    pub fn elevate(&self, options: &ElevateOptions) -> Result<String, HostError> {
        Ok(self.inner.elevate(&options.to_wit())?)
    }

    /// Types the secret of vault credential `credential` (an `ssh-password` bound to this
    /// session's destination) followed by a newline, as the answer to a password prompt the
    /// device shows on its own (an in-band login). Refused with
    /// [`Denied`](crate::ErrorCode::Denied) unless the pack has sent nothing on this shell, the
    /// output read last ends in a password prompt with nothing arrived or typed since, and no
    /// secret was sent on it before. For `enable` and the like, use [`elevate`](Self::elevate).
    /// The pack never sees the secret; an echo of it is masked.
    pub fn send_secret(&self, credential: &str) -> Result<(), HostError> {
        Ok(self.inner.send_secret(credential)?)
    }

    /// Reads until the output received since the last read matches the regular expression
    /// `pattern` (such as `R1[>#]\s*$`) and returns everything read, the match included. Fails
    /// with [`Timeout`](crate::ErrorCode::Timeout) after `timeout`, naming the tail of what
    /// arrived.
    pub fn read_until(&self, pattern: &str, timeout: Duration) -> Result<String, HostError> {
        Ok(self.inner.read_until(pattern, millis(timeout))?)
    }

    /// Returns what arrived within `timeout` (possibly nothing).
    pub fn read(&self, timeout: Duration) -> Result<String, HostError> {
        Ok(self.inner.read(millis(timeout))?)
    }

    /// Runs one CLI command: sends `command`, reads until `prompt` matches, and returns the
    /// output without the echoed command line and without the prompt line, with `\r\n` turned
    /// into `\n`. Call it when the previous prompt has been read.
    pub fn command(
        &self,
        command: &str,
        prompt: &str,
        timeout: Duration,
    ) -> Result<String, HostError> {
        self.send_line(command)?;
        let raw = self.read_until(prompt, timeout)?;
        Ok(command_output(&raw, command))
    }
}

/// The output of `command` in `raw`, what [`Shell::read_until`] returned after sending it: without
/// the first line when it is the echoed command, without the last line (the prompt), with `\r\n`
/// turned into `\n`. [`Shell::command`] applies it; call it directly to keep the raw text too.
///
/// ```
/// use orch_sdk::ssh::command_output;
///
/// let raw = "show clock\r\n*10:00:00.000 UTC Mon Nov 2 2026\r\nR1#";
/// assert_eq!(command_output(raw, "show clock"), "*10:00:00.000 UTC Mon Nov 2 2026");
/// ```
pub fn command_output(raw: &str, command: &str) -> String {
    let mut lines: Vec<&str> = raw
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect();
    // `read_until` stops at the prompt's match, so the last line is the prompt.
    lines.pop();
    if lines
        .first()
        .is_some_and(|first| first.trim_end().ends_with(command.trim()))
    {
        lines.remove(0);
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_output_drops_echo_and_prompt() {
        let raw = "show version\r\nCisco IOS Software\r\nuptime 1 day\r\nR1#";
        assert_eq!(
            command_output(raw, "show version"),
            "Cisco IOS Software\nuptime 1 day"
        );
    }

    #[test]
    fn command_output_of_a_silent_command_is_empty() {
        assert_eq!(
            command_output("terminal length 0\r\nR1#", "terminal length 0"),
            ""
        );
        assert_eq!(command_output("R1#", "x"), "");
    }

    #[test]
    fn command_output_keeps_first_line_when_not_an_echo() {
        assert_eq!(command_output("result\nR1>", "show clock"), "result");
    }

    #[test]
    fn elevate_options_carry_every_setting_to_the_contract() {
        let options = ElevateOptions::new(Elevation::Su, r"#\s*$")
            .credential("root-pw")
            .prompt(r"\$\s*$")
            .timeout(Duration::from_millis(2500))
            .to_wit();
        assert!(matches!(options.method, wit::Elevation::Su));
        assert_eq!(options.credential.as_deref(), Some("root-pw"));
        assert_eq!(options.privileged_prompt, r"#\s*$");
        assert_eq!(options.prompt.as_deref(), Some(r"\$\s*$"));
        assert_eq!(options.timeout_ms, Some(2500));
        let bare = ElevateOptions::new(Elevation::Enable, "R1#").to_wit();
        assert!(bare.credential.is_none() && bare.prompt.is_none() && bare.timeout_ms.is_none());
    }

    /// An ssh action as a pack writes one: exec on a Linux host.
    fn kernel(host: &str) -> Result<String, crate::ActionError> {
        let session = Session::connect(Target::address(host, 22), Some("ops-key"))?;
        let out = session.exec("uname -s", Duration::from_secs(10))?;
        if !out.success() {
            return Err(crate::ActionError::new("failed", out.stderr));
        }
        Ok(out.stdout.trim().to_owned())
    }

    /// A shell action as a pack writes one: enable, then a command, on a device's CLI.
    fn running_config(device: &str) -> Result<String, crate::ActionError> {
        let session = Session::connect(Target::inventory(device), None)?;
        let shell = session.shell(ShellOptions::default())?;
        let prompt = r"R1[>#]\s*$";
        shell.read_until(prompt, Duration::from_secs(10))?;
        shell.elevate(
            &ElevateOptions::new(Elevation::Enable, r"R1#\s*$")
                .credential("enable-secret")
                .prompt(prompt),
        )?;
        shell.command("terminal length 0", prompt, Duration::from_secs(5))?;
        Ok(shell.command("show running-config", prompt, Duration::from_secs(30))?)
    }

    #[test]
    fn an_exec_action_gets_the_scripted_output_and_its_command_is_recorded() {
        let host = crate::testing::TestHost::new();
        host.ssh().on_exec("uname -s").reply("Linux\n");
        assert_eq!(kernel("10.0.0.5").as_deref(), Ok("Linux"));
        assert_eq!(host.ssh().commands(), ["uname -s"]);
        let connection = &host.ssh().connections()[0];
        assert_eq!(connection.target(), &Target::address("10.0.0.5", 22));
        assert_eq!(connection.credential(), Some("ops-key"));
    }

    #[test]
    fn exec_status_and_scripted_failures_reach_the_action() {
        let host = crate::testing::TestHost::new();
        host.ssh()
            .on_exec("uname -s")
            .target("10.0.0.6:22")
            .reply_with("", "uname: not found", Some(127));
        host.ssh()
            .on_exec("uname -s")
            .fail(crate::ErrorCode::Timeout, "no answer in 10s");
        let failed = kernel("10.0.0.6").expect_err("exit 127");
        assert_eq!(
            (failed.code(), failed.message()),
            ("failed", "uname: not found")
        );
        let slow = kernel("10.0.0.7").expect_err("timeout");
        assert_eq!((slow.code(), slow.is_retryable()), ("timeout", true));
        host.ssh()
            .on_connect("10.0.0.8:22")
            .fail(crate::ErrorCode::HostKey, "host key of 10.0.0.8:22 changed");
        assert_eq!(
            kernel("10.0.0.8").map_err(|e| e.code().to_owned()),
            Err("host_key".to_owned())
        );
    }

    #[test]
    fn a_shell_action_reads_prompts_elevates_and_types_commands() {
        let host = crate::testing::TestHost::new();
        let ssh = host.ssh();
        ssh.prompt("R1>");
        ssh.on_elevate(Elevation::Enable)
            .reply("Password: ***", "R1#");
        ssh.on_line("terminal length 0").reply("");
        ssh.on_line("show running-config")
            .reply("hostname R1\r\ninterface Gi0/1\r\n");
        assert_eq!(
            running_config("R1").as_deref(),
            Ok("hostname R1\ninterface Gi0/1")
        );
        assert_eq!(ssh.commands(), ["terminal length 0", "show running-config"]);
        let secrets = ssh.secrets();
        assert_eq!(secrets.len(), 1);
        assert_eq!(
            (secrets[0].elevation(), secrets[0].credential()),
            (Some(Elevation::Enable), Some("enable-secret"))
        );
        assert_eq!(ssh.connections()[0].target(), &Target::inventory("R1"));
    }

    #[test]
    fn an_unscripted_shell_line_fails_naming_the_line() {
        let host = crate::testing::TestHost::new();
        host.ssh().prompt("R1#");
        host.ssh().on_elevate(Elevation::Enable).reply("", "R1#");
        let err = running_config("R1").expect_err("no rule for terminal length 0");
        assert_eq!(err.code(), "invalid");
        assert!(
            err.message()
                .contains(r#"no reply for the line "terminal length 0" typed into a shell of R1"#),
            "{err}"
        );
        assert!(err.message().contains("host.ssh().on_line("), "{err}");
    }

    #[test]
    fn the_test_host_refuses_elevation_after_typing_as_the_host_does() {
        let _host = crate::testing::TestHost::new();
        let host = _host.ssh();
        host.on_line("show clock").reply("10:00");
        host.on_elevate(Elevation::Enable).reply("", "device#");
        let session = Session::connect(Target::inventory("R1"), None).expect("connects");
        let shell = session.shell(ShellOptions::default()).expect("opens");
        shell.send_line("show clock").expect("typed");
        let err = shell
            .elevate(&ElevateOptions::new(Elevation::Enable, "#"))
            .expect_err("typed first");
        assert_eq!(err.code(), crate::ErrorCode::Denied);
        let raw = shell
            .read_until("device#$", Duration::from_secs(1))
            .expect("prompt");
        assert_eq!(raw, "device#show clock\r\n10:00\r\ndevice#");
        let err = shell
            .read_until("never", Duration::from_secs(1))
            .expect_err("nothing more");
        assert_eq!(err.code(), crate::ErrorCode::Timeout);
    }

    #[test]
    fn sftp_reads_scripted_files_and_records_writes() {
        let host = crate::testing::TestHost::new();
        host.ssh().file("/etc/hostname", "r1\n");
        let session =
            Session::connect(Target::address("10.0.0.5", 22), Some("k")).expect("connects");
        assert_eq!(session.sftp_get("/etc/hostname"), Ok(b"r1\n".to_vec()));
        assert_eq!(
            session
                .sftp_get_max("/etc/hostname", 2)
                .map_err(|e| e.code()),
            Err(crate::ErrorCode::TooLarge)
        );
        assert_eq!(
            session.sftp_get("/nope").map_err(|e| e.code()),
            Err(crate::ErrorCode::NotFound)
        );
        session.sftp_put("/tmp/x", b"data", 0o644).expect("written");
        assert_eq!(host.ssh().file_contents("/tmp/x"), Some(b"data".to_vec()));
    }

    #[test]
    fn target_address_carries_the_port() {
        match Target::address("127.0.0.1", 2222).into_wit() {
            wit::Target::Address(endpoint) => {
                assert_eq!(endpoint.host, "127.0.0.1");
                assert_eq!(endpoint.port, Some(2222));
            }
            wit::Target::Inventory(_) => panic!("expected an address"),
        }
    }
}
