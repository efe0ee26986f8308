//! Durable workflow runs: starting, resuming, answering, cancelling and inspecting them.
//!
//! The workflow language and its pure state machine live in the `orch-workflow` crate; this
//! module is the driver around it: it journals to the store, invokes pack actions through the
//! runtime, runs the `core.*` built-ins, runs sub-workflows as child runs and holds the lease
//! that keeps two processes from driving one run. See `driver.rs` for the loop and its
//! durability rules.

pub mod builtins;
mod driver;
pub(crate) use driver::blocking;
pub mod failure;
pub mod lease;
pub mod rehearsals;
mod report;
pub mod workflows;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use orch_workflow::{ActionKnown, ActionLookup, Machine, ParseError, Problem, RunError};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::watch;

use crate::capabilities::Broker;
use crate::packs::Packs;
use crate::runtime::{Limits, Runtime};
use crate::schema::InputRejected;
use crate::store::{LeaseHeld, RunRow, Store, now_ms};
use builtins::ActionKind;
pub use report::{AttemptReport, ExecReport, RunReport, report};
pub use workflows::LookupError;

/// Where a run stands, as stored and printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Recorded for a worker to drive (`orch run --queue`); no process holds it yet.
    Queued,
    /// Being driven.
    Running,
    /// Stopped by a signal (or a crash noticed later): resume it.
    Paused,
    /// Waiting for an answer to a `core.ask`.
    Waiting,
    /// An interrupted attempt of a non-idempotent action needs a person's decision.
    NeedsAttention,
    /// Done, successfully.
    Succeeded,
    /// Done, failed.
    Failed,
    /// Done, canceled.
    Canceled,
}

impl RunState {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Waiting => "waiting",
            RunState::NeedsAttention => "needs_attention",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Canceled => "canceled",
        }
    }

    /// Parses a stored name; unknown names read as paused (resumable).
    pub fn parse(text: &str) -> Self {
        match text {
            "queued" => RunState::Queued,
            "running" => RunState::Running,
            "waiting" => RunState::Waiting,
            "needs_attention" => RunState::NeedsAttention,
            "succeeded" => RunState::Succeeded,
            "failed" => RunState::Failed,
            "canceled" => RunState::Canceled,
            _ => RunState::Paused,
        }
    }

    /// Whether the run is over.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunState::Succeeded | RunState::Failed | RunState::Canceled
        )
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A question a run waits on.
#[derive(Debug, Clone, Serialize)]
pub struct Question {
    /// Run that asks (a sub-workflow's own run, when the question is inside one).
    pub run: String,
    /// Task.
    pub task: String,
    /// The prompt.
    pub prompt: String,
    /// JSON Schema the answer must match.
    pub schema: Value,
    /// An answer already given (`orch runs respond`) that the run has not taken yet: the
    /// process that gave it stopped before the run recorded it. The next resume takes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_answer: Option<Value>,
}

/// Which workflow a rerun went on with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "revision", content = "path", rename_all = "snake_case")]
pub enum Revision {
    /// The revision the run started with (its definition snapshot).
    Recorded,
    /// The workflow file as it is now, at this path.
    Current(String),
}

/// How a drive of a run ended.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Run id.
    pub run: String,
    /// Where it stands.
    pub status: RunState,
    /// Rendered output, when finished and the workflow declares one.
    pub output: Option<Value>,
    /// Errors recorded by the machine.
    pub errors: Vec<Value>,
    /// Why it stopped without finishing, and what to do.
    pub reason: Option<String>,
    /// Questions waiting for an answer.
    pub questions: Vec<Question>,
}

/// Things the user can fix: bad workflows, inputs, answers, unknown runs, a busy run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The workflow file cannot be found or read.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// The workflow does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The workflow parses but is wrong.
    #[error("workflow {path} has {} problem{}:{}\ncheck it with: orch workflow validate {path}",
        problems.len(), if problems.len() == 1 { "" } else { "s" }, list(problems))]
    Invalid {
        /// Workflow file.
        path: String,
        /// What is wrong.
        problems: Vec<Problem>,
    },
    /// The input does not fit the workflow.
    #[error("workflow {workflow}: {error}")]
    Input {
        /// Workflow name.
        workflow: String,
        /// Why.
        error: RunError,
    },
    /// Input given on the command line is unusable.
    #[error("{0}")]
    BadInput(String),
    /// No such run.
    #[error("no run {0}; list runs with: orch runs list")]
    NoRun(String),
    /// A prefix that matches several runs.
    #[error("run id prefix {prefix} matches several runs ({matches}); give more of the id")]
    Ambiguous {
        /// The prefix.
        prefix: String,
        /// Some of the matches.
        matches: String,
    },
    /// Another process drives the run.
    #[error(transparent)]
    Busy(#[from] LeaseHeld),
    /// Nothing to resume.
    #[error("run {run} already {status}; there is nothing to {verb}")]
    Finished {
        /// Run id.
        run: String,
        /// Its final status.
        status: RunState,
        /// What was asked.
        verb: &'static str,
    },
    /// `respond` to a task that asks nothing.
    #[error("run {run} has no question waiting at task `{task}`; {waiting}")]
    NoQuestion {
        /// Run id.
        run: String,
        /// Task named.
        task: String,
        /// What is waiting instead.
        waiting: String,
    },
    /// The answer fails the question's schema; nothing was recorded.
    #[error("the answer to task `{task}` of run {run} does not match the question's schema, so \
             nothing was recorded ({} violation{}):{}\nsee the question with: orch runs show {run}",
        rejected.violations.len(), if rejected.violations.len() == 1 { "" } else { "s" },
        violations(rejected))]
    AnswerRejected {
        /// Run id.
        run: String,
        /// Task.
        task: String,
        /// Violations.
        rejected: InputRejected,
    },
    /// A journaled event the machine refuses on replay.
    #[error(
        "the journal of run {run} no longer fits its workflow: event {seq} is refused on replay \
         ({reason}); this orch reads the run differently from the one that wrote it, so it will \
         not drive or report it. Use the orch version that started the run"
    )]
    JournalMismatch {
        /// Run id.
        run: String,
        /// Position of the event in the journal, from 1.
        seq: usize,
        /// The machine's refusal.
        reason: String,
    },
    /// A rerun that cannot be done.
    #[error("run {run} cannot be re-run: {reason}")]
    Rerun {
        /// Run id.
        run: String,
        /// Why.
        reason: String,
    },
    /// An earlier answer the run has not taken yet differs from this one.
    #[error(
        "run {run} already has an answer to task `{task}` that it has not taken yet: {pending} \
         (the process that gave it stopped before the run recorded it); resume the run to apply \
         it (orch runs resume {run}), or give this answer with --replace to use it instead"
    )]
    AnswerPending {
        /// Run id.
        run: String,
        /// Task.
        task: String,
        /// The answer waiting, as JSON.
        pending: String,
    },
}

fn violations(rejected: &InputRejected) -> String {
    rejected
        .violations
        .iter()
        .map(|v| {
            let path = if v.path.is_empty() { "/" } else { &v.path };
            format!("\n  at {path}: {}", v.message)
        })
        .collect()
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  {p}")).collect()
}

/// What the driver tells the user as a run progresses.
#[derive(Debug)]
pub enum Note<'a> {
    /// A run starts or resumes being driven.
    RunStarted {
        /// Run id.
        run: &'a str,
        /// Workflow name.
        workflow: &'a str,
        /// Parent run, for a sub-workflow.
        parent: Option<&'a str>,
        /// Whether it continues from its journal.
        resumed: bool,
    },
    /// An attempt starts.
    Started {
        /// Run id.
        run: &'a str,
        /// Task execution (`task#occurrence`).
        exec: &'a str,
        /// Fan-out item.
        item: Option<usize>,
        /// Attempt.
        attempt: u32,
        /// Action.
        action: &'a str,
    },
    /// An attempt finished.
    Finished {
        /// Run id.
        run: &'a str,
        /// Task execution.
        exec: &'a str,
        /// Fan-out item.
        item: Option<usize>,
        /// Attempt.
        attempt: u32,
        /// The error, when it failed.
        error: Option<&'a Value>,
        /// Wall time, for invocations timed by this process.
        elapsed: Option<Duration>,
    },
    /// A question waits for a person.
    Asking(&'a Question),
    /// A pre-given answer did not fit the question.
    AnswerIgnored {
        /// Run id.
        run: &'a str,
        /// Task.
        task: &'a str,
        /// Why.
        reason: String,
    },
    /// A signal arrived: no new work starts.
    Stopping {
        /// Run id.
        run: &'a str,
        /// Invocations still running.
        running: usize,
        /// How long they get.
        grace: Duration,
    },
    /// A drive of a run ended.
    RunEnded(&'a Outcome),
}

/// Receives [`Note`]s (the CLI prints them).
pub trait Observer: Send + Sync {
    /// One note.
    fn note(&self, note: Note<'_>);
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct Quiet;

impl Observer for Quiet {
    fn note(&self, _: Note<'_>) {}
}

/// Settings of one engine.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Limits of pack invocations; a task's `timeout` replaces the deadline.
    pub limits: Limits,
    /// How long running invocations get to finish after SIGINT/SIGTERM.
    pub grace: Duration,
    /// Workflow directory for new runs, and an override for resumed ones.
    pub workflows_dir: Option<PathBuf>,
    /// Re-run interrupted attempts of non-idempotent actions (a person checked).
    pub retry_interrupted: bool,
    /// Record interrupted attempts of non-idempotent actions as failed.
    pub fail_interrupted: bool,
    /// Hand sub-workflow runs out to the workers sharing the store (queued, placed by the
    /// task's `placement:`) instead of driving them here: what `orch worker` does.
    pub hand_out_children: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            limits: Limits::DEFAULT,
            grace: Duration::from_secs(10),
            workflows_dir: None,
            retry_interrupted: false,
            fail_interrupted: false,
            hand_out_children: false,
        }
    }
}

/// Result of `cancel`.
#[derive(Debug)]
pub enum Canceled {
    /// Canceled here.
    Done(Outcome),
    /// Another process drives the run; it was asked to cancel.
    Requested(LeaseHeld),
}

/// A workflow found and checked with its input, not yet recorded: see [`Engine::prepare`].
#[derive(Debug, Clone)]
pub struct Prepared {
    file: workflows::WorkflowFile,
    dir: PathBuf,
    input: Map<String, Value>,
    started_by: Option<String>,
}

impl Prepared {
    /// Records who or what starts the run (`api:TOKEN`, `rule:RULE event:ID (TYPE)`, …).
    pub fn started_by(mut self, who: impl Into<String>) -> Self {
        self.started_by = Some(who.into());
        self
    }

    /// The workflow's name.
    pub fn workflow(&self) -> &str {
        &self.file.name
    }
}

/// Drives workflow runs.
pub struct Engine<'a> {
    store: &'a Store,
    packs: Packs<'a>,
    runtime: Arc<Runtime>,
    broker: Arc<Broker>,
    observer: &'a dyn Observer,
    owner: lease::Owner,
    settings: Settings,
    shutdown: watch::Receiver<bool>,
}

/// Deepest nesting of sub-workflows (a workflow that calls itself stops here).
const MAX_DEPTH: usize = 16;

impl<'a> Engine<'a> {
    /// An engine; a `true` on `shutdown` asks it to stop scheduling and pause its runs.
    pub fn new(
        store: &'a Store,
        packs: Packs<'a>,
        runtime: Arc<Runtime>,
        broker: Arc<Broker>,
        observer: &'a dyn Observer,
        settings: Settings,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            store,
            packs,
            runtime,
            broker,
            observer,
            owner: lease::Owner::current(),
            settings,
            shutdown,
        }
    }

    fn dir(&self) -> PathBuf {
        self.workflows_dir()
    }

    /// The directory workflows are looked up in.
    pub fn workflows_dir(&self) -> PathBuf {
        workflows::resolve_dir(self.settings.workflows_dir.as_deref())
    }

    /// Loads, checks and starts `reference` (a path or a name in the workflow directory) with
    /// `input`; `answers` pre-answer `core.ask` tasks by task name.
    pub async fn start(
        &self,
        reference: &str,
        input: Map<String, Value>,
        answers: &[(String, Value)],
    ) -> anyhow::Result<Outcome> {
        let prepared = self.prepare(reference, input)?;
        let run = self.new_run(
            &prepared.file,
            &prepared.dir,
            prepared.input,
            None,
            None,
            Some("cli".to_owned()),
        )?;
        for (task, answer) in answers {
            self.store
                .put_answer(&run.id, &format!("task:{task}"), &answer.to_string())?;
        }
        self.drive_row(run, driver::Mode::Start, 0).await
    }

    /// Loads and checks `reference` with `input` as [`start`](Self::start) does, and records it
    /// as a queued run that no process drives: a worker whose tags include `placement` claims
    /// it (`orch worker`). `answers` pre-answer `core.ask` tasks by task name. Workers waiting
    /// for work are woken.
    pub fn queue(
        &self,
        reference: &str,
        input: Map<String, Value>,
        answers: &[(String, Value)],
        placement: &std::collections::BTreeMap<String, String>,
        started_by: &str,
    ) -> anyhow::Result<RunRow> {
        let prepared = self.prepare(reference, input)?;
        let run = self.run_row(
            &prepared.file,
            &prepared.dir,
            prepared.input,
            None,
            None,
            Some(started_by.to_owned()),
        );
        let run = queued(run, placement)?;
        self.store.insert_run(&run)?;
        for (task, answer) in answers {
            self.store
                .put_answer(&run.id, &format!("task:{task}"), &answer.to_string())?;
        }
        self.store.notify_queued()?;
        Ok(run)
    }

    /// Finds, loads and checks `reference` with `input` as [`start`](Self::start) does, without
    /// recording anything: what a caller that must record its own decision first (a rule of
    /// `orch serve`) starts afterwards with [`start_prepared`](Self::start_prepared).
    pub fn prepare(&self, reference: &str, input: Map<String, Value>) -> anyhow::Result<Prepared> {
        let dir = self.dir();
        let file = workflows::find(reference, &dir).map_err(EngineError::from)?;
        let wf = self.load(&file.path.display().to_string(), &file.text, &dir)?;
        Machine::new(wf, "check", input.clone()).map_err(|error| EngineError::Input {
            workflow: file.name.clone(),
            error,
        })?;
        Ok(Prepared {
            file,
            dir,
            input,
            started_by: None,
        })
    }

    /// Starts a prepared run as run `id` and drives it. The id is the caller's, recorded before
    /// (with the decision that fired it), so a start interrupted by a crash is made again with
    /// the same id and a run is never started twice: a second start of an id that exists fails.
    pub async fn start_prepared(&self, prepared: Prepared, id: &str) -> anyhow::Result<Outcome> {
        let run = self.record_prepared(prepared, id)?;
        self.drive_recorded(run).await
    }

    /// Records a prepared run as run `id`, leased to this process, without driving it: a
    /// caller that answers before the drive (the API's `202 {run}`) records first, so the id
    /// it hands out can be read at once, then drives it with
    /// [`drive_recorded`](Self::drive_recorded).
    pub fn record_prepared(&self, prepared: Prepared, id: &str) -> anyhow::Result<RunRow> {
        self.new_run(
            &prepared.file,
            &prepared.dir,
            prepared.input,
            None,
            Some(id.to_owned()),
            prepared.started_by,
        )
    }

    /// Drives a run [`record_prepared`](Self::record_prepared) recorded, or one a worker
    /// claimed (a sub-workflow run handed out counts its ancestors towards the nesting limit).
    pub async fn drive_recorded(&self, run: RunRow) -> anyhow::Result<Outcome> {
        let depth = ancestors(self.store, &run)?;
        self.drive_row(run, driver::Mode::Start, depth).await
    }

    /// Parses and checks `reference` offline (nothing runs): the problems found, empty when the
    /// workflow is fine. Parse errors and missing files are errors.
    pub fn check(
        &self,
        reference: &str,
    ) -> anyhow::Result<(orch_workflow::Workflow, Vec<Problem>)> {
        let dir = self.dir();
        let file = workflows::find(reference, &dir).map_err(EngineError::from)?;
        let source = file.path.display().to_string();
        let wf = orch_workflow::parse_workflow(&source, &file.text).map_err(EngineError::from)?;
        let problems = orch_workflow::validate(
            &wf,
            &Lookup {
                packs: &self.packs,
                dir: &dir,
            },
        );
        Ok((wf, problems))
    }

    fn load(
        &self,
        source: &str,
        text: &str,
        dir: &Path,
    ) -> anyhow::Result<Arc<orch_workflow::Workflow>> {
        let wf = orch_workflow::parse_workflow(source, text).map_err(EngineError::from)?;
        // A missing sub-workflow gets the lookup's error, which names the directory searched.
        for task in wf.tasks.values() {
            if let Some(action) = &task.action
                && builtins::classify(action) == ActionKind::Workflow
            {
                workflows::find(action, dir).map_err(EngineError::from)?;
            }
        }
        let problems = orch_workflow::validate(
            &wf,
            &Lookup {
                packs: &self.packs,
                dir,
            },
        );
        if !problems.is_empty() {
            return Err(EngineError::Invalid {
                path: source.to_owned(),
                problems,
            }
            .into());
        }
        Ok(Arc::new(wf))
    }

    /// Gives up this process's lease on `run` (if it still holds it).
    fn release_lease(&self, run: &str) -> anyhow::Result<()> {
        self.store
            .release_lease(run, &self.owner.host, self.owner.pid)
    }

    /// Records a new run, leased to this process. `parent` is the parent run and the step
    /// this run carries out, for a sub-workflow's run.
    fn new_run(
        &self,
        file: &workflows::WorkflowFile,
        dir: &Path,
        input: Map<String, Value>,
        parent: Option<(&str, String)>,
        id: Option<String>,
        started_by: Option<String>,
    ) -> anyhow::Result<RunRow> {
        let run = self.run_row(file, dir, input, parent, id, started_by);
        self.store.insert_run(&run)?;
        Ok(run)
    }

    /// A new run's row, leased to this process (fencing token 1), not yet recorded.
    fn run_row(
        &self,
        file: &workflows::WorkflowFile,
        dir: &Path,
        input: Map<String, Value>,
        parent: Option<(&str, String)>,
        id: Option<String>,
        started_by: Option<String>,
    ) -> RunRow {
        let now = now_ms();
        RunRow {
            id: id.unwrap_or_else(new_run_id),
            workflow: file.name.clone(),
            source: file.path.display().to_string(),
            definition: file.text.clone(),
            workflows_dir: dir.display().to_string(),
            input: Value::Object(input).to_string(),
            status: RunState::Running.as_str().to_owned(),
            reason: None,
            parent_run: parent.as_ref().map(|(run, _)| (*run).to_owned()),
            parent_step: parent.map(|(_, step)| step),
            owner_host: Some(self.owner.host.clone()),
            owner_pid: Some(self.owner.pid),
            lease_until: Some(lease::expiry()),
            cancel_requested: false,
            created_at: now,
            updated_at: now,
            output: None,
            errors: None,
            started_by,
            lease_token: 1,
            placement: None,
        }
    }

    /// The root run of run `id` (itself, or the run a sub-workflow's run belongs to), refusing
    /// one that has already finished: `verb` names what could not be done to it.
    fn unfinished_root(&self, id: &str, verb: &'static str) -> anyhow::Result<RunRow> {
        let run = find_run(self.store, id)?;
        let root = root_of(self.store, run)?;
        let status = RunState::parse(&root.status);
        if status.is_finished() {
            return Err(EngineError::Finished {
                run: root.id,
                status,
                verb,
            }
            .into());
        }
        Ok(root)
    }

    /// Continues a run from its journal (a sub-workflow's run continues through its root).
    pub async fn resume(&self, id: &str) -> anyhow::Result<Outcome> {
        let run = find_run(self.store, id)?;
        if run.parent_run.is_some() && run.placement.is_some() {
            // A sub-workflow run handed out to the workers goes on by itself; its parent's
            // driver waits for it.
            let status = RunState::parse(&run.status);
            if status.is_finished() {
                return Err(EngineError::Finished {
                    run: run.id,
                    status,
                    verb: "resume",
                }
                .into());
            }
            let depth = ancestors(self.store, &run)?;
            let mut run = run;
            run.lease_token = self.lease(&run.id)?;
            return self.drive_row(run, driver::Mode::Resume, depth).await;
        }
        let mut root = self.unfinished_root(id, "resume")?;
        root.lease_token = self.lease(&root.id)?;
        self.drive_row(root, driver::Mode::Resume, 0).await
    }

    /// Answers the `core.ask` of `task` in run `id` (or in one of its sub-workflow runs), then
    /// continues the run in the foreground. An answer failing the schema records nothing. An
    /// answer given before and not yet taken by the run (its giver stopped first) is kept unless
    /// `replace`: a different one is refused, the same one just resumes the run.
    pub async fn respond(
        &self,
        id: &str,
        task: &str,
        answer: Value,
        replace: bool,
    ) -> anyhow::Result<Outcome> {
        let root = self.record_answer(id, task, answer, replace)?;
        self.drive_held(root).await
    }

    /// Drives run `run` from its journal; this process holds its lease (taken by
    /// [`Engine::record_answer`] or [`Engine::journal_rerun`]).
    pub async fn drive_held(&self, run: RunRow) -> anyhow::Result<Outcome> {
        self.drive_row(run, driver::Mode::Resume, 0).await
    }

    /// What [`Engine::respond`] does before driving: every check, then the answer recorded; the
    /// root run to drive, its lease held by this process (so a second answer given meanwhile is
    /// refused as a run driven elsewhere).
    pub fn record_answer(
        &self,
        id: &str,
        task: &str,
        answer: Value,
        replace: bool,
    ) -> anyhow::Result<RunRow> {
        let run = find_run(self.store, id)?;
        let status = RunState::parse(&run.status);
        if status.is_finished() {
            return Err(EngineError::Finished {
                run: run.id,
                status,
                verb: "answer",
            }
            .into());
        }
        let mut root = root_of(self.store, run.clone())?;
        // Check the lease before recording: a live driver would not see the answer.
        root.lease_token = self.lease(&root.id)?;
        let waiting = questions(self.store, &run)?;
        let Some((q, step)) = waiting.iter().find(|(q, _)| q.task == task) else {
            self.release_lease(&root.id)?;
            let listed = if waiting.is_empty() {
                "it waits for no answer".to_owned()
            } else {
                format!(
                    "it waits at: {}",
                    waiting
                        .iter()
                        .map(|(q, _)| format!("`{}` (run {})", q.task, q.run))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(EngineError::NoQuestion {
                run: run.id,
                task: task.to_owned(),
                waiting: listed,
            }
            .into());
        };
        if let Err(rejected) = check_answer(&q.schema, task, &answer) {
            self.release_lease(&root.id)?;
            return Err(EngineError::AnswerRejected {
                run: q.run.clone(),
                task: task.to_owned(),
                rejected,
            }
            .into());
        }
        if let Some(pending) = &q.pending_answer
            && *pending != answer
            && !replace
        {
            self.release_lease(&root.id)?;
            return Err(EngineError::AnswerPending {
                run: q.run.clone(),
                task: task.to_owned(),
                pending: pending.to_string(),
            }
            .into());
        }
        self.store.put_answer(&q.run, step, &answer.to_string())?;
        Ok(root)
    }

    /// Re-runs the failed or canceled run `id` from `tasks` (none: every task that failed
    /// unhandled or was canceled), as a new attempt of the same run: what succeeded is kept,
    /// the history stays. With `current_workflow` the run goes on with the workflow file as it
    /// is now (checked like a new run's) instead of the revision it started with. The rerun is
    /// journaled before anything runs, so a crash leaves a run `orch runs resume` continues.
    pub async fn rerun(
        &self,
        id: &str,
        tasks: Vec<String>,
        current_workflow: bool,
    ) -> anyhow::Result<(Outcome, Revision)> {
        let (run, revision) = self.journal_rerun(id, tasks, current_workflow)?;
        Ok((self.drive_held(run).await?, revision))
    }

    /// What [`Engine::rerun`] does before driving: every check, then the rerun journaled; the
    /// run to drive, its lease held by this process.
    pub fn journal_rerun(
        &self,
        id: &str,
        tasks: Vec<String>,
        current_workflow: bool,
    ) -> anyhow::Result<(RunRow, Revision)> {
        let mut run = find_run(self.store, id)?;
        if let Some(parent) = &run.parent_run {
            return Err(EngineError::Rerun {
                run: run.id.clone(),
                reason: format!("it is a sub-workflow run of run {parent}; re-run that one"),
            }
            .into());
        }
        let status = RunState::parse(&run.status);
        if !matches!(status, RunState::Failed | RunState::Canceled) {
            return Err(EngineError::Rerun {
                run: run.id.clone(),
                reason: format!(
                    "it is {}; only a failed or canceled run can be re-run",
                    status.as_str()
                ),
            }
            .into());
        }
        let (definition, revision) = if current_workflow {
            let dir = PathBuf::from(&run.workflows_dir);
            let reference = if Path::new(&run.source).exists() {
                run.source.clone()
            } else {
                run.workflow.clone()
            };
            let file = workflows::find(&reference, &dir).map_err(EngineError::from)?;
            let shown = file.path.display().to_string();
            self.load(&shown, &file.text, &dir)?;
            (Some(file.text), Revision::Current(shown))
        } else {
            (None, Revision::Recorded)
        };
        let event = orch_workflow::Event::RerunRequested { tasks, definition };
        // Refused before anything is written: the same check the machine makes on replay.
        let mut machine = replay(self.store, &run)?;
        if let Err(err) = machine.handle(event.clone()) {
            return Err(EngineError::Rerun {
                run: run.id.clone(),
                reason: err
                    .to_string()
                    .trim_start_matches("the run cannot be re-run: ")
                    .to_owned(),
            }
            .into());
        }
        run.lease_token = self.lease(&run.id)?;
        let mut seq = self.store.next_seq(&run.id)?;
        let batch = crate::store::JournalBatch {
            events: vec![serde_json::to_string(&event)?],
            fence: Some(run.lease_token),
            ..crate::store::JournalBatch::default()
        };
        self.store.commit_batch(&run.id, &mut seq, &batch)?;
        Ok((run, revision))
    }

    /// Cancels run `id`: at once when no process drives it, else by asking the one that does.
    pub async fn cancel(&self, id: &str) -> anyhow::Result<Canceled> {
        let mut root = self.unfinished_root(id, "cancel")?;
        match self.lease(&root.id) {
            Ok(token) => root.lease_token = token,
            Err(err) => {
                return match err.downcast::<EngineError>() {
                    Ok(EngineError::Busy(held)) => {
                        self.store.request_cancel(&root.id)?;
                        Ok(Canceled::Requested(held))
                    }
                    Ok(other) => Err(other.into()),
                    Err(other) => Err(other),
                };
            }
        }
        if RunState::parse(&root.status) == RunState::Queued {
            // No worker took it: nothing ran, nothing is to stop. Starting its machine to
            // cancel it would start its first tasks.
            let reason = "canceled while queued, before any worker took it".to_owned();
            let batch = crate::store::JournalBatch {
                status: Some(crate::store::StatusChange {
                    status: RunState::Canceled.as_str().to_owned(),
                    reason: Some(reason.clone()),
                    output: None,
                    errors: None,
                }),
                fence: Some(root.lease_token),
                ..crate::store::JournalBatch::default()
            };
            let mut seq = self.store.next_seq(&root.id)?;
            self.store.commit_batch(&root.id, &mut seq, &batch)?;
            self.release_lease(&root.id)?;
            return Ok(Canceled::Done(Outcome {
                run: root.id,
                status: RunState::Canceled,
                output: None,
                errors: Vec::new(),
                reason: Some(reason),
                questions: Vec::new(),
            }));
        }
        Ok(Canceled::Done(
            self.drive_row(root, driver::Mode::Cancel, 0).await?,
        ))
    }

    /// Takes the lease on `run` for this process; its fencing token, which the run's journal
    /// writes then carry.
    fn lease(&self, run: &str) -> anyhow::Result<i64> {
        self.store
            .acquire_lease(
                run,
                &self.owner.host,
                self.owner.pid,
                lease::expiry(),
                lease::owner_is_dead,
            )?
            .map_err(|held| EngineError::Busy(held).into())
    }
}

/// A new run id: short enough to type, random enough for one store.
pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// Where `run` stands as its row says, in the shape a driver returns: what `orch run --queue
/// --wait` prints once a worker stopped driving it.
pub fn outcome_of(store: &Store, run: &RunRow) -> anyhow::Result<Outcome> {
    let status = RunState::parse(&run.status);
    let questions = if status == RunState::Waiting {
        questions(store, run)?.into_iter().map(|(q, _)| q).collect()
    } else {
        Vec::new()
    };
    Ok(Outcome {
        run: run.id.clone(),
        status,
        output: run.output_value(),
        errors: run.error_values(),
        reason: run.reason.clone(),
        questions,
    })
}

/// `run` as a queued run for the workers whose tags include `placement`: no owner, no lease,
/// its reason saying where it waits when it is placed.
fn queued(
    mut run: RunRow,
    placement: &std::collections::BTreeMap<String, String>,
) -> anyhow::Result<RunRow> {
    run.status = RunState::Queued.as_str().to_owned();
    (
        run.owner_host,
        run.owner_pid,
        run.lease_until,
        run.lease_token,
    ) = (None, None, None, 0);
    run.reason = driver::waiting_reason(placement);
    run.placement = Some(serde_json::to_string(placement)?);
    Ok(run)
}

/// How many runs `run` descends from (0 for a root run).
fn ancestors(store: &Store, run: &RunRow) -> anyhow::Result<usize> {
    let mut depth = 0;
    let mut parent = run.parent_run.clone();
    while let Some(id) = parent {
        depth += 1;
        if depth > MAX_DEPTH + 1 {
            break;
        }
        parent = store.run(&id)?.and_then(|r| r.parent_run);
    }
    Ok(depth)
}

/// The run `id` (or unique id prefix).
pub fn find_run(store: &Store, id: &str) -> anyhow::Result<RunRow> {
    let mut found = store.find_run(id)?;
    match found.len() {
        0 => Err(EngineError::NoRun(id.to_owned()).into()),
        1 => Ok(found.remove(0)),
        _ => Err(EngineError::Ambiguous {
            prefix: id.to_owned(),
            matches: found
                .iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
        .into()),
    }
}

fn root_of(store: &Store, mut run: RunRow) -> anyhow::Result<RunRow> {
    for _ in 0..=MAX_DEPTH {
        let Some(parent) = run.parent_run.clone() else {
            return Ok(run);
        };
        run = store.run(&parent)?.with_context(|| {
            format!("run {} names a parent run {parent} that is missing", run.id)
        })?;
    }
    anyhow::bail!(
        "run {} is nested deeper than {MAX_DEPTH} sub-workflows",
        run.id
    )
}

/// Rebuilds a run's machine from its definition snapshot and journal.
pub fn replay(store: &Store, run: &RunRow) -> anyhow::Result<Machine> {
    let wf = orch_workflow::parse_workflow(&run.source, &run.definition)
        .with_context(|| format!("parsing the definition snapshot of run {}", run.id))?;
    let input = match serde_json::from_str::<Value>(&run.input)? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut machine = Machine::new(Arc::new(wf), run.id.clone(), input)
        .with_context(|| format!("recreating run {}", run.id))?;
    machine.start();
    for (seq, text) in store.events(&run.id)?.into_iter().enumerate() {
        let event = serde_json::from_str(&text)
            .with_context(|| format!("reading a journaled event of run {}", run.id))?;
        // Only accepted events are journaled, so a refusal means the machine no longer reads the
        // journal the way it was written (orch changed incompatibly): going on would rebuild a
        // different run than the one that happened.
        if let Err(err) = machine.handle(event) {
            return Err(EngineError::JournalMismatch {
                run: run.id.clone(),
                seq: seq + 1,
                reason: err.to_string(),
            }
            .into());
        }
    }
    Ok(machine)
}

/// Questions waiting in `run` and its unfinished sub-workflow runs, with each one's step key.
pub fn questions(store: &Store, run: &RunRow) -> anyhow::Result<Vec<(Question, String)>> {
    let mut out = Vec::new();
    let mut queue = vec![run.clone()];
    while let Some(run) = queue.pop() {
        if RunState::parse(&run.status).is_finished() {
            continue;
        }
        let machine = replay(store, &run)?;
        for cmd in machine.outstanding() {
            if let orch_workflow::Command::StartAction {
                task,
                action,
                input,
                idempotency_key,
                ..
            } = cmd
                && action == "core.ask"
                && let Ok(q) = builtins::question(&input)
            {
                let pending_answer = store
                    .answer(&run.id, &idempotency_key)?
                    .and_then(|text| serde_json::from_str(&text).ok());
                out.push((
                    Question {
                        run: run.id.clone(),
                        task,
                        prompt: q.prompt,
                        schema: q.schema,
                        pending_answer,
                    },
                    idempotency_key,
                ));
            }
        }
        queue.extend(store.child_runs(&run.id)?);
    }
    Ok(out)
}

fn check_answer(schema: &Value, task: &str, answer: &Value) -> Result<(), InputRejected> {
    match crate::schema::Schema::compile(schema) {
        Ok(s) => s.check(&format!("core.ask `{task}`"), answer),
        Err(reason) => Err(InputRejected {
            action: format!("core.ask `{task}`"),
            violations: vec![crate::schema::Violation {
                path: String::new(),
                message: format!("the question's schema is unusable: {reason}"),
            }],
            unchecked: None,
        }),
    }
}

/// Resolves action names for validation: built-ins, installed packs, workflows in the dir.
struct Lookup<'p, 'a> {
    packs: &'p Packs<'a>,
    dir: &'p Path,
}

impl ActionLookup for Lookup<'_, '_> {
    fn lookup(&self, action: &str) -> ActionKnown {
        match builtins::classify(action) {
            ActionKind::Pure(_)
            | ActionKind::Sleep
            | ActionKind::Ask
            | ActionKind::Catalog(_)
            | ActionKind::UnknownCore => builtins::known(action),
            ActionKind::Workflow => match workflows::find(action, self.dir) {
                Ok(_) => ActionKnown::Known { input_schema: None },
                Err(_) => ActionKnown::Unknown,
            },
            // A pack that is not installed is unknown here: `orch run` would fail at that task.
            ActionKind::Pack { pack, action } => match self.packs.get(&pack) {
                Ok(p) => match p.manifest.action(&action) {
                    Some(spec) => ActionKnown::Known {
                        input_schema: Some(spec.input_schema.clone()),
                    },
                    None => ActionKnown::Unknown,
                },
                Err(_) => ActionKnown::Unknown,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RunState;

    #[test]
    fn a_journal_the_machine_refuses_on_replay_is_an_error_not_a_different_run() {
        let store = crate::store::Store::in_memory().expect("store");
        let run = crate::store::RunRow {
            id: "r1".into(),
            workflow: "w".into(),
            source: "w.yaml".into(),
            definition: "tasks:\n  only: { action: core.noop }\n".into(),
            workflows_dir: ".".into(),
            input: "{}".into(),
            status: "paused".into(),
            reason: None,
            parent_run: None,
            parent_step: None,
            owner_host: None,
            owner_pid: None,
            lease_until: None,
            cancel_requested: false,
            created_at: 0,
            updated_at: 0,
            output: None,
            errors: None,
            started_by: None,
            lease_token: 0,
            placement: None,
        };
        store.insert_run(&run).expect("insert");
        assert!(super::replay(&store, &run).is_ok());
        // An event for a task the workflow does not have: written by another machine.
        let batch = crate::store::JournalBatch {
            events: vec![
                r#"{"event":"action_succeeded","exec":{"task":"gone","occurrence":1},"item":null,"attempt":1,"result":null}"#
                    .into(),
            ],
            ..Default::default()
        };
        let mut seq = 1;
        store.commit_batch("r1", &mut seq, &batch).expect("journal");
        let err = super::replay(&store, &run)
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("no longer fits") && err.contains("event 1") && err.contains("gone#1"),
            "{err}"
        );
    }

    #[test]
    fn the_store_knows_which_run_statuses_are_finished() {
        // Pruning keeps what unfinished runs wrote by these names: they must stay the engine's.
        let all = [
            RunState::Running,
            RunState::Paused,
            RunState::Waiting,
            RunState::NeedsAttention,
            RunState::Succeeded,
            RunState::Failed,
            RunState::Canceled,
        ];
        let finished: Vec<&str> = all
            .iter()
            .filter(|s| s.is_finished())
            .map(|s| s.as_str())
            .collect();
        assert_eq!(finished, crate::store::FINISHED_RUN_STATUSES);
    }
}
