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
mod store;
mod token;
mod trust;
pub mod untrusted;
mod worker;
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

/// How a command ended, as the process reports it (the module docs give the meanings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0.
    Success,
    /// 1: the action or run failed.
    Failed,
    /// 2: bad usage or input; the user can fix it.
    Usage,
    /// 3: orch or its environment failed.
    Internal,
    /// 4: the run stopped unfinished (paused, waiting, needing a person).
    Waiting,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(match status {
            ExitStatus::Success => 0,
            ExitStatus::Failed => EXIT_FAILED,
            ExitStatus::Usage => EXIT_USAGE,
            ExitStatus::Internal => EXIT_INTERNAL,
            ExitStatus::Waiting => EXIT_WAITING,
        })
    }
}

/// An error that knows what it means for the exit status. Each error type a user can cause
/// says so itself; anything else (I/O, the store, a bug) is internal.
pub trait Classify {
    /// The exit status this error ends a command with.
    fn exit_status(&self) -> ExitStatus;
}

/// Declares, once, the error types a user can cause and the exit status each means: their
/// [`Classify`] impls and the lookup [`ExitStatus::of`] does over an error chain.
macro_rules! classified {
    ($($status:ident: [$($ty:ty),* $(,)?]),* $(,)?) => {
        $($(impl Classify for $ty {
            fn exit_status(&self) -> ExitStatus {
                ExitStatus::$status
            }
        })*)*

        /// The exit status `cause` means, if it is one of the classified types.
        fn classify(cause: &(dyn std::error::Error + 'static)) -> Option<ExitStatus> {
            $($(if let Some(e) = cause.downcast_ref::<$ty>() {
                return Some(e.exit_status());
            })*)*
            None
        }
    };
}

classified!(
    Failed: [action::ActionFailed, SandboxError],
    Usage: [
        PackError,
        InputRejected,
        ComponentError,
        action::InputError,
        crate::engine::EngineError,
        crate::engine::rehearsals::SpecsError,
        crate::vault::VaultError,
        crate::policy::grants::BadGrant,
        crate::catalog::CatalogError,
        crate::auth::AuthError,
        crate::service::ServeError,
        crate::rules::RulesRefused,
        crate::events::NoEvent,
    ],
);

impl ExitStatus {
    /// The status a failed command ends with: that of the first error in its chain that knows
    /// (the outermost typed error wins), else internal.
    pub fn of(error: &anyhow::Error) -> Self {
        error
            .chain()
            .find_map(classify)
            .unwrap_or(ExitStatus::Internal)
    }
}

/// orch runs automation packs (WebAssembly components) in a sandbox.
#[derive(Debug, Parser)]
#[command(name = "orch", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// Directory holding the store and installed packs [default: ~/.local/share/orch].
    #[arg(long, env = "ORCH_HOME", global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Pack instances this process may run at once (a workflow's fan-out beyond it waits for a
    /// slot). Device work mostly waits on the network, so a host driving many devices wants
    /// more than the default; each live instance costs its memory (about 2 MiB for a small Rust
    /// pack, more for Python and JavaScript).
    #[arg(
        long,
        env = "ORCH_MAX_INSTANCES",
        global = true,
        value_name = "N",
        default_value_t = crate::runtime::DEFAULT_MAX_INSTANCES,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::runtime::MAX_INSTANCES_LIMIT))
    )]
    pub max_instances: u32,
    /// The store in PostgreSQL (postgres://USER:PASSWORD@HOST:PORT/DATABASE) instead of the
    /// home's SQLite file: several orch processes, on one machine or many, then share one store.
    /// The home still holds the master key and the pack files.
    #[arg(
        long,
        env = "ORCH_DATABASE_URL",
        global = true,
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
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
    /// Create, list and revoke tokens of the service's HTTP API (viewer, operator, admin).
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Trust vendors' keys to sign packs, and require signed packs.
    #[command(subcommand)]
    Trust(trust::TrustCommand),
    /// Take runs from the shared store and drive them, with other workers (see
    /// ORCH_DATABASE_URL); Ctrl-C or SIGTERM drains it: no new runs, its runs finish or are
    /// handed back.
    Worker(Box<worker::WorkerArgs>),
    /// List the workers sharing the store.
    #[command(subcommand)]
    Workers(worker::WorkersCommand),
    /// Move the store from the home's SQLite file into PostgreSQL.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Print shell completions: `orch completions bash > /etc/bash_completion.d/orch`, or for
    /// zsh into a directory of your `fpath` as `_orch`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let session = session::Session::new(cli.home, cli.max_instances, cli.database_url);
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
        Command::Token(command) => token::run(&session, command).await,
        Command::Trust(command) => trust::run(&session, command).await,
        Command::Store(command) => store::run(&session, command).await,
        Command::Worker(args) => worker::run(&session, *args).await,
        Command::Workers(command) => worker::list(&session, command).await,
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            clap_complete::generate(shell, &mut Cli::command(), "orch", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The exit code for a failed command (see [`ExitStatus::of`]).
pub fn exit_code_for(error: &anyhow::Error) -> ExitCode {
    ExitStatus::of(error).into()
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    fn parses(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("orch").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_the_documented_forms_and_refuses_contradictions() {
        for ok in [
            &["pack", "add", "x.wasm", "--yes", "--replace"][..],
            &[
                "pack",
                "grant",
                "netdev",
                "ssh:inventory",
                "catalog:configs",
            ],
            &["action", "run", "text.diff", "--input", "{}", "--json"],
            &["run", "provision", "-i", "n=3", "--answer", "approve={}"],
            &[
                "runs",
                "rerun",
                "abc",
                "--task",
                "send",
                "--current-workflow",
            ],
            &[
                "runs",
                "respond",
                "abc",
                "approve",
                "--input",
                "{}",
                "--replace",
            ],
            &["runs", "resume", "abc", "--fail-interrupted"],
            &["secret", "scope", "api", "--pack", "text"],
            &["secret", "scope", "api", "--any-pack"],
            &["-vv", "runs", "list", "--json"],
            &["completions", "zsh"],
            &[
                "token",
                "create",
                "ci",
                "--role",
                "operator",
                "--expires",
                "30d",
            ],
        ] {
            assert!(parses(ok).is_ok(), "{ok:?}: {:?}", parses(ok).err());
        }
        for bad in [
            &[
                "runs",
                "resume",
                "abc",
                "--retry-interrupted",
                "--fail-interrupted",
            ][..],
            &["secret", "scope", "api"],
            &["secret", "scope", "api", "--pack", "a", "--any-pack"],
            &["pack", "revoke", "netdev"],
            &["runs", "rerun"],
            &["token", "create", "ci", "--role", "root"],
            &["nonsense"],
        ] {
            assert!(parses(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn typed_errors_give_their_exit_status_whatever_wraps_them() {
        let usage = anyhow::Error::new(PackError::NotInstalled("x".into())).context("adding");
        assert_eq!(ExitStatus::of(&usage), ExitStatus::Usage);
        let internal = anyhow::anyhow!("disk full").context("writing the journal");
        assert_eq!(ExitStatus::of(&internal), ExitStatus::Internal);
    }
}
