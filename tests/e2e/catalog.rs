//! The data catalog from the command line and from workflows: inventory import (YAML and CSV,
//! re-import reports), listing by tag, versioned records with history, the `core.inventory`,
//! `core.catalog_put` and `core.catalog_get` built-ins; byte budgets against a pack that floods
//! the catalog, collections' policies, and pruning.

use std::path::Path;

use orch::store::{NewRecord, Store};
use time::OffsetDateTime;

use crate::harness::{Background, TestHost};

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

/// The default budget of one invocation's catalog writes.
const INVOCATION_BUDGET: u64 = 64 << 20;
/// The largest record value a pack may write (a JSON string of this many bytes, quotes
/// included).
const MAX_VALUE: u64 = 4 << 20;

/// `broker.catalog_flood`: `count` records of `bytes` bytes each into `collection`; the pack's
/// report (`written`, `error_code`, `error_message`).
fn flood(
    host: &TestHost,
    collection: &str,
    prefix: &str,
    count: u32,
    bytes: u64,
) -> serde_json::Value {
    let input = serde_json::json!({
        "collection": collection, "key_prefix": prefix, "count": count, "bytes": bytes
    });
    host.orch(&[
        "action",
        "run",
        "broker.catalog_flood",
        "--json",
        "--input",
        &input.to_string(),
    ])
    .output()
}

/// Versions of `collection` in the store and the bytes of their values.
fn stored(host: &TestHost, collection: &str) -> (u64, u64) {
    let bytes = if host.database_url().is_some() {
        "octet_length(value)"
    } else {
        "length(CAST(value AS BLOB))"
    };
    let filter = format!("FROM records WHERE collection = '{collection}'");
    let versions = host.sql_count(&format!("SELECT count(*) {filter}"));
    let total = host.sql_count(&format!("SELECT coalesce(sum({bytes}), 0) {filter}"));
    (versions.unsigned_abs(), total.unsigned_abs())
}

/// Bytes of the database files (`orch.db` and its WAL).
fn database_bytes(host: &TestHost) -> u64 {
    ["orch.db", "orch.db-wal"]
        .iter()
        .filter_map(|name| std::fs::metadata(host.home().join(name)).ok())
        .map(|meta| meta.len())
        .sum()
}

#[test]
fn a_pack_flooding_the_catalog_is_stopped_at_its_invocation_budget() {
    let host = TestHost::with_packs(&["broker"]);
    host.orch(&["pack", "grant", "broker", "catalog:loot"]).ok();
    // The attacker writes the largest values it may, 64 of them: 256 MiB, four times what one
    // invocation may write (and the count cap of 1,000 would have let it go to 4 GiB).
    let report = flood(&host, "loot", "big/", 64, MAX_VALUE - 2);
    assert_eq!(report["error_code"], "quota_exceeded", "{report}");
    let written = report["written"].as_u64().expect("written");
    assert!(
        (1..INVOCATION_BUDGET / MAX_VALUE).contains(&written),
        "{written} records of 4 MiB went through: {report}"
    );
    let message = report["error_message"].as_str().unwrap_or_default();
    for needed in [
        "per-invocation",
        "64.0 MiB",
        "orch catalog policy set '*' --invocation-bytes",
    ] {
        assert!(
            message.contains(needed),
            "{needed:?} missing from: {message}"
        );
    }
    // What the store holds is what the pack was told it wrote, within the budget.
    let (versions, bytes) = stored(&host, "loot");
    assert_eq!(versions, written);
    assert!(bytes <= INVOCATION_BUDGET, "{bytes} bytes stored");
    let files = database_bytes(&host);
    assert!(
        files < 2 * INVOCATION_BUDGET,
        "the database files hold {files} bytes"
    );
}

/// The JSON of `orch action run` in the background (`spawn` gives stdout on exit).
fn flood_in_background(
    host: &TestHost,
    collection: &str,
    prefix: &str,
    count: u32,
    bytes: u64,
) -> Background {
    let input = serde_json::json!({
        "collection": collection, "key_prefix": prefix, "count": count, "bytes": bytes
    });
    host.spawn(&[
        "action",
        "run",
        "broker.catalog_flood",
        "--json",
        "--input",
        &input.to_string(),
    ])
}

#[test]
fn a_lowered_collection_quota_refuses_the_next_write_from_packs_workflows_and_the_cli() {
    let host = TestHost::with_packs(&["broker"]);
    host.orch(&["pack", "grant", "broker", "catalog:notes"])
        .ok();
    let first = flood(&host, "notes", "n/", 2, 1 << 20);
    assert_eq!(first["written"], 2, "{first}");

    // The operator lowers the quota below what the collection holds: told, not refused.
    let lowered = host.orch(&["catalog", "policy", "set", "notes", "--max-bytes", "1MiB"]);
    assert!(lowered.ok().contains("quota 1.0 MiB"), "{lowered:#?}");
    assert!(
        lowered
            .stderr
            .contains("note: notes holds 2.0 MiB, over its quota of 1.0 MiB"),
        "{lowered:#?}"
    );

    // A pack's next write, however small, is refused with the figures and the fix.
    let refused = flood(&host, "notes", "small/", 1, 10);
    assert_eq!(refused["error_code"], "quota_exceeded", "{refused}");
    assert_eq!(refused["written"], 0);
    let message = refused["error_message"].as_str().unwrap_or_default();
    for needed in [
        "collection notes to 2.0 MiB",
        "its quota of 1.0 MiB (its own policy)",
        "orch catalog prune notes",
        "orch catalog policy set notes --max-bytes SIZE",
    ] {
        assert!(
            message.contains(needed),
            "{needed:?} missing from: {message}"
        );
    }
    // So is a workflow's `core.catalog_put`, and the operator's own `catalog put`.
    let dir = tempfile::tempdir().expect("temp dir");
    let workflow = write(
        dir.path(),
        "note.yaml",
        "tasks:\n  store:\n    action: core.catalog_put\n    input: { collection: notes, key: wf, value: { a: 1 } }\n",
    );
    let run = host.orch(&["run", &workflow, "--json"]);
    assert_eq!(run.code, 1, "{run:#?}");
    let error = &run.json()["errors"][0]["error"];
    assert_eq!(error["code"], "quota_exceeded", "{error}");
    let cli = host.orch(&["catalog", "put", "notes", "cli", "--value", "1"]);
    assert!(
        cli.fails_with(2)
            .contains("orch catalog policy set notes --max-bytes SIZE"),
        "{cli:#?}"
    );
    assert_eq!(stored(&host, "notes").0, 2, "nothing was added");

    // Raised again, the collection takes writes.
    host.orch(&["catalog", "policy", "set", "notes", "--max-bytes", "3MiB"])
        .ok();
    let accepted = flood(&host, "notes", "small/", 1, 10);
    assert_eq!(accepted["written"], 1, "{accepted}");
    host.orch(&["catalog", "put", "notes", "cli", "--value", "1"])
        .ok();
}

#[test]
fn concurrent_packs_cannot_push_a_collection_past_its_quota_together() {
    let host = TestHost::with_packs(&["broker"]);
    host.orch(&["pack", "grant", "broker", "catalog:race"]).ok();
    let quota: u64 = 8 << 20;
    host.orch(&["catalog", "policy", "set", "race", "--max-bytes", "8MiB"])
        .ok();
    // Two processes, each trying to write 8 MiB into the same 8 MiB collection at once.
    let floods = [
        flood_in_background(&host, "race", "a/", 8, 1 << 20),
        flood_in_background(&host, "race", "b/", 8, 1 << 20),
    ];
    let mut accepted = 0;
    for background in floods {
        let run = background.wait();
        let report = run.output();
        accepted += report["written"].as_u64().expect("written");
        assert_eq!(report["error_code"], "quota_exceeded", "{report}");
    }
    let (versions, bytes) = stored(&host, "race");
    assert_eq!(
        versions, accepted,
        "every accepted write is stored, no other"
    );
    assert!(
        bytes <= quota,
        "{bytes} bytes of values in an 8 MiB collection"
    );
    // Seven versions of 1 MiB and their bookkeeping fit in 8 MiB; an eighth does not.
    assert_eq!(accepted, 7, "the writes that fit went through, and no more");
}

/// Writes `value` as a version of `collection`/`key` dated `days_ago` days back, through the
/// store as orch itself would (the CLI cannot backdate a write, and tests do not wait days).
fn put_aged(store: &Store, collection: &str, key: &str, days_ago: i64) {
    let value = serde_json::json!({"key": key, "days_ago": days_ago});
    store
        .put_record_at(
            &NewRecord {
                collection,
                key,
                value: &value,
                writer: "test",
                step_key: None,
                invocation_written: None,
            },
            OffsetDateTime::now_utc() - time::Duration::days(days_ago),
        )
        .expect("writing an aged version");
}

fn history(host: &TestHost, collection: &str, key: &str) -> Vec<(u64, u64)> {
    host.orch(&["catalog", "history", collection, key, "--json"])
        .json()
        .as_array()
        .expect("history")
        .iter()
        .map(|e| {
            (
                e["version"].as_u64().unwrap_or(0),
                e["size"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn prune_applies_keep_last_and_keep_days_and_a_dry_run_changes_nothing() {
    let host = TestHost::new();
    host.orch(&["catalog", "list"]).ok();
    {
        let home = host.orch_home();
        let store = home.open_store().expect("store");
        for days_ago in [40, 30, 20, 10, 1] {
            put_aged(&store, "configs", "R1/backup", days_ago);
        }
        put_aged(&store, "configs", "R2/backup", 400);
        put_aged(&store, "notes", "old", 400);
        put_aged(&store, "notes", "old", 300);
    }
    // Either rule keeps a version: the last 2 (versions 5, 4) or those of the last 25 days
    // (version 3, 20 days old). Versions 1 and 2 go; R2's only version is its latest.
    host.orch(&[
        "catalog",
        "policy",
        "set",
        "configs",
        "--keep-last",
        "2",
        "--keep-days",
        "25",
    ])
    .ok();
    let before = history(&host, "configs", "R1/backup");
    assert_eq!(
        before.iter().map(|v| v.0).collect::<Vec<_>>(),
        vec![5, 4, 3, 2, 1]
    );
    let doomed: u64 = before.iter().filter(|v| v.0 <= 2).map(|v| v.1).sum();
    let holds = |host: &TestHost| {
        host.orch(&["catalog", "policy", "list", "--json"]).json()["collections"]
            .as_array()
            .expect("collections")
            .iter()
            .find(|c| c["collection"] == "configs")
            .map(|c| c["bytes"].as_u64().unwrap_or(0))
            .expect("configs is listed")
    };
    let held_before = holds(&host);

    let dry = host
        .orch(&["catalog", "prune", "--dry-run", "--json"])
        .json();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["removed_versions"], 2, "{dry}");
    assert_eq!(dry["removed_bytes"], doomed, "{dry}");
    assert_eq!(
        history(&host, "configs", "R1/backup"),
        before,
        "a dry run removes nothing"
    );
    assert_eq!(holds(&host), held_before);
    let notes = dry["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .find(|c| c["collection"] == "notes")
        .cloned()
        .expect("notes is reported");
    assert_eq!(
        notes["removed_versions"], 0,
        "no keep rule: every version stays"
    );

    let pruned = host.orch(&["catalog", "prune", "configs"]);
    assert!(
        pruned.ok().contains("configs  removed 2 versions"),
        "{pruned:#?}"
    );
    let after: Vec<u64> = history(&host, "configs", "R1/backup")
        .iter()
        .map(|v| v.0)
        .collect();
    assert_eq!(after, vec![5, 4, 3]);
    assert_eq!(history(&host, "configs", "R2/backup").len(), 1);
    assert_eq!(history(&host, "notes", "old").len(), 2);
    assert_eq!(holds(&host), held_before - doomed);

    // A '*' rule reaches the collections without their own: notes keeps its latest only.
    host.orch(&["catalog", "policy", "set", "*", "--keep-last", "1"])
        .ok();
    let again = host.orch(&["catalog", "prune", "--json"]).json();
    assert_eq!(again["removed_versions"], 1, "{again}");
    assert_eq!(history(&host, "notes", "old").len(), 1);
    let missing = host.orch(&["catalog", "prune", "nothing-here"]);
    assert!(
        missing.fails_with(2).contains("holds no records"),
        "{missing:#?}"
    );
}

#[test]
fn policies_are_set_listed_and_removed_from_the_command_line() {
    let host = TestHost::new();
    host.orch(&["catalog", "put", "configs", "R1", "--value", "1"])
        .ok();
    host.orch(&[
        "catalog",
        "policy",
        "set",
        "*",
        "--keep-days",
        "30",
        "--invocation-bytes",
        "8MiB",
    ])
    .ok();
    let set = host.orch(&[
        "catalog",
        "policy",
        "set",
        "configs",
        "--keep-last",
        "10",
        "--max-bytes",
        "2GiB",
    ]);
    assert!(
        set.ok()
            .contains("configs: keeps the last 10 versions of each key; quota 2.0 GiB"),
        "{set:#?}"
    );
    // A later set changes what it gives and leaves the rest.
    host.orch(&["catalog", "policy", "set", "configs", "--max-bytes", "3GiB"])
        .ok();

    let listed = host.orch(&["catalog", "policy", "list", "--json"]).json();
    assert_eq!(listed["invocation_bytes"], 8 << 20);
    assert_eq!(listed["invocation_bytes_from"], "default");
    let find = |name: &str| {
        listed["collections"]
            .as_array()
            .expect("collections")
            .iter()
            .find(|c| c["collection"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} is not listed: {listed}"))
    };
    let configs = find("configs");
    assert_eq!(configs["effective"]["keep"]["last"], 10);
    assert_eq!(
        configs["effective"]["keep"]["days"],
        serde_json::Value::Null
    );
    assert_eq!(configs["effective"]["max_bytes"], 3_u64 << 30);
    assert_eq!(configs["effective"]["max_bytes_from"], "own");
    assert_eq!(configs["versions"], 1);
    assert_eq!(find("*")["effective"]["keep"]["days"], 30);

    let table = host.orch(&["catalog", "policy", "list"]);
    let text = table.ok();
    assert!(
        text.contains("last 10 (own)") && text.contains("3.0 GiB (own)"),
        "{text}"
    );
    assert!(
        text.contains("per-invocation budget: 8.0 MiB (*)"),
        "{text}"
    );

    let misplaced = host.orch(&[
        "catalog",
        "policy",
        "set",
        "configs",
        "--invocation-bytes",
        "1MiB",
    ]);
    assert!(
        misplaced
            .fails_with(2)
            .contains("orch catalog policy set '*' --invocation-bytes SIZE"),
        "{misplaced:#?}"
    );
    let bad_size = host.orch(&["catalog", "policy", "set", "configs", "--max-bytes", "lots"]);
    assert!(bad_size.fails_with(2).contains("1GiB"), "{bad_size:#?}");
    let bad_name = host.orch(&["catalog", "policy", "set", "Configs", "--keep-last", "1"]);
    assert!(
        bad_name.fails_with(2).contains("invalid collection"),
        "{bad_name:#?}"
    );

    let removed = host.orch(&["catalog", "policy", "remove", "configs"]);
    assert!(
        removed
            .ok()
            .contains("now configs: keeps the versions of the last 30 days and the latest of each key (from '*')"),
        "{removed:#?}"
    );
    let again = host.orch(&["catalog", "policy", "remove", "configs"]);
    assert!(
        again.fails_with(2).contains("has no policy of its own"),
        "{again:#?}"
    );
}
