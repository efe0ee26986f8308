//! JavaScript packs, bundled by esbuild and built by componentize-js (which imports wasi:http
//! by default): the example pack on the JavaScript SDK passes `orch pack check`, installs,
//! runs, reaches a granted server with the standard `fetch` (the credential injected by the
//! host, a refusal's reason in the action's logs), and an `Error` it throws reaches the operator
//! with its message and stack; a pack without the SDK whose `Error` cannot be lowered is
//! explained; and `orch pack new --lang js` scaffolds a pack whose tests pass natively and which
//! builds, checks and runs.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::harness::{TestHost, assert_no_leak, js_guest, pack_node_bin, workspace};
use crate::http_peer::Peer;

const TOKEN: &str = "js-status-token-41d9e2";

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn the_javascript_example_pack_checks_installs_runs_fetches_and_reports_an_error_with_its_stack() {
    let host = TestHost::new();
    let wasm = js_guest("jsexample");
    let check = host.orch(&["pack", "check", s(&wasm)]).ok().to_owned();
    assert!(
        check.contains("examples: 1 run, 1 returned an output matching its schema"),
        "{check}"
    );
    assert!(
        check.contains("imports every interface of the contract"),
        "one calm note for componentize-js's imports: {check}"
    );
    assert!(!check.contains("declares no ssh destination"), "{check}");
    host.orch(&["pack", "add", s(&wasm), "--yes"]).ok();

    let out = host
        .orch(&[
            "action",
            "run",
            "jsexample.word_stats",
            "--json",
            "--input",
            r#"{"text":"the quick fox\nthe lazy dog","top":1}"#,
        ])
        .output();
    assert_eq!(
        out,
        json!({ "words": 6, "lines": 2, "most_common": { "the": 2 } })
    );

    let run = host.orch(&["action", "run", "jsexample.explode", "--json"]);
    let (code, message) = run.action_error();
    assert_eq!(code, "unhandled_exception", "{message}");
    assert!(message.contains("Error: jsexample exploded"), "{message}");
    assert!(message.contains("parseThreshold"), "the stack: {message}");

    // The standard fetch, through wasi:http: granted, the credential injected by the host.
    let peer = Peer::start();
    let other = Peer::start();
    peer.grant_to(&host, "jsexample");
    let set = peer.bearer(&host, "status-api", TOKEN);
    let fetched =
        peer.assert_fetched_with_bearer(&host, "jsexample.fetch_plain", "status-api", TOKEN);

    // Not granted: fetch throws a bare NetworkError; the host's reason is in the logs.
    let refused = host.orch(&[
        "action",
        "run",
        "jsexample.fetch_plain",
        "--json",
        "--input",
        &json!({ "url": other.url("/") }).to_string(),
    ]);
    let (code, message) = refused.action_error();
    assert_eq!(code, "fetch_failed", "{message}");
    let fix = format!(
        "orch pack grant jsexample http:http://127.0.0.1:{}",
        other.port()
    );
    assert!(
        refused.stderr.contains(&fix) || refused.stdout.contains(&fix),
        "the refusal and its fix reach the operator: {refused:#?}"
    );
    assert!(other.hits().is_empty());
    // The SDK's own http names the grant in the error itself.
    let denied = host.orch(&[
        "action",
        "run",
        "jsexample.fetch_status",
        "--json",
        "--input",
        &json!({ "device": "r1", "api": other.url("") }).to_string(),
    ]);
    let (code, message) = denied.action_error();
    assert_eq!(code, "denied", "{message}");
    assert!(message.contains(&fix), "{message}");
    assert_no_leak(&host, TOKEN, &[&set, &fetched, &refused]);
}

#[test]
fn an_error_escaping_a_javascript_pack_without_the_sdk_is_explained() {
    let host = TestHost::new();
    host.orch(&["pack", "add", s(&js_guest("jsraw"))]).ok();
    let err = host
        .orch(&[
            "action",
            "run",
            "jsraw.explode",
            "--input",
            r#"{"text":"x"}"#,
        ])
        .fails_with(1)
        .to_owned();
    assert!(err.contains("trapped"), "{err}");
    assert!(
        err.contains("a plain Error traps"),
        "the explanation: {err}"
    );
    assert!(err.contains("orch-sdk for JavaScript"), "the fix: {err}");
    assert!(!err.contains("/sources/"), "build paths are dropped: {err}");
}

#[test]
fn a_javascript_pack_scaffolded_by_pack_new_tests_builds_checks_and_runs() {
    let host = TestHost::new();
    let outside = tempfile::tempdir().expect("temp dir");
    let dir = outside.path().join("acme-js");
    let created = host
        .orch(&["pack", "new", "acme-js", "--lang", "js", "--dir", s(&dir)])
        .ok()
        .to_owned();
    assert!(
        created.contains("npm run build"),
        "the next steps: {created}"
    );
    // What `npm install` would do, offline: the SDK linked, the pinned tools of scripts/setup.
    let modules = dir.join("node_modules");
    std::fs::create_dir_all(&modules).expect("node_modules");
    std::os::unix::fs::symlink(workspace().join("sdk/js"), modules.join("orch-sdk"))
        .expect("link the SDK");
    std::os::unix::fs::symlink(pack_node_bin(), modules.join(".bin")).expect("link the tools");
    let tests = Command::new("node")
        .arg("--test")
        .current_dir(&dir)
        .output()
        .expect("node");
    assert!(
        tests.status.success(),
        "the scaffold's tests: {}{}",
        String::from_utf8_lossy(&tests.stdout),
        String::from_utf8_lossy(&tests.stderr)
    );
    let build = Command::new("npm")
        .args(["run", "build", "--silent"])
        .current_dir(&dir)
        .output()
        .expect("npm");
    assert!(
        build.status.success(),
        "npm run build: {}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );
    let wasm = dir.join("acme-js.wasm");
    let check = host.orch(&["pack", "check", s(&wasm)]).ok().to_owned();
    assert!(check.contains("ok: 0 error(s)"), "{check}");
    host.orch(&["pack", "add", s(&wasm), "--yes"]).ok();
    let out = host
        .orch(&[
            "action",
            "run",
            "acme-js.summarize",
            "--json",
            "--input",
            r#"{"text":"a\nbcd"}"#,
        ])
        .output();
    assert_eq!(out, json!({ "lines": 2, "longest": "bcd" }));
}
