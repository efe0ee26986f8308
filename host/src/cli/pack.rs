//! `orch pack add|list|show|remove`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use super::session::Session;
use crate::packs::{AddChange, InstalledPack};
use crate::runtime::Limits;

/// `orch pack …`
#[derive(Debug, Subcommand)]
pub enum PackCommand {
    /// Install a pack from a .wasm component (or upgrade the installed one of the same name).
    Add {
        /// The component file.
        file: PathBuf,
        /// Print the installed pack as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List installed packs.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one pack: actions with their input and output, imports, digest.
    Show {
        /// Pack name.
        name: String,
        /// Print as JSON (schemas included).
        #[arg(long)]
        json: bool,
    },
    /// Uninstall a pack and delete its stored file and compiled code.
    Remove {
        /// Pack name.
        name: String,
    },
}

pub async fn run(session: &Session, command: PackCommand) -> anyhow::Result<ExitCode> {
    let packs = session.packs(Limits::DEFAULT.memory_bytes)?;
    let mut out = std::io::stdout().lock();
    match command {
        PackCommand::Add { file, json } => {
            let spinner = ProgressBar::new_spinner();
            spinner.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            spinner.enable_steady_tick(Duration::from_millis(100));
            let shown = file.display().to_string();
            let report = packs
                .add(&file, &|step| {
                    spinner.set_message(format!("{step} {shown}"))
                })
                .await;
            spinner.finish_and_clear();
            let report = report?;
            if json {
                serde_json::to_writer_pretty(&mut out, &report)?;
                writeln!(out)?;
                return Ok(ExitCode::SUCCESS);
            }
            let pack = &report.pack;
            let m = &pack.manifest;
            match &report.change {
                AddChange::Unchanged => {
                    writeln!(
                        out,
                        "pack {} {} is already installed with this content (sha256 {}); nothing to do",
                        m.name,
                        m.version,
                        short(&pack.digest)
                    )?;
                    return Ok(ExitCode::SUCCESS);
                }
                AddChange::Installed => writeln!(out, "installed pack {} {}", m.name, m.version)?,
                AddChange::Upgraded { from } => {
                    writeln!(out, "upgraded pack {} from {from} to {}", m.name, m.version)?
                }
                AddChange::Downgraded { from } => writeln!(
                    out,
                    "downgraded pack {} from {from} to {} (the file you added is older)",
                    m.name, m.version
                )?,
                AddChange::Replaced { previous_digest } => writeln!(
                    out,
                    "replaced pack {} {}: same version, new content (sha256 {} -> {})",
                    m.name,
                    m.version,
                    short(previous_digest),
                    short(&pack.digest)
                )?,
            }
            describe(&mut out, pack, false)?;
        }
        PackCommand::List { json } => {
            let list = packs.list()?;
            if json {
                serde_json::to_writer_pretty(&mut out, &list)?;
                writeln!(out)?;
            } else if list.is_empty() {
                writeln!(
                    out,
                    "no packs installed; add one with: orch pack add FILE.wasm"
                )?;
            } else {
                let width = list
                    .iter()
                    .map(|p| p.manifest.name.len())
                    .max()
                    .unwrap_or(4)
                    .max(4);
                writeln!(
                    out,
                    "{:width$}  {:10}  {:7}  DESCRIPTION",
                    "NAME", "VERSION", "ACTIONS"
                )?;
                for pack in &list {
                    let m = &pack.manifest;
                    writeln!(
                        out,
                        "{:width$}  {:10}  {:7}  {}",
                        m.name,
                        m.version,
                        m.actions.len(),
                        ellipsize(first_line(&m.description), 60)
                    )?;
                }
            }
        }
        PackCommand::Show { name, json } => {
            let pack = packs.get(&name)?;
            if json {
                serde_json::to_writer_pretty(&mut out, &pack)?;
                writeln!(out)?;
            } else {
                writeln!(out, "pack {} {}", pack.manifest.name, pack.manifest.version)?;
                describe(&mut out, &pack, true)?;
            }
        }
        PackCommand::Remove { name } => {
            let pack = packs.remove(&name)?;
            writeln!(
                out,
                "removed pack {} {}",
                pack.manifest.name, pack.manifest.version
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(
    out: &mut impl std::io::Write,
    pack: &InstalledPack,
    detailed: bool,
) -> anyhow::Result<()> {
    let m = &pack.manifest;
    writeln!(out, "  vendor:       {}", m.vendor)?;
    writeln!(out, "  description:  {}", m.description)?;
    writeln!(out, "  sha256:       {}", pack.digest)?;
    writeln!(out, "  size:         {} KiB", pack.size.div_ceil(1024))?;
    if detailed {
        writeln!(out, "  source:       {}", pack.source)?;
        writeln!(out, "  installed:    {}", pack.installed_at)?;
        writeln!(out, "  updated:      {}", pack.updated_at)?;
    }
    writeln!(out, "  actions:")?;
    let width = m.actions.iter().map(|a| a.name.len()).max().unwrap_or(0);
    for action in &m.actions {
        let flag = if action.idempotent {
            ""
        } else {
            "  [not idempotent]"
        };
        writeln!(
            out,
            "    {:width$}  {}{flag}",
            action.name,
            first_line(&action.description)
        )?;
        if detailed {
            writeln!(
                out,
                "    {:width$}    input:  {}",
                "",
                fields(&action.input_schema)
            )?;
            writeln!(
                out,
                "    {:width$}    output: {}",
                "",
                fields(&action.output_schema)
            )?;
        }
    }
    writeln!(out, "  imports (all the pack could ever touch):")?;
    let (wasi, orch): (Vec<&String>, Vec<&String>) =
        pack.imports.iter().partition(|i| i.starts_with("wasi:"));
    for import in orch {
        writeln!(out, "    {import}")?;
    }
    if !wasi.is_empty() {
        let names: Vec<&str> = wasi
            .iter()
            .map(|i| i.trim_start_matches("wasi:").split('@').next().unwrap_or(i))
            .collect();
        writeln!(
            out,
            "    wasi: {} (given: clocks, random, captured stdout/stderr; no files, env, sockets)",
            names.join(", ")
        )?;
    }
    if m.destinations.is_empty() {
        writeln!(out, "  destinations asked for: none")?;
    } else {
        writeln!(out, "  destinations asked for:")?;
        for d in &m.destinations {
            writeln!(out, "    {} {}  ({})", d.kind, d.pattern, d.reason)?;
        }
    }
    Ok(())
}

/// A one-line summary of an object schema: `name: string, port?: integer`.
fn fields(schema: &Value) -> String {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return schema
            .get("type")
            .map_or_else(|| "any JSON".to_owned(), |t| t.to_string().replace('"', ""));
    };
    if properties.is_empty() {
        return "{}".to_owned();
    }
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    properties
        .iter()
        .map(|(name, prop)| {
            let optional = if required.contains(&name.as_str()) {
                ""
            } else {
                "?"
            };
            let ty = prop
                .get("type")
                .map_or_else(|| "any".to_owned(), |t| t.to_string().replace('"', ""));
            format!("{name}{optional}: {ty}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

fn ellipsize(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max_chars - 1).collect();
    format!("{}…", cut.trim_end())
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(12)]
}
