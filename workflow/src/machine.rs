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
use std::sync::Arc;

use indexmap::IndexMap;
use minijinja::value::Value as MjValue;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::expr::{self, Current, EvalFailure, ExprError, ItemBinding, Scope};
use crate::model::{ItemFailure, Join, Target, Task, Template, Workflow};

mod exec;
mod outcome;
mod rerun;
mod routes;
mod schedule;
mod types;

use self::exec::{Exec, ExecStatus, RetryPlan, Unit, UnitState};
use self::routes::Routes;
use self::schedule::Barrier;
pub use self::types::{
    Command, Event, ExecId, ExecView, MachineError, RunError, RunStatus, TimerId,
};

/// Most times one execution may be re-run by the `retry` engine command (Orquesta: 3).
const ENGINE_RETRY_LIMIT: u32 = 3;

#[derive(Debug)]
enum Work {
    Schedule {
        task: String,
        run_on_fail: bool,
        /// The route the new execution belongs to (see [`Routes`]).
        route: usize,
    },
    Arrive {
        task: String,
        from: ExecId,
        /// Which of `from`'s transitions (its index in `next`).
        transition: usize,
        /// `from`'s route.
        route: usize,
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
    /// Join barriers, by join task and route (`task|route`).
    barriers: IndexMap<String, Barrier>,
    /// The routes executions belong to (Orquesta's): what tells apart the copies of a split
    /// task and everything downstream of each, so a join pairs up executions of the same route.
    routes: Routes,
    task_views: IndexMap<String, Value>,
    errors: Vec<Value>,
    output: Option<Value>,
    /// Tasks a transition named while the run was failing or canceling (not started then; a
    /// rerun starts them).
    suppressed: Vec<(String, usize)>,
    /// How many times the run was re-run.
    reruns: u32,
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
            routes: Routes::new(&workflow),
            task_views: IndexMap::new(),
            errors: Vec::new(),
            output: None,
            suppressed: Vec::new(),
            reruns: 0,
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
                route: 0,
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
            Event::RerunRequested { tasks, definition } => {
                self.rerun(&tasks, definition.as_deref(), &mut work)?;
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
                Work::Schedule {
                    task,
                    run_on_fail,
                    route,
                } => self.schedule(&task, run_on_fail, route, &mut work, out),
                Work::Arrive {
                    task,
                    from,
                    transition,
                    route,
                    run_on_fail,
                } => self.arrive(&task, &from, transition, route, run_on_fail, &mut work),
                Work::Complete { exec } => self.complete(exec, &mut work, out),
                Work::Pump { exec } => self.pump(exec, &mut work, out),
            }
        }
        self.check_finish(out);
    }
}
