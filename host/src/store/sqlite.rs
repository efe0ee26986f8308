//! The embedded SQLite backend: one connection per process, in WAL mode, migrated at open.
//!
//! Writers take the lock up front (IMMEDIATE) because a deferred transaction that reads then
//! writes can fail at once with SQLITE_BUSY under WAL; SQLite's one writer at a time is what
//! makes every write transaction serializable, the guarantee the PostgreSQL backend asks for
//! explicitly.

use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use anyhow::Context as _;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, TransactionBehavior};

use super::schema;
use super::sql::{Dialect, Row, Sql, ToValue, Value};

/// The SQLite database of a home.
pub struct Sqlite {
    conn: Mutex<Connection>,
}

impl Sqlite {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        // Create the file owner-only before SQLite does: it holds sealed credentials and run
        // history, and SQLite gives its -wal and -shm files the database file's mode.
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        if let Err(err) = created
            && err.kind() != std::io::ErrorKind::AlreadyExists
        {
            return Err(err).with_context(|| format!("creating the store {}", path.display()));
        }
        let mut conn = Connection::open(path)
            .with_context(|| format!("opening the store {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrations()
            .to_latest(&mut conn)
            .with_context(|| format!("migrating the store {}", path.display()))?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// An in-memory database, for tests.
    pub fn in_memory() -> anyhow::Result<Self> {
        let mut conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrations().to_latest(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// The connection, for tests that look at SQLite itself (query plans, migrations).
    pub fn connection(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back), so
        // a poisoned lock is safe to reuse.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the connection, outside any transaction (each statement sees the latest
    /// commit).
    pub fn conn<T>(&self, f: impl FnOnce(&mut dyn Sql) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let conn = self.connection();
        f(&mut SqliteSql { conn: &conn })
    }

    /// Runs `f` in an IMMEDIATE transaction, committed when `f` returns `Ok`, rolled back
    /// otherwise.
    pub fn write<T>(&self, f: impl FnOnce(&mut dyn Sql) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let mut conn = self.connection();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&mut SqliteSql { conn: &tx })?;
        tx.commit()?;
        Ok(value)
    }
}

/// A connection or transaction (which dereferences to its connection) seen as [`Sql`].
struct SqliteSql<'c> {
    conn: &'c Connection,
}

impl Sql for SqliteSql<'_> {
    fn execute(&mut self, sql: &str, params: &[&dyn ToValue]) -> anyhow::Result<usize> {
        let values: Vec<Value> = params.iter().map(|p| p.to_value()).collect();
        let mut stmt = self.conn.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(values.iter()))?)
    }

    fn query(&mut self, sql: &str, params: &[&dyn ToValue]) -> anyhow::Result<Vec<Row>> {
        let values: Vec<Value> = params.iter().map(|p| p.to_value()).collect();
        let mut stmt = self.conn.prepare_cached(sql)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns);
            for idx in 0..columns {
                values.push(match row.get_ref(idx)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Real(v) => Value::Real(v),
                    ValueRef::Text(v) => Value::Text(
                        std::str::from_utf8(v)
                            .with_context(|| format!("column {idx}: text not UTF-8"))?
                            .to_owned(),
                    ),
                    ValueRef::Blob(v) => Value::Blob(v.to_vec()),
                });
            }
            out.push(Row::new(values));
        }
        Ok(out)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Real(v) => ValueRef::Real(*v),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
            Value::Blob(v) => ValueRef::Blob(v),
        }))
    }
}
