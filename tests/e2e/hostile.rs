//! Attacks by a hostile pack, written against `wit/` without the SDK (`tests/guests/hostile`,
//! built under several names that change what it describes), with real local servers playing
//! the destinations it was granted. Each test is an attack that succeeded before the host was
//! fixed: reading a borrowed credential back (compressed, in another process, in a header name,
//! hex or `\u`-escaped), taking over another vendor's pack name and its rights, writing to the
//! operator's terminal, making the host check an input for minutes, describing itself with
//! 100,000 actions, reaching the metadata address through an IPv6 embedding, and passing more
//! data in one call than the host copies.

use std::io::Read as _;

use serde_json::{Value, json};

use crate::harness::{Run, TestHost, assert_no_leak, guest};
use crate::http_peer::Peer;

const TOKEN: &str = "hostile-target-token-5d1e9c";

fn add(host: &TestHost, name: &str, extra: &[&str]) -> Run {
    let path = guest(name);
    let mut args = vec!["pack", "add", path.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    host.orch(&args)
}

/// A host with `hostile` installed and granted `peer`, and credential `api` (bearer `TOKEN`)
/// bound to the peer.
fn armed(peer: &Peer) -> (TestHost, Run) {
    let host = TestHost::new();
    add(&host, "hostile", &[]).ok();
    peer.grant_to(&host, "hostile");
    let set = peer.bearer(&host, "api", TOKEN);
    (host, set)
}

/// The two imports a pack can send HTTP through: every http attack runs through both.
const VIAS: [&str; 2] = ["orch", "wasi"];

/// `hostile.http` with `input`, through the import `via` names (`orch:pack/http` or
/// `wasi:http/outgoing-handler`), `--json`.
fn http(host: &TestHost, via: &str, input: &Value) -> Run {
    let mut input = input.clone();
    input["via"] = json!(via);
    host.orch(&[
        "action",
        "run",
        "hostile.http",
        "--input",
        &input.to_string(),
        "--json",
    ])
}

/// The body the pack received, from its hex.
fn body_bytes(output: &Value) -> Vec<u8> {
    hex::decode(output["body_hex"].as_str().unwrap_or_default()).expect("hex body")
}

/// Every form the test's token must not take in anything the pack or the operator sees.
fn forms_of_token() -> Vec<String> {
    let hex = hex::encode(TOKEN);
    vec![TOKEN.to_owned(), hex.clone(), hex.to_ascii_uppercase()]
}

#[track_caller]
fn assert_no_form(text: &str, what: &str) {
    for form in forms_of_token() {
        assert!(
            !text.contains(&form),
            "{what} reveals the token as {form:?}: {text}"
        );
    }
}

#[test]
fn a_compressed_echo_cannot_carry_a_credential_past_masking() {
    for via in VIAS {
        a_compressed_echo_cannot_carry_a_credential_past_masking_via(via);
    }
}

fn a_compressed_echo_cannot_carry_a_credential_past_masking_via(via: &str) {
    let peer = Peer::start();
    let (host, set) = armed(&peer);
    // The attack: ask for gzip, so the echo comes back compressed; the masker would see only
    // compressed bytes.
    let attack = http(
        &host,
        via,
        &json!({ "url": peer.url("/echo-headers"), "credential": "api",
                 "headers": [["Accept-Encoding", "gzip"]] }),
    );
    let out = attack.output();
    if let Some(error) = out.get("error") {
        assert_eq!(error["code"], "invalid", "{out}");
        assert!(
            error["message"]
                .as_str()
                .unwrap_or("")
                .contains("set by the host"),
            "{out}"
        );
    } else {
        // wasi:http drops the pack's Accept-Encoding (the host is the transport): the echo
        // comes back plain, and masked.
        let mut decoded = String::new();
        let body = body_bytes(&out);
        assert_no_form(&String::from_utf8_lossy(&body), "the echo");
        flate2::read::GzDecoder::new(body.as_slice())
            .read_to_string(&mut decoded)
            .ok();
        assert_no_form(&decoded, "the decompressed echo");
    }
    // The host negotiates compression itself and decodes before masking.
    let plain = http(
        &host,
        via,
        &json!({ "url": peer.url("/echo-headers"), "credential": "api" }),
    );
    let out = plain.output();
    let echoed: Value = serde_json::from_slice(&body_bytes(&out)).expect("a JSON echo");
    assert!(
        echoed["accept-encoding"]
            .as_str()
            .unwrap_or("")
            .contains("gzip"),
        "the host asks for gzip itself: {echoed}"
    );
    assert_eq!(echoed["authorization"], "Bearer ***", "{echoed}");
    // An encoding the host does not decode is refused, not handed over.
    let brotli = http(
        &host,
        via,
        &json!({ "url": peer.url("/echo-encoded?as=br"), "credential": "api" }),
    );
    let out = brotli.output();
    assert_eq!(out["error"]["code"], "protocol", "{out}");
    assert_no_leak(&host, TOKEN, &[&set, &attack, &plain, &brotli]);
}

#[test]
fn a_credential_a_server_kept_is_masked_in_another_process_and_in_the_journal() {
    for via in VIAS {
        a_credential_a_server_kept_is_masked_in_another_process_and_in_the_journal_via(via);
    }
}

fn a_credential_a_server_kept_is_masked_in_another_process_and_in_the_journal_via(via: &str) {
    let peer = Peer::start();
    let (host, set) = armed(&peer);
    // Invocation 1 sends the credential to a server that keeps it.
    let send = http(
        &host,
        via,
        &json!({ "url": peer.url("/store"), "credential": "api" }),
    );
    send.ok();
    // Invocation 2, another process that names no credential, reads it back.
    let read = http(&host, via, &json!({ "url": peer.url("/stored") }));
    let out = read.output();
    assert_no_form(&out.to_string(), "the stored echo");
    assert!(
        out["body_text"].as_str().unwrap_or("").contains("***"),
        "{out}"
    );
    // In a workflow run the response is journaled: masked there too.
    let workflow = host.home().join("read.yaml");
    std::fs::write(
        &workflow,
        format!(
            "version: 1\ntasks:\n  read:\n    action: hostile.http\n    input: {{ url: \"{}\", via: {via} }}\n",
            peer.url("/stored")
        ),
    )
    .expect("writing the workflow");
    let run = host.orch(&["run", workflow.to_str().expect("utf-8 path"), "--json"]);
    run.ok();
    assert_no_leak(&host, TOKEN, &[&set, &send, &read, &run]);
    assert_no_leak(&host, &hex::encode(TOKEN), &[&read, &run]);
}

#[test]
fn an_oauth_token_obtained_in_one_process_is_masked_in_another() {
    for via in VIAS {
        an_oauth_token_obtained_in_one_process_is_masked_in_another_via(via);
    }
}

fn an_oauth_token_obtained_in_one_process_is_masked_in_another_via(via: &str) {
    const ACCESS: &str = "hostile-oauth-access-7e3f1a";
    const CLIENT_SECRET: &str = "hostile-client-secret-2b8d";
    let peer = Peer::start();
    peer.oauth("client-1", CLIENT_SECRET, ACCESS);
    let (host, _) = armed(&peer);
    let bind = format!("127.0.0.1:{}", peer.port());
    host.orch_with_stdin(
        &[
            "secret",
            "set",
            "oauth",
            "--kind",
            "oauth2-client",
            "--from-stdin",
            "--bind",
            &bind,
            "--token-url",
            &peer.url("/oauth/token"),
            "--client-id",
            "client-1",
        ],
        CLIENT_SECRET,
    )
    .ok();
    let send = http(
        &host,
        via,
        &json!({ "url": peer.url("/store"), "credential": "oauth" }),
    );
    send.ok();
    assert_eq!(peer.token_calls(), 1);
    let read = http(&host, via, &json!({ "url": peer.url("/stored") }));
    assert_no_form(&read.output().to_string(), "the stored token");
    assert!(!read.stdout.contains(ACCESS), "{}", read.stdout);
    // The token is kept sealed in the store, so the next process reuses it instead of asking.
    http(
        &host,
        via,
        &json!({ "url": peer.url("/echo-headers"), "credential": "oauth" }),
    )
    .ok();
    assert_eq!(
        peer.token_calls(),
        1,
        "a second process reuses the stored token"
    );
    assert_no_leak(&host, ACCESS, &[&send, &read]);
}

#[test]
fn a_credential_echoed_in_a_response_header_name_is_masked() {
    for via in VIAS {
        a_credential_echoed_in_a_response_header_name_is_masked_via(via);
    }
}

fn a_credential_echoed_in_a_response_header_name_is_masked_via(via: &str) {
    let peer = Peer::start();
    let (host, set) = armed(&peer);
    // The pack forwards what it saw to a destination it may reach: the attack succeeds if the
    // token (hex-encoded by the pack, past any masking of its output) arrives there.
    let run = http(
        &host,
        via,
        &json!({ "url": peer.url("/echo-header-names"), "credential": "api",
                 "forward_to": peer.url("/collect") }),
    );
    let out = run.output();
    let collected: Vec<String> = peer
        .hits()
        .into_iter()
        .filter(|hit| hit.uri.starts_with("/collect"))
        .map(|hit| hit.uri)
        .collect();
    assert_eq!(collected.len(), 1, "the pack forwarded what it saw");
    assert!(
        !collected[0].contains(&hex::encode(TOKEN)),
        "the pack read the token in a header name: {collected:?}"
    );
    let names: Vec<String> = out["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|pair| pair[0].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(names.iter().any(|n| n == "x-echo-***"), "{names:?}");
    assert_no_leak(&host, TOKEN, &[&set, &run]);
}

#[test]
fn hex_and_unicode_escaped_echoes_of_a_credential_are_masked_or_withheld() {
    for via in VIAS {
        hex_and_unicode_escaped_echoes_of_a_credential_are_masked_or_withheld_via(via);
    }
}

fn hex_and_unicode_escaped_echoes_of_a_credential_are_masked_or_withheld_via(via: &str) {
    let peer = Peer::start();
    let (host, set) = armed(&peer);
    let mut runs = Vec::new();
    for form in ["hex", "HEX", "u"] {
        let run = http(
            &host,
            via,
            &json!({ "url": peer.url(&format!("/echo-encoded?as={form}")), "credential": "api" }),
        );
        let out = run.output();
        assert!(out.get("error").is_none(), "{form}: {out}");
        assert!(
            out["body_text"].as_str().unwrap_or("").contains("***"),
            "{form}: {out}"
        );
        assert_no_form(&run.stdout, form);
        runs.push(run);
    }
    // Escapes in no fixed form: the response is refused whole.
    let mixed = http(
        &host,
        via,
        &json!({ "url": peer.url("/echo-encoded?as=mixed"), "credential": "api" }),
    );
    let out = mixed.output();
    assert_eq!(out["error"]["code"], "denied", "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("encoded form"),
        "{out}"
    );
    runs.push(mixed);
    let all: Vec<&Run> = std::iter::once(&set).chain(runs.iter()).collect();
    assert_no_leak(&host, TOKEN, &all);
    assert_no_leak(&host, &hex::encode(TOKEN), &all);
}

#[test]
fn a_pack_taking_another_vendors_name_is_refused_and_inherits_nothing_when_confirmed() {
    let peer = Peer::start();
    let host = TestHost::new();
    add(&host, "text", &[]).ok();
    let grant = format!("http:http://127.0.0.1:{}", peer.port());
    host.orch(&["pack", "grant", "text", &grant]).ok();
    host.orch_with_stdin(
        &[
            "secret",
            "set",
            "api",
            "--kind",
            "bearer",
            "--from-stdin",
            "--pack",
            "text",
            "--bind",
            &format!("127.0.0.1:{}", peer.port()),
        ],
        TOKEN,
    )
    .ok();
    // `--yes` grants destinations; it does not confirm a replacement.
    let refused = add(&host, "hostile_text", &["--yes"]);
    let err = refused.fails_with(2);
    assert!(
        err.contains("another vendor") && err.contains("older") && err.contains("--replace"),
        "{err}"
    );
    let shown = host.orch(&["pack", "show", "text", "--json"]).json();
    assert_eq!(shown["vendor"], "orch", "the installed pack is untouched");
    assert_eq!(shown["grants"], json!([grant]));

    let replaced = add(&host, "hostile_text", &["--replace"]);
    let out = replaced.ok();
    assert!(
        out.contains("not carried over") && out.contains(&grant),
        "{out}"
    );
    assert!(out.contains("suspended") && out.contains("api"), "{out}");
    let shown = host.orch(&["pack", "show", "text", "--json"]).json();
    assert_eq!(shown["vendor"], "Mallory Labs");
    assert_eq!(shown["grants"], json!([]));
    // Granted the destination again, the impostor still cannot use the credential.
    host.orch(&["pack", "grant", "text", &grant]).ok();
    let attempt = host.orch(&[
        "action",
        "run",
        "text.http",
        "--input",
        &json!({ "url": peer.url("/echo-headers"), "credential": "api" }).to_string(),
        "--json",
    ]);
    let out = attempt.output();
    assert_eq!(out["error"]["code"], "denied", "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("orch secret scope"),
        "{out}"
    );
    assert!(
        peer.hits()
            .iter()
            .all(|hit| !hit.headers.contains_key("authorization")),
        "the credential never left"
    );
    // The operator can decide otherwise, explicitly.
    let list = host.orch(&["secret", "list"]);
    assert!(list.ok().contains("text(suspended)"), "{}", list.stdout);
    host.orch(&["secret", "scope", "api", "--pack", "text"])
        .ok();
    assert!(!host.orch(&["secret", "list"]).ok().contains("suspended"));
}

#[test]
fn removing_a_pack_suspends_the_credentials_limited_to_it() {
    let host = TestHost::new();
    add(&host, "text", &[]).ok();
    host.orch_with_stdin(
        &[
            "secret",
            "set",
            "api",
            "--kind",
            "bearer",
            "--from-stdin",
            "--pack",
            "text",
            "--bind",
            "127.0.0.1:9",
        ],
        TOKEN,
    )
    .ok();
    let removed = host.orch(&["pack", "remove", "text"]);
    assert!(removed.ok().contains("suspended"), "{}", removed.stdout);
    // The next pack called `text`, from anyone, is a new install with nothing inherited.
    add(&host, "hostile_text", &[]).ok();
    host.orch(&["pack", "grant", "text", "http:http://127.0.0.1:9"])
        .ok();
    let attempt = host.orch(&[
        "action",
        "run",
        "text.http",
        "--input",
        &json!({ "url": "http://127.0.0.1:9/", "credential": "api" }).to_string(),
        "--json",
    ]);
    assert_eq!(attempt.output()["error"]["code"], "denied");
}

#[test]
fn an_upgrade_asking_for_more_destinations_must_be_confirmed() {
    let host = TestHost::new();
    add(&host, "hostile", &["--yes"]).ok();
    let err = add(&host, "hostile_grow", &["--yes"])
        .fails_with(2)
        .to_owned();
    assert!(
        err.contains("more destinations") && err.contains("exfil.example.net"),
        "{err}"
    );
    let shown = host.orch(&["pack", "show", "hostile", "--json"]).json();
    assert_eq!(shown["version"], "1.0.0");
    add(&host, "hostile_grow", &["--yes", "--replace"]).ok();
    let shown = host.orch(&["pack", "show", "hostile", "--json"]).json();
    assert_eq!(shown["version"], "1.1.0");
    assert!(
        shown["grants"]
            .as_array()
            .expect("grants")
            .iter()
            .any(|g| g == "http:https://exfil.example.net"),
        "{shown}"
    );
}

/// True when `text` holds a byte a terminal would act on (ESC, BEL, CR, other C0 controls but
/// newline and tab) or a bidirectional override.
fn has_terminal_controls(text: &str) -> bool {
    text.chars().any(|c| {
        (c.is_control() && c != '\n' && c != '\t') || ('\u{202a}'..='\u{202e}').contains(&c)
    })
}

#[test]
fn text_from_a_pack_reaches_the_terminal_escaped() {
    let host = TestHost::new();
    let added = add(&host, "hostile", &["--yes"]);
    let shows = [
        added,
        host.orch(&["pack", "show", "hostile"]),
        host.orch(&["pack", "list"]),
    ];
    for run in &shows {
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(!has_terminal_controls(&all), "raw controls in: {all:?}");
        assert!(!all.contains("\nerror: forged"), "a forged line: {all:?}");
    }
    assert!(
        shows[0].stdout.contains("\\x1b]0;pwned"),
        "{}",
        shows[0].stdout
    );

    const EVIL: &str = "done\u{1b}]0;owned\u{7}\r\u{1b}[2K\nerror: all grants revoked\u{202e}";
    let input = json!({ "lines": [EVIL], "error": { "code": "bad\u{1b}[8m", "message": EVIL } });
    let action = host.orch(&[
        "action",
        "run",
        "hostile.log",
        "--input",
        &input.to_string(),
    ]);
    action.fails_with(1);
    let workflow = host.home().join("evil.yaml");
    std::fs::write(
        &workflow,
        format!(
            "version: 1\ntasks:\n  evil:\n    action: hostile.log\n    input: {}\n",
            input
        ),
    )
    .expect("writing the workflow");
    let run = host.orch(&["run", workflow.to_str().expect("utf-8 path")]);
    run.fails_with(1);
    let id = host.orch(&["runs", "list", "--json"]).json()[0]["id"]
        .as_str()
        .expect("a run id")
        .to_owned();
    let logs = host.orch(&["runs", "logs", &id]);
    let show = host.orch(&["runs", "show", &id]);
    for run in [&action, &run, &logs, &show] {
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(!has_terminal_controls(&all), "raw controls in: {all:?}");
        assert!(
            !all.lines()
                .any(|l| l.starts_with("error: all grants revoked")),
            "a forged error line: {all:?}"
        );
    }
    assert!(logs.stdout.contains("done\\x1b]0;owned"), "{}", logs.stdout);
}

#[test]
fn a_schema_whose_check_is_exponential_is_refused() {
    let host = TestHost::new();
    let err = add(&host, "hostile_schema", &[]).fails_with(2).to_owned();
    assert!(err.contains("exponential"), "{err}");
    // A pack installed before this check (its manifest planted as an older host stored it)
    // still never runs the exponential check: the action is refused at once.
    add(&host, "hostile", &[]).ok();
    let mut defs = serde_json::Map::new();
    for level in 0..32 {
        let next = json!({ "$ref": format!("#/$defs/l{}", level + 1) });
        defs.insert(
            format!("l{level}"),
            json!({ "anyOf": [next.clone(), { "allOf": [next] }] }),
        );
    }
    defs.insert(
        "l32".to_owned(),
        json!({ "type": "string", "minLength": 1000 }),
    );
    let bomb = json!({ "$defs": defs, "$ref": "#/$defs/l0" });
    let manifest = host
        .sql("SELECT manifest FROM packs WHERE name = 'hostile'")
        .expect("the stored manifest");
    let mut manifest: Value = serde_json::from_str(&manifest).expect("manifest JSON");
    manifest["actions"][0]["input_schema"] = bomb;
    host.sql_rows(&format!(
        "UPDATE packs SET manifest = '{}' WHERE name = 'hostile'",
        manifest.to_string().replace('\'', "''")
    ));
    let run = host.orch(&["action", "run", "hostile.http", "--input", "\"x\""]);
    let err = run.fails_with(2);
    assert!(err.contains("hostile.http"), "{err}");
    let workflow = host.home().join("bomb.yaml");
    std::fs::write(
        &workflow,
        "version: 1\ntasks:\n  check:\n    action: hostile.http\n    input: { url: x }\n",
    )
    .expect("writing the workflow");
    let run = host.orch(&["run", workflow.to_str().expect("utf-8 path"), "--json"]);
    run.fails_with(1);
    assert!(run.stdout.contains("unusable"), "{}", run.stdout);
}

#[test]
fn a_description_with_too_many_actions_or_too_many_bytes_is_refused() {
    let host = TestHost::new();
    let err = add(&host, "hostile_actions", &[]).fails_with(2).to_owned();
    assert!(
        err.contains("100000 actions") && err.contains("at most 4096"),
        "{err}"
    );
    let err = add(&host, "hostile_bigschema", &[])
        .fails_with(2)
        .to_owned();
    assert!(err.contains("more than the 4 MiB"), "{err}");
    assert_eq!(err.matches("4 MiB").count(), 1, "said once: {err}");
    assert!(host.orch(&["pack", "list", "--json"]).json() == json!([]));
}

#[test]
fn ipv6_addresses_embedding_the_metadata_address_are_never_reached() {
    for via in VIAS {
        ipv6_addresses_embedding_the_metadata_address_are_never_reached_via(via);
    }
}

fn ipv6_addresses_embedding_the_metadata_address_are_never_reached_via(via: &str) {
    let host = TestHost::new();
    add(&host, "hostile", &[]).ok();
    for address in [
        "64:ff9b:1::a9fe:a9fe",      // local-use NAT64 (RFC 8215)
        "::ffff:0:a9fe:a9fe",        // IPv4-translated
        "2001:0:808:808::5601:5601", // Teredo, client 169.254.169.254
    ] {
        // Granted by address, as an operator might grant a translator's range.
        host.orch(&[
            "pack",
            "grant",
            "hostile",
            &format!("http:http://[{address}]"),
        ])
        .ok();
        let run = http(
            &host,
            via,
            &json!({ "url": format!("http://[{address}]/latest/meta-data") }),
        );
        let out = run.output();
        assert_eq!(out["error"]["code"], "denied", "{address}: {out}");
        assert!(
            out["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("link-local"),
            "{address}: {out}"
        );
    }
}

#[test]
fn one_call_carrying_more_than_the_host_copies_fails_naming_the_limit() {
    let host = TestHost::new();
    add(&host, "hostile", &[]).ok();
    let run = host.orch(&[
        "action",
        "run",
        "hostile.flood",
        "--input",
        r#"{"mib": 130}"#,
        "--memory-limit",
        "1024",
    ]);
    let err = run.fails_with(1);
    assert!(
        err.contains("more than 128 MiB to the host in one call") && err.contains("smaller pieces"),
        "{err}"
    );
    assert!(!err.contains("fuel"), "wasmtime's words, not ours: {err}");
}

/// A pack writes markup where the web console shows it (its log lines, its error, its output,
/// from a run of `orch serve`): the console's pages show the text, never markup that a browser
/// would run.
#[test]
fn markup_a_pack_writes_is_text_on_the_console_pages() {
    const EVIL: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    let host = TestHost::new();
    add(&host, "hostile", &["--yes"]).ok();
    let dir = tempfile::tempdir().expect("dir");
    let input = json!({
        "lines": [EVIL],
        "output": { "note": EVIL },
    });
    std::fs::write(
        dir.path().join("evil.yaml"),
        format!("version: 1\ntasks:\n  evil:\n    action: hostile.log\n    input: {input}\n    next: [{{ do: boom }}]\n  boom:\n    action: hostile.log\n    input: {{ error: {{ code: x, message: \"{EVIL}\" }} }}\n"),
    )
    .expect("workflow");
    let rules = crate::server::rules_dir(&[]);
    let server = crate::server::Server::start(
        &host,
        &[
            "--workflows",
            &crate::server::path_str(dir.path()),
            "--rules",
            &crate::server::path_str(rules.path()),
        ],
    );
    let token = host
        .orch(&["token", "create", "ops", "--role", "operator"])
        .ok()
        .trim()
        .to_owned();
    let (_, head, _) = crate::server::http_text(
        server.http,
        "POST",
        "/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        format!("token={token}").as_bytes(),
    );
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let (status, body) = crate::server::http(
        server.http,
        "POST",
        "/api/v1/runs",
        &[
            ("authorization", &format!("Bearer {token}")),
            ("content-type", "application/json"),
        ],
        br#"{"workflow": "evil"}"#,
    );
    assert_eq!(status, 202, "{body}");
    let run = body["run"].as_str().expect("run id").to_owned();
    crate::server::wait_for(30, "the run to end", || {
        let (_, _, page) = crate::server::http_text(
            server.http,
            "GET",
            &format!("/api/v1/runs/{run}"),
            &[("authorization", &format!("Bearer {token}"))],
            b"",
        );
        page.contains("\"status\":\"failed\"").then_some(())
    });
    for path in [
        format!("/runs/{run}"),
        format!("/runs/{run}/live"),
        "/workflows/evil".to_owned(),
    ] {
        let (status, _, page) =
            crate::server::http_text(server.http, "GET", &path, &[("cookie", &cookie)], b"");
        assert_eq!(status, 200, "{path}: {page}");
        assert!(
            !page.contains("<script>alert") && !page.contains("<img src=x"),
            "{path} holds the pack's markup: {page}"
        );
        assert!(
            page.contains("&#60;script&#62;alert(1)") || page.contains("&lt;script&gt;alert(1)"),
            "{path} shows the text, escaped: {page}"
        );
    }
}
