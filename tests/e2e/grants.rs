//! Grants: what `orch pack add` shows and grants (`--yes`, `--grant`), `orch pack grant|revoke`,
//! and that a pack holding no grant is denied with an error naming the missing grant.

use crate::harness::{TestHost, guest};

fn add(host: &TestHost, extra: &[&str]) -> crate::harness::Run {
    let path = guest("broker");
    let mut args = vec!["pack", "add", path.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    host.orch(&args)
}

fn grants_of(host: &TestHost, pack: &str) -> Vec<String> {
    let shown = host.orch(&["pack", "show", pack, "--json"]);
    shown.ok();
    shown.json()["grants"]
        .as_array()
        .expect("grants array")
        .iter()
        .map(|g| g.as_str().expect("grant text").to_owned())
        .collect()
}

#[test]
fn pack_add_with_yes_grants_what_the_pack_asks_for() {
    let host = TestHost::new();
    let added = add(&host, &["--yes"]);
    let out = added.ok();
    assert!(out.contains("destinations asked for:"), "{out}");
    assert!(out.contains("granted http:http://127.0.0.1"), "{out}");
    assert!(out.contains("granted ssh:127.0.0.1"), "{out}");
    assert_eq!(
        grants_of(&host, "broker"),
        vec!["http:http://127.0.0.1", "ssh:127.0.0.1"]
    );
}

#[test]
fn pack_add_without_grants_says_so_and_the_pack_is_denied_naming_the_grant() {
    let host = TestHost::new();
    let added = add(&host, &[]);
    added.ok();
    // One calm line, naming what the pack asked for (broker asks for http and ssh
    // destinations; it also imports catalog but asks for no collection: not mentioned).
    let notes: Vec<&str> = added
        .stderr
        .lines()
        .filter(|l| l.starts_with("note:"))
        .collect();
    assert_eq!(notes.len(), 1, "{added:#?}");
    assert!(
        notes[0].contains("asks to use http and ssh but holds no grant")
            && !notes[0].contains("catalog"),
        "{notes:?}"
    );
    assert!(grants_of(&host, "broker").is_empty());
    let run = host.orch(&[
        "action",
        "run",
        "broker.http_request",
        "--json",
        "--input",
        r#"{"url": "http://127.0.0.1:9/"}"#,
    ]);
    let error = &run.json()["error"];
    assert_eq!(error["code"], "denied", "{run:#?}");
    let message = error["message"].as_str().expect("message");
    assert!(
        message.contains("holds no http grant") && message.contains("orch pack grant broker http:"),
        "{message}"
    );
}

#[test]
fn pack_add_with_explicit_grants_checks_them_before_installing() {
    let host = TestHost::new();
    let bad = add(&host, &["--grant", "http:ftp://files.example.com"]);
    let err = bad.fails_with(2);
    assert!(
        err.contains("invalid grant") && err.contains("expected http:"),
        "{err}"
    );
    let listed = host.orch(&["pack", "list", "--json"]);
    assert_eq!(
        listed.json().as_array().map(Vec::len),
        Some(0),
        "{listed:#?}"
    );

    let good = add(&host, &["--grant", "http:api.example.com:443"]);
    assert!(
        good.ok()
            .contains("granted http:https://api.example.com:443")
    );
    assert_eq!(
        grants_of(&host, "broker"),
        vec!["http:https://api.example.com:443"]
    );
}

#[test]
fn grant_and_revoke_change_what_a_pack_holds() {
    let host = TestHost::new();
    add(&host, &[]).ok();
    let granted = host.orch(&[
        "pack",
        "grant",
        "broker",
        "ssh:10.0.0.0/24:22",
        "ssh:inventory",
    ]);
    let out = granted.ok();
    assert!(
        out.contains("granted ssh:10.0.0.0/24:22 to pack broker"),
        "{out}"
    );
    let again = host.orch(&["pack", "grant", "broker", "ssh:inventory"]);
    assert!(again.ok().contains("already holds ssh:inventory"));

    let typo = host.orch(&["pack", "revoke", "broker", "ssh:10.0.0.0/16:22"]);
    let err = typo.fails_with(2);
    assert!(err.contains("does not hold ssh:10.0.0.0/16:22"), "{err}");
    assert!(err.contains("ssh:10.0.0.0/24:22"), "{err}");

    let revoked = host.orch(&["pack", "revoke", "broker", "ssh:inventory"]);
    assert!(
        revoked
            .ok()
            .contains("revoked ssh:inventory from pack broker")
    );
    assert_eq!(grants_of(&host, "broker"), vec!["ssh:10.0.0.0/24:22"]);
    host.orch(&["pack", "revoke", "broker", "--all"]).ok();
    assert!(grants_of(&host, "broker").is_empty());

    let unknown = host.orch(&["pack", "grant", "nosuch", "ssh:inventory"]);
    assert!(unknown.fails_with(2).contains("no pack named \"nosuch\""));
}

#[test]
fn removing_a_pack_drops_its_grants() {
    let host = TestHost::new();
    add(&host, &["--yes"]).ok();
    host.orch(&["pack", "remove", "broker"]).ok();
    add(&host, &[]).ok();
    assert!(grants_of(&host, "broker").is_empty());
}
