//! A minimal `wasi:http/outgoing-handler` client for the test guests: one request, the whole
//! response, the way a standard client (fetch, a wasi-http crate) drives the import. The host's
//! tests send every http attack through it as well as through `orch:pack/http`.
//!
//! It names a credential in `x-orch-credential`, as the contract says, and reads orch's refusals
//! back from `internal-error("code: message")`. It follows no redirect: the host hands 3xx
//! responses to wasi:http clients.

use std::time::Duration;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingResponse, Method, OutgoingBody,
    OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

/// One request.
#[derive(Debug, Default)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// Body, if any.
    pub body: Option<Vec<u8>>,
    /// The vault credential the host should inject.
    pub credential: Option<String>,
    /// Sent as the request's first-byte timeout.
    pub timeout: Option<Duration>,
}

/// The whole response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in order, values lossily decoded.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Why a request failed: orch's error code (`denied`, `not_found`, …) when the host refused,
/// else `wasi` or `invalid`, and a message.
#[derive(Debug)]
pub struct Failure {
    /// The code, snake_case as the SDK names them.
    pub code: String,
    /// What happened.
    pub message: String,
}

fn failed(code: &str, message: impl Into<String>) -> Failure {
    Failure {
        code: code.to_owned(),
        message: message.into(),
    }
}

fn bad(what: &str) -> Failure {
    failed("invalid", format!("bad {what}"))
}

/// orch's refusals arrive as `internal-error("code: message")`; anything else by its name.
fn from_wasi(error: ErrorCode) -> Failure {
    match error {
        ErrorCode::InternalError(Some(text)) => match text.split_once(": ") {
            Some((code, message)) => failed(&code.replace('-', "_"), message),
            None => failed("internal", text),
        },
        ErrorCode::ConnectionTimeout => failed("timeout", "connection timeout"),
        ErrorCode::ConnectionLimitReached => failed("connection_limit", "connection limit reached"),
        other => failed("wasi", format!("{other:?}")),
    }
}

/// Sends `request` through `wasi:http/outgoing-handler`.
pub fn send(request: &Request) -> Result<Response, Failure> {
    let future = start(request)?;
    finish(&future)
}

/// Starts every request before waiting for any (as `Promise.all` of fetches does); the
/// outcomes in order.
pub fn send_all(requests: &[Request]) -> Vec<Result<Response, Failure>> {
    let started: Vec<Result<FutureIncomingResponse, Failure>> =
        requests.iter().map(start).collect();
    started
        .into_iter()
        .map(|future| future.and_then(|future| finish(&future)))
        .collect()
}

/// Starts every request, then waits for every response without reading any body (a client
/// that collects all its responses first); the statuses in order. The bodies are dropped at
/// the end.
pub fn send_all_unread(requests: &[Request]) -> Vec<Result<u16, Failure>> {
    let started: Vec<Result<FutureIncomingResponse, Failure>> =
        requests.iter().map(start).collect();
    let mut held = Vec::new();
    let statuses = started
        .into_iter()
        .map(|future| {
            let future = future?;
            let response = response_of(&future)?;
            let status = response.status();
            held.push((response, future));
            Ok(status)
        })
        .collect();
    drop(held);
    statuses
}

/// Builds and hands `request` to the host, its body written; the response to come.
fn start(request: &Request) -> Result<FutureIncomingResponse, Failure> {
    let (scheme, rest) = request
        .url
        .split_once("://")
        .ok_or_else(|| failed("invalid", format!("no scheme in {:?}", request.url)))?;
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = if path.is_empty() { "/" } else { path };
    let fields = Fields::new();
    let credential = request
        .credential
        .iter()
        .map(|name| ("x-orch-credential".to_owned(), name.clone()));
    for (name, value) in request.headers.iter().cloned().chain(credential) {
        fields
            .append(&name, value.as_bytes())
            .map_err(|err| failed("invalid", format!("header {name}: {err:?}")))?;
    }
    let outgoing = OutgoingRequest::new(fields);
    let method = match request.method.as_str() {
        "" | "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_owned()),
    };
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_owned()),
    };
    outgoing.set_method(&method).map_err(|()| bad("method"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| bad("scheme"))?;
    outgoing
        .set_authority(Some(authority))
        .map_err(|()| bad("authority"))?;
    outgoing
        .set_path_with_query(Some(path))
        .map_err(|()| bad("path"))?;
    let options = request.timeout.map(|timeout| {
        let options = RequestOptions::new();
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        let _ = options.set_first_byte_timeout(Some(nanos));
        options
    });
    let body = outgoing.body().map_err(|()| bad("body"))?;
    // The host reads the body while the request is in flight: start it, then write.
    let future = outgoing_handler::handle(outgoing, options).map_err(from_wasi)?;
    {
        let stream = body.write().map_err(|()| bad("body stream"))?;
        for chunk in request.body.as_deref().unwrap_or_default().chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|err| failed("wasi", format!("writing the body: {err:?}")))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(from_wasi)?;
    Ok(future)
}

/// Waits for the response to `future`, its body not read.
fn response_of(future: &FutureIncomingResponse) -> Result<IncomingResponse, Failure> {
    future.subscribe().block();
    future
        .get()
        .ok_or_else(|| failed("wasi", "no response"))?
        .map_err(|()| failed("wasi", "response taken twice"))?
        .map_err(from_wasi)
}

/// Waits for the response to `future` and reads it whole.
fn finish(future: &FutureIncomingResponse) -> Result<Response, Failure> {
    let response = response_of(future)?;
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let incoming = response.consume().map_err(|()| bad("response body"))?;
    let mut bytes = Vec::new();
    {
        let stream = incoming.stream().map_err(|()| bad("response stream"))?;
        loop {
            match stream.blocking_read(64 << 10) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(err) => return Err(failed("wasi", format!("reading the body: {err:?}"))),
            }
        }
    }
    drop(incoming);
    Ok(Response {
        status,
        headers,
        body: bytes,
    })
}
