//! The `core.*` actions, run in the host: `noop`, `echo`, `fail` (answered at once, no sandbox),
//! `sleep` (a timer of the driver, not a blocked thread), `ask` (the run waits for a person) and
//! the data catalog's `catalog_get`, `catalog_put` (held to the same byte budgets as a pack's
//! writes) and `inventory`.

use orch_workflow::ActionKnown;
use serde_json::{Value, json};

use crate::catalog::{self, CatalogError};
use crate::schema::Schema;
use crate::store::{NewRecord, Store};

/// What kind of action a workflow names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionKind {
    /// `core.noop`, `core.echo`, `core.fail`: answered at once.
    Pure(Pure),
    /// `core.sleep`.
    Sleep,
    /// `core.ask`.
    Ask,
    /// `core.catalog_get`, `core.catalog_put`, `core.inventory`.
    Catalog(CatalogOp),
    /// `core.` followed by something unknown.
    UnknownCore,
    /// Another workflow, run as a child run.
    Workflow,
    /// `pack.action`.
    Pack {
        /// Pack name.
        pack: String,
        /// Action name.
        action: String,
    },
}

/// The built-ins that need nothing but their input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pure {
    /// Returns null.
    Noop,
    /// Returns its input.
    Echo,
    /// Fails with the `code`, `message` and `retryable` of its input.
    Fail,
}

/// The data catalog's built-ins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogOp {
    /// Reads a record: `{found, value, version, written_at, writer}`.
    Get,
    /// Writes a record version: `{version, written_at, writer}`.
    Put,
    /// Lists devices by tags: `{devices: [...], names: [...]}`.
    Inventory,
}

/// The built-in names, for messages and validation.
pub const BUILTINS: &[&str] = &[
    "core.noop",
    "core.echo",
    "core.fail",
    "core.sleep",
    "core.ask",
    "core.catalog_get",
    "core.catalog_put",
    "core.inventory",
];

/// Classifies an action name.
pub fn classify(action: &str) -> ActionKind {
    match action {
        "core.noop" => ActionKind::Pure(Pure::Noop),
        "core.echo" => ActionKind::Pure(Pure::Echo),
        "core.fail" => ActionKind::Pure(Pure::Fail),
        "core.sleep" => ActionKind::Sleep,
        "core.ask" => ActionKind::Ask,
        "core.catalog_get" => ActionKind::Catalog(CatalogOp::Get),
        "core.catalog_put" => ActionKind::Catalog(CatalogOp::Put),
        "core.inventory" => ActionKind::Catalog(CatalogOp::Inventory),
        a if a.starts_with("core.") => ActionKind::UnknownCore,
        a => match a.split_once('.') {
            Some((pack, action)) => ActionKind::Pack {
                pack: pack.to_owned(),
                action: action.to_owned(),
            },
            None => ActionKind::Workflow,
        },
    }
}

/// What validation knows about a built-in.
pub fn known(action: &str) -> ActionKnown {
    if BUILTINS.contains(&action) {
        ActionKnown::Known {
            input_schema: input_schema(action),
        }
    } else {
        ActionKnown::Unknown
    }
}

fn input_schema(action: &str) -> Option<Value> {
    match action {
        "core.sleep" => Some(json!({
            "type": "object",
            "required": ["seconds"],
            "properties": {"seconds": {"type": "number", "minimum": 0}},
            "additionalProperties": false
        })),
        "core.ask" => Some(json!({
            "type": "object",
            "required": ["prompt"],
            "properties": {"prompt": {"type": "string"}, "schema": {"type": "object"}},
            "additionalProperties": false
        })),
        "core.catalog_get" => Some(json!({
            "type": "object",
            "required": ["collection", "key"],
            "properties": {
                "collection": {"type": "string"},
                "key": {"type": "string"},
                "version": {"type": "integer", "minimum": 1},
                "required": {"type": "boolean"}
            },
            "additionalProperties": false
        })),
        "core.catalog_put" => Some(json!({
            "type": "object",
            "required": ["collection", "key", "value"],
            "properties": {
                "collection": {"type": "string"},
                "key": {"type": "string"},
                "value": {}
            },
            "additionalProperties": false
        })),
        "core.inventory" => Some(json!({
            "type": "object",
            "properties": {
                "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                "names": {"type": "array", "items": {"type": "string"}}
            },
            "additionalProperties": false
        })),
        "core.fail" => Some(json!({
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "retryable": {"type": "boolean"}
            },
            "additionalProperties": false
        })),
        _ => None,
    }
}

/// Runs a pure built-in: `Ok(result)` or `Err(error value)`.
pub fn run_pure(which: Pure, input: &Value) -> Result<Value, Value> {
    match which {
        Pure::Noop => Ok(Value::Null),
        Pure::Echo => Ok(input.clone()),
        Pure::Fail => Err(super::failure::ActionFailure::new(
            input
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or("failed"),
            input
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("core.fail failed on purpose"),
        )
        .retryable(
            input
                .get("retryable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        )
        .into_value()),
    }
}

/// Runs a catalog built-in against `store`. Writes are keyed by the step's idempotency key, so
/// a step re-run after a crash returns the version it wrote instead of writing another.
pub fn run_catalog(
    op: CatalogOp,
    store: &Store,
    input: &Value,
    writer: &str,
    step_key: &str,
) -> Result<Value, Value> {
    let invalid = |err: anyhow::Error| error("invalid_input", format!("{err:#}"));
    let text = |name: &str| {
        input.get(name).and_then(Value::as_str).ok_or_else(|| {
            error(
                "invalid_input",
                format!("the input needs `{name}`, a string; got {input}"),
            )
        })
    };
    match op {
        CatalogOp::Get => {
            let (collection, key) = (text("collection")?, text("key")?);
            let version = input.get("version").and_then(Value::as_u64);
            match catalog::get(store, collection, key, version).map_err(invalid)? {
                Some(entry) => Ok(json!({
                    "found": true,
                    "value": entry.value,
                    "version": entry.version,
                    "written_at": entry.written_at,
                    "writer": entry.writer,
                })),
                None if input.get("required").and_then(Value::as_bool) == Some(true) => Err(error(
                    "not_found",
                    format!("no record {collection}/{key} in the catalog"),
                )),
                None => Ok(json!({"found": false, "value": null, "version": null})),
            }
        }
        CatalogOp::Put => {
            let (collection, key) = (text("collection")?, text("key")?);
            let value = input.get("value").cloned().unwrap_or(Value::Null);
            // A step is one invocation writing one version: its budget and the collection's
            // quota apply as they do to a pack's writes.
            let record = NewRecord {
                collection,
                key,
                value: &value,
                writer,
                step_key: (!step_key.is_empty()).then_some(step_key),
                invocation_written: Some(0),
            };
            let entry = catalog::put(store, &record)
                .map_err(|err| match err.downcast_ref::<CatalogError>() {
                    Some(CatalogError::Quota(quota)) => error("quota_exceeded", quota.to_string()),
                    _ => invalid(err),
                })?
                .row;
            Ok(json!({
                "version": entry.version,
                "written_at": entry.written_at,
                "writer": entry.writer,
            }))
        }
        CatalogOp::Inventory => {
            let filters: Vec<(String, String)> = input
                .get("tags")
                .and_then(Value::as_object)
                .map(|tags| {
                    tags.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            let names: Option<Vec<&str>> = input
                .get("names")
                .and_then(Value::as_array)
                .map(|names| names.iter().filter_map(Value::as_str).collect());
            let devices: Vec<_> = catalog::devices_matching(store, &filters)
                .map_err(invalid)?
                .into_iter()
                .filter(|d| names.as_ref().is_none_or(|n| n.contains(&d.name.as_str())))
                .collect();
            let listed: Vec<&str> = devices.iter().map(|d| d.name.as_str()).collect();
            Ok(json!({ "devices": devices, "names": listed }))
        }
    }
}

/// The seconds `core.sleep` waits, or the error value for a bad input.
pub fn sleep_seconds(input: &Value) -> Result<f64, Value> {
    match input.get("seconds").and_then(Value::as_f64) {
        Some(s) if s >= 0.0 && s.is_finite() => Ok(s),
        _ => Err(error(
            "invalid_input",
            format!("core.sleep needs `seconds`, a non-negative number; got {input}"),
        )),
    }
}

/// A `core.ask` question.
#[derive(Debug, Clone)]
pub struct Question {
    /// What to ask.
    pub prompt: String,
    /// JSON Schema the answer must match (`{}` accepts anything).
    pub schema: Value,
}

/// Reads a `core.ask` input.
pub fn question(input: &Value) -> Result<Question, Value> {
    let Some(prompt) = input.get("prompt").and_then(Value::as_str) else {
        return Err(error(
            "invalid_input",
            format!("core.ask needs `prompt`, a string; got {input}"),
        ));
    };
    let schema = input.get("schema").cloned().unwrap_or_else(|| json!({}));
    if let Err(reason) = Schema::compile(&schema) {
        return Err(error(
            "invalid_input",
            format!("the `schema` of core.ask is not a usable JSON Schema: {reason}"),
        ));
    }
    Ok(Question {
        prompt: prompt.to_owned(),
        schema,
    })
}

/// An error value as the machine and `orch runs show` see it (see [`ActionFailure`]).
///
/// [`ActionFailure`]: super::failure::ActionFailure
pub fn error(code: &str, message: String) -> Value {
    super::failure::ActionFailure::new(code, message).into_value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_builtins_packs_and_workflows() {
        assert_eq!(classify("core.echo"), ActionKind::Pure(Pure::Echo));
        assert_eq!(classify("core.nope"), ActionKind::UnknownCore);
        assert_eq!(classify("child"), ActionKind::Workflow);
        assert_eq!(
            classify("text.diff"),
            ActionKind::Pack {
                pack: "text".into(),
                action: "diff".into()
            }
        );
    }

    #[test]
    fn echo_returns_its_input_and_fail_uses_the_given_code() {
        let input = json!({"a": [1, 2]});
        assert_eq!(run_pure(Pure::Echo, &input), Ok(input));
        let err = run_pure(Pure::Fail, &json!({"code": "nope", "retryable": true})).unwrap_err();
        assert_eq!(err["code"], "nope");
        assert_eq!(err["retryable"], true);
    }

    #[test]
    fn catalog_builtins_read_write_and_list_devices() {
        let store = Store::in_memory().unwrap();
        let get = json!({"collection": "configs", "key": "R1/golden"});
        let missing = run_catalog(CatalogOp::Get, &store, &get, "w", "").unwrap();
        assert_eq!(missing["found"], false);
        let required = json!({"collection": "configs", "key": "R1/golden", "required": true});
        assert_eq!(
            run_catalog(CatalogOp::Get, &store, &required, "w", "").unwrap_err()["code"],
            "not_found"
        );
        let put = json!({"collection": "configs", "key": "R1/golden", "value": "hostname R1"});
        let first = run_catalog(CatalogOp::Put, &store, &put, "run r task t", "k1").unwrap();
        let retried = run_catalog(CatalogOp::Put, &store, &put, "run r task t", "k1").unwrap();
        assert_eq!(
            (first["version"].clone(), retried["version"].clone()),
            (json!(1), json!(1))
        );
        let found = run_catalog(CatalogOp::Get, &store, &get, "w", "").unwrap();
        assert_eq!(found["value"], "hostname R1");
        assert_eq!(found["writer"], "run r task t");
        let bad = json!({"collection": "Bad Name", "key": "k", "value": 1});
        assert_eq!(
            run_catalog(CatalogOp::Put, &store, &bad, "w", "").unwrap_err()["code"],
            "invalid_input"
        );
        let devices = run_catalog(CatalogOp::Inventory, &store, &json!({}), "w", "").unwrap();
        assert_eq!(devices["names"], json!([]));
    }

    #[test]
    fn catalog_put_is_held_to_the_collections_quota_and_the_step_budget() {
        let store = Store::in_memory().unwrap();
        let set = |collection: &str, change| {
            catalog::set_policy(&store, collection, change).unwrap();
        };
        set(
            "small",
            catalog::PolicyChange {
                max_bytes: Some(1000),
                ..Default::default()
            },
        );
        let put = |key: &str, value: Value, step: &str| {
            let input = json!({"collection": "small", "key": key, "value": value});
            run_catalog(CatalogOp::Put, &store, &input, "run r task t", step)
        };
        assert!(put("a", json!("x".repeat(500)), "k1").is_ok());
        let refused = put("b", json!("x".repeat(500)), "k2").unwrap_err();
        assert_eq!(refused["code"], "quota_exceeded", "{refused}");
        assert!(
            refused["message"]
                .as_str()
                .is_some_and(|m| m.contains("orch catalog prune small")),
            "{refused}"
        );
        // The retry of a step that already wrote succeeds: it adds nothing.
        assert_eq!(
            put("a", json!("x".repeat(500)), "k1").unwrap()["version"],
            1
        );
        set(
            "*",
            catalog::PolicyChange {
                invocation_bytes: Some(100),
                ..Default::default()
            },
        );
        let input = json!({"collection": "other", "key": "k", "value": "x".repeat(200)});
        let over = run_catalog(CatalogOp::Put, &store, &input, "w", "k3").unwrap_err();
        assert_eq!(over["code"], "quota_exceeded", "{over}");
        assert!(
            over["message"]
                .as_str()
                .is_some_and(|m| m.contains("per-invocation budget of 100 B")),
            "{over}"
        );
    }

    #[test]
    fn rejects_a_bad_sleep_and_a_question_without_prompt() {
        assert!(sleep_seconds(&json!({"seconds": -1})).is_err());
        assert_eq!(sleep_seconds(&json!({"seconds": 1.5})), Ok(1.5));
        assert!(question(&json!({"schema": {}})).is_err());
        assert!(question(&json!({"prompt": "ok?", "schema": {"type": 12}})).is_err());
    }
}
