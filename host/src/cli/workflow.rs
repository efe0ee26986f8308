//! `orch workflow validate|graph|test`: check a workflow offline, print its task graph, or
//! rehearse it against test specs (every action mocked; see `engine/rehearsals.rs`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};

use super::ExitStatus;
use super::run::{DriveArgs, with_engine};
use super::session::Session;
use super::untrusted;
use crate::engine::rehearsals::{self, Summary};
use crate::engine::{EngineError, Quiet, Settings};
use orch_workflow::rehearsal::{Report, Verdict};
use orch_workflow::{Problem, Workflow};

/// `orch workflow …`
#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Check a workflow without running it: shape, tasks, actions, expressions, inputs.
    Validate(ValidateArgs),
    /// Print the task graph (Mermaid or Graphviz DOT).
    Graph(GraphArgs),
    /// Rehearse workflows against test specs: every action mocked, no pack run, no store used.
    Test(TestArgs),
}

/// `orch workflow test`
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Spec files, or directories searched for `*.test.yaml`.
    #[arg(required = true, value_name = "SPEC")]
    pub specs: Vec<PathBuf>,
    /// JSON on stdout: {"ok": bool, "summary": {...}, "specs": [...]}.
    #[arg(long)]
    pub json: bool,
}

/// `orch workflow validate`
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The workflow: a path, or a name in the workflow directory.
    pub workflow: String,
    #[command(flatten)]
    pub common: DriveArgs,
    /// JSON on stdout: {"ok": bool, "problems": [...]}.
    #[arg(long)]
    pub json: bool,
}

/// Graph formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// Mermaid flowchart.
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// `orch workflow graph`
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The workflow: a path, or a name in the workflow directory.
    pub workflow: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: Format,
    #[command(flatten)]
    pub common: DriveArgs,
}

/// Parses and validates `workflow` offline: both verbs start here.
async fn check(
    session: &Session,
    common: &DriveArgs,
    workflow: &str,
) -> anyhow::Result<(Workflow, Vec<Problem>)> {
    with_engine(session, common, Settings::default(), &Quiet, async |e| {
        e.check(workflow)
    })
    .await
}

pub async fn run(session: &Session, command: WorkflowCommand) -> anyhow::Result<ExitCode> {
    match command {
        WorkflowCommand::Validate(args) => {
            let (wf, problems) = check(session, &args.common, &args.workflow).await?;
            let mut out = std::io::stdout().lock();
            if args.json {
                let body = serde_json::json!({"ok": problems.is_empty(), "problems": problems});
                untrusted::write_json(&mut out, &body)?;
            }
            if problems.is_empty() {
                if !args.json {
                    writeln!(out, "{}: ok ({} tasks)", wf.source, wf.tasks.len())?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            Err(EngineError::Invalid {
                path: wf.source.clone(),
                problems,
            }
            .into())
        }
        WorkflowCommand::Test(args) => test(&args),
        WorkflowCommand::Graph(args) => {
            let (wf, _) = check(session, &args.common, &args.workflow).await?;
            let text = match args.format {
                Format::Mermaid => orch_workflow::graph::mermaid(&wf),
                Format::Dot => orch_workflow::graph::dot(&wf),
            };
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Exit 0 when every spec passed (or deviates exactly as recorded), 1 when one failed, 2 when
/// one could not be rehearsed at all.
fn test(args: &TestArgs) -> anyhow::Result<ExitCode> {
    let paths = rehearsals::find(&args.specs)?;
    let reports: Vec<Report> = paths.iter().map(|p| rehearsals::rehearse(p)).collect();
    let summary = Summary::of(&reports);
    let mut out = std::io::stdout().lock();
    if args.json {
        let body = serde_json::json!({
            "ok": summary.failed == 0 && summary.errors == 0,
            "summary": summary,
            "specs": reports,
        });
        untrusted::write_json(&mut out, &body)?;
    } else {
        for r in &reports {
            print_report(&mut out, r)?;
        }
        writeln!(
            out,
            "{} spec{}: {} passed, {} failed, {} known deviation{}, {} error{}",
            reports.len(),
            plural(reports.len()),
            summary.passed,
            summary.failed,
            summary.known_deviations,
            plural(summary.known_deviations),
            summary.errors,
            plural(summary.errors),
        )?;
    }
    let status = if summary.errors > 0 {
        ExitStatus::Usage
    } else if summary.failed > 0 {
        ExitStatus::Failed
    } else {
        ExitStatus::Success
    };
    Ok(status.into())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One line per spec; a failure adds its differences and both sequences, indented.
fn print_report(out: &mut impl std::io::Write, r: &Report) -> anyhow::Result<()> {
    let spec = untrusted::line(&r.spec);
    let sequences = |out: &mut dyn std::io::Write| -> std::io::Result<()> {
        writeln!(
            out,
            "    expected: {}",
            untrusted::line(&r.expected.join(" "))
        )?;
        writeln!(out, "    got:      {}", untrusted::line(&r.got.join(" ")))
    };
    match &r.verdict {
        Verdict::Passed => writeln!(out, "ok      {spec}")?,
        Verdict::Failed { divergences } => {
            if r.rerun > 0 {
                writeln!(out, "FAILED  {spec} (after rerun {})", r.rerun)?;
            } else {
                writeln!(out, "FAILED  {spec}")?;
            }
            for d in divergences {
                writeln!(out, "    {}", untrusted::line(&d.to_string()))?;
            }
            sequences(out)?;
        }
        Verdict::KnownDeviation {
            reason,
            divergences,
        } => {
            writeln!(out, "known   {spec}: {}", untrusted::line(reason))?;
            for d in divergences {
                writeln!(out, "    {}", untrusted::line(&d.to_string()))?;
            }
        }
        Verdict::DeviationGone { reason } => writeln!(
            out,
            "FAILED  {spec}: runs as expected now; remove its known_deviation ({})",
            untrusted::line(reason)
        )?,
        Verdict::Error { message } => {
            writeln!(out, "ERROR   {spec}: {}", untrusted::block(message, "    "))?
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;
    use orch_workflow::rehearsal::Divergence;

    use super::*;
    use crate::cli::{Cli, Command};

    #[test]
    fn test_takes_several_specs_and_needs_one() {
        let cli = Cli::try_parse_from(["orch", "workflow", "test", "a.test.yaml", "dir", "--json"])
            .expect("parses");
        let Command::Workflow(WorkflowCommand::Test(args)) = cli.command else {
            panic!("not workflow test")
        };
        assert_eq!(
            args.specs,
            [PathBuf::from("a.test.yaml"), PathBuf::from("dir")]
        );
        assert!(args.json);
        assert!(Cli::try_parse_from(["orch", "workflow", "test"]).is_err());
    }

    #[test]
    fn a_failure_prints_its_differences_and_both_sequences() {
        let report = Report {
            spec: "s.test.yaml".into(),
            description: None,
            verdict: Verdict::Failed {
                divergences: vec![Divergence::Step {
                    step: 2,
                    expected: Some("b#1".into()),
                    got: Some("c#1\u{1b}[2K".into()),
                }],
            },
            expected: vec!["a#1".into(), "b#1".into()],
            got: vec!["a#1".into(), "c#1".into()],
            status: "succeeded".into(),
            rerun: 0,
            output: None,
            errors: Vec::new(),
        };
        let mut out = Vec::new();
        print_report(&mut out, &report).expect("prints");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(
            text,
            "FAILED  s.test.yaml\n    step 2: expected b#1, got c#1\\x1b[2K\n    expected: a#1 b#1\n    got:      a#1 c#1\n"
        );
    }
}
