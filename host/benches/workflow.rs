//! Benchmarks of the durable workflow driver, journal on (`synchronous=FULL`), run with
//! `cargo bench -p orch --bench workflow` after `scripts/build-packs`:
//! - a `with` fan-out of 10,000 items of `misbehave.noop` at concurrency 64 (target ≤ 3 s);
//! - a chain of 1,000 sequential tasks, of `core.noop` (engine and journal overhead alone) and
//!   of `misbehave.noop` (one fresh sandbox and one durable commit per task; target ≤ 0.5 ms
//!   per task of engine overhead);
//! - journal bytes per task.
//!
//! Each figure is the median of a few runs in a fresh home; the store lives in the system temp
//! directory, so its fsync cost is part of the figures.

#[path = "support/guests.rs"]
mod guests;
use guests::guest;

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use orch::capabilities::Broker;
use orch::engine::{Engine, Quiet, RunState, Settings};
use orch::home::Home;
use orch::packs::Packs;
use orch::runtime::{Limits, Runtime};
use orch::store::Store;
use serde_json::Map;

fn fan_out(items: usize, concurrency: usize) -> String {
    format!(
        "version: 1\ntasks:\n  fan:\n    action: misbehave.noop\n    with: {{ items: <% range({items}) %>, concurrency: {concurrency} }}\n"
    )
}

fn chain(n: usize, action: &str) -> String {
    let mut y = String::from("version: 1\ntasks:\n");
    for i in 0..n {
        let _ = write!(y, "  t{i}:\n    action: {action}\n");
        if i + 1 < n {
            let _ = writeln!(y, "    next: [{{ do: t{} }}]", i + 1);
        }
    }
    y
}

struct Figure {
    wall: Duration,
    journal_bytes: i64,
    db_growth: u64,
}

fn db_size(home: &Path) -> u64 {
    ["orch.db", "orch.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(home.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

fn measure(tokio: &tokio::runtime::Runtime, runtime: &Arc<Runtime>, yaml: &str) -> Figure {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::open(dir.path().join("home")).expect("home");
    let store = Store::open(&home.database()).expect("store");
    let packs = Packs::new(&home, &store, runtime);
    tokio
        .block_on(packs.add(&guest("misbehave"), &|_| {}))
        .expect("adding misbehave");
    let wf = dir.path().join("bench.yaml");
    std::fs::write(&wf, yaml).expect("workflow");
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    let engine = Engine::new(
        &store,
        packs,
        Arc::clone(runtime),
        Broker::detached(),
        &Quiet,
        Settings::default(),
        stop_rx,
    );
    let before = db_size(home.root());
    let started = Instant::now();
    let outcome = tokio
        .block_on(engine.start(&wf.display().to_string(), Map::new(), &[]))
        .expect("run");
    let wall = started.elapsed();
    assert_eq!(outcome.status, RunState::Succeeded, "{outcome:?}");
    Figure {
        wall,
        journal_bytes: store.journal_bytes(&outcome.run).expect("journal size"),
        db_growth: db_size(home.root()).saturating_sub(before),
    }
}

fn median(tokio: &tokio::runtime::Runtime, rt: &Arc<Runtime>, yaml: &str, runs: usize) -> Figure {
    let mut all: Vec<Figure> = (0..runs).map(|_| measure(tokio, rt, yaml)).collect();
    all.sort_by_key(|f| f.wall);
    all.swap_remove(runs / 2)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to configure.
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let runtime = Arc::new(Runtime::new(Limits::DEFAULT.memory_bytes).expect("runtime"));
    let cases = [
        (
            "fan-out 10,000 x misbehave.noop, concurrency 64",
            fan_out(10_000, 64),
            10_000u32,
        ),
        (
            "chain of 1,000 core.noop",
            chain(1_000, "core.noop"),
            1_000u32,
        ),
        (
            "chain of 1,000 misbehave.noop",
            chain(1_000, "misbehave.noop"),
            1_000u32,
        ),
    ];
    println!("workflow driver, journal on (synchronous=FULL), median of 3 runs");
    for (name, yaml, tasks) in cases {
        let f = median(&tokio, &runtime, &yaml, 3);
        let per_task = f.wall.as_secs_f64() * 1000.0 / f64::from(tasks);
        println!(
            "{name:<50} wall {:>8.1} ms  per task {per_task:>7.3} ms  journal {:>5} B/task  db growth {:>5} B/task",
            f.wall.as_secs_f64() * 1000.0,
            f.journal_bytes / i64::from(tasks),
            f.db_growth / u64::from(tasks),
        );
    }
}
