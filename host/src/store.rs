//! The embedded SQLite store: schema migrations at open and the only SQL in the crate.
//!
//! One connection per process, in WAL mode; writers take the lock up front (IMMEDIATE) because a
//! deferred transaction that reads then writes can fail at once with SQLITE_BUSY under WAL.

mod api_tokens;
mod catalog;
mod console_sessions;
mod credentials;
mod events;
mod grants;
mod host_keys;
mod packs;
mod runs;
mod schema;
mod trust;

use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use anyhow::Context as _;
use rusqlite::Connection;

pub use api_tokens::ApiTokenRow;
pub use catalog::{
    CollectionUsage, DeviceRow, ImportChange, NewRecord, PruneReport, PutError, RecordKey,
    RecordRow, Written,
};
pub use console_sessions::ConsoleSessionRow;
pub use credentials::{CredentialRow, SealedField, StoredToken, TOKEN_FIELD};
pub use events::{
    DecisionRow, EventRow, EventsFilter, Mark, NewDecision, NewEvent, RunEnding, Stored,
};
pub use grants::GrantRow;
pub use host_keys::HostKeyRow;
pub use packs::{ArtifactRow, PackRow};
pub use runs::{
    AttemptId, AttemptRow, FINISHED_RUN_STATUSES, FinishedAttempt, JournalBatch, LeaseHeld, LogRow,
    NO_ITEM, NewAttempt, NewLog, RunFilter, RunRow, RunSummary, StatusChange, now_ms,
};
pub use trust::TrustedKey;

/// The store.
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
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
    rfc3339(time::OffsetDateTime::now_utc())
}

/// Unix milliseconds as RFC 3339 in UTC, with milliseconds.
pub fn rfc3339_ms(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// `at` as RFC 3339 in UTC, the form every stored time of the catalog has.
fn rfc3339(at: time::OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn creates_the_database_and_its_wal_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orch.db");
        let store = Store::open(&path).unwrap();
        store.packs().unwrap();
        for file in [path.clone(), dir.path().join("orch.db-wal")] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
    }
}
