//! Installed packs: adding (validate, describe in the sandbox, precompile, record), listing,
//! removing, and loading one for invocation.

pub mod cache;
pub mod check;
pub mod manifest;
pub mod signing;

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context as _;
use serde::Serialize;

use crate::home::Home;
use crate::policy::grants::Grant;
use crate::runtime::{ComponentError, PreparedPack, Runtime, SandboxError};
use crate::store::{PackRow, Store};
pub use cache::CacheOutcome;
pub use manifest::{ActionSpec, Manifest, ManifestError};

/// A pack as installed.
#[derive(Debug, Clone, Serialize)]
pub struct InstalledPack {
    /// The checked manifest.
    #[serde(flatten)]
    pub manifest: Manifest,
    /// sha256 of the `.wasm`.
    pub digest: String,
    /// Size of the `.wasm` in bytes.
    pub size: u64,
    /// Interfaces the component imports.
    pub imports: Vec<String>,
    /// Where it was added from.
    pub source: String,
    /// First installed.
    pub installed_at: String,
    /// Last replaced.
    pub updated_at: String,
    /// The public key (base64) that signed the installed file; `None`: unsigned.
    pub signer: Option<String>,
}

impl InstalledPack {
    fn from_row(row: PackRow) -> anyhow::Result<Self> {
        let manifest: Manifest = serde_json::from_str(&row.manifest)
            .with_context(|| format!("reading the stored manifest of pack {:?}", row.name))?;
        let imports: Vec<String> = serde_json::from_str(&row.imports)
            .with_context(|| format!("reading the stored imports of pack {:?}", row.name))?;
        Ok(Self {
            manifest,
            digest: row.digest,
            size: u64::try_from(row.size).unwrap_or(0),
            imports,
            source: row.source,
            installed_at: row.installed_at,
            updated_at: row.updated_at,
            signer: row.signer,
        })
    }
}

/// What `add` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum AddChange {
    /// A new pack.
    Installed,
    /// Same content as installed: nothing done.
    Unchanged,
    /// Same name, higher version.
    Upgraded {
        /// The version replaced.
        from: String,
    },
    /// Same name, lower version.
    Downgraded {
        /// The version replaced.
        from: String,
    },
    /// Same name and version, other content.
    Replaced {
        /// The digest replaced.
        previous_digest: String,
    },
}

/// The result of `add`.
#[derive(Debug, Clone, Serialize)]
pub struct AddReport {
    /// What changed.
    #[serde(flatten)]
    pub change: AddChange,
    /// The pack as installed now.
    pub pack: InstalledPack,
    /// Grants the replaced pack held that the new one does not inherit (another vendor's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped_grants: Vec<String>,
    /// Credentials limited to the replaced pack, now suspended for that name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suspended_credentials: Vec<String>,
    /// The name the signer's key is trusted under (`orch trust`), if it is.
    pub signed_by: Option<String>,
}

/// Why adding a file replaces the installed pack of the same name in a way the operator must
/// confirm: a pack only names itself, so a file calling itself `text` could be anyone's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum ReplaceReason {
    /// Another vendor: the new pack inherits no grant and no credential.
    OtherVendor {
        /// The installed pack's vendor.
        installed: String,
        /// The file's vendor.
        new: String,
    },
    /// An older version.
    Downgrade {
        /// The installed version.
        installed: String,
        /// The file's version.
        new: String,
    },
    /// The file asks for destinations the installed pack did not.
    MoreDestinations {
        /// The new destinations, as grants.
        added: Vec<String>,
    },
    /// The installed file was signed, and this one is signed by another key or not at all.
    OtherSigner {
        /// Fingerprint of the installed file's signer.
        installed: String,
        /// Fingerprint of this file's signer, or `unsigned`.
        new: String,
    },
}

impl std::fmt::Display for ReplaceReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OtherVendor { installed, new } => write!(
                f,
                "it comes from another vendor ({:?}, the installed one from {:?}): it would \
                 inherit none of the installed pack's grants or credentials",
                new, installed
            ),
            Self::Downgrade { installed, new } => {
                write!(f, "it is older ({new}, installed {installed})")
            }
            Self::MoreDestinations { added } => {
                write!(f, "it asks for more destinations: {}", added.join(", "))
            }
            Self::OtherSigner { installed, new } => write!(
                f,
                "it is not signed by the key that signed the installed version ({installed}; \
                 this file: {new})"
            ),
        }
    }
}

/// A replacement waiting for the operator's confirmation.
#[derive(Debug, Clone, Serialize)]
pub struct Replacement {
    /// Pack name.
    pub name: String,
    /// The installed version.
    pub installed_version: String,
    /// The file's version.
    pub new_version: String,
    /// Everything that needs confirming.
    pub reasons: Vec<ReplaceReason>,
}

/// A pack ready to invoke.
pub struct LoadedPack {
    /// The installed pack.
    pub installed: InstalledPack,
    /// Compiled and linked.
    pub prepared: PreparedPack,
    /// Whether the compiled artifact came from the cache.
    pub cache: CacheOutcome,
}

/// Errors a user can fix.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// No such pack.
    #[error("no pack named {0:?} is installed; see installed packs with: orch pack list")]
    NotInstalled(String),
    /// No such action.
    #[error("pack {pack:?} has no action {action:?}; its actions are: {available}")]
    UnknownAction {
        /// Pack name.
        pack: String,
        /// The action asked for.
        action: String,
        /// The pack's actions.
        available: String,
    },
    /// A pack file that cannot be read.
    #[error("cannot read pack file {path}: {reason}; give the path of a built .wasm component")]
    Unreadable {
        /// The file.
        path: String,
        /// The system's reason.
        reason: String,
    },
    /// The file's signature is present but does not vouch for it.
    #[error("{path} cannot be added: {cause}")]
    Signature {
        /// The file.
        path: String,
        /// Why.
        cause: signing::SignatureError,
    },
    /// Signed packs are required and this one is unsigned or signed by an untrusted key.
    #[error(
        "{path} cannot be added: this home requires packs signed by a trusted key, and it is \
         {what}; trust the vendor's key with `orch trust add NAME PUBLIC_KEY`, or ask the vendor \
         for a signed file (`orch pack sign`)"
    )]
    NotTrusted {
        /// The file.
        path: String,
        /// `unsigned`, or `signed by the untrusted key ed25519:…`.
        what: String,
    },
    /// A pack or trust command refused as asked; the message says what to do instead.
    #[error("{0}")]
    Refused(String),
    /// Malformed `PACK.ACTION`.
    #[error("{0:?} is not an action reference; write PACK.ACTION, e.g. text.diff")]
    BadActionRef(String),
    /// The file is not a usable component. (The cause is in the message, not a `source`:
    /// `main` prints the chain, which would say it twice.)
    #[error("{path} cannot be added: {cause}")]
    Component {
        /// The file.
        path: String,
        /// Why.
        cause: ComponentError,
    },
    /// `describe` failed in the sandbox.
    #[error("{path} cannot be added: describe failed: {cause}")]
    Describe {
        /// The file.
        path: String,
        /// Why.
        cause: SandboxError,
    },
    /// The description is invalid.
    #[error("{path} cannot be added: {cause}")]
    Manifest {
        /// The file.
        path: String,
        /// Why.
        cause: ManifestError,
    },
    /// A replacement the operator did not confirm.
    #[error(
        "{path} would replace the installed pack {name} {installed_version} with {new_version}, \
         and {reasons}; nothing was changed. If that is intended, add it again with --replace"
    )]
    ReplaceRefused {
        /// The file.
        path: String,
        /// Pack name.
        name: String,
        /// The installed version.
        installed_version: String,
        /// The file's version.
        new_version: String,
        /// Why it needs confirming, joined.
        reasons: String,
    },
    /// An installed action's input or output schema this host cannot use (stored by an older
    /// host).
    #[error(
        "the {which} schema of {action} is unusable: {reason}; the pack must be fixed and added \
         again"
    )]
    UnusableSchema {
        /// `input` or `output`.
        which: &'static str,
        /// `pack.action`.
        action: String,
        /// Why.
        reason: String,
    },
    /// `revoke` of a grant the pack does not hold.
    #[error("pack {pack:?} does not hold {grant}; it holds: {held}")]
    NotGranted {
        /// Pack name.
        pack: String,
        /// The grant asked for.
        grant: String,
        /// What it holds, comma-separated (or "nothing").
        held: String,
    },
}

/// Splits `PACK.ACTION`.
pub fn parse_action_ref(reference: &str) -> Result<(&str, &str), PackError> {
    match reference.split_once('.') {
        Some((pack, action)) if !pack.is_empty() && !action.is_empty() && !action.contains('.') => {
            Ok((pack, action))
        }
        _ => Err(PackError::BadActionRef(reference.to_owned())),
    }
}

/// The home setting that makes `pack add` refuse unsigned and untrusted packs (`on`/`off`).
pub const REQUIRE_SIGNED: &str = "require_signed";

/// The installed packs of one home.
pub struct Packs<'a> {
    home: &'a Home,
    store: &'a Store,
    runtime: &'a Runtime,
    /// Packs compiled and linked by this value, by name and digest: a workflow that runs a
    /// sub-workflow per device loads each pack once per process, not once per child run
    /// (reading, hashing and deserialising megabytes of machine code each time was most of
    /// the engine's own cost in a fleet check). A new version of a pack has another digest.
    linked: Mutex<HashMap<(String, String), PreparedPack>>,
}

impl<'a> Packs<'a> {
    /// Packs of `home`, recorded in `store`, run by `runtime`.
    pub fn new(home: &'a Home, store: &'a Store, runtime: &'a Runtime) -> Self {
        Self {
            home,
            store,
            runtime,
            linked: Mutex::new(HashMap::new()),
        }
    }

    /// Adds the pack in `path` as [`Packs::add_with`] does, refusing any replacement that needs
    /// confirming.
    pub async fn add(&self, path: &Path, progress: &dyn Fn(&str)) -> anyhow::Result<AddReport> {
        self.add_with(path, false, &|_| false, progress).await
    }

    /// Adds the pack in `path`: checks it, describes it in the sandbox, verifies its signature
    /// (`FILE.sig`, if any; required with `require_signed` or the home's setting), precompiles
    /// it and records it. When a pack of the same name is installed and the file comes from another
    /// vendor, is older, or asks for more destinations, `confirm` decides; a replacement by
    /// another vendor drops the grants and suspends the credentials limited to the name.
    /// `progress` receives a short phrase before each slow step.
    pub async fn add_with(
        &self,
        path: &Path,
        require_signed: bool,
        confirm: &dyn Fn(&Replacement) -> bool,
        progress: &dyn Fn(&str),
    ) -> anyhow::Result<AddReport> {
        let shown = path.display().to_string();
        let wasm = fs::read(path).map_err(|err| PackError::Unreadable {
            path: shown.clone(),
            reason: err.to_string(),
        })?;
        let digest = cache::sha256_hex(&wasm);
        // The same file again is a no-op, unless it now comes with a signature it lacked (or
        // without the one it had): then it is checked and recorded again.
        if let Some(existing) = self.installed_with_digest(&digest)?
            && signing::signature_path(path).exists() == existing.signer.is_some()
        {
            let signed_by = match &existing.signer {
                Some(key) => self.store.trusted_key_name(key)?,
                None => None,
            };
            return Ok(AddReport {
                change: AddChange::Unchanged,
                pack: existing,
                dropped_grants: Vec::new(),
                suspended_credentials: Vec::new(),
                signed_by,
            });
        }
        let Described {
            component,
            prepared,
            manifest,
        } = describe_file(self.runtime, path, &wasm, progress).await?;
        let signer = self.signer(path, &shown, &manifest, &digest, require_signed)?;
        let previous = self.store.pack(&manifest.name)?;
        let mut other_vendor = false;
        if let Some(previous) = &previous {
            let replacement = replacement(previous, &manifest, signer.as_deref())?;
            other_vendor = replacement
                .reasons
                .iter()
                .any(|r| matches!(r, ReplaceReason::OtherVendor { .. }));
            if !replacement.reasons.is_empty() && !confirm(&replacement) {
                return Err(PackError::ReplaceRefused {
                    path: shown,
                    name: replacement.name,
                    installed_version: replacement.installed_version,
                    new_version: replacement.new_version,
                    reasons: replacement
                        .reasons
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                }
                .into());
            }
        }
        progress("saving");
        // Files first, the record last: a crash in between leaves an unused file, never a
        // record pointing at nothing.
        cache::write_private_atomically(&self.home.pack_file(&digest), &wasm)?;
        cache::save(self.home, self.store, self.runtime, &digest, &component)?;
        // Another vendor's pack inherits nothing. Taken away before the new record is written,
        // so a crash in between leaves the old pack with fewer rights, never the new one with
        // the old one's.
        let (dropped_grants, suspended_credentials) = if other_vendor {
            (
                self.store.remove_grants(&manifest.name, None)?,
                self.store.suspend_pack_in_credentials(&manifest.name)?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        let row = PackRow {
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            vendor: manifest.vendor.clone(),
            description: manifest.description.clone(),
            digest: digest.clone(),
            size: i64::try_from(wasm.len()).unwrap_or(i64::MAX),
            manifest: serde_json::to_string(&manifest)?,
            imports: serde_json::to_string(&prepared.shape().imports)?,
            source: fs::canonicalize(path)
                .unwrap_or_else(|_| path.to_path_buf())
                .display()
                .to_string(),
            installed_at: String::new(),
            updated_at: String::new(),
            signer: signer.clone(),
        };
        let stored = self.store.put_pack(&row)?;
        let change = match previous {
            None => AddChange::Installed,
            Some(previous) => {
                self.forget_file_if_unused(&previous.digest)?;
                change_from(&previous, &manifest.version)
            }
        };
        let signed_by = match &signer {
            Some(key) => self.store.trusted_key_name(key)?,
            None => None,
        };
        Ok(AddReport {
            change,
            pack: InstalledPack::from_row(stored)?,
            dropped_grants,
            suspended_credentials,
            signed_by,
        })
    }

    /// The public key that signed the file at `path` (its `FILE.sig`), `None` when unsigned.
    /// A signature that is present but does not vouch for this very file refuses the file
    /// whatever the policy; with `require_signed` (or the home's `require_signed` setting), so
    /// does an unsigned file or one whose signer is not trusted.
    fn signer(
        &self,
        path: &Path,
        shown: &str,
        manifest: &Manifest,
        digest: &str,
        require_signed: bool,
    ) -> anyhow::Result<Option<String>> {
        let signature = signing::signature_path(path);
        let signer = if signature.exists() {
            let key = signing::verify(&signature, &manifest.name, &manifest.version, digest)
                .map_err(|cause| PackError::Signature {
                    path: shown.to_owned(),
                    cause,
                })?;
            Some(key)
        } else {
            None
        };
        let required =
            require_signed || self.store.setting(REQUIRE_SIGNED)?.as_deref() == Some("on");
        if required {
            let what = match &signer {
                None => "unsigned".to_owned(),
                Some(key) if self.store.trusted_key_name(key)?.is_none() => {
                    format!("signed by the untrusted key {}", signing::fingerprint(key))
                }
                Some(_) => return Ok(signer),
            };
            return Err(PackError::NotTrusted {
                path: shown.to_owned(),
                what,
            }
            .into());
        }
        Ok(signer)
    }

    /// The name `public_key` is trusted under (`orch trust`), if it is.
    pub fn trusted_name(&self, public_key: &str) -> anyhow::Result<Option<String>> {
        self.store.trusted_key_name(public_key)
    }

    fn installed_with_digest(&self, digest: &str) -> anyhow::Result<Option<InstalledPack>> {
        for row in self.store.packs()? {
            if row.digest == digest && self.home.pack_file(digest).exists() {
                return Ok(Some(InstalledPack::from_row(row)?));
            }
        }
        Ok(None)
    }

    /// Every installed pack, by name.
    pub fn list(&self) -> anyhow::Result<Vec<InstalledPack>> {
        self.store
            .packs()?
            .into_iter()
            .map(InstalledPack::from_row)
            .collect()
    }

    /// The pack called `name`.
    pub fn get(&self, name: &str) -> anyhow::Result<InstalledPack> {
        let row = self
            .store
            .pack(name)?
            .ok_or_else(|| PackError::NotInstalled(name.to_owned()))?;
        InstalledPack::from_row(row)
    }

    /// Removes the pack called `name` with its stored file, compiled artifacts and grants;
    /// credentials limited to it are suspended for that name (a pack added later under the
    /// same name, by anyone, inherits nothing). The pack, and the credentials suspended.
    pub fn remove(&self, name: &str) -> anyhow::Result<(InstalledPack, Vec<String>)> {
        let pack = self.get(name)?;
        let suspended = self.store.suspend_pack_in_credentials(name)?;
        self.store.remove_pack(name)?;
        self.forget_file_if_unused(&pack.digest)?;
        Ok((pack, suspended))
    }

    fn forget_file_if_unused(&self, digest: &str) -> anyhow::Result<()> {
        if self.store.packs_with_digest(digest)? > 0 {
            return Ok(());
        }
        for key in self.store.remove_artifacts(digest)? {
            remove_if_present(&self.home.artifact_file(digest, &key))?;
        }
        remove_if_present(&self.home.pack_file(digest))
    }

    /// The grants `name` holds, canonical and sorted.
    pub fn grants(&self, name: &str) -> anyhow::Result<Vec<String>> {
        self.get(name)?;
        Ok(self
            .store
            .grants(name)?
            .into_iter()
            .map(|g| g.grant)
            .collect())
    }

    /// Grants `grants` to pack `name`; those that were new.
    pub fn grant(&self, name: &str, grants: &[Grant]) -> anyhow::Result<Vec<String>> {
        self.get(name)?;
        let texts: Vec<String> = grants.iter().map(ToString::to_string).collect();
        self.store.add_grants(name, &texts)
    }

    /// Revokes `grants` from pack `name` (every grant when `None`); those removed. Revoking a
    /// grant the pack does not hold is an error (a typo must not look like a revocation).
    pub fn revoke(&self, name: &str, grants: Option<&[Grant]>) -> anyhow::Result<Vec<String>> {
        let held = self.grants(name)?;
        let texts: Option<Vec<String>> =
            grants.map(|grants| grants.iter().map(ToString::to_string).collect());
        if let Some(missing) = texts.iter().flatten().find(|t| !held.contains(t)) {
            return Err(PackError::NotGranted {
                pack: name.to_owned(),
                grant: missing.clone(),
                held: if held.is_empty() {
                    "nothing".to_owned()
                } else {
                    held.join(", ")
                },
            }
            .into());
        }
        self.store.remove_grants(name, texts.as_deref())
    }

    /// Loads the pack called `name` for invocation (from the compiled cache when it can).
    pub fn load(&self, name: &str) -> anyhow::Result<LoadedPack> {
        let installed = self.get(name)?;
        let key = (name.to_owned(), installed.digest.clone());
        if let Some(prepared) = self.linked().get(&key).cloned() {
            return Ok(LoadedPack {
                installed,
                prepared,
                cache: CacheOutcome::Hit,
            });
        }
        let (component, cache) =
            cache::load(self.home, self.store, self.runtime, name, &installed.digest)?;
        let prepared = self
            .runtime
            .prepare(name, &component)
            .with_context(|| format!("linking pack {name:?}"))?;
        self.linked().insert(key, prepared.clone());
        Ok(LoadedPack {
            installed,
            prepared,
            cache,
        })
    }

    fn linked(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), PreparedPack>> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.linked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What replacing `previous` by `manifest` needs confirmed (nothing for an upgrade of the same
/// vendor asking for no more).
/// A pack file compiled, linked and described, its description checked.
pub struct Described {
    /// The compiled component.
    pub component: wasmtime::component::Component,
    /// Linked, ready to instantiate.
    pub prepared: PreparedPack,
    /// What it says about itself, checked.
    pub manifest: Manifest,
}

/// Compiles `wasm` (the contents of `path`), checks it against the contract, describes it in
/// the sandbox and checks the description: what `pack add` and `pack sign` both need to know.
/// `progress` receives a short phrase before each slow step.
pub async fn describe_file(
    runtime: &Runtime,
    path: &Path,
    wasm: &[u8],
    progress: &dyn Fn(&str),
) -> anyhow::Result<Described> {
    let shown = path.display().to_string();
    progress("compiling");
    let component = runtime
        .compile(wasm)
        .map_err(|cause| PackError::Component {
            path: shown.clone(),
            cause,
        })?;
    let file_name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("pack");
    let prepared =
        runtime
            .prepare(file_name, &component)
            .map_err(|cause| PackError::Component {
                path: shown.clone(),
                cause,
            })?;
    progress("describing");
    let info = runtime
        .describe(&prepared)
        .await
        .map_err(|cause| PackError::Describe {
            path: shown.clone(),
            cause,
        })?;
    let manifest =
        Manifest::from_info(info).map_err(|cause| PackError::Manifest { path: shown, cause })?;
    Ok(Described {
        component,
        prepared,
        manifest,
    })
}

fn replacement(
    previous: &PackRow,
    manifest: &Manifest,
    signer: Option<&str>,
) -> anyhow::Result<Replacement> {
    let mut reasons = Vec::new();
    // Once a pack arrived signed, only the same key vouches for its successors: a file signed by
    // someone else (or by no one) is a different supplier, however it names itself.
    if let Some(installed) = previous.signer.as_deref()
        && signer != Some(installed)
    {
        reasons.push(ReplaceReason::OtherSigner {
            installed: signing::fingerprint(installed),
            new: signer.map_or_else(|| "unsigned".to_owned(), signing::fingerprint),
        });
    }
    if previous.vendor != manifest.vendor {
        reasons.push(ReplaceReason::OtherVendor {
            installed: previous.vendor.clone(),
            new: manifest.vendor.clone(),
        });
    }
    if let AddChange::Downgraded { from } = change_from(previous, &manifest.version) {
        reasons.push(ReplaceReason::Downgrade {
            installed: from,
            new: manifest.version.clone(),
        });
    }
    let before: Manifest = serde_json::from_str(&previous.manifest)
        .with_context(|| format!("reading the stored manifest of pack {:?}", previous.name))?;
    let asked_before: Vec<String> = before
        .destinations
        .iter()
        .filter_map(|d| d.as_grant().map(|g| g.to_string()))
        .collect();
    let mut added: Vec<String> = manifest
        .destinations
        .iter()
        .filter_map(|d| d.as_grant().map(|g| g.to_string()))
        .filter(|g| !asked_before.contains(g))
        .collect();
    added.sort();
    added.dedup();
    if !added.is_empty() {
        reasons.push(ReplaceReason::MoreDestinations { added });
    }
    Ok(Replacement {
        name: previous.name.clone(),
        installed_version: previous.version.clone(),
        new_version: manifest.version.clone(),
        reasons,
    })
}

fn change_from(previous: &PackRow, version: &str) -> AddChange {
    match (
        semver::Version::parse(&previous.version),
        semver::Version::parse(version),
    ) {
        (Ok(old), Ok(new)) if new > old => AddChange::Upgraded {
            from: previous.version.clone(),
        },
        (Ok(old), Ok(new)) if new < old => AddChange::Downgraded {
            from: previous.version.clone(),
        },
        _ => AddChange::Replaced {
            previous_digest: previous.digest.clone(),
        },
    }
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err).with_context(|| format!("removing {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_action_references() {
        assert_eq!(parse_action_ref("text.diff").unwrap(), ("text", "diff"));
        for bad in ["text", ".diff", "text.", "a.b.c"] {
            assert!(parse_action_ref(bad).is_err(), "{bad}");
        }
    }
}
