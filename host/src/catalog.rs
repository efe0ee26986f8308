//! The data catalog's rules: inventory files (YAML or CSV) parsed and checked, names of
//! collections and keys, who wrote a record, and the operations on collections' policies and
//! pruning (`policy.rs` holds their pure rules). SQL lives in `store::catalog`; the CLI, the
//! workflow built-ins and the `catalog` capability all go through here.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::policy::catalog::{self as policy, Effective, Policy, QuotaExceeded, Source};
use crate::store::{
    DeviceRow, ImportChange, NewRecord, PruneReport, PutError, RecordRow, Store, Written,
};

/// Bad catalog input a user can fix.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The inventory file is unusable.
    #[error("inventory {file}: {message}")]
    Inventory {
        /// The file.
        file: String,
        /// What is wrong, with the device or line.
        message: String,
    },
    /// A collection name is invalid.
    #[error(
        "invalid collection {0:?}: use 1 to 64 lowercase letters, digits, '_' or '-' (e.g. configs)"
    )]
    Collection(String),
    /// A key is invalid.
    #[error(
        "invalid key {0:?}: use 1 to 256 letters, digits and '_', '-', '.', ':', '/' (e.g. R1/golden), \
         not starting or ending with '/'"
    )]
    Key(String),
    /// A record value that cannot be stored.
    #[error("{0}")]
    Value(String),
    /// A `--tag` filter that is not key=value.
    #[error("tag filter {0:?} is not key=value (e.g. --tag site=lab)")]
    TagFilter(String),
    /// No such device.
    #[error("no device named {0:?} in the inventory; see it with: orch inventory list")]
    NoDevice(String),
    /// A byte budget refused a write.
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
    /// A policy that cannot be set as asked.
    #[error("{0}")]
    Policy(String),
    /// No policy to remove.
    #[error("{0:?} has no policy of its own; see the policies with: orch catalog policy list")]
    NoPolicy(String),
    /// Pruning a collection that holds nothing.
    #[error("collection {0:?} holds no records; see the collections with: orch catalog list")]
    NoCollection(String),
    /// No such record.
    #[error("no record {collection}/{key}{}; see the keys with: orch catalog list {collection}", version.map(|v| format!(" version {v}")).unwrap_or_default())]
    NoRecord {
        /// Collection.
        collection: String,
        /// Key.
        key: String,
        /// Version asked for.
        version: Option<u64>,
    },
}

/// Checks a collection name.
pub fn check_collection(name: &str) -> Result<(), CatalogError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(CatalogError::Collection(name.to_owned()))
    }
}

/// Checks a record key.
pub fn check_key(key: &str) -> Result<(), CatalogError> {
    let ok = !key.is_empty()
        && key.len() <= 256
        && !key.starts_with('/')
        && !key.ends_with('/')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'/'));
    if ok {
        Ok(())
    } else {
        Err(CatalogError::Key(key.to_owned()))
    }
}

/// The writer of a record written from the command line.
pub fn cli_writer() -> String {
    use std::os::unix::fs::MetadataExt as _;
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| match std::fs::metadata("/proc/self") {
            // Without a user name in the environment (cron, containers), the uid still says who.
            Ok(meta) => format!("uid {}", meta.uid()),
            Err(_) => "unknown".to_owned(),
        });
    format!("cli {user}")
}

/// The writer of a record written by a workflow step.
pub fn run_writer(run_id: &str, task: &str) -> String {
    if run_id.is_empty() {
        format!("action {task}")
    } else {
        format!("run {run_id} task {task}")
    }
}

/// One device as an inventory file gives it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceEntry {
    name: String,
    address: String,
    #[serde(default)]
    port: Option<u16>,
    platform: String,
    #[serde(default)]
    credential: Option<String>,
    #[serde(default)]
    tags: Tags,
    #[serde(default)]
    vars: Option<serde_json::Value>,
}

/// Tags as a map (`{site: lab}`) or a list of `key=value` strings.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum Tags {
    #[default]
    None,
    Map(BTreeMap<String, serde_json::Value>),
    List(Vec<String>),
}

/// The documented shape: `devices:` and the list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryFile {
    devices: Vec<DeviceEntry>,
}

/// Reads an inventory file: YAML (`devices:` list, or a bare list) or CSV (by extension `.csv`:
/// columns name, address, port, platform, credential, tags as `k=v;k=v`, vars as JSON).
pub fn parse_inventory(path: &Path) -> anyhow::Result<Vec<DeviceRow>> {
    let file = path.display().to_string();
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading inventory {file}"))?;
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let entries = if is_csv {
        parse_csv(&file, &text)?
    } else {
        parse_yaml(&file, &text)?
    };
    let bad = |message: String| CatalogError::Inventory {
        file: file.clone(),
        message,
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut devices = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let position = index + 1;
        if let Some(first) = seen.insert(entry.name.clone(), position) {
            return Err(bad(format!(
                "device {:?} appears twice (entries {first} and {position}); names must be unique",
                entry.name
            ))
            .into());
        }
        devices.push(
            check_device(entry).map_err(|message| bad(format!("entry {position}: {message}")))?,
        );
    }
    Ok(devices)
}

fn parse_yaml(file: &str, text: &str) -> anyhow::Result<Vec<DeviceEntry>> {
    let options = || {
        let mut options = serde_saphyr::Options::default();
        options.strict_booleans = true;
        options.with_snippet = false;
        options
    };
    let bad = |err: serde_saphyr::Error| CatalogError::Inventory {
        file: file.to_owned(),
        message: format!(
            "{err}; expected `devices:` followed by a list of {{name, address, port, platform, \
             credential, tags, vars}}"
        ),
    };
    // A bare list is accepted too. Look at the shape first, then parse with the one type that
    // fits, so an error names the real problem (an unknown field, a missing one) and its line
    // rather than "matches no variant".
    let shape: serde_json::Value =
        serde_saphyr::from_str_with_options(text, options()).map_err(bad)?;
    if shape.is_array() {
        Ok(serde_saphyr::from_str_with_options(text, options()).map_err(bad)?)
    } else {
        let wrapped: InventoryFile =
            serde_saphyr::from_str_with_options(text, options()).map_err(bad)?;
        Ok(wrapped.devices)
    }
}

fn parse_csv(file: &str, text: &str) -> anyhow::Result<Vec<DeviceEntry>> {
    let bad = |message: String| CatalogError::Inventory {
        file: file.to_owned(),
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|err| bad(format!("reading the header line: {err}")))?
        .clone();
    let known = [
        "name",
        "address",
        "port",
        "platform",
        "credential",
        "tags",
        "vars",
    ];
    if let Some(unknown) = headers.iter().find(|h| !known.contains(h)) {
        return Err(bad(format!(
            "unknown column {unknown:?}; the columns are {}",
            known.join(", ")
        ))
        .into());
    }
    let column = |record: &csv::StringRecord, name: &str| -> Option<String> {
        headers
            .iter()
            .position(|h| h == name)
            .and_then(|i| record.get(i))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let mut entries = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = record.map_err(|err| bad(format!("line {line}: {err}")))?;
        let required = |name: &str| {
            column(&record, name).ok_or_else(|| bad(format!("line {line}: the {name} is empty")))
        };
        let port = match column(&record, "port") {
            Some(port) => Some(port.parse::<u16>().map_err(|_| {
                bad(format!(
                    "line {line}: port {port:?} is not a number from 1 to 65535"
                ))
            })?),
            None => None,
        };
        let tags = column(&record, "tags")
            .map(|tags| {
                Tags::List(
                    tags.split(';')
                        .map(|t| t.trim().to_owned())
                        .filter(|t| !t.is_empty())
                        .collect(),
                )
            })
            .unwrap_or_default();
        let vars = match column(&record, "vars") {
            Some(vars) => Some(
                serde_json::from_str(&vars)
                    .map_err(|err| bad(format!("line {line}: vars is not JSON: {err}")))?,
            ),
            None => None,
        };
        entries.push(DeviceEntry {
            name: required("name")?,
            address: required("address")?,
            port,
            platform: required("platform")?,
            credential: column(&record, "credential"),
            tags,
            vars,
        });
    }
    Ok(entries)
}

fn check_device(entry: DeviceEntry) -> Result<DeviceRow, String> {
    let name = entry.name;
    let valid_name = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !valid_name {
        return Err(format!(
            "invalid device name {name:?}: use letters, digits, '_', '-' or '.'"
        ));
    }
    if let Err(err) = crate::policy::network::parse_ip_literal(&entry.address) {
        return Err(format!("device {name:?}: {err}"));
    }
    if entry.address.is_empty() || entry.address.contains(['/', ' ', '@']) {
        return Err(format!(
            "device {name:?}: invalid address {:?}",
            entry.address
        ));
    }
    let port = entry.port.unwrap_or(22);
    if port == 0 {
        return Err(format!("device {name:?}: port 0 is not a valid port"));
    }
    let platform = entry.platform;
    if platform.is_empty()
        || !platform
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(format!(
            "device {name:?}: invalid platform {platform:?} (e.g. cisco_ios, arista_eos, linux)"
        ));
    }
    let tags = match entry.tags {
        Tags::None => BTreeMap::new(),
        Tags::Map(map) => map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect(),
        Tags::List(list) => list
            .into_iter()
            .map(|tag| match tag.split_once('=') {
                Some((k, v)) => Ok((k.trim().to_owned(), v.trim().to_owned())),
                None => Err(format!("device {name:?}: tag {tag:?} is not key=value")),
            })
            .collect::<Result<_, _>>()?,
    };
    if let Some((k, _)) = tags.iter().find(|(k, v)| k.is_empty() || v.is_empty()) {
        return Err(format!(
            "device {name:?}: tag {k:?} has an empty key or value"
        ));
    }
    let vars = entry
        .vars
        .unwrap_or_else(|| serde_json::Value::Object(serde_json::Map::new()));
    if !vars.is_object() {
        return Err(format!("device {name:?}: vars must be a mapping"));
    }
    Ok(DeviceRow {
        name,
        address: entry.address,
        port,
        platform,
        credential: entry.credential.filter(|c| !c.is_empty()),
        tags,
        vars,
    })
}

/// Parses `key=value` tag filters.
pub fn parse_tag_filters(filters: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    filters
        .iter()
        .map(|f| {
            f.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| CatalogError::TagFilter(f.clone()).into())
        })
        .collect()
}

/// The devices having every tag of `filters`, by name.
pub fn devices_matching(
    store: &Store,
    filters: &[(String, String)],
) -> anyhow::Result<Vec<DeviceRow>> {
    Ok(store
        .devices()?
        .into_iter()
        .filter(|d| filters.iter().all(|(k, v)| d.tags.get(k) == Some(v)))
        .collect())
}

/// Imports `devices`: what happened to each, by name.
pub fn import(store: &Store, devices: &[DeviceRow]) -> anyhow::Result<Vec<(String, ImportChange)>> {
    let changes = store.upsert_devices(devices)?;
    Ok(devices
        .iter()
        .map(|d| d.name.clone())
        .zip(changes)
        .collect())
}

/// Reads a record, checking the names first.
pub fn get(
    store: &Store,
    collection: &str,
    key: &str,
    version: Option<u64>,
) -> anyhow::Result<Option<RecordRow>> {
    check_collection(collection)?;
    check_key(key)?;
    store.record(collection, key, version)
}

/// Writes a record, checking the names first. A byte budget's refusal is
/// [`CatalogError::Quota`].
pub fn put(store: &Store, record: &NewRecord<'_>) -> anyhow::Result<Written> {
    check_collection(record.collection)?;
    check_key(record.key)?;
    store.put_record(record).map_err(|err| match err {
        PutError::Quota(quota) => CatalogError::Quota(quota).into(),
        PutError::Store(err) => err,
    })
}

/// A change to a policy as the operator asks it: each setting given replaces the one set
/// before; the others stay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyChange {
    /// Keep the newest N versions of each key (drops `keep_all`).
    pub keep_last: Option<u32>,
    /// Keep the versions of the last D days (drops `keep_all`).
    pub keep_days: Option<u32>,
    /// Keep every version (drops `keep_last` and `keep_days`).
    pub keep_all: bool,
    /// The collection's quota in bytes.
    pub max_bytes: Option<u64>,
    /// The per-invocation budget in bytes (`*` only).
    pub invocation_bytes: Option<u64>,
}

/// A collection's policy as set and as in force, with what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyView {
    /// Collection, or `*`.
    pub collection: String,
    /// What its own policy sets; `None` when it has none.
    pub set: Option<Policy>,
    /// What is in force, and where each part comes from.
    pub effective: Effective,
    /// Versions it holds (`None` for `*`).
    pub versions: Option<u64>,
    /// Bytes they count for (`None` for `*`).
    pub bytes: Option<u64>,
}

impl PolicyView {
    /// Whether the collection holds more than its quota (after the quota was lowered).
    pub fn over_quota(&self) -> bool {
        self.bytes.is_some_and(|b| b > self.effective.max_bytes)
    }
}

/// Every policy in force: the `*` default first, then each collection that has a policy or
/// holds records; and the per-invocation budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policies {
    /// Bytes one invocation may write.
    pub invocation_bytes: u64,
    /// Where that budget comes from.
    pub invocation_bytes_from: Source,
    /// The default policy, then the collections by name.
    pub collections: Vec<PolicyView>,
}

fn check_policy_name(collection: &str) -> Result<(), CatalogError> {
    if collection == policy::DEFAULT {
        Ok(())
    } else {
        check_collection(collection)
    }
}

/// Changes the policy of `collection` (or `*`) and returns it as now in force.
pub fn set_policy(
    store: &Store,
    collection: &str,
    change: PolicyChange,
) -> anyhow::Result<PolicyView> {
    check_policy_name(collection)?;
    let refuse = |message: &str| -> anyhow::Result<PolicyView> {
        Err(CatalogError::Policy(message.to_owned()).into())
    };
    if change == PolicyChange::default() {
        return refuse(
            "nothing to set; give --keep-last N, --keep-days D, --keep-all, --max-bytes SIZE or \
             (for '*') --invocation-bytes SIZE",
        );
    }
    if change.keep_all && (change.keep_last.is_some() || change.keep_days.is_some()) {
        return refuse(
            "--keep-all keeps every version: give it without --keep-last or --keep-days",
        );
    }
    if change.keep_last == Some(0) || change.keep_days == Some(0) {
        return refuse(
            "--keep-last and --keep-days count from 1 (the latest version of a key is always kept)",
        );
    }
    if change.invocation_bytes.is_some() && collection != policy::DEFAULT {
        return Err(CatalogError::Policy(format!(
            "the per-invocation budget covers an invocation's writes to every collection, so it \
             is set on the default policy: orch catalog policy set '*' --invocation-bytes SIZE \
             (for {collection:?}, --max-bytes bounds what the collection holds)"
        ))
        .into());
    }
    store.change_catalog_policy(collection, |set| {
        let mut policy = set.unwrap_or_default();
        if change.keep_all {
            policy.keep_all = true;
            policy.keep_last = None;
            policy.keep_days = None;
        }
        if let Some(n) = change.keep_last {
            policy.keep_last = Some(n);
            policy.keep_all = false;
        }
        if let Some(d) = change.keep_days {
            policy.keep_days = Some(d);
            policy.keep_all = false;
        }
        if let Some(bytes) = change.max_bytes {
            policy.max_bytes = Some(bytes);
        }
        if let Some(bytes) = change.invocation_bytes {
            policy.invocation_bytes = Some(bytes);
        }
        policy
    })?;
    let policies = policies(store)?;
    policies
        .collections
        .into_iter()
        .find(|view| view.collection == collection)
        .context("the policy just set is not in the store")
}

/// Every policy in force, with what each collection holds.
pub fn policies(store: &Store) -> anyhow::Result<Policies> {
    let set: BTreeMap<String, Policy> = store.catalog_policies()?.into_iter().collect();
    let usage: BTreeMap<String, (u64, u64)> = store
        .catalog_usage()?
        .into_iter()
        .map(|u| (u.collection, (u.versions, u.bytes)))
        .collect();
    let default = set.get(policy::DEFAULT);
    let (invocation_bytes, invocation_bytes_from) = policy::invocation_budget(default);
    let mut collections = vec![PolicyView {
        collection: policy::DEFAULT.to_owned(),
        set: default.copied(),
        effective: policy::effective(default, None),
        versions: None,
        bytes: None,
    }];
    let names: BTreeSet<&String> = set
        .keys()
        .filter(|name| *name != policy::DEFAULT)
        .chain(usage.keys())
        .collect();
    for name in names {
        let own = set.get(name);
        let held = usage.get(name).copied().unwrap_or_default();
        collections.push(PolicyView {
            collection: name.clone(),
            set: own.copied(),
            effective: policy::effective(own, default),
            versions: Some(held.0),
            bytes: Some(held.1),
        });
    }
    Ok(Policies {
        invocation_bytes,
        invocation_bytes_from,
        collections,
    })
}

/// Forgets the policy of `collection` (or `*`): the default (or the built-in) applies again.
pub fn remove_policy(store: &Store, collection: &str) -> anyhow::Result<()> {
    check_policy_name(collection)?;
    if store.remove_catalog_policy(collection)? {
        Ok(())
    } else {
        Err(CatalogError::NoPolicy(collection.to_owned()).into())
    }
}

/// Removes (with `dry_run`, only reports) the old versions the keep rules in force let go, in
/// `collection` or in every collection.
pub fn prune(
    store: &Store,
    collection: Option<&str>,
    dry_run: bool,
) -> anyhow::Result<Vec<PruneReport>> {
    if let Some(name) = collection {
        check_collection(name)?;
    }
    let reports = store.prune_records(collection, time::OffsetDateTime::now_utc(), dry_run)?;
    match collection {
        Some(name) if reports.is_empty() => Err(CatalogError::NoCollection(name.to_owned()).into()),
        _ => Ok(reports),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn reads_yaml_and_csv_inventories_alike() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = write(
            &dir,
            "inv.yaml",
            "devices:\n  - name: R1\n    address: 10.0.0.1\n    platform: cisco_ios\n    credential: lab\n    tags: {site: lab, role: edge}\n  - name: sw1\n    address: sw1.lab\n    port: 2222\n    platform: arista_eos\n    tags: [site=lab]\n",
        );
        let csv = write(
            &dir,
            "inv.csv",
            "name,address,port,platform,credential,tags\nR1,10.0.0.1,,cisco_ios,lab,site=lab;role=edge\nsw1,sw1.lab,2222,arista_eos,,site=lab\n",
        );
        let from_yaml = parse_inventory(&yaml).unwrap();
        let from_csv = parse_inventory(&csv).unwrap();
        assert_eq!(from_yaml, from_csv);
        assert_eq!(from_yaml[0].port, 22);
        assert_eq!(from_yaml[0].tags["role"], "edge");
        assert_eq!(from_yaml[1].credential, None);
    }

    #[test]
    fn refuses_bad_inventories_naming_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        for (text, expected) in [
            (
                "devices:\n  - {name: R1, address: a, platform: ios}\n  - {name: R1, address: b, platform: ios}\n",
                "appears twice",
            ),
            (
                "devices:\n  - {name: R1, address: a, platform: Cisco IOS}\n",
                "invalid platform",
            ),
            (
                "devices:\n  - {name: R1, address: a, platform: ios, tags: [site]}\n",
                "not key=value",
            ),
            (
                "devices:\n  - {name: R1, address: a, platform: ios, colour: red}\n",
                "colour",
            ),
            ("devices:\n  - {name: R1, platform: ios}\n", "address"),
        ] {
            let path = write(&dir, "bad.yaml", text);
            let err = format!("{:#}", parse_inventory(&path).unwrap_err());
            assert!(err.contains(expected), "{text}: {err}");
            assert!(err.contains("bad.yaml"), "{err}");
        }
        let path = write(
            &dir,
            "bad.csv",
            "name,address,port,platform\nR1,a,99999,ios\n",
        );
        let err = format!("{:#}", parse_inventory(&path).unwrap_err());
        assert!(err.contains("line 2") && err.contains("port"), "{err}");
    }

    #[test]
    fn checks_collection_and_key_names() {
        assert!(check_collection("configs").is_ok());
        assert!(check_collection("Configs").is_err());
        assert!(check_key("R1/golden").is_ok());
        for bad in ["", "/R1", "R1/", "a b", "x\n"] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
    }
}
