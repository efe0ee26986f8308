//! Schema migrations, applied in order at open. Never edit a released migration: add one.

use rusqlite_migration::{M, Migrations};

/// Every migration of the store.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
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
        ),
        // Runs of workflows and their journal. Times are Unix milliseconds (arithmetic on lease
        // expiry and timer due times); `definition` is the workflow text as it was at start, so
        // a resume replays against the same definition even if the file changed since.
        M::up(
            "CREATE TABLE runs (
            id               TEXT PRIMARY KEY,
            workflow         TEXT NOT NULL,
            source           TEXT NOT NULL,
            definition       TEXT NOT NULL,
            workflows_dir    TEXT NOT NULL,
            input            TEXT NOT NULL,
            status           TEXT NOT NULL,
            reason           TEXT,
            parent_run       TEXT REFERENCES runs (id),
            parent_step      TEXT,
            owner_host       TEXT,
            owner_pid        INTEGER,
            lease_until      INTEGER,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            created_at       INTEGER NOT NULL,
            updated_at       INTEGER NOT NULL,
            output           TEXT,
            errors           TEXT
        ) STRICT;
        CREATE INDEX runs_by_parent ON runs (parent_run, parent_step);
        CREATE TABLE events (
            run_id TEXT NOT NULL REFERENCES runs (id),
            seq    INTEGER NOT NULL,
            event  TEXT NOT NULL,
            at     INTEGER NOT NULL,
            PRIMARY KEY (run_id, seq)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE attempts (
            run_id          TEXT NOT NULL REFERENCES runs (id),
            exec            TEXT NOT NULL,
            item            INTEGER NOT NULL,
            attempt         INTEGER NOT NULL,
            task            TEXT NOT NULL,
            action          TEXT NOT NULL,
            input           TEXT NOT NULL,
            idempotency_key TEXT NOT NULL,
            starts          INTEGER NOT NULL,
            started_at      INTEGER NOT NULL,
            finished_at     INTEGER,
            outcome         TEXT,
            PRIMARY KEY (run_id, exec, item, attempt)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE logs (
            id      INTEGER PRIMARY KEY,
            run_id  TEXT NOT NULL REFERENCES runs (id),
            exec    TEXT NOT NULL,
            item    INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            level   TEXT NOT NULL,
            message TEXT NOT NULL,
            fields  TEXT,
            at      INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX logs_by_run ON logs (run_id, id);
        CREATE TABLE timers (
            run_id TEXT NOT NULL REFERENCES runs (id),
            timer  TEXT NOT NULL,
            due_at INTEGER NOT NULL,
            PRIMARY KEY (run_id, timer)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE answers (
            run_id TEXT NOT NULL REFERENCES runs (id),
            step   TEXT NOT NULL,
            answer TEXT NOT NULL,
            at     INTEGER NOT NULL,
            PRIMARY KEY (run_id, step)
        ) STRICT, WITHOUT ROWID;",
        ),
        // Credentials of the vault. Only non-secret fields are in clear (`public`, a JSON object);
        // each secret field is a row of `credential_secrets` sealed with XChaCha20-Poly1305
        // (24-byte nonce + ciphertext), its credential's name and field name bound in as
        // associated data. `bindings` and `packs` are JSON arrays of strings.
        M::up(
            "CREATE TABLE credentials (
            name       TEXT PRIMARY KEY,
            kind       TEXT NOT NULL,
            bindings   TEXT NOT NULL,
            packs      TEXT NOT NULL,
            public     TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        ) STRICT;
        CREATE TABLE credential_secrets (
            credential TEXT NOT NULL REFERENCES credentials (name) ON DELETE CASCADE,
            field      TEXT NOT NULL,
            nonce      BLOB NOT NULL,
            ciphertext BLOB NOT NULL,
            PRIMARY KEY (credential, field)
        ) STRICT, WITHOUT ROWID;",
        ),
        // Grants of packs (canonical grant texts, see `policy::grants`) and the SSH host
        // keys the host trusts (OpenSSH public-key lines, several per host allowed).
        M::up(
            "CREATE TABLE grants (
            pack       TEXT NOT NULL,
            grant_text TEXT NOT NULL,
            granted_at TEXT NOT NULL,
            PRIMARY KEY (pack, grant_text)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE host_keys (
            host        TEXT NOT NULL,
            port        INTEGER NOT NULL,
            algorithm   TEXT NOT NULL,
            public_key  TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            added_at    TEXT NOT NULL,
            added_by    TEXT NOT NULL,
            PRIMARY KEY (host, port, public_key)
        ) STRICT, WITHOUT ROWID;",
        ),
        // The data catalog. `tags` is a JSON object of strings, `vars` a JSON object. Records
        // are append-only versions; `step_key` (the idempotency key of the workflow step or pack
        // invocation that wrote it) makes a retried write return the version it already wrote.
        M::up(
            "CREATE TABLE inventory (
            name       TEXT PRIMARY KEY,
            address    TEXT NOT NULL,
            port       INTEGER NOT NULL,
            platform   TEXT NOT NULL,
            credential TEXT,
            tags       TEXT NOT NULL,
            vars       TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        ) STRICT;
        CREATE TABLE records (
            collection TEXT NOT NULL,
            key        TEXT NOT NULL,
            version    INTEGER NOT NULL,
            value      TEXT NOT NULL,
            written_at TEXT NOT NULL,
            writer     TEXT NOT NULL,
            step_key   TEXT,
            PRIMARY KEY (collection, key, version)
        ) STRICT, WITHOUT ROWID;
        CREATE UNIQUE INDEX records_by_step ON records (collection, key, step_key)
            WHERE step_key IS NOT NULL;",
        ),
        // Byte budgets and retention of the catalog. `size` is what a version counts for in the
        // budgets (`policy::catalog::version_size`: its texts plus 32 bytes; the UPDATE computes
        // the same for versions written before). `catalog_usage` holds each collection's totals,
        // kept by triggers so that no insert or delete can miss it, and read by every write's
        // quota check instead of summing the collection. Records stay append-only: an update
        // would change sizes behind the triggers' back. `catalog_policies` holds the operator's
        // policies, `*` being the default one; the per-invocation budget lives only there.
        M::up(
            "ALTER TABLE records ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
        UPDATE records SET size = length(CAST(collection AS BLOB)) + length(CAST(key AS BLOB))
            + length(CAST(value AS BLOB)) + length(CAST(written_at AS BLOB))
            + length(CAST(writer AS BLOB)) + coalesce(length(CAST(step_key AS BLOB)), 0) + 32;
        CREATE TABLE catalog_usage (
            collection TEXT PRIMARY KEY,
            versions   INTEGER NOT NULL,
            bytes      INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;
        INSERT INTO catalog_usage (collection, versions, bytes)
            SELECT collection, count(*), sum(size) FROM records GROUP BY collection;
        CREATE TRIGGER records_add_usage AFTER INSERT ON records BEGIN
            INSERT INTO catalog_usage (collection, versions, bytes)
                VALUES (NEW.collection, 1, NEW.size)
                ON CONFLICT (collection) DO UPDATE
                SET versions = versions + 1, bytes = bytes + excluded.bytes;
        END;
        CREATE TRIGGER records_remove_usage AFTER DELETE ON records BEGIN
            UPDATE catalog_usage SET versions = versions - 1, bytes = bytes - OLD.size
                WHERE collection = OLD.collection;
            DELETE FROM catalog_usage WHERE collection = OLD.collection AND versions <= 0;
        END;
        CREATE TRIGGER records_are_append_only BEFORE UPDATE ON records BEGIN
            SELECT RAISE(ABORT, 'catalog records are append-only');
        END;
        CREATE TABLE catalog_policies (
            collection       TEXT PRIMARY KEY,
            keep_last        INTEGER CHECK (keep_last >= 1),
            keep_days        INTEGER CHECK (keep_days >= 1),
            keep_all         INTEGER NOT NULL DEFAULT 0 CHECK (keep_all IN (0, 1)),
            max_bytes        INTEGER CHECK (max_bytes >= 0),
            invocation_bytes INTEGER
                CHECK (invocation_bytes IS NULL OR (invocation_bytes >= 0 AND collection = '*')),
            updated_at       TEXT NOT NULL,
            CHECK (NOT (keep_all AND (keep_last IS NOT NULL OR keep_days IS NOT NULL)))
        ) STRICT, WITHOUT ROWID;",
        ),
        // OAuth2 access tokens the host obtained, kept until they expire so every process (and
        // its masker) knows them: the token, prefixed by the fingerprint of the credential it was
        // obtained with, is sealed like a credential field (field `oauth-access-token`).
        // `expires_at` is the token's end of life as the token endpoint gave it (Unix ms).
        // `suspended_packs`: packs a credential was limited to that were removed or replaced by
        // another vendor's pack; the credential stays limited, usable by none of them, until the
        // operator scopes it again (a JSON array of pack names).
        M::up(
            "CREATE TABLE oauth_tokens (
            credential TEXT PRIMARY KEY REFERENCES credentials (name) ON DELETE CASCADE,
            nonce      BLOB NOT NULL,
            ciphertext BLOB NOT NULL,
            expires_at INTEGER NOT NULL
        ) STRICT;
        ALTER TABLE credentials ADD COLUMN suspended_packs TEXT NOT NULL DEFAULT '[]';",
        ),
        // Tokens of the service's HTTP API: only the SHA-256 of each token (hex) is kept.
        M::up(
            "CREATE TABLE api_tokens (
            name         TEXT PRIMARY KEY,
            role         TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
            hash         TEXT NOT NULL UNIQUE,
            created_at   INTEGER NOT NULL,
            expires_at   INTEGER,
            last_used_at INTEGER
        ) STRICT;",
        ),
        // `orch serve`: events from the triggers (webhooks, syslog, schedules, finished runs),
        // stored before any rule sees them, and what each rule decided. Times are Unix ms.
        // `dedup_key` makes an event's arrival idempotent: a webhook delivery (its signature),
        // a schedule's slot, a run's ending are stored once, whatever retries or restarts do.
        // `decided_at` is NULL until every rule has decided (a crash in between: decided at the
        // next start). A `fired` decision names the run it starts and carries the workflow and
        // input, so a crash between the decision and the run's start is finished at the next
        // start with the same run id: an event fires a rule at most once. `rule_throttle` holds
        // each rule's last firing per group; `schedule_slots` the last slot of each schedule
        // handled (fired or skipped), written with the slot's event; `run_endings` is filled by a
        // trigger when a root run finishes, whichever process drove it, and consumed by the
        // server; `service_runs` are runs the server drives (resumed when it starts again).
        M::up(
            "CREATE TABLE trigger_events (
            id          INTEGER PRIMARY KEY,
            type        TEXT NOT NULL,
            name        TEXT NOT NULL,
            received_at INTEGER NOT NULL,
            payload     TEXT NOT NULL,
            dedup_key   TEXT UNIQUE,
            decided_at  INTEGER
        ) STRICT;
        CREATE INDEX trigger_events_undecided ON trigger_events (id) WHERE decided_at IS NULL;
        CREATE TABLE rule_decisions (
            event_id  INTEGER NOT NULL REFERENCES trigger_events (id) ON DELETE CASCADE,
            rule      TEXT NOT NULL,
            decision  TEXT NOT NULL
                CHECK (decision IN ('fired', 'criteria_false', 'throttled', 'error')),
            detail    TEXT NOT NULL,
            run_id    TEXT,
            workflow  TEXT,
            input     TEXT,
            group_key TEXT,
            at        INTEGER NOT NULL,
            PRIMARY KEY (event_id, rule)
        ) STRICT;
        CREATE INDEX rule_decisions_by_run ON rule_decisions (run_id) WHERE run_id IS NOT NULL;
        CREATE INDEX rule_decisions_by_rule ON rule_decisions (rule, event_id);
        CREATE TABLE rule_throttle (
            rule      TEXT NOT NULL,
            group_key TEXT NOT NULL,
            fired_at  INTEGER NOT NULL,
            event_id  INTEGER NOT NULL,
            PRIMARY KEY (rule, group_key)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE schedule_slots (
            rule       TEXT PRIMARY KEY,
            slot       INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE run_endings (
            seq    INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            at     INTEGER NOT NULL
        ) STRICT;
        CREATE TRIGGER runs_record_endings AFTER UPDATE OF status ON runs
            WHEN NEW.parent_run IS NULL
             AND NEW.status IN ('succeeded', 'failed', 'canceled')
             AND OLD.status NOT IN ('succeeded', 'failed', 'canceled')
        BEGIN
            INSERT INTO run_endings (run_id, at) VALUES (NEW.id, NEW.updated_at);
        END;
        CREATE TABLE service_state (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE service_runs (
            run_id TEXT PRIMARY KEY,
            since  INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX inventory_by_address ON inventory (address);",
        ),
        // The API's and the console's run listing: root runs, newest first, page by page, all
        // of them or of one status or one workflow (each an index in listing order, so a page
        // costs the same whatever the store holds); and the runs by status of `/metrics` (a
        // scan of a small index, not of the table).
        M::up(
            "CREATE INDEX runs_listing ON runs (created_at DESC, id DESC)
            WHERE parent_run IS NULL;
            CREATE INDEX runs_listing_status ON runs (status, created_at DESC, id DESC)
            WHERE parent_run IS NULL;
            CREATE INDEX runs_listing_workflow ON runs (workflow, created_at DESC, id DESC)
            WHERE parent_run IS NULL;
            CREATE INDEX runs_by_status ON runs (status);",
        ),
        // Who or what started a run (the console's and the API's listings show it).
        M::up("ALTER TABLE runs ADD COLUMN started_by TEXT;"),
        // Web console sessions: the SHA-256 of the cookie's secret, the hash of the API token
        // signed in with (revoking it ends the session), the session's CSRF token.
        M::up(
            "CREATE TABLE console_sessions (
                hash       TEXT PRIMARY KEY,
                token_hash TEXT NOT NULL,
                csrf       TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL
            ) STRICT, WITHOUT ROWID;",
        ),
        // Signed packs: who signed the installed file (a public key, NULL when unsigned), the
        // vendor keys the operator trusts, and the home's settings (`require_signed`).
        M::up(
            "ALTER TABLE packs ADD COLUMN signer TEXT;
            CREATE TABLE trusted_keys (
                name       TEXT PRIMARY KEY,
                public_key TEXT NOT NULL UNIQUE,
                added_at   TEXT NOT NULL
            ) STRICT;
            CREATE TABLE settings (
                key   TEXT PRIMARY KEY,
                value TEXT NOT NULL
            ) STRICT, WITHOUT ROWID;",
        ),
        // The identity of each compiled artifact's file once verified (see packs/cache.rs).
        M::up("ALTER TABLE compiled_artifacts ADD COLUMN file_identity TEXT;"),
        // Workers sharing the runs (`orch worker`, see store/workers.rs): a run's fencing token
        // (one more at every taking of its lease; the holder's journal writes check it), the
        // queue of runs no process drives yet (status `queued`), and the workers themselves.
        M::up(
            "ALTER TABLE runs ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
            CREATE INDEX runs_queued ON runs (created_at, id)
                WHERE status = 'queued' AND parent_run IS NULL;
            CREATE TABLE workers (
                id           TEXT PRIMARY KEY,
                host         TEXT NOT NULL,
                pid          INTEGER NOT NULL,
                tags         TEXT NOT NULL,
                concurrency  INTEGER NOT NULL,
                started_at   INTEGER NOT NULL,
                heartbeat_at INTEGER NOT NULL,
                draining     INTEGER NOT NULL DEFAULT 0 CHECK (draining IN (0, 1))
            ) STRICT, WITHOUT ROWID;",
        ),
        // Where a run may be driven: the worker tags it needs (a JSON object; `{}` for any
        // worker). Set on runs meant for workers (queued by `orch run --queue`, sub-workflow
        // runs a worker's run hands out); NULL for runs a process drives itself.
        M::up("ALTER TABLE runs ADD COLUMN placement TEXT;"),
    ])
}

/// The version of the store before the catalog's budgets (for the test of that migration).
#[cfg(test)]
pub const BEFORE_CATALOG_BUDGETS: usize = 5;

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }
}
