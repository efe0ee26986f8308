//! `orch catalog get|put|history|list`: versioned records of the data catalog; `policy` and
//! `prune` (what collections may hold and keep) are in `catalog/policy.rs`.
//!
//! `put` is the operator writing: it is held to the collection's quota like packs are (so a
//! collection never grows past the quota the operator declared, and packs are not refused later
//! because of a write nobody noticed), but not to the per-invocation budget, which bounds what
//! one sandboxed invocation may add. A refusal names the figures and the command that fixes it.

mod policy;

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::session::Session;
use super::untrusted;
use crate::catalog::{self, CatalogError};
use crate::policy::catalog::human_bytes;
use crate::store::NewRecord;

/// `orch catalog …`
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Print a record's value (the latest version, or --version N).
    Get {
        /// Collection (e.g. configs).
        collection: String,
        /// Key (e.g. R1/golden).
        key: String,
        /// A given version instead of the latest.
        #[arg(long)]
        version: Option<u64>,
        /// Print the whole entry (version, time, writer, value) as JSON.
        #[arg(long)]
        json: bool,
        /// Print a string value as raw text (e.g. a configuration) instead of JSON.
        #[arg(long, conflicts_with = "json")]
        raw: bool,
    },
    /// Write a new version of a record.
    #[command(group(clap::ArgGroup::new("source").required(true).args(["value", "file", "text_file"])))]
    Put {
        /// Collection.
        collection: String,
        /// Key.
        key: String,
        /// The value as JSON.
        #[arg(long, value_name = "JSON", conflicts_with_all = ["file", "text_file"])]
        value: Option<String>,
        /// Read the JSON value from a file (`-` for stdin).
        #[arg(long, value_name = "FILE", conflicts_with = "text_file")]
        file: Option<PathBuf>,
        /// Store a text file (e.g. a configuration) as a JSON string (`-` for stdin).
        #[arg(long, value_name = "FILE")]
        text_file: Option<PathBuf>,
    },
    /// Every version of a record, newest first.
    History {
        /// Collection.
        collection: String,
        /// Key.
        key: String,
        /// Print as JSON (values included).
        #[arg(long)]
        json: bool,
    },
    /// Keys of a collection (or of every collection) with their latest version.
    List {
        /// Collection; all collections when omitted.
        collection: Option<String>,
        /// Only keys starting with this prefix.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set, list and remove collections' quotas and keep rules, and the per-invocation budget.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Remove the old versions the keep rules let go (in COLLECTION or every collection) and
    /// report them. The latest version of every key stays, and so does any version written by a
    /// workflow run that has not finished.
    Prune(policy::PruneArgs),
}

fn read_source(path: &PathBuf) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        Ok(std::fs::read_to_string(path)
            .map_err(|err| anyhow::anyhow!("reading {}: {err}", path.display()))?)
    }
}

pub async fn run(session: &Session, command: CatalogCommand) -> anyhow::Result<ExitCode> {
    let (_, store) = session.home_and_store()?;
    let mut out = std::io::stdout().lock();
    match command {
        CatalogCommand::Get {
            collection,
            key,
            version,
            json,
            raw,
        } => {
            let entry = catalog::get(store, &collection, &key, version)?.ok_or_else(|| {
                CatalogError::NoRecord {
                    collection: collection.clone(),
                    key: key.clone(),
                    version,
                }
            })?;
            if json {
                untrusted::write_json(&mut out, &entry)?;
            } else if let (true, Some(text)) = (raw, entry.value.as_str()) {
                write!(out, "{text}")?;
                if !text.ends_with('\n') {
                    writeln!(out)?;
                }
            } else {
                untrusted::write_json(&mut out, &entry.value)?;
            }
        }
        CatalogCommand::Put {
            collection,
            key,
            value,
            file,
            text_file,
        } => {
            // clap's `source` group guarantees exactly one of the three.
            let value: serde_json::Value = match (value, file, text_file) {
                (Some(text), _, _) => parse_json(&text, "--value")?,
                (_, Some(path), _) => {
                    parse_json(&read_source(&path)?, &path.display().to_string())?
                }
                (_, _, Some(path)) => serde_json::Value::String(read_source(&path)?),
                (None, None, None) => unreachable!("clap requires one value source"),
            };
            let written = catalog::put(
                store,
                &NewRecord {
                    collection: &collection,
                    key: &key,
                    value: &value,
                    writer: &catalog::cli_writer(),
                    step_key: None,
                    invocation_written: None,
                },
            )?;
            writeln!(
                out,
                "wrote {collection}/{key} version {} ({})",
                written.row.version,
                human_bytes(written.row.size)
            )?;
        }
        CatalogCommand::History {
            collection,
            key,
            json,
        } => {
            catalog::check_collection(&collection)?;
            catalog::check_key(&key)?;
            let history = store.record_history(&collection, &key)?;
            if history.is_empty() {
                return Err(CatalogError::NoRecord {
                    collection,
                    key,
                    version: None,
                }
                .into());
            }
            if json {
                untrusted::write_json(&mut out, &history)?;
            } else {
                let width = history
                    .iter()
                    .map(|e| e.written_at.len())
                    .max()
                    .unwrap_or(7);
                writeln!(
                    out,
                    "{:>7}  {:width$}  {:>10}  WRITER",
                    "VERSION", "WRITTEN", "SIZE"
                )?;
                for entry in &history {
                    writeln!(
                        out,
                        "{:>7}  {:width$}  {:>10}  {}",
                        entry.version,
                        entry.written_at,
                        human_bytes(entry.size),
                        entry.writer
                    )?;
                }
            }
        }
        CatalogCommand::List {
            collection,
            prefix,
            json,
        } => {
            if let Some(collection) = &collection {
                catalog::check_collection(collection)?;
            }
            let keys = store.record_keys(collection.as_deref(), &prefix)?;
            if json {
                let body: Vec<_> = keys
                    .iter()
                    .map(|(c, k)| serde_json::json!({"collection": c, "key": k.key, "version": k.version, "written_at": k.written_at}))
                    .collect();
                untrusted::write_json(&mut out, &body)?;
            } else if keys.is_empty() {
                writeln!(
                    out,
                    "no records; write one with: orch catalog put COLLECTION KEY --value JSON"
                )?;
            } else {
                for (c, k) in &keys {
                    writeln!(out, "{c}/{}  v{}  {}", k.key, k.version, k.written_at)?;
                }
            }
        }
        CatalogCommand::Policy(command) => policy::run_policy(store, command, &mut out)?,
        CatalogCommand::Prune(args) => policy::run_prune(store, &args, &mut out)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_json(text: &str, source: &str) -> anyhow::Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|err| {
        CatalogError::Value(format!(
            "{source} is not JSON ({err}); to store plain text such as a configuration use --text-file"
        ))
        .into()
    })
}
