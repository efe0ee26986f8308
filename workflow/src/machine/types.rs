//! The types a driver and its journal see: executions and timers by id, the run's status, the
//! events a driver reports and the commands it carries out, and the errors of both directions.
//! Events and commands are journaled and replayed: changing their shape changes the journal.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::expr::ExprError;

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
    /// Someone asked to re-run a failed or canceled run from some of its tasks (Orquesta's
    /// rerun): the run goes on as a new attempt of the same run, its history kept.
    RerunRequested {
        /// Tasks to run again; empty: every task whose last execution failed unhandled or was
        /// canceled.
        tasks: Vec<String>,
        /// A new revision of the workflow to go on with (its text), or none to keep the one the
        /// run was started with.
        definition: Option<String>,
    },
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
        /// Rendered `placement:` (the worker tags a sub-workflow's run needs), if any.
        placement: Option<Value>,
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
    /// A rerun that cannot be done.
    #[error("the run cannot be re-run: {0}")]
    Rerun(String),
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
