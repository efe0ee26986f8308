//! The one `bindgen!` of the crate: Rust types and traits generated from `wit/`.
//!
//! Every export is async because invocations run on the tokio runtime with epoch-based
//! yielding; imports are async so capabilities (http, ssh) can do I/O without blocking a worker.

wasmtime::component::bindgen!({
    world: "pack",
    path: "../wit",
    imports: { default: async },
    exports: { default: async },
    // SSH sessions and shells are host objects the guest holds handles to; they live in the
    // ssh capability's resource table and are closed when the invocation's store is dropped.
    with: {
        "orch:pack/ssh.session": crate::capabilities::ssh::Session,
        "orch:pack/ssh.shell": crate::capabilities::ssh::Shell,
    },
});

pub use self::exports::orch::pack::handler::{ActionError, CallContext, PackInfo};
// `self::` because the crate is also called `orch`: rustdoc sees both and refuses to guess.
pub use self::orch::pack::log::Level as LogLevel;
pub use self::orch::pack::types::{ErrorCode, HostError};

/// The exported interface every pack must provide, with the contract version this host speaks.
pub const HANDLER_INTERFACE: &str = "orch:pack/handler@0.1.0";
/// The WIT package and version of the contract.
pub const CONTRACT: &str = "orch:pack@0.1.0";
