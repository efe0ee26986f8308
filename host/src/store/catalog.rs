//! The data catalog's tables: the inventory of devices, the versioned records, the collections'
//! policies and their usage.
//!
//! Every write checks the byte budgets (`policy::catalog`) inside its serializable write
//! transaction, against the usage the triggers of the schema keep: two processes writing to one
//! collection at once are serialised (by SQLite's write lock, or PostgreSQL runs the loser
//! again), so neither can pass the quota on a figure the other is about to change. Pruning
//! selects and deletes in one transaction too.

use std::collections::{BTreeMap, HashSet};

use super::sql::{Row, Sql, params};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{FINISHED_RUN_STATUSES, Store, now, rfc3339};
use crate::policy::catalog::{
    self as policy, Aged, CollectionUse, InvocationUse, Keep, Policy, QuotaExceeded,
};

/// One device of the inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceRow {
    /// Unique name.
    pub name: String,
    /// Host name or IP address.
    pub address: String,
    /// SSH port.
    pub port: u16,
    /// Platform (`cisco_ios`, …).
    pub platform: String,
    /// Vault credential to log in with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Free-form variables (a JSON object).
    #[serde(default = "empty_object")]
    pub vars: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// One version of a record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordRow {
    /// Collection.
    pub collection: String,
    /// Key.
    pub key: String,
    /// Version, from 1.
    pub version: u64,
    /// The document.
    pub value: serde_json::Value,
    /// When written (RFC 3339).
    pub written_at: String,
    /// Who wrote it.
    pub writer: String,
    /// Bytes it counts for in the budgets (`policy::catalog::version_size`).
    pub size: u64,
}

/// A version to write.
#[derive(Debug, Clone, Copy)]
pub struct NewRecord<'a> {
    /// Collection.
    pub collection: &'a str,
    /// Key.
    pub key: &'a str,
    /// The document.
    pub value: &'a serde_json::Value,
    /// Who writes it.
    pub writer: &'a str,
    /// The idempotency key of the step writing it: a second write with the same key returns the
    /// version the first one wrote (a retried step writes once).
    pub step_key: Option<&'a str>,
    /// Bytes the writing invocation (a pack's, a workflow step's) wrote before this one: the
    /// per-invocation budget applies. `None` when the operator writes (the CLI): only the
    /// collection's quota does.
    pub invocation_written: Option<u64>,
}

/// What a write did.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The version written, or the one a retried step wrote before.
    pub row: RecordRow,
    /// False when the step key found an earlier version: nothing was added.
    pub added: bool,
}

/// Why a write was not made.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    /// A byte budget refused it.
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

impl From<serde_json::Error> for PutError {
    fn from(err: serde_json::Error) -> Self {
        Self::Store(err.into())
    }
}

/// What a collection holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectionUsage {
    /// Collection.
    pub collection: String,
    /// Versions kept, of all keys.
    pub versions: u64,
    /// Bytes they count for.
    pub bytes: u64,
}

/// What pruning removed (or, in a dry run, would remove) from one collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// Collection.
    pub collection: String,
    /// The keep rules applied.
    pub keep: Keep,
    /// Versions removed.
    pub removed_versions: u64,
    /// Bytes they counted for.
    pub removed_bytes: u64,
    /// Versions kept.
    pub kept_versions: u64,
    /// Bytes they count for.
    pub kept_bytes: u64,
    /// Versions kept only because the workflow run that wrote them has not finished.
    pub held_versions: u64,
}

/// A key of a collection with its latest version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordKey {
    /// Key.
    pub key: String,
    /// Latest version.
    pub version: u64,
    /// When the latest version was written.
    pub written_at: String,
}

const DEVICE_COLUMNS: &str = "name, address, port, platform, credential, tags, vars";

fn device_row(row: &Row) -> anyhow::Result<DeviceRow> {
    Ok(DeviceRow {
        name: row.get(0)?,
        address: row.get(1)?,
        port: u16::try_from(row.get::<i64>(2)?).unwrap_or(0),
        platform: row.get(3)?,
        credential: row.get(4)?,
        tags: row.json(5)?,
        vars: row.json(6)?,
    })
}

const RECORD_COLUMNS: &str = "collection, key, version, value, written_at, writer, size";

fn record_row(row: &Row) -> anyhow::Result<RecordRow> {
    Ok(RecordRow {
        collection: row.get(0)?,
        key: row.get(1)?,
        version: u64::try_from(row.get::<i64>(2)?).unwrap_or(0),
        value: row.json(3)?,
        written_at: row.get(4)?,
        writer: row.get(5)?,
        size: unsigned(row.get(6)?),
    })
}

/// A count or size from the store, where it is an i64 that is never negative.
fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A count or size for the store.
fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

const POLICY_COLUMNS: &str = "keep_last, keep_days, keep_all, max_bytes, invocation_bytes";

fn policy_row(row: &Row) -> anyhow::Result<Policy> {
    let count = |idx: usize| -> anyhow::Result<Option<u32>> {
        Ok(row
            .get::<Option<i64>>(idx)?
            .map(|v| u32::try_from(v).unwrap_or(u32::MAX)))
    };
    Ok(Policy {
        keep_last: count(0)?,
        keep_days: count(1)?,
        keep_all: row.get::<i64>(2)? != 0,
        max_bytes: row.get::<Option<i64>>(3)?.map(unsigned),
        invocation_bytes: row.get::<Option<i64>>(4)?.map(unsigned),
    })
}

fn policy_of(conn: &mut dyn Sql, collection: &str) -> anyhow::Result<Option<Policy>> {
    conn.query_opt(
        &format!("SELECT {POLICY_COLUMNS} FROM catalog_policies WHERE collection = ?1"),
        params![collection],
        policy_row,
    )
}

fn bytes_held(conn: &mut dyn Sql, collection: &str) -> anyhow::Result<u64> {
    Ok(conn
        .query_opt(
            "SELECT bytes FROM catalog_usage WHERE collection = ?1",
            params![collection],
            |row| row.get::<i64>(0),
        )?
        .map_or(0, unsigned))
}

/// What an inventory import did to one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportChange {
    /// New device.
    Added,
    /// Existing device with different fields.
    Changed,
    /// Existing device, same fields.
    Unchanged,
}

impl Store {
    /// Adds or updates `devices` in one transaction; what happened to each, in order.
    pub fn upsert_devices(&self, devices: &[DeviceRow]) -> anyhow::Result<Vec<ImportChange>> {
        let now = now();
        let select = format!("SELECT {DEVICE_COLUMNS} FROM inventory WHERE name = ?1");
        self.write(|tx| {
            let mut changes = Vec::with_capacity(devices.len());
            for device in devices {
                let existing = tx.query_opt(&select, params![device.name], device_row)?;
                let change = match existing {
                    None => ImportChange::Added,
                    Some(old) if old == *device => ImportChange::Unchanged,
                    Some(_) => ImportChange::Changed,
                };
                if change != ImportChange::Unchanged {
                    tx.execute(
                        "INSERT INTO inventory
                     (name, address, port, platform, credential, tags, vars, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
                     ON CONFLICT (name) DO UPDATE SET address = ?2, port = ?3, platform = ?4,
                       credential = ?5, tags = ?6, vars = ?7, updated_at = ?8",
                        params![
                            device.name,
                            device.address,
                            i64::from(device.port),
                            device.platform,
                            device.credential,
                            serde_json::to_string(&device.tags)?,
                            serde_json::to_string(&device.vars)?,
                            now
                        ],
                    )?;
                }
                changes.push(change);
            }
            Ok(changes)
        })
    }

    /// The device called `name`.
    pub fn device(&self, name: &str) -> anyhow::Result<Option<DeviceRow>> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM inventory WHERE name = ?1");
        self.conn(|conn| conn.query_opt(&sql, params![name], device_row))
    }

    /// The devices whose address is `address`, by name.
    pub fn devices_at(&self, address: &str) -> anyhow::Result<Vec<DeviceRow>> {
        let sql =
            format!("SELECT {DEVICE_COLUMNS} FROM inventory WHERE address = ?1 ORDER BY name");
        self.conn(|conn| conn.query_map(&sql, params![address], device_row))
    }

    /// Every device, by name.
    pub fn devices(&self) -> anyhow::Result<Vec<DeviceRow>> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM inventory ORDER BY name");
        self.conn(|conn| conn.query_map(&sql, params![], device_row))
    }

    /// Removes device `name`; whether it existed.
    pub fn remove_device(&self, name: &str) -> anyhow::Result<bool> {
        let removed =
            self.write(|tx| tx.execute("DELETE FROM inventory WHERE name = ?1", params![name]))?;
        Ok(removed > 0)
    }

    /// Writes a new version, or returns the one its step wrote before (see
    /// [`NewRecord::step_key`]), after checking the byte budgets in the same transaction.
    pub fn put_record(&self, record: &NewRecord<'_>) -> Result<Written, PutError> {
        self.put_record_at(record, OffsetDateTime::now_utc())
    }

    /// [`put_record`](Self::put_record) with the time the version is recorded as written at
    /// (tests age versions with it instead of waiting).
    pub fn put_record_at(
        &self,
        record: &NewRecord<'_>,
        at: OffsetDateTime,
    ) -> Result<Written, PutError> {
        let NewRecord {
            collection,
            key,
            value,
            writer,
            step_key,
            invocation_written,
        } = *record;
        let text = serde_json::to_string(value)?;
        let written_at = rfc3339(at);
        let size = policy::version_size(&[
            collection,
            key,
            &text,
            &written_at,
            writer,
            step_key.unwrap_or_default(),
        ]);
        let earlier_sql = format!(
            "SELECT {RECORD_COLUMNS} FROM records
             WHERE collection = ?1 AND key = ?2 AND step_key = ?3"
        );
        let written = self.write(|tx| {
            if let Some(step_key) = step_key {
                let earlier =
                    tx.query_opt(&earlier_sql, params![collection, key, step_key], record_row)?;
                // A retry adds nothing, so no budget is asked: it succeeds even over quota.
                if let Some(earlier) = earlier {
                    return Ok(Written {
                        row: earlier,
                        added: false,
                    });
                }
            }
            let own = policy_of(tx, collection)?;
            let default = policy_of(tx, policy::DEFAULT)?;
            let effective = policy::effective(own.as_ref(), default.as_ref());
            let invocation = invocation_written.map(|written| {
                let (budget, from) = policy::invocation_budget(default.as_ref());
                InvocationUse {
                    written,
                    budget,
                    from,
                }
            });
            let usage = CollectionUse {
                used: bytes_held(tx, collection)?,
                quota: effective.max_bytes,
                from: effective.max_bytes_from,
            };
            policy::check_write(collection, key, size, invocation, usage)
                .map_err(anyhow::Error::new)?;
            let version: i64 = tx.query_one(
            "SELECT coalesce(max(version), 0) + 1 FROM records WHERE collection = ?1 AND key = ?2",
            params![collection, key],
        )?;
            tx.execute(
                "INSERT INTO records
             (collection, key, version, value, written_at, writer, step_key, size)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    collection,
                    key,
                    version,
                    text,
                    written_at,
                    writer,
                    step_key,
                    signed(size)
                ],
            )?;
            Ok(Written {
                row: RecordRow {
                    collection: collection.to_owned(),
                    key: key.to_owned(),
                    version: unsigned(version),
                    value: value.clone(),
                    written_at: written_at.clone(),
                    writer: writer.to_owned(),
                    size,
                },
                added: true,
            })
        });
        written.map_err(|err| match err.downcast::<QuotaExceeded>() {
            Ok(quota) => PutError::Quota(quota),
            Err(err) => PutError::Store(err),
        })
    }

    /// Version `version` of a record, or its latest when `None`.
    pub fn record(
        &self,
        collection: &str,
        key: &str,
        version: Option<u64>,
    ) -> anyhow::Result<Option<RecordRow>> {
        self.conn(|conn| match version {
            Some(version) => conn.query_opt(
                &format!(
                    "SELECT {RECORD_COLUMNS} FROM records
                     WHERE collection = ?1 AND key = ?2 AND version = ?3"
                ),
                params![collection, key, signed(version)],
                record_row,
            ),
            None => conn.query_opt(
                &format!(
                    "SELECT {RECORD_COLUMNS} FROM records WHERE collection = ?1 AND key = ?2
                     ORDER BY version DESC LIMIT 1"
                ),
                params![collection, key],
                record_row,
            ),
        })
    }

    /// Every version of a record, newest first.
    pub fn record_history(&self, collection: &str, key: &str) -> anyhow::Result<Vec<RecordRow>> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE collection = ?1 AND key = ?2
             ORDER BY version DESC"
        );
        self.conn(|conn| conn.query_map(&sql, params![collection, key], record_row))
    }

    /// The keys of `collection` (or of every collection, as `collection/key`, when `None`) with
    /// their latest version, optionally only keys starting with `prefix`.
    pub fn record_keys(
        &self,
        collection: Option<&str>,
        prefix: &str,
    ) -> anyhow::Result<Vec<(String, RecordKey)>> {
        self.conn(|conn| {
            conn.query_map(
                "SELECT collection, key, max(version), max(written_at) FROM records
             WHERE (CAST(?1 AS TEXT) IS NULL OR collection = ?1)
               AND substr(key, 1, length(CAST(?2 AS TEXT))) = ?2
             GROUP BY collection, key ORDER BY collection, key",
                params![collection, prefix],
                |row| {
                    Ok((
                        row.get::<String>(0)?,
                        RecordKey {
                            key: row.get(1)?,
                            version: u64::try_from(row.get::<i64>(2)?).unwrap_or(0),
                            written_at: row.get(3)?,
                        },
                    ))
                },
            )
        })
    }

    /// The policy set for `collection` (or `*`), if any.
    pub fn catalog_policy(&self, collection: &str) -> anyhow::Result<Option<Policy>> {
        self.conn(|conn| policy_of(conn, collection))
    }

    /// Every policy set, by collection (`*` sorts first).
    pub fn catalog_policies(&self) -> anyhow::Result<Vec<(String, Policy)>> {
        let sql = format!(
            "SELECT collection, {POLICY_COLUMNS} FROM catalog_policies ORDER BY collection"
        );
        self.conn(|conn| {
            conn.query_map(&sql, params![], |row| {
                let collection: String = row.get(0)?;
                let count = |idx: usize| -> anyhow::Result<Option<u32>> {
                    Ok(row
                        .get::<Option<i64>>(idx)?
                        .map(|v| u32::try_from(v).unwrap_or(u32::MAX)))
                };
                Ok((
                    collection,
                    Policy {
                        keep_last: count(1)?,
                        keep_days: count(2)?,
                        keep_all: row.get::<i64>(3)? != 0,
                        max_bytes: row.get::<Option<i64>>(4)?.map(unsigned),
                        invocation_bytes: row.get::<Option<i64>>(5)?.map(unsigned),
                    },
                ))
            })
        })
    }

    /// Sets the policy of `collection` (or `*`) to what `change` makes of the one set now, in one
    /// transaction; returns it. A change that leaves nothing set removes the policy.
    pub fn change_catalog_policy(
        &self,
        collection: &str,
        change: impl Fn(Option<Policy>) -> Policy,
    ) -> anyhow::Result<Policy> {
        let updated_at = rfc3339(OffsetDateTime::now_utc());
        self.write(|tx| {
            let policy = change(policy_of(tx, collection)?);
            if policy.is_empty() {
                tx.execute(
                    "DELETE FROM catalog_policies WHERE collection = ?1",
                    params![collection],
                )?;
            } else {
                tx.execute(
                    "INSERT INTO catalog_policies
                 (collection, keep_last, keep_days, keep_all, max_bytes, invocation_bytes,
                  updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (collection) DO UPDATE SET keep_last = ?2, keep_days = ?3,
                   keep_all = ?4, max_bytes = ?5, invocation_bytes = ?6, updated_at = ?7",
                    params![
                        collection,
                        policy.keep_last,
                        policy.keep_days,
                        i64::from(policy.keep_all),
                        policy.max_bytes.map(signed),
                        policy.invocation_bytes.map(signed),
                        updated_at,
                    ],
                )?;
            }
            Ok(policy)
        })
    }

    /// Forgets the policy of `collection` (or `*`); whether there was one.
    pub fn remove_catalog_policy(&self, collection: &str) -> anyhow::Result<bool> {
        let removed = self.write(|tx| {
            tx.execute(
                "DELETE FROM catalog_policies WHERE collection = ?1",
                params![collection],
            )
        })?;
        Ok(removed > 0)
    }

    /// What each collection holding records holds, by collection.
    pub fn catalog_usage(&self) -> anyhow::Result<Vec<CollectionUsage>> {
        self.conn(|conn| {
            conn.query_map(
                "SELECT collection, versions, bytes FROM catalog_usage ORDER BY collection",
                params![],
                |row| {
                    Ok(CollectionUsage {
                        collection: row.get(0)?,
                        versions: unsigned(row.get(1)?),
                        bytes: unsigned(row.get(2)?),
                    })
                },
            )
        })
    }

    /// Removes the versions the keep rules in force let go, in `collection` or in every
    /// collection, as of `now`; with `dry_run`, only reports what it would remove. The latest
    /// version of every key is never removed (the DELETE itself refuses it), nor is a version a
    /// workflow run wrote while that run has not finished: a retry of its step must find the
    /// version under its step key, or it would write the value again as a new latest version.
    pub fn prune_records(
        &self,
        collection: Option<&str>,
        now: OffsetDateTime,
        dry_run: bool,
    ) -> anyhow::Result<Vec<PruneReport>> {
        let held_sql = format!(
            "SELECT DISTINCT a.idempotency_key FROM attempts a JOIN runs r ON r.id = a.run_id
             WHERE r.status NOT IN ({})",
            FINISHED_RUN_STATUSES
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.write(|tx| {
            let default = policy_of(tx, policy::DEFAULT)?;
            let held_keys: HashSet<String> = tx
                .query_map(&held_sql, params![], |row| row.get(0))?
                .into_iter()
                .collect();
            let usage: Vec<(String, u64, u64)> = tx.query_map(
                "SELECT collection, versions, bytes FROM catalog_usage
             WHERE CAST(?1 AS TEXT) IS NULL OR collection = ?1 ORDER BY collection",
                params![collection],
                |row| Ok((row.get(0)?, unsigned(row.get(1)?), unsigned(row.get(2)?))),
            )?;
            let mut reports = Vec::with_capacity(usage.len());
            for (name, versions, bytes) in usage {
                let own = policy_of(tx, &name)?;
                let keep = policy::effective(own.as_ref(), default.as_ref()).keep;
                let mut report = PruneReport {
                    collection: name.clone(),
                    keep,
                    removed_versions: 0,
                    removed_bytes: 0,
                    kept_versions: versions,
                    kept_bytes: bytes,
                    held_versions: 0,
                };
                if keep.keeps_all() {
                    reports.push(report);
                    continue;
                }
                // Every version's metadata (not its value), newest first within each key.
                let rows: Vec<(String, i64, String, u64, Option<String>)> = tx.query_map(
                    "SELECT key, version, written_at, size, step_key FROM records
                 WHERE collection = ?1 ORDER BY key, version DESC",
                    params![name],
                    |row| {
                        Ok((
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            unsigned(row.get(3)?),
                            row.get(4)?,
                        ))
                    },
                )?;
                for versions in rows.chunk_by(|a, b| a.0 == b.0) {
                    let aged: Vec<Aged> = versions
                        .iter()
                        .map(|(_, _, at, _, step_key)| Aged {
                            written_at: OffsetDateTime::parse(
                                at,
                                &time::format_description::well_known::Rfc3339,
                            )
                            .ok(),
                            held: step_key.as_ref().is_some_and(|k| held_keys.contains(k)),
                        })
                        .collect();
                    let gone = policy::prunable(keep, &aged, now);
                    let unheld: Vec<Aged> =
                        aged.iter().map(|a| Aged { held: false, ..*a }).collect();
                    let without_holds = policy::prunable(keep, &unheld, now).len();
                    report.held_versions +=
                        u64::try_from(without_holds.saturating_sub(gone.len())).unwrap_or(0);
                    for index in gone {
                        let (key, version, _, size, _) = &versions[index];
                        if !dry_run
                        && tx.execute(
                            "DELETE FROM records WHERE collection = ?1 AND key = ?2 AND version = ?3
                             AND version < (SELECT max(version) FROM records
                                            WHERE collection = ?1 AND key = ?2)",
                            params![name, key, version],
                        )? == 0
                    {
                        continue;
                    }
                        report.removed_versions += 1;
                        report.removed_bytes += size;
                        report.kept_versions = report.kept_versions.saturating_sub(1);
                        report.kept_bytes = report.kept_bytes.saturating_sub(*size);
                    }
                }
                reports.push(report);
            }
            // A dry run deleted nothing: its commit changes nothing.
            Ok(reports)
        })
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::store::{AttemptId, JournalBatch, NO_ITEM, NewAttempt, RunRow, now_ms};

    fn record<'a>(
        collection: &'a str,
        key: &'a str,
        value: &'a serde_json::Value,
        step_key: Option<&'a str>,
        invocation_written: Option<u64>,
    ) -> NewRecord<'a> {
        NewRecord {
            collection,
            key,
            value,
            writer: "run r task t",
            step_key,
            invocation_written,
        }
    }

    fn set_quota(store: &Store, collection: &str, bytes: u64) {
        store
            .change_catalog_policy(collection, |_| Policy {
                max_bytes: Some(bytes),
                ..Policy::default()
            })
            .unwrap();
    }

    /// The usage table against the records it summarises.
    fn usage_matches_records(store: &Store) {
        let summed: Vec<(String, i64, i64)> = store
            .conn(|conn| {
                conn.query_map(
                    "SELECT collection, count(*), CAST(sum(size) AS BIGINT) FROM records
                     GROUP BY collection ORDER BY collection",
                    params![],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
            })
            .unwrap();
        let kept: Vec<(String, i64, i64)> = store
            .catalog_usage()
            .unwrap()
            .into_iter()
            .map(|u| (u.collection, signed(u.versions), signed(u.bytes)))
            .collect();
        assert_eq!(kept, summed);
    }

    fn quota_error(err: PutError) -> QuotaExceeded {
        match err {
            PutError::Quota(quota) => quota,
            PutError::Store(err) => panic!("the store failed: {err:#}"),
        }
    }

    #[test]
    fn a_write_that_would_pass_the_collections_quota_is_refused_and_adds_nothing() {
        crate::store::testing::each_backend(|store| {
            let value = serde_json::json!("x".repeat(1000));
            // One time for all: every version of these keys has the same size.
            let at = datetime!(2026-11-20 12:00 UTC);
            let first = store
                .put_record_at(&record("notes", "a", &value, None, None), at)
                .unwrap();
            assert!(first.added);
            // The size counts every text kept for the version, not only the value.
            assert!(
                first.row.size > 1002 + policy::VERSION_OVERHEAD,
                "{}",
                first.row.size
            );
            set_quota(&store, "notes", 2 * first.row.size);
            store
                .put_record_at(&record("notes", "b", &value, None, None), at)
                .unwrap();
            let refused = quota_error(
                store
                    .put_record_at(&record("notes", "c", &value, None, None), at)
                    .unwrap_err(),
            );
            assert!(
                matches!(refused, QuotaExceeded::Collection { used, quota, .. }
                    if used == 2 * first.row.size && quota == used),
                "{refused:?}"
            );
            assert!(store.record("notes", "c", None).unwrap().is_none());
            // Other collections have their own quota (the built-in one here).
            store
                .put_record(&record("other", "c", &value, None, None))
                .unwrap();
            usage_matches_records(&store);
        });
    }

    #[test]
    fn the_invocation_budget_counts_what_the_invocation_wrote_before() {
        crate::store::testing::each_backend(|store| {
            store
                .change_catalog_policy(policy::DEFAULT, |_| Policy {
                    invocation_bytes: Some(10_000),
                    ..Policy::default()
                })
                .unwrap();
            let value = serde_json::json!("x".repeat(4000));
            let written = store
                .put_record(&record("notes", "a", &value, None, Some(0)))
                .unwrap();
            let size = written.row.size;
            store
                .put_record(&record("notes", "b", &value, None, Some(size)))
                .unwrap();
            let refused = quota_error(
                store
                    .put_record(&record("notes", "c", &value, None, Some(2 * size)))
                    .unwrap_err(),
            );
            assert!(
                matches!(refused, QuotaExceeded::Invocation { written, budget: 10_000, from: policy::Source::Default, .. } if written == 2 * size),
                "{refused:?}"
            );
            // The operator (no invocation) is not held to it.
            store
                .put_record(&record("notes", "c", &value, None, None))
                .unwrap();
        });
    }

    #[test]
    fn a_retried_step_gets_its_version_back_even_over_quota() {
        crate::store::testing::each_backend(|store| {
            let value = serde_json::json!({"config": "x"});
            let first = store
                .put_record(&record("configs", "R1", &value, Some("run1:a#1"), Some(0)))
                .unwrap();
            set_quota(&store, "configs", 0);
            let again = store
                .put_record(&record("configs", "R1", &value, Some("run1:a#1"), Some(0)))
                .unwrap();
            assert!(!again.added);
            assert_eq!(again.row, first.row);
            assert!(
                store
                    .put_record(&record("configs", "R1", &value, Some("run1:a#2"), Some(0)))
                    .is_err()
            );
        });
    }

    #[test]
    fn concurrent_writers_cannot_pass_a_quota_together() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orch.db");
        let setup = Store::open(&path).unwrap();
        let value = serde_json::json!("x".repeat(10_000));
        // One time and keys of one length: every version has the same size.
        let at = datetime!(2026-11-20 12:00 UTC);
        let size = setup
            .put_record_at(&record("race", "w0/00", &value, None, None), at)
            .unwrap()
            .row
            .size;
        // Room for ten more versions; two writers try twenty each, on their own connections.
        set_quota(&setup, "race", 11 * size);
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let path = path.clone();
                let value = value.clone();
                std::thread::spawn(move || {
                    let store = Store::open(&path).unwrap();
                    let mut accepted = 0;
                    for i in 1..=20 {
                        let key = format!("w{w}/{i:02}");
                        match store.put_record_at(&record("race", &key, &value, None, None), at) {
                            Ok(_) => accepted += 1,
                            Err(PutError::Quota(_)) => {}
                            Err(PutError::Store(err)) => panic!("{err:#}"),
                        }
                    }
                    accepted
                })
            })
            .collect();
        let accepted: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
        assert_eq!(accepted, 10);
        let usage = setup.catalog_usage().unwrap();
        assert_eq!(usage[0].bytes, 11 * size);
        usage_matches_records(&setup);
    }

    #[test]
    fn prune_keeps_the_latest_and_what_an_unfinished_run_wrote() {
        crate::store::testing::each_backend(|store| {
            let now = datetime!(2026-11-20 12:00 UTC);
            let put = |key: &str, days_ago: i64, step_key: Option<&str>| {
                let value = serde_json::json!({"key": key, "age": days_ago});
                store
                    .put_record_at(
                        &record("configs", key, &value, step_key, None),
                        now - time::Duration::days(days_ago),
                    )
                    .unwrap()
            };
            // R1: five versions, the middle one written by a step of a run still going.
            put("R1", 40, None);
            put("R1", 30, None);
            put("R1", 20, Some("run1:backup#1"));
            put("R1", 10, None);
            put("R1", 1, None);
            // R2: a single, very old version: the latest of its key.
            put("R2", 400, None);
            let run = RunRow {
                id: "run1".into(),
                workflow: "wf".into(),
                source: "wf.yaml".into(),
                definition: "tasks: {}".into(),
                workflows_dir: ".".into(),
                input: "{}".into(),
                status: "running".into(),
                reason: None,
                parent_run: None,
                parent_step: None,
                owner_host: None,
                owner_pid: None,
                lease_until: None,
                cancel_requested: false,
                created_at: now_ms(),
                updated_at: now_ms(),
                output: None,
                errors: None,
                started_by: None,
                lease_token: 0,
                placement: None,
            };
            store.insert_run(&run).unwrap();
            let mut seq = store.next_seq("run1").unwrap();
            let start = JournalBatch {
                starts: vec![NewAttempt {
                    id: AttemptId {
                        exec: "backup#1".into(),
                        item: NO_ITEM,
                        attempt: 1,
                    },
                    task: "backup".into(),
                    action: "core.catalog_put".into(),
                    input: "{}".into(),
                    idempotency_key: "run1:backup#1".into(),
                }],
                ..JournalBatch::default()
            };
            store.commit_batch("run1", &mut seq, &start).unwrap();

            // No keep rule: nothing goes.
            let all = store.prune_records(None, now, false).unwrap();
            assert_eq!(all[0].removed_versions, 0);
            assert_eq!(all[0].kept_versions, 6);

            store
                .change_catalog_policy("configs", |_| Policy {
                    keep_last: Some(1),
                    ..Policy::default()
                })
                .unwrap();
            let versions = |key: &str| -> Vec<u64> {
                store
                    .record_history("configs", key)
                    .unwrap()
                    .iter()
                    .map(|r| r.version)
                    .collect()
            };
            let dry = store.prune_records(Some("configs"), now, true).unwrap();
            assert_eq!(
                (dry[0].removed_versions, dry[0].held_versions),
                (3, 1),
                "{dry:?}"
            );
            assert_eq!(
                versions("R1"),
                vec![5, 4, 3, 2, 1],
                "a dry run removes nothing"
            );

            let pruned = store.prune_records(Some("configs"), now, false).unwrap();
            assert_eq!(pruned, dry);
            assert_eq!(versions("R1"), vec![5, 3]);
            assert_eq!(versions("R2"), vec![1]);
            usage_matches_records(&store);
            // The step finds its version on retry, though the rules let it go.
            let retried = store
                .put_record(&record(
                    "configs",
                    "R1",
                    &serde_json::json!(null),
                    Some("run1:backup#1"),
                    Some(0),
                ))
                .unwrap();
            assert_eq!((retried.added, retried.row.version), (false, 3));

            // Once the run is over its step is never retried: the version may go.
            store
                .conn(|conn| {
                    conn.execute(
                        "UPDATE runs SET status = 'succeeded' WHERE id = 'run1'",
                        params![],
                    )
                })
                .unwrap();
            let after = store.prune_records(None, now, false).unwrap();
            assert_eq!((after[0].removed_versions, after[0].held_versions), (1, 0));
            assert_eq!(versions("R1"), vec![5]);
            usage_matches_records(&store);
        });
    }

    #[test]
    fn the_latest_version_cannot_be_deleted_by_prune_even_when_selected() {
        // The DELETE itself refuses the latest: the guard does not depend on the selection.
        crate::store::testing::each_backend(|store| {
            let value = serde_json::json!(1);
            store
                .put_record(&record("configs", "R1", &value, None, None))
                .unwrap();
            let deleted = store
                .conn(|conn| {
                    conn.execute(
                        "DELETE FROM records WHERE collection = ?1 AND key = ?2 AND version = ?3
                         AND version < (SELECT max(version) FROM records
                                        WHERE collection = ?1 AND key = ?2)",
                        params!["configs", "R1", 1],
                    )
                })
                .unwrap();
            assert_eq!(deleted, 0);
            let updated = store.conn(|conn| conn.execute("UPDATE records SET size = 0", params![]));
            assert!(
                updated.is_err_and(|e| format!("{e:#}").contains("append-only")),
                "records must stay append-only"
            );
        });
    }

    #[test]
    fn sizes_backfilled_by_the_migration_match_what_writes_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orch.db");
        {
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            crate::store::schema::migrations()
                .to_version(&mut conn, crate::store::schema::BEFORE_CATALOG_BUDGETS)
                .unwrap();
            conn.execute(
                "INSERT INTO records (collection, key, version, value, written_at, writer, step_key)
                 VALUES ('configs', 'R1/golden', 1, '\"hostname R1 é\"', '2026-11-01T10:00:00Z',
                         'cli root', NULL),
                        ('configs', 'R1/golden', 2, '{\"a\":1}', '2026-11-02T10:00:00.5Z',
                         'run x task t', 'x:t#1')",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let v1 = store
            .record("configs", "R1/golden", Some(1))
            .unwrap()
            .unwrap();
        let v2 = store
            .record("configs", "R1/golden", Some(2))
            .unwrap()
            .unwrap();
        assert_eq!(
            v1.size,
            policy::version_size(&[
                "configs",
                "R1/golden",
                "\"hostname R1 é\"",
                "2026-11-01T10:00:00Z",
                "cli root",
                ""
            ])
        );
        assert_eq!(
            v2.size,
            policy::version_size(&[
                "configs",
                "R1/golden",
                "{\"a\":1}",
                "2026-11-02T10:00:00.5Z",
                "run x task t",
                "x:t#1"
            ])
        );
        usage_matches_records(&store);
    }

    fn device(name: &str, address: &str) -> DeviceRow {
        DeviceRow {
            name: name.into(),
            address: address.into(),
            port: 22,
            platform: "cisco_ios".into(),
            credential: Some("lab".into()),
            tags: BTreeMap::from([("site".into(), "lab".into())]),
            vars: empty_object(),
        }
    }

    #[test]
    fn reimport_reports_added_changed_and_unchanged() {
        crate::store::testing::each_backend(|store| {
            let first = store
                .upsert_devices(&[device("r1", "10.0.0.1"), device("r2", "10.0.0.2")])
                .unwrap();
            assert_eq!(first, vec![ImportChange::Added, ImportChange::Added]);
            let second = store
                .upsert_devices(&[device("r1", "10.0.0.1"), device("r2", "10.0.0.9")])
                .unwrap();
            assert_eq!(second, vec![ImportChange::Unchanged, ImportChange::Changed]);
            assert_eq!(store.device("r2").unwrap().unwrap().address, "10.0.0.9");
            assert!(store.remove_device("r1").unwrap());
            assert_eq!(store.devices().unwrap().len(), 1);
        });
    }

    #[test]
    fn records_are_versioned_and_a_retried_step_writes_once() {
        crate::store::testing::each_backend(|store| {
            let a = serde_json::json!({"config": "a"});
            let b = serde_json::json!({"config": "b"});
            let v1 = store
                .put_record(&record("configs", "R1/golden", &a, None, None))
                .unwrap()
                .row;
            let v2 = store
                .put_record(&record("configs", "R1/golden", &b, Some("step-1"), None))
                .unwrap()
                .row;
            let again = store
                .put_record(&record("configs", "R1/golden", &b, Some("step-1"), None))
                .unwrap()
                .row;
            assert_eq!((v1.version, v2.version, again.version), (1, 2, 2));
            assert_eq!(
                store
                    .record("configs", "R1/golden", None)
                    .unwrap()
                    .unwrap()
                    .value,
                b
            );
            assert_eq!(
                store
                    .record("configs", "R1/golden", Some(1))
                    .unwrap()
                    .unwrap()
                    .value,
                a
            );
            assert_eq!(
                store.record_history("configs", "R1/golden").unwrap().len(),
                2
            );
            let keys = store.record_keys(Some("configs"), "R1/").unwrap();
            assert_eq!(keys.len(), 1);
            assert_eq!(keys[0].1.version, 2);
            assert!(
                store
                    .record("configs", "R2/golden", None)
                    .unwrap()
                    .is_none()
            );
        });
    }
}
