//! Execution bookkeeping: one execution of a task, its units (the whole task, or one item of a
//! fan-out) and their states, and the retry plan. Pure data; the machine's methods move it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ExecId;
use crate::model::Backoff;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum ExecStatus {
    /// Waiting for the task's `delay` timer.
    Delayed,
    Running,
    Succeeded,
    Failed,
    /// Dropped before it started (the run failed or was canceled during its delay).
    Canceled,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) enum UnitState {
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
pub(super) struct Unit {
    pub(super) item: Option<usize>,
    pub(super) item_value: Option<Value>,
    pub(super) input: Value,
    /// The rendered `placement:` (worker tags), when the task has one.
    #[serde(default)]
    pub(super) placement: Option<Value>,
    pub(super) attempt: u32,
    pub(super) policy_retries: u32,
    pub(super) state: UnitState,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct RetryPlan {
    pub(super) count: u32,
    pub(super) delay: f64,
    pub(super) backoff: Option<Backoff>,
}

impl RetryPlan {
    /// Delay before retry number `n` (1-based).
    pub(super) fn delay_for(&self, n: u32) -> f64 {
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
pub(super) struct Exec {
    pub(super) id: ExecId,
    pub(super) status: ExecStatus,
    pub(super) run_on_fail: bool,
    pub(super) fan_out: bool,
    pub(super) units: Vec<Unit>,
    /// Index of the next unit that has never started.
    pub(super) next_unit: usize,
    pub(super) running: usize,
    /// Units waiting for a retry timer (counted, so completion checks stay O(1) in a fan-out).
    pub(super) waiting: usize,
    pub(super) concurrency: Option<usize>,
    /// A fan-out item failed under `on_item_failure: fail`: start no further item.
    pub(super) stopping: bool,
    pub(super) timeout: Option<f64>,
    pub(super) delay: f64,
    pub(super) retry: Option<RetryPlan>,
    pub(super) engine_retries: u32,
    pub(super) result: Option<Value>,
    /// A failure of this execution was handled by one of its transitions (so a rerun does not
    /// pick it by default).
    #[serde(default)]
    pub(super) handled: bool,
    /// The route it belongs to (see `routes.rs`).
    #[serde(default)]
    pub(super) route: usize,
}

impl Exec {
    pub(super) fn units_done(&self) -> bool {
        self.running == 0 && self.waiting == 0 && self.next_unit >= self.units.len()
    }
}

impl Unit {
    pub(super) fn new(
        item: Option<usize>,
        item_value: Option<Value>,
        input: Value,
        placement: Option<Value>,
    ) -> Unit {
        Unit {
            item,
            item_value,
            input,
            placement,
            attempt: 1,
            policy_retries: 0,
            state: UnitState::Pending,
        }
    }
}
