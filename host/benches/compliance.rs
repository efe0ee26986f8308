//! Benchmark of fleet compliance (issue 13, "Performance"): `workflows/config-compliance.yaml`
//! over a fleet of simulated devices (200 when the machine allows it; `ORCH_BENCH_DEVICES`
//! sets another count), concurrency 32, through the library in this process (store, packs,
//! broker, engine, as `orch run` builds them), against the same work done by
//! `bench/netmiko_compliance.py` (netmiko + netutils' per-feature compliance, a 32-thread pool)
//! on the same fleet, intended configs and rules. Then the same on a fleet whose devices do not
//! sleep per typed byte (`tests/peers/fleet.py --fast`), which shows each side's own cost. Run
//! with `cargo bench -p orch --bench compliance` after `scripts/setup` and
//! `scripts/build-packs`.
//!
//! Devices: half `cisco_ios` (enable behind a password), half `arista_eos`, each with a
//! generated config of ~40 lines; the intended config of every second device has another NTP
//! server and of every third one more logging host, so about two thirds are not compliant.
//! Each side runs 3 times per fleet, alternating; medians and ratios are printed, and each
//! side's CPU time (orch: this process during its run; Python: the client process), which is
//! its own cost whatever the fleet's speed: both sides' wall times are bounded by the fakenos
//! process serving every device.

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

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use fleet_lab::{Fleet, median, ms, prepare_home, run_workflow, venv_python, workspace};
use orch::catalog::cli_writer;
use orch::home::Home;
use orch::runtime::{Limits, Runtime};
use orch::store::{NewRecord, Store};
use serde_json::{Value, json};

const CONCURRENCY: usize = 32;

fn devices() -> usize {
    if !sampling::measuring() {
        return 4;
    }
    std::env::var("ORCH_BENCH_DEVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

fn runs() -> usize {
    if sampling::measuring() { 3 } else { 1 }
}

fn rules() -> Value {
    let mut rules = Vec::new();
    for (platform, features) in [
        (
            "cisco_ios",
            vec![
                ("dns", vec!["ip domain"]),
                ("interfaces", vec!["interface "]),
                ("routing", vec!["router "]),
                ("ntp", vec!["ntp "]),
                ("logging", vec!["logging "]),
                ("snmp", vec!["snmp-server "]),
                ("users", vec!["username "]),
                ("vty", vec!["line "]),
            ],
        ),
        (
            "arista_eos",
            vec![
                ("dns", vec!["dns domain"]),
                ("stp", vec!["spanning-tree "]),
                ("interfaces", vec!["interface "]),
                ("routing", vec!["router "]),
                ("ntp", vec!["ntp "]),
                ("logging", vec!["logging "]),
                ("snmp", vec!["snmp-server "]),
                ("users", vec!["username "]),
                ("management", vec!["management "]),
            ],
        ),
    ] {
        for (feature, prefixes) in features {
            rules.push(json!({ "platform": platform, "feature": feature, "match": prefixes }));
        }
    }
    Value::Array(rules)
}

/// Each device's intended config, from the config it booted with (the fleet's `NAME.yaml`).
fn intended_configs(fleet: &Path) -> Vec<(String, String)> {
    let inventory: Value = serde_json::from_str(
        &std::fs::read_to_string(fleet.join("inventory.yaml")).expect("inventory"),
    )
    .expect("the inventory is JSON");
    inventory["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .enumerate()
        .map(|(index, device)| {
            let name = device["name"].as_str().expect("name").to_owned();
            let settings: Value = serde_json::from_str(
                &std::fs::read_to_string(fleet.join(format!("{name}.yaml"))).expect("settings"),
            )
            .expect("settings are JSON");
            let mut config = settings["config"].as_str().expect("config").to_owned();
            if index % 2 == 0 {
                config = config.replace("ntp server 192.0.2.2", "ntp server 192.0.2.3");
            }
            if index % 3 == 0 {
                config = config.replace(
                    "logging host 192.0.2.50",
                    "logging host 192.0.2.50\nlogging host 192.0.2.51",
                );
            }
            (name, config)
        })
        .collect()
}

/// Stores the rules and intended configs in the catalog and in files for the baseline.
fn store_inputs(store: &Store, fleet: &Path) {
    let put = |collection: &str, key: &str, value: &Value| {
        orch::catalog::put(
            store,
            &NewRecord {
                collection,
                key,
                value,
                writer: &cli_writer(),
                step_key: None,
                invocation_written: None,
            },
        )
        .expect("catalog put");
    };
    let rules = rules();
    put("compliance", "rules/default", &rules);
    std::fs::write(fleet.join("rules.json"), rules.to_string()).expect("rules file");
    let dir = fleet.join("intended");
    std::fs::create_dir_all(&dir).expect("intended dir");
    for (name, config) in intended_configs(fleet) {
        put("configs", &format!("{name}/intended"), &json!(config));
        std::fs::write(dir.join(format!("{name}.cfg")), config).expect("intended file");
    }
}

fn orch_check(
    tokio: &tokio::runtime::Runtime,
    runtime: &Arc<Runtime>,
    home: &Home,
) -> (Duration, Value) {
    let (wall, output) = run_workflow(
        tokio,
        runtime,
        home,
        "config-compliance",
        json!({ "concurrency": CONCURRENCY, "per_site": CONCURRENCY }),
    );
    assert_eq!(output["devices"], devices(), "{output:#}");
    assert_eq!(output["unreachable"], 0, "{output:#}");
    assert_eq!(output["errors"], 0, "{output:#}");
    (wall, output)
}

/// Runs the Python baseline; returns (process wall time, pool + report time, its summary).
fn python_check(fleet: &Path, run: &str) -> (Duration, Duration, Value) {
    let started = std::time::Instant::now();
    let output = Command::new(venv_python())
        .arg(workspace().join("bench/netmiko_compliance.py"))
        .arg("--inventory")
        .arg(fleet.join("inventory.yaml"))
        .arg("--password-file")
        .arg(fleet.join("password"))
        .arg("--enable-password-file")
        .arg(fleet.join("enable-password"))
        .arg("--intended")
        .arg(fleet.join("intended"))
        .arg("--rules")
        .arg(fleet.join("rules.json"))
        .arg("--out")
        .arg(fleet.join(format!("python-{run}")))
        .args(["--workers", &CONCURRENCY.to_string()])
        .output()
        .expect("running bench/netmiko_compliance.py");
    let wall = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python baseline failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("python report");
    assert_eq!(report["checked"], devices(), "{report}");
    let pool = Duration::from_secs_f64(report["seconds"].as_f64().expect("seconds"));
    (wall, pool, report)
}

struct Figures {
    orch: Duration,
    python_pool: Duration,
    python_wall: Duration,
    /// CPU time (user + system) of the orch side and of the Python client process, per run:
    /// each side's own cost, whatever the fleet's speed.
    orch_cpu: Duration,
    python_cpu: Duration,
}

/// CPU time used so far by this process and by its waited-for children (user + system), from
/// /proc/self/stat (in clock ticks of 1/100 s, Linux's USER_HZ).
fn cpu_times() -> (Duration, Duration) {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // utime, stime, cutime, cstime are fields 14..=17 of the line, 11..=14 here.
    let ticks = |a: usize, b: usize| Duration::from_millis((fields[a] + fields[b]) * 10);
    (ticks(11, 12), ticks(13, 14))
}

fn measure_fleet(
    tokio: &tokio::runtime::Runtime,
    runtime: &Arc<Runtime>,
    root: &Path,
    fast: bool,
) -> Figures {
    let label = if fast { "fast" } else { "sleeping" };
    let fleet_dir = root.join(format!("fleet-{label}"));
    let fleet = Fleet::start(&fleet_dir, devices(), fast);
    let home = Home::open(root.join(format!("home-{label}"))).expect("home");
    let store = prepare_home(
        tokio,
        runtime,
        &home,
        &fleet_dir,
        &[
            ("netdev", &["ssh:inventory", "catalog:inventory"]),
            ("golden", &["catalog:inventory"]),
        ],
    );
    store_inputs(&store, &fleet_dir);
    let (mut orch, mut pool, mut wall) = (Vec::new(), Vec::new(), Vec::new());
    let (mut orch_cpu, mut python_cpu) = (Vec::new(), Vec::new());
    for run in 0..runs() {
        let (own, _) = cpu_times();
        let (o, out) = orch_check(tokio, runtime, &home);
        let (own_after, children) = cpu_times();
        orch_cpu.push(own_after - own);
        let (w, p, report) = python_check(&fleet_dir, &format!("{label}-{run}"));
        python_cpu.push(cpu_times().1 - children);
        // Both sides judge the fleet alike.
        assert_eq!(out["compliant"], report["compliant"], "{out:#}\n{report}");
        eprintln!(
            "{label} fleet, run {}: orch {:.0} ms ({} compliant of {}), python {:.0} ms (pool {:.0} ms)",
            run + 1,
            ms(o),
            out["compliant"],
            out["devices"],
            ms(w),
            ms(p)
        );
        orch.push(o);
        pool.push(p);
        wall.push(w);
    }
    drop(fleet);
    Figures {
        orch: median(orch),
        python_pool: median(pool),
        python_wall: median(wall),
        orch_cpu: median(orch_cpu),
        python_cpu: median(python_cpu),
    }
}

fn main() {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = Arc::new(Runtime::new(Limits::DEFAULT.memory_bytes).expect("runtime"));
    let sleeping = measure_fleet(&tokio, &runtime, dir.path(), false);
    let fast = measure_fleet(&tokio, &runtime, dir.path(), true);
    println!(
        "fleet compliance: {} fakenos devices (half cisco_ios with enable, half arista_eos), concurrency {CONCURRENCY}, median of {}",
        devices(),
        runs()
    );
    for (label, f) in [
        ("devices sleeping 10 ms per typed byte", &sleeping),
        ("devices not sleeping", &fast),
    ] {
        println!("{label}:");
        println!(
            "  orch config-compliance (in-process engine, sandboxed netdev + golden, catalog) {:>8.0} ms",
            ms(f.orch)
        );
        println!(
            "  netmiko + netutils, 32 threads (pool and report)                              {:>8.0} ms",
            ms(f.python_pool)
        );
        println!(
            "  netmiko + netutils, whole process (Python start-up and imports too)           {:>8.0} ms",
            ms(f.python_wall)
        );
        println!(
            "  ratio orch / python: {:.2} (pool), {:.2} (whole process); orch per device {:.1} ms",
            f.orch.as_secs_f64() / f.python_pool.as_secs_f64(),
            f.orch.as_secs_f64() / f.python_wall.as_secs_f64(),
            ms(f.orch) / devices() as f64
        );
        println!(
            "  CPU (user + system): orch {:.0} ms ({:.1} ms per device), python client {:.0} ms ({:.1} ms per device), ratio {:.2}",
            ms(f.orch_cpu),
            ms(f.orch_cpu) / devices() as f64,
            ms(f.python_cpu),
            ms(f.python_cpu) / devices() as f64,
            f.orch_cpu.as_secs_f64() / f.python_cpu.as_secs_f64()
        );
    }
}
