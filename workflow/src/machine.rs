//! The run state machine: events in, commands out, no I/O.
//!
//! # The contract a driver follows
//!
//! 1. `Machine::new(workflow, run_id, input)` applies input defaults then `vars` (Orquesta's
//!    assignment order); `start()` returns the first commands. Both are deterministic.
//! 2. The driver carries out each [`Command`]: `StartAction` (run one attempt of one action, or
//!    one item of a fan-out), `StartTimer` (call back after `delay_secs`), `Finish` (the run is
//!    over). It reports outcomes as [`Event`]s through `handle`, which returns the next commands.
//! 3. **Journal before acting.** The driver appends each event to its journal before (or
//!    atomically with) handing it to `handle`. The machine keeps no other state worth saving:
//!    after a crash, `new` + `start` + `handle` of every journaled event, in journal order,
//!    rebuilds the same machine, emitting the same commands (it is deterministic: no clock, no
//!    randomness, ordered maps only). [`Machine::outstanding`] then lists what was commanded and
//!    never answered: actions to re-run (or to ask a person about, per the action's policy) and
//!    timers to re-arm. Commands emitted during replay that are already answered later in the
//!    journal must not be carried out again; the simplest driver ignores commands while replaying
//!    and acts on `outstanding()` once the journal is exhausted.
//! 4. **Idempotency keys** are `"{run_id}:{task}#{occurrence}"` plus `":{item}"` for a fan-out
//!    item: the same for every attempt of one logical step (retries, `do: retry`, re-runs after a
//!    crash), different for a second execution of the task in a cycle. Pass it to the action.
//! 5. A timed-out attempt is reported as `ActionFailed { timed_out: true }`; it is retryable.
//! 6. Events that no longer match (an attempt the machine gave up on, a result for an attempt that
//!    was superseded) are refused with [`MachineError`] and change nothing: don't journal them.
//!    A `TimerFired` for a timer the machine dropped (the run is failing or canceled) is accepted
//!    and ignored, because timers race with cancellation.
//!
//! # Semantics (Orquesta's, with the deviations listed in the crate's report)
//!
//! - Start tasks are those no `do` names, started in file order.
//! - When a task execution completes, its `next` entries are evaluated in order; every entry whose
//!   `when` is true (or absent) publishes its variables in list order, then schedules its `do`
//!   targets in order. Publishing writes one run-wide context (see "Context" below).
//! - A task named by several transitions without `join` runs once per arrival (Orquesta). With
//!   `join: all` it waits for every distinct task that can transition into it, with `join: N` for
//!   N of them; a join reached by only some branches when nothing else can run fails the run.
//! - A failed task is handled when one of its true transitions names a task or `noop`, `fail`,
//!   `retry`; otherwise (`continue`, or no true transition) the run fails once running work
//!   finishes, and nothing new starts meanwhile. `fail` fails the run the same way, but tasks
//!   named beside it in that completion still run (remediation, as in Orquesta).
//! - `retry:` retries one attempt (one item, for a fan-out) up to `count` times, after
//!   `delay × factor^(n-1)` seconds capped at `max_delay`. Without `when`, failed attempts are
//!   retried unless the action marked its error `retryable: false`; with `when`, the condition
//!   decides, on a failed or a succeeded attempt (Orquesta: `when: <% result().code != 200 %>`).
//! - `with` starts up to `concurrency` items at once, in item order (an item waiting for a retry
//!   timer keeps its slot); the result is the list of
//!   item results in item order. `on_item_failure: fail` (default) starts no further item once
//!   one fails and fails the task when the running ones finish; `continue` runs them all, the
//!   task succeeds, and failed items appear as `{"error": …}` in the result.
//! - Expression errors fail the run (as Orquesta does), recorded with the expression and site.
//! - Output is rendered when the run ends: on success (an error there fails the run) and, as far
//!   as it renders, on failure and cancellation.
//!
//! # Context
//!
//! One context per run, updated in event order. Orquesta keeps a context per branch and merges at
//! joins; a single context gives the same results for every workflow whose parallel branches
//! publish different names, is cheaper for large fan-outs, and is still deterministic under
//! replay because the event order is journaled.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;
use minijinja::value::Value as MjValue;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::expr::{self, Current, EvalFailure, ExprError, ItemBinding, Scope};
use crate::model::{Backoff, ItemFailure, Join, Target, Task, Template, Workflow};

/// Most times one execution may be re-run by the `retry` engine command (Orquesta: 3).
const ENGINE_RETRY_LIMIT: u32 = 3;

/// One execution of a task: its name and which time it runs (1-based; >1 only in cycles or when
/// several transitions name a task without `join`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ExecId {
    /// Task name.
    pub task: String,
    /// Occurrence, from 1.
    pub occurrence: u32,
}

impl fmt::Display for ExecId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.task, self.occurrence)
    }
}

/// A timer: it starts `attempt` of `exec` (of `item`, for a fan-out) when it fires. Attempt 1
/// with no item is the task's `delay`; higher attempts are retry delays.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TimerId {
    /// Execution the timer belongs to.
    pub exec: ExecId,
    /// Item, for a fan-out retry.
    pub item: Option<usize>,
    /// Attempt it starts.
    pub attempt: u32,
}

impl fmt::Display for TimerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.exec)?;
        if let Some(i) = self.item {
            write!(f, "[{i}]")?;
        }
        write!(f, "@{}", self.attempt)
    }
}

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Scheduling tasks.
    Running,
    /// Failed; waiting for running actions to finish (nothing new starts but remediation).
    Failing,
    /// Cancel requested; waiting for running actions to finish.
    Canceling,
    /// Done, successfully.
    Succeeded,
    /// Done, failed.
    Failed,
    /// Done, canceled.
    Canceled,
}

impl RunStatus {
    /// Whether the run is over.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Canceled
        )
    }

    /// Lowercase name, as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Failing => "failing",
            RunStatus::Canceling => "canceling",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Canceled => "canceled",
        }
    }
}

/// What the driver reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An attempt returned a result.
    ActionSucceeded {
        /// Execution.
        exec: ExecId,
        /// Item, for a fan-out.
        item: Option<usize>,
        /// Attempt, as commanded.
        attempt: u32,
        /// The action's output.
        result: Value,
    },
    /// An attempt failed.
    ActionFailed {
        /// Execution.
        exec: ExecId,
        /// Item, for a fan-out.
        item: Option<usize>,
        /// Attempt, as commanded.
        attempt: u32,
        /// `{code, message, retryable, details}` as the action (or the driver) gave it.
        error: Value,
        /// The driver stopped the attempt at its timeout.
        timed_out: bool,
    },
    /// A timer the machine asked for has fired.
    TimerFired {
        /// Which.
        timer: TimerId,
    },
    /// Someone asked to cancel the run.
    CancelRequested,
}

/// What the machine asks the driver to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Run one attempt of an action (a pack action, a `core.*` built-in, or a sub-workflow).
    StartAction {
        /// Execution.
        exec: ExecId,
        /// Task name (also in `exec`, repeated for convenience).
        task: String,
        /// Item index, for a fan-out.
        item: Option<usize>,
        /// Attempt, from 1.
        attempt: u32,
        /// Action name as written in the workflow.
        action: String,
        /// Rendered input.
        input: Value,
        /// Per-attempt timeout.
        timeout_secs: Option<f64>,
        /// Stable across attempts of the same step; see the module docs.
        idempotency_key: String,
    },
    /// Fire `TimerFired { timer }` after `delay_secs`.
    StartTimer {
        /// Which.
        timer: TimerId,
        /// Seconds.
        delay_secs: f64,
    },
    /// The run is over.
    Finish {
        /// Final status.
        status: RunStatus,
        /// Rendered `output` (as far as it rendered), `None` when the workflow declares none.
        output: Option<Value>,
        /// What went wrong, in order: `{kind, task, exec, message, ...}`.
        errors: Vec<Value>,
    },
}

/// Why a run could not be created.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    /// A required input is missing.
    #[error("input `{name}` is required; pass it with -i {name}=VALUE")]
    MissingInput {
        /// Input name.
        name: String,
    },
    /// An input the workflow does not declare.
    #[error("input `{name}` is not declared by the workflow; declared: {declared}")]
    UnknownInput {
        /// Input name.
        name: String,
        /// Declared names.
        declared: String,
    },
    /// An input default or a var failed to evaluate.
    #[error(transparent)]
    Expression(#[from] ExprError),
    /// Every task is the target of a transition, so nothing can start.
    #[error(
        "workflow has no start task: every task is named by some `do`; make one task the entry"
    )]
    NoStartTask,
}

/// An event that does not fit the machine's state. Nothing changed; the driver should not
/// journal it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MachineError {
    /// `handle` before `start`.
    #[error("the run has not been started; call start() first")]
    NotStarted,
    /// An action event after the run finished.
    #[error("the run is already {0}; no more action events are accepted")]
    Finished(&'static str),
    /// No such execution.
    #[error("no execution {0} in this run")]
    UnknownExec(ExecId),
    /// The execution exists but is not waiting for this (item, attempt).
    #[error("execution {exec} is not waiting for item {item:?} attempt {attempt}: {reason}")]
    Unexpected {
        /// Execution.
        exec: ExecId,
        /// Item.
        item: Option<usize>,
        /// Attempt.
        attempt: u32,
        /// What it is doing instead.
        reason: String,
    },
}

/// A read-only view of one execution, for `orch runs show`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExecView {
    /// Execution.
    pub id: ExecId,
    /// `delayed`, `running`, `succeeded`, `failed`, `canceled`.
    pub status: &'static str,
    /// Highest attempt number started (for a fan-out, over all items).
    pub attempts: u32,
    /// Result (or error) once complete.
    pub result: Option<Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum ExecStatus {
    /// Waiting for the task's `delay` timer.
    Delayed,
    Running,
    Succeeded,
    Failed,
    /// Dropped before it started (the run failed or was canceled during its delay).
    Canceled,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
enum UnitState {
    Pending,
    /// Waiting for a retry timer; keeps the last outcome in case the timer is dropped.
    Waiting {
        delay: f64,
        last: Result<Value, Value>,
    },
    Running,
    Succeeded(Value),
    Failed(Value),
    /// Never started (the fan-out stopped early).
    Skipped,
}

/// One action invocation slot: the whole task, or one item of a fan-out.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Unit {
    item: Option<usize>,
    item_value: Option<Value>,
    input: Value,
    attempt: u32,
    policy_retries: u32,
    state: UnitState,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct RetryPlan {
    count: u32,
    delay: f64,
    backoff: Option<Backoff>,
}

impl RetryPlan {
    /// Delay before retry number `n` (1-based).
    fn delay_for(&self, n: u32) -> f64 {
        match self.backoff {
            None => self.delay,
            Some(b) => {
                let exp = i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX);
                let d = self.delay * b.factor.powi(exp);
                match b.max_delay {
                    Some(max) => d.min(max),
                    None => d,
                }
            }
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Exec {
    id: ExecId,
    status: ExecStatus,
    run_on_fail: bool,
    fan_out: bool,
    units: Vec<Unit>,
    /// Index of the next unit that has never started.
    next_unit: usize,
    running: usize,
    /// Units waiting for a retry timer (counted, so completion checks stay O(1) in a fan-out).
    waiting: usize,
    concurrency: Option<usize>,
    /// A fan-out item failed under `on_item_failure: fail`: start no further item.
    stopping: bool,
    timeout: Option<f64>,
    delay: f64,
    retry: Option<RetryPlan>,
    engine_retries: u32,
    result: Option<Value>,
}

impl Exec {
    fn units_done(&self) -> bool {
        self.running == 0 && self.waiting == 0 && self.next_unit >= self.units.len()
    }
}

/// Arrivals at a `join` task in the current round.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Barrier {
    arrived: Vec<String>,
    /// The join already ran this round (`join: N` with late arrivals still to come).
    fired: bool,
}

#[derive(Debug)]
enum Work {
    Schedule {
        task: String,
        run_on_fail: bool,
    },
    Arrive {
        task: String,
        from: String,
        run_on_fail: bool,
    },
    Complete {
        exec: usize,
    },
    Pump {
        exec: usize,
    },
}

#[derive(Clone, Debug, Default)]
struct Cache {
    ctx: Option<Arc<IndexMap<String, MjValue>>>,
    tasks: Option<Arc<IndexMap<String, MjValue>>>,
}

/// A run of one workflow. Clone it to branch a what-if; serialize it for a snapshot (the journal
/// of events remains the source of truth).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    workflow: Arc<Workflow>,
    run_id: String,
    started: bool,
    status: RunStatus,
    ctx: IndexMap<String, Value>,
    execs: Vec<Exec>,
    by_task: IndexMap<String, Vec<usize>>,
    /// Executions that are delayed or running, by index (ordered, for determinism).
    active: BTreeSet<usize>,
    barriers: IndexMap<String, Barrier>,
    task_views: IndexMap<String, Value>,
    errors: Vec<Value>,
    output: Option<Value>,
    #[serde(skip)]
    cache: Cache,
}

impl Machine {
    /// Creates a run: checks the input, applies defaults, then evaluates `vars` in order.
    /// `run_id` only feeds idempotency keys; pass the same one when replaying.
    pub fn new(
        workflow: Arc<Workflow>,
        run_id: impl Into<String>,
        input: Map<String, Value>,
    ) -> Result<Self, RunError> {
        if let Some(name) = input
            .keys()
            .find(|k| !workflow.input.iter().any(|p| &p.name == *k))
        {
            return Err(RunError::UnknownInput {
                name: name.clone(),
                declared: workflow
                    .input
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        if workflow.start_tasks().is_empty() {
            return Err(RunError::NoStartTask);
        }
        let mut m = Machine {
            workflow: workflow.clone(),
            run_id: run_id.into(),
            started: false,
            status: RunStatus::Running,
            ctx: IndexMap::new(),
            execs: Vec::new(),
            by_task: IndexMap::new(),
            active: BTreeSet::new(),
            barriers: IndexMap::new(),
            task_views: IndexMap::new(),
            errors: Vec::new(),
            output: None,
            cache: Cache::default(),
        };
        for p in &workflow.input {
            let value = match (input.get(&p.name), &p.default) {
                // Given input is data: it is never evaluated.
                (Some(v), _) => v.clone(),
                (None, Some(default)) => {
                    let scope = m.scope();
                    expr::render(default, &scope)
                        .map_err(|e| e.at(format!("input `{}` default", p.name)))?
                }
                (None, None) => {
                    return Err(RunError::MissingInput {
                        name: p.name.clone(),
                    });
                }
            };
            m.set_var(&p.name, value);
        }
        for v in &workflow.vars {
            let scope = m.scope();
            let value =
                expr::render(&v.value, &scope).map_err(|e| e.at(format!("vars `{}`", v.name)))?;
            m.set_var(&v.name, value);
        }
        Ok(m)
    }

    /// Starts the start tasks. Calling it again does nothing.
    pub fn start(&mut self) -> Vec<Command> {
        if self.started {
            return Vec::new();
        }
        self.started = true;
        let work = self
            .workflow
            .start_tasks()
            .into_iter()
            .map(|t| Work::Schedule {
                task: t.to_string(),
                run_on_fail: false,
            })
            .collect();
        let mut out = Vec::new();
        self.run(work, &mut out);
        out
    }

    /// Applies one event and returns the commands it causes. On error nothing changed.
    pub fn handle(&mut self, event: Event) -> Result<Vec<Command>, MachineError> {
        if !self.started {
            return Err(MachineError::NotStarted);
        }
        let mut out = Vec::new();
        let mut work = VecDeque::new();
        match event {
            Event::ActionSucceeded {
                exec,
                item,
                attempt,
                result,
            } => {
                let (idx, u) = self.running_unit(&exec, item, attempt)?;
                self.on_outcome(idx, u, Ok(result), &mut work, &mut out);
            }
            Event::ActionFailed {
                exec,
                item,
                attempt,
                mut error,
                timed_out,
            } => {
                let (idx, u) = self.running_unit(&exec, item, attempt)?;
                if timed_out {
                    match &mut error {
                        Value::Object(o) => {
                            o.insert("timed_out".into(), Value::Bool(true));
                        }
                        other => {
                            *other = json!({"message": other.clone(), "timed_out": true});
                        }
                    }
                }
                self.on_outcome(idx, u, Err(error), &mut work, &mut out);
            }
            Event::TimerFired { timer } => {
                let Some(idx) = self.exec_index(&timer.exec) else {
                    return Err(MachineError::UnknownExec(timer.exec));
                };
                self.on_timer(idx, &timer, &mut work, &mut out);
            }
            Event::CancelRequested => {
                if matches!(self.status, RunStatus::Running | RunStatus::Failing) {
                    self.status = RunStatus::Canceling;
                    self.drop_timers(true, &mut work);
                }
            }
        }
        self.run(work, &mut out);
        Ok(out)
    }

    /// Current status.
    pub fn status(&self) -> RunStatus {
        self.status
    }

    /// Commands issued and not yet answered, in issue order of their executions: what a driver
    /// resuming from its journal must (re)start.
    pub fn outstanding(&self) -> Vec<Command> {
        let mut out = Vec::new();
        for &idx in &self.active {
            let exec = &self.execs[idx];
            if exec.status == ExecStatus::Delayed {
                out.push(Command::StartTimer {
                    timer: TimerId {
                        exec: exec.id.clone(),
                        item: None,
                        attempt: 1,
                    },
                    delay_secs: exec.delay,
                });
                continue;
            }
            for u in &exec.units {
                match &u.state {
                    UnitState::Running => out.push(self.start_command(exec, u)),
                    UnitState::Waiting { delay, .. } => out.push(Command::StartTimer {
                        timer: TimerId {
                            exec: exec.id.clone(),
                            item: u.item,
                            attempt: u.attempt,
                        },
                        delay_secs: *delay,
                    }),
                    _ => {}
                }
            }
        }
        out
    }

    /// The run context (input, vars, published variables).
    pub fn context(&self) -> &IndexMap<String, Value> {
        &self.ctx
    }

    /// Errors recorded so far.
    pub fn errors(&self) -> &[Value] {
        &self.errors
    }

    /// Rendered output once finished.
    pub fn output(&self) -> Option<&Value> {
        self.output.as_ref()
    }

    /// The workflow being run.
    pub fn workflow(&self) -> &Arc<Workflow> {
        &self.workflow
    }

    /// Every execution so far, in creation order.
    pub fn executions(&self) -> Vec<ExecView> {
        self.execs
            .iter()
            .map(|e| ExecView {
                id: e.id.clone(),
                status: match e.status {
                    ExecStatus::Delayed => "delayed",
                    ExecStatus::Running => "running",
                    ExecStatus::Succeeded => "succeeded",
                    ExecStatus::Failed => "failed",
                    ExecStatus::Canceled => "canceled",
                },
                attempts: e.units.iter().map(|u| u.attempt).max().unwrap_or(0),
                result: e.result.clone(),
            })
            .collect()
    }

    // -----------------------------------------------------------------------------------------
    // Event validation (no mutation).

    fn exec_index(&self, id: &ExecId) -> Option<usize> {
        let occ = usize::try_from(id.occurrence).ok()?.checked_sub(1)?;
        self.by_task.get(&id.task)?.get(occ).copied()
    }

    fn running_unit(
        &self,
        id: &ExecId,
        item: Option<usize>,
        attempt: u32,
    ) -> Result<(usize, usize), MachineError> {
        if self.status.is_finished() {
            return Err(MachineError::Finished(self.status.as_str()));
        }
        let idx = self
            .exec_index(id)
            .ok_or_else(|| MachineError::UnknownExec(id.clone()))?;
        let exec = &self.execs[idx];
        let unexpected = |reason: String| MachineError::Unexpected {
            exec: id.clone(),
            item,
            attempt,
            reason,
        };
        let u = match (exec.fan_out, item) {
            (false, None) => 0,
            (true, Some(i)) if i < exec.units.len() => i,
            (true, Some(i)) => {
                return Err(unexpected(format!(
                    "it has {} items, not {}",
                    exec.units.len(),
                    i + 1
                )));
            }
            (true, None) => {
                return Err(unexpected(
                    "it fans out over items; the event must name the item".into(),
                ));
            }
            (false, Some(_)) => return Err(unexpected("it has no items".into())),
        };
        let Some(unit) = exec.units.get(u) else {
            return Err(unexpected("it runs no action (routing task)".into()));
        };
        if !matches!(unit.state, UnitState::Running)
            || unit.attempt != attempt
            || exec.status != ExecStatus::Running
        {
            return Err(unexpected(format!(
                "its current attempt is {} and it is {}",
                unit.attempt,
                match unit.state {
                    UnitState::Pending => "not started",
                    UnitState::Waiting { .. } => "waiting for a retry timer",
                    UnitState::Running => "running",
                    UnitState::Succeeded(_) => "succeeded",
                    UnitState::Failed(_) => "failed",
                    UnitState::Skipped => "skipped",
                }
            )));
        }
        Ok((idx, u))
    }

    // -----------------------------------------------------------------------------------------
    // Context and scopes.

    fn set_var(&mut self, name: &str, value: Value) {
        if let Some(c) = &mut self.cache.ctx {
            Arc::make_mut(c).insert(name.to_string(), expr::to_mj(&value));
        }
        self.ctx.insert(name.to_string(), value);
    }

    fn scope(&mut self) -> Scope {
        let ctx = self
            .cache
            .ctx
            .get_or_insert_with(|| {
                Arc::new(
                    self.ctx
                        .iter()
                        .map(|(k, v)| (k.clone(), expr::to_mj(v)))
                        .collect(),
                )
            })
            .clone();
        let tasks = self
            .cache
            .tasks
            .get_or_insert_with(|| {
                Arc::new(
                    self.task_views
                        .iter()
                        .map(|(k, v)| (k.clone(), expr::to_mj(v)))
                        .collect(),
                )
            })
            .clone();
        Scope {
            ctx,
            tasks,
            current: None,
            item: None,
            stub: None,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Errors and run status.

    fn record(
        &mut self,
        kind: &str,
        exec: Option<&ExecId>,
        message: String,
        extra: Option<(&str, Value)>,
    ) {
        let mut e = Map::new();
        e.insert("kind".into(), kind.into());
        if let Some(id) = exec {
            e.insert("task".into(), id.task.clone().into());
            e.insert("exec".into(), id.to_string().into());
        }
        e.insert("message".into(), message.into());
        if let Some((k, v)) = extra {
            e.insert(k.into(), v);
        }
        self.errors.push(Value::Object(e));
    }

    fn record_expr(&mut self, exec: Option<&ExecId>, err: ExprError) {
        let expression = err.expression.clone();
        self.record(
            "expression",
            exec,
            err.to_string(),
            Some(("expression", expression.into())),
        );
    }

    fn fail_run(&mut self, work: &mut VecDeque<Work>) {
        if self.status == RunStatus::Running {
            self.status = RunStatus::Failing;
            self.drop_timers(false, work);
        }
    }

    /// Drops pending timers (delays, retry waits): failing and canceled runs start nothing new.
    /// A failing run keeps the timers of remediation executions (`run_on_fail`).
    fn drop_timers(&mut self, all: bool, work: &mut VecDeque<Work>) {
        let active: Vec<usize> = self.active.iter().copied().collect();
        for idx in active {
            let exec = &mut self.execs[idx];
            if exec.run_on_fail && !all {
                continue;
            }
            if exec.status == ExecStatus::Delayed {
                exec.status = ExecStatus::Canceled;
                self.active.remove(&idx);
                continue;
            }
            if exec.waiting > 0 {
                for u in &mut exec.units {
                    if let UnitState::Waiting { last, .. } = &u.state {
                        u.state = match last.clone() {
                            Ok(v) => UnitState::Succeeded(v),
                            Err(e) => UnitState::Failed(e),
                        };
                    }
                }
                exec.waiting = 0;
                // Items not yet started are skipped by the pump, which completes the execution
                // once nothing of it runs.
                exec.stopping = true;
                work.push_back(Work::Pump { exec: idx });
            }
        }
    }

    fn may_start(&self, run_on_fail: bool) -> bool {
        match self.status {
            RunStatus::Running => true,
            RunStatus::Failing => run_on_fail,
            _ => false,
        }
    }

    // -----------------------------------------------------------------------------------------
    // The work loop.

    fn run(&mut self, mut work: VecDeque<Work>, out: &mut Vec<Command>) {
        while let Some(w) = work.pop_front() {
            match w {
                Work::Schedule { task, run_on_fail } => {
                    self.schedule(&task, run_on_fail, &mut work, out)
                }
                Work::Arrive {
                    task,
                    from,
                    run_on_fail,
                } => self.arrive(&task, &from, run_on_fail, &mut work),
                Work::Complete { exec } => self.complete(exec, &mut work, out),
                Work::Pump { exec } => self.pump(exec, &mut work, out),
            }
        }
        self.check_finish(out);
    }

    fn arrive(&mut self, target: &str, from: &str, run_on_fail: bool, work: &mut VecDeque<Work>) {
        let wf = self.workflow.clone();
        let Some(task) = wf.tasks.get(target) else {
            self.record(
                "unknown_task",
                None,
                format!("task `{from}` transitions to unknown task `{target}`; run orch workflow validate"),
                None,
            );
            self.fail_run(work);
            return;
        };
        let Some(join) = task.join else {
            work.push_back(Work::Schedule {
                task: target.to_string(),
                run_on_fail,
            });
            return;
        };
        let inbound = wf.inbound_tasks(target).len();
        let needed = match join {
            Join::All => inbound,
            Join::Count(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let b = self.barriers.entry(target.to_string()).or_default();
        if b.fired {
            if b.arrived.iter().any(|a| a == from) {
                // The same branch again: a new round (the join sits in a cycle).
                *b = Barrier::default();
            } else {
                // A late branch of a `join: N` that already ran: absorbed.
                b.arrived.push(from.to_string());
                if b.arrived.len() >= inbound {
                    *b = Barrier::default();
                }
                return;
            }
        }
        if !b.arrived.iter().any(|a| a == from) {
            b.arrived.push(from.to_string());
        }
        if b.arrived.len() >= needed {
            b.fired = true;
            if b.arrived.len() >= inbound {
                *b = Barrier::default();
            }
            work.push_back(Work::Schedule {
                task: target.to_string(),
                run_on_fail,
            });
        }
    }

    fn new_exec(&mut self, task: &str, run_on_fail: bool) -> usize {
        let list = self.by_task.entry(task.to_string()).or_default();
        let occurrence = u32::try_from(list.len() + 1).unwrap_or(u32::MAX);
        let idx = self.execs.len();
        list.push(idx);
        self.execs.push(Exec {
            id: ExecId {
                task: task.to_string(),
                occurrence,
            },
            status: ExecStatus::Running,
            run_on_fail,
            fan_out: false,
            units: Vec::new(),
            next_unit: 0,
            running: 0,
            waiting: 0,
            concurrency: None,
            stopping: false,
            timeout: None,
            delay: 0.0,
            retry: None,
            engine_retries: 0,
            result: None,
        });
        idx
    }

    fn schedule(
        &mut self,
        name: &str,
        run_on_fail: bool,
        work: &mut VecDeque<Work>,
        out: &mut Vec<Command>,
    ) {
        if !self.may_start(run_on_fail) {
            return;
        }
        let wf = self.workflow.clone();
        let Some(task) = wf.tasks.get(name) else {
            return;
        };
        let idx = self.new_exec(name, run_on_fail);
        let id = self.execs[idx].id.clone();
        match self.prepare(idx, task) {
            Ok(()) => {}
            Err(e) => {
                let exec = &mut self.execs[idx];
                exec.status = ExecStatus::Failed;
                exec.result = Some(json!({"message": e.to_string()}));
                self.set_task_view(idx);
                self.record_expr(Some(&id), e);
                self.fail_run(work);
                return;
            }
        }
        self.active.insert(idx);
        let exec = &mut self.execs[idx];
        if exec.delay > 0.0 {
            exec.status = ExecStatus::Delayed;
            out.push(Command::StartTimer {
                timer: TimerId {
                    exec: id,
                    item: None,
                    attempt: 1,
                },
                delay_secs: exec.delay,
            });
            return;
        }
        self.begin(idx, work, out);
    }

    /// Evaluates everything a task needs before it starts: delay, timeout, retry plan, items,
    /// concurrency and every unit's input. Orquesta renders these at scheduling time too, so a
    /// fan-out's inputs all see the same context.
    fn prepare(&mut self, idx: usize, task: &Task) -> Result<(), ExprError> {
        let site = |field: &str| format!("task `{}` {field}", task.name);
        let scope = self.scope();
        let delay = match &task.delay {
            Some(t) => number(t, &scope, &site("delay"))?,
            None => 0.0,
        };
        let timeout = task
            .timeout
            .as_ref()
            .map(|t| number(t, &scope, &site("timeout")))
            .transpose()?;
        let retry = match &task.retry {
            Some(r) => Some(RetryPlan {
                count: count(&r.count, &scope, &site("retry.count"))?,
                delay: r
                    .delay
                    .as_ref()
                    .map(|t| number(t, &scope, &site("retry.delay")))
                    .transpose()?
                    .unwrap_or(0.0),
                backoff: r.backoff,
            }),
            None => None,
        };
        let mut units = Vec::new();
        let mut concurrency = None;
        let fan_out = task.with.is_some();
        if task.action.is_some() {
            match &task.with {
                None => {
                    let input = render_input(task.input.as_ref(), &scope, &site("input"))?;
                    units.push(Unit::new(None, None, input));
                }
                Some(w) => {
                    let items =
                        expr::render(&w.items, &scope).map_err(|e| e.at(site("with.items")))?;
                    let Value::Array(items) = items else {
                        return Err(ExprError {
                            expression: w.items.as_expr().map(|e| e.source()).unwrap_or_default(),
                            site: site("with.items"),
                            message: format!("`with` needs a list, got {}", type_name(&items)),
                            loc: w.loc,
                        });
                    };
                    if let Some(c) = &w.concurrency {
                        let c = count(c, &scope, &site("with.concurrency"))?;
                        // Orquesta treats a concurrency below 1 as 1.
                        concurrency = Some(usize::try_from(c.max(1)).unwrap_or(usize::MAX));
                    }
                    let names = Arc::new(w.names.clone());
                    let mut item_scope = scope.clone();
                    for (i, item) in items.into_iter().enumerate() {
                        item_scope.item = Some(ItemBinding {
                            value: expr::to_mj(&item),
                            names: names.clone(),
                        });
                        let input = render_input(
                            task.input.as_ref(),
                            &item_scope,
                            &format!("{} (item {i})", site("input")),
                        )?;
                        units.push(Unit::new(Some(i), Some(item), input));
                    }
                }
            }
        }
        let exec = &mut self.execs[idx];
        exec.delay = delay;
        exec.timeout = timeout;
        exec.retry = retry;
        exec.units = units;
        exec.fan_out = fan_out;
        exec.concurrency = concurrency;
        Ok(())
    }

    fn begin(&mut self, idx: usize, work: &mut VecDeque<Work>, out: &mut Vec<Command>) {
        let exec = &mut self.execs[idx];
        exec.status = ExecStatus::Running;
        if exec.units.is_empty() {
            // A routing task, or a fan-out over an empty list: complete at once.
            work.push_back(Work::Complete { exec: idx });
            return;
        }
        self.pump(idx, work, out);
    }

    /// Starts units while concurrency allows; completes the execution when nothing is left.
    fn pump(&mut self, idx: usize, work: &mut VecDeque<Work>, out: &mut Vec<Command>) {
        let allowed = self.may_start(self.execs[idx].run_on_fail);
        loop {
            let exec = &mut self.execs[idx];
            if exec.next_unit >= exec.units.len() {
                break;
            }
            if !allowed || exec.stopping {
                // Never-started items are skipped: the fan-out stopped or the run is failing.
                for u in &mut exec.units[exec.next_unit..] {
                    u.state = UnitState::Skipped;
                }
                exec.next_unit = exec.units.len();
                break;
            }
            // An item waiting to retry keeps its slot: when its timer fires it runs again, and
            // the limit usually protects a target system from too many calls at once.
            if exec
                .concurrency
                .is_some_and(|c| exec.running + exec.waiting >= c)
            {
                break;
            }
            let u = exec.next_unit;
            exec.next_unit += 1;
            self.start_unit(idx, u, out);
        }
        if self.execs[idx].units_done() {
            work.push_back(Work::Complete { exec: idx });
        }
    }

    fn start_unit(&mut self, idx: usize, u: usize, out: &mut Vec<Command>) {
        let exec = &mut self.execs[idx];
        exec.units[u].state = UnitState::Running;
        exec.running += 1;
        let exec = &self.execs[idx];
        out.push(self.start_command(exec, &exec.units[u]));
    }

    fn start_command(&self, exec: &Exec, u: &Unit) -> Command {
        let action = self
            .workflow
            .tasks
            .get(&exec.id.task)
            .and_then(|t| t.action.clone())
            .unwrap_or_default();
        let mut key = format!("{}:{}", self.run_id, exec.id);
        if let Some(i) = u.item {
            key.push_str(&format!(":{i}"));
        }
        Command::StartAction {
            exec: exec.id.clone(),
            task: exec.id.task.clone(),
            item: u.item,
            attempt: u.attempt,
            action,
            input: u.input.clone(),
            timeout_secs: exec.timeout,
            idempotency_key: key,
        }
    }

    fn on_timer(
        &mut self,
        idx: usize,
        timer: &TimerId,
        work: &mut VecDeque<Work>,
        out: &mut Vec<Command>,
    ) {
        let exec = &self.execs[idx];
        if exec.status == ExecStatus::Delayed && timer.item.is_none() && timer.attempt == 1 {
            self.begin(idx, work, out);
            return;
        }
        if exec.status != ExecStatus::Running {
            return;
        }
        let u = match (exec.fan_out, timer.item) {
            (false, None) => 0,
            (true, Some(i)) => i,
            _ => return,
        };
        let due = exec.units.get(u).is_some_and(|unit| {
            matches!(unit.state, UnitState::Waiting { .. }) && unit.attempt == timer.attempt
        });
        if due {
            self.execs[idx].waiting -= 1;
            self.start_unit(idx, u, out);
        }
        // Otherwise a stale or duplicate timer: ignored (see the module docs).
    }

    fn on_outcome(
        &mut self,
        idx: usize,
        u: usize,
        outcome: Result<Value, Value>,
        work: &mut VecDeque<Work>,
        out: &mut Vec<Command>,
    ) {
        let wf = self.workflow.clone();
        let exec_id = self.execs[idx].id.clone();
        let Some(task) = wf.tasks.get(&exec_id.task) else {
            return;
        };
        self.execs[idx].running -= 1;
        if let Some(delay) = self.retry_delay(idx, u, task, &outcome, work) {
            let exec = &mut self.execs[idx];
            let unit = &mut exec.units[u];
            unit.policy_retries += 1;
            unit.attempt += 1;
            if delay > 0.0 {
                unit.state = UnitState::Waiting {
                    delay,
                    last: outcome,
                };
                exec.waiting += 1;
                out.push(Command::StartTimer {
                    timer: TimerId {
                        exec: exec_id,
                        item: unit.item,
                        attempt: unit.attempt,
                    },
                    delay_secs: delay,
                });
            } else {
                self.start_unit(idx, u, out);
            }
            return;
        }
        let failed = outcome.is_err();
        let exec = &mut self.execs[idx];
        exec.units[u].state = match outcome {
            Ok(v) => UnitState::Succeeded(v),
            Err(e) => UnitState::Failed(e),
        };
        if failed
            && exec.fan_out
            && task
                .with
                .as_ref()
                .is_some_and(|w| w.on_item_failure == ItemFailure::Fail)
        {
            exec.stopping = true;
        }
        self.pump(idx, work, out);
    }

    /// `Some(delay)` when this outcome is to be retried.
    fn retry_delay(
        &mut self,
        idx: usize,
        u: usize,
        task: &Task,
        outcome: &Result<Value, Value>,
        work: &mut VecDeque<Work>,
    ) -> Option<f64> {
        // Like Orquesta, a run that is failing or canceling retries nothing.
        if self.status != RunStatus::Running {
            return None;
        }
        let exec = &self.execs[idx];
        let plan = exec.retry.as_ref()?;
        let unit = &exec.units[u];
        if unit.policy_retries >= plan.count {
            return None;
        }
        let next = unit.policy_retries + 1;
        let delay = plan.delay_for(next);
        let retry = match task.retry.as_ref().and_then(|r| r.when.as_ref()) {
            None => match outcome {
                Ok(_) => false,
                Err(e) => {
                    e.get("timed_out") == Some(&Value::Bool(true))
                        || e.get("retryable") != Some(&Value::Bool(false))
                }
            },
            Some(when) => {
                let item = unit.item_value.clone();
                let names = task
                    .with
                    .as_ref()
                    .map(|w| w.names.clone())
                    .unwrap_or_default();
                let mut scope = self.scope();
                scope.current = Some(Current {
                    succeeded: outcome.is_ok(),
                    result: expr::to_mj(match outcome {
                        Ok(v) | Err(v) => v,
                    }),
                });
                scope.item = item.map(|v| ItemBinding {
                    value: expr::to_mj(&v),
                    names: Arc::new(names),
                });
                match expr::truthy(when, &scope) {
                    Ok(b) => b,
                    Err(e) => {
                        let id = self.execs[idx].id.clone();
                        self.record_expr(
                            Some(&id),
                            e.at(format!("task `{}` retry.when", task.name)),
                        );
                        self.fail_run(work);
                        false
                    }
                }
            }
        };
        retry.then_some(delay)
    }

    fn set_task_view(&mut self, idx: usize) {
        let exec = &self.execs[idx];
        let status = match exec.status {
            ExecStatus::Succeeded => "succeeded",
            ExecStatus::Failed => "failed",
            ExecStatus::Canceled => "canceled",
            ExecStatus::Delayed | ExecStatus::Running => "running",
        };
        let view = json!({"status": status, "result": exec.result.clone().unwrap_or(Value::Null)});
        let task = exec.id.task.clone();
        if let Some(c) = &mut self.cache.tasks {
            Arc::make_mut(c).insert(task.clone(), expr::to_mj(&view));
        }
        self.task_views.insert(task, view);
    }

    fn complete(&mut self, idx: usize, work: &mut VecDeque<Work>, out: &mut Vec<Command>) {
        if self.execs[idx].status != ExecStatus::Running {
            return;
        }
        let wf = self.workflow.clone();
        let exec = &mut self.execs[idx];
        let Some(task) = wf.tasks.get(&exec.id.task) else {
            return;
        };
        let (succeeded, result) = if !exec.fan_out {
            match exec.units.first().map(|u| &u.state) {
                None => (true, Value::Null),
                Some(UnitState::Succeeded(v)) => (true, v.clone()),
                Some(UnitState::Failed(e)) => (false, e.clone()),
                Some(_) => (false, Value::Null),
            }
        } else {
            let keep_going = task
                .with
                .as_ref()
                .is_some_and(|w| w.on_item_failure == ItemFailure::Continue);
            let all_ran = !exec
                .units
                .iter()
                .any(|u| matches!(u.state, UnitState::Skipped));
            let all_ok = exec
                .units
                .iter()
                .all(|u| matches!(u.state, UnitState::Succeeded(_)));
            let list = exec
                .units
                .iter()
                .map(|u| match &u.state {
                    UnitState::Succeeded(v) => v.clone(),
                    UnitState::Failed(e) => json!({"error": e}),
                    _ => Value::Null,
                })
                .collect();
            (all_ok || (keep_going && all_ran), Value::Array(list))
        };
        exec.status = if succeeded {
            ExecStatus::Succeeded
        } else {
            ExecStatus::Failed
        };
        exec.result = Some(result.clone());
        let exec_id = exec.id.clone();
        let run_on_fail_exec = exec.run_on_fail;
        self.active.remove(&idx);
        self.set_task_view(idx);

        // Transitions, in order.
        let current = Current {
            succeeded,
            result: expr::to_mj(&result),
        };
        let mut handled = false;
        let mut has_fail = false;
        let mut retry_requested = false;
        let mut targets: Vec<String> = Vec::new();
        // Every `when` sees the context as it was when the task completed, as in Orquesta:
        // a publish of an earlier transition must not switch on a later one.
        let mut taken = Vec::with_capacity(task.next.len());
        for (i, tr) in task.next.iter().enumerate() {
            let take = match &tr.when {
                None => true,
                Some(when) => {
                    let mut scope = self.scope();
                    scope.current = Some(current.clone());
                    match expr::truthy(when, &scope) {
                        Ok(b) => b,
                        Err(e) => {
                            self.expr_failed(&exec_id, e, &format!("next[{i}].when"), work);
                            taken.clear();
                            break;
                        }
                    }
                }
            };
            taken.push(take);
        }
        'transitions: for (i, tr) in task.next.iter().enumerate() {
            if !taken.get(i).copied().unwrap_or(false) {
                continue;
            }
            for p in &tr.publish {
                let mut scope = self.scope();
                scope.current = Some(current.clone());
                let rendered = expr::render(&p.value, &scope);
                drop(scope);
                match rendered {
                    Ok(v) => self.set_var(&p.name, v),
                    Err(e) => {
                        self.expr_failed(
                            &exec_id,
                            e,
                            &format!("next[{i}].publish.{}", p.name),
                            work,
                        );
                        break 'transitions;
                    }
                }
            }
            for t in &tr.targets {
                match &t.kind {
                    Target::Task(name) => {
                        handled = true;
                        targets.push(name.clone());
                    }
                    Target::Fail => {
                        handled = true;
                        has_fail = true;
                    }
                    Target::Noop => handled = true,
                    Target::Retry => {
                        // Past the limit `retry` acts as `continue`.
                        if self.execs[idx].engine_retries < ENGINE_RETRY_LIMIT {
                            handled = true;
                            retry_requested = true;
                        }
                    }
                    Target::Continue => {}
                }
            }
        }
        if has_fail {
            self.record(
                "fail_command",
                Some(&exec_id),
                format!("task `{}` transitioned to `fail`", exec_id.task),
                None,
            );
            self.fail_run(work);
        }
        if !succeeded && !handled {
            self.record(
                "task_failed",
                Some(&exec_id),
                format!(
                    "task `{}` failed and no transition handles the failure",
                    exec_id.task
                ),
                Some(("error", result)),
            );
            self.fail_run(work);
        }
        if retry_requested && self.may_start(run_on_fail_exec) {
            let exec = &mut self.execs[idx];
            exec.engine_retries += 1;
            exec.status = ExecStatus::Running;
            exec.stopping = false;
            exec.next_unit = 0;
            exec.running = 0;
            exec.waiting = 0;
            for unit in &mut exec.units {
                unit.attempt += 1;
                unit.policy_retries = 0;
                unit.state = UnitState::Pending;
            }
            self.active.insert(idx);
            self.begin(idx, work, out);
        }
        // Tasks named beside `fail` are remediation: they run although the run is failing.
        for name in targets {
            work.push_back(Work::Arrive {
                task: name,
                from: exec_id.task.clone(),
                run_on_fail: has_fail,
            });
        }
    }

    fn expr_failed(
        &mut self,
        exec: &ExecId,
        e: EvalFailure,
        field: &str,
        work: &mut VecDeque<Work>,
    ) {
        self.record_expr(Some(exec), e.at(format!("task `{}` {field}", exec.task)));
        self.fail_run(work);
    }

    fn check_finish(&mut self, out: &mut Vec<Command>) {
        if !self.started || self.status.is_finished() || !self.active.is_empty() {
            return;
        }
        let mut status = match self.status {
            RunStatus::Running => RunStatus::Succeeded,
            RunStatus::Failing => RunStatus::Failed,
            _ => RunStatus::Canceled,
        };
        if status == RunStatus::Succeeded {
            let partial: Vec<(String, Vec<String>)> = self
                .barriers
                .iter()
                .filter(|(_, b)| !b.fired && !b.arrived.is_empty())
                .map(|(t, b)| (t.clone(), b.arrived.clone()))
                .collect();
            for (task, arrived) in partial {
                let inbound = self.workflow.inbound_tasks(&task).join(", ");
                self.record(
                    "join",
                    None,
                    format!(
                        "join task `{task}` was reached from {} but waits for more of: {inbound}; no branch left can reach it",
                        arrived.join(", ")
                    ),
                    Some(("task", Value::String(task.clone()))),
                );
                status = RunStatus::Failed;
            }
        }
        let mut output = None;
        if !self.workflow.output.is_empty() {
            let wf = self.workflow.clone();
            let mut rendered = Map::new();
            for o in &wf.output {
                let scope = self.scope();
                match expr::render(&o.value, &scope) {
                    Ok(v) => {
                        rendered.insert(o.name.clone(), v);
                    }
                    Err(e) => {
                        self.record_expr(None, e.at(format!("output `{}`", o.name)));
                        if status == RunStatus::Succeeded {
                            status = RunStatus::Failed;
                        }
                    }
                }
            }
            output = Some(Value::Object(rendered));
        }
        self.status = status;
        self.output.clone_from(&output);
        out.push(Command::Finish {
            status,
            output,
            errors: self.errors.clone(),
        });
    }
}

impl Unit {
    fn new(item: Option<usize>, item_value: Option<Value>, input: Value) -> Unit {
        Unit {
            item,
            item_value,
            input,
            attempt: 1,
            policy_retries: 0,
            state: UnitState::Pending,
        }
    }
}

fn render_input(t: Option<&Template>, scope: &Scope, site: &str) -> Result<Value, ExprError> {
    match t {
        None => Ok(Value::Object(Map::new())),
        Some(t) => expr::render(t, scope).map_err(|e| e.at(site)),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn number(t: &Template, scope: &Scope, site: &str) -> Result<f64, ExprError> {
    let v = expr::render(t, scope).map_err(|e| e.at(site))?;
    match v.as_f64() {
        Some(n) if n >= 0.0 && n.is_finite() => Ok(n),
        _ => Err(ExprError {
            expression: t.as_expr().map(|e| e.source()).unwrap_or_default(),
            site: site.to_string(),
            message: format!("must be a non-negative number, got {v}"),
            loc: t.as_expr().map(|e| e.loc).unwrap_or_default(),
        }),
    }
}

fn count(t: &Template, scope: &Scope, site: &str) -> Result<u32, ExprError> {
    let v = expr::render(t, scope).map_err(|e| e.at(site))?;
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| ExprError {
            expression: t.as_expr().map(|e| e.source()).unwrap_or_default(),
            site: site.to_string(),
            message: format!("must be a non-negative integer, got {v}"),
            loc: t.as_expr().map(|e| e.loc).unwrap_or_default(),
        })
}
