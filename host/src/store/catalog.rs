//! The data catalog's tables: the inventory of devices and the versioned records.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::{Store, now};

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

fn json_column<T: serde::de::DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, err.into())
    })
}

const DEVICE_COLUMNS: &str = "name, address, port, platform, credential, tags, vars";

fn device_row(row: &Row<'_>) -> rusqlite::Result<DeviceRow> {
    Ok(DeviceRow {
        name: row.get(0)?,
        address: row.get(1)?,
        port: u16::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
        platform: row.get(3)?,
        credential: row.get(4)?,
        tags: json_column(row, 5)?,
        vars: json_column(row, 6)?,
    })
}

const RECORD_COLUMNS: &str = "collection, key, version, value, written_at, writer";

fn record_row(row: &Row<'_>) -> rusqlite::Result<RecordRow> {
    Ok(RecordRow {
        collection: row.get(0)?,
        key: row.get(1)?,
        version: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
        value: json_column(row, 3)?,
        written_at: row.get(4)?,
        writer: row.get(5)?,
    })
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
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = now();
        let mut changes = Vec::with_capacity(devices.len());
        for device in devices {
            let existing = tx
                .query_row(
                    &format!("SELECT {DEVICE_COLUMNS} FROM inventory WHERE name = ?1"),
                    [&device.name],
                    device_row,
                )
                .optional()?;
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
        tx.commit()?;
        Ok(changes)
    }

    /// The device called `name`.
    pub fn device(&self, name: &str) -> anyhow::Result<Option<DeviceRow>> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                &format!("SELECT {DEVICE_COLUMNS} FROM inventory WHERE name = ?1"),
                [name],
                device_row,
            )
            .optional()?)
    }

    /// Every device, by name.
    pub fn devices(&self) -> anyhow::Result<Vec<DeviceRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {DEVICE_COLUMNS} FROM inventory ORDER BY name"
        ))?;
        let rows = stmt.query_map([], device_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes device `name`; whether it existed.
    pub fn remove_device(&self, name: &str) -> anyhow::Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let removed = tx.execute("DELETE FROM inventory WHERE name = ?1", [name])? > 0;
        tx.commit()?;
        Ok(removed)
    }

    /// Writes a new version of `collection`/`key`. With a `step_key`, a second write with the
    /// same key returns the version the first one wrote (a retried step writes once).
    pub fn put_record(
        &self,
        collection: &str,
        key: &str,
        value: &serde_json::Value,
        writer: &str,
        step_key: Option<&str>,
    ) -> anyhow::Result<RecordRow> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(step_key) = step_key {
            let earlier = tx
                .query_row(
                    &format!(
                        "SELECT {RECORD_COLUMNS} FROM records
                         WHERE collection = ?1 AND key = ?2 AND step_key = ?3"
                    ),
                    params![collection, key, step_key],
                    record_row,
                )
                .optional()?;
            if let Some(earlier) = earlier {
                return Ok(earlier);
            }
        }
        let version: i64 = tx.query_row(
            "SELECT coalesce(max(version), 0) + 1 FROM records WHERE collection = ?1 AND key = ?2",
            params![collection, key],
            |row| row.get(0),
        )?;
        let now = now();
        tx.execute(
            "INSERT INTO records (collection, key, version, value, written_at, writer, step_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                collection,
                key,
                version,
                serde_json::to_string(value)?,
                now,
                writer,
                step_key
            ],
        )?;
        tx.commit()?;
        Ok(RecordRow {
            collection: collection.to_owned(),
            key: key.to_owned(),
            version: u64::try_from(version).unwrap_or(0),
            value: value.clone(),
            written_at: now,
            writer: writer.to_owned(),
        })
    }

    /// Version `version` of a record, or its latest when `None`.
    pub fn record(
        &self,
        collection: &str,
        key: &str,
        version: Option<u64>,
    ) -> anyhow::Result<Option<RecordRow>> {
        let conn = self.conn();
        let row = match version {
            Some(version) => conn
                .query_row(
                    &format!(
                        "SELECT {RECORD_COLUMNS} FROM records
                         WHERE collection = ?1 AND key = ?2 AND version = ?3"
                    ),
                    params![collection, key, i64::try_from(version).unwrap_or(i64::MAX)],
                    record_row,
                )
                .optional()?,
            None => conn
                .query_row(
                    &format!(
                        "SELECT {RECORD_COLUMNS} FROM records WHERE collection = ?1 AND key = ?2
                         ORDER BY version DESC LIMIT 1"
                    ),
                    params![collection, key],
                    record_row,
                )
                .optional()?,
        };
        Ok(row)
    }

    /// Every version of a record, newest first.
    pub fn record_history(&self, collection: &str, key: &str) -> anyhow::Result<Vec<RecordRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE collection = ?1 AND key = ?2
             ORDER BY version DESC"
        ))?;
        let rows = stmt.query_map(params![collection, key], record_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The keys of `collection` (or of every collection, as `collection/key`, when `None`) with
    /// their latest version, optionally only keys starting with `prefix`.
    pub fn record_keys(
        &self,
        collection: Option<&str>,
        prefix: &str,
    ) -> anyhow::Result<Vec<(String, RecordKey)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT collection, key, max(version), max(written_at) FROM records
             WHERE (?1 IS NULL OR collection = ?1) AND substr(key, 1, length(?2)) = ?2
             GROUP BY collection, key ORDER BY collection, key",
        )?;
        let rows = stmt.query_map(params![collection, prefix], |row| {
            Ok((
                row.get::<_, String>(0)?,
                RecordKey {
                    key: row.get(1)?,
                    version: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                    written_at: row.get(3)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let store = Store::in_memory().unwrap();
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
    }

    #[test]
    fn records_are_versioned_and_a_retried_step_writes_once() {
        let store = Store::in_memory().unwrap();
        let a = serde_json::json!({"config": "a"});
        let b = serde_json::json!({"config": "b"});
        let v1 = store
            .put_record("configs", "R1/golden", &a, "cli", None)
            .unwrap();
        let v2 = store
            .put_record("configs", "R1/golden", &b, "run x", Some("step-1"))
            .unwrap();
        let again = store
            .put_record("configs", "R1/golden", &b, "run x", Some("step-1"))
            .unwrap();
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
    }
}
