//! The PostgreSQL backend: a pool of tokio-postgres connections (deadpool-postgres), migrated at
//! connect, behind the same synchronous [`Sql`] interface as SQLite.
//!
//! The connections' I/O runs on a small runtime of its own, so the store's callers stay
//! synchronous, as they are with SQLite: a call blocks its thread for a round trip the way an
//! SQLite commit blocks for its fsync. Statements are awaited with `futures`' executor on the
//! calling thread, which is allowed inside another tokio runtime (tokio's `block_on` is not),
//! outside tokio's cooperative budget (see [`block_on`]).
//!
//! Write transactions are SERIALIZABLE and retried when PostgreSQL reports a serialization
//! failure or a deadlock: the store's read-then-write transactions (the next catalog version,
//! a lease, an event's sequence number) then behave as under SQLite's single writer, whatever
//! other processes do at the same time.

use std::time::Duration;

use anyhow::Context as _;
use bytes::BytesMut;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{IsolationLevel, NoTls};

use super::postgres_schema::MIGRATIONS;
use super::sql::{Dialect, Row, Sql, ToValue, Value};

/// Connections kept open per process: the engine's driver, the service's loops and the API's
/// requests each hold one only for a statement or a transaction.
const POOL_SIZE: usize = 16;

/// How long a write transaction keeps being run again after serialization failures. Many
/// drivers writing at once (a worker driving 64 runs) can make one transaction lose a few times
/// in a row; it gives up only when the database stays that busy this long.
const WRITE_RETRY_FOR: Duration = Duration::from_secs(10);
/// The longest pause between two tries.
const WRITE_BACKOFF_MAX: Duration = Duration::from_millis(50);

/// The key of the advisory lock that serialises migrations between processes starting at once.
const MIGRATION_LOCK: i64 = 0x6f72_6368_6d69_6772; // "orchmigr"

/// A PostgreSQL database.
pub struct Postgres {
    pool: Pool,
    /// For connections outside the pool (a worker's LISTEN).
    config: tokio_postgres::Config,
    /// Drives the connections; shut down without blocking on drop (a drop may happen on an
    /// async thread, where a blocking shutdown panics).
    runtime: Option<tokio::runtime::Runtime>,
    /// The URL without its password, for messages.
    shown: String,
}

impl Postgres {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`) and
    /// migrates it to the latest schema.
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        let shown = redact(url);
        let config: tokio_postgres::Config = url
            .parse()
            .with_context(|| format!("reading the database URL {shown}"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("orch-postgres")
            .enable_all()
            .build()
            .context("starting the PostgreSQL runtime")?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _entered = runtime.enter();
            Pool::builder(manager)
                .max_size(POOL_SIZE)
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .create_timeout(Some(Duration::from_secs(10)))
                .wait_timeout(Some(Duration::from_secs(60)))
                .build()
                .context("building the PostgreSQL pool")?
        };
        let db = Self {
            pool,
            config,
            runtime: Some(runtime),
            shown,
        };
        db.migrate()
            .with_context(|| format!("migrating the store at {}", db.shown))?;
        Ok(db)
    }

    /// The URL, without its password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    fn client(&self) -> anyhow::Result<deadpool_postgres::Object> {
        let runtime = self.runtime.as_ref().context("the store is closed")?;
        // Creating a connection spawns its I/O task: on our runtime.
        let _entered = runtime.enter();
        block_on(self.pool.get()).with_context(|| format!("connecting to {}", self.shown))
    }

    /// Runs `f` on a connection, each statement in its own transaction.
    pub fn conn<T>(&self, f: impl FnOnce(&mut dyn Sql) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let client = self.client()?;
        f(&mut PostgresSql { client: &client })
    }

    /// Runs `f` in a SERIALIZABLE transaction, committed when `f` returns `Ok`; run again (for up
    /// to [`WRITE_RETRY_FOR`]) when PostgreSQL could not serialise it with another.
    pub fn write<T>(
        &self,
        mut f: impl FnMut(&mut dyn Sql) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let mut client = self.client()?;
        let started = std::time::Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result = (|| {
                let tx = block_on(
                    client
                        .build_transaction()
                        .isolation_level(IsolationLevel::Serializable)
                        .start(),
                )
                .map_err(said)?;
                let value = f(&mut PostgresSql { client: &tx })?;
                block_on(tx.commit()).map_err(said)?;
                Ok(value)
            })();
            match result {
                Err(err) if is_conflict(&err) && started.elapsed() < WRITE_RETRY_FOR => {
                    std::thread::sleep(backoff(attempt));
                }
                other => return other,
            }
        }
    }

    /// Listens on `channel` over a connection of its own: every notification (or burst of them)
    /// becomes one message on the receiver, which holds at most one (a waiting worker needs one
    /// wake-up, not one per row). Listening stops when the receiver is dropped.
    pub fn listen(&self, channel: &str) -> anyhow::Result<tokio::sync::mpsc::Receiver<()>> {
        use futures::StreamExt as _;
        let runtime = self.runtime.as_ref().context("the store is closed")?;
        let (client, mut connection) = {
            let _entered = runtime.enter();
            block_on(self.config.connect(NoTls))
                .map_err(said)
                .with_context(|| format!("connecting to {} to listen", self.shown))?
        };
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let forward = tx.clone();
        runtime.spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(tokio_postgres::AsyncMessage::Notification(_)) => {
                        // Full means a wake-up is already waiting: this one adds nothing.
                        let _ = forward.try_send(());
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!("the store's notification connection ended: {err}");
                        break;
                    }
                }
            }
        });
        block_on(client.batch_execute(&format!("LISTEN {channel}"))).map_err(said)?;
        // The client keeps the connection open until nobody listens.
        runtime.spawn(async move {
            tx.closed().await;
            drop(client);
        });
        Ok(rx)
    }

    fn migrate(&self) -> anyhow::Result<()> {
        let mut client = self.client()?;
        let tx = block_on(client.transaction())?;
        // Two processes starting at once: the second waits here, then finds nothing to do.
        block_on(tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]))?;
        block_on(tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS orch_schema_migrations (
                version    BIGINT PRIMARY KEY,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )",
        ))?;
        let applied: i64 = block_on(tx.query_one(
            "SELECT coalesce(max(version), 0) FROM orch_schema_migrations",
            &[],
        ))?
        .get(0);
        let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        anyhow::ensure!(
            applied <= known,
            "the database is at schema version {applied}, newer than this orch knows ({known}): \
             upgrade orch before using this database"
        );
        for (version, migration) in (1_i64..)
            .zip(MIGRATIONS.iter())
            .skip(usize::try_from(applied)?)
        {
            block_on(tx.batch_execute(migration))
                .with_context(|| format!("applying migration {version}"))?;
            block_on(tx.execute(
                "INSERT INTO orch_schema_migrations (version) VALUES ($1)",
                &[&version],
            ))?;
        }
        block_on(tx.commit())?;
        Ok(())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Whether `err` is PostgreSQL saying the transaction lost a race and may simply run again.
fn is_conflict(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(tokio_postgres::Error::code)
            .is_some_and(|code| {
                *code == SqlState::T_R_SERIALIZATION_FAILURE
                    || *code == SqlState::T_R_DEADLOCK_DETECTED
            })
    })
}

/// `err` with what the server said in the message (tokio-postgres shows only "db error"); the
/// error itself stays in the chain, where [`is_conflict`] looks for its code.
fn said(err: tokio_postgres::Error) -> anyhow::Error {
    let message = err.as_db_error().map(|db| {
        let mut message = format!("PostgreSQL: {}", db.message());
        if let Some(detail) = db.detail() {
            message.push_str(&format!(" ({detail})"));
        }
        message
    });
    let err = anyhow::Error::new(err);
    match message {
        Some(message) => err.context(message),
        None => err,
    }
}

/// `url` with the password replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(a database URL)".to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// SQLite's `?N` placeholders as PostgreSQL's `$N`.
fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// A connection or a transaction seen as [`Sql`].
struct PostgresSql<'c, C: GenericClient> {
    client: &'c C,
}

impl<C: GenericClient> PostgresSql<'_, C> {
    fn prepared(&self, sql: &str) -> anyhow::Result<tokio_postgres::Statement> {
        let sql = placeholders(sql);
        block_on(self.client.prepare_cached(&sql)).map_err(|err| {
            said(err).context(format!(
                "preparing {}",
                sql.trim().lines().next().unwrap_or("")
            ))
        })
    }
}

impl<C: GenericClient> Sql for PostgresSql<'_, C> {
    fn execute(&mut self, sql: &str, params: &[&dyn ToValue]) -> anyhow::Result<usize> {
        let stmt = self.prepared(sql)?;
        let values: Vec<Value> = params.iter().map(|p| p.to_value()).collect();
        let bound: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let changed = block_on(self.client.execute(&stmt, &bound)).map_err(said)?;
        Ok(usize::try_from(changed)?)
    }

    fn query(&mut self, sql: &str, params: &[&dyn ToValue]) -> anyhow::Result<Vec<Row>> {
        let stmt = self.prepared(sql)?;
        let values: Vec<Value> = params.iter().map(|p| p.to_value()).collect();
        let bound: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let rows = block_on(self.client.query(&stmt, &bound)).map_err(said)?;
        rows.iter().map(read_row).collect()
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
}

/// A PostgreSQL row as [`Value`]s, by each column's type.
fn read_row(row: &tokio_postgres::Row) -> anyhow::Result<Row> {
    let mut values = Vec::with_capacity(row.len());
    for (idx, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let value = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(idx)?.map(Value::Int)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(idx)?
                .map(|v| Value::Int(i64::from(v)))
        } else if *ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(idx)?
                .map(|v| Value::Int(i64::from(v)))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(idx)?
                .map(|v| Value::Int(i64::from(v)))
        } else if *ty == Type::FLOAT8 {
            row.try_get::<_, Option<f64>>(idx)?.map(Value::Real)
        } else if *ty == Type::TEXT || *ty == Type::VARCHAR || *ty == Type::BPCHAR {
            row.try_get::<_, Option<String>>(idx)?.map(Value::Text)
        } else if *ty == Type::BYTEA {
            row.try_get::<_, Option<Vec<u8>>>(idx)?.map(Value::Blob)
        } else {
            anyhow::bail!(
                "column {} is of type {ty}, which the store does not read: cast it in the query \
                 (CAST(… AS BIGINT) for sums)",
                column.name()
            );
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(Row::new(values))
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => {
                if *ty == Type::INT8 {
                    v.to_sql(ty, out)
                } else if *ty == Type::INT4 {
                    i32::try_from(*v)?.to_sql(ty, out)
                } else if *ty == Type::INT2 {
                    i16::try_from(*v)?.to_sql(ty, out)
                } else if *ty == Type::BOOL {
                    (*v != 0).to_sql(ty, out)
                } else if *ty == Type::TEXT || *ty == Type::VARCHAR {
                    v.to_string().to_sql(ty, out)
                } else {
                    Err(format!("an integer bound to a parameter of type {ty}").into())
                }
            }
            Value::Real(v) => v.to_sql(ty, out),
            Value::Text(v) => v.as_str().to_sql(ty, out),
            Value::Blob(v) => v.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        // Checked per value in `to_sql`, which names what did not fit.
        true
    }

    to_sql_checked!();
}

/// The pause before try `attempt + 1` of a write: doubling from 1 ms up to
/// [`WRITE_BACKOFF_MAX`], and random within that, so the writers that collided do not collide
/// again at the same moment.
fn backoff(attempt: u32) -> Duration {
    use std::hash::BuildHasher as _;
    let ceiling = Duration::from_millis(1 << attempt.min(16)).min(WRITE_BACKOFF_MAX);
    let random = std::collections::hash_map::RandomState::new().hash_one(attempt);
    ceiling.mul_f64((random % 1000) as f64 / 1000.0)
}

/// Awaits `future` on the calling thread.
///
/// Unconstrained: called from a tokio task that has used up its cooperative budget, the pool's
/// semaphore and timers would otherwise answer "not yet, try again" to every poll until the
/// task yields, which it cannot do while it blocks here. A worker spun in `Pool::get` for
/// seconds that way, with every connection idle (the workers bench found it).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    futures::executor::block_on(tokio::task::unconstrained(future))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            placeholders("SELECT a FROM t WHERE b = ?1 AND c IN (?2, ?12)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $12)"
        );
    }

    #[test]
    fn a_url_is_shown_without_its_password() {
        assert_eq!(
            redact("postgres://orch:s3cret@db.example:5432/orch"),
            "postgres://orch:***@db.example:5432/orch"
        );
        assert_eq!(redact("postgres://orch@db/orch"), "postgres://orch@db/orch");
        assert!(!redact("postgres://a:p@ss@h/d").contains("ss@h"));
    }

    /// A store call from a tokio task that has used up its cooperative budget completes (it
    /// spun in the pool before `block_on` ran its future unconstrained).
    #[test]
    fn a_statement_completes_in_a_task_whose_budget_is_used_up() {
        use futures::FutureExt as _;
        if !orch_pg_peer::available() {
            return;
        }
        let url = orch_pg_peer::server().create_database("budget");
        let db = std::sync::Arc::new(Postgres::connect(&url).unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let answer = runtime.block_on(async {
                tokio::spawn(async move {
                    // Use the task's whole budget without yielding.
                    while tokio::task::consume_budget().now_or_never().is_some() {}
                    db.conn(|sql| sql.query_one::<i64>("SELECT CAST(1 + 1 AS BIGINT)", &[]))
                })
                .await
                .unwrap()
            });
            let _ = tx.send(answer);
        });
        let answer = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the statement never completed");
        assert_eq!(answer.unwrap(), 2);
    }
}
