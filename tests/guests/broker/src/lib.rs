//! Test guest `broker`: an SDK pack that exercises every brokered capability (`http`, `ssh` exec,
//! shell and SFTP, `catalog` records, and a flood of them: `catalog_flood`) with the inputs a test chooses, tries to escape the sandbox
//! with std (`peek`), and logs what it is given (`log_and_echo`), so the host's tests can check
//! grants, credential injection, host keys, limits and masking end to end. Host errors pass through unchanged: the
//! action error's code and message are the host's.

use std::collections::BTreeMap;
use std::time::Duration;

use orch_sdk::http::Request;
use orch_sdk::ssh::{
    ConnectOptions, ElevateOptions, Elevation, Session, ShellOptions, Target, command_output,
};
use orch_sdk::{Action, ActionError, Context, DestinationKind, Pack, PackDef};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Input of `http_request`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct HttpRequestInput {
    /// HTTP method (default `GET`).
    #[serde(default = "default_method")]
    method: String,
    /// Absolute URL.
    url: String,
    /// Request headers.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Request body.
    body: Option<String>,
    /// Vault credential for the host to inject.
    credential: Option<String>,
    /// Redirects the host may follow.
    max_redirects: Option<u8>,
    /// Cap on the response body.
    max_response_bytes: Option<u32>,
    /// Timeout of the whole exchange.
    timeout_ms: Option<u32>,
    /// The import to send through: `orch` (default, `orch:pack/http` through the SDK) or
    /// `wasi` (`wasi:http/outgoing-handler`, as a standard client would).
    via: Option<String>,
}

/// Output of `http_request`.
#[derive(Debug, Serialize, JsonSchema)]
struct HttpRequestOutput {
    status: u16,
    /// Headers by name; repeated headers joined with `, `.
    headers: BTreeMap<String, String>,
    /// The body as lossy UTF-8.
    body: String,
    /// The URL that answered, after redirects.
    url: String,
}

/// Where to open an SSH session: an inventory device, or `host` (and `port`, default 22).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SshTarget {
    host: Option<String>,
    port: Option<u16>,
    inventory: Option<String>,
    credential: Option<String>,
}

/// Input of `ssh_exec`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SshExecInput {
    host: Option<String>,
    port: Option<u16>,
    inventory: Option<String>,
    credential: Option<String>,
    command: String,
    /// Timeout of the command (the connection uses the host's default).
    timeout_ms: Option<u32>,
}

/// Output of `ssh_exec`.
#[derive(Debug, Serialize, JsonSchema)]
struct SshExecOutput {
    stdout: String,
    stderr: String,
    exit_status: Option<u32>,
}

/// Privileged mode of a network device through the host's `elevate` (`enable`): the host types
/// `enable` and the secret of `credential`; `prompt` is the privileged prompt, which the commands
/// then use.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Enable {
    credential: String,
    prompt: String,
}

/// An elevation method, as the SDK names them.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Method {
    Enable,
    Super,
    Su,
    Sudo,
}

impl From<Method> for Elevation {
    fn from(method: Method) -> Self {
        match method {
            Method::Enable => Self::Enable,
            Method::Super => Self::Super,
            Method::Su => Self::Su,
            Method::Sudo => Self::Sudo,
        }
    }
}

/// The `elevate` step of `ssh_script`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ElevateStep {
    method: Method,
    credential: Option<String>,
    privileged_prompt: String,
    prompt: Option<String>,
    timeout_ms: Option<u32>,
}

/// Input of `ssh_shell`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SshShellInput {
    host: Option<String>,
    port: Option<u16>,
    inventory: Option<String>,
    credential: Option<String>,
    commands: Vec<String>,
    /// Regex of the prompt after login (and of the commands' prompt without `enable`).
    prompt: String,
    enable: Option<Enable>,
    /// Timeout of each read (default 10 000 ms).
    timeout_ms: Option<u32>,
}

/// Output of `ssh_shell`.
#[derive(Debug, Serialize, JsonSchema)]
struct SshShellOutput {
    /// Each command's output without the echoed command and the trailing prompt.
    outputs: Vec<String>,
    /// Everything read from the shell, in order.
    transcript: String,
}

/// One step of `ssh_script`, written as `{"send": "text"}`, `{"read_until": {"pattern": "R1#",
/// "timeout_ms": 2000}}`, `{"read": {"timeout_ms": 500}}`, `{"send_secret": "credential"}`,
/// `{"elevate": {"method": "su", "credential": "root", "privileged_prompt": "# $"}}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum ScriptStep {
    /// Types the text as given (add `\n` to end a line).
    Send(String),
    /// Reads until the pattern matches.
    ReadUntil {
        pattern: String,
        timeout_ms: Option<u32>,
    },
    /// Returns what arrives within the timeout.
    Read { timeout_ms: u32 },
    /// Asks the host to type the secret of the named credential.
    SendSecret(String),
    /// Asks the host to elevate.
    Elevate(ElevateStep),
}

/// Input of `ssh_script`: what a hostile pack does with a shell, step by step.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SshScriptInput {
    host: Option<String>,
    port: Option<u16>,
    inventory: Option<String>,
    credential: Option<String>,
    steps: Vec<ScriptStep>,
}

/// What one step gave: the text it read (empty for a send), or the host's error.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum StepOutcome {
    Ok(String),
    Error { code: String, message: String },
}

/// Output of `ssh_script`: one outcome per step, in order.
#[derive(Debug, Serialize, JsonSchema)]
struct SshScriptOutput {
    steps: Vec<StepOutcome>,
}

/// Input of `sftp_put`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SftpPutInput {
    host: String,
    port: Option<u16>,
    credential: String,
    path: String,
    content: String,
}

/// Input of `sftp_get`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SftpGetInput {
    host: String,
    port: Option<u16>,
    credential: String,
    path: String,
}

/// Input of `sftp_copy`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SftpCopyInput {
    host: String,
    port: Option<u16>,
    credential: String,
    from: String,
    to: String,
}

/// Output of `sftp_put` and `sftp_copy`.
#[derive(Debug, Serialize, JsonSchema)]
struct Bytes {
    bytes: usize,
}

/// Output of `sftp_get`.
#[derive(Debug, Serialize, JsonSchema)]
struct Content {
    /// The file as lossy UTF-8.
    content: String,
}

/// `{}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// Output of `peek`: what each escape attempt gave, `error: ...` when refused.
#[derive(Debug, Serialize, JsonSchema)]
struct PeekOutput {
    file: String,
    dir: String,
    env: String,
    home: String,
    tcp: String,
}

/// Input and output of `log_and_echo`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Message {
    message: String,
}

fn default_method() -> String {
    "GET".to_owned()
}

fn http_request(input: HttpRequestInput, _: &Context) -> Result<HttpRequestOutput, ActionError> {
    if input.via.as_deref() == Some("wasi") {
        return http_request_wasi(input);
    }
    let mut request = Request::new(input.method, input.url);
    for (name, value) in input.headers {
        request = request.header(name, value);
    }
    if let Some(body) = input.body {
        request = request.body(body);
    }
    if let Some(name) = input.credential {
        request = request.credential(name);
    }
    if let Some(hops) = input.max_redirects {
        request = request.max_redirects(hops);
    }
    if let Some(bytes) = input.max_response_bytes {
        request = request.max_response_bytes(bytes);
    }
    if let Some(ms) = input.timeout_ms {
        request = request.timeout(Duration::from_millis(ms.into()));
    }
    let response = request.send()?;
    let mut headers = BTreeMap::<String, String>::new();
    for (name, value) in &response.headers {
        headers
            .entry(name.clone())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(value);
            })
            .or_insert_with(|| value.clone());
    }
    Ok(HttpRequestOutput {
        status: response.status,
        headers,
        body: response.text().into_owned(),
        url: response.url,
    })
}

/// `http_request` through `wasi:http` (no redirects followed: the host hands them back; no
/// `max_redirects` or `max_response_bytes`: wasi:http has neither).
fn http_request_wasi(input: HttpRequestInput) -> Result<HttpRequestOutput, ActionError> {
    let request = wasi_client::Request {
        method: input.method,
        url: input.url.clone(),
        headers: input.headers.into_iter().collect(),
        body: input.body.map(String::into_bytes),
        credential: input.credential,
        timeout: input.timeout_ms.map(|ms| Duration::from_millis(ms.into())),
    };
    let response = wasi_client::send(&request)
        .map_err(|failure| ActionError::new(failure.code, failure.message))?;
    let mut headers = BTreeMap::<String, String>::new();
    for (name, value) in response.headers {
        headers
            .entry(name)
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(&value);
            })
            .or_insert(value);
    }
    Ok(HttpRequestOutput {
        status: response.status,
        headers,
        body: String::from_utf8_lossy(&response.body).into_owned(),
        url: input.url,
    })
}

fn connect(target: SshTarget) -> Result<Session, ActionError> {
    let to = match (target.inventory, target.host) {
        (Some(name), None) => Target::inventory(name),
        (None, Some(host)) => Target::address(host, target.port.unwrap_or(22)),
        (Some(_), Some(_)) => {
            return Err(ActionError::invalid_input(
                "give either inventory or host, not both",
            ));
        }
        (None, None) => {
            return Err(ActionError::invalid_input(
                "no destination; give inventory or host",
            ));
        }
    };
    let mut options = ConnectOptions::new(to);
    if let Some(name) = target.credential {
        options = options.credential(name);
    }
    Ok(options.connect()?)
}

fn ssh_exec(input: SshExecInput, _: &Context) -> Result<SshExecOutput, ActionError> {
    Ok(exec(input)?.1)
}

/// Runs the command like `ssh_exec`, then leaks the session (never drops its handle), so the
/// host's tests can check that it closes what a pack leaves open when the invocation ends.
fn ssh_leak(input: SshExecInput, _: &Context) -> Result<SshExecOutput, ActionError> {
    let (session, output) = exec(input)?;
    std::mem::forget(session);
    Ok(output)
}

/// Connects as `input` says and runs its command; the session stays open for the caller.
fn exec(input: SshExecInput) -> Result<(Session, SshExecOutput), ActionError> {
    let session = connect(SshTarget {
        host: input.host,
        port: input.port,
        inventory: input.inventory,
        credential: input.credential,
    })?;
    let timeout = input.timeout_ms.map(|ms| Duration::from_millis(ms.into()));
    let out = session.exec(&input.command, timeout)?;
    let output = SshExecOutput {
        stdout: out.stdout,
        stderr: out.stderr,
        exit_status: out.exit_status,
    };
    Ok((session, output))
}

fn ssh_shell(input: SshShellInput, _: &Context) -> Result<SshShellOutput, ActionError> {
    let session = connect(SshTarget {
        host: input.host,
        port: input.port,
        inventory: input.inventory,
        credential: input.credential,
    })?;
    let timeout = Duration::from_millis(input.timeout_ms.unwrap_or(10_000).into());
    let shell = session.shell(ShellOptions::default())?;
    let mut transcript = shell.read_until(&input.prompt, timeout)?;
    let mut prompt = input.prompt;
    if let Some(enable) = input.enable {
        transcript.push_str(
            &shell.elevate(
                &ElevateOptions::new(Elevation::Enable, &enable.prompt)
                    .credential(enable.credential)
                    .prompt(&prompt)
                    .timeout(timeout),
            )?,
        );
        prompt = enable.prompt;
    }
    let mut outputs = Vec::with_capacity(input.commands.len());
    for command in &input.commands {
        shell.send_line(command)?;
        let raw = shell.read_until(&prompt, timeout)?;
        transcript.push_str(&raw);
        outputs.push(command_output(&raw, command));
    }
    Ok(SshShellOutput {
        outputs,
        transcript,
    })
}

/// Runs every step, whatever the earlier ones gave, so a test sees each refusal and what the
/// remote side did afterwards.
fn ssh_script(input: SshScriptInput, _: &Context) -> Result<SshScriptOutput, ActionError> {
    let session = connect(SshTarget {
        host: input.host,
        port: input.port,
        inventory: input.inventory,
        credential: input.credential,
    })?;
    let shell = session.shell(ShellOptions::default())?;
    let ms = |ms: u32| Duration::from_millis(ms.into());
    let steps = input
        .steps
        .into_iter()
        .map(|step| {
            let result = match step {
                ScriptStep::Send(text) => shell.send(&text).map(|()| String::new()),
                ScriptStep::ReadUntil {
                    pattern,
                    timeout_ms,
                } => shell.read_until(&pattern, ms(timeout_ms.unwrap_or(10_000))),
                ScriptStep::Read { timeout_ms } => shell.read(ms(timeout_ms)),
                ScriptStep::SendSecret(credential) => {
                    shell.send_secret(&credential).map(|()| String::new())
                }
                ScriptStep::Elevate(step) => {
                    let mut options =
                        ElevateOptions::new(step.method.into(), step.privileged_prompt);
                    if let Some(credential) = step.credential {
                        options = options.credential(credential);
                    }
                    if let Some(prompt) = step.prompt {
                        options = options.prompt(prompt);
                    }
                    if let Some(ms) = step.timeout_ms {
                        options = options.timeout(Duration::from_millis(ms.into()));
                    }
                    shell.elevate(&options)
                }
            };
            match result {
                Ok(text) => StepOutcome::Ok(text),
                Err(err) => StepOutcome::Error {
                    code: err.code().as_str().to_owned(),
                    message: err.message().to_owned(),
                },
            }
        })
        .collect();
    Ok(SshScriptOutput { steps })
}

fn sftp_session(host: String, port: Option<u16>, credential: &str) -> Result<Session, ActionError> {
    Ok(Session::connect(
        Target::address(host, port.unwrap_or(22)),
        Some(credential),
    )?)
}

fn sftp_put(input: SftpPutInput, _: &Context) -> Result<Bytes, ActionError> {
    let session = sftp_session(input.host, input.port, &input.credential)?;
    session.sftp_put(&input.path, input.content.as_bytes(), None)?;
    Ok(Bytes {
        bytes: input.content.len(),
    })
}

fn sftp_get(input: SftpGetInput, _: &Context) -> Result<Content, ActionError> {
    let session = sftp_session(input.host, input.port, &input.credential)?;
    let data = session.sftp_get(&input.path)?;
    Ok(Content {
        content: String::from_utf8_lossy(&data).into_owned(),
    })
}

fn sftp_copy(input: SftpCopyInput, _: &Context) -> Result<Bytes, ActionError> {
    let session = sftp_session(input.host, input.port, &input.credential)?;
    let data = session.sftp_get(&input.from)?;
    session.sftp_put(&input.to, &data, None)?;
    Ok(Bytes { bytes: data.len() })
}

fn outcome<T, E: std::fmt::Display>(
    result: Result<T, E>,
    show: impl FnOnce(T) -> String,
) -> String {
    match result {
        Ok(value) => show(value),
        Err(err) => format!("error: {err}"),
    }
}

fn peek(_: Empty, _: &Context) -> Result<PeekOutput, ActionError> {
    let file = outcome(std::fs::read_to_string("/etc/passwd"), |text| text);
    let dir = outcome(std::fs::read_dir("/"), |entries| {
        let names: Vec<String> = entries
            .map(|entry| outcome(entry, |e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        format!("entries: [{}]", names.join(", "))
    });
    let vars: Vec<String> = std::env::vars_os()
        .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
        .collect();
    let env = if vars.is_empty() {
        "no variables".to_owned()
    } else {
        vars.join("\n")
    };
    let home = outcome(std::env::var("HOME"), |home| home);
    let tcp = outcome(std::net::TcpStream::connect("127.0.0.1:22"), |stream| {
        format!("connected: {stream:?}")
    });
    Ok(PeekOutput {
        file,
        dir,
        env,
        home,
        tcp,
    })
}

fn log_and_echo(input: Message, ctx: &Context) -> Result<Message, ActionError> {
    ctx.info(&input.message);
    Ok(input)
}

/// Input of `catalog_put`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CatalogPutInput {
    collection: String,
    key: String,
    value: serde_json::Value,
}

/// Input of `catalog_get`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CatalogGetInput {
    collection: String,
    key: String,
}

/// Input of `catalog_flood`: `count` records of a string value of `bytes` bytes each, under the
/// keys `key_prefix0`, `key_prefix1`, ….
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CatalogFloodInput {
    collection: String,
    key_prefix: String,
    count: u32,
    bytes: u32,
}

/// Output of `catalog_flood`: how far the flood got, and the host error that stopped it.
#[derive(Debug, Serialize, JsonSchema)]
struct CatalogFloodOutput {
    /// Records the host accepted.
    written: u32,
    /// The snake_case code of the error that stopped the loop, if one did.
    error_code: Option<String>,
    /// Its message.
    error_message: Option<String>,
}

/// A record version as the pack saw it.
#[derive(Debug, Serialize, JsonSchema)]
struct CatalogEntry {
    found: bool,
    version: Option<u64>,
    value: serde_json::Value,
    writer: Option<String>,
}

fn catalog_put(input: CatalogPutInput, _: &Context) -> Result<CatalogEntry, ActionError> {
    let entry = orch_sdk::catalog::put(&input.collection, &input.key, &input.value)?;
    Ok(CatalogEntry {
        found: true,
        version: Some(entry.version),
        value: entry.value,
        writer: Some(entry.writer),
    })
}

/// Writes as an attacker filling the host's disk would: one large record after another until
/// the host refuses, then reports how many it accepted instead of failing.
fn catalog_flood(input: CatalogFloodInput, _: &Context) -> Result<CatalogFloodOutput, ActionError> {
    let value = serde_json::Value::String("x".repeat(input.bytes as usize));
    for i in 0..input.count {
        let key = format!("{}{i}", input.key_prefix);
        if let Err(err) = orch_sdk::catalog::put(&input.collection, &key, &value) {
            return Ok(CatalogFloodOutput {
                written: i,
                error_code: Some(err.code().as_str().to_owned()),
                error_message: Some(err.message().to_owned()),
            });
        }
    }
    Ok(CatalogFloodOutput {
        written: input.count,
        error_code: None,
        error_message: None,
    })
}

fn catalog_get(input: CatalogGetInput, _: &Context) -> Result<CatalogEntry, ActionError> {
    Ok(
        match orch_sdk::catalog::get(&input.collection, &input.key)? {
            Some(entry) => CatalogEntry {
                found: true,
                version: Some(entry.version),
                value: entry.value,
                writer: Some(entry.writer),
            },
            None => CatalogEntry {
                found: false,
                version: None,
                value: serde_json::Value::Null,
                writer: None,
            },
        },
    )
}

/// The pack.
pub struct Broker;

impl Pack for Broker {
    fn define() -> PackDef {
        PackDef::new("broker", env!("CARGO_PKG_VERSION"))
            .vendor("orch tests")
            .description(
                "Exercises the brokered http and ssh capabilities and the sandbox for the host's \
                 tests.",
            )
            .destination(
                DestinationKind::Http,
                "http://127.0.0.1",
                "local test servers",
            )
            .destination(DestinationKind::Ssh, "127.0.0.1", "local sshd and fakenos")
            .action(Action::new(
                "http_request",
                "Send one HTTP request through the host.",
                http_request,
            ))
            .action(Action::new(
                "ssh_exec",
                "Run one command over SSH.",
                ssh_exec,
            ))
            .action(Action::new(
                "ssh_leak",
                "Run one command over SSH and leave the session open (never close it).",
                ssh_leak,
            ))
            .action(Action::new(
                "ssh_shell",
                "Run CLI commands in an interactive shell, with an optional enable step (elevate).",
                ssh_shell,
            ))
            .action(Action::new(
                "ssh_script",
                "Drive an interactive shell step by step (send, read, read_until, send_secret, \
                 elevate), recording each step's text or error.",
                ssh_script,
            ))
            .action(Action::new("sftp_put", "Write a file by SFTP.", sftp_put))
            .action(Action::new("sftp_get", "Read a file by SFTP.", sftp_get))
            .action(Action::new(
                "sftp_copy",
                "Copy a remote file by SFTP within one session.",
                sftp_copy,
            ))
            .action(Action::new(
                "peek",
                "Try to read files, environment variables and open a socket with std.",
                peek,
            ))
            .action(Action::new(
                "log_and_echo",
                "Log a message and return it.",
                log_and_echo,
            ))
            .action(Action::new(
                "catalog_put",
                "Write a record version through the catalog import.",
                catalog_put,
            ))
            .action(Action::new(
                "catalog_flood",
                "Write many large records in a loop until the host refuses; report how many it \
                 accepted and why it stopped.",
                catalog_flood,
            ))
            .action(Action::new(
                "catalog_get",
                "Read a record's latest version through the catalog import.",
                catalog_get,
            ))
    }
}

orch_sdk::export_pack!(Broker);
