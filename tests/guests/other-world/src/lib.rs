//! Test guest `other-world`: a component built with raw wit-bindgen against an unrelated world
//! (`acme:widget/widget`), so the host's tests can check that adding it fails with a clear error.

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "widget" });
}

/// The component's exports. `pub` so a native build (which exports nothing, see below) does not
/// see it as dead code.
pub struct Widget;

impl bindings::Guest for Widget {
    fn run() -> String {
        "not an orch pack".to_owned()
    }
}

// Only a WebAssembly build exports: the export symbols (`run`, `orch:pack/handler@...#describe`)
// are not valid in a native linker's version script, and native builds are only checked.
#[cfg(target_arch = "wasm32")]
bindings::export!(Widget with_types_in bindings);
