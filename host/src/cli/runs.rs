//! `orch runs list|show|logs|resume|cancel|respond`: run history and control of runs that
//! are paused, waiting for an answer, or need a person.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::run::{DriveArgs, Printer, finish, finish_with, parse_json, with_engine};
use super::session::Session;
use super::untrusted;
use crate::engine::{self, Canceled, Revision, RunReport, RunState, Settings, lease};
use crate::store::{NO_ITEM, RunRow, Store};

/// `orch runs …`
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs, newest first.
    List(ListArgs),
    /// Show one run: every task execution with its attempts, timings, input and result.
    Show(ShowArgs),
    /// Print the log lines packs wrote during a run (and its sub-workflow runs).
    Logs(LogsArgs),
    /// Continue a paused, crashed or interrupted run from its journal.
    Resume(ResumeArgs),
    /// Cancel a run: running actions finish, nothing new starts.
    Cancel(CancelArgs),
    /// Re-run a failed or canceled run from its failed tasks (or the named ones), keeping what
    /// succeeded: a new attempt of the same run, its history kept (Orquesta's rerun).
    Rerun(RerunArgs),
    /// Answer a `core.ask` task of a waiting run, then continue the run.
    Respond(RespondArgs),
}

/// `orch runs list`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Include sub-workflow runs.
    #[arg(long)]
    pub all: bool,
    /// How many runs.
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    /// JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `orch runs show`
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Run id (or a unique prefix).
    pub run: String,
    /// JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `orch runs logs`
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Run id (or a unique prefix).
    pub run: String,
    /// Keep printing new lines while the run is being driven.
    #[arg(short, long)]
    pub follow: bool,
}

/// `orch runs resume`
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Run id (or a unique prefix).
    pub run: String,
    /// Re-run interrupted attempts of non-idempotent actions (after checking the target).
    #[arg(long, conflicts_with = "fail_interrupted")]
    pub retry_interrupted: bool,
    /// Record interrupted attempts of non-idempotent actions as failed.
    #[arg(long)]
    pub fail_interrupted: bool,
    #[command(flatten)]
    pub common: DriveArgs,
    /// JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `orch runs rerun`
#[derive(Debug, Args)]
pub struct RerunArgs {
    /// Run id (or a unique prefix).
    pub run: String,
    /// A task to run again (repeatable); default: every task that failed without a transition
    /// handling it, and every canceled one.
    #[arg(long = "task", value_name = "TASK")]
    pub tasks: Vec<String>,
    /// Go on with the workflow file as it is now instead of the revision the run started with
    /// (it must still have every task the run executed).
    #[arg(long)]
    pub current_workflow: bool,
    #[command(flatten)]
    pub common: DriveArgs,
    /// JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `orch runs cancel`
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// Run id (or a unique prefix).
    pub run: String,
    #[command(flatten)]
    pub common: DriveArgs,
    /// JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `orch runs respond`
#[derive(Debug, Args)]
pub struct RespondArgs {
    /// Run id (or a unique prefix).
    pub run: String,
    /// The `core.ask` task to answer.
    pub task: String,
    /// The answer, JSON matching the question's schema.
    #[arg(long, value_name = "JSON")]
    pub input: String,
    /// Replace an answer given earlier that the run has not taken yet.
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub common: DriveArgs,
    /// JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(session: &Session, command: RunsCommand) -> anyhow::Result<ExitCode> {
    match command {
        RunsCommand::List(args) => list(session, &args),
        RunsCommand::Show(args) => show(session, &args),
        RunsCommand::Logs(args) => logs(session, &args).await,
        RunsCommand::Resume(args) => {
            let printer = Printer::new(args.json);
            let settings = Settings {
                retry_interrupted: args.retry_interrupted,
                fail_interrupted: args.fail_interrupted,
                ..Settings::default()
            };
            let outcome = with_engine(session, &args.common, settings, &printer, async |e| {
                e.resume(&args.run).await
            })
            .await?;
            finish(&outcome, args.json)
        }
        RunsCommand::Rerun(args) => {
            let printer = Printer::new(args.json);
            let (outcome, revision) = with_engine(
                session,
                &args.common,
                Settings::default(),
                &printer,
                async |e| {
                    e.rerun(&args.run, args.tasks.clone(), args.current_workflow)
                        .await
                },
            )
            .await?;
            match &revision {
                Revision::Recorded => eprintln!(
                    "re-ran run {} with the workflow revision it started with",
                    outcome.run
                ),
                Revision::Current(path) => eprintln!(
                    "re-ran run {} with the workflow as it is now ({path})",
                    outcome.run
                ),
            }
            finish_with(
                &outcome,
                args.json,
                Some(("revision", serde_json::to_value(&revision)?)),
            )
        }
        RunsCommand::Cancel(args) => {
            let printer = Printer::new(args.json);
            let canceled = with_engine(
                session,
                &args.common,
                Settings::default(),
                &printer,
                async |e| e.cancel(&args.run).await,
            )
            .await?;
            match canceled {
                Canceled::Done(outcome) => finish(&outcome, args.json),
                Canceled::Requested(held) => {
                    if args.json {
                        println!(
                            "{}",
                            json!({"run": held.run, "cancel_requested": true, "driven_by": held.pid})
                        );
                    }
                    eprintln!(
                        "asked pid {} to cancel run {}; running actions finish first (see orch runs show {})",
                        held.pid, held.run, held.run
                    );
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        RunsCommand::Respond(args) => {
            let answer = parse_json(&args.input, "--input")?;
            let printer = Printer::new(args.json);
            let outcome = with_engine(
                session,
                &args.common,
                Settings::default(),
                &printer,
                async |e| e.respond(&args.run, &args.task, answer, args.replace).await,
            )
            .await?;
            finish(&outcome, args.json)
        }
    }
}

fn store(session: &Session) -> anyhow::Result<&Store> {
    Ok(session.home_and_store()?.1)
}

pub(super) fn time(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

fn list(session: &Session, args: &ListArgs) -> anyhow::Result<ExitCode> {
    let runs = store(session)?.runs(args.all, args.limit)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let rows: Vec<Value> = runs.iter().map(run_json).collect();
        untrusted::write_json(&mut out, &rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        eprintln!("no runs yet; start one with: orch run WORKFLOW");
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<12}  {:<16}  {:<20}  WORKFLOW",
        "RUN", "STATUS", "CREATED"
    )?;
    let now = crate::store::now_ms();
    let mut orphans = 0;
    for r in &runs {
        let status = if orphaned(r, now) {
            orphans += 1;
            format!("{} (no driver)", r.status)
        } else {
            r.status.clone()
        };
        writeln!(
            out,
            "{:<12}  {:<24}  {:<20}  {}",
            r.id,
            status,
            time(r.created_at),
            r.workflow
        )?;
    }
    if orphans > 0 {
        eprintln!(
            "note: runs marked (no driver) were being driven by a process that is gone (killed or \
             crashed); nothing drives them until: orch runs resume RUN"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether `run` is unfinished and the process that drove it is gone.
fn orphaned(run: &RunRow, now: i64) -> bool {
    !RunState::parse(&run.status).is_finished()
        && matches!(lease::driver_of(run, now), lease::Driver::Gone { .. })
}

fn run_json(r: &RunRow) -> Value {
    let now = crate::store::now_ms();
    let driver = match lease::driver_of(r, now) {
        lease::Driver::None => json!({ "state": "none" }),
        lease::Driver::Live { pid } => json!({ "state": "live", "pid": pid }),
        lease::Driver::Gone { pid } => json!({ "state": "gone", "pid": pid }),
    };
    json!({
        "id": r.id,
        "workflow": r.workflow,
        "status": r.status,
        "driver": driver,
        "parent": r.parent_run,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    })
}

fn show(session: &Session, args: &ShowArgs) -> anyhow::Result<ExitCode> {
    let store = store(session)?;
    let run = engine::find_run(store, &args.run)?;
    let report = engine::report(store, &run)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        untrusted::write_json(&mut out, &report)?;
        return Ok(ExitCode::SUCCESS);
    }
    print_report(&mut out, &report)?;
    Ok(ExitCode::SUCCESS)
}

fn print_report(out: &mut impl std::io::Write, r: &RunReport) -> anyhow::Result<()> {
    writeln!(out, "run       {}", r.id)?;
    writeln!(out, "workflow  {} ({})", r.workflow, r.source)?;
    writeln!(out, "status    {}", r.status)?;
    if let Some(reason) = &r.reason {
        writeln!(out, "reason    {}", untrusted::block(reason, "          "))?;
    }
    if let Some(p) = &r.parent {
        writeln!(out, "parent    {p}")?;
    }
    if let Some(who) = &r.started_by {
        writeln!(out, "started   by {}", untrusted::line(who))?;
    }
    if let Some(pid) = r.driven_by {
        writeln!(out, "driven by pid {pid}")?;
    }
    if let Some(pid) = r.driver_gone {
        writeln!(
            out,
            "driver    pid {pid} is gone (killed or crashed): nothing drives this run; continue \
             it with: orch runs resume {}",
            r.id
        )?;
    }
    for q in &r.questions {
        let run = if q.run == r.id {
            String::new()
        } else {
            format!(" (sub-workflow run {})", q.run)
        };
        writeln!(
            out,
            "waiting   at `{}`{run}: {}",
            q.task,
            untrusted::line(&q.prompt)
        )?;
        if let Some(answer) = &q.pending_answer {
            writeln!(
                out,
                "          answered {} but not yet taken by the run; it is applied at: orch runs \
                 resume {}",
                untrusted::json(&answer.to_string()),
                r.id
            )?;
        }
    }
    writeln!(out, "created   {}", time(r.created_at))?;
    writeln!(out, "input     {}", untrusted::json(&r.input.to_string()))?;
    writeln!(out, "tasks:")?;
    for t in &r.tasks {
        let items = t.attempts.iter().filter(|a| a.item.is_some()).count();
        let took: i64 = match (
            t.attempts.iter().map(|a| a.started_at).min(),
            t.attempts.iter().filter_map(|a| a.finished_at).max(),
        ) {
            (Some(s), Some(f)) => f - s,
            _ => 0,
        };
        writeln!(
            out,
            "  {:<24} {:<10} {} attempt{}{} {took}ms",
            t.exec,
            t.status,
            t.attempts.len(),
            if t.attempts.len() == 1 { "" } else { "s" },
            if items > 0 {
                format!(" ({items} item attempts)")
            } else {
                String::new()
            },
        )?;
        if items == 0 {
            for a in &t.attempts {
                let detail = match (&a.result, &a.error) {
                    (Some(v), _) => format!("result {}", clip(&v.to_string())),
                    (_, Some(e)) => format!("error {}", clip(&e.to_string())),
                    _ => "no result (running or interrupted)".to_owned(),
                };
                writeln!(
                    out,
                    "    #{} {} {} input {} {detail}",
                    a.attempt,
                    a.action,
                    a.status,
                    clip(&a.input.to_string())
                )?;
            }
        } else if let Some(res) = &t.result {
            writeln!(out, "    result {}", clip(&res.to_string()))?;
        }
    }
    if !r.children.is_empty() {
        writeln!(out, "sub-workflow runs:")?;
        for c in &r.children {
            writeln!(
                out,
                "  {} {} {}",
                c["id"].as_str().unwrap_or(""),
                c["workflow"].as_str().unwrap_or(""),
                c["status"].as_str().unwrap_or("")
            )?;
        }
    }
    if let Some(o) = &r.output {
        writeln!(out, "output    {}", untrusted::json(&o.to_string()))?;
    }
    for e in &r.errors {
        writeln!(
            out,
            "error     {}",
            untrusted::block(
                e.get("message").and_then(Value::as_str).unwrap_or(""),
                "          "
            )
        )?;
    }
    Ok(())
}

/// `text` (JSON) cut to one short line, safe for a terminal.
fn clip(text: &str) -> String {
    const MAX: usize = 160;
    let text = &*untrusted::json(text);
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

async fn logs(session: &Session, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let store = store(session)?;
    let run = engine::find_run(store, &args.run)?;
    let mut seen: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    loop {
        let mut runs = vec![run.clone()];
        let mut i = 0;
        while i < runs.len() {
            let children = store.child_runs(&runs[i].id)?;
            runs.extend(children);
            i += 1;
        }
        let mut out = std::io::stdout().lock();
        for r in &runs {
            let after = seen.get(&r.id).copied().unwrap_or(0);
            for l in store.logs(&r.id, after)? {
                let item = if l.item == NO_ITEM {
                    String::new()
                } else {
                    format!("[{}]", l.item)
                };
                let prefix = if r.id == run.id {
                    String::new()
                } else {
                    format!("{}/", r.workflow)
                };
                let fields = l.fields.map(|f| format!(" {f}")).unwrap_or_default();
                writeln!(
                    out,
                    "{} {prefix}{}{item}@{} {:>5} {}{fields}",
                    time(l.at),
                    l.exec,
                    l.attempt,
                    l.level,
                    untrusted::line(&l.message)
                )?;
                seen.insert(r.id.clone(), l.id);
            }
        }
        drop(out);
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        let now = store.run(&run.id)?.unwrap_or(run.clone());
        let state = RunState::parse(&now.status);
        if state != RunState::Running {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
