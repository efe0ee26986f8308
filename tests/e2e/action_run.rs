//! `orch action run`: inputs from flags, files and stdin; schema checks; action errors.

use crate::harness::TestHost;

#[test]
fn runs_text_diff_and_prints_its_output() {
    let host = TestHost::with_packs(&["text"]);
    let input =
        r#"{"old":"hostname r1\ninterface Gi0/1\n","new":"hostname r1\ninterface Gi0/2\n"}"#;
    let out = host
        .orch(&["action", "run", "text.diff", "--input", input])
        .json();
    assert_eq!(out["added"], 1);
    assert_eq!(out["removed"], 1);
    assert_eq!(out["changed"], true);
    let diff = out["diff"].as_str().expect("diff text");
    assert!(
        diff.contains("-interface Gi0/1") && diff.contains("+interface Gi0/2"),
        "{diff}"
    );
}

#[test]
fn reads_the_input_from_a_file_and_from_stdin() {
    let host = TestHost::with_packs(&["text"]);
    let input = r#"{"text":"! Last configuration change at 10:00\nhostname r1   \n"}"#;
    let file = host.home().join("input.json");
    std::fs::write(&file, input).expect("write");
    let from_file = host
        .orch(&[
            "action",
            "run",
            "text.normalize",
            "--input-file",
            file.to_str().expect("utf-8"),
        ])
        .json();
    let from_stdin = host
        .orch_with_stdin(
            &["action", "run", "text.normalize", "--input-file", "-"],
            input,
        )
        .json();
    assert_eq!(from_file, from_stdin);
    assert_eq!(from_file["text"], "hostname r1\n");
}

#[test]
fn rejects_input_that_fails_the_schema_listing_each_violation() {
    let host = TestHost::with_packs(&["misbehave"]);
    let err = host
        .orch(&[
            "action",
            "run",
            "misbehave.echo",
            "--input",
            r#"{"count":-1,"extra":1}"#,
        ])
        .fails_with(2)
        .to_owned();
    assert!(
        err.contains("input of misbehave.echo does not match its schema"),
        "{err}"
    );
    assert!(err.contains("at /count:"), "{err}");
    assert!(err.contains("\"message\" is a required property"), "{err}");
    assert!(err.contains("extra"), "{err}");
}

#[test]
fn rejects_input_that_is_not_json() {
    let host = TestHost::with_packs(&["text"]);
    let err = host
        .orch(&["action", "run", "text.diff", "--input", "{old: 1"])
        .fails_with(2)
        .to_owned();
    assert!(
        err.contains("the input from --input is not valid JSON"),
        "{err}"
    );
}

#[test]
fn names_the_actions_of_a_pack_when_the_action_is_unknown() {
    let host = TestHost::with_packs(&["text"]);
    let err = host
        .orch(&["action", "run", "text.dif"])
        .fails_with(2)
        .to_owned();
    assert!(err.contains("pack \"text\" has no action \"dif\""), "{err}");
    assert!(
        err.contains("diff, normalize, extract") || err.contains("diff"),
        "{err}"
    );
    let err = host
        .orch(&["action", "run", "nope.diff"])
        .fails_with(2)
        .to_owned();
    assert!(err.contains("no pack named \"nope\""), "{err}");
    let err = host
        .orch(&["action", "run", "textdiff"])
        .fails_with(2)
        .to_owned();
    assert!(err.contains("write PACK.ACTION"), "{err}");
}

#[test]
fn an_action_error_exits_1_with_its_code_and_message() {
    let host = TestHost::with_packs(&["misbehave"]);
    let run = host.orch(&["action", "run", "misbehave.fail"]);
    let err = run.fails_with(1);
    assert!(err.contains("misbehave.fail failed with boom"), "{err}");
    assert!(err.contains("(retryable)"), "{err}");
    let run = host.orch(&["action", "run", "misbehave.fail", "--json"]);
    assert_eq!(run.code, 1);
    let body = run.json();
    assert_eq!(body["error"]["code"], "boom");
    assert_eq!(body["error"]["retryable"], true);
}

#[test]
fn an_output_that_breaks_its_declared_schema_is_invalid_output_naming_the_path() {
    let host = TestHost::with_packs(&["misbehave"]);
    let kept = host.orch(&[
        "action",
        "run",
        "misbehave.lie",
        "--json",
        "--input",
        r#"{"truthful":true}"#,
    ]);
    assert_eq!(kept.output()["name"], "r1", "a truthful output passes");
    let lying = [
        "action",
        "run",
        "misbehave.lie",
        "--input",
        r#"{"truthful":false}"#,
    ];
    let err = host.orch(&lying).fails_with(1).to_owned();
    assert!(
        err.contains("misbehave.lie failed with invalid_output"),
        "{err}"
    );
    assert!(err.contains("at /name: null is not of type"), "{err}");
    assert!(
        err.contains("orch pack check"),
        "the fix for its vendor: {err}"
    );
    let mut json = lying.to_vec();
    json.push("--json");
    let run = host.orch(&json);
    assert_eq!(run.code, 1);
    let body = run.json();
    assert_eq!(body["error"]["code"], "invalid_output");
    assert_eq!(body["error"]["retryable"], false);
    assert_eq!(body["error"]["details"][0]["path"], "/name");
    assert!(
        body.get("output").is_none(),
        "the lying output is not passed on: {body}"
    );
}

#[test]
fn pack_logs_go_to_stderr_and_output_to_stdout() {
    let host = TestHost::with_packs(&["misbehave"]);
    let run = host.orch(&[
        "action",
        "run",
        "misbehave.echo",
        "--input",
        r#"{"message":"hi","count":2}"#,
    ]);
    let out = run.json();
    assert_eq!(out["message"], "hi");
    assert!(run.stderr.contains("info"), "{}", run.stderr);
    let body = host
        .orch(&[
            "action",
            "run",
            "misbehave.echo",
            "--json",
            "--input",
            r#"{"message":"hi","count":2}"#,
        ])
        .json();
    assert_eq!(body["output"]["count"], 2);
    assert_eq!(body["logs"][0]["level"], "info");
}

#[test]
fn shell_completions_cover_every_verb() {
    let host = TestHost::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = host.orch(&["completions", shell]);
        let script = out.ok();
        for verb in ["pack", "rerun", "respond", "scope", "prune"] {
            assert!(script.contains(verb), "{shell}: no {verb}");
        }
    }
    assert_eq!(host.orch(&["completions", "tcsh"]).code, 2);
}
