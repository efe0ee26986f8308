//! Sub-workflow steps: a child run is made for the step (or the one made before is continued)
//! and driven to its end; how it ended becomes the step's outcome in the parent, or stops the
//! parent too (the child waits for an answer, needs attention, was paused).

use super::*;

/// A sub-workflow step to start once its start is committed.
pub(super) struct ChildStart {
    pub(super) key: Key,
    pub(super) action: String,
    pub(super) input: Value,
    pub(super) step: String,
    pub(super) cancel: bool,
    /// When the task's timeout ends (Unix ms): the child run is canceled then.
    pub(super) deadline: Option<i64>,
    /// The task's timeout, for the message.
    pub(super) timeout_secs: Option<f64>,
    /// The task's rendered `placement:` (worker tags), if any.
    pub(super) placement: Option<Value>,
}

/// How a child run ended, as far as the parent is concerned.
pub(super) enum ChildEnd {
    Done(Result<Value, Value>),
    /// Canceled at the task's timeout: a timed-out attempt (retried like a pack's).
    TimedOut(Value),
    Stopped(Outcome),
}

pub(super) type ChildFuture<'e> =
    Pin<Box<dyn Future<Output = (Key, anyhow::Result<ChildEnd>)> + Send + 'e>>;

impl Driver<'_, '_> {
    pub(super) fn child_ended(&mut self, key: Key, end: ChildEnd) {
        match end {
            ChildEnd::Done(outcome) => self.ready.push_back(Done::new(key, outcome)),
            ChildEnd::TimedOut(error) => self.ready.push_back(Done {
                event: key.event(Err(error), true),
                key,
                logs: Vec::new(),
                elapsed: None,
                recorded: false,
            }),
            ChildEnd::Stopped(outcome) => self.stopped_children.push(outcome),
        }
    }
}

impl Engine<'_> {
    /// Carries out one sub-workflow step: continues the child run made for it, or makes one.
    pub(super) async fn run_child(
        &self,
        parent: &RunRow,
        mut child: ChildStart,
        depth: usize,
    ) -> anyhow::Result<ChildEnd> {
        let fail =
            |code: &str, message: String| Ok(ChildEnd::Done(Err(builtins::error(code, message))));
        if let Some(existing) = self.store.child_run(&parent.id, &child.step)? {
            let status = RunState::parse(&existing.status);
            if existing.placement.is_some() && !status.is_finished() {
                // Handed out to the workers: one drives it, or will.
                return self.await_handed_out(existing, &child).await;
            }
            if status.is_finished() {
                return Ok(child_end(
                    &existing.id,
                    &existing.workflow,
                    status,
                    existing.output_value(),
                    existing.error_values(),
                ));
            }
            let mut existing = existing;
            existing.lease_token = self.lease(&existing.id)?;
            let mode = if child.cancel {
                Mode::Cancel
            } else {
                Mode::Resume
            };
            let (outcome, timed_out) = self
                .drive_bounded(existing.clone(), mode, depth, child.deadline)
                .await?;
            return Ok(bounded_end(&existing.workflow, outcome, timed_out, &child));
        }
        if child.cancel {
            return Ok(ChildEnd::Done(Err(canceled_error())));
        }
        if depth > MAX_DEPTH {
            return fail(
                "too_deep",
                format!(
                    "sub-workflows nest deeper than {MAX_DEPTH}; does `{}` call itself?",
                    child.action
                ),
            );
        }
        let dir = std::path::PathBuf::from(&parent.workflows_dir);
        let dir = self
            .settings
            .workflows_dir
            .clone()
            .map_or(dir, |d| workflows::resolve_dir(Some(&d)));
        let file = match workflows::find(&child.action, &dir) {
            Ok(f) => f,
            Err(e) => return fail("unknown_workflow", e.to_string()),
        };
        let wf = match self.load(&file.path.display().to_string(), &file.text, &dir) {
            Ok(wf) => wf,
            Err(e) => return fail("invalid_workflow", format!("{e:#}")),
        };
        let input = match std::mem::take(&mut child.input) {
            Value::Object(m) => m,
            Value::Null => serde_json::Map::new(),
            other => {
                return fail(
                    "invalid_input",
                    format!(
                        "the input of sub-workflow `{}` must be a map of its inputs, got {other}",
                        child.action
                    ),
                );
            }
        };
        if let Err(e) = Machine::new(wf, "check", input.clone()) {
            return fail(
                "invalid_input",
                format!("sub-workflow `{}`: {e}", child.action),
            );
        }
        let placement = if self.settings.hand_out_children {
            match placement_tags(child.placement.take()) {
                Ok(tags) => Some(tags),
                Err(message) => return fail("invalid_placement", message),
            }
        } else {
            None
        };
        let row = self.run_row(
            &file,
            &dir,
            input,
            Some((&parent.id, child.step.clone())),
            None,
            None,
        );
        if let Some(placement) = placement {
            let row = super::super::queued(row, &placement)?;
            self.store.insert_run(&row)?;
            self.store.notify_queued()?;
            return self.await_handed_out(row, &child).await;
        }
        self.store.insert_run(&row)?;
        let (outcome, timed_out) = self
            .drive_bounded(row, Mode::Start, depth, child.deadline)
            .await?;
        Ok(bounded_end(&file.name, outcome, timed_out, &child))
    }

    /// Waits for a child run the workers drive to stop being driven (finished, or stopped for
    /// an answer or a person), asking it to cancel at the task's deadline or when the parent is
    /// canceled. A child that stopped before (it waited for an answer given since, or was
    /// paused) is handed back to the workers to go on.
    async fn await_handed_out(&self, row: RunRow, child: &ChildStart) -> anyhow::Result<ChildEnd> {
        let id = row.id;
        let workflow = row.workflow;
        if matches!(
            RunState::parse(&row.status),
            RunState::Waiting | RunState::Paused
        ) {
            self.store.hand_back_stopped(&id)?;
        }
        let mut timed_out = false;
        let mut cancel_asked = false;
        loop {
            let row = self
                .store
                .run(&id)?
                .with_context(|| format!("sub-workflow run {id} is no longer in the store"))?;
            let status = RunState::parse(&row.status);
            if !matches!(status, RunState::Queued | RunState::Running) {
                let outcome = super::super::outcome_of(self.store, &row)?;
                return Ok(bounded_end(&workflow, outcome, timed_out, child));
            }
            let past_deadline = child.deadline.is_some_and(|d| now_ms() >= d);
            if (past_deadline || child.cancel) && !cancel_asked {
                self.store.request_cancel(&id)?;
                cancel_asked = true;
                timed_out = past_deadline;
            }
            tokio::time::sleep(HANDED_OUT_POLL).await;
        }
    }

    /// Drives a child run; at `deadline` (Unix ms) it is asked to cancel (its driver sees the
    /// request within a lease tick: running actions finish, nothing new starts). Whether the
    /// deadline came.
    async fn drive_bounded(
        &self,
        row: RunRow,
        mode: Mode,
        depth: usize,
        deadline: Option<i64>,
    ) -> anyhow::Result<(Outcome, bool)> {
        let id = row.id.clone();
        let mut drive = Box::pin(self.drive_row(row, mode, depth));
        let Some(deadline) = deadline else {
            return Ok((drive.await?, false));
        };
        tokio::select! {
            outcome = &mut drive => Ok((outcome?, false)),
            () = tokio::time::sleep_until(instant_at(deadline)) => {
                self.store.request_cancel(&id)?;
                Ok((drive.await?, true))
            }
        }
    }
}

/// How often a parent looks at a child run the workers drive.
const HANDED_OUT_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// A rendered `placement:` as worker tags: a mapping of names to strings (numbers and booleans
/// as written); none is `{}` (any worker).
fn placement_tags(
    placement: Option<Value>,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut tags = std::collections::BTreeMap::new();
    match placement {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                let value = match value {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => {
                        return Err(format!(
                            "placement `{name}` must be a string (a worker tag's value), got {other}"
                        ));
                    }
                };
                tags.insert(name, value);
            }
        }
        Some(other) => {
            return Err(format!(
                "placement must be a mapping of worker tag names to values, got {other}"
            ));
        }
    }
    Ok(tags)
}

/// What a queued run's `reason` says while it waits for a worker with `tags`.
pub(in crate::engine) fn waiting_reason(
    tags: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    (!tags.is_empty()).then(|| {
        let wanted: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("waits for a worker tagged {}", wanted.join(","))
    })
}

/// How a child run that may have been canceled at its task's timeout ended.
fn bounded_end(workflow: &str, outcome: Outcome, timed_out: bool, child: &ChildStart) -> ChildEnd {
    if timed_out && outcome.status == RunState::Canceled {
        let limit = child
            .timeout_secs
            .map_or_else(String::new, |t| format!(" of {t} s"));
        return ChildEnd::TimedOut(
            ActionFailure::new(
                "timeout",
                format!(
                    "sub-workflow `{workflow}` (run {}) ran past the task's timeout{limit} and was \
                     canceled",
                    outcome.run
                ),
            )
            .retryable(true)
            .with_details(json!({"run": outcome.run}))
            .into_value(),
        );
    }
    outcome_end(workflow, outcome)
}

pub(super) fn outcome_end(workflow: &str, outcome: Outcome) -> ChildEnd {
    if outcome.status.is_finished() {
        child_end(
            &outcome.run,
            workflow,
            outcome.status,
            outcome.output,
            outcome.errors,
        )
    } else {
        ChildEnd::Stopped(outcome)
    }
}

pub(super) fn child_end(
    run: &str,
    workflow: &str,
    status: RunState,
    output: Option<Value>,
    errors: Vec<Value>,
) -> ChildEnd {
    match status {
        RunState::Succeeded => ChildEnd::Done(Ok(output.unwrap_or(Value::Null))),
        _ => {
            let first = errors
                .first()
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("no error recorded")
                .to_owned();
            ChildEnd::Done(Err(ActionFailure::new(
                format!("workflow_{status}"),
                format!("sub-workflow `{workflow}` (run {run}) {status}: {first}"),
            )
            .with_details(json!({"run": run, "errors": errors, "output": output}))
            .into_value()))
        }
    }
}
