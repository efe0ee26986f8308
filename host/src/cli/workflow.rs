//! `orch workflow validate|graph`: check a workflow offline, or print its task graph.

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};

use super::run::{DriveArgs, with_engine};
use super::session::Session;
use super::untrusted;
use crate::engine::{EngineError, Quiet, Settings};
use orch_workflow::{Problem, Workflow};

/// `orch workflow …`
#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Check a workflow without running it: shape, tasks, actions, expressions, inputs.
    Validate(ValidateArgs),
    /// Print the task graph (Mermaid or Graphviz DOT).
    Graph(GraphArgs),
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
