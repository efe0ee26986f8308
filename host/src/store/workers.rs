//! The work queue shared by `orch worker` processes: queued runs claimed in batches (`FOR UPDATE
//! SKIP LOCKED` on PostgreSQL), runs whose driver is gone found for another worker to resume,
//! and the workers themselves (who, where, their tags, their last heartbeat, whether asked to
//! drain), for `orch workers list`.
//!
//! A claim takes a run's lease as `acquire_lease` does: owner, expiry and a new fencing token
//! (`runs.lease_token`, one more at every taking), which every journal write of the holder
//! checks (`JournalBatch::fence`); a worker that lost its lease (it stalled past expiry and
//! another took the run) can then write nothing more to that run.

use std::collections::BTreeMap;

use super::runs::{RUN_COLUMNS, run_row};
use super::sql::{Dialect, params};
use super::{RunRow, Store};

/// A worker process, as it registered and last reported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WorkerRow {
    /// Unique id, `HOST:PID:START` (a pid reused later is another worker).
    pub id: String,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: i64,
    /// Its tags (`site=lon`), matched against runs' placement.
    pub tags: BTreeMap<String, String>,
    /// Runs it drives at once at most.
    pub concurrency: i64,
    /// When it started (Unix ms).
    pub started_at: i64,
    /// Its last heartbeat (Unix ms).
    pub heartbeat_at: i64,
    /// Whether it was asked to stop taking work (SIGTERM): it finishes or hands back what it
    /// holds.
    pub draining: bool,
    /// Root runs whose lease it holds now.
    pub runs_held: i64,
}

/// A worker silent this long (no heartbeat; it writes one every 2 s) is taken for gone: killed,
/// or cut off from the database.
pub const WORKER_SILENT_AFTER_MS: i64 = 10_000;

impl WorkerRow {
    /// Whether it takes work at `now` (Unix ms): it reported lately and is not draining.
    pub fn takes_work(&self, now: i64) -> bool {
        !self.draining && now - self.heartbeat_at < WORKER_SILENT_AFTER_MS
    }
}

/// Whether a run placed at `placement` (a JSON object of tags, `None` or `{}`: anywhere) may
/// run on a worker with `tags`. A placement that does not read is nowhere.
pub fn placed_here(placement: Option<&str>, tags: &BTreeMap<String, String>) -> bool {
    let Some(placement) = placement else {
        return true;
    };
    match serde_json::from_str::<BTreeMap<String, String>>(placement) {
        Ok(wanted) => wanted.iter().all(|(k, v)| tags.get(k) == Some(v)),
        Err(_) => false,
    }
}

/// The channel PostgreSQL notifies workers on when runs are queued.
pub const QUEUED_CHANNEL: &str = "orch_runs_queued";

impl Store {
    /// Records (or records again, after a restart under the same id) a worker.
    pub fn register_worker(&self, worker: &WorkerRow) -> anyhow::Result<()> {
        let tags = serde_json::to_string(&worker.tags)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO workers (id, host, pid, tags, concurrency, started_at, heartbeat_at,
                                      draining)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)
                 ON CONFLICT (id) DO UPDATE SET tags = excluded.tags,
                    concurrency = excluded.concurrency, heartbeat_at = excluded.heartbeat_at,
                    draining = 0",
                params![
                    worker.id,
                    worker.host,
                    worker.pid,
                    tags,
                    worker.concurrency,
                    worker.started_at,
                    worker.heartbeat_at
                ],
            )
        })?;
        Ok(())
    }

    /// Notes that worker `id` is alive at `now`, and whether it is draining.
    pub fn worker_heartbeat(&self, id: &str, draining: bool, now: i64) -> anyhow::Result<()> {
        self.conn(|conn| {
            conn.execute(
                "UPDATE workers SET heartbeat_at = ?2, draining = ?3 WHERE id = ?1",
                params![id, now, draining],
            )
        })?;
        Ok(())
    }

    /// Forgets worker `id` (it stopped).
    pub fn remove_worker(&self, id: &str) -> anyhow::Result<()> {
        self.conn(|conn| conn.execute("DELETE FROM workers WHERE id = ?1", params![id]))?;
        Ok(())
    }

    /// Every registered worker with the root runs it holds, by id.
    pub fn workers(&self, now: i64) -> anyhow::Result<Vec<WorkerRow>> {
        self.conn(|conn| {
            conn.query_map(
                "SELECT w.id, w.host, w.pid, w.tags, w.concurrency, w.started_at, w.heartbeat_at,
                        w.draining,
                        (SELECT count(*) FROM runs r
                         WHERE r.parent_run IS NULL AND r.owner_host = w.host
                           AND r.owner_pid = w.pid AND r.lease_until > ?1)
                 FROM workers w ORDER BY w.id",
                params![now],
                |r| {
                    Ok(WorkerRow {
                        id: r.get(0)?,
                        host: r.get(1)?,
                        pid: r.get(2)?,
                        tags: r.json(3)?,
                        concurrency: r.get(4)?,
                        started_at: r.get(5)?,
                        heartbeat_at: r.get(6)?,
                        draining: r.get(7)?,
                        runs_held: r.get(8)?,
                    })
                },
            )
        })
    }

    /// Takes up to `limit` queued runs whose placement `tags` satisfy (every tag a run needs,
    /// with its value), oldest first, for (`host`, `pid`) until `until`: each becomes `running`
    /// with a new fencing token. Two workers claiming at once get different runs (PostgreSQL
    /// skips the rows another claim has locked; SQLite has one writer).
    pub fn claim_queued(
        &self,
        host: &str,
        pid: i64,
        tags: &BTreeMap<String, String>,
        limit: i64,
        until: i64,
    ) -> anyhow::Result<Vec<RunRow>> {
        let claim = format!(
            "UPDATE runs SET owner_host = ?2, owner_pid = ?3, lease_until = ?4,
                lease_token = lease_token + 1, status = 'running', reason = NULL
             WHERE id = ?1 AND status = 'queued' RETURNING {RUN_COLUMNS}"
        );
        // Runs placed elsewhere are looked at and left: look at more than are wanted.
        let window = limit.saturating_mul(8).clamp(1, 512);
        self.write(|tx| {
            let skip_locked = match tx.dialect() {
                Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
                Dialect::Sqlite => "",
            };
            let candidates: Vec<(String, Option<String>)> = tx.query_map(
                &format!(
                    "SELECT id, placement FROM runs WHERE status = 'queued'
                     ORDER BY created_at, id LIMIT ?1 {skip_locked}"
                ),
                params![window],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let mut claimed = Vec::new();
            for (id, placement) in candidates {
                if i64::try_from(claimed.len()).unwrap_or(i64::MAX) >= limit {
                    break;
                }
                if !placed_here(placement.as_deref(), tags) {
                    continue;
                }
                if let Some(run) = tx.query_opt(&claim, params![id, host, pid, until], run_row)? {
                    claimed.push(run);
                }
            }
            Ok(claimed)
        })
    }

    /// Gives back run `run`, which process `pid` paused when it was stopped: it becomes a
    /// running run without a driver, which the next worker to look takes and resumes. False
    /// when the run is no longer paused by `pid` (someone resumed it meanwhile).
    pub fn hand_back(&self, run: &str, pid: i64) -> anyhow::Result<bool> {
        let changed = self.write(|tx| {
            tx.execute(
                "UPDATE runs SET status = 'running', lease_until = NULL
                 WHERE id = ?1 AND status = 'paused' AND owner_pid = ?2",
                params![run, pid],
            )
        })?;
        if changed > 0 {
            self.notify_queued()?;
        }
        Ok(changed > 0)
    }

    /// Runs a worker may take over once their driver is gone: `running` root runs, and
    /// sub-workflow runs handed out to the workers, that `tags` satisfy. The caller keeps those
    /// whose holder is gone and takes them with `acquire_lease`. (A sub-workflow run its
    /// parent's process drives itself goes on with that parent.)
    pub fn running_shared(&self, tags: &BTreeMap<String, String>) -> anyhow::Result<Vec<RunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs
             WHERE status = 'running' AND (parent_run IS NULL OR placement IS NOT NULL)
             ORDER BY created_at, id"
        );
        let runs = self.conn(|conn| conn.query_map(&sql, params![], run_row))?;
        Ok(runs
            .into_iter()
            .filter(|r| placed_here(r.placement.as_deref(), tags))
            .collect())
    }

    /// Hands a sub-workflow run the workers drive back to them after it stopped (it waited for
    /// an answer given since, or was paused): it becomes a running run without a driver, which
    /// the next worker to look resumes.
    pub fn hand_back_stopped(&self, run: &str) -> anyhow::Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE runs SET status = 'running', lease_until = NULL,
                    owner_pid = coalesce(owner_pid, 0)
                 WHERE id = ?1 AND status IN ('waiting', 'paused')",
                params![run],
            )
        })?;
        self.notify_queued()
    }

    /// Wakes the workers waiting for queued runs (PostgreSQL's NOTIFY, once per call however many
    /// runs were queued: a notification per row would serialise every commit); nothing on
    /// SQLite, whose workers poll.
    pub fn notify_queued(&self) -> anyhow::Result<()> {
        self.conn(|conn| {
            if conn.dialect() == Dialect::Postgres {
                conn.execute(
                    "SELECT pg_notify(CAST(?1 AS TEXT), '')",
                    params![QUEUED_CHANNEL],
                )?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::store::{RunRow, now_ms};

    fn queued(id: &str, created_at: i64, parent: Option<&str>) -> RunRow {
        RunRow {
            id: id.into(),
            workflow: "wf".into(),
            source: "wf.yaml".into(),
            definition: "version: 1".into(),
            workflows_dir: ".".into(),
            input: "{}".into(),
            status: "queued".into(),
            reason: None,
            parent_run: parent.map(str::to_owned),
            parent_step: parent.map(|_| "step".to_owned()),
            owner_host: None,
            owner_pid: None,
            lease_until: None,
            lease_token: 0,
            placement: None,
            cancel_requested: false,
            created_at,
            updated_at: created_at,
            output: None,
            errors: None,
            started_by: None,
        }
    }

    #[test]
    fn claims_take_each_queued_run_once_oldest_first_where_it_is_placed() {
        crate::store::testing::each_backend(|store| {
            let t = now_ms();
            for (i, id) in ["a", "b", "c"].iter().enumerate() {
                store
                    .insert_run(&queued(id, t + i64::try_from(i).unwrap(), None))
                    .unwrap();
            }
            let mut child = queued("child", t, Some("a"));
            child.placement = Some(r#"{"site":"par"}"#.into());
            store.insert_run(&child).unwrap();
            let until = t + 60_000;
            let lon: BTreeMap<String, String> = [("site".to_owned(), "lon".to_owned())].into();
            let first = store.claim_queued("h", 1, &lon, 2, until).unwrap();
            let ids: Vec<&str> = first.iter().map(|r| r.id.as_str()).collect();
            assert_eq!(ids, ["a", "b"], "the child placed at site=par is left");
            assert!(
                first
                    .iter()
                    .all(|r| r.status == "running" && r.owner_pid == Some(1) && r.lease_token == 1)
            );
            let second = store.claim_queued("h", 2, &lon, 5, until).unwrap();
            let ids: Vec<&str> = second.iter().map(|r| r.id.as_str()).collect();
            assert_eq!(ids, ["c"]);
            let par: BTreeMap<String, String> = [
                ("site".to_owned(), "par".to_owned()),
                ("zone".to_owned(), "dmz".to_owned()),
            ]
            .into();
            let third = store.claim_queued("h", 3, &par, 5, until).unwrap();
            let ids: Vec<&str> = third.iter().map(|r| r.id.as_str()).collect();
            assert_eq!(ids, ["child"]);
            assert!(
                store
                    .claim_queued("h", 4, &par, 5, until)
                    .unwrap()
                    .is_empty()
            );
        });
    }

    #[test]
    fn a_placement_is_satisfied_by_every_tag_it_names() {
        let tags: BTreeMap<String, String> = [
            ("site".to_owned(), "lon".to_owned()),
            ("zone".to_owned(), "dmz".to_owned()),
        ]
        .into();
        assert!(super::placed_here(None, &tags));
        assert!(super::placed_here(Some("{}"), &BTreeMap::new()));
        assert!(super::placed_here(Some(r#"{"site":"lon"}"#), &tags));
        assert!(!super::placed_here(Some(r#"{"site":"par"}"#), &tags));
        assert!(!super::placed_here(
            Some(r#"{"site":"lon","rack":"4"}"#),
            &tags
        ));
        assert!(!super::placed_here(Some("not json"), &tags));
    }

    #[test]
    fn workers_are_listed_with_their_tags_and_the_runs_they_hold() {
        crate::store::testing::each_backend(|store| {
            let t = now_ms();
            let worker = super::WorkerRow {
                id: "h:7:1".into(),
                host: "h".into(),
                pid: 7,
                tags: [("site".to_owned(), "lon".to_owned())].into(),
                concurrency: 4,
                started_at: t,
                heartbeat_at: t,
                draining: false,
                runs_held: 0,
            };
            store.register_worker(&worker).unwrap();
            store.insert_run(&queued("a", t, None)).unwrap();
            store
                .claim_queued("h", 7, &BTreeMap::new(), 1, t + 60_000)
                .unwrap();
            store.worker_heartbeat("h:7:1", true, t + 5).unwrap();
            let listed = store.workers(t + 10).unwrap();
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0].tags, worker.tags);
            assert_eq!((listed[0].runs_held, listed[0].draining), (1, true));
            assert_eq!(listed[0].heartbeat_at, t + 5);
            store.remove_worker("h:7:1").unwrap();
            assert!(store.workers(t).unwrap().is_empty());
        });
    }
}
