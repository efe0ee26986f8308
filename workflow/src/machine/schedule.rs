//! Scheduling: arrivals at a task (and `join` barriers, counted once per inbound task
//! execution), new executions, evaluating what a task needs before it starts (delay, timeout,
//! retry, items, inputs), and starting units within `concurrency`.

use super::*;

/// Arrivals at a `join` task in the current round, by the task execution that arrived: one
/// execution counts once however many of its transitions name the join (Orquesta counts each
/// inbound task once per join).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct Barrier {
    pub(super) arrived: Vec<ExecId>,
    /// The join already ran this round (`join: N` with late arrivals still to come).
    pub(super) fired: bool,
    /// The executions of the round that last closed: a second transition of one of them into
    /// the join, handled after the round closed, is the same arrival, not a new round.
    pub(super) closed: Vec<ExecId>,
}

/// The key of the barrier of join task `task` on `route`.
pub(super) fn barrier_key(task: &str, route: usize) -> String {
    format!("{task}|{route}")
}

impl Barrier {
    /// How many distinct inbound tasks arrived this round.
    fn tasks(&self) -> usize {
        let mut tasks: Vec<&str> = self.arrived.iter().map(|e| e.task.as_str()).collect();
        tasks.sort_unstable();
        tasks.dedup();
        tasks.len()
    }

    /// Closes the round: every inbound task arrived.
    fn close(&mut self) {
        let closed = std::mem::take(&mut self.arrived);
        *self = Barrier {
            closed,
            ..Barrier::default()
        };
    }
}

impl Machine {
    pub(super) fn arrive(
        &mut self,
        target: &str,
        from: &ExecId,
        transition: usize,
        route: usize,
        run_on_fail: bool,
        work: &mut VecDeque<Work>,
    ) {
        let wf = self.workflow.clone();
        let Some(task) = wf.tasks.get(target) else {
            self.record(
                "unknown_task",
                None,
                format!(
                    "task `{}` transitions to unknown task `{target}`; run orch workflow validate",
                    from.task
                ),
                None,
            );
            self.fail_run(work);
            return;
        };
        let Some(join) = task.join else {
            let route = self.routes.next(target, &from.task, transition, route);
            work.push_back(Work::Schedule {
                task: target.to_string(),
                run_on_fail,
                route,
            });
            return;
        };
        let inbound = wf.inbound_tasks(target).len();
        let needed = match join {
            Join::All => inbound,
            Join::Count(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        // One barrier per join task and route: the copies of a split upstream pair up with
        // their own branches.
        let b = self.barriers.entry(barrier_key(target, route)).or_default();
        if b.arrived.contains(from) || b.closed.contains(from) {
            // Another true transition of an execution that arrived already.
            return;
        }
        if b.fired {
            if b.arrived.iter().any(|a| a.task == from.task) {
                // The same task again, a new execution: a new round (the join sits in a cycle).
                *b = Barrier::default();
            } else {
                // A late branch of a `join: N` that already ran: absorbed.
                b.arrived.push(from.clone());
                if b.tasks() >= inbound {
                    b.close();
                }
                return;
            }
        }
        if !b.arrived.iter().any(|a| a.task == from.task) {
            b.arrived.push(from.clone());
        }
        if b.tasks() >= needed {
            b.fired = true;
            if b.tasks() >= inbound {
                b.close();
            }
            work.push_back(Work::Schedule {
                task: target.to_string(),
                run_on_fail,
                route,
            });
        }
    }

    pub(super) fn new_exec(&mut self, task: &str, run_on_fail: bool, route: usize) -> usize {
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
            handled: false,
            route,
        });
        idx
    }

    pub(super) fn schedule(
        &mut self,
        name: &str,
        run_on_fail: bool,
        route: usize,
        work: &mut VecDeque<Work>,
        out: &mut Vec<Command>,
    ) {
        if !self.may_start(run_on_fail) {
            // The run is failing or canceling: nothing new starts, but a rerun picks this up
            // where the failure cut it short.
            let cut = (name.to_string(), route);
            if !self.suppressed.contains(&cut) {
                self.suppressed.push(cut);
            }
            return;
        }
        let wf = self.workflow.clone();
        let Some(task) = wf.tasks.get(name) else {
            return;
        };
        let idx = self.new_exec(name, run_on_fail, route);
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
    pub(super) fn prepare(&mut self, idx: usize, task: &Task) -> Result<(), ExprError> {
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
                    let placement = render_placement(task, &scope, &site("placement"))?;
                    units.push(Unit::new(None, None, input, placement));
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
                        let placement = render_placement(
                            task,
                            &item_scope,
                            &format!("{} (item {i})", site("placement")),
                        )?;
                        units.push(Unit::new(Some(i), Some(item), input, placement));
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

    pub(super) fn begin(&mut self, idx: usize, work: &mut VecDeque<Work>, out: &mut Vec<Command>) {
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
    pub(super) fn pump(&mut self, idx: usize, work: &mut VecDeque<Work>, out: &mut Vec<Command>) {
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

    pub(super) fn start_unit(&mut self, idx: usize, u: usize, out: &mut Vec<Command>) {
        let exec = &mut self.execs[idx];
        exec.units[u].state = UnitState::Running;
        exec.running += 1;
        let exec = &self.execs[idx];
        out.push(self.start_command(exec, &exec.units[u]));
    }

    pub(super) fn start_command(&self, exec: &Exec, u: &Unit) -> Command {
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
            placement: u.placement.clone(),
            timeout_secs: exec.timeout,
            idempotency_key: key,
        }
    }
}

pub(super) fn render_input(
    t: Option<&Template>,
    scope: &Scope,
    site: &str,
) -> Result<Value, ExprError> {
    match t {
        None => Ok(Value::Object(Map::new())),
        Some(t) => expr::render(t, scope).map_err(|e| e.at(site)),
    }
}

/// The task's `placement:` rendered in `scope`, if it has one.
fn render_placement(task: &Task, scope: &Scope, site: &str) -> Result<Option<Value>, ExprError> {
    task.placement
        .as_ref()
        .map(|t| expr::render(t, scope).map_err(|e| e.at(site)))
        .transpose()
}

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

pub(super) fn number(t: &Template, scope: &Scope, site: &str) -> Result<f64, ExprError> {
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

pub(super) fn count(t: &Template, scope: &Scope, site: &str) -> Result<u32, ExprError> {
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
