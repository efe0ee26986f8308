//! Routes, as Orquesta keeps them. A *split task* is a task (not a join) that more than one
//! transition names: each arrival runs it again (`task#1`, `task#2`), and each of those copies
//! starts a route of its own, inherited by everything downstream. A join then waits for its
//! inbound tasks *of the same route*, so the copies of a split pair up with their own
//! branches rather than with whichever arrived first. A route is the list of split transitions
//! taken to reach it (`(task, transition index)`); route 0 is the empty one. Tasks in a cycle
//! never start routes (a loop is one route going round).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::model::Workflow;

/// The routes of one run and what the workflow says about splits and cycles.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Routes {
    routes: Vec<Vec<(String, usize)>>,
    /// Tasks named by more than one transition, without a join.
    split: BTreeSet<String>,
    /// Tasks on a cycle of the transition graph.
    cyclic: BTreeSet<String>,
}

impl Routes {
    pub(super) fn new(workflow: &Workflow) -> Self {
        let mut named: std::collections::BTreeMap<&str, usize> = Default::default();
        for task in workflow.tasks.values() {
            for transition in &task.next {
                for target in &transition.targets {
                    if let crate::model::Target::Task(name) = &target.kind {
                        *named.entry(name.as_str()).or_default() += 1;
                    }
                }
            }
        }
        let split = named
            .into_iter()
            .filter(|(name, count)| {
                *count > 1
                    && workflow
                        .tasks
                        .get(*name)
                        .is_some_and(|task| task.join.is_none())
            })
            .map(|(name, _)| name.to_owned())
            .collect();
        let cyclic = workflow
            .tasks
            .keys()
            .filter(|name| on_cycle(workflow, name))
            .cloned()
            .collect();
        Self {
            routes: vec![Vec::new()],
            split,
            cyclic,
        }
    }

    /// The route an arrival at `target`, by transition `transition` of `from_task` on route
    /// `route`, continues on: a new one for a split task outside cycles, else the same.
    pub(super) fn next(
        &mut self,
        target: &str,
        from_task: &str,
        transition: usize,
        route: usize,
    ) -> usize {
        if !self.split.contains(target) || self.cyclic.contains(target) {
            return route;
        }
        let step = (from_task.to_owned(), transition);
        let mut path = self.routes.get(route).cloned().unwrap_or_default();
        if path.contains(&step) {
            return route;
        }
        path.push(step);
        match self.routes.iter().position(|r| *r == path) {
            Some(existing) => existing,
            None => {
                self.routes.push(path);
                self.routes.len() - 1
            }
        }
    }
}

/// Whether `task` can reach itself through transitions.
fn on_cycle(workflow: &Workflow, task: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&str> = next_of(workflow, task);
    while let Some(name) = stack.pop() {
        if name == task {
            return true;
        }
        if seen.insert(name) {
            stack.extend(next_of(workflow, name));
        }
    }
    false
}

fn next_of<'a>(workflow: &'a Workflow, task: &str) -> Vec<&'a str> {
    workflow
        .tasks
        .get(task)
        .map(|t| {
            t.next
                .iter()
                .flat_map(|tr| tr.targets.iter())
                .filter_map(|target| match &target.kind {
                    crate::model::Target::Task(name) => Some(name.as_str()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}
