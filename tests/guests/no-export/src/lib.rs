//! Test guest `no-export`: an SDK pack whose author forgot `orch_sdk::export_pack!`. It compiles
//! (nothing refers to the pack) and its component exports nothing, so the host's tests can check
//! that `pack add` and `pack check` name the macro as the fix.

use orch_sdk::{Pack, PackDef};

/// The pack, never exported.
pub struct Forgotten;

impl Pack for Forgotten {
    fn define() -> PackDef {
        PackDef::new("forgotten", "0.1.0")
    }
}
