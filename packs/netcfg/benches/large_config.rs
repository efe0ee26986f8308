//! Benchmark (issue 13, "Performance"): compliance and remediation of a 5,000-line config
//! against its intended one, target ≤ 20 ms. Run with `cargo bench -p orch-netcfg --bench
//! large_config` (after `scripts/setup` for the Python baselines).
//!
//! The configs are a generated Cisco IOS router of ~5,000 lines (interfaces, subinterfaces,
//! named ACLs, BGP with many neighbors and address families, route maps, prefix lists, the
//! management lines) and its intended version with the differences a real drift has: changed
//! descriptions, removed and added neighbors, an ACL with entries inserted mid-list (replaced
//! whole), a `no` form, NTP and logging servers changed. Measured in the same run, since the
//! machine is shared: `netcfg::compliance`, `netcfg::remediation` (with its rollback) and both;
//! parsing alone; a plain line diff of the same texts with `similar` (the floor of "finding
//! what differs"); and, through the peers venv's Python, netutils' per-feature compliance and
//! hier_config's remediation on the same files (`bench/python_compliance.py`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use netcfg::{Rule, Syntax, compliance, remediation, tree};

/// Samples per case after the warm-up.
const SAMPLES: usize = 40;
const WARMUP: usize = 5;

fn running_and_intended() -> (String, String) {
    let mut run = Vec::new();
    let mut want = Vec::new();
    let both = |r: &mut Vec<String>, w: &mut Vec<String>, line: String| {
        r.push(line.clone());
        w.push(line);
    };
    for line in [
        "version 17.9",
        "service timestamps debug datetime msec",
        "service timestamps log datetime msec",
        "service password-encryption",
        "hostname CORE1",
        "boot-start-marker",
        "boot-end-marker",
        "aaa new-model",
        "aaa authentication login default group tacacs+ local",
        "aaa authorization exec default group tacacs+ local",
        "aaa accounting exec default start-stop group tacacs+",
        "no ip domain lookup",
        "ip domain name core.example.net",
    ] {
        both(&mut run, &mut want, line.to_owned());
    }
    run.push("ip http server".to_owned());
    want.push("no ip http server".to_owned());
    // 180 physical ports with 2 subinterfaces each: ~3,200 lines.
    for slot in 0..4 {
        for port in 0..45 {
            let name = format!("interface TenGigabitEthernet{slot}/0/{port}");
            both(&mut run, &mut want, name.clone());
            let description = format!(" description core link {slot}/{port}");
            run.push(description.clone());
            if port % 9 == 0 {
                want.push(format!("{description} (migrated)"));
            } else {
                want.push(description);
            }
            for line in [
                " mtu 9216".to_owned(),
                " no ip address".to_owned(),
                " load-interval 30".to_owned(),
                " carrier-delay msec 0".to_owned(),
            ] {
                both(&mut run, &mut want, line);
            }
            for unit in [100, 200] {
                both(
                    &mut run,
                    &mut want,
                    format!("interface TenGigabitEthernet{slot}/0/{port}.{unit}"),
                );
                for line in [
                    format!(" description vlan {unit} on {slot}/{port}"),
                    format!(" encapsulation dot1Q {unit}"),
                    format!(
                        " ip address 10.{slot}.{}.{} 255.255.255.252",
                        port,
                        unit / 50
                    ),
                    " ip ospf network point-to-point".to_owned(),
                    " bfd interval 300 min_rx 300 multiplier 3".to_owned(),
                ] {
                    both(&mut run, &mut want, line);
                }
            }
        }
    }
    // BGP: 120 neighbors, address family with 120 activations: ~500 lines.
    both(&mut run, &mut want, "router bgp 65000".to_owned());
    for line in [" bgp router-id 10.255.0.1", " bgp log-neighbor-changes"] {
        both(&mut run, &mut want, line.to_owned());
    }
    for n in 0..120 {
        let ip = format!("192.0.{}.{}", 2 + n / 200, n % 200 + 1);
        let lines = [
            format!(" neighbor {ip} remote-as {}", 65100 + n),
            format!(" neighbor {ip} description peer-{n}"),
        ];
        for line in lines {
            run.push(line.clone());
            if n % 40 != 7 {
                want.push(line);
            }
        }
    }
    want.push(" neighbor 198.51.100.1 remote-as 65999".to_owned());
    both(&mut run, &mut want, " address-family ipv4".to_owned());
    for n in 0..120 {
        let ip = format!("192.0.{}.{}", 2 + n / 200, n % 200 + 1);
        let lines = [
            format!("  neighbor {ip} activate"),
            format!("  neighbor {ip} route-map PEER-IN in"),
        ];
        for line in lines {
            run.push(line.clone());
            if n % 40 != 7 {
                want.push(line);
            }
        }
    }
    want.push("  neighbor 198.51.100.1 activate".to_owned());
    both(&mut run, &mut want, " exit-address-family".to_owned());
    // Named ACLs: 6 of 100 entries each; one gets entries inserted mid-list.
    for acl in 0..6 {
        both(
            &mut run,
            &mut want,
            format!("ip access-list extended EDGE-{acl}"),
        );
        for entry in 0..100 {
            let line = format!(
                " permit tcp 10.{acl}.{entry}.0 0.0.0.255 any eq {}",
                1000 + entry
            );
            both(&mut run, &mut want, line);
            if acl == 3 && entry % 25 == 0 {
                want.push(format!(" deny ip host 203.0.113.{entry} any log"));
            }
        }
        both(&mut run, &mut want, " deny ip any any log".to_owned());
    }
    // Prefix lists and route maps: ~650 lines.
    for n in 0..500 {
        both(
            &mut run,
            &mut want,
            format!(
                "ip prefix-list CUSTOMERS seq {} permit 100.{}.{}.0/24",
                (n + 1) * 5,
                n / 250,
                n % 250
            ),
        );
    }
    for seq in 0..50 {
        both(
            &mut run,
            &mut want,
            format!("route-map PEER-IN permit {}", (seq + 1) * 10),
        );
        both(
            &mut run,
            &mut want,
            " match ip address prefix-list CUSTOMERS".to_owned(),
        );
        both(
            &mut run,
            &mut want,
            format!(" set local-preference {}", 100 + seq),
        );
    }
    for n in 0..4 {
        run.push(format!("ntp server 192.0.2.{}", 10 + n));
        want.push(format!(
            "ntp server 192.0.2.{}",
            if n == 3 { 20 } else { 10 + n }
        ));
    }
    for n in 0..3 {
        both(
            &mut run,
            &mut want,
            format!("logging host 192.0.2.{}", 50 + n),
        );
    }
    want.push("logging host 192.0.2.60".to_owned());
    for line in [
        "snmp-server community core-ro RO",
        "snmp-server location dc1 row 4",
        "line con 0",
        " exec-timeout 5 0",
        "line vty 0 15",
        " exec-timeout 15 0",
        " transport input ssh",
        "end",
    ] {
        both(&mut run, &mut want, line.to_owned());
    }
    (run.join("\n") + "\n", want.join("\n") + "\n")
}

fn rules() -> Vec<Rule> {
    serde_json::from_str(
        r#"[
        {"platform": "cisco_ios", "feature": "aaa", "match": ["aaa "]},
        {"platform": "cisco_ios", "feature": "services", "match": ["ip http ", "no ip http ", "ip domain", "no ip domain"]},
        {"platform": "cisco_ios", "feature": "interfaces", "match": ["interface "]},
        {"platform": "cisco_ios", "feature": "bgp", "match": ["router bgp "]},
        {"platform": "cisco_ios", "feature": "acl", "match": ["ip access-list "], "ordered": true},
        {"platform": "cisco_ios", "feature": "prefix-lists", "match": ["ip prefix-list "], "ordered": true},
        {"platform": "cisco_ios", "feature": "route-maps", "match": ["route-map "], "ordered": true},
        {"platform": "cisco_ios", "feature": "ntp", "match": ["ntp "]},
        {"platform": "cisco_ios", "feature": "logging", "match": ["logging "]},
        {"platform": "cisco_ios", "feature": "snmp", "match": ["snmp-server "]},
        {"platform": "cisco_ios", "feature": "vty", "match": ["line "]}
    ]"#,
    )
    .expect("rules")
}

/// Median and 90th percentile of `SAMPLES` runs of `f` after a warm-up.
fn measure(mut f: impl FnMut()) -> (Duration, Duration) {
    for _ in 0..WARMUP {
        f();
    }
    let mut samples: Vec<Duration> = (0..SAMPLES)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    samples.sort();
    (samples[SAMPLES / 2], samples[SAMPLES * 9 / 10])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python baselines on the same files, or why they did not run.
fn python(dir: &Path) -> Result<serde_json::Value, String> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        workspace().join(target)
    };
    let python = target.join("peers-venv/bin/python");
    if !python.exists() {
        return Err(format!(
            "{} is missing (run scripts/setup)",
            python.display()
        ));
    }
    let out = Command::new(python)
        .arg(workspace().join("bench/python_compliance.py"))
        .arg("--running")
        .arg(dir.join("running.cfg"))
        .arg("--intended")
        .arg(dir.join("intended.cfg"))
        .arg("--rules")
        .arg(dir.join("rules.json"))
        .args(["--platform", "cisco_ios", "--samples", "10"])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

/// The same computations through orch, in the `golden` pack's sandbox (`orch action run
/// golden.compliance|remediation`, the elapsed time orch measures around the invocation: input
/// schema check, fresh instance, the call, output checks and masking), median of 10 each; or
/// why they did not run. Needs a release `orch` binary and `scripts/build-packs`.
fn sandboxed(dir: &Path, rules: &[Rule]) -> Result<(f64, f64), String> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        workspace().join(target)
    };
    let orch = target.join("release/orch");
    let golden = target.join("wasm32-wasip2/guest/golden.wasm");
    if !orch.exists() || !golden.exists() {
        return Err(format!(
            "needs {} (cargo build --release -p orch) and {} (scripts/build-packs)",
            orch.display(),
            golden.display()
        ));
    }
    let home = dir.join("home");
    std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| e.to_string())?;
    }
    let run = |args: &[&str]| -> Result<serde_json::Value, String> {
        let out = Command::new(&orch)
            .args(args)
            .env("ORCH_HOME", &home)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
    };
    let added = Command::new(&orch)
        .args(["pack", "add", golden.to_str().unwrap_or_default(), "--yes"])
        .env("ORCH_HOME", &home)
        .output()
        .map_err(|e| e.to_string())?;
    if !added.status.success() {
        return Err(String::from_utf8_lossy(&added.stderr).into_owned());
    }
    let running = std::fs::read_to_string(dir.join("running.cfg")).map_err(|e| e.to_string())?;
    let intended = std::fs::read_to_string(dir.join("intended.cfg")).map_err(|e| e.to_string())?;
    let check = dir.join("compliance.json");
    let fix = dir.join("remediation.json");
    let write = |path: &Path, value: serde_json::Value| std::fs::write(path, value.to_string());
    write(
        &check,
        serde_json::json!({ "platform": "cisco_ios", "running": running, "intended": intended, "rules": rules }),
    )
    .map_err(|e| e.to_string())?;
    write(
        &fix,
        serde_json::json!({ "platform": "cisco_ios", "running": running, "intended": intended }),
    )
    .map_err(|e| e.to_string())?;
    let median_of = |action: &str, input: &Path| -> Result<f64, String> {
        let mut times = Vec::new();
        for _ in 0..11 {
            let out = run(&[
                "action",
                "run",
                action,
                "--input-file",
                input.to_str().unwrap_or_default(),
                "--json",
            ])?;
            times.push(out["elapsed_ms"].as_f64().ok_or("no elapsed_ms")?);
        }
        // The first call pays for loading the pack's compiled code from disk.
        times.remove(0);
        times.sort_by(f64::total_cmp);
        Ok(times[times.len() / 2])
    };
    Ok((
        median_of("golden.compliance", &check)?,
        median_of("golden.remediation", &fix)?,
    ))
}

fn main() {
    // `cargo test` runs benches once as a smoke test: keep that quick.
    let measuring = std::env::args().any(|a| a == "--bench");
    let syntax = Syntax::for_platform("cisco_ios").expect("cisco_ios");
    let (running, intended) = running_and_intended();
    let rules = rules();
    let lines = running.lines().count();
    let parsed = tree::parse(syntax, &running);
    let check = compliance(syntax, &running, &intended, &rules);
    let fix = remediation(syntax, &running, &intended, None);
    let typed = tree::typed_lines(syntax, &fix.commands);
    assert!(!check.compliant && !typed.is_empty());
    if !measuring {
        println!(
            "smoke: {lines} lines, {} top-level nodes, {} commands",
            parsed.len(),
            typed.len()
        );
        return;
    }

    let (parse_med, parse_p90) = measure(|| {
        std::hint::black_box(tree::parse(syntax, &running));
        std::hint::black_box(tree::parse(syntax, &intended));
    });
    let (comp_med, comp_p90) = measure(|| {
        std::hint::black_box(compliance(syntax, &running, &intended, &rules));
    });
    let (rem_med, rem_p90) = measure(|| {
        std::hint::black_box(remediation(syntax, &running, &intended, None));
    });
    let (both_med, both_p90) = measure(|| {
        std::hint::black_box(compliance(syntax, &running, &intended, &rules));
        std::hint::black_box(remediation(syntax, &running, &intended, None));
    });
    let (diff_med, diff_p90) = measure(|| {
        let diff = similar::TextDiff::from_lines(&running, &intended);
        std::hint::black_box(diff.unified_diff().to_string());
    });

    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("running.cfg"), &running).expect("write");
    std::fs::write(dir.path().join("intended.cfg"), &intended).expect("write");
    std::fs::write(
        dir.path().join("rules.json"),
        serde_json::to_string(&rules).expect("json"),
    )
    .expect("write");
    let baseline = python(dir.path());
    let through_orch = sandboxed(dir.path(), &rules);

    let features = check.features.iter().filter(|f| !f.compliant).count();
    println!(
        "large config: cisco_ios, running {lines} lines, intended {} lines, {} rules ({features} not compliant), remediation {} typed lines, rollback {}; median (p90) of {SAMPLES} after {WARMUP} warm-up",
        intended.lines().count(),
        rules.len(),
        typed.len(),
        tree::typed_lines(syntax, &fix.rollback).len()
    );
    let row = |name: &str, med: Duration, p90: Duration| {
        println!(
            "{name:<58} {:>8.2} ms ({:>6.2}) {:>7.2}× the line diff",
            ms(med),
            ms(p90),
            med.as_secs_f64() / diff_med.as_secs_f64()
        );
    };
    row(
        "similar line diff of the two texts (baseline)",
        diff_med,
        diff_p90,
    );
    row("netcfg parse of both configs", parse_med, parse_p90);
    row("netcfg compliance (11 features)", comp_med, comp_p90);
    row("netcfg remediation + rollback", rem_med, rem_p90);
    row(
        "netcfg compliance + remediation + rollback",
        both_med,
        both_p90,
    );
    println!(
        "target compliance + remediation <= 20 ms: {} ({:.2} ms)",
        if both_med <= Duration::from_millis(20) {
            "met"
        } else {
            "NOT met"
        },
        ms(both_med)
    );
    match through_orch {
        Ok((check, fix)) => {
            println!(
                "through orch, golden pack in its sandbox: compliance {check:.2} ms, remediation + rollback {fix:.2} ms (orch's measure of one invocation, median of 10)"
            );
            println!(
                "target through the sandbox, compliance + remediation <= 20 ms: {} ({:.2} ms)",
                if check + fix <= 20.0 {
                    "met"
                } else {
                    "NOT met"
                },
                check + fix
            );
        }
        Err(why) => println!("through orch not measured: {why}"),
    }
    match baseline {
        Ok(py) => {
            let netutils = py["netutils_compliance_ms"].as_f64().unwrap_or(f64::NAN);
            let hier = py["hier_config_remediation_ms"]
                .as_f64()
                .unwrap_or(f64::NAN);
            println!(
                "python netutils compliance (same files, same features)    {netutils:>8.2} ms   netcfg is {:.1}× faster",
                netutils / ms(comp_med)
            );
            println!(
                "python hier_config remediation + rollback (same files)     {hier:>8.2} ms   netcfg is {:.1}× faster",
                hier / ms(rem_med)
            );
            println!(
                "python hier_config remediation lines: {}, netcfg: {}",
                py["hier_config_remediation_lines"],
                typed.len()
            );
        }
        Err(why) => println!("python baselines not run: {why}"),
    }
}
