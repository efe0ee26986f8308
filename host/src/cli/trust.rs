//! `orch trust add|list|remove|require`: the vendor keys this home trusts to sign packs, and
//! whether `orch pack add` requires a trusted signature.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Subcommand;

use super::session::Session;
use crate::packs::{PackError, REQUIRE_SIGNED, signing};

/// `orch trust …`
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust a vendor's public key (as `orch pack keygen` printed it) under a name.
    Add {
        /// The name packs signed by this key are shown with (letters, digits, '-', '_', '.').
        name: String,
        /// The ed25519 public key, base64.
        public_key: String,
    },
    /// List trusted keys and whether signatures are required.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop trusting a key. Installed packs it signed stay installed; their next upgrade must
    /// be signed by a trusted key when signatures are required.
    Remove {
        /// The name it was added under.
        name: String,
    },
    /// Require (`on`) or stop requiring (`off`) that `orch pack add` be given files signed by a
    /// trusted key.
    Require {
        /// `on` or `off`.
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
}

pub async fn run(session: &Session, command: TrustCommand) -> anyhow::Result<ExitCode> {
    let (_, store) = session.home_and_store()?;
    let mut out = std::io::stdout().lock();
    match command {
        TrustCommand::Add { name, public_key } => {
            if name.is_empty()
                || name.len() > 64
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(PackError::Refused(format!(
                    "{name:?} cannot name a key: use 1-64 letters, digits, '-', '_' or '.'"
                ))
                .into());
            }
            signing::parse_public_key(&public_key).map_err(PackError::Refused)?;
            let public_key = public_key.trim();
            if let Some(existing) = store.trusted_key_name(public_key)? {
                return Err(PackError::Refused(format!(
                    "this key is already trusted as {existing:?}"
                ))
                .into());
            }
            if store.trusted_keys()?.iter().any(|k| k.name == name) {
                return Err(PackError::Refused(format!(
                    "a key is already trusted as {name:?}; remove it first (orch trust remove \
                     {name}) or choose another name"
                ))
                .into());
            }
            store.add_trusted_key(&name, public_key)?;
            writeln!(
                out,
                "trusted {name} ({}): packs it signs show as signed by {name}",
                signing::fingerprint(public_key)
            )?;
        }
        TrustCommand::List { json } => {
            let keys = store.trusted_keys()?;
            let required = store.setting(REQUIRE_SIGNED)?.as_deref() == Some("on");
            if json {
                let body = serde_json::json!({ "require_signed": required, "keys": keys });
                writeln!(out, "{}", serde_json::to_string_pretty(&body)?)?;
            } else {
                writeln!(
                    out,
                    "signed packs are {}required",
                    if required { "" } else { "not " }
                )?;
                for key in &keys {
                    writeln!(
                        out,
                        "{}  {}  {}  added {}",
                        key.name,
                        signing::fingerprint(&key.public_key),
                        key.public_key,
                        key.added_at
                    )?;
                }
            }
        }
        TrustCommand::Remove { name } => {
            if !store.remove_trusted_key(&name)? {
                return Err(PackError::Refused(format!(
                    "no key is trusted as {name:?}; see them with: orch trust list"
                ))
                .into());
            }
            writeln!(out, "no longer trusting {name}")?;
        }
        TrustCommand::Require { state } => {
            store.set_setting(REQUIRE_SIGNED, &state)?;
            writeln!(
                out,
                "orch pack add {} packs signed by a trusted key",
                if state == "on" {
                    "now requires"
                } else {
                    "no longer requires"
                }
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
