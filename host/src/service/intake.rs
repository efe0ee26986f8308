//! The event intake: one task takes events from the bounded queue in batches, stores each batch
//! in one transaction (answering the webhooks waiting on it), lets every rule that listens decide,
//! records the decisions in one transaction and starts the runs they fire. At start-up,
//! [`recover`] finishes what the last server left: firings whose run was not started, events not
//! decided, runs to resume.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};

use super::{Core, blocking, now, object};
use crate::engine::lease::{Driver, driver_of};
use crate::rules::{self, Verdict};
use crate::store::{EventRow, NewDecision, NewEvent, Stored};

/// Most events stored in one transaction.
const BATCH: usize = 512;
/// A chain of rules started by run events stops at this depth (a rule firing its own workflow
/// would loop forever otherwise).
pub const MAX_CHAIN: u64 = 8;

/// An event on its way to the store; `ack` is told what storing it did.
#[derive(Debug)]
pub struct Incoming {
    /// The event.
    pub event: NewEvent,
    /// Who waits for it to be stored.
    pub ack: Option<oneshot::Sender<Result<Stored, String>>>,
}

/// The intake loop; on stop, the events still queued are stored (and decided at the next start).
pub async fn run(
    core: Arc<Core>,
    mut rx: mpsc::Receiver<Incoming>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        let first = tokio::select! {
            item = rx.recv() => item,
            _ = stop.wait_for(|s| *s) => None,
        };
        let Some(first) = first else {
            break;
        };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let stored = store(&core, batch);
        if !stored.is_empty()
            && let Err(err) = decide(&core, &stored)
        {
            // The events stay undecided: the next start decides them.
            tracing::error!("deciding events: {err:#}");
        }
    }
    rx.close();
    let mut rest = Vec::new();
    while let Ok(item) = rx.try_recv() {
        rest.push(item);
    }
    if !rest.is_empty() {
        tracing::info!(events = rest.len(), "storing queued events before stopping");
        store(&core, rest);
    }
    Ok(())
}

/// Stores a batch, answers whoever waits; the new events.
fn store(core: &Core, batch: Vec<Incoming>) -> Vec<EventRow> {
    let events: Vec<NewEvent> = batch.iter().map(|i| i.event.clone()).collect();
    match blocking(|| core.store.store_events(&events)) {
        Ok(results) => {
            let mut rows = Vec::new();
            for ((item, result), event) in batch.into_iter().zip(results).zip(events) {
                match result {
                    Stored::New(id) => {
                        core.counters.count("events.stored");
                        core.counters
                            .count(&format!("events.stored.{}", event.kind));
                        rows.push(EventRow {
                            id,
                            kind: event.kind,
                            name: event.name,
                            received_at: event.received_at,
                            payload: event.payload,
                            decided_at: None,
                        });
                    }
                    Stored::Duplicate => core.counters.count("events.duplicate"),
                }
                if let Some(ack) = item.ack {
                    let _ = ack.send(Ok(result));
                }
            }
            rows
        }
        Err(err) => {
            tracing::error!(events = batch.len(), "storing events: {err:#}");
            core.counters.add("events.store_failed", batch.len() as u64);
            for item in batch {
                if let Some(ack) = item.ack {
                    let _ = ack.send(Err("the event could not be stored".into()));
                }
            }
            Vec::new()
        }
    }
}

/// Every listening rule decides about each event; decisions recorded, firings started.
fn decide(core: &Arc<Core>, events: &[EventRow]) -> anyhow::Result<()> {
    let engine = core.engine();
    let mut decisions = Vec::new();
    let mut starts = Vec::new();
    // Groups fired in this batch, per rule: the store does not know them yet.
    let mut fired: Vec<(String, String, i64)> = Vec::new();
    for event in events {
        let value = rules::event_value(event);
        let depth = chain_depth(&value);
        for rule in core.rules.iter().filter(|r| r.listens_to(event, &value)) {
            let at = now();
            let (device, note) = match blocking(|| rule.enrich(&value, &core.store)) {
                Ok(found) => found,
                Err(err) => (None, Some(format!("inventory lookup failed: {err:#}"))),
            };
            let verdict = if depth >= MAX_CHAIN {
                Verdict::Error {
                    message: format!(
                        "this run event ends a chain of {depth} rule-started runs; rules stop at \
                         {MAX_CHAIN} so a rule that fires its own workflow cannot loop"
                    ),
                }
            } else {
                let pending: Vec<(String, i64)> = fired
                    .iter()
                    .filter(|(r, _, _)| *r == rule.name)
                    .map(|(_, g, t)| (g.clone(), *t))
                    .collect();
                blocking(|| rules::decide(rule, &value, device.as_ref(), &core.store, &pending, at))
            };
            let mut decision = NewDecision {
                event_id: event.id,
                rule: rule.name.clone(),
                decision: verdict.name().to_owned(),
                detail: verdict.detail(),
                run_id: None,
                workflow: None,
                input: None,
                group_key: None,
            };
            match verdict {
                Verdict::Fire {
                    workflow,
                    input,
                    group,
                } => match blocking(|| engine.prepare(&workflow, input.clone())) {
                    Ok(prepared) => {
                        let prepared =
                            prepared.started_by(format!("rule:{} event:{}", rule.name, event.id));
                        let id = crate::engine::new_run_id();
                        decision.detail = format!("fired run {id} of {workflow}");
                        decision.run_id = Some(id.clone());
                        decision.workflow = Some(workflow);
                        decision.input = Some(Value::Object(input).to_string());
                        if let Some(g) = &group {
                            fired.push((rule.name.clone(), g.clone(), at));
                        }
                        decision.group_key = group;
                        starts.push((decisions.len(), prepared, id));
                    }
                    Err(err) => {
                        decision.decision = "error".into();
                        decision.detail = format!("workflow {workflow} cannot start: {err:#}");
                    }
                },
                Verdict::Throttled { group, .. } => decision.group_key = Some(group),
                _ => {}
            }
            if let Some(note) = note {
                decision.detail = format!("{} ({note})", decision.detail);
            }
            core.counters.count(&format!("rules.{}", decision.decision));
            tracing::info!(event = event.id, rule = %rule.name, decision = %decision.decision, "{}", decision.detail);
            decisions.push(decision);
        }
    }
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    let written = blocking(|| core.store.record_decisions(&ids, &decisions))?;
    for (index, prepared, id) in starts {
        if written.get(index).copied().unwrap_or(false) {
            let d = &decisions[index];
            core.start_fired(prepared, id, d.event_id, d.rule.clone());
        }
    }
    Ok(())
}

/// How many rule-started runs led to this event (0 for anything but a run event).
fn chain_depth(event: &Value) -> u64 {
    event.get("depth").and_then(Value::as_u64).unwrap_or(0)
}

/// Finishes what the last server left, before new events are taken: firings whose run was not
/// started are started under their recorded id, undecided events are decided, and runs whose
/// driver is gone (or that this server paused when it stopped) are resumed. The resumed runs.
pub async fn recover(core: &Arc<Core>) -> anyhow::Result<Vec<String>> {
    let engine = core.engine();
    for d in blocking(|| core.store.unstarted_decisions())? {
        let (Some(id), Some(workflow)) = (d.run_id.clone(), d.workflow.clone()) else {
            continue;
        };
        let input = object(d.input.as_deref().unwrap_or("{}"));
        match blocking(|| engine.prepare(&workflow, input)) {
            Ok(prepared) => {
                let prepared = prepared.started_by(format!("rule:{} event:{}", d.rule, d.event_id));
                tracing::info!(event = d.event_id, rule = %d.rule, run = %id, "starting a run fired before the last stop");
                core.start_fired(prepared, id, d.event_id, d.rule.clone());
            }
            Err(err) => {
                let detail = format!("workflow {workflow} cannot start: {err:#}");
                blocking(|| core.store.fail_decision(d.event_id, &d.rule, &detail))?;
            }
        }
    }
    let mut after = 0;
    loop {
        let pending = blocking(|| core.store.undecided_events(after, BATCH as i64))?;
        let Some(last) = pending.last() else {
            break;
        };
        after = last.id;
        tracing::info!(
            events = pending.len(),
            "deciding events stored before the last stop"
        );
        decide(core, &pending)?;
    }
    let mut resumed = Vec::new();
    let now = now();
    for run in blocking(|| core.store.runs_to_resume())? {
        let orphan = run.status == "running" && matches!(driver_of(&run, now), Driver::Gone { .. });
        if orphan || run.status == "paused" {
            resumed.push(run.id.clone());
            core.resume(run.id);
        }
    }
    Ok(resumed)
}

/// The payload of a run-ended event.
pub fn run_payload(
    run: &crate::store::RunRow,
    depth: u64,
    started_by: Option<(i64, &str)>,
) -> Value {
    json!({
        "run": run.id,
        "workflow": run.workflow,
        "status": run.status,
        "output": run.output.as_deref().and_then(|o| serde_json::from_str::<Value>(o).ok()),
        "errors": run.errors.as_deref().and_then(|e| serde_json::from_str::<Value>(e).ok()).unwrap_or(json!([])),
        "input": serde_json::from_str::<Value>(&run.input).unwrap_or(Value::Null),
        "depth": depth,
        "started_by": started_by.map(|(event, rule)| json!({"event": event, "rule": rule})),
    })
}
