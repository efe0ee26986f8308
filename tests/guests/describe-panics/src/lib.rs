//! Test guest `describe-panics`: an SDK pack whose `define` panics, so `describe` (and every
//! `invoke`) traps. The host must refuse to add it with a clear error, not crash.

use orch_sdk::{Pack, PackDef};

/// The pack (`pub` so a native build, which exports nothing, keeps it live).
pub struct DescribePanics;

impl Pack for DescribePanics {
    fn define() -> PackDef {
        panic!("describe-panics panicked in define on purpose")
    }
}

orch_sdk::export_pack!(DescribePanics);
