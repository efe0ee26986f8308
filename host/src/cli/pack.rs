//! `orch pack new|check|keygen|sign|add|list|show|grant|revoke|remove`.

mod check;
mod new;
mod sign;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use super::session::Session;
use super::untrusted;
use crate::packs::{AddChange, InstalledPack, Replacement};
use crate::policy::grants::{Capability, Grant, WASI_HTTP_OUTGOING};
use crate::runtime::Limits;

/// `orch pack …`
#[derive(Debug, Subcommand)]
pub enum PackCommand {
    /// Install a pack from a .wasm component (or upgrade the installed one of the same name).
    ///
    /// The pack's imports and the destinations it asks for are shown; grant them with `--yes`,
    /// name grants yourself with `--grant`, or answer the prompt (on a terminal). Without any
    /// grant, the pack's http and ssh calls are denied until `orch pack grant`.
    Add {
        /// The component file.
        file: PathBuf,
        /// Grant every destination the pack asks for.
        #[arg(long)]
        yes: bool,
        /// Grant this destination (repeatable): http:[http://|https://]HOST[:PORT],
        /// ssh:HOST[:PORT] or ssh:inventory. HOST may be a name, *.domain, an IP or a CIDR.
        #[arg(long = "grant", value_name = "GRANT")]
        grants: Vec<String>,
        /// Confirm replacing an installed pack of the same name by one from another vendor
        /// (which inherits none of its grants and credentials), by an older version, or by one
        /// asking for more destinations. `--yes` does not confirm these.
        #[arg(long)]
        replace: bool,
        /// Refuse the file unless it carries a signature (`FILE.sig`) by a key this home
        /// trusts (`orch trust`); `orch trust require on` makes this the home's default.
        #[arg(long)]
        require_signed: bool,
        /// Print the installed pack as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make an ed25519 key for signing packs (a vendor does this once); prints its public key.
    Keygen {
        /// Where to write the private key (created readable by its owner only; never
        /// overwritten).
        file: PathBuf,
    },
    /// Sign a pack file: writes FILE.sig, a detached signature over the file's digest and the
    /// name and version it describes itself with.
    Sign {
        /// The component file.
        file: PathBuf,
        /// The private key (from `orch pack keygen`).
        #[arg(long)]
        key: PathBuf,
    },
    /// Create a new pack (a Rust crate or a Python module), ready to test, build, check and add.
    ///
    /// The pack has three example actions (one computing, one calling an HTTP API with a
    /// credential, one running a command over SSH), their native tests with scripted replies,
    /// and the release profile that gives small components.
    New {
        /// The pack's name: lowercase letters, digits, `_` or `-`, starting with a letter.
        name: String,
        /// The language of the pack.
        #[arg(long, value_enum, default_value = "rust")]
        lang: new::Language,
        /// Where to create it (default: ./NAME); must be absent or empty.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The orch SDK to build on: for Rust the sdk/ directory of an orch checkout or a git
        /// URL of the orch repository, for Python its sdk/python directory (default: the SDK
        /// this orch was built from).
        #[arg(long, value_name = "PATH|URL")]
        sdk: Option<String>,
    },
    /// Check a pack file before shipping it, without installing it (no orch home needed).
    ///
    /// Takes the steps `pack add` takes (compile, contract and imports, describe, names,
    /// versions, schemas, destinations), then runs each action's declared examples (the
    /// `examples` of its input schema) in a sandbox with no grants and holds their output to the
    /// action's output schema. Exits 1 when anything would make `pack add` refuse the pack or an
    /// action break its own contract.
    Check {
        /// The component file.
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Let a pack reach more destinations.
    Grant {
        /// Pack name.
        name: String,
        /// Grants: http:[http://|https://]HOST[:PORT], ssh:HOST[:PORT] or ssh:inventory.
        #[arg(required = true, value_name = "GRANT")]
        grants: Vec<String>,
    },
    /// Take grants back from a pack.
    Revoke {
        /// Pack name.
        name: String,
        /// Grants to take back, as `orch pack show` lists them.
        #[arg(value_name = "GRANT", required_unless_present = "all")]
        grants: Vec<String>,
        /// Take back every grant.
        #[arg(long, conflicts_with = "grants")]
        all: bool,
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
    // Creating and checking a pack need no home: a vendor runs them on a build machine.
    match &command {
        PackCommand::Check { file, json } => return check::run(session, file, *json).await,
        PackCommand::Keygen { file } => return sign::keygen(file),
        PackCommand::Sign { file, key } => return sign::sign(session, file, key).await,
        PackCommand::New {
            name,
            lang,
            dir,
            sdk,
        } => return new::run(name, *lang, dir.as_deref(), sdk.as_deref()),
        _ => {}
    }
    let packs = session.packs(Limits::DEFAULT.memory_bytes)?;
    let mut out = std::io::stdout().lock();
    match command {
        PackCommand::Add {
            file,
            yes,
            grants,
            replace,
            require_signed,
            json,
        } => {
            let explicit = parse_grants(&grants)?;
            let spinner = ProgressBar::new_spinner();
            spinner.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            spinner.enable_steady_tick(Duration::from_millis(100));
            let shown = file.display().to_string();
            let interactive = !json && stdin_is_terminal();
            let confirm_replace = |replacement: &Replacement| {
                if replace {
                    return true;
                }
                if !interactive {
                    return false;
                }
                spinner.suspend(|| confirm_replacement(replacement).unwrap_or(false))
            };
            let report = packs
                .add_with(&file, require_signed, &confirm_replace, &|step| {
                    spinner.set_message(format!("{step} {shown}"))
                })
                .await;
            spinner.finish_and_clear();
            let report = report?;
            let pack = &report.pack;
            let m = &pack.manifest;
            let name = m.name.clone();
            let mut to_grant = explicit;
            if yes {
                to_grant.extend(m.destinations.iter().filter_map(|d| d.as_grant()));
            }
            let held = packs.grants(&name)?;
            let asked: Vec<Grant> = m
                .destinations
                .iter()
                .filter_map(|d| d.as_grant())
                .filter(|g| !held.contains(&g.to_string()))
                .collect();
            if !yes && to_grant.is_empty() && !json && !asked.is_empty() && stdin_is_terminal() {
                describe(&mut out, pack, &signature_text(&packs, pack)?, false)?;
                out.flush()?;
                if confirm(&name, &asked)? {
                    to_grant.extend(asked.iter().cloned());
                }
            }
            let granted = packs.grant(&name, &to_grant)?;
            let held = packs.grants(&name)?;
            if json {
                let mut body = serde_json::to_value(&report)?;
                body["grants"] = serde_json::json!(held);
                untrusted::write_json(&mut out, &body)?;
                return Ok(ExitCode::SUCCESS);
            }
            match &report.change {
                AddChange::Unchanged => {
                    writeln!(
                        out,
                        "pack {} {} is already installed with this content (sha256 {}); nothing to do",
                        m.name,
                        m.version,
                        short(&pack.digest)
                    )?;
                    print_granted(&mut out, &granted)?;
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
            describe(&mut out, pack, &signature_text(&packs, pack)?, false)?;
            if !report.dropped_grants.is_empty() {
                writeln!(
                    out,
                    "  the replaced pack's grants were not carried over: {}",
                    report.dropped_grants.join(", ")
                )?;
            }
            print_suspended(&mut out, &name, &report.suspended_credentials)?;
            print_granted(&mut out, &granted)?;
            print_grants(&mut out, &held)?;
            warn_ungranted(pack, &held);
        }
        PackCommand::Grant { name, grants } => {
            let grants = parse_grants(&grants)?;
            let added = packs.grant(&name, &grants)?;
            for grant in &grants {
                let text = grant.to_string();
                if added.contains(&text) {
                    writeln!(out, "granted {text} to pack {name}")?;
                } else {
                    writeln!(out, "pack {name} already holds {text}")?;
                }
            }
        }
        PackCommand::Revoke { name, grants, all } => {
            let grants = if all {
                None
            } else {
                Some(parse_grants(&grants)?)
            };
            let removed = packs.revoke(&name, grants.as_deref())?;
            if removed.is_empty() {
                writeln!(out, "pack {name} held no grants")?;
            }
            for text in removed {
                writeln!(out, "revoked {text} from pack {name}")?;
            }
        }
        PackCommand::List { json } => {
            let list = packs.list()?;
            if json {
                untrusted::write_json(&mut out, &list)?;
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
                        untrusted::line(&ellipsize(first_line(&m.description), 60))
                    )?;
                }
            }
        }
        PackCommand::Show { name, json } => {
            let pack = packs.get(&name)?;
            let held = packs.grants(&name)?;
            if json {
                let mut body = serde_json::to_value(&pack)?;
                body["grants"] = serde_json::json!(held);
                untrusted::write_json(&mut out, &body)?;
            } else {
                writeln!(out, "pack {} {}", pack.manifest.name, pack.manifest.version)?;
                describe(&mut out, &pack, &signature_text(&packs, &pack)?, true)?;
                print_grants(&mut out, &held)?;
                warn_ungranted(&pack, &held);
            }
        }
        PackCommand::Remove { name } => {
            let (pack, suspended) = packs.remove(&name)?;
            writeln!(
                out,
                "removed pack {} {}",
                pack.manifest.name, pack.manifest.version
            )?;
            print_suspended(&mut out, &name, &suspended)?;
        }
        PackCommand::Check { .. }
        | PackCommand::New { .. }
        | PackCommand::Keygen { .. }
        | PackCommand::Sign { .. } => {
            unreachable!("handled above, before the home is opened")
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Who signed the installed file, as `describe` shows it.
fn signature_text(packs: &crate::packs::Packs<'_>, pack: &InstalledPack) -> anyhow::Result<String> {
    let Some(key) = &pack.signer else {
        return Ok("unsigned".to_owned());
    };
    let fingerprint = crate::packs::signing::fingerprint(key);
    Ok(match packs.trusted_name(key)? {
        Some(name) => format!("signed by {name} ({fingerprint})"),
        None => format!(
            "signed by an untrusted key ({fingerprint}); trust it with: orch trust add NAME {key}"
        ),
    })
}

fn describe(
    out: &mut impl std::io::Write,
    pack: &InstalledPack,
    signature: &str,
    detailed: bool,
) -> anyhow::Result<()> {
    let m = &pack.manifest;
    writeln!(out, "  vendor:       {}", untrusted::line(&m.vendor))?;
    writeln!(out, "  signature:    {signature}")?;
    writeln!(
        out,
        "  description:  {}",
        untrusted::block(&m.description, "                ")
    )?;
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
            untrusted::line(first_line(&action.description))
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
    // WASI interfaces are summed up in one line, except the one that reaches the network.
    let (wasi, orch): (Vec<&String>, Vec<&String>) = pack
        .imports
        .iter()
        .partition(|i| i.starts_with("wasi:") && Capability::of_import(i).is_none());
    for import in orch {
        if import.starts_with(WASI_HTTP_OUTGOING) {
            writeln!(
                out,
                "    {import} (brokered like orch:pack/http, under its http grants)"
            )?;
        } else {
            writeln!(out, "    {import}")?;
        }
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
            writeln!(
                out,
                "    {} {}  ({})",
                untrusted::line(&d.kind),
                untrusted::line(&d.pattern),
                untrusted::line(&d.reason)
            )?;
        }
    }
    Ok(())
}

fn parse_grants(texts: &[String]) -> anyhow::Result<Vec<Grant>> {
    Ok(texts
        .iter()
        .map(|text| text.parse::<Grant>())
        .collect::<Result<Vec<_>, _>>()?)
}

fn stdin_is_terminal() -> bool {
    use std::io::IsTerminal as _;
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks on the terminal whether to grant `asked` to `pack`.
fn confirm(pack: &str, asked: &[Grant]) -> anyhow::Result<bool> {
    let mut err = std::io::stderr().lock();
    writeln!(err, "grant pack {pack} what it asks for?")?;
    for grant in asked {
        writeln!(err, "  {grant}")?;
    }
    write!(err, "[y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// Says which credentials limited to `pack` were suspended, and how to scope them again.
fn print_suspended(
    out: &mut impl std::io::Write,
    pack: &str,
    credentials: &[String],
) -> anyhow::Result<()> {
    if credentials.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "  credentials limited to pack {pack} are suspended for that name (a pack added under \
         it later inherits nothing): {}",
        credentials.join(", ")
    )?;
    writeln!(
        out,
        "  to let the pack now called {pack} use one: orch secret scope NAME --pack {pack}"
    )?;
    Ok(())
}

/// Shows `replacement` on the terminal and asks whether to go on.
fn confirm_replacement(replacement: &Replacement) -> anyhow::Result<bool> {
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "pack {} {} is installed; the file would replace it with {}, and:",
        replacement.name, replacement.installed_version, replacement.new_version
    )?;
    for reason in &replacement.reasons {
        writeln!(err, "  - {}", untrusted::line(&reason.to_string()))?;
    }
    write!(err, "replace it? [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

fn print_granted(out: &mut impl std::io::Write, granted: &[String]) -> anyhow::Result<()> {
    for grant in granted {
        writeln!(out, "granted {grant}")?;
    }
    Ok(())
}

fn print_grants(out: &mut impl std::io::Write, held: &[String]) -> anyhow::Result<()> {
    if held.is_empty() {
        writeln!(out, "  grants: none")?;
    } else {
        writeln!(out, "  grants:")?;
        for grant in held {
            writeln!(out, "    {grant}")?;
        }
    }
    Ok(())
}

/// Says, in one line, which capabilities the pack asks to use (destinations of that kind) but
/// holds no grant for: those calls will be denied. Imports alone are not mentioned: packs built
/// with componentize-py or componentize-js import every interface of the world, used or not.
fn warn_ungranted(pack: &InstalledPack, held: &[String]) {
    let name = &pack.manifest.name;
    let missing: Vec<&str> = ["http", "ssh", "catalog"]
        .into_iter()
        .filter(|capability| {
            let asked = pack
                .manifest
                .destinations
                .iter()
                .any(|d| d.kind == *capability);
            let imported = pack
                .imports
                .iter()
                .any(|i| Capability::of_import(i).is_some_and(|c| c.as_str() == *capability));
            let granted = held
                .iter()
                .any(|g| g.starts_with(&format!("{capability}:")));
            asked && imported && !granted
        })
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "note: pack {name} asks to use {} but holds no grant for it yet; until then those \
             calls are denied (grant what it asks for with: orch pack add FILE --yes, or name \
             grants with: orch pack grant {name} GRANT)",
            missing.join(" and ")
        );
    }
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
            format!(
                "{}{optional}: {}",
                untrusted::line(name),
                untrusted::line(&ty)
            )
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
