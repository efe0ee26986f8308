//! `orch:pack/ssh`: SSH sessions opened by the host for a pack, under its grants.
//!
//! Before any packet leaves, `connect` checks in order: the pack holds an ssh grant at all, the
//! destination is granted by name, the credential may be used there (kind, pack, binding), and
//! every address the name resolves to passes the network policy; only a checked address is
//! dialled. The server's host key is judged against the store ([`hostkeys`]) inside the
//! handshake, before the credential is sent. Sessions and shells live in this capability's own
//! resource table, so they are closed when the guest drops them or the invocation ends.
//! Everything handed back to the pack (outputs, file contents, error messages) is masked.
//!
//! A secret is typed into a shell only by `elevate` and `send-secret`, under the rules of
//! [`elevation`]: never after the pack has typed into that shell, only at a password prompt the
//! host itself read.

pub mod elevation;
pub mod hostkeys;
mod session;
mod shell;
pub mod transport;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use wasmtime::component::{Resource, ResourceTable};

pub use self::session::Session;
pub use self::shell::Shell;
use super::broker::{Broker, CapabilityContext, OpenedCredential};
use super::{ErrorCode, HostError, host_error, no_grant};
use crate::contract::orch::pack::ssh::{
    ConnectOptions, ElevateOptions, ExecOutput, Host, HostSession, HostShell,
    Session as SessionHandle, Shell as ShellHandle, ShellOptions, Target,
};
use crate::policy::grants::{Capability, Grants};
use crate::policy::network;
use crate::vault::Kind;

/// Sessions one invocation may hold open at once.
pub const MAX_SESSIONS: usize = 16;
/// Connecting and logging in, unless the pack asks otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// A command, unless the pack asks otherwise.
const EXEC_TIMEOUT: Duration = Duration::from_secs(60);
/// Starting a shell, typing into it, one SFTP transfer.
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// The whole `elevate` dialogue, unless the pack asks otherwise.
const ELEVATE_TIMEOUT: Duration = Duration::from_secs(15);
/// Default terminal: wide enough that devices do not wrap configuration lines.
const TERM: &str = "vt100";
const TERM_WIDTH: u32 = 511;
const TERM_HEIGHT: u32 = 24;

/// The ssh capability of one invocation: its sessions live in its own resource table and are
/// closed when the invocation ends.
pub struct SshCapability {
    context: CapabilityContext,
    deadline: Instant,
    table: ResourceTable,
    sessions: usize,
}

/// A destination that passed every check, with the addresses that may be dialled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Host as the pack named it, canonical (lowercase name, canonical IP).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Resolved and checked addresses, in resolver order.
    pub addresses: Vec<SocketAddr>,
}

impl SshCapability {
    /// The capability for one invocation, with an empty table of sessions and shells.
    pub fn lend(lending: &super::Lending) -> Self {
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_SESSIONS * 64);
        Self {
            context: lending.context.clone(),
            deadline: lending.deadline,
            table,
            sessions: 0,
        }
    }

    /// When a call asked to take `requested` must end, capped by the invocation's deadline, and
    /// how to say it in a timeout message.
    fn until(&self, requested: Duration) -> (tokio::time::Instant, String) {
        let now = Instant::now();
        let wanted = now + requested;
        if wanted <= self.deadline {
            (
                tokio::time::Instant::from_std(wanted),
                format!("{} ms", requested.as_millis()),
            )
        } else {
            (
                tokio::time::Instant::from_std(self.deadline),
                format!(
                    "{} ms (what remained of the invocation's time limit)",
                    self.deadline.saturating_duration_since(now).as_millis()
                ),
            )
        }
    }

    fn mask<T>(&self, result: Result<T, HostError>) -> Result<T, HostError> {
        result.map_err(|mut err| {
            err.message = self.context.broker.masker().mask(&err.message);
            err
        })
    }

    fn mask_text(&self, bytes: Vec<u8>) -> String {
        self.context
            .broker
            .masker()
            .mask(&String::from_utf8_lossy(&bytes))
    }

    async fn open(&mut self, options: ConnectOptions) -> Result<Session, HostError> {
        // What the session returns may carry a secret another process sent out: mask them all.
        self.context.broker.mask_stored_secrets()?;
        let context = &self.context;
        let pack = context.pack.as_str();
        if !context.grants.has(Capability::Ssh) {
            return Err(no_grant(pack, Capability::Ssh, "HOST[:PORT]"));
        }
        if self.sessions >= MAX_SESSIONS {
            return Err(host_error(
                ErrorCode::Denied,
                format!(
                    "pack {pack:?} already holds {MAX_SESSIONS} open ssh sessions in this \
                     invocation; drop one before opening another"
                ),
            ));
        }
        // An inventory device is reached at the address the operator's inventory gives, under
        // the `ssh:inventory` grant (checked by the broker); its credential is the device's
        // unless the pack names another.
        let (host, port, credential, from_inventory) = match options.target {
            Target::Inventory(name) => {
                let device = context.broker.inventory_device(context, &name)?;
                let host = hostkeys::canonical_host(&device.address)
                    .map_err(|err| host_error(ErrorCode::Invalid, err))?;
                let credential = options.credential.or(device.credential).ok_or_else(|| {
                    host_error(
                        ErrorCode::Invalid,
                        format!(
                            "inventory device {name:?} names no credential; set one in the \
                             inventory (credential: NAME) or pass one to connect"
                        ),
                    )
                })?;
                (host, device.port, credential, true)
            }
            Target::Address(endpoint) => {
                let port = endpoint.port.unwrap_or(22);
                let host = hostkeys::canonical_host(&endpoint.host)
                    .map_err(|err| host_error(ErrorCode::Invalid, err))?;
                let credential = options.credential.ok_or_else(|| {
                    host_error(
                        ErrorCode::Invalid,
                        format!(
                            "connecting to {} needs a credential: name an ssh-password or \
                             ssh-key credential of the vault",
                            hostkeys::destination(&host, port)
                        ),
                    )
                })?;
                (host, port, credential, false)
            }
        };
        if !from_inventory {
            check_granted(&context.grants, pack, &host, port)?;
        }
        let opened = context
            .broker
            .credential(pack, &credential, Capability::Ssh, &host, port)?;
        let requested = options
            .timeout_ms
            .map_or(CONNECT_TIMEOUT, |ms| Duration::from_millis(u64::from(ms)));
        let (until, timeout_text) = self.until(requested);
        let destination = hostkeys::destination(&host, port);
        let timed_out = || {
            host_error(
                ErrorCode::Timeout,
                format!("connecting to {destination} did not finish within {timeout_text}"),
            )
        };
        let addresses = tokio::time::timeout_at(until, resolve(&host, port))
            .await
            .map_err(|_| timed_out())??;
        let checked = if from_inventory {
            check_inventory_addresses(&host, port, &addresses)?
        } else {
            check_addresses(&context.grants, &host, port, &addresses)?
        };
        let store = context.broker.store();
        let known = match store {
            Some(store) => store.host_keys(Some((&host, port))).map_err(|err| {
                host_error(
                    ErrorCode::Protocol,
                    format!("reading the trusted host keys: {err:#}"),
                )
            })?,
            None => Vec::new(),
        };
        let policy = context.broker.settings().host_key_policy;
        let login = async {
            let transport =
                transport::connect_checked(&checked.addresses, &host, port, known, policy).await?;
            if matches!(transport.verdict, hostkeys::Verdict::Record) {
                let row = transport
                    .key
                    .row(&host, port, &format!("accept-new (pack {pack})"));
                if let Some(store) = store {
                    store.add_host_key(&row).map_err(|err| {
                        host_error(
                            ErrorCode::Protocol,
                            format!("recording the host key of {destination}: {err:#}"),
                        )
                    })?;
                }
                tracing::info!(
                    "recorded the host key {} of {destination} (accept-new, pack {pack})",
                    transport.key.fingerprint
                );
            }
            Session::login(transport.handle, &host, port, &opened).await
        };
        tokio::time::timeout_at(until, login)
            .await
            .map_err(|_| timed_out())?
    }

    fn session_mut(
        &mut self,
        session: &Resource<SessionHandle>,
    ) -> Result<&mut Session, HostError> {
        self.table
            .get_mut(&held::<Session, _>(session))
            .map_err(|_| host_error(ErrorCode::Closed, "the ssh session is closed".into()))
    }

    fn shell_mut(&mut self, shell: &Resource<ShellHandle>) -> Result<&mut Shell, HostError> {
        self.table
            .get_mut(&held::<Shell, _>(shell))
            .map_err(|_| host_error(ErrorCode::Closed, "the shell is closed".into()))
    }
}

/// The name check: an ssh grant admits `host`:`port`.
pub fn check_granted(grants: &Grants, pack: &str, host: &str, port: u16) -> Result<(), HostError> {
    if grants.admits(Capability::Ssh, None, host, port) {
        return Ok(());
    }
    let destination = hostkeys::destination(host, port);
    Err(host_error(
        ErrorCode::Denied,
        format!(
            "pack {pack:?} holds no ssh grant for {destination}; the operator grants it with: \
             orch pack grant {pack} ssh:{destination}"
        ),
    ))
}

/// The address check: every address `host` resolved to passes the network policy (a name
/// pointing at a forbidden or ungranted internal address is refused as a whole, so a resolver
/// cannot mix one in).
pub fn check_addresses(
    grants: &Grants,
    host: &str,
    port: u16,
    addresses: &[IpAddr],
) -> Result<Checked, HostError> {
    checked(host, port, addresses, |ip| {
        network::check_address(grants, Capability::Ssh, host, ip, port)
    })
}

/// The address check for an inventory device: the operator put its address in the inventory,
/// so loopback and private addresses pass (management networks are private); addresses that
/// are never reachable (link-local, unspecified, multicast) are still refused.
pub fn check_inventory_addresses(
    host: &str,
    port: u16,
    addresses: &[IpAddr],
) -> Result<Checked, HostError> {
    checked(host, port, addresses, |ip| {
        match network::classify(ip.to_canonical()) {
            network::AddressClass::Forbidden(what) => Err(format!(
                "{host} is {ip}, {what}; the host never connects there"
            )),
            _ => Ok(()),
        }
    })
}

/// `addresses` as the connection targets once every one passes `check` (refused as `denied`
/// with its message otherwise; no address at all is `unreachable`).
fn checked(
    host: &str,
    port: u16,
    addresses: &[IpAddr],
    check: impl Fn(IpAddr) -> Result<(), String>,
) -> Result<Checked, HostError> {
    if addresses.is_empty() {
        return Err(host_error(
            ErrorCode::Unreachable,
            format!("{host} has no address"),
        ));
    }
    for ip in addresses {
        check(*ip).map_err(|err| host_error(ErrorCode::Denied, err))?;
    }
    Ok(Checked {
        host: host.to_owned(),
        port,
        addresses: addresses
            .iter()
            .map(|ip| SocketAddr::new(ip.to_canonical(), port))
            .collect(),
    })
}

/// The addresses of `host` (itself for an IP literal).
pub async fn resolve(host: &str, port: u16) -> Result<Vec<IpAddr>, HostError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let found = tokio::net::lookup_host((host, port)).await.map_err(|err| {
        host_error(
            ErrorCode::Unreachable,
            format!("could not resolve {host}: {err}"),
        )
    })?;
    Ok(found.map(|addr| addr.ip()).collect())
}

/// Opens credential `name` for typing into a shell of `host`:`port` by `operation`: an
/// `ssh-password` (after the broker's kind, pack and binding checks) whose password is one line
/// of printable text.
fn password_to_type(
    broker: &Broker,
    pack: &str,
    name: &str,
    host: &str,
    port: u16,
    operation: &str,
) -> Result<OpenedCredential, HostError> {
    let opened = broker.credential(pack, name, Capability::Ssh, host, port)?;
    if opened.kind != Kind::SshPassword {
        return Err(host_error(
            ErrorCode::Invalid,
            format!(
                "{operation} types the password of an ssh-password credential; {name:?} is of \
                 kind {}",
                opened.kind.as_str()
            ),
        ));
    }
    if !elevation::typeable(opened.secret("password")) {
        return Err(host_error(
            ErrorCode::Invalid,
            format!(
                "the password of credential {name:?} is empty or holds a control character (a \
                 line break would end the answer early and run the rest as a command); store \
                 it as one line of text with: orch secret set {name} ..."
            ),
        ));
    }
    Ok(opened)
}

/// The host object behind a guest's handle, or the handle of a host object: the contract names
/// the resource types (it is a leaf and cannot name ours) and this capability's table holds ours,
/// under the same rep. The table checks the type on every access, so a shell's handle passed
/// as a session is still refused as closed.
fn held<T: 'static, U: 'static>(handle: &Resource<U>) -> Resource<T> {
    if handle.owned() {
        Resource::new_own(handle.rep())
    } else {
        Resource::new_borrow(handle.rep())
    }
}

fn millis(ms: Option<u32>, default: Duration) -> Duration {
    ms.map_or(default, |ms| Duration::from_millis(u64::from(ms)))
}

impl Host for SshCapability {}

impl HostSession for SshCapability {
    async fn connect(
        &mut self,
        options: ConnectOptions,
    ) -> Result<Resource<SessionHandle>, HostError> {
        let session = self.open(options).await;
        let session = self.mask(session)?;
        let resource = self.table.push(session).map_err(|_| {
            host_error(
                ErrorCode::Denied,
                "this invocation holds too many ssh handles".into(),
            )
        })?;
        self.sessions += 1;
        Ok(held(&resource))
    }

    async fn exec(
        &mut self,
        session: Resource<SessionHandle>,
        command: String,
        timeout_ms: Option<u32>,
    ) -> Result<ExecOutput, HostError> {
        let (until, timeout_text) = self.until(millis(timeout_ms, EXEC_TIMEOUT));
        // `&mut` (not `&`) borrows: the table is `Send` but not `Sync`, and the future is held
        // across awaits.
        let result = match self.session_mut(&session) {
            Ok(session) => session.exec(&command, until, &timeout_text).await,
            Err(err) => Err(err),
        };
        let output = self.mask(result)?;
        let masker = self.context.broker.masker();
        Ok(ExecOutput {
            stdout: masker.mask(&output.stdout),
            stderr: masker.mask(&output.stderr),
            exit_status: output.exit_status,
        })
    }

    async fn shell(
        &mut self,
        session: Resource<SessionHandle>,
        options: ShellOptions,
    ) -> Result<Resource<ShellHandle>, HostError> {
        let (until, _) = self.until(IO_TIMEOUT);
        let terminal = shell::Terminal {
            term: options.term.unwrap_or_else(|| TERM.to_owned()),
            width: options.width.unwrap_or(TERM_WIDTH),
            height: options.height.unwrap_or(TERM_HEIGHT),
        };
        let started = async {
            let session = self.session_mut(&session)?;
            let channel = session.open_channel(until).await?;
            Shell::start(channel, &terminal, &session.host, session.port, until).await
        }
        .await;
        let shell = self.mask(started)?;
        let resource = self.table.push(shell).map_err(|_| {
            host_error(
                ErrorCode::Denied,
                "this invocation holds too many ssh handles".into(),
            )
        })?;
        Ok(held(&resource))
    }

    async fn sftp_get(
        &mut self,
        session: Resource<SessionHandle>,
        path: String,
        max_bytes: Option<u32>,
    ) -> Result<Vec<u8>, HostError> {
        let cap = max_bytes.map_or(session::MAX_OUTPUT_BYTES, |max| {
            usize::try_from(max).map_or(session::MAX_OUTPUT_BYTES, |max| {
                max.min(session::MAX_OUTPUT_BYTES)
            })
        });
        let (until, _) = self.until(IO_TIMEOUT);
        let result = match self.session_mut(&session) {
            Ok(session) => session.sftp_get(&path, cap, until).await,
            Err(err) => Err(err),
        };
        let data = self.mask(result)?;
        Ok(self.context.broker.masker().mask_bytes(data))
    }

    async fn sftp_put(
        &mut self,
        session: Resource<SessionHandle>,
        path: String,
        data: Vec<u8>,
        mode: Option<u32>,
    ) -> Result<(), HostError> {
        let (until, _) = self.until(IO_TIMEOUT);
        let result = match self.session_mut(&session) {
            Ok(session) => session.sftp_put(&path, &data, mode, until).await,
            Err(err) => Err(err),
        };
        self.mask(result)
    }

    async fn drop(&mut self, session: Resource<SessionHandle>) -> wasmtime::Result<()> {
        // Dropping the host object disconnects (see `Session`'s `Drop`).
        self.table.delete(held::<Session, _>(&session))?;
        self.sessions = self.sessions.saturating_sub(1);
        Ok(())
    }
}

impl HostShell for SshCapability {
    async fn send(&mut self, shell: Resource<ShellHandle>, text: String) -> Result<(), HostError> {
        let (until, _) = self.until(IO_TIMEOUT);
        let result = match self.shell_mut(&shell) {
            Ok(shell) => shell.send(text.into_bytes(), until).await,
            Err(err) => Err(err),
        };
        self.mask(result)
    }

    async fn elevate(
        &mut self,
        shell: Resource<ShellHandle>,
        options: ElevateOptions,
    ) -> Result<String, HostError> {
        let (until, timeout_text) = self.until(millis(options.timeout_ms, ELEVATE_TIMEOUT));
        let pack = self.context.pack.clone();
        let broker = self.context.broker.clone();
        let result = async {
            // The rules first: a refused call opens no credential.
            let (host, port) = {
                let shell = self.shell_mut(&shell)?;
                shell.may_elevate()?;
                (shell.host().to_owned(), shell.port())
            };
            let privileged = shell::compile(&options.privileged_prompt)?;
            let prompt = options.prompt.as_deref().map(shell::compile).transpose()?;
            let opened = options
                .credential
                .as_deref()
                .map(|name| password_to_type(&broker, &pack, name, &host, port, "elevate"))
                .transpose()?;
            let request = shell::Elevate {
                command: elevation::command(options.method),
                secret: opened.as_ref().map(|opened| opened.secret("password")),
                credential: options.credential.as_deref(),
                privileged: &privileged,
                prompt: prompt.as_ref(),
            };
            self.shell_mut(&shell)?
                .elevate(&request, until, &timeout_text)
                .await
        }
        .await;
        let bytes = self.mask(result)?;
        Ok(self.mask_text(bytes))
    }

    async fn send_secret(
        &mut self,
        shell: Resource<ShellHandle>,
        credential: String,
    ) -> Result<(), HostError> {
        let (until, _) = self.until(IO_TIMEOUT);
        let pack = self.context.pack.clone();
        let broker = self.context.broker.clone();
        let result = async {
            // The rules first: a refused call opens no credential.
            let (host, port) = {
                let shell = self.shell_mut(&shell)?;
                shell.may_send_secret().await?;
                (shell.host().to_owned(), shell.port())
            };
            let opened = password_to_type(&broker, &pack, &credential, &host, port, "send-secret")?;
            self.shell_mut(&shell)?
                .send_secret(opened.secret("password"), until)
                .await
        }
        .await;
        self.mask(result)
    }

    async fn read_until(
        &mut self,
        shell: Resource<ShellHandle>,
        pattern: String,
        timeout_ms: u32,
    ) -> Result<String, HostError> {
        let (until, timeout_text) = self.until(millis(Some(timeout_ms), IO_TIMEOUT));
        let result = match self.shell_mut(&shell) {
            Ok(shell) => shell.read_until(&pattern, until, &timeout_text).await,
            Err(err) => Err(err),
        };
        let bytes = self.mask(result)?;
        Ok(self.mask_text(bytes))
    }

    async fn read(
        &mut self,
        shell: Resource<ShellHandle>,
        timeout_ms: u32,
    ) -> Result<String, HostError> {
        let (until, _) = self.until(millis(Some(timeout_ms), IO_TIMEOUT));
        let result = match self.shell_mut(&shell) {
            Ok(shell) => shell.read(until).await,
            Err(err) => Err(err),
        };
        let bytes = self.mask(result)?;
        Ok(self.mask_text(bytes))
    }

    async fn drop(&mut self, shell: Resource<ShellHandle>) -> wasmtime::Result<()> {
        self.table.delete(held::<Shell, _>(&shell))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_destination_not_granted_by_name_naming_the_grant_to_add() {
        let grants = Grants::from_texts(["ssh:10.0.0.0/24:22", "ssh:*.lab.example.com"]);
        assert!(check_granted(&grants, "netdev", "10.0.0.7", 22).is_ok());
        assert!(check_granted(&grants, "netdev", "r1.lab.example.com", 22).is_ok());
        let err = check_granted(&grants, "netdev", "10.0.0.7", 2222).unwrap_err();
        assert_eq!(err.code, ErrorCode::Denied);
        assert!(
            err.message
                .contains("orch pack grant netdev ssh:10.0.0.7:2222"),
            "{}",
            err.message
        );
        let err = check_granted(&grants, "netdev", "db.example.com", 22).unwrap_err();
        assert_eq!(err.code, ErrorCode::Denied);
    }

    #[test]
    fn refuses_a_granted_name_resolving_to_an_ungranted_or_forbidden_address() {
        let by_name = Grants::from_texts(["ssh:r1.lab"]);
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let metadata: IpAddr = "169.254.169.254".parse().unwrap();
        let public: IpAddr = "192.0.43.10".parse().unwrap();
        let err = check_addresses(&by_name, "r1.lab", 22, &[loopback]).unwrap_err();
        assert_eq!(err.code, ErrorCode::Denied);
        assert!(err.message.contains("loopback"), "{}", err.message);
        let err = check_addresses(&by_name, "r1.lab", 22, &[public, metadata]).unwrap_err();
        assert!(err.message.contains("link-local"), "{}", err.message);
        let checked = check_addresses(&by_name, "r1.lab", 22, &[public]).unwrap();
        assert_eq!(checked.addresses, vec![SocketAddr::new(public, 22)]);
        let by_address = Grants::from_texts(["ssh:127.0.0.1:2222"]);
        assert!(check_addresses(&by_address, "127.0.0.1", 2222, &[loopback]).is_ok());
        assert_eq!(
            check_addresses(&by_address, "r1.lab", 22, &[])
                .unwrap_err()
                .code,
            ErrorCode::Unreachable
        );
    }

    #[test]
    fn inventory_devices_may_be_private_but_never_link_local() {
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let private: IpAddr = "10.1.2.3".parse().unwrap();
        let metadata: IpAddr = "169.254.169.254".parse().unwrap();
        assert!(check_inventory_addresses("r1", 22, &[loopback, private]).is_ok());
        let err = check_inventory_addresses("r1", 22, &[private, metadata]).unwrap_err();
        assert_eq!(err.code, ErrorCode::Denied);
        assert!(err.message.contains("link-local"), "{}", err.message);
    }
}
