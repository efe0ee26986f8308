//! `orch action run PACK.ACTION`: validate the input against the action's schema, run the
//! action in a fresh sandbox, print its output.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::hostkey::PolicyArg;
use super::session::Session;
use super::untrusted;
use crate::contract::{ActionError, CallContext};
use crate::packs::{PackError, parse_action_ref};
use crate::runtime::Limits;
use crate::schema::Schema;

/// `orch action …`
#[derive(Debug, Subcommand)]
pub enum ActionCommand {
    /// Run one action and print its JSON output.
    Run(RunArgs),
}

/// `orch action run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The action, as PACK.ACTION (e.g. text.diff).
    pub action: String,
    /// Input as a JSON document [default: {}].
    #[arg(long, short, value_name = "JSON", conflicts_with = "input_file")]
    pub input: Option<String>,
    /// Read the input JSON from a file, or from stdin with `-`.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub input_file: Option<PathBuf>,
    /// Wall-clock deadline: `30s`, `2m`, `500ms` (a bare number is seconds).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Memory cap of the sandbox, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::DEFAULT.memory_bytes >> 20)]
    pub memory_limit: usize,
    /// Cap on the output size, in KiB.
    #[arg(long, value_name = "KIB", default_value_t = Limits::DEFAULT.output_bytes >> 10)]
    pub output_limit: usize,
    /// Print a JSON envelope: {"output": …} or {"error": …}, plus logs and timing.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub host_keys: PolicyArg,
}

/// The input given on the command line is unusable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(String);

/// The action ran and reported an error.
#[derive(Debug, thiserror::Error)]
#[error("{action} failed with {}: {}{}", error.code, error.message, if error.retryable { " (retryable)" } else { "" })]
pub struct ActionFailed {
    action: String,
    error: ActionError,
}

/// Parses `30s`, `2m`, `1h30m`, `500ms`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() && seconds > 0.0 {
            return Ok(Duration::from_secs_f64(seconds));
        }
        return Err(format!("{text:?} is not a positive duration"));
    }
    humantime::parse_duration(text)
        .map_err(|err| format!("{text:?}: {err} (write e.g. 30s, 2m, 500ms)"))
}

pub async fn run(session: &Session, command: ActionCommand) -> anyhow::Result<ExitCode> {
    let ActionCommand::Run(args) = command;
    let (pack_name, action_name) = parse_action_ref(&args.action)?;
    let limits = Limits {
        memory_bytes: args.memory_limit.saturating_mul(1 << 20),
        deadline: args.timeout,
        output_bytes: args.output_limit.saturating_mul(1 << 10),
    };
    let input = read_input(&args)?;
    let packs = session.packs(limits.memory_bytes)?;
    let pack = packs.load(pack_name)?;
    let spec =
        pack.installed
            .manifest
            .action(action_name)
            .ok_or_else(|| PackError::UnknownAction {
                pack: pack_name.to_owned(),
                action: action_name.to_owned(),
                available: pack.installed.manifest.action_names(),
            })?;
    let schema =
        Schema::compile(&spec.input_schema).map_err(|reason| PackError::UnusableSchema {
            which: "input",
            action: args.action.clone(),
            reason,
        })?;
    schema.check(&args.action, &input)?;
    let context = CallContext {
        run_id: String::new(),
        task: String::new(),
        attempt: 1,
        idempotency_key: uuid::Uuid::new_v4().to_string(),
    };
    let broker = session.broker(args.host_keys.broker_settings())?;
    let capabilities = broker.context_for(pack_name)?;
    let invocation = session
        .runtime(limits.memory_bytes)?
        .invoke(
            &pack.prepared,
            action_name,
            &input.to_string(),
            &context,
            &limits,
            &capabilities,
        )
        .await;
    let mut invocation = match invocation {
        Ok(invocation) => invocation,
        Err(stopped) => {
            // The sandbox stopped the action (a limit, a trap, a panic): `--json` still answers
            // with the error on stdout, as promised, and the exit status stays "failed".
            if args.json {
                let body = json!({ "error": {
                    "code": stopped.code(),
                    "message": stopped.to_string(),
                    "retryable": matches!(stopped, crate::runtime::SandboxError::Deadline { .. }),
                }});
                untrusted::write_json(&mut std::io::stdout().lock(), &body)?;
            }
            return Err(stopped.into());
        }
    };
    match Schema::compile(&spec.output_schema) {
        Ok(schema) => invocation.check_output(&schema, &args.action),
        Err(reason) => {
            return Err(PackError::UnusableSchema {
                which: "output",
                action: args.action.clone(),
                reason,
            }
            .into());
        }
    }

    let mut out = std::io::stdout().lock();
    if args.json {
        let body = match &invocation.result {
            Ok(output) => json!({ "output": serde_json::from_str::<Value>(output)? }),
            Err(error) => json!({ "error": error_json(error) }),
        };
        let mut body = body;
        body["logs"] = serde_json::to_value(&invocation.logs)?;
        body["elapsed_ms"] = json!(invocation.elapsed.as_secs_f64() * 1000.0);
        untrusted::write_json(&mut out, &body)?;
    } else {
        let mut err = std::io::stderr().lock();
        for line in &invocation.logs {
            match &line.fields {
                Some(fields) => writeln!(
                    err,
                    "{:>5} {} {fields}",
                    line.level,
                    untrusted::line(&line.message)
                )?,
                None => writeln!(err, "{:>5} {}", line.level, untrusted::line(&line.message))?,
            }
        }
        if invocation.logs_dropped > 0 {
            writeln!(
                err,
                " note {} more log lines were dropped (cap reached)",
                invocation.logs_dropped
            )?;
        }
        if let Ok(output) = &invocation.result {
            let value: Value = serde_json::from_str(output)?;
            untrusted::write_json(&mut out, &value)?;
        }
    }
    match invocation.result {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(error) => {
            if let (false, Some(details)) = (args.json, error.details.as_deref()) {
                let details: Value = serde_json::from_str(details).unwrap_or(Value::Null);
                eprintln!(
                    "details: {}",
                    untrusted::json(&serde_json::to_string_pretty(&details)?)
                );
            }
            Err(ActionFailed {
                action: args.action.clone(),
                error,
            }
            .into())
        }
    }
}

fn error_json(error: &ActionError) -> Value {
    json!({
        "code": error.code,
        "message": error.message,
        "retryable": error.retryable,
        "details": error.details.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()),
    })
}

fn read_input(args: &RunArgs) -> anyhow::Result<Value> {
    let (text, source) = match (&args.input, &args.input_file) {
        (Some(text), _) => (text.clone(), "--input".to_owned()),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!("reading the input JSON from stdin; end with Ctrl-D");
            }
            let mut text = String::new();
            stdin
                .lock()
                .read_to_string(&mut text)
                .context("reading the input from stdin")?;
            (text, "stdin".to_owned())
        }
        (None, Some(path)) => (
            std::fs::read_to_string(path).map_err(|err| {
                InputError(format!("cannot read input file {}: {err}", path.display()))
            })?,
            path.display().to_string(),
        ),
        (None, None) => ("{}".to_owned(), "the default input".to_owned()),
    };
    serde_json::from_str(&text).map_err(|err| {
        InputError(format!(
            "the input from {source} is not valid JSON: {err}; pass a JSON document, e.g. --input '{{\"text\": \"…\"}}'"
        ))
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations_with_and_without_units() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
