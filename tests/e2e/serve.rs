//! `orch serve` end to end: the real binary over real sockets. Start-up refusals (non-loopback
//! HTTP, bad rule files), webhooks (signed, token, and every bad request: unsigned, wrong
//! signature, stale, replayed, oversized, malformed, unknown hook), syslog over UDP and TCP
//! (and a flood into a small queue), schedules across a restart (catch-up once and skip), run
//! events chaining rules, runs resumed at start-up and paused by a graceful stop, and an event
//! firing its rule at most once across SIGKILLs. After each bad input the server keeps serving.

use std::io::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{TestHost, assert_no_leak};
use crate::server::{Server, decided, finished, path_str, rules_dir, wait_for, workflows_dir};

const KEY: &str = "hook-key-5f0c2a9e71d4b3";
const TOKEN: &str = "hook-token-8e21c07a94f6";

/// A workflow of one `core.echo` task, outputting its `text` input.
const ECHO: &str = "version: 1\ninput:\n  - text\ntasks:\n  say:\n    action: core.echo\n    input: { text: <% ctx().text %> }\n    next:\n      - publish:\n          - said: <% result().text %>\noutput:\n  - said: <% ctx().said %>\n";

/// A workflow that sleeps `seconds` then echoes.
const SLEEP: &str = "version: 1\ninput:\n  - seconds: 1\ntasks:\n  nap:\n    action: core.sleep\n    input: { seconds: <% ctx().seconds %> }\n    next: [{ do: done }]\n  done:\n    action: core.echo\n    input: { ok: true }\n";

fn monitoring_rule(secret: &str) -> String {
    format!(
        "description: monitoring says a host is down\ntrigger: {{ type: webhook, name: monitoring, secret: {secret} }}\ncriteria:\n  - event.body.status: {{ equals: down }}\nrun:\n  workflow: echo\n  input: {{ text: \"{{{{ ctx().event.body.host }}}} is down\" }}\n"
    )
}

fn set_secret(host: &TestHost, name: &str, kind: &str, value: &str) {
    host.orch_with_stdin(
        &["secret", "set", name, "--kind", kind, "--from-stdin"],
        value,
    )
    .ok();
}

fn fired_run(e: &Value, rule: &str) -> String {
    let d = e["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .find(|d| d["rule"] == rule)
        .unwrap_or_else(|| panic!("no decision of {rule}: {e:#}"));
    assert_eq!(d["decision"], "fired", "{e:#}");
    d["run"].as_str().expect("run id").to_owned()
}

#[test]
fn serve_refuses_plain_http_beyond_loopback_and_bad_rule_files_with_their_line() {
    let host = TestHost::new();
    let run = host.orch(&["serve", "--listen", "0.0.0.0:0", "--rules", "/nonexistent"]);
    let err = run.fails_with(2);
    assert!(
        err.contains("not a loopback address")
            && err.contains("--insecure-http")
            && err.contains("TLS"),
        "{err}"
    );

    let rules = rules_dir(&[
        ("typo", "trigger:\n  type: sislog\nrun:\n  workflow: echo\n"),
        (
            "expr",
            "trigger: { type: syslog }\nrun:\n  workflow: echo\n  input:\n    text: \"<% ctx(. %>\"\n",
        ),
        (
            "cron",
            "trigger:\n  type: schedule\n  cron: \"0 25 * * *\"\nrun:\n  workflow: echo\n",
        ),
        (
            "fine",
            "trigger: { type: syslog }\nrun:\n  workflow: echo\n",
        ),
    ]);
    let dir = path_str(rules.path());
    for args in [
        vec!["serve", "--listen", "127.0.0.1:0", "--rules", &dir],
        vec!["rule", "validate", "--rules", &dir],
    ] {
        let run = host.orch(&args);
        let err = run.fails_with(2);
        assert!(err.contains("3 bad rule files"), "{err}");
        assert!(
            err.contains("typo.yaml:2: unknown trigger type `sislog`"),
            "{err}"
        );
        assert!(
            err.contains("expr.yaml:5:") && err.contains("run.input.text"),
            "{err}"
        );
        assert!(
            err.contains("cron.yaml:3:") && err.contains("does not parse"),
            "{err}"
        );
    }
    assert!(
        host.orch(&["rule", "validate", &format!("{dir}/fine.yaml")])
            .ok()
            .contains("ok ")
    );
}

/// A self-signed certificate for `localhost` and 127.0.0.1, its key mode 600, in `dir`.
fn certificate(dir: &std::path::Path) -> (String, String, String) {
    use std::os::unix::fs::PermissionsExt as _;
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("a certificate");
    let cert = dir.join("server.crt");
    let key = dir.join("server.key");
    std::fs::write(&cert, certified.cert.pem()).expect("writing the certificate");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("writing the key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    (path_str(&cert), path_str(&key), certified.cert.pem())
}

#[test]
fn serve_speaks_https_with_a_certificate_beyond_loopback_and_refuses_a_bad_one() {
    let host = TestHost::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key, pem) = certificate(dir.path());
    let rules = rules_dir(&[]);
    let token = host
        .orch(&["token", "create", "ops", "--role", "viewer"])
        .ok()
        .trim()
        .to_owned();

    // The certificate and key swapped: refused at start, naming the file.
    let swapped = host.orch(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--tls-cert",
        &key,
        "--tls-key",
        &cert,
        "--rules",
        &path_str(rules.path()),
    ]);
    let err = swapped.fails_with(2);
    assert!(
        err.contains("server.key holds no certificate") && err.contains("BEGIN CERTIFICATE"),
        "{err}"
    );

    // With TLS, a non-loopback address needs no --insecure-http.
    let server = Server::start(
        &host,
        &[
            "--listen",
            "0.0.0.0:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--rules",
            &path_str(rules.path()),
        ],
    );
    assert!(
        server.stdout().contains("http: https://0.0.0.0:"),
        "{}",
        server.stdout()
    );
    let port = server.http.port();
    let url = format!("https://127.0.0.1:{port}/api/v1/runs");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (trusted, untrusted) = runtime.block_on(async {
        let root = reqwest::Certificate::from_pem(pem.as_bytes()).expect("pem");
        let client = reqwest::Client::builder()
            .tls_certs_only([root])
            .build()
            .expect("client");
        let trusted = client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .expect("an HTTPS request");
        let status = trusted.status().as_u16();
        let body: Value =
            serde_json::from_str(&trusted.text().await.expect("a body")).unwrap_or(Value::Null);
        // A client that does not trust the certificate gets no answer: it is real TLS.
        let untrusted = reqwest::Client::new().get(&url).send().await;
        ((status, body), untrusted)
    });
    assert_eq!(trusted.0, 200, "{}", trusted.1);
    assert!(trusted.1["runs"].is_array(), "{}", trusted.1);
    let err = format!("{:?}", untrusted.expect_err("an untrusted certificate"));
    assert!(err.to_lowercase().contains("certificate"), "{err}");

    // Plain HTTP to the TLS port gets no HTTP answer (nothing is served in clear).
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connecting");
    plain
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .expect("writing");
    let mut reply = Vec::new();
    let _ = std::io::Read::read_to_end(&mut plain, &mut reply);
    assert!(
        !String::from_utf8_lossy(&reply).contains("HTTP/1.1 200"),
        "plain HTTP was answered: {}",
        String::from_utf8_lossy(&reply)
    );
}

#[test]
fn a_signed_webhook_fires_its_rule_and_every_bad_request_is_refused_counted_and_harmless() {
    let host = TestHost::new();
    set_secret(&host, "mon-hook", "webhook-hmac", KEY);
    set_secret(&host, "ci-token", "webhook-token", TOKEN);
    let ci = "trigger: { type: webhook, name: ci, secret: ci-token }\nrun:\n  workflow: echo\n  input: { text: <% ctx().event.body.job %> }\n";
    let rules = rules_dir(&[("mon", &monitoring_rule("mon-hook")), ("ci", ci)]);
    let workflows = workflows_dir(&[("echo", ECHO)]);
    let server = Server::start(
        &host,
        &[
            "--rules",
            &path_str(rules.path()),
            "--workflows",
            &path_str(workflows.path()),
            "--max-body",
            "4096",
        ],
    );

    let down = json!({"status": "down", "host": "db1"});
    let ts = crate::server::now_s();
    let (status, body) = server.signed_hook("monitoring", KEY, &down, Some(ts));
    assert_eq!(status, 202, "{body}");
    let id = body["event"].as_i64().expect("event id");
    let e = decided(&host, id);
    let run = fired_run(&e, "mon");
    assert_eq!(finished(&host, &run), "succeeded");
    let out = host.orch(&["runs", "show", &run, "--json"]).json();
    assert_eq!(out["output"]["said"], "db1 is down", "{out:#}");

    // Every bad request: a JSON error with a code, nothing stored, the server goes on.
    let stored = server.counter("events.stored");
    let (s, b) = server.signed_hook("monitoring", KEY, &down, Some(ts));
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("replayed")),
        "{b}"
    );
    let (s, b) = server.request(
        "POST",
        "/hooks/monitoring",
        &[("content-type", "application/json")],
        down.to_string().as_bytes(),
    );
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("unsigned")),
        "{b}"
    );
    let (s, b) = server.signed_hook("monitoring", "not-the-key-0000000", &down, None);
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("bad_signature")),
        "{b}"
    );
    let (s, b) = server.signed_hook("monitoring", KEY, &down, Some(ts - 3600));
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("stale")),
        "{b}"
    );
    let big = json!({"status": "down", "pad": "x".repeat(8000)});
    let (s, b) = server.signed_hook("monitoring", KEY, &big, None);
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (413, Some("too_large")),
        "{b}"
    );
    let ts2 = crate::server::now_s().to_string();
    let sig = orch::service::webhook::signature(KEY.as_bytes(), &ts2, b"{not json");
    let (s, b) = server.request(
        "POST",
        "/hooks/monitoring",
        &[("x-orch-timestamp", &ts2), ("x-orch-signature", &sig)],
        b"{not json",
    );
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("malformed")),
        "{b}"
    );
    let (s, b) = server.signed_hook("nagios", KEY, &down, None);
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("unknown_hook")),
        "{b}"
    );
    let (s, b) = server.request("GET", "/hooks/monitoring", &[], b"");
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (405, Some("method_not_allowed")),
        "{b}"
    );
    // Bearer hooks: the wrong token, no token, then the right one.
    let job = json!({"job": "deploy-42"}).to_string();
    let (s, b) = server.request(
        "POST",
        "/hooks/ci",
        &[("authorization", "Bearer hook-token-wrong")],
        job.as_bytes(),
    );
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("bad_token")),
        "{b}"
    );
    let (s, b) = server.request("POST", "/hooks/ci", &[], job.as_bytes());
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("no_token")),
        "{b}"
    );
    assert_eq!(
        server.counter("events.stored"),
        stored,
        "no refused request was stored"
    );
    let bearer = format!("Bearer {TOKEN}");
    let (s, b) = server.request(
        "POST",
        "/hooks/ci",
        &[("authorization", &bearer), ("x-orch-delivery", "d-1")],
        job.as_bytes(),
    );
    assert_eq!(s, 202, "{b}");
    let run = fired_run(&decided(&host, b["event"].as_i64().expect("id")), "ci");
    assert_eq!(finished(&host, &run), "succeeded");
    let (s, b) = server.request(
        "POST",
        "/hooks/ci",
        &[("authorization", &bearer), ("x-orch-delivery", "d-1")],
        job.as_bytes(),
    );
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("replayed")),
        "{b}"
    );

    // A criterion that does not hold is recorded with the criterion.
    let (_, b) = server.signed_hook(
        "monitoring",
        KEY,
        &json!({"status": "up", "host": "db1"}),
        None,
    );
    let e = decided(&host, b["event"].as_i64().expect("id"));
    let d = &e["decisions"][0];
    assert_eq!(d["decision"], "criteria_false", "{e:#}");
    assert!(
        d["detail"].as_str().is_some_and(
            |t| t.contains("event.body.status equals \"down\"") && t.contains("\"up\"")
        ),
        "{e:#}"
    );

    let counters = server.counters();
    for code in [
        "replayed",
        "unsigned",
        "bad_signature",
        "stale",
        "too_large",
        "malformed",
        "unknown_hook",
        "bad_token",
        "no_token",
    ] {
        assert!(
            counters[format!("hooks.refused.{code}")]
                .as_u64()
                .unwrap_or(0)
                >= 1,
            "{code}: {counters:#}"
        );
    }
    let (status, ready) = server.request("GET", "/readyz", &[], b"");
    assert_eq!((status, &ready["status"]), (200, &json!("ready")));
    let stopped = server.stop("-TERM");
    assert_eq!(stopped.code, 0, "{stopped:#?}");
    // Neither secret is anywhere: store, logs, outputs.
    let list = host.orch(&["events", "list", "--json"]);
    assert_no_leak(&host, KEY, &[&stopped, &list]);
    assert_no_leak(&host, TOKEN, &[&stopped, &list]);
}

#[test]
fn a_webhook_rule_without_its_secret_is_refused_at_start() {
    let host = TestHost::new();
    let rules = rules_dir(&[("mon", &monitoring_rule("nowhere"))]);
    let run = host.orch(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--rules",
        &path_str(rules.path()),
    ]);
    let err = run.fails_with(2);
    assert!(
        err.contains("webhook monitoring needs the vault credential nowhere")
            && err.contains("orch secret set nowhere --kind webhook-hmac"),
        "{err}"
    );
}

#[test]
fn syslog_over_udp_and_tcp_becomes_events_and_a_flood_is_dropped_counted_and_survived() {
    let host = TestHost::new();
    let rule = "trigger: { type: syslog }\ncriteria:\n  - event.severity: { lt: 4 }\nrun:\n  workflow: echo\n  input: { text: <% ctx().event.message %> }\n";
    let rules = rules_dir(&[("urgent", rule)]);
    let workflows = workflows_dir(&[("echo", ECHO)]);
    let server = Server::start(
        &host,
        &[
            "--rules",
            &path_str(rules.path()),
            "--workflows",
            &path_str(workflows.path()),
            "--syslog-udp",
            "127.0.0.1:0",
            "--syslog-tcp",
            "127.0.0.1:0",
            "--queue",
            "4",
        ],
    );
    // RFC 3164 over UDP, severity 2 (crit): fires.
    server
        .syslog_udp("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8");
    let first = wait_for(30, "the UDP event", || {
        let list = host
            .orch(&["events", "list", "--type", "syslog", "--json"])
            .json();
        list.as_array().and_then(|l| l.first().cloned())
    });
    assert_eq!(first["payload"]["host"], "mymachine", "{first:#}");
    assert_eq!(first["payload"]["tag"], "su");
    assert_eq!(first["payload"]["severity"], 2);
    assert_eq!(first["payload"]["facility"], 4);
    assert_eq!(first["payload"]["source_address"], "127.0.0.1");
    let run = fired_run(&decided(&host, first["id"].as_i64().expect("id")), "urgent");
    assert_eq!(finished(&host, &run), "succeeded");

    // RFC 5424 over TCP, octet-counted, then a line-framed one: both arrive in order.
    let mut tcp = std::net::TcpStream::connect(server.tcp.expect("tcp")).expect("connect");
    let m1 = "<165>1 2026-12-01T10:00:00Z sw1 app 1 ID1 - interface up";
    writeln!(
        tcp,
        "{} {m1}<13>Dec  1 10:00:01 sw2 kernel: line framed",
        m1.len()
    )
    .expect("write");
    tcp.flush().expect("flush");
    let tcp_events = wait_for(30, "two TCP events", || {
        let list = host
            .orch(&["events", "list", "--type", "syslog", "--json"])
            .json();
        let tcp: Vec<Value> = list
            .as_array()?
            .iter()
            .filter(|e| e["name"] == "tcp" && e["decided"] == true)
            .cloned()
            .collect();
        (tcp.len() == 2).then_some(tcp)
    });
    assert_eq!(tcp_events[1]["payload"]["message"], "interface up");
    assert_eq!(tcp_events[1]["payload"]["format"], "rfc5424");
    assert_eq!(tcp_events[0]["payload"]["host"], "sw2");
    assert_eq!(tcp_events[0]["decisions"][0]["decision"], "criteria_false");

    // A flood into a queue of 4: drops counted, nothing crashes, memory stays bounded.
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    let target = server.udp.expect("udp");
    for i in 0..20_000 {
        let _ = socket.send_to(
            format!("<14>flood message {i} {}", "y".repeat(200)).as_bytes(),
            target,
        );
    }
    let dropped = wait_for(30, "drops to be counted", || {
        let c = server.counter("syslog.dropped");
        (c > 0).then_some(c)
    });
    std::thread::sleep(Duration::from_millis(500));
    let received = server.counter("syslog.received");
    let stored = server.counter("events.stored.syslog");
    assert!(
        received >= stored + dropped - 3,
        "received {received}, stored {stored}, dropped {dropped}"
    );
    let rss = rss_kib(server.pid());
    assert!(
        rss < 400 * 1024,
        "the server's RSS after the flood is {rss} KiB"
    );
    // Still serving: a message after the flood is stored and decided.
    server.syslog_udp("<10>Dec  1 10:00:02 r9 app: after the flood");
    wait_for(30, "the message after the flood", || {
        let list = host
            .orch(&[
                "events", "list", "--type", "syslog", "--limit", "5", "--json",
            ])
            .json();
        list.as_array()?
            .iter()
            .find(|e| e["payload"]["message"] == "after the flood")
            .cloned()
    });
    let (status, _) = server.request("GET", "/healthz", &[], b"");
    assert_eq!(status, 200);
    assert_eq!(server.stop("-TERM").code, 0);
}

/// The resident set size of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// The slots (Unix ms) of the schedule events of `rule`, oldest first, with `missed`.
fn slots(host: &TestHost, rule: &str) -> Vec<(i64, u64)> {
    let list = host
        .orch(&[
            "events", "list", "--type", "schedule", "--limit", "1000", "--json",
        ])
        .json();
    let mut out: Vec<(i64, u64)> = list
        .as_array()
        .expect("list")
        .iter()
        .filter(|e| e["name"] == rule)
        .map(|e| {
            (
                e["payload"]["slot_ms"].as_i64().expect("slot"),
                e["payload"]["missed"].as_u64().expect("missed"),
            )
        })
        .collect();
    out.sort_unstable();
    out
}

#[test]
fn a_schedule_fires_each_slot_once_and_catches_up_once_or_skips_after_a_restart() {
    for catch_up in ["once", "skip"] {
        let host = TestHost::new();
        let rule = format!(
            "trigger:\n  type: schedule\n  cron: \"* * * * * *\"\n  catch_up: {catch_up}\nrun:\n  workflow: echo\n  input: {{ text: <% ctx().event.slot %> }}\n"
        );
        let rules = rules_dir(&[("tick", &rule)]);
        let workflows = workflows_dir(&[("echo", ECHO)]);
        let args = [
            "--rules",
            &path_str(rules.path()),
            "--workflows",
            &path_str(workflows.path()),
        ];
        let server = Server::start(&host, &args);
        wait_for(30, "three slots", || {
            (slots(&host, "tick").len() >= 3).then_some(())
        });
        // Killed: nothing gets a chance to tidy up.
        server.stop("-KILL");
        let before = slots(&host, "tick");
        std::thread::sleep(Duration::from_millis(3500));
        let server = Server::start(&host, &args);
        wait_for(30, "slots after the restart", || {
            (slots(&host, "tick").len() >= before.len() + 2).then_some(())
        });
        assert_eq!(server.stop("-TERM").code, 0);
        let after = slots(&host, "tick");
        for pair in after.windows(2) {
            assert!(pair[0].0 < pair[1].0, "a slot fired twice: {after:?}");
        }
        for (slot, _) in &after {
            assert_eq!(slot % 1000, 0, "slots fall on seconds: {after:?}");
        }
        let last_before = before.last().expect("slots").0;
        let first_after = after
            .iter()
            .find(|(s, _)| *s > last_before)
            .expect("a slot after the restart");
        let gap = (first_after.0 - last_before) / 1000;
        match catch_up {
            "once" => {
                assert!(
                    first_after.1 >= 2 && gap >= 3,
                    "one catch-up event for the missed slots: {after:?}"
                );
                assert!(
                    after.iter().filter(|(_, missed)| *missed > 0).count() == 1,
                    "{after:?}"
                );
            }
            _ => assert!(
                after.iter().all(|(_, missed)| *missed == 0) && gap >= 3,
                "missed slots skipped: {after:?}"
            ),
        }
        // Every slot's event fired its run, once.
        let list = host
            .orch(&[
                "events", "list", "--type", "schedule", "--limit", "1000", "--json",
            ])
            .json();
        for e in list.as_array().expect("list") {
            if e["decided"] == true {
                assert_eq!(e["decisions"].as_array().map(Vec::len), Some(1), "{e:#}");
            }
        }
    }
}

#[test]
fn a_finished_run_is_an_event_so_rules_chain() {
    let host = TestHost::new();
    set_secret(&host, "mon-hook", "webhook-hmac", KEY);
    let chained = "trigger: { type: run, workflow: echo, status: succeeded }\ncriteria:\n  - event.output.said: { contains: down }\nrun:\n  workflow: notify\n  input: { text: \"run {{ ctx().event.run }} said {{ ctx().event.output.said }}\" }\n";
    let rules = rules_dir(&[("mon", &monitoring_rule("mon-hook")), ("after", chained)]);
    let workflows = workflows_dir(&[("echo", ECHO), ("notify", &ECHO.replace("say:", "notify:"))]);
    let server = Server::start(
        &host,
        &[
            "--rules",
            &path_str(rules.path()),
            "--workflows",
            &path_str(workflows.path()),
        ],
    );
    let (_, b) = server.signed_hook(
        "monitoring",
        KEY,
        &json!({"status": "down", "host": "web3"}),
        None,
    );
    let first = fired_run(&decided(&host, b["event"].as_i64().expect("id")), "mon");
    let run_event = wait_for(30, "the run event", || {
        let list = host
            .orch(&["events", "list", "--type", "run", "--json"])
            .json();
        list.as_array()?
            .iter()
            .find(|e| e["payload"]["run"] == first.as_str())
            .cloned()
    });
    assert_eq!(run_event["payload"]["status"], "succeeded");
    assert_eq!(run_event["payload"]["depth"], 1);
    let e = decided(&host, run_event["id"].as_i64().expect("id"));
    let second = fired_run(&e, "after");
    assert_eq!(finished(&host, &second), "succeeded");
    let out = host.orch(&["runs", "show", &second, "--json"]).json();
    assert_eq!(
        out["output"]["said"],
        format!("run {first} said web3 is down")
    );
    // A run finished by another process (orch run) on the same home is an event too.
    let cli = host.orch(&[
        "run",
        "echo",
        "--workflows",
        &path_str(workflows.path()),
        "-i",
        "text=quiet",
        "--json",
    ]);
    let cli_run = cli.json()["run"].as_str().expect("run").to_owned();
    wait_for(30, "the CLI run's event", || {
        let list = host
            .orch(&["events", "list", "--type", "run", "--json"])
            .json();
        list.as_array()?
            .iter()
            .find(|e| e["payload"]["run"] == cli_run.as_str())
            .cloned()
    });
    assert_eq!(server.stop("-TERM").code, 0);
}

#[test]
fn serve_resumes_orphaned_runs_and_a_graceful_stop_leaves_its_runs_resumable() {
    let host = TestHost::new();
    set_secret(&host, "mon-hook", "webhook-hmac", KEY);
    let workflows = workflows_dir(&[("sleepy", SLEEP), ("echo", ECHO)]);
    let wf = path_str(workflows.path());
    // An `orch run` killed mid-run: its lease's owner is gone.
    let bg = host.spawn(&["run", "sleepy", "--workflows", &wf, "-i", "seconds=2"]);
    let orphan: String = wait_for(30, "the run to start", || host.sql("SELECT id FROM runs"));
    std::thread::sleep(Duration::from_millis(300));
    bg.signal("-KILL");
    drop(bg.wait());
    let rule = "trigger: { type: webhook, name: nap, secret: mon-hook }\nrun:\n  workflow: sleepy\n  input: { seconds: 30 }\n";
    let rules = rules_dir(&[("nap", rule)]);
    let args = [
        "--rules",
        &path_str(rules.path()),
        "--workflows",
        &wf,
        "--grace",
        "1",
    ];
    let server = Server::start(&host, &args);
    assert_eq!(
        server.resumed,
        std::slice::from_ref(&orphan),
        "{}",
        server.stdout()
    );
    assert_eq!(finished(&host, &orphan), "succeeded");

    // A rule-fired run sleeping 30 s; SIGTERM: the server stops within the grace, the run is
    // paused, and the next start resumes it.
    let (_, b) = server.signed_hook("nap", KEY, &json!({}), None);
    let run = fired_run(&decided(&host, b["event"].as_i64().expect("id")), "nap");
    std::thread::sleep(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let stopped = server.stop("-TERM");
    assert_eq!(stopped.code, 0, "{stopped:#?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped in {:?}",
        started.elapsed()
    );
    assert!(stopped.stdout.contains("paused"), "{stopped:#?}");
    let status = host.orch(&["runs", "show", &run, "--json"]).json()["status"].clone();
    assert_eq!(status, "paused");
    let server = Server::start(&host, &args);
    assert!(server.resumed.contains(&run), "{}", server.stdout());
    let status = host.orch(&["runs", "show", &run, "--json"]).json()["status"].clone();
    assert_eq!(status, "running");
    // Another server on the same home is refused while this one runs.
    let second = host.orch(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--rules",
        &path_str(rules.path()),
    ]);
    assert!(
        second
            .fails_with(2)
            .contains("another orch serve already serves"),
        "{second:#?}"
    );
    server.stop("-KILL");
}

#[test]
fn an_event_fires_its_rule_at_most_once_across_kills_of_the_server() {
    let host = TestHost::new();
    set_secret(&host, "mon-hook", "webhook-hmac", KEY);
    let rules = rules_dir(&[("mon", &monitoring_rule("mon-hook"))]);
    let workflows = workflows_dir(&[("echo", ECHO)]);
    let args = [
        "--rules",
        &path_str(rules.path()),
        "--workflows",
        &path_str(workflows.path()),
    ];
    let mut accepted = 0;
    for round in 0..6u64 {
        let server = Server::start(&host, &args);
        for i in 0..10 {
            let (s, _) = server.signed_hook(
                "monitoring",
                KEY,
                &json!({"status": "down", "host": format!("h{round}-{i}")}),
                None,
            );
            if s == 202 {
                accepted += 1;
            }
        }
        // Killed at a different point of the decide/start path each round.
        std::thread::sleep(Duration::from_millis(round * 7));
        server.stop("-KILL");
    }
    // A last start finishes what the kills left, then every decision is in.
    let server = Server::start(&host, &args);
    wait_for(60, "every event decided and every firing started", || {
        let undecided: i64 = host
            .sql("SELECT count(*) FROM trigger_events WHERE decided_at IS NULL")?
            .parse()
            .ok()?;
        let unstarted: i64 = host
            .sql(
                "SELECT count(*) FROM rule_decisions d WHERE decision = 'fired'
                 AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = d.run_id)",
            )?
            .parse()
            .ok()?;
        (undecided == 0 && unstarted == 0).then_some(())
    });
    let events = host.sql_count("SELECT count(*) FROM trigger_events WHERE type = 'webhook'");
    let fired = host.sql_count("SELECT count(*) FROM rule_decisions WHERE decision = 'fired'");
    let runs = host.sql_count("SELECT count(*) FROM runs WHERE workflow = 'echo'");
    assert_eq!(events, accepted, "every accepted webhook is stored");
    assert_eq!(fired, events, "every event fired its rule once");
    assert_eq!(runs, fired, "one run per firing, none twice");
    server.stop("-TERM");
}

#[test]
fn rule_test_says_what_the_example_rules_would_decide() {
    let host = TestHost::new();
    let inventory = json!({"devices": [{"name": "R1", "address": "192.0.2.1", "port": 22, "platform": "cisco_ios", "tags": {"site": "lab"}}]});
    let path = host.home().join("inventory.yaml");
    std::fs::write(&path, inventory.to_string()).expect("write");
    host.orch(&["inventory", "import", &path_str(&path)]).ok();
    let rules = path_str(&crate::server::example_rules());
    let wf = path_str(&TestHost::examples());
    host.orch(&["rule", "validate", "--rules", &rules]).ok();
    let listed = host
        .orch(&["rule", "list", "--rules", &rules, "--json"])
        .json();
    let names: Vec<&str> = listed
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        names.contains(&"config-changed") && names.contains(&"config-backup"),
        "{listed:#}"
    );

    let change = r#"{"host": null, "source_address": "192.0.2.1", "message": "%SYS-5-CONFIG_I: Configured from console by admin on vty0"}"#;
    let t = host
        .orch(&[
            "rule",
            "test",
            "config-changed",
            change,
            "--rules",
            &rules,
            "--workflows",
            &wf,
            "--json",
        ])
        .json();
    assert_eq!(t["verdict"]["decision"], "fired", "{t:#}");
    assert_eq!(
        t["verdict"]["input"],
        json!({"device": "R1", "servicenow_instance": null, "config_user": "netops"}),
        "{t:#}"
    );
    assert_eq!(t["device"]["tags"]["site"], "lab");
    let other = r#"{"source_address": "192.0.2.99", "message": "%SYS-5-CONFIG_I: x"}"#;
    let t = host
        .orch(&[
            "rule",
            "test",
            "config-changed",
            other,
            "--rules",
            &rules,
            "--workflows",
            &wf,
        ])
        .ok()
        .to_owned();
    assert!(
        t.contains("criteria_false") && t.contains("device.name is missing"),
        "{t}"
    );
    let t = host
        .orch(&[
            "rule",
            "test",
            "config-backup",
            "{}",
            "--rules",
            &rules,
            "--workflows",
            &wf,
            "--json",
        ])
        .json();
    assert_eq!(t["verdict"]["decision"], "fired", "{t:#}");
    assert_eq!(t["verdict"]["workflow"], "config-backup");
    assert_eq!(t["verdict"]["input"]["tags"], json!({"site": "lab"}));
    assert_eq!(t["start_error"], Value::Null, "{t:#}");
    // A webhook event is not what a syslog rule listens to.
    let t = host
        .orch(&[
            "rule",
            "test",
            "config-changed",
            r#"{"type": "webhook", "name": "x", "payload": {}}"#,
            "--rules",
            &rules,
        ])
        .ok()
        .to_owned();
    assert!(t.contains("does not listen"), "{t}");
}
