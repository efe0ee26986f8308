//! The host side of each WIT import, one module per interface (`log`, `http`, `ssh`,
//! `catalog`, and `wasi_http`: the standard `wasi:http/outgoing-handler`, brokered by `http`),
//! and what
//! they share: the [`broker`] (store, vault, masker), [`grants`] and the [`network`] address
//! policy. Each capability is built per invocation from a [`CapabilityContext`] and checks the
//! invoking pack's grants before doing anything.

pub mod broker;
pub mod catalog;
pub mod grants;
pub mod http;
pub mod log;
pub mod masking;
pub mod network;
pub mod ssh;
pub mod wasi_http;

use wasmtime::component::{HasSelf, Linker};

pub use self::broker::{Broker, BrokerSettings, CapabilityContext, HostKeyPolicy};
use crate::runtime::bindings::orch::pack;
pub use crate::runtime::bindings::{ErrorCode, HostError};
use crate::runtime::sandbox::Sandbox;

/// Adds every orch capability to `linker`.
pub fn add_to_linker(linker: &mut Linker<Sandbox>) -> anyhow::Result<()> {
    pack::log::add_to_linker::<Sandbox, HasSelf<log::LogCapability>>(linker, |sandbox| {
        &mut sandbox.log
    })?;
    pack::http::add_to_linker::<Sandbox, HasSelf<http::HttpCapability>>(linker, |sandbox| {
        &mut sandbox.http
    })?;
    pack::ssh::add_to_linker::<Sandbox, HasSelf<ssh::SshCapability>>(linker, |sandbox| {
        &mut sandbox.ssh
    })?;
    pack::catalog::add_to_linker::<Sandbox, HasSelf<catalog::CatalogCapability>>(
        linker,
        |sandbox| &mut sandbox.catalog,
    )?;
    // wasi:http's resources come from wasmtime-wasi-http; sending goes through our broker
    // (`Sandbox`'s `WasiHttpView` hands it the invocation's `WasiHttpBroker`).
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
