//! A real local HTTP server for the http capability's tests: an axum app on 127.0.0.1:0 in a
//! background thread with its own tokio runtime, stopped on drop (also when a test fails). It
//! records every request it sees (so a test can assert what arrived, or that nothing did), and
//! serves:
//! - `/protected`: 200 `welcome` when the expected header (set with [`Peer::expect`]) is present
//!   with the expected value, else 401;
//! - `/echo-headers`: the request's headers as a JSON object, gzip-compressed when the request
//!   accepts gzip (as a server with a compression layer does);
//! - `/echo-header-names`: a response header named after the request's bearer token;
//! - `/echo-encoded?as=hex|HEX|u|mixed|br`: the request's `Authorization` value hex-encoded
//!   (either case), as JSON `\u` escapes (every character, or some), or claimed as brotli;
//! - `/store`: keeps the request's headers; `/stored`: gives the kept headers back (a server
//!   that stores what it receives, for another client to read later);
//! - `/redirect?to=URL[&status=302]`: a redirect to URL;
//! - `/loop?n=N`: a redirect to `/loop?n=N+1`, forever;
//! - `/big?bytes=N[&length=1]`: N bytes streamed in 64 KiB chunks (with a Content-Length when
//!   `length` is set);
//! - `/slow?ms=N`: answers after N milliseconds (counting how many it answers at once);
//! - `/oauth/token`: the client-credentials grant: checks HTTP basic client authentication and
//!   the form, counts calls, returns `{"access_token", "token_type": "Bearer", "expires_in":
//!   3600}`;
//! - anything else: 200 `peer` (what a recording proxy answers).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use base64::Engine as _;

use crate::harness::{Run, TestHost};

/// One request the peer saw.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: String,
    /// Path and query (or the absolute URI a client sends to a proxy).
    pub uri: String,
    /// Header names lowercase.
    pub headers: BTreeMap<String, String>,
}

#[derive(Default)]
struct PeerState {
    hits: Mutex<Vec<Hit>>,
    expected: Mutex<Option<(String, String)>>,
    oauth: Mutex<Option<OauthClient>>,
    token_calls: Mutex<usize>,
    /// Each token is good for one API request (`/protected` then expects the next one).
    single_use: Mutex<bool>,
    accepted: Mutex<usize>,
    stored: Mutex<BTreeMap<String, String>>,
    /// `/slow` requests being answered now, and the most there ever were at once.
    slow_now: Mutex<usize>,
    slow_most: Mutex<usize>,
}

#[derive(Clone)]
struct OauthClient {
    client_id: String,
    client_secret: String,
    access_token: String,
}

/// A running server; stopped when dropped.
pub struct Peer {
    addr: SocketAddr,
    state: Arc<PeerState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Peer {
    /// Starts a server on 127.0.0.1 on a free port.
    pub fn start() -> Self {
        Self::start_on("127.0.0.1:0")
    }

    /// Starts a server on `address` (e.g. `[::1]:0` for IPv6 loopback).
    pub fn start_on(address: &str) -> Self {
        let state = Arc::new(PeerState::default());
        let listener = std::net::TcpListener::bind(address).expect("binding a local port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let app = Router::new()
            .route("/protected", get(protected))
            .route("/echo-headers", any(echo_headers))
            .route("/echo-header-names", any(echo_header_names))
            .route("/echo-encoded", any(echo_encoded))
            .route("/store", any(store))
            .route("/stored", any(stored))
            .route("/redirect", any(redirect))
            .route("/loop", any(redirect_loop))
            .route("/big", get(big))
            .route("/slow", get(slow))
            .route("/oauth/token", post(token))
            .fallback(any(|| async { "peer" }))
            .layer(middleware::from_fn_with_state(Arc::clone(&state), record))
            .with_state(Arc::clone(&state));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("peer runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = stopped => {}
                }
            });
            runtime.shutdown_timeout(std::time::Duration::from_millis(200));
        });
        Self {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT` + `path`.
    /// `http://ADDRESS:PORT` + `path` (`127.0.0.1`, or `[::1]` for an IPv6 peer).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `/protected` answers 200 only with header `name: value`.
    pub fn expect(&self, name: &str, value: &str) {
        *self.state.expected.lock().expect("lock") =
            Some((name.to_ascii_lowercase(), value.to_owned()));
    }

    /// `/oauth/token` accepts `client_id`:`client_secret` and hands out `access_token`.
    pub fn oauth(&self, client_id: &str, client_secret: &str, access_token: &str) {
        *self.state.oauth.lock().expect("lock") = Some(OauthClient {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            access_token: access_token.to_owned(),
        });
    }

    /// Makes every access token good for one `/protected` request: the n-th token is
    /// `ACCESS_TOKEN-n`, and a used one gets 401 (as a revoked token would).
    pub fn single_use_tokens(&self) {
        *self.state.single_use.lock().expect("lock") = true;
    }

    /// How many `/protected` requests were let in.
    pub fn accepted(&self) -> usize {
        *self.state.accepted.lock().expect("lock")
    }

    /// How many times `/oauth/token` handed out a token.
    pub fn token_calls(&self) -> usize {
        *self.state.token_calls.lock().expect("lock")
    }

    /// `orch pack grant PACK http:http://127.0.0.1:PORT` in `host` (asserting success).
    pub fn grant_to(&self, host: &TestHost, pack: &str) {
        host.orch(&[
            "pack",
            "grant",
            pack,
            &format!("http:http://127.0.0.1:{}", self.port()),
        ])
        .ok();
    }

    /// `orch secret set NAME --kind bearer --bind 127.0.0.1:PORT` in `host`, `token` on stdin
    /// (asserting success).
    pub fn bearer(&self, host: &TestHost, name: &str, token: &str) -> Run {
        let run = host.orch_with_stdin(
            &[
                "secret",
                "set",
                name,
                "--kind",
                "bearer",
                "--from-stdin",
                "--bind",
                &format!("127.0.0.1:{}", self.port()),
            ],
            token,
        );
        run.ok();
        run
    }

    /// Runs `ACTION` (a pack's `fetch_plain`: a standard wasi:http client taking `{url,
    /// credential}` and answering `{status, body}`) against `/echo-headers` with the bearer
    /// credential `credential` (holding `token`), and asserts the host's part: the token reached
    /// this server, the pack saw it masked, and the naming header was never sent.
    pub fn assert_fetched_with_bearer(
        &self,
        host: &TestHost,
        action: &str,
        credential: &str,
        token: &str,
    ) -> Run {
        let input =
            serde_json::json!({ "url": self.url("/echo-headers"), "credential": credential });
        let fetched = host.orch(&[
            "action",
            "run",
            action,
            "--json",
            "--input",
            &input.to_string(),
        ]);
        let out = fetched.output();
        assert_eq!(out["status"], 200, "{out}");
        let echoed: serde_json::Value =
            serde_json::from_str(out["body"].as_str().unwrap_or_default()).expect("a JSON echo");
        assert_eq!(echoed["authorization"], "Bearer ***", "{echoed}");
        assert!(
            echoed.get("x-orch-credential").is_none(),
            "the naming header is never sent: {echoed}"
        );
        let sent = self.hits().last().expect("a request").headers["authorization"].clone();
        assert_eq!(sent, format!("Bearer {token}"), "the server got the token");
        fetched
    }

    /// The most `/slow` requests the peer was answering at once.
    pub fn most_slow_at_once(&self) -> usize {
        *self.state.slow_most.lock().expect("lock")
    }

    /// Every request seen so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.state.hits.lock().expect("lock").clone()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn record(State(state): State<Arc<PeerState>>, request: Request, next: Next) -> Response {
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    state.hits.lock().expect("lock").push(Hit {
        method: request.method().to_string(),
        uri: request.uri().to_string(),
        headers,
    });
    next.run(request).await
}

async fn protected(State(state): State<Arc<PeerState>>, headers: HeaderMap) -> Response {
    let expected = state.expected.lock().expect("lock").clone();
    let ok = expected.is_some_and(|(name, value)| {
        headers
            .get(name.as_str())
            .is_some_and(|got| got.as_bytes() == value.as_bytes())
    });
    if ok {
        *state.accepted.lock().expect("lock") += 1;
        if *state.single_use.lock().expect("lock") {
            *state.expected.lock().expect("lock") = None;
        }
        (StatusCode::OK, "welcome").into_response()
    } else {
        (StatusCode::UNAUTHORIZED, "who are you?").into_response()
    }
}

fn header_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

async fn echo_headers(headers: HeaderMap) -> Response {
    let body = serde_json::to_string(&header_map(&headers)).expect("json");
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    if gzip {
        use std::io::Write as _;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(body.as_bytes()).expect("gzip");
        let compressed = encoder.finish().expect("gzip");
        return (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CONTENT_ENCODING, "gzip"),
            ],
            compressed,
        )
            .into_response();
    }
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The bearer token of the request, if any.
fn bearer(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_start_matches("Bearer ").to_owned())
        .unwrap_or_default()
}

async fn echo_header_names(headers: HeaderMap) -> Response {
    let name = format!("x-echo-{}", bearer(&headers).to_ascii_lowercase());
    match header::HeaderName::from_bytes(name.as_bytes()) {
        Ok(name) => ([(name, "1")], "see the headers").into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, "token unfit for a header name").into_response(),
    }
}

async fn echo_encoded(
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let token = bearer(&headers);
    let hex: String = token.bytes().map(|b| format!("{b:02x}")).collect();
    let body = match query.get("as").map(String::as_str) {
        Some("hex") => hex,
        Some("HEX") => hex.to_ascii_uppercase(),
        Some("u") => {
            let escaped: String = token
                .chars()
                .map(|c| format!("\\u{:04x}", c as u32))
                .collect();
            format!("{{\"echo\":\"{escaped}\"}}")
        }
        // Every other character escaped, in mixed case: no fixed form matches it.
        Some("mixed") => {
            let escaped: String = token
                .chars()
                .enumerate()
                .map(|(i, c)| match i % 3 {
                    0 => format!("\\u{:04X}", c as u32),
                    1 => c.to_string(),
                    _ => format!("\\u{:04x}", c as u32),
                })
                .collect();
            format!("{{\"echo\":\"{escaped}\"}}")
        }
        Some("br") => {
            return ([(header::CONTENT_ENCODING, "br")], token.into_bytes()).into_response();
        }
        _ => token,
    };
    body.into_response()
}

async fn store(State(state): State<Arc<PeerState>>, headers: HeaderMap) -> &'static str {
    *state.stored.lock().expect("lock") = header_map(&headers);
    "stored"
}

async fn stored(State(state): State<Arc<PeerState>>) -> Response {
    let map = state.stored.lock().expect("lock").clone();
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&map).expect("json"),
    )
        .into_response()
}

async fn redirect(Query(query): Query<HashMap<String, String>>) -> Response {
    let to = query.get("to").cloned().unwrap_or_else(|| "/".to_owned());
    let status = query
        .get("status")
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::FOUND);
    (status, [(header::LOCATION, to)]).into_response()
}

async fn redirect_loop(Query(query): Query<HashMap<String, String>>) -> Response {
    let n: u32 = query.get("n").and_then(|n| n.parse().ok()).unwrap_or(0);
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("/loop?n={}", n + 1))],
    )
        .into_response()
}

async fn big(Query(query): Query<HashMap<String, String>>) -> Response {
    const CHUNK: usize = 64 << 10;
    let total: usize = query.get("bytes").and_then(|n| n.parse().ok()).unwrap_or(0);
    let chunks = (0..total.div_ceil(CHUNK)).map(move |i| {
        let len = CHUNK.min(total - i * CHUNK);
        Ok::<_, std::io::Error>(vec![b'x'; len])
    });
    let body = Body::from_stream(futures::stream::iter(chunks));
    if query.contains_key("length") {
        ([(header::CONTENT_LENGTH, total.to_string())], body).into_response()
    } else {
        body.into_response()
    }
}

async fn slow(
    State(state): State<Arc<PeerState>>,
    Query(query): Query<HashMap<String, String>>,
) -> &'static str {
    {
        let mut now = state.slow_now.lock().expect("lock");
        *now += 1;
        let mut most = state.slow_most.lock().expect("lock");
        *most = (*most).max(*now);
    }
    let ms: u64 = query.get("ms").and_then(|n| n.parse().ok()).unwrap_or(0);
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    *state.slow_now.lock().expect("lock") -= 1;
    "finally"
}

async fn token(State(state): State<Arc<PeerState>>, headers: HeaderMap, form: String) -> Response {
    let Some(client) = state.oauth.lock().expect("lock").clone() else {
        return (StatusCode::NOT_FOUND, "no oauth client configured").into_response();
    };
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", client.client_id, client.client_secret));
    let authorized = headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == format!("Basic {basic}").as_bytes());
    let form_ok = form
        .split('&')
        .any(|pair| pair == "grant_type=client_credentials");
    if !authorized || !form_ok {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":"invalid_client"}"#,
        )
            .into_response();
    }
    let calls = {
        let mut calls = state.token_calls.lock().expect("lock");
        *calls += 1;
        *calls
    };
    let mut access_token = client.access_token;
    if *state.single_use.lock().expect("lock") {
        access_token = format!("{access_token}-{calls}");
        *state.expected.lock().expect("lock") =
            Some(("authorization".to_owned(), format!("Bearer {access_token}")));
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3600,
        })
        .to_string(),
    )
        .into_response()
}
