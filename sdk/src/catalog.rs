//! The data catalog as the host keeps it: inventory [`Device`]s (read with [`device`] and
//! [`devices`]) and versioned records ([`get`], [`get_version`], [`put`]).
//!
//! Reading the inventory needs the grant `catalog:inventory`; records of a collection need
//! `catalog:COLLECTION` (such as `catalog:configs`). Every [`put`] is kept as a new version with
//! its time and writer; a retry of the same workflow step returns the version it already wrote.
//! The operator bounds what an invocation may write and what a collection may hold: a write
//! past either fails with [`QuotaExceeded`](ErrorCode::QuotaExceeded).
//!
//! ```no_run
//! use orch_sdk::catalog;
//! use orch_sdk::ActionError;
//!
//! fn golden_config(name: &str) -> Result<Option<String>, ActionError> {
//!     let device = catalog::device(name)?;
//!     let key = format!("{}/golden", device.name);
//!     let Some(entry) = catalog::get("configs", &key)? else {
//!         return Ok(None);
//!     };
//!     Ok(entry.value["config"].as_str().map(str::to_owned))
//! }
//!
//! fn store_backup(name: &str, config: &str) -> Result<u64, ActionError> {
//!     let entry = catalog::put("configs", &format!("{name}/backup"), &serde_json::json!({ "config": config }))?;
//!     Ok(entry.version)
//! }
//! ```

use std::collections::BTreeMap;

use serde::Serialize;

use crate::__private::orch::pack::catalog as wit;
use crate::imports::catalog as host;
use crate::{ErrorCode, HostError};

/// A device or host of the inventory.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Device {
    /// Unique name (`R1`).
    pub name: String,
    /// Host name or IP address.
    pub address: String,
    /// SSH port.
    pub port: u16,
    /// Platform (`cisco_ios`, `arista_eos`, `linux`, …).
    pub platform: String,
    /// Name of the vault credential used to log in, if any.
    pub credential: Option<String>,
    /// Tags (`site` = `lab`).
    pub tags: BTreeMap<String, String>,
    /// Free-form variables, a JSON object (`Null` when the inventory gives none).
    pub vars: serde_json::Value,
}

impl Device {
    /// A device called `name` at `address` (port 22) of `platform`, with no credential, tags or
    /// vars; for tests (see [`TestCatalog::add_device`](crate::testing::TestCatalog::add_device)).
    pub fn new(
        name: impl Into<String>,
        address: impl Into<String>,
        platform: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            address: address.into(),
            port: 22,
            platform: platform.into(),
            credential: None,
            tags: BTreeMap::new(),
            vars: serde_json::Value::Null,
        }
    }

    /// With SSH port `port`.
    #[must_use]
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// With vault credential `name` to log in with.
    #[must_use]
    pub fn with_credential(mut self, name: impl Into<String>) -> Self {
        self.credential = Some(name.into());
        self
    }

    /// With tag `key` = `value`.
    #[must_use]
    pub fn with_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// With free-form variables `vars` (a JSON object).
    #[must_use]
    pub fn with_vars(mut self, vars: serde_json::Value) -> Self {
        self.vars = vars;
        self
    }

    /// The string variable `name` of [`vars`](Self::vars), if set.
    pub fn var_str(&self, name: &str) -> Option<&str> {
        self.vars.get(name).and_then(serde_json::Value::as_str)
    }

    fn from_wit(device: wit::Device) -> Result<Self, HostError> {
        let vars = parse_json(&device.vars, "vars of inventory device", &device.name)?;
        Ok(Self {
            name: device.name,
            address: device.address,
            port: device.port,
            platform: device.platform,
            credential: device.credential,
            tags: device.tags.into_iter().collect(),
            vars,
        })
    }
}

/// One version of a record.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Entry {
    /// Collection (`configs`).
    pub collection: String,
    /// Key in the collection (`R1/golden`).
    pub key: String,
    /// Version, from 1.
    pub version: u64,
    /// The document.
    pub value: serde_json::Value,
    /// When written (RFC 3339).
    pub written_at: String,
    /// Who wrote it (`run 0193… task store_golden`, `cli root`).
    pub writer: String,
}

impl Entry {
    fn from_wit(entry: wit::Entry) -> Result<Self, HostError> {
        let value = parse_json(&entry.value, "record", &entry.key)?;
        Ok(Self {
            collection: entry.collection,
            key: entry.key,
            version: entry.version,
            value,
            written_at: entry.written_at,
            writer: entry.writer,
        })
    }
}

/// JSON from the host; the host only stores valid JSON, so a failure is a protocol error.
fn parse_json(text: &str, what: &str, name: &str) -> Result<serde_json::Value, HostError> {
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_str(text).map_err(|err| {
        HostError::new(
            ErrorCode::Protocol,
            format!("the host sent {what} {name:?} that is not JSON: {err}"),
        )
    })
}

/// The inventory device called `name`. Fails with [`NotFound`](ErrorCode::NotFound) when there
/// is none, [`Denied`](ErrorCode::Denied) without the grant `catalog:inventory`.
pub fn device(name: &str) -> Result<Device, HostError> {
    Device::from_wit(host::get_device(name)?)
}

/// The inventory devices having every `(key, value)` tag given (all devices for `&[]`), by name.
pub fn devices(tags: &[(&str, &str)]) -> Result<Vec<Device>, HostError> {
    let tags: Vec<(String, String)> = tags
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    host::find_devices(&tags)?
        .into_iter()
        .map(Device::from_wit)
        .collect()
}

/// The latest version of the record `key` of `collection`, `None` when it does not exist.
pub fn get(collection: &str, key: &str) -> Result<Option<Entry>, HostError> {
    host::get(collection, key, None)?
        .map(Entry::from_wit)
        .transpose()
}

/// Version `version` of the record `key` of `collection`, `None` when it does not exist.
pub fn get_version(collection: &str, key: &str, version: u64) -> Result<Option<Entry>, HostError> {
    host::get(collection, key, Some(version))?
        .map(Entry::from_wit)
        .transpose()
}

/// Writes `value` as a new version of the record `key` of `collection` and returns it. Fails
/// with [`Invalid`](ErrorCode::Invalid) when `value` does not serialise to JSON,
/// [`TooLarge`](ErrorCode::TooLarge) when it is over 4 MiB, and
/// [`QuotaExceeded`](ErrorCode::QuotaExceeded) when the operator's byte budgets refuse it (what
/// one invocation may write, what the collection may hold) or after the invocation's 1,000th
/// write.
pub fn put(collection: &str, key: &str, value: &impl Serialize) -> Result<Entry, HostError> {
    let json = serde_json::to_string(value).map_err(|err| {
        HostError::new(
            ErrorCode::Invalid,
            format!(
                "the value for record {key:?} of {collection:?} does not serialise to JSON: {err}"
            ),
        )
    })?;
    Entry::from_wit(host::put(collection, key, &json)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_vars_and_tags_convert() {
        let device = Device::from_wit(wit::Device {
            name: "R1".to_owned(),
            address: "127.0.0.1".to_owned(),
            port: 2222,
            platform: "cisco_ios".to_owned(),
            credential: Some("lab".to_owned()),
            tags: vec![("site".to_owned(), "lab".to_owned())],
            vars: r#"{"enable_credential":"lab-enable"}"#.to_owned(),
        })
        .expect("converts");
        assert_eq!(device.tags.get("site").map(String::as_str), Some("lab"));
        assert_eq!(device.var_str("enable_credential"), Some("lab-enable"));
        assert_eq!(device.var_str("missing"), None);
    }

    #[test]
    fn empty_vars_are_null_and_bad_json_is_a_protocol_error() {
        assert_eq!(parse_json("", "vars", "R1"), Ok(serde_json::Value::Null));
        let err = parse_json("{", "record", "k").expect_err("not JSON");
        assert_eq!(err.code(), ErrorCode::Protocol);
    }
}
