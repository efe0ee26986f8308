//! The embedded SQLite store: schema migrations at open and the only SQL in the crate.
//!
//! One connection per process, in WAL mode; writers take the lock up front (IMMEDIATE) because a
//! deferred transaction that reads then writes can fail at once with SQLITE_BUSY under WAL.

mod credentials;
mod packs;
mod runs;
mod schema;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use anyhow::Context as _;
use rusqlite::Connection;

pub use credentials::{CredentialRow, SealedField};
pub use packs::{ArtifactRow, PackRow};
pub use runs::{
    AttemptId, AttemptRow, FinishedAttempt, JournalBatch, LeaseHeld, LogRow, NO_ITEM, NewAttempt,
    NewLog, RunRow, StatusChange, now_ms,
};

/// The store.
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
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

    /// An in-memory store, for tests.
    pub fn in_memory() -> anyhow::Result<Self> {
        let mut conn = Connection::open_in_memory()?;
        schema::migrations().to_latest(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back), so
        // a poisoned lock is safe to reuse.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Now, as RFC 3339 in UTC.
fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
