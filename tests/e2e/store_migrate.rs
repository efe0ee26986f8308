//! `orch store migrate --to postgres://…` as an operator moving a home to PostgreSQL would use
//! it: what the SQLite home held is there afterwards through `ORCH_DATABASE_URL`, the copy is
//! verified table by table, and a database that holds anything is refused.

use crate::harness::{TestHost, workspace};

const TOKEN: &str = "migrate-secret-b7d0c2";

#[test]
fn a_home_moved_to_postgres_keeps_its_runs_devices_and_secrets() {
    if !orch_pg_peer::available() {
        eprintln!("skipped: PostgreSQL is not installed (scripts/setup installs it)");
        return;
    }
    let host = TestHost::on_sqlite();
    let workflows = workspace().join("workflows");
    let ran = host.orch(&[
        "run",
        "--workflows",
        &workflows.display().to_string(),
        "summarize",
        "-i",
        r#"items=["r1","r2"]"#,
        "--json",
    ]);
    let run_id = ran.json()["run"].as_str().expect("a run id").to_owned();
    let inventory = host.home().join("lab.yaml");
    std::fs::write(
        &inventory,
        "devices:\n  - {name: R1, address: 10.0.0.1, platform: cisco_ios, tags: {site: lon}}\n",
    )
    .unwrap();
    host.orch(&["inventory", "import", &inventory.display().to_string()])
        .ok();
    host.orch_with_stdin(
        &[
            "secret",
            "set",
            "api",
            "--kind",
            "bearer",
            "--bind",
            "api.example.com",
            "--from-stdin",
        ],
        &format!("{TOKEN}\n"),
    )
    .ok();

    let url = orch_pg_peer::server().create_database("migrate");
    let migrated = host.orch(&["store", "migrate", "--to", &url]);
    let printed = migrated.ok();
    assert!(printed.contains("verified"), "{migrated:#?}");
    assert!(printed.contains("runs "), "each table is listed: {printed}");
    assert!(!migrated.stdout.contains(TOKEN) && !migrated.stderr.contains(TOKEN));

    let on_postgres = [("ORCH_DATABASE_URL", url.as_str())];
    let runs = host.orch_env_stdin(&["runs", "list", "--json"], &on_postgres, "");
    assert!(runs.ok().contains(&run_id), "{runs:#?}");
    let device = host.orch_env_stdin(&["inventory", "show", "R1"], &on_postgres, "");
    assert!(device.ok().contains("10.0.0.1"), "{device:#?}");
    let secrets = host.orch_env_stdin(&["secret", "list"], &on_postgres, "");
    assert!(secrets.ok().contains("api"), "{secrets:#?}");
    assert!(
        !orch_pg_peer::server()
            .dump(&url)
            .windows(TOKEN.len())
            .any(|w| w == TOKEN.as_bytes()),
        "the secret is in the PostgreSQL store in clear"
    );

    // A second copy into the same database is refused, naming what it holds.
    let again = host.orch(&["store", "migrate", "--to", &url]);
    let refused = again.fails_with(3);
    assert!(
        refused.contains("not empty") && refused.contains("runs ("),
        "{again:#?}"
    );
    // Migrating while pointed at PostgreSQL says what to do.
    let pointed = host.orch_env_stdin(&["store", "migrate", "--to", &url], &on_postgres, "");
    assert!(pointed.stderr.contains("unset it"), "{pointed:#?}");
}
