//! The I/O of one HTTP hop: resolving and checking a destination's addresses, the reqwest
//! clients pinned to checked addresses, sending, reading a capped body, and mapping reqwest's
//! errors to the contract's error codes.
//!
//! Pinning: a client connects only to the addresses the host resolved and checked. Each client
//! is built for one (host name, checked addresses) pair with `resolve_to_addrs`, over a resolver
//! that refuses every other name, so neither a second DNS answer (rebinding) nor a name the host
//! did not check can be reached. Clients are cached by that pair: building one costs far more
//! than a request to a local server (measured in `benches/http.rs`), and a pooled connection
//! of a cached client can only lead to the same checked addresses, so reusing it across packs
//! is safe (each request still passes its own pack's grant and address checks first).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};

use super::policy::Origin;
use crate::capabilities::{ErrorCode, HostError, host_error};
use crate::policy::grants::{Capability, Grants};
use crate::policy::network;

/// Clients kept at most; past this the cache starts over (simple and bounded).
const MAX_CACHED_CLIENTS: usize = 256;
/// How long an idle pooled connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// A destination whose addresses were all checked.
#[derive(Debug, Clone)]
pub struct Target {
    /// Scheme, host, port.
    pub origin: Origin,
    /// The checked addresses (one for an IP literal).
    pub addrs: Vec<SocketAddr>,
    /// Whether the host is a name (pinned through the resolver) rather than an IP literal.
    by_name: bool,
}

/// The addresses of `origin`: the literal itself, or what the system resolver answers.
pub async fn resolve(origin: &Origin) -> Result<Target, HostError> {
    // The URL parser already read any IP literal (an IPv6 host is kept without its brackets,
    // which a second parse would take for a bad name).
    if let Some(ip) = origin.ip {
        return Ok(Target {
            origin: origin.clone(),
            addrs: vec![SocketAddr::new(ip, origin.port)],
            by_name: false,
        });
    }
    let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host((origin.host.as_str(), origin.port))
        .await
        .map_err(|err| {
            host_error(
                ErrorCode::Unreachable,
                format!("could not resolve {}: {err}", origin.host),
            )
        })?
        .collect();
    addrs.sort();
    addrs.dedup();
    if addrs.is_empty() {
        return Err(host_error(
            ErrorCode::Unreachable,
            format!("{} resolves to no address", origin.host),
        ));
    }
    Ok(Target {
        origin: origin.clone(),
        addrs,
        by_name: true,
    })
}

/// Checks every address of `target` against the address policy under `grants`: one refused
/// address refuses the destination (a name answering with a public and a private address is
/// how DNS rebinding reaches inside). The message names the address and the grant that would
/// open it; `PACK` in the policy's fix is replaced by `grantee`.
pub fn check_addresses(grants: &Grants, target: &Target, grantee: &str) -> Result<(), String> {
    for addr in &target.addrs {
        network::check_address(
            grants,
            Capability::Http,
            &target.origin.host,
            addr.ip(),
            addr.port(),
        )
        .map_err(|err| {
            err.replace(
                "orch pack grant PACK",
                &format!("orch pack grant {grantee}"),
            )
        })?;
    }
    Ok(())
}

/// Cache key: the pinned name (empty for IP literals) and its checked addresses.
type ClientKey = (String, Vec<IpAddr>);

/// The cache of pinned clients.
#[derive(Default)]
pub struct Clients {
    cache: Mutex<HashMap<ClientKey, reqwest::Client>>,
}

impl Clients {
    /// The client for `target`: pinned to its checked addresses.
    pub fn for_target(&self, target: &Target) -> Result<reqwest::Client, HostError> {
        let key: ClientKey = if target.by_name {
            (
                target.origin.host.clone(),
                target.addrs.iter().map(SocketAddr::ip).collect(),
            )
        } else {
            // An IP literal never reaches a resolver; one client serves every literal.
            (String::new(), Vec::new())
        };
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = cache.get(&key) {
            return Ok(client.clone());
        }
        let pin = target
            .by_name
            .then_some((target.origin.host.as_str(), target.addrs.as_slice()));
        let client = build_client(pin).map_err(|err| {
            host_error(
                ErrorCode::Protocol,
                format!("the host could not set up its http client: {}", chain(&err)),
            )
        })?;
        if cache.len() >= MAX_CACHED_CLIENTS {
            cache.clear();
        }
        cache.insert(key, client.clone());
        Ok(client)
    }
}

/// Refuses every name: a pinned client resolves only its override, nothing else.
struct NoResolver;

impl reqwest::dns::Resolve for NoResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let message = format!("{} was not checked by the host", name.as_str());
        Box::pin(async move { Err(message.into()) })
    }
}

/// A client that follows no redirect (the host does, re-checking each hop), ignores proxy
/// variables, keeps no cookies, always verifies TLS, and resolves only `pin`.
pub fn build_client(pin: Option<(&str, &[SocketAddr])>) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // The crate is built without `system-proxy`; this keeps HTTPS_PROXY and friends
        // ignored even if a dependency turns the feature on.
        .no_proxy()
        .referer(false)
        .user_agent(concat!("orch/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(POOL_IDLE)
        .dns_resolver(NoResolver);
    if let Some((host, addrs)) = pin {
        builder = builder.resolve_to_addrs(host, addrs);
    }
    builder.build()
}

/// A header the host injects (from a credential); marked sensitive so hyper never logs it.
pub struct Injected {
    /// Header name.
    pub name: HeaderName,
    /// Header value.
    pub value: HeaderValue,
}

/// Sends one hop. The pack's headers were checked by `policy::check_headers`.
pub async fn send(
    client: &reqwest::Client,
    method: Method,
    url: &Url,
    headers: &[(String, String)],
    injected: Option<&Injected>,
    body: Option<Vec<u8>>,
) -> Result<reqwest::Response, HostError> {
    let mut map = HeaderMap::with_capacity(headers.len() + 1);
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| host_error(ErrorCode::Invalid, format!("invalid header name {name:?}")))?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            host_error(
                ErrorCode::Invalid,
                format!("header {name} has an invalid value"),
            )
        })?;
        map.append(name, value);
    }
    if let Some(injected) = injected {
        let mut value = injected.value.clone();
        value.set_sensitive(true);
        map.insert(injected.name.clone(), value);
    }
    let mut request = client.request(method, url.clone()).headers(map);
    if let Some(body) = body {
        request = request.body(body);
    }
    request
        .send()
        .await
        .map_err(|err| map_error(err, &Origin::of(url).map_or_else(|e| e, |o| o.to_string())))
}

/// Refuses a response whose body is still encoded after the client decoded what it asked for
/// (gzip and deflate): masking must see the bytes the pack will see, and it cannot see into a
/// compressed or otherwise encoded body.
pub fn check_decoded(response: &reqwest::Response, origin: &Origin) -> Result<(), HostError> {
    let encodings: Vec<String> = response
        .headers()
        .get_all(reqwest::header::CONTENT_ENCODING)
        .iter()
        .map(|value| {
            String::from_utf8_lossy(value.as_bytes())
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|value| !value.is_empty() && value != "identity")
        .collect();
    if encodings.is_empty() {
        return Ok(());
    }
    Err(host_error(
        ErrorCode::Protocol,
        format!(
            "{origin} answered with a body encoded as {:?}, which the host does not decode (it \
             asks for gzip or deflate only); the host hands packs decoded bodies only",
            encodings.join(", ")
        ),
    ))
}

/// Reads the body of `response`, refusing it with `too-large` once it passes `cap` bytes: never
/// more than the cap is held.
pub async fn read_body(
    response: &mut reqwest::Response,
    cap: usize,
    origin: &Origin,
) -> Result<Vec<u8>, HostError> {
    let too_large = || {
        host_error(
            ErrorCode::TooLarge,
            format!(
                "the response from {origin} is larger than the cap of {cap} bytes; ask for less \
                 or raise max-response-bytes (at most {} bytes)",
                super::MAX_RESPONSE_BYTES
            ),
        )
    };
    if response
        .content_length()
        .is_some_and(|len| len > cap as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(
        response
            .content_length()
            .map_or(0, |len| (len as usize).min(cap)),
    );
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| map_error(err, &origin.to_string()))?
    {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Maps a reqwest error to the contract: timeouts, unreachable destinations (DNS, refused,
/// reset), and protocol errors (TLS, a malformed response). The message is the error's chain
/// without the URL (the caller names the origin) and never includes headers.
pub fn map_error(err: reqwest::Error, origin: &str) -> HostError {
    let err = err.without_url();
    let text = chain(&err);
    let lower = text.to_ascii_lowercase();
    let tls = [
        "certificate",
        "tls",
        "handshake",
        "invalidcontenttype",
        "alert",
    ]
    .iter()
    .any(|w| lower.contains(w));
    let code = if err.is_timeout() {
        ErrorCode::Timeout
    } else if tls {
        ErrorCode::Protocol
    } else if err.is_connect() {
        ErrorCode::Unreachable
    } else if err.is_body() || err.is_decode() {
        ErrorCode::Protocol
    } else if lower.contains("connection reset")
        || lower.contains("connection closed")
        || lower.contains("broken pipe")
    {
        ErrorCode::Unreachable
    } else {
        ErrorCode::Protocol
    };
    let message = match code {
        ErrorCode::Unreachable => format!("could not reach {origin}: {text}"),
        ErrorCode::Timeout => format!("{origin} did not answer in time: {text}"),
        _ => format!("the exchange with {origin} failed (tls or http protocol): {text}"),
    };
    host_error(code, message)
}

/// An error and its sources, joined with ": ".
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
