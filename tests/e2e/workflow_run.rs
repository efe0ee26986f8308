//! `orch run` and `orch runs`: every example in `workflows/` run end to end with its task
//! trace and outputs checked; bad input of each kind gives a clear error and loses nothing;
//! answers, resume of a person-gated attempt, signals, leases and cancel.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Run, TestHost};

fn examples() -> String {
    TestHost::examples().display().to_string()
}

/// `orch run` with the example workflow directory.
fn run(host: &TestHost, args: &[&str]) -> Run {
    let dir = examples();
    let mut all = vec!["run", "--workflows", dir.as_str()];
    all.extend_from_slice(args);
    host.orch(&all)
}

fn show(host: &TestHost, run: &str) -> Value {
    host.orch(&["runs", "show", run, "--json"]).json()
}

/// `exec -> (status, attempt count)` from `runs show --json`.
fn trace(report: &Value) -> Vec<(String, String, usize)> {
    report["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| {
            (
                t["exec"].as_str().unwrap_or("").to_owned(),
                t["status"].as_str().unwrap_or("").to_owned(),
                t["attempts"].as_array().map_or(0, Vec::len),
            )
        })
        .collect()
}

fn task<'a>(report: &'a Value, exec: &str) -> &'a Value {
    report["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["exec"] == exec)
        .unwrap_or_else(|| panic!("no execution {exec} in {report:#}"))
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writing a workflow");
    path.display().to_string()
}

#[test]
fn provision_runs_every_feature_end_to_end_with_a_pre_answer() {
    let host = TestHost::with_packs(&["misbehave"]);
    let out = run(
        &host,
        &[
            "provision",
            "-i",
            r#"hosts=["r1","r2","r3"]"#,
            "-i",
            "label=lab",
            "--answer",
            r#"approve={"approved": true}"#,
            "--json",
        ],
    );
    let result = out.json();
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(result["status"], "succeeded");
    assert_eq!(
        result["output"],
        json!({
            "label": "lab",
            "checked": ["r1", "r2", "r3"],
            "summary": "3 hosts: r1, r2, r3",
            "flaky": "boom",
            "slow_timed_out": true,
            "decision": "applied",
        })
    );
    let run_id = result["run"].as_str().expect("run id");
    let report = show(&host, run_id);
    assert_eq!(
        trace(&report),
        vec![
            ("start#1".into(), "succeeded".into(), 1),
            ("check_hosts#1".into(), "succeeded".into(), 3),
            ("probe_flaky#1".into(), "failed".into(), 3),
            ("probe_slow#1".into(), "failed".into(), 1),
            ("gather#1".into(), "succeeded".into(), 1),
            ("approve#1".into(), "succeeded".into(), 1),
        ]
    );
    let slow = &task(&report, "probe_slow#1")["attempts"][0];
    assert_eq!(slow["status"], "timed_out");
    assert_eq!(slow["error"]["code"], "timeout");
    // Fan-out items keep their idempotency keys: run:task#occurrence:item.
    let items = task(&report, "check_hosts#1")["attempts"]
        .as_array()
        .expect("items");
    assert_eq!(
        items[2]["idempotency_key"],
        format!("{run_id}:check_hosts#1:2")
    );
    assert_eq!(items[2]["input"], json!({"message": "r3", "count": 1}));
    // The sub-workflow ran as a child run of its own.
    let child = &report["children"][0];
    assert_eq!(child["workflow"], "summarize");
    assert_eq!(child["status"], "succeeded");
    let child_report = show(&host, child["id"].as_str().expect("child id"));
    assert_eq!(child_report["parent"], run_id);
    // Pack log lines are kept with the run.
    let logs = host.orch(&["runs", "logs", run_id]).ok().to_owned();
    for h in ["r1", "r2", "r3"] {
        assert!(logs.contains(&format!("echo: {h}")), "{logs}");
    }
    let list = host.orch(&["runs", "list", "--json"]).json();
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(1),
        "children are not listed: {list}"
    );
}

#[test]
fn a_run_waits_for_an_answer_and_refuses_one_that_fails_the_schema() {
    let host = TestHost::with_packs(&["misbehave"]);
    let waiting = run(&host, &["provision", "-i", r#"hosts=["a"]"#, "--json"]);
    assert_eq!(waiting.code, 4, "{waiting:#?}");
    let result = waiting.json();
    assert_eq!(result["status"], "waiting");
    assert_eq!(result["questions"][0]["task"], "approve");
    assert_eq!(
        result["questions"][0]["prompt"],
        "Apply the change to 1 hosts?"
    );
    assert!(
        waiting.stderr.contains("orch runs respond"),
        "{}",
        waiting.stderr
    );
    let id = result["run"].as_str().expect("run id").to_owned();

    let bad = host.orch(&[
        "runs",
        "respond",
        &id,
        "approve",
        "--input",
        r#"{"approved": "yes"}"#,
    ]);
    let err = bad.fails_with(2);
    assert!(err.contains("nothing was recorded"), "{err}");
    assert!(err.contains("/approved"), "{err}");
    let wrong_task = host.orch(&["runs", "respond", &id, "nope", "--input", "{}"]);
    assert!(
        wrong_task.fails_with(2).contains("waits at: `approve`"),
        "{wrong_task:#?}"
    );
    let report = show(&host, &id);
    assert_eq!(report["status"], "waiting");
    assert_eq!(task(&report, "approve#1")["status"], "running");

    let done = host.orch(&[
        "runs",
        "respond",
        &id,
        "approve",
        "--input",
        r#"{"approved": false}"#,
        "--json",
    ]);
    assert_eq!(done.code, 0, "{done:#?}");
    assert_eq!(done.json()["output"]["decision"], "skipped");
    // Nothing ran twice: the fan-out item and the probes keep their single executions.
    let report = show(&host, &id);
    assert_eq!(
        task(&report, "check_hosts#1")["attempts"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        task(&report, "approve#1")["attempts"][0]["result"],
        json!({"approved": false})
    );
    let again = host.orch(&["runs", "resume", &id]);
    assert!(
        again.fails_with(2).contains("already succeeded"),
        "{again:#?}"
    );
}

#[test]
fn drift_asks_only_when_the_configuration_differs() {
    let host = TestHost::with_packs(&["text"]);
    let same = run(
        &host,
        &[
            "drift",
            "-i",
            "running=! Last configuration change at 10:00\nhostname r1\n",
            "-i",
            "golden=hostname r1\n",
            "--json",
        ],
    );
    assert_eq!(same.code, 0, "{same:#?}");
    assert_eq!(same.json()["output"], json!({"diff": "", "action": "none"}));

    let drifted = run(
        &host,
        &[
            "drift",
            "-i",
            "running=hostname r2\n",
            "-i",
            "golden=hostname r1\n",
            "--json",
        ],
    );
    assert_eq!(drifted.code, 4, "{drifted:#?}");
    let id = drifted.json()["run"].as_str().expect("run id").to_owned();
    let done = host.orch(&[
        "runs",
        "respond",
        &id,
        "decide",
        "--input",
        r#"{"keep": false}"#,
        "--json",
    ]);
    assert_eq!(done.code, 0, "{done:#?}");
    let output = &done.json()["output"];
    assert_eq!(output["action"], "revert");
    let diff = output["diff"].as_str().expect("diff");
    assert!(
        diff.contains("-hostname r1") && diff.contains("+hostname r2"),
        "{diff}"
    );
}

#[test]
fn summarize_runs_on_its_own() {
    let host = TestHost::new();
    let out = run(&host, &["summarize", "-i", r#"items=["x","y"]"#]);
    let stdout = out.ok();
    let output: Value = serde_json::from_str(stdout).expect("json output");
    assert_eq!(output, json!({"summary": "2 hosts: x, y"}));
}

#[test]
fn bad_workflows_and_inputs_are_refused_with_clear_errors_before_anything_runs() {
    let host = TestHost::with_packs(&["misbehave"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let malformed = write(
        dir.path(),
        "bad.yaml",
        "tasks:\n  a:\n    action: core.noop\n   next: [\n",
    );
    let err = host.orch(&["run", &malformed]).fails_with(2).to_owned();
    assert!(
        err.contains("bad.yaml:") && err.contains("invalid YAML"),
        "{err}"
    );

    let cycle = write(
        dir.path(),
        "cycle.yaml",
        "tasks:\n  start:\n    action: core.noop\n    next: [{do: a}]\n  a:\n    action: core.noop\n    next: [{do: b}]\n  b:\n    action: core.noop\n    next: [{do: a}]\n",
    );
    let err = host.orch(&["run", &cycle]).fails_with(2).to_owned();
    assert!(err.contains("loop forever"), "{err}");

    let missing = write(
        dir.path(),
        "parent.yaml",
        "tasks:\n  call:\n    action: no_such_child\n",
    );
    let err = host
        .orch(&[
            "run",
            &missing,
            "--workflows",
            &dir.path().display().to_string(),
        ])
        .fails_with(2)
        .to_owned();
    assert!(
        err.contains("no workflow named `no_such_child`")
            && err.contains(&dir.path().display().to_string()),
        "{err}"
    );

    // Jinja inside <% %> (which is YAQL) and a yaql function orch refuses: named with their
    // place before anything runs, by `run` and by `workflow validate` alike.
    let jinja_in_yaql = write(
        dir.path(),
        "jinja.yaml",
        "input: [hosts]\ntasks:\n  a:\n    action: core.echo\n    input:\n      n: <% ctx(hosts) | length %>\n      t: <% now() %>\n      ok: \"{{ ctx('hosts') | length }} and <% len(ctx(hosts)) %>\"\n",
    );
    for args in [
        vec!["run", &jinja_in_yaql],
        vec!["workflow", "validate", &jinja_in_yaql],
    ] {
        let err = host.orch(&args).fails_with(2).to_owned();
        assert!(
            err.contains("6:")
                && err.contains("illegal character '|' (Jinja's filters work in {{ }} only"),
            "{err}"
        );
        assert!(err.contains("(at character 12)"), "{err}");
        assert!(
            err.contains("7:") && err.contains("`now` is not supported by orch"),
            "{err}"
        );
        assert!(!err.contains("input.ok"), "{err}");
    }

    let err = run(&host, &["provision"]).fails_with(2).to_owned();
    assert!(err.contains("input `hosts` is required"), "{err}");
    let err = run(&host, &["provision", "-i", "hosts=[]", "-i", "color=red"])
        .fails_with(2)
        .to_owned();
    assert!(err.contains("input `color` is not declared"), "{err}");
    let err = run(&host, &["nonexistent"]).fails_with(2).to_owned();
    assert!(err.contains("no workflow named `nonexistent`"), "{err}");
    // Nothing was recorded for any of them.
    let list = host.orch(&["runs", "list", "--json"]).json();
    assert_eq!(list, json!([]));
}

#[test]
fn run_time_failures_fail_the_run_with_the_cause_recorded() {
    let host = TestHost::with_packs(&["misbehave"]);
    let dir = tempfile::tempdir().expect("temp dir");
    // Wrong type for the pack's schema: a failed attempt with code invalid_input.
    let typed = write(
        dir.path(),
        "typed.yaml",
        "input: [count]\ntasks:\n  echo:\n    action: misbehave.echo\n    input: { message: hi, count: <% ctx().count %> }\n",
    );
    let out = host.orch(&["run", &typed, "-i", "count=many", "--json"]);
    assert_eq!(out.code, 1, "{out:#?}");
    let id = out.json()["run"].as_str().expect("run id").to_owned();
    let report = show(&host, &id);
    let attempt = &task(&report, "echo#1")["attempts"][0];
    assert_eq!(attempt["error"]["code"], "invalid_input");
    assert!(
        attempt["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("/count"),
        "{attempt}"
    );

    // An output that breaks the action's declared output schema: a failed attempt with code
    // invalid_output naming the path, and no retry (the pack is at fault, not the moment).
    let lying = write(
        dir.path(),
        "lying.yaml",
        "tasks:\n  lie:\n    action: misbehave.lie\n    input: { truthful: false }\n    retry: { count: 2 }\n",
    );
    let out = host.orch(&["run", &lying, "--json"]);
    assert_eq!(out.code, 1, "{out:#?}");
    let id = out.json()["run"].as_str().expect("run id").to_owned();
    let report = show(&host, &id);
    let attempts = task(&report, "lie#1")["attempts"]
        .as_array()
        .expect("attempts")
        .clone();
    assert_eq!(attempts.len(), 1, "not retried: {attempts:#?}");
    assert_eq!(attempts[0]["error"]["code"], "invalid_output");
    assert_eq!(attempts[0]["error"]["details"][0]["path"], "/name");

    // An expression that fails only at run time: the run fails naming the expression.
    let expr = write(
        dir.path(),
        "expr.yaml",
        "input: [data]\ntasks:\n  pick:\n    action: core.echo\n    input: { v: <% ctx().data.missing %> }\n",
    );
    let out = host.orch(&["run", &expr, "-i", "data={}", "--json"]);
    assert_eq!(out.code, 1, "{out:#?}");
    let errors = &out.json()["errors"];
    assert_eq!(errors[0]["kind"], "expression", "{errors}");
    assert!(
        errors[0]["expression"]
            .as_str()
            .unwrap_or("")
            .contains("ctx().data.missing")
    );

    // A `with` over something that is not a list.
    let out = run(&host, &["provision", "-i", "hosts=notalist", "--json"]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        out.json()["errors"]
            .to_string()
            .contains("`with` needs a list")
    );
}

#[test]
fn an_answer_the_run_has_not_taken_is_shown_and_not_silently_replaced() {
    let host = TestHost::with_packs(&["misbehave"]);
    let waiting = run(&host, &["provision", "-i", r#"hosts=["a"]"#, "--json"]);
    assert_eq!(waiting.code, 4, "{waiting:#?}");
    let id = waiting.json()["run"].as_str().expect("run id").to_owned();
    // What an `orch runs respond` killed after recording its answer, before the run took it,
    // leaves behind.
    let step = task(&show(&host, &id), "approve#1")["attempts"][0]["idempotency_key"]
        .as_str()
        .expect("the question's step")
        .to_owned();
    host.sql_rows(&format!(
        r#"INSERT INTO answers (run_id, step, answer, at) VALUES ('{id}', '{step}', '{{"approved":true}}', 0)"#
    ));
    let report = show(&host, &id);
    assert_eq!(report["status"], "waiting");
    assert_eq!(
        report["questions"][0]["pending_answer"],
        json!({"approved": true}),
        "{report:#}"
    );
    let text = host.orch(&["runs", "show", &id]).ok().to_owned();
    assert!(text.contains("not yet taken by the run"), "{text}");

    // A different answer is refused, naming the one waiting and both ways out.
    let other = host.orch(&[
        "runs",
        "respond",
        &id,
        "approve",
        "--input",
        r#"{"approved": false}"#,
    ]);
    let err = other.fails_with(2);
    assert!(
        err.contains(r#"{"approved":true}"#) && err.contains("--replace") && err.contains("resume"),
        "{err}"
    );
    assert_eq!(
        show(&host, &id)["questions"][0]["pending_answer"],
        json!({"approved": true})
    );
    // With --replace the new answer is the one the run takes.
    let replaced = host.orch(&[
        "runs",
        "respond",
        &id,
        "approve",
        "--input",
        r#"{"approved": false}"#,
        "--replace",
        "--json",
    ]);
    assert_eq!(replaced.code, 0, "{replaced:#?}");
    assert_eq!(replaced.json()["output"]["decision"], "skipped");
}

#[test]
fn rerun_goes_on_from_the_failed_task_with_the_recorded_or_the_current_workflow() {
    let host = TestHost::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = "input: [name]\ntasks:\n  greet:\n    action: core.echo\n    input: { text: <% ctx().name %> }\n    next: [{ when: <% succeeded() %>, publish: [{ first: <% result().text %> }], do: send }]\n  send:\n    action: core.fail\n    input: { code: down, message: the mail relay is down }\n    next: [{ when: <% succeeded() %>, do: done }]\n  done:\n    action: core.echo\n    input: { text: <% ctx().first %> }\n    next: [{ publish: [{ last: <% result().text %> }] }]\noutput:\n  - last: <% ctx().last %>\n";
    let wf = write(dir.path(), "mail.yaml", broken);
    let failed = host.orch(&["run", &wf, "-i", "name=ops", "--json"]);
    assert_eq!(failed.code, 1, "{failed:#?}");
    let id = failed.json()["run"].as_str().expect("run id").to_owned();

    // With the revision it started with, `send` fails again: still one `greet`.
    let again = host.orch(&["runs", "rerun", &id, "--json"]);
    assert_eq!(again.code, 1, "{again:#?}");
    assert_eq!(again.json()["revision"]["revision"], "recorded");
    assert!(
        again.stderr.contains("revision it started with"),
        "{}",
        again.stderr
    );

    // Fixed in the file: re-run `send` with the workflow as it is now.
    std::fs::write(
        &wf,
        broken.replace("action: core.fail", "action: core.echo"),
    )
    .expect("fixing");
    let fixed = host.orch(&[
        "runs",
        "rerun",
        &id,
        "--task",
        "send",
        "--current-workflow",
        "--json",
    ]);
    assert_eq!(fixed.code, 0, "{fixed:#?}");
    let body = fixed.json();
    assert_eq!(body["output"], json!({"last": "ops"}));
    assert_eq!(body["revision"]["revision"], "current");
    let report = show(&host, &id);
    assert_eq!(report["status"], "succeeded");
    assert_eq!(
        trace(&report),
        vec![
            ("greet#1".to_owned(), "succeeded".to_owned(), 1),
            ("send#1".to_owned(), "failed".to_owned(), 1),
            ("send#2".to_owned(), "failed".to_owned(), 1),
            ("send#3".to_owned(), "succeeded".to_owned(), 1),
            ("done#1".to_owned(), "succeeded".to_owned(), 1),
        ],
        "the history is kept, greet ran once"
    );

    // Nothing left to re-run; a succeeded run is refused with the reason.
    let refused = host.orch(&["runs", "rerun", &id]);
    assert!(
        refused
            .fails_with(2)
            .contains("only a failed or canceled run"),
        "{refused:#?}"
    );
}

#[test]
fn a_task_timeout_bounds_the_sub_workflow_it_runs() {
    let host = TestHost::new();
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "slowchild.yaml",
        "tasks:\n  wait:\n    action: core.sleep\n    input: { seconds: 60 }\n",
    );
    let parent = write(
        dir.path(),
        "parent.yaml",
        "tasks:\n  sub:\n    action: slowchild\n    timeout: 1\n    next:\n      - when: <% failed() %>\n        publish: [{ code: <% result().code %> }]\n        do: noop\noutput:\n  - code: <% ctx().code %>\n",
    );
    let started = Instant::now();
    let out = host.orch(&[
        "run",
        &parent,
        "--workflows",
        dir.path().to_str().expect("utf-8"),
        "--json",
    ]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the child ran its whole 60 s sleep"
    );
    let body = out.json();
    assert_eq!(body["output"]["code"], "timeout", "{body:#}");
    let id = body["run"].as_str().expect("run id").to_owned();
    let report = show(&host, &id);
    let error = &task(&report, "sub#1")["attempts"][0]["error"];
    assert_eq!(error["code"], "timeout", "{error}");
    let child = error["details"]["run"]
        .as_str()
        .expect("the child run")
        .to_owned();
    assert_eq!(show(&host, &child)["status"], "canceled");
}

#[test]
fn diagnostics_written_to_a_pipe_carry_no_colour_codes() {
    let host = TestHost::with_packs(&["misbehave"]);
    let out = run(&host, &["-vv", "summarize", "-i", r#"items=["x"]"#]);
    assert!(
        out.stderr.contains("DEBUG") || out.stderr.contains("INFO"),
        "-vv writes diagnostics: {}",
        out.stderr
    );
    assert!(
        !out.stderr.contains('\u{1b}'),
        "colour codes in a pipe: {:?}",
        out.stderr
    );
}

#[test]
fn a_run_whose_driver_was_killed_is_marked_in_list_and_show() {
    let host = TestHost::with_packs(&["misbehave"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let wf = write(
        dir.path(),
        "slow.yaml",
        "tasks:\n  wait:\n    action: misbehave.slow\n    input: { ms: 60000, tag: slow }\n    timeout: 120\n",
    );
    let mut bg = host.spawn(&["run", &wf]);
    let started = Instant::now();
    while host.sql_count("SELECT count(*) FROM attempts") == 0 {
        assert!(bg.try_wait().is_none(), "orch exited early");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the attempt never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let live = host.orch(&["runs", "list", "--json"]).json();
    assert_eq!(live[0]["driver"]["state"], "live", "{live}");
    bg.signal("-KILL");
    drop(bg);
    let list = host.orch(&["runs", "list", "--json"]).json();
    assert_eq!(list[0]["status"], "running");
    assert_eq!(list[0]["driver"]["state"], "gone", "{list}");
    let text = host.orch(&["runs", "list"]);
    assert!(text.ok().contains("running (no driver)"), "{}", text.stdout);
    assert!(text.stderr.contains("orch runs resume"), "{}", text.stderr);
    let id = list[0]["id"].as_str().expect("run id").to_owned();
    let report = host.orch(&["runs", "show", &id]).ok().to_owned();
    assert!(
        report.contains("is gone") && report.contains("orch runs resume"),
        "{report}"
    );
    assert!(show(&host, &id)["driver_gone"].is_number());
}

#[test]
fn an_interrupted_non_idempotent_attempt_waits_for_a_person() {
    let host = TestHost::with_packs(&["misbehave"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let wf = write(
        dir.path(),
        "pay.yaml",
        "tasks:\n  pay:\n    action: misbehave.transfer\n    input: { ms: 60000, tag: paid }\n    timeout: 120\n    next: [{publish: [{tag: <% result().tag %>}]}]\noutput:\n  - tag: <% ctx().tag %>\n",
    );
    let mut bg = host.spawn(&["run", &wf]);
    let started = Instant::now();
    loop {
        let n = host.sql_count("SELECT count(*) FROM attempts");
        if n > 0 {
            break;
        }
        assert!(bg.try_wait().is_none(), "orch exited early");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the attempt never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    bg.signal("-KILL");
    drop(bg);
    let id = host.sql("SELECT id FROM runs").expect("run id");
    let stuck = host.orch(&["runs", "resume", &id, "--json"]);
    assert_eq!(stuck.code, 4, "{stuck:#?}");
    let reason = stuck.json()["reason"].as_str().unwrap_or("").to_owned();
    assert!(
        reason.contains("pay#1") && reason.contains("--retry-interrupted"),
        "{reason}"
    );
    assert_eq!(show(&host, &id)["status"], "needs_attention");

    let started_at = |host: &TestHost| -> (i64, i64) {
        let rows = host.sql_rows("SELECT starts, started_at FROM attempts WHERE exec = 'pay#1'");
        let row = rows.first().expect("the attempt row");
        (
            row[0].parse().expect("starts"),
            row[1].parse().expect("started_at"),
        )
    };
    let before = started_at(&host);
    assert_eq!(before.0, 1);

    // A person checked: fail it rather than pay twice. The history still shows one start, at
    // the time it really started.
    let failed = host.orch(&["runs", "resume", &id, "--fail-interrupted", "--json"]);
    assert_eq!(failed.code, 1, "{failed:#?}");
    let report = show(&host, &id);
    let attempt = &task(&report, "pay#1")["attempts"][0];
    assert_eq!(attempt["error"]["code"], "interrupted");
    assert_eq!(attempt["starts"], 1, "{attempt}");
    assert_eq!(started_at(&host), before, "the attempt ran once");
}

#[test]
fn canceling_a_run_with_an_interrupted_attempt_records_no_second_start() {
    let host = TestHost::with_packs(&["misbehave"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let wf = write(
        dir.path(),
        "pay.yaml",
        "tasks:\n  pay:\n    action: misbehave.transfer\n    input: { ms: 60000, tag: paid }\n    timeout: 120\n",
    );
    let mut bg = host.spawn(&["run", &wf]);
    let started = Instant::now();
    while host.sql_count("SELECT count(*) FROM attempts") == 0 {
        assert!(bg.try_wait().is_none(), "orch exited early");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the attempt never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    bg.signal("-KILL");
    drop(bg);
    let id = host.sql("SELECT id FROM runs").expect("run id");
    let before: (i64, i64) = host
        .sql_rows("SELECT starts, started_at FROM attempts")
        .first()
        .map(|row| {
            (
                row[0].parse().expect("starts"),
                row[1].parse().expect("started_at"),
            )
        })
        .expect("the attempt row");
    let canceled = host.orch(&["runs", "cancel", &id, "--json"]);
    assert_eq!(canceled.code, 1, "{canceled:#?}");
    assert_eq!(show(&host, &id)["status"], "canceled");
    let after: (i64, i64) = host
        .sql_rows("SELECT starts, started_at FROM attempts")
        .first()
        .map(|row| {
            (
                row[0].parse().expect("starts"),
                row[1].parse().expect("started_at"),
            )
        })
        .expect("the attempt row");
    assert_eq!(after, before, "canceling did not start it again");
}

#[test]
fn sigint_pauses_the_run_and_resume_finishes_it_without_rerunning_done_work() {
    let host = TestHost::with_packs(&["misbehave"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let wf = write(
        dir.path(),
        "steps.yaml",
        "tasks:\n  one:\n    action: misbehave.slow\n    input: { ms: 10, tag: one }\n    next: [{do: two}]\n  two:\n    action: misbehave.slow\n    input: { ms: 1500, tag: two }\n    next: [{do: three}]\n  three:\n    action: misbehave.slow\n    input: { ms: 10, tag: three }\n    next: [{publish: [{last: <% result().tag %>}]}]\noutput:\n  - last: <% ctx().last %>\n",
    );
    let mut bg = host.spawn(&["run", &wf, "--grace", "30"]);
    let started = Instant::now();
    loop {
        let n = host.sql_count("SELECT count(*) FROM attempts WHERE exec = 'two#1'");
        if n > 0 {
            break;
        }
        assert!(bg.try_wait().is_none(), "orch exited early");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "task two never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    bg.signal("-INT");
    let paused = bg.wait();
    assert_eq!(paused.code, 4, "{paused:#?}");
    assert!(
        paused
            .stderr
            .contains("paused; continue it with: orch runs resume"),
        "{paused:#?}"
    );
    let id = host.sql("SELECT id FROM runs").expect("run id");
    let report = show(&host, &id);
    assert_eq!(report["status"], "paused");
    // The running invocation finished within the grace period and was recorded.
    assert_eq!(task(&report, "two#1")["attempts"][0]["status"], "succeeded");
    // Task three was due but never started: no attempt recorded.
    let three = task(&report, "three#1");
    assert_eq!(three["status"], "pending", "{three}");
    assert_eq!(three["attempts"], json!([]));

    let done = host.orch(&["runs", "resume", &id, "--json"]);
    assert_eq!(done.code, 0, "{done:#?}");
    assert_eq!(done.json()["output"], json!({"last": "three"}));
    let report = show(&host, &id);
    for t in report["tasks"].as_array().expect("tasks") {
        assert_eq!(t["attempts"][0]["starts"], 1, "{t}");
    }
}

#[test]
fn a_second_process_cannot_drive_a_run_and_cancel_asks_the_driver() {
    let host = TestHost::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let wf = write(
        dir.path(),
        "nap.yaml",
        "tasks:\n  nap:\n    action: core.sleep\n    input: { seconds: 60 }\n",
    );
    let bg = host.spawn(&["run", &wf]);
    let started = Instant::now();
    let id: String = loop {
        if let Some(id) = host.sql("SELECT id FROM runs") {
            break id;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let busy = host.orch(&["runs", "resume", &id]);
    let err = busy.fails_with(2);
    assert!(err.contains(&format!("pid {}", bg.id())), "{err}");

    let cancel = host.orch(&["runs", "cancel", &id]);
    assert!(cancel.fails_with(0).contains("asked pid"), "{cancel:#?}");
    let canceled = bg.wait();
    assert_eq!(canceled.code, 1, "{canceled:#?}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "cancel did not stop the sleep"
    );
    assert_eq!(show(&host, &id)["status"], "canceled");
}

#[test]
fn cancel_of_a_waiting_run_ends_it_at_once() {
    let host = TestHost::with_packs(&["misbehave"]);
    let out = run(&host, &["provision", "-i", r#"hosts=["a"]"#, "--json"]);
    assert_eq!(out.code, 4, "{out:#?}");
    let id = out.json()["run"].as_str().expect("run id").to_owned();
    let canceled = host.orch(&["runs", "cancel", &id, "--json"]);
    assert_eq!(canceled.code, 1, "{canceled:#?}");
    assert_eq!(canceled.json()["status"], "canceled");
    let report = show(&host, &id);
    let attempt = &task(&report, "approve#1")["attempts"][0];
    assert_eq!(attempt["error"]["code"], "canceled");
}

#[test]
fn every_example_validates_offline_and_draws_its_graph() {
    // The network workflows name netdev, golden and servicenow actions; drift.rs, discover.rs
    // and compliance.rs run them.
    let host = TestHost::with_packs(&["misbehave", "text", "netdev", "servicenow", "golden"]);
    let dir = examples();
    let mut seen = 0;
    for entry in std::fs::read_dir(TestHost::examples()).expect("workflows/") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        seen += 1;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_owned();
        let ok = host.orch(&["workflow", "validate", &name, "--workflows", &dir]);
        assert!(ok.ok().contains(": ok ("), "{ok:#?}");
        let graph = host.orch(&[
            "workflow",
            "graph",
            &name,
            "--workflows",
            &dir,
            "--format",
            "dot",
        ]);
        assert!(graph.ok().contains("digraph"), "{graph:#?}");
    }
    assert_eq!(
        seen, 13,
        "a new example needs a run test (here, in drift.rs, discover.rs or compliance.rs)"
    );
    // Without the packs installed, the pack actions are unknown.
    let bare = TestHost::new();
    let err = bare
        .orch(&["workflow", "validate", "provision", "--workflows", &dir])
        .fails_with(2)
        .to_owned();
    assert!(err.contains("unknown action `misbehave.echo`"), "{err}");
}

#[test]
fn orch_workflow_test_rehearses_the_examples_without_a_pack_or_a_store() {
    // No pack installed and no run recorded: the rehearsal mocks every action.
    let host = TestHost::new();
    let specs = TestHost::examples().join("tests").display().to_string();
    let out = host.orch(&["workflow", "test", &specs, "--json"]);
    let body = out.json();
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(body["ok"], true);
    assert_eq!(body["summary"]["failed"], 0);
    assert!(
        body["summary"]["passed"].as_u64().unwrap_or(0) >= 6,
        "{body:#}"
    );
    assert!(
        !host.home().join("orch.db").exists(),
        "the store was opened"
    );

    // A spec that expects another path: exit 1, the first diverging step, both sequences.
    let dir = tempfile::tempdir().expect("tempdir");
    let workflow = TestHost::examples().join("backup-device.yaml");
    let spec = dir.path().join("wrong.test.yaml");
    std::fs::write(
        &spec,
        format!(
            "workflow: {}\ninput: {{ device: r1 }}\nmocks:\n  fetch: failed\nexpect:\n  executions: [fetch, store]\n",
            workflow.display()
        ),
    )
    .expect("write spec");
    let out = host.orch(&["workflow", "test", &dir.path().display().to_string()]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        out.stdout
            .contains("step 2: expected store#1, got nothing more"),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains("1 spec: 0 passed, 1 failed"),
        "{out:#?}"
    );

    // A spec that is not one: exit 2, saying what is wrong.
    std::fs::write(&spec, "workflow: x.yaml\nexpectations: {}\n").expect("write spec");
    let out = host.orch(&["workflow", "test", &spec.display().to_string()]);
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(out.stdout.contains("expectations"), "{out:#?}");
}
