//! `orch hostkey list|trust|forget`: the SSH host keys the host trusts when packs connect.
//!
//! Trusting is the operator's decision, so `trust` never records a key silently: the key is
//! given (`--key`, `--from-known-hosts`), or fetched and then checked against a fingerprint
//! obtained out of band (`--fingerprint`), confirmed on a terminal, or accepted with `--yes`.
//! User mistakes print `error: …` and exit 2 here rather than going through the error chain,
//! so their exit code does not depend on error types this module does not own.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::EXIT_USAGE;
use super::session::Session;
use super::untrusted;
use crate::capabilities::ssh::hostkeys::{self, PresentedKey};
use crate::capabilities::ssh::{resolve, transport};
use crate::capabilities::{BrokerSettings, HostKeyPolicy};
use crate::store::{HostKeyRow, Store};

/// How long `trust` waits for a server to show its key.
const FETCH_TIMEOUT: Duration = Duration::from_secs(15);

/// The `--host-key-policy` option of the commands that run packs.
#[derive(Debug, Clone, Args)]
pub struct PolicyArg {
    /// SSH host keys the store does not know: refuse (`strict`) or record (`accept-new`). A
    /// changed key is refused either way.
    #[arg(
        long,
        value_name = "POLICY",
        env = "ORCH_HOST_KEY_POLICY",
        default_value = "strict"
    )]
    pub host_key_policy: HostKeyPolicy,
}

impl PolicyArg {
    /// The broker settings this option asks for.
    pub fn broker_settings(&self) -> BrokerSettings {
        BrokerSettings {
            host_key_policy: self.host_key_policy,
        }
    }
}

/// `orch hostkey …`
#[derive(Debug, Subcommand)]
pub enum HostkeyCommand {
    /// List trusted host keys: host, port, algorithm, fingerprint, when and how recorded.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Trust a host's key. Without --key or --from-known-hosts, connects (without logging in),
    /// shows the key's fingerprint and records it if it equals --fingerprint, if confirmed on a
    /// terminal, or with --yes.
    Trust(TrustArgs),
    /// Forget the keys of HOST[:PORT] (port 22 by default).
    Forget {
        /// HOST[:PORT]
        destination: String,
    },
}

/// `orch hostkey trust`
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// HOST[:PORT] as packs name it (port 22 by default).
    pub destination: String,
    /// The fingerprint the key must have (SHA256:…), obtained out of band.
    #[arg(long, value_name = "SHA256:…")]
    pub fingerprint: Option<String>,
    /// The key itself as an OpenSSH public-key line ("ssh-ed25519 AAAA…"): recorded without
    /// connecting.
    #[arg(long, value_name = "KEY", conflicts_with = "from_known_hosts")]
    pub key: Option<String>,
    /// Record the keys an OpenSSH known_hosts file lists for the destination (hashed entries
    /// cannot be read).
    #[arg(long, value_name = "FILE")]
    pub from_known_hosts: Option<PathBuf>,
    /// Record the fetched key without asking (trust on first use by the operator).
    #[arg(long)]
    pub yes: bool,
}

fn refuse(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_USAGE)
}

pub async fn run(session: &Session, command: HostkeyCommand) -> anyhow::Result<ExitCode> {
    let (_, store) = session.home_and_store()?;
    match command {
        HostkeyCommand::List { json } => list(store, json),
        HostkeyCommand::Trust(args) => trust(store, args).await,
        HostkeyCommand::Forget { destination } => {
            let (host, port) = match hostkeys::parse_destination(&destination) {
                Ok(parsed) => parsed,
                Err(err) => return Ok(refuse(&err)),
            };
            let shown = hostkeys::destination(&host, port);
            let removed = store.forget_host_keys(&host, Some(port))?;
            if removed == 0 {
                return Ok(refuse(&format!(
                    "no host key is recorded for {shown}; see them with: orch hostkey list"
                )));
            }
            println!("forgot {removed} host key(s) of {shown}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn list(store: &Store, json: bool) -> anyhow::Result<ExitCode> {
    let rows = store.host_keys(None)?;
    let mut out = std::io::stdout().lock();
    if json {
        untrusted::write_json(&mut out, &rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        writeln!(
            out,
            "no trusted host keys; add one with: orch hostkey trust HOST[:PORT]"
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let width = rows
        .iter()
        .map(|r| hostkeys::destination(&r.host, r.port).len())
        .max()
        .unwrap_or(0)
        .max("HOST".len());
    writeln!(
        out,
        "{:width$}  {:20}  {:51}  {:25}  BY",
        "HOST", "ALGORITHM", "FINGERPRINT", "ADDED"
    )?;
    for row in rows {
        writeln!(
            out,
            "{:width$}  {:20}  {:51}  {:25}  {}",
            hostkeys::destination(&row.host, row.port),
            row.algorithm,
            row.fingerprint,
            row.added_at,
            row.added_by
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn trust(store: &Store, args: TrustArgs) -> anyhow::Result<ExitCode> {
    let (host, port) = match hostkeys::parse_destination(&args.destination) {
        Ok(parsed) => parsed,
        Err(err) => return Ok(refuse(&err)),
    };
    let shown = hostkeys::destination(&host, port);
    if let Some(expected) = &args.fingerprint
        && !expected.starts_with("SHA256:")
    {
        return Ok(refuse(&format!(
            "fingerprint {expected:?} is not a SHA256 fingerprint; expected SHA256:… as \
             printed by ssh-keygen -lf KEY.pub or orch hostkey trust"
        )));
    }
    let (keys, how) = if let Some(line) = &args.key {
        match PresentedKey::parse(line) {
            Ok(key) => (vec![key], "orch hostkey trust --key"),
            Err(err) => return Ok(refuse(&err)),
        }
    } else if let Some(file) = &args.from_known_hosts {
        let keys = match known_hosts_keys(file, &host, port) {
            Ok(keys) => keys,
            Err(err) => return Ok(refuse(&format!("{err:#}"))),
        };
        if keys.is_empty() {
            return Ok(refuse(&format!(
                "{} lists no key for {shown} (hashed entries cannot be matched)",
                file.display()
            )));
        }
        (keys, "orch hostkey trust --from-known-hosts")
    } else {
        let addresses = match resolve(&host, port).await {
            Ok(ips) => ips
                .into_iter()
                .map(|ip| std::net::SocketAddr::new(ip, port))
                .collect::<Vec<_>>(),
            Err(err) => return Ok(refuse(&err.message)),
        };
        let key = match transport::fetch_host_key(&addresses, &host, port, FETCH_TIMEOUT).await {
            Ok(key) => key,
            Err(err) => {
                return Ok(refuse(&format!(
                    "fetching the key of {shown}: {}",
                    err.message
                )));
            }
        };
        eprintln!(
            "{shown} presents the {} key {}",
            key.algorithm, key.fingerprint
        );
        let how = if args.fingerprint.is_some() {
            "orch hostkey trust --fingerprint"
        } else if args.yes {
            "orch hostkey trust --yes"
        } else if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
            if !confirm(&shown)? {
                return Ok(refuse("not trusted"));
            }
            "orch hostkey trust (confirmed)"
        } else {
            return Ok(refuse(&format!(
                "not recording the key of {shown} without a decision: compare {} with the \
                 server's own (ssh-keygen -lf /etc/ssh/ssh_host_{}_key.pub on it) and run orch \
                 hostkey trust {shown} --fingerprint {}, or pass --key \"…\", or --yes to trust \
                 whatever key is presented",
                key.fingerprint,
                key.algorithm.trim_start_matches("ssh-"),
                key.fingerprint
            )));
        };
        (vec![key], how)
    };
    if let Some(expected) = &args.fingerprint
        && !keys.iter().any(|key| &key.fingerprint == expected)
    {
        let got = keys
            .iter()
            .map(|key| key.fingerprint.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        return Ok(refuse(&format!(
            "the key of {shown} does not have the expected fingerprint: expected {expected}, \
             got {got}; nothing was recorded"
        )));
    }
    let known = store.host_keys(Some((&host, port)))?;
    let mut out = std::io::stdout().lock();
    for key in keys.iter().filter(|key| {
        args.fingerprint
            .as_ref()
            .is_none_or(|f| &key.fingerprint == f)
    }) {
        if store.add_host_key(&key.row(&host, port, how))? {
            writeln!(
                out,
                "trusted {} key {} for {shown}",
                key.algorithm, key.fingerprint
            )?;
        } else {
            writeln!(out, "{} is already trusted for {shown}", key.fingerprint)?;
        }
    }
    let others: Vec<&HostKeyRow> = known
        .iter()
        .filter(|row| !keys.iter().any(|key| key.fingerprint == row.fingerprint))
        .collect();
    if !others.is_empty() {
        eprintln!(
            "note: {shown} also has {} other trusted key(s) ({}); remove stale ones with: orch \
             hostkey forget {shown}",
            others.len(),
            others
                .iter()
                .map(|row| row.fingerprint.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn confirm(shown: &str) -> anyhow::Result<bool> {
    eprint!("trust this key for {shown}? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// The keys `file` (OpenSSH known_hosts) lists for `host`:`port`.
fn known_hosts_keys(file: &Path, host: &str, port: u16) -> anyhow::Result<Vec<PresentedKey>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading known_hosts file {}", file.display()))?;
    Ok(parse_known_hosts(&text, host, port))
}

/// The keys of `host`:`port` in known_hosts `text`: plain (not hashed) host lists, `host` for
/// port 22 and `[host]:port` otherwise; marker lines (`@revoked`, `@cert-authority`) skipped.
fn parse_known_hosts(text: &str, host: &str, port: u16) -> Vec<PresentedKey> {
    let wanted = |entry: &str| -> bool {
        let (name, entry_port) = match entry.strip_prefix('[') {
            Some(rest) => match rest.split_once("]:") {
                Some((name, p)) => (name, p.parse::<u16>().ok()),
                None => return false,
            },
            None => (entry, Some(22)),
        };
        entry_port == Some(port) && hostkeys::canonical_host(name).is_ok_and(|name| name == host)
    };
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with('@'))
        .filter_map(|line| {
            let (hosts, key) = line.split_once(char::is_whitespace)?;
            hosts
                .split(',')
                .any(wanted)
                .then(|| PresentedKey::parse(key.trim()).ok())
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDUAIL9n3lLDMV8XVv/RAPn+FV93QpjK7e6agch8K/3y";
    const KEY_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGRRVtaAuvqTxvrqgf9+GwyM+Y5b7uO/sk9CizwSRoGR";

    #[test]
    fn reads_the_keys_known_hosts_lists_for_a_destination() {
        let text = format!(
            "# comment\n\
             r1.lab,10.0.0.1 {KEY_A} ops@jump\n\
             [r1.lab]:2222 {KEY_B}\n\
             |1|hashed= {KEY_B}\n\
             @revoked r1.lab {KEY_B}\n\
             R2.LAB {KEY_B}\n"
        );
        let a = PresentedKey::parse(KEY_A).unwrap();
        let b = PresentedKey::parse(KEY_B).unwrap();
        assert_eq!(parse_known_hosts(&text, "r1.lab", 22), vec![a.clone()]);
        assert_eq!(parse_known_hosts(&text, "10.0.0.1", 22), vec![a]);
        assert_eq!(parse_known_hosts(&text, "r1.lab", 2222), vec![b.clone()]);
        assert_eq!(parse_known_hosts(&text, "r2.lab", 22), vec![b]);
        assert!(parse_known_hosts(&text, "r3.lab", 22).is_empty());
    }
}
