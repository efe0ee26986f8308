//! `orch run WORKFLOW`: start a workflow run in the foreground with live progress on stderr
//! and the outputs on stdout; also the progress printer and the engine set-up shared with
//! `orch runs`.

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};
use tokio::sync::watch;

use super::hostkey::PolicyArg;
use super::session::Session;
use super::untrusted;
use super::{EXIT_FAILED, EXIT_WAITING};
use crate::engine::{Engine, EngineError, Note, Observer, Outcome, RunState, Settings};
use crate::runtime::Limits;

/// `orch run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The workflow: a path, or a name looked up in the workflow directory.
    pub workflow: String,
    /// An input, NAME=VALUE; VALUE is JSON when it parses as JSON, else a string.
    #[arg(short = 'i', long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// Read inputs from a JSON file holding an object (-i values override it).
    #[arg(long, value_name = "FILE")]
    pub input_file: Option<PathBuf>,
    /// Answer a `core.ask` task before it asks: TASK=JSON.
    #[arg(long = "answer", value_name = "TASK=JSON")]
    pub answers: Vec<String>,
    #[command(flatten)]
    pub common: DriveArgs,
    /// Print the result as JSON on stdout: {"run", "status", "output", "errors", ...}.
    #[arg(long)]
    pub json: bool,
    /// Put the run on the queue for a worker (`orch worker`) instead of driving it here, and
    /// print its id. (With a database URL and a live worker, a run is queued and followed to
    /// its end without this flag.)
    #[arg(long, conflicts_with = "here")]
    pub queue: bool,
    /// Drive the run in this process even when workers share the database.
    #[arg(long)]
    pub here: bool,
    /// With --queue: follow the run while workers drive it, and print its result once it
    /// stops, as a run driven here would.
    #[arg(long, requires = "queue")]
    pub wait: bool,
    /// With --queue: only a worker with these tags may drive it (KEY=VALUE,...).
    #[arg(long, requires = "queue", value_name = "KEY=VALUE,...", value_parser = super::worker::parse_tags)]
    pub placement: Option<std::collections::BTreeMap<String, String>>,
}

/// Options of every command that drives a run.
#[derive(Debug, Args, Clone)]
pub struct DriveArgs {
    /// Directory of workflows (by name, and sub-workflows) [default: ./workflows].
    #[arg(long, env = "ORCH_WORKFLOWS", value_name = "DIR")]
    pub workflows: Option<PathBuf>,
    /// Seconds running actions get to finish after Ctrl-C or SIGTERM before the run pauses.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub grace: f64,
    #[command(flatten)]
    pub host_keys: PolicyArg,
}

pub async fn run(session: &Session, args: RunArgs) -> anyhow::Result<ExitCode> {
    let input = read_inputs(&args.inputs, args.input_file.as_deref())?;
    let answers = args
        .answers
        .iter()
        .map(|a| parse_pair(a, "--answer", "TASK=JSON"))
        .collect::<Result<Vec<_>, _>>()?;
    if args.queue {
        return queue(session, &args, input, &answers, args.wait).await;
    }
    if !args.here && workers_take_work(session)? {
        // Several processes share this database: the workers drive the run; this process
        // follows it and prints what a run driven here would.
        if !args.json {
            eprintln!(
                "queued for the workers (orch workers list); following the run (--here drives it in this process)"
            );
        }
        return queue(session, &args, input, &answers, true).await;
    }
    let printer = Printer::new(args.json);
    let outcome = with_engine(
        session,
        &args.common,
        Settings::default(),
        &printer,
        async |engine| engine.start(&args.workflow, input, &answers).await,
    )
    .await?;
    finish(&outcome, args.json)
}

/// Whether the store is shared through a database URL and a worker is there to take runs.
fn workers_take_work(session: &Session) -> anyhow::Result<bool> {
    if session.database_url().is_none() {
        return Ok(false);
    }
    let (_, store) = session.home_and_store()?;
    a_worker_takes_work(store)
}

/// Whether a registered worker reported lately, is not draining, and is not known to be dead.
fn a_worker_takes_work(store: &crate::store::Store) -> anyhow::Result<bool> {
    let now = crate::store::now_ms();
    Ok(store
        .workers(now)?
        .iter()
        .any(|w| w.takes_work(now) && !crate::engine::lease::owner_is_dead(&w.host, w.pid)))
}

/// `orch run --queue [--wait]`: records the run for a worker; when `follow`, follows it until
/// no worker drives it any more (finished, waiting for an answer, paused).
async fn queue(
    session: &Session,
    args: &RunArgs,
    input: Map<String, Value>,
    answers: &[(String, Value)],
    follow: bool,
) -> anyhow::Result<ExitCode> {
    let run = with_engine(
        session,
        &args.common,
        Settings::default(),
        &crate::engine::Quiet,
        async |engine| {
            engine.queue(
                &args.workflow,
                input,
                answers,
                &args.placement.clone().unwrap_or_default(),
                "cli",
            )
        },
    )
    .await?;
    if !follow {
        let mut out = std::io::stdout().lock();
        if args.json {
            untrusted::write_json(
                &mut out,
                &serde_json::json!({"run": run.id, "status": run.status}),
            )?;
        } else {
            writeln!(out, "{}", run.id)?;
            eprintln!(
                "run {} queued; a worker drives it (orch worker); follow it with: orch runs show {}",
                run.id, run.id
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (_, store) = session.home_and_store()?;
    let mut told_nobody_takes_it = false;
    loop {
        let row = store
            .run(&run.id)?
            .ok_or_else(|| anyhow::anyhow!("run {} is no longer in the store", run.id))?;
        if RunState::parse(&row.status) == RunState::Queued
            && !told_nobody_takes_it
            && !a_worker_takes_work(store)?
        {
            eprintln!(
                "no live worker takes runs now: run {} waits in the queue until one starts (orch worker)",
                run.id
            );
            told_nobody_takes_it = true;
        }
        // Queued, or running (a run whose worker died is running until another takes it):
        // workers still owe it progress.
        if !matches!(
            RunState::parse(&row.status),
            RunState::Queued | RunState::Running
        ) {
            return finish(&crate::engine::outcome_of(store, &row)?, args.json);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Builds an engine (with signal handling) and runs `f` with it.
pub async fn with_engine<T>(
    session: &Session,
    common: &DriveArgs,
    settings: Settings,
    observer: &dyn Observer,
    f: impl AsyncFnOnce(&Engine<'_>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let limits = Limits::DEFAULT;
    let packs = session.packs(limits.memory_bytes)?;
    let runtime = session.runtime(limits.memory_bytes)?.clone();
    let (_, store) = session.home_and_store()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let signals = tokio::spawn(async move {
        wait_for_signal().await;
        let _ = stop_tx.send(true);
    });
    let settings = Settings {
        limits,
        grace: Duration::from_secs_f64(common.grace.max(0.0)),
        workflows_dir: common.workflows.clone(),
        ..settings
    };
    let broker = session.broker(common.host_keys.broker_settings())?.clone();
    let engine = Engine::new(store, packs, runtime, broker, observer, settings, stop_rx);
    let result = f(&engine).await;
    signals.abort();
    result
}

/// Waits for Ctrl-C or SIGTERM.
#[cfg(unix)]
pub async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

/// Waits for Ctrl-C.
#[cfg(not(unix))]
pub async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Prints the outcome and picks the exit code.
pub fn finish(outcome: &Outcome, json: bool) -> anyhow::Result<ExitCode> {
    finish_with(outcome, json, None)
}

/// [`finish`], with one more field in the JSON (`name`, `value`).
pub fn finish_with(
    outcome: &Outcome,
    json: bool,
    extra: Option<(&str, Value)>,
) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if json {
        let mut body = serde_json::to_value(outcome)?;
        if let (Some((name, value)), Value::Object(map)) = (extra, &mut body) {
            map.insert(name.to_owned(), value);
        }
        untrusted::write_json(&mut out, &body)?;
    } else {
        if let Some(output) = &outcome.output {
            untrusted::write_json(&mut out, output)?;
        }
        let mut err = std::io::stderr().lock();
        match outcome.status {
            RunState::Succeeded => writeln!(err, "run {} succeeded", outcome.run)?,
            RunState::Failed | RunState::Canceled => {
                writeln!(err, "run {} {}", outcome.run, outcome.status)?;
                for e in &outcome.errors {
                    let message = e.get("message").and_then(Value::as_str).unwrap_or("");
                    writeln!(err, "  {}", untrusted::block(message, "    "))?;
                    if let Some(error) = e.get("error") {
                        writeln!(err, "    {}", untrusted::json(&error.to_string()))?;
                    }
                }
                writeln!(err, "see every task with: orch runs show {}", outcome.run)?;
            }
            _ => {
                writeln!(err, "run {} is {}", outcome.run, outcome.status)?;
                if let Some(reason) = &outcome.reason {
                    for line in reason.lines() {
                        writeln!(err, "  {}", untrusted::line(line))?;
                    }
                }
                for q in &outcome.questions {
                    writeln!(err, "  answer schema for `{}`: {}", q.task, q.schema)?;
                }
            }
        }
    }
    Ok(match outcome.status {
        RunState::Succeeded => ExitCode::SUCCESS,
        RunState::Failed | RunState::Canceled => ExitCode::from(EXIT_FAILED),
        _ => ExitCode::from(EXIT_WAITING),
    })
}

fn parse_pair(text: &str, flag: &str, shape: &str) -> Result<(String, Value), EngineError> {
    let Some((name, value)) = text.split_once('=') else {
        return Err(EngineError::BadInput(format!(
            "{flag} {text:?} is not {shape}; write e.g. {flag} name=value"
        )));
    };
    if name.trim().is_empty() {
        return Err(EngineError::BadInput(format!(
            "{flag} {text:?} has no name before `=`"
        )));
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((name.trim().to_owned(), value))
}

fn read_inputs(
    pairs: &[String],
    file: Option<&std::path::Path>,
) -> anyhow::Result<Map<String, Value>> {
    let mut input = Map::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|err| {
            EngineError::BadInput(format!("cannot read input file {}: {err}", path.display()))
        })?;
        match serde_json::from_str(&text) {
            Ok(Value::Object(m)) => input = m,
            Ok(_) | Err(_) => {
                return Err(EngineError::BadInput(format!(
                    "input file {} must hold a JSON object of inputs, e.g. {{\"device\": \"r1\"}}",
                    path.display()
                ))
                .into());
            }
        }
    }
    for p in pairs {
        let (name, value) = parse_pair(p, "-i", "NAME=VALUE")?;
        input.insert(name, value);
    }
    Ok(input)
}

/// Parses `--input JSON` of `orch runs respond`.
pub fn parse_json(text: &str, what: &str) -> anyhow::Result<Value> {
    serde_json::from_str(text).map_err(|err| {
        EngineError::BadInput(format!(
            "{what} is not valid JSON: {err}; pass a JSON document, e.g. --input '{{\"approved\": true}}'"
        ))
        .into()
    })
}

/// Prints progress on stderr: one line per task state change; fan-out items as a counter
/// (a bar on a terminal) with failed items printed, and one summary line per fan-out.
///
/// On a terminal, the sub-workflow runs of a fan-out's items print nothing of their own: an
/// operator running a fleet-wide fan-out sees one live line per fan-out (done, failed, running of
/// N) and each item's failure as it happens, not the thousands of lines of every item's tasks.
/// Questions are always shown. Logs and pipes keep one line per event.
pub struct Printer {
    tty: bool,
    state: Mutex<PrinterState>,
}

#[derive(Default)]
struct PrinterState {
    fanouts: HashMap<String, FanOut>,
    /// A fan-out whose started items all finished: complete, unless another item starts next.
    maybe_done: Option<String>,
    /// Runs whose lines are folded into their parent's fan-out (terminal only).
    quiet: std::collections::HashSet<String>,
    /// Where lines go in tests (instead of stderr).
    sink: Option<Vec<String>>,
}

struct FanOut {
    bar: ProgressBar,
    label: String,
    started: u64,
    done: u64,
    failed: u64,
}

impl Printer {
    /// A printer; with `--json` the same lines go to stderr (stdout carries the JSON).
    pub fn new(_json: bool) -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            state: Mutex::new(PrinterState::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PrinterState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl PrinterState {
    fn line(&mut self, text: &str) {
        if let Some(sink) = &mut self.sink {
            sink.push(text.to_owned());
            return;
        }
        match self.fanouts.values().next() {
            Some(f) if !f.bar.is_hidden() => f.bar.println(text),
            _ => eprintln!("{text}"),
        }
    }

    /// Whether `parent` runs a fan-out now (or is itself folded into one).
    fn folds_children_of(&self, parent: &str) -> bool {
        self.quiet.contains(parent)
            || self
                .fanouts
                .keys()
                .any(|k| k.split_once('/').is_some_and(|(run, _)| run == parent))
    }

    /// Prints the summary of the fan-out that looked complete, unless `next` continues it.
    fn settle(&mut self, next: Option<&str>) {
        let Some(key) = self.maybe_done.take() else {
            return;
        };
        if next == Some(key.as_str()) {
            return;
        }
        if let Some(f) = self.fanouts.remove(&key) {
            f.bar.finish_and_clear();
            let mark = if f.failed == 0 { "✓" } else { "✗" };
            self.line(&format!(
                "{mark} {}: {} items, {} failed",
                f.label, f.done, f.failed
            ));
        }
    }
}

fn short(run: &str) -> &str {
    &run[..run.len().min(6)]
}

impl Observer for Printer {
    fn note(&self, note: Note<'_>) {
        let mut st = self.state();
        if self.tty {
            let run = match &note {
                Note::RunStarted { run, parent, .. } => {
                    if parent.is_some_and(|p| st.folds_children_of(p)) {
                        st.quiet.insert((*run).to_owned());
                    }
                    Some(*run)
                }
                Note::Started { run, .. }
                | Note::Finished { run, .. }
                | Note::AnswerIgnored { run, .. }
                | Note::Stopping { run, .. } => Some(*run),
                Note::RunEnded(outcome) => Some(outcome.run.as_str()),
                Note::Asking(_) => None,
            };
            if run.is_some_and(|r| st.quiet.contains(r)) {
                return;
            }
        }
        let continues = match &note {
            Note::Started {
                run,
                exec,
                item: Some(_),
                ..
            } => Some(format!("{run}/{exec}")),
            _ => None,
        };
        st.settle(continues.as_deref());
        match note {
            Note::RunStarted {
                run,
                workflow,
                parent,
                resumed,
            } => {
                let verb = if resumed { "resuming" } else { "starting" };
                match parent {
                    Some(p) => st.line(&format!(
                        "{verb} sub-workflow {workflow} as run {run} (of run {p})"
                    )),
                    None => st.line(&format!("{verb} {workflow} as run {run}")),
                }
            }
            Note::Started {
                run,
                exec,
                item,
                attempt,
                action,
            } => {
                let retry = if attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                match item {
                    None => st.line(&format!("[{}] ▸ {exec} {action}{retry}", short(run))),
                    Some(i) => {
                        let tty = self.tty;
                        let label = format!("[{}] {exec} {action}", short(run));
                        let f = st
                            .fanouts
                            .entry(format!("{run}/{exec}"))
                            .or_insert_with(|| {
                                let bar = if tty {
                                    ProgressBar::new(0)
                                } else {
                                    ProgressBar::hidden()
                                };
                                bar.set_style(
                                    ProgressStyle::with_template(
                                        "{prefix} {bar:30} {pos}/{len} {msg}",
                                    )
                                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                                );
                                bar.set_prefix(label.clone());
                                FanOut {
                                    bar,
                                    label,
                                    started: 0,
                                    done: 0,
                                    failed: 0,
                                }
                            });
                        if attempt == 1 {
                            f.started += 1;
                            f.bar.inc_length(1);
                        } else {
                            let text = format!("[{}] ▸ {exec}[{i}] {action}{retry}", short(run));
                            st.line(&text);
                        }
                    }
                }
            }
            Note::Finished {
                run,
                exec,
                item,
                attempt,
                error,
                elapsed,
            } => {
                let took = elapsed
                    .map(|e| format!(" in {}", humantime::format_duration(round_ms(e))))
                    .unwrap_or_default();
                let what = match item {
                    None => exec.to_owned(),
                    Some(i) => format!("{exec}[{i}]"),
                };
                let failure = error.map(|e| {
                    let code = untrusted::line(e.get("code").and_then(Value::as_str).unwrap_or("error"));
                    let message = untrusted::line(e.get("message").and_then(Value::as_str).unwrap_or(""));
                    format!(
                        "[{}] ✗ {what} failed (attempt {attempt}){took}: {code}: {message}",
                        short(run)
                    )
                });
                if item.is_some() {
                    let key = format!("{run}/{exec}");
                    if let Some(f) = st.fanouts.get_mut(&key) {
                        f.done += 1;
                        if error.is_some() {
                            f.failed += 1;
                            f.bar.set_message(format!("{} failed", f.failed));
                        }
                        f.bar.inc(1);
                        if f.done >= f.started {
                            st.maybe_done = Some(key);
                        }
                    }
                    if let Some(f) = failure {
                        st.line(&f);
                    }
                    return;
                }
                match failure {
                    Some(f) => st.line(&f),
                    None => st.line(&format!("[{}] ✓ {what}{took}", short(run))),
                }
            }
            Note::Asking(q) => st.line(&format!(
                "[{}] ? {} asks: {}\n    answer with: orch runs respond {} {} --input JSON",
                short(&q.run),
                q.task,
                q.prompt,
                q.run,
                q.task
            )),
            Note::AnswerIgnored { run, task, reason } => st.line(&format!(
                "[{}] ! the answer given for `{task}` was not used: {reason}",
                short(run)
            )),
            Note::Stopping {
                run,
                running,
                grace,
            } => st.line(&format!(
                "[{}] stopping: no new tasks start; waiting up to {} for {running} running action(s), then the run pauses",
                short(run),
                humantime::format_duration(grace)
            )),
            Note::RunEnded(outcome) => {
                if outcome.status == RunState::Paused {
                    st.line(&format!(
                        "run {} paused; continue it with: orch runs resume {}",
                        outcome.run, outcome.run
                    ));
                }
            }
        }
    }
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A terminal printer whose lines are collected.
    fn terminal() -> Printer {
        Printer {
            tty: true,
            state: Mutex::new(PrinterState {
                sink: Some(Vec::new()),
                ..PrinterState::default()
            }),
        }
    }

    /// Notes of a `backup` fan-out of `n` sub-workflow items, each running two tasks; item 7
    /// fails.
    fn fleet_fanout(p: &Printer, n: usize) {
        p.note(Note::RunStarted {
            run: "parent",
            workflow: "config-backup",
            parent: None,
            resumed: false,
        });
        let failure = json!({"code": "unreachable", "message": "device 7 is down"});
        for i in 0..n {
            p.note(Note::Started {
                run: "parent",
                exec: "backup#1",
                item: Some(i),
                attempt: 1,
                action: "backup-device",
            });
            let child = format!("child{i}");
            p.note(Note::RunStarted {
                run: &child,
                workflow: "backup-device",
                parent: Some("parent"),
                resumed: false,
            });
            for task in ["fetch#1", "store#1"] {
                p.note(Note::Started {
                    run: &child,
                    exec: task,
                    item: None,
                    attempt: 1,
                    action: "netdev.get_running_config",
                });
                p.note(Note::Finished {
                    run: &child,
                    exec: task,
                    item: None,
                    attempt: 1,
                    error: None,
                    elapsed: None,
                });
            }
            p.note(Note::Finished {
                run: "parent",
                exec: "backup#1",
                item: Some(i),
                attempt: 1,
                error: (i == 7).then_some(&failure),
                elapsed: None,
            });
        }
    }

    #[test]
    fn a_sub_workflow_fan_out_on_a_terminal_is_one_line_and_its_failures() {
        let p = terminal();
        fleet_fanout(&p, 300);
        // Settle the fan-out: the next note is not one of its items.
        p.note(Note::Started {
            run: "parent",
            exec: "report#1",
            item: None,
            attempt: 1,
            action: "core.echo",
        });
        let lines = p.state().sink.clone().unwrap_or_default();
        assert!(lines.len() <= 5, "{} lines: {lines:#?}", lines.len());
        assert!(
            lines
                .iter()
                .any(|l| l.contains("backup#1[7] failed") && l.contains("device 7 is down")),
            "{lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l.contains("300 items, 1 failed")),
            "{lines:#?}"
        );
    }

    #[test]
    fn logs_and_pipes_keep_a_line_per_event() {
        let p = Printer {
            tty: false,
            state: Mutex::new(PrinterState {
                sink: Some(Vec::new()),
                ..PrinterState::default()
            }),
        };
        fleet_fanout(&p, 3);
        let lines = p.state().sink.clone().unwrap_or_default();
        assert!(
            lines.iter().filter(|l| l.contains("▸ fetch#1")).count() == 3,
            "{lines:#?}"
        );
    }

    #[test]
    fn input_values_are_json_when_they_parse_else_strings() {
        let input = read_inputs(
            &[
                "n=3".into(),
                "names=[\"a\",\"b\"]".into(),
                "device=r1".into(),
                "eq=a=b".into(),
            ],
            None,
        )
        .unwrap();
        assert_eq!(input["n"], json!(3));
        assert_eq!(input["names"], json!(["a", "b"]));
        assert_eq!(input["device"], json!("r1"));
        assert_eq!(input["eq"], json!("a=b"));
        assert!(read_inputs(&["novalue".into()], None).is_err());
    }
}
