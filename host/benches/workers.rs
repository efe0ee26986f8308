//! Benchmark of workers sharing a PostgreSQL store (run with `cargo bench -p orch --bench
//! workers`; needs PostgreSQL's server binaries, which `scripts/setup` installs):
//! - throughput: a workflow fanning out N sub-workflow runs (each one `core.echo` step) queued
//!   and driven by 1, 2 and 4 `orch worker` processes (children handed out through the store),
//!   against the same workflow driven by one `orch run` on the home's SQLite store (children
//!   driven in-process): child runs completed per second, and the ratios;
//! - latency: runs queued one at a time with one idle worker waiting: from the run's insert to
//!   its first task's start (both times as the store recorded them), median and 95th centile.
//!
//! Under `cargo test` it runs as a smoke test: 8 children, 1 worker, 3 latency samples.
//! `BENCH_CHILDREN=N` sets the fan-out's size in either mode; `BENCH_WORKER_LOGS=DIR` keeps the
//! workers' logs.

#[path = "support/sampling.rs"]
#[allow(dead_code, reason = "this bench uses part of the shared support")]
mod sampling;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PARENT: &str = "\
version: 1
input:
  - n
tasks:
  each:
    with:
      items: i in <% range(0, ctx(n)) %>
      concurrency: 64
    action: child
    input:
      i: <% item(i) %>
";

const CHILD: &str = "\
version: 1
input:
  - i
tasks:
  one:
    action: core.echo
    input:
      i: <% ctx(i) %>
";

const ONE: &str = "\
version: 1
tasks:
  one:
    action: core.echo
    input: {}
";

fn orch(home: &Path, url: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orch"));
    cmd.env("ORCH_HOME", home)
        .env_remove("ORCH_LOG")
        .env_remove("ORCH_DATABASE_URL");
    if let Some(url) = url {
        cmd.env("ORCH_DATABASE_URL", url);
    }
    cmd
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("running orch");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `orch worker` processes, killed when dropped.
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for w in &mut self.0 {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

fn workers(home: &Path, url: &str, count: usize) -> Workers {
    Workers(
        (0..count)
            .map(|i| {
                // BENCH_WORKER_LOGS=DIR keeps each worker's log there (what it did and why).
                let log: Stdio = match std::env::var_os("BENCH_WORKER_LOGS") {
                    Some(dir) => {
                        let file = Path::new(&dir).join(format!(
                            "worker-{}-{i}.log",
                            home.display().to_string().replace('/', "_")
                        ));
                        std::fs::File::create(&file)
                            .unwrap_or_else(|err| panic!("{}: {err}", file.display()))
                            .into()
                    }
                    None => Stdio::null(),
                };
                orch(home, Some(url))
                    .env("ORCH_LOG", "info")
                    .args(["worker", "--concurrency", "64", "--poll", "0.5"])
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .expect("starting a worker")
            })
            .collect(),
    )
}

fn status(home: &Path, url: Option<&str>, id: &str) -> String {
    let shown = ok(orch(home, url).args(["runs", "show", id, "--json"]));
    let shown: serde_json::Value = serde_json::from_str(&shown).expect("json");
    shown["status"].as_str().unwrap_or_default().to_owned()
}

/// Seconds for `workers` workers to drive a fan-out of `n` children queued on a new database.
fn distributed(dir: &Path, count: usize, n: usize) -> f64 {
    let home = tempfile::tempdir().expect("home");
    let url = orch_pg_peer::server().create_database("bench");
    ok(orch(home.path(), Some(&url)).args(["runs", "list"]));
    let _workers = workers(home.path(), &url, count);
    std::thread::sleep(Duration::from_millis(500));
    let start = Instant::now();
    let id = ok(orch(home.path(), Some(&url)).args([
        "run",
        "--workflows",
        &dir.display().to_string(),
        "parent",
        "-i",
        &format!("n={n}"),
        "--queue",
    ]))
    .trim()
    .to_owned();
    loop {
        match status(home.path(), Some(&url), &id).as_str() {
            "queued" | "running" => std::thread::sleep(Duration::from_millis(20)),
            "succeeded" => return start.elapsed().as_secs_f64(),
            other => panic!("the run {other}"),
        }
    }
}

/// Seconds for one `orch run` to drive the same fan-out on SQLite, children in-process.
fn local(dir: &Path, n: usize) -> f64 {
    let home = tempfile::tempdir().expect("home");
    ok(orch(home.path(), None).args(["runs", "list"]));
    let start = Instant::now();
    ok(orch(home.path(), None).args([
        "run",
        "--workflows",
        &dir.display().to_string(),
        "parent",
        "-i",
        &format!("n={n}"),
    ]));
    start.elapsed().as_secs_f64()
}

/// Claim → first task started, in ms, for `samples` runs queued one at a time.
fn latencies(dir: &Path, samples: usize) -> Vec<i64> {
    let home = tempfile::tempdir().expect("home");
    let url = orch_pg_peer::server().create_database("latency");
    ok(orch(home.path(), Some(&url)).args(["runs", "list"]));
    let _workers = workers(home.path(), &url, 1);
    std::thread::sleep(Duration::from_millis(500));
    let mut out = Vec::new();
    for _ in 0..samples {
        let id = ok(orch(home.path(), Some(&url)).args([
            "run",
            "--workflows",
            &dir.display().to_string(),
            "one",
            "--queue",
        ]))
        .trim()
        .to_owned();
        while status(home.path(), Some(&url), &id) != "succeeded" {
            std::thread::sleep(Duration::from_millis(5));
        }
        let server = orch_pg_peer::server();
        let created: i64 = server
            .query(
                &url,
                &format!("SELECT created_at FROM runs WHERE id = '{id}'"),
            )
            .and_then(|v| v.parse().ok())
            .expect("created_at");
        let started: i64 = server
            .query(
                &url,
                &format!("SELECT min(started_at) FROM attempts WHERE run_id = '{id}'"),
            )
            .and_then(|v| v.parse().ok())
            .expect("started_at");
        out.push(started - created);
    }
    out.sort_unstable();
    out
}

fn main() {
    if !orch_pg_peer::available() {
        eprintln!("skipped: PostgreSQL is not installed (scripts/setup installs it)");
        return;
    }
    let measuring = sampling::measuring();
    let (mut n, counts, samples): (usize, &[usize], usize) = if measuring {
        (1_000, &[1, 2, 4], 50)
    } else {
        (8, &[1], 3)
    };
    // BENCH_CHILDREN=N: another fan-out size (a quick look at a change).
    if let Some(children) = std::env::var("BENCH_CHILDREN")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        n = children;
    }
    let dir = tempfile::tempdir().expect("workflows");
    std::fs::write(dir.path().join("parent.yaml"), PARENT).expect("parent");
    std::fs::write(dir.path().join("child.yaml"), CHILD).expect("child");
    std::fs::write(dir.path().join("one.yaml"), ONE).expect("one");

    let base = local(dir.path(), n);
    println!(
        "sqlite, one process, {n} child runs: {base:.2} s, {:.0} child runs/s",
        n as f64 / base
    );
    for &count in counts {
        let secs = distributed(dir.path(), count, n);
        println!(
            "postgres, {count} worker(s), {n} child runs: {secs:.2} s, {:.0} child runs/s ({:.2}x the SQLite host)",
            n as f64 / secs,
            base / secs
        );
    }
    let lat = latencies(dir.path(), samples);
    let pick = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "claim to first task started, {} runs: p50 {} ms, p95 {} ms",
        lat.len(),
        pick(0.5),
        pick(0.95)
    );
}
