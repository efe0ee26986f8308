//! Who may do what through the service: API tokens and their roles.
//!
//! A token is `orch_` followed by 32 random bytes in URL-safe base64; it is printed once when
//! created and only its SHA-256 is stored, so a copy of the store lets nobody call the API.
//! Roles are ordered: a `viewer` reads; an `operator` also starts, answers, cancels, resumes
//! and re-runs runs; an `admin` also manages packs, grants, rules and tokens.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::store::{ApiTokenRow, Store, now_ms};

/// What a token may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads runs, workflows, packs, the catalog, rules and events.
    Viewer,
    /// Also starts, answers, cancels, resumes and re-runs runs.
    Operator,
    /// Also manages packs, grants, rules and tokens.
    Admin,
}

impl Role {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AuthError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(AuthError::BadRole(other.to_owned())),
        }
    }
}

/// The caller of an API request, once its token checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// When the token expires (Unix ms), if it does.
    pub expires_at: Option<i64>,
}

impl Principal {
    /// Refuses unless the caller's role is at least `needed`.
    pub fn require(&self, needed: Role) -> Result<(), AuthError> {
        if self.role >= needed {
            Ok(())
        } else {
            Err(AuthError::Forbidden {
                name: self.name.clone(),
                role: self.role,
                needed,
            })
        }
    }
}

/// Why a token or a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error(
        "this endpoint needs a token: send Authorization: Bearer TOKEN (create one with: orch token create NAME --role viewer)"
    )]
    Missing,
    /// A token no one issued, or one revoked.
    #[error(
        "the token is not valid (unknown or revoked); create one with: orch token create NAME --role ROLE"
    )]
    Unknown,
    /// An expired token.
    #[error("token {0:?} has expired; create a new one with: orch token create NAME --role ROLE")]
    Expired(String),
    /// A role too low for the request.
    #[error(
        "token {name:?} has the role {role}, and this needs {needed}; ask an admin for a token with that role"
    )]
    Forbidden {
        /// Token name.
        name: String,
        /// Its role.
        role: Role,
        /// The role needed.
        needed: Role,
    },
    /// A role name that does not exist.
    #[error("unknown role {0:?}: the roles are viewer, operator and admin")]
    BadRole(String),
    /// A token name already used.
    #[error(
        "a token named {0:?} exists already; revoke it first (orch token revoke {0}) or pick another name"
    )]
    NameTaken(String),
    /// A token name that is not usable.
    #[error("invalid token name {0:?}: use 1 to 64 letters, digits, '-', '_' or '.'")]
    BadName(String),
}

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new token's secret.
pub fn generate() -> anyhow::Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut())
        .map_err(|err| anyhow::anyhow!("reading the OS random number generator: {err}"))?;
    Ok(Zeroizing::new(format!(
        "orch_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref())
    )))
}

/// Creates token `name` with `role`, valid until `expires_at` (Unix ms) if given; the token,
/// to be shown once.
pub fn create(
    store: &Store,
    name: &str,
    role: Role,
    expires_at: Option<i64>,
) -> anyhow::Result<Zeroizing<String>> {
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !name_ok {
        return Err(AuthError::BadName(name.to_owned()).into());
    }
    let token = generate()?;
    if !store.put_api_token(name, role.as_str(), &hash(&token), expires_at)? {
        return Err(AuthError::NameTaken(name.to_owned()).into());
    }
    Ok(token)
}

/// The caller presenting `token`.
pub fn verify(store: &Store, token: &str) -> Result<Principal, AuthError> {
    verify_hash(store, &hash(token))
}

/// The caller whose token hashes to `token_hash` (a console session keeps the hash, not the
/// token): refused once the token is revoked or expired.
pub fn verify_hash(store: &Store, token_hash: &str) -> Result<Principal, AuthError> {
    let now = now_ms();
    let row: ApiTokenRow = store
        .use_api_token(token_hash, now)
        .ok()
        .flatten()
        .ok_or(AuthError::Unknown)?;
    if row.expires_at.is_some_and(|at| at <= now) {
        return Err(AuthError::Expired(row.name));
    }
    Ok(Principal {
        role: row.role.parse().map_err(|_| AuthError::Unknown)?,
        expires_at: row.expires_at,
        name: row.name,
    })
}

/// The token of an `Authorization` header value (`Bearer TOKEN`).
pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    header
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::Missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_token_verifies_with_its_role_and_only_its_hash_is_stored() {
        let store = Store::in_memory().unwrap();
        let token = create(&store, "ci", Role::Operator, None).unwrap();
        assert!(token.starts_with("orch_") && token.len() > 40);
        let who = verify(&store, &token).unwrap();
        assert_eq!(
            who,
            Principal {
                name: "ci".into(),
                role: Role::Operator,
                expires_at: None,
            }
        );
        assert!(who.require(Role::Viewer).is_ok());
        assert!(matches!(
            who.require(Role::Admin),
            Err(AuthError::Forbidden { .. })
        ));
        assert_eq!(verify(&store, "orch_forged"), Err(AuthError::Unknown));
        assert!(matches!(
            create(&store, "ci", Role::Admin, None)
                .unwrap_err()
                .downcast::<AuthError>(),
            Ok(AuthError::NameTaken(_))
        ));
        store.revoke_api_token("ci").unwrap();
        assert_eq!(verify(&store, &token), Err(AuthError::Unknown));
    }

    #[test]
    fn an_expired_token_is_refused_by_name() {
        let store = Store::in_memory().unwrap();
        let token = create(&store, "old", Role::Viewer, Some(1)).unwrap();
        assert_eq!(
            verify(&store, &token),
            Err(AuthError::Expired("old".into()))
        );
    }

    #[test]
    fn reads_the_bearer_header() {
        assert_eq!(bearer(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer(Some("Basic abc")), Err(AuthError::Missing));
        assert_eq!(bearer(None), Err(AuthError::Missing));
        assert_eq!(bearer(Some("Bearer  ")), Err(AuthError::Missing));
    }
}
