//! The `{{name}}` pack: three actions that show the shapes a pack's actions take.
//!
//! - `summarize` computes from its input alone; its example is run by `orch pack check`.
//! - `device_status` asks an HTTP API, with a credential the host injects (the pack never
//!   sees it), and turns the API's statuses into error codes workflows can retry on.
//! - `uptime` runs a command on a device over SSH, logged in by the host.
//!
//! The tests at the end run each action natively: `orch_sdk::testing::TestHost` answers the
//! http and ssh calls from a script and records what the action sent.

use std::time::Duration;

use orch_sdk::http::Request;
use orch_sdk::ssh::{Session, Target};
use orch_sdk::{Action, ActionError, Context, DestinationKind, Pack, PackDef};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Input of `summarize`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SummarizeInput {
    /// The text to summarise.
    pub text: String,
}

/// Output of `summarize`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Summary {
    /// Number of lines.
    pub lines: usize,
    /// The longest line, if there is any text.
    pub longest: Option<String>,
}

fn summarize(input: SummarizeInput, ctx: &Context) -> Result<Summary, ActionError> {
    ctx.info("summarizing");
    Ok(Summary {
        lines: input.text.lines().count(),
        longest: input
            .text
            .lines()
            .max_by_key(|line| line.len())
            .map(str::to_owned),
    })
}

/// Input of `device_status`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusInput {
    /// The device's name in the monitoring API.
    #[schemars(length(min = 1, max = 64))]
    pub device: String,
}

/// Output of `device_status`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Status {
    /// What the API says (`up`, `down`, …).
    pub status: String,
}

/// What the monitoring API answers.
#[derive(Debug, Deserialize)]
struct ApiDevice {
    status: String,
}

fn device_status(input: StatusInput, _ctx: &Context) -> Result<Status, ActionError> {
    let device: ApiDevice = Request::get(format!(
        "https://api.example.com/v1/devices/{}",
        input.device
    ))
    .credential("api-token")
    .timeout(Duration::from_secs(10))
    .send()?
    // 401/403 → auth_failed; 429 → rate_limited and 5xx → unavailable, both retryable.
    .error_for_status()?
    .json()?;
    Ok(Status {
        status: device.status,
    })
}

/// Input of `uptime`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UptimeInput {
    /// The device's name in the inventory: the host supplies its address and login.
    pub device: String,
}

/// Output of `uptime`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Uptime {
    /// What `uptime` printed.
    pub uptime: String,
}

fn uptime(input: UptimeInput, _ctx: &Context) -> Result<Uptime, ActionError> {
    let session = Session::connect(Target::inventory(&input.device), None)?;
    let out = session.exec("uptime", Duration::from_secs(10))?;
    if !out.success() {
        return Err(ActionError::new(
            "command_failed",
            format!("uptime on {} failed: {}", input.device, out.stderr.trim()),
        ));
    }
    Ok(Uptime {
        uptime: out.stdout.trim().to_owned(),
    })
}

/// The pack (`pub`: a native build exports nothing, and a private type would be dead code).
pub struct ThePack;

impl Pack for ThePack {
    fn define() -> PackDef {
        PackDef::new("{{name}}", env!("CARGO_PKG_VERSION"))
            .vendor("Your Company")
            .description("What this pack automates, in one sentence.")
            .destination(
                DestinationKind::Http,
                "api.example.com:443",
                "the monitoring API",
            )
            .destination(DestinationKind::Ssh, "inventory", "devices of the inventory")
            .action(
                Action::new(
                    "summarize",
                    "Count the lines of a text and find the longest.",
                    summarize,
                )
                .example(serde_json::json!({ "text": "hostname r1\nntp server 10.0.0.1" })),
            )
            .action(Action::new(
                "device_status",
                "Ask the monitoring API for a device's status.",
                device_status,
            ))
            .action(Action::new(
                "uptime",
                "Run `uptime` on an inventory device over SSH.",
                uptime,
            ))
    }
}

orch_sdk::export_pack!(ThePack);

#[cfg(test)]
mod tests {
    use orch_sdk::ErrorCode;
    use orch_sdk::testing::TestHost;
    use serde_json::json;

    use super::*;

    #[test]
    fn the_definition_passes_the_checks_of_pack_add() {
        assert_eq!(ThePack::define().validate(), Ok(()));
    }

    #[test]
    fn summarize_counts_lines_and_logs() {
        let ctx = Context::for_tests();
        let out = ThePack::define().call("summarize", r#"{"text":"a\nbcd\nef"}"#, &ctx);
        assert_eq!(out.unwrap(), r#"{"lines":3,"longest":"bcd"}"#);
        assert_eq!(ctx.logs()[0].message, "summarizing");
    }

    #[test]
    fn device_status_asks_the_api_with_its_credential() {
        let host = TestHost::new();
        host.http()
            .on("GET", "https://api.example.com/v1/devices/r1")
            .reply(200, json!({ "status": "up" }));
        let out = ThePack::define().call("device_status", r#"{"device":"r1"}"#, &host.context());
        assert_eq!(out.unwrap(), r#"{"status":"up"}"#);
        let sent = host.http().requests();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].credential(), Some("api-token"));
    }

    #[test]
    fn device_status_makes_a_server_error_retryable() {
        let host = TestHost::new();
        host.http()
            .on("GET", "https://api.example.com/v1/devices/r1")
            .reply(503, json!({ "error": "maintenance" }));
        let err = ThePack::define()
            .call("device_status", r#"{"device":"r1"}"#, &host.context())
            .unwrap_err();
        assert_eq!((err.code(), err.is_retryable()), ("unavailable", true));
    }

    #[test]
    fn uptime_runs_the_command_on_the_device() {
        let host = TestHost::new();
        host.ssh()
            .on_exec("uptime")
            .target("R1")
            .reply(" 10:02:11 up 41 days,  3:12,  0 users\n");
        let out = ThePack::define().call("uptime", r#"{"device":"R1"}"#, &host.context());
        assert_eq!(out.unwrap(), r#"{"uptime":"10:02:11 up 41 days,  3:12,  0 users"}"#);
        assert_eq!(host.ssh().commands(), vec!["uptime".to_owned()]);
    }

    #[test]
    fn uptime_says_when_the_device_cannot_be_reached() {
        let host = TestHost::new();
        host.ssh()
            .on_connect("R1")
            .fail(ErrorCode::Unreachable, "no route to R1");
        let err = ThePack::define()
            .call("uptime", r#"{"device":"R1"}"#, &host.context())
            .unwrap_err();
        assert_eq!(err.code(), "unreachable");
    }
}
