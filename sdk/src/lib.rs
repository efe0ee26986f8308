//! Write [orch](https://example.invalid/orch) automation packs in Rust.
//!
//! A pack is a WebAssembly component built against the WIT world `orch:pack/pack`. This crate
//! hides the bindings: a pack author writes plain functions over serde types, lists them in a
//! [`PackDef`], and exports the pack with [`export_pack!`]. Each handler's input is deserialised
//! from the call's JSON; its output is serialised back; the JSON Schemas the host validates inputs
//! against are derived from the same types with [`schemars`].
//!
//! # A complete pack
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! orch-sdk = "0.1"
//! serde = { version = "1", features = ["derive"] }
//! schemars = "1"
//! ```
//!
//! `src/lib.rs`:
//!
//! ```
//! use orch_sdk::{Action, ActionError, Context, DestinationKind, Pack, PackDef};
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//!
//! /// Input of `greet`.
//! #[derive(Deserialize, JsonSchema)]
//! struct GreetInput {
//!     /// Who to greet.
//!     name: String,
//!     /// How many exclamation marks.
//!     #[serde(default)]
//!     emphasis: u8,
//! }
//!
//! /// Output of `greet`.
//! #[derive(Serialize, JsonSchema)]
//! struct GreetOutput {
//!     greeting: String,
//! }
//!
//! fn greet(input: GreetInput, ctx: &Context) -> Result<GreetOutput, ActionError> {
//!     if input.name.is_empty() {
//!         return Err(ActionError::invalid_input("name is empty; pass a name to greet"));
//!     }
//!     ctx.info("greeting");
//!     let bangs = "!".repeat(usize::from(input.emphasis));
//!     Ok(GreetOutput { greeting: format!("hello, {}{bangs}", input.name) })
//! }
//!
//! /// `pub`: a native build exports nothing, and a private pack type would be dead code there.
//! pub struct Hello;
//!
//! impl Pack for Hello {
//!     fn define() -> PackDef {
//!         PackDef::new("hello", env!("CARGO_PKG_VERSION"))
//!             .vendor("Acme Networks")
//!             .description("Greets people; an example pack.")
//!             .destination(DestinationKind::Http, "api.example.com:443", "to look up names")
//!             .action(Action::new("greet", "Greet someone by name.", greet))
//!     }
//! }
//!
//! orch_sdk::export_pack!(Hello);
//!
//! // Packs are tested natively: `Context::for_tests` keeps log lines in memory.
//! let ctx = Context::for_tests();
//! let out = Hello::define().call("greet", r#"{"name":"ops","emphasis":2}"#, &ctx);
//! assert_eq!(out.unwrap(), r#"{"greeting":"hello, ops!!"}"#);
//! assert_eq!(ctx.logs().len(), 1);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release`; the component is
//! `target/wasm32-wasip2/release/<lib name>.wasm`. Keep the default `panic = "abort"` for wasm32.
//!
//! # Testing natively
//!
//! Add `"rlib"` to the crate types and call [`PackDef::call`] (or the handler functions directly)
//! with a [`Context::for_tests`] in ordinary `#[test]`s: a native build does not export the
//! component's functions, and its log lines are kept in memory instead of calling the host.
//! Only the free functions of [`log`] need a host.
//!
//! # Reaching the network
//!
//! [`http`] sends HTTP requests and [`ssh`] opens SSH sessions (exec, interactive shells, SFTP),
//! both through the host: only to destinations the operator granted, with credentials the pack
//! names but never sees. Declare the destinations with [`PackDef::destination`] so the operator
//! is asked at install.
//!
//! # Reading the catalog
//!
//! [`catalog`] reads inventory devices (address, port, platform, credential name, tags, vars)
//! and reads and writes versioned records such as configurations, within the collections the
//! operator granted (`catalog:inventory`, `catalog:configs`) and the byte budgets the operator
//! set (a write past them fails with `quota_exceeded`).
//!
//! # Errors
//!
//! A handler returns [`ActionError`] with a snake_case code that workflows branch on. The SDK
//! itself answers `invalid_input` when the input does not deserialise, `unknown_action` when the
//! host asks for an action the pack does not have, and `invalid_output` when the output does not
//! serialise. A capability's [`HostError`] converts with `?` into an `ActionError` with the same
//! code (`denied`, `timeout`, `host_key`, `quota_exceeded`, …). A panic aborts the instance: the host records a
//! trap, so return errors instead.

#![deny(missing_docs)]

// The generated bindings reach the runtime and their own module through `orch_sdk::__private`: a
// path that must resolve both here and in the pack crates that expand `export_pack!`.
extern crate self as orch_sdk;

mod action;
pub mod catalog;
mod context;
mod error;
mod host_error;
pub mod http;
mod imports;
pub mod log;
mod pack;
pub mod rules;
pub mod ssh;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

#[doc(hidden)]
#[path = "abi.rs"]
pub mod __private;

pub use action::Action;
pub use context::{Context, LogRecord};
pub use error::ActionError;
pub use host_error::{ErrorCode, HostError};
pub use pack::{DefinitionError, Destination, DestinationKind, Pack, PackDef};

/// The `schemars` this SDK derives schemas with: a pack's types must implement this version's
/// `JsonSchema`.
pub use schemars;
/// The `serde_json` this SDK uses for inputs, outputs, log fields and error details.
pub use serde_json;

/// Exports a type implementing [`Pack`] as the component's `handler` interface.
///
/// Invoke it once, at the top level of the pack's library crate. Only a `wasm32` build exports
/// anything: the export symbols are not valid names for a native linker, and native builds exist
/// to run tests.
///
/// ```
/// use orch_sdk::{Pack, PackDef};
///
/// pub struct MyPack;
///
/// impl Pack for MyPack {
///     fn define() -> PackDef {
///         PackDef::new("my-pack", "0.1.0")
///     }
/// }
///
/// orch_sdk::export_pack!(MyPack);
/// # fn main() {}
/// ```
// rustfmt cannot parse `with_types_in` and mis-indents the export line: format this one by hand.
#[rustfmt::skip]
#[macro_export]
macro_rules! export_pack {
    ($pack:ty) => {
        const _: () = {
            // Only a WebAssembly build exports it: the export symbols (`orch:pack/handler@...`)
            // are not valid in a native linker's version script, and native builds are for tests.
            // The trait impl is still compiled natively, so a doctest or `cargo check` catches
            // a mismatch with the bindings.
            #[cfg_attr(
                not(target_arch = "wasm32"),
                expect(dead_code, reason = "exported only on wasm32")
            )]
            struct __OrchPackExport;

            impl $crate::__private::exports::orch::pack::handler::Guest for __OrchPackExport {
                fn describe() -> $crate::__private::exports::orch::pack::handler::PackInfo {
                    $crate::__private::describe::<$pack>()
                }

                fn invoke(
                    action: ::std::string::String,
                    input: ::std::string::String,
                    context: $crate::__private::exports::orch::pack::handler::CallContext,
                ) -> ::std::result::Result<
                    ::std::string::String,
                    $crate::__private::exports::orch::pack::handler::ActionError,
                > {
                    $crate::__private::invoke::<$pack>(action, input, context)
                }
            }

            #[cfg(target_arch = "wasm32")]
            $crate::__private::export!(__OrchPackExport with_types_in $crate::__private);
        };
    };
}
