//! The events of `orch serve` and what the rules decided about them: events stored before any
//! rule sees them (idempotent by their `dedup_key`, with the schedule slot or run ending they
//! consume written in the same transaction), decisions recorded with the throttle state and the
//! run a firing starts in one transaction, schedule slots, run endings, and the runs the server
//! drives. See the migration in `schema.rs` for the tables.

use super::sql::{Row, Sql, params};

use super::runs::{RUN_COLUMNS, run_row, run_row_at};
use super::{RunRow, Store, now_ms};

/// An event to store.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Trigger type: `webhook`, `syslog`, `schedule`, `run`.
    pub kind: String,
    /// Trigger name: the hook, the listener (`udp`, `tcp`), the schedule's rule, the workflow.
    pub name: String,
    /// When it arrived (Unix ms).
    pub received_at: i64,
    /// The payload, a JSON object.
    pub payload: String,
    /// Stored once per key: a second event with the same key is a duplicate.
    pub dedup_key: Option<String>,
    /// What storing it consumes, written in the same transaction.
    pub mark: Option<Mark>,
}

/// Bookkeeping written with an event, so the event and what it consumed commit together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// The schedule of `rule` handled every slot up to `slot` (Unix ms).
    ScheduleSlot {
        /// Rule name.
        rule: String,
        /// The slot.
        slot: i64,
    },
    /// Run endings up to `seq` became events.
    RunEndings {
        /// Last sequence number consumed.
        upto: i64,
    },
}

/// What storing one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Stored with this id.
    New(i64),
    /// An event with the same `dedup_key` was stored before; nothing was written.
    Duplicate,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// Id, increasing in arrival order.
    pub id: i64,
    /// Trigger type.
    pub kind: String,
    /// Trigger name.
    pub name: String,
    /// Arrival (Unix ms).
    pub received_at: i64,
    /// The payload (JSON object).
    pub payload: String,
    /// When every rule had decided (Unix ms); `None` while undecided.
    pub decided_at: Option<i64>,
}

/// A rule's decision to record.
#[derive(Debug, Clone)]
pub struct NewDecision {
    /// Event.
    pub event_id: i64,
    /// Rule.
    pub rule: String,
    /// `fired`, `criteria_false`, `throttled` or `error`.
    pub decision: String,
    /// Why, for a person.
    pub detail: String,
    /// For `fired`: the run it starts.
    pub run_id: Option<String>,
    /// For `fired`: the workflow to start.
    pub workflow: Option<String>,
    /// For `fired`: the input (JSON).
    pub input: Option<String>,
    /// The throttle group (JSON), when the rule throttles.
    pub group_key: Option<String>,
}

/// A recorded decision.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRow {
    /// Event.
    pub event_id: i64,
    /// Rule.
    pub rule: String,
    /// `fired`, `criteria_false`, `throttled` or `error`.
    pub decision: String,
    /// Why.
    pub detail: String,
    /// The run it started.
    pub run_id: Option<String>,
    /// The workflow it started.
    pub workflow: Option<String>,
    /// The input it started it with (JSON).
    pub input: Option<String>,
    /// Throttle group (JSON).
    pub group_key: Option<String>,
    /// When decided (Unix ms).
    pub at: i64,
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct EventsFilter {
    /// Trigger type.
    pub kind: Option<String>,
    /// Only events this rule decided about.
    pub rule: Option<String>,
    /// Only events with ids below this one (paging back).
    pub before: Option<i64>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// A root run that finished, not yet turned into an event.
#[derive(Debug, Clone)]
pub struct RunEnding {
    /// Sequence number.
    pub seq: i64,
    /// The run as it is now.
    pub run: RunRow,
}

const EVENT_COLUMNS: &str = "id, type, name, received_at, payload, decided_at";
const DECISION_COLUMNS: &str =
    "event_id, rule, decision, detail, run_id, workflow, input, group_key, at";

fn event_row(row: &Row) -> anyhow::Result<EventRow> {
    Ok(EventRow {
        id: row.get(0)?,
        kind: row.get(1)?,
        name: row.get(2)?,
        received_at: row.get(3)?,
        payload: row.get(4)?,
        decided_at: row.get(5)?,
    })
}

fn decision_row(row: &Row) -> anyhow::Result<DecisionRow> {
    Ok(DecisionRow {
        event_id: row.get(0)?,
        rule: row.get(1)?,
        decision: row.get(2)?,
        detail: row.get(3)?,
        run_id: row.get(4)?,
        workflow: row.get(5)?,
        input: row.get(6)?,
        group_key: row.get(7)?,
        at: row.get(8)?,
    })
}

/// Key of `service_state`: the server consumed run endings before (a first start drops the
/// backlog of runs that ended before any server ran).
const RUN_ENDINGS_STARTED: &str = "run_endings_started";

impl Store {
    /// Stores `events` in one transaction (one fsync), each with its mark; what each became.
    pub fn store_events(&self, events: &[NewEvent]) -> anyhow::Result<Vec<Stored>> {
        self.write(|tx| {
            let mut out = Vec::with_capacity(events.len());
            for e in events {
                let id: Option<i64> = tx.query_opt(
                    "INSERT INTO trigger_events (type, name, received_at, payload, dedup_key)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (dedup_key) DO NOTHING
                     RETURNING id",
                    params![e.kind, e.name, e.received_at, e.payload, e.dedup_key],
                    |r| r.get(0),
                )?;
                out.push(id.map_or(Stored::Duplicate, Stored::New));
                // Marks are idempotent: written for a duplicate too, so what it consumes never
                // stays behind.
                match &e.mark {
                    None => {}
                    Some(Mark::ScheduleSlot { rule, slot }) => {
                        write_slot(tx, rule, *slot)?;
                    }
                    Some(Mark::RunEndings { upto }) => {
                        tx.execute("DELETE FROM run_endings WHERE seq <= ?1", params![upto])?;
                    }
                }
            }
            Ok(out)
        })
    }

    /// Events no rule has decided about yet, oldest first, with ids above `after`.
    pub fn undecided_events(&self, after: i64, limit: i64) -> anyhow::Result<Vec<EventRow>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM trigger_events
             WHERE decided_at IS NULL AND id > ?1 ORDER BY id LIMIT ?2"
        );
        self.conn(|conn| conn.query_map(&sql, params![after, limit], event_row))
    }

    /// When `rule` last fired for throttle group `group_key` (Unix ms).
    pub fn last_fired(&self, rule: &str, group_key: &str) -> anyhow::Result<Option<i64>> {
        self.conn(|conn| {
            conn.query_opt(
                "SELECT fired_at FROM rule_throttle WHERE rule = ?1 AND group_key = ?2",
                params![rule, group_key],
                |r| r.get(0),
            )
        })
    }

    /// Records `decisions` and marks the events `decided` as decided, in one transaction; a
    /// firing also moves its throttle group's window and makes its run one the server drives.
    /// A decision already recorded for the same event and rule is kept (the new one is not
    /// written): the result says, per decision, whether it was written.
    pub fn record_decisions(
        &self,
        decided: &[i64],
        decisions: &[NewDecision],
    ) -> anyhow::Result<Vec<bool>> {
        let now = now_ms();
        let insert = format!(
            "INSERT INTO rule_decisions ({DECISION_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (event_id, rule) DO NOTHING"
        );
        self.write(|tx| {
            let mut written = Vec::with_capacity(decisions.len());
            for d in decisions {
                let n = tx.execute(&insert, params![
                    d.event_id,
                    d.rule,
                    d.decision,
                    d.detail,
                    d.run_id,
                    d.workflow,
                    d.input,
                    d.group_key,
                    now
                ])?;
                written.push(n > 0);
                if n == 0 || d.decision != "fired" {
                    continue;
                }
                if let Some(group) = &d.group_key {
                    tx.execute(
                        "INSERT INTO rule_throttle (rule, group_key, fired_at, event_id)
                         VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (rule, group_key) DO UPDATE
                         SET fired_at = excluded.fired_at, event_id = excluded.event_id",
                        params![d.rule, group, now, d.event_id],
                    )?;
                }
                if let Some(run) = &d.run_id {
                    adopt(tx, run, now)?;
                }
            }
            for id in decided {
                tx.execute(
                    "UPDATE trigger_events SET decided_at = ?2 WHERE id = ?1 AND decided_at IS NULL",
                    params![id, now],
                )?;
            }
            Ok(written)
        })
    }

    /// Turns a `fired` decision whose run could not be started into an `error`.
    pub fn fail_decision(&self, event_id: i64, rule: &str, detail: &str) -> anyhow::Result<()> {
        self.write(|tx| {
            let run: Option<Option<String>> = tx.query_opt(
                "SELECT run_id FROM rule_decisions WHERE event_id = ?1 AND rule = ?2",
                params![event_id, rule],
                |r| r.get(0),
            )?;
            tx.execute(
                "UPDATE rule_decisions SET decision = 'error', detail = ?3, run_id = NULL
             WHERE event_id = ?1 AND rule = ?2",
                params![event_id, rule, detail],
            )?;
            if let Some(Some(run)) = run {
                tx.execute("DELETE FROM service_runs WHERE run_id = ?1", params![run])?;
            }
            Ok(())
        })
    }

    /// `fired` decisions whose run does not exist: the server stopped between the decision and
    /// the run's start. Oldest first.
    pub fn unstarted_decisions(&self) -> anyhow::Result<Vec<DecisionRow>> {
        let sql = format!(
            "SELECT {DECISION_COLUMNS} FROM rule_decisions d
             WHERE decision = 'fired' AND run_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = d.run_id)
             ORDER BY event_id, rule"
        );
        self.conn(|conn| conn.query_map(&sql, params![], decision_row))
    }

    /// The event `id`.
    pub fn trigger_event(&self, id: i64) -> anyhow::Result<Option<EventRow>> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM trigger_events WHERE id = ?1");
        self.conn(|conn| conn.query_opt(&sql, params![id], event_row))
    }

    /// Events, newest first.
    pub fn trigger_events(&self, filter: &EventsFilter) -> anyhow::Result<Vec<EventRow>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM trigger_events e
             WHERE (CAST(?1 AS TEXT) IS NULL OR type = ?1)
               AND (CAST(?2 AS TEXT) IS NULL OR EXISTS
                    (SELECT 1 FROM rule_decisions d WHERE d.event_id = e.id AND d.rule = ?2))
               AND (CAST(?3 AS BIGINT) IS NULL OR id < ?3)
             ORDER BY id DESC LIMIT ?4"
        );
        self.conn(|conn| {
            conn.query_map(
                &sql,
                params![filter.kind, filter.rule, filter.before, filter.limit],
                event_row,
            )
        })
    }

    /// What every rule decided about event `id`, by rule name.
    pub fn decisions(&self, event_id: i64) -> anyhow::Result<Vec<DecisionRow>> {
        let sql = format!(
            "SELECT {DECISION_COLUMNS} FROM rule_decisions WHERE event_id = ?1 ORDER BY rule"
        );
        self.conn(|conn| conn.query_map(&sql, params![event_id], decision_row))
    }

    /// The decision that started run `run`, and its event.
    pub fn decision_of_run(&self, run: &str) -> anyhow::Result<Option<(DecisionRow, EventRow)>> {
        let decision_sql =
            format!("SELECT {DECISION_COLUMNS} FROM rule_decisions WHERE run_id = ?1");
        let event_sql = format!("SELECT {EVENT_COLUMNS} FROM trigger_events WHERE id = ?1");
        self.conn(|conn| {
            let Some(decision) = conn.query_opt(&decision_sql, params![run], decision_row)? else {
                return Ok(None);
            };
            let event = conn.query_opt(&event_sql, params![decision.event_id], event_row)?;
            Ok(event.map(|e| (decision, e)))
        })
    }

    /// The last slot the schedule of `rule` handled (Unix ms).
    pub fn schedule_slot(&self, rule: &str) -> anyhow::Result<Option<i64>> {
        self.conn(|conn| {
            conn.query_opt(
                "SELECT slot FROM schedule_slots WHERE rule = ?1",
                params![rule],
                |r| r.get(0),
            )
        })
    }

    /// Records that the schedule of `rule` handled every slot up to `slot` without an event
    /// (a new schedule, or slots skipped while the server was down).
    pub fn set_schedule_slot(&self, rule: &str, slot: i64) -> anyhow::Result<()> {
        self.write(|tx| write_slot(tx, rule, slot))
    }

    /// Root runs that finished and are not events yet, oldest first. The first call on a store
    /// drops the endings from before any server ran: those runs are history, not news.
    pub fn run_endings(&self, limit: i64) -> anyhow::Result<Vec<RunEnding>> {
        let started: Option<String> = self.conn(|conn| {
            conn.query_opt(
                "SELECT value FROM service_state WHERE key = ?1",
                params![RUN_ENDINGS_STARTED],
                |r| r.get(0),
            )
        })?;
        if started.is_none() {
            let since = now_ms().to_string();
            self.write(|tx| {
                tx.execute("DELETE FROM run_endings", params![])?;
                tx.execute(
                    "INSERT INTO service_state (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO NOTHING",
                    params![RUN_ENDINGS_STARTED, since],
                )
            })?;
        }
        let columns = RUN_COLUMNS
            .split(", ")
            .map(|c| format!("r.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT e.seq, {columns} FROM run_endings e JOIN runs r ON r.id = e.run_id
             ORDER BY e.seq LIMIT ?1"
        );
        self.conn(|conn| {
            conn.query_map(&sql, params![limit], |row| {
                let seq: i64 = row.get(0)?;
                let run = run_row_at(row, 1)?;
                Ok(RunEnding { seq, run })
            })
        })
    }

    /// Root runs the server should drive when it starts: running ones (whose driver is checked
    /// by the caller) and paused ones it drove before.
    pub fn runs_to_resume(&self) -> anyhow::Result<Vec<RunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs r
             WHERE parent_run IS NULL
               AND (status = 'running'
                    OR (status = 'paused'
                        AND EXISTS (SELECT 1 FROM service_runs s WHERE s.run_id = r.id)))
             ORDER BY created_at"
        );
        self.conn(|conn| conn.query_map(&sql, params![], run_row))
    }

    /// Removes the decided events received before `before` (Unix ms) with their decisions, at
    /// most `limit` of them (oldest first); how many. An undecided event stays: the server has
    /// not looked at it yet. A fired decision whose run has not started keeps its event too.
    pub fn prune_events(&self, before: i64, limit: i64) -> anyhow::Result<usize> {
        self.write(|tx| {
            let ids: Vec<i64> = tx.query_map(
                "SELECT id FROM trigger_events e
                 WHERE received_at < ?1 AND decided_at IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM rule_decisions d
                                   WHERE d.event_id = e.id AND d.decision = 'fired'
                                     AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = d.run_id))
                 ORDER BY id LIMIT ?2",
                params![before, limit],
                |r| r.get(0),
            )?;
            for id in &ids {
                tx.execute(
                    "DELETE FROM rule_decisions WHERE event_id = ?1",
                    params![id],
                )?;
                tx.execute("DELETE FROM trigger_events WHERE id = ?1", params![id])?;
            }
            Ok(ids.len())
        })
    }

    /// Records that the server drives `run` (so it resumes it after a restart).
    pub fn adopt_run(&self, run: &str) -> anyhow::Result<()> {
        let now = now_ms();
        self.write(|tx| adopt(tx, run, now))
    }
}

/// Marks `run` as driven by the server (resumed when it starts again).
fn adopt(tx: &mut dyn Sql, run: &str, now: i64) -> anyhow::Result<()> {
    tx.execute(
        "INSERT INTO service_runs (run_id, since) VALUES (?1, ?2)
         ON CONFLICT (run_id) DO NOTHING",
        params![run, now],
    )?;
    Ok(())
}

/// Records that `rule`'s schedule handled `slot`; a slot never goes back.
fn write_slot(tx: &mut dyn Sql, rule: &str, slot: i64) -> anyhow::Result<()> {
    tx.execute(
        "INSERT INTO schedule_slots (rule, slot, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (rule) DO UPDATE SET
             slot = CASE WHEN excluded.slot > schedule_slots.slot
                         THEN excluded.slot ELSE schedule_slots.slot END,
             updated_at = excluded.updated_at",
        params![rule, slot, now_ms()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(key: Option<&str>, mark: Option<Mark>) -> NewEvent {
        NewEvent {
            kind: "schedule".into(),
            name: "nightly".into(),
            received_at: 1,
            payload: "{}".into(),
            dedup_key: key.map(str::to_owned),
            mark,
        }
    }

    #[test]
    fn an_event_with_a_known_key_is_stored_once_and_its_mark_with_it() {
        crate::store::testing::each_backend(|store| {
            let slot = |s| {
                Some(Mark::ScheduleSlot {
                    rule: "nightly".into(),
                    slot: s,
                })
            };
            let first = store
                .store_events(&[
                    event(Some("schedule:nightly:100"), slot(100)),
                    event(None, None),
                ])
                .unwrap();
            assert!(matches!(first[..], [Stored::New(_), Stored::New(_)]));
            assert_eq!(store.schedule_slot("nightly").unwrap(), Some(100));
            let again = store
                .store_events(&[event(Some("schedule:nightly:100"), slot(100))])
                .unwrap();
            assert_eq!(again, vec![Stored::Duplicate]);
            // A slot never moves back.
            store.set_schedule_slot("nightly", 50).unwrap();
            assert_eq!(store.schedule_slot("nightly").unwrap(), Some(100));
            assert_eq!(store.undecided_events(0, 10).unwrap().len(), 2);
        });
    }

    #[test]
    fn a_decision_is_recorded_once_per_event_and_rule_with_its_throttle_window() {
        crate::store::testing::each_backend(|store| {
            let [Stored::New(id)] = store.store_events(&[event(None, None)]).unwrap()[..] else {
                panic!("stored")
            };
            let fired = NewDecision {
                event_id: id,
                rule: "r".into(),
                decision: "fired".into(),
                detail: "started".into(),
                run_id: Some("run1".into()),
                workflow: Some("wf".into()),
                input: Some("{}".into()),
                group_key: Some("[\"R1\"]".into()),
            };
            assert_eq!(
                store
                    .record_decisions(&[id], std::slice::from_ref(&fired))
                    .unwrap(),
                [true]
            );
            let mut other = fired.clone();
            other.run_id = Some("run2".into());
            assert_eq!(store.record_decisions(&[id], &[other]).unwrap(), [false]);
            let rows = store.decisions(id).unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].run_id.as_deref(), Some("run1"));
            assert!(store.last_fired("r", "[\"R1\"]").unwrap().is_some());
            assert!(store.undecided_events(0, 10).unwrap().is_empty());
            // run1 does not exist: the start is still owed.
            assert_eq!(store.unstarted_decisions().unwrap().len(), 1);
            store.fail_decision(id, "r", "no such workflow").unwrap();
            assert!(store.unstarted_decisions().unwrap().is_empty());
            assert_eq!(store.decisions(id).unwrap()[0].decision, "error");
        });
    }

    #[test]
    fn a_finished_root_run_becomes_one_ending_consumed_with_its_event() {
        crate::store::testing::each_backend(|store| {
            let run = |id: &str| RunRow {
                id: id.into(),
                workflow: "w".into(),
                source: "w.yaml".into(),
                definition: String::new(),
                workflows_dir: ".".into(),
                input: "{}".into(),
                status: "running".into(),
                reason: None,
                parent_run: None,
                parent_step: None,
                owner_host: None,
                owner_pid: None,
                lease_until: None,
                cancel_requested: false,
                created_at: 0,
                updated_at: 0,
                output: None,
                errors: None,
                started_by: None,
                lease_token: 0,
                placement: None,
            };
            let finish = |id: &str| {
                let batch = crate::store::JournalBatch {
                    status: Some(crate::store::StatusChange {
                        status: "succeeded".into(),
                        reason: None,
                        output: Some("{}".into()),
                        errors: None,
                    }),
                    ..Default::default()
                };
                store.commit_batch(id, &mut 1, &batch).unwrap();
            };
            store.insert_run(&run("old")).unwrap();
            finish("old");
            // The first look drops what ended before any server ran.
            assert!(store.run_endings(10).unwrap().is_empty());
            store.insert_run(&run("new")).unwrap();
            finish("new");
            let endings = store.run_endings(10).unwrap();
            assert_eq!(endings.len(), 1);
            assert_eq!(endings[0].run.id, "new");
            assert_eq!(endings[0].run.status, "succeeded");
            let mut e = event(Some("run:new"), None);
            e.mark = Some(Mark::RunEndings {
                upto: endings[0].seq,
            });
            store.store_events(&[e]).unwrap();
            assert!(store.run_endings(10).unwrap().is_empty());
        });
    }

    #[test]
    fn pruning_removes_old_decided_events_and_keeps_what_is_still_owed() {
        crate::store::testing::each_backend(|store| {
            let mut old = event(None, None);
            old.received_at = 10;
            let mut new = event(None, None);
            new.received_at = 1000;
            let ids: Vec<i64> = store
                .store_events(&[old.clone(), old.clone(), old, new])
                .unwrap()
                .into_iter()
                .map(|s| match s {
                    Stored::New(id) => id,
                    Stored::Duplicate => panic!("stored"),
                })
                .collect();
            // The first is decided; the second fired a run that has not started; the third is
            // undecided; the fourth is new.
            let decided = |id: i64, decision: &str, run: Option<&str>| NewDecision {
                event_id: id,
                rule: "r".into(),
                decision: decision.into(),
                detail: String::new(),
                run_id: run.map(str::to_owned),
                workflow: None,
                input: None,
                group_key: None,
            };
            store
                .record_decisions(
                    &[ids[0], ids[1], ids[3]],
                    &[
                        decided(ids[0], "throttled", None),
                        decided(ids[1], "fired", Some("owed")),
                    ],
                )
                .unwrap();
            assert_eq!(store.prune_events(5, 100).unwrap(), 0, "nothing that old");
            assert_eq!(store.prune_events(100, 100).unwrap(), 1);
            assert!(store.trigger_event(ids[0]).unwrap().is_none());
            assert!(store.decisions(ids[0]).unwrap().is_empty());
            for kept in &ids[1..] {
                assert!(store.trigger_event(*kept).unwrap().is_some());
            }
        });
    }
}
