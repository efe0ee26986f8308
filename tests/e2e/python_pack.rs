//! Python packs, built with componentize-py: the example pack on the Python SDK passes
//! `orch pack check`, installs and runs; an exception escaping an action reaches the operator
//! with its message and traceback, through the SDK (`unhandled_exception`) and, for a pack
//! written without it, through the host (the panic carries what the guest printed); and
//! `orch pack new --lang python` scaffolds a pack whose tests pass natively and which builds,
//! checks and runs. Python code using the standard wasi:http bindings (no orch code) is
//! brokered under the pack's grants, with the host injecting the credential it names.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::harness::{TestHost, assert_no_leak, componentize_py, python_guest, workspace};
use crate::http_peer::Peer;

const TOKEN: &str = "py-status-token-7c21aa";

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn the_python_example_pack_checks_installs_runs_and_reports_an_exception_with_its_traceback() {
    let host = TestHost::new();
    let wasm = python_guest("pyexample");
    let check = host.orch(&["pack", "check", s(&wasm)]).ok().to_owned();
    assert!(
        check.contains("examples: 1 run, 1 returned an output matching its schema"),
        "{check}"
    );
    host.orch(&["pack", "add", s(&wasm), "--yes"]).ok();
    let out = host
        .orch(&[
            "action",
            "run",
            "pyexample.word_stats",
            "--json",
            "--input",
            r#"{"text":"a b a","top":1}"#,
        ])
        .output();
    assert_eq!(out["words"], 3, "{out}");
    assert_eq!(out["most_common"]["a"], 2, "{out}");

    let run = host.orch(&["action", "run", "pyexample.explode", "--json"]);
    let (code, message) = run.action_error();
    assert_eq!(code, "unhandled_exception", "{message}");
    assert!(message.contains("ValueError"), "{message}");
    assert!(
        message.contains("_parse_threshold"),
        "the traceback: {message}"
    );
}

#[test]
fn python_code_on_the_standard_wasi_http_is_brokered_under_the_packs_grants() {
    let host = TestHost::new();
    host.orch(&["pack", "add", s(&python_guest("pyexample")), "--yes"])
        .ok();
    let peer = Peer::start();
    let other = Peer::start();
    peer.grant_to(&host, "pyexample");
    let set = peer.bearer(&host, "status-api", TOKEN);

    // Granted: the request goes out with the credential the pack named, which it never sees.
    let fetched =
        peer.assert_fetched_with_bearer(&host, "pyexample.fetch_plain", "status-api", TOKEN);

    // Not granted: refused before anything is sent, the grant to give in the action's error.
    let refused = host.orch(&[
        "action",
        "run",
        "pyexample.fetch_plain",
        "--json",
        "--input",
        &json!({ "url": other.url("/") }).to_string(),
    ]);
    let (code, message) = refused.action_error();
    assert_eq!(code, "fetch_failed", "{message}");
    let fix = format!(
        "orch pack grant pyexample http:http://127.0.0.1:{}",
        other.port()
    );
    assert!(message.contains("internal-error: denied"), "{message}");
    assert!(message.contains(&fix), "{message}");
    assert!(other.hits().is_empty());
    assert_no_leak(&host, TOKEN, &[&set, &fetched, &refused]);
}

#[test]
fn an_exception_escaping_a_python_pack_without_the_sdk_shows_its_traceback() {
    let host = TestHost::with_packs(&[]);
    host.orch(&["pack", "add", s(&python_guest("pyraw"))]).ok();
    let err = host
        .orch(&["action", "run", "pyraw.explode"])
        .fails_with(1)
        .to_owned();
    assert!(
        err.contains("ValueError: invalid literal for int() with base 10: 'not a number'"),
        "{err}"
    );
    assert!(err.contains("in _parse"), "the traceback's frames: {err}");
    let run = host.orch(&["action", "run", "pyraw.explode", "--json"]);
    let (code, message) = run.action_error();
    assert_eq!(code, "panic");
    assert!(message.contains("ValueError"), "{message}");
}

#[test]
fn a_python_pack_scaffolded_by_pack_new_tests_builds_checks_and_runs() {
    let host = TestHost::new();
    let outside = tempfile::tempdir().expect("temp dir");
    let dir = outside.path().join("acme-py");
    let created = host
        .orch(&[
            "pack",
            "new",
            "acme-py",
            "--lang",
            "python",
            "--dir",
            s(&dir),
        ])
        .ok()
        .to_owned();
    assert!(
        created.contains("componentize-py"),
        "the next steps: {created}"
    );
    let sdk = workspace().join("sdk/python");
    let tests = Command::new("python3")
        .args(["-m", "unittest"])
        .current_dir(&dir)
        .env("PYTHONPATH", &sdk)
        .output()
        .expect("python3");
    assert!(
        tests.status.success(),
        "the scaffold's tests: {}",
        String::from_utf8_lossy(&tests.stderr)
    );
    let wasm = dir.join("acme-py.wasm");
    let build = Command::new(componentize_py())
        .args([
            "-d",
            s(&workspace().join("sdk/wit")),
            "-w",
            "pack-with-wasi-http",
        ])
        .args([
            "componentize",
            "app",
            "-p",
            ".",
            "-p",
            s(&sdk),
            "-o",
            s(&wasm),
        ])
        .current_dir(&dir)
        .output()
        .expect("componentize-py");
    assert!(
        build.status.success(),
        "componentize-py: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    let check = host.orch(&["pack", "check", s(&wasm)]).ok().to_owned();
    assert!(check.contains("ok: 0 error(s)"), "{check}");
    host.orch(&["pack", "add", s(&wasm), "--yes"]).ok();
    let out = host
        .orch(&[
            "action",
            "run",
            "acme-py.summarize",
            "--json",
            "--input",
            r#"{"text":"a\nbcd"}"#,
        ])
        .output();
    assert_eq!(out["lines"], 2, "{out}");
}
