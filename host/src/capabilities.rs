//! The host side of each WIT import, one module per interface. Each capability is built from
//! the invoking pack's grants and settings and checks them before doing anything.

pub mod log;

use wasmtime::component::{HasSelf, Linker};

use crate::runtime::bindings::orch::pack;
use crate::runtime::sandbox::Sandbox;

/// Adds every orch capability to `linker`.
pub fn add_to_linker(linker: &mut Linker<Sandbox>) -> anyhow::Result<()> {
    pack::log::add_to_linker::<Sandbox, HasSelf<log::LogCapability>>(linker, |sandbox| {
        &mut sandbox.log
    })?;
    Ok(())
}
