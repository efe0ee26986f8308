//! Benchmark of a fleet backup (issue 5, "Performance"): `workflows/config-backup.yaml` over 50
//! simulated devices (25 Cisco IOS with an enable password, 25 Arista EOS) at concurrency 16,
//! through the library in this process (store, packs, broker, engine, as `orch run` builds
//! them), against the same work done by `bench/netmiko_backup.py` (netmiko, a 16-thread pool)
//! on the same fleet. Run with `cargo bench -p orch --bench fleet` after `scripts/setup` (the
//! peers venv with fakenos and netmiko) and `scripts/build-packs`.
//!
//! The fleet is `tests/peers/fleet.py`: one fakenos process serving every device with our NOS
//! plugin. fakenos reads its SSH input one byte at a time with a 10 ms sleep after each byte, so
//! every command typed costs about 10 ms per character on both sides; the bench also times one
//! device alone, which shows that floor.
//!
//! Each side runs 3 times, alternating, and the median is reported with the ratio orch/netmiko.
//! The fleet stops when the bench ends, also on a panic (its stdin is a pipe we hold).

#[path = "support/fleet_lab.rs"]
mod fleet_lab;
#[path = "support/guests.rs"]
mod guests;
#[path = "support/sampling.rs"]
#[expect(
    dead_code,
    reason = "shared with the capability benches; this one uses `measuring`"
)]
mod sampling;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fleet_lab::{Fleet, median, ms, prepare_home, run_workflow, venv_python, workspace};
use orch::home::Home;
use orch::runtime::{Limits, Runtime};
use serde_json::{Value, json};

/// Devices in the fleet: 50 when measuring, 4 for the smoke run under `cargo test`.
fn devices() -> usize {
    if sampling::measuring() { 50 } else { 4 }
}
const CONCURRENCY: usize = 16;
/// Runs of each side: the median of 3 when measuring, 1 for the smoke run.
fn runs() -> usize {
    if sampling::measuring() { 3 } else { 1 }
}

fn orch_backup(tokio: &tokio::runtime::Runtime, runtime: &Arc<Runtime>, home: &Home) -> Duration {
    let (wall, output) = run_workflow(
        tokio,
        runtime,
        home,
        "config-backup",
        json!({ "concurrency": CONCURRENCY }),
    );
    let backed_up = output["backed_up"].as_array().map_or(0, Vec::len);
    assert_eq!(
        backed_up,
        devices(),
        "not every device was backed up: {output:#}"
    );
    wall
}

/// Writes an inventory holding only `device` of the fleet's; returns its path.
fn single_device_inventory(fleet: &Path, device: &str) -> PathBuf {
    let text = std::fs::read_to_string(fleet.join("inventory.yaml")).expect("inventory");
    let inventory: Value = serde_json::from_str(&text).expect("the fleet's inventory is JSON");
    let one: Vec<Value> = inventory["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .filter(|d| d["name"] == device)
        .cloned()
        .collect();
    let path = fleet.join(format!("inventory-{device}.yaml"));
    std::fs::write(&path, json!({ "devices": one }).to_string()).expect("writing an inventory");
    path
}

/// Runs the netmiko baseline over `inventory`; returns (process wall time, the pool's own time).
fn netmiko_backup(
    fleet: &Path,
    inventory: &Path,
    devices: usize,
    run: &str,
) -> (Duration, Duration) {
    let out_dir = fleet.join(format!("netmiko-{run}"));
    let started = Instant::now();
    let output = Command::new(venv_python())
        .arg(workspace().join("bench/netmiko_backup.py"))
        .arg("--inventory")
        .arg(inventory)
        .arg("--password-file")
        .arg(fleet.join("password"))
        .arg("--enable-password-file")
        .arg(fleet.join("enable-password"))
        .arg("--out")
        .arg(&out_dir)
        .args(["--workers", &CONCURRENCY.to_string()])
        .output()
        .expect("running bench/netmiko_backup.py");
    let wall = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "netmiko baseline failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("netmiko report");
    assert_eq!(report["backed_up"], devices, "{report}");
    let pool = Duration::from_secs_f64(report["seconds"].as_f64().expect("seconds"));
    (wall, pool)
}

fn main() {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let dir = tempfile::tempdir().expect("temp dir");
    let fleet_dir = dir.path().join("fleet");
    let fleet = Fleet::start(&fleet_dir, devices(), false);
    let runtime = Arc::new(Runtime::new(Limits::DEFAULT.memory_bytes).expect("runtime"));
    let home = Home::open(dir.path().join("home")).expect("home");
    prepare_home(
        &tokio,
        &runtime,
        &home,
        &fleet_dir,
        &[("netdev", &["ssh:inventory", "catalog:inventory"])],
    );

    // One device alone (an IOS device with enable, then an EOS one): the per-device floor,
    // which is mostly fakenos reading what is typed at 10 ms per byte.
    let single: Vec<(String, Duration, Duration)> = ["R1", "SW1"]
        .iter()
        .map(|device| {
            let (wall, output) = run_workflow(
                &tokio,
                &runtime,
                &home,
                "backup-device",
                json!({ "device": device }),
            );
            assert_eq!(output["ok"], true, "{output:#}");
            let inventory = single_device_inventory(&fleet_dir, device);
            let (_, netmiko) = netmiko_backup(&fleet_dir, &inventory, 1, device);
            ((*device).to_owned(), wall, netmiko)
        })
        .collect();

    let mut orch = Vec::new();
    let mut netmiko_wall = Vec::new();
    let mut netmiko_pool = Vec::new();
    for run in 0..runs() {
        orch.push(orch_backup(&tokio, &runtime, &home));
        let (wall, pool) = netmiko_backup(
            &fleet_dir,
            &fleet_dir.join("inventory.yaml"),
            devices(),
            &run.to_string(),
        );
        netmiko_wall.push(wall);
        netmiko_pool.push(pool);
        eprintln!(
            "run {}: orch {:.0} ms, netmiko {:.0} ms (pool {:.0} ms)",
            run + 1,
            ms(orch[run]),
            ms(wall),
            ms(pool)
        );
    }
    drop(fleet);

    let orch = median(orch);
    let netmiko_wall = median(netmiko_wall);
    let netmiko_pool = median(netmiko_pool);
    println!(
        "fleet backup: {} fakenos devices (half cisco_ios with enable, half arista_eos), concurrency {CONCURRENCY}, median of {}",
        devices(),
        runs()
    );
    println!(
        "orch config-backup (in-process engine, sandboxed netdev, catalog writes)  {:>8.0} ms",
        ms(orch)
    );
    println!(
        "netmiko 16-thread pool (pool only)                                         {:>8.0} ms",
        ms(netmiko_pool)
    );
    println!(
        "netmiko 16-thread pool (whole process: Python start-up and imports too)    {:>8.0} ms",
        ms(netmiko_wall)
    );
    println!(
        "ratio orch / netmiko: {:.2} (pool only), {:.2} (whole process)",
        orch.as_secs_f64() / netmiko_pool.as_secs_f64(),
        orch.as_secs_f64() / netmiko_wall.as_secs_f64()
    );
    for (device, orch, netmiko) in single {
        println!(
            "one device alone ({device}): orch backup-device {:>6.0} ms, netmiko {:>6.0} ms (pool only)",
            ms(orch),
            ms(netmiko)
        );
    }
}
