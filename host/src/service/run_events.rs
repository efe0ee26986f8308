//! Run events: a root run that finishes, whichever process drove it (this server, `orch run`,
//! `orch runs respond` on the same home), is recorded by a trigger of the store
//! (`run_endings`); this task turns each ending into an event, consuming the ending in the
//! event's transaction, so rules can chain. It looks when a run driven here ends and every
//! second for the others.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, oneshot, watch};

use super::intake::{Incoming, run_payload};
use super::{Core, blocking, now};
use crate::store::{Mark, NewEvent};

/// How often endings of runs driven elsewhere are looked for.
const POLL: Duration = Duration::from_secs(1);

pub async fn run(core: Arc<Core>, ended: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(err) = drain(&core).await {
            tracing::warn!("turning run endings into events: {err:#}");
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            () = ended.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

async fn drain(core: &Arc<Core>) -> anyhow::Result<()> {
    loop {
        let endings = blocking(|| core.store.run_endings(100))?;
        if endings.is_empty() {
            return Ok(());
        }
        for ending in endings {
            let run = &ending.run;
            let started = blocking(|| core.store.decision_of_run(&run.id))?;
            let (depth, started_by) = match &started {
                Some((decision, event)) => {
                    let depth = serde_json::from_str::<serde_json::Value>(&event.payload)
                        .ok()
                        .and_then(|p| p.get("depth").and_then(serde_json::Value::as_u64))
                        .unwrap_or(0);
                    (depth + 1, Some((decision.event_id, decision.rule.as_str())))
                }
                None => (0, None),
            };
            let payload = run_payload(run, depth, started_by);
            let (tx, rx) = oneshot::channel();
            let incoming = Incoming {
                event: NewEvent {
                    kind: "run".into(),
                    name: run.workflow.clone(),
                    received_at: now(),
                    payload: payload.to_string(),
                    dedup_key: Some(format!("run:{}:{}", run.id, ending.seq)),
                    mark: Some(Mark::RunEndings { upto: ending.seq }),
                },
                ack: Some(tx),
            };
            if core.queue.send(incoming).await.is_err() {
                return Ok(());
            }
            match rx.await {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => anyhow::bail!("{err}"),
                // The intake stopped: the ending stays for the next start.
                Err(_) => return Ok(()),
            }
        }
    }
}
