//! Outcomes: what happens when an attempt succeeds or fails, a timer fires, or an execution
//! completes (retries, `next` transitions with `publish`, engine commands), and when the run is
//! over.

use super::*;

impl Machine {
    pub(super) fn on_timer(
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

    pub(super) fn on_outcome(
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
    pub(super) fn retry_delay(
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

    pub(super) fn set_task_view(&mut self, idx: usize) {
        let exec = &self.execs[idx];
        let status = match exec.status {
            ExecStatus::Succeeded => "succeeded",
            ExecStatus::Failed => "failed",
            ExecStatus::Canceled => "canceled",
            ExecStatus::Delayed | ExecStatus::Running => "running",
        };
        // `occurrence`: which execution of the task this is (1, 2, … in a cycle).
        let view = json!({
            "status": status,
            "result": exec.result.clone().unwrap_or(Value::Null),
            "occurrence": exec.id.occurrence,
        });
        let task = exec.id.task.clone();
        if let Some(c) = &mut self.cache.tasks {
            Arc::make_mut(c).insert(task.clone(), expr::to_mj(&view));
        }
        self.task_views.insert(task, view);
    }

    pub(super) fn complete(
        &mut self,
        idx: usize,
        work: &mut VecDeque<Work>,
        out: &mut Vec<Command>,
    ) {
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
        let mut targets: Vec<(String, usize)> = Vec::new();
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
        // A true `retry` (within its limit) runs the task again and nothing else: as Orquesta's
        // conductor, no other transition of this completion is followed, nothing is published;
        // the transitions are evaluated again when the retried task completes.
        let retrying = self.execs[idx].engine_retries < ENGINE_RETRY_LIMIT
            && task.next.iter().enumerate().any(|(i, tr)| {
                taken.get(i).copied().unwrap_or(false)
                    && tr.targets.iter().any(|t| matches!(t.kind, Target::Retry))
            });
        if retrying {
            taken.clear();
            handled = true;
            retry_requested = true;
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
                        targets.push((name.clone(), i));
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
        self.execs[idx].handled = handled;
        // Tasks named beside `fail` are remediation: they run although the run is failing.
        let route = self.execs[idx].route;
        for (name, transition) in targets {
            work.push_back(Work::Arrive {
                task: name,
                from: exec_id.clone(),
                transition,
                route,
                run_on_fail: has_fail,
            });
        }
    }

    pub(super) fn expr_failed(
        &mut self,
        exec: &ExecId,
        e: EvalFailure,
        field: &str,
        work: &mut VecDeque<Work>,
    ) {
        self.record_expr(Some(exec), e.at(format!("task `{}` {field}", exec.task)));
        self.fail_run(work);
    }

    pub(super) fn check_finish(&mut self, out: &mut Vec<Command>) {
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
                .map(|(key, b)| {
                    let task = key.rsplit_once('|').map_or(key.as_str(), |(t, _)| t);
                    let tasks = b.arrived.iter().map(|e| e.task.clone()).collect();
                    (task.to_owned(), tasks)
                })
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
