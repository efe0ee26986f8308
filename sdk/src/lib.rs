//! Write [orch](https://example.invalid/orch) automation packs in Rust.
//!
//! A pack is a WebAssembly component built against the WIT world `orch:pack/pack` (this crate's
//! `wit/`). This crate hides the bindings: a pack author writes plain functions over serde
//! types, lists them in a [`PackDef`], and exports the pack with [`export_pack!`]. Each
//! handler's input is deserialised from the call's JSON; its output is serialised back; the
//! JSON Schemas the host validates inputs against are derived from the same types with
//! [`schemars`].
//!
//! # From an empty directory to an installed pack
//!
//! **1. The crate.** Packs are built for `wasm32-wasip2`, which rustup adds once (Rust 1.85 or
//! newer):
//!
//! ```sh
//! rustup target add wasm32-wasip2
//! cargo new --lib hello && cd hello
//! ```
//!
//! **2. `Cargo.toml`.** `cdylib` is the component, `rlib` lets `cargo test` run the actions
//! natively. The release profile is the one orch builds its own packs with: it makes a small
//! pack about 220 KB, and `packs/text` (which carries `regex` and `similar`) 1.3 MB.
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib", "rlib"]
//!
//! [dependencies]
//! orch-sdk = { path = "../orch/sdk" }   # or { git = "https://example.invalid/orch" }
//! serde = { version = "1", features = ["derive"] }
//! schemars = "1"
//!
//! # Components are shipped and loaded per call: optimise for size.
//! [profile.release]
//! opt-level = "s"
//! lto = true
//! codegen-units = 1
//! strip = true
//! debug = false
//! ```
//!
//! (`serde` and `schemars` may be left out: derive through this crate's re-exports with
//! `#[serde(crate = "orch_sdk::serde")]` and `#[schemars(crate = "orch_sdk::schemars")]`.)
//!
//! **3. The actions**, in `src/lib.rs`: plain functions from an input type to a result, listed in
//! the pack's definition with the destinations the pack asks the operator for.
//!
//! **4. Native tests**, in the same file under `#[cfg(test)] mod tests` with `#[test]` on each:
//! [`PackDef::call`] runs an action as the host would, [`testing::TestHost`] answers its
//! capability calls with scripted replies and records what it sent, and [`PackDef::validate`]
//! applies the checks `orch pack add` makes.
//!
//! ```
//! use orch_sdk::http::Request;
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
//! /// Input of `lookup`.
//! #[derive(Deserialize, JsonSchema)]
//! struct LookupInput {
//!     /// The user's login.
//!     login: String,
//! }
//!
//! /// Asks the directory API for a user's display name; the host injects credential `directory`.
//! fn lookup(input: LookupInput, _ctx: &Context) -> Result<String, ActionError> {
//!     let user: serde_json::Value =
//!         Request::get(format!("https://api.example.com/v1/users/{}", input.login))
//!             .credential("directory")
//!             .send()?              // fails only when no answer came (denied, timeout, …)
//!             .error_for_status()?  // 404 → http_status, 503 → unavailable (retryable), …
//!             .json()?;
//!     Ok(user["display_name"].as_str().unwrap_or_default().to_owned())
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
//!             .action(Action::new("lookup", "Look up a user's display name.", lookup))
//!     }
//! }
//!
//! orch_sdk::export_pack!(Hello);
//!
//! // The tests (each a `#[test]` in the pack's `mod tests`).
//! use orch_sdk::testing::TestHost;
//! use serde_json::json;
//!
//! fn definition_passes_pack_add_checks() {
//!     assert_eq!(Hello::define().validate(), Ok(()));
//! }
//!
//! fn greet_adds_emphasis() {
//!     let ctx = Context::for_tests();
//!     let out = Hello::define().call("greet", r#"{"name":"ops","emphasis":2}"#, &ctx);
//!     assert_eq!(out.unwrap(), r#"{"greeting":"hello, ops!!"}"#);
//!     assert_eq!(ctx.logs()[0].message, "greeting");
//! }
//!
//! fn lookup_asks_the_directory_with_its_credential() {
//!     let host = TestHost::new();
//!     host.http()
//!         .on("GET", "https://api.example.com/v1/users/ada")
//!         .reply(200, json!({ "display_name": "Ada Lovelace" }));
//!     host.http()
//!         .on("GET", "https://api.example.com/v1/users/nobody")
//!         .reply(404, json!({ "error": "no such user" }));
//!
//!     let def = Hello::define();
//!     let out = def.call("lookup", r#"{"login":"ada"}"#, &host.context());
//!     assert_eq!(out.unwrap(), r#""Ada Lovelace""#);
//!     let missing = def.call("lookup", r#"{"login":"nobody"}"#, &host.context()).unwrap_err();
//!     assert_eq!((missing.code(), missing.is_retryable()), ("http_status", false));
//!
//!     let sent = host.http().requests();
//!     assert_eq!(sent[0].credential(), Some("directory"));
//! }
//! # definition_passes_pack_add_checks();
//! # greet_adds_emphasis();
//! # lookup_asks_the_directory_with_its_credential();
//! ```
//!
//! **5. Build** the component:
//!
//! ```sh
//! cargo test
//! cargo build --target wasm32-wasip2 --release
//! ls -l target/wasm32-wasip2/release/hello.wasm
//! ```
//!
//! Keep the default `panic = "abort"` for wasm32: a panic ends the instance and the host records
//! a trap, so return errors instead.
//!
//! **6. Check and install** it with the `orch` binary: `orch pack check` runs the checks of
//! `pack add` (the component's world and contract version, `describe`, names, version,
//! schemas, destinations) without installing anything; `orch pack add` installs it and asks the
//! operator to grant its destinations.
//!
//! ```sh
//! orch pack check target/wasm32-wasip2/release/hello.wasm
//! orch pack add target/wasm32-wasip2/release/hello.wasm
//! orch pack grant hello http:https://api.example.com:443
//! orch action run hello.greet --input '{"name": "ops"}'
//! ```
//!
//! # Schemas
//!
//! An action's input and output schemas (JSON Schema draft 2020-12) are derived from its types
//! by [`schemars`], following their serde attributes, and the host checks every input against
//! them before the pack runs:
//!
//! - doc comments become `description`s (shown by `orch pack show` and in the console's forms);
//! - `#[serde(default)]` (or an `Option`) makes a field optional, otherwise it is `required`;
//! - `#[serde(deny_unknown_fields)]` gives `additionalProperties: false`; `rename`,
//!   `rename_all`, `tag` and `flatten` shape the schema as they shape the JSON;
//! - `#[schemars(...)]` adds what serde cannot say: `range(min, max)`, `length(min, max)`,
//!   `regex(pattern = ...)`, `title = ...`, `example = ...`, `extend("key" = value)`.
//!
//! A pack without its own `schemars` dependency derives through this crate's re-export with
//! `#[schemars(crate = "orch_sdk::schemars")]` (and `#[serde(crate = "orch_sdk::serde")]`):
//!
//! ```
//! use orch_sdk::schemars::JsonSchema;
//! use orch_sdk::serde::Deserialize;
//! use orch_sdk::{Action, ActionError, Context};
//!
//! /// Input of `backup`.
//! #[derive(Deserialize, JsonSchema)]
//! #[serde(crate = "orch_sdk::serde", deny_unknown_fields)]
//! #[schemars(crate = "orch_sdk::schemars")]
//! struct BackupInput {
//!     /// Inventory name of the device.
//!     #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9_.-]+$"))]
//!     device: String,
//!     /// Versions to keep.
//!     #[serde(default = "default_keep")]
//!     #[schemars(range(min = 1, max = 100))]
//!     keep: u32,
//! }
//!
//! fn default_keep() -> u32 { 10 }
//!
//! fn backup(input: BackupInput, _ctx: &Context) -> Result<u32, ActionError> {
//!     Ok(input.keep)
//! }
//!
//! let schema = Action::new("backup", "Back up a device.", backup).input_schema().to_value();
//! assert_eq!(schema["description"], "Input of `backup`.");
//! assert_eq!(schema["required"], serde_json::json!(["device"]));
//! assert_eq!(schema["additionalProperties"], false);
//! assert_eq!(schema["properties"]["device"]["description"], "Inventory name of the device.");
//! assert_eq!(schema["properties"]["device"]["maxLength"], 64);
//! assert_eq!(schema["properties"]["device"]["pattern"], "^[A-Za-z0-9_.-]+$");
//! assert_eq!(schema["properties"]["keep"]["maximum"], 100);
//! assert_eq!(schema["properties"]["keep"]["default"], 10);
//! ```
//!
//! # Testing natively
//!
//! A native build (`cargo test`) exports nothing and has no host. [`Context::for_tests`] keeps a
//! handler's log lines in memory; [`testing::TestHost`] answers [`http`], [`ssh`] (exec,
//! shells, SFTP), [`catalog`] and the free [`log`] functions from scripts and records what the
//! action sent. Without a `TestHost`, a capability call fails with an `invalid` [`HostError`]
//! saying so, rather than aborting the test binary.
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
//! code (`denied`, `timeout`, `host_key`, `quota_exceeded`, …), retryable for `timeout` and
//! `unreachable`; [`http::Response::error_for_status`] turns HTTP statuses into codes (see
//! [`http`] for how a workflow's `retry:` treats each). A panic aborts the instance: the host
//! records a trap, so return errors instead.

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
/// `JsonSchema`. A pack may derive through it (`#[schemars(crate = "orch_sdk::schemars")]`)
/// instead of depending on `schemars` itself.
pub use schemars;
/// The `serde` this SDK deserialises inputs and serialises outputs with: a pack may derive
/// through it (`#[serde(crate = "orch_sdk::serde")]`) instead of depending on `serde` itself.
pub use serde;
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
