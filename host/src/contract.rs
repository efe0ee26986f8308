//! The contract `orch:pack@0.1.0` on the host's side: the one `bindgen!` of the crate, Rust
//! types and traits generated from `wit/`.
//!
//! A leaf: it names nothing else of the crate, so the runtime, every capability, the packs'
//! manifests and the CLI can use its types without depending on each other through it. The
//! resources a pack holds handles to (`ssh.session`, `ssh.shell`) are the generated marker
//! types; the ssh capability keeps its host objects in its own table under the same handles.
//!
//! Every export is async because invocations run on the tokio runtime with epoch-based
//! yielding; imports are async so capabilities (http, ssh) can do I/O without blocking a worker.

wasmtime::component::bindgen!({
    world: "pack",
    path: "../wit",
    imports: { default: async },
    exports: { default: async },
});

pub use self::exports::orch::pack::handler::{ActionError, CallContext, PackInfo};
// `self::` because the crate is also called `orch`: rustdoc sees both and refuses to guess.
pub use self::orch::pack::log::Level as LogLevel;
pub use self::orch::pack::types::{ErrorCode, HostError};

/// The exported interface every pack must provide, with the contract version this host speaks.
pub const HANDLER_INTERFACE: &str = "orch:pack/handler@0.1.0";
/// The WIT package and version of the contract.
pub const CONTRACT: &str = "orch:pack@0.1.0";
