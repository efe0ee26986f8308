//! `orch:pack/catalog`: the inventory and versioned records, for packs holding catalog grants.
//!
//! `catalog:inventory` opens device reads; `catalog:COLLECTION` opens reads and writes of that
//! collection's records. Writes are recorded with the invocation's run and task as writer, and
//! keyed by its idempotency key so a retried step does not write a second version.
//!
//! A grant is not a licence to fill the disk: each value is capped, an invocation may make a
//! bounded number of writes, and the store checks every write against the invocation's byte
//! budget and the collection's quota (`policy::catalog`) inside its write transaction. A
//! refusal is `quota-exceeded`, naming the budget and the operator's fix.

use super::broker::CapabilityContext;
use super::{ErrorCode, HostError, host_error};
use crate::catalog;
use crate::contract::orch::pack::catalog::{Device, Entry, Host};
use crate::policy::grants::Capability;
use crate::store::{DeviceRow, NewRecord, PutError, RecordRow, Store};

/// Bytes of one record value a pack may write.
const MAX_VALUE_BYTES: usize = 4 << 20;
/// Records a pack may write in one invocation.
const MAX_WRITES: usize = 1_000;

/// The catalog capability of one invocation.
pub struct CatalogCapability {
    context: CapabilityContext,
    writer: String,
    step_key: String,
    writes: usize,
    /// Bytes this invocation's writes added, for its budget.
    bytes_written: u64,
}

impl CatalogCapability {
    /// The capability for one invocation, writing as the run and task it comes from.
    pub fn lend(lending: &super::Lending) -> Self {
        let call = lending.call;
        Self {
            writer: catalog::run_writer(&call.run_id, &call.task),
            step_key: call.idempotency_key.clone(),
            context: lending.context.clone(),
            writes: 0,
            bytes_written: 0,
        }
    }

    fn store(&self) -> Result<&Store, HostError> {
        self.context
            .broker
            .store()
            .ok_or_else(|| host_error(ErrorCode::NotFound, "this host has no catalog".to_owned()))
    }

    fn check_inventory(&self) -> Result<(), HostError> {
        if self.context.grants.admits_inventory_reads() {
            Ok(())
        } else {
            Err(denied(&self.context.pack, "inventory"))
        }
    }

    fn check_collection(&self, collection: &str) -> Result<(), HostError> {
        catalog::check_collection(collection)
            .map_err(|err| host_error(ErrorCode::Invalid, err.to_string()))?;
        if self.context.grants.admits_collection(collection) {
            Ok(())
        } else {
            Err(denied(&self.context.pack, collection))
        }
    }
}

fn denied(pack: &str, what: &str) -> HostError {
    host_error(
        ErrorCode::Denied,
        format!(
            "pack {pack:?} holds no grant {cap}:{what}; the operator grants it with: orch pack \
             grant {pack} {cap}:{what}",
            cap = Capability::Catalog.as_str()
        ),
    )
}

fn internal(err: anyhow::Error) -> HostError {
    host_error(ErrorCode::Protocol, format!("the catalog failed: {err:#}"))
}

fn to_device(row: DeviceRow) -> Device {
    Device {
        name: row.name,
        address: row.address,
        port: row.port,
        platform: row.platform,
        credential: row.credential,
        tags: row.tags.into_iter().collect(),
        vars: row.vars.to_string(),
    }
}

fn to_entry(row: RecordRow) -> Entry {
    Entry {
        collection: row.collection,
        key: row.key,
        version: row.version,
        value: row.value.to_string(),
        written_at: row.written_at,
        writer: row.writer,
    }
}

impl Host for CatalogCapability {
    async fn get_device(&mut self, name: String) -> Result<Device, HostError> {
        self.check_inventory()?;
        match self.store()?.device(&name).map_err(internal)? {
            Some(device) => Ok(to_device(device)),
            None => Err(host_error(
                ErrorCode::NotFound,
                format!("no device named {name:?} in the inventory"),
            )),
        }
    }

    async fn find_devices(
        &mut self,
        tags: Vec<(String, String)>,
    ) -> Result<Vec<Device>, HostError> {
        self.check_inventory()?;
        let devices = catalog::devices_matching(self.store()?, &tags).map_err(internal)?;
        Ok(devices.into_iter().map(to_device).collect())
    }

    async fn get(
        &mut self,
        collection: String,
        key: String,
        version: Option<u64>,
    ) -> Result<Option<Entry>, HostError> {
        self.check_collection(&collection)?;
        catalog::check_key(&key).map_err(|err| host_error(ErrorCode::Invalid, err.to_string()))?;
        let row = self
            .store()?
            .record(&collection, &key, version)
            .map_err(internal)?;
        Ok(row.map(to_entry))
    }

    async fn put(
        &mut self,
        collection: String,
        key: String,
        value: String,
    ) -> Result<Entry, HostError> {
        self.check_collection(&collection)?;
        catalog::check_key(&key).map_err(|err| host_error(ErrorCode::Invalid, err.to_string()))?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(host_error(
                ErrorCode::TooLarge,
                format!("a record value is at most {} MiB", MAX_VALUE_BYTES >> 20),
            ));
        }
        if self.writes >= MAX_WRITES {
            return Err(host_error(
                ErrorCode::QuotaExceeded,
                format!(
                    "an invocation may write at most {MAX_WRITES} records; write fewer, larger \
                     records or split the work over several invocations"
                ),
            ));
        }
        let value: serde_json::Value = serde_json::from_str(&value).map_err(|err| {
            host_error(
                ErrorCode::Invalid,
                format!("the record value is not JSON: {err}"),
            )
        })?;
        // Values pass the masker: a secret must not land in the catalog in clear.
        let masker = self.context.broker.masker();
        let value = if masker.is_empty() {
            value
        } else {
            let masked = masker
                .mask_or_refuse(value.to_string().into_bytes())
                .ok_or_else(|| {
                    host_error(
                        ErrorCode::Denied,
                        "the record value contains a stored credential in an encoded form the \
                         host cannot mask; it is not written"
                            .to_owned(),
                    )
                })?;
            serde_json::from_slice(&masked).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&masked).into_owned())
            })
        };
        self.writes += 1;
        let step_key = (!self.step_key.is_empty()).then_some(self.step_key.as_str());
        let written = self
            .store()?
            .put_record(&NewRecord {
                collection: &collection,
                key: &key,
                value: &value,
                writer: &self.writer,
                step_key,
                invocation_written: Some(self.bytes_written),
            })
            .map_err(|err| match err {
                PutError::Quota(quota) => host_error(ErrorCode::QuotaExceeded, quota.to_string()),
                PutError::Store(err) => internal(err),
            })?;
        if written.added {
            self.bytes_written = self.bytes_written.saturating_add(written.row.size);
        }
        Ok(to_entry(written.row))
    }
}
