//! `orch worker`: take runs from the shared store and drive them (see `worker.rs`);
//! `orch workers list`: the workers sharing the store.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use tokio::sync::watch;

use super::run::{DriveArgs, wait_for_signal};
use super::session::Session;
use super::untrusted;
use crate::engine::Settings;
use crate::runtime::Limits;
use crate::store::{QUEUED_CHANNEL, now_ms};
use crate::worker::{POLL, Worker, WorkerConfig};

/// `orch worker` arguments.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// This worker's tags, KEY=VALUE separated by commas (e.g. site=lon,zone=dmz).
    #[arg(long, value_name = "KEY=VALUE,...", value_parser = parse_tags, default_value = "")]
    pub tags: BTreeMap<String, String>,
    /// Runs driven at once at most (each run's fan-out shares the process's
    /// --max-instances).
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,
    /// Seconds between looks for work when nothing wakes the worker (PostgreSQL wakes it when
    /// runs are queued).
    #[arg(long, value_name = "SECONDS", default_value_t = POLL.as_secs_f64())]
    pub poll: f64,
    #[command(flatten)]
    pub drive: DriveArgs,
}

/// `orch workers …`
#[derive(Debug, Subcommand)]
pub enum WorkersCommand {
    /// The workers sharing this store: id, host, tags, last heartbeat, runs held.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn parse_tags(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut tags = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!(
                "{pair:?} is not KEY=VALUE (e.g. --tags site=lon,zone=dmz)"
            ));
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(format!(
                "{key:?} cannot name a tag: use letters, digits, '-', '_' or '.'"
            ));
        }
        tags.insert(key.to_owned(), value.to_owned());
    }
    Ok(tags)
}

pub async fn run(session: &Session, args: WorkerArgs) -> anyhow::Result<ExitCode> {
    if session.database_url().is_none() {
        eprintln!(
            "note: no ORCH_DATABASE_URL: this worker shares the home's SQLite store with processes \
             on this machine only"
        );
    }
    let limits = Limits::DEFAULT;
    let runtime = session.runtime(limits.memory_bytes)?.clone();
    let broker = session
        .broker(args.drive.host_keys.broker_settings())?
        .clone();
    let root = session.root()?;
    // The worker's own store connection: its tasks outlive any borrow of the session's.
    let home = crate::home::Home::open(&root)?
        .with_database_url(session.database_url().map(str::to_owned));
    let store = home.open_store()?;
    let wake = store.listen(QUEUED_CHANNEL)?;
    let (stop_runs_tx, stop_runs) = watch::channel(false);
    let (stop_tx, stop) = watch::channel(false);
    let config = WorkerConfig {
        tags: args.tags,
        concurrency: usize::try_from(args.concurrency).unwrap_or(usize::MAX),
        poll: Duration::from_secs_f64(args.poll.max(0.01)),
        engine: Settings {
            limits,
            grace: Duration::from_secs_f64(args.drive.grace.max(0.0)),
            workflows_dir: args.drive.workflows.clone(),
            hand_out_children: true,
            ..Settings::default()
        },
    };
    let worker = Arc::new(Worker::new(home, store, runtime, broker, config, stop_runs));
    eprintln!(
        "worker {} taking runs from {} (Ctrl-C or SIGTERM to drain and stop)",
        worker.id(),
        session
            .database_url()
            .map_or("the home's SQLite store", |_| "PostgreSQL")
    );
    let signals = tokio::spawn(async move {
        wait_for_signal().await;
        let _ = stop_tx.send(true);
        let _ = stop_runs_tx.send(true);
    });
    let stopped = Arc::clone(&worker).work(stop, wake).await;
    signals.abort();
    let stopped = stopped?;
    eprintln!(
        "stopped: {} run{} driven, {} handed back to other workers",
        stopped.driven,
        if stopped.driven == 1 { "" } else { "s" },
        stopped.handed_back
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn list(session: &Session, command: WorkersCommand) -> anyhow::Result<ExitCode> {
    let WorkersCommand::List { json } = command;
    let (_, store) = session.home_and_store()?;
    let now = now_ms();
    let workers = store.workers(now)?;
    let mut out = std::io::stdout().lock();
    if json {
        untrusted::write_json(&mut out, &serde_json::to_value(&workers)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if workers.is_empty() {
        writeln!(out, "no workers (start one with: orch worker)")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<40} {:<8} {:<24} {:>10} {:>5}  STATE",
        "ID", "PID", "TAGS", "HEARTBEAT", "RUNS"
    )?;
    for w in &workers {
        let tags = w
            .tags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let age = (now - w.heartbeat_at).max(0) / 1000;
        let state = if w.draining {
            "draining"
        } else if w.takes_work(now) {
            "working"
        } else {
            "silent (gone?)"
        };
        writeln!(
            out,
            "{:<40} {:<8} {:<24} {:>9}s {:>5}  {state}",
            untrusted::line(&w.id),
            w.pid,
            untrusted::line(&tags),
            age,
            w.runs_held
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
