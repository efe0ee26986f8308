//! Table API calls through the host's `http` capability: the host injects the named credential
//! (basic, or an OAuth2 token it fetches) and enforces the grant; this file turns responses into
//! records or action errors with [`api`](crate::api).

use orch_sdk::ActionError;
use orch_sdk::http::{Request, Response};

use crate::api::{self, Call, Instance};

/// A record as the Table API returns it: field name to value (strings, for a stock request).
pub type Record = serde_json::Map<String, serde_json::Value>;

/// Asks for reference fields as plain sys_id strings instead of `{"link", "value"}` objects, so
/// every field of a record is a string.
const PLAIN_REFERENCES: (&str, &str) = ("sysparm_exclude_reference_link", "true");

/// One instance reached with one credential.
#[derive(Debug)]
pub struct Client<'a> {
    instance: Instance,
    credential: &'a str,
}

impl<'a> Client<'a> {
    /// Checks the instance URL and the credential name.
    pub fn new(instance: &str, credential: &'a str) -> Result<Self, ActionError> {
        if credential.trim().is_empty() {
            return Err(ActionError::invalid_input(
                "credential is empty; name a vault credential of kind basic or oauth2-client \
                 (orch secret list)",
            ));
        }
        Ok(Self {
            instance: Instance::parse(instance)?,
            credential,
        })
    }

    /// `GET /api/now/table/{table}/{sys_id}`.
    pub fn get(&self, table: &str, sys_id: &str) -> Result<Record, ActionError> {
        let call = self.call("GET", table, Some(sys_id));
        let url = self.instance.record_url(table, sys_id, &[PLAIN_REFERENCES]);
        let body = self.send(Request::get(url), &call)?;
        api::result(&body, &call)
    }

    /// `GET /api/now/table/{table}?sysparm_query=…`: at most `limit` records, only `fields` when
    /// any are named.
    pub fn find(
        &self,
        table: &str,
        query: &str,
        limit: u32,
        fields: &[String],
    ) -> Result<Vec<Record>, ActionError> {
        let call = self.call("GET", table, None);
        let limit = limit.to_string();
        let fields = fields.join(",");
        let mut params = vec![
            ("sysparm_query", query),
            ("sysparm_limit", limit.as_str()),
            PLAIN_REFERENCES,
        ];
        if !fields.is_empty() {
            params.push(("sysparm_fields", fields.as_str()));
        }
        let url = self.instance.table_url(table, &params);
        let body = self.send(Request::get(url), &call)?;
        api::result(&body, &call)
    }

    /// `POST /api/now/table/{table}`: creates a record (201).
    pub fn create(&self, table: &str, fields: &Record) -> Result<Record, ActionError> {
        let call = self.call("POST", table, None);
        let url = self.instance.table_url(table, &[PLAIN_REFERENCES]);
        let body = self.send(Request::post(url).json(fields), &call)?;
        api::result(&body, &call)
    }

    /// `PATCH /api/now/table/{table}/{sys_id}`: sets `fields`, leaves the others (200).
    pub fn update(
        &self,
        table: &str,
        sys_id: &str,
        fields: &Record,
    ) -> Result<Record, ActionError> {
        let call = self.call("PATCH", table, Some(sys_id));
        let url = self.instance.record_url(table, sys_id, &[PLAIN_REFERENCES]);
        let body = self.send(Request::patch(url).json(fields), &call)?;
        api::result(&body, &call)
    }

    fn call<'c>(&'c self, method: &'c str, table: &'c str, sys_id: Option<&'c str>) -> Call<'c> {
        Call {
            method,
            instance: &self.instance,
            table,
            sys_id,
            credential: self.credential,
        }
    }

    /// Sends with the credential and returns the body of a 2xx answer (201 for a create, 200
    /// otherwise). Redirects are not followed: the Table API does not redirect, and following one
    /// to a login page would turn an auth failure into a confusing success.
    fn send(&self, request: Request, call: &Call<'_>) -> Result<Vec<u8>, ActionError> {
        let response: Response = request
            .header("accept", "application/json")
            .credential(self.credential)
            .max_redirects(0)
            .send()?;
        if response.is_success() {
            Ok(response.body)
        } else {
            Err(api::status_error(response.status, &response.body, call))
        }
    }
}
