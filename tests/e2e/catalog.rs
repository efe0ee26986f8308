//! The data catalog from the command line and from workflows: inventory import (YAML and CSV,
//! re-import reports), listing by tag, versioned records with history, and the `core.inventory`,
//! `core.catalog_put` and `core.catalog_get` built-ins.

use std::path::Path;

use crate::harness::TestHost;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writing a fixture");
    path.display().to_string()
}

const INVENTORY: &str = "devices:
  - name: R1
    address: 10.0.0.1
    platform: cisco_ios
    credential: lab
    tags: {site: lab, role: edge}
  - name: sw1
    address: sw1.lab.example
    port: 2222
    platform: arista_eos
    tags: [site=lab, role=access]
";

#[test]
fn inventory_import_reports_changes_and_lists_by_tag() {
    let host = TestHost::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = write(dir.path(), "inv.yaml", INVENTORY);
    let first = host.orch(&["inventory", "import", &yaml]);
    assert!(
        first
            .ok()
            .contains("2 devices: 2 added, 0 changed, 0 unchanged"),
        "{first:#?}"
    );

    let csv = write(
        dir.path(),
        "inv.csv",
        "name,address,port,platform,credential,tags\nR1,10.0.0.1,,cisco_ios,lab,site=lab;role=edge\nsw1,10.0.0.2,2222,arista_eos,,site=lab;role=access\nR3,10.0.0.3,22,cisco_ios,lab,site=dc\n",
    );
    let second = host.orch(&["inventory", "import", &csv, "--json"]);
    let report = second.json();
    let change = |name: &str| {
        report
            .as_array()
            .expect("report")
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["change"].as_str().unwrap_or("").to_owned())
    };
    assert_eq!(change("R1").as_deref(), Some("unchanged"));
    assert_eq!(change("sw1").as_deref(), Some("changed"));
    assert_eq!(change("R3").as_deref(), Some("added"));

    let lab = host
        .orch(&["inventory", "list", "--tag", "site=lab", "--json"])
        .json();
    let names: Vec<&str> = lab
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(names, vec!["R1", "sw1"]);
    let table = host.orch(&["inventory", "list", "--tag", "role=edge"]);
    assert!(
        table.ok().contains("R1") && !table.stdout.contains("sw1"),
        "{table:#?}"
    );
    let shown = host.orch(&["inventory", "show", "sw1", "--json"]).json();
    assert_eq!(shown["address"], "10.0.0.2");
    assert_eq!(shown["port"], 2222);

    let bad_tag = host.orch(&["inventory", "list", "--tag", "site"]);
    assert!(bad_tag.fails_with(2).contains("not key=value"));
    let missing = host.orch(&["inventory", "show", "nope"]);
    assert!(missing.fails_with(2).contains("no device named \"nope\""));
    host.orch(&["inventory", "remove", "R3"]).ok();
    assert!(
        host.orch(&["inventory", "remove", "R3"])
            .fails_with(2)
            .contains("R3")
    );

    let dup = write(
        dir.path(),
        "dup.yaml",
        "devices:\n  - {name: a, address: x, platform: linux}\n  - {name: a, address: y, platform: linux}\n",
    );
    let err = host.orch(&["inventory", "import", &dup]);
    assert!(err.fails_with(2).contains("appears twice"), "{err:#?}");
}

#[test]
fn records_keep_every_version_with_its_writer() {
    let host = TestHost::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write(dir.path(), "r1.cfg", "hostname R1\ninterface Gi0/1\n");
    host.orch(&[
        "catalog",
        "put",
        "configs",
        "R1/golden",
        "--text-file",
        &config,
    ])
    .ok();
    let second = host.orch(&[
        "catalog",
        "put",
        "configs",
        "R1/golden",
        "--value",
        r#""hostname R1-new""#,
    ]);
    assert!(second.ok().contains("version 2"), "{second:#?}");

    let raw = host.orch(&[
        "catalog",
        "get",
        "configs",
        "R1/golden",
        "--version",
        "1",
        "--raw",
    ]);
    assert_eq!(raw.ok(), "hostname R1\ninterface Gi0/1\n");
    let latest = host
        .orch(&["catalog", "get", "configs", "R1/golden", "--json"])
        .json();
    assert_eq!(latest["version"], 2);
    assert_eq!(latest["value"], "hostname R1-new");
    assert!(
        latest["writer"].as_str().unwrap_or("").starts_with("cli "),
        "{latest}"
    );

    let history = host
        .orch(&["catalog", "history", "configs", "R1/golden", "--json"])
        .json();
    let versions: Vec<u64> = history
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|e| e["version"].as_u64())
        .collect();
    assert_eq!(versions, vec![2, 1]);
    let listed = host.orch(&["catalog", "list", "configs"]);
    assert!(listed.ok().contains("configs/R1/golden  v2"), "{listed:#?}");

    let not_json = host.orch(&["catalog", "put", "configs", "R1/x", "--value", "hostname"]);
    assert!(
        not_json.fails_with(2).contains("--text-file"),
        "{not_json:#?}"
    );
    let bad_name = host.orch(&["catalog", "put", "Configs", "k", "--value", "1"]);
    assert!(bad_name.fails_with(2).contains("invalid collection"));
    let missing = host.orch(&["catalog", "get", "configs", "R9/golden"]);
    assert!(
        missing
            .fails_with(2)
            .contains("no record configs/R9/golden")
    );
}

#[test]
fn workflows_read_the_inventory_and_write_records_once_per_step() {
    let host = TestHost::new();
    let dir = tempfile::tempdir().expect("temp dir");
    host.orch(&[
        "inventory",
        "import",
        &write(dir.path(), "inv.yaml", INVENTORY),
    ])
    .ok();
    let workflow = write(
        dir.path(),
        "backup.yaml",
        "input: [site]
tasks:
  devices:
    action: core.inventory
    input: { tags: { site: <% ctx().site %> } }
    next:
      - when: <% succeeded() %>
        publish: [names: <% result().names %>]
        do: store
  store:
    with: { items: <% ctx().names %> }
    action: core.catalog_put
    input: { collection: backups, key: <% item() %>, value: { device: <% item() %> } }
    next:
      - do: check
  check:
    action: core.catalog_get
    input: { collection: backups, key: R1, required: true }
    next:
      - when: <% succeeded() %>
        publish: [r1: <% result().value %>, version: <% result().version %>]
output:
  - names: <% ctx().names %>
  - r1: <% ctx().r1 %>
  - version: <% ctx().version %>
",
    );
    let run = host.orch(&["run", &workflow, "-i", "site=lab", "--json"]);
    let body = run.json();
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(body["output"]["names"], serde_json::json!(["R1", "sw1"]));
    assert_eq!(body["output"]["r1"]["device"], "R1");
    assert_eq!(body["output"]["version"], 1);
    let entry = host
        .orch(&["catalog", "get", "backups", "sw1", "--json"])
        .json();
    let writer = entry["writer"].as_str().unwrap_or("");
    assert!(
        writer.starts_with("run ") && writer.ends_with("task store"),
        "{writer}"
    );
}

#[test]
fn packs_read_and_write_records_only_in_granted_collections() {
    let host = TestHost::with_packs(&["broker"]);
    let put = |collection: &str| {
        host.orch(&[
            "action",
            "run",
            "broker.catalog_put",
            "--json",
            "--input",
            &serde_json::json!({"collection": collection, "key": "R1/note", "value": {"n": 1}})
                .to_string(),
        ])
    };
    let denied = put("notes");
    assert_eq!(denied.code, 1, "{denied:#?}");
    let error = &denied.json()["error"];
    assert_eq!(error["code"], "denied");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("orch pack grant broker catalog:notes")),
        "{error}"
    );

    host.orch(&["pack", "grant", "broker", "catalog:notes"])
        .ok();
    let written = put("notes").json();
    assert_eq!(written["output"]["version"], 1, "{written}");
    assert!(
        written["output"]["writer"]
            .as_str()
            .is_some_and(|w| w.starts_with("action ")),
        "{written}"
    );
    let entry = host
        .orch(&["catalog", "get", "notes", "R1/note", "--json"])
        .json();
    assert_eq!(entry["value"]["n"], 1);
    let read = host.orch(&[
        "action",
        "run",
        "broker.catalog_get",
        "--json",
        "--input",
        r#"{"collection": "notes", "key": "R1/note"}"#,
    ]);
    assert_eq!(read.json()["output"]["found"], true, "{read:#?}");
    // The grant names one collection: the others stay closed.
    assert_eq!(put("configs").json()["error"]["code"], "denied");
}
