//! Benchmarks of `orch serve` (issue 11, "Performance"), on the real binary over real sockets:
//!
//! 1. **Webhook → run started**: a signed `POST /hooks/bench` whose rule fires a one-task
//!    workflow (`core.echo`); the time from sending the request to the server's log line for the
//!    run's first task starting (`task started`, read from its stderr as it is written), one
//!    request at a time. Also the time to the `202` (the event stored). Baseline in the same run:
//!    `orch run` of the same workflow as a new process, until its first task starts (what a cron
//!    job or a monitoring script calling the CLI would cost).
//! 2. **Sustained syslog**: 500 events/s over UDP for 60 s through a rule with a regex criterion,
//!    inventory enrichment (50 devices, found by the message's host name) and a throttle per
//!    device; then: every event stored and decided (no loss), drops, the decision lag
//!    (stored → decided, from the store), the runs fired (one per device), and the server's RSS
//!    sampled every second (idle before the load is the baseline).
//!
//! 3. **Listing runs**: `GET /api/v1/runs` (50 a page, a viewer's token checked on each
//!    request, a new connection each time) over a store holding 100,000 root runs (and 20,000
//!    sub-workflow runs): the first page, pages deep in the history by cursor, and filtered by
//!    status and by workflow. Baselines in the same run: the same requests over a store of 1,000
//!    runs (the listing must not grow with the store), and `GET /healthz` (HTTP alone).
//!
//! 4. **Console pages**: the run page (and its live part) of a run with a 1,000-item fan-out
//!    and of a loop of 1,000 task executions, and the workflow page, signed in with a session cookie: server
//!    time (request to last byte) and the HTML's size. Baseline in the same run: the same
//!    pages for a run of 10 items.
//!
//! `cargo bench -p orch --bench serve` measures; under `cargo test` it runs a short smoke version.
//! `BENCH_SECONDS` changes the sustained run's length; `BENCH_ONLY=hook|syslog|list|console` runs one part.

#[path = "support/sampling.rs"]
#[expect(
    dead_code,
    reason = "shared with the other benches; this one uses `measuring`"
)]
mod sampling;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;

const KEY: &str = "bench-hook-key-4b1d9e0c";
const ECHO: &str = "version: 1\ninput:\n  - text: x\ntasks:\n  say:\n    action: core.echo\n    input: { text: <% ctx().text %> }\n";

fn orch(home: &Path, args: &[&str], stdin: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_orch"))
        .args(args)
        .env("ORCH_HOME", home)
        .env_remove("ORCH_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("orch");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin");
    assert!(
        child.wait().expect("wait").success(),
        "orch {args:?} failed"
    );
}

/// A running server; its stderr lines arrive with the instant they were read.
struct Server {
    child: Child,
    http: SocketAddr,
    udp: Option<SocketAddr>,
    lines: mpsc::Receiver<(Instant, String)>,
}

impl Server {
    fn start(home: &Path, rules: &Path, workflows: &Path, udp: bool) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_orch"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--rules"])
            .arg(rules)
            .arg("--workflows")
            .arg(workflows)
            .env("ORCH_HOME", home)
            .env("ORCH_LOG", "orch::service=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if udp {
            cmd.args(["--syslog-udp", "127.0.0.1:0"]);
        }
        let mut child = cmd.spawn().expect("orch serve");
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let (mut http, mut udp_addr) = (None, None);
        let mut line = String::new();
        while out.read_line(&mut line).expect("stdout") > 0 {
            let l = line.trim();
            if let Some(a) = l.strip_prefix("http: http://") {
                http = Some(a.parse().expect("addr"));
            }
            if let Some(a) = l.strip_prefix("syslog udp: ") {
                udp_addr = Some(a.parse().expect("addr"));
            }
            if l == "ready" {
                break;
            }
            line.clear();
        }
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = out.read_to_string(&mut sink);
        });
        Self {
            child,
            http: http.expect("the server printed its address"),
            udp: udp_addr,
            lines,
        }
    }

    fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn post_signed(addr: SocketAddr, path: &str, body: &str) -> u16 {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        .to_string();
    let sig = orch::service::webhook::signature(KEY.as_bytes(), &ts, body.as_bytes());
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\nx-orch-timestamp: {ts}\r\nx-orch-signature: {sig}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    raw.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn webhook_to_run(dir: &Path) {
    let home = dir.join("home-hook");
    let rules = dir.join("rules-hook");
    let workflows = dir.join("workflows");
    std::fs::create_dir_all(&rules).expect("dir");
    std::fs::write(
        rules.join("bench.yaml"),
        "trigger: { type: webhook, name: bench, secret: bench-hook }\nrun:\n  workflow: echo\n  input: { text: <% ctx().event.body.n %> }\n",
    )
    .expect("rule");
    orch(
        &home,
        &[
            "secret",
            "set",
            "bench-hook",
            "--kind",
            "webhook-hmac",
            "--from-stdin",
        ],
        KEY,
    );
    let server = Server::start(&home, &rules, &workflows, false);
    let n = if sampling::measuring() { 300 } else { 5 };
    let warmup = if sampling::measuring() { 20 } else { 1 };
    let mut accepted = Vec::new();
    let mut started = Vec::new();
    for i in 0..warmup + n {
        let t0 = Instant::now();
        let status = post_signed(server.http, "/hooks/bench", &json!({ "n": i }).to_string());
        let t_ack = t0.elapsed();
        assert_eq!(status, 202);
        let t_task = loop {
            let (at, line) = server
                .lines
                .recv_timeout(Duration::from_secs(30))
                .expect("the run's first task starts");
            if line.contains("task started") {
                break at.duration_since(t0);
            }
        };
        if i >= warmup {
            accepted.push(t_ack);
            started.push(t_task);
        }
    }
    accepted.sort();
    started.sort();
    server.stop();

    // Baseline: the CLI as a new process, until its first task starts.
    let cli_home = dir.join("home-cli");
    let runs = if sampling::measuring() { 20 } else { 2 };
    let mut cli = Vec::new();
    for _ in 0..runs {
        let t0 = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_orch"))
            .args(["run", "echo", "--workflows"])
            .arg(&workflows)
            .env("ORCH_HOME", &cli_home)
            .env_remove("ORCH_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("orch run");
        let stderr = child.stderr.take().expect("stderr");
        let mut at = None;
        for line in BufReader::new(stderr).lines() {
            let line = line.expect("line");
            if at.is_none() && line.contains("▸ say#1") {
                at = Some(t0.elapsed());
            }
        }
        assert!(child.wait().expect("wait").success());
        cli.push(at.expect("the CLI printed its first task"));
    }
    cli.sort();
    let p50 = percentile(&started, 50);
    let cli50 = percentile(&cli, 50);
    println!("webhook → run started ({n} sequential requests, one-task workflow):");
    println!(
        "  202 (event stored):        p50 {}  p90 {}",
        ms(percentile(&accepted, 50)),
        ms(percentile(&accepted, 90))
    );
    println!(
        "  first task started:        p50 {}  p90 {}  p99 {}",
        ms(p50),
        ms(percentile(&started, 90)),
        ms(percentile(&started, 99))
    );
    println!(
        "  baseline `orch run` (new process), first task started: p50 {}  ({runs} runs)",
        ms(cli50)
    );
    println!(
        "  ratio serve/CLI: {:.3}",
        p50.as_secs_f64() / cli50.as_secs_f64()
    );
}

fn sustained(dir: &Path) {
    let home = dir.join("home-syslog");
    let rules = dir.join("rules-syslog");
    let workflows = dir.join("workflows");
    std::fs::create_dir_all(&rules).expect("dir");
    std::fs::create_dir_all(&home).expect("dir");
    let devices: Vec<serde_json::Value> = (0..50)
        .map(|i| json!({"name": format!("R{i}"), "address": format!("10.9.0.{i}"), "port": 22, "platform": "cisco_ios", "tags": {"site": "bench"}}))
        .collect();
    let inventory = home.join("inventory.yaml");
    std::fs::write(&inventory, json!({ "devices": devices }).to_string()).expect("inventory");
    orch(
        &home,
        &["inventory", "import", inventory.to_str().expect("utf-8")],
        "",
    );
    std::fs::write(
        rules.join("changed.yaml"),
        "trigger: { type: syslog }\ncriteria:\n  - event.message: { regex: \"%SYS-5-CONFIG_I\" }\n  - device.name: { exists: true }\nthrottle: { once_within: 10m, group_by: [device.name] }\nrun:\n  workflow: echo\n  input: { text: <% ctx().device.name %> }\n",
    )
    .expect("rule");
    let server = Server::start(&home, &rules, &workflows, true);
    std::thread::sleep(Duration::from_secs(1));
    let idle = server.rss_kib();
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if sampling::measuring() { 60 } else { 3 });
    let rate = 500u64;
    let total = seconds * rate;
    let socket = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let target = server.udp.expect("udp");
    let start = Instant::now();
    let mut rss = Vec::new();
    let mut next_sample = Duration::from_secs(1);
    for i in 0..total {
        let due = Duration::from_micros(i * 1_000_000 / rate);
        let now = start.elapsed();
        if due > now {
            std::thread::sleep(due - now);
        }
        let msg = format!(
            "<189>Dec  1 10:00:00 R{} {i}: %SYS-5-CONFIG_I: Configured from console by admin on vty0",
            i % 50
        );
        socket.send_to(msg.as_bytes(), target).expect("send");
        if start.elapsed() >= next_sample {
            rss.push(server.rss_kib());
            next_sample += Duration::from_secs(1);
        }
        // Drain the server's log so its pipe never blocks it.
        while server.lines.try_recv().is_ok() {}
    }
    let sent_in = start.elapsed();
    // Wait until every event is stored and decided.
    let db = rusqlite::Connection::open_with_flags(
        home.join("orch.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("db");
    db.busy_timeout(Duration::from_secs(5)).expect("timeout");
    let waited = Instant::now();
    let (stored, undecided) = loop {
        while server.lines.try_recv().is_ok() {}
        let stored: i64 = db
            .query_row(
                "SELECT count(*) FROM trigger_events WHERE type = 'syslog'",
                [],
                |r| r.get(0),
            )
            .unwrap_or(0);
        let undecided: i64 = db
            .query_row(
                "SELECT count(*) FROM trigger_events WHERE decided_at IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap_or(0);
        if (stored as u64 >= total && undecided == 0) || waited.elapsed() > Duration::from_secs(60)
        {
            break (stored, undecided);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    rss.push(server.rss_kib());
    let mut lags: Vec<i64> = db
        .prepare("SELECT decided_at - received_at FROM trigger_events WHERE type = 'syslog' AND decided_at IS NOT NULL")
        .expect("query")
        .query_map([], |r| r.get(0))
        .expect("lags")
        .collect::<Result<_, _>>()
        .expect("lags");
    lags.sort_unstable();
    let fired: i64 = db
        .query_row(
            "SELECT count(*) FROM rule_decisions WHERE decision = 'fired'",
            [],
            |r| r.get(0),
        )
        .expect("fired");
    let throttled: i64 = db
        .query_row(
            "SELECT count(*) FROM rule_decisions WHERE decision = 'throttled'",
            [],
            |r| r.get(0),
        )
        .expect("throttled");
    let lag = |p: usize| {
        lags.get((lags.len() * p / 100).min(lags.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let peak = rss.iter().copied().max().unwrap_or(0);
    println!(
        "sustained syslog: {total} messages at {rate}/s over UDP in {:.1} s, one rule (regex, enrichment, throttle per device over 50 devices):",
        sent_in.as_secs_f64()
    );
    println!(
        "  stored {stored} of {total} ({} lost), undecided {undecided}, fired {fired}, throttled {throttled}",
        total as i64 - stored
    );
    println!(
        "  decision lag (stored → decided): p50 {} ms  p99 {} ms  max {} ms",
        lag(50),
        lag(99),
        lags.last().copied().unwrap_or(0)
    );
    println!(
        "  server RSS: idle {} MiB, during the load max {} MiB, at the end {} MiB (ratio peak/idle {:.2})",
        idle / 1024,
        peak / 1024,
        rss.last().copied().unwrap_or(0) / 1024,
        peak as f64 / idle.max(1) as f64
    );
    let per_second: Vec<String> = rss.iter().map(|k| (k / 1024).to_string()).collect();
    println!("  RSS each second (MiB): {}", per_second.join(" "));
    assert_eq!(stored as u64, total, "events were lost");
    assert_eq!(undecided, 0);
    server.stop();
}

/// A home whose store holds `roots` root runs (a tenth of them with two sub-workflow runs),
/// of three workflows, 1 % failed, newest last; and a viewer's token for it.
fn home_with_runs(dir: &Path, roots: usize) -> (std::path::PathBuf, String) {
    let home = dir.join(format!("home-list-{roots}"));
    std::fs::create_dir_all(&home).expect("dir");
    let out = Command::new(env!("CARGO_BIN_EXE_orch"))
        .args(["token", "create", "bench", "--role", "viewer"])
        .env("ORCH_HOME", &home)
        .output()
        .expect("orch token create");
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    let mut db = rusqlite::Connection::open(home.join("orch.db")).expect("the store");
    let tx = db.transaction().expect("transaction");
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO runs (id, workflow, source, definition, workflows_dir, input, status,
                                   parent_run, parent_step, created_at, updated_at)
                 VALUES (?1, ?2, 'bench', 'tasks: {}', '.', '{}', ?3, ?4, ?5, ?6, ?6)",
            )
            .expect("insert");
        let start: i64 = 1_700_000_000_000;
        for i in 0..roots {
            let id = format!("{i:012x}");
            let workflow = ["config-backup", "config-drift", "provision"][i % 3];
            let status = if i % 100 == 7 { "failed" } else { "succeeded" };
            let at = start + i as i64 * 1000;
            insert
                .execute(rusqlite::params![
                    id,
                    workflow,
                    status,
                    None::<String>,
                    None::<String>,
                    at
                ])
                .expect("a run");
            if i % 10 == 0 {
                for step in ["a", "b"] {
                    let child = format!("{id}{step}");
                    insert
                        .execute(rusqlite::params![
                            child,
                            "backup-device",
                            "succeeded",
                            &id,
                            step,
                            at
                        ])
                        .expect("a child run");
                }
            }
        }
    }
    tx.commit().expect("commit");
    (home, token)
}

/// `GET path` over a new connection with `token`: the time to the whole answer, and its body.
fn get(addr: SocketAddr, path: &str, token: &str) -> (Duration, serde_json::Value) {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer {token}\r\n\r\n"
    )
    .expect("write");
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let took = started.elapsed();
    assert!(raw.starts_with("HTTP/1.1 200"), "GET {path}: {raw}");
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (
        took,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

/// p50/p90/p99 of `n` requests made by `request` (given the round), as text.
fn latencies(n: usize, mut request: impl FnMut(usize) -> Duration) -> (Duration, String) {
    let mut times: Vec<Duration> = (0..n).map(&mut request).collect();
    times.sort();
    let p50 = percentile(&times, 50);
    (
        p50,
        format!(
            "p50 {} / p90 {} / p99 {}",
            ms(p50),
            ms(percentile(&times, 90)),
            ms(percentile(&times, 99))
        ),
    )
}

fn listing(dir: &Path) {
    let rules = dir.join("rules-list");
    std::fs::create_dir_all(&rules).expect("dir");
    let workflows = dir.join("workflows");
    let quick = !sampling::measuring();
    let sizes: &[usize] = if quick {
        &[1_000, 5_000]
    } else {
        &[1_000, 100_000]
    };
    let rounds = if quick { 20 } else { 300 };
    let mut first_pages = Vec::new();
    for &roots in sizes {
        let (home, token) = home_with_runs(dir, roots);
        let server = Server::start(&home, &rules, &workflows, false);
        let addr = server.http;
        // Warm up (page cache, prepared statements).
        for _ in 0..20 {
            get(addr, "/api/v1/runs?limit=50", &token);
        }
        let (p50, first) = latencies(rounds, |_| get(addr, "/api/v1/runs?limit=50", &token).0);
        first_pages.push(p50);
        // Deep pages: follow the cursor from the start, 50 at a time, as far as `rounds` pages.
        let mut cursor: Option<String> = None;
        let (_, deep) = latencies(rounds.min(roots / 50), |_| {
            let path = match &cursor {
                Some(c) => format!("/api/v1/runs?limit=50&before={c}"),
                None => "/api/v1/runs?limit=50".to_owned(),
            };
            let (took, body) = get(addr, &path, &token);
            cursor = body["next"].as_str().map(str::to_owned);
            took
        });
        let (_, failed) = latencies(rounds, |_| {
            get(addr, "/api/v1/runs?limit=50&status=failed", &token).0
        });
        let (_, by_workflow) = latencies(rounds, |_| {
            get(addr, "/api/v1/runs?limit=50&workflow=config-drift", &token).0
        });
        let (_, health) = latencies(rounds, |_| get(addr, "/healthz", &token).0);
        println!(
            "GET /api/v1/runs over {roots} root runs ({} sub-workflow runs):",
            roots / 10 * 2
        );
        println!("  first page of 50           {first}");
        println!("  pages by cursor, 50 each   {deep}");
        println!("  status=failed (1 %)        {failed}");
        println!("  workflow=config-drift      {by_workflow}");
        println!("  /healthz (HTTP alone)      {health}");
        server.stop();
    }
    if let [small, large] = first_pages[..] {
        println!(
            "first page, p50: {} over {} runs vs {} over {} runs: {:.2}x",
            ms(large),
            sizes[1],
            ms(small),
            sizes[0],
            large.as_secs_f64() / small.as_secs_f64()
        );
    }
}

/// `GET path` with a cookie; the time to the last byte and the body's size.
fn get_page(addr: SocketAddr, path: &str, cookie: &str) -> (Duration, usize) {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncookie: {cookie}\r\n\r\n"
    )
    .expect("write");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "GET {path}: {}",
        &text[..text.len().min(400)]
    );
    let body = text.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len());
    (took, body)
}

fn console(dir: &Path) {
    let home = dir.join("home-console");
    let workflows = dir.join("workflows-console");
    let rules = dir.join("rules-console");
    for d in [&home, &workflows, &rules] {
        std::fs::create_dir_all(d).expect("dir");
    }
    std::fs::write(
        workflows.join("fan.yaml"),
        "version: 1\ninput:\n  - n: 10\ntasks:\n  each:\n    action: core.echo\n    with: { items: <% range(ctx().n) %>, concurrency: 50 }\n    input: { text: <% str(item()) %> }\n    next: [{ do: done }]\n  done:\n    action: core.noop\n",
    )
    .expect("workflow");
    // 1,000 executions of one task (a loop), not one execution with 1,000 items.
    std::fs::write(
        workflows.join("loop.yaml"),
        "version: 1\ninput:\n  - n: 10\nvars:\n  - i: 1\ntasks:\n  step:\n    action: core.noop\n    next:\n      - when: <% ctx().i < ctx().n %>\n        publish: [{ i: <% ctx().i + 1 %> }]\n        do: step\n",
    )
    .expect("workflow");
    let out = Command::new(env!("CARGO_BIN_EXE_orch"))
        .args(["token", "create", "bench", "--role", "operator"])
        .env("ORCH_HOME", &home)
        .output()
        .expect("orch token create");
    let token = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    let mut runs = Vec::new();
    for (workflow, n) in [("fan", 10), ("fan", 1000), ("loop", 1000)] {
        let out = Command::new(env!("CARGO_BIN_EXE_orch"))
            .args(["run", workflow, "--workflows"])
            .arg(&workflows)
            .args(["-i", &format!("n={n}"), "--json"])
            .env("ORCH_HOME", &home)
            .env_remove("ORCH_LOG")
            .output()
            .expect("orch run");
        let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("run json");
        assert_eq!(body["status"], "succeeded", "{body}");
        let what = if workflow == "fan" {
            format!("{n} items")
        } else {
            format!("{n} executions")
        };
        runs.push((what, body["run"].as_str().expect("run id").to_owned()));
    }
    let server = Server::start(&home, &rules, &workflows, false);
    // Sign in as a browser would: the session cookie from the redirect.
    let mut s = TcpStream::connect(server.http).expect("connect");
    let form = format!("token={token}&next=/runs");
    write!(
        s,
        "POST /login HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n{form}",
        form.len()
    )
    .expect("write");
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let cookie = raw
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let rounds = if sampling::measuring() { 100 } else { 3 };
    for (what, run) in &runs {
        for path in [format!("/runs/{run}"), format!("/runs/{run}/live")] {
            let mut size = 0;
            let (_, figures) = latencies(rounds, |_| {
                let (took, bytes) = get_page(server.http, &path, &cookie);
                size = bytes;
                took
            });
            println!(
                "{path:<20} run of {what:<16} {figures}, {} KiB",
                size / 1024
            );
            // The budget for a page: checked in the smoke run of `cargo test` too.
            assert!(size <= 200 * 1024, "{path} is {size} bytes, above 200 KB");
        }
    }
    let (_, figures) = latencies(rounds, |_| {
        get_page(server.http, "/workflows/fan", &cookie).0
    });
    println!("/workflows/fan: {figures}");
    server.stop();
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let workflows = dir.path().join("workflows");
    std::fs::create_dir_all(&workflows).expect("dir");
    std::fs::write(workflows.join("echo.yaml"), ECHO).expect("workflow");
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "hook" {
        webhook_to_run(dir.path());
    }
    if only.is_empty() || only == "syslog" {
        sustained(dir.path());
    }
    if only.is_empty() || only == "list" {
        listing(dir.path());
    }
    if only.is_empty() || only == "console" {
        console(dir.path());
    }
}
