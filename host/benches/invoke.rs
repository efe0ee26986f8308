//! Benchmarks of the pack runtime (run with `cargo bench -p orch --bench invoke` after
//! `scripts/build-packs`):
//! - a no-op action on a fresh instance, JSON in and out, vs the same JSON work around a native
//!   Rust function (the baseline), and vs the same on a runtime whose pool slots are unmapped
//!   when freed (`SlotReset::Unmap`, wasmtime's default: what keeping written pages resident
//!   saves);
//! - `echo` with and without its output held to the declared output schema;
//! - the Python and JavaScript example packs' lightest action on a fresh instance (when
//!   `scripts/build-python-packs` and `scripts/build-js-packs` ran), against the Rust no-op,
//!   and each again with slots unmapped;
//! - loading a precompiled pack from its serialized artifact vs compiling it from the `.wasm`;
//! - resident memory over 1,000 sequential invocations (it must not grow).
//!
//! Ratios against a baseline measured in the same run are what to compare across machines.

#[path = "support/guests.rs"]
mod guests;
use guests::guest;

use std::hint::black_box;

use criterion::Criterion;
use orch::capabilities::{Broker, CapabilityContext};
use orch::contract::CallContext;
use orch::runtime::{EngineSettings, Limits, Runtime, SlotReset};
use serde_json::{Value, json};
use wasmtime::component::Component;

fn context() -> CallContext {
    CallContext {
        run_id: "bench".into(),
        task: "noop".into(),
        attempt: 1,
        idempotency_key: "bench-key".into(),
    }
}

/// The native baseline: the same JSON in/out as the wasm path, around a function that does
/// nothing.
#[inline(never)]
fn native_noop(input: &str) -> String {
    let value: Value = serde_json::from_str(input).expect("json");
    black_box(&value);
    "{}".to_owned()
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let runtime = Runtime::new(Limits::DEFAULT.memory_bytes).expect("runtime");
    // The baseline of the slot reset: the same engine with written pages unmapped.
    let unmapping = Runtime::with_settings(EngineSettings {
        slot_reset: SlotReset::Unmap,
        ..EngineSettings::for_memory(Limits::DEFAULT.memory_bytes)
    })
    .expect("runtime");
    println!(
        "pooling allocator in use: {}; written pages kept resident: {}",
        runtime.is_pooled(),
        wasmtime::PoolingAllocationConfig::is_pagemap_scan_available()
    );
    let wasm = std::fs::read(guest("misbehave")).expect("read guest");
    let component = runtime.compile(&wasm).expect("compile");
    let pack = runtime.prepare("misbehave", &component).expect("prepare");
    let ctx = context();
    let limits = Limits::DEFAULT;
    let lent = CapabilityContext::nothing("misbehave", &Broker::detached());

    let mut group = criterion.benchmark_group("invoke");
    for (bench, runtime) in [
        ("wasm_fresh_instance_noop", &runtime),
        ("wasm_fresh_instance_noop_unmapped", &unmapping),
    ] {
        let component = runtime.compile(&wasm).expect("compile");
        let pack = runtime.prepare("misbehave", &component).expect("prepare");
        group.bench_function(bench, |b| {
            b.to_async(&tokio).iter(|| async {
                let input = serde_json::to_string(&json!({})).expect("json");
                let invocation = runtime
                    .invoke(&pack, "noop", &input, &ctx, &limits, &lent)
                    .await
                    .expect("invoke");
                let output: Value =
                    serde_json::from_str(&invocation.result.expect("ok")).expect("json");
                black_box(output)
            })
        });
    }
    group.bench_function("native_noop", |b| {
        b.iter(|| {
            let input = serde_json::to_string(&json!({})).expect("json");
            let output: Value = serde_json::from_str(&native_noop(&input)).expect("json");
            black_box(output)
        })
    });
    // The cost of holding an output to its declared schema (every invocation pays it): `echo`
    // with and without the check, the schema compiled once as the engine's driver does.
    let echo = json!({"message": "hello", "count": 2}).to_string();
    let echo_schema = {
        let info = tokio.block_on(runtime.describe(&pack)).expect("describe");
        let spec = info
            .actions
            .iter()
            .find(|a| a.name == "echo")
            .expect("echo");
        let schema: Value = serde_json::from_str(&spec.output_schema).expect("schema");
        orch::schema::Schema::compile(&schema).expect("compile")
    };
    group.bench_function("wasm_echo", |b| {
        b.to_async(&tokio).iter(|| async {
            let invocation = runtime
                .invoke(&pack, "echo", &echo, &ctx, &limits, &lent)
                .await
                .expect("invoke");
            black_box(invocation.result.expect("ok"))
        })
    });
    group.bench_function("wasm_echo_output_checked", |b| {
        b.to_async(&tokio).iter(|| async {
            let mut invocation = runtime
                .invoke(&pack, "echo", &echo, &ctx, &limits, &lent)
                .await
                .expect("invoke");
            invocation.check_output(&echo_schema, "misbehave.echo");
            black_box(invocation.result.expect("ok"))
        })
    });
    // Packs in other languages (componentize-py, componentize-js; built by
    // `scripts/build-python-packs` and `scripts/build-js-packs`): the same lightest action on a
    // fresh instance, for each component that has been built.
    let mut other_languages = Vec::new();
    for (name, bench) in [
        ("pyexample", "python_fresh_instance_word_stats"),
        ("jsexample", "js_fresh_instance_word_stats"),
    ] {
        let Some(path) = guests::built_guest(name) else {
            continue;
        };
        let wasm = std::fs::read(path).expect("read the component");
        let lent = CapabilityContext::nothing(name, &Broker::detached());
        let input = json!({"text": "a", "top": 1}).to_string();
        let unmapped = format!("{bench}_unmapped");
        for (id, runtime) in [(bench, &runtime), (unmapped.as_str(), &unmapping)] {
            let component = runtime.compile(&wasm).expect("compile the component");
            let prepared = runtime.prepare(name, &component).expect("prepare");
            group.bench_function(id, |b| {
                b.to_async(&tokio).iter(|| async {
                    let invocation = runtime
                        .invoke(&prepared, "word_stats", &input, &ctx, &limits, &lent)
                        .await
                        .expect("invoke");
                    black_box(invocation.result.expect("ok"))
                })
            });
        }
        let component = runtime.compile(&wasm).expect("compile the component");
        let prepared = runtime.prepare(name, &component).expect("prepare");
        other_languages.push((bench, unmapped, name, prepared, lent));
    }
    group.finish();

    let serialized = component.serialize().expect("serialize");
    let mut group = criterion.benchmark_group("load");
    group.sample_size(10);
    group.bench_function("deserialize_precompiled", |b| {
        b.iter(|| {
            // SAFETY: bytes serialized above by this very engine.
            let component = unsafe { Component::deserialize(runtime.engine(), &serialized) };
            black_box(component.expect("deserialize"))
        })
    });
    group.bench_function("compile_from_wasm", |b| {
        b.iter(|| black_box(runtime.compile(&wasm).expect("compile")))
    });
    group.finish();
    criterion.final_summary();

    report_ratio("invoke", "wasm_fresh_instance_noop", "native_noop");
    report_ratio(
        "invoke",
        "wasm_fresh_instance_noop",
        "wasm_fresh_instance_noop_unmapped",
    );
    report_ratio("invoke", "wasm_echo_output_checked", "wasm_echo");
    for (bench, unmapped, ..) in &other_languages {
        report_ratio("invoke", bench, "wasm_fresh_instance_noop");
        report_ratio("invoke", bench, unmapped);
    }
    report_ratio("load", "compile_from_wasm", "deserialize_precompiled");
    report_memory(
        &tokio,
        &runtime,
        ("misbehave.noop", &pack, "noop", "{}"),
        &ctx,
        &lent,
    );
    // Kept-resident pages are per pool slot: a pack in another language must not grow either.
    let word_stats = json!({"text": "a", "top": 1}).to_string();
    for (_, _, name, prepared, lent) in &other_languages {
        let label = format!("{name}.word_stats");
        let probe = (label.as_str(), prepared, "word_stats", word_stats.as_str());
        report_memory(&tokio, &runtime, probe, &ctx, lent);
    }
}

/// Reads criterion's median estimates and prints `a / b`.
fn report_ratio(group: &str, a: &str, b: &str) {
    let median = |bench: &str| -> Option<f64> {
        let path = guests::target_dir()
            .join("criterion")
            .join(group)
            .join(bench)
            .join("new/estimates.json");
        let estimates: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        estimates["median"]["point_estimate"].as_f64()
    };
    if let (Some(a_ns), Some(b_ns)) = (median(a), median(b)) {
        println!(
            "ratio {group}: {a} median {:.2} µs / {b} median {:.2} µs = {:.1}x",
            a_ns / 1e3,
            b_ns / 1e3,
            a_ns / b_ns
        );
    }
}

fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Resident memory before and after 1,000 sequential invocations of `(label, pack, action,
/// input)`, after a warm-up of 100.
fn report_memory(
    tokio: &tokio::runtime::Runtime,
    runtime: &Runtime,
    (label, pack, action, input): (&str, &orch::runtime::PreparedPack, &str, &str),
    ctx: &CallContext,
    lent: &CapabilityContext,
) {
    let run = |n: usize| {
        tokio.block_on(async {
            for _ in 0..n {
                let invocation = runtime
                    .invoke(pack, action, input, ctx, &Limits::DEFAULT, lent)
                    .await
                    .expect("invoke");
                black_box(invocation);
            }
        })
    };
    run(100);
    let before = rss_kib("VmRSS:");
    run(1_000);
    let after = rss_kib("VmRSS:");
    println!(
        "memory ({label}): RSS {before} KiB before, {after} KiB after 1000 sequential \
         invocations (growth {} KiB); peak RSS of the process {} KiB",
        after as i64 - before as i64,
        rss_kib("VmHWM:")
    );
}
