//! Signed packs: a vendor's ed25519 key signs a component's digest, name and version into a
//! detached signature file (`FILE.wasm.sig`) that `orch pack add` verifies and names the signer
//! of. Which keys an operator trusts is kept in the store (`orch trust`); this module is only the
//! cryptography and the two file formats, so it can be checked on its own.
//!
//! What is signed is the text `orch-pack-signature/1\n{name}\n{version}\n{sha256 hex}\n`: binding
//! name and version to the digest means a valid signature of one pack can never vouch for another
//! pack's name, nor for another version of the same file.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The format tag of signature files (and the first line of what is signed).
pub const SIGNATURE_FORMAT: &str = "orch-pack-signature/1";
/// The format tag of private key files.
const KEY_FORMAT: &str = "orch-signing-key/1";

/// A detached signature of one pack file, as written next to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureFile {
    /// [`SIGNATURE_FORMAT`].
    pub format: String,
    /// The pack's name, as its `describe` says.
    pub name: String,
    /// The pack's version, as its `describe` says.
    pub version: String,
    /// sha256 of the `.wasm`, hex.
    pub digest: String,
    /// The signer's public key, base64.
    pub public_key: String,
    /// The ed25519 signature of [`signed_text`], base64.
    pub signature: String,
}

/// A private key file as written by [`generate_key`].
#[derive(Serialize, Deserialize)]
struct KeyFile {
    format: String,
    /// The 32-byte ed25519 seed, base64.
    secret: String,
    /// The public key, base64 (what `orch trust add` takes).
    public_key: String,
}

/// Why a signature does not vouch for a file.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// The signature file cannot be used at all.
    #[error("signature file {path} is not usable: {reason}")]
    Unusable {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// It signs something else.
    #[error(
        "signature file {path} signs {signed}, not this file ({actual}); sign this file with \
         `orch pack sign`, or remove the stale signature"
    )]
    Mismatch {
        /// The file.
        path: String,
        /// What the signature says it signs.
        signed: String,
        /// What the file is.
        actual: String,
    },
    /// The signature does not verify under its public key: the file or the signature changed.
    #[error(
        "signature file {path} does not verify: the pack file or its signature was altered after \
         signing"
    )]
    Invalid {
        /// The file.
        path: String,
    },
}

/// The text a signature covers.
pub fn signed_text(name: &str, version: &str, digest: &str) -> String {
    format!("{SIGNATURE_FORMAT}\n{name}\n{version}\n{digest}\n")
}

/// Where the signature of `pack_file` is looked for: `FILE.sig` beside it.
pub fn signature_path(pack_file: &Path) -> PathBuf {
    let mut name = pack_file.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// A short, stable name for a public key to show people: `ed25519:` and the first 16 hex digits
/// of its sha256.
pub fn fingerprint(public_key: &str) -> String {
    let digest = Sha256::digest(public_key.as_bytes());
    format!("ed25519:{}", &hex::encode(digest)[..16])
}

/// Writes a new private key to `path` (readable by its owner only; never overwrites) and returns
/// its public key, base64.
pub fn generate_key(path: &Path) -> anyhow::Result<String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|err| anyhow::anyhow!("no randomness for a key: {err}"))?;
    let key = SigningKey::from_bytes(&seed);
    let public_key = BASE64.encode(key.verifying_key().to_bytes());
    let file = KeyFile {
        format: KEY_FORMAT.to_owned(),
        secret: BASE64.encode(seed),
        public_key: public_key.clone(),
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut out = options.open(path).map_err(|err| {
        anyhow::anyhow!(
            "cannot create key file {}: {err} (an existing key is never overwritten)",
            path.display()
        )
    })?;
    out.write_all(serde_json::to_string_pretty(&file)?.as_bytes())?;
    Ok(public_key)
}

/// Reads the private key in `path`, refusing one that others can read.
pub fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    let shown = path.display();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(path)
            .map_err(|err| anyhow::anyhow!("cannot read key file {shown}: {err}"))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "key file {shown} can be read by others (mode {:o}); run: chmod 600 {shown}",
                mode & 0o777
            );
        }
    }
    let text = fs::read_to_string(path)
        .map_err(|err| anyhow::anyhow!("cannot read key file {shown}: {err}"))?;
    let file: KeyFile = serde_json::from_str(&text).map_err(|_| {
        anyhow::anyhow!("{shown} is not an orch signing key; make one with: orch pack keygen FILE")
    })?;
    let seed: [u8; 32] = BASE64
        .decode(file.secret.as_bytes())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .filter(|_| file.format == KEY_FORMAT)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{shown} is not an orch signing key (format {})",
                file.format
            )
        })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Signs the pack `name` `version` whose file has `digest`.
pub fn sign(key: &SigningKey, name: &str, version: &str, digest: &str) -> SignatureFile {
    let signature = key.sign(signed_text(name, version, digest).as_bytes());
    SignatureFile {
        format: SIGNATURE_FORMAT.to_owned(),
        name: name.to_owned(),
        version: version.to_owned(),
        digest: digest.to_owned(),
        public_key: BASE64.encode(key.verifying_key().to_bytes()),
        signature: BASE64.encode(signature.to_bytes()),
    }
}

/// Parses a public key given as base64 (as `orch pack keygen` prints it).
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = BASE64
        .decode(text.trim().as_bytes())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| {
            format!("{text:?} is not an ed25519 public key (44 characters of base64)")
        })?;
    VerifyingKey::from_bytes(&bytes).map_err(|err| format!("{text:?} is not a public key: {err}"))
}

/// Reads the signature at `path` and checks that it signs `name` `version` with `digest`.
/// Returns the signer's public key, base64.
pub fn verify(
    path: &Path,
    name: &str,
    version: &str,
    digest: &str,
) -> Result<String, SignatureError> {
    let shown = path.display().to_string();
    let unusable = |reason: String| SignatureError::Unusable {
        path: shown.clone(),
        reason,
    };
    let text = fs::read_to_string(path).map_err(|err| unusable(err.to_string()))?;
    let file: SignatureFile = serde_json::from_str(&text)
        .map_err(|err| unusable(format!("not a signature file: {err}")))?;
    if file.format != SIGNATURE_FORMAT {
        return Err(unusable(format!("unknown format {:?}", file.format)));
    }
    if (
        file.name.as_str(),
        file.version.as_str(),
        file.digest.as_str(),
    ) != (name, version, digest)
    {
        return Err(SignatureError::Mismatch {
            path: shown,
            signed: format!(
                "{} {} (sha256 {})",
                file.name,
                file.version,
                short(&file.digest)
            ),
            actual: format!("{name} {version}, sha256 {}", short(digest)),
        });
    }
    let key = parse_public_key(&file.public_key).map_err(unusable)?;
    let signature: [u8; 64] = BASE64
        .decode(file.signature.as_bytes())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| unusable("the signature is not 64 bytes of base64".to_owned()))?;
    key.verify_strict(
        signed_text(name, version, digest).as_bytes(),
        &Signature::from_bytes(&signature),
    )
    .map_err(|_| SignatureError::Invalid { path: shown })?;
    Ok(file.public_key)
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, file: &SignatureFile) -> PathBuf {
        let path = dir.join("pack.wasm.sig");
        fs::write(&path, serde_json::to_string(file).unwrap()).unwrap();
        path
    }

    #[test]
    fn a_signature_verifies_only_for_what_it_signs() {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("vendor.key");
        let public = generate_key(&key_path).unwrap();
        assert!(generate_key(&key_path).is_err(), "never overwrites a key");
        let key = read_key(&key_path).unwrap();
        let signed = sign(&key, "netdev", "1.2.0", "ab12");
        let path = write(dir.path(), &signed);
        assert_eq!(verify(&path, "netdev", "1.2.0", "ab12").unwrap(), public);
        for (name, version, digest) in [
            ("other", "1.2.0", "ab12"),
            ("netdev", "1.3.0", "ab12"),
            ("netdev", "1.2.0", "cd34"),
        ] {
            assert!(matches!(
                verify(&path, name, version, digest),
                Err(SignatureError::Mismatch { .. })
            ));
        }
        // A signature edited to claim another file fails the cryptographic check.
        let mut forged = signed.clone();
        forged.digest = "cd34".into();
        let path = write(dir.path(), &forged);
        assert!(matches!(
            verify(&path, "netdev", "1.2.0", "cd34"),
            Err(SignatureError::Invalid { .. })
        ));
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vendor.key");
        generate_key(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_key(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn public_keys_parse_and_fingerprints_are_short() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let public = BASE64.encode(key.verifying_key().to_bytes());
        assert!(parse_public_key(&public).is_ok());
        assert!(parse_public_key("nope").is_err());
        assert_eq!(fingerprint(&public).len(), "ed25519:".len() + 16);
    }
}
