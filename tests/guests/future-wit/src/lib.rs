//! Test guest `future-wit`: a pack built with raw wit-bindgen against a copy of the contract whose
//! package version is `orch:pack@2.0.0`, so the host's tests can check that a pack for an
//! incompatible contract version is refused with a clear error. Its functions are trivial.

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "pack" });
}

use bindings::exports::orch::pack::handler::{ActionError, CallContext, Guest, PackInfo};

/// The component's exports. `pub` so a native build (which exports nothing, see below) does not
/// see it as dead code.
pub struct FutureWit;

impl Guest for FutureWit {
    fn describe() -> PackInfo {
        PackInfo {
            name: "future".to_owned(),
            version: "2.0.0".to_owned(),
            vendor: "orch".to_owned(),
            description: "A pack built for contract orch:pack@2.0.0.".to_owned(),
            actions: Vec::new(),
            destinations: Vec::new(),
        }
    }

    fn invoke(
        action: String,
        _input: String,
        _context: CallContext,
    ) -> Result<String, ActionError> {
        Err(ActionError {
            code: "unknown_action".to_owned(),
            message: format!("pack \"future\" has no action \"{action}\""),
            retryable: false,
            details: None,
        })
    }
}

// Only a WebAssembly build exports: the export symbols (`run`, `orch:pack/handler@...#describe`)
// are not valid in a native linker's version script, and native builds are only checked.
#[cfg(target_arch = "wasm32")]
bindings::export!(FutureWit with_types_in bindings);
