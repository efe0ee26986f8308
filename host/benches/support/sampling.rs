//! Timing for the capability benches: run an async closure `warmup` times, then `samples`
//! times, and report the median and the 90th percentile of the timed runs; and how much to
//! measure: everything under `cargo bench`, a smoke run under `cargo test`.

use std::time::{Duration, Instant};

/// The median and the 90th percentile of a set of timings.
#[derive(Debug, Clone, Copy)]
pub struct Figure {
    pub median: Duration,
    pub p90: Duration,
}

/// Times `f` `samples` times after `warmup` untimed runs.
pub async fn sample<F, Fut>(warmup: usize, samples: usize, mut f: F) -> Figure
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..warmup {
        f().await;
    }
    let mut taken = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        f().await;
        taken.push(started.elapsed());
    }
    taken.sort();
    Figure {
        median: taken[taken.len() / 2],
        p90: taken[taken.len() * 9 / 10],
    }
}

/// Whether this is a measuring run: `cargo bench` passes `--bench`. Under `cargo test` the bench
/// binaries run as smoke tests (does the bench still work?) with a handful of samples, so the
/// test suite does not pay for the measurement.
pub fn measuring() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// `full` when measuring, else at most 3.
pub fn count(full: usize) -> usize {
    if measuring() { full } else { full.min(3) }
}
