//! The four actions: their input and output types (from which the host's JSON Schemas are
//! derived) and handlers. `create_record` is made safe to retry by a correlation id: see
//! [`create_record`].

use orch_sdk::{ActionError, Context};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api;
use crate::client::{Client, Record};
use crate::query::{self, Query};

/// The field that carries the idempotency key: ServiceNow's own field for "the id of this
/// record in the system that created it", present on every task table (incident,
/// change_request, problem, …).
pub const CORRELATION_FIELD: &str = "correlation_id";

/// Default and largest number of records `find_records` returns.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 10_000;

/// Where to reach ServiceNow and as whom.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInput {
    /// Base URL of the instance: `https://acme.service-now.com`.
    pub instance: String,
    /// Name of a vault credential (basic or oauth2-client) bound to the instance; the host
    /// injects it, the pack never sees the secret.
    pub credential: String,
    /// Table name: `incident`, `change_request`, or any other table.
    pub table: String,
    /// Field values of the new record. `correlation_id` defaults to the call's idempotency key.
    pub fields: Record,
}

/// Output of `create_record`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CreateOutput {
    /// The record's sys_id.
    pub sys_id: String,
    /// The record's number (`INC0010001`), when the table numbers its records.
    pub number: Option<String>,
    /// The table.
    pub table: String,
    /// The whole record as ServiceNow returned it.
    pub record: Record,
    /// False when an earlier attempt of the same call had created the record already.
    pub created: bool,
}

/// Input of `update_record`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInput {
    /// Base URL of the instance: `https://acme.service-now.com`.
    pub instance: String,
    /// Name of a vault credential (basic or oauth2-client) bound to the instance.
    pub credential: String,
    /// Table name.
    pub table: String,
    /// The record's sys_id.
    pub sys_id: String,
    /// Field values to set; other fields keep their values.
    pub fields: Record,
}

/// Output of `update_record`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UpdateOutput {
    /// The record's sys_id.
    pub sys_id: String,
    /// The whole record after the update.
    pub record: Record,
}

/// Input of `get_record`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetInput {
    /// Base URL of the instance: `https://acme.service-now.com`.
    pub instance: String,
    /// Name of a vault credential (basic or oauth2-client) bound to the instance.
    pub credential: String,
    /// Table name.
    pub table: String,
    /// The record's sys_id.
    pub sys_id: String,
}

/// Output of `get_record`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct GetOutput {
    /// The record.
    pub record: Record,
}

/// Input of `find_records`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindInput {
    /// Base URL of the instance: `https://acme.service-now.com`.
    pub instance: String,
    /// Name of a vault credential (basic or oauth2-client) bound to the instance.
    pub credential: String,
    /// Table name.
    pub table: String,
    /// An encoded query (`active=true^priority=1^ORDERBYnumber`) or field values that must all
    /// match (`{"active": true, "priority": 1}`).
    pub query: Query,
    /// Most records to return (default 100, at most 10000).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Only these fields of each record (default: all).
    #[serde(default)]
    pub fields: Option<Vec<String>>,
}

/// Output of `find_records`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FindOutput {
    /// The matching records, in the instance's order (or the query's `ORDERBY`).
    pub records: Vec<Record>,
}

/// Creates a record, or returns the one an earlier attempt of the same call created.
///
/// The correlation id (the call's idempotency key, stable across retries, unless the caller
/// sets `correlation_id`) goes into the record, and the table is searched for it before
/// posting. A retry after a lost response (the instance committed, the answer never arrived)
/// thus finds its record instead of making a second one. The found record's correlation id is
/// compared again here: an instance that ignores a query on a field its table lacks answers
/// with unrelated records.
pub fn create_record(input: CreateInput, ctx: &Context) -> Result<CreateOutput, ActionError> {
    let table = api::table(&input.table)?;
    let client = Client::new(&input.instance, &input.credential)?;
    let mut fields = input.fields;
    let correlation = match fields.get(CORRELATION_FIELD) {
        Some(Value::String(given)) => given.clone(),
        Some(Value::Number(given)) => given.to_string(),
        Some(_) => {
            return Err(ActionError::invalid_input(
                "fields.correlation_id must be a string; leave it out to use the call's \
                 idempotency key",
            ));
        }
        None => ctx.idempotency_key().to_owned(),
    };
    if !correlation.is_empty() {
        fields.insert(
            CORRELATION_FIELD.to_owned(),
            Value::String(correlation.clone()),
        );
        let query = format!(
            "{}^ORDERBYsys_created_on",
            query::equals(CORRELATION_FIELD, &correlation)
        );
        let earlier = client
            .find(table, &query, 1, &[])?
            .into_iter()
            .find(|record| {
                record.get(CORRELATION_FIELD).and_then(Value::as_str) == Some(&correlation)
            });
        if let Some(record) = earlier {
            ctx.info(&format!(
                "{table} record {} with correlation id {correlation} exists already; not creating \
                 another",
                text(&record, "number").unwrap_or_default()
            ));
            return created_output(table, record, false);
        }
    }
    let record = client.create(table, &fields)?;
    created_output(table, record, true)
}

fn created_output(table: &str, record: Record, created: bool) -> Result<CreateOutput, ActionError> {
    let sys_id = text(&record, "sys_id").ok_or_else(|| {
        ActionError::new(
            api::PROTOCOL,
            format!("servicenow returned a {table} record without a sys_id"),
        )
    })?;
    Ok(CreateOutput {
        sys_id,
        number: text(&record, "number").filter(|n| !n.is_empty()),
        table: table.to_owned(),
        record,
        created,
    })
}

fn text(record: &Record, field: &str) -> Option<String> {
    record.get(field).and_then(Value::as_str).map(str::to_owned)
}

/// Sets fields of a record (PATCH): setting the same values twice leaves the same record.
pub fn update_record(input: UpdateInput, _ctx: &Context) -> Result<UpdateOutput, ActionError> {
    let table = api::table(&input.table)?;
    let sys_id = api::sys_id(&input.sys_id)?;
    let client = Client::new(&input.instance, &input.credential)?;
    let record = client.update(table, sys_id, &input.fields)?;
    Ok(UpdateOutput {
        sys_id: sys_id.to_owned(),
        record,
    })
}

/// Reads one record; a missing one is `not_found`.
pub fn get_record(input: GetInput, _ctx: &Context) -> Result<GetOutput, ActionError> {
    let table = api::table(&input.table)?;
    let sys_id = api::sys_id(&input.sys_id)?;
    let client = Client::new(&input.instance, &input.credential)?;
    Ok(GetOutput {
        record: client.get(table, sys_id)?,
    })
}

/// Finds the records matching a query.
pub fn find_records(input: FindInput, _ctx: &Context) -> Result<FindOutput, ActionError> {
    let table = api::table(&input.table)?;
    let client = Client::new(&input.instance, &input.credential)?;
    let query = input.query.encode()?;
    let limit = input.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ActionError::invalid_input(format!(
            "limit {limit} is out of range; pass 1 to {MAX_LIMIT}"
        )));
    }
    let fields = input.fields.unwrap_or_default();
    for name in &fields {
        query::field(name)?;
    }
    Ok(FindOutput {
        records: client.find(table, &query, limit, &fields)?,
    })
}
