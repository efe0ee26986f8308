//! `wasi:http/outgoing-handler`: the standard HTTP import, brokered exactly like
//! `orch:pack/http`.
//!
//! Packs built with componentize-py or componentize-js, and Rust packs using a wasi-http client,
//! speak HTTP through `wasi:http` rather than through our contract. wasmtime-wasi-http provides
//! the `wasi:http/types` resources; its one hook for sending, [`WasiHttpHooks::send_request`], is
//! implemented here by turning the request into an `orch:pack/http` request and handing it to the
//! same [`http::send`](super::http) — grants, address checks on every hop, credential
//! injection, size caps, the invocation's deadline and masking — so the two imports cannot
//! drift apart. What differs is only what a standard client expects:
//!
//! - headers a standard client sets for the transport (`Host`, `Content-Length`,
//!   `Accept-Encoding`, …) are dropped instead of refused: the host is the transport here, and
//!   negotiates and decodes content encoding itself so masking sees what the pack sees;
//! - a credential is named in the request header [`CREDENTIAL_HEADER`], which the host removes
//!   before sending and replaces with the credential's own header;
//! - redirects are not followed: the client gets the 3xx and decides, and its next request is
//!   checked like any other;
//! - a refusal is a `wasi:http` `internal-error` whose text starts with orch's error code
//!   (`denied: pack "x" may not reach …`), so the pack can still show the operator the fix;
//!   since many clients drop that text (JavaScript's `fetch` throws a bare `NetworkError`), the
//!   host also writes it as a `warn` line in the invocation's logs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
#[cfg(test)]
use std::time::Duration;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use wasmtime::component::ResourceTable;
use wasmtime_wasi_http::{
    Error as WasiHttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
};

use super::broker::CapabilityContext;
use super::http::{self, policy};
use super::{ErrorCode, HostError, host_error};
use crate::contract::orch::pack::http::Request;

/// The request header in which a pack names the vault credential the host should inject
/// (`x-orch-credential: servicenow`); never sent.
pub const CREDENTIAL_HEADER: &str = "x-orch-credential";
/// Largest request body a pack may send through `wasi:http`.
pub const MAX_REQUEST_BYTES: usize = 16 << 20;

/// Refusals kept per invocation for its logs (a pack retrying in a loop adds no more).
const MAX_REFUSALS_KEPT: usize = 20;
/// Requests one invocation may have in flight at once; more wait for a slot (within the
/// deadline). `orch:pack/http` sends one at a time; wasi:http lets a pack start many, and each
/// may hold a response of up to 16 MiB, so without a bound a pack could fan out to a granted
/// server thousands of times or fill the host's memory.
pub const MAX_IN_FLIGHT: usize = 8;
/// Bytes of responses one invocation may hold without having read them. A response handed to
/// a wasi:http client stays in the host until the pack reads or drops its body; a pack starting
/// requests and never reading them would otherwise pile up 16 MiB per response. Past the
/// budget a response is refused (`too-large`), not waited for: a client waiting for all its
/// responses before reading any would wait forever.
pub const MAX_HELD_RESPONSE_BYTES: usize = 64 << 20;
/// Largest write to a request body's stream the host buffers. wasmtime-wasi-http keeps one
/// such chunk per body stream before the request is sent (1 MiB by default); a pack can open
/// thousands of requests without sending them, so the chunk is kept small.
const BODY_CHUNK_BYTES: usize = 16 << 10;

/// The `wasi:http` capability of one invocation: wasmtime-wasi-http's context (its resources
/// live in the sandbox's WASI table) and our hooks, which send through the broker.
pub struct WasiHttpCapability {
    ctx: WasiHttpCtx,
    hooks: WasiHttpBroker,
}

impl WasiHttpCapability {
    /// The capability for one invocation.
    pub fn lend(lending: &super::Lending) -> Self {
        Self {
            ctx: WasiHttpCtx::new(),
            hooks: WasiHttpBroker::new(lending.context.clone(), lending.deadline),
        }
    }

    /// What wasmtime-wasi-http works with: this context and hooks, and the sandbox's `table`.
    pub fn view<'a>(&'a mut self, table: &'a mut ResourceTable) -> WasiHttpCtxView<'a> {
        WasiHttpCtxView {
            ctx: &mut self.ctx,
            table,
            hooks: &mut self.hooks,
        }
    }

    /// The refusals met so far ("code: message", masked), oldest first; taken once.
    pub fn take_refusals(&mut self) -> Vec<String> {
        self.hooks.take_refusals()
    }
}

/// The `wasi:http` hooks of one invocation: what its pack was lent, when it ends, and the
/// refusals it met (for the invocation's logs; the sending future runs in its own task).
pub struct WasiHttpBroker {
    context: CapabilityContext,
    deadline: Instant,
    refusals: Arc<Mutex<Vec<String>>>,
    in_flight: Arc<tokio::sync::Semaphore>,
    held: Arc<AtomicUsize>,
}

impl WasiHttpBroker {
    /// The hooks for one invocation ending at `deadline`.
    fn new(context: CapabilityContext, deadline: Instant) -> Self {
        Self {
            context,
            deadline,
            refusals: Arc::default(),
            in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
            held: Arc::default(),
        }
    }

    fn take_refusals(&mut self) -> Vec<String> {
        std::mem::take(&mut *self.refusals.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The I/O future a `send_request` hands back: the response is whole when it is returned, so
/// there is nothing left to drive.
type Driver = Box<dyn Future<Output = Result<(), WasiHttpError>> + Send>;

impl WasiHttpHooks for WasiHttpBroker {
    fn set_host_header(&mut self) -> bool {
        // The host sets Host from the URL it checked; a pack's own would be dropped anyway.
        false
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        BODY_CHUNK_BYTES
    }

    fn send_request(
        &mut self,
        request: ::http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: Driver,
    ) -> Box<dyn Future<Output = Result<(::http::Response<WasiBody>, Driver), WasiHttpError>> + Send>
    {
        let context = self.context.clone();
        let deadline = self.deadline;
        let refusals = Arc::clone(&self.refusals);
        let in_flight = Arc::clone(&self.in_flight);
        let held = Arc::clone(&self.held);
        Box::new(async move {
            // Held until the response is whole; the wait is bounded by the deadline.
            let wait = deadline.saturating_duration_since(Instant::now());
            let _slot = match tokio::time::timeout(wait, in_flight.acquire_owned()).await {
                Ok(Ok(slot)) => slot,
                _ => return Err(WasiHttpError::ConnectionLimitReached),
            };
            let request = to_orch_request(request, options).await?;
            let note = |error: HostError| {
                let mut kept = refusals.lock().unwrap_or_else(|e| e.into_inner());
                if kept.len() < MAX_REFUSALS_KEPT {
                    kept.push(format!("{}: {}", code_name(error.code), error.message));
                }
                refusal(error)
            };
            let response = http::send(&context, deadline, request)
                .await
                .map_err(note)?;
            let hold = Held::take(&held, response.body.len()).map_err(note)?;
            Ok((
                to_wasi_response(response, hold)?,
                Box::new(async { Ok(()) }) as Driver,
            ))
        })
    }
}

/// The `orch:pack/http` request a `wasi:http` request stands for.
async fn to_orch_request(
    request: ::http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<Request, WasiHttpError> {
    let (parts, body) = request.into_parts();
    let mut credential = None;
    let mut headers = Vec::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let value = value.to_str().map_err(|_| {
            refusal(host_error(
                ErrorCode::Invalid,
                format!("header {name:?} has a value that is not visible ASCII"),
            ))
        })?;
        if name.as_str() == CREDENTIAL_HEADER {
            if credential.replace(value.to_owned()).is_some() {
                return Err(refusal(host_error(
                    ErrorCode::Invalid,
                    format!("{CREDENTIAL_HEADER} is given twice; name one credential"),
                )));
            }
        } else if !policy::is_host_owned(name.as_str()) {
            headers.push((name.as_str().to_owned(), value.to_owned()));
        }
    }
    let body = Limited::new(body, MAX_REQUEST_BYTES)
        .collect()
        .await
        .map_err(|_| WasiHttpError::HttpRequestBodySize(None))?
        .to_bytes();
    let timeout = options
        .and_then(|o| o.first_byte_timeout.or(o.connect_timeout))
        .map(|t| u32::try_from(t.as_millis()).unwrap_or(u32::MAX));
    Ok(Request {
        method: parts.method.as_str().to_owned(),
        url: parts.uri.to_string(),
        headers,
        body: (!body.is_empty()).then(|| body.to_vec()),
        timeout_ms: timeout,
        credential,
        // A standard client follows redirects itself; each of its requests is checked.
        max_redirects: Some(0),
        max_response_bytes: None,
    })
}

/// A response body's share of [`MAX_HELD_RESPONSE_BYTES`], given back when the body is
/// dropped (read to its end, or dropped unread).
struct Held {
    held: Arc<AtomicUsize>,
    bytes: usize,
}

impl Held {
    /// Counts `bytes` more held, or refuses when that passes the budget.
    fn take(held: &Arc<AtomicUsize>, bytes: usize) -> Result<Self, HostError> {
        let before = held.fetch_add(bytes, Ordering::SeqCst);
        if before + bytes > MAX_HELD_RESPONSE_BYTES {
            held.fetch_sub(bytes, Ordering::SeqCst);
            return Err(host_error(
                ErrorCode::TooLarge,
                format!(
                    "the pack holds {before} bytes of wasi:http responses it has not read, and \
                     this one ({bytes} bytes) would pass the {MAX_HELD_RESPONSE_BYTES}-byte \
                     budget; read or drop responses before starting more requests"
                ),
            ));
        }
        Ok(Self {
            held: Arc::clone(held),
            bytes,
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.held.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

/// The `wasi:http` response for a brokered (and masked) one, its body holding `hold`.
fn to_wasi_response(
    response: crate::contract::orch::pack::http::Response,
    hold: Held,
) -> Result<::http::Response<WasiBody>, WasiHttpError> {
    let mut builder = ::http::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = Full::new(Bytes::from(response.body))
        .map_err(|never| match never {})
        // The budget share lives as long as the body does.
        .map_frame(move |frame| {
            let _ = &hold;
            frame
        })
        .boxed_unsync();
    builder
        .body(body)
        .map_err(|err| WasiHttpError::InternalError(Some(format!("bad response: {err}"))))
}

/// A refusal or failure of the broker as the `wasi:http` error the pack receives: its code and
/// message (already masked) in an `internal-error`, timeouts as the standard timeout.
fn refusal(error: HostError) -> WasiHttpError {
    match error.code {
        ErrorCode::Timeout => WasiHttpError::ConnectionTimeout,
        code => {
            WasiHttpError::InternalError(Some(format!("{}: {}", code_name(code), error.message)))
        }
    }
}

/// The WIT name of an error code.
fn code_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Denied => "denied",
        ErrorCode::Invalid => "invalid",
        ErrorCode::NotFound => "not-found",
        ErrorCode::Unreachable => "unreachable",
        ErrorCode::Timeout => "timeout",
        ErrorCode::AuthFailed => "auth-failed",
        ErrorCode::HostKey => "host-key",
        ErrorCode::TooLarge => "too-large",
        ErrorCode::Protocol => "protocol",
        ErrorCode::Closed => "closed",
        ErrorCode::QuotaExceeded => "quota-exceeded",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)], body: &'static [u8]) -> ::http::Request<WasiBody> {
        let mut builder = ::http::Request::builder()
            .method("POST")
            .uri("https://api.example.com:8443/v1/items?q=1");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder
            .body(
                Full::new(Bytes::from_static(body))
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .unwrap()
    }

    #[tokio::test]
    async fn a_standard_request_becomes_a_brokered_one() {
        let wasi = request(
            &[
                ("host", "api.example.com"),
                ("content-length", "2"),
                ("accept-encoding", "gzip"),
                ("content-type", "application/json"),
                ("x-orch-credential", "api"),
            ],
            b"{}",
        );
        let options = RequestOptions {
            connect_timeout: None,
            first_byte_timeout: Some(Duration::from_millis(1500)),
            between_bytes_timeout: None,
        };
        let orch = to_orch_request(wasi, Some(options)).await.unwrap();
        assert_eq!(orch.method, "POST");
        assert_eq!(orch.url, "https://api.example.com:8443/v1/items?q=1");
        // Transport headers are the host's; the credential's name is not a header.
        assert_eq!(
            orch.headers,
            vec![("content-type".to_owned(), "application/json".to_owned())]
        );
        assert_eq!(orch.credential.as_deref(), Some("api"));
        assert_eq!(orch.body.as_deref(), Some(&b"{}"[..]));
        assert_eq!(orch.timeout_ms, Some(1500));
        assert_eq!(orch.max_redirects, Some(0), "the client follows redirects");
    }

    #[tokio::test]
    async fn two_credentials_or_a_binary_header_are_refused() {
        let twice = request(
            &[("x-orch-credential", "a"), ("x-orch-credential", "b")],
            b"",
        );
        let err = to_orch_request(twice, None).await.unwrap_err();
        assert!(format!("{err:?}").contains("given twice"), "{err:?}");
        let mut binary = request(&[], b"");
        binary.headers_mut().insert(
            "x-data",
            ::http::HeaderValue::from_bytes(&[0xff, 0xfe]).unwrap(),
        );
        let err = to_orch_request(binary, None).await.unwrap_err();
        assert!(format!("{err:?}").contains("x-data"), "{err:?}");
    }

    #[tokio::test]
    async fn a_body_over_the_cap_is_refused() {
        let big: &'static [u8] = Box::leak(vec![b'x'; MAX_REQUEST_BYTES + 1].into_boxed_slice());
        let err = to_orch_request(request(&[], big), None).await.unwrap_err();
        assert!(
            matches!(err, WasiHttpError::HttpRequestBodySize(_)),
            "{err:?}"
        );
    }

    #[test]
    fn a_refusal_keeps_its_code_and_message() {
        let err = refusal(host_error(
            ErrorCode::Denied,
            "pack \"p\" may not reach x".into(),
        ));
        match err {
            WasiHttpError::InternalError(Some(text)) => {
                assert_eq!(text, "denied: pack \"p\" may not reach x");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            refusal(host_error(ErrorCode::Timeout, "slow".into())),
            WasiHttpError::ConnectionTimeout
        ));
    }

    #[test]
    fn a_response_keeps_status_headers_and_body() {
        let held = Arc::new(AtomicUsize::new(0));
        let hold = Held::take(&held, 5).unwrap();
        let response = to_wasi_response(
            crate::contract::orch::pack::http::Response {
                status: 302,
                headers: vec![("location".into(), "/next".into())],
                body: b"moved".to_vec(),
                url: "https://api.example.com/".into(),
            },
            hold,
        )
        .unwrap();
        assert_eq!(response.status(), 302);
        assert_eq!(response.headers()["location"], "/next");
        assert_eq!(held.load(Ordering::SeqCst), 5, "held while the body lives");
        drop(response);
        assert_eq!(held.load(Ordering::SeqCst), 0, "given back with the body");
    }

    #[test]
    fn responses_held_unread_past_the_budget_are_refused() {
        let held = Arc::new(AtomicUsize::new(0));
        let first = Held::take(&held, MAX_HELD_RESPONSE_BYTES - 10).unwrap();
        let err = Held::take(&held, 11).err().expect("over the budget");
        assert_eq!(err.code, ErrorCode::TooLarge);
        assert!(err.message.contains("read or drop"), "{}", err.message);
        let _fits = Held::take(&held, 10).unwrap();
        drop(first);
        assert_eq!(held.load(Ordering::SeqCst), 10);
    }
}
