//! `orch pack keygen FILE` and `orch pack sign FILE --key KEY`: a vendor's side of signed packs
//! (the operator's side is `orch trust` and `orch pack add`).

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use super::super::session::Session;
use crate::packs::{PackError, describe_file, signing};
use crate::runtime::Limits;

pub fn keygen(file: &Path) -> anyhow::Result<ExitCode> {
    let public_key = signing::generate_key(file)?;
    writeln!(
        std::io::stdout().lock(),
        "wrote private key {} (keep it secret; it signs your packs)\npublic key: {public_key}\n\
         fingerprint: {}\noperators trust it with: orch trust add YOUR-NAME {public_key}",
        file.display(),
        signing::fingerprint(&public_key)
    )?;
    Ok(ExitCode::SUCCESS)
}

pub async fn sign(session: &Session, file: &Path, key: &Path) -> anyhow::Result<ExitCode> {
    let key = signing::read_key(key)?;
    let wasm = std::fs::read(file).map_err(|err| PackError::Unreadable {
        path: file.display().to_string(),
        reason: err.to_string(),
    })?;
    let runtime = session.runtime(Limits::DEFAULT.memory_bytes)?;
    let described = describe_file(runtime, file, &wasm, &|_| {}).await?;
    let manifest = &described.manifest;
    let digest = crate::packs::cache::sha256_hex(&wasm);
    let signature = signing::sign(&key, &manifest.name, &manifest.version, &digest);
    let path = signing::signature_path(file);
    std::fs::write(&path, serde_json::to_string_pretty(&signature)?)?;
    writeln!(
        std::io::stdout().lock(),
        "signed {} {} (sha256 {}) with {}: {}",
        manifest.name,
        manifest.version,
        &digest[..12],
        signing::fingerprint(&signature.public_key),
        path.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
