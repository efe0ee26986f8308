//! `orch pack check FILE`: our reference packs pass it; a pack whose example returns what its
//! output schema forbids fails it naming the path; a component without `export_pack!` and a
//! file that is not a component fail it with the fix; and it needs no orch home.

use serde_json::Value;

use crate::harness::{Run, TestHost, guest};

/// `orch pack check --json` of the guest `name`, with an `ORCH_HOME` that does not exist.
fn check(host: &TestHost, name: &str) -> (Run, Value) {
    let absent = host.home().join("absent");
    let file = guest(name);
    let run = host.orch_env_stdin(
        &["pack", "check", file.to_str().expect("utf-8"), "--json"],
        &[("ORCH_HOME", absent.to_str().expect("utf-8"))],
        "",
    );
    assert!(!absent.exists(), "pack check created a home");
    let report =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {run:#?}"));
    (run, report)
}

fn findings<'a>(report: &'a Value, severity: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == severity)
        .collect()
}

#[test]
fn the_reference_packs_pass_pack_check() {
    let host = TestHost::new();
    for name in ["text", "servicenow", "netdev", "golden"] {
        let (run, report) = check(&host, name);
        assert_eq!(run.code, 0, "{name}: {:#}", report["findings"]);
        assert!(findings(&report, "error").is_empty(), "{name}: {report:#}");
        assert_eq!(report["pack"]["name"], name);
        assert!(report["size"].as_u64().unwrap_or(0) > 10_000, "{report}");
    }
}

#[test]
fn an_example_whose_output_breaks_its_schema_fails_pack_check_naming_the_path() {
    let host = TestHost::new();
    let (run, report) = check(&host, "misbehave");
    assert_eq!(run.code, 1, "{report:#}");
    let errors = findings(&report, "error");
    assert_eq!(errors.len(), 1, "only `lie` is wrong: {errors:#?}");
    assert_eq!(errors[0]["subject"], "action lie, example 1");
    let message = errors[0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("at /name: null is not of type"),
        "{message}"
    );
    // `echo`'s example ran and matched; the actions without examples say so calmly.
    assert_eq!(report["examples_run"], 2, "{report:#}");
    assert_eq!(report["examples_matched"], 1, "{report:#}");
    assert!(
        findings(&report, "note")
            .iter()
            .any(|f| f["subject"] == "action noop"
                && f["message"].as_str().unwrap_or("").contains("no examples")),
        "{report:#}"
    );
    // The text form: most serious first, and a verdict.
    let file = guest("misbehave");
    let text = host.orch(&["pack", "check", file.to_str().expect("utf-8")]);
    assert_eq!(text.code, 1);
    assert!(
        text.stdout.contains("misbehave 0.1.0 by orch"),
        "{}",
        text.stdout
    );
    let first = text
        .stdout
        .lines()
        .find(|l| l.starts_with("error:") || l.starts_with("warning:") || l.starts_with("note:"))
        .unwrap_or("");
    assert!(first.starts_with("error: action lie"), "{}", text.stdout);
    assert!(
        text.stdout.contains("FAILED: 1 error(s)"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_pack_without_export_pack_or_a_file_that_is_no_component_fails_with_the_fix() {
    let host = TestHost::new();
    let (run, report) = check(&host, "no_export");
    assert_eq!(run.code, 1);
    let errors = findings(&report, "error");
    let message = errors[0]["message"].as_str().unwrap_or("");
    assert!(message.contains("exports: nothing"), "{message}");
    assert!(message.contains("orch_sdk::export_pack!"), "{message}");
    // `pack add` says the same.
    let file = guest("no_export");
    let err = host
        .orch(&["pack", "add", file.to_str().expect("utf-8")])
        .fails_with(2)
        .to_owned();
    assert!(err.contains("orch_sdk::export_pack!"), "{err}");

    let not_wasm = host.home().join("notes.wasm");
    std::fs::write(&not_wasm, "not a component").expect("write");
    let run = host.orch(&["pack", "check", not_wasm.to_str().expect("utf-8")]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stdout.contains("error: file:"), "{}", run.stdout);
    let missing = host.orch(&["pack", "check", "/nonexistent/x.wasm"]);
    assert!(
        missing
            .stderr
            .contains("cannot read pack file /nonexistent/x.wasm"),
        "{missing:#?}"
    );
}
