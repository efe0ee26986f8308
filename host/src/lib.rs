//! orch: a WebAssembly-plugin orchestration host.
//!
//! Layers, with dependencies pointing one way: [`cli`] → [`engine`] → [`packs`] → [`runtime`] →
//! [`capabilities`], and [`engine`], [`packs`], [`capabilities`] → [`store`]. Two leaves sit
//! under them all: [`contract`] (the Rust side of `wit/`) and [`policy`] (the pure rules). See
//! `ARCHITECTURE.md`.

pub mod api;
pub mod auth;
pub mod capabilities;
pub mod catalog;
pub mod cli;
pub mod console;
pub mod contract;
pub mod engine;
pub mod events;
pub mod home;
pub mod packs;
pub mod policy;
pub mod rules;
pub mod runtime;
pub mod schema;
pub mod service;
pub mod store;
pub mod vault;
pub mod worker;
