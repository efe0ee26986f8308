//! `orch events list|show`: the events `orch serve` received (webhooks, syslog, schedules,
//! finished runs) and what every rule decided about each.

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::session::Session;
use super::untrusted;
use crate::events::{self, Event};
use crate::store::EventsFilter;

/// `orch events …`
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// List events, newest first, with each rule's decision.
    List(ListArgs),
    /// Show one event: its payload and what every rule decided (fired run X, criteria false
    /// and which criterion, throttled, error).
    Show {
        /// Event id.
        id: String,
        /// JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Remove events (and their decisions) received longer ago than --older-than; events not
    /// yet decided, or whose firing has not started its run, stay. Run it from cron: the server
    /// keeps every event until then.
    Prune {
        /// Age, e.g. 30d, 12h.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        older_than: std::time::Duration,
    },
}

/// `orch events list`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only events of this trigger type (webhook, syslog, schedule, run).
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Only events this rule decided about.
    #[arg(long)]
    pub rule: Option<String>,
    /// Only events older than this id (the next page).
    #[arg(long, value_name = "ID")]
    pub before: Option<i64>,
    /// How many.
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    /// JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(session: &Session, command: EventsCommand) -> anyhow::Result<ExitCode> {
    let (_, store) = session.home_and_store()?;
    let mut out = std::io::stdout().lock();
    match command {
        EventsCommand::List(args) => {
            let filter = EventsFilter {
                kind: args.kind,
                rule: args.rule,
                before: args.before,
                limit: args.limit.clamp(1, 10_000),
            };
            let list = events::list(store, &filter)?;
            if args.json {
                untrusted::write_json(&mut out, &list)?;
            } else if list.is_empty() {
                writeln!(
                    out,
                    "no events; orch serve stores the events its triggers receive"
                )?;
            } else {
                for e in &list {
                    writeln!(out, "{}", summary(e))?;
                }
            }
        }
        EventsCommand::Show { id, json } => {
            let e = events::show(store, &id)?;
            if json {
                untrusted::write_json(&mut out, &e)?;
            } else {
                writeln!(
                    out,
                    "event {} ({} {}) at {}",
                    e.id,
                    e.kind,
                    untrusted::line(&e.name),
                    e.received_at
                )?;
                writeln!(out, "payload: {}", untrusted::json(&e.payload.to_string()))?;
                if !e.decided {
                    writeln!(
                        out,
                        "not decided yet (the server stopped first; it decides at its next start)"
                    )?;
                } else if e.decisions.is_empty() {
                    writeln!(out, "no rule listens to this event")?;
                }
                for d in &e.decisions {
                    let run = match (&d.run, &d.run_status) {
                        (Some(r), Some(s)) => format!(" [run {r}: {s}]"),
                        (Some(r), None) => format!(" [run {r}: not started yet]"),
                        _ => String::new(),
                    };
                    writeln!(
                        out,
                        "  {}: {} — {}{run}",
                        d.rule,
                        d.decision,
                        untrusted::line(&d.detail)
                    )?;
                }
            }
        }
        EventsCommand::Prune { older_than } => {
            let n = events::prune(store, older_than)?;
            writeln!(
                out,
                "removed {n} event{} older than {}",
                if n == 1 { "" } else { "s" },
                humantime::format_duration(older_than)
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn summary(e: &Event) -> String {
    let decisions = if e.decisions.is_empty() {
        if e.decided {
            "no rule".to_owned()
        } else {
            "undecided".to_owned()
        }
    } else {
        e.decisions
            .iter()
            .map(|d| match &d.run {
                Some(run) => format!("{}: {} {run}", d.rule, d.decision),
                None => format!("{}: {}", d.rule, d.decision),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let what = match e.kind.as_str() {
        "syslog" => e
            .payload
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or("")
            .to_owned(),
        "run" => format!(
            "run {} {}",
            e.payload.get("run").and_then(|m| m.as_str()).unwrap_or(""),
            e.payload
                .get("status")
                .and_then(|m| m.as_str())
                .unwrap_or("")
        ),
        "schedule" => e
            .payload
            .get("slot")
            .and_then(|m| m.as_str())
            .unwrap_or("")
            .to_owned(),
        _ => String::new(),
    };
    let what: String = what.chars().take(60).collect();
    format!(
        "{:>6}  {}  {:<8} {:<16} {:<60}  {}",
        e.id,
        e.received_at,
        e.kind,
        untrusted::line(&e.name),
        untrusted::line(&what),
        untrusted::line(&decisions)
    )
}
