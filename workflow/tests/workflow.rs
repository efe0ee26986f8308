//! Language and state-machine behaviour, as traces: workflow YAML + scripted outcomes → the
//! commands the machine issues (task starts, timers, the finish with its output).

use std::collections::VecDeque;
use std::sync::Arc;

use orch_workflow::machine::{
    Command, Event, ExecId, Machine, MachineError, RunError, RunStatus, TimerId,
};
use orch_workflow::parse_workflow;
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Harness.

fn machine(yaml: &str, input: Value) -> Machine {
    let wf = parse_workflow("test.yaml", yaml).unwrap_or_else(|e| panic!("parse: {e}"));
    let input = match input {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    Machine::new(Arc::new(wf), "run1", input).unwrap_or_else(|e| panic!("new: {e}"))
}

/// Compact text for a command, so expected traces read like a log.
fn show(c: &Command) -> String {
    match c {
        Command::StartAction {
            exec,
            item,
            attempt,
            ..
        } => {
            let mut s = format!("start {exec}");
            if let Some(i) = item {
                s.push_str(&format!("[{i}]"));
            }
            if *attempt > 1 {
                s.push_str(&format!("@{attempt}"));
            }
            s
        }
        Command::StartTimer { timer, delay_secs } => format!("timer {timer} {delay_secs}"),
        Command::Finish { status, .. } => format!("finish {}", status.as_str()),
    }
}

#[derive(Clone)]
enum Reply {
    Ok(Value),
    Fail(Value),
    Timeout,
}

/// Drives a run FIFO: each command is answered in the order it was issued (timers fire at once).
/// `reply` decides each action's outcome. Returns the trace, the events fed, and the finish.
struct Driven {
    trace: Vec<String>,
    events: Vec<Event>,
    finish: Option<Command>,
    starts: Vec<Command>,
}

fn drive(m: &mut Machine, reply: impl FnMut(&str, Option<usize>, u32, &Value) -> Reply) -> Driven {
    let first = m.start();
    drive_from(m, first, reply)
}

/// Drives a run from `first` (commands already issued), as [`drive`] does.
fn drive_from(
    m: &mut Machine,
    first: Vec<Command>,
    mut reply: impl FnMut(&str, Option<usize>, u32, &Value) -> Reply,
) -> Driven {
    let mut d = Driven {
        trace: Vec::new(),
        events: Vec::new(),
        finish: None,
        starts: Vec::new(),
    };
    let mut queue: VecDeque<Command> = first.into();
    while let Some(c) = queue.pop_front() {
        d.trace.push(show(&c));
        let event = match &c {
            Command::StartAction {
                exec,
                item,
                attempt,
                input,
                ..
            } => {
                d.starts.push(c.clone());
                match reply(&exec.task, *item, *attempt, input) {
                    Reply::Ok(result) => Event::ActionSucceeded {
                        exec: exec.clone(),
                        item: *item,
                        attempt: *attempt,
                        result,
                    },
                    Reply::Fail(error) => Event::ActionFailed {
                        exec: exec.clone(),
                        item: *item,
                        attempt: *attempt,
                        error,
                        timed_out: false,
                    },
                    Reply::Timeout => Event::ActionFailed {
                        exec: exec.clone(),
                        item: *item,
                        attempt: *attempt,
                        error: json!({"code": "timeout", "message": "timed out"}),
                        timed_out: true,
                    },
                }
            }
            Command::StartTimer { timer, .. } => Event::TimerFired {
                timer: timer.clone(),
            },
            Command::Finish { .. } => {
                d.finish = Some(c.clone());
                continue;
            }
        };
        d.events.push(event.clone());
        let more = m.handle(event).unwrap_or_else(|e| panic!("handle: {e}"));
        queue.extend(more);
    }
    d
}

fn ok_all(_: &str, _: Option<usize>, _: u32, _: &Value) -> Reply {
    Reply::Ok(json!({}))
}

fn finish_of(d: &Driven) -> (RunStatus, Option<Value>, Vec<Value>) {
    match &d.finish {
        Some(Command::Finish {
            status,
            output,
            errors,
        }) => (*status, output.clone(), errors.clone()),
        _ => panic!("run did not finish: {:?}", d.trace),
    }
}

fn id(task: &str, occurrence: u32) -> ExecId {
    ExecId {
        task: task.into(),
        occurrence,
    }
}

fn succeed(
    m: &mut Machine,
    task: &str,
    item: Option<usize>,
    attempt: u32,
    result: Value,
) -> Vec<String> {
    m.handle(Event::ActionSucceeded {
        exec: id(task, 1),
        item,
        attempt,
        result,
    })
    .unwrap_or_else(|e| panic!("handle: {e}"))
    .iter()
    .map(show)
    .collect()
}

fn fail(
    m: &mut Machine,
    task: &str,
    item: Option<usize>,
    attempt: u32,
    error: Value,
) -> Vec<String> {
    m.handle(Event::ActionFailed {
        exec: id(task, 1),
        item,
        attempt,
        error,
        timed_out: false,
    })
    .unwrap_or_else(|e| panic!("handle: {e}"))
    .iter()
    .map(show)
    .collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Sequence, publish, output.

const SEQUENCE: &str = r#"
version: 1
input:
  - name
  - greeting: hello
vars:
  - msg: <% ctx().greeting %> <% ctx().name %>
tasks:
  a:
    action: core.echo
    input: { message: <% ctx().msg %> }
    next:
      - when: <% succeeded() %>
        publish:
          - first: <% result().n %>
          - doubled: <% ctx().first * 2 %>
        do: b
  b:
    action: core.echo
    input: { n: <% ctx().doubled %> }
    next:
      - do: c
  c:
    action: core.noop
output:
  - msg: <% ctx().msg %>
  - doubled: <% ctx().doubled %>
  - b_status: <% task('b').status %>
"#;

#[test]
fn sequence_runs_in_order_and_publishes_in_list_order() {
    let mut m = machine(SEQUENCE, json!({"name": "world"}));
    let d = drive(&mut m, |task, _, _, _| match task {
        "a" => Reply::Ok(json!({"n": 21})),
        _ => Reply::Ok(json!(null)),
    });
    assert_eq!(
        d.trace,
        strs(&["start a#1", "start b#1", "start c#1", "finish succeeded"])
    );
    let Command::StartAction { input, action, .. } = &d.starts[0] else {
        unreachable!()
    };
    assert_eq!(
        (action.as_str(), input),
        ("core.echo", &json!({"message": "hello world"}))
    );
    let Command::StartAction { input, .. } = &d.starts[1] else {
        unreachable!()
    };
    assert_eq!(
        input,
        &json!({"n": 42}),
        "publish sees the earlier publish of the same list"
    );
    let (status, output, errors) = finish_of(&d);
    assert_eq!(status, RunStatus::Succeeded);
    assert!(errors.is_empty());
    assert_eq!(
        output,
        Some(json!({"msg": "hello world", "doubled": 42, "b_status": "succeeded"}))
    );
}

#[test]
fn input_rules_required_unknown_and_given_values_are_data() {
    let wf = Arc::new(parse_workflow("t", SEQUENCE).expect("parses"));
    let missing = Machine::new(wf.clone(), "r", Map::new());
    assert!(
        matches!(missing, Err(RunError::MissingInput { ref name }) if name == "name"),
        "{missing:?}"
    );
    let mut extra = Map::new();
    extra.insert("name".into(), json!("x"));
    extra.insert("nmae".into(), json!("x"));
    assert!(
        matches!(Machine::new(wf.clone(), "r", extra), Err(RunError::UnknownInput { ref name, .. }) if name == "nmae")
    );
    // A given input that looks like an expression stays text.
    let mut m = machine(SEQUENCE, json!({"name": "<% ctx().greeting %>"}));
    assert_eq!(m.context()["msg"], json!("hello <% ctx().greeting %>"));
    let d = drive(&mut m, |_, _, _, _| Reply::Ok(json!({"n": 1})));
    assert_eq!(
        finish_of(&d).1.expect("output")["msg"],
        json!("hello <% ctx().greeting %>")
    );
}

// ---------------------------------------------------------------------------------------------
// Branches and joins.

const JOIN_ALL: &str = r#"
tasks:
  setup:
    next:
      - do: [p1, p2, p3]
  p1:
    action: x.one
    next: [{ when: <% succeeded() %>, publish: [{ a: 1 }], do: barrier }]
  p2:
    action: x.two
    next: [{ when: <% succeeded() %>, do: mid }]
  mid:
    action: x.mid
    next: [{ when: <% succeeded() %>, publish: [{ b: 2 }], do: barrier }]
  p3:
    action: x.three
    next: [{ when: <% succeeded() %>, do: barrier }]
  barrier:
    join: all
    action: x.join
    input: { sum: <% ctx().a + ctx().b %> }
"#;

#[test]
fn parallel_branches_start_in_order_and_join_all_waits_for_every_branch() {
    let mut m = machine(JOIN_ALL, json!({}));
    let d = drive(&mut m, ok_all);
    assert_eq!(
        d.trace,
        strs(&[
            "start p1#1",
            "start p2#1",
            "start p3#1",
            "start mid#1",
            "start barrier#1",
            "finish succeeded"
        ])
    );
    let Command::StartAction { input, .. } = &d.starts[4] else {
        unreachable!()
    };
    assert_eq!(input, &json!({"sum": 3}));
}

#[test]
fn join_all_does_not_start_before_the_last_branch() {
    let mut m = machine(JOIN_ALL, json!({}));
    let first: Vec<String> = m.start().iter().map(show).collect();
    assert_eq!(first, strs(&["start p1#1", "start p2#1", "start p3#1"]));
    assert!(succeed(&mut m, "p1", None, 1, json!({})).is_empty());
    assert!(succeed(&mut m, "p3", None, 1, json!({})).is_empty());
    assert_eq!(
        succeed(&mut m, "p2", None, 1, json!({})),
        strs(&["start mid#1"])
    );
    assert_eq!(
        succeed(&mut m, "mid", None, 1, json!({})),
        strs(&["start barrier#1"])
    );
}

#[test]
fn join_count_runs_once_after_n_branches_and_absorbs_the_rest() {
    let yaml = r#"
tasks:
  setup: { next: [{ do: [p1, p2, p3] }] }
  p1: { action: x.a, next: [{ when: <% succeeded() %>, do: barrier }] }
  p2: { action: x.a, next: [{ when: <% succeeded() %>, do: barrier }] }
  p3: { action: x.a, next: [{ when: <% succeeded() %>, do: barrier }] }
  barrier: { join: 2, action: x.b }
"#;
    let mut m = machine(yaml, json!({}));
    m.start();
    assert!(succeed(&mut m, "p2", None, 1, json!({})).is_empty());
    assert_eq!(
        succeed(&mut m, "p3", None, 1, json!({})),
        strs(&["start barrier#1"])
    );
    assert!(
        succeed(&mut m, "p1", None, 1, json!({})).is_empty(),
        "third arrival is absorbed"
    );
    assert_eq!(
        succeed(&mut m, "barrier", None, 1, json!({})),
        strs(&["finish succeeded"])
    );
}

/// Two branches that each name the join in two true transitions (`succeeded()` and
/// `completed()`), the shape of Orquesta's `join-all-complex` / `join-count-complex`.
const JOIN_TWICE: &str = r#"
tasks:
  setup: { next: [{ do: [p1, p2, p3] }] }
  p1:
    action: x.a
    next:
      - { when: <% succeeded() %>, do: barrier }
      - { when: <% completed() %>, do: barrier }
  p2:
    action: x.a
    next:
      - { when: <% succeeded() %>, do: barrier }
      - { when: <% completed() %>, do: barrier }
  p3:
    action: x.a
    next:
      - { when: <% completed() %>, do: barrier }
  barrier: { join: JOIN, action: x.b }
"#;

#[test]
fn an_execution_naming_a_join_in_two_true_transitions_arrives_once() {
    // join: all — the last arrival closes the round; its second transition must not open a
    // new round that can never complete.
    let mut m = machine(&JOIN_TWICE.replace("JOIN", "all"), json!({}));
    let d = drive(&mut m, ok_all);
    assert_eq!(
        d.trace,
        strs(&[
            "start p1#1",
            "start p2#1",
            "start p3#1",
            "start barrier#1",
            "finish succeeded"
        ])
    );
    // join: 2 — runs once after two branches; neither second transitions nor the third branch
    // start it again.
    let mut m = machine(&JOIN_TWICE.replace("JOIN", "2"), json!({}));
    m.start();
    assert!(succeed(&mut m, "p1", None, 1, json!({})).is_empty());
    assert_eq!(
        succeed(&mut m, "p2", None, 1, json!({})),
        strs(&["start barrier#1"])
    );
    assert!(succeed(&mut m, "p3", None, 1, json!({})).is_empty());
    assert_eq!(
        succeed(&mut m, "barrier", None, 1, json!({})),
        strs(&["finish succeeded"])
    );
}

#[test]
fn a_join_in_a_cycle_opens_a_new_round_for_a_new_execution() {
    let yaml = r#"
input: [{ rounds: 2 }]
vars: [{ n: 0 }]
tasks:
  init: { next: [{ do: start }] }
  start: { next: [{ do: [a, b] }] }
  a: { action: x.a, next: [{ do: j }, { when: <% completed() %>, do: j }] }
  b: { action: x.b, next: [{ do: j }] }
  j:
    join: all
    action: x.j
    next:
      - when: <% ctx().n + 1 < ctx().rounds %>
        publish: [{ n: <% ctx().n + 1 %> }]
        do: start
"#;
    let mut m = machine(yaml, json!({}));
    let d = drive(&mut m, ok_all);
    assert_eq!(
        d.trace,
        strs(&[
            "start a#1",
            "start b#1",
            "start j#1",
            "start a#2",
            "start b#2",
            "start j#2",
            "finish succeeded"
        ])
    );
}

#[test]
fn task_named_twice_without_join_runs_once_per_arrival() {
    let yaml = r#"
tasks:
  a: { action: x.a, next: [{ do: log }] }
  b: { action: x.b, next: [{ do: log }] }
  log: { action: core.echo }
"#;
    let mut m = machine(yaml, json!({}));
    let d = drive(&mut m, ok_all);
    assert_eq!(
        d.trace,
        strs(&[
            "start a#1",
            "start b#1",
            "start log#1",
            "start log#2",
            "finish succeeded"
        ])
    );
}

#[test]
fn join_reached_by_only_some_branches_fails_the_run() {
    let yaml = r#"
tasks:
  a: { action: x.a, next: [{ when: <% succeeded() %>, do: j }, { when: <% failed() %>, do: noop }] }
  b: { action: x.b, next: [{ when: <% succeeded() %>, do: j }] }
  j: { join: all, action: x.j }
"#;
    let mut m = machine(yaml, json!({}));
    let d = drive(&mut m, |task, _, _, _| {
        if task == "a" {
            Reply::Fail(json!({"message": "no"}))
        } else {
            Reply::Ok(json!({}))
        }
    });
    assert_eq!(d.trace, strs(&["start a#1", "start b#1", "finish failed"]));
    let (_, _, errors) = finish_of(&d);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["kind"], "join");
    assert!(
        errors[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("`j`"))
    );
}

// ---------------------------------------------------------------------------------------------
// Routing tasks.

#[test]
fn routing_tasks_complete_at_once_without_commands() {
    let yaml = r#"
vars: [{ mode: fast }]
tasks:
  route:
    next:
      - when: <% ctx().mode = 'fast' %>
        publish: [{ picked: fast }]
        do: fast
      - when: <% ctx().mode != 'fast' %>
        do: slow
  fast: { next: [{ do: done }] }
  slow: { action: x.slow }
  done: { action: x.done, input: { picked: <% ctx().picked %>, route: <% task('route').status %> } }
"#;
    let mut m = machine(yaml, json!({}));
    let d = drive(&mut m, ok_all);
    assert_eq!(d.trace, strs(&["start done#1", "finish succeeded"]));
    let Command::StartAction { input, .. } = &d.starts[0] else {
        unreachable!()
    };
    assert_eq!(input, &json!({"picked": "fast", "route": "succeeded"}));

    let only_routing = machine("tasks:\n  a: { next: [{ do: b }] }\n  b: {}\n", json!({}));
    let mut only_routing = only_routing;
    assert_eq!(
        only_routing.start().iter().map(show).collect::<Vec<_>>(),
        strs(&["finish succeeded"])
    );
}

// ---------------------------------------------------------------------------------------------
// With items.

const ITEMS: &str = r#"
input: [hosts]
tasks:
  each:
    action: x.ping
    with:
      items: h in <% ctx().hosts %>
      concurrency: 2
    input: { host: <% item('h') %>, all: <% item() %> }
    next:
      - when: <% succeeded() %>
        publish: [{ results: <% result() %> }]
output:
  - results: <% ctx().results %>
"#;

#[test]
fn with_items_respects_concurrency_and_keeps_item_order() {
    let mut m = machine(ITEMS, json!({"hosts": ["a", "b", "c", "d"]}));
    let first = m.start();
    assert_eq!(
        first.iter().map(show).collect::<Vec<_>>(),
        strs(&["start each#1[0]", "start each#1[1]"])
    );
    let Command::StartAction {
        input,
        idempotency_key,
        ..
    } = &first[1]
    else {
        unreachable!()
    };
    assert_eq!(input, &json!({"host": "b", "all": {"h": "b"}}));
    assert_eq!(idempotency_key, "run1:each#1:1");
    // Item 1 finishes first: item 2 takes its slot; never more than two outstanding.
    assert_eq!(
        succeed(&mut m, "each", Some(1), 1, json!("B")),
        strs(&["start each#1[2]"])
    );
    assert_eq!(m.outstanding().len(), 2);
    assert_eq!(
        succeed(&mut m, "each", Some(0), 1, json!("A")),
        strs(&["start each#1[3]"])
    );
    assert!(succeed(&mut m, "each", Some(3), 1, json!("D")).is_empty());
    assert_eq!(
        succeed(&mut m, "each", Some(2), 1, json!("C")),
        strs(&["finish succeeded"])
    );
    assert_eq!(m.output(), Some(&json!({"results": ["A", "B", "C", "D"]})));
}

#[test]
fn with_items_failure_stops_new_items_and_fails_after_running_ones() {
    let mut m = machine(ITEMS, json!({"hosts": ["a", "b", "c", "d"]}));
    m.start();
    assert!(
        fail(&mut m, "each", Some(0), 1, json!({"message": "down"})).is_empty(),
        "no new item after a failure"
    );
    assert_eq!(m.status(), RunStatus::Running);
    let end = succeed(&mut m, "each", Some(1), 1, json!("B"));
    assert_eq!(end, strs(&["finish failed"]));
    let views = m.executions();
    assert_eq!(
        views[0].result,
        Some(json!([{"error": {"message": "down"}}, "B", null, null]))
    );
    assert_eq!(m.errors()[0]["kind"], "task_failed");
}

#[test]
fn with_items_continue_runs_every_item_and_succeeds_with_errors_in_result() {
    let yaml = ITEMS.replace(
        "concurrency: 2",
        "concurrency: 2\n      on_item_failure: continue",
    );
    let mut m = machine(&yaml, json!({"hosts": ["a", "b", "c"]}));
    let d = drive(&mut m, |_, item, _, input| {
        if item == Some(1) {
            Reply::Fail(json!({"message": "down"}))
        } else {
            Reply::Ok(input["host"].clone())
        }
    });
    assert_eq!(
        d.trace,
        strs(&[
            "start each#1[0]",
            "start each#1[1]",
            "start each#1[2]",
            "finish succeeded"
        ])
    );
    assert_eq!(
        finish_of(&d).1,
        Some(json!({"results": ["a", {"error": {"message": "down"}}, "c"]}))
    );
}

#[test]
fn with_items_over_empty_list_succeeds_with_empty_result() {
    let mut m = machine(ITEMS, json!({"hosts": []}));
    let d = drive(&mut m, ok_all);
    assert_eq!(d.trace, strs(&["finish succeeded"]));
    assert_eq!(finish_of(&d).1, Some(json!({"results": []})));
}

#[test]
fn with_items_plain_form_and_zip() {
    let yaml = r#"
input: [hosts, cmds]
tasks:
  plain:
    action: x.a
    with: <% ctx().hosts %>
    input: { h: <% item() %> }
  zipped:
    action: x.b
    with: host, cmd in <% zip(ctx().hosts, ctx().cmds) %>
    input: { line: "<% item('host') %>: <% item('cmd') %>" }
"#;
    let mut m = machine(
        yaml,
        json!({"hosts": ["r1", "r2"], "cmds": ["show ver", "show run"]}),
    );
    let inputs: Vec<Value> = m
        .start()
        .into_iter()
        .filter_map(|c| match c {
            Command::StartAction { input, .. } => Some(input),
            _ => None,
        })
        .collect();
    assert_eq!(
        inputs,
        vec![
            json!({"h": "r1"}),
            json!({"h": "r2"}),
            json!({"line": "r1: show ver"}),
            json!({"line": "r2: show run"})
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Retry.

const RETRY: &str = r#"
tasks:
  flaky:
    action: x.flaky
    timeout: 30
    retry:
      count: 4
      delay: 1
      backoff: { factor: 2, max_delay: 3 }
    next:
      - when: <% succeeded() %>
        publish: [{ got: <% result() %> }]
output:
  - got: <% ctx().got %>
"#;

#[test]
fn retry_backs_off_with_cap_and_keeps_the_idempotency_key() {
    let mut m = machine(RETRY, json!({}));
    let d = drive(&mut m, |_, _, attempt, _| {
        if attempt < 5 {
            Reply::Fail(json!({"message": "busy"}))
        } else {
            Reply::Ok(json!("done"))
        }
    });
    assert_eq!(
        d.trace,
        strs(&[
            "start flaky#1",
            "timer flaky#1@2 1",
            "start flaky#1@2",
            "timer flaky#1@3 2",
            "start flaky#1@3",
            "timer flaky#1@4 3",
            "start flaky#1@4",
            "timer flaky#1@5 3",
            "start flaky#1@5",
            "finish succeeded",
        ])
    );
    let keys: Vec<&str> = d
        .starts
        .iter()
        .filter_map(|c| match c {
            Command::StartAction {
                idempotency_key,
                timeout_secs,
                ..
            } => {
                assert_eq!(*timeout_secs, Some(30.0));
                Some(idempotency_key.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(keys, vec!["run1:flaky#1"; 5]);
    assert_eq!(finish_of(&d).1, Some(json!({"got": "done"})));
}

#[test]
fn retry_exhausted_fails_the_run_with_the_last_error() {
    let mut m = machine(&RETRY.replace("count: 4", "count: 1"), json!({}));
    let d = drive(&mut m, |_, _, attempt, _| {
        Reply::Fail(json!({"message": format!("busy {attempt}")}))
    });
    assert_eq!(
        d.trace,
        strs(&[
            "start flaky#1",
            "timer flaky#1@2 1",
            "start flaky#1@2",
            "finish failed"
        ])
    );
    let (_, output, errors) = finish_of(&d);
    assert_eq!(errors[0]["error"], json!({"message": "busy 2"}));
    // Output is rendered on failure as far as it can be: `got` was never published.
    assert_eq!(output, Some(json!({})));
    assert_eq!(
        errors.len(),
        2,
        "the output error is recorded too: {errors:?}"
    );
}

#[test]
fn retry_skips_non_retryable_errors_but_retries_timeouts() {
    let yaml = "tasks:\n  t:\n    action: x.t\n    retry: { count: 2 }\n";
    let mut m = machine(yaml, json!({}));
    let d = drive(&mut m, |_, _, _, _| {
        Reply::Fail(json!({"code": "bad_input", "retryable": false}))
    });
    assert_eq!(d.trace, strs(&["start t#1", "finish failed"]));
    let mut m = machine(yaml, json!({}));
    let d = drive(&mut m, |_, _, attempt, _| {
        if attempt == 1 {
            Reply::Timeout
        } else {
            Reply::Ok(json!(1))
        }
    });
    assert_eq!(
        d.trace,
        strs(&["start t#1", "start t#1@2", "finish succeeded"])
    );
}

#[test]
fn retry_when_is_evaluated_on_the_result_even_on_success() {
    let yaml = r#"
tasks:
  http:
    action: x.http
    retry:
      count: 3
      when: <% result().status_code != 200 %>
    next:
      - when: <% result().status_code = 200 %>
        do: after
  after: { action: x.after }
"#;
    let mut m = machine(yaml, json!({}));
    let d = drive(&mut m, |task, _, attempt, _| match (task, attempt) {
        ("http", 1 | 2) => Reply::Ok(json!({"status_code": 503})),
        _ => Reply::Ok(json!({"status_code": 200})),
    });
    assert_eq!(
        d.trace,
        strs(&[
            "start http#1",
            "start http#1@2",
            "start http#1@3",
            "start after#1",
            "finish succeeded"
        ])
    );
}

#[test]
fn retry_applies_per_item_in_a_fan_out() {
    let yaml = "tasks:\n  t:\n    action: x.t\n    with: <% [1, 2] %>\n    retry: { count: 1, delay: 5 }\n";
    let mut m = machine(yaml, json!({}));
    let d = drive(&mut m, |_, item, attempt, _| {
        if item == Some(1) && attempt == 1 {
            Reply::Fail(json!({}))
        } else {
            Reply::Ok(json!(1))
        }
    });
    assert_eq!(
        d.trace,
        strs(&[
            "start t#1[0]",
            "start t#1[1]",
            "timer t#1[1]@2 5",
            "start t#1[1]@2",
            "finish succeeded"
        ])
    );
}

// ---------------------------------------------------------------------------------------------
// Engine commands and failure handling.

#[test]
fn fail_command_fails_the_run_but_runs_remediation_named_beside_it() {
    let yaml = r#"
tasks:
  post:
    action: x.post
    next:
      - when: <% succeeded() %>
        do: log
      - when: <% failed() %>
        publish: [{ msg: "failed: <% result().message %>" }]
        do: [log, fail]
  log:
    action: core.echo
    input: { message: <% ctx().msg %> }
    next: [{ do: never }]
  never: { action: x.never }
"#;
    let mut m = machine(yaml, json!({}));
    let d = drive(&mut m, |task, _, _, _| {
        if task == "post" {
            Reply::Fail(json!({"message": "503"}))
        } else {
            Reply::Ok(json!(null))
        }
    });
    assert_eq!(
        d.trace,
        strs(&["start post#1", "start log#1", "finish failed"]),
        "log runs; what follows it does not"
    );
    let Command::StartAction { input, .. } = &d.starts[1] else {
        unreachable!()
    };
    assert_eq!(input, &json!({"message": "failed: 503"}));
    assert_eq!(finish_of(&d).2[0]["kind"], "fail_command");
}

#[test]
fn noop_handles_a_failure_and_continue_does_not() {
    let yaml = r#"
vars: [{ stderr: null }]
tasks:
  t:
    action: x.t
    next:
      - when: <% failed() %>
        publish: [{ stderr: <% result().message %> }]
        do: noop
output:
  - stderr: <% ctx().stderr %>
"#;
    let mut m = machine(yaml, json!({}));
    let d = drive(&mut m, |_, _, _, _| Reply::Fail(json!({"message": "boom"})));
    assert_eq!(finish_of(&d).0, RunStatus::Succeeded);
    assert_eq!(finish_of(&d).1, Some(json!({"stderr": "boom"})));

    for tail in ["do: continue", ""] {
        let mut m = machine(&yaml.replace("do: noop", tail), json!({}));
        let d = drive(&mut m, |_, _, _, _| Reply::Fail(json!({"message": "boom"})));
        let (status, output, _) = finish_of(&d);
        assert_eq!(status, RunStatus::Failed, "with `{tail}`");
        assert_eq!(
            output,
            Some(json!({"stderr": "boom"})),
            "publish still ran with `{tail}`"
        );
    }
}

#[test]
fn retry_command_reruns_the_task_at_most_three_times() {
    let yaml = r#"
tasks:
  t:
    action: x.t
    next:
      - when: <% failed() %>
        do: retry
"#;
    let mut m = machine(yaml, json!({}));
    let d = drive(&mut m, |_, _, _, _| Reply::Fail(json!({"message": "no"})));
    assert_eq!(
        d.trace,
        strs(&[
            "start t#1",
            "start t#1@2",
            "start t#1@3",
            "start t#1@4",
            "finish failed"
        ])
    );
    let mut m = machine(yaml, json!({}));
    let d = drive(&mut m, |_, _, attempt, _| {
        if attempt < 3 {
            Reply::Fail(json!({}))
        } else {
            Reply::Ok(json!({}))
        }
    });
    assert_eq!(
        d.trace,
        strs(&[
            "start t#1",
            "start t#1@2",
            "start t#1@3",
            "finish succeeded"
        ])
    );
}

#[test]
fn unhandled_failure_waits_for_running_branches_and_starts_nothing_new() {
    let yaml = r#"
tasks:
  bad: { action: x.bad, next: [{ when: <% succeeded() %>, do: never }] }
  slow: { action: x.slow, next: [{ do: after_slow }] }
  after_slow: { action: x.after }
  never: { action: x.never }
"#;
    let mut m = machine(yaml, json!({}));
    m.start();
    assert!(
        fail(&mut m, "bad", None, 1, json!({"message": "x"})).is_empty(),
        "run waits for `slow`"
    );
    assert_eq!(m.status(), RunStatus::Failing);
    assert_eq!(
        succeed(&mut m, "slow", None, 1, json!({})),
        strs(&["finish failed"]),
        "after_slow never starts"
    );
    assert_eq!(m.errors()[0]["task"], "bad");
}

#[test]
fn failing_run_drops_pending_delays_and_retry_timers() {
    let yaml = r#"
tasks:
  bad: { action: x.bad }
  later: { action: x.later, delay: 10 }
  flaky: { action: x.flaky, retry: { count: 3, delay: 5 } }
"#;
    let mut m = machine(yaml, json!({}));
    let first: Vec<String> = m.start().iter().map(show).collect();
    assert_eq!(
        first,
        strs(&["start bad#1", "timer later#1@1 10", "start flaky#1"])
    );
    assert_eq!(
        fail(&mut m, "flaky", None, 1, json!({})),
        strs(&["timer flaky#1@2 5"])
    );
    assert_eq!(
        fail(&mut m, "bad", None, 1, json!({})),
        strs(&["finish failed"])
    );
    // A timer that races with the failure is accepted and ignored.
    let late = m.handle(Event::TimerFired {
        timer: TimerId {
            exec: id("later", 1),
            item: None,
            attempt: 1,
        },
    });
    assert_eq!(late, Ok(vec![]));
}

#[test]
fn cancel_waits_for_running_actions_then_finishes_canceled() {
    let yaml = "tasks:\n  a: { action: x.a, next: [{ do: b }] }\n  b: { action: x.b }\n  c: { action: x.c, delay: 5 }\n";
    let mut m = machine(yaml, json!({}));
    m.start();
    assert!(m.handle(Event::CancelRequested).expect("cancel").is_empty());
    assert_eq!(m.status(), RunStatus::Canceling);
    assert_eq!(
        m.outstanding().iter().map(show).collect::<Vec<_>>(),
        strs(&["start a#1"]),
        "the delay timer is dropped"
    );
    assert_eq!(
        succeed(&mut m, "a", None, 1, json!({})),
        strs(&["finish canceled"]),
        "b does not start"
    );
}

// ---------------------------------------------------------------------------------------------
// Expressions.

#[test]
fn typed_expressions_keep_types_and_text_renders_strings() {
    let yaml = r#"
input: [xs]
tasks:
  t:
    action: x.t
    input:
      list: <% ctx().xs %>
      map: "<% {'a' => ctx().xs[0]} %>"
      num: <% len(ctx().xs) %>
      bool: <% $.xs.len() > 1 %>
      none: <% null %>
      braces: "{{ ctx().xs[1] }}"
      jinja_num: "{{ ctx().xs | length }}"
      jinja_map: "{{ {'a': ctx().xs[0]} }}"
      text: "n=<% len(ctx(xs)) %> xs=<% ctx().xs %> m=<% {a => 1.0, b => null, c => true} %>"
      jinja_text: "n={{ ctx().xs | length }} xs={{ ctx().xs }} s={{ [\"it's\"] }}"
      nested:
        - 1
        - <% ctx().xs[0] %>
        - deep: "{{ ctx().xs[1] * 10 }}"
      literal: 7
      quoted: "<% 1 %>"
      quoted_text: "007"
"#;
    let mut m = machine(yaml, json!({"xs": [1, 2]}));
    let cmds = m.start();
    let Command::StartAction { input, .. } = &cmds[0] else {
        panic!("{cmds:?}")
    };
    assert_eq!(
        input,
        &json!({
            "list": [1, 2], "map": {"a": 1}, "num": 2, "bool": true, "none": null, "braces": 2,
            "jinja_num": 2, "jinja_map": {"a": 1},
            // Text around an expression is Orquesta's interpolation: Python's str() of the value.
            "text": "n=2 xs=[1, 2] m={'a': 1.0, 'b': None, 'c': True}",
            "jinja_text": "n=2 xs=[1, 2] s=[\"it's\"]",
            "nested": [1, 1, {"deep": 20}], "literal": 7,
            "quoted": 1, "quoted_text": "007"
        })
    );
}

#[test]
fn data_from_results_is_never_evaluated() {
    let yaml = r#"
vars: [{ secret: hunter2 }]
tasks:
  a:
    action: x.a
    next: [{ publish: [{ got: <% result() %> }], do: b }]
  b:
    action: x.b
    input: { echo: <% ctx().got %>, text: "got <% ctx().got.v %>" }
"#;
    let mut m = machine(yaml, json!({}));
    let d = drive(&mut m, |task, _, _, _| {
        if task == "a" {
            Reply::Ok(json!({"v": "<% ctx().secret %>"}))
        } else {
            Reply::Ok(json!(null))
        }
    });
    let Command::StartAction { input, .. } = &d.starts[1] else {
        unreachable!()
    };
    assert_eq!(
        input,
        &json!({"echo": {"v": "<% ctx().secret %>"}, "text": "got <% ctx().secret %>"})
    );
}

#[test]
fn ctx_by_name_and_task_lookup() {
    let yaml = r#"
input: [n]
tasks:
  a:
    action: x.a
    next: [{ do: b }]
  b:
    action: x.b
    input:
      n: <% ctx('n') %>
      a_result: <% task('a').result.v %>
      a_status: <% task('a').status %>
      b_before: <% task('b').status %>
"#;
    let mut m = machine(yaml, json!({"n": 5}));
    let d = drive(&mut m, |_, _, _, _| Reply::Ok(json!({"v": 9})));
    let Command::StartAction { input, .. } = &d.starts[1] else {
        unreachable!()
    };
    assert_eq!(
        input,
        &json!({"n": 5, "a_result": 9, "a_status": "succeeded", "b_before": "not_run"})
    );
}

#[test]
fn expression_error_at_run_time_fails_the_run_naming_expression_and_site() {
    let yaml = "tasks:\n  a:\n    action: x.a\n    next: [{ publish: [{ v: <% result().missing.deeper %> }] }]\n";
    let mut m = machine(yaml, json!({}));
    let d = drive(&mut m, ok_all);
    let (status, _, errors) = finish_of(&d);
    assert_eq!(status, RunStatus::Failed);
    assert_eq!(errors[0]["kind"], "expression");
    assert_eq!(errors[0]["expression"], "<% result().missing.deeper %>");
    let msg = errors[0]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("task `a` next[0].publish.v") && msg.contains("line 4"),
        "{msg}"
    );
}

#[test]
fn vars_error_is_reported_at_creation() {
    let wf = Arc::new(
        parse_workflow(
            "t",
            "vars: [{ a: <% ctx().nope %> }]\ntasks:\n  a: { action: x.a }\n",
        )
        .expect("parses"),
    );
    match Machine::new(wf, "r", Map::new()) {
        Err(RunError::Expression(e)) => {
            assert_eq!(e.site, "vars `a`");
            assert_eq!(e.expression, "<% ctx().nope %>");
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Delay, contract errors.

#[test]
fn delay_starts_a_timer_then_the_action() {
    let mut m = machine("tasks:\n  t: { action: x.t, delay: 2.5 }\n", json!({}));
    let d = drive(&mut m, ok_all);
    assert_eq!(
        d.trace,
        strs(&["timer t#1@1 2.5", "start t#1", "finish succeeded"])
    );
}

#[test]
fn events_that_do_not_fit_are_refused_without_changing_anything() {
    let mut m = machine(RETRY, json!({}));
    assert_eq!(
        m.handle(Event::CancelRequested),
        Err(MachineError::NotStarted)
    );
    m.start();
    let before = serde_json::to_value(&m).expect("serializes");
    let stale = m.handle(Event::ActionSucceeded {
        exec: id("flaky", 1),
        item: None,
        attempt: 2,
        result: json!(1),
    });
    assert!(
        matches!(stale, Err(MachineError::Unexpected { .. })),
        "{stale:?}"
    );
    let unknown = m.handle(Event::ActionSucceeded {
        exec: id("flaky", 2),
        item: None,
        attempt: 1,
        result: json!(1),
    });
    assert_eq!(unknown, Err(MachineError::UnknownExec(id("flaky", 2))));
    let with_item = m.handle(Event::ActionSucceeded {
        exec: id("flaky", 1),
        item: Some(0),
        attempt: 1,
        result: json!(1),
    });
    assert!(matches!(with_item, Err(MachineError::Unexpected { .. })));
    assert_eq!(serde_json::to_value(&m).expect("serializes"), before);
    assert_eq!(
        succeed(&mut m, "flaky", None, 1, json!(1)),
        strs(&["finish succeeded"])
    );
    let after = m.handle(Event::ActionSucceeded {
        exec: id("flaky", 1),
        item: None,
        attempt: 1,
        result: json!(1),
    });
    assert_eq!(after, Err(MachineError::Finished("succeeded")));
}

// ---------------------------------------------------------------------------------------------
// Replay and resume.

const BIG: &str = r#"
input: [hosts]
tasks:
  init:
    action: x.init
    next: [{ when: <% succeeded() %>, publish: [{ n: 0 }], do: [fan, side] }]
  fan:
    action: x.ping
    with: { items: <% ctx().hosts %>, concurrency: 2 }
    retry: { count: 1, delay: 1 }
    input: { host: <% item() %> }
    next: [{ when: <% succeeded() %>, publish: [{ pings: <% result() %> }], do: join }]
  side:
    action: x.side
    delay: 3
    next: [{ when: <% succeeded() %>, do: loop }]
  loop:
    action: x.loop
    next:
      - when: <% ctx().n < 2 %>
        publish: [{ n: <% ctx().n + 1 %> }]
        do: loop
      - when: <% ctx().n >= 2 %>
        do: join
  join:
    join: all
    action: x.join
output:
  - pings: <% ctx().pings %>
  - n: <% ctx().n %>
"#;

fn big_reply(task: &str, item: Option<usize>, attempt: u32, input: &Value) -> Reply {
    match (task, item, attempt) {
        ("fan", Some(1), 1) => Reply::Fail(json!({"message": "flap"})),
        ("fan", _, _) => Reply::Ok(json!({"host": input["host"]})),
        _ => Reply::Ok(json!({})),
    }
}

#[test]
fn replaying_the_same_events_gives_the_same_commands_and_outstanding_is_right() {
    let hosts = json!({"hosts": ["h0", "h1", "h2", "h3"]});
    let mut live = machine(BIG, hosts.clone());
    let d = drive(&mut live, big_reply);
    let (status, output, errors) = finish_of(&d);
    assert_eq!(status, RunStatus::Succeeded, "{:?} {errors:?}", d.trace);
    assert_eq!(
        output,
        Some(
            json!({"pings": [{"host": "h0"}, {"host": "h1"}, {"host": "h2"}, {"host": "h3"}], "n": 2})
        )
    );
    assert!(
        d.trace.contains(&"start loop#3".to_string()),
        "{:?}",
        d.trace
    );

    // The full command stream, as the live run produced it.
    let mut replayed = machine(BIG, hosts.clone());
    let mut all: Vec<Command> = replayed.start();
    for e in &d.events {
        all.extend(replayed.handle(e.clone()).expect("replays"));
    }
    assert_eq!(all.iter().map(show).collect::<Vec<_>>(), d.trace);

    // After every prefix, `outstanding` is exactly what was commanded and not yet answered.
    for k in 0..=d.events.len() {
        let mut m = machine(BIG, hosts.clone());
        let mut issued: Vec<Command> = m.start();
        for e in &d.events[..k] {
            issued.extend(m.handle(e.clone()).expect("replays"));
        }
        let answered: Vec<String> = d.events[..k]
            .iter()
            .map(|e| match e {
                Event::ActionSucceeded {
                    exec,
                    item,
                    attempt,
                    ..
                }
                | Event::ActionFailed {
                    exec,
                    item,
                    attempt,
                    ..
                } => show(&Command::StartAction {
                    exec: exec.clone(),
                    task: exec.task.clone(),
                    item: *item,
                    attempt: *attempt,
                    action: String::new(),
                    input: Value::Null,
                    placement: None,
                    timeout_secs: None,
                    idempotency_key: String::new(),
                }),
                Event::TimerFired { timer } => format!("timer {timer}"),
                Event::CancelRequested | Event::RerunRequested { .. } => String::new(),
            })
            .collect();
        let mut expected: Vec<String> = issued
            .iter()
            .filter(|c| !matches!(c, Command::Finish { .. }))
            .map(show)
            .filter(|s| {
                !answered
                    .iter()
                    .any(|a| a == s || (a.starts_with("timer ") && s.starts_with(&format!("{a} "))))
            })
            .collect();
        let mut got: Vec<String> = m.outstanding().iter().map(show).collect();
        expected.sort();
        got.sort();
        assert_eq!(got, expected, "after {k} events");
        // Outstanding commands carry the same details as when first issued.
        for c in m.outstanding() {
            assert!(
                issued.contains(&c),
                "outstanding {c:?} was never issued as such"
            );
        }
    }
}

#[test]
fn a_serialized_machine_resumes_where_it_was() {
    let hosts = json!({"hosts": ["h0", "h1", "h2"]});
    let mut live = machine(BIG, hosts.clone());
    let d = drive(&mut live, big_reply);
    let half = d.events.len() / 2;

    let mut m = machine(BIG, hosts);
    m.start();
    for e in &d.events[..half] {
        m.handle(e.clone()).expect("replays");
    }
    let snapshot = serde_json::to_string(&m).expect("serializes");
    let mut restored: Machine = serde_json::from_str(&snapshot).expect("deserializes");
    assert_eq!(restored.outstanding(), m.outstanding());
    for e in &d.events[half..] {
        let a = m.handle(e.clone()).expect("original continues");
        let b = restored.handle(e.clone()).expect("restored continues");
        assert_eq!(a, b);
    }
    assert_eq!(restored.status(), RunStatus::Succeeded);
    assert_eq!(restored.output(), live.output());
}

#[test]
fn cycles_get_new_occurrences_with_their_own_idempotency_keys() {
    let yaml = r#"
vars: [{ n: 0 }]
tasks:
  step:
    action: x.step
    next:
      - when: <% ctx().n < 2 %>
        publish: [{ n: <% ctx().n + 1 %> }]
        do: step
"#;
    let mut m = machine(yaml, json!({}));
    let d = drive(&mut m, ok_all);
    assert_eq!(
        d.trace,
        strs(&[
            "start step#1",
            "start step#2",
            "start step#3",
            "finish succeeded"
        ])
    );
    let keys: Vec<String> = d
        .starts
        .iter()
        .filter_map(|c| match c {
            Command::StartAction {
                idempotency_key, ..
            } => Some(idempotency_key.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(keys, vec!["run1:step#1", "run1:step#2", "run1:step#3"]);
}

#[test]
fn a_cycle_can_count_its_executions_with_the_task_occurrence() {
    let yaml = r#"
tasks:
  step:
    action: x.step
    input: { n: <% task('step').occurrence %> }
    next:
      - when: <% task('step').occurrence < 3 %>
        do: step
"#;
    let mut m = machine(yaml, json!({}));
    let d = drive(&mut m, ok_all);
    assert_eq!(
        d.trace,
        strs(&[
            "start step#1",
            "start step#2",
            "start step#3",
            "finish succeeded"
        ])
    );
    // In its input (rendered before it runs) a task sees the execution before it: 0, 1, 2.
    let seen: Vec<Value> = d
        .starts
        .iter()
        .filter_map(|c| match c {
            Command::StartAction { input, .. } => Some(input["n"].clone()),
            _ => None,
        })
        .collect();
    assert_eq!(seen, vec![json!(0), json!(1), json!(2)]);
}

// ---------------------------------------------------------------------------------------------
// Rerun (the cases of Orquesta's tests/unit/conducting/native/test_workflow_rerun.py, on
// workflows of the same shapes).

const SEQUENTIAL: &str = r#"
input: [name]
vars: [{ greeting: null }]
output: [{ greeting: <% ctx().greeting %> }]
tasks:
  task1:
    action: core.echo
    input: { message: <% ctx().name %> }
    next: [{ when: <% succeeded() %>, publish: [{ greeting: <% result() %> }], do: task2 }]
  task2:
    action: core.echo
    input: { message: "All your base are belong to us!" }
    next:
      - when: <% succeeded() %>
        publish: [{ greeting: "<% ctx().greeting %>, <% result() %>" }]
        do: task3
  task3:
    action: core.echo
    input: { message: <% ctx().greeting %> }
    next: [{ when: <% succeeded() %>, publish: [{ greeting: <% result() %> }] }]
"#;

const PARALLEL: &str = r#"
tasks:
  task1: { action: core.noop, next: [{ when: <% succeeded() %>, do: task2 }] }
  task2: { action: core.noop, next: [{ when: <% succeeded() %>, do: task3 }] }
  task3: { action: core.noop }
  task4: { action: core.noop, next: [{ when: <% succeeded() %>, do: task5 }] }
  task5: { action: core.noop, next: [{ when: <% succeeded() %>, do: task6 }] }
  task6: { action: core.noop }
"#;

fn rerun(m: &mut Machine, tasks: &[&str]) -> Result<Vec<Command>, MachineError> {
    m.handle(Event::RerunRequested {
        tasks: tasks.iter().map(|t| t.to_string()).collect(),
        definition: None,
    })
}

/// Replies `Fail` for the executions in `failing` (`task#occurrence`), else echoes the input's
/// message (or null).
fn failing<'a>(
    failing: &'a [&'a str],
) -> impl FnMut(&str, Option<usize>, u32, &Value) -> Reply + 'a {
    let mut seen: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    move |task, _, _, input| {
        let n = seen.entry(task.to_string()).or_insert(0);
        *n += 1;
        if failing.contains(&format!("{task}#{n}").as_str()) {
            Reply::Fail(json!({"code": "boom", "message": "failed on purpose"}))
        } else {
            Reply::Ok(input.get("message").cloned().unwrap_or(Value::Null))
        }
    }
}

#[test]
fn rerun_of_a_failed_task_goes_on_from_it_keeping_what_succeeded() {
    // test_basic: task2 fails; a rerun of task2 runs it again and the rest of the workflow.
    let mut m = machine(SEQUENTIAL, json!({"name": "Stanley"}));
    let first = drive(&mut m, failing(&["task2#1"]));
    assert_eq!(
        first.trace,
        strs(&["start task1#1", "start task2#1", "finish failed"])
    );
    let cmds = rerun(&mut m, &["task2"]).expect("rerun");
    let second = drive_from(&mut m, cmds, failing(&[]));
    assert_eq!(
        second.trace,
        strs(&["start task2#2", "start task3#1", "finish succeeded"])
    );
    let (status, output, errors) = finish_of(&second);
    assert_eq!(status, RunStatus::Succeeded);
    assert_eq!(
        output,
        Some(json!({"greeting": "Stanley, All your base are belong to us!"}))
    );
    assert!(errors.is_empty(), "the old failure is history: {errors:?}");
    assert_eq!(m.reruns(), 1);
}

#[test]
fn rerun_takes_the_transitions_the_failure_cut_short() {
    // test_fail_single_branch: task2 fails while the other branch finishes task5, whose next
    // task6 never starts. A rerun (failed tasks by default) that fails task2 again still runs
    // task6; a rerun of task2 that succeeds completes the workflow.
    let mut m = machine(PARALLEL, json!({}));
    let first = drive(&mut m, failing(&["task2#1"]));
    assert_eq!(
        first.trace,
        strs(&[
            "start task1#1",
            "start task4#1",
            "start task2#1",
            "start task5#1",
            "finish failed"
        ])
    );
    let cmds = rerun(&mut m, &[]).expect("rerun");
    let second = drive_from(&mut m, cmds, failing(&["task2#1"]));
    assert_eq!(
        second.trace,
        strs(&["start task2#2", "start task6#1", "finish failed"])
    );
    let cmds = rerun(&mut m, &["task2"]).expect("rerun");
    let third = drive_from(&mut m, cmds, failing(&[]));
    assert_eq!(
        third.trace,
        strs(&["start task2#3", "start task3#1", "finish succeeded"])
    );
}

#[test]
fn rerun_of_failed_branches_before_a_join_completes_the_join() {
    // test_fail_single_before_join, test_fail_multiple_branches.
    let yaml = r#"
tasks:
  task1: { action: core.noop, next: [{ when: <% succeeded() %>, do: [task2, task4] }] }
  task2: { action: core.noop, next: [{ when: <% succeeded() %>, do: task3 }] }
  task3: { action: core.noop, next: [{ when: <% succeeded() %>, do: task6 }] }
  task4: { action: core.noop, next: [{ when: <% succeeded() %>, do: task5 }] }
  task5: { action: core.noop, next: [{ when: <% succeeded() %>, do: task6 }] }
  task6: { join: all, action: core.noop, next: [{ when: <% succeeded() %>, do: task7 }] }
  task7: { action: core.noop }
"#;
    let mut m = machine(yaml, json!({}));
    let first = drive(&mut m, failing(&["task3#1"]));
    assert_eq!(
        first.trace,
        strs(&[
            "start task1#1",
            "start task2#1",
            "start task4#1",
            "start task3#1",
            "start task5#1",
            "finish failed"
        ])
    );
    let cmds = rerun(&mut m, &[]).expect("rerun");
    let second = drive_from(&mut m, cmds, failing(&[]));
    assert_eq!(
        second.trace,
        strs(&[
            "start task3#2",
            "start task6#1",
            "start task7#1",
            "finish succeeded"
        ])
    );
}

#[test]
fn rerun_is_refused_for_a_run_that_did_not_fail_or_for_tasks_that_did_not() {
    let mut m = machine(PARALLEL, json!({}));
    let done = drive(&mut m, ok_all);
    assert_eq!(finish_of(&done).0, RunStatus::Succeeded);
    let err = rerun(&mut m, &[]).unwrap_err().to_string();
    assert!(err.contains("only a failed or canceled run"), "{err}");

    let mut m = machine(PARALLEL, json!({}));
    drive(&mut m, failing(&["task2#1"]));
    let err = rerun(&mut m, &["task1"]).unwrap_err().to_string();
    assert!(
        err.contains("did not fail") && err.contains("task1#1"),
        "{err}"
    );
    let err = rerun(&mut m, &["nope"]).unwrap_err().to_string();
    assert!(err.contains("never ran"), "{err}");
    // A refused rerun changes nothing: the right one still works.
    assert!(rerun(&mut m, &["task2"]).is_ok());
}

#[test]
fn rerun_with_a_new_revision_goes_on_with_it_and_replays_the_same() {
    let mut m = machine(SEQUENTIAL, json!({"name": "Stanley"}));
    let first = drive(&mut m, failing(&["task2#1"]));
    let revised = SEQUENTIAL.replace("All your base are belong to us!", "Hello again");
    let event = Event::RerunRequested {
        tasks: vec!["task2".into()],
        definition: Some(revised.clone()),
    };
    let cmds = m.handle(event.clone()).expect("rerun");
    let second = drive_from(&mut m, cmds, failing(&[]));
    assert_eq!(
        finish_of(&second).1,
        Some(json!({"greeting": "Stanley, Hello again"}))
    );
    // Replay: the journal (first run's events, the rerun event, the second's) rebuilds it.
    let mut again = machine(SEQUENTIAL, json!({"name": "Stanley"}));
    again.start();
    for e in first
        .events
        .iter()
        .chain([&event])
        .chain(second.events.iter())
    {
        again.handle(e.clone()).expect("replayed");
    }
    assert_eq!(again.status(), RunStatus::Succeeded);
    assert_eq!(again.output(), m.output());
    // A revision without a task the run executed is refused.
    let mut m = machine(SEQUENTIAL, json!({"name": "Stanley"}));
    drive(&mut m, failing(&["task2#1"]));
    let err = m
        .handle(Event::RerunRequested {
            tasks: vec![],
            definition: Some("tasks:\n  other: { action: core.noop }\n".to_owned()),
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("has no task `task1`"), "{err}");
}

#[test]
fn machine_is_send_and_sync_for_async_drivers() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Machine>();
    check::<orch_workflow::Workflow>();
}

#[test]
fn every_when_sees_the_context_from_before_this_completions_publishes() {
    let yaml = r#"
vars: [{ n: 0 }]
tasks:
  a:
    action: x.a
    next:
      - publish: [{ n: 1 }]
        do: b
      - when: <% ctx().n = 1 %>
        do: c
  b: { action: x.b }
  c: { action: x.c }
"#;
    let mut m = machine(yaml, json!({}));
    let d = drive(&mut m, ok_all);
    assert_eq!(
        d.trace,
        strs(&["start a#1", "start b#1", "finish succeeded"])
    );
}

#[test]
fn failing_run_completes_a_fan_out_whose_items_wait_for_retry() {
    let yaml = r#"
tasks:
  bad: { action: x.bad }
  fan:
    action: x.fan
    with: { items: "<% [1, 2, 3, 4] %>", concurrency: 2 }
    retry: { count: 2, delay: 5 }
"#;
    let mut m = machine(yaml, json!({}));
    let first: Vec<String> = m.start().iter().map(show).collect();
    assert_eq!(
        first,
        strs(&["start bad#1", "start fan#1[0]", "start fan#1[1]"])
    );
    assert_eq!(
        fail(&mut m, "fan", Some(0), 1, json!({})),
        strs(&["timer fan#1[0]@2 5"])
    );
    assert_eq!(
        succeed(&mut m, "fan", Some(1), 1, json!(2)),
        strs(&["start fan#1[2]"])
    );
    assert!(
        fail(&mut m, "bad", None, 1, json!({})).is_empty(),
        "item 2 still runs"
    );
    assert_eq!(
        succeed(&mut m, "fan", Some(2), 1, json!(3)),
        strs(&["finish failed"])
    );
    let fan = &m.executions()[1];
    assert_eq!(fan.status, "failed");
    assert_eq!(fan.result, Some(json!([{"error": {}}, 2, 3, null])));
    assert!(m.outstanding().is_empty());
}

#[test]
fn with_items_that_is_not_a_list_fails_the_run_with_the_site() {
    let yaml = "input: [xs]\ntasks:\n  t:\n    action: x.t\n    with: <% ctx().xs %>\n";
    let mut m = machine(yaml, json!({"xs": "abc"}));
    let d = drive(&mut m, ok_all);
    let (status, _, errors) = finish_of(&d);
    assert_eq!(status, RunStatus::Failed);
    let msg = errors[0]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("task `t` with.items") && msg.contains("needs a list, got a string"),
        "{msg}"
    );
}

// ---------------------------------------------------------------------------------------------
// The example workflows.

/// Every file in `workflows/` parses and its expressions pass the dry run (actions are the
/// host's to check; here every action counts as not installed).
#[test]
fn example_workflows_validate_cleanly() {
    struct Offline;
    impl orch_workflow::ActionLookup for Offline {
        fn lookup(&self, _: &str) -> orch_workflow::ActionKnown {
            orch_workflow::ActionKnown::NotInstalled
        }
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("workflows/") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let wf = parse_workflow(&path.display().to_string(), &text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let problems = orch_workflow::validate(&wf, &Offline);
        assert!(problems.is_empty(), "{}: {problems:#?}", path.display());
        seen += 1;
    }
    assert!(
        seen >= 6,
        "only {seen} workflows found in {}",
        dir.display()
    );
}

#[test]
fn placement_is_rendered_per_item_and_a_non_mapping_is_refused() {
    let yaml = "\
version: 1
input:
  - devices
tasks:
  each:
    with: d in <% ctx(devices) %>
    action: backup-device
    input:
      name: <% item(d).name %>
    placement:
      site: <% item(d).site %>
";
    let mut m = machine(
        yaml,
        json!({"devices": [{"name": "r1", "site": "lon"}, {"name": "r2", "site": "par"}]}),
    );
    let placements: Vec<Option<Value>> = m
        .start()
        .into_iter()
        .filter_map(|c| match c {
            Command::StartAction { placement, .. } => Some(placement),
            _ => None,
        })
        .collect();
    assert_eq!(
        placements,
        vec![Some(json!({"site": "lon"})), Some(json!({"site": "par"}))]
    );
    let refused = parse_workflow(
        "t",
        "version: 1\ntasks:\n  a:\n    action: x\n    placement: lon\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        refused.contains("placement") && refused.contains("mapping"),
        "{refused}"
    );
}
