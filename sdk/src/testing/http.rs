//! The test host's HTTP: rules that answer requests by method and URL ([`TestHttp::on`]), and the
//! record of every request the action sent ([`SentRequest`]).

use std::cell::RefCell;
use std::time::Duration;

use crate::__private::orch::pack::http as wit;
use crate::{ErrorCode, HostError};

/// What the host does for a matching request.
#[derive(Debug, Clone)]
enum Answer {
    Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    Fail(HostError),
}

#[derive(Debug)]
struct Rule {
    method: String,
    url: String,
    /// How many more requests it answers; `None`: every one.
    remaining: Option<usize>,
    answer: Answer,
}

impl Rule {
    fn matches(&self, method: &str, url: &str) -> bool {
        self.remaining != Some(0)
            && self.method.eq_ignore_ascii_case(method)
            && match self.url.strip_suffix('*') {
                Some(prefix) => url.starts_with(prefix),
                None => url == self.url,
            }
    }
}

#[derive(Debug, Default)]
pub(super) struct HttpState {
    rules: Vec<Rule>,
    sent: Vec<SentRequest>,
}

impl HttpState {
    /// Records `request` and answers it from the first rule that matches and is not used up.
    pub(super) fn send(&mut self, request: &wit::Request) -> Result<wit::Response, HostError> {
        self.sent.push(SentRequest::from_wit(request));
        let Some(rule) = self
            .rules
            .iter_mut()
            .find(|rule| rule.matches(&request.method, &request.url))
        else {
            return Err(super::unscripted(
                &format!("{} {}", request.method, request.url),
                &format!(
                    "host.http().on({:?}, {:?}).reply(...)",
                    request.method, request.url
                ),
            ));
        };
        if let Some(remaining) = &mut rule.remaining {
            *remaining -= 1;
        }
        match &rule.answer {
            Answer::Reply {
                status,
                headers,
                body,
            } => Ok(wit::Response {
                status: *status,
                headers: headers.clone(),
                body: body.clone(),
                url: request.url.clone(),
            }),
            Answer::Fail(err) => Err(err.clone()),
        }
    }
}

/// The HTTP side of a [`TestHost`](super::TestHost).
#[derive(Debug)]
pub struct TestHttp<'a> {
    state: &'a RefCell<HttpState>,
}

impl<'a> TestHttp<'a> {
    pub(super) fn new(state: &'a RefCell<HttpState>) -> Self {
        Self { state }
    }

    /// A rule for requests with `method` (case-insensitive) to `url`: exactly that URL, or any
    /// URL starting with what comes before a trailing `*` (`https://api.example.com/v1/*`, for
    /// URLs with query strings). Finish it with [`reply`](HttpRule::reply) or a sibling. Rules
    /// are tried in the order added; a rule answers every matching request unless limited with
    /// [`once`](HttpRule::once) or [`times`](HttpRule::times), so a used-up rule lets the next
    /// one answer (a 503, then a 200).
    pub fn on(&self, method: &str, url: &str) -> HttpRule<'a> {
        HttpRule {
            state: self.state,
            method: method.to_owned(),
            url: url.to_owned(),
            remaining: None,
            headers: Vec::new(),
        }
    }

    /// Every request the action sent, answered or not, in order.
    pub fn requests(&self) -> Vec<SentRequest> {
        self.state.borrow().sent.clone()
    }
}

/// A rule being written: see [`TestHttp::on`].
#[derive(Debug)]
#[must_use = "a rule is added by `reply`, `reply_text`, `reply_bytes` or `fail`"]
pub struct HttpRule<'a> {
    state: &'a RefCell<HttpState>,
    method: String,
    url: String,
    remaining: Option<usize>,
    headers: Vec<(String, String)>,
}

impl HttpRule<'_> {
    /// Answers only the next matching request.
    pub fn once(self) -> Self {
        self.times(1)
    }

    /// Answers only the next `count` matching requests.
    pub fn times(mut self, count: usize) -> Self {
        self.remaining = Some(count);
        self
    }

    /// Adds a header to the reply.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replies with `status` and `body` as JSON (with `Content-Type: application/json` unless a
    /// [`header`](Self::header) set one).
    pub fn reply(mut self, status: u16, body: serde_json::Value) {
        if !self
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        {
            self.headers
                .push(("content-type".to_owned(), "application/json".to_owned()));
        }
        let body = body.to_string().into_bytes();
        self.add_reply(status, body);
    }

    /// Replies with `status` and a text body.
    pub fn reply_text(self, status: u16, body: impl Into<String>) {
        self.add_reply(status, body.into().into_bytes());
    }

    /// Replies with `status` and a body of bytes.
    pub fn reply_bytes(self, status: u16, body: impl Into<Vec<u8>>) {
        self.add_reply(status, body.into());
    }

    /// Fails the request as the host would: `code` (`Timeout`, `Denied`, `Unreachable`, …) and
    /// `message`.
    pub fn fail(self, code: ErrorCode, message: impl Into<String>) {
        self.add(Answer::Fail(HostError::new(code, message)));
    }

    fn add_reply(self, status: u16, body: Vec<u8>) {
        let headers = self.headers.clone();
        self.add(Answer::Reply {
            status,
            headers,
            body,
        });
    }

    fn add(self, answer: Answer) {
        self.state.borrow_mut().rules.push(Rule {
            method: self.method,
            url: self.url,
            remaining: self.remaining,
            answer,
        });
    }
}

/// One request an action sent through a [`TestHost`](super::TestHost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRequest {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    credential: Option<String>,
    timeout: Option<Duration>,
    max_redirects: Option<u8>,
    max_response_bytes: Option<u32>,
}

impl SentRequest {
    fn from_wit(request: &wit::Request) -> Self {
        Self {
            method: request.method.clone(),
            url: request.url.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
            credential: request.credential.clone(),
            timeout: request
                .timeout_ms
                .map(|ms| Duration::from_millis(ms.into())),
            max_redirects: request.max_redirects,
            max_response_bytes: request.max_response_bytes,
        }
    }

    /// The method, as the action wrote it.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body, if any.
    pub fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    /// The body parsed as JSON (`None` without a body or when it is not JSON).
    pub fn json(&self) -> Option<serde_json::Value> {
        self.body
            .as_deref()
            .and_then(|body| serde_json::from_slice(body).ok())
    }

    /// The vault credential the action named for the host to inject.
    pub fn credential(&self) -> Option<&str> {
        self.credential.as_deref()
    }

    /// The timeout the action set.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The redirect limit the action set.
    pub fn max_redirects(&self) -> Option<u8> {
        self.max_redirects
    }

    /// The response cap the action set.
    pub fn max_response_bytes(&self) -> Option<u32> {
        self.max_response_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::super::TestHost;
    use crate::http::Request;
    use crate::{Action, ActionError, Context, ErrorCode, PackDef};
    use serde_json::json;
    use std::time::Duration;

    /// An http action as a pack writes one: opens a ticket, returns its number.
    #[derive(serde::Deserialize, schemars::JsonSchema)]
    struct OpenInput {
        summary: String,
    }

    fn open_ticket(input: OpenInput, ctx: &Context) -> Result<String, ActionError> {
        let response = Request::post("https://tickets.example.com/api/tickets")
            .json(&json!({ "summary": input.summary, "key": ctx.idempotency_key() }))
            .header("accept", "application/json")
            .credential("tickets")
            .timeout(Duration::from_secs(5))
            .send()?
            .error_for_status()?;
        let body: serde_json::Value = response.json()?;
        Ok(body["number"].as_str().unwrap_or_default().to_owned())
    }

    fn pack() -> PackDef {
        PackDef::new("tickets", "1.0.0").action(Action::new("open", "Open a ticket.", open_ticket))
    }

    #[test]
    fn an_http_action_gets_the_scripted_reply_and_its_request_is_recorded() {
        let host = TestHost::new();
        host.http()
            .on("POST", "https://tickets.example.com/api/tickets")
            .reply(201, json!({ "number": "T-7" }));
        let out = pack().call("open", r#"{"summary":"upgrade r1"}"#, &host.context());
        assert_eq!(out, Ok(r#""T-7""#.to_owned()));

        let sent = host.http().requests();
        assert_eq!(sent.len(), 1);
        let request = &sent[0];
        assert_eq!(
            (request.method(), request.url()),
            ("POST", "https://tickets.example.com/api/tickets")
        );
        assert_eq!(request.header("Accept"), Some("application/json"));
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.credential(), Some("tickets"));
        assert_eq!(request.timeout(), Some(Duration::from_secs(5)));
        assert_eq!(
            request.json(),
            Some(json!({ "summary": "upgrade r1", "key": "test-key" }))
        );
    }

    #[test]
    fn a_scripted_failure_reaches_the_action_as_its_code() {
        let host = TestHost::new();
        host.http()
            .on("POST", "https://tickets.example.com/api/tickets")
            .fail(ErrorCode::Denied, "no grant for tickets.example.com");
        let err = pack()
            .call("open", r#"{"summary":"x"}"#, &host.context())
            .expect_err("denied");
        assert_eq!((err.code(), err.is_retryable()), ("denied", false));
    }

    #[test]
    fn a_request_without_a_rule_fails_naming_it_and_is_still_recorded() {
        let host = TestHost::new();
        host.http()
            .on("GET", "https://tickets.example.com/api/tickets")
            .reply(200, json!({}));
        let err = Request::delete("https://tickets.example.com/api/tickets/1")
            .send()
            .expect_err("no rule for DELETE");
        assert_eq!(err.code(), ErrorCode::Invalid);
        assert!(
            err.message()
                .contains("no reply for DELETE https://tickets.example.com/api/tickets/1"),
            "{err}"
        );
        assert!(err.message().contains("host.http().on("), "{err}");
        assert_eq!(host.http().requests().len(), 1);
    }

    #[test]
    fn a_json_reply_keeps_a_content_type_set_on_the_rule() {
        let host = TestHost::new();
        host.http()
            .on("GET", "https://api.example.com/")
            .header("Content-Type", "application/vnd.api+json")
            .reply(200, json!({ "data": [] }));
        let response = Request::get("https://api.example.com/")
            .send()
            .expect("reply");
        assert_eq!(
            response.headers,
            [(
                "Content-Type".to_owned(),
                "application/vnd.api+json".to_owned()
            )]
        );
        assert_eq!(
            response.json::<serde_json::Value>(),
            Ok(json!({ "data": [] }))
        );
    }

    #[test]
    fn limited_rules_give_way_to_the_next_and_prefixes_match() {
        let host = TestHost::new();
        let http = host.http();
        http.on("get", "https://api.example.com/v1/*")
            .once()
            .reply_text(503, "busy");
        http.on("GET", "https://api.example.com/v1/*")
            .header("x-page", "1")
            .reply_bytes(200, b"ok".to_vec());
        let first = Request::get("https://api.example.com/v1/x?q=1")
            .send()
            .expect("reply");
        let second = Request::get("https://api.example.com/v1/x?q=1")
            .send()
            .expect("reply");
        assert_eq!((first.status, first.text()), (503, "busy".into()));
        assert_eq!((second.status, second.header("X-Page")), (200, Some("1")));
        assert_eq!(first.header("content-type"), None);
        assert_eq!(second.url, "https://api.example.com/v1/x?q=1");
        assert!(
            Request::get("https://api.example.com/v2/x")
                .send()
                .is_err_and(|err| err.code() == ErrorCode::Invalid)
        );
    }
}
