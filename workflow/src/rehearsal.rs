//! Rehearsals: a workflow run on the real [`Machine`] with every action mocked, compared with
//! what a spec expects. This is `orch workflow test` (and the Orquesta conformance suite) minus
//! the file reading: no pack runs, no store is touched, no clock is read.
//!
//! # How a rehearsal runs
//!
//! Commands are answered in the order the machine issued them (first in, first out), which is
//! how Orquesta's own rehearsals proceed: everything started in one wave completes before the
//! next wave. An action gets its mock ([`spec::Outcome`]; the most specific matching key wins,
//! and an action without one succeeds with `null`); a timer (a `delay`, a retry's wait) fires at
//! once; an action mocked `running` is never answered, so the run stays unfinished.
//!
//! # What is compared
//!
//! Parallel branches may interleave differently from the order the spec lists. So the
//! executions are compared as a set, plus one ordering per execution: it must come after the
//! execution whose transition started it (found by watching which executions appear while the
//! machine handles each completion). The first step where the lists differ is reported with what
//! was expected and what the run did. Then each execution's details the spec gives (status,
//! result, input, attempts), the final status (which may never differ), the output and the
//! errors.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::machine::{Command, Event, ExecId, Machine, RunStatus};
use crate::model::{Target, Workflow};
use crate::validate::{ActionLookup, validate};

pub mod spec;

pub use spec::{Deviation, Expectation, Mock, MockKey, Outcome, Spec, SpecError};

/// Most commands one rehearsal carries out: a cycle whose mocks never let it end stops here.
pub const MAX_STEPS: usize = 100_000;
/// Most task executions one rehearsal creates (the same guard; each step looks at all of them).
pub const MAX_EXECUTIONS: usize = 2_000;

/// What became of one spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The run is the one expected.
    Passed,
    /// The run differs from the one expected.
    Failed {
        /// Every difference found (the sequence reports its first diverging step only).
        divergences: Vec<Divergence>,
    },
    /// The run differs from `expect` exactly as the spec's `known_deviation` records.
    KnownDeviation {
        /// Why, from the spec.
        reason: String,
        /// How it differs from `expect`.
        divergences: Vec<Divergence>,
    },
    /// The run now matches `expect`: the recorded deviation is gone and should be removed.
    DeviationGone {
        /// The reason that no longer holds.
        reason: String,
    },
    /// The case could not be rehearsed (the workflow does not validate, a mock names no task,
    /// the machine refused an event, the run never ended).
    Error {
        /// What went wrong.
        message: String,
    },
}

impl Verdict {
    /// Whether the case counts as a success (passed, or a recorded deviation still as recorded).
    pub fn ok(&self) -> bool {
        matches!(self, Verdict::Passed | Verdict::KnownDeviation { .. })
    }
}

/// One difference between the expected and the actual run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Divergence {
    /// The executions differ at this step (1-based) of the spec's list.
    Step {
        /// Step.
        step: usize,
        /// What the spec lists there (`None`: the spec's list ended).
        expected: Option<String>,
        /// What the run did there (`None`: the run did nothing more).
        got: Option<String>,
    },
    /// An execution is listed before the one whose transition started it.
    Order {
        /// Step (1-based) where the spec lists the execution.
        step: usize,
        /// The execution.
        execution: String,
        /// The execution that started it.
        started_by: String,
        /// Step where the spec lists that one.
        listed_at: usize,
    },
    /// A detail of one execution, at its first differing place.
    Execution {
        /// The execution.
        execution: String,
        /// `status`, `result`, `input` or `attempts`, with the path inside the value where it
        /// differs (`input.fields.caller_id`).
        field: String,
        /// Expected value.
        expected: Value,
        /// Actual value.
        got: Value,
    },
    /// The final status.
    Status {
        /// Expected.
        expected: String,
        /// Actual.
        got: String,
    },
    /// The output, at its first differing place.
    Output {
        /// Where: `output`, `output.items[2]`.
        path: String,
        /// Expected there.
        expected: Value,
        /// Actual there (`null` while the run is unfinished, or where nothing is).
        got: Value,
    },
    /// The errors, at this index (0-based).
    Errors {
        /// Index.
        index: usize,
        /// Expected entry (`null`: none expected there).
        expected: Value,
        /// Actual entry (`null`: none there).
        got: Value,
    },
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_end = |s: &Option<String>, end: &str| s.clone().unwrap_or_else(|| end.to_string());
        match self {
            Divergence::Step {
                step,
                expected,
                got,
            } => write!(
                f,
                "step {step}: expected {}, got {}",
                or_end(expected, "nothing more"),
                or_end(got, "nothing more")
            ),
            Divergence::Order {
                step,
                execution,
                started_by,
                listed_at,
            } => write!(
                f,
                "step {step}: {execution} is listed before {started_by} (step {listed_at}), whose transition started it"
            ),
            Divergence::Execution {
                execution,
                field,
                expected,
                got,
            } => write!(f, "{execution} {field}: expected {expected}, got {got}"),
            Divergence::Status { expected, got } => {
                write!(f, "status: expected {expected}, got {got}")
            }
            Divergence::Output {
                path,
                expected,
                got,
            } => write!(f, "{path}: expected {expected}, got {got}"),
            Divergence::Errors {
                index,
                expected,
                got,
            } => write!(f, "errors[{index}]: expected {expected}, got {got}"),
        }
    }
}

/// The run a rehearsal observed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    /// Executions in the order the machine created them.
    pub executions: Vec<TracedExec>,
    /// Final status (`running`/`failing` when an action was mocked `running`).
    pub status: RunStatus,
    /// The output, once finished.
    pub output: Option<Value>,
    /// The run's errors.
    pub errors: Vec<Value>,
}

/// One execution as observed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TracedExec {
    /// `task#occurrence`.
    pub id: ExecId,
    /// The execution whose transition started it; `None` for a start task.
    pub started_by: Option<ExecId>,
    /// `succeeded`, `failed`, `running`, `delayed`, `canceled`.
    pub status: &'static str,
    /// Highest attempt started.
    pub attempts: u32,
    /// Result or error, once complete.
    pub result: Option<Value>,
    /// Rendered input of the last attempt: one entry, or one per fan-out item started.
    pub inputs: Vec<Value>,
    /// Whether the task fans out.
    pub fan_out: bool,
}

/// A rehearsed spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The spec.
    pub spec: String,
    /// What it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The outcome.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// The executions the spec lists.
    pub expected: Vec<String>,
    /// The executions of the run, in the spec's order where the two agree.
    pub got: Vec<String>,
    /// The run's final status (empty when it did not run).
    pub status: String,
    /// Which run the verdict and the sequences are of: 0 the first, n after the n-th rerun.
    #[serde(skip_serializing_if = "is_zero")]
    pub rerun: usize,
    /// The run's output, once finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// The run's errors (what a spec's `expect.errors` is matched against).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Value>,
}

impl Report {
    /// The report of a spec that could not be rehearsed at all (unreadable, not a spec).
    pub fn unrehearsed(spec: &str, message: String) -> Report {
        Report {
            spec: spec.to_string(),
            description: None,
            verdict: Verdict::Error { message },
            expected: Vec::new(),
            got: Vec::new(),
            status: String::new(),
            rerun: 0,
            output: None,
            errors: Vec::new(),
        }
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Runs `spec` against the workflow `text` (read from `source`): the first run, then each of
/// its reruns, stopping at the first that differs. Validation uses `actions`; nothing else is
/// looked up.
pub fn rehearse(spec: &Spec, source: &str, text: &str, actions: &dyn ActionLookup) -> Report {
    let expected = |e: &Expectation| -> Vec<String> {
        e.executions.iter().map(|x| x.id.to_string()).collect()
    };
    let error = |message: String| Report {
        expected: expected(&spec.expect),
        description: spec.description.clone(),
        ..Report::unrehearsed(&spec.source, message)
    };
    let wf = match crate::parse_workflow(source, text) {
        Ok(wf) => Arc::new(wf),
        Err(e) => return error(e.to_string()),
    };
    let problems = validate(&wf, actions);
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return error(format!(
            "workflow {source} does not validate: {}",
            list.join("; ")
        ));
    }
    if let Err(e) = check_spec(spec, &wf) {
        return error(e);
    }
    let mut rehearsal = match Rehearsal::start(spec, wf) {
        Ok(r) => r,
        Err(e) => return error(e),
    };
    if let Err(e) = rehearsal.drive(&spec.mocks) {
        return error(e);
    }
    let report = |verdict, expect: &Expectation, trace: Trace, rerun| Report {
        spec: spec.source.clone(),
        description: spec.description.clone(),
        verdict,
        expected: expected(expect),
        got: aligned(expect, &trace),
        status: trace.status.as_str().to_string(),
        rerun,
        output: trace.output,
        errors: trace.errors,
    };
    let trace = rehearsal.trace();
    let verdict = judge(&spec.expect, spec.known_deviation.as_ref(), &trace);
    if !verdict.ok() || spec.reruns.is_empty() {
        return report(verdict, &spec.expect, trace, 0);
    }
    // Reruns go on from the run as it went, a recorded deviation included; the first recorded
    // deviation met stays the verdict when everything else matches.
    let mut last = (verdict, &spec.expect, trace);
    for (i, rerun) in spec.reruns.iter().enumerate() {
        let n = i + 1;
        if let Err(e) = rehearsal
            .rerun(&rerun.tasks)
            .and_then(|()| rehearsal.drive(&rerun.mocks))
        {
            return Report {
                rerun: n,
                ..error(format!("rerun {n}: {e}"))
            };
        }
        let trace = rehearsal.trace();
        let verdict = match judge(&rerun.expect, rerun.known_deviation.as_ref(), &trace) {
            failed if !failed.ok() => return report(failed, &rerun.expect, trace, n),
            Verdict::KnownDeviation {
                reason,
                divergences,
            } if !matches!(last.0, Verdict::KnownDeviation { .. }) => Verdict::KnownDeviation {
                reason: format!("rerun {n}: {reason}"),
                divergences,
            },
            _ => last.0,
        };
        last = (verdict, &rerun.expect, trace);
    }
    let (verdict, expect, trace) = last;
    report(verdict, expect, trace, spec.reruns.len())
}

/// The verdict on one run against what is expected of it and the deviation recorded, if any.
fn judge(expect: &Expectation, deviation: Option<&Deviation>, trace: &Trace) -> Verdict {
    let divergences = compare(expect, trace);
    match (deviation, divergences.is_empty()) {
        (None, true) => Verdict::Passed,
        (None, false) => Verdict::Failed { divergences },
        (Some(d), true) => Verdict::DeviationGone {
            reason: d.reason.clone(),
        },
        (Some(d), false) => {
            let as_recorded = compare(&d.got, trace);
            if as_recorded.is_empty() {
                Verdict::KnownDeviation {
                    reason: d.reason.clone(),
                    divergences,
                }
            } else {
                // Neither the expected run nor the recorded deviation: report against the
                // recorded one, which is what changed.
                Verdict::Failed {
                    divergences: as_recorded,
                }
            }
        }
    }
}

/// Every mock (of the first run and of each rerun) names a task that runs an action, and an
/// item only where the task fans out; every execution and rerun task names a task.
fn check_spec(spec: &Spec, wf: &Workflow) -> Result<(), String> {
    let tasks = || wf.tasks.keys().cloned().collect::<Vec<_>>().join(", ");
    let mocks = spec
        .mocks
        .iter()
        .chain(spec.reruns.iter().flat_map(|r| &r.mocks));
    for m in mocks {
        let Some(task) = wf.tasks.get(&m.key.task) else {
            return Err(format!(
                "mock `{}` names no task of the workflow; tasks are: {}",
                m.key,
                tasks()
            ));
        };
        if task.action.is_none() {
            return Err(format!(
                "mock `{}`: task `{}` runs no action (it only routes), so nothing is mocked",
                m.key, m.key.task
            ));
        }
        if m.key.item.is_some() && task.with.is_none() {
            return Err(format!(
                "mock `{}` names an item, but task `{}` has no `with`",
                m.key, m.key.task
            ));
        }
    }
    let expectations = std::iter::once(&spec.expect).chain(spec.reruns.iter().map(|r| &r.expect));
    for e in expectations.flat_map(|e| &e.executions) {
        if !wf.tasks.contains_key(&e.id.task) {
            return Err(format!(
                "an expected execution names `{}`, which is no task of the workflow",
                e.id
            ));
        }
    }
    for t in spec.reruns.iter().flat_map(|r| &r.tasks) {
        if !wf.tasks.contains_key(t) {
            return Err(format!(
                "a rerun names task `{t}`, which is no task of the workflow; tasks are: {}",
                tasks()
            ));
        }
    }
    Ok(())
}

/// The mock answering one invocation: the most specific matching key.
fn pick<'m>(
    mocks: &'m [Mock],
    exec: &ExecId,
    item: Option<usize>,
    attempt: u32,
) -> Result<Option<&'m Outcome>, String> {
    let mut best: Option<&Mock> = None;
    for m in mocks.iter().filter(|m| m.key.matches(exec, item, attempt)) {
        match best {
            Some(b) if b.key.specificity() == m.key.specificity() => {
                let mut at = format!("{exec}");
                if let Some(i) = item {
                    at.push_str(&format!("[{i}]"));
                }
                return Err(format!(
                    "mocks `{}` and `{}` both answer {at}@{attempt}; add a mock for exactly that one",
                    b.key, m.key
                ));
            }
            Some(b) if b.key.specificity() > m.key.specificity() => {}
            _ => best = Some(m),
        }
    }
    Ok(best.map(|m| &m.outcome))
}

/// A machine being driven, with what the rehearsal observed of it.
struct Rehearsal {
    machine: Machine,
    graph: Graph,
    /// The execution that started each execution, by creation index.
    parents: Vec<Option<ExecId>>,
    /// Rendered input of each unit's last attempt.
    inputs: HashMap<ExecId, BTreeMap<usize, Value>>,
    /// Commands not carried out yet.
    queue: VecDeque<Command>,
    steps: usize,
}

impl Rehearsal {
    fn start(spec: &Spec, wf: Arc<Workflow>) -> Result<Rehearsal, String> {
        let graph = Graph::new(&wf);
        let mut machine =
            Machine::new(wf, "rehearsal", spec.input.clone()).map_err(|e| e.to_string())?;
        let queue = machine.start().into();
        let mut r = Rehearsal {
            machine,
            graph,
            parents: Vec::new(),
            inputs: HashMap::new(),
            queue,
            steps: 0,
        };
        r.attribute(None);
        Ok(r)
    }

    /// Re-runs the finished run from `tasks` (every failed one when empty).
    fn rerun(&mut self, tasks: &[String]) -> Result<(), String> {
        let commands = self
            .machine
            .handle(Event::RerunRequested {
                tasks: tasks.to_vec(),
                definition: None,
            })
            .map_err(|e| format!("the machine refused the rerun: {e}"))?;
        self.attribute(None);
        self.queue.extend(commands);
        Ok(())
    }

    /// Carries out the queued commands, answering actions from `mocks`, until none is left (or
    /// only actions mocked `running`).
    fn drive(&mut self, mocks: &[Mock]) -> Result<(), String> {
        while let Some(command) = self.queue.pop_front() {
            self.steps += 1;
            if self.steps > MAX_STEPS {
                return Err(format!(
                    "the run did not end within {MAX_STEPS} steps; do the mocks keep a cycle going?"
                ));
            }
            let (event, cause) = match command {
                Command::StartAction {
                    exec,
                    item,
                    attempt,
                    input,
                    ..
                } => {
                    self.inputs
                        .entry(exec.clone())
                        .or_default()
                        .insert(item.unwrap_or(0), input);
                    let event = match pick(mocks, &exec, item, attempt)? {
                        None => Event::ActionSucceeded {
                            exec: exec.clone(),
                            item,
                            attempt,
                            result: Value::Null,
                        },
                        Some(Outcome::Succeeded(v)) => Event::ActionSucceeded {
                            exec: exec.clone(),
                            item,
                            attempt,
                            result: v.clone(),
                        },
                        Some(Outcome::Failed(e)) => Event::ActionFailed {
                            exec: exec.clone(),
                            item,
                            attempt,
                            error: e.clone(),
                            timed_out: false,
                        },
                        Some(Outcome::Running) => continue,
                    };
                    (event, exec)
                }
                Command::StartTimer { timer, .. } => {
                    let exec = timer.exec.clone();
                    (Event::TimerFired { timer }, exec)
                }
                Command::Finish { .. } => continue,
            };
            let what = format!("{event:?}");
            let commands = self
                .machine
                .handle(event)
                .map_err(|e| format!("the machine refused {what}: {e}"))?;
            self.attribute(Some(cause));
            if self.parents.len() > MAX_EXECUTIONS {
                return Err(format!(
                    "the run created more than {MAX_EXECUTIONS} task executions; do the mocks keep a cycle going?"
                ));
            }
            self.queue.extend(commands);
        }
        Ok(())
    }

    /// Records the parent of each execution created since the last call. Within one `handle`,
    /// the machine completes the event's execution and, in the same call, any routing task it
    /// starts; a new execution was started by the latest of those (created before it) whose
    /// `do` names it.
    fn attribute(&mut self, cause: Option<ExecId>) {
        let views = self.machine.executions();
        let mut candidates: Vec<ExecId> = cause.into_iter().collect();
        for view in &views[self.parents.len().min(views.len())..] {
            let parent = candidates
                .iter()
                .rev()
                .find(|c| self.graph.starts(&c.task, &view.id.task))
                .cloned();
            self.parents.push(parent);
            // Only an execution that already completed can have started others in this call.
            if matches!(view.status, "succeeded" | "failed") {
                candidates.push(view.id.clone());
            }
        }
    }

    /// The run as observed so far.
    fn trace(&self) -> Trace {
        let m = &self.machine;
        let executions = m
            .executions()
            .into_iter()
            .zip(&self.parents)
            .map(|(view, started_by)| TracedExec {
                inputs: self
                    .inputs
                    .get(&view.id)
                    .map(|by_unit| by_unit.values().cloned().collect())
                    .unwrap_or_default(),
                fan_out: m
                    .workflow()
                    .tasks
                    .get(&view.id.task)
                    .is_some_and(|t| t.with.is_some()),
                id: view.id,
                started_by: started_by.clone(),
                status: view.status,
                attempts: view.attempts,
                result: view.result,
            })
            .collect();
        Trace {
            executions,
            status: m.status(),
            output: m.output().cloned(),
            errors: m.errors().to_vec(),
        }
    }
}

/// Which task names which in a `do`: enough to tell what started a new execution.
struct Graph {
    names: std::collections::HashSet<(String, String)>,
}

impl Graph {
    fn new(wf: &Workflow) -> Graph {
        let mut names = std::collections::HashSet::new();
        for (from, task) in &wf.tasks {
            for tr in &task.next {
                for t in &tr.targets {
                    if let Target::Task(to) = &t.kind {
                        names.insert((from.clone(), to.clone()));
                    }
                }
            }
        }
        Graph { names }
    }

    fn starts(&self, from: &str, to: &str) -> bool {
        self.names.contains(&(from.to_string(), to.to_string()))
    }
}

/// Every difference between `expect` and the run.
pub fn compare(expect: &Expectation, trace: &Trace) -> Vec<Divergence> {
    let mut out = Vec::new();
    out.extend(compare_sequence(expect, trace));
    let by_id: HashMap<&ExecId, &TracedExec> =
        trace.executions.iter().map(|e| (&e.id, e)).collect();
    for want in &expect.executions {
        let Some(got) = by_id.get(&want.id) else {
            continue;
        };
        let id = want.id.to_string();
        let mut detail = |field: &str, expected: &Option<Value>, actual: Value| {
            if let Some(expected) = expected
                && let Some((field, expected, got)) = first_difference(field, expected, &actual)
            {
                out.push(Divergence::Execution {
                    execution: id.clone(),
                    field,
                    expected,
                    got,
                });
            }
        };
        detail(
            "status",
            &want.status.clone().map(Value::String),
            Value::from(got.status),
        );
        detail(
            "result",
            &want.result,
            got.result.clone().unwrap_or(Value::Null),
        );
        let input = if got.fan_out {
            Value::Array(got.inputs.clone())
        } else {
            got.inputs.first().cloned().unwrap_or(Value::Null)
        };
        detail("input", &want.input, input);
        detail(
            "attempts",
            &want.attempts.map(Value::from),
            Value::from(got.attempts),
        );
    }
    if expect.status != trace.status.as_str() {
        out.push(Divergence::Status {
            expected: expect.status.clone(),
            got: trace.status.as_str().to_string(),
        });
    }
    if let Some(output) = &expect.output {
        let got = trace.output.clone().unwrap_or(Value::Null);
        if let Some((path, expected, got)) = first_difference("output", output, &got) {
            out.push(Divergence::Output {
                path,
                expected,
                got,
            });
        }
    }
    if let Some(errors) = &expect.errors {
        let n = errors.len().max(trace.errors.len());
        for index in 0..n {
            let want = errors.get(index);
            let got = trace.errors.get(index);
            let matches = match (want, got) {
                (Some(w), Some(Value::Object(g))) => w.iter().all(|(k, v)| g.get(k) == Some(v)),
                _ => false,
            };
            if !matches {
                out.push(Divergence::Errors {
                    index,
                    expected: want.cloned().map(Value::Object).unwrap_or(Value::Null),
                    got: got.cloned().unwrap_or(Value::Null),
                });
                break;
            }
        }
    }
    out
}

/// The first place where two values differ, as (path, expected there, got there); objects and
/// lists are walked (a missing key or item is `null`), anything else compared whole.
fn first_difference(path: &str, expected: &Value, got: &Value) -> Option<(String, Value, Value)> {
    match (expected, got) {
        (Value::Object(e), Value::Object(g)) => {
            let mut keys: Vec<&String> = e.keys().collect();
            keys.extend(g.keys().filter(|k| !e.contains_key(*k)));
            keys.into_iter().find_map(|k| {
                let (ev, gv) = (e.get(k), g.get(k));
                match (ev, gv) {
                    (Some(ev), Some(gv)) => first_difference(&format!("{path}.{k}"), ev, gv),
                    _ => Some((
                        format!("{path}.{k}"),
                        ev.cloned().unwrap_or(Value::Null),
                        gv.cloned().unwrap_or(Value::Null),
                    )),
                }
            })
        }
        (Value::Array(e), Value::Array(g)) if e.len() == g.len() => e
            .iter()
            .zip(g)
            .enumerate()
            .find_map(|(i, (ev, gv))| first_difference(&format!("{path}[{i}]"), ev, gv)),
        _ => (expected != got).then(|| (path.to_string(), expected.clone(), got.clone())),
    }
}

/// The first step where the executions differ, or an execution listed before its starter.
fn compare_sequence(expect: &Expectation, trace: &Trace) -> Option<Divergence> {
    let expected: Vec<String> = expect.executions.iter().map(|e| e.id.to_string()).collect();
    let got = aligned(expect, trace);
    if let Some(step) = (0..expected.len().max(got.len())).find(|&i| expected.get(i) != got.get(i))
    {
        return Some(Divergence::Step {
            step: step + 1,
            expected: expected.get(step).cloned(),
            got: got.get(step).cloned(),
        });
    }
    let position: HashMap<&ExecId, usize> = expect
        .executions
        .iter()
        .enumerate()
        .map(|(i, e)| (&e.id, i))
        .collect();
    trace.executions.iter().find_map(|e| {
        let parent = e.started_by.as_ref()?;
        let (&at, &parent_at) = (position.get(&e.id)?, position.get(parent)?);
        (parent_at > at).then(|| Divergence::Order {
            step: at + 1,
            execution: e.id.to_string(),
            started_by: parent.to_string(),
            listed_at: parent_at + 1,
        })
    })
}

/// The run's executions in the spec's order as far as the spec names them. An execution the
/// spec does not name goes after its starter and after the execution created just before it,
/// into the place of the first expected execution missing from the run there (the run went
/// there instead), else right behind them: so the first difference shows where the run went its
/// own way.
fn aligned(expect: &Expectation, trace: &Trace) -> Vec<String> {
    let position: HashMap<&ExecId, usize> = expect
        .executions
        .iter()
        .enumerate()
        .map(|(i, e)| (&e.id, i))
        .collect();
    let ran: std::collections::HashSet<&ExecId> = trace.executions.iter().map(|e| &e.id).collect();
    let mut missing: Vec<usize> = expect
        .executions
        .iter()
        .enumerate()
        .filter(|(_, e)| !ran.contains(&e.id))
        .map(|(i, _)| i)
        .collect();
    let mut keys: HashMap<&ExecId, f64> = HashMap::new();
    let mut ordered: Vec<(f64, usize, &ExecId)> = Vec::new();
    let mut previous = -1.0;
    for (created, e) in trace.executions.iter().enumerate() {
        let key = match position.get(&e.id) {
            Some(&p) => p as f64,
            None => {
                let after = e
                    .started_by
                    .as_ref()
                    .and_then(|p| keys.get(p).copied())
                    .map_or(previous, |p| p.max(previous));
                match missing.iter().position(|&m| m as f64 > after) {
                    Some(i) => missing.remove(i) as f64,
                    None => after + 0.5,
                }
            }
        };
        keys.insert(&e.id, key);
        previous = key;
        ordered.push((key, created, &e.id));
    }
    ordered.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    ordered
        .into_iter()
        .map(|(_, _, id)| id.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::ActionKnown;
    use serde_json::json;

    struct Core;
    impl ActionLookup for Core {
        fn lookup(&self, action: &str) -> ActionKnown {
            if action.starts_with("core.") {
                ActionKnown::Known { input_schema: None }
            } else {
                ActionKnown::Unknown
            }
        }
    }

    const BRANCHES: &str = "
tasks:
  start:
    action: core.noop
    next:
      - when: <% succeeded() %>
        do: left, right
  left:
    action: core.noop
    next:
      - when: <% succeeded() %>
        do: left_end
  left_end:
    action: core.noop
  right:
    action: core.noop
    next:
      - when: <% succeeded() %>
        publish: got=<% result() %>
        do: right_end
      - when: <% failed() %>
        do: recover
  right_end:
    action: core.echo
    input: { got: <% ctx().got %> }
  recover:
    action: core.noop
output:
  - got: <% ctx().got %>
vars:
  - got: null
";

    fn rehearse_with(workflow: &str, spec_yaml: &str) -> Report {
        let spec = Spec::parse("t.test.yaml", spec_yaml).unwrap_or_else(|e| panic!("{e}"));
        rehearse(&spec, "w.yaml", workflow, &Core)
    }

    fn divergences(r: &Report) -> Vec<String> {
        match &r.verdict {
            Verdict::Failed { divergences } => {
                divergences.iter().map(ToString::to_string).collect()
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn a_run_as_expected_passes_whatever_the_interleaving_of_branches() {
        let spec = "workflow: w.yaml
mocks:
  right: { succeeded: 42 }
expect:
  executions: [start, right, right_end: { input: { got: 42 } }, left, left_end]
  output: { got: 42 }
";
        let r = rehearse_with(BRANCHES, spec);
        assert_eq!(r.verdict, Verdict::Passed, "{r:#?}");
        assert_eq!(r.got, r.expected);
        assert_eq!(r.status, "succeeded");
    }

    #[test]
    fn a_task_listed_before_the_one_that_started_it_is_an_order_divergence() {
        let spec =
            "workflow: w.yaml\nexpect:\n  executions: [start, left_end, left, right, right_end]\n";
        let d = divergences(&rehearse_with(BRANCHES, spec));
        assert_eq!(
            d,
            ["step 2: left_end#1 is listed before left#1 (step 3), whose transition started it"]
        );
    }

    #[test]
    fn a_different_path_reports_the_first_diverging_step_and_the_status() {
        let spec = "workflow: w.yaml
mocks:
  right: { failed: boom }
expect:
  executions: [start, left, right, left_end, right_end]
  status: failed
";
        let r = rehearse_with(BRANCHES, spec);
        let d = divergences(&r);
        assert_eq!(
            d,
            [
                "step 5: expected right_end#1, got recover#1",
                "status: expected failed, got succeeded"
            ]
        );
        assert_eq!(
            r.got,
            ["start#1", "left#1", "right#1", "left_end#1", "recover#1"]
        );
    }

    #[test]
    fn mocks_pick_the_most_specific_key_per_occurrence_item_and_attempt() {
        let wf = "
tasks:
  fan:
    action: core.echo
    with: <% ctx().xs %>
    input: { x: <% item() %> }
    retry: { count: 2, delay: 30 }
    next:
      - when: <% succeeded() %>
        publish: [{ out: <% result() %> }]
vars:
  - xs: [a, b]
  - out: null
output:
  - out: <% ctx().out %>
";
        let spec = "workflow: w.yaml
mocks:
  fan: { succeeded: any }
  fan[1]: failed
  fan[1]@3: { succeeded: third }
expect:
  executions:
    - fan: { attempts: 3, input: [{ x: a }, { x: b }], status: succeeded }
  output: { out: [any, third] }
";
        let r = rehearse_with(wf, spec);
        assert_eq!(r.verdict, Verdict::Passed, "{r:#?}");
        let ambiguous = "workflow: w.yaml
mocks:
  fan[1]: failed
  fan@2: succeeded
expect:
  executions: [fan]
";
        let r = rehearse_with(wf, ambiguous);
        assert!(
            matches!(&r.verdict, Verdict::Error { message } if message.contains("both answer fan#1[1]@2")),
            "{r:#?}"
        );
    }

    #[test]
    fn occurrences_of_a_cycle_are_mocked_one_by_one() {
        let wf = "
tasks:
  init:
    action: core.noop
    next: [{ do: poll }]
  poll:
    action: core.noop
    delay: 60
    next:
      - when: <% succeeded() and not result() %>
        do: poll
";
        let spec = "workflow: w.yaml
mocks:
  poll: { succeeded: true }
  poll#1: { succeeded: false }
  poll#2: { succeeded: false }
expect:
  executions: [init, poll, poll, poll]
";
        let r = rehearse_with(wf, spec);
        assert_eq!(r.verdict, Verdict::Passed, "{r:#?}");
        let endless = "workflow: w.yaml\nmocks:\n  poll: { succeeded: false }\nexpect:\n  executions: [init]\n";
        let r = rehearse_with(wf, endless);
        assert!(
            matches!(&r.verdict, Verdict::Error { message } if message.contains("keep a cycle going")),
            "{r:#?}"
        );
    }

    #[test]
    fn an_action_mocked_running_leaves_the_run_running() {
        let spec = "workflow: w.yaml
mocks:
  left: running
expect:
  executions: [start, left: { status: running }, right, right_end]
  status: running
  output: null
";
        let r = rehearse_with(BRANCHES, spec);
        // `output: null` is compared too: an unfinished run has none.
        assert_eq!(r.verdict, Verdict::Passed, "{r:#?}");
        assert_eq!(r.status, "running");
    }

    #[test]
    fn a_known_deviation_is_reported_as_such_until_it_is_gone() {
        let recorded = "workflow: w.yaml
expect:
  executions: [start, left, right, left_end, right_end]
  output: { got: expected }
known_deviation:
  reason: the mocks return null
  output: { got: null }
";
        let r = rehearse_with(BRANCHES, recorded);
        assert!(
            matches!(&r.verdict, Verdict::KnownDeviation { reason, divergences } if reason == "the mocks return null" && divergences.len() == 1),
            "{r:#?}"
        );
        assert!(r.verdict.ok());
        let gone = "workflow: w.yaml
expect:
  executions: [start, left, right, left_end, right_end]
  output: { got: null }
known_deviation:
  reason: the mocks return null
  status: failed
";
        let r = rehearse_with(BRANCHES, gone);
        assert!(
            matches!(&r.verdict, Verdict::DeviationGone { .. }),
            "{r:#?}"
        );
        assert!(!r.verdict.ok());
        let neither = recorded.replace("output: { got: null }", "output: { got: 1 }");
        let r = rehearse_with(BRANCHES, &neither);
        assert_eq!(divergences(&r), ["output.got: expected 1, got null"]);
    }

    #[test]
    fn a_detail_that_differs_is_reported_at_its_first_differing_place() {
        let spec = "workflow: w.yaml
mocks:
  right: { succeeded: 42 }
expect:
  executions: [start, right, right_end: { input: { got: 41 } }, left, left_end: { status: failed }]
  output: { got: 42, extra: [1] }
";
        let d = divergences(&rehearse_with(BRANCHES, spec));
        assert_eq!(
            d,
            [
                "right_end#1 input.got: expected 41, got 42",
                "left_end#1 status: expected \"failed\", got \"succeeded\"",
                "output.extra: expected [1], got null",
            ]
        );
        assert_eq!(
            first_difference(
                "v",
                &json!({"a": [1, {"b": 2}]}),
                &json!({"a": [1, {"b": 3}]})
            ),
            Some(("v.a[1].b".into(), json!(2), json!(3)))
        );
        assert_eq!(
            first_difference("v", &json!([1]), &json!([1, 2])),
            Some(("v".into(), json!([1]), json!([1, 2])))
        );
        assert_eq!(
            first_difference("v", &json!({"a": 1}), &json!({"a": 1})),
            None
        );
    }

    #[test]
    fn reruns_go_on_from_the_failed_run_with_their_own_mocks() {
        let spec = "workflow: w.yaml
mocks:
  right: failed
  recover: failed
expect:
  executions: [start, left, right, left_end, recover]
  status: failed
reruns:
  - tasks: [recover]
    expect:
      executions: [start, left, right, left_end, recover, recover]
";
        let r = rehearse_with(BRANCHES, spec);
        assert_eq!(r.verdict, Verdict::Passed, "{r:#?}");
        assert_eq!((r.rerun, r.status.as_str()), (1, "succeeded"));
        let wrong = spec.replace(
            "executions: [start, left, right, left_end, recover, recover]",
            "executions: [start, left, right, left_end, recover, right_end]",
        );
        let r = rehearse_with(BRANCHES, &wrong);
        assert_eq!(
            divergences(&r),
            ["step 6: expected right_end#1, got recover#2"]
        );
        assert_eq!(r.rerun, 1);
        let refused = spec.replace("tasks: [recover]", "tasks: [left]");
        let r = rehearse_with(BRANCHES, &refused);
        assert!(
            matches!(&r.verdict, Verdict::Error { message } if message.starts_with("rerun 1: the machine refused the rerun")),
            "{r:#?}"
        );
    }

    #[test]
    fn errors_are_matched_by_the_keys_the_spec_gives() {
        let spec = "workflow: w.yaml
mocks:
  left: { failed: { message: down } }
expect:
  # right was started beside left; once left fails, nothing new starts.
  executions: [start, left, right]
  status: failed
  errors:
    - { kind: task_failed, task: left, error: { message: down } }
";
        let r = rehearse_with(BRANCHES, spec);
        assert_eq!(r.verdict, Verdict::Passed, "{r:#?}");
        let wrong = spec.replace("task: left,", "task: right,");
        let d = divergences(&rehearse_with(BRANCHES, &wrong));
        assert!(d[0].starts_with("errors[0]: expected"), "{d:?}");
    }

    #[test]
    fn a_mock_for_no_task_or_a_workflow_that_does_not_validate_is_an_error() {
        let r = rehearse_with(
            BRANCHES,
            "workflow: w.yaml\nmocks:\n  lefty: failed\nexpect:\n  executions: []\n",
        );
        assert!(
            matches!(&r.verdict, Verdict::Error { message } if message.contains("`lefty` names no task")),
            "{r:#?}"
        );
        let r = rehearse_with(
            "tasks:\n  a:\n    action: nope.x\n",
            "workflow: w.yaml\nexpect:\n  executions: [a]\n",
        );
        assert!(
            matches!(&r.verdict, Verdict::Error { message } if message.contains("unknown action `nope.x`")),
            "{r:#?}"
        );
        let r = rehearse_with(
            BRANCHES,
            "workflow: w.yaml\nmocks:\n  start[0]: failed\nexpect:\n  executions: []\n",
        );
        assert!(
            matches!(&r.verdict, Verdict::Error { message } if message.contains("has no `with`")),
            "{r:#?}"
        );
        let _ = json!(null);
    }
}
