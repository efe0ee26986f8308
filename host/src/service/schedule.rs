//! One task per schedule rule: at start, the slots missed while the server was down are fired
//! once or skipped (`catch_up`), then each slot fires when it comes. A slot's event carries the
//! slot as its `dedup_key` and moves the schedule's recorded slot in the same transaction, so a
//! slot fires exactly once, whatever restarts happen around it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{oneshot, watch};

use super::intake::Incoming;
use super::{Core, blocking, now};
use crate::rules::{OnStart, Schedule};
use crate::store::{Mark, NewEvent, Stored};

pub async fn run(
    core: Arc<Core>,
    rule: String,
    schedule: Schedule,
    mut stop: watch::Receiver<bool>,
) {
    let mut handled = match start(&core, &rule, &schedule).await {
        Ok(Some(handled)) => handled,
        Ok(None) => return,
        Err(err) => {
            tracing::error!(rule = %rule, "schedule cannot start: {err:#}");
            return;
        }
    };
    loop {
        let Some(next) = schedule.next_after(handled) else {
            tracing::warn!(rule = %rule, "schedule has no next slot");
            return;
        };
        let wait = u64::try_from(next.saturating_sub(now())).unwrap_or(0);
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            () = tokio::time::sleep(Duration::from_millis(wait)) => {}
        }
        for slot in schedule.due(handled, now()) {
            match fire(&core, &rule, &schedule, slot, 0).await {
                Ok(true) => handled = slot,
                Ok(false) => return,
                Err(err) => {
                    tracing::error!(rule = %rule, "firing slot {}: {err:#}", schedule.show(slot));
                    // Wait for the next slot rather than spinning on a failing store.
                    handled = slot;
                }
            }
        }
        // Woken a little early by the clock: the slot comes on the next turn.
    }
}

/// What the server does with this schedule at start; the slot handled, `None` when stopping.
async fn start(core: &Arc<Core>, rule: &str, schedule: &Schedule) -> anyhow::Result<Option<i64>> {
    let handled = blocking(|| core.store.schedule_slot(rule))?;
    let now = now();
    Ok(match schedule.on_start(handled, now) {
        OnStart::New { mark } => {
            blocking(|| core.store.set_schedule_slot(rule, mark))?;
            Some(mark)
        }
        OnStart::UpToDate => handled,
        OnStart::CatchUp { slot, missed } => {
            tracing::info!(
                rule,
                missed,
                "schedule missed slots while stopped: firing once for {}",
                schedule.show(slot)
            );
            if fire(core, rule, schedule, slot, missed).await? {
                Some(slot)
            } else {
                None
            }
        }
        OnStart::Skip { slot, missed } => {
            tracing::info!(
                rule,
                missed,
                "schedule missed slots while stopped: skipped up to {}",
                schedule.show(slot)
            );
            core.counters.add("schedule.skipped", missed);
            blocking(|| core.store.set_schedule_slot(rule, slot))?;
            Some(slot)
        }
    })
}

/// Stores the event of `slot`; false when the intake has stopped.
async fn fire(
    core: &Arc<Core>,
    rule: &str,
    schedule: &Schedule,
    slot: i64,
    missed: u64,
) -> anyhow::Result<bool> {
    let payload = json!({
        "rule": rule,
        "slot": schedule.show(slot),
        "slot_ms": slot,
        "cron": schedule.cron_text,
        "timezone": schedule.timezone,
        "missed": missed,
        "catch_up": missed > 0,
    });
    let (tx, rx) = oneshot::channel();
    let incoming = Incoming {
        event: NewEvent {
            kind: "schedule".into(),
            name: rule.to_owned(),
            received_at: now(),
            payload: payload.to_string(),
            dedup_key: Some(format!("schedule:{rule}:{slot}")),
            mark: Some(Mark::ScheduleSlot {
                rule: rule.to_owned(),
                slot,
            }),
        },
        ack: Some(tx),
    };
    if core.queue.send(incoming).await.is_err() {
        return Ok(false);
    }
    match rx.await {
        Ok(Ok(Stored::New(id))) => {
            tracing::info!(rule, event = id, "schedule fired {}", schedule.show(slot));
            Ok(true)
        }
        Ok(Ok(Stored::Duplicate)) => Ok(true),
        Ok(Err(err)) => anyhow::bail!("{err}"),
        Err(_) => Ok(false),
    }
}
