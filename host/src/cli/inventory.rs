//! `orch inventory import|list|show|remove`: the devices of the data catalog.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::session::Session;
use super::untrusted;
use crate::catalog::{self, CatalogError};
use crate::store::{DeviceRow, ImportChange};

/// `orch inventory …`
#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Add or update devices from a YAML or CSV file; reports added, changed and unchanged.
    ///
    /// YAML: `devices:` then a list of {name, address, port (22), platform, credential, tags
    /// (a mapping or a list of key=value), vars (a mapping)}. CSV (by the .csv extension):
    /// columns name, address, port, platform, credential, tags (`k=v;k=v`), vars (JSON).
    Import {
        /// The inventory file.
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List devices, optionally only those with every given tag.
    List {
        /// Only devices with this tag (repeatable): key=value.
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one device.
    Show {
        /// Device name.
        name: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a device.
    Remove {
        /// Device name.
        name: String,
    },
}

pub async fn run(session: &Session, command: InventoryCommand) -> anyhow::Result<ExitCode> {
    let (_, store) = session.home_and_store()?;
    let mut out = std::io::stdout().lock();
    match command {
        InventoryCommand::Import { file, json } => {
            let devices = catalog::parse_inventory(&file)?;
            let report = catalog::import(store, &devices)?;
            if json {
                let body: Vec<_> = report
                    .iter()
                    .map(|(name, change)| serde_json::json!({"name": name, "change": change}))
                    .collect();
                untrusted::write_json(&mut out, &body)?;
            } else {
                let count = |c: ImportChange| report.iter().filter(|(_, x)| *x == c).count();
                for (name, change) in &report {
                    match change {
                        ImportChange::Added => writeln!(out, "added     {name}")?,
                        ImportChange::Changed => writeln!(out, "changed   {name}")?,
                        ImportChange::Unchanged => {}
                    }
                }
                writeln!(
                    out,
                    "{} devices: {} added, {} changed, {} unchanged",
                    report.len(),
                    count(ImportChange::Added),
                    count(ImportChange::Changed),
                    count(ImportChange::Unchanged)
                )?;
            }
        }
        InventoryCommand::List { tags, json } => {
            let filters = catalog::parse_tag_filters(&tags)?;
            let devices = catalog::devices_matching(store, &filters)?;
            if json {
                untrusted::write_json(&mut out, &devices)?;
            } else if devices.is_empty() {
                writeln!(
                    out,
                    "no devices{}; import some with: orch inventory import FILE",
                    if tags.is_empty() { "" } else { " match" }
                )?;
            } else {
                print_table(&mut out, &devices)?;
            }
        }
        InventoryCommand::Show { name, json } => {
            let device = store
                .device(&name)?
                .ok_or_else(|| CatalogError::NoDevice(name.clone()))?;
            if json {
                untrusted::write_json(&mut out, &device)?;
            } else {
                writeln!(out, "device {}", device.name)?;
                writeln!(out, "  address:     {}:{}", device.address, device.port)?;
                writeln!(out, "  platform:    {}", device.platform)?;
                writeln!(
                    out,
                    "  credential:  {}",
                    device.credential.as_deref().unwrap_or("none")
                )?;
                writeln!(out, "  tags:        {}", tags_text(&device))?;
                writeln!(out, "  vars:        {}", device.vars)?;
            }
        }
        InventoryCommand::Remove { name } => {
            if !store.remove_device(&name)? {
                return Err(CatalogError::NoDevice(name).into());
            }
            writeln!(out, "removed device {name}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn tags_text(device: &DeviceRow) -> String {
    device
        .tags
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn print_table(out: &mut impl std::io::Write, devices: &[DeviceRow]) -> anyhow::Result<()> {
    let name_w = devices
        .iter()
        .map(|d| d.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let addr_w = devices
        .iter()
        .map(|d| d.address.len() + 6)
        .max()
        .unwrap_or(7)
        .max(7);
    writeln!(
        out,
        "{:name_w$}  {:addr_w$}  {:12}  {:12}  TAGS",
        "NAME", "ADDRESS", "PLATFORM", "CREDENTIAL"
    )?;
    for d in devices {
        writeln!(
            out,
            "{:name_w$}  {:addr_w$}  {:12}  {:12}  {}",
            d.name,
            format!("{}:{}", d.address, d.port),
            d.platform,
            d.credential.as_deref().unwrap_or("-"),
            tags_text(d)
        )?;
    }
    Ok(())
}
