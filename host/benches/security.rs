//! What the defences against hostile packs cost (run with `cargo bench -p orch --bench security`):
//! - checking a pack's description at `pack add` with 1,024 and 4,096 actions (the ratio shows
//!   the checks are linear: it was quadratic);
//! - masking a 1 MiB response with 100 credentials registered (every form of each, and the
//!   decoded search that withholds what escapes them) vs with none;
//! - bounding a schema check before running it (the visit count) vs the check itself.
//!
//! Ratios against a baseline measured in the same run are what to compare across machines.

use std::hint::black_box;

use criterion::Criterion;
use orch::contract::PackInfo;
use orch::contract::orch::pack::types::ActionInfo;
use orch::packs::Manifest;
use orch::policy::masking::Masker;
use orch::schema::{Schema, cost};
use serde_json::json;

/// A description of `actions` actions, each with a small object schema.
fn description(actions: usize) -> PackInfo {
    PackInfo {
        name: "bench".into(),
        version: "1.0.0".into(),
        vendor: "bench".into(),
        description: "many actions".into(),
        actions: (0..actions)
            .map(|i| ActionInfo {
                name: format!("action_{i}"),
                description: "one of many".into(),
                input_schema: r#"{"type":"object","properties":{"device":{"type":"string"}},"required":["device"]}"#.into(),
                output_schema: r#"{"type":"object"}"#.into(),
                idempotent: true,
            })
            .collect(),
        destinations: Vec::new(),
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();

    let mut group = criterion.benchmark_group("manifest");
    group.sample_size(10);
    for actions in [1024, 4096] {
        let info = description(actions);
        group.bench_function(format!("check_{actions}_actions"), |b| {
            b.iter(|| black_box(Manifest::from_info(info.clone()).expect("valid")))
        });
    }
    group.finish();

    let mut group = criterion.benchmark_group("masking");
    let text: String = (0..1 << 20)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect::<String>()
        .replace("qrs", "%2F\\u0041 ");
    let none = Masker::new();
    let hundred = Masker::new();
    for i in 0..100 {
        hundred.add(format!("credential-{i:03}-3f9a7c2e").as_bytes());
    }
    group.bench_function("mask_1mib_no_secrets", |b| {
        b.iter(|| black_box(none.mask(&text)))
    });
    group.bench_function("mask_1mib_100_secrets", |b| {
        b.iter(|| black_box(hundred.mask(&text)))
    });
    group.finish();

    let mut group = criterion.benchmark_group("schema");
    let schema_doc = json!({
        "type": "object",
        "properties": {
            "device": { "type": "string" },
            "commands": { "type": "array", "items": { "type": "string" } },
            "mode": { "anyOf": [{ "const": "merge" }, { "const": "replace" }] }
        },
        "required": ["device"]
    });
    let input = json!({
        "device": "r1",
        "commands": (0..100).map(|i| format!("interface Gi0/{i}")).collect::<Vec<_>>(),
        "mode": "merge"
    });
    let schema = Schema::compile(&schema_doc).expect("schema");
    group.bench_function("bound_visits", |b| {
        b.iter(|| black_box(cost::evaluation_cost(&schema_doc, &input).expect("bounded")))
    });
    group.bench_function("check_including_bound", |b| {
        b.iter(|| black_box(schema.check("bench.action", &input).is_ok()))
    });
    group.finish();
    criterion.final_summary();
}
