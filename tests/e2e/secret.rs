//! `orch secret`: credentials set from stdin and files, listed without values, removed; and the
//! secret value never reaches the store's files or any output.

use std::os::unix::fs::PermissionsExt as _;

use crate::harness::{Run, TestHost, assert_no_leak};

const TOKEN: &str = "tok-5f1b9c2e-UNIQUE-never-stored-in-clear";
const PASSWORD: &str = "pw-8d7e61a0-UNIQUE-never-stored-in-clear";

/// No secret of `secrets` is under ORCH_HOME or in any of `runs`.
#[track_caller]
fn assert_none_leaked(host: &TestHost, runs: &[&Run], secrets: &[&str]) {
    for secret in secrets {
        assert_no_leak(host, secret, runs);
    }
}

#[test]
fn secret_set_from_stdin_and_file_list_and_remove_never_leak_the_value() {
    let host = TestHost::new();
    let set_bearer = host.orch_with_stdin(
        &[
            "secret",
            "set",
            "api-token",
            "--kind",
            "bearer",
            "--bind",
            "api.example.com:443",
            "--bind",
            "*.example.net",
            "--pack",
            "http-demo",
            "--from-stdin",
        ],
        &format!("{TOKEN}\n"),
    );
    assert!(
        set_bearer.ok().contains("stored credential api-token"),
        "{set_bearer:#?}"
    );

    // A reader held open keeps orch's WAL from being checkpointed away when it exits, so the
    // search below also covers the WAL file.
    let reader = host.database_url().is_none().then(|| {
        let reader =
            rusqlite::Connection::open(host.home().join("orch.db")).expect("opening the store");
        reader
            .query_row("SELECT count(*) FROM credentials", [], |row| {
                row.get::<_, i64>(0)
            })
            .expect("reading the store");
        reader
    });
    assert_eq!(host.sql_count("SELECT count(*) FROM credentials"), 1);

    let password_file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(password_file.path(), PASSWORD).expect("writing the password file");
    let set_basic = host.orch(&[
        "secret",
        "set",
        "router",
        "--kind",
        "ssh-password",
        "--username",
        "admin",
        "--bind",
        "10.0.0.0/24:22",
        "--from-file",
        password_file.path().to_str().expect("utf-8 path"),
    ]);
    set_basic.ok();

    let key_file = host.home().join("master.key");
    let mode = std::fs::metadata(&key_file)
        .expect("the key file was created")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let list = host.orch(&["secret", "list"]);
    let text = list.ok();
    assert!(
        text.contains("api-token") && text.contains("bearer"),
        "{text}"
    );
    assert!(
        text.contains("router") && text.contains("10.0.0.0/24:22"),
        "{text}"
    );

    let json = host.orch(&["secret", "list", "--json"]);
    let value = json.json();
    let items = value.as_array().expect("a JSON array");
    assert_eq!(items.len(), 2);
    let api = &items[0];
    assert_eq!(api["name"], "api-token");
    assert_eq!(api["kind"], "bearer");
    assert_eq!(
        api["bindings"],
        serde_json::json!(["api.example.com:443", "*.example.net"])
    );
    assert_eq!(api["packs"], serde_json::json!(["http-demo"]));
    assert_eq!(items[1]["fields"]["username"], "admin");

    let replace = host.orch_with_stdin(
        &[
            "secret",
            "set",
            "api-token",
            "--kind",
            "bearer",
            "--bind",
            "api.example.com",
            "--from-stdin",
        ],
        TOKEN,
    );
    assert!(
        replace.ok().contains("replaced credential api-token"),
        "{replace:#?}"
    );

    let remove = host.orch(&["secret", "remove", "router"]);
    assert!(remove.ok().contains("removed credential router"));
    let again = host.orch(&["secret", "remove", "router"]);
    let err = again.fails_with(2);
    assert!(err.contains("no credential named \"router\""), "{err}");
    let after = host.orch(&["secret", "list", "--json"]);
    assert_eq!(after.json().as_array().map(Vec::len), Some(1));

    if host.database_url().is_none() {
        let wal = host.home().join("orch.db-wal");
        let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert!(wal_len > 0, "expected a WAL to search at {}", wal.display());
    }
    assert_none_leaked(
        &host,
        &[
            &set_bearer,
            &set_basic,
            &list,
            &json,
            &replace,
            &remove,
            &again,
            &after,
        ],
        &[TOKEN, PASSWORD],
    );
    drop(reader);
}

#[test]
fn secret_set_with_a_master_key_from_the_environment_writes_no_key_file() {
    let host = TestHost::new();
    let key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    let run = host.orch_env_stdin(
        &[
            "secret",
            "set",
            "hdr",
            "--kind",
            "header",
            "--header-name",
            "X-Api-Key",
            "--bind",
            "api.example.com",
            "--from-stdin",
        ],
        &[("ORCH_MASTER_KEY", key)],
        TOKEN,
    );
    run.ok();
    assert!(!host.home().join("master.key").exists());
    assert_none_leaked(&host, &[&run], &[TOKEN, key]);

    let bad = host.orch_env_stdin(
        &[
            "secret",
            "set",
            "hdr2",
            "--kind",
            "bearer",
            "--bind",
            "x.example.com",
            "--from-stdin",
        ],
        &[("ORCH_MASTER_KEY", "too-short")],
        TOKEN,
    );
    let err = bad.fails_with(2);
    assert!(
        err.contains("ORCH_MASTER_KEY") && !err.contains("too-short"),
        "{err}"
    );
}

#[test]
fn secret_set_refuses_bad_input_with_a_fix() {
    let host = TestHost::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "secret",
                "set",
                "a",
                "--kind",
                "bearer",
                "--bind",
                "*",
                "--from-stdin",
            ],
            "invalid binding \"*\"",
        ),
        (
            &[
                "secret",
                "set",
                "a",
                "--kind",
                "bearer",
                "--bind",
                "h.example.com:99999",
                "--from-stdin",
            ],
            "port must be a number",
        ),
        (
            &[
                "secret",
                "set",
                "a",
                "--kind",
                "basic",
                "--bind",
                "h.example.com",
                "--from-stdin",
            ],
            "needs --username",
        ),
        (
            &[
                "secret",
                "set",
                "a",
                "--kind",
                "bearer",
                "--bind",
                "h.example.com",
            ],
            "pass --from-file PATH or --from-stdin",
        ),
    ];
    for (args, expected) in cases {
        let run = host.orch_with_stdin(args, TOKEN);
        let err = run.fails_with(2);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains(TOKEN), "{err}");
    }
    // Without --bind clap refuses before anything is read.
    let run = host.orch_with_stdin(
        &["secret", "set", "a", "--kind", "bearer", "--from-stdin"],
        TOKEN,
    );
    assert!(run.fails_with(2).contains("--bind"), "{run:#?}");
    let list = host.orch(&["secret", "list", "--json"]);
    assert_eq!(list.json(), serde_json::json!([]));
}

#[test]
fn secret_set_refuses_a_key_file_others_can_read() {
    let host = TestHost::new();
    let args = [
        "secret",
        "set",
        "a",
        "--kind",
        "bearer",
        "--bind",
        "h.example.com",
        "--from-stdin",
    ];
    host.orch_with_stdin(&args, TOKEN).ok();
    let key_file = host.home().join("master.key");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let run = host.orch_with_stdin(&args, TOKEN);
    let err = run.fails_with(2);
    assert!(err.contains(&key_file.display().to_string()), "{err}");
    assert!(err.contains("chmod 600"), "{err}");
}

#[test]
fn api_tokens_are_shown_once_stored_as_hashes_listed_and_revoked() {
    let host = TestHost::new();
    let created = host.orch(&[
        "token",
        "create",
        "ci",
        "--role",
        "operator",
        "--expires",
        "30d",
    ]);
    let token = created.ok().trim().to_owned();
    assert!(token.starts_with("orch_"), "{token}");
    assert!(
        created.stderr.contains("shown only now"),
        "{}",
        created.stderr
    );
    let list = host.orch(&["token", "list", "--json"]).json();
    assert_eq!(list[0]["name"], "ci");
    assert_eq!(list[0]["role"], "operator");
    assert!(list[0]["expires_at"].is_number());
    assert!(!host.orch(&["token", "list"]).stdout.contains(&token));
    let again = host.orch(&["token", "create", "ci", "--role", "admin"]);
    assert!(again.fails_with(2).contains("exists already"), "{again:#?}");
    let bad = host.orch(&["token", "create", "x", "--role", "root"]);
    assert!(
        bad.fails_with(2).contains("viewer, operator and admin"),
        "{bad:#?}"
    );
    host.orch(&["token", "revoke", "ci"]).ok();
    assert!(
        host.orch(&["token", "revoke", "ci"])
            .fails_with(2)
            .contains("no token named")
    );
    // Only the hash is kept: the token is nowhere under ORCH_HOME.
    assert_no_leak(&host, &token, &[&host.orch(&["token", "list"])]);
}
