//! The credential vault: credentials of a few kinds, their secret fields sealed at rest with
//! XChaCha20-Poly1305 under a master key, and the destinations (and packs) each is bound to.
//!
//! Threat model: someone who reads `ORCH_HOME/orch.db` (a backup, a copied disk) learns names,
//! kinds, bindings and non-secret fields, never a secret. Each sealed value carries its own
//! random 24-byte nonce (safe to draw at random at this size) and binds the credential name and
//! field as associated data, so a ciphertext copied onto another credential or field does not
//! open. The key comes from `ORCH_MASTER_KEY` or from `ORCH_HOME/master.key` (created 0600 at
//! first use; a key file others can read is refused).

use std::collections::BTreeMap;
use std::fs;
use std::io::{ErrorKind, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context as _;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::policy::destination::{BadBinding, Binding};

use crate::store::{CredentialRow, SealedField, Store};

/// The environment variable holding the master key.
pub const MASTER_KEY_ENV: &str = "ORCH_MASTER_KEY";

/// Errors a user causes and can fix.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// `ORCH_MASTER_KEY` (or the key file) does not hold 32 bytes in hex or base64.
    #[error(
        "{source_name} is not a 32-byte key in hex (64 digits) or base64 (44 characters); \
         generate one with: openssl rand -hex 32"
    )]
    BadKey {
        /// Where the key came from.
        source_name: String,
    },
    /// The key file can be read by group or others.
    #[error(
        "the master key file {path} is readable by group or others; fix with: chmod 600 {path}"
    )]
    ExposedKeyFile {
        /// The key file.
        path: String,
    },
    /// A binding pattern does not parse.
    #[error(transparent)]
    BadBinding(#[from] BadBinding),
    /// No credential of that name.
    #[error("no credential named {0:?}; see: orch secret list")]
    NoSuchCredential(String),
    /// A sealed value did not open: wrong key or tampered store.
    #[error(
        "field {field} of credential {name:?} does not decrypt: the master key differs from the \
         one it was stored with, or the store was altered; set the original ORCH_MASTER_KEY or \
         set the credential again"
    )]
    Undecryptable {
        /// Credential name.
        name: String,
        /// Field name.
        field: String,
    },
    /// The credential as given is incomplete or inconsistent.
    #[error("{0}")]
    Invalid(String),
}

/// The 32-byte master key. Zeroized on drop.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    /// Parses a key given as 64 hex digits or as base64 (standard or URL-safe, padded or not).
    /// `source_name` names where it came from in the error (never the value).
    pub fn parse(text: &str, source_name: &str) -> Result<Self, VaultError> {
        let text = text.trim();
        let bad = || VaultError::BadKey {
            source_name: source_name.to_owned(),
        };
        let bytes = Zeroizing::new(if text.len() == 64 {
            hex::decode(text).map_err(|_| bad())?
        } else {
            let engines = [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::STANDARD_NO_PAD,
                &base64::engine::general_purpose::URL_SAFE,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ];
            engines
                .iter()
                .find_map(|engine| engine.decode(text).ok())
                .ok_or_else(bad)?
        });
        let mut key = Zeroizing::new([0u8; 32]);
        if bytes.len() != key.len() {
            return Err(bad());
        }
        key.copy_from_slice(&bytes);
        Ok(Self(key))
    }

    /// A fresh key from the OS random number generator.
    pub fn generate() -> anyhow::Result<Self> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut_slice())
            .map_err(|err| anyhow::anyhow!("reading the OS random number generator: {err}"))?;
        Ok(Self(key))
    }

    /// The key from `env_value` (the value of `ORCH_MASTER_KEY`) if set, else from `key_file`,
    /// which is created 0600 with a fresh key if missing. A key file readable by group or
    /// others is refused.
    pub fn resolve(env_value: Option<&str>, key_file: &Path) -> anyhow::Result<Self> {
        if let Some(value) = env_value {
            return Ok(Self::parse(value, MASTER_KEY_ENV)?);
        }
        Self::from_file(key_file)
    }

    /// The key for a home: `ORCH_MASTER_KEY` or `key_file`.
    pub fn for_home(key_file: &Path) -> anyhow::Result<Self> {
        let env = std::env::var(MASTER_KEY_ENV).ok().map(Zeroizing::new);
        Self::resolve(env.as_deref().map(String::as_str), key_file)
    }

    fn from_file(path: &Path) -> anyhow::Result<Self> {
        match fs::metadata(path) {
            Ok(meta) => {
                if meta.permissions().mode() & 0o077 != 0 {
                    return Err(VaultError::ExposedKeyFile {
                        path: path.display().to_string(),
                    }
                    .into());
                }
                let text = Zeroizing::new(
                    fs::read_to_string(path)
                        .with_context(|| format!("reading the master key {}", path.display()))?,
                );
                Ok(Self::parse(&text, &path.display().to_string())?)
            }
            Err(err) if err.kind() == ErrorKind::NotFound => {
                let key = Self::generate()?;
                let mut file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .with_context(|| format!("creating the master key {}", path.display()))?;
                let mut text = Zeroizing::new(hex::encode(key.0.as_slice()));
                text.push('\n');
                file.write_all(text.as_bytes())
                    .and_then(|()| file.sync_all())
                    .with_context(|| format!("writing the master key {}", path.display()))?;
                tracing::info!(path = %path.display(), "created a new master key");
                Ok(key)
            }
            Err(err) => {
                Err(err).with_context(|| format!("reading the master key {}", path.display()))
            }
        }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_slice().into())
    }
}

/// The associated data of one sealed field: a version tag, then the name and the field,
/// length-prefixed so that no two (name, field) pairs share an encoding.
fn associated_data(name: &str, field: &str) -> Vec<u8> {
    let mut aad = b"orch-credential-v1".to_vec();
    for part in [name, field] {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

/// Seals `plaintext` as field `field` of credential `name`.
pub fn seal(
    key: &MasterKey,
    name: &str,
    field: &str,
    plaintext: &[u8],
) -> anyhow::Result<SealedField> {
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut nonce)
        .map_err(|err| anyhow::anyhow!("reading the OS random number generator: {err}"))?;
    let aad = associated_data(name, field);
    let ciphertext = key
        .cipher()
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| anyhow::anyhow!("encrypting field {field} of credential {name:?}"))?;
    Ok(SealedField {
        field: field.to_owned(),
        nonce: nonce.to_vec(),
        ciphertext,
    })
}

/// Opens a field sealed by [`seal`] for credential `name`.
pub fn open(
    key: &MasterKey,
    name: &str,
    sealed: &SealedField,
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let undecryptable = || VaultError::Undecryptable {
        name: name.to_owned(),
        field: sealed.field.clone(),
    };
    if sealed.nonce.len() != 24 {
        return Err(undecryptable());
    }
    let aad = associated_data(name, &sealed.field);
    key.cipher()
        .decrypt(
            XNonce::from_slice(&sealed.nonce),
            Payload {
                msg: &sealed.ciphertext,
                aad: &aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| undecryptable())
}

/// The kinds of credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// HTTP basic: username (clear), password (secret).
    Basic,
    /// HTTP bearer token (secret).
    Bearer,
    /// An HTTP header: name (clear), value (secret).
    Header,
    /// OAuth2 client credentials: token_url, client_id, scope (clear), client_secret (secret).
    #[value(name = "oauth2-client")]
    Oauth2Client,
    /// SSH password: username (clear), password (secret).
    SshPassword,
    /// SSH private key: username (clear), private_key and passphrase (secret).
    SshKey,
    /// The key `orch serve` checks a webhook's HMAC-SHA256 signature with (secret). Used by the
    /// server only: never sent anywhere, never lent to a pack, so it takes no binding.
    WebhookHmac,
    /// The bearer token `orch serve` expects on a webhook (secret); as `webhook-hmac`, for the
    /// server only.
    WebhookToken,
}

/// A non-secret field a kind needs or allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicField {
    /// `username`
    Username,
    /// `header_name`
    HeaderName,
    /// `token_url`
    TokenUrl,
    /// `client_id`
    ClientId,
    /// `scope`
    Scope,
}

impl PublicField {
    /// The stored field name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Username => "username",
            Self::HeaderName => "header_name",
            Self::TokenUrl => "token_url",
            Self::ClientId => "client_id",
            Self::Scope => "scope",
        }
    }

    /// The command-line flag that sets it.
    pub fn flag(self) -> &'static str {
        match self {
            Self::Username => "--username",
            Self::HeaderName => "--header-name",
            Self::TokenUrl => "--token-url",
            Self::ClientId => "--client-id",
            Self::Scope => "--scope",
        }
    }
}

impl Kind {
    /// The kind's name as stored and typed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Bearer => "bearer",
            Self::Header => "header",
            Self::Oauth2Client => "oauth2-client",
            Self::SshPassword => "ssh-password",
            Self::SshKey => "ssh-key",
            Self::WebhookHmac => "webhook-hmac",
            Self::WebhookToken => "webhook-token",
        }
    }

    /// The main secret field (the one read from the prompt, stdin or a file).
    pub fn secret_field(self) -> &'static str {
        match self {
            Self::Basic | Self::SshPassword => "password",
            Self::Bearer | Self::WebhookToken => "token",
            Self::WebhookHmac => "key",
            Self::Header => "value",
            Self::Oauth2Client => "client_secret",
            Self::SshKey => "private_key",
        }
    }

    /// Whether the credential is for `orch serve` itself (webhooks): no binding, no pack.
    pub fn is_server_only(self) -> bool {
        matches!(self, Self::WebhookHmac | Self::WebhookToken)
    }

    /// Non-secret fields: (field, required).
    pub fn public_fields(self) -> &'static [(PublicField, bool)] {
        use PublicField::*;
        match self {
            Self::Basic | Self::SshPassword | Self::SshKey => &[(Username, true)],
            Self::Bearer | Self::WebhookHmac | Self::WebhookToken => &[],
            Self::Header => &[(HeaderName, true)],
            Self::Oauth2Client => &[(TokenUrl, true), (ClientId, true), (Scope, false)],
        }
    }
}

impl FromStr for Kind {
    type Err = VaultError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        <Self as clap::ValueEnum>::value_variants()
            .iter()
            .copied()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| VaultError::Invalid(format!("unknown credential kind {text:?}")))
    }
}

/// A credential to store, its secrets in the clear (zeroized on drop).
#[derive(Debug)]
pub struct NewCredential {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: Kind,
    /// Destination patterns, at least one.
    pub bindings: Vec<String>,
    /// Packs allowed to use it (empty: any).
    pub packs: Vec<String>,
    /// Non-secret fields given.
    pub public: Vec<(PublicField, String)>,
    /// Secret fields: (field, value).
    pub secrets: Vec<(&'static str, Zeroizing<Vec<u8>>)>,
}

/// The vault over a store.
pub struct Vault<'a> {
    store: &'a Store,
}

impl<'a> Vault<'a> {
    /// The vault kept in `store`.
    pub fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Validates and stores `credential` sealed under `key`, replacing one of the same name;
    /// the stored row and whether it replaced one.
    pub fn set(
        &self,
        key: &MasterKey,
        credential: NewCredential,
    ) -> anyhow::Result<(CredentialRow, bool)> {
        let row = validate(&credential)?;
        let sealed = credential
            .secrets
            .iter()
            .map(|(field, value)| seal(key, &row.name, field, value))
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.store.put_credential(&row, &sealed)
    }

    /// Every credential (no secrets).
    pub fn list(&self) -> anyhow::Result<Vec<CredentialRow>> {
        self.store.credentials()
    }

    /// Limits credential `name` to `packs` (none: any pack), lifting suspensions; the row.
    pub fn scope(&self, name: &str, packs: &[String]) -> anyhow::Result<CredentialRow> {
        check_pack_names(packs)?;
        let mut packs = packs.to_vec();
        packs.sort();
        packs.dedup();
        self.store
            .scope_credential(name, &packs)?
            .ok_or_else(|| VaultError::NoSuchCredential(name.to_owned()).into())
    }

    /// Removes credential `name`.
    pub fn remove(&self, name: &str) -> anyhow::Result<()> {
        if !self.store.remove_credential(name)? {
            return Err(VaultError::NoSuchCredential(name.to_owned()).into());
        }
        Ok(())
    }

    /// The secret fields of credential `name`, opened.
    pub fn secrets(
        &self,
        key: &MasterKey,
        name: &str,
    ) -> anyhow::Result<BTreeMap<String, Zeroizing<Vec<u8>>>> {
        if self.store.credential(name)?.is_none() {
            return Err(VaultError::NoSuchCredential(name.to_owned()).into());
        }
        let mut opened = BTreeMap::new();
        for sealed in self.store.credential_secrets(name)? {
            let value = open(key, name, &sealed)?;
            opened.insert(sealed.field, value);
        }
        Ok(opened)
    }
}

/// The clear row of `credential`, or why it cannot be stored.
fn validate(credential: &NewCredential) -> Result<CredentialRow, VaultError> {
    let row = validate_metadata(credential)?;
    let field = credential.kind.secret_field();
    if !credential
        .secrets
        .iter()
        .any(|(f, value)| *f == field && !value.is_empty())
    {
        return Err(VaultError::Invalid(format!(
            "the {field} of credential {:?} is empty",
            credential.name
        )));
    }
    // The host masks secret values wherever they would be printed or stored; a value this short
    // would turn ordinary text into asterisks, so it cannot be masked and is refused.
    let min = crate::policy::masking::MIN_MASKED_LEN;
    if let Some((f, _)) = credential
        .secrets
        .iter()
        .find(|(_, value)| !value.is_empty() && value.len() < min)
    {
        return Err(VaultError::Invalid(format!(
            "the {f} of credential {:?} is shorter than {min} bytes: too short to be masked in \
             outputs and logs; use a longer secret",
            credential.name
        )));
    }
    Ok(row)
}

/// Checks the pack names a credential is limited to (`--pack`).
pub fn check_pack_names(packs: &[String]) -> Result<(), VaultError> {
    for pack in packs {
        if pack.is_empty() || pack.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(VaultError::Invalid(format!(
                "invalid pack name {pack:?} in --pack"
            )));
        }
    }
    Ok(())
}

/// Checks everything but the secret fields (name, bindings, packs, non-secret fields), so a
/// command can refuse a wrong flag before asking for a secret; the clear row.
pub fn validate_metadata(credential: &NewCredential) -> Result<CredentialRow, VaultError> {
    let name = &credential.name;
    let name_ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !name_ok {
        return Err(VaultError::Invalid(format!(
            "invalid credential name {name:?}: use 1 to 128 letters, digits, '-', '_' or '.'"
        )));
    }
    if credential.kind.is_server_only() {
        if !credential.bindings.is_empty() || !credential.packs.is_empty() {
            return Err(VaultError::Invalid(format!(
                "credential {name:?} of kind {} is checked by orch serve and never sent or lent \
                 to a pack: it takes no --bind and no --pack",
                credential.kind.as_str()
            )));
        }
    } else if credential.bindings.is_empty() {
        return Err(VaultError::Invalid(format!(
            "credential {name:?} needs at least one destination: add --bind HOST[:PORT]"
        )));
    }
    let bindings = credential
        .bindings
        .iter()
        .map(|pattern| pattern.parse::<Binding>().map(|b| b.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    check_pack_names(&credential.packs)?;
    let kind = credential.kind;
    let allowed = kind.public_fields();
    let mut public = BTreeMap::new();
    for (field, value) in &credential.public {
        if !allowed.iter().any(|(f, _)| f == field) {
            return Err(VaultError::Invalid(format!(
                "{} does not apply to a credential of kind {}",
                field.flag(),
                kind.as_str()
            )));
        }
        if value.is_empty() {
            return Err(VaultError::Invalid(format!("{} is empty", field.flag())));
        }
        public.insert(field.name().to_owned(), value.clone());
    }
    for (field, required) in allowed {
        if *required && !public.contains_key(field.name()) {
            return Err(VaultError::Invalid(format!(
                "a credential of kind {} needs {}",
                kind.as_str(),
                field.flag()
            )));
        }
    }
    let mut packs = credential.packs.clone();
    packs.sort();
    packs.dedup();
    Ok(CredentialRow {
        name: name.clone(),
        kind: kind.as_str().to_owned(),
        bindings,
        packs,
        suspended_packs: Vec::new(),
        public,
        created_at: String::new(),
        updated_at: String::new(),
    })
}

/// Where the key file of a home lives.
pub fn key_file(home_root: &Path) -> PathBuf {
    home_root.join("master.key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_secret_is_for_the_server_only_and_takes_no_binding_or_pack() {
        let cred = |bindings: Vec<String>, packs: Vec<String>| NewCredential {
            name: "hook".into(),
            kind: Kind::WebhookHmac,
            bindings,
            packs,
            public: Vec::new(),
            secrets: vec![("key", Zeroizing::new(b"0123456789abcdef".to_vec()))],
        };
        assert!(validate(&cred(Vec::new(), Vec::new())).is_ok());
        for bad in [
            cred(vec!["example.com".into()], Vec::new()),
            cred(Vec::new(), vec!["p".into()]),
        ] {
            let err = validate(&bad).expect_err("refused").to_string();
            assert!(err.contains("takes no --bind and no --pack"), "{err}");
        }
        assert_eq!(
            "webhook-token".parse::<Kind>().ok(),
            Some(Kind::WebhookToken)
        );
        assert_eq!(Kind::WebhookHmac.secret_field(), "key");
    }

    const HEX_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn key() -> MasterKey {
        MasterKey::parse(HEX_KEY, "test").unwrap()
    }

    #[test]
    fn sealed_value_round_trips() {
        let key = key();
        let sealed = seal(&key, "api", "token", b"s3cret-token").unwrap();
        assert_eq!(sealed.nonce.len(), 24);
        assert!(!sealed.ciphertext.windows(12).any(|w| w == b"s3cret-token"));
        assert_eq!(
            open(&key, "api", &sealed).unwrap().as_slice(),
            b"s3cret-token"
        );
    }

    #[test]
    fn each_seal_draws_a_fresh_nonce() {
        let key = key();
        let a = seal(&key, "api", "token", b"same").unwrap();
        let b = seal(&key, "api", "token", b"same").unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn value_moved_to_another_credential_or_field_does_not_open() {
        let key = key();
        let sealed = seal(&key, "api", "password", b"hunter2").unwrap();
        assert!(matches!(
            open(&key, "other", &sealed),
            Err(VaultError::Undecryptable { .. })
        ));
        let moved = SealedField {
            field: "passphrase".into(),
            ..sealed
        };
        assert!(open(&key, "api", &moved).is_err());
    }

    #[test]
    fn tampered_ciphertext_or_nonce_does_not_open() {
        let key = key();
        let sealed = seal(&key, "api", "token", b"s3cret").unwrap();
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert!(open(&key, "api", &tampered).is_err());
        let mut tampered = sealed.clone();
        tampered.nonce[0] ^= 1;
        assert!(open(&key, "api", &tampered).is_err());
        let mut truncated = sealed;
        truncated.ciphertext.pop();
        assert!(open(&key, "api", &truncated).is_err());
    }

    #[test]
    fn wrong_key_does_not_open() {
        let sealed = seal(&key(), "api", "token", b"s3cret").unwrap();
        let other = MasterKey::generate().unwrap();
        assert!(open(&other, "api", &sealed).is_err());
    }

    #[test]
    fn key_from_env_in_hex_and_base64_is_the_same_key() {
        let bytes = hex::decode(HEX_KEY).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        let from_hex = MasterKey::resolve(Some(HEX_KEY), Path::new("/nonexistent/k")).unwrap();
        let from_b64 =
            MasterKey::resolve(Some(&format!(" {b64}\n")), Path::new("/nonexistent/k")).unwrap();
        let from_url = MasterKey::parse(&b64url, "test").unwrap();
        let sealed = seal(&from_hex, "api", "token", b"x").unwrap();
        assert_eq!(open(&from_b64, "api", &sealed).unwrap().as_slice(), b"x");
        assert_eq!(open(&from_url, "api", &sealed).unwrap().as_slice(), b"x");
    }

    #[test]
    fn bad_keys_are_rejected_without_echoing_them() {
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
        for bad in [
            "",
            "not a key",
            &HEX_KEY[..62],
            &format!("{HEX_KEY}00"),
            &HEX_KEY.replace('0', "g"),
            short.as_str(),
        ] {
            let err = MasterKey::parse(bad, MASTER_KEY_ENV)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("ORCH_MASTER_KEY") && err.contains("openssl rand"),
                "{err}"
            );
            if !bad.is_empty() {
                assert!(!err.contains(bad), "{err}");
            }
        }
    }

    #[test]
    fn key_file_is_created_0600_and_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = key_file(tmp.path());
        let first = MasterKey::resolve(None, &path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = MasterKey::resolve(None, &path).unwrap();
        let sealed = seal(&first, "api", "token", b"x").unwrap();
        assert_eq!(open(&again, "api", &sealed).unwrap().as_slice(), b"x");
    }

    #[test]
    fn refuses_a_key_file_others_can_read() {
        let tmp = tempfile::tempdir().unwrap();
        let path = key_file(tmp.path());
        MasterKey::resolve(None, &path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = MasterKey::resolve(None, &path).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("chmod 600"), "{err}");
    }

    fn bearer(name: &str, bindings: &[&str]) -> NewCredential {
        NewCredential {
            name: name.into(),
            kind: Kind::Bearer,
            bindings: bindings.iter().map(|b| (*b).to_owned()).collect(),
            packs: vec![],
            public: vec![],
            secrets: vec![("token", Zeroizing::new(b"tok-1234".to_vec()))],
        }
    }

    #[test]
    fn vault_stores_sealed_fields_and_opens_them() {
        let store = Store::in_memory().unwrap();
        let vault = Vault::new(&store);
        let key = key();
        let (row, replaced) = vault
            .set(&key, bearer("api", &["API.example.com:443"]))
            .unwrap();
        assert!(!replaced);
        assert_eq!(row.bindings, vec!["api.example.com:443"]);
        let secrets = vault.secrets(&key, "api").unwrap();
        assert_eq!(secrets["token"].as_slice(), b"tok-1234");
        let (_, replaced) = vault.set(&key, bearer("api", &["a.example.com"])).unwrap();
        assert!(replaced);
        vault.remove("api").unwrap();
        assert!(vault.remove("api").is_err());
    }

    #[test]
    fn refuses_incomplete_or_inconsistent_credentials() {
        let key = key();
        let store = Store::in_memory().unwrap();
        let vault = Vault::new(&store);
        let no_bind = vault.set(&key, bearer("api", &[])).unwrap_err();
        assert!(no_bind.to_string().contains("--bind"), "{no_bind}");
        let bad_bind = vault.set(&key, bearer("api", &["*"])).unwrap_err();
        assert!(
            bad_bind.to_string().contains("invalid binding"),
            "{bad_bind}"
        );
        let bad_name = vault
            .set(&key, bearer("a b", &["x.example.com"]))
            .unwrap_err();
        assert!(
            bad_name.to_string().contains("credential name"),
            "{bad_name}"
        );
        let mut wrong_flag = bearer("api", &["x.example.com"]);
        wrong_flag.public = vec![(PublicField::Username, "u".into())];
        let err = vault.set(&key, wrong_flag).unwrap_err().to_string();
        assert!(err.contains("--username does not apply"), "{err}");
        let mut basic = bearer("api", &["x.example.com"]);
        basic.kind = Kind::Basic;
        basic.secrets = vec![("password", Zeroizing::new(b"p".to_vec()))];
        let err = vault.set(&key, basic).unwrap_err().to_string();
        assert!(err.contains("needs --username"), "{err}");
        let mut empty = bearer("api", &["x.example.com"]);
        empty.secrets = vec![("token", Zeroizing::new(Vec::new()))];
        assert!(vault.set(&key, empty).is_err());
        let mut short = bearer("api", &["x.example.com"]);
        short.secrets = vec![("token", Zeroizing::new(b"abc".to_vec()))];
        let err = vault.set(&key, short).unwrap_err().to_string();
        assert!(err.contains("too short to be masked"), "{err}");
        assert!(vault.list().unwrap().is_empty());
    }
}
