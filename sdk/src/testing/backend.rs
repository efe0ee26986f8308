//! The native side of [`imports`](crate::imports): the host's imports with the generated
//! bindings' names and signatures, answered by the thread's [`TestHost`](super::TestHost).
//! Keeping the signatures identical keeps the capability modules free of `cfg`.

use std::cell::{Cell, RefCell};

use regex::Regex;

use crate::__private::orch::pack::{catalog, http, log, ssh, types};
use crate::ssh::{Elevation, Target};
use crate::{ErrorCode, HostError};

/// The contract's form of an error, which the capability modules convert back.
fn to_wit(err: HostError) -> types::HostError {
    let code = match err.code() {
        ErrorCode::Denied => types::ErrorCode::Denied,
        ErrorCode::Invalid => types::ErrorCode::Invalid,
        ErrorCode::NotFound => types::ErrorCode::NotFound,
        ErrorCode::Unreachable => types::ErrorCode::Unreachable,
        ErrorCode::Timeout => types::ErrorCode::Timeout,
        ErrorCode::AuthFailed => types::ErrorCode::AuthFailed,
        ErrorCode::HostKey => types::ErrorCode::HostKey,
        ErrorCode::TooLarge => types::ErrorCode::TooLarge,
        ErrorCode::Protocol => types::ErrorCode::Protocol,
        ErrorCode::Closed => types::ErrorCode::Closed,
        ErrorCode::QuotaExceeded => types::ErrorCode::QuotaExceeded,
    };
    types::HostError {
        code,
        message: err.message().to_owned(),
    }
}

type WitResult<T> = Result<T, types::HostError>;

/// `http.send`.
pub(crate) fn http_send(request: &http::Request) -> WitResult<http::Response> {
    let call = format!("{} {}", request.method, request.url);
    let state = super::current(&call).map_err(to_wit)?;
    let response = state.http.borrow_mut().send(request);
    response.map_err(to_wit)
}

/// `log.write`: never fails (see [`super::log`]).
pub(crate) fn log_write(level: log::Level, message: &str, fields: Option<&str>) {
    use crate::log::Level;
    let level = match level {
        log::Level::Trace => Level::Trace,
        log::Level::Debug => Level::Debug,
        log::Level::Info => Level::Info,
        log::Level::Warn => Level::Warn,
        log::Level::Error => Level::Error,
    };
    super::log(level, message, fields);
}

/// `catalog.get-device`.
pub(crate) fn catalog_get_device(name: &str) -> WitResult<catalog::Device> {
    let state = super::current(&format!("catalog::device({name:?})")).map_err(to_wit)?;
    let device = state.catalog.borrow().device(name);
    device.map(device_to_wit).map_err(to_wit)
}

/// `catalog.find-devices`.
pub(crate) fn catalog_find_devices(tags: &[(String, String)]) -> WitResult<Vec<catalog::Device>> {
    let state = super::current("catalog::devices").map_err(to_wit)?;
    let devices = state.catalog.borrow().devices(tags);
    devices
        .map(|devices| devices.into_iter().map(device_to_wit).collect())
        .map_err(to_wit)
}

/// `catalog.get`.
pub(crate) fn catalog_get(
    collection: &str,
    key: &str,
    version: Option<u64>,
) -> WitResult<Option<catalog::Entry>> {
    let state =
        super::current(&format!("catalog::get({collection:?}, {key:?})")).map_err(to_wit)?;
    let entry = state.catalog.borrow().get(collection, key, version);
    entry.map(|e| e.map(entry_to_wit)).map_err(to_wit)
}

/// `catalog.put`.
pub(crate) fn catalog_put(collection: &str, key: &str, value: &str) -> WitResult<catalog::Entry> {
    let state =
        super::current(&format!("catalog::put({collection:?}, {key:?})")).map_err(to_wit)?;
    // `catalog::put` serialised the value itself, so this parses.
    let value = serde_json::from_str(value).map_err(|err| {
        to_wit(HostError::new(
            ErrorCode::Invalid,
            format!("the value for record {key:?} is not JSON: {err}"),
        ))
    })?;
    let entry = state.catalog.borrow_mut().put(collection, key, value);
    entry.map(entry_to_wit).map_err(to_wit)
}

fn device_to_wit(device: crate::catalog::Device) -> catalog::Device {
    catalog::Device {
        name: device.name,
        address: device.address,
        port: device.port,
        platform: device.platform,
        credential: device.credential,
        tags: device.tags.into_iter().collect(),
        vars: device.vars.to_string(),
    }
}

fn entry_to_wit(entry: crate::catalog::Entry) -> catalog::Entry {
    catalog::Entry {
        collection: entry.collection,
        key: entry.key,
        version: entry.version,
        value: entry.value.to_string(),
        written_at: entry.written_at,
        writer: entry.writer,
    }
}

/// `ssh.session`, natively: the target it was opened to.
#[derive(Debug)]
pub(crate) struct Session {
    target: String,
}

impl Session {
    /// `session.connect`.
    pub(crate) fn connect(options: &ssh::ConnectOptions) -> WitResult<Self> {
        let target = match &options.target {
            ssh::Target::Inventory(name) => Target::Inventory(name.clone()),
            ssh::Target::Address(endpoint) => Target::Address {
                host: endpoint.host.clone(),
                port: endpoint.port.unwrap_or(22),
            },
        };
        let call = format!("ssh connect to {}", super::ssh::target_name(&target));
        let state = super::current(&call).map_err(to_wit)?;
        let connected = state
            .ssh
            .borrow_mut()
            .connect(target, options.credential.clone());
        connected.map(|target| Self { target }).map_err(to_wit)
    }

    /// `session.exec`.
    pub(crate) fn exec(
        &self,
        command: &str,
        _timeout_ms: Option<u32>,
    ) -> WitResult<ssh::ExecOutput> {
        let state = super::current(&format!("ssh exec {command:?}")).map_err(to_wit)?;
        let output = state.ssh.borrow_mut().exec(&self.target, command);
        output
            .map(|(stdout, stderr, exit_status)| ssh::ExecOutput {
                stdout,
                stderr,
                exit_status,
            })
            .map_err(to_wit)
    }

    /// `session.shell`: opens showing the prompt.
    pub(crate) fn shell(&self, _options: &ssh::ShellOptions) -> WitResult<Shell> {
        let state = super::current("ssh shell").map_err(to_wit)?;
        let prompt = state.ssh.borrow().prompt();
        Ok(Shell {
            target: self.target.clone(),
            unread: RefCell::new(prompt.clone()),
            prompt: RefCell::new(prompt),
            typed: Cell::new(false),
        })
    }

    /// `session.sftp-get`.
    pub(crate) fn sftp_get(&self, path: &str, max_bytes: Option<u32>) -> WitResult<Vec<u8>> {
        let state = super::current(&format!("sftp get {path:?}")).map_err(to_wit)?;
        let data = state
            .ssh
            .borrow()
            .sftp_get(&self.target, path)
            .map_err(to_wit)?;
        let cap = max_bytes.map_or(usize::MAX, |max| max as usize);
        if data.len() > cap {
            return Err(to_wit(HostError::new(
                ErrorCode::TooLarge,
                format!(
                    "remote file {path:?} is {} bytes, over the cap of {cap}",
                    data.len()
                ),
            )));
        }
        Ok(data)
    }

    /// `session.sftp-put`.
    pub(crate) fn sftp_put(&self, path: &str, data: &[u8], _mode: Option<u32>) -> WitResult<()> {
        let state = super::current(&format!("sftp put {path:?}")).map_err(to_wit)?;
        state.ssh.borrow_mut().sftp_put(path, data);
        Ok(())
    }
}

/// `ssh.shell`, natively: what the device has printed and the pack not yet read.
#[derive(Debug)]
pub(crate) struct Shell {
    target: String,
    unread: RefCell<String>,
    prompt: RefCell<String>,
    /// Whether the pack has typed anything: the host then refuses to type secrets.
    typed: Cell<bool>,
}

impl Shell {
    /// `shell.send`: each complete line is echoed and answered by its rule.
    pub(crate) fn send(&self, text: &str) -> WitResult<()> {
        self.typed.set(true);
        let state = super::current("ssh shell send").map_err(to_wit)?;
        for line in text.split_inclusive('\n') {
            let line = line.trim_end_matches(['\r', '\n']);
            let reply = state
                .ssh
                .borrow_mut()
                .line(&self.target, line)
                .map_err(to_wit)?;
            self.print(&format!("{line}\r\n"), reply);
        }
        Ok(())
    }

    /// `shell.elevate`: refused once the pack typed anything, as the host does.
    pub(crate) fn elevate(&self, options: &ssh::ElevateOptions) -> WitResult<String> {
        self.refuse_secret_after_typing("elevate")?;
        let method = match options.method {
            ssh::Elevation::Enable => Elevation::Enable,
            ssh::Elevation::Super => Elevation::Super,
            ssh::Elevation::Su => Elevation::Su,
            ssh::Elevation::Sudo => Elevation::Sudo,
        };
        let state = super::current("ssh shell elevate").map_err(to_wit)?;
        let reply = state
            .ssh
            .borrow_mut()
            .elevate(&self.target, method, options.credential.clone())
            .map_err(to_wit)?;
        let command = match method {
            Elevation::Enable => "enable",
            Elevation::Super => "super",
            Elevation::Su => "su -",
            Elevation::Sudo => "sudo -i",
        };
        self.print(&format!("{command}\r\n"), reply);
        self.read_until(&options.privileged_prompt, 0)
    }

    /// `shell.send-secret`.
    pub(crate) fn send_secret(&self, credential: &str) -> WitResult<()> {
        self.refuse_secret_after_typing("send_secret")?;
        let state = super::current("ssh shell send_secret").map_err(to_wit)?;
        state.ssh.borrow_mut().secret(credential);
        self.unread.borrow_mut().push_str("***\r\n");
        Ok(())
    }

    /// `shell.read-until`: what was printed through the first match of `pattern`; a timeout,
    /// naming the tail, when it never matches (nothing more will arrive in a test).
    pub(crate) fn read_until(&self, pattern: &str, _timeout_ms: u32) -> WitResult<String> {
        let regex = Regex::new(pattern).map_err(|err| {
            to_wit(HostError::new(
                ErrorCode::Invalid,
                format!("invalid pattern {pattern:?}: {err}"),
            ))
        })?;
        let mut unread = self.unread.borrow_mut();
        let Some(end) = regex.find(&unread).map(|found| found.end()) else {
            let tail: String = unread
                .chars()
                .rev()
                .take(80)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            return Err(to_wit(HostError::new(
                ErrorCode::Timeout,
                format!(
                    "the test host's shell of {} never printed {pattern:?}; it printed {tail:?} \
                     (script the line's output or the prompt with host.ssh())",
                    self.target
                ),
            )));
        };
        let rest = unread.split_off(end);
        Ok(std::mem::replace(&mut *unread, rest))
    }

    /// `shell.read`: everything printed and not yet read.
    pub(crate) fn read(&self, _timeout_ms: u32) -> WitResult<String> {
        Ok(std::mem::take(&mut *self.unread.borrow_mut()))
    }

    fn print(&self, echo: &str, reply: super::ssh::Reply) {
        if let Some(prompt) = reply.prompt {
            *self.prompt.borrow_mut() = prompt;
        }
        let mut unread = self.unread.borrow_mut();
        unread.push_str(echo);
        if !reply.output.is_empty() {
            unread.push_str(&reply.output);
            if !reply.output.ends_with('\n') {
                unread.push_str("\r\n");
            }
        }
        unread.push_str(&self.prompt.borrow());
    }

    fn refuse_secret_after_typing(&self, what: &str) -> WitResult<()> {
        if self.typed.get() {
            return Err(to_wit(HostError::new(
                ErrorCode::Denied,
                format!(
                    "{what} is refused on a shell the pack has typed into; open a new shell and \
                     call it before sending anything"
                ),
            )));
        }
        Ok(())
    }
}
