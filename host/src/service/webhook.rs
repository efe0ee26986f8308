//! Webhooks: `POST /hooks/NAME`, declared by the rules that listen to them, each with a vault
//! credential. A `webhook-hmac` hook wants `X-Orch-Timestamp: UNIX_SECONDS` and
//! `X-Orch-Signature: sha256=HEX`, the HMAC-SHA256 of `TIMESTAMP.BODY` under the key: a timestamp
//! outside [`WINDOW_SECS`] is refused (replays of old requests), and the signature is the
//! request's delivery key, stored with the event, so an exact replay inside the window is refused
//! too. A `webhook-token` hook wants `Authorization: Bearer TOKEN` (weaker: nothing stops a
//! replay, unless the sender gives an `X-Orch-Delivery` id). The body is JSON, at most
//! `--max-body` bytes. Every refusal is a JSON error with a code, counted; no secret is ever in
//! a response or a log line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use tokio::sync::{mpsc, oneshot};

use super::http::HttpError;
use super::intake::Incoming;
use super::{Core, now};
use crate::store::{NewEvent, Stored};
use crate::vault::Kind;

/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "x-orch-timestamp";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-orch-signature";
/// An optional delivery id (for bearer hooks: refuses a replayed delivery).
pub const DELIVERY_HEADER: &str = "x-orch-delivery";
/// How far a signed request's timestamp may be from the server's clock.
pub const WINDOW_SECS: i64 = 300;
/// How long a webhook waits for its event to be stored before giving up.
const STORE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client gets to send its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The signature header's value for `body` sent at `timestamp` (Unix seconds, as text) under
/// `key`: `sha256=` and the hex HMAC-SHA256 of `TIMESTAMP.BODY`. What a sender computes.
pub fn signature(key: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mac = mac(key, timestamp, body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn mac(key: &[u8], timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as hmac::Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Why a webhook request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No signature or timestamp header.
    Unsigned,
    /// The timestamp is not a number of seconds.
    BadTimestamp,
    /// The timestamp is outside the window.
    Stale {
        /// Seconds between it and the server's clock.
        skew: i64,
    },
    /// The signature is malformed or does not match.
    BadSignature,
    /// No bearer token.
    NoToken,
    /// The wrong bearer token.
    BadToken,
}

impl Refusal {
    /// The error code, as counted and returned.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Unsigned => "unsigned",
            Refusal::BadTimestamp => "bad_timestamp",
            Refusal::Stale { .. } => "stale",
            Refusal::BadSignature => "bad_signature",
            Refusal::NoToken => "no_token",
            Refusal::BadToken => "bad_token",
        }
    }

    fn message(&self) -> String {
        match self {
            Refusal::Unsigned => format!(
                "the request is not signed: send {TIMESTAMP_HEADER}: UNIX_SECONDS and \
                 {SIGNATURE_HEADER}: sha256=HEX, the HMAC-SHA256 of \"TIMESTAMP.BODY\" under the \
                 hook's key"
            ),
            Refusal::BadTimestamp => format!("{TIMESTAMP_HEADER} must be Unix seconds"),
            Refusal::Stale { skew } => format!(
                "{TIMESTAMP_HEADER} is {skew} s away from the server's clock; signed requests are \
                 accepted within {WINDOW_SECS} s (a replay of an old request is refused)"
            ),
            Refusal::BadSignature => format!(
                "{SIGNATURE_HEADER} does not match the body and timestamp under the hook's key"
            ),
            Refusal::NoToken => "send the hook's token as Authorization: Bearer TOKEN".into(),
            Refusal::BadToken => "the bearer token is not the hook's".into(),
        }
    }
}

/// Checks a signed request at `now` (Unix seconds); the delivery key (the signature) on success.
pub fn check_hmac(
    key: &[u8],
    timestamp: Option<&str>,
    signature_header: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<String, Refusal> {
    let (Some(timestamp), Some(given)) = (timestamp, signature_header) else {
        return Err(Refusal::Unsigned);
    };
    let at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| Refusal::BadTimestamp)?;
    let skew = now.saturating_sub(at);
    if skew.abs() > WINDOW_SECS {
        return Err(Refusal::Stale { skew });
    }
    let hex_part = given
        .trim()
        .strip_prefix("sha256=")
        .ok_or(Refusal::BadSignature)?;
    let given_bytes = hex::decode(hex_part).map_err(|_| Refusal::BadSignature)?;
    mac(key, timestamp, body)
        .verify_slice(&given_bytes)
        .map_err(|_| Refusal::BadSignature)?;
    Ok(hex::encode(given_bytes))
}

/// Checks a bearer token in constant time.
pub fn check_token(expected: &[u8], authorization: Option<&str>) -> Result<(), Refusal> {
    let Some(given) = authorization.and_then(|a| {
        a.strip_prefix("Bearer ")
            .or_else(|| a.strip_prefix("bearer "))
    }) else {
        return Err(Refusal::NoToken);
    };
    if bool::from(given.trim().as_bytes().ct_eq(expected)) {
        Ok(())
    } else {
        Err(Refusal::BadToken)
    }
}

/// `POST /hooks/{name}`.
pub async fn handle(
    State(core): State<Arc<Core>>,
    Path(name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match accept(&core, &name, peer, &headers, body).await {
        Ok(id) => {
            core.counters.count("hooks.accepted");
            (StatusCode::ACCEPTED, axum::Json(json!({ "event": id }))).into_response()
        }
        Err(err) => {
            core.counters.count(&format!("hooks.refused.{}", err.code));
            tracing::info!(hook = %name, %peer, code = err.code, "webhook refused");
            err.into_response()
        }
    }
}

async fn accept(
    core: &Arc<Core>,
    name: &str,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<i64, HttpError> {
    if !core.accepting() {
        return Err(HttpError::stopping());
    }
    let (kind, secret) = core.hook_secret(name)?;
    let limit = core.max_body;
    if let Some(len) = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(HttpError::too_large(limit));
    }
    let bytes = match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, limit)).await {
        Err(_) => {
            return Err(HttpError::new(
                StatusCode::REQUEST_TIMEOUT,
                "slow_body",
                "the body did not arrive in time",
            ));
        }
        Ok(Err(_)) => return Err(HttpError::too_large(limit)),
        Ok(Ok(bytes)) => bytes,
    };
    let header = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    let delivery = match kind {
        Kind::WebhookHmac => {
            let sig = check_hmac(
                &secret,
                header(TIMESTAMP_HEADER),
                header(SIGNATURE_HEADER),
                &bytes,
                now() / 1000,
            )
            .map_err(refused)?;
            Some(format!("webhook:{name}:sig:{sig}"))
        }
        _ => {
            check_token(&secret, header("authorization")).map_err(refused)?;
            header(DELIVERY_HEADER).map(|d| format!("webhook:{name}:delivery:{d}"))
        }
    };
    drop(secret);
    let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
        HttpError::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            &format!("the body is not JSON ({e}); send a JSON document"),
        )
    })?;
    let payload = json!({
        "hook": name,
        "body": body,
        "delivery": header(DELIVERY_HEADER),
        "content_type": header("content-type"),
        "source_address": peer.ip().to_canonical().to_string(),
    });
    let (tx, rx) = oneshot::channel();
    let incoming = Incoming {
        event: NewEvent {
            kind: "webhook".into(),
            name: name.to_owned(),
            received_at: now(),
            payload: payload.to_string(),
            dedup_key: delivery,
            mark: None,
        },
        ack: Some(tx),
    };
    match core.queue.try_send(incoming) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => return Err(HttpError::busy()),
        Err(mpsc::error::TrySendError::Closed(_)) => return Err(HttpError::stopping()),
    }
    match tokio::time::timeout(STORE_TIMEOUT, rx).await {
        Ok(Ok(Ok(Stored::New(id)))) => Ok(id),
        Ok(Ok(Ok(Stored::Duplicate))) => Err(HttpError::new(
            StatusCode::CONFLICT,
            "replayed",
            "this delivery was received before; a replay is not stored again",
        )),
        Ok(Ok(Err(_))) | Ok(Err(_)) | Err(_) => Err(HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_stored",
            "the event could not be stored; retry later",
        )),
    }
}

fn refused(r: Refusal) -> HttpError {
    HttpError::new(StatusCode::UNAUTHORIZED, r.code(), &r.message())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"hook-key-0123456789";

    #[test]
    fn a_signed_request_passes_and_every_forgery_is_refused() {
        let body = br#"{"status":"down"}"#;
        let now = 1_800_000_000;
        let ts = now.to_string();
        let sig = signature(KEY, &ts, body);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        let key = check_hmac(KEY, Some(&ts), Some(&sig), body, now).expect("valid");
        assert_eq!(
            format!("sha256={key}"),
            sig,
            "the delivery key is the signature"
        );
        // Within the window either way.
        assert!(check_hmac(KEY, Some(&ts), Some(&sig), body, now + WINDOW_SECS).is_ok());
        type Case<'a> = (Option<&'a str>, Option<&'a str>, &'a [u8], i64, Refusal);
        let cases: [Case<'_>; 7] = [
            (None, Some(&sig), body, now, Refusal::Unsigned),
            (Some(&ts), None, body, now, Refusal::Unsigned),
            (
                Some("yesterday"),
                Some(&sig),
                body,
                now,
                Refusal::BadTimestamp,
            ),
            (
                Some(&ts),
                Some(&sig),
                body,
                now + WINDOW_SECS + 1,
                Refusal::Stale {
                    skew: WINDOW_SECS + 1,
                },
            ),
            (
                Some(&ts),
                Some(&sig),
                br#"{"status":"up"}"#,
                now,
                Refusal::BadSignature,
            ),
            (
                Some(&ts),
                Some("sha256=zz"),
                body,
                now,
                Refusal::BadSignature,
            ),
            (Some(&ts), Some(&sig[7..]), body, now, Refusal::BadSignature),
        ];
        for (t, s, b, at, want) in cases {
            assert_eq!(check_hmac(KEY, t, s, b, at), Err(want.clone()), "{want:?}");
        }
        // Another key, or the timestamp changed to slip into the window: refused.
        assert_eq!(
            check_hmac(b"other-key-0123456", Some(&ts), Some(&sig), body, now),
            Err(Refusal::BadSignature)
        );
        let later = (now + 100).to_string();
        assert_eq!(
            check_hmac(KEY, Some(&later), Some(&sig), body, now + 100),
            Err(Refusal::BadSignature)
        );
    }

    #[test]
    fn a_bearer_token_must_match_exactly() {
        assert_eq!(
            check_token(b"tok-0123456789", Some("Bearer tok-0123456789")),
            Ok(())
        );
        assert_eq!(
            check_token(b"tok-0123456789", Some("Bearer tok-012345678")),
            Err(Refusal::BadToken)
        );
        assert_eq!(
            check_token(b"tok-0123456789", Some("Basic dG9rOg==")),
            Err(Refusal::NoToken)
        );
        assert_eq!(check_token(b"tok-0123456789", None), Err(Refusal::NoToken));
    }

    #[test]
    fn no_refusal_message_holds_the_key() {
        for r in [
            Refusal::Unsigned,
            Refusal::BadSignature,
            Refusal::Stale { skew: 9 },
            Refusal::BadToken,
        ] {
            assert!(!r.message().contains("hook-key"), "{r:?}");
        }
    }
}
