//! OAuth2 client credentials: obtaining an access token for an `oauth2-client` credential and
//! caching it until shortly before it expires.
//!
//! The rule for the token URL: the host sends the client secret only inside the credential's
//! binding. The token URL must match one of the credential's bindings (host and port, with the
//! token URL's own scheme, which the operator typed), and every address it resolves to passes
//! the same address policy as a pack's request, with the bindings standing in for the grants
//! (so a loopback or private token endpoint needs a binding that names its address). The pack's
//! own grants play no part: the pack never talks to the token endpoint.
//!
//! Cached tokens are keyed by credential name and a hash of the credential's fields, so
//! replacing the credential (`orch secret set` again) never serves a token obtained with the
//! old one. Every token obtained is registered with the masker before it is used, and kept
//! sealed in the store by the broker (`Broker::keep_token`): every other process masks it too,
//! and reuses it instead of asking for another.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::policy::{self, Origin};
use super::transport::{self, Clients, Injected};
use crate::capabilities::broker::OpenedCredential;
use crate::capabilities::{ErrorCode, HostError, host_error};
use crate::policy::grants::{Capability, Grants};

/// Lifetime assumed when the token endpoint gives no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// A token is renewed this long before it expires (at most; a tenth of short lifetimes), so a
/// request never leaves with a token that expires on the way.
const MAX_MARGIN: Duration = Duration::from_secs(60);
/// Cap on a token endpoint's response.
const MAX_TOKEN_RESPONSE: usize = 64 << 10;

/// A hash of every field of the credential (secret included), to tell a replaced credential.
pub type Fingerprint = [u8; 32];

/// The fingerprint of `credential`.
pub fn fingerprint(credential: &OpenedCredential) -> Fingerprint {
    let mut hash = Sha256::new();
    for (field, value) in &credential.public {
        hash.update(field.as_bytes());
        hash.update([0]);
        hash.update(value.as_bytes());
        hash.update([0]);
    }
    for (field, value) in &credential.secrets {
        hash.update(field.as_bytes());
        hash.update([0]);
        hash.update(value.as_slice());
        hash.update([0]);
    }
    hash.finalize().into()
}

/// How long a token given `expires_in` seconds of life lives.
pub fn lifetime(expires_in: Option<u64>) -> Duration {
    expires_in.map_or(DEFAULT_LIFETIME, Duration::from_secs)
}

/// When a token obtained at `obtained` with `expires_in` seconds of life stops being used.
pub fn expires_at(obtained: Instant, expires_in: Option<u64>) -> Instant {
    let lifetime = lifetime(expires_in);
    let margin = (lifetime / 10).min(MAX_MARGIN);
    obtained + lifetime.saturating_sub(margin)
}

struct CachedToken {
    fingerprint: Fingerprint,
    token: Zeroizing<String>,
    expires_at: Instant,
}

/// Access tokens by credential name.
#[derive(Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<String, CachedToken>>,
}

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedToken>> {
        self.tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached token of credential `name` if it was obtained with the same fields and is
    /// still fresh at `now`.
    pub fn get(
        &self,
        name: &str,
        fingerprint: &Fingerprint,
        now: Instant,
    ) -> Option<Zeroizing<String>> {
        let tokens = self.lock();
        let cached = tokens.get(name)?;
        (cached.fingerprint == *fingerprint && now < cached.expires_at)
            .then(|| cached.token.clone())
    }

    /// Caches `token` for credential `name` until `expires_at`.
    pub fn put(
        &self,
        name: &str,
        fingerprint: Fingerprint,
        token: Zeroizing<String>,
        expires_at: Instant,
    ) {
        self.lock().insert(
            name.to_owned(),
            CachedToken {
                fingerprint,
                token,
                expires_at,
            },
        );
    }

    /// Drops the cached token of `name` (the API refused it).
    pub fn forget(&self, name: &str) {
        self.lock().remove(name);
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Obtains an access token for `credential` (bound to `bindings`) with the client-credentials
/// grant; the token and its `expires_in`.
pub async fn fetch(
    clients: &Clients,
    credential: &OpenedCredential,
    bindings: &[String],
) -> Result<(Zeroizing<String>, Option<u64>), HostError> {
    let name = &credential.name;
    let url = policy::parse_url(credential.public_field("token_url")).map_err(|err| {
        host_error(
            ErrorCode::Invalid,
            format!("credential {name:?} has a bad token url: {err}"),
        )
    })?;
    let origin = Origin::of(&url).map_err(|err| host_error(ErrorCode::Invalid, err))?;
    let denied = |why: String| {
        host_error(
            ErrorCode::Denied,
            format!(
                "credential {name:?}: the host does not send its client secret to the token url \
                 {origin}: {why}; the token url must be inside the credential's binding ({}), \
                 by address for a loopback or private endpoint (orch secret set {name} ... --bind \
                 HOST:PORT)",
                bindings.join(", ")
            ),
        )
    };
    let scheme = origin.scheme.as_str();
    let grants = Grants::from_texts(
        bindings
            .iter()
            .map(|binding| format!("http:{scheme}://{binding}"))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str),
    );
    if !grants.admits(
        Capability::Http,
        Some(origin.scheme),
        &origin.host,
        origin.port,
    ) {
        return Err(denied("it is outside the binding".to_owned()));
    }
    let target = transport::resolve(&origin).await?;
    transport::check_addresses(&grants, &target, "PACK").map_err(|err| {
        denied(
            err.split(';')
                .next()
                .unwrap_or("its address is refused")
                .to_owned(),
        )
    })?;
    let client = clients.for_target(&target)?;

    // Built before any await: the serializer is not `Send`.
    let form = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        let scope = credential.public_field("scope");
        if !scope.is_empty() {
            form.append_pair("scope", scope);
        }
        form.finish().into_bytes()
    };
    let mut pair =
        Zeroizing::new(format!("{}:", credential.public_field("client_id")).into_bytes());
    pair.extend_from_slice(credential.secret("client_secret"));
    let basic = Zeroizing::new(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(&*pair)
    ));
    let authorization = Injected {
        name: AUTHORIZATION,
        value: HeaderValue::from_str(&basic).map_err(|_| {
            host_error(
                ErrorCode::Invalid,
                format!("credential {name:?} has a client id that is not a valid header value"),
            )
        })?,
    };
    let headers = [
        (
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("accept".to_owned(), "application/json".to_owned()),
    ];
    let mut response = transport::send(
        &client,
        Method::POST,
        &url,
        &headers,
        Some(&authorization),
        Some(form),
    )
    .await?;
    let status = response.status();
    if !status.is_success() {
        // The body is not quoted: token endpoints echo what they were sent.
        return Err(host_error(
            ErrorCode::AuthFailed,
            format!(
                "the token endpoint {origin} refused credential {name:?} with status {status}; \
                 check its client id and secret (orch secret set {name} ...)"
            ),
        ));
    }
    let body =
        Zeroizing::new(transport::read_body(&mut response, MAX_TOKEN_RESPONSE, &origin).await?);
    let token: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
        host_error(
            ErrorCode::Protocol,
            format!(
                "the token endpoint {origin} answered credential {name:?} without a JSON \
                 access_token"
            ),
        )
    })?;
    if let Some(kind) = &token.token_type
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(host_error(
            ErrorCode::Protocol,
            format!(
                "the token endpoint {origin} gave credential {name:?} a token of type {kind:?}; \
                 only bearer tokens are supported"
            ),
        ));
    }
    if token.access_token.is_empty() {
        return Err(host_error(
            ErrorCode::Protocol,
            format!("the token endpoint {origin} gave credential {name:?} an empty access_token"),
        ));
    }
    Ok((Zeroizing::new(token.access_token), token.expires_in))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::vault::Kind;

    fn credential(secret: &str, scope: &str) -> OpenedCredential {
        OpenedCredential {
            name: "api".into(),
            kind: Kind::Oauth2Client,
            public: BTreeMap::from([
                ("client_id".to_owned(), "orch".to_owned()),
                ("scope".to_owned(), scope.to_owned()),
                (
                    "token_url".to_owned(),
                    "https://auth.example.com/t".to_owned(),
                ),
            ]),
            secrets: BTreeMap::from([(
                "client_secret".to_owned(),
                Zeroizing::new(secret.as_bytes().to_vec()),
            )]),
        }
    }

    #[test]
    fn tokens_expire_before_their_lifetime_ends() {
        let t0 = Instant::now();
        assert_eq!(expires_at(t0, Some(3600)), t0 + Duration::from_secs(3540));
        assert_eq!(expires_at(t0, Some(100)), t0 + Duration::from_secs(90));
        assert_eq!(expires_at(t0, Some(0)), t0);
        assert_eq!(expires_at(t0, None), t0 + Duration::from_secs(270));
    }

    #[test]
    fn cache_serves_fresh_tokens_of_the_same_credential_only() {
        let cache = TokenCache::default();
        let t0 = Instant::now();
        let first = fingerprint(&credential("secret-1", "read"));
        cache.put(
            "api",
            first,
            Zeroizing::new("tok".to_owned()),
            expires_at(t0, Some(3600)),
        );
        assert_eq!(
            cache.get("api", &first, t0).as_deref().map(String::as_str),
            Some("tok")
        );
        assert!(cache.get("other", &first, t0).is_none());
        assert!(
            cache
                .get("api", &first, t0 + Duration::from_secs(3541))
                .is_none(),
            "an expiring token is renewed"
        );
        let rotated = fingerprint(&credential("secret-2", "read"));
        let rescoped = fingerprint(&credential("secret-1", "write"));
        assert_ne!(first, rotated);
        assert_ne!(first, rescoped);
        assert!(cache.get("api", &rotated, t0).is_none());
        cache.forget("api");
        assert!(cache.get("api", &first, t0).is_none());
    }
}
