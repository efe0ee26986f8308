//! The PostgreSQL schema: the same tables, columns, indexes and triggers as the SQLite store's
//! (`schema.rs`), so the same queries run on both. A PostgreSQL store always starts empty, so its
//! first migration is the final state of all SQLite migrations at once, without their data fix-ups.
//!
//! Every text column is `COLLATE "C"`: SQLite compares bytes, and the database's default collation
//! would order keys, cursors and listings differently. Integers are all `BIGINT` (the store binds
//! `i64`), booleans stay 0/1 integers with the same checks, and SQLite's triggers are PL/pgSQL
//! functions named after their trigger.

/// Every migration of the PostgreSQL store, in order; each runs once, in one transaction,
/// recorded in `orch_schema_migrations`. Never edit a released migration: add one.
pub const MIGRATIONS: &[&str] = &[
    // Everything SQLite's migrations 1 to 14 create: packs and their compiled artifacts, runs and
    // their journal, the vault, grants and host keys, the catalog with its budgets (usage kept by
    // triggers, records append-only), OAuth2 tokens, API tokens, the service's events and
    // decisions (run endings filled by a trigger), console sessions, trusted keys and settings.
    r#"
-- Installed packs. `signer` is the public key that signed the installed file (NULL: unsigned).
CREATE TABLE packs (
    name         TEXT COLLATE "C" PRIMARY KEY,
    version      TEXT COLLATE "C" NOT NULL,
    vendor       TEXT COLLATE "C" NOT NULL,
    description  TEXT COLLATE "C" NOT NULL,
    digest       TEXT COLLATE "C" NOT NULL,
    size         BIGINT NOT NULL,
    manifest     TEXT COLLATE "C" NOT NULL,
    imports      TEXT COLLATE "C" NOT NULL,
    source       TEXT COLLATE "C" NOT NULL,
    installed_at TEXT COLLATE "C" NOT NULL,
    updated_at   TEXT COLLATE "C" NOT NULL,
    signer       TEXT COLLATE "C"
);
-- `file_identity`: the identity of the artifact's file once verified (see packs/cache.rs).
CREATE TABLE compiled_artifacts (
    digest          TEXT COLLATE "C" NOT NULL,
    engine_key      TEXT COLLATE "C" NOT NULL,
    artifact_sha256 TEXT COLLATE "C" NOT NULL,
    size            BIGINT NOT NULL,
    created_at      TEXT COLLATE "C" NOT NULL,
    file_identity   TEXT COLLATE "C",
    PRIMARY KEY (digest, engine_key)
);

-- Runs of workflows and their journal. Times are Unix milliseconds (arithmetic on lease expiry
-- and timer due times); `definition` is the workflow text as it was at start, so a resume
-- replays against the same definition even if the file changed since. `started_by`: who or
-- what started the run (the console's and the API's listings show it).
CREATE TABLE runs (
    id               TEXT COLLATE "C" PRIMARY KEY,
    workflow         TEXT COLLATE "C" NOT NULL,
    source           TEXT COLLATE "C" NOT NULL,
    definition       TEXT COLLATE "C" NOT NULL,
    workflows_dir    TEXT COLLATE "C" NOT NULL,
    input            TEXT COLLATE "C" NOT NULL,
    status           TEXT COLLATE "C" NOT NULL,
    reason           TEXT COLLATE "C",
    parent_run       TEXT COLLATE "C" REFERENCES runs (id),
    parent_step      TEXT COLLATE "C",
    owner_host       TEXT COLLATE "C",
    owner_pid        BIGINT,
    lease_until      BIGINT,
    cancel_requested BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    output           TEXT COLLATE "C",
    errors           TEXT COLLATE "C",
    started_by       TEXT COLLATE "C"
);
CREATE INDEX runs_by_parent ON runs (parent_run, parent_step);
-- The API's and the console's run listing: root runs, newest first, page by page, all of them
-- or of one status or one workflow (each an index in listing order, so a page costs the same
-- whatever the store holds); and the runs by status of `/metrics`.
CREATE INDEX runs_listing ON runs (created_at DESC, id DESC)
    WHERE parent_run IS NULL;
CREATE INDEX runs_listing_status ON runs (status, created_at DESC, id DESC)
    WHERE parent_run IS NULL;
CREATE INDEX runs_listing_workflow ON runs (workflow, created_at DESC, id DESC)
    WHERE parent_run IS NULL;
CREATE INDEX runs_by_status ON runs (status);
CREATE TABLE events (
    run_id TEXT COLLATE "C" NOT NULL REFERENCES runs (id),
    seq    BIGINT NOT NULL,
    event  TEXT COLLATE "C" NOT NULL,
    at     BIGINT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE attempts (
    run_id          TEXT COLLATE "C" NOT NULL REFERENCES runs (id),
    exec            TEXT COLLATE "C" NOT NULL,
    item            BIGINT NOT NULL,
    attempt         BIGINT NOT NULL,
    task            TEXT COLLATE "C" NOT NULL,
    action          TEXT COLLATE "C" NOT NULL,
    input           TEXT COLLATE "C" NOT NULL,
    idempotency_key TEXT COLLATE "C" NOT NULL,
    starts          BIGINT NOT NULL,
    started_at      BIGINT NOT NULL,
    finished_at     BIGINT,
    outcome         TEXT COLLATE "C",
    PRIMARY KEY (run_id, exec, item, attempt)
);
CREATE TABLE logs (
    id      BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    run_id  TEXT COLLATE "C" NOT NULL REFERENCES runs (id),
    exec    TEXT COLLATE "C" NOT NULL,
    item    BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    level   TEXT COLLATE "C" NOT NULL,
    message TEXT COLLATE "C" NOT NULL,
    fields  TEXT COLLATE "C",
    at      BIGINT NOT NULL
);
CREATE INDEX logs_by_run ON logs (run_id, id);
CREATE TABLE timers (
    run_id TEXT COLLATE "C" NOT NULL REFERENCES runs (id),
    timer  TEXT COLLATE "C" NOT NULL,
    due_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, timer)
);
CREATE TABLE answers (
    run_id TEXT COLLATE "C" NOT NULL REFERENCES runs (id),
    step   TEXT COLLATE "C" NOT NULL,
    answer TEXT COLLATE "C" NOT NULL,
    at     BIGINT NOT NULL,
    PRIMARY KEY (run_id, step)
);

-- Credentials of the vault. Only non-secret fields are in clear (`public`, a JSON object); each
-- secret field is a row of `credential_secrets` sealed with XChaCha20-Poly1305 (24-byte nonce +
-- ciphertext), its credential's name and field name bound in as associated data. `bindings` and
-- `packs` are JSON arrays of strings. `suspended_packs`: packs the credential was limited to
-- that were removed or replaced by another vendor's pack; the credential stays limited, usable
-- by none of them, until the operator scopes it again (a JSON array of pack names).
CREATE TABLE credentials (
    name            TEXT COLLATE "C" PRIMARY KEY,
    kind            TEXT COLLATE "C" NOT NULL,
    bindings        TEXT COLLATE "C" NOT NULL,
    packs           TEXT COLLATE "C" NOT NULL,
    public          TEXT COLLATE "C" NOT NULL,
    created_at      TEXT COLLATE "C" NOT NULL,
    updated_at      TEXT COLLATE "C" NOT NULL,
    suspended_packs TEXT COLLATE "C" NOT NULL DEFAULT '[]'
);
CREATE TABLE credential_secrets (
    credential TEXT COLLATE "C" NOT NULL REFERENCES credentials (name) ON DELETE CASCADE,
    field      TEXT COLLATE "C" NOT NULL,
    nonce      BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL,
    PRIMARY KEY (credential, field)
);
-- OAuth2 access tokens the host obtained, kept until they expire so every process (and its
-- masker) knows them: the token, prefixed by the fingerprint of the credential it was obtained
-- with, is sealed like a credential field (field `oauth-access-token`). `expires_at` is the
-- token's end of life as the token endpoint gave it (Unix ms).
CREATE TABLE oauth_tokens (
    credential TEXT COLLATE "C" PRIMARY KEY REFERENCES credentials (name) ON DELETE CASCADE,
    nonce      BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Grants of packs (canonical grant texts, see `policy::grants`) and the SSH host keys the host
-- trusts (OpenSSH public-key lines, several per host allowed).
CREATE TABLE grants (
    pack       TEXT COLLATE "C" NOT NULL,
    grant_text TEXT COLLATE "C" NOT NULL,
    granted_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (pack, grant_text)
);
CREATE TABLE host_keys (
    host        TEXT COLLATE "C" NOT NULL,
    port        BIGINT NOT NULL,
    algorithm   TEXT COLLATE "C" NOT NULL,
    public_key  TEXT COLLATE "C" NOT NULL,
    fingerprint TEXT COLLATE "C" NOT NULL,
    added_at    TEXT COLLATE "C" NOT NULL,
    added_by    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (host, port, public_key)
);

-- The data catalog. `tags` is a JSON object of strings, `vars` a JSON object. Records are
-- append-only versions; `step_key` (the idempotency key of the workflow step or pack invocation
-- that wrote it) makes a retried write return the version it already wrote. `size` is what a
-- version counts for in the budgets (`policy::catalog::version_size`: its texts plus 32 bytes).
CREATE TABLE inventory (
    name       TEXT COLLATE "C" PRIMARY KEY,
    address    TEXT COLLATE "C" NOT NULL,
    port       BIGINT NOT NULL,
    platform   TEXT COLLATE "C" NOT NULL,
    credential TEXT COLLATE "C",
    tags       TEXT COLLATE "C" NOT NULL,
    vars       TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX inventory_by_address ON inventory (address);
CREATE TABLE records (
    collection TEXT COLLATE "C" NOT NULL,
    key        TEXT COLLATE "C" NOT NULL,
    version    BIGINT NOT NULL,
    value      TEXT COLLATE "C" NOT NULL,
    written_at TEXT COLLATE "C" NOT NULL,
    writer     TEXT COLLATE "C" NOT NULL,
    step_key   TEXT COLLATE "C",
    size       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (collection, key, version)
);
CREATE UNIQUE INDEX records_by_step ON records (collection, key, step_key)
    WHERE step_key IS NOT NULL;
-- Each collection's totals, kept by triggers so that no insert or delete can miss them, and
-- read by every write's quota check instead of summing the collection. Records stay
-- append-only: an update would change sizes behind the triggers' back.
CREATE TABLE catalog_usage (
    collection TEXT COLLATE "C" PRIMARY KEY,
    versions   BIGINT NOT NULL,
    bytes      BIGINT NOT NULL
);
CREATE FUNCTION records_add_usage_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO catalog_usage (collection, versions, bytes)
        VALUES (NEW.collection, 1, NEW.size)
        ON CONFLICT (collection) DO UPDATE
        SET versions = catalog_usage.versions + 1,
            bytes = catalog_usage.bytes + EXCLUDED.bytes;
    RETURN NULL;
END;
$$;
CREATE TRIGGER records_add_usage AFTER INSERT ON records
    FOR EACH ROW EXECUTE FUNCTION records_add_usage_fn();
CREATE FUNCTION records_remove_usage_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_usage
        SET versions = catalog_usage.versions - 1, bytes = catalog_usage.bytes - OLD.size
        WHERE catalog_usage.collection = OLD.collection;
    DELETE FROM catalog_usage
        WHERE catalog_usage.collection = OLD.collection AND catalog_usage.versions <= 0;
    RETURN NULL;
END;
$$;
CREATE TRIGGER records_remove_usage AFTER DELETE ON records
    FOR EACH ROW EXECUTE FUNCTION records_remove_usage_fn();
CREATE FUNCTION records_are_append_only_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'catalog records are append-only';
END;
$$;
CREATE TRIGGER records_are_append_only BEFORE UPDATE ON records
    FOR EACH ROW EXECUTE FUNCTION records_are_append_only_fn();
-- The operator's retention and budget policies, `*` being the default one; the per-invocation
-- budget lives only there. `keep_all` is a boolean (0 or 1).
CREATE TABLE catalog_policies (
    collection       TEXT COLLATE "C" PRIMARY KEY,
    keep_last        BIGINT CHECK (keep_last >= 1),
    keep_days        BIGINT CHECK (keep_days >= 1),
    keep_all         BIGINT NOT NULL DEFAULT 0 CHECK (keep_all IN (0, 1)),
    max_bytes        BIGINT CHECK (max_bytes >= 0),
    invocation_bytes BIGINT,
    updated_at       TEXT COLLATE "C" NOT NULL,
    CHECK (invocation_bytes IS NULL OR (invocation_bytes >= 0 AND collection = '*')),
    CHECK (NOT (keep_all <> 0 AND (keep_last IS NOT NULL OR keep_days IS NOT NULL)))
);

-- Tokens of the service's HTTP API: only the SHA-256 of each token (hex) is kept.
CREATE TABLE api_tokens (
    name         TEXT COLLATE "C" PRIMARY KEY,
    role         TEXT COLLATE "C" NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    hash         TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT
);

-- `orch serve`: events from the triggers (webhooks, syslog, schedules, finished runs), stored
-- before any rule sees them, and what each rule decided. Times are Unix ms. `dedup_key` makes an
-- event's arrival idempotent: a webhook delivery (its signature), a schedule's slot, a run's
-- ending are stored once, whatever retries or restarts do. `decided_at` is NULL until every rule
-- has decided (a crash in between: decided at the next start). A `fired` decision names the run
-- it starts and carries the workflow and input, so a crash between the decision and the run's
-- start is finished at the next start with the same run id: an event fires a rule at most once.
-- `rule_throttle` holds each rule's last firing per group; `schedule_slots` the last slot of
-- each schedule handled (fired or skipped), written with the slot's event; `run_endings` is
-- filled by a trigger when a root run finishes, whichever process drove it, and consumed by the
-- server; `service_runs` are runs the server drives (resumed when it starts again).
CREATE TABLE trigger_events (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    type        TEXT COLLATE "C" NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    received_at BIGINT NOT NULL,
    payload     TEXT COLLATE "C" NOT NULL,
    dedup_key   TEXT COLLATE "C" UNIQUE,
    decided_at  BIGINT
);
CREATE INDEX trigger_events_undecided ON trigger_events (id) WHERE decided_at IS NULL;
CREATE TABLE rule_decisions (
    event_id  BIGINT NOT NULL REFERENCES trigger_events (id) ON DELETE CASCADE,
    rule      TEXT COLLATE "C" NOT NULL,
    decision  TEXT COLLATE "C" NOT NULL
        CHECK (decision IN ('fired', 'criteria_false', 'throttled', 'error')),
    detail    TEXT COLLATE "C" NOT NULL,
    run_id    TEXT COLLATE "C",
    workflow  TEXT COLLATE "C",
    input     TEXT COLLATE "C",
    group_key TEXT COLLATE "C",
    at        BIGINT NOT NULL,
    PRIMARY KEY (event_id, rule)
);
CREATE INDEX rule_decisions_by_run ON rule_decisions (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX rule_decisions_by_rule ON rule_decisions (rule, event_id);
CREATE TABLE rule_throttle (
    rule      TEXT COLLATE "C" NOT NULL,
    group_key TEXT COLLATE "C" NOT NULL,
    fired_at  BIGINT NOT NULL,
    event_id  BIGINT NOT NULL,
    PRIMARY KEY (rule, group_key)
);
CREATE TABLE schedule_slots (
    rule       TEXT COLLATE "C" PRIMARY KEY,
    slot       BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE run_endings (
    seq    BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    run_id TEXT COLLATE "C" NOT NULL,
    at     BIGINT NOT NULL
);
CREATE FUNCTION runs_record_endings_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO run_endings (run_id, at) VALUES (NEW.id, NEW.updated_at);
    RETURN NULL;
END;
$$;
CREATE TRIGGER runs_record_endings AFTER UPDATE OF status ON runs
    FOR EACH ROW
    WHEN (NEW.parent_run IS NULL
          AND NEW.status IN ('succeeded', 'failed', 'canceled')
          AND OLD.status NOT IN ('succeeded', 'failed', 'canceled'))
    EXECUTE FUNCTION runs_record_endings_fn();
CREATE TABLE service_state (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT COLLATE "C" NOT NULL
);
CREATE TABLE service_runs (
    run_id TEXT COLLATE "C" PRIMARY KEY,
    since  BIGINT NOT NULL
);

-- Web console sessions: the SHA-256 of the cookie's secret, the hash of the API token signed in
-- with (revoking it ends the session), the session's CSRF token.
CREATE TABLE console_sessions (
    hash       TEXT COLLATE "C" PRIMARY KEY,
    token_hash TEXT COLLATE "C" NOT NULL,
    csrf       TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Signed packs: the vendor keys the operator trusts, and the home's settings (`require_signed`).
CREATE TABLE trusted_keys (
    name       TEXT COLLATE "C" PRIMARY KEY,
    public_key TEXT COLLATE "C" NOT NULL UNIQUE,
    added_at   TEXT COLLATE "C" NOT NULL
);
CREATE TABLE settings (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT COLLATE "C" NOT NULL
);
"#,
    // Workers sharing the runs (`orch worker`, see store/workers.rs): a run's fencing token
    // (one more at every taking of its lease; the holder's journal writes check it), the queue
    // of runs no process drives yet (status `queued`), and the workers themselves.
    r#"
ALTER TABLE runs ADD COLUMN lease_token BIGINT NOT NULL DEFAULT 0;
CREATE INDEX runs_queued ON runs (created_at, id)
    WHERE status = 'queued' AND parent_run IS NULL;
CREATE TABLE workers (
    id           TEXT COLLATE "C" PRIMARY KEY,
    host         TEXT COLLATE "C" NOT NULL,
    pid          BIGINT NOT NULL,
    tags         TEXT COLLATE "C" NOT NULL,
    concurrency  BIGINT NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    draining     BIGINT NOT NULL DEFAULT 0 CHECK (draining IN (0, 1))
);
"#,
    // Where a run may be driven: the worker tags it needs (a JSON object; `{}` for any worker),
    // on runs meant for workers; NULL for runs a process drives itself.
    "ALTER TABLE runs ADD COLUMN placement TEXT COLLATE \"C\";",
];
