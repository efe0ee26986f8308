//! The crash test: a real `orch run` of a workflow with more than 50 tasks and a fan-out is
//! SIGKILLed at many points of its journal, resumed with `orch runs resume` (and killed again)
//! until it finishes. Every completed step must have run exactly once and the outputs must equal
//! those of an uninterrupted run.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::TestHost;

/// 40 chained tasks, a 16-item fan-out at concurrency 4 in parallel with the chain's middle, a
/// join, and 10 more chained tasks: 52 task executions, 66 invocations.
fn workflow() -> String {
    let mut y = String::from("version: 1\ntasks:\n");
    for i in 0..40 {
        let next = if i == 19 {
            "[fan, c20]".to_owned()
        } else if i == 39 {
            "join".to_owned()
        } else {
            format!("c{}", i + 1)
        };
        let _ = write!(
            y,
            "  c{i}:\n    action: misbehave.slow\n    input: {{ ms: 3, tag: c{i} }}\n    next: [{{ publish: [{{ last: <% result().tag %> }}], do: {next} }}]\n"
        );
    }
    y.push_str(
        "  fan:\n    action: misbehave.slow\n    with: { items: <% range(16) %>, concurrency: 4 }\n    input: { ms: 3, tag: \"item<% item() %>\" }\n    next: [{ publish: [{ items: <% result().select($.tag) %> }], do: join }]\n",
    );
    y.push_str("  join:\n    join: all\n    action: core.noop\n    next: [{ do: t0 }]\n");
    for i in 0..10 {
        let next = if i == 9 {
            String::new()
        } else {
            format!(", do: t{}", i + 1)
        };
        let _ = write!(
            y,
            "  t{i}:\n    action: misbehave.slow\n    input: {{ ms: 3, tag: t{i} }}\n    next: [{{ publish: [{{ last: <% result().tag %> }}]{next} }}]\n"
        );
    }
    y.push_str("output:\n  - last: <% ctx().last %>\n  - items: <% ctx().items %>\n");
    y
}

/// Events journaled in the store, over every run: read through the library (one connection
/// held, on either backend), as fast as the kill loop needs.
fn events(store: &orch::store::Store) -> i64 {
    store
        .runs(true, 10_000)
        .expect("the runs")
        .iter()
        .map(|r| store.next_seq(&r.id).expect("a run's events") - 1)
        .sum()
}

fn finished(host: &TestHost, id: &str) -> bool {
    host.sql(&format!("SELECT status FROM runs WHERE id = '{id}'"))
        .is_some_and(|s| s == "succeeded")
}

#[test]
fn a_run_killed_at_many_points_resumes_to_the_same_outputs_running_each_step_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("crash.yaml");
    std::fs::write(&path, workflow()).expect("writing the workflow");
    let path = path.display().to_string();

    // The reference: an uninterrupted run.
    let reference = TestHost::with_packs(&["misbehave"]);
    let clean = reference.orch(&["run", &path, "--json"]);
    assert_eq!(clean.code, 0, "{clean:#?}");
    let expected = clean.json()["output"].clone();
    let clean_id = clean.json()["run"].as_str().expect("run id").to_owned();
    let total_events = events(&reference.orch_home().open_store().expect("store"));
    assert!(total_events > 60, "only {total_events} events");

    let host = TestHost::with_packs(&["misbehave"]);
    let store = host.orch_home().open_store().expect("store");
    let mut kills = 0;
    let mut threshold = 1;
    let mut run_id: Option<String> = None;
    let started = Instant::now();
    let outcome = loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the crash test takes too long"
        );
        let mut bg = match &run_id {
            None => host.spawn(&["run", &path, "--json"]),
            Some(id) => host.spawn(&["runs", "resume", id, "--json"]),
        };
        // Kill once the journal has grown past the threshold (or let it finish).
        let exited = loop {
            if let Some(code) = bg.try_wait() {
                break Some(code);
            }
            if events(&store) >= threshold {
                break None;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        if run_id.is_none() {
            run_id = host.sql("SELECT id FROM runs WHERE parent_run IS NULL");
        }
        match exited {
            Some(_) => break bg.wait(),
            // Killed after the final commit: the journal says it is done.
            None if run_id.as_ref().is_some_and(|id| finished(&host, id)) => {
                bg.signal("-KILL");
                drop(bg);
                break host.orch(&["runs", "show", run_id.as_deref().unwrap_or(""), "--json"]);
            }
            None => {
                bg.signal("-KILL");
                let killed = bg.wait();
                // The final commit can land between the check above and the kill: then the
                // run is done and there is nothing to resume.
                if killed.code == 0 || run_id.as_ref().is_some_and(|id| finished(&host, id)) {
                    break host.orch(&["runs", "show", run_id.as_deref().unwrap_or(""), "--json"]);
                }
                kills += 1;
                // Vary the gap so kills land in different places: between commits, during
                // an invocation, right after a start.
                threshold = events(&store) + 1 + (kills % 5);
            }
        }
    };
    assert_eq!(outcome.code, 0, "{outcome:#?}");
    // PostgreSQL's commits take longer, so the driver groups more events into each: fewer
    // distinct points to kill at over the same run.
    let wanted = if host.database_url().is_some() { 6 } else { 10 };
    assert!(kills >= wanted, "only {kills} kills");
    let id = run_id.expect("run id");
    let result: Value = serde_json::from_str(&outcome.stdout).expect("json");
    assert_eq!(result["output"], expected);
    let report = host.orch(&["runs", "show", &id, "--json"]).json();
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["output"], expected);

    // Exactly once: one journaled outcome per step, one recorded log line per step, and no
    // attempt that finished was ever started again.
    let per_step = host.sql_rows(&format!(
        "SELECT exec, item, count(*) FROM attempts WHERE run_id = '{id}' AND finished_at IS NOT NULL
         GROUP BY exec, item"
    ));
    assert_eq!(per_step.len(), 40 + 16 + 1 + 10, "{per_step:?}");
    for row in &per_step {
        assert_eq!(
            row[2], "1",
            "{}[{}] finished {} times",
            row[0], row[1], row[2]
        );
    }
    let logs = host.sql_rows(&format!(
        "SELECT exec, item, count(*) FROM logs WHERE run_id = '{id}' GROUP BY exec, item"
    ));
    assert_eq!(logs.len(), 40 + 16 + 10);
    assert!(logs.iter().all(|row| row[2] == "1"), "{logs:?}");
    let succeeded = host.sql_count(&format!(
        "SELECT count(*) FROM events WHERE run_id = '{id}'
         AND event LIKE '{{\"event\":\"action_succeeded\"%'"
    ));
    assert_eq!(succeeded, 67);
    // The interrupted run journaled the same events as the clean one, in a possibly different
    // order for the parallel parts.
    let clean_events = reference.sql_count(&format!(
        "SELECT count(*) FROM events WHERE run_id = '{clean_id}'"
    ));
    assert_eq!(events(&store), clean_events);
}
