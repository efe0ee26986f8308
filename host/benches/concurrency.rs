//! Benchmark of how many pack instances one process runs at once (run with `cargo bench -p orch
//! --bench concurrency` after `scripts/build-packs`): N concurrent `broker.http_request`s, each
//! waiting 1 s for a local server, through `Runtime::invoke` (a fresh sandbox each), with the
//! process's instance limit at the default (128: N/128 waves) and raised to N (one wave). Prints
//! the wall time of each, their ratio, and the resident memory at the peak of each run, i.e.
//! with that many instances live.
//!
//! Under `cargo test` it runs as a smoke test: 24 calls waiting 50 ms, limits 4 and 24.

#[path = "support/guests.rs"]
mod guests;
#[path = "support/hosted.rs"]
#[allow(dead_code, reason = "this bench uses part of the shared support")]
mod hosted;
#[path = "support/sampling.rs"]
#[allow(dead_code, reason = "this bench uses part of the shared support")]
mod sampling;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hosted::Hosted;
use orch::runtime::{DEFAULT_MAX_INSTANCES, EngineSettings, Limits, Runtime};
use orch::vault::MasterKey;
use serde_json::json;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Runs `calls` requests at once with the process limited to `limit` instances: the wall time
/// and the highest resident memory seen while they ran (sampled every 5 ms).
fn run(
    tokio: &tokio::runtime::Runtime,
    (port, arrivals): (u16, &Arrivals),
    wait: Duration,
    calls: usize,
    limit: u32,
) -> ([Round; 2], u64, u64) {
    let runtime = Runtime::with_settings(EngineSettings {
        max_instances: limit,
        ..EngineSettings::for_memory(Limits::DEFAULT.memory_bytes)
    })
    .expect("runtime");
    let hosted = Hosted::with_broker_on(tokio, runtime);
    hosted
        .store
        .add_grants("broker", &[format!("http:http://127.0.0.1:{port}")])
        .expect("grant");
    let invoker = Arc::new(hosted.invoker(MasterKey::generate().expect("key")));
    let input = json!({ "url": format!("http://127.0.0.1:{port}/wait?ms={}", wait.as_millis()) })
        .to_string();
    // One call first, so the pack's first instantiation and the client are not in the figure.
    tokio.block_on(invoker.call("http_request", &input));

    let before = rss_kib();
    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    // Two rounds on the same runtime: the first meets every pool slot cold, the second finds
    // them warm (as a long-running `orch serve` does).
    let mut rounds = [Round::default(); 2];
    for round in &mut rounds {
        arrivals.lock().expect("lock").clear();
        let started = Instant::now();
        tokio.block_on(async {
            let tasks: Vec<_> = (0..calls)
                .map(|_| {
                    let (invoker, input) = (Arc::clone(&invoker), input.clone());
                    tokio::spawn(async move { invoker.call("http_request", &input).await })
                })
                .collect();
            for task in tasks {
                let output = task.await.expect("task");
                assert!(output.contains("waited"), "{output}");
            }
        });
        round.wall = started.elapsed();
        // How long after the start the last request reached the server: the time spent
        // getting every call under way (slots, instantiation, the host's checks, connecting).
        round.last = arrivals
            .lock()
            .expect("lock")
            .iter()
            .max()
            .map_or(Duration::ZERO, |at| at.duration_since(started));
    }
    done.store(true, Ordering::Relaxed);
    sampler.join().expect("sampler");
    (rounds, before, peak.load(Ordering::Relaxed))
}

/// One round of calls: its wall time, and when its last request reached the server.
#[derive(Debug, Default, Clone, Copy)]
struct Round {
    wall: Duration,
    last: Duration,
}

/// When each request reached the server.
type Arrivals = Arc<std::sync::Mutex<Vec<Instant>>>;

fn main() {
    let measuring = sampling::measuring();
    let (wait, sizes): (Duration, &[usize]) = if measuring {
        (Duration::from_secs(1), &[1_000, 5_000])
    } else {
        (Duration::from_millis(50), &[24])
    };
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let arrivals = Arrivals::default();
    let seen = Arc::clone(&arrivals);
    let app = axum::Router::new().route(
        "/wait",
        axum::routing::get(
            move |axum::extract::Query(q): axum::extract::Query<
                std::collections::HashMap<String, u64>,
            >| {
                seen.lock().expect("lock").push(Instant::now());
                async move {
                    let ms = q.get("ms").copied().unwrap_or(0);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    "waited"
                }
            },
        ),
    );
    let port = hosted::serve_locally(&tokio, app);

    let default_limit = if measuring { DEFAULT_MAX_INSTANCES } else { 4 };
    for &calls in sizes {
        let limit = u32::try_from(calls).expect("calls fit u32");
        let server = (port, &arrivals);
        let ([bounded, _], ..) = run(&tokio, server, wait, calls, default_limit);
        let ([cold, warm], before, peak) = run(&tokio, server, wait, calls, limit);
        println!(
            "{calls} concurrent actions waiting {} ms: limit {default_limit}: wall {:.2} s; \
             limit {limit}: wall {:.2} s ({:.2}x), the last request at the server after {:.0} \
             ms; again on warm slots: wall {:.2} s, last request after {:.0} ms; RSS {} MiB \
             before, {} MiB at the peak ({:.0} KiB per live instance)",
            wait.as_millis(),
            bounded.wall.as_secs_f64(),
            cold.wall.as_secs_f64(),
            cold.wall.as_secs_f64() / bounded.wall.as_secs_f64(),
            cold.last.as_secs_f64() * 1e3,
            warm.wall.as_secs_f64(),
            warm.last.as_secs_f64() * 1e3,
            before / 1024,
            peak / 1024,
            (peak.saturating_sub(before)) as f64 / calls as f64,
        );
    }
}
