//! `orch store migrate --to postgres://…`: moves a home's SQLite store into PostgreSQL, so that
//! several orch processes can share it.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;

use super::session::Session;
use crate::home::Home;
use crate::store::Store;

/// `orch store …`
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy the home's SQLite store into an empty PostgreSQL database, then check every table
    /// holds the same rows on both sides (counts and digests). The SQLite file is left as it
    /// was; point orch at the copy with ORCH_DATABASE_URL.
    Migrate {
        /// The PostgreSQL database: postgres://USER:PASSWORD@HOST:PORT/DATABASE. It must be
        /// empty (a new database, or one only `orch` migrated and never wrote to).
        #[arg(long, value_name = "URL")]
        to: String,
        /// Print what was copied as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(session: &Session, command: StoreCommand) -> anyhow::Result<ExitCode> {
    match command {
        StoreCommand::Migrate { to, json } => migrate(session, &to, json),
    }
}

fn migrate(session: &Session, to: &str, json: bool) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        session.database_url().is_none(),
        "orch store migrate copies the home's SQLite store, but ORCH_DATABASE_URL (or \
         --database-url) points this command at PostgreSQL: unset it and give the target with --to"
    );
    let root = session.root()?;
    let home =
        Home::open(&root).with_context(|| format!("opening ORCH_HOME {}", root.display()))?;
    anyhow::ensure!(
        home.database().exists(),
        "{} holds no store to migrate (no {}): set ORCH_HOME to the home to move",
        root.display(),
        home.database().display()
    );
    let source = Store::open(&home.database())?;
    let target = Store::connect(to)?;
    let copies = source.copy_into(&target)?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &copies)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let width = copies.iter().map(|c| c.table.len()).max().unwrap_or(5);
    writeln!(out, "{:width$}  {:>9}  SHA-256", "TABLE", "ROWS")?;
    for copy in &copies {
        writeln!(
            out,
            "{:width$}  {:>9}  {}",
            copy.table,
            copy.rows,
            &copy.digest[..16]
        )?;
    }
    let rows: u64 = copies.iter().map(|c| c.rows).sum();
    writeln!(
        out,
        "copied {rows} rows of {} tables into {}, verified; use it with \
         ORCH_DATABASE_URL=<the URL> (the home keeps the master key and the pack files)",
        copies.len(),
        target.describe()
    )?;
    Ok(ExitCode::SUCCESS)
}
