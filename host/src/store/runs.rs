//! Workflow runs and their journal: runs (with the definition snapshot and the lease), events,
//! attempts, pack log lines, timers and answers to `core.ask`.
//!
//! The driver writes through [`JournalBatch`]: everything that became ready together (finished
//! attempts, the events they caused, new attempt starts, timers, the run's status) is committed
//! in one write transaction, so a fan-out pays one commit per batch instead of one per item.

use super::sql::{Dialect, Row, Sql, params};

use super::Store;

/// The statuses of a run that is over (`engine::RunState::is_finished`): its steps are never
/// retried again.
pub const FINISHED_RUN_STATUSES: [&str; 3] = ["succeeded", "failed", "canceled"];

/// `item` column value for an attempt that is not a fan-out item (NULL would defeat the key).
pub const NO_ITEM: i64 = -1;

/// One run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// Run id.
    pub id: String,
    /// Workflow name (file stem).
    pub workflow: String,
    /// Where the workflow was read from.
    pub source: String,
    /// The workflow text at start: a resume replays against it.
    pub definition: String,
    /// Where sub-workflows are looked up.
    pub workflows_dir: String,
    /// Input as a JSON object.
    pub input: String,
    /// `running`, `paused`, `waiting`, `needs_attention`, `succeeded`, `failed`, `canceled`.
    pub status: String,
    /// Why the run stopped without finishing, and what to do.
    pub reason: Option<String>,
    /// Parent run, for a sub-workflow.
    pub parent_run: Option<String>,
    /// The parent's step (`idempotency key@attempt`) this run carries out.
    pub parent_step: Option<String>,
    /// Host of the process driving the run.
    pub owner_host: Option<String>,
    /// Pid of the process driving the run.
    pub owner_pid: Option<i64>,
    /// Lease expiry (Unix ms).
    pub lease_until: Option<i64>,
    /// The fencing token of the lease: one more at every taking; the holder's journal writes
    /// carry it (`JournalBatch::fence`) and are refused once another process took the run.
    pub lease_token: i64,
    /// For a run meant for workers, the worker tags it needs (a JSON object, `{}` for any
    /// worker); `None` for a run the process that made it drives.
    pub placement: Option<String>,
    /// Someone asked to cancel while another process drove the run.
    pub cancel_requested: bool,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last changed (Unix ms).
    pub updated_at: i64,
    /// Rendered output (JSON), once finished.
    pub output: Option<String>,
    /// Errors (JSON array), once finished.
    pub errors: Option<String>,
    /// Who or what started it: `cli`, `api:TOKEN`, `console:TOKEN`, `rule:RULE event:ID (TYPE)`;
    /// none for a sub-workflow's run (its parent says) and runs from before it was recorded.
    pub started_by: Option<String>,
}

impl RunRow {
    /// The rendered output, parsed (none until the run finished with one).
    pub fn output_value(&self) -> Option<serde_json::Value> {
        self.output
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok())
    }

    /// The recorded errors, parsed (none when there are none).
    pub fn error_values(&self) -> Vec<serde_json::Value> {
        self.errors
            .as_deref()
            .and_then(|e| serde_json::from_str(e).ok())
            .unwrap_or_default()
    }
}

/// Which root runs a listing shows.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only runs in this status.
    pub status: Option<String>,
    /// Only runs of this workflow.
    pub workflow: Option<String>,
    /// Only runs older than this one (its creation time and id): the cursor of the next page.
    pub before: Option<(i64, String)>,
    /// At most this many.
    pub limit: i64,
}

/// One run in a listing: no definition, input, output or journal.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunSummary {
    /// Run id.
    pub id: String,
    /// Workflow name.
    pub workflow: String,
    /// Status.
    pub status: String,
    /// Why it stopped without finishing.
    pub reason: Option<String>,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last changed (Unix ms).
    pub updated_at: i64,
    /// Host of the process driving it.
    #[serde(skip)]
    pub owner_host: Option<String>,
    /// Pid of the process driving it.
    #[serde(skip)]
    pub owner_pid: Option<i64>,
    /// Lease expiry (Unix ms).
    #[serde(skip)]
    pub lease_until: Option<i64>,
    /// Who or what started it ([`RunRow::started_by`]).
    pub started_by: Option<String>,
}

/// One attempt of one action.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRow {
    /// Execution, `task#occurrence`.
    pub exec: String,
    /// Fan-out item, or [`NO_ITEM`].
    pub item: i64,
    /// Attempt number.
    pub attempt: i64,
    /// Task name.
    pub task: String,
    /// Action as written in the workflow.
    pub action: String,
    /// Input (JSON).
    pub input: String,
    /// Idempotency key passed to the action.
    pub idempotency_key: String,
    /// How many times it was started (more than 1 after an interrupted attempt was re-run).
    pub starts: i64,
    /// Last start (Unix ms).
    pub started_at: i64,
    /// Finish (Unix ms).
    pub finished_at: Option<i64>,
    /// The journaled event that finished it (JSON).
    pub outcome: Option<String>,
}

/// One pack log line of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRow {
    /// Increasing id, for following.
    pub id: i64,
    /// Execution.
    pub exec: String,
    /// Item or [`NO_ITEM`].
    pub item: i64,
    /// Attempt.
    pub attempt: i64,
    /// Level.
    pub level: String,
    /// Message.
    pub message: String,
    /// Structured fields (JSON).
    pub fields: Option<String>,
    /// When recorded (Unix ms).
    pub at: i64,
}

/// A log line to record with a finished attempt.
#[derive(Debug, Clone)]
pub struct NewLog {
    /// Level.
    pub level: String,
    /// Message.
    pub message: String,
    /// Structured fields (JSON).
    pub fields: Option<String>,
}

/// Identifies an attempt row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttemptId {
    /// Execution, `task#occurrence`.
    pub exec: String,
    /// Item or [`NO_ITEM`].
    pub item: i64,
    /// Attempt.
    pub attempt: i64,
}

/// A started attempt.
#[derive(Debug, Clone)]
pub struct NewAttempt {
    /// Which.
    pub id: AttemptId,
    /// Task name.
    pub task: String,
    /// Action.
    pub action: String,
    /// Input (JSON).
    pub input: String,
    /// Idempotency key.
    pub idempotency_key: String,
}

/// A finished attempt.
#[derive(Debug, Clone)]
pub struct FinishedAttempt {
    /// Which.
    pub id: AttemptId,
    /// The event that reports it (JSON).
    pub outcome: String,
    /// Its log lines.
    pub logs: Vec<NewLog>,
}

/// A change of a run's status.
#[derive(Debug, Clone)]
pub struct StatusChange {
    /// New status.
    pub status: String,
    /// Why, for a run that stopped without finishing.
    pub reason: Option<String>,
    /// Output (JSON).
    pub output: Option<String>,
    /// Errors (JSON).
    pub errors: Option<String>,
}

/// Everything the driver commits together.
#[derive(Debug, Default)]
pub struct JournalBatch {
    /// Attempts started (recorded before they are invoked).
    pub starts: Vec<NewAttempt>,
    /// Attempts finished.
    pub finishes: Vec<FinishedAttempt>,
    /// Machine events (JSON), in the order the machine accepted them.
    pub events: Vec<String>,
    /// Timers armed: key and due time (Unix ms).
    pub timers_armed: Vec<(String, i64)>,
    /// Timers that fired or were dropped.
    pub timers_done: Vec<String>,
    /// The run's new status.
    pub status: Option<StatusChange>,
    /// Clear the cancel request (it was turned into an event).
    pub clear_cancel: bool,
    /// The lease token the writer holds: nothing is written once the run's token moved on
    /// (another process took the run), the batch fails with [`LeaseLost`] instead.
    pub fence: Option<i64>,
}

impl JournalBatch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
            && self.finishes.is_empty()
            && self.events.is_empty()
            && self.timers_armed.is_empty()
            && self.timers_done.is_empty()
            && self.status.is_none()
            && !self.clear_cancel
    }
}

/// A journal write or lease renewal refused: another process took the run since this one's
/// lease was taken (its lease ran out while it stalled, or its host was thought gone).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "run {run} was taken over by another process (this one held lease {held}, the run is at \
     lease {now}): nothing more is written for it here"
)]
pub struct LeaseLost {
    /// Run id.
    pub run: String,
    /// The token this process held.
    pub held: i64,
    /// The run's token now.
    pub now: i64,
}

/// Who holds a live lease on a run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "run {run} is being driven by pid {pid} on {host} (lease until {until_ms} ms since epoch); \
     wait for it to finish or stop that process, then retry"
)]
pub struct LeaseHeld {
    /// Run id.
    pub run: String,
    /// Owner host.
    pub host: String,
    /// Owner pid.
    pub pid: i64,
    /// Lease expiry.
    pub until_ms: i64,
}

pub(super) const RUN_COLUMNS: &str = "id, workflow, source, definition, workflows_dir, input, status, reason, \
     parent_run, parent_step, owner_host, owner_pid, lease_until, cancel_requested, created_at, \
     updated_at, output, errors, started_by, lease_token, placement";

pub(super) fn run_row(row: &Row) -> anyhow::Result<RunRow> {
    run_row_at(row, 0)
}

/// A run whose [`RUN_COLUMNS`] start at column `offset` (after columns of a join).
pub(super) fn run_row_at(row: &Row, offset: usize) -> anyhow::Result<RunRow> {
    let at = |i: usize| offset + i;
    Ok(RunRow {
        id: row.get(at(0))?,
        workflow: row.get(at(1))?,
        source: row.get(at(2))?,
        definition: row.get(at(3))?,
        workflows_dir: row.get(at(4))?,
        input: row.get(at(5))?,
        status: row.get(at(6))?,
        reason: row.get(at(7))?,
        parent_run: row.get(at(8))?,
        parent_step: row.get(at(9))?,
        owner_host: row.get(at(10))?,
        owner_pid: row.get(at(11))?,
        lease_until: row.get(at(12))?,
        cancel_requested: row.get::<i64>(at(13))? != 0,
        created_at: row.get(at(14))?,
        updated_at: row.get(at(15))?,
        output: row.get(at(16))?,
        errors: row.get(at(17))?,
        started_by: row.get(at(18))?,
        lease_token: row.get(at(19))?,
        placement: row.get(at(20))?,
    })
}

fn log_row(r: &Row) -> anyhow::Result<LogRow> {
    Ok(LogRow {
        id: r.get(0)?,
        exec: r.get(1)?,
        item: r.get(2)?,
        attempt: r.get(3)?,
        level: r.get(4)?,
        message: r.get(5)?,
        fields: r.get(6)?,
        at: r.get(7)?,
    })
}

const ATTEMPT_COLUMNS: &str = "exec, item, attempt, task, action, input, idempotency_key, starts, \
     started_at, finished_at, outcome";

fn attempt_row(row: &Row) -> anyhow::Result<AttemptRow> {
    Ok(AttemptRow {
        exec: row.get(0)?,
        item: row.get(1)?,
        attempt: row.get(2)?,
        task: row.get(3)?,
        action: row.get(4)?,
        input: row.get(5)?,
        idempotency_key: row.get(6)?,
        starts: row.get(7)?,
        started_at: row.get(8)?,
        finished_at: row.get(9)?,
        outcome: row.get(10)?,
    })
}

/// The query of [`Store::run_page`] for `filter`'s shape (parameters: status, workflow,
/// cursor time, cursor id, limit).
fn run_page_sql(filter: &RunFilter, dialect: Dialect) -> String {
    // The filter that picks the index is written as an equality the index can seek to
    // (`(?1 IS NULL OR status = ?1)` cannot be used to seek). The casts tell PostgreSQL the
    // type of a parameter only ever compared with NULL.
    let (index, filters) = match (&filter.status, &filter.workflow) {
        (Some(_), _) => (
            "runs_listing_status",
            "status = ?1 AND (CAST(?2 AS TEXT) IS NULL OR workflow = ?2)",
        ),
        (None, Some(_)) => (
            "runs_listing_workflow",
            "workflow = ?2 AND CAST(?1 AS TEXT) IS NULL",
        ),
        (None, None) => (
            "runs_listing",
            "CAST(?1 AS TEXT) IS NULL AND CAST(?2 AS TEXT) IS NULL",
        ),
    };
    let runs = dialect.table_indexed_by("runs", index);
    let cursor = if filter.before.is_some() {
        "AND (created_at, id) < (?3, ?4)"
    } else {
        "AND CAST(?3 AS BIGINT) IS NULL AND CAST(?4 AS TEXT) IS NULL"
    };
    format!(
        "SELECT id, workflow, status, reason, created_at, updated_at, owner_host, owner_pid,
                lease_until, started_by
         FROM {runs}
         WHERE parent_run IS NULL AND {filters} {cursor}
         ORDER BY created_at DESC, id DESC
         LIMIT ?5"
    )
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

impl Store {
    /// Records a new run, leased to (`host`, `pid`) until `lease_until`.
    pub fn insert_run(&self, run: &RunRow) -> anyhow::Result<()> {
        let sql = format!(
            "INSERT INTO runs ({RUN_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
                     ?20, ?21)"
        );
        self.write(|tx| {
            tx.execute(
                &sql,
                params![
                    run.id,
                    run.workflow,
                    run.source,
                    run.definition,
                    run.workflows_dir,
                    run.input,
                    run.status,
                    run.reason,
                    run.parent_run,
                    run.parent_step,
                    run.owner_host,
                    run.owner_pid,
                    run.lease_until,
                    i64::from(run.cancel_requested),
                    run.created_at,
                    run.updated_at,
                    run.output,
                    run.errors,
                    run.started_by,
                    run.lease_token,
                    run.placement
                ],
            )?;
            Ok(())
        })
    }

    /// The run with this id, or with this unique id prefix.
    pub fn find_run(&self, id_or_prefix: &str) -> anyhow::Result<Vec<RunRow>> {
        let exact_sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1");
        let prefix_sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE id LIKE CAST(?1 AS TEXT) || '%'
             ORDER BY created_at LIMIT 10"
        );
        self.conn(|conn| {
            if let Some(run) = conn.query_opt(&exact_sql, params![id_or_prefix], run_row)? {
                return Ok(vec![run]);
            }
            let escaped = id_or_prefix.replace(['%', '_', '\\'], "");
            conn.query_map(&prefix_sql, params![escaped], run_row)
        })
    }

    /// The run with exactly this id.
    pub fn run(&self, id: &str) -> anyhow::Result<Option<RunRow>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1");
        self.conn(|conn| conn.query_opt(&sql, params![id], run_row))
    }

    /// Runs, newest first; top-level runs only unless `children`.
    pub fn runs(&self, children: bool, limit: i64) -> anyhow::Result<Vec<RunRow>> {
        let filter = if children {
            ""
        } else {
            "WHERE parent_run IS NULL"
        };
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs {filter} ORDER BY created_at DESC, id LIMIT ?1"
        );
        self.conn(|conn| conn.query_map(&sql, params![limit], run_row))
    }

    /// A page of root runs, newest first, matching `filter`: the listing of the API and the
    /// console. One range scan of the index in listing order that fits the filter (all, by
    /// status, by workflow), starting at the cursor: a page costs the same whatever the store
    /// holds. The index is named: SQLite would otherwise take `runs_by_parent` and sort every
    /// root run (36 ms over 100,000 runs, against 0.03 ms).
    pub fn run_page(&self, filter: &RunFilter) -> anyhow::Result<Vec<RunSummary>> {
        let (before_at, before_id) = match &filter.before {
            Some((at, id)) => (Some(*at), Some(id.as_str())),
            None => (None, None),
        };
        self.conn(|conn| {
            conn.query_map(
                &run_page_sql(filter, conn.dialect()),
                params![
                    filter.status,
                    filter.workflow,
                    before_at,
                    before_id,
                    filter.limit
                ],
                |r| {
                    Ok(RunSummary {
                        id: r.get(0)?,
                        workflow: r.get(1)?,
                        status: r.get(2)?,
                        reason: r.get(3)?,
                        created_at: r.get(4)?,
                        updated_at: r.get(5)?,
                        owner_host: r.get(6)?,
                        owner_pid: r.get(7)?,
                        lease_until: r.get(8)?,
                        started_by: r.get(9)?,
                    })
                },
            )
        })
    }

    /// How many runs (sub-workflow runs included) are in each status.
    pub fn runs_by_status(&self) -> anyhow::Result<Vec<(String, u64)>> {
        self.conn(|conn| {
            conn.query_map(
                "SELECT status, count(*) FROM runs GROUP BY status ORDER BY status",
                params![],
                |r| Ok((r.get(0)?, r.get::<u64>(1)?)),
            )
        })
    }

    /// Sub-workflow runs of `parent`, oldest first.
    pub fn child_runs(&self, parent: &str) -> anyhow::Result<Vec<RunRow>> {
        let sql =
            format!("SELECT {RUN_COLUMNS} FROM runs WHERE parent_run = ?1 ORDER BY created_at, id");
        self.conn(|conn| conn.query_map(&sql, params![parent], run_row))
    }

    /// The sub-workflow run carrying out `step` of `parent`, if one was created.
    pub fn child_run(&self, parent: &str, step: &str) -> anyhow::Result<Option<RunRow>> {
        let sql =
            format!("SELECT {RUN_COLUMNS} FROM runs WHERE parent_run = ?1 AND parent_step = ?2");
        self.conn(|conn| conn.query_opt(&sql, params![parent, step], run_row))
    }

    /// Takes the lease on `run` for (`host`, `pid`) until `until`, unless another owner holds a
    /// live one; returns the lease's fencing token: a new one when the run changes hands, the
    /// same one when this process takes it again (two requests to one server, such as two
    /// answers at once, must not fence each other's driver). `owner_dead` says whether a recorded
    /// owner is known to be gone (same host, no such process), which frees its lease before
    /// expiry.
    pub fn acquire_lease(
        &self,
        run: &str,
        host: &str,
        pid: i64,
        until: i64,
        owner_dead: impl Fn(&str, i64) -> bool,
    ) -> anyhow::Result<Result<i64, LeaseHeld>> {
        self.write(|tx| {
            let held: Option<(Option<String>, Option<i64>, Option<i64>)> = tx.query_opt(
                "SELECT owner_host, owner_pid, lease_until FROM runs WHERE id = ?1",
                params![run],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let Some(held) = held else {
                anyhow::bail!("no run {run} in the store");
            };
            if let (Some(h), Some(p), Some(u)) = held {
                let mine = h == host && p == pid;
                if !mine && u > now_ms() && !owner_dead(&h, p) {
                    return Ok(Err(LeaseHeld {
                        run: run.to_owned(),
                        host: h,
                        pid: p,
                        until_ms: u,
                    }));
                }
            }
            let token: i64 = tx.query_one(
                "UPDATE runs SET owner_host = ?2, owner_pid = ?3, lease_until = ?4,
                    lease_token = CASE WHEN owner_host = ?2 AND owner_pid = ?3
                                       THEN lease_token ELSE lease_token + 1 END
                 WHERE id = ?1 RETURNING lease_token",
                params![run, host, pid, until],
            )?;
            Ok(Ok(token))
        })
    }

    /// Extends the lease held by `pid` with fencing token `token`; returns whether a cancel was
    /// requested meanwhile. Fails with [`LeaseLost`] when another process took the run.
    pub fn renew_lease(&self, run: &str, pid: i64, token: i64, until: i64) -> anyhow::Result<bool> {
        self.write(|tx| {
            let (now, cancel): (i64, bool) = tx.query_row(
                "SELECT lease_token, cancel_requested FROM runs WHERE id = ?1",
                params![run],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if now != token {
                return Err(LeaseLost {
                    run: run.to_owned(),
                    held: token,
                    now,
                }
                .into());
            }
            tx.execute(
                "UPDATE runs SET lease_until = ?3 WHERE id = ?1 AND owner_pid = ?2",
                params![run, pid, until],
            )?;
            Ok(cancel)
        })
    }

    /// Gives up the lease (`host`, `pid`) holds on `run`, if it still holds it: whoever looks
    /// next finds the run's driver gone.
    pub fn release_lease(&self, run: &str, host: &str, pid: i64) -> anyhow::Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE runs SET lease_until = NULL
                 WHERE id = ?1 AND owner_host = ?2 AND owner_pid = ?3",
                params![run, host, pid],
            )
        })?;
        Ok(())
    }

    /// Asks the process driving `run` to cancel it.
    pub fn request_cancel(&self, run: &str) -> anyhow::Result<()> {
        let now = now_ms();
        self.write(|tx| {
            tx.execute(
                "UPDATE runs SET cancel_requested = 1, updated_at = ?2 WHERE id = ?1",
                params![run, now],
            )
        })?;
        Ok(())
    }

    /// Commits one batch of the driver's writes for `run`; events get sequence numbers from
    /// `next_seq`, which is advanced.
    pub fn commit_batch(
        &self,
        run: &str,
        next_seq: &mut i64,
        batch: &JournalBatch,
    ) -> anyhow::Result<()> {
        let now = now_ms();
        // The transaction may run more than once: it numbers from a copy, kept once committed.
        *next_seq = self.write(|tx| {
            let mut seq = *next_seq;
            write_batch(tx, run, &mut seq, batch, now)?;
            Ok(seq)
        })?;
        Ok(())
    }

    /// The journaled events of `run`, in order.
    pub fn events(&self, run: &str) -> anyhow::Result<Vec<String>> {
        self.conn(|conn| {
            conn.query_map(
                "SELECT event FROM events WHERE run_id = ?1 ORDER BY seq",
                params![run],
                |r| r.get(0),
            )
        })
    }

    /// Every attempt of `run`, by execution, item, attempt.
    pub fn attempts(&self, run: &str) -> anyhow::Result<Vec<AttemptRow>> {
        let sql = format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE run_id = ?1
             ORDER BY started_at, exec, item, attempt"
        );
        self.conn(|conn| conn.query_map(&sql, params![run], attempt_row))
    }

    /// Armed timers of `run`: key and due time.
    pub fn timers(&self, run: &str) -> anyhow::Result<Vec<(String, i64)>> {
        self.conn(|conn| {
            conn.query_map(
                "SELECT timer, due_at FROM timers WHERE run_id = ?1 ORDER BY timer",
                params![run],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }

    /// Pack log lines of `run` with an id above `after`, in order.
    pub fn logs(&self, run: &str, after: i64) -> anyhow::Result<Vec<LogRow>> {
        self.conn(|conn| {
            conn.query_map(
                "SELECT id, exec, item, attempt, level, message, fields, at FROM logs
                 WHERE run_id = ?1 AND id > ?2 ORDER BY id",
                params![run, after],
                log_row,
            )
        })
    }

    /// The latest `n` log lines of `run`, oldest first (what a page shows of a chatty run).
    pub fn latest_logs(&self, run: &str, n: usize) -> anyhow::Result<Vec<LogRow>> {
        let limit = i64::try_from(n).unwrap_or(i64::MAX);
        let mut rows: Vec<LogRow> = self.conn(|conn| {
            conn.query_map(
                "SELECT id, exec, item, attempt, level, message, fields, at FROM logs
                 WHERE run_id = ?1 ORDER BY id DESC LIMIT ?2",
                params![run, limit],
                log_row,
            )
        })?;
        rows.reverse();
        Ok(rows)
    }

    /// Records an answer for `step` of `run` (a `core.ask` idempotency key, or `task:NAME`
    /// for an answer given before the question was asked).
    pub fn put_answer(&self, run: &str, step: &str, answer: &str) -> anyhow::Result<()> {
        let now = now_ms();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO answers (run_id, step, answer, at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (run_id, step) DO UPDATE SET answer = excluded.answer, at = excluded.at",
                params![run, step, answer, now],
            )
        })?;
        Ok(())
    }

    /// The answer recorded for `step` of `run`.
    pub fn answer(&self, run: &str, step: &str) -> anyhow::Result<Option<String>> {
        self.conn(|conn| {
            conn.query_opt(
                "SELECT answer FROM answers WHERE run_id = ?1 AND step = ?2",
                params![run, step],
                |r| r.get(0),
            )
        })
    }

    /// Bytes the journal holds for `run` (events, attempts, logs), for the benchmark's
    /// journal-size figure.
    pub fn journal_bytes(&self, run: &str) -> anyhow::Result<i64> {
        // Sums are cast: PostgreSQL sums BIGINTs as NUMERIC.
        self.conn(|conn| {
            let events: i64 = conn.query_one(
                "SELECT CAST(coalesce(sum(length(event)) + 16 * count(*), 0) AS BIGINT)
                 FROM events WHERE run_id = ?1",
                params![run],
            )?;
            let attempts: i64 = conn.query_one(
                "SELECT CAST(coalesce(sum(length(exec) + length(task) + length(action)
                        + length(input) + length(idempotency_key)
                        + coalesce(length(outcome), 0) + 40), 0) AS BIGINT)
                 FROM attempts WHERE run_id = ?1",
                params![run],
            )?;
            let logs: i64 = conn.query_one(
                "SELECT CAST(coalesce(sum(length(message) + coalesce(length(fields), 0) + 40), 0)
                        AS BIGINT)
                 FROM logs WHERE run_id = ?1",
                params![run],
            )?;
            Ok(events + attempts + logs)
        })
    }
}

fn write_batch(
    tx: &mut dyn Sql,
    run: &str,
    next_seq: &mut i64,
    batch: &JournalBatch,
    now: i64,
) -> anyhow::Result<()> {
    if let Some(held) = batch.fence {
        // Read inside the write transaction: a taking of the lease by another process either
        // committed before (seen here) or conflicts with this transaction.
        let token: i64 =
            tx.query_one("SELECT lease_token FROM runs WHERE id = ?1", params![run])?;
        if token != held {
            return Err(LeaseLost {
                run: run.to_owned(),
                held,
                now: token,
            }
            .into());
        }
    }
    for a in &batch.starts {
        tx.execute(
            "INSERT INTO attempts (run_id, exec, item, attempt, task, action, input,
                                   idempotency_key, starts, started_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9)
             ON CONFLICT (run_id, exec, item, attempt) DO UPDATE SET
                starts = attempts.starts + 1, started_at = excluded.started_at",
            params![
                run,
                a.id.exec,
                a.id.item,
                a.id.attempt,
                a.task,
                a.action,
                a.input,
                a.idempotency_key,
                now
            ],
        )?;
    }
    for f in &batch.finishes {
        tx.execute(
            "UPDATE attempts SET finished_at = ?5, outcome = ?6
             WHERE run_id = ?1 AND exec = ?2 AND item = ?3 AND attempt = ?4",
            params![run, f.id.exec, f.id.item, f.id.attempt, now, f.outcome],
        )?;
        for l in &f.logs {
            tx.execute(
                "INSERT INTO logs (run_id, exec, item, attempt, level, message, fields, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    run,
                    f.id.exec,
                    f.id.item,
                    f.id.attempt,
                    l.level,
                    l.message,
                    l.fields,
                    now
                ],
            )?;
        }
    }
    for e in &batch.events {
        tx.execute(
            "INSERT INTO events (run_id, seq, event, at) VALUES (?1, ?2, ?3, ?4)",
            params![run, *next_seq, e, now],
        )?;
        *next_seq += 1;
    }
    for (t, due) in &batch.timers_armed {
        tx.execute(
            "INSERT INTO timers (run_id, timer, due_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (run_id, timer) DO UPDATE SET due_at = excluded.due_at",
            params![run, t, due],
        )?;
    }
    for t in &batch.timers_done {
        tx.execute(
            "DELETE FROM timers WHERE run_id = ?1 AND timer = ?2",
            params![run, t],
        )?;
    }
    if let Some(s) = &batch.status {
        tx.execute(
            "UPDATE runs SET status = ?2, reason = ?3, output = coalesce(?4, output),
                             errors = coalesce(?5, errors), updated_at = ?6
             WHERE id = ?1",
            params![run, s.status, s.reason, s.output, s.errors, now],
        )?;
    }
    if batch.clear_cancel {
        tx.execute(
            "UPDATE runs SET cancel_requested = 0 WHERE id = ?1",
            params![run],
        )?;
    }
    Ok(())
}

impl Store {
    /// The sequence number the next event of `run` gets.
    pub fn next_seq(&self, run: &str) -> anyhow::Result<i64> {
        self.conn(|conn| {
            conn.query_one(
                "SELECT coalesce(max(seq), 0) + 1 FROM events WHERE run_id = ?1",
                params![run],
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str) -> RunRow {
        RunRow {
            id: id.into(),
            workflow: "wf".into(),
            source: "wf.yaml".into(),
            definition: "version: 1".into(),
            workflows_dir: ".".into(),
            input: "{}".into(),
            status: "running".into(),
            reason: None,
            parent_run: None,
            parent_step: None,
            owner_host: Some("h".into()),
            owner_pid: Some(1),
            lease_until: Some(now_ms() + 60_000),
            cancel_requested: false,
            created_at: now_ms(),
            updated_at: now_ms(),
            output: None,
            errors: None,
            started_by: None,
            lease_token: 0,
            placement: None,
        }
    }

    #[test]
    fn every_shape_of_run_listing_seeks_its_index_and_never_sorts() {
        let store = Store::in_memory().unwrap();
        let conn = store.sqlite();
        for status in [None, Some("failed".to_owned())] {
            for workflow in [None, Some("wf".to_owned())] {
                for before in [None, Some((1, "r".to_owned()))] {
                    let filter = RunFilter {
                        status: status.clone(),
                        workflow: workflow.clone(),
                        before,
                        limit: 50,
                    };
                    let sql = format!(
                        "EXPLAIN QUERY PLAN {}",
                        run_page_sql(&filter, Dialect::Sqlite)
                    );
                    let mut stmt = conn.prepare(&sql).unwrap();
                    let plan: Vec<String> = stmt
                        .query_map(rusqlite::params![status, workflow, 1, "r", 50], |r| {
                            r.get(3)
                        })
                        .unwrap()
                        .collect::<Result<_, _>>()
                        .unwrap();
                    let plan = plan.join("; ");
                    assert!(!plan.contains("TEMP B-TREE"), "{filter:?}: {plan}");
                    if filter.status.is_some()
                        || filter.workflow.is_some()
                        || filter.before.is_some()
                    {
                        assert!(plan.starts_with("SEARCH"), "{filter:?}: {plan}");
                    }
                }
            }
        }
    }

    #[test]
    fn refuses_a_live_lease_held_by_another_process_unless_it_is_dead() {
        crate::store::testing::each_backend(|store| {
            store.insert_run(&run("r1")).unwrap();
            let held = store
                .acquire_lease("r1", "h", 2, now_ms() + 1000, |_, _| false)
                .unwrap()
                .unwrap_err();
            assert_eq!(held.pid, 1);
            assert!(held.to_string().contains("pid 1"), "{held}");
            store
                .acquire_lease("r1", "h", 2, now_ms() + 1000, |_, pid| pid == 1)
                .unwrap()
                .unwrap();
            // Pid 2 of another host holds nothing here.
            store.release_lease("r1", "elsewhere", 2).unwrap();
            assert!(
                store
                    .acquire_lease("r1", "h", 3, now_ms() + 1000, |_, _| false)
                    .unwrap()
                    .is_err()
            );
            store.release_lease("r1", "h", 2).unwrap();
            store
                .acquire_lease("r1", "h", 3, now_ms() + 1000, |_, _| false)
                .unwrap()
                .unwrap();
        });
    }

    #[test]
    fn a_process_that_lost_its_lease_writes_nothing_more_to_the_run() {
        crate::store::testing::each_backend(|store| {
            store.insert_run(&run("r1")).unwrap();
            let until = now_ms() + 60_000;
            let first = store
                .acquire_lease("r1", "h", 2, until, |_, _| true)
                .unwrap()
                .unwrap();
            // Another process takes the run (the first looked gone): the token moves on.
            let second = store
                .acquire_lease("r1", "h", 3, until, |_, _| true)
                .unwrap()
                .unwrap();
            assert_eq!(second, first + 1);
            let mut seq = store.next_seq("r1").unwrap();
            let late = JournalBatch {
                events: vec!["late".into()],
                fence: Some(first),
                ..JournalBatch::default()
            };
            let err = store.commit_batch("r1", &mut seq, &late).unwrap_err();
            assert!(err.downcast_ref::<LeaseLost>().is_some(), "{err:#}");
            assert_eq!(seq, 1, "a refused batch numbers nothing");
            let renewal = store.renew_lease("r1", 2, first, until).unwrap_err();
            assert!(renewal.downcast_ref::<LeaseLost>().is_some(), "{renewal:#}");
            let mine = JournalBatch {
                events: vec!["mine".into()],
                fence: Some(second),
                ..JournalBatch::default()
            };
            store.commit_batch("r1", &mut seq, &mine).unwrap();
            assert_eq!(store.events("r1").unwrap(), vec!["mine"]);
            assert!(!store.renew_lease("r1", 3, second, until).unwrap());
        });
    }

    #[test]
    fn a_batch_numbers_events_and_finishes_attempts_with_their_logs() {
        crate::store::testing::each_backend(|store| {
            store.insert_run(&run("r1")).unwrap();
            let id = AttemptId {
                exec: "a#1".into(),
                item: NO_ITEM,
                attempt: 1,
            };
            let mut seq = store.next_seq("r1").unwrap();
            let start = JournalBatch {
                starts: vec![NewAttempt {
                    id: id.clone(),
                    task: "a".into(),
                    action: "core.noop".into(),
                    input: "{}".into(),
                    idempotency_key: "r1:a#1".into(),
                }],
                ..JournalBatch::default()
            };
            store.commit_batch("r1", &mut seq, &start).unwrap();
            store.commit_batch("r1", &mut seq, &start).unwrap();
            let finish = JournalBatch {
                finishes: vec![FinishedAttempt {
                    id,
                    outcome: "{\"event\":\"x\"}".into(),
                    logs: vec![NewLog {
                        level: "info".into(),
                        message: "hi".into(),
                        fields: None,
                    }],
                }],
                events: vec!["e1".into(), "e2".into()],
                ..JournalBatch::default()
            };
            store.commit_batch("r1", &mut seq, &finish).unwrap();
            assert_eq!(seq, 3);
            assert_eq!(store.events("r1").unwrap(), vec!["e1", "e2"]);
            let attempts = store.attempts("r1").unwrap();
            assert_eq!(attempts.len(), 1);
            assert_eq!(attempts[0].starts, 2);
            assert!(attempts[0].finished_at.is_some());
            assert_eq!(store.logs("r1", 0).unwrap()[0].message, "hi");
        });
    }
}
