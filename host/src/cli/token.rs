//! `orch token create|list|revoke`: tokens of the service's HTTP API. A token is printed once,
//! when created; the store keeps only its hash.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;

use super::session::Session;
use super::untrusted;
use crate::auth::{self, Role};
use crate::store::now_ms;

/// `orch token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (once: only its hash is stored).
    Create {
        /// Who or what the token is for (letters, digits, '-', '_', '.').
        name: String,
        /// viewer (reads), operator (also starts, answers, cancels runs) or admin (also
        /// manages packs, grants, rules and tokens).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Lifetime, e.g. 30d, 12h (default: no expiry).
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        expires: Option<Duration>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List tokens: names, roles, expiry, last use; never the tokens.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: requests bearing it are refused from now on.
    Revoke {
        /// Token name.
        name: String,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse().map_err(|err: auth::AuthError| err.to_string())
}

pub async fn run(session: &Session, command: TokenCommand) -> anyhow::Result<ExitCode> {
    let (_, store) = session.home_and_store()?;
    let mut out = std::io::stdout().lock();
    match command {
        TokenCommand::Create {
            name,
            role,
            expires,
            json,
        } => {
            let expires_at = expires
                .map(|d| now_ms().saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
            let token = auth::create(store, &name, role, expires_at)?;
            if json {
                untrusted::write_json(
                    &mut out,
                    &serde_json::json!({
                        "name": name, "role": role, "expires_at": expires_at, "token": token.as_str()
                    }),
                )?;
            } else {
                writeln!(out, "{}", token.as_str())?;
                eprintln!(
                    "created token {name} ({role}{}); it is shown only now: store it where its \
                     user reads it (only its hash is kept)",
                    expires.map_or_else(String::new, |d| format!(
                        ", expires in {}",
                        humantime::format_duration(d)
                    ))
                );
            }
        }
        TokenCommand::List { json } => {
            let rows = store.api_tokens()?;
            if json {
                untrusted::write_json(&mut out, &rows)?;
            } else if rows.is_empty() {
                writeln!(
                    out,
                    "no tokens; create one with: orch token create NAME --role viewer"
                )?;
            } else {
                writeln!(
                    out,
                    "{:<24} {:<9} {:<24} LAST USED",
                    "NAME", "ROLE", "EXPIRES"
                )?;
                for row in rows {
                    let time = |ms: Option<i64>, none: &str| {
                        ms.map_or_else(|| none.to_owned(), super::runs::time)
                    };
                    writeln!(
                        out,
                        "{:<24} {:<9} {:<24} {}",
                        row.name,
                        row.role,
                        time(row.expires_at, "never"),
                        time(row.last_used_at, "never")
                    )?;
                }
            }
        }
        TokenCommand::Revoke { name } => {
            if !store.revoke_api_token(&name)? {
                return Err(crate::engine::EngineError::BadInput(format!(
                    "no token named {name:?}; see them with: orch token list"
                ))
                .into());
            }
            writeln!(out, "revoked token {name}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
