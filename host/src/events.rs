//! Events of `orch serve` (webhooks, syslog messages, schedule slots, finished runs) and what
//! each rule decided about them, as typed results for `orch events list|show` and the HTTP API.
//! (Not to be confused with a run's journaled events: those are `orch runs show`.)

use serde::Serialize;
use serde_json::Value;

use crate::store::{DecisionRow, EventRow, EventsFilter, Store, rfc3339_ms};

/// No such event.
#[derive(Debug, thiserror::Error)]
#[error("no event {0}; list events with: orch events list")]
pub struct NoEvent(pub String);

/// One rule's decision about an event.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// Rule.
    pub rule: String,
    /// `fired`, `criteria_false`, `throttled` or `error`.
    pub decision: String,
    /// Why.
    pub detail: String,
    /// The run it fired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The run's status now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_status: Option<String>,
    /// The workflow it fired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// The input it fired it with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// Throttle group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Value>,
    /// When decided (RFC 3339).
    pub at: String,
}

/// An event and every decision.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Id.
    pub id: i64,
    /// Trigger type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Trigger name.
    pub name: String,
    /// Arrival (RFC 3339).
    pub received_at: String,
    /// Whether the rules have decided (false: the server stopped first; decided at its next
    /// start).
    pub decided: bool,
    /// The payload.
    pub payload: Value,
    /// What each listening rule decided, by rule.
    pub decisions: Vec<Decision>,
}

fn decision(store: &Store, d: DecisionRow) -> Decision {
    let run_status = d
        .run_id
        .as_deref()
        .and_then(|r| store.run(r).ok().flatten())
        .map(|r| r.status);
    Decision {
        rule: d.rule,
        decision: d.decision,
        detail: d.detail,
        run: d.run_id,
        run_status,
        workflow: d.workflow,
        input: d.input.and_then(|i| serde_json::from_str(&i).ok()),
        group: d.group_key.and_then(|g| serde_json::from_str(&g).ok()),
        at: rfc3339_ms(d.at),
    }
}

fn event(store: &Store, row: EventRow) -> anyhow::Result<Event> {
    let decisions = store
        .decisions(row.id)?
        .into_iter()
        .map(|d| decision(store, d))
        .collect();
    Ok(Event {
        id: row.id,
        kind: row.kind,
        name: row.name,
        received_at: rfc3339_ms(row.received_at),
        decided: row.decided_at.is_some(),
        payload: serde_json::from_str(&row.payload).unwrap_or(Value::Null),
        decisions,
    })
}

/// Events, newest first, with their decisions.
pub fn list(store: &Store, filter: &EventsFilter) -> anyhow::Result<Vec<Event>> {
    store
        .trigger_events(filter)?
        .into_iter()
        .map(|row| event(store, row))
        .collect()
}

/// Event `id` with its decisions.
pub fn show(store: &Store, id: &str) -> anyhow::Result<Event> {
    let n: i64 = id
        .trim_start_matches('#')
        .parse()
        .map_err(|_| NoEvent(id.to_owned()))?;
    let row = store
        .trigger_event(n)?
        .ok_or_else(|| NoEvent(id.to_owned()))?;
    event(store, row)
}

/// Removes the decided events older than `older_than` (and their decisions); how many.
pub fn prune(store: &Store, older_than: std::time::Duration) -> anyhow::Result<usize> {
    let age = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
    let before = crate::store::now_ms().saturating_sub(age);
    let mut total = 0;
    loop {
        let n = store.prune_events(before, 10_000)?;
        total += n;
        if n < 10_000 {
            return Ok(total);
        }
    }
}
