//! What `orch runs show` reports: the run, every task execution (status, attempts with
//! timings, input, result or error) and its sub-workflow runs, from the store and a replay.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::{RunState, replay};
use crate::store::{NO_ITEM, RunRow, Store};

/// One run, in full.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Run id.
    pub id: String,
    /// Workflow name.
    pub workflow: String,
    /// Where the workflow was read from.
    pub source: String,
    /// Status.
    pub status: RunState,
    /// Why it stopped without finishing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Parent run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Who or what started it: `cli`, `api:TOKEN`, `console:TOKEN`, `rule:RULE event:ID`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    /// Input.
    pub input: Value,
    /// Output.
    pub output: Option<Value>,
    /// Errors.
    pub errors: Vec<Value>,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last changed (Unix ms).
    pub updated_at: i64,
    /// The process that holds or last held its lease: which worker (host and pid) drove it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<Value>,
    /// Pid driving it now (a live lease).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driven_by: Option<i64>,
    /// Pid of the process that drove it and is gone (killed, crashed): nothing drives the run
    /// until `orch runs resume`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_gone: Option<i64>,
    /// Questions the run (or a sub-workflow of it) waits on, with any answer given but not yet
    /// taken by the run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<super::Question>,
    /// Journaled events.
    pub events: usize,
    /// Task executions in creation order.
    pub tasks: Vec<ExecReport>,
    /// Sub-workflow runs: id, workflow, status.
    pub children: Vec<Value>,
}

/// One task execution.
#[derive(Debug, Clone, Serialize)]
pub struct ExecReport {
    /// `task#occurrence`.
    pub exec: String,
    /// Task.
    pub task: String,
    /// `pending` (due, not started), `delayed`, `running`, `succeeded`, `failed`, `canceled`.
    pub status: String,
    /// Result (or error) once complete.
    pub result: Option<Value>,
    /// Every attempt (of every item).
    pub attempts: Vec<AttemptReport>,
}

/// One attempt.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptReport {
    /// Fan-out item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<i64>,
    /// Attempt number.
    pub attempt: i64,
    /// Action.
    pub action: String,
    /// Input.
    pub input: Value,
    /// Idempotency key.
    pub idempotency_key: String,
    /// Times started (above 1 after an interrupted attempt was re-run).
    pub starts: i64,
    /// `running` (or interrupted), `succeeded`, `failed`, `timed_out`.
    pub status: String,
    /// Started (Unix ms).
    pub started_at: i64,
    /// Finished (Unix ms).
    pub finished_at: Option<i64>,
    /// Duration in ms.
    pub duration_ms: Option<i64>,
    /// Result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

/// Builds the report of `run`.
pub fn report(store: &Store, run: &RunRow) -> anyhow::Result<RunReport> {
    let machine = replay(store, run)?;
    let mut by_exec: BTreeMap<String, Vec<AttemptReport>> = BTreeMap::new();
    for a in store.attempts(&run.id)? {
        let outcome: Option<Value> = a
            .outcome
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok());
        let (status, result, error) = match &outcome {
            Some(ev) if ev["event"] == "action_succeeded" => {
                ("succeeded", Some(ev["result"].clone()), None)
            }
            Some(ev) if ev["timed_out"] == true => ("timed_out", None, Some(ev["error"].clone())),
            Some(ev) => ("failed", None, Some(ev["error"].clone())),
            None => ("running", None, None),
        };
        by_exec
            .entry(a.exec.clone())
            .or_default()
            .push(AttemptReport {
                item: (a.item != NO_ITEM).then_some(a.item),
                attempt: a.attempt,
                action: a.action,
                input: serde_json::from_str(&a.input).unwrap_or(Value::Null),
                idempotency_key: a.idempotency_key,
                starts: a.starts,
                status: status.to_owned(),
                started_at: a.started_at,
                finished_at: a.finished_at,
                duration_ms: a.finished_at.map(|f| f - a.started_at),
                result,
                error,
            });
    }
    for attempts in by_exec.values_mut() {
        attempts.sort_by_key(|a| (a.item, a.attempt));
    }
    let tasks = machine
        .executions()
        .into_iter()
        .map(|e| {
            let exec = e.id.to_string();
            let attempts = by_exec.remove(&exec).unwrap_or_default();
            // Commanded but never started (the driver stopped first): say so.
            let status = if e.status == "running" && attempts.is_empty() {
                "pending"
            } else {
                e.status
            };
            ExecReport {
                attempts,
                task: e.id.task.clone(),
                exec,
                status: status.to_owned(),
                result: e.result,
            }
        })
        .collect();
    let now = crate::store::now_ms();
    let children = store
        .child_runs(&run.id)?
        .into_iter()
        .map(|c| {
            serde_json::json!({"id": c.id, "workflow": c.workflow, "status": c.status,
                               "step": c.parent_step})
        })
        .collect();
    Ok(RunReport {
        id: run.id.clone(),
        workflow: run.workflow.clone(),
        source: run.source.clone(),
        status: RunState::parse(&run.status),
        reason: run.reason.clone(),
        parent: run.parent_run.clone(),
        started_by: run.started_by.clone(),
        input: serde_json::from_str(&run.input).unwrap_or(Value::Null),
        output: run.output_value(),
        errors: run.error_values(),
        created_at: run.created_at,
        updated_at: run.updated_at,
        owner: run
            .owner_pid
            .map(|pid| serde_json::json!({"host": run.owner_host, "pid": pid})),
        driven_by: match super::lease::driver_of(run, now) {
            super::lease::Driver::Live { pid } => Some(pid),
            _ => None,
        },
        driver_gone: match super::lease::driver_of(run, now) {
            super::lease::Driver::Gone { pid } if !RunState::parse(&run.status).is_finished() => {
                Some(pid)
            }
            _ => None,
        },
        questions: if RunState::parse(&run.status).is_finished() {
            Vec::new()
        } else {
            super::questions(store, run)?
                .into_iter()
                .map(|(q, _)| q)
                .collect()
        },
        events: store.events(&run.id)?.len(),
        tasks,
        children,
    })
}
