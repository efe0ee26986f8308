//! `orch secret set|list|scope|remove`: the credential vault. Secret values never come from argv
//! (they would land in shell history and `ps`): they are read from a file, from stdin, or
//! prompted for without echo on a terminal.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::json;
use zeroize::Zeroizing;

use super::session::Session;
use super::untrusted;
use crate::vault::{self, Kind, MasterKey, NewCredential, PublicField, Vault, VaultError};

/// `orch secret …`
#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store a credential (replacing one of the same name). The secret value is read from
    /// --from-file, --from-stdin, or prompted for on a terminal; never from the command line.
    Set(Box<SetArgs>),
    /// List credentials: names, kinds, bindings, packs and times; never values.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change which packs may use a credential, without touching its secret. Also lifts the
    /// suspension left when a pack it was limited to was removed or replaced by another
    /// vendor's.
    Scope {
        /// Credential name.
        name: String,
        /// A pack allowed to use it (repeatable).
        #[arg(
            long = "pack",
            value_name = "PACK",
            required_unless_present = "any_pack"
        )]
        packs: Vec<String>,
        /// Let any pack granted the destination use it.
        #[arg(long, conflicts_with = "packs")]
        any_pack: bool,
    },
    /// Delete a credential.
    Remove {
        /// Credential name.
        name: String,
    },
}

/// `orch secret set`
#[derive(Debug, Args)]
pub struct SetArgs {
    /// Credential name (letters, digits, '-', '_', '.').
    pub name: String,
    /// What kind of credential.
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// A destination it may be sent to: HOST[:PORT], e.g. api.example.com, *.example.com:443,
    /// 10.0.0.0/24:22 (repeatable, at least one; none for the webhook kinds, which orch serve
    /// checks and never sends).
    #[arg(long = "bind", value_name = "PATTERN")]
    pub bindings: Vec<String>,
    /// A pack allowed to use it (repeatable; none: any pack granted the destination).
    #[arg(long = "pack", value_name = "PACK")]
    pub packs: Vec<String>,
    /// User name (basic, ssh-password, ssh-key).
    #[arg(long)]
    pub username: Option<String>,
    /// Header name (header).
    #[arg(long)]
    pub header_name: Option<String>,
    /// Token endpoint (oauth2-client).
    #[arg(long, value_name = "URL")]
    pub token_url: Option<String>,
    /// Client id (oauth2-client).
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Scope (oauth2-client, optional).
    #[arg(long)]
    pub scope: Option<String>,
    /// Read the secret value from this file.
    #[arg(long, value_name = "PATH", conflicts_with = "from_stdin")]
    pub from_file: Option<PathBuf>,
    /// Read the secret value from standard input.
    #[arg(long)]
    pub from_stdin: bool,
    /// Read the private key's passphrase from this file (ssh-key, optional).
    #[arg(long, value_name = "PATH")]
    pub passphrase_file: Option<PathBuf>,
}

pub async fn run(session: &Session, command: SecretCommand) -> anyhow::Result<ExitCode> {
    let (home, store) = session.home_and_store()?;
    let vault = Vault::new(store);
    let mut out = std::io::stdout().lock();
    match command {
        SecretCommand::Set(args) => {
            let name = args.name.clone();
            let kind = args.kind;
            let credential = new_credential(*args)?;
            let key = MasterKey::for_home(&vault::key_file(home.root()))?;
            let (row, replaced) = vault.set(&key, credential)?;
            let verb = if replaced { "replaced" } else { "stored" };
            let bound = if kind.is_server_only() {
                "for orch serve's webhooks only".to_owned()
            } else {
                format!("bound to {}", row.bindings.join(", "))
            };
            writeln!(
                out,
                "{verb} credential {name} ({}), {bound}{}",
                kind.as_str(),
                if row.packs.is_empty() {
                    String::new()
                } else {
                    format!(", for packs {}", row.packs.join(", "))
                }
            )?;
        }
        SecretCommand::List { json } => {
            let rows = vault.list()?;
            if json {
                let list: Vec<_> = rows
                    .iter()
                    .map(|row| {
                        json!({
                            "name": row.name,
                            "kind": row.kind,
                            "bindings": row.bindings,
                            "packs": row.packs,
                            "suspended_packs": row.suspended_packs,
                            "fields": row.public,
                            "created_at": row.created_at,
                            "updated_at": row.updated_at,
                        })
                    })
                    .collect();
                untrusted::write_json(&mut out, &list)?;
            } else if rows.is_empty() {
                writeln!(
                    out,
                    "no credentials; add one with: orch secret set NAME --kind KIND --bind HOST"
                )?;
            } else {
                writeln!(
                    out,
                    "{:<20} {:<14} {:<32} {:<16} UPDATED",
                    "NAME", "KIND", "BINDINGS", "PACKS"
                )?;
                for row in rows {
                    let mut packs = if row.packs.is_empty() && row.suspended_packs.is_empty() {
                        "(any)".to_owned()
                    } else {
                        row.packs.join(",")
                    };
                    for suspended in &row.suspended_packs {
                        if !packs.is_empty() {
                            packs.push(',');
                        }
                        packs.push_str(&format!("{suspended}(suspended)"));
                    }
                    writeln!(
                        out,
                        "{:<20} {:<14} {:<32} {:<16} {}",
                        row.name,
                        row.kind,
                        row.bindings.join(","),
                        packs,
                        row.updated_at
                    )?;
                }
            }
        }
        SecretCommand::Scope {
            name,
            packs,
            any_pack,
        } => {
            let packs = if any_pack { Vec::new() } else { packs };
            let row = vault.scope(&name, &packs)?;
            if row.packs.is_empty() {
                writeln!(
                    out,
                    "credential {name} may be used by any pack granted its destinations ({})",
                    row.bindings.join(", ")
                )?;
            } else {
                writeln!(
                    out,
                    "credential {name} may be used by packs {} only",
                    row.packs.join(", ")
                )?;
            }
        }
        SecretCommand::Remove { name } => {
            vault.remove(&name)?;
            writeln!(out, "removed credential {name}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn new_credential(args: SetArgs) -> anyhow::Result<NewCredential> {
    let public = [
        (PublicField::Username, args.username),
        (PublicField::HeaderName, args.header_name),
        (PublicField::TokenUrl, args.token_url),
        (PublicField::ClientId, args.client_id),
        (PublicField::Scope, args.scope),
    ]
    .into_iter()
    .filter_map(|(field, value)| value.map(|v| (field, v)))
    .collect();
    let mut credential = NewCredential {
        name: args.name.clone(),
        kind: args.kind,
        bindings: args.bindings,
        packs: args.packs,
        public,
        secrets: Vec::new(),
    };
    // Refuse a wrong flag before anyone types a secret.
    vault::validate_metadata(&credential)?;
    let field = args.kind.secret_field();
    // A private key keeps its bytes; a password or token loses the newline a file or `echo`
    // leaves at its end.
    let keep_newline = args.kind == Kind::SshKey;
    let value = if let Some(path) = &args.from_file {
        read_file(path, keep_newline)?
    } else if args.from_stdin {
        let mut buf = Zeroizing::new(Vec::new());
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading the secret value from stdin")?;
        trim_newline(buf, keep_newline)
    } else if std::io::stdin().is_terminal() && args.kind != Kind::SshKey {
        let text = Zeroizing::new(
            rpassword::prompt_password(format!("{field} for {}: ", args.name))
                .context("reading the secret value from the terminal")?,
        );
        Zeroizing::new(text.as_bytes().to_vec())
    } else {
        return Err(VaultError::Invalid(format!(
            "no {field} given for credential {:?}: pass --from-file PATH or --from-stdin{}",
            args.name,
            if args.kind == Kind::SshKey {
                ""
            } else {
                ", or run on a terminal to be prompted"
            }
        ))
        .into());
    };
    if value.is_empty() {
        return Err(VaultError::Invalid(format!(
            "the {field} of credential {:?} is empty",
            args.name
        ))
        .into());
    }
    let mut secrets = vec![(field, value)];
    if let Some(path) = &args.passphrase_file {
        if args.kind != Kind::SshKey {
            return Err(VaultError::Invalid(format!(
                "--passphrase-file does not apply to a credential of kind {}",
                args.kind.as_str()
            ))
            .into());
        }
        secrets.push(("passphrase", read_file(path, false)?));
    }
    credential.secrets = secrets;
    Ok(credential)
}

fn read_file(path: &Path, keep_newline: bool) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|err| {
        VaultError::Invalid(format!(
            "cannot read the secret value from {}: {err}",
            path.display()
        ))
    })?);
    Ok(trim_newline(bytes, keep_newline))
}

fn trim_newline(mut bytes: Zeroizing<Vec<u8>>, keep: bool) -> Zeroizing<Vec<u8>> {
    if !keep {
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
        }
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    bytes
}
