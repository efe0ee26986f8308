//! Command-line interface: clap types and one module per verb. Nothing below `cli` knows clap.
//!
//! Exit codes: 0 success (a run succeeded); 1 the action or run failed (the pack reported an
//! error, the sandbox stopped it, the run failed or was canceled); 2 bad usage or input, fixable
//! by the user (unknown pack, input that fails its schema, a file that is not a pack, a workflow
//! that does not parse, a run driven by another process); 3 orch itself or its environment
//! failed (store, disk, a bug); 4 the run stopped unfinished: paused by a signal, waiting for an
//! answer (`orch runs respond`) or needing a person (`orch runs resume --retry-interrupted`).

mod action;
mod catalog;
mod events;
mod hostkey;
mod inventory;
mod pack;
mod rule;
mod run;
mod runs;
mod secret;
mod serve;
mod session;
pub mod untrusted;
mod workflow;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::packs::PackError;
use crate::runtime::{ComponentError, SandboxError};
use crate::schema::InputRejected;

/// Exit code: the action or run failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad usage or input.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: orch or its environment failed.
pub const EXIT_INTERNAL: u8 = 3;
/// Exit code: the run is paused, waiting for an answer, or needs a person.
pub const EXIT_WAITING: u8 = 4;

/// orch runs automation packs (WebAssembly components) in a sandbox.
#[derive(Debug, Parser)]
#[command(name = "orch", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// Directory holding the store and installed packs [default: ~/.local/share/orch].
    #[arg(long, env = "ORCH_HOME", global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// More diagnostics on stderr (-v info, -vv debug); ORCH_LOG sets a filter instead.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Install, inspect and remove automation packs.
    #[command(subcommand)]
    Pack(pack::PackCommand),
    /// Run a single pack action.
    #[command(subcommand)]
    Action(action::ActionCommand),
    /// Run a workflow in the foreground: progress on stderr, outputs on stdout.
    Run(run::RunArgs),
    /// List, inspect, resume, answer and cancel workflow runs.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    /// Check workflows offline and draw their task graphs.
    #[command(subcommand)]
    Workflow(workflow::WorkflowCommand),
    /// Store, list and remove credentials (encrypted at rest, bound to destinations).
    #[command(subcommand)]
    Secret(secret::SecretCommand),
    /// Import, list, show and remove the devices of the inventory.
    #[command(subcommand)]
    Inventory(inventory::InventoryCommand),
    /// Read and write versioned records of the data catalog (e.g. configs R1/golden).
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
    /// List, trust and forget the SSH host keys packs' connections are checked against.
    #[command(subcommand)]
    Hostkey(hostkey::HostkeyCommand),
    /// Run the service: drive runs, take events (webhooks, syslog, schedules, finished runs),
    /// let the rules fire workflows. Stops on Ctrl-C or SIGTERM, leaving runs resumable.
    Serve(Box<serve::ServeArgs>),
    /// Check, list and try the rules `orch serve` loads.
    #[command(subcommand)]
    Rule(rule::RuleCommand),
    /// List and show the events `orch serve` received and what each rule decided.
    #[command(subcommand)]
    Events(events::EventsCommand),
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let session = session::Session::new(cli.home);
    match cli.command {
        Command::Pack(command) => pack::run(&session, command).await,
        Command::Inventory(command) => inventory::run(&session, command).await,
        Command::Catalog(command) => catalog::run(&session, command).await,
        Command::Action(command) => action::run(&session, command).await,
        Command::Run(args) => run::run(&session, args).await,
        Command::Runs(command) => runs::run(&session, command).await,
        Command::Workflow(command) => workflow::run(&session, command).await,
        Command::Secret(command) => secret::run(&session, command).await,
        Command::Hostkey(command) => hostkey::run(&session, command).await,
        Command::Serve(args) => serve::run(&session, *args).await,
        Command::Rule(command) => rule::run(&session, command).await,
        Command::Events(command) => events::run(&session, command).await,
    }
}

/// The exit code for a failed command, from the kind of error in its chain.
pub fn exit_code_for(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.is::<action::ActionFailed>() || cause.is::<SandboxError>() {
            return EXIT_FAILED;
        }
        if cause.is::<PackError>()
            || cause.is::<InputRejected>()
            || cause.is::<ComponentError>()
            || cause.is::<action::InputError>()
            || cause.is::<crate::engine::EngineError>()
            || cause.is::<crate::vault::VaultError>()
            || cause.is::<crate::capabilities::grants::BadGrant>()
            || cause.is::<crate::catalog::CatalogError>()
            || cause.is::<crate::service::ServeError>()
            || cause.is::<crate::rules::RulesRefused>()
            || cause.is::<crate::events::NoEvent>()
        {
            return EXIT_USAGE;
        }
    }
    EXIT_INTERNAL
}
