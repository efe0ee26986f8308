//! The Table API's shape, with no I/O: checked instance URLs, table names and sys_ids; request
//! URLs with their `sysparm_*` parameters; the `{"result": …}` envelope of a success and the
//! `{"error": {"message", "detail"}, "status": "failure"}` envelope of a failure; and the mapping
//! of HTTP statuses to the action error codes workflows branch on.

use orch_sdk::ActionError;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Action error codes this pack answers with (besides the host's, such as `timeout`).
pub const AUTH_FAILED: &str = "auth_failed";
pub const NOT_FOUND: &str = "not_found";
pub const UNAVAILABLE: &str = "unavailable";
pub const REJECTED: &str = "rejected";
pub const PROTOCOL: &str = "protocol";

/// Longest error text from a peer kept in a message: an HTML error page from a proxy can be
/// large, and the message is for a person.
const MAX_PEER_TEXT: usize = 300;

/// A ServiceNow instance's base URL, checked: `http` or `https`, no query or fragment, no
/// trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    base: String,
}

impl Instance {
    /// Checks `text` (`https://acme.service-now.com`, `http://127.0.0.1:8080`).
    pub fn parse(text: &str) -> Result<Self, ActionError> {
        let trimmed = text.trim().trim_end_matches('/');
        let rest = trimmed
            .strip_prefix("https://")
            .or_else(|| trimmed.strip_prefix("http://"));
        let valid = rest.is_some_and(|rest| {
            !rest.is_empty() && !rest.starts_with('/') && !rest.contains(['?', '#', '@', ' ', '\\'])
        });
        if !valid {
            return Err(ActionError::invalid_input(format!(
                "instance {text:?} is not a ServiceNow base url; pass one like \
                 https://acme.service-now.com"
            )));
        }
        Ok(Self {
            base: trimmed.to_owned(),
        })
    }

    /// The base URL, as given without the trailing slash.
    pub fn as_str(&self) -> &str {
        &self.base
    }

    /// `…/api/now/table/{table}` with `params` as its query string.
    pub fn table_url(&self, table: &str, params: &[(&str, &str)]) -> String {
        with_query(format!("{}/api/now/table/{table}", self.base), params)
    }

    /// `…/api/now/table/{table}/{sys_id}` with `params` as its query string.
    pub fn record_url(&self, table: &str, sys_id: &str, params: &[(&str, &str)]) -> String {
        with_query(
            format!("{}/api/now/table/{table}/{sys_id}", self.base),
            params,
        )
    }
}

fn with_query(mut url: String, params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        return url;
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    url.push('?');
    url.push_str(&query);
    url
}

/// Checks a table name: lowercase letters, digits and `_` (`incident`, `u_custom`,
/// `x_acme_app_table`), so it can go into a URL path as is.
pub fn table(name: &str) -> Result<&str, ActionError> {
    let valid = !name.is_empty()
        && name.len() <= 80
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(name)
    } else {
        Err(ActionError::invalid_input(format!(
            "table {name:?} is not a ServiceNow table name; use its lowercase name, such as \
             incident or change_request"
        )))
    }
}

/// Checks a sys_id: ASCII letters and digits only (ServiceNow's are 32 hex digits), so it can go
/// into a URL path as is.
pub fn sys_id(id: &str) -> Result<&str, ActionError> {
    if !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(id)
    } else {
        Err(ActionError::invalid_input(format!(
            "sys_id {id:?} is not a ServiceNow sys_id; pass the record's 32 hex digit sys_id"
        )))
    }
}

/// What a request was, for error messages: `GET incident/46d4… on https://acme.service-now.com
/// with credential "snow"`.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub method: &'a str,
    pub instance: &'a Instance,
    pub table: &'a str,
    pub sys_id: Option<&'a str>,
    pub credential: &'a str,
}

impl Call<'_> {
    fn describe(&self) -> String {
        match self.sys_id {
            Some(id) => format!(
                "{} {}/{id} on {}",
                self.method,
                self.table,
                self.instance.as_str()
            ),
            None => format!(
                "{} {} on {}",
                self.method,
                self.table,
                self.instance.as_str()
            ),
        }
    }
}

/// The `error` object of ServiceNow's failure envelope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failure {
    pub message: Option<String>,
    pub detail: Option<String>,
}

impl Failure {
    /// Reads a failure body: the error envelope when it is one, else the body's text (a proxy's
    /// or load balancer's page), shortened.
    pub fn parse(body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Envelope {
            error: ErrorObject,
        }
        #[derive(Deserialize)]
        struct ErrorObject {
            message: Option<serde_json::Value>,
            detail: Option<serde_json::Value>,
        }
        fn text(value: Option<serde_json::Value>) -> Option<String> {
            match value? {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) if s.trim().is_empty() => None,
                serde_json::Value::String(s) => Some(shorten(&s)),
                other => Some(shorten(&other.to_string())),
            }
        }
        if let Ok(envelope) = serde_json::from_slice::<Envelope>(body) {
            return Self {
                message: text(envelope.error.message),
                detail: text(envelope.error.detail),
            };
        }
        let body = String::from_utf8_lossy(body);
        let body = body.trim();
        Self {
            message: (!body.is_empty()).then(|| shorten(body)),
            detail: None,
        }
    }

    fn summary(&self) -> String {
        match (&self.message, &self.detail) {
            (Some(m), Some(d)) => format!("{m} ({d})"),
            (Some(m), None) => m.clone(),
            (None, Some(d)) => d.clone(),
            (None, None) => "no error message".to_owned(),
        }
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_PEER_TEXT {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(MAX_PEER_TEXT).collect();
    short.push('…');
    short
}

/// The action error for a response with a non-success `status`:
/// 401/403 `auth_failed`, 404 `not_found`, 429/5xx `unavailable` (retryable), other 4xx
/// `rejected`, anything else (1xx, 3xx) `protocol`. Details carry the status and the
/// envelope's message and detail.
pub fn status_error(status: u16, body: &[u8], call: &Call<'_>) -> ActionError {
    let failure = Failure::parse(body);
    let what = call.describe();
    let summary = failure.summary();
    let (code, message, retryable) = match status {
        401 | 403 => (
            AUTH_FAILED,
            format!(
                "servicenow refused {what} with {status}: {summary}; check credential {:?} \
                 (its user or OAuth client, and its roles on the instance)",
                call.credential
            ),
            false,
        ),
        404 => (
            NOT_FOUND,
            match call.sys_id {
                Some(id) => format!(
                    "no record {id} in table {} on {} ({summary})",
                    call.table,
                    call.instance.as_str()
                ),
                None => format!(
                    "servicenow answered 404 to {what}: {summary}; check the instance url and \
                     the table name"
                ),
            },
            false,
        ),
        429 | 500..=599 => (
            UNAVAILABLE,
            format!("servicenow is unavailable for {what} ({status}): {summary}; try again later"),
            true,
        ),
        400..=499 => (
            REJECTED,
            format!("servicenow rejected {what} with {status}: {summary}"),
            false,
        ),
        _ => (
            PROTOCOL,
            format!("servicenow answered {what} with unexpected status {status}: {summary}"),
            false,
        ),
    };
    let error = ActionError::new(code, message).with_details(serde_json::json!({
        "status": status,
        "message": failure.message,
        "detail": failure.detail,
    }));
    if retryable { error.retryable() } else { error }
}

/// The `result` of a success envelope, as `T`.
pub fn result<T: DeserializeOwned>(body: &[u8], call: &Call<'_>) -> Result<T, ActionError> {
    #[derive(Deserialize)]
    struct Envelope<T> {
        result: T,
    }
    serde_json::from_slice::<Envelope<T>>(body)
        .map(|envelope| envelope.result)
        .map_err(|err| {
            ActionError::new(
                PROTOCOL,
                format!(
                    "servicenow's answer to {} is not a table api result envelope: {err}",
                    call.describe()
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance() -> Instance {
        Instance::parse("https://acme.service-now.com/").expect("valid instance")
    }

    fn call<'a>(instance: &'a Instance, sys_id: Option<&'a str>) -> Call<'a> {
        Call {
            method: "GET",
            instance,
            table: "incident",
            sys_id,
            credential: "snow",
        }
    }

    const NOT_FOUND_BODY: &[u8] = br#"{"error":{"message":"No Record found","detail":"Record doesn't exist or ACL restricts the record retrieval"},"status":"failure"}"#;

    #[test]
    fn instance_keeps_scheme_host_and_port_without_trailing_slash() {
        assert_eq!(instance().as_str(), "https://acme.service-now.com");
        let local = Instance::parse("http://127.0.0.1:8080").expect("valid");
        assert_eq!(
            local.table_url("incident", &[]),
            "http://127.0.0.1:8080/api/now/table/incident"
        );
    }

    #[test]
    fn instance_rejects_other_schemes_queries_and_userinfo() {
        for bad in [
            "acme.service-now.com",
            "ftp://acme.service-now.com",
            "https://",
            "https://acme.service-now.com/?x=1",
            "https://user:pw@acme.service-now.com",
            "https:///path",
        ] {
            let err = Instance::parse(bad).expect_err(bad);
            assert_eq!(err.code(), ActionError::INVALID_INPUT, "{bad}");
            assert!(
                err.message().contains("https://acme.service-now.com"),
                "{err}"
            );
        }
    }

    #[test]
    fn query_parameters_are_form_encoded() {
        let url = instance().table_url(
            "incident",
            &[
                ("sysparm_query", "correlation_id=a b^c&d"),
                ("sysparm_limit", "1"),
            ],
        );
        assert_eq!(
            url,
            "https://acme.service-now.com/api/now/table/incident?\
             sysparm_query=correlation_id%3Da+b%5Ec%26d&sysparm_limit=1"
        );
        assert_eq!(
            instance().record_url("change_request", "abc123", &[]),
            "https://acme.service-now.com/api/now/table/change_request/abc123"
        );
    }

    #[test]
    fn table_names_and_sys_ids_cannot_escape_the_path() {
        assert!(table("u_custom_2").is_ok());
        for bad in ["", "Incident", "incident/../x", "incident?x", "a b"] {
            assert!(table(bad).is_err(), "{bad}");
        }
        assert!(sys_id("46d44b0ddb2a1010f4e5ff86ca961927").is_ok());
        for bad in ["", "../sys_user", "a/b", "a%2Fb", "a?b"] {
            let err = sys_id(bad).expect_err(bad);
            assert_eq!(err.code(), ActionError::INVALID_INPUT);
        }
    }

    #[test]
    fn parses_the_error_envelope() {
        let failure = Failure::parse(NOT_FOUND_BODY);
        assert_eq!(failure.message.as_deref(), Some("No Record found"));
        assert_eq!(
            failure.detail.as_deref(),
            Some("Record doesn't exist or ACL restricts the record retrieval")
        );
        let null_detail = Failure::parse(
            br#"{"error":{"message":"Invalid table x","detail":null},"status":"failure"}"#,
        );
        assert_eq!(null_detail.message.as_deref(), Some("Invalid table x"));
        assert_eq!(null_detail.detail, None);
    }

    #[test]
    fn a_body_that_is_no_envelope_is_kept_shortened() {
        let html = format!("<html>{}</html>", "x".repeat(1000));
        let failure = Failure::parse(html.as_bytes());
        let message = failure.message.expect("text kept");
        assert!(message.starts_with("<html>") && message.ends_with('…'));
        assert_eq!(message.chars().count(), MAX_PEER_TEXT + 1);
        assert_eq!(Failure::parse(b""), Failure::default());
    }

    #[test]
    fn maps_statuses_to_codes() {
        let instance = instance();
        let cases = [
            (401, AUTH_FAILED, false),
            (403, AUTH_FAILED, false),
            (404, NOT_FOUND, false),
            (429, UNAVAILABLE, true),
            (500, UNAVAILABLE, true),
            (503, UNAVAILABLE, true),
            (400, REJECTED, false),
            (409, REJECTED, false),
            (302, PROTOCOL, false),
        ];
        for (status, code, retryable) in cases {
            let err = status_error(status, NOT_FOUND_BODY, &call(&instance, None));
            assert_eq!(err.code(), code, "{status}");
            assert_eq!(err.is_retryable(), retryable, "{status}");
            let details = err.details().expect("details");
            assert_eq!(details["status"], status);
            assert_eq!(details["message"], "No Record found");
        }
    }

    #[test]
    fn auth_failure_names_the_credential_and_not_found_the_record() {
        let instance = instance();
        let body = br#"{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}"#;
        let err = status_error(401, body, &call(&instance, None));
        assert!(
            err.message().contains("credential \"snow\"")
                && err.message().contains("User Not Authenticated"),
            "{err}"
        );
        let err = status_error(404, NOT_FOUND_BODY, &call(&instance, Some("abc")));
        assert_eq!(
            err.message(),
            "no record abc in table incident on https://acme.service-now.com \
             (No Record found (Record doesn't exist or ACL restricts the record retrieval))"
        );
    }

    #[test]
    fn rejected_carries_message_and_detail() {
        let instance = instance();
        let body = br#"{"error":{"message":"Exception while reading request","detail":"The payload is not valid JSON."},"status":"failure"}"#;
        let err = status_error(400, body, &call(&instance, None));
        assert_eq!(
            err.message(),
            "servicenow rejected GET incident on https://acme.service-now.com with 400: \
             Exception while reading request (The payload is not valid JSON.)"
        );
    }

    #[test]
    fn reads_the_result_envelope_or_fails_as_protocol() {
        let instance = instance();
        let record: serde_json::Value = result(
            br#"{"result":{"number":"INC0010001"}}"#,
            &call(&instance, None),
        )
        .expect("envelope");
        assert_eq!(record["number"], "INC0010001");
        let err = result::<serde_json::Value>(br#"{"records":[]}"#, &call(&instance, None))
            .expect_err("no result key");
        assert_eq!(err.code(), PROTOCOL);
        assert!(!err.is_retryable());
    }
}
