//! `orch serve`: the long-running service (`crate::service`): runs, events, rules, webhooks,
//! syslog, schedules. Prints where it listens on stdout once ready, and a summary when stopped.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::run::{DriveArgs, wait_for_signal};
use super::session::Session;
use crate::engine::Settings;
use crate::runtime::Limits;
use crate::service::{self, Config, Listening};

/// `orch serve` arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// HTTP address (the API at /api/v1, webhooks at /hooks/NAME, /metrics, /healthz, /readyz).
    /// Port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate chain (PEM, the server's certificate first).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1; keep it mode 600).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on an address that is not loopback (tokens and webhook bodies then
    /// cross the network in clear: prefer --tls-cert/--tls-key).
    #[arg(long, conflicts_with = "tls_cert")]
    pub insecure_http: bool,
    /// Directory of rules, one YAML file per rule [default: ./rules].
    #[arg(long, env = "ORCH_RULES", value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Receive syslog over UDP on this address (e.g. 0.0.0.0:514).
    #[arg(long, value_name = "ADDR")]
    pub syslog_udp: Option<SocketAddr>,
    /// Receive syslog over TCP on this address (RFC 6587 framing or one message per line).
    #[arg(long, value_name = "ADDR")]
    pub syslog_tcp: Option<SocketAddr>,
    /// Events waiting to be stored at most; a syslog flood beyond it is dropped and counted.
    #[arg(long, value_name = "N", default_value_t = service::DEFAULT_QUEUE)]
    pub queue: usize,
    /// Largest webhook body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = service::DEFAULT_MAX_BODY)]
    pub max_body: usize,
    /// With a database URL (ORCH_DATABASE_URL), `orch serve` also takes queued runs as
    /// `orch worker` does; this turns that off.
    #[arg(long)]
    pub no_worker: bool,
    /// The tags the server takes queued runs with, as `orch worker --tags` (KEY=VALUE,...).
    #[arg(long, value_name = "KEY=VALUE,...", value_parser = super::worker::parse_tags, default_value = "")]
    pub worker_tags: std::collections::BTreeMap<String, String>,
    #[command(flatten)]
    pub drive: DriveArgs,
}

pub async fn run(session: &Session, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let root = session.root()?;
    let config = Config {
        listen: args.listen,
        insecure_http: args.insecure_http,
        tls: args.tls_cert.zip(args.tls_key),
        rules_dir: crate::rules::resolve_dir(args.rules.as_deref()),
        syslog_udp: args.syslog_udp,
        syslog_tcp: args.syslog_tcp,
        queue: args.queue,
        max_body: args.max_body,
        engine: Settings {
            limits: Limits::DEFAULT,
            grace: Duration::from_secs_f64(args.drive.grace.max(0.0)),
            workflows_dir: args.drive.workflows.clone(),
            ..Settings::default()
        },
        broker: args.drive.host_keys.broker_settings(),
        runtime: session.engine_settings(Limits::DEFAULT.memory_bytes),
        database_url: session.database_url().map(str::to_owned),
        worker: (session.database_url().is_some() && !args.no_worker).then(|| {
            crate::worker::WorkerConfig {
                tags: args.worker_tags.clone(),
                concurrency: 16,
                poll: crate::worker::POLL,
                engine: Settings {
                    limits: Limits::DEFAULT,
                    grace: Duration::from_secs_f64(args.drive.grace.max(0.0)),
                    workflows_dir: args.drive.workflows.clone(),
                    hand_out_children: true,
                    ..Settings::default()
                },
            }
        }),
    };
    let rules_dir = config.rules_dir.clone();
    let stopped = service::serve(
        root.clone(),
        config,
        |l| print_ready(&root, &rules_dir, l),
        wait_for_signal(),
    )
    .await?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "stopped; {} run{} paused or running elsewhere, resumed at the next start",
        stopped.paused,
        if stopped.paused == 1 { "" } else { "s" }
    )?;
    Ok(ExitCode::SUCCESS)
}

fn print_ready(root: &std::path::Path, rules: &std::path::Path, l: &Listening) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "serving ORCH_HOME {}", root.display());
    let scheme = if l.https { "https" } else { "http" };
    let _ = writeln!(out, "http: {scheme}://{}", l.http);
    if let Some(a) = l.syslog_udp {
        let _ = writeln!(out, "syslog udp: {a}");
    }
    if let Some(a) = l.syslog_tcp {
        let _ = writeln!(out, "syslog tcp: {a}");
    }
    let hooks = if l.hooks.is_empty() {
        String::new()
    } else {
        format!(
            "; webhooks: {}",
            l.hooks
                .iter()
                .map(|h| format!("/hooks/{h}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let _ = writeln!(out, "rules: {} from {}{hooks}", l.rules, rules.display());
    if !l.resumed.is_empty() {
        let _ = writeln!(out, "resumed runs: {}", l.resumed.join(", "));
    }
    let _ = writeln!(out, "ready");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use crate::cli::{Cli, Command};

    fn parses(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("orch").chain(args.iter().copied()))
    }

    #[test]
    fn the_service_verbs_parse_and_refuse_bad_addresses() {
        let cli = parses(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--syslog-udp",
            "0.0.0.0:5514",
            "--syslog-tcp",
            "[::1]:5514",
            "--rules",
            "r",
            "--grace",
            "2",
            "--queue",
            "16",
            "--max-body",
            "1024",
        ])
        .expect("parses");
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.listen.port(), 0);
        assert_eq!(args.queue, 16);
        assert!(!args.insecure_http);
        assert!(parses(&["serve", "--listen", "localhost"]).is_err());
        assert!(
            parses(&["serve", "--tls-cert", "c.pem"]).is_err(),
            "a certificate needs its key"
        );
        assert!(
            parses(&[
                "serve",
                "--tls-cert",
                "c.pem",
                "--tls-key",
                "k.pem",
                "--insecure-http"
            ])
            .is_err(),
            "TLS and plain HTTP at once"
        );
        let cli = parses(&["serve", "--tls-cert", "c.pem", "--tls-key", "k.pem"]).expect("parses");
        let Command::Serve(tls) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(tls.tls_key.as_deref(), Some(std::path::Path::new("k.pem")));
        assert!(parses(&["serve", "--syslog-udp", "514"]).is_err());
        for ok in [
            &["rule", "validate"][..],
            &["rule", "validate", "a.yaml", "dir"],
            &["rule", "list", "--json"],
            &["rule", "test", "config-changed", "{}", "--json"],
            &[
                "events", "list", "--type", "syslog", "--rule", "r", "--limit", "5",
            ],
            &["events", "show", "3", "--json"],
            &[
                "secret",
                "set",
                "hook",
                "--kind",
                "webhook-hmac",
                "--from-stdin",
            ],
            &[
                "secret",
                "set",
                "tok",
                "--kind",
                "webhook-token",
                "--from-stdin",
            ],
        ] {
            parses(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
        assert!(parses(&["rule", "test", "only-a-rule"]).is_err());
        assert!(parses(&["events", "show"]).is_err());
    }
}
