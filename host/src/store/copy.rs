//! Copying a whole store into an empty one (`orch store migrate --to postgres://…`), verified
//! table by table with row counts and digests.
//!
//! Tables and columns are read from the source, so a table added by a later migration is
//! copied without a change here; a table or column the target lacks stops the copy before
//! anything is written. `catalog_usage` is not copied: the target's triggers rebuild it as the
//! records arrive, and the verification compares it like any other table.

use std::collections::BTreeMap;

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};

use super::Store;
use super::sql::{Dialect, Row, Sql, Value, params};

/// Tables filled from the records they summarise, by the target's own triggers.
const DERIVED: &[&str] = &["catalog_usage"];

/// Tables others refer to, copied first (in this order) so every foreign key finds its row.
const PARENTS_FIRST: &[&str] = &["packs", "credentials", "runs", "trigger_events"];

/// What was copied of one table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableCopy {
    /// Table.
    pub table: String,
    /// Rows in the source and, after the copy, in the target.
    pub rows: u64,
    /// SHA-256 (hex) of the table's rows in key order, the same on both sides.
    pub digest: String,
}

/// One table's shape: its columns and its primary key, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape {
    columns: Vec<String>,
    key: Vec<String>,
}

impl Store {
    /// Copies every row of this store into `target`, which must be empty, in one transaction of
    /// the target; then checks that each table holds the same rows on both sides. Returns what
    /// each table holds.
    pub fn copy_into(&self, target: &Store) -> anyhow::Result<Vec<TableCopy>> {
        let ours = self.conn(|conn| shapes(conn))?;
        let target_shapes = target.conn(|conn| shapes(conn))?;
        for (table, shape) in &ours {
            let Some(theirs) = target_shapes.get(table) else {
                anyhow::bail!(
                    "the target has no table {table}: it was migrated by another version of orch"
                );
            };
            let missing: Vec<&String> = shape
                .columns
                .iter()
                .filter(|c| !theirs.columns.contains(c))
                .collect();
            anyhow::ensure!(
                missing.is_empty(),
                "the target's table {table} lacks the columns {missing:?}: it was migrated by \
                 another version of orch"
            );
        }
        let nonempty = target.conn(|conn| {
            let mut held = Vec::new();
            for table in target_shapes.keys() {
                let rows: i64 =
                    conn.query_one(&format!("SELECT count(*) FROM {table}"), params![])?;
                if rows > 0 {
                    held.push(format!("{table} ({rows} rows)"));
                }
            }
            Ok(held)
        })?;
        anyhow::ensure!(
            nonempty.is_empty(),
            "the target database is not empty: {}; migrate into a new, empty database",
            nonempty.join(", ")
        );

        let order = copy_order(&ours);
        target.write(|tx| {
            for table in &order {
                let shape = &ours[table];
                let rows = self.conn(|conn| conn.query(&select(table, shape), params![]))?;
                copy_table(tx, table, shape, &rows)?;
            }
            Ok(())
        })?;

        let mut copies = Vec::with_capacity(ours.len());
        for (table, shape) in &ours {
            let (rows, sha) = self.conn(|conn| digest(conn, table, shape))?;
            let (their_rows, their_sha) = target.conn(|conn| digest(conn, table, shape))?;
            anyhow::ensure!(
                rows == their_rows && sha == their_sha,
                "the copy of {table} differs from the source ({rows} rows, digest {sha}; \
                 the target holds {their_rows} rows, digest {their_sha}): the target was \
                 written but must not be used"
            );
            copies.push(TableCopy {
                table: table.clone(),
                rows,
                digest: sha,
            });
        }
        Ok(copies)
    }
}

/// Every table of the store (not the migrations' own) with its shape.
fn shapes(conn: &mut dyn Sql) -> anyhow::Result<BTreeMap<String, Shape>> {
    let (tables, columns) = match conn.dialect() {
        Dialect::Sqlite => (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            "SELECT name, pk FROM pragma_table_info(?1) ORDER BY cid",
        ),
        Dialect::Postgres => (
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
               AND table_name <> 'orch_schema_migrations'",
            "SELECT CAST(c.column_name AS TEXT),
                    CAST(coalesce((SELECT k.ordinal_position
                         FROM information_schema.table_constraints t
                         JOIN information_schema.key_column_usage k
                           ON k.constraint_name = t.constraint_name
                          AND k.table_schema = t.table_schema
                         WHERE t.table_schema = c.table_schema AND t.table_name = c.table_name
                           AND t.constraint_type = 'PRIMARY KEY'
                           AND k.column_name = c.column_name), 0) AS BIGINT)
             FROM information_schema.columns c
             WHERE c.table_schema = current_schema() AND c.table_name = ?1
             ORDER BY c.ordinal_position",
        ),
    };
    let names: Vec<String> = conn.query_map(tables, params![], |r| r.get(0))?;
    let mut out = BTreeMap::new();
    for table in names {
        let described: Vec<(String, i64)> =
            conn.query_map(columns, params![table], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let mut key: Vec<(i64, String)> = described
            .iter()
            .filter(|(_, pk)| *pk > 0)
            .map(|(name, pk)| (*pk, name.clone()))
            .collect();
        key.sort();
        out.insert(
            table,
            Shape {
                columns: described.into_iter().map(|(name, _)| name).collect(),
                key: key.into_iter().map(|(_, name)| name).collect(),
            },
        );
    }
    Ok(out)
}

/// The tables to copy, parents first; derived tables left out.
fn copy_order(shapes: &BTreeMap<String, Shape>) -> Vec<String> {
    let mut order: Vec<String> = PARENTS_FIRST
        .iter()
        .filter(|t| shapes.contains_key(**t))
        .map(|t| (*t).to_owned())
        .collect();
    for table in shapes.keys() {
        if !order.contains(table) && !DERIVED.contains(&table.as_str()) {
            order.push(table.clone());
        }
    }
    order
}

/// Every row of `table`, in key order (the order digests are taken in).
fn select(table: &str, shape: &Shape) -> String {
    let order = if shape.key.is_empty() {
        &shape.columns
    } else {
        &shape.key
    };
    format!(
        "SELECT {} FROM {table} ORDER BY {}",
        shape.columns.join(", "),
        order.join(", ")
    )
}

fn copy_table(tx: &mut dyn Sql, table: &str, shape: &Shape, rows: &[Row]) -> anyhow::Result<()> {
    let placeholders: Vec<String> = (1..=shape.columns.len()).map(|i| format!("?{i}")).collect();
    let insert = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        shape.columns.join(", "),
        placeholders.join(", ")
    );
    // A sub-workflow run refers to its parent: every run goes in without it, then gets it back.
    let parent = (table == "runs")
        .then(|| shape.columns.iter().position(|c| c == "parent_run"))
        .flatten();
    let mut parents = Vec::new();
    for row in rows {
        let mut values: Vec<Value> = (0..shape.columns.len())
            .map(|i| row.get::<Value>(i))
            .collect::<anyhow::Result<_>>()?;
        if let Some(p) = parent
            && values[p] != Value::Null
        {
            parents.push((
                values[0].clone(),
                std::mem::replace(&mut values[p], Value::Null),
            ));
        }
        let bound: Vec<&dyn super::sql::ToValue> = values
            .iter()
            .map(|v| v as &dyn super::sql::ToValue)
            .collect();
        tx.execute(&insert, &bound)
            .with_context(|| format!("copying a row of {table}"))?;
    }
    for (id, parent) in &parents {
        tx.execute(
            "UPDATE runs SET parent_run = ?2 WHERE id = ?1",
            params![id, parent],
        )?;
    }
    // Rows copied with their ids: the target's id sequences must continue after them.
    if tx.dialect() == Dialect::Postgres {
        for column in &shape.key {
            let sequence: Option<String> = tx.query_one(
                "SELECT CAST(pg_get_serial_sequence(?1, ?2) AS TEXT)",
                params![table, column],
            )?;
            if let Some(sequence) = sequence {
                tx.query(
                    &format!(
                        "SELECT setval(CAST(?1 AS TEXT), CAST((SELECT coalesce(max({column}), 0) + 1 FROM {table}) AS BIGINT), false)"
                    ),
                    params![sequence],
                )?;
            }
        }
    }
    Ok(())
}

/// How many rows `table` holds and the SHA-256 of them all, in key order.
fn digest(conn: &mut dyn Sql, table: &str, shape: &Shape) -> anyhow::Result<(u64, String)> {
    let rows = conn.query(&select(table, shape), params![])?;
    let mut hash = Sha256::new();
    for row in &rows {
        for i in 0..shape.columns.len() {
            // Each value framed by its kind and length, so no two rows hash alike by accident.
            let (kind, bytes): (u8, Vec<u8>) = match row.get::<Value>(i)? {
                Value::Null => (0, Vec::new()),
                Value::Int(v) => (1, v.to_be_bytes().to_vec()),
                Value::Real(v) => (2, v.to_be_bytes().to_vec()),
                Value::Text(v) => (3, v.into_bytes()),
                Value::Blob(v) => (4, v),
            };
            hash.update([kind]);
            hash.update((bytes.len() as u64).to_be_bytes());
            hash.update(&bytes);
        }
    }
    Ok((rows.len() as u64, hex::encode(hash.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{
        AttemptId, CredentialRow, DeviceRow, FinishedAttempt, JournalBatch, NO_ITEM, NewAttempt,
        NewEvent, NewLog, NewRecord, RunRow, SealedField, now_ms,
    };

    fn run(id: &str, parent: Option<&str>) -> RunRow {
        RunRow {
            id: id.into(),
            workflow: "wf".into(),
            source: "wf.yaml".into(),
            definition: "version: 1".into(),
            workflows_dir: ".".into(),
            input: "{}".into(),
            status: "running".into(),
            reason: None,
            parent_run: parent.map(str::to_owned),
            parent_step: parent.map(|_| "child".to_owned()),
            owner_host: None,
            owner_pid: None,
            lease_until: None,
            cancel_requested: false,
            created_at: now_ms(),
            updated_at: now_ms(),
            output: None,
            errors: None,
            started_by: Some("test".into()),
            lease_token: 0,
            placement: None,
        }
    }

    /// A store with rows in the tables that have a twist: a sub-workflow run (a foreign key to
    /// its own table), journal logs (ids), sealed bytes, catalog records (usage by trigger),
    /// events (ids).
    fn filled() -> Store {
        let store = Store::in_memory().unwrap();
        store.insert_run(&run("parent", None)).unwrap();
        store.insert_run(&run("child", Some("parent"))).unwrap();
        let id = AttemptId {
            exec: "a#1".into(),
            item: NO_ITEM,
            attempt: 1,
        };
        let mut seq = store.next_seq("parent").unwrap();
        let batch = JournalBatch {
            starts: vec![NewAttempt {
                id: id.clone(),
                task: "a".into(),
                action: "core.noop".into(),
                input: "{}".into(),
                idempotency_key: "parent:a#1".into(),
            }],
            ..JournalBatch::default()
        };
        store.commit_batch("parent", &mut seq, &batch).unwrap();
        let batch = JournalBatch {
            finishes: vec![FinishedAttempt {
                id,
                outcome: "{}".into(),
                logs: vec![
                    NewLog {
                        level: "info".into(),
                        message: "é one".into(),
                        fields: None,
                    },
                    NewLog {
                        level: "warn".into(),
                        message: "two".into(),
                        fields: Some("{\"k\":1}".into()),
                    },
                ],
            }],
            events: vec!["e1".into()],
            ..JournalBatch::default()
        };
        store.commit_batch("parent", &mut seq, &batch).unwrap();
        store
            .put_credential(
                &CredentialRow {
                    name: "lab".into(),
                    kind: "password".into(),
                    bindings: vec!["ssh:10.0.0.0/8".into()],
                    packs: vec![],
                    suspended_packs: vec![],
                    public: [("username".to_owned(), "admin".to_owned())].into(),
                    created_at: String::new(),
                    updated_at: String::new(),
                },
                &[SealedField {
                    field: "password".into(),
                    nonce: vec![0, 1, 255],
                    ciphertext: vec![7; 40],
                }],
            )
            .unwrap();
        store
            .upsert_devices(&[DeviceRow {
                name: "R1".into(),
                address: "10.0.0.1".into(),
                port: 22,
                platform: "cisco_ios".into(),
                credential: Some("lab".into()),
                tags: [("site".to_owned(), "lon".to_owned())].into(),
                vars: serde_json::json!({}),
            }])
            .unwrap();
        for value in [1, 2] {
            store
                .put_record(&NewRecord {
                    collection: "configs",
                    key: "R1/running",
                    value: &serde_json::json!(value),
                    writer: "test",
                    step_key: None,
                    invocation_written: None,
                })
                .unwrap();
        }
        store
            .store_events(&[NewEvent {
                kind: "webhook".into(),
                name: "hook".into(),
                received_at: now_ms(),
                payload: "{}".into(),
                dedup_key: Some("d1".into()),
                mark: None,
            }])
            .unwrap();
        store
    }

    #[test]
    fn a_copy_holds_the_same_rows_and_the_target_goes_on_from_them() {
        if !orch_pg_peer::available() {
            eprintln!("skipped: PostgreSQL is not installed (scripts/setup)");
            return;
        }
        let source = filled();
        let target = Store::connect(&orch_pg_peer::server().create_database("copy")).unwrap();
        let copies = source.copy_into(&target).unwrap();
        let rows = |table: &str| {
            copies
                .iter()
                .find(|c| c.table == table)
                .unwrap_or_else(|| panic!("no {table} in {copies:?}"))
                .rows
        };
        assert_eq!(
            (
                rows("runs"),
                rows("logs"),
                rows("records"),
                rows("catalog_usage")
            ),
            (2, 2, 2, 1)
        );
        assert_eq!(rows("credential_secrets"), 1);
        assert_eq!(rows("trigger_events"), 1);
        // What the copy holds reads back as the source's.
        assert_eq!(target.child_runs("parent").unwrap()[0].id, "child");
        assert_eq!(
            target.credential_secrets("lab").unwrap(),
            source.credential_secrets("lab").unwrap()
        );
        assert_eq!(
            target.logs("parent", 0).unwrap(),
            source.logs("parent", 0).unwrap()
        );
        // Ids go on after the copied ones.
        let stored = target
            .store_events(&[NewEvent {
                kind: "webhook".into(),
                name: "hook".into(),
                received_at: now_ms(),
                payload: "{}".into(),
                dedup_key: Some("d2".into()),
                mark: None,
            }])
            .unwrap();
        assert_eq!(stored, vec![crate::store::Stored::New(2)]);
        // A second copy into the same database is refused, naming what it holds.
        let refused = source.copy_into(&target).unwrap_err().to_string();
        assert!(
            refused.contains("not empty") && refused.contains("runs (2 rows)"),
            "{refused}"
        );
    }

    #[test]
    fn the_backends_have_the_same_tables_and_columns() {
        if !orch_pg_peer::available() {
            eprintln!("skipped: PostgreSQL is not installed (scripts/setup)");
            return;
        }
        let sqlite = Store::in_memory().unwrap();
        let postgres = Store::connect(&orch_pg_peer::server().create_database("shape")).unwrap();
        let ours = sqlite.conn(|conn| shapes(conn)).unwrap();
        let theirs = postgres.conn(|conn| shapes(conn)).unwrap();
        assert_eq!(ours, theirs);
    }
}
