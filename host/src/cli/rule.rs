//! `orch rule validate|list|test`: the rules `orch serve` loads (one YAML file per rule in the
//! rules directory), checked offline, listed, and tried against an event without starting
//! anything.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use super::run::{DriveArgs, Printer, with_engine};
use super::session::Session;
use super::untrusted;
use crate::engine::{EngineError, Settings};
use crate::rules::{self, Rule, RuleError, RulesRefused, Verdict};
use crate::store::now_ms;

/// `orch rule …`
#[derive(Debug, Subcommand)]
pub enum RuleCommand {
    /// Check rule files (the rules directory, or the files and directories given): YAML shape,
    /// trigger types, criteria, expressions, cron and time zones; problems with file:line.
    Validate {
        /// Rule files or directories [default: the rules directory].
        paths: Vec<PathBuf>,
        #[command(flatten)]
        dir: RulesDir,
    },
    /// List the rules of the rules directory.
    List {
        #[command(flatten)]
        dir: RulesDir,
        /// JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// What a rule would decide about an event (enriched from this home's inventory, throttled
    /// by its record of firings); nothing is recorded or started.
    Test(TestArgs),
}

/// Where rules are.
#[derive(Debug, Args)]
pub struct RulesDir {
    /// Directory of rules [default: ./rules].
    #[arg(long = "rules", env = "ORCH_RULES", value_name = "DIR")]
    pub rules: Option<PathBuf>,
}

/// `orch rule test`
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The rule: a file, or a name in the rules directory.
    pub rule: String,
    /// The event: a JSON file, `-` for stdin, or JSON text. Either a payload (e.g. a syslog
    /// message's fields) or an event as `orch events show --json` prints it.
    pub event: String,
    #[command(flatten)]
    pub dir: RulesDir,
    #[command(flatten)]
    pub drive: DriveArgs,
    /// JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(session: &Session, command: RuleCommand) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match command {
        RuleCommand::Validate { paths, dir } => {
            let paths = if paths.is_empty() {
                vec![rules::resolve_dir(dir.rules.as_deref())]
            } else {
                paths
            };
            let mut all = Vec::new();
            let mut errors = Vec::new();
            for path in &paths {
                if path.is_dir() {
                    let (r, e) = rules::load_dir(path)?;
                    all.extend(r);
                    errors.extend(e);
                } else {
                    match rules::load_file(path) {
                        Ok(r) => all.push(r),
                        Err(e) => errors.push(e),
                    }
                }
            }
            for r in &all {
                writeln!(
                    out,
                    "ok {} ({}): {} → {}",
                    r.file.display(),
                    r.name,
                    r.trigger,
                    r.run.workflow
                )?;
            }
            if !errors.is_empty() {
                return Err(RulesRefused {
                    dir: paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" "),
                    errors,
                }
                .into());
            }
            if all.is_empty() {
                writeln!(
                    out,
                    "no rules in {}",
                    paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )?;
            }
        }
        RuleCommand::List { dir, json } => {
            let dir = rules::resolve_dir(dir.rules.as_deref());
            let rules = crate::service::load_rules(&dir)?;
            if json {
                let list: Vec<Value> = rules.iter().map(describe).collect();
                untrusted::write_json(&mut out, &list)?;
            } else if rules.is_empty() {
                writeln!(out, "no rules in {}", dir.display())?;
            } else {
                for r in &rules {
                    let throttle = r.throttle.as_ref().map_or(String::new(), |t| {
                        format!("  once within {}", humantime::format_duration(t.within))
                    });
                    let off = if r.enabled { "" } else { " (disabled)" };
                    writeln!(
                        out,
                        "{:<24} {:<40} → {}{throttle}{off}",
                        r.name,
                        r.trigger.to_string(),
                        r.run.workflow
                    )?;
                }
            }
        }
        RuleCommand::Test(args) => return test(session, args, &mut out).await,
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(r: &Rule) -> Value {
    json!({
        "name": r.name,
        "file": r.file.display().to_string(),
        "description": r.description,
        "enabled": r.enabled,
        "trigger": r.trigger.to_string(),
        "type": r.trigger.kind(),
        "criteria": r.criteria.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "throttle": r.throttle.as_ref().map(|t| json!({
            "once_within": humantime::format_duration(t.within).to_string(),
            "group_by": t.group_by,
        })),
        "workflow": r.run.workflow,
    })
}

async fn test(
    session: &Session,
    args: TestArgs,
    out: &mut impl std::io::Write,
) -> anyhow::Result<ExitCode> {
    let path = Path::new(&args.rule);
    let path = if path.exists() {
        path.to_path_buf()
    } else {
        rules::resolve_dir(args.dir.rules.as_deref()).join(format!("{}.yaml", args.rule))
    };
    let rule = rules::load_file(&path).map_err(|e: RuleError| RulesRefused {
        dir: path.display().to_string(),
        errors: vec![e],
    })?;
    let text = if args.event == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else if args.event.trim_start().starts_with('{') {
        args.event.clone()
    } else {
        std::fs::read_to_string(&args.event).map_err(|e| {
            EngineError::BadInput(format!("cannot read the event file {}: {e}", args.event))
        })?
    };
    let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(&text) else {
        return Err(EngineError::BadInput(
            "the event must be a JSON object: a payload, or {\"type\", \"name\", \"payload\"}"
                .into(),
        )
        .into());
    };
    let (kind, name, payload) = match (doc.get("type"), doc.get("payload")) {
        (Some(Value::String(kind)), Some(Value::Object(payload))) => (
            kind.clone(),
            doc.get("name")
                .and_then(Value::as_str)
                .map_or_else(|| rule.default_event_name(), str::to_owned),
            payload.clone(),
        ),
        _ => (
            rule.trigger.kind().to_owned(),
            rule.default_event_name(),
            doc.clone(),
        ),
    };
    let (_, store) = session.home_and_store()?;
    let report = rules::test(&rule, &kind, &name, payload, store, now_ms())?;
    // A firing is checked as far as a start would be: the workflow exists, the input fits.
    let mut start_check: Option<String> = None;
    if let Some(Verdict::Fire {
        workflow, input, ..
    }) = &report.verdict
    {
        let printer = Printer::new(true);
        let workflow = workflow.clone();
        let input: Map<String, Value> = input.clone();
        start_check = with_engine(
            session,
            &args.drive,
            Settings::default(),
            &printer,
            async |engine| {
                Ok(engine
                    .prepare(&workflow, input)
                    .err()
                    .map(|e| format!("{e:#}")))
            },
        )
        .await?;
    }
    if args.json {
        let mut body = serde_json::to_value(&report)?;
        if let Value::Object(m) = &mut body {
            m.insert(
                "start_error".into(),
                start_check.clone().map_or(Value::Null, Value::String),
            );
        }
        untrusted::write_json(out, &body)?;
    } else {
        match &report.verdict {
            None => writeln!(
                out,
                "rule {} does not listen to this event ({} {}): its trigger is {}",
                rule.name,
                kind,
                untrusted::line(&name),
                rule.trigger
            )?,
            Some(v) => {
                match &report.device {
                    Some(d) => writeln!(out, "device: {}", untrusted::json(&d.to_string()))?,
                    None => writeln!(
                        out,
                        "device: none{}",
                        report
                            .note
                            .as_deref()
                            .map_or(String::new(), |n| format!(" ({})", untrusted::line(n)))
                    )?,
                }
                writeln!(out, "decision: {}", v.name())?;
                writeln!(out, "  {}", untrusted::line(&v.detail()))?;
                if let Verdict::Fire { input, .. } = v {
                    writeln!(
                        out,
                        "  input: {}",
                        untrusted::json(&Value::Object(input.clone()).to_string())
                    )?;
                }
                if let Some(err) = &start_check {
                    writeln!(
                        out,
                        "  but the run could not start: {}",
                        untrusted::line(err)
                    )?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
