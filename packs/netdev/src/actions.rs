//! The actions (`get_running_config`, `run_commands`, `push_config`, `facts`): inputs, outputs
//! and what each does with a device of the inventory.

use std::time::Duration;

use orch_sdk::ssh::{ConnectOptions, Session, Target};
use orch_sdk::{ActionError, Context, catalog};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cli::{self, Commitment, Confirm, Refusal};
use crate::config;
use crate::facts;
use crate::profile::{self, Access};

/// How long a command run over exec (Linux) may take.
const EXEC_TIMEOUT: Duration = Duration::from_secs(60);

/// A device of the inventory and how to reach it.
struct Resolved {
    device: catalog::Device,
    access: Access,
}

fn resolve(name: &str) -> Result<Resolved, ActionError> {
    if name.trim().is_empty() {
        return Err(ActionError::invalid_input(
            "device is empty; pass the inventory name of a device",
        ));
    }
    let device = catalog::device(name)?;
    let access = profile::for_platform(&device.platform).ok_or_else(|| {
        ActionError::new(
            "unsupported_platform",
            format!(
                "device {name:?} has platform {:?}, which netdev does not drive; supported: {}",
                device.platform,
                profile::PLATFORMS
            ),
        )
    })?;
    Ok(Resolved { device, access })
}

/// The enable credential: the input's, else the device var `enable_credential`.
fn enable_credential<'a>(input: Option<&'a str>, device: &'a catalog::Device) -> Option<&'a str> {
    input.or_else(|| device.var_str("enable_credential"))
}

fn exec_session(device: &str) -> Result<Session, ActionError> {
    Ok(ConnectOptions::new(Target::inventory(device))
        .timeout(cli::CONNECT_TIMEOUT)
        .connect()?)
}

fn config_path(device: &catalog::Device) -> Result<&str, ActionError> {
    device.var_str("config_path").ok_or_else(|| {
        ActionError::new(
            "invalid_inventory",
            format!(
                "linux device {:?} has no var config_path naming its config file; add it to the inventory",
                device.name
            ),
        )
    })
}

/// Input of `get_running_config`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetRunningConfigInput {
    /// Inventory name of the device (`R1`).
    device: String,
    /// Vault credential (`ssh-password`) holding the enable secret; default: the device var
    /// `enable_credential`.
    #[serde(default)]
    enable_credential: Option<String>,
    /// `native` (default): the platform's own display; `set`: set commands, on platforms that
    /// have that display (Junos `show configuration | display set`).
    #[serde(default)]
    format: Format,
}

/// A config display.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// The platform's own display (Junos: hierarchical, in braces).
    #[default]
    Native,
    /// Set commands (Junos).
    Set,
}

/// Output of `get_running_config`.
#[derive(Serialize, JsonSchema)]
pub struct GetRunningConfigOutput {
    /// Inventory name of the device.
    device: String,
    /// Its platform.
    platform: String,
    /// The running config, normalised: no banners or size lines, no trailing spaces, `\n`
    /// line ends, ending with one `\n`.
    config: String,
    /// The display it is in.
    format: Format,
}

pub fn get_running_config(
    input: GetRunningConfigInput,
    ctx: &Context,
) -> Result<GetRunningConfigOutput, ActionError> {
    let Resolved { device, access } = resolve(&input.device)?;
    let set = input.format == Format::Set;
    let config = match access {
        Access::Cli(profile) => {
            if set && profile.show_running_set.is_none() {
                return Err(ActionError::invalid_input(format!(
                    "format set: platform {} has no set-command display; use format native",
                    profile.platform
                )));
            }
            let credential = enable_credential(input.enable_credential.as_deref(), &device);
            let cli = cli::open(profile, &device.name, credential)?;
            config::clean_running_config(profile, &cli.show_running(set)?)
        }
        Access::Exec if set => {
            return Err(ActionError::invalid_input(
                "format set: linux configs are files; use format native",
            ));
        }
        Access::Exec => {
            let path = config_path(&device)?;
            let session = exec_session(&device.name)?;
            let out = session.exec(
                &format!("cat -- '{}'", path.replace('\'', r"'\''")),
                EXEC_TIMEOUT,
            )?;
            if !out.success() {
                return Err(ActionError::new(
                    "command_failed",
                    format!(
                        "reading {path} on {:?} failed ({:?}): {}",
                        device.name,
                        out.exit_status,
                        out.stderr.trim()
                    ),
                ));
            }
            config::normalise(&out.stdout)
        }
    };
    ctx.info(&format!(
        "read the running config of {} ({} lines)",
        device.name,
        config.lines().count()
    ));
    Ok(GetRunningConfigOutput {
        device: device.name,
        platform: device.platform,
        config,
        format: input.format,
    })
}

/// Input of `run_commands`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCommandsInput {
    /// Inventory name of the device.
    device: String,
    /// Commands run in privileged mode (CLI devices) or one exec each (Linux), in order.
    commands: Vec<String>,
    /// Vault credential holding the enable secret; default: the device var `enable_credential`.
    #[serde(default)]
    enable_credential: Option<String>,
}

/// One command's output.
#[derive(Serialize, JsonSchema)]
pub struct CommandOutput {
    /// The command.
    command: String,
    /// What it printed, without the echoed command and the prompt (stdout for Linux).
    output: String,
}

/// Output of `run_commands`.
#[derive(Serialize, JsonSchema)]
pub struct RunCommandsOutput {
    /// One entry per command, in order.
    outputs: Vec<CommandOutput>,
}

pub fn run_commands(
    input: RunCommandsInput,
    _ctx: &Context,
) -> Result<RunCommandsOutput, ActionError> {
    if input.commands.is_empty() {
        return Err(ActionError::invalid_input(
            "commands is empty; pass at least one command",
        ));
    }
    if let Some(bad) = input.commands.iter().find(|c| c.contains(['\n', '\r'])) {
        return Err(ActionError::invalid_input(format!(
            "command {bad:?} spans lines; pass one command per entry"
        )));
    }
    let Resolved { device, access } = resolve(&input.device)?;
    let mut outputs = Vec::with_capacity(input.commands.len());
    match access {
        Access::Cli(profile) => {
            let credential = enable_credential(input.enable_credential.as_deref(), &device);
            let cli = cli::open(profile, &device.name, credential)?;
            for command in input.commands {
                let output = cli.command(&command)?;
                outputs.push(CommandOutput { command, output });
            }
        }
        Access::Exec => {
            let session = exec_session(&device.name)?;
            for command in input.commands {
                let out = session.exec(&command, EXEC_TIMEOUT)?;
                outputs.push(CommandOutput {
                    command,
                    output: out.stdout,
                });
            }
        }
    }
    Ok(RunCommandsOutput { outputs })
}

/// A config as one text or as lines.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ConfigInput {
    /// Config text; indented lines belong to the section line above.
    Text(String),
    /// Config lines; indented lines belong to the section line above.
    Lines(Vec<String>),
}

impl ConfigInput {
    fn text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Lines(lines) => lines.join("\n"),
        }
    }
}

/// Input of `push_config`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PushConfigInput {
    /// Inventory name of the device.
    device: String,
    /// The config to apply.
    config: ConfigInput,
    /// Only compute what would be sent; config mode is not entered.
    #[serde(default)]
    dry_run: bool,
    /// Treat `config` as the whole intended config: also remove what the device has beyond it
    /// (see the pack's replace rule). Default: merge, only adding and changing lines.
    #[serde(default)]
    replace: bool,
    /// Save the running config to startup afterwards (`write memory`, `save`, …; on
    /// platforms where a commit persists the config, nothing more is done).
    #[serde(default)]
    save: bool,
    /// On platforms with a candidate config (Junos, IOS XR): commit with a confirm timer of
    /// this many seconds (raised to the platform's minimum), then confirm once the device still
    /// answers, so a change that cuts the device off rolls itself back.
    #[serde(default)]
    confirm_seconds: Option<u32>,
    /// With `confirm_seconds`: leave the commit unconfirmed (the device rolls it back unless
    /// someone confirms in time).
    #[serde(default)]
    leave_unconfirmed: bool,
    /// Vault credential holding the enable secret; default: the device var `enable_credential`.
    #[serde(default)]
    enable_credential: Option<String>,
}

/// Output of `push_config`.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum PushConfigOutput {
    /// A dry run.
    DryRun {
        /// The lines a real push would type in config mode.
        would_send: Vec<String>,
        /// `merge` or `replace`.
        mode: String,
    },
    /// A push.
    Pushed {
        /// The lines typed in config mode.
        sent: Vec<String>,
        /// Lines the device refused (empty: a refusal fails the action with `rejected`).
        errors: Vec<Refusal>,
        /// `merge` or `replace`.
        mode: String,
        /// Whether the config was saved to startup.
        saved: bool,
        /// On platforms with a candidate config: how it was committed.
        #[serde(skip_serializing_if = "Option::is_none")]
        committed: Option<Commitment>,
    },
}

pub fn push_config(input: PushConfigInput, ctx: &Context) -> Result<PushConfigOutput, ActionError> {
    let text = input.config.text();
    // Before any host call: a config of comments and end markers only is a mistake.
    let has_lines = text.lines().map(str::trim).any(|line| {
        !line.is_empty()
            && !line.starts_with(['!', '#'])
            && !matches!(line, "end" | "return" | ": end")
    });
    if !has_lines && !input.replace {
        return Err(ActionError::invalid_input(
            "config has no config lines; pass the lines to apply",
        ));
    }
    let Resolved { device, access } = resolve(&input.device)?;
    let Access::Cli(profile) = access else {
        return Err(ActionError::new(
            "unsupported_platform",
            format!(
                "push_config drives network CLIs; device {:?} is {}: change its file with your own tooling",
                device.name, device.platform
            ),
        ));
    };
    let syntax = profile.syntax;
    if input.confirm_seconds.is_some() && profile.commit.is_none() {
        return Err(ActionError::invalid_input(format!(
            "confirm_seconds: platform {} has no candidate config to commit with a confirm timer",
            profile.platform
        )));
    }
    let confirm = input.confirm_seconds.map(|seconds| Confirm {
        seconds,
        leave_unconfirmed: input.leave_unconfirmed,
    });
    let mode = if input.replace { "replace" } else { "merge" }.to_owned();
    let credential = enable_credential(input.enable_credential.as_deref(), &device);
    // A merge dry run needs no device at all; a replace needs the running config to diff.
    let mut cli_open = None;
    let lines = if input.replace {
        let cli = cli::open(profile, &device.name, credential)?;
        let set = profile.show_running_set.is_some();
        let running = config::clean_running_config(profile, &cli.show_running(set)?);
        cli_open = Some(cli);
        config::replace_lines(syntax, &running, &text)
    } else {
        config::merge_lines(syntax, &text)
    };
    if input.dry_run {
        return Ok(PushConfigOutput::DryRun {
            would_send: lines,
            mode,
        });
    }
    let cli = match cli_open {
        Some(cli) => cli,
        None => cli::open(profile, &device.name, credential)?,
    };
    push_lines(&cli, &device.name, lines, mode, input.save, confirm, ctx)
}

fn push_lines(
    cli: &cli::Cli,
    device: &str,
    lines: Vec<String>,
    mode: String,
    save: bool,
    confirm: Option<Confirm>,
    ctx: &Context,
) -> Result<PushConfigOutput, ActionError> {
    if lines.is_empty() {
        ctx.info(&format!("{device} already has this config; nothing sent"));
        return Ok(PushConfigOutput::Pushed {
            sent: lines,
            errors: Vec::new(),
            mode,
            saved: false,
            committed: None,
        });
    }
    let configured = cli.configure(&lines, confirm)?;
    let sent = configured.sent;
    if let Some(refusal) = configured.refusal {
        let applied = if cli.has_candidate() {
            "the candidate was thrown away, nothing was applied".to_owned()
        } else {
            format!(
                "{} of {} lines were applied before it",
                sent.len() - 1,
                lines.len()
            )
        };
        return Err(ActionError::new(
            "rejected",
            format!(
                "device {device:?} refused {:?}: {}; {applied}, the rest was not sent",
                refusal.line, refusal.error,
            ),
        )
        .with_details(serde_json::json!({ "sent": sent, "errors": [refusal] })));
    }
    let saved = if save { cli.save()? } else { false };
    ctx.info(&format!(
        "sent {} config lines to {device} ({mode})",
        sent.len()
    ));
    Ok(PushConfigOutput::Pushed {
        sent,
        errors: Vec::new(),
        mode,
        saved,
        committed: configured.committed,
    })
}

/// Input of `facts`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FactsInput {
    /// Inventory name of the device.
    device: String,
    /// Vault credential holding the enable secret; default: the device var `enable_credential`.
    #[serde(default)]
    enable_credential: Option<String>,
}

/// Output of `facts`.
#[derive(Serialize, JsonSchema)]
pub struct FactsOutput {
    /// Inventory name of the device.
    device: String,
    /// Its platform.
    platform: String,
    /// The normalised facts.
    facts: facts::Facts,
    /// The commands read and the templates that parsed them.
    parsed: Vec<facts::Parsed>,
}

/// Reads every command of the platform's facts spec and parses it; a template missing from the
/// catalog fails before the device is touched.
pub fn facts(input: FactsInput, ctx: &Context) -> Result<FactsOutput, ActionError> {
    let Resolved { device, access } = resolve(&input.device)?;
    let Access::Cli(profile) = access else {
        return Err(ActionError::new(
            "unsupported_platform",
            format!(
                "facts reads network CLIs; device {:?} is {}, which has no facts templates; supported: {}",
                device.name,
                device.platform,
                facts::SPECS
                    .iter()
                    .map(|s| s.platform)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    let spec = facts::spec(profile.platform).ok_or_else(|| {
        ActionError::new(
            "unsupported_platform",
            format!("no facts templates for platform {}", profile.platform),
        )
    })?;
    let templates = spec
        .sources()
        .map(|source| facts::load_template(source.template))
        .collect::<Result<Vec<_>, _>>()?;
    let credential = enable_credential(input.enable_credential.as_deref(), &device);
    let cli = cli::open(profile, &device.name, credential)?;
    let mut records = Vec::new();
    let mut parsed = Vec::new();
    for (source, template) in spec.sources().zip(&templates) {
        let out = cli.show(source.command)?;
        let these = facts::parse(source, template, &out)?;
        parsed.push(facts::Parsed {
            command: source.command.to_owned(),
            template: facts::template_key(source.template),
            records: these.len(),
        });
        records.push(these);
    }
    let slices: Vec<&[_]> = records.iter().map(Vec::as_slice).collect();
    let facts = facts::normalise(spec, &slices, &facts::prompt_hostname(cli.login_prompt()))?;
    ctx.info(&format!(
        "{}: {} {} {}, {} interfaces",
        device.name,
        facts.vendor,
        facts.model,
        facts.os_version,
        facts.interfaces.len()
    ));
    Ok(FactsOutput {
        device: device.name,
        platform: device.platform,
        facts,
        parsed,
    })
}
