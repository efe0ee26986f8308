//! The store: everything orch keeps (packs, grants, sealed credentials, host keys, the catalog,
//! runs and their journal, the service's events) and the only SQL in the crate.
//!
//! Two backends sit behind one interface: SQLite in the home, the embedded default, and
//! PostgreSQL when a database URL is given (several processes and machines sharing one store).
//! The tables' modules are written once against [`sql::Sql`]; each backend has its own
//! migrations and says how it runs a read and a write transaction.

mod api_tokens;
mod catalog;
mod console_sessions;
mod copy;
mod credentials;
mod events;
mod grants;
mod host_keys;
mod packs;
mod postgres;
mod postgres_schema;
mod runs;
mod schema;
pub(crate) mod sql;
mod sqlite;
mod trust;
mod workers;

use std::path::Path;

pub use api_tokens::ApiTokenRow;
pub use catalog::{
    CollectionUsage, DeviceRow, ImportChange, NewRecord, PruneReport, PutError, RecordKey,
    RecordRow, Written,
};
pub use console_sessions::ConsoleSessionRow;
pub use copy::TableCopy;
pub use credentials::{CredentialRow, SealedField, StoredToken, TOKEN_FIELD};
pub use events::{
    DecisionRow, EventRow, EventsFilter, Mark, NewDecision, NewEvent, RunEnding, Stored,
};
pub use grants::GrantRow;
pub use host_keys::HostKeyRow;
pub use packs::{ArtifactRow, PackRow};
pub use runs::{
    AttemptId, AttemptRow, FINISHED_RUN_STATUSES, FinishedAttempt, JournalBatch, LeaseHeld,
    LeaseLost, LogRow, NO_ITEM, NewAttempt, NewLog, RunFilter, RunRow, RunSummary, StatusChange,
    now_ms,
};
pub use trust::TrustedKey;
pub use workers::{QUEUED_CHANNEL, WorkerRow};

use sql::Sql;

/// The store.
pub struct Store {
    backend: Backend,
}

enum Backend {
    Sqlite(sqlite::Sqlite),
    /// Boxed: its pool, runtime and connection settings outweigh SQLite's one connection.
    Postgres(Box<postgres::Postgres>),
}

impl Store {
    /// Opens (creating and migrating) the SQLite database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            backend: Backend::Sqlite(sqlite::Sqlite::open(path)?),
        })
    }

    /// Connects to (and migrates) the PostgreSQL database at `url`.
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            backend: Backend::Postgres(Box::new(postgres::Postgres::connect(url)?)),
        })
    }

    /// An in-memory SQLite store, for tests.
    pub fn in_memory() -> anyhow::Result<Self> {
        Ok(Self {
            backend: Backend::Sqlite(sqlite::Sqlite::in_memory()?),
        })
    }

    /// Which database this is: the SQLite file or the PostgreSQL URL without its password.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Sqlite(_) => "SQLite".to_owned(),
            Backend::Postgres(db) => format!("PostgreSQL at {}", db.shown()),
        }
    }

    /// Runs `f` on a connection outside any transaction: each statement commits on its own and
    /// sees the latest commit.
    fn conn<T>(&self, f: impl FnOnce(&mut dyn Sql) -> anyhow::Result<T>) -> anyhow::Result<T> {
        match &self.backend {
            Backend::Sqlite(db) => db.conn(f),
            Backend::Postgres(db) => db.conn(f),
        }
    }

    /// Runs `f` in a serializable transaction, committed when it returns `Ok`. `f` may run more
    /// than once (PostgreSQL runs it again after a conflict with another writer), so it must
    /// change nothing outside the transaction: return what the caller should keep.
    fn write<T>(&self, f: impl FnMut(&mut dyn Sql) -> anyhow::Result<T>) -> anyhow::Result<T> {
        match &self.backend {
            Backend::Sqlite(db) => db.write(f),
            Backend::Postgres(db) => db.write(f),
        }
    }

    /// Wakes on every batch of PostgreSQL notifications on `channel` (at most one waiting);
    /// `None` on SQLite, which has none (its readers poll).
    pub fn listen(&self, channel: &str) -> anyhow::Result<Option<tokio::sync::mpsc::Receiver<()>>> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(db) => db.listen(channel).map(Some),
        }
    }

    /// The SQLite connection, for tests of SQLite itself (query plans, migrations).
    #[cfg(test)]
    fn sqlite(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        match &self.backend {
            Backend::Sqlite(db) => db.connection(),
            Backend::Postgres(_) => panic!("not an SQLite store"),
        }
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

/// What the store's tests share: every test of a table runs on both backends.
#[cfg(test)]
pub(crate) mod testing {
    use super::Store;

    /// Runs `test` on an in-memory SQLite store, then on a new database of the tests'
    /// PostgreSQL server (started once per test binary), unless PostgreSQL is not installed.
    pub fn each_backend(test: impl Fn(Store)) {
        test(Store::in_memory().expect("an in-memory store"));
        if !orch_pg_peer::available() {
            eprintln!("skipped on PostgreSQL: its server is not installed (scripts/setup)");
            return;
        }
        let url = orch_pg_peer::server().create_database("store");
        eprintln!("the same test on PostgreSQL ({url})");
        test(Store::connect(&url).expect("a PostgreSQL store"));
    }
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
