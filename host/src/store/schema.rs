//! Schema migrations, applied in order at open. Never edit a released migration: add one.

use rusqlite_migration::{M, Migrations};

/// Every migration of the store.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(
        "CREATE TABLE packs (
            name         TEXT PRIMARY KEY,
            version      TEXT NOT NULL,
            vendor       TEXT NOT NULL,
            description  TEXT NOT NULL,
            digest       TEXT NOT NULL,
            size         INTEGER NOT NULL,
            manifest     TEXT NOT NULL,
            imports      TEXT NOT NULL,
            source       TEXT NOT NULL,
            installed_at TEXT NOT NULL,
            updated_at   TEXT NOT NULL
        ) STRICT;
        CREATE TABLE compiled_artifacts (
            digest          TEXT NOT NULL,
            engine_key      TEXT NOT NULL,
            artifact_sha256 TEXT NOT NULL,
            size            INTEGER NOT NULL,
            created_at      TEXT NOT NULL,
            PRIMARY KEY (digest, engine_key)
        ) STRICT;",
    )])
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }
}
