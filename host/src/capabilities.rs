//! The host side of each import a pack may use, one module per interface (`log`, `http`, `ssh`,
//! `catalog`, and `wasi_http`: the standard `wasi:http/outgoing-handler`, brokered by `http`),
//! and the [`broker`] they share (store, vault, masker, HTTP clients).
//!
//! Every capability has the same shape: `lend(&Lending)` builds it for one invocation from what
//! the host lends that invocation (the pack's grants and the broker, where the call comes from,
//! its deadline); what lives longer than a call lives in the broker, which is process-wide.
//! [`Capabilities`] holds one of each for a sandbox; [`add_to_linker`] links them all. Each
//! checks the invoking pack's grants (`crate::policy::grants`) before doing anything.

pub mod broker;
pub mod catalog;
pub mod http;
pub mod log;
pub mod ssh;
pub mod wasi_http;

use std::time::Instant;

use wasmtime::component::{HasSelf, Linker};

pub use self::broker::{Broker, BrokerSettings, CapabilityContext, HostKeyPolicy};
use crate::contract::CallContext;
use crate::contract::orch::pack;
pub use crate::contract::{ErrorCode, HostError};
use crate::policy::grants;
use crate::runtime::sandbox::Sandbox;

/// What the host lends one invocation, from which each capability is built.
pub struct Lending<'a> {
    /// The invoking pack, its grants and the process-wide broker.
    pub context: &'a CapabilityContext,
    /// Where the invocation comes from (the catalog records it as the writer).
    pub call: &'a CallContext,
    /// When every host call of the invocation must have ended.
    pub deadline: Instant,
}

/// The capabilities of one invocation, one per import; dropped with its sandbox, which closes
/// whatever the pack left open.
pub struct Capabilities {
    pub(crate) log: log::LogCapability,
    pub(crate) http: http::HttpCapability,
    pub(crate) ssh: ssh::SshCapability,
    pub(crate) catalog: catalog::CatalogCapability,
    pub(crate) wasi_http: wasi_http::WasiHttpCapability,
}

impl Capabilities {
    /// Each capability lent to one invocation.
    pub fn lend(lending: &Lending) -> Self {
        Self {
            log: log::LogCapability::lend(lending),
            http: http::HttpCapability::lend(lending),
            ssh: ssh::SshCapability::lend(lending),
            catalog: catalog::CatalogCapability::lend(lending),
            wasi_http: wasi_http::WasiHttpCapability::lend(lending),
        }
    }

    /// The pack's log lines and the count dropped past the cap, with a `warn` line for each
    /// wasi:http request the host refused (many clients drop the reason; the operator sees it).
    pub fn take_logs(&mut self) -> (Vec<log::LogLine>, usize) {
        for refusal in self.wasi_http.take_refusals() {
            self.log.record(
                "warn",
                &format!("orch refused a wasi:http request: {refusal}"),
                None,
            );
        }
        self.log.take()
    }
}

/// Adds every capability to `linker`.
pub fn add_to_linker(linker: &mut Linker<Sandbox>) -> anyhow::Result<()> {
    pack::log::add_to_linker::<Sandbox, HasSelf<log::LogCapability>>(linker, |sandbox| {
        &mut sandbox.capabilities.log
    })?;
    pack::http::add_to_linker::<Sandbox, HasSelf<http::HttpCapability>>(linker, |sandbox| {
        &mut sandbox.capabilities.http
    })?;
    pack::ssh::add_to_linker::<Sandbox, HasSelf<ssh::SshCapability>>(linker, |sandbox| {
        &mut sandbox.capabilities.ssh
    })?;
    pack::catalog::add_to_linker::<Sandbox, HasSelf<catalog::CatalogCapability>>(
        linker,
        |sandbox| &mut sandbox.capabilities.catalog,
    )?;
    // wasi:http's resources come from wasmtime-wasi-http and live in the sandbox's WASI table;
    // sending goes through our broker (`Sandbox`'s `WasiHttpView` is `WasiHttpCapability::view`).
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker).map_err(anyhow::Error::from)?;
    Ok(())
}

/// A capability error with `code` and `message`.
pub fn host_error(code: ErrorCode, message: String) -> HostError {
    HostError { code, message }
}

/// The error for a pack that imports a capability but holds no grant for it at all.
pub fn no_grant(pack: &str, capability: grants::Capability, example: &str) -> HostError {
    host_error(
        ErrorCode::Denied,
        format!(
            "pack {pack:?} holds no {} grant; the operator grants one with: orch pack grant {pack} {}:{example}",
            capability.as_str(),
            capability.as_str()
        ),
    )
}
