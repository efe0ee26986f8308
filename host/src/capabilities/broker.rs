//! The broker: what every capability of this process shares. It holds its own connection to
//! the store (grants, credentials, host keys), the master key (read on first use only), the
//! masker and the HTTP client, and hands out per-invocation [`CapabilityContext`]s.
//!
//! Credentials are opened here and nowhere else, after every check: the credential exists, its
//! kind suits the capability, the pack may use it, and the destination is inside its binding.
//!
//! Masking covers every secret the store holds, not only those this process opened: a pack may
//! have sent a credential to a destination that keeps it, in an earlier invocation of another
//! process, and read it back now without naming any credential. So before a run is prepared and
//! before each http or ssh call, the broker makes sure its masker knows every stored credential
//! and every live OAuth2 token ([`Broker::mask_stored_secrets`]; a cheap digest of the sealed
//! rows tells when they changed). Tokens the host obtains are kept sealed in the store for the
//! same reason (and so other processes reuse them).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zeroize::Zeroizing;

use super::{HostError, host_error};
use crate::contract::orch::pack::types::ErrorCode;
use crate::home::Home;
use crate::policy::destination::Binding;
use crate::policy::grants::{Capability, Grants};
use crate::policy::masking::Masker;
use crate::store::CredentialRow;
use crate::store::Store;
use crate::store::{StoredToken, TOKEN_FIELD};
use crate::vault::{Kind, MasterKey, Vault};

/// What to do with an SSH host key the store does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum HostKeyPolicy {
    /// Refuse it (trust keys beforehand with `orch hostkey trust`).
    #[default]
    Strict,
    /// Record it and go on (trust on first use). A changed key is still refused.
    AcceptNew,
}

impl HostKeyPolicy {
    /// The policy's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::AcceptNew => "accept-new",
        }
    }
}

/// Settings of the broker chosen per command.
#[derive(Debug, Clone, Default)]
pub struct BrokerSettings {
    /// Unknown SSH host keys: refuse or record.
    pub host_key_policy: HostKeyPolicy,
}

/// A credential after every check, its secrets open (zeroized on drop).
pub struct OpenedCredential {
    /// Credential name.
    pub name: String,
    /// Kind.
    pub kind: Kind,
    /// Non-secret fields (`username`, `header_name`, `token_url`, …).
    pub public: BTreeMap<String, String>,
    /// Secret fields (`password`, `token`, `value`, `client_secret`, `private_key`, …).
    pub secrets: BTreeMap<String, Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for OpenedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedCredential")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl OpenedCredential {
    /// A non-secret field, or "".
    pub fn public_field(&self, field: &str) -> &str {
        self.public.get(field).map_or("", String::as_str)
    }

    /// A secret field, or empty.
    pub fn secret(&self, field: &str) -> &[u8] {
        self.secrets.get(field).map_or(&[], |v| v.as_slice())
    }
}

/// The process-wide broker.
pub struct Broker {
    store: Option<Store>,
    key_file: Option<PathBuf>,
    master_key: Mutex<Option<Arc<MasterKey>>>,
    masker: Arc<Masker>,
    /// The digest of the sealed rows the masker was last loaded from.
    masked_generation: Mutex<Option<[u8; 32]>>,
    settings: BrokerSettings,
    http: super::http::Shared,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What one invocation is lent: the pack's identity and grants, and the shared broker.
#[derive(Debug, Clone)]
pub struct CapabilityContext {
    /// The invoking pack's name.
    pub pack: String,
    /// Its grants, read when the invocation was prepared.
    pub grants: Arc<Grants>,
    /// The broker.
    pub broker: Arc<Broker>,
}

impl CapabilityContext {
    /// A context that lends nothing (for `describe`, which runs before anything is granted).
    pub fn nothing(pack: &str, broker: &Arc<Broker>) -> Self {
        Self {
            pack: pack.to_owned(),
            grants: Arc::new(Grants::none()),
            broker: Arc::clone(broker),
        }
    }
}

impl Broker {
    /// A broker over the store of `home`.
    pub fn open(home: &Home, settings: BrokerSettings) -> anyhow::Result<Arc<Self>> {
        let store = home.open_store()?;
        Ok(Arc::new(Self {
            store: Some(store),
            key_file: Some(crate::vault::key_file(home.root())),
            master_key: Mutex::new(None),
            masker: Arc::new(Masker::new()),
            masked_generation: Mutex::new(None),
            settings,
            http: super::http::Shared::default(),
        }))
    }

    /// A broker over `store` (tests, benches) with the master key `key`.
    pub fn with_store(
        store: Store,
        key: MasterKey,
        settings: BrokerSettings,
    ) -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(Self {
            store: Some(store),
            key_file: None,
            master_key: Mutex::new(Some(Arc::new(key))),
            masker: Arc::new(Masker::new()),
            masked_generation: Mutex::new(None),
            settings,
            http: super::http::Shared::default(),
        }))
    }

    /// A broker with no store: every grant check fails and no credential exists. For benches
    /// and tests of packs that import nothing but `log`.
    pub fn detached() -> Arc<Self> {
        Arc::new(Self {
            store: None,
            key_file: None,
            master_key: Mutex::new(None),
            masker: Arc::new(Masker::new()),
            masked_generation: Mutex::new(None),
            settings: BrokerSettings::default(),
            http: super::http::Shared::default(),
        })
    }

    /// The masker every stored or printed text goes through.
    pub fn masker(&self) -> &Arc<Masker> {
        &self.masker
    }

    /// The command's settings.
    pub fn settings(&self) -> &BrokerSettings {
        &self.settings
    }

    /// The store, if this broker has one.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// What the http capability shares across invocations (client, token cache).
    pub(crate) fn http_shared(&self) -> &super::http::Shared {
        &self.http
    }

    /// The context for one invocation of `pack`: its grants as stored now. The masker is
    /// brought up to date with every stored secret first.
    pub fn context_for(self: &Arc<Self>, pack: &str) -> anyhow::Result<CapabilityContext> {
        self.mask_stored_secrets()
            .map_err(|err| anyhow::anyhow!("{}", err.message))?;
        let grants = match &self.store {
            Some(store) => Grants::from_texts(store.grants(pack)?.iter().map(|g| g.grant.as_str())),
            None => Grants::none(),
        };
        Ok(CapabilityContext {
            pack: pack.to_owned(),
            grants: Arc::new(grants),
            broker: Arc::clone(self),
        })
    }

    /// The inventory device `name`, for an ssh `inventory` target: only for a pack holding the
    /// `ssh:inventory` grant (checked here, so no caller can forget it).
    pub fn inventory_device(
        &self,
        context: &CapabilityContext,
        name: &str,
    ) -> Result<crate::store::DeviceRow, HostError> {
        if !context.grants.admits_inventory() {
            return Err(host_error(
                ErrorCode::Denied,
                format!(
                    "pack {:?} holds no grant ssh:inventory, so it cannot connect to inventory \
                     devices by name; the operator grants it with: orch pack grant {} ssh:inventory",
                    context.pack, context.pack
                ),
            ));
        }
        let store = self.store.as_ref().ok_or_else(|| {
            host_error(ErrorCode::NotFound, "this host has no inventory".to_owned())
        })?;
        store
            .device(name)
            .map_err(|err| host_error(ErrorCode::Protocol, format!("reading the inventory: {err:#}")))?
            .ok_or_else(|| {
                host_error(
                    ErrorCode::NotFound,
                    format!(
                        "no device named {name:?} in the inventory; see it with: orch inventory list"
                    ),
                )
            })
    }

    /// Registers with the masker every secret the store holds (credential fields and live
    /// OAuth2 tokens), when they changed since the last call. Fails when there are secrets the
    /// host cannot open (no master key): then nothing could be masked, and nothing a pack
    /// returns may be trusted to be free of them.
    pub fn mask_stored_secrets(&self) -> Result<(), HostError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let failed = |err: anyhow::Error| {
            host_error(
                ErrorCode::Protocol,
                format!("reading the vault to mask its secrets: {err:#}"),
            )
        };
        let generation = store.secrets_generation().map_err(failed)?;
        let mut masked = self
            .masked_generation
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *masked == Some(generation) {
            return Ok(());
        }
        let credentials = store.credentials().map_err(failed)?;
        let now = crate::store::now_ms();
        let tokens = store.tokens(None, now).map_err(failed)?;
        if !credentials.is_empty() || !tokens.is_empty() {
            let key = self.master_key().map_err(|err| {
                host_error(
                    err.code,
                    format!(
                        "the store holds secrets this process must mask but cannot open: {}",
                        err.message
                    ),
                )
            })?;
            let vault = Vault::new(store);
            for row in credentials {
                let kind: Kind = match row.kind.parse() {
                    Ok(kind) => kind,
                    Err(_) => continue,
                };
                let secrets = vault.secrets(&key, &row.name).map_err(|err| {
                    host_error(
                        ErrorCode::Denied,
                        format!("credential {:?} could not be opened: {err:#}", row.name),
                    )
                })?;
                self.register_secrets(&OpenedCredential {
                    name: row.name,
                    kind,
                    public: row.public,
                    secrets,
                });
            }
            for token in tokens {
                // A token that does not open was sealed under another key: useless to anyone
                // holding this store, and not usable by this host either.
                if let Ok(plain) = crate::vault::open(&key, &token.credential, &token.sealed)
                    && plain.len() > 32
                {
                    self.masker.add(&plain[32..]);
                }
            }
        }
        *masked = Some(generation);
        Ok(())
    }

    /// The OAuth2 access token another invocation (of any process) obtained for credential
    /// `name` with the credential as it is now (`fingerprint`), and how long it lives on.
    pub(crate) fn stored_token(
        &self,
        name: &str,
        fingerprint: &[u8; 32],
    ) -> Option<(Zeroizing<String>, Duration)> {
        let store = self.store.as_ref()?;
        let now = crate::store::now_ms();
        let token = store.tokens(Some(name), now).ok()?.into_iter().next()?;
        let key = self.master_key().ok()?;
        let plain = crate::vault::open(&key, name, &token.sealed).ok()?;
        if plain.len() <= 32 || plain[..32] != fingerprint[..] {
            return None;
        }
        let text = Zeroizing::new(String::from_utf8(plain[32..].to_vec()).ok()?);
        self.masker.add(text.as_bytes());
        let left = u64::try_from(token.expires_at - now).unwrap_or(0);
        Some((text, Duration::from_millis(left)))
    }

    /// Registers `token` (obtained for credential `name` as it is now, `fingerprint`) with the
    /// masker and keeps it sealed in the store for `lifetime`, so every process masks it. Fails
    /// when it cannot be kept: a token other processes could not mask must not be used.
    pub(crate) fn keep_token(
        &self,
        name: &str,
        fingerprint: &[u8; 32],
        token: &str,
        lifetime: Duration,
    ) -> Result<(), HostError> {
        self.masker.add(token.as_bytes());
        let Some(store) = &self.store else {
            return Ok(());
        };
        let key = self.master_key()?;
        let mut plain = Zeroizing::new(fingerprint.to_vec());
        plain.extend_from_slice(token.as_bytes());
        let failed = |err: anyhow::Error| {
            host_error(
                ErrorCode::Protocol,
                format!("keeping the access token of credential {name:?}: {err:#}"),
            )
        };
        let sealed = crate::vault::seal(&key, name, TOKEN_FIELD, &plain).map_err(failed)?;
        let now = crate::store::now_ms();
        let lifetime_ms = i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX);
        store
            .put_token(
                &StoredToken {
                    credential: name.to_owned(),
                    sealed,
                    expires_at: now.saturating_add(lifetime_ms),
                },
                now,
            )
            .map_err(failed)
    }

    /// Forgets the stored token of credential `name` (the API refused it).
    pub(crate) fn forget_token(&self, name: &str) {
        if let Some(store) = &self.store
            && let Err(err) = store.forget_token(name)
        {
            tracing::debug!(credential = %name, "forgetting a stored token failed: {err:#}");
        }
    }

    fn master_key(&self) -> Result<Arc<MasterKey>, HostError> {
        let mut slot = self
            .master_key
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(key) = slot.as_ref() {
            return Ok(Arc::clone(key));
        }
        let Some(key_file) = &self.key_file else {
            return Err(host_error(
                ErrorCode::NotFound,
                "this host has no vault".to_owned(),
            ));
        };
        let key = MasterKey::for_home(key_file).map_err(|err| {
            host_error(
                ErrorCode::Denied,
                format!("the host could not read its master key: {err:#}"),
            )
        })?;
        let key = Arc::new(key);
        *slot = Some(Arc::clone(&key));
        Ok(key)
    }

    /// Opens credential `name` for `pack` to use with `capability` towards `host`:`port`, after
    /// checking that it exists, suits the capability, may be used by the pack and is bound to
    /// the destination. Its secrets are registered with the masker.
    pub fn credential(
        &self,
        pack: &str,
        name: &str,
        capability: Capability,
        host: &str,
        port: u16,
    ) -> Result<OpenedCredential, HostError> {
        let store = self.store.as_ref().ok_or_else(|| {
            host_error(ErrorCode::NotFound, format!("no credential named {name:?}"))
        })?;
        let row = store
            .credential(name)
            .map_err(|err| host_error(ErrorCode::Protocol, format!("reading the vault: {err:#}")))?
            .ok_or_else(|| {
                host_error(
                    ErrorCode::NotFound,
                    format!(
                        "no credential named {name:?}; the operator adds it with: orch secret set {name} --kind KIND --bind HOST"
                    ),
                )
            })?;
        let kind = check_credential(&row, pack, capability, host, port)?;
        let key = self.master_key()?;
        let secrets = Vault::new(store).secrets(&key, name).map_err(|err| {
            host_error(
                ErrorCode::Denied,
                format!("credential {name:?} could not be opened: {err:#}"),
            )
        })?;
        let credential = OpenedCredential {
            name: name.to_owned(),
            kind,
            public: row.public,
            secrets,
        };
        self.register_secrets(&credential);
        Ok(credential)
    }

    fn register_secrets(&self, credential: &OpenedCredential) {
        for (field, value) in &credential.secrets {
            match (credential.kind, field.as_str()) {
                (Kind::Basic, "password") => self
                    .masker
                    .add_basic(credential.public_field("username"), value),
                (Kind::Oauth2Client, "client_secret") => self
                    .masker
                    .add_basic(credential.public_field("client_id"), value),
                _ => self.masker.add(value),
            }
        }
    }
}

/// The checks on a credential's clear row before it is opened; its kind.
pub fn check_credential(
    row: &CredentialRow,
    pack: &str,
    capability: Capability,
    host: &str,
    port: u16,
) -> Result<Kind, HostError> {
    let name = &row.name;
    let kind: Kind = row.kind.parse().map_err(|_| {
        host_error(
            ErrorCode::Invalid,
            format!("credential {name:?} has an unknown kind {:?}", row.kind),
        )
    })?;
    let suits = match capability {
        Capability::Http => matches!(
            kind,
            Kind::Basic | Kind::Bearer | Kind::Header | Kind::Oauth2Client
        ),
        Capability::Ssh => matches!(kind, Kind::SshPassword | Kind::SshKey),
        Capability::Catalog => false,
    };
    if !suits {
        return Err(host_error(
            ErrorCode::Invalid,
            format!(
                "credential {name:?} is of kind {}, which {} cannot use",
                kind.as_str(),
                capability.as_str()
            ),
        ));
    }
    if !row.admits_pack(pack) {
        let limited = if row.packs.is_empty() {
            "no pack".to_owned()
        } else {
            format!("packs {}", row.packs.join(", "))
        };
        let suspended = if row.suspended_packs.iter().any(|p| p == pack) {
            format!(
                "; it was limited to pack {pack:?} before that pack was removed or replaced by \
                 another vendor's, and a new pack of the same name does not inherit it"
            )
        } else {
            String::new()
        };
        return Err(host_error(
            ErrorCode::Denied,
            format!(
                "pack {pack:?} may not use credential {name:?} (it is limited to {limited}\
                 {suspended}); the operator can allow it with: orch secret scope {name} --pack \
                 {pack}"
            ),
        ));
    }
    let bound = row
        .bindings
        .iter()
        .filter_map(|b| b.parse::<Binding>().ok())
        .any(|b| b.matches(host, port));
    if !bound {
        return Err(host_error(
            ErrorCode::Denied,
            format!(
                "credential {name:?} is bound to {}, not to {host}:{port}; the host does not \
                 send it there",
                row.bindings.join(", ")
            ),
        ));
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: &str, bindings: &[&str], packs: &[&str]) -> CredentialRow {
        CredentialRow {
            name: "api".into(),
            kind: kind.into(),
            bindings: bindings.iter().map(|s| s.to_string()).collect(),
            packs: packs.iter().map(|s| s.to_string()).collect(),
            suspended_packs: Vec::new(),
            public: BTreeMap::new(),
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn a_webhook_secret_is_never_lent_to_a_pack() {
        // Even a row that somehow carried a binding matching the destination.
        for kind in ["webhook-hmac", "webhook-token"] {
            let hook = row(kind, &["*"], &[]);
            for capability in [Capability::Http, Capability::Ssh] {
                let err = check_credential(&hook, "any", capability, "x.example.com", 443)
                    .expect_err("refused");
                assert_eq!(err.code, ErrorCode::Invalid, "{kind}");
                assert!(err.message.contains("cannot use"), "{}", err.message);
            }
        }
    }

    #[test]
    fn refuses_a_credential_outside_its_binding_pack_or_capability() {
        let bearer = row("bearer", &["api.example.com:443"], &["servicenow"]);
        assert!(
            check_credential(
                &bearer,
                "servicenow",
                Capability::Http,
                "api.example.com",
                443
            )
            .is_ok()
        );
        let err = check_credential(
            &bearer,
            "servicenow",
            Capability::Http,
            "evil.example.com",
            443,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::Denied);
        assert!(
            err.message.contains("bound to api.example.com:443"),
            "{}",
            err.message
        );
        let err = check_credential(&bearer, "netdev", Capability::Http, "api.example.com", 443)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Denied);
        assert!(err.message.contains("may not use"), "{}", err.message);
        let err = check_credential(
            &bearer,
            "servicenow",
            Capability::Ssh,
            "api.example.com",
            443,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::Invalid);
        let any_pack = row("ssh-password", &["10.0.0.0/24"], &[]);
        assert!(check_credential(&any_pack, "netdev", Capability::Ssh, "10.0.0.7", 22).is_ok());
    }
}
