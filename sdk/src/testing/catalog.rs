//! The test host's catalog: inventory devices and versioned records kept in memory, with the
//! host's rules for versions (each write a new version, from 1) and scripted failures.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::catalog::{Device, Entry};
use crate::{ErrorCode, HostError};

/// The time every test write carries: fixed, so tests compare whole entries.
const WRITTEN_AT: &str = "2026-01-01T00:00:00Z";
/// The writer every test write carries, in the host's shape (`run … task …`).
const WRITER: &str = "run test-run task test-task";

#[derive(Debug, Default)]
pub(super) struct CatalogState {
    devices: BTreeMap<String, Device>,
    /// (collection, key) → every version, oldest first.
    records: BTreeMap<(String, String), Vec<Entry>>,
    failures: BTreeMap<String, HostError>,
    writes: Vec<Entry>,
}

impl CatalogState {
    fn check(&self, collection: &str) -> Result<(), HostError> {
        match self.failures.get(collection) {
            Some(err) => Err(err.clone()),
            None => Ok(()),
        }
    }

    pub(super) fn device(&self, name: &str) -> Result<Device, HostError> {
        self.check("inventory")?;
        self.devices.get(name).cloned().ok_or_else(|| {
            HostError::new(
                ErrorCode::NotFound,
                format!(
                    "device {name:?} is not in the test host's inventory; add it with \
                     host.catalog().add_device(Device::new({name:?}, ...))"
                ),
            )
        })
    }

    pub(super) fn devices(&self, tags: &[(String, String)]) -> Result<Vec<Device>, HostError> {
        self.check("inventory")?;
        Ok(self
            .devices
            .values()
            .filter(|device| {
                tags.iter()
                    .all(|(k, v)| device.tags.get(k).is_some_and(|have| have == v))
            })
            .cloned()
            .collect())
    }

    pub(super) fn get(
        &self,
        collection: &str,
        key: &str,
        version: Option<u64>,
    ) -> Result<Option<Entry>, HostError> {
        self.check(collection)?;
        let versions = self.records.get(&(collection.to_owned(), key.to_owned()));
        Ok(versions.and_then(|versions| match version {
            None => versions.last().cloned(),
            Some(v) => versions.iter().find(|e| e.version == v).cloned(),
        }))
    }

    pub(super) fn put(
        &mut self,
        collection: &str,
        key: &str,
        value: serde_json::Value,
    ) -> Result<Entry, HostError> {
        self.check(collection)?;
        let entry = self.store(collection, key, value);
        self.writes.push(entry.clone());
        Ok(entry)
    }

    fn store(&mut self, collection: &str, key: &str, value: serde_json::Value) -> Entry {
        let versions = self
            .records
            .entry((collection.to_owned(), key.to_owned()))
            .or_default();
        let entry = Entry {
            collection: collection.to_owned(),
            key: key.to_owned(),
            version: versions.last().map_or(1, |last| last.version + 1),
            value,
            written_at: WRITTEN_AT.to_owned(),
            writer: WRITER.to_owned(),
        };
        versions.push(entry.clone());
        entry
    }
}

/// The catalog side of a [`TestHost`](super::TestHost): every collection is readable and
/// writable unless [`fail`](Self::fail) says otherwise.
#[derive(Debug)]
pub struct TestCatalog<'a> {
    state: &'a RefCell<CatalogState>,
}

impl<'a> TestCatalog<'a> {
    pub(super) fn new(state: &'a RefCell<CatalogState>) -> Self {
        Self { state }
    }

    /// Adds (or replaces) an inventory device.
    pub fn add_device(&self, device: Device) -> &Self {
        self.state
            .borrow_mut()
            .devices
            .insert(device.name.clone(), device);
        self
    }

    /// Writes `value` as a new version of a record before the action runs (not counted in
    /// [`writes`](Self::writes)).
    pub fn record(&self, collection: &str, key: &str, value: serde_json::Value) -> &Self {
        self.state.borrow_mut().store(collection, key, value);
        self
    }

    /// Every read and write of `collection` fails with `code`; `inventory` for the devices
    /// (`Denied` without a grant, `QuotaExceeded` for a full collection, …).
    pub fn fail(&self, collection: &str, code: ErrorCode, message: impl Into<String>) -> &Self {
        self.state
            .borrow_mut()
            .failures
            .insert(collection.to_owned(), HostError::new(code, message));
        self
    }

    /// Every version of a record, oldest first.
    pub fn versions(&self, collection: &str, key: &str) -> Vec<Entry> {
        self.state
            .borrow()
            .records
            .get(&(collection.to_owned(), key.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    /// The latest version of a record.
    pub fn latest(&self, collection: &str, key: &str) -> Option<Entry> {
        self.versions(collection, key).pop()
    }

    /// Every version the action wrote, in order.
    pub fn writes(&self) -> Vec<Entry> {
        self.state.borrow().writes.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::super::TestHost;
    use crate::catalog::{self, Device};
    use crate::{ActionError, ErrorCode};
    use serde_json::json;

    /// A catalog action as a pack writes one: back up a device's config next to the last one.
    fn backup(name: &str, config: &str) -> Result<(u64, Option<String>), ActionError> {
        let device = catalog::device(name)?;
        let key = format!("{}/backup", device.name);
        let previous = catalog::get("configs", &key)?
            .and_then(|entry| entry.value["config"].as_str().map(str::to_owned));
        let entry = catalog::put("configs", &key, &json!({ "config": config }))?;
        Ok((entry.version, previous))
    }

    #[test]
    fn records_round_trip_with_increasing_versions() {
        let host = TestHost::new();
        host.catalog()
            .add_device(Device::new("R1", "10.0.0.1", "cisco_ios"))
            .record("configs", "R1/backup", json!({ "config": "old" }));

        assert_eq!(backup("R1", "new"), Ok((2, Some("old".to_owned()))));
        assert_eq!(backup("R1", "newer"), Ok((3, Some("new".to_owned()))));

        let writes = host.catalog().writes();
        assert_eq!(writes.len(), 2);
        assert_eq!(writes[1].value, json!({ "config": "newer" }));
        assert_eq!(writes[1].writer, "run test-run task test-task");
        let first = catalog::get_version("configs", "R1/backup", 1)
            .expect("readable")
            .expect("version 1 exists");
        assert_eq!(first.value, json!({ "config": "old" }));
        assert_eq!(
            host.catalog()
                .latest("configs", "R1/backup")
                .map(|e| e.version),
            Some(3)
        );
        assert_eq!(catalog::get("configs", "R2/backup"), Ok(None));
    }

    #[test]
    fn devices_are_found_by_name_and_tags() {
        let host = TestHost::new();
        host.catalog()
            .add_device(
                Device::new("R2", "10.0.0.2", "arista_eos")
                    .with_tag("site", "lab")
                    .with_port(2222)
                    .with_credential("lab")
                    .with_vars(json!({ "enable_credential": "lab-enable" })),
            )
            .add_device(Device::new("R1", "10.0.0.1", "cisco_ios").with_tag("site", "lab"))
            .add_device(Device::new("R3", "10.0.0.3", "cisco_ios").with_tag("site", "dc"));
        let lab: Vec<String> = catalog::devices(&[("site", "lab")])
            .expect("readable")
            .into_iter()
            .map(|d| d.name)
            .collect();
        assert_eq!(lab, ["R1", "R2"]);
        let r2 = catalog::device("R2").expect("R2 exists");
        assert_eq!((r2.port, r2.credential.as_deref()), (2222, Some("lab")));
        assert_eq!(r2.var_str("enable_credential"), Some("lab-enable"));
        let missing = catalog::device("R9").expect_err("no R9");
        assert_eq!(missing.code(), ErrorCode::NotFound);
    }

    #[test]
    fn scripted_catalog_failures_reach_the_action() {
        let host = TestHost::new();
        host.catalog()
            .add_device(Device::new("R1", "10.0.0.1", "cisco_ios"))
            .fail("configs", ErrorCode::QuotaExceeded, "configs is full");
        let err = backup("R1", "x").expect_err("quota");
        assert_eq!(
            (err.code(), err.message()),
            ("quota_exceeded", "configs is full")
        );
        assert!(host.catalog().writes().is_empty());
    }
}
