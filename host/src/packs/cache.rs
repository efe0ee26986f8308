//! Compiled artifacts on disk: a pack is compiled once at `pack add` and every later process
//! loads the serialized compilation instead of compiling again.
//!
//! Loading serialized code is `unsafe` in wasmtime (it is machine code that will run), so an
//! artifact is loaded only when it sits in the owner-only home, under the key of this engine's
//! configuration, and is the file this host wrote: its bytes hash to the sha256 recorded then.
//! Anything else (missing, truncated, corrupt, foreign, from another wasmtime) is rebuilt from
//! the stored pack, never trusted.
//!
//! Hashing a Python pack's 35 MB artifact on every load cost ~60 ms of CPU per `orch` process,
//! so the hash is checked once: the file's identity (device, inode, size, and the change time
//! the kernel sets on every write, truncation, rename or chmod, which a process cannot set) is
//! recorded when it is written or verified, and a load whose file still has that identity maps
//! it without reading it (`Component::deserialize_file`). Any other identity (a copied or
//! restored home, an edited file) falls back to the full hash, which records the identity again
//! when it passes. Artifacts are only ever replaced by a rename, never written in place, so a
//! mapped file never changes under the process that mapped it.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::home::Home;
use crate::runtime::Runtime;
use crate::store::{ArtifactRow, Store};

/// Whether a load used the cache or had to compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOutcome {
    /// The artifact was loaded.
    Hit,
    /// The artifact was (re)built; the reason says why.
    Rebuilt(String),
}

/// The sha256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Loads the compiled pack `digest`, rebuilding the artifact when it cannot be trusted.
pub fn load(
    home: &Home,
    store: &Store,
    runtime: &Runtime,
    pack: &str,
    digest: &str,
) -> anyhow::Result<(Component, CacheOutcome)> {
    let reason = match try_load(home, store, runtime, digest) {
        Ok(component) => return Ok((component, CacheOutcome::Hit)),
        Err(reason) => reason,
    };
    tracing::info!("compiling pack {pack:?}: {reason}");
    let wasm_path = home.pack_file(digest);
    let wasm = fs::read(&wasm_path).with_context(|| {
        format!(
            "reading the stored copy of pack {pack:?} ({}); re-add it with: orch pack add FILE",
            wasm_path.display()
        )
    })?;
    if sha256_hex(&wasm) != digest {
        anyhow::bail!(
            "the stored copy of pack {pack:?} ({}) does not match its recorded sha256 {digest}; \
             it was changed on disk; re-add the pack with: orch pack add FILE",
            wasm_path.display()
        );
    }
    let component = runtime
        .compile(&wasm)
        .with_context(|| format!("compiling pack {pack:?}"))?;
    save(home, store, runtime, digest, &component)?;
    Ok((component, CacheOutcome::Rebuilt(reason)))
}

fn try_load(
    home: &Home,
    store: &Store,
    runtime: &Runtime,
    digest: &str,
) -> Result<Component, String> {
    let key = runtime.engine_key();
    let row = store
        .artifact(digest, key)
        .map_err(|err| format!("cannot read the artifact record: {err:#}"))?
        .ok_or_else(|| "no compiled artifact for this engine configuration".to_owned())?;
    let path = home.artifact_file(digest, key);
    let refused = |err: wasmtime::Error| {
        format!(
            "artifact {} was refused by wasmtime: {err:#}",
            path.display()
        )
    };
    let identity =
        file_identity(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    if row.file_identity.as_deref() == Some(identity.as_str()) {
        // SAFETY: this is the very file this host wrote or verified (same device, inode, size
        // and change time as recorded, in the owner-only home) for this engine configuration
        // (the key); artifacts are replaced by rename, never modified in place, so the mapping
        // stays valid. wasmtime still checks the header and the configuration.
        return unsafe { Component::deserialize_file(runtime.engine(), &path) }.map_err(refused);
    }
    let bytes = fs::read(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    if sha256_hex(&bytes) != row.artifact_sha256 {
        return Err(format!(
            "artifact {} is corrupt or truncated (its sha256 does not match the record)",
            path.display()
        ));
    }
    // SAFETY: the bytes were written by this host (the record's sha256 matches, and the record
    // and file live in the owner-only home) for this exact engine configuration (the key).
    // wasmtime still checks the header and the configuration before using them.
    let component = unsafe { Component::deserialize(runtime.engine(), &bytes) }.map_err(refused)?;
    // Verified: later loads map it without reading it, as long as it stays this file.
    if let Err(err) = store.set_artifact_identity(digest, key, &identity) {
        tracing::warn!("cannot record the identity of {}: {err:#}", path.display());
    }
    Ok(component)
}

/// What identifies the file at `path` as the one last written there: device, inode, size and
/// change time (nanoseconds).
fn file_identity(path: &Path) -> std::io::Result<String> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = fs::metadata(path)?;
    Ok(format!(
        "{}:{}:{}:{}.{:09}",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.ctime(),
        meta.ctime_nsec()
    ))
}

/// Serializes `component` into the cache and records its hash.
pub fn save(
    home: &Home,
    store: &Store,
    runtime: &Runtime,
    digest: &str,
    component: &Component,
) -> anyhow::Result<()> {
    let key = runtime.engine_key();
    let bytes = component
        .serialize()
        .map_err(anyhow::Error::from)
        .context("serializing the compiled pack")?;
    let path = home.artifact_file(digest, key);
    write_private_atomically(&path, &bytes)?;
    store.put_artifact(&ArtifactRow {
        digest: digest.to_owned(),
        engine_key: key.to_owned(),
        artifact_sha256: sha256_hex(&bytes),
        size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        file_identity: file_identity(&path).ok(),
    })
}

/// Writes `bytes` to `path` through a temporary file and a rename, mode 0600, so a crash never
/// leaves a half-written file under the final name.
pub fn write_private_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming {} into place", tmp.display()))
}
