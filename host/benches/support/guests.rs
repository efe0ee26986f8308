//! Shared by the benchmarks: where `scripts/build-packs` put the guest components, and the
//! target directory (criterion writes its estimates there).

use std::path::PathBuf;

/// The cargo target directory (`CARGO_TARGET_DIR`, else the workspace's `target/`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// The built guest `name` (e.g. `misbehave`); panics with the fix when it is missing.
pub fn guest(name: &str) -> PathBuf {
    let path = target_dir()
        .join("wasm32-wasip2/guest")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run scripts/build-packs first",
        path.display()
    );
    path
}

/// The built Python or JavaScript guest `name` (`pyexample`, `jsexample`), if
/// `scripts/build-python-packs` or `scripts/build-js-packs` built it (they need the toolchains
/// `scripts/setup` installs).
#[allow(
    dead_code,
    reason = "only the invoke bench runs Python and JavaScript packs"
)]
pub fn built_guest(name: &str) -> Option<PathBuf> {
    let path = target_dir()
        .join("wasm32-wasip2/guest")
        .join(format!("{name}.wasm"));
    path.exists().then_some(path)
}
