//! `orch:pack/http`: outbound HTTP made by the host for a pack, under its grants.
//!
//! One `send` is an exchange of one or more hops (redirects are followed here, never by
//! reqwest). Each hop: the URL's origin must be admitted by the pack's http grants, every
//! address its host resolves to must pass the address policy ([`network`]), and the request
//! goes only to those checked addresses. A named credential is opened through the broker (which
//! checks the pack may use it and that the hop's destination is inside its binding) and
//! injected by the host; when a redirect leaves the credential's binding the credential is
//! dropped for the rest of the exchange. The whole exchange, token requests and body included,
//! is bounded by the request's timeout and the invocation's deadline, the body by a cap, and
//! everything returned to the pack passes through the masker.
//!
//! [`policy`] holds the pure rules, [`transport`] one hop's I/O, [`oauth`] the token cache.
//!
//! [`network`]: crate::policy::network

mod oauth;
pub(super) mod policy;
mod transport;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue, LOCATION};
use zeroize::Zeroizing;

use self::policy::Origin;
use self::transport::{Injected, Target};
use super::broker::CapabilityContext;
use super::{ErrorCode, HostError, host_error, no_grant};
use crate::contract::orch::pack::http::{Host, Request, Response};
use crate::policy::grants::Capability;
use crate::policy::network;
use crate::vault::Kind;

/// Largest response body a pack may receive (the default and the maximum of
/// `max-response-bytes`).
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;
/// Timeout of an exchange when the request names none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Redirects followed when the request names no `max-redirects`.
const DEFAULT_MAX_REDIRECTS: u8 = 5;
/// The most redirects a request may ask the host to follow.
const MAX_REDIRECTS: u8 = 10;

/// What every invocation's http capability shares: the pinned clients and the OAuth2 tokens,
/// both empty at first (clients are built on first use per destination).
#[derive(Default)]
pub struct Shared {
    clients: transport::Clients,
    tokens: oauth::TokenCache,
}

/// Builds one unpinned client the way the capability does; for benchmarks that measure what a
/// client costs to build.
#[doc(hidden)]
pub fn build_client_for_bench() -> anyhow::Result<reqwest::Client> {
    Ok(transport::build_client(None)?)
}

/// The http capability of one invocation.
pub struct HttpCapability {
    context: CapabilityContext,
    deadline: Instant,
}

impl HttpCapability {
    /// The capability for one invocation; its clients and tokens are the broker's ([`Shared`]).
    pub fn lend(lending: &super::Lending) -> Self {
        Self {
            context: lending.context.clone(),
            deadline: lending.deadline,
        }
    }
}

impl Host for HttpCapability {
    async fn send(&mut self, request: Request) -> Result<Response, HostError> {
        send(&self.context, self.deadline, request).await
    }
}

/// One brokered exchange for a pack, whichever import asked for it (`orch:pack/http` or
/// `wasi:http/outgoing-handler`): the checks, the hops, and the masking of everything returned.
pub(super) async fn send(
    context: &CapabilityContext,
    deadline: Instant,
    request: Request,
) -> Result<Response, HostError> {
    // What comes back may carry a secret another process sent out: mask them all.
    context.broker.mask_stored_secrets()?;
    let masker = Arc::clone(context.broker.masker());
    let asked = request
        .timeout_ms
        .map_or(DEFAULT_TIMEOUT, |ms| Duration::from_millis(ms.into()));
    let budget = asked.min(deadline.saturating_duration_since(Instant::now()));
    let shown = policy::parse_url(&request.url)
        .ok()
        .and_then(|url| Origin::of(&url).ok())
        .map_or_else(|| "the destination".to_owned(), |o| o.to_string());
    let outcome = match tokio::time::timeout(budget, exchange(context, request)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(host_error(
            ErrorCode::Timeout,
            format!(
                "the http exchange with {shown} took longer than {} ms (the request's \
                 timeout-ms, default {} ms, capped by what is left of the invocation's \
                 deadline)",
                budget.as_millis(),
                DEFAULT_TIMEOUT.as_millis()
            ),
        )),
    };
    match outcome {
        Ok(mut response) => {
            // A server echoing a credential must not hand it to the pack: not in the body,
            // nor in a header's name or value, nor in the final URL.
            let Some(body) = masker.mask_or_refuse(std::mem::take(&mut response.body)) else {
                return Err(host_error(
                    ErrorCode::Denied,
                    format!(
                        "the response from {shown} contains a stored credential in an \
                         encoded form the host cannot mask, so it is not handed to the pack"
                    ),
                ));
            };
            response.body = body;
            for (name, value) in &mut response.headers {
                masker.mask_in_place(name);
                masker.mask_in_place(value);
            }
            masker.mask_in_place(&mut response.url);
            Ok(response)
        }
        Err(mut error) => {
            masker.mask_in_place(&mut error.message);
            tracing::debug!(pack = %context.pack, code = ?error.code, "http request refused or failed");
            Err(error)
        }
    }
}

fn invalid(message: String) -> HostError {
    host_error(ErrorCode::Invalid, message)
}

fn denied(message: String) -> HostError {
    host_error(ErrorCode::Denied, message)
}

/// One exchange: checks, then hops until a response that is not a followed redirect.
async fn exchange(context: &CapabilityContext, request: Request) -> Result<Response, HostError> {
    let pack = context.pack.as_str();
    let mut method = policy::parse_method(&request.method).map_err(invalid)?;
    let mut url = policy::parse_url(&request.url).map_err(invalid)?;
    let credential_header = request.credential.as_ref().map(|_| "authorization");
    policy::check_headers(&request.headers, credential_header).map_err(invalid)?;
    if !context.grants.has(Capability::Http) {
        // Name the grant that would let this very request through, unless no grant would: an
        // address the host never reaches is refused as such, not offered as a grant.
        if let Ok(origin) = Origin::of(&url) {
            refuse_forbidden(pack, &origin)?;
            return Err(no_grant(pack, Capability::Http, &origin.to_string()));
        }
        return Err(no_grant(pack, Capability::Http, "https://HOST"));
    }
    let max_redirects = request
        .max_redirects
        .unwrap_or(DEFAULT_MAX_REDIRECTS)
        .min(MAX_REDIRECTS);
    let cap = request
        .max_response_bytes
        .map_or(MAX_RESPONSE_BYTES, |bytes| {
            usize::try_from(bytes).map_or(MAX_RESPONSE_BYTES, |b| b.min(MAX_RESPONSE_BYTES))
        });
    let shared = context.broker.http_shared();
    let mut headers = request.headers;
    let mut body = request.body;
    let mut credential = request.credential;
    let mut visited: Vec<String> = Vec::new();
    loop {
        let origin = Origin::of(&url).map_err(invalid)?;
        let target = admit(context, &origin).await.map_err(|mut err| {
            if let Some(previous) = visited.last() {
                err.message = format!("redirected from {previous}: {}", err.message);
            }
            err
        })?;
        let injection = match &credential {
            Some(name) => match inject(context, name, &origin, &headers, false).await {
                Ok(injection) => Some(injection),
                // A redirect left the credential's binding: the hop goes on without it.
                Err(err) if !visited.is_empty() && err.code == ErrorCode::Denied => {
                    tracing::debug!(credential = %name, %origin, "redirect leaves the credential's binding; dropping it");
                    credential = None;
                    None
                }
                Err(err) => return Err(err),
            },
            None => None,
        };
        let client = shared.clients.for_target(&target)?;
        let mut response = transport::send(
            &client,
            method.clone(),
            &url,
            &headers,
            injection.as_ref().map(|i| &i.header),
            body.clone(),
        )
        .await?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED
            && let (Some(name), Some(Injection { cached: true, .. })) = (&credential, &injection)
        {
            // The API refused a cached OAuth2 token (revoked, or expired early): get a new one
            // and try once more.
            shared.tokens.forget(name);
            context.broker.forget_token(name);
            let fresh = inject(context, name, &origin, &headers, true).await?;
            response = transport::send(
                &client,
                method.clone(),
                &url,
                &headers,
                Some(&fresh.header),
                body.clone(),
            )
            .await?;
        }
        let status = response.status().as_u16();
        tracing::debug!(pack, %method, %origin, status, "http hop");
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        if let Some(location) = location
            && policy::is_redirect(status)
            && max_redirects > 0
        {
            visited.push(url.to_string());
            let next = policy::redirect_target(&url, &location).map_err(|err| {
                host_error(
                    ErrorCode::Protocol,
                    format!("{url} redirected badly: {err}"),
                )
            })?;
            if visited.len() > usize::from(max_redirects) {
                return Err(host_error(
                    ErrorCode::Protocol,
                    format!(
                        "too many redirects: the host follows at most {max_redirects} \
                         (max-redirects, default {DEFAULT_MAX_REDIRECTS}, at most {MAX_REDIRECTS}); \
                         hops: {} -> {next}",
                        visited.join(" -> ")
                    ),
                ));
            }
            let hop = policy::next_hop(status, &method);
            method = hop.method;
            if !hop.keep_body {
                body = None;
                headers = policy::without_body_headers(&headers);
            }
            if Origin::of(&next).ok().as_ref() != Some(&origin) {
                headers = policy::without_credential_headers(&headers);
            }
            url = next;
            continue;
        }
        transport::check_decoded(&response, &origin)?;
        let bytes = transport::read_body(&mut response, cap, &origin).await?;
        tracing::debug!(pack, %method, %origin, status, bytes = bytes.len(), "http response");
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        return Ok(Response {
            status,
            headers,
            body: bytes,
            url: url.into(),
        });
    }
}

/// Refuses an origin whose address the host never connects to (link-local, unspecified, …)
/// as such, whatever the grants say or could say.
fn refuse_forbidden(pack: &str, origin: &Origin) -> Result<(), HostError> {
    match origin.ip {
        Some(ip) => network::refuse_forbidden(&origin.host, ip)
            .map_err(|err| denied(format!("pack {pack:?} may not reach {origin}: {err}"))),
        None => Ok(()),
    }
}

/// Checks `origin` against the pack's grants and every resolved address against the address
/// policy; the checked addresses to connect to.
async fn admit(context: &CapabilityContext, origin: &Origin) -> Result<Target, HostError> {
    let pack = context.pack.as_str();
    let grants = &context.grants;
    refuse_forbidden(pack, origin)?;
    if !grants.admits(
        Capability::Http,
        Some(origin.scheme),
        &origin.host,
        origin.port,
    ) {
        let held: Vec<String> = grants
            .iter()
            .filter(|g| g.capability == Capability::Http)
            .map(ToString::to_string)
            .collect();
        return Err(denied(format!(
            "pack {pack:?} may not reach {origin} (its http grants: {}); if that is intended, \
             the operator runs: orch pack grant {pack} {}",
            held.join(", "),
            origin.grant()
        )));
    }
    let target = transport::resolve(origin).await?;
    transport::check_addresses(grants, &target, pack)
        .map_err(|err| denied(format!("pack {pack:?} may not reach {origin}: {err}")))?;
    Ok(target)
}

/// The header the host injects for a credential, and whether it came from the token cache.
struct Injection {
    header: Injected,
    cached: bool,
}

/// Opens credential `name` for a hop to `origin` (the broker checks pack and binding) and builds
/// its header. `renew` skips the OAuth2 token cache.
async fn inject(
    context: &CapabilityContext,
    name: &str,
    origin: &Origin,
    headers: &[(String, String)],
    renew: bool,
) -> Result<Injection, HostError> {
    let broker = &context.broker;
    let credential = broker.credential(
        &context.pack,
        name,
        Capability::Http,
        &origin.host,
        origin.port,
    )?;
    let bad_value = || {
        invalid(format!(
            "credential {name:?} holds a value that cannot travel in an http header"
        ))
    };
    let value = |text: &str| HeaderValue::from_str(text).map_err(|_| bad_value());
    let (header, cached) = match credential.kind {
        Kind::Basic => {
            let mut pair =
                Zeroizing::new(format!("{}:", credential.public_field("username")).into_bytes());
            pair.extend_from_slice(credential.secret("password"));
            let text = Zeroizing::new(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(&*pair)
            ));
            (
                Injected {
                    name: AUTHORIZATION,
                    value: value(&text)?,
                },
                false,
            )
        }
        Kind::Bearer => {
            let mut text = Zeroizing::new(b"Bearer ".to_vec());
            text.extend_from_slice(credential.secret("token"));
            (
                Injected {
                    name: AUTHORIZATION,
                    value: HeaderValue::from_bytes(&text).map_err(|_| bad_value())?,
                },
                false,
            )
        }
        Kind::Header => {
            let header_name = credential.public_field("header_name");
            policy::check_headers(headers, Some(header_name)).map_err(invalid)?;
            (
                Injected {
                    name: HeaderName::from_bytes(header_name.as_bytes()).map_err(|_| {
                        invalid(format!(
                            "credential {name:?} names an invalid header {header_name:?}"
                        ))
                    })?,
                    value: HeaderValue::from_bytes(credential.secret("value"))
                        .map_err(|_| bad_value())?,
                },
                false,
            )
        }
        Kind::Oauth2Client => {
            let shared = broker.http_shared();
            let fingerprint = oauth::fingerprint(&credential);
            let cached = if renew {
                None
            } else {
                shared
                    .tokens
                    .get(name, &fingerprint, Instant::now())
                    .or_else(|| {
                        // Obtained by another invocation of another process: reuse it.
                        let (token, left) = broker.stored_token(name, &fingerprint)?;
                        let expires_at = oauth::expires_at(Instant::now(), Some(left.as_secs()));
                        (Instant::now() < expires_at).then(|| {
                            shared
                                .tokens
                                .put(name, fingerprint, token.clone(), expires_at);
                            token
                        })
                    })
            };
            let from_cache = cached.is_some();
            let token = match cached {
                Some(token) => token,
                None => {
                    let bindings = broker
                        .store()
                        .and_then(|store| store.credential(name).ok().flatten())
                        .map(|row| row.bindings)
                        .unwrap_or_default();
                    let obtained = Instant::now();
                    let (token, expires_in) =
                        oauth::fetch(&shared.clients, &credential, &bindings).await?;
                    broker.keep_token(name, &fingerprint, &token, oauth::lifetime(expires_in))?;
                    shared.tokens.put(
                        name,
                        fingerprint,
                        token.clone(),
                        oauth::expires_at(obtained, expires_in),
                    );
                    token
                }
            };
            let text = Zeroizing::new(format!("Bearer {}", token.as_str()));
            (
                Injected {
                    name: AUTHORIZATION,
                    value: value(&text)?,
                },
                from_cache,
            )
        }
        Kind::SshPassword | Kind::SshKey | Kind::WebhookHmac | Kind::WebhookToken => {
            return Err(invalid(format!(
                "credential {name:?} is of kind {}, which http cannot use",
                credential.kind.as_str()
            )));
        }
    };
    Ok(Injection { header, cached })
}
