//! Rerun (Orquesta's): a failed or canceled run goes on as a new attempt of the same run. The
//! tasks to run again get new executions (their first ones stay in the history, results and
//! all); tasks whose success is kept are not run again; transitions that the failure cut short
//! (a branch finished while the run was failing, so its next task never started) are taken now.
//! The run may go on with the workflow it started with or with a new revision of it, which must
//! still have every task the run executed.

use super::*;

impl Machine {
    pub(super) fn rerun(
        &mut self,
        tasks: &[String],
        definition: Option<&str>,
        work: &mut VecDeque<Work>,
    ) -> Result<(), MachineError> {
        if !matches!(self.status, RunStatus::Failed | RunStatus::Canceled) {
            return Err(MachineError::Rerun(format!(
                "it is {}; only a failed or canceled run can be re-run",
                self.status.as_str()
            )));
        }
        let workflow = match definition {
            None => self.workflow.clone(),
            Some(text) => {
                let revised = crate::parse_workflow(&self.workflow.source, text)
                    .map_err(|e| MachineError::Rerun(format!("the new revision: {e}")))?;
                if let Some(missing) = self
                    .by_task
                    .keys()
                    .find(|task| !revised.tasks.contains_key(*task))
                {
                    return Err(MachineError::Rerun(format!(
                        "the new revision has no task `{missing}`, which the run executed; \
                         re-run with the revision the run started with"
                    )));
                }
                Arc::new(revised)
            }
        };
        let rerunnable = |exec: &Exec| match exec.status {
            ExecStatus::Failed => !exec.handled,
            ExecStatus::Canceled => true,
            _ => false,
        };
        // The last execution of each task on each route (Orquesta reruns per route: the two
        // copies of a split task are two routes).
        let mut last: IndexMap<(String, usize), usize> = IndexMap::new();
        for (idx, exec) in self.execs.iter().enumerate() {
            last.insert((exec.id.task.clone(), exec.route), idx);
        }
        let targets: Vec<(String, usize)> = if tasks.is_empty() {
            last.iter()
                .filter(|(_, idx)| rerunnable(&self.execs[**idx]))
                .map(|(key, _)| key.clone())
                .collect()
        } else {
            let mut chosen = Vec::new();
            for task in tasks {
                let mine: Vec<(&(String, usize), &usize)> =
                    last.iter().filter(|((t, _), _)| t == task).collect();
                if mine.is_empty() {
                    return Err(MachineError::Rerun(format!(
                        "task `{task}` never ran in this run; name a task that failed"
                    )));
                }
                let failed: Vec<(String, usize)> = mine
                    .iter()
                    .filter(|(_, idx)| {
                        matches!(
                            self.execs[**idx].status,
                            ExecStatus::Failed | ExecStatus::Canceled
                        )
                    })
                    .map(|(key, _)| (*key).clone())
                    .collect();
                if failed.is_empty() {
                    let latest = mine.iter().map(|(_, idx)| **idx).max().unwrap_or(0);
                    return Err(MachineError::Rerun(format!(
                        "task `{task}` did not fail (its last execution, {}, succeeded); name a \
                         task that failed or was canceled",
                        self.execs[latest].id
                    )));
                }
                chosen.extend(failed);
            }
            chosen
        };
        if targets.is_empty() && self.suppressed.is_empty() {
            return Err(MachineError::Rerun(
                "no task failed without being handled, and none was canceled: there is nothing \
                 to run again; name tasks to re-run"
                    .to_owned(),
            ));
        }
        self.workflow = workflow;
        self.cache = Cache::default();
        self.status = RunStatus::Running;
        self.errors.clear();
        self.output = None;
        self.reruns += 1;
        let mut scheduled: Vec<(String, usize)> = Vec::new();
        for (task, route) in targets
            .into_iter()
            .chain(std::mem::take(&mut self.suppressed))
        {
            if !scheduled.contains(&(task.clone(), route)) {
                scheduled.push((task.clone(), route));
                work.push_back(Work::Schedule {
                    task,
                    run_on_fail: false,
                    route,
                });
            }
        }
        Ok(())
    }

    /// How many times the run was re-run.
    pub fn reruns(&self) -> u32 {
        self.reruns
    }
}
