//! Signed packs, from both sides: a vendor makes a key and signs a file (`orch pack keygen`,
//! `orch pack sign`); an operator trusts the key (`orch trust`), sees who signed what, and can
//! require signatures. A signature that vouches for another file, an unsigned file where
//! signatures are required, and an upgrade signed by another key are refused.

use std::path::{Path, PathBuf};

use crate::harness::{TestHost, guest};

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// A copy of the guest `name` in `dir` (signatures are written beside the file).
fn copy(dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(format!("{name}.wasm"));
    std::fs::copy(guest(name), &to).expect("copy");
    to
}

/// `orch pack keygen` into `dir/name.key`; its public key.
fn keygen(host: &TestHost, dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(format!("{name}.key"));
    let out = host.orch(&["pack", "keygen", s(&key)]).ok().to_owned();
    let public = out
        .lines()
        .find_map(|l| l.strip_prefix("public key: "))
        .expect("the public key is printed")
        .to_owned();
    (key, public)
}

#[test]
fn a_signed_pack_names_its_signer_and_a_home_can_require_trusted_signatures() {
    let host = TestHost::new();
    let dir = tempfile::tempdir().expect("dir");
    let (key, public) = keygen(&host, dir.path(), "acme");
    let again = host.orch(&["pack", "keygen", s(&key)]);
    assert_ne!(again.code, 0, "an existing key is never overwritten");

    let text = copy(dir.path(), "text");
    let signed = host
        .orch(&["pack", "sign", s(&text), "--key", s(&key)])
        .ok()
        .to_owned();
    assert!(signed.contains("signed text"), "{signed}");
    assert!(dir.path().join("text.wasm.sig").exists());

    // Signed by a key nobody trusts yet: installed, and said so with the way to trust it.
    let added = host.orch(&["pack", "add", s(&text)]).ok().to_owned();
    assert!(added.contains("signed by an untrusted key"), "{added}");
    assert!(
        added.contains(&format!("orch trust add NAME {public}")),
        "{added}"
    );
    host.orch(&["trust", "add", "acme", &public]).ok();
    let shown = host.orch(&["pack", "show", "text"]).ok().to_owned();
    assert!(
        shown.contains("signature:    signed by acme (ed25519:"),
        "{shown}"
    );
    let dup = host
        .orch(&["trust", "add", "other", &public])
        .fails_with(2)
        .to_owned();
    assert!(dup.contains("already trusted as \"acme\""), "{dup}");

    // A signature copied next to another file vouches for nothing, whatever the policy.
    let misbehave = copy(dir.path(), "misbehave");
    std::fs::copy(
        dir.path().join("text.wasm.sig"),
        dir.path().join("misbehave.wasm.sig"),
    )
    .expect("copy sig");
    let err = host
        .orch(&["pack", "add", s(&misbehave)])
        .fails_with(2)
        .to_owned();
    assert!(err.contains("signs text 0.1.0"), "{err}");
    assert!(
        host.orch(&["pack", "show", "misbehave"]).code != 0,
        "not installed"
    );
    std::fs::remove_file(dir.path().join("misbehave.wasm.sig")).expect("rm");

    // Required: unsigned refused (flag or home setting), signed by a trusted key accepted.
    let err = host
        .orch(&["pack", "add", s(&misbehave), "--require-signed"])
        .fails_with(2)
        .to_owned();
    assert!(err.contains("it is unsigned"), "{err}");
    host.orch(&["trust", "require", "on"]).ok();
    assert!(
        host.orch(&["trust", "list"])
            .ok()
            .contains("signed packs are required"),
        "the setting is shown"
    );
    host.orch(&["pack", "add", s(&misbehave)]).fails_with(2);
    let (stranger, _) = keygen(&host, dir.path(), "stranger");
    host.orch(&["pack", "sign", s(&misbehave), "--key", s(&stranger)])
        .ok();
    let err = host
        .orch(&["pack", "add", s(&misbehave)])
        .fails_with(2)
        .to_owned();
    assert!(
        err.contains("signed by the untrusted key ed25519:"),
        "{err}"
    );
    host.orch(&["pack", "sign", s(&misbehave), "--key", s(&key)])
        .ok();
    let added = host
        .orch(&["pack", "add", s(&misbehave), "--json"])
        .ok()
        .to_owned();
    let body: serde_json::Value = serde_json::from_str(&added).expect("json");
    assert_eq!(body["signed_by"], "acme");
    assert_eq!(body["pack"]["signer"], public.as_str());

    // An upgrade signed by another key than the installed version's needs --replace.
    host.orch(&["trust", "require", "off"]).ok();
    let v2 = copy(dir.path(), "misbehave_v2");
    host.orch(&["pack", "sign", s(&v2), "--key", s(&stranger)])
        .ok();
    let err = host.orch(&["pack", "add", s(&v2)]).fails_with(2).to_owned();
    assert!(
        err.contains("not signed by the key that signed the installed version"),
        "{err}"
    );
    let replaced = host
        .orch(&["pack", "add", s(&v2), "--replace"])
        .ok()
        .to_owned();
    assert!(replaced.contains("upgraded pack misbehave"), "{replaced}");

    host.orch(&["trust", "remove", "acme"]).ok();
    let err = host
        .orch(&["trust", "remove", "acme"])
        .fails_with(2)
        .to_owned();
    assert!(err.contains("no key is trusted as \"acme\""), "{err}");
}
