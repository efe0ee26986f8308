//! `orch pack add|list|show|remove`, and every kind of file that is not a pack.

use crate::harness::{TestHost, guest};

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn adds_lists_shows_and_removes_the_text_pack() {
    let host = TestHost::new();
    let text = guest("text");
    let out = host.orch(&["pack", "add", path(&text)]).ok().to_owned();
    assert!(out.contains("installed pack text"), "{out}");
    assert!(out.contains("diff"), "{out}");
    assert!(
        out.contains("orch:pack/types@0.1.0"),
        "imports are shown: {out}"
    );

    let list = host.orch(&["pack", "list", "--json"]).json();
    let packs = list.as_array().expect("array");
    assert_eq!(packs.len(), 1);
    assert_eq!(packs[0]["name"], "text");
    assert_eq!(packs[0]["digest"].as_str().map(str::len), Some(64));
    let actions: Vec<&str> = packs[0]["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    for expected in ["diff", "normalize", "extract"] {
        assert!(actions.contains(&expected), "{actions:?}");
    }

    let show = host.orch(&["pack", "show", "text", "--json"]).json();
    assert_eq!(show["vendor"], "orch");
    assert!(show["actions"][0]["input_schema"].is_object());
    let human = host.orch(&["pack", "show", "text"]).ok().to_owned();
    assert!(human.contains("input:"), "{human}");

    let out = host.orch(&["pack", "remove", "text"]).ok().to_owned();
    assert!(out.contains("removed pack text"), "{out}");
    assert_eq!(
        host.orch(&["pack", "list", "--json"]).json(),
        serde_json::json!([])
    );
    let err = host
        .orch(&["pack", "show", "text"])
        .fails_with(2)
        .to_owned();
    assert!(err.contains("no pack named \"text\" is installed"), "{err}");
    // Removing deletes the stored file and the compiled artifact too.
    let leftovers: Vec<_> = ["packs", "cache"]
        .iter()
        .flat_map(|d| std::fs::read_dir(host.home().join(d)).expect("dir"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn adding_the_same_file_twice_is_a_no_op_that_says_so() {
    let host = TestHost::new();
    let text = guest("text");
    host.orch(&["pack", "add", path(&text)]).ok();
    let again = host.orch(&["pack", "add", path(&text)]).ok().to_owned();
    assert!(
        again.contains("already installed with this content"),
        "{again}"
    );
    assert!(again.contains("nothing to do"), "{again}");
}

#[test]
fn adding_a_new_version_upgrades_and_says_so() {
    let host = TestHost::new();
    // `misbehave_v2` is the misbehave guest built from the same source at version 0.2.0.
    let v1 = guest("misbehave");
    host.orch(&["pack", "add", path(&v1)]).ok();
    let v2 = guest("misbehave_v2");
    let out = host.orch(&["pack", "add", path(&v2)]).ok().to_owned();
    assert!(
        out.contains("upgraded pack misbehave from 0.1.0 to 0.2.0"),
        "{out}"
    );
    let list = host.orch(&["pack", "list", "--json"]).json();
    assert_eq!(list[0]["version"], "0.2.0");
    // The old version's files are gone: one stored pack file remains.
    assert_eq!(
        std::fs::read_dir(host.home().join("packs"))
            .expect("dir")
            .count(),
        1
    );
}

#[test]
fn refuses_a_file_that_is_not_wasm() {
    let host = TestHost::new();
    let file = host.home().join("notes.wasm");
    std::fs::write(&file, "these are not the bytes you are looking for").expect("write");
    let err = host
        .orch(&["pack", "add", path(&file)])
        .fails_with(2)
        .to_owned();
    assert!(err.contains("not a WebAssembly file"), "{err}");
}

#[test]
fn refuses_a_missing_file_naming_it() {
    let host = TestHost::new();
    let err = host
        .orch(&["pack", "add", "/nonexistent/pack.wasm"])
        .fails_with(2)
        .to_owned();
    assert!(
        err.contains("cannot read pack file /nonexistent/pack.wasm"),
        "{err}"
    );
    assert!(err.contains("give the path of a built .wasm"), "{err}");
}

#[test]
fn refuses_a_core_module() {
    let host = TestHost::new();
    let file = host.home().join("core.wasm");
    std::fs::write(
        &file,
        wat::parse_str("(module (func (export \"run\")))").expect("wat"),
    )
    .expect("write");
    let err = host
        .orch(&["pack", "add", path(&file)])
        .fails_with(2)
        .to_owned();
    assert!(
        err.contains("core WebAssembly module, not a component"),
        "{err}"
    );
}

#[test]
fn refuses_a_component_of_another_world() {
    let host = TestHost::new();
    let err = host
        .orch(&["pack", "add", path(&guest("other_world"))])
        .fails_with(2)
        .to_owned();
    assert!(
        err.contains("does not export `orch:pack/handler@0.1.0`"),
        "{err}"
    );
    assert!(err.contains("not an orch pack"), "{err}");
}

#[test]
fn refuses_a_component_built_against_an_incompatible_contract() {
    let host = TestHost::new();
    let err = host
        .orch(&["pack", "add", path(&guest("future_wit"))])
        .fails_with(2)
        .to_owned();
    assert!(err.contains("orch:pack/handler@2.0.0"), "{err}");
    assert!(err.contains("this host speaks orch:pack@0.1.0"), "{err}");
}

#[test]
fn refuses_a_pack_whose_describe_traps() {
    let host = TestHost::new();
    let err = host
        .orch(&["pack", "add", path(&guest("describe_panics"))])
        .fails_with(2)
        .to_owned();
    assert!(err.contains("describe failed"), "{err}");
    assert!(err.contains("panicked"), "{err}");
    assert_eq!(
        host.orch(&["pack", "list", "--json"]).json(),
        serde_json::json!([])
    );
}

#[test]
fn a_corrupt_or_truncated_cache_entry_is_rebuilt() {
    let host = TestHost::with_packs(&["text"]);
    let input = r#"{"old":"a\n","new":"b\n"}"#;
    let expected = host
        .orch(&["action", "run", "text.diff", "--input", input])
        .json();

    let cache = host.home().join("cache");
    let artifact = std::fs::read_dir(&cache)
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .expect("an artifact");
    let bytes = std::fs::read(&artifact).expect("read artifact");
    // The file's identity is recorded when written: later loads map it without hashing it.
    let identity =
        || -> Option<String> { host.sql("SELECT file_identity FROM compiled_artifacts") };
    let written = identity().expect("an identity recorded at pack add");

    // The same bytes in another file (a copied or restored home): verified by its hash once,
    // loaded, and its new identity recorded.
    let copy = artifact.with_extension("copy");
    std::fs::copy(&artifact, &copy).expect("copy");
    std::fs::rename(&copy, &artifact).expect("rename");
    let run = host.orch(&["-v", "action", "run", "text.diff", "--input", input]);
    assert_eq!(run.json(), expected);
    assert!(!run.stderr.contains("compiling pack"), "{}", run.stderr);
    let verified = identity().expect("identity");
    assert_ne!(
        verified, written,
        "the new file's identity replaced the old one"
    );

    // Truncated.
    std::fs::write(&artifact, &bytes[..bytes.len() / 2]).expect("truncate");
    let run = host.orch(&["-v", "action", "run", "text.diff", "--input", input]);
    assert_eq!(run.json(), expected);
    assert!(
        run.stderr.contains("corrupt or truncated"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read(&artifact).expect("read"),
        bytes,
        "the artifact was rebuilt"
    );

    // Same length, flipped bytes in the middle of the code.
    let mut corrupt = bytes.clone();
    let middle = corrupt.len() / 2;
    for byte in &mut corrupt[middle..middle + 64] {
        *byte ^= 0xff;
    }
    std::fs::write(&artifact, &corrupt).expect("corrupt");
    let run = host.orch(&["-v", "action", "run", "text.diff", "--input", input]);
    assert_eq!(run.json(), expected);
    assert!(
        run.stderr.contains("corrupt or truncated"),
        "{}",
        run.stderr
    );

    // Missing.
    std::fs::remove_file(&artifact).expect("remove");
    assert_eq!(
        host.orch(&["action", "run", "text.diff", "--input", input])
            .json(),
        expected
    );
    assert!(artifact.exists(), "the artifact was written again");
}

#[test]
fn a_cache_entry_from_another_engine_configuration_is_not_loaded() {
    let host = TestHost::with_packs(&["text"]);
    let cache = host.home().join("cache");
    let artifact = std::fs::read_dir(&cache)
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .expect("an artifact");
    // A file planted under another engine's key is never looked at: the key is part of the
    // name, so a foreign artifact simply does not match and the pack still runs.
    let foreign = cache.join("0000-foreign.cwasm");
    std::fs::rename(&artifact, &foreign).expect("rename");
    let run = host.orch(&[
        "-v",
        "action",
        "run",
        "text.diff",
        "--input",
        r#"{"old":"a","new":"a"}"#,
    ]);
    run.ok();
    assert!(run.stderr.contains("compiling pack"), "{}", run.stderr);
}
