//! orch: a WebAssembly-plugin orchestration host.
//!
//! Layers, with dependencies pointing one way: [`cli`] → [`packs`] → [`runtime`] →
//! [`capabilities`], and [`packs`], [`capabilities`] → [`store`]. See `ARCHITECTURE.md`.

pub mod capabilities;
pub mod cli;
pub mod home;
pub mod packs;
pub mod runtime;
pub mod schema;
pub mod store;
