//! The driver of one run: one loop that journals, feeds the machine and carries out its
//! commands; pack invocations run as tokio tasks and report back over a channel. Split by what
//! it drives: `invoke.rs` (pack actions), `children.rs` (sub-workflow steps), `resume.rs`
//! (continuing from the journal).
//!
//! # Durability rules
//!
//! - An attempt is recorded as started (committed) before its pack is invoked.
//! - An attempt's finish, its log lines and the machine event it causes are committed in one
//!   transaction, together with the starts, timers and status change that event led to.
//!   The machine sees an event just before that commit and nothing it asks for is carried out
//!   until the commit is done, so a crash loses either both or neither. Handing the event to the
//!   machine first means an event the machine refuses (a superseded attempt) never reaches the
//!   journal, which keeps replay exact.
//! - Group commit: everything that became ready together (a burst of fan-out completions, the
//!   built-ins they trigger, the next starts) goes in one IMMEDIATE transaction, one fsync.
//! - Built-ins `core.noop|echo|fail` have no effect outside the journal, so their start and
//!   finish are committed together.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use orch_workflow::{Command, Event, ExecId, Machine, RunStatus, TimerId};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::builtins::{self, ActionKind};
use super::failure::ActionFailure;
use super::{Engine, MAX_DEPTH, Note, Outcome, Question, RunState, lease, workflows};
use crate::capabilities::CapabilityContext;
use crate::contract::CallContext;
use crate::packs::ActionSpec;
use crate::runtime::{Limits, PreparedPack, SandboxError};
use crate::schema::Schema;
use crate::store::{
    AttemptId, AttemptRow, FinishedAttempt, JournalBatch, NO_ITEM, NewAttempt, NewLog, RunRow,
    StatusChange, now_ms,
};
pub(super) use children::waiting_reason;

mod children;
mod invoke;
mod resume;

use self::children::{ChildFuture, ChildStart};
use self::invoke::{Invoke, PackEntry, invocation_done};

/// How a drive begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// A new run: `start()`.
    Start,
    /// From the journal: act on what is outstanding.
    Resume,
    /// From the journal, then cancel: fail whatever is outstanding.
    Cancel,
}

/// One attempt of one action.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    exec: ExecId,
    item: Option<usize>,
    attempt: u32,
}

impl Key {
    fn row(&self) -> AttemptId {
        AttemptId {
            exec: self.exec.to_string(),
            item: self
                .item
                .map_or(NO_ITEM, |i| i64::try_from(i).unwrap_or(i64::MAX)),
            attempt: i64::from(self.attempt),
        }
    }

    fn event(&self, outcome: Result<Value, Value>, timed_out: bool) -> Event {
        match outcome {
            Ok(result) => Event::ActionSucceeded {
                exec: self.exec.clone(),
                item: self.item,
                attempt: self.attempt,
                result,
            },
            Err(error) => Event::ActionFailed {
                exec: self.exec.clone(),
                item: self.item,
                attempt: self.attempt,
                error,
                timed_out,
            },
        }
    }
}

/// A finished attempt on its way to the machine.
struct Done {
    key: Key,
    event: Event,
    logs: Vec<NewLog>,
    elapsed: Option<Duration>,
    /// The finish is already in the store (found on resume).
    recorded: bool,
}

impl Done {
    fn new(key: Key, outcome: Result<Value, Value>) -> Self {
        Done {
            event: key.event(outcome, false),
            key,
            logs: Vec::new(),
            elapsed: None,
            recorded: false,
        }
    }
}

enum Timer {
    Machine(TimerId),
    Sleep { key: Key, seconds: f64 },
}

pub(super) struct Driver<'e, 'a> {
    engine: &'e Engine<'a>,
    run: RunRow,
    machine: Machine,
    mode: Mode,
    depth: usize,
    seq: i64,
    batch: JournalBatch,
    ready: VecDeque<Done>,
    to_spawn: Vec<Invoke>,
    to_start_children: Vec<ChildStart>,
    running: HashMap<Key, tokio::task::AbortHandle>,
    timers: BTreeMap<(i64, u64), Timer>,
    timer_seq: u64,
    asks: BTreeMap<Key, Question>,
    children: FuturesUnordered<ChildFuture<'e>>,
    stopped_children: Vec<Outcome>,
    tx: mpsc::UnboundedSender<Done>,
    rx: mpsc::UnboundedReceiver<Done>,
    stopping: Option<tokio::time::Instant>,
    finished: Option<(RunStatus, Option<Value>, Vec<Value>)>,
    packs: HashMap<String, Result<Arc<PackEntry>, Value>>,
    /// On resume: attempt rows and armed timers, consulted once per outstanding command.
    resume_rows: HashMap<AttemptId, AttemptRow>,
    resume_timers: HashMap<String, i64>,
}

fn timer_key(t: &TimerId) -> String {
    t.to_string()
}

fn to_json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

fn canceled_error() -> Value {
    builtins::error("canceled", "the run was canceled".to_owned())
}

impl<'e, 'a> Driver<'e, 'a> {
    pub(super) fn new(
        engine: &'e Engine<'a>,
        run: RunRow,
        machine: Machine,
        mode: Mode,
        depth: usize,
        seq: i64,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            engine,
            run,
            machine,
            mode,
            depth,
            seq,
            batch: JournalBatch::default(),
            ready: VecDeque::new(),
            to_spawn: Vec::new(),
            to_start_children: Vec::new(),
            running: HashMap::new(),
            timers: BTreeMap::new(),
            timer_seq: 0,
            asks: BTreeMap::new(),
            children: FuturesUnordered::new(),
            stopped_children: Vec::new(),
            tx,
            rx,
            stopping: None,
            finished: None,
            packs: HashMap::new(),
            resume_rows: HashMap::new(),
            resume_timers: HashMap::new(),
        }
    }

    /// Drives the run until it finishes, waits for a person, or is stopped by a signal.
    pub(super) async fn drive(mut self) -> anyhow::Result<Outcome> {
        let engine = self.engine;
        engine.observer.note(Note::RunStarted {
            run: &self.run.id,
            workflow: &self.run.workflow,
            parent: self.run.parent_run.as_deref(),
            resumed: self.mode != Mode::Start,
        });
        let initial = match self.mode {
            Mode::Start => self.machine.start(),
            Mode::Resume | Mode::Cancel => {
                if self.machine.status().is_finished() {
                    // The journal holds the end; make sure the run row says so too.
                    self.finished = Some((
                        self.machine.status(),
                        self.machine.output().cloned(),
                        self.machine.errors().to_vec(),
                    ));
                    self.batch.status = Some(self.final_status());
                    Vec::new()
                } else {
                    self.load_resume_state()?;
                    let mut cmds = Vec::new();
                    if self.mode == Mode::Cancel {
                        cmds.extend(self.cancel_event());
                    }
                    if let Some(attention) = self.needs_attention()? {
                        return self.end_without_finish(RunState::NeedsAttention, Some(attention));
                    }
                    cmds.extend(self.machine.outstanding());
                    cmds
                }
            }
        };
        if *engine.shutdown.borrow() {
            self.stop();
        }
        for c in initial {
            self.act(c)?;
        }
        let mut shutdown = engine.shutdown.clone();
        let mut tick = tokio::time::interval(lease::RENEW_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            self.flush()?;
            if self.finished.is_some() {
                break;
            }
            let busy = !self.running.is_empty() || !self.children.is_empty();
            if !busy && (self.stopping.is_some() || self.timers.is_empty()) {
                break;
            }
            let next_timer = self.timers.keys().next().map(|(due, _)| instant_at(*due));
            let grace_end = self.stopping;
            tokio::select! {
                Some(done) = self.rx.recv() => {
                    self.ready.push_back(done);
                    while let Ok(done) = self.rx.try_recv() {
                        self.ready.push_back(done);
                    }
                }
                Some((key, end)) = self.children.next(), if !self.children.is_empty() => {
                    self.child_ended(key, end?);
                }
                () = sleep_until(next_timer), if next_timer.is_some() && grace_end.is_none() => {
                    self.fire_due_timers();
                }
                _ = tick.tick() => {
                    let cancel = engine.store.renew_lease(
                        &self.run.id,
                        engine.owner.pid,
                        self.run.lease_token,
                        lease::expiry(),
                    )?;
                    if cancel && self.mode != Mode::Cancel {
                        self.mode = Mode::Cancel;
                        let cmds = self.cancel_event();
                        for c in cmds {
                            self.act(c)?;
                        }
                    }
                }
                changed = shutdown.changed(), if grace_end.is_none() => {
                    if changed.is_ok() && *shutdown.borrow() {
                        self.stop();
                    }
                }
                () = sleep_until(grace_end), if grace_end.is_some() => {
                    // Out of grace: abandon what still runs. Those attempts stay started
                    // without a finish; a resume re-runs them (idempotent) or asks a person.
                    for (_, handle) in self.running.drain() {
                        handle.abort();
                    }
                    break;
                }
            }
        }
        self.flush()?;
        if self.finished.is_some() {
            let outcome = self.outcome(RunState::parse(self.machine.status().as_str()), None);
            engine.release_lease(&self.run.id)?;
            engine.observer.note(Note::RunEnded(&outcome));
            return Ok(outcome);
        }
        let id = self.run.id.clone();
        if self.stopping.is_some() {
            let reason = format!("stopped by a signal; continue it with: orch runs resume {id}");
            return self.end_without_finish(RunState::Paused, Some(reason));
        }
        if let Some(child) = self
            .stopped_children
            .iter()
            .find(|o| o.status == RunState::NeedsAttention)
        {
            let reason = format!(
                "sub-workflow run {} needs attention: {}",
                child.run,
                child.reason.clone().unwrap_or_default()
            );
            return self.end_without_finish(RunState::NeedsAttention, Some(reason));
        }
        if !self.asks.is_empty()
            || self
                .stopped_children
                .iter()
                .any(|o| o.status == RunState::Waiting)
        {
            let tasks = self.questions();
            let reason = tasks
                .iter()
                .map(|q| {
                    format!(
                        "task `{}` asks: {}; answer with: orch runs respond {} {} --input JSON",
                        q.task, q.prompt, q.run, q.task
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            return self.end_without_finish(RunState::Waiting, Some(reason));
        }
        let paused = self
            .stopped_children
            .iter()
            .find(|o| o.status == RunState::Paused)
            .map(|o| o.reason.clone().unwrap_or_default());
        let reason = paused.unwrap_or_else(|| {
            format!("stopped with nothing to run; resume it with: orch runs resume {id}")
        });
        self.end_without_finish(RunState::Paused, Some(reason))
    }

    fn stop(&mut self) {
        if self.stopping.is_none() {
            let grace = self.engine.settings.grace;
            self.stopping = Some(tokio::time::Instant::now() + grace);
            self.engine.observer.note(Note::Stopping {
                run: &self.run.id,
                running: self.running.len(),
                grace,
            });
        }
    }

    fn questions(&self) -> Vec<Question> {
        let mut out: Vec<Question> = self.asks.values().cloned().collect();
        for c in &self.stopped_children {
            out.extend(c.questions.iter().cloned());
        }
        out
    }

    fn outcome(&self, status: RunState, reason: Option<String>) -> Outcome {
        let (output, errors) = match &self.finished {
            Some((_, output, errors)) => (output.clone(), errors.clone()),
            None => (None, Vec::new()),
        };
        Outcome {
            run: self.run.id.clone(),
            status,
            output,
            errors,
            reason,
            questions: self.questions(),
        }
    }

    fn end_without_finish(
        mut self,
        status: RunState,
        reason: Option<String>,
    ) -> anyhow::Result<Outcome> {
        self.batch.status = Some(StatusChange {
            status: status.as_str().to_owned(),
            reason: reason.clone(),
            output: None,
            errors: None,
        });
        self.commit()?;
        self.engine.release_lease(&self.run.id)?;
        let outcome = self.outcome(status, reason);
        self.engine.observer.note(Note::RunEnded(&outcome));
        Ok(outcome)
    }

    fn final_status(&self) -> StatusChange {
        let (status, output, errors) =
            self.finished
                .clone()
                .unwrap_or((RunStatus::Failed, None, Vec::new()));
        StatusChange {
            status: status.as_str().to_owned(),
            reason: None,
            output: output.map(|o| to_json(&o)),
            errors: Some(to_json(&errors)),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Commands. (Resuming from the journal is in `resume.rs`, pack invocations in `invoke.rs`,
    // sub-workflow steps in `children.rs`.)

    fn act(&mut self, cmd: Command) -> anyhow::Result<()> {
        match cmd {
            Command::StartAction {
                exec,
                task,
                item,
                attempt,
                action,
                input,
                placement,
                timeout_secs,
                idempotency_key,
            } => {
                if self.stopping.is_some() {
                    // Stays outstanding in the machine; a resume starts it.
                    return Ok(());
                }
                let key = Key {
                    exec,
                    item,
                    attempt,
                };
                let resumed = self.resume_rows.remove(&key.row());
                if let Some(row) = &resumed
                    && let Some(outcome) = &row.outcome
                {
                    // Finished and recorded, but its event was not journaled: journal it,
                    // never run it again.
                    let event: Event = serde_json::from_str(outcome)
                        .context("reading a recorded attempt outcome")?;
                    self.ready.push_back(Done {
                        key,
                        event,
                        logs: Vec::new(),
                        elapsed: None,
                        recorded: true,
                    });
                    return Ok(());
                }
                let kind = builtins::classify(&action);
                // Continuations (a sleep, a question, a child run) keep their original start;
                // re-invocations count another start. An interrupted attempt that is now
                // recorded as failed or canceled without running again keeps its one start:
                // the history must not suggest it ran twice.
                let continuation = resumed.is_some()
                    && matches!(
                        kind,
                        ActionKind::Sleep | ActionKind::Ask | ActionKind::Workflow
                    );
                let settled_unrun = resumed.is_some()
                    && ((self.mode == Mode::Cancel && kind != ActionKind::Workflow)
                        || self.fails_interrupted(&kind));
                if !continuation && !settled_unrun {
                    self.batch.starts.push(NewAttempt {
                        id: key.row(),
                        task: task.clone(),
                        action: action.clone(),
                        input: to_json(&input),
                        idempotency_key: idempotency_key.clone(),
                    });
                }
                self.engine.observer.note(Note::Started {
                    run: &self.run.id,
                    exec: &key.exec.to_string(),
                    item: key.item,
                    attempt: key.attempt,
                    action: &action,
                });
                if self.mode == Mode::Cancel && kind != ActionKind::Workflow {
                    self.ready.push_back(Done::new(key, Err(canceled_error())));
                    return Ok(());
                }
                match kind {
                    ActionKind::Pure(which) => {
                        let outcome = builtins::run_pure(which, &input);
                        self.ready.push_back(Done::new(key, outcome));
                    }
                    ActionKind::UnknownCore => {
                        let msg = format!(
                            "unknown built-in action `{action}`; the built-ins are: {}",
                            builtins::BUILTINS.join(", ")
                        );
                        self.ready
                            .push_back(Done::new(key, Err(builtins::error("unknown_action", msg))));
                    }
                    ActionKind::Sleep => match builtins::sleep_seconds(&input) {
                        Ok(seconds) => {
                            let start = resumed.as_ref().map_or_else(now_ms, |r| r.started_at);
                            let due = start.saturating_add(secs_to_ms(seconds));
                            self.arm(due, Timer::Sleep { key, seconds });
                        }
                        Err(e) => self.ready.push_back(Done::new(key, Err(e))),
                    },
                    ActionKind::Ask => self.ask(key, &task, &input, &idempotency_key)?,
                    ActionKind::Catalog(op) => {
                        let writer = crate::catalog::run_writer(&self.run.id, &task);
                        let store = self.engine.store;
                        let outcome = blocking(|| {
                            builtins::run_catalog(op, store, &input, &writer, &idempotency_key)
                        });
                        self.ready.push_back(Done::new(key, outcome));
                    }
                    ActionKind::Workflow => {
                        // The task's timeout bounds the whole child run, from the attempt's
                        // first start (a resumed child keeps its original deadline).
                        let started = resumed.as_ref().map_or_else(now_ms, |r| r.started_at);
                        self.to_start_children.push(ChildStart {
                            step: format!("{idempotency_key}@{attempt}"),
                            key,
                            action,
                            input,
                            cancel: self.mode == Mode::Cancel,
                            deadline: timeout_secs.map(|t| started.saturating_add(secs_to_ms(t))),
                            timeout_secs,
                            placement,
                        });
                    }
                    ActionKind::Pack { pack, action: name } => {
                        if let Some(row) = &resumed {
                            if settled_unrun {
                                let error = builtins::error(
                                    "interrupted",
                                    format!(
                                        "attempt {} of {action} was interrupted and recorded as \
                                         failed by --fail-interrupted",
                                        key.attempt
                                    ),
                                );
                                self.ready.push_back(Done::new(key, Err(error)));
                                return Ok(());
                            }
                            tracing::info!(
                                run = %self.run.id,
                                "re-running interrupted attempt {} of {action} (started {} times)",
                                key.exec,
                                row.starts
                            );
                        }
                        self.pack_start(
                            key,
                            &pack,
                            &name,
                            &input,
                            timeout_secs,
                            &task,
                            &idempotency_key,
                        );
                    }
                }
            }
            Command::StartTimer { timer, delay_secs } => {
                let k = timer_key(&timer);
                let due = match self.resume_timers.remove(&k) {
                    Some(due) => due,
                    None => {
                        let due = now_ms().saturating_add(secs_to_ms(delay_secs));
                        self.batch.timers_armed.push((k, due));
                        due
                    }
                };
                self.arm(due, Timer::Machine(timer));
            }
            Command::Finish {
                status,
                output,
                errors,
            } => {
                self.finished = Some((status, output, errors));
                self.batch.status = Some(self.final_status());
                for (_, t) in std::mem::take(&mut self.timers) {
                    if let Timer::Machine(id) = t {
                        self.batch.timers_done.push(timer_key(&id));
                    }
                }
            }
        }
        Ok(())
    }

    fn arm(&mut self, due: i64, timer: Timer) {
        self.timer_seq += 1;
        self.timers.insert((due, self.timer_seq), timer);
    }

    fn ask(&mut self, key: Key, task: &str, input: &Value, step: &str) -> anyhow::Result<()> {
        let q = match builtins::question(input) {
            Ok(q) => q,
            Err(e) => {
                self.ready.push_back(Done::new(key, Err(e)));
                return Ok(());
            }
        };
        let store = self.engine.store;
        let answer = match store.answer(&self.run.id, step)? {
            Some(a) => Some(a),
            None => store.answer(&self.run.id, &format!("task:{task}"))?,
        };
        if let Some(answer) = answer {
            let value: Value = serde_json::from_str(&answer).unwrap_or(Value::String(answer));
            match super::check_answer(&q.schema, task, &value) {
                Ok(()) => {
                    self.ready.push_back(Done::new(key, Ok(value)));
                    return Ok(());
                }
                Err(rejected) => self.engine.observer.note(Note::AnswerIgnored {
                    run: &self.run.id,
                    task,
                    reason: rejected.to_string(),
                }),
            }
        }
        let question = Question {
            run: self.run.id.clone(),
            task: task.to_owned(),
            prompt: q.prompt,
            schema: q.schema,
            pending_answer: None,
        };
        self.engine.observer.note(Note::Asking(&question));
        self.asks.insert(key, question);
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Events.

    fn complete(&mut self, done: Done) -> anyhow::Result<()> {
        self.running.remove(&done.key);
        let error = match &done.event {
            Event::ActionFailed { error, .. } => Some(error),
            _ => None,
        };
        self.engine.observer.note(Note::Finished {
            run: &self.run.id,
            exec: &done.key.exec.to_string(),
            item: done.key.item,
            attempt: done.key.attempt,
            error,
            elapsed: done.elapsed,
        });
        let text = to_json(&done.event);
        if !done.recorded {
            self.batch.finishes.push(FinishedAttempt {
                id: done.key.row(),
                outcome: text.clone(),
                logs: done.logs,
            });
        }
        match self.machine.handle(done.event) {
            Ok(cmds) => {
                self.batch.events.push(text);
                for c in cmds {
                    self.act(c)?;
                }
            }
            Err(err) => {
                // The attempt is recorded as finished; the machine no longer waits for it.
                tracing::debug!(run = %self.run.id, "event refused: {err}");
            }
        }
        Ok(())
    }

    fn fire_due_timers(&mut self) {
        let now = now_ms();
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            match entry.remove() {
                Timer::Machine(id) => {
                    self.batch.timers_done.push(timer_key(&id));
                    let event = Event::TimerFired { timer: id };
                    let text = to_json(&event);
                    if let Ok(cmds) = self.machine.handle(event) {
                        self.batch.events.push(text);
                        for c in cmds {
                            if let Err(err) = self.act(c) {
                                tracing::warn!("acting on a timer: {err:#}");
                            }
                        }
                    }
                }
                Timer::Sleep { key, seconds } => {
                    self.ready
                        .push_back(Done::new(key, Ok(json!({"slept": seconds}))));
                }
            }
        }
    }

    /// Turns a cancel request into the machine's event; what waits on nothing but time or a
    /// person (questions, sleeps) fails at once, running invocations finish.
    fn cancel_event(&mut self) -> Vec<Command> {
        self.batch.clear_cancel = true;
        let mut cmds = Vec::new();
        let event = Event::CancelRequested;
        let text = to_json(&event);
        if let Ok(more) = self.machine.handle(event) {
            self.batch.events.push(text);
            cmds = more;
        }
        for (key, _) in std::mem::take(&mut self.asks) {
            self.ready.push_back(Done::new(key, Err(canceled_error())));
        }
        for (_, t) in std::mem::take(&mut self.timers) {
            match t {
                Timer::Sleep { key, .. } => {
                    self.ready.push_back(Done::new(key, Err(canceled_error())));
                }
                Timer::Machine(id) => self.batch.timers_done.push(timer_key(&id)),
            }
        }
        if let Ok(children) = self.engine.store.child_runs(&self.run.id) {
            for c in children {
                if !RunState::parse(&c.status).is_finished() {
                    let _ = self.engine.store.request_cancel(&c.id);
                }
            }
        }
        cmds
    }

    // -----------------------------------------------------------------------------------------
    // Commit, then act.

    fn commit(&mut self) -> anyhow::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let mut batch = std::mem::take(&mut self.batch);
        batch.fence = Some(self.run.lease_token);
        let store = self.engine.store;
        let (run, seq) = (&self.run.id, &mut self.seq);
        blocking(|| store.commit_batch(run, seq, &batch))
            .with_context(|| format!("writing the journal of run {run}"))
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        while let Some(done) = self.ready.pop_front() {
            self.complete(done)?;
        }
        self.commit()?;
        let runtime = &self.engine.runtime;
        for inv in self.to_spawn.drain(..) {
            let runtime = Arc::clone(runtime);
            let tx = self.tx.clone();
            let key = inv.key.clone();
            let handle = tokio::spawn(async move {
                let started = Instant::now();
                let mut result = runtime
                    .invoke(
                        &inv.pack,
                        &inv.action,
                        &inv.input,
                        &inv.context,
                        &inv.limits,
                        &inv.capabilities,
                    )
                    .await;
                inv.entry
                    .check_output(inv.pack.name(), &inv.action, &mut result);
                let _ = tx.send(invocation_done(inv.key, result, started.elapsed()));
            });
            self.running.insert(key, handle.abort_handle());
        }
        for child in std::mem::take(&mut self.to_start_children) {
            let engine = self.engine;
            let parent = self.run.clone();
            let depth = self.depth + 1;
            self.children.push(Box::pin(async move {
                let key = child.key.clone();
                let end = engine.run_child(&parent, child, depth).await;
                (key, end)
            }));
        }
        Ok(())
    }
}

fn secs_to_ms(secs: f64) -> i64 {
    // Saturating float-to-int conversion: huge delays clamp instead of wrapping.
    (secs * 1000.0).round() as i64
}

fn instant_at(due_ms: i64) -> tokio::time::Instant {
    let wait = due_ms.saturating_sub(now_ms()).max(0);
    tokio::time::Instant::now() + Duration::from_millis(u64::try_from(wait).unwrap_or(0))
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Runs blocking store work from async code; on a multi-threaded runtime other tasks
/// (invocations, other runs) keep going.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

impl<'a> Engine<'a> {
    /// Drives `run` from the start or from its journal (the lease is already held).
    pub(super) async fn drive_row(
        &self,
        run: RunRow,
        mode: Mode,
        depth: usize,
    ) -> anyhow::Result<Outcome> {
        let machine = if mode == Mode::Start {
            let wf = orch_workflow::parse_workflow(&run.source, &run.definition)
                .with_context(|| format!("parsing workflow {}", run.source))?;
            let input = match serde_json::from_str::<Value>(&run.input)? {
                Value::Object(m) => m,
                _ => serde_json::Map::new(),
            };
            Machine::new(Arc::new(wf), run.id.clone(), input)
                .with_context(|| format!("starting run {}", run.id))?
        } else {
            super::replay(self.store, &run)?
        };
        let seq = self.store.next_seq(&run.id)?;
        if mode != Mode::Start {
            // Mark it driven again: `runs list` must not show a resumed run as paused.
            let batch = JournalBatch {
                status: Some(StatusChange {
                    status: RunState::Running.as_str().to_owned(),
                    reason: None,
                    output: None,
                    errors: None,
                }),
                fence: Some(run.lease_token),
                ..JournalBatch::default()
            };
            let mut s = seq;
            self.store.commit_batch(&run.id, &mut s, &batch)?;
        }
        Driver::new(self, run, machine, mode, depth, seq)
            .drive()
            .await
    }
}
