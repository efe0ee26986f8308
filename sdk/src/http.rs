//! Outbound HTTP made by the host on the pack's behalf: a [`Request`] builder and its
//! [`Response`].
//!
//! The host checks every request against the pack's network grant, resolves names itself and
//! checks every address, follows redirects itself (re-checking each hop), caps the response, and
//! injects a named vault credential only where the credential's binding allows it: the pack
//! names the credential and never sees its secret.
//!
//! ```no_run
//! use orch_sdk::http::Request;
//! use orch_sdk::ActionError;
//! use std::time::Duration;
//!
//! #[derive(serde::Deserialize)]
//! struct Ticket { number: String }
//!
//! fn open_ticket() -> Result<String, ActionError> {
//!     let response = Request::post("https://acme.service-now.com/api/now/table/change_request")
//!         .json(&serde_json::json!({ "short_description": "upgrade r1" }))
//!         .credential("servicenow")
//!         .timeout(Duration::from_secs(10))
//!         .send()?
//!         .error_for_status()?;
//!     Ok(response.json::<Ticket>()?.number)
//! }
//! ```
//!
//! # Statuses and errors
//!
//! [`Request::send`] fails only when no response came (a [`HostError`]: `denied`, `timeout`,
//! `unreachable`, `too_large`, …); any status the server answered, 404 and 503 included, is an
//! `Ok` [`Response`]. Check it yourself, or turn it into an error with
//! [`Response::error_for_status`]:
//!
//! | status | code | retryable |
//! |---|---|---|
//! | 100–399 | (passes through) | |
//! | 401, 403 | `auth_failed` | no |
//! | 429 | `rate_limited` | yes |
//! | 500–599 | `unavailable` | yes |
//! | other 400–599+ | `http_status` | no |
//!
//! How a workflow's `retry:` treats them: without a `when:` condition, a failed attempt is
//! retried (up to `count`) unless its error says `retryable: false`, and an attempt the host
//! stopped at its deadline (the task's `timeout`) is always retried, while one that trapped (a
//! panic, a broken memory limit) is not. So `rate_limited` and `unavailable` are retried, and so
//! are the host's `timeout` and `unreachable` (which `?` turns into retryable errors), while
//! `auth_failed`, `http_status`, `denied`, `invalid` and every [`ActionError`] not marked
//! [`retryable`](ActionError::retryable) fail the task at once. With `when:`, the condition
//! alone decides, whatever the error says.

use std::borrow::Cow;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::__private::orch::pack::http as wit;
use crate::host_error::millis;
use crate::imports::http as host;
use crate::{ActionError, ErrorCode, HostError};

/// One HTTP request, built with chained calls and sent with [`send`](Self::send).
///
/// Unset options take the host's defaults: a 30 s timeout (never beyond the invocation's
/// deadline), 5 redirects, and the host's response cap (16 MiB).
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is sent"]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    credential: Option<String>,
    timeout: Option<Duration>,
    max_redirects: Option<u8>,
    max_response_bytes: Option<u32>,
    // A `json` body that failed to serialise: reported by `send`, so the builder stays chainable.
    body_error: Option<String>,
}

impl Request {
    /// A request with `method` (`GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE` or `OPTIONS`)
    /// to the absolute `http` or `https` `url`.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            credential: None,
            timeout: None,
            max_redirects: None,
            max_response_bytes: None,
            body_error: None,
        }
    }

    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }

    /// A `PUT` request.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new("PUT", url)
    }

    /// A `PATCH` request.
    pub fn patch(url: impl Into<String>) -> Self {
        Self::new("PATCH", url)
    }

    /// A `DELETE` request.
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new("DELETE", url)
    }

    /// Adds a header. `Host`, `Content-Length`, hop-by-hop headers and, with a credential,
    /// `Authorization` are set by the host and refused.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets the body to `value` as JSON, and `Content-Type: application/json` unless a
    /// content type was set. A value that cannot be serialised makes [`send`](Self::send) fail
    /// with [`ErrorCode::Invalid`].
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => {
                self.body = Some(body);
                self.body_error = None;
            }
            Err(err) => self.body_error = Some(err.to_string()),
        }
        if self.header_value("content-type").is_none() {
            self.headers
                .push(("content-type".to_owned(), "application/json".to_owned()));
        }
        self
    }

    /// Names a vault credential (basic, bearer, header or oauth2-client) for the host to inject.
    /// The host refuses unless the credential is bound to the destination and the pack may use
    /// it.
    pub fn credential(mut self, name: impl Into<String>) -> Self {
        self.credential = Some(name.into());
        self
    }

    /// Timeout of the whole exchange, redirects included.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Redirects the host may follow (at most 10); 0 returns the 3xx response itself.
    pub fn max_redirects(mut self, hops: u8) -> Self {
        self.max_redirects = Some(hops);
        self
    }

    /// Cap on the response body in bytes (never above the host's cap); a larger body fails with
    /// [`ErrorCode::TooLarge`].
    pub fn max_response_bytes(mut self, bytes: u32) -> Self {
        self.max_response_bytes = Some(bytes);
        self
    }

    /// Sends the request through the host and waits for the whole response.
    pub fn send(self) -> Result<Response, HostError> {
        if let Some(err) = self.body_error {
            return Err(HostError::new(
                ErrorCode::Invalid,
                format!(
                    "request body for {} could not be serialised to json: {err}",
                    self.url
                ),
            ));
        }
        let request = wit::Request {
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body,
            timeout_ms: self.timeout.map(millis),
            credential: self.credential,
            max_redirects: self.max_redirects,
            max_response_bytes: self.max_response_bytes,
        };
        let response = host::send(&request)?;
        Ok(Response {
            status: response.status,
            headers: response.headers,
            body: response.body,
            url: response.url,
        })
    }

    fn header_value(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// The response to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers as (name, value) pairs, in the order received.
    pub headers: Vec<(String, String)>,
    /// The whole body (at most the cap).
    pub body: Vec<u8>,
    /// The URL that answered, after redirects.
    pub url: String,
}

impl Response {
    /// A response built by hand, for native tests of code that reads responses.
    pub fn new(status: u16, headers: Vec<(String, String)>, body: Vec<u8>, url: String) -> Self {
        Self {
            status,
            headers,
            body,
            url,
        }
    }

    /// This response if its status is below 400, otherwise an [`ActionError`] a handler returns
    /// with `?`: the code and retryability a workflow's `retry:` acts on (see the
    /// [module docs](self#statuses-and-errors)), a message naming the URL (without its query)
    /// and the status, and details `{"status", "url"}` plus `retry_after` when the server sent
    /// `Retry-After`. The body is never copied into the error: it can be large, and is the
    /// peer's text.
    ///
    /// ```
    /// use orch_sdk::http::Response;
    ///
    /// let busy = Response::new(503, vec![], b"try later".to_vec(), "https://api.example.com/v1/x?q=1".into());
    /// let err = busy.error_for_status().unwrap_err();
    /// assert_eq!((err.code(), err.is_retryable()), ("unavailable", true));
    /// assert_eq!(err.message(), "https://api.example.com/v1/x answered 503");
    ///
    /// let ok = Response::new(200, vec![], b"{}".to_vec(), "https://api.example.com/v1/x".into());
    /// assert_eq!(ok.error_for_status().unwrap().status, 200);
    /// ```
    pub fn error_for_status(self) -> Result<Self, ActionError> {
        let (code, retryable) = match self.status {
            0..=399 => return Ok(self),
            401 | 403 => (STATUS_AUTH_FAILED, false),
            429 => (STATUS_RATE_LIMITED, true),
            500..=599 => (STATUS_UNAVAILABLE, true),
            _ => (STATUS_HTTP_STATUS, false),
        };
        let shown = self.url.split(['?', '#']).next().unwrap_or(&self.url);
        let mut details = serde_json::json!({ "status": self.status, "url": self.url });
        if let Some(retry_after) = self.header("retry-after") {
            details["retry_after"] = retry_after.into();
        }
        let err = ActionError::new(code, format!("{shown} answered {}", self.status))
            .with_details(details);
        Err(if retryable { err.retryable() } else { err })
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body as text; invalid UTF-8 is replaced by `U+FFFD`.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The body parsed as JSON into `T`. A body that is not the expected JSON is the peer's
    /// fault, not the input's: it fails with [`ErrorCode::Protocol`].
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HostError> {
        serde_json::from_slice(&self.body).map_err(|err| {
            HostError::new(
                ErrorCode::Protocol,
                format!(
                    "response from {} (status {}) is not the expected json: {err}",
                    self.url, self.status
                ),
            )
        })
    }
}

/// [`Response::error_for_status`]'s code for 401 and 403: the credential was refused or lacks
/// a permission. Not retryable.
pub const STATUS_AUTH_FAILED: &str = "auth_failed";
/// [`Response::error_for_status`]'s code for 429. Retryable.
pub const STATUS_RATE_LIMITED: &str = "rate_limited";
/// [`Response::error_for_status`]'s code for 5xx. Retryable.
pub const STATUS_UNAVAILABLE: &str = "unavailable";
/// [`Response::error_for_status`]'s code for every other status from 400 (404, 409, 422, …).
/// Not retryable.
pub const STATUS_HTTP_STATUS: &str = "http_status";

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: &[u8]) -> Response {
        Response::new(
            200,
            vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body.to_vec(),
            "http://127.0.0.1/x".to_owned(),
        )
    }

    #[test]
    fn json_sets_body_and_content_type_once() {
        let request = Request::post("http://h/").json(&serde_json::json!({ "a": 1 }));
        assert_eq!(request.body.as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(
            request.header_value("Content-Type"),
            Some("application/json")
        );
        let request = Request::post("http://h/")
            .header("Content-Type", "application/merge-patch+json")
            .json(&1);
        assert_eq!(request.headers.len(), 1);
    }

    #[test]
    fn unserialisable_json_body_fails_at_send_as_invalid() {
        use std::collections::BTreeMap;
        let bad: BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into_iter().collect();
        let err = Request::post("http://h/")
            .json(&bad)
            .send()
            .expect_err("map keys must be strings");
        assert_eq!(err.code(), ErrorCode::Invalid);
        assert!(err.message().contains("http://h/"), "{err}");
    }

    fn status(status: u16) -> Result<Response, ActionError> {
        let mut response = response(b"secret-looking body");
        response.status = status;
        response.url = "https://api.example.com/v1/x?token=abc".to_owned();
        response.error_for_status()
    }

    #[test]
    fn error_for_status_passes_success_and_redirects_through() {
        for code in [200, 201, 204, 301, 304, 399] {
            assert_eq!(status(code).map(|r| r.status), Ok(code), "{code}");
        }
    }

    #[test]
    fn error_for_status_maps_each_class_to_a_code_and_retryability() {
        for (code, expected, retryable) in [
            (401, "auth_failed", false),
            (403, "auth_failed", false),
            (429, "rate_limited", true),
            (500, "unavailable", true),
            (502, "unavailable", true),
            (503, "unavailable", true),
            (400, "http_status", false),
            (404, "http_status", false),
            (409, "http_status", false),
            (422, "http_status", false),
            (600, "http_status", false),
        ] {
            let err = status(code).expect_err("an error status");
            assert_eq!(
                (err.code(), err.is_retryable()),
                (expected, retryable),
                "{code}"
            );
            assert_eq!(
                err.message(),
                format!("https://api.example.com/v1/x answered {code}")
            );
            assert!(!err.message().contains("secret"), "{err}");
            assert_eq!(
                err.details().map(|d| d["status"].clone()),
                Some(code.into())
            );
        }
    }

    #[test]
    fn error_for_status_keeps_retry_after() {
        let busy = Response::new(
            429,
            vec![("Retry-After".to_owned(), "30".to_owned())],
            Vec::new(),
            "https://api.example.com/".to_owned(),
        );
        let err = busy.error_for_status().expect_err("429");
        assert_eq!(
            err.details(),
            Some(&serde_json::json!({
                "status": 429, "url": "https://api.example.com/", "retry_after": "30"
            }))
        );
    }

    #[test]
    fn header_lookup_ignores_case() {
        assert_eq!(
            response(b"{}").header("content-type"),
            Some("application/json")
        );
        assert_eq!(response(b"{}").header("x-missing"), None);
    }

    #[test]
    fn text_is_lossy_and_json_errors_are_protocol() {
        assert_eq!(response(b"a\xffb").text(), "a\u{fffd}b");
        let err = response(b"not json")
            .json::<serde_json::Value>()
            .expect_err("not json");
        assert_eq!(err.code(), ErrorCode::Protocol);
        let value: serde_json::Value = response(br#"{"ok":true}"#).json().expect("json");
        assert_eq!(value["ok"], true);
    }
}
