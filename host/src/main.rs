//! The `orch` binary: parse the command line, run it, print the error chain, exit.

use std::process::ExitCode;

use clap::Parser as _;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = orch::cli::Cli::parse();
    let default_filter = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_env("ORCH_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter)),
        )
        .without_time()
        // Colour only on a terminal: a file or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(orch::cli::EXIT_INTERNAL);
        }
    };
    match runtime.block_on(orch::cli::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            // Errors carry text from packs and devices: escaped, continuation lines indented.
            use orch::cli::untrusted::block;
            eprintln!("error: {}", block(&err.to_string(), "  "));
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {}", block(&cause.to_string(), "    "));
            }
            orch::cli::exit_code_for(&err)
        }
    }
}
