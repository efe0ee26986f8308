//! A vendor's path from an empty directory, as the README tells it: `orch pack new` on a copy of
//! `sdk/` outside the repository, the scaffold's native tests (an http and an ssh action with
//! scripted replies), the wasm32 build with the documented profile, `orch pack check`, then
//! `orch pack add` and a call of the pack's computing action.
//!
//! Cargo runs here with its own target directory, shared with `scripts/check-sdk-standalone`
//! (`<target>/sdk-standalone`): the dependencies compile once per machine, not per run.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{TestHost, workspace};

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace().join("target"), PathBuf::from)
        .join("sdk-standalone")
}

fn cargo(dir: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("running cargo");
    assert!(
        out.status.success(),
        "cargo {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

#[test]
fn a_vendor_scaffolds_tests_builds_checks_and_adds_a_pack_outside_the_repository() {
    let host = TestHost::new();
    let outside = tempfile::tempdir().expect("temp dir");
    let sdk = outside.path().join("orch-sdk");
    copy_dir(&workspace().join("sdk"), &sdk);
    let dir = outside.path().join("acme-demo");
    let created = host
        .orch(&[
            "pack",
            "new",
            "acme-demo",
            "--dir",
            dir.to_str().expect("utf-8"),
            "--sdk",
            sdk.to_str().expect("utf-8"),
        ])
        .ok()
        .to_owned();
    assert!(created.contains("created pack acme-demo"), "{created}");
    assert!(
        created.contains("orch pack check"),
        "the next steps: {created}"
    );
    // The workspace's lock: the same dependency versions this repository tests, and a warm
    // shared target directory.
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).expect("lock");

    cargo(&dir, &["test", "--quiet"]);
    cargo(
        &dir,
        &["build", "--quiet", "--target", "wasm32-wasip2", "--release"],
    );
    let wasm = target_dir().join("wasm32-wasip2/release/acme_demo.wasm");
    let size = std::fs::metadata(&wasm).expect("the component").len();
    assert!(
        size < 512 << 10,
        "the documented profile gives a small component: {size} bytes"
    );
    let wasm = wasm.to_str().expect("utf-8");

    let check = host.orch(&["pack", "check", wasm]).ok().to_owned();
    assert!(check.contains("acme-demo 0.1.0"), "{check}");
    assert!(
        check.contains("examples: 1 run, 1 returned an output matching its schema"),
        "{check}"
    );
    assert!(check.contains("ok: 0 error(s)"), "{check}");

    host.orch(&["pack", "add", wasm, "--yes"]).ok();
    let out = host
        .orch(&[
            "action",
            "run",
            "acme-demo.summarize",
            "--json",
            "--input",
            r#"{"text":"a\nbcd"}"#,
        ])
        .output();
    assert_eq!(out["lines"], 2);
    assert_eq!(out["longest"], "bcd");

    // A second scaffold into a directory that is not empty is refused, and so is a bad name.
    let err = host
        .orch(&[
            "pack",
            "new",
            "acme-demo",
            "--dir",
            dir.to_str().expect("utf-8"),
        ])
        .fails_with(2)
        .to_owned();
    assert!(err.contains("not empty"), "{err}");
    let err = host
        .orch(&["pack", "new", "Acme!"])
        .fails_with(2)
        .to_owned();
    assert!(err.contains("cannot name a pack"), "{err}");
}
