//! `orch:pack/ssh`: SSH sessions opened by the host for a pack, under its grants.
//!
//! (Skeleton: sessions are being written; every call is refused until then.)

use std::time::Instant;

use wasmtime::component::{Resource, ResourceTable};

use super::broker::CapabilityContext;
use super::{ErrorCode, HostError, host_error};
use crate::runtime::bindings::orch::pack::ssh::{
    ConnectOptions, ExecOutput, Host, HostSession, HostShell, ShellOptions,
};

/// An open SSH session (the host object behind the guest's `session` handle).
pub struct Session {}

/// An interactive shell of a session (behind the guest's `shell` handle).
pub struct Shell {}

/// The ssh capability of one invocation: its sessions live in its own resource table and are
/// closed when the invocation ends.
pub struct SshCapability {
    context: CapabilityContext,
    #[expect(dead_code, reason = "skeleton")]
    deadline: Instant,
    table: ResourceTable,
}

impl SshCapability {
    /// The capability for one invocation ending at `deadline`.
    pub fn new(context: CapabilityContext, deadline: Instant) -> Self {
        Self {
            context,
            deadline,
            table: ResourceTable::new(),
        }
    }

    fn unavailable(&self) -> HostError {
        host_error(
            ErrorCode::Denied,
            format!("pack {:?}: ssh is not available yet", self.context.pack),
        )
    }
}

impl Host for SshCapability {}

impl HostSession for SshCapability {
    async fn connect(&mut self, _options: ConnectOptions) -> Result<Resource<Session>, HostError> {
        Err(self.unavailable())
    }

    async fn exec(
        &mut self,
        _session: Resource<Session>,
        _command: String,
        _timeout_ms: Option<u32>,
    ) -> Result<ExecOutput, HostError> {
        Err(self.unavailable())
    }

    async fn shell(
        &mut self,
        _session: Resource<Session>,
        _options: ShellOptions,
    ) -> Result<Resource<Shell>, HostError> {
        Err(self.unavailable())
    }

    async fn sftp_get(
        &mut self,
        _session: Resource<Session>,
        _path: String,
        _max_bytes: Option<u32>,
    ) -> Result<Vec<u8>, HostError> {
        Err(self.unavailable())
    }

    async fn sftp_put(
        &mut self,
        _session: Resource<Session>,
        _path: String,
        _data: Vec<u8>,
        _mode: Option<u32>,
    ) -> Result<(), HostError> {
        Err(self.unavailable())
    }

    async fn drop(&mut self, session: Resource<Session>) -> wasmtime::Result<()> {
        self.table.delete(session)?;
        Ok(())
    }
}

impl HostShell for SshCapability {
    async fn send(&mut self, _shell: Resource<Shell>, _text: String) -> Result<(), HostError> {
        Err(self.unavailable())
    }

    async fn send_secret(
        &mut self,
        _shell: Resource<Shell>,
        _credential: String,
    ) -> Result<(), HostError> {
        Err(self.unavailable())
    }

    async fn read_until(
        &mut self,
        _shell: Resource<Shell>,
        _pattern: String,
        _timeout_ms: u32,
    ) -> Result<String, HostError> {
        Err(self.unavailable())
    }

    async fn read(
        &mut self,
        _shell: Resource<Shell>,
        _timeout_ms: u32,
    ) -> Result<String, HostError> {
        Err(self.unavailable())
    }

    async fn drop(&mut self, shell: Resource<Shell>) -> wasmtime::Result<()> {
        self.table.delete(shell)?;
        Ok(())
    }
}
