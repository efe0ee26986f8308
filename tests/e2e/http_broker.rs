//! The `http` import end to end: the `broker` guest's `http_request` action run by the real
//! `orch` binary against real local servers ([`Peer`]). Credential injection (bearer, basic,
//! header, OAuth2 client credentials with its token cache), grants, the address policy (IP
//! literals in every spelling, link-local, a granted name resolving to loopback), redirects,
//! proxies, the response cap, the timeout and masking; after every test that used a secret, the
//! secret is nowhere under ORCH_HOME (WAL included) nor in any output.

use serde_json::{Value, json};

use crate::harness::{Run, TestHost, assert_no_leak};
use crate::http_peer::Peer;

const BEARER: &str = "bearer-4c1d9a7e-UNIQUE-http-token";
const PASSWORD: &str = "basic-pw-93b2f1c4-UNIQUE";
const API_KEY: &str = "apikey-1e8f7a26-UNIQUE";
const CLIENT_SECRET: &str = "client-secret-6a0c3b9d-UNIQUE";
const ACCESS_TOKEN: &str = "access-token-b7e2d415-UNIQUE";

fn host() -> TestHost {
    TestHost::with_packs(&["broker"])
}

fn grant(host: &TestHost, grant: &str) {
    host.orch(&["pack", "grant", "broker", grant]).ok();
}

/// `http:http://127.0.0.1:PORT` for `peer`.
fn grant_peer(host: &TestHost, peer: &Peer) {
    grant(host, &format!("http:http://127.0.0.1:{}", peer.port()));
}

/// `orch secret set NAME --kind KIND ARGS... --from-stdin` with `value`.
fn secret(host: &TestHost, name: &str, kind: &str, args: &[&str], value: &str) -> Run {
    let mut all = vec!["secret", "set", name, "--kind", kind, "--from-stdin"];
    all.extend_from_slice(args);
    let run = host.orch_with_stdin(&all, value);
    run.ok();
    run
}

/// The two imports a pack can send HTTP through: the tests that do not depend on redirects
/// being followed by the host (wasi:http clients get them back) run through both.
const VIAS: [&str; 2] = ["orch", "wasi"];

/// `broker.http_request` with `input`, through the import `via` names.
fn request(host: &TestHost, via: &str, input: &Value) -> Run {
    request_env(host, via, input, &[])
}

fn request_env(host: &TestHost, via: &str, input: &Value, env: &[(&str, &str)]) -> Run {
    let mut input = input.clone();
    input["via"] = json!(via);
    let input = input.to_string();
    host.orch_env_stdin(
        &[
            "action",
            "run",
            "broker.http_request",
            "--input",
            &input,
            "--json",
        ],
        env,
        "",
    )
}

#[track_caller]
fn assert_denied(run: &Run, needles: &[&str]) -> String {
    let (code, message) = run.action_error();
    assert_eq!(code, "denied", "{message}");
    for needle in needles {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }
    message
}

/// Runs a workflow of two `http_request` tasks to `url` with `credential`: two requests in one
/// process (the OAuth2 token cache lives in the process).
fn run_twice(host: &TestHost, via: &str, url: &str, credential: &str) -> Run {
    let workflow = host.home().join("twice.yaml");
    let task = format!(
        "    action: broker.http_request\n    input: {{ url: \"{url}\", credential: {credential}, via: {via} }}\n"
    );
    std::fs::write(
        &workflow,
        format!(
            "version: 1\ntasks:\n  first:\n{task}    next: [{{ do: second }}]\n  second:\n{task}"
        ),
    )
    .expect("writing the workflow");
    host.orch(&["run", workflow.to_str().expect("utf-8 path")])
}

#[test]
fn http_fetches_a_page_with_an_injected_bearer_token() {
    for via in VIAS {
        http_fetches_a_page_with_an_injected_bearer_token_via(via);
    }
}

fn http_fetches_a_page_with_an_injected_bearer_token_via(via: &str) {
    let host = host();
    let peer = Peer::start();
    peer.expect("authorization", &format!("Bearer {BEARER}"));
    grant_peer(&host, &peer);
    let bind = format!("127.0.0.1:{}", peer.port());
    let set = secret(&host, "api", "bearer", &["--bind", &bind], BEARER);

    let without = request(&host, via, &json!({ "url": peer.url("/protected") }));
    assert_eq!(
        without.output()["status"],
        401,
        "the server checks the token"
    );
    let with = request(
        &host,
        via,
        &json!({ "url": peer.url("/protected"), "credential": "api" }),
    );
    let out = with.output();
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(out["body"], "welcome");
    assert_eq!(out["url"], peer.url("/protected"));
    assert_no_leak(&host, BEARER, &[&set, &without, &with]);
}

#[test]
fn http_injects_basic_and_header_credentials() {
    for via in VIAS {
        http_injects_basic_and_header_credentials_via(via);
    }
}

fn http_injects_basic_and_header_credentials_via(via: &str) {
    let host = host();
    let peer = Peer::start();
    grant_peer(&host, &peer);
    let bind = format!("127.0.0.1:{}", peer.port());
    let basic = secret(
        &host,
        "basic",
        "basic",
        &["--bind", &bind, "--username", "admin"],
        PASSWORD,
    );
    let header = secret(
        &host,
        "key",
        "header",
        &["--bind", &bind, "--header-name", "X-Api-Key"],
        API_KEY,
    );
    use base64::Engine as _;
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}"));
    peer.expect("authorization", &format!("Basic {pair}"));
    let run_basic = request(
        &host,
        via,
        &json!({ "url": peer.url("/protected"), "credential": "basic" }),
    );
    assert_eq!(run_basic.output()["body"], "welcome");

    peer.expect("x-api-key", API_KEY);
    let run_header = request(
        &host,
        via,
        &json!({ "url": peer.url("/protected"), "credential": "key" }),
    );
    assert_eq!(run_header.output()["body"], "welcome");

    // The pack may not set the header the credential injects.
    let shadow = request(
        &host,
        via,
        &json!({
            "url": peer.url("/protected"),
            "credential": "key",
            "headers": { "x-api-key": "mine" },
        }),
    );
    let (code, message) = shadow.action_error();
    assert_eq!(code, "invalid", "{message}");
    assert!(message.contains("injected by the host"), "{message}");

    let outputs = [&basic, &header, &run_basic, &run_header, &shadow];
    assert_no_leak(&host, PASSWORD, &outputs);
    assert_no_leak(&host, &pair, &outputs);
    assert_no_leak(&host, API_KEY, &outputs);
}

#[test]
fn http_oauth2_client_token_is_obtained_once_and_cached_for_the_next_request() {
    for via in VIAS {
        http_oauth2_client_token_is_obtained_once_and_cached_for_the_next_request_via(via);
    }
}

fn http_oauth2_client_token_is_obtained_once_and_cached_for_the_next_request_via(via: &str) {
    let host = host();
    let peer = Peer::start();
    peer.oauth("orch-client", CLIENT_SECRET, ACCESS_TOKEN);
    peer.expect("authorization", &format!("Bearer {ACCESS_TOKEN}"));
    grant_peer(&host, &peer);
    let bind = format!("127.0.0.1:{}", peer.port());
    let token_url = peer.url("/oauth/token");
    let set = secret(
        &host,
        "oauth",
        "oauth2-client",
        &[
            "--bind",
            &bind,
            "--token-url",
            &token_url,
            "--client-id",
            "orch-client",
            "--scope",
            "read",
        ],
        CLIENT_SECRET,
    );

    // One invocation: one token.
    let single = request(
        &host,
        via,
        &json!({ "url": peer.url("/protected"), "credential": "oauth" }),
    );
    assert_eq!(single.output()["body"], "welcome");
    assert_eq!(peer.token_calls(), 1);

    // Two requests in another process (a workflow of two tasks): the token the first process
    // obtained is kept sealed in the store, so neither asks for a new one.
    let url = peer.url("/protected");
    let twice = run_twice(&host, via, &url, "oauth");
    twice.ok();
    assert_eq!(
        peer.token_calls(),
        1,
        "the second process reuses the stored token"
    );
    let authorized = peer
        .hits()
        .iter()
        .filter(|hit| hit.uri == "/protected")
        .filter(|hit| hit.headers.get("authorization") == Some(&format!("Bearer {ACCESS_TOKEN}")))
        .count();
    assert_eq!(authorized, 3, "every API request carried the token");
    let token_hits: Vec<_> = peer
        .hits()
        .into_iter()
        .filter(|hit| hit.uri == "/oauth/token")
        .collect();
    assert!(
        token_hits.iter().all(|hit| hit.method == "POST"),
        "{token_hits:?}"
    );

    let outputs = [&set, &single, &twice];
    assert_no_leak(&host, CLIENT_SECRET, &outputs);
    assert_no_leak(&host, ACCESS_TOKEN, &outputs);
}

#[test]
fn http_oauth2_cached_token_refused_with_401_is_renewed_once() {
    for via in VIAS {
        http_oauth2_cached_token_refused_with_401_is_renewed_once_via(via);
    }
}

fn http_oauth2_cached_token_refused_with_401_is_renewed_once_via(via: &str) {
    let host = host();
    let peer = Peer::start();
    peer.oauth("orch-client", CLIENT_SECRET, ACCESS_TOKEN);
    peer.single_use_tokens();
    grant_peer(&host, &peer);
    let bind = format!("127.0.0.1:{}", peer.port());
    let token_url = peer.url("/oauth/token");
    let set = secret(
        &host,
        "oauth",
        "oauth2-client",
        &[
            "--bind",
            &bind,
            "--token-url",
            &token_url,
            "--client-id",
            "orch-client",
        ],
        CLIENT_SECRET,
    );
    let url = peer.url("/protected");
    let twice = run_twice(&host, via, &url, "oauth");
    twice.ok();
    // first: token 1, accepted; second: cached token 1 gets 401, token 2, accepted.
    assert_eq!(peer.token_calls(), 2);
    assert_eq!(peer.accepted(), 2);
    let sent: Vec<String> = peer
        .hits()
        .iter()
        .filter(|hit| hit.uri == "/protected")
        .map(|hit| {
            hit.headers
                .get("authorization")
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        sent,
        [1, 1, 2].map(|n| format!("Bearer {ACCESS_TOKEN}-{n}")),
        "one retry with a fresh token"
    );
    assert_no_leak(&host, CLIENT_SECRET, &[&set, &twice]);
    assert_no_leak(&host, ACCESS_TOKEN, &[&set, &twice]);
}

#[test]
fn http_oauth2_token_url_outside_the_binding_is_refused() {
    for via in VIAS {
        http_oauth2_token_url_outside_the_binding_is_refused_via(via);
    }
}

fn http_oauth2_token_url_outside_the_binding_is_refused_via(via: &str) {
    let host = host();
    let api = Peer::start();
    let auth = Peer::start();
    auth.oauth("orch-client", CLIENT_SECRET, ACCESS_TOKEN);
    grant_peer(&host, &api);
    let bind = format!("127.0.0.1:{}", api.port());
    let token_url = auth.url("/oauth/token");
    let set = secret(
        &host,
        "oauth",
        "oauth2-client",
        &[
            "--bind",
            &bind,
            "--token-url",
            &token_url,
            "--client-id",
            "orch-client",
        ],
        CLIENT_SECRET,
    );
    let run = request(
        &host,
        via,
        &json!({ "url": api.url("/protected"), "credential": "oauth" }),
    );
    assert_denied(&run, &["token url", "binding"]);
    assert!(auth.hits().is_empty(), "the client secret went out");
    assert!(api.hits().is_empty());
    assert_no_leak(&host, CLIENT_SECRET, &[&set, &run]);
}

#[test]
fn http_reaches_a_granted_ipv6_literal() {
    for via in VIAS {
        http_reaches_a_granted_ipv6_literal_via(via);
    }
}

fn http_reaches_a_granted_ipv6_literal_via(via: &str) {
    let host = host();
    let peer = Peer::start_on("[::1]:0");
    grant(&host, &format!("http:http://[::1]:{}", peer.port()));
    let run = request(&host, via, &json!({ "url": peer.url("/echo-headers") }));
    let out = run.output();
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(out["url"], peer.url("/echo-headers"));
}

#[test]
fn http_denies_a_host_not_granted() {
    for via in VIAS {
        http_denies_a_host_not_granted_via(via);
    }
}

fn http_denies_a_host_not_granted_via(via: &str) {
    let host = host();
    let granted = Peer::start();
    let other = Peer::start();
    grant_peer(&host, &granted);
    let run = request(&host, via, &json!({ "url": other.url("/") }));
    let expected_fix = format!(
        "orch pack grant broker http:http://127.0.0.1:{}",
        other.port()
    );
    assert_denied(&run, &["may not reach", &expected_fix]);
    assert!(other.hits().is_empty());
    // The granted one works.
    assert_eq!(
        (request(&host, via, &json!({ "url": granted.url("/") }))).output()["body"],
        "peer"
    );
    // https to a host granted for http only is another origin.
    let run = request(
        &host,
        via,
        &json!({ "url": format!("https://127.0.0.1:{}/", granted.port()) }),
    );
    assert_denied(&run, &["may not reach"]);
}

#[test]
fn http_without_any_grant_is_denied_naming_the_missing_grant() {
    for via in VIAS {
        http_without_any_grant_is_denied_naming_the_missing_grant_via(via);
    }
}

fn http_without_any_grant_is_denied_naming_the_missing_grant_via(via: &str) {
    let host = host();
    let peer = Peer::start();
    let run = request(&host, via, &json!({ "url": peer.url("/") }));
    // The message names the grant that would let this very request through.
    let wanted = format!(
        "orch pack grant broker http:http://127.0.0.1:{}",
        peer.port()
    );
    assert_denied(&run, &["holds no http grant", &wanted]);
    assert!(peer.hits().is_empty());
}

#[test]
fn http_denies_obfuscated_forms_of_loopback_with_only_a_name_grant() {
    for via in VIAS {
        http_denies_obfuscated_forms_of_loopback_with_only_a_name_grant_via(via);
    }
}

fn http_denies_obfuscated_forms_of_loopback_with_only_a_name_grant_via(via: &str) {
    let host = host();
    let peer = Peer::start();
    let port = peer.port();
    grant(&host, &format!("http:http://localhost:{port}"));
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://0x7f.1:{port}/"),
        format!("http://127.1:{port}/"),
        format!("http://0177.0.0.1:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
    ] {
        let run = request(&host, via, &json!({ "url": url }));
        assert_denied(&run, &["may not reach"]);
    }
    assert!(peer.hits().is_empty(), "{:?}", peer.hits());
}

#[test]
fn http_never_reaches_link_local_metadata_even_when_granted() {
    for via in VIAS {
        http_never_reaches_link_local_metadata_even_when_granted_via(via);
    }
}

fn http_never_reaches_link_local_metadata_even_when_granted_via(via: &str) {
    let host = host();
    // Without any http grant the refusal is the address policy's, not an offer of a grant
    // that would still be refused.
    let run = request(
        &host,
        via,
        &json!({ "url": "http://169.254.169.254/latest/meta-data/" }),
    );
    let message = assert_denied(&run, &["link-local"]);
    assert!(!message.contains("orch pack grant"), "{message}");
    grant(&host, "http:http://169.254.169.254");
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://2852039166/latest/meta-data/",
        "http://0xa9fea9fe/",
        "http://[::ffff:169.254.169.254]/",
    ] {
        let run = request(&host, via, &json!({ "url": url, "timeout_ms": 2000 }));
        assert_denied(&run, &["link-local"]);
    }
}

#[test]
fn http_denies_a_granted_name_that_resolves_to_loopback() {
    for via in VIAS {
        http_denies_a_granted_name_that_resolves_to_loopback_via(via);
    }
}

fn http_denies_a_granted_name_that_resolves_to_loopback_via(via: &str) {
    let host = host();
    let peer = Peer::start();
    grant(&host, &format!("http:http://localhost:{}", peer.port()));
    let run = request(
        &host,
        via,
        &json!({ "url": format!("http://localhost:{}/", peer.port()) }),
    );
    assert_denied(&run, &["localhost", "loopback"]);
    assert!(peer.hits().is_empty());
}

#[test]
fn http_redirect_to_a_forbidden_or_ungranted_host_is_denied() {
    // Through orch:pack/http only: wasi:http hands redirects and caps to the client
    // (tests/e2e/wasi_http.rs).
    let via = "orch";
    let host = host();
    let peer = Peer::start();
    let elsewhere = Peer::start();
    grant_peer(&host, &peer);
    grant(&host, "http:http://169.254.169.254");
    let to_metadata = peer.url("/redirect?to=http://169.254.169.254/latest/meta-data/");
    let run = request(&host, via, &json!({ "url": to_metadata }));
    assert_denied(&run, &["redirected from", "link-local"]);

    let to_ungranted = peer.url(&format!("/redirect?to={}", elsewhere.url("/")));
    let run = request(&host, via, &json!({ "url": to_ungranted }));
    assert_denied(&run, &["redirected from", "may not reach"]);
    assert!(elsewhere.hits().is_empty());
}

#[test]
fn http_redirect_chain_past_the_cap_is_an_error_and_zero_returns_the_redirect() {
    // Through orch:pack/http only: wasi:http hands redirects and caps to the client
    // (tests/e2e/wasi_http.rs).
    let via = "orch";
    let host = host();
    let peer = Peer::start();
    grant_peer(&host, &peer);
    let run = request(
        &host,
        via,
        &json!({ "url": peer.url("/loop?n=0"), "max_redirects": 3 }),
    );
    let (code, message) = run.action_error();
    assert_eq!(code, "protocol", "{message}");
    assert!(
        message.contains("too many redirects") && message.contains("/loop?n=3"),
        "{message}"
    );
    assert_eq!(peer.hits().len(), 4, "the first request and 3 redirects");

    let run = request(
        &host,
        via,
        &json!({ "url": peer.url("/loop?n=0"), "max_redirects": 0 }),
    );
    let out = run.output();
    assert_eq!(out["status"], 302);
    assert_eq!(out["headers"]["location"], "/loop?n=1");

    // Within the cap the redirect is followed; a 303 turns the POST into a GET.
    let run = request(
        &host,
        via,
        &json!({
            "method": "POST",
            "url": peer.url("/redirect?status=303&to=/echo-headers"),
            "body": "payload",
            "headers": { "content-type": "text/plain" },
        }),
    );
    let out = run.output();
    assert_eq!(out["url"], peer.url("/echo-headers"));
    let last = peer.hits().pop().expect("a hit");
    assert_eq!(last.method, "GET");
    assert!(!last.headers.contains_key("content-type"), "{last:?}");
}

#[test]
fn http_redirect_to_another_granted_origin_drops_the_credential() {
    // Through orch:pack/http only: wasi:http hands redirects and caps to the client
    // (tests/e2e/wasi_http.rs).
    let via = "orch";
    let host = host();
    let api = Peer::start();
    let other = Peer::start();
    api.expect("authorization", &format!("Bearer {BEARER}"));
    grant_peer(&host, &api);
    grant_peer(&host, &other);
    let bind = format!("127.0.0.1:{}", api.port());
    let set = secret(&host, "api", "bearer", &["--bind", &bind], BEARER);

    let away = api.url(&format!("/redirect?to={}", other.url("/echo-headers")));
    let run = request(&host, via, &json!({ "url": away, "credential": "api" }));
    let out = run.output();
    assert_eq!(out["url"], other.url("/echo-headers"));
    let echoed: Value = serde_json::from_str(out["body"].as_str().expect("body")).expect("json");
    assert!(echoed.get("authorization").is_none(), "{echoed}");
    assert!(
        other
            .hits()
            .iter()
            .all(|hit| !hit.headers.contains_key("authorization"))
    );
    assert!(
        api.hits()[0].headers.contains_key("authorization"),
        "the first hop carried it"
    );

    // The pack's own Authorization header does not follow a redirect to another origin either.
    let own = request(
        &host,
        via,
        &json!({ "url": away, "headers": { "authorization": "Bearer pack-own-token" } }),
    );
    let echoed: Value =
        serde_json::from_str(own.output()["body"].as_str().expect("body")).expect("json");
    assert!(echoed.get("authorization").is_none(), "{echoed}");

    // A redirect inside the binding keeps it.
    let inside = api.url("/redirect?to=/protected");
    let kept = request(&host, via, &json!({ "url": inside, "credential": "api" }));
    assert_eq!(kept.output()["body"], "welcome");
    assert_no_leak(&host, BEARER, &[&set, &run, &kept]);
}

#[test]
fn http_credential_outside_its_binding_is_denied_even_where_the_pack_may_go() {
    for via in VIAS {
        http_credential_outside_its_binding_is_denied_even_where_the_pack_may_go_via(via);
    }
}

fn http_credential_outside_its_binding_is_denied_even_where_the_pack_may_go_via(via: &str) {
    let host = host();
    let bound = Peer::start();
    let reachable = Peer::start();
    grant_peer(&host, &bound);
    grant_peer(&host, &reachable);
    let bind = format!("127.0.0.1:{}", bound.port());
    let set = secret(&host, "api", "bearer", &["--bind", &bind], BEARER);
    let run = request(
        &host,
        via,
        &json!({ "url": reachable.url("/echo-headers"), "credential": "api" }),
    );
    assert_denied(&run, &["bound to", "api"]);
    assert!(reachable.hits().is_empty());
    assert_no_leak(&host, BEARER, &[&set, &run]);
}

#[test]
fn http_credential_limited_to_another_pack_is_denied() {
    for via in VIAS {
        http_credential_limited_to_another_pack_is_denied_via(via);
    }
}

fn http_credential_limited_to_another_pack_is_denied_via(via: &str) {
    let host = host();
    let peer = Peer::start();
    grant_peer(&host, &peer);
    let bind = format!("127.0.0.1:{}", peer.port());
    let set = secret(
        &host,
        "api",
        "bearer",
        &["--bind", &bind, "--pack", "other"],
        BEARER,
    );
    let run = request(
        &host,
        via,
        &json!({ "url": peer.url("/echo-headers"), "credential": "api" }),
    );
    assert_denied(&run, &["may not use credential"]);
    assert!(peer.hits().is_empty());
    assert_no_leak(&host, BEARER, &[&set, &run]);
}

#[test]
fn http_ignores_proxy_environment_variables() {
    for via in VIAS {
        http_ignores_proxy_environment_variables_via(via);
    }
}

fn http_ignores_proxy_environment_variables_via(via: &str) {
    let host = host();
    let peer = Peer::start();
    let proxy = Peer::start();
    grant_peer(&host, &peer);
    let proxy_url = proxy.url("");
    let env = [
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("HTTP_PROXY", proxy_url.as_str()),
        ("ALL_PROXY", proxy_url.as_str()),
        ("https_proxy", proxy_url.as_str()),
        ("http_proxy", proxy_url.as_str()),
        ("all_proxy", proxy_url.as_str()),
        ("NO_PROXY", ""),
    ];
    let run = request_env(
        &host,
        via,
        &json!({ "url": peer.url("/echo-headers") }),
        &env,
    );
    assert_eq!(run.output()["status"], 200);
    assert_eq!(peer.hits().len(), 1, "the request went direct");
    assert!(proxy.hits().is_empty(), "the proxy saw {:?}", proxy.hits());
}

#[test]
fn http_response_larger_than_the_cap_is_too_large() {
    let host = host();
    let peer = Peer::start();
    grant_peer(&host, &peer);
    // 20 MiB streamed without a length, past the host's 16 MiB cap, through either import.
    for via in VIAS {
        let run = request(
            &host,
            via,
            &json!({ "url": peer.url("/big?bytes=20971520") }),
        );
        let (code, message) = run.action_error();
        assert_eq!(code, "too_large", "{via}: {message}");
        assert!(message.contains("16777216"), "{via}: {message}");
    }
    // A smaller cap of the pack's own: orch:pack/http's max-response-bytes.
    let via = "orch";
    for url in ["/big?bytes=1001", "/big?bytes=1001&length=1"] {
        let run = request(
            &host,
            via,
            &json!({ "url": peer.url(url), "max_response_bytes": 1000 }),
        );
        assert_eq!(run.action_error().0, "too_large", "{url}");
    }
    let run = request(
        &host,
        via,
        &json!({ "url": peer.url("/big?bytes=1000"), "max_response_bytes": 1000 }),
    );
    assert_eq!(run.output()["body"].as_str().map(str::len), Some(1000));
}

#[test]
fn http_masks_a_credential_echoed_by_the_server() {
    for via in VIAS {
        http_masks_a_credential_echoed_by_the_server_via(via);
    }
}

fn http_masks_a_credential_echoed_by_the_server_via(via: &str) {
    let host = host();
    let peer = Peer::start();
    grant_peer(&host, &peer);
    let bind = format!("127.0.0.1:{}", peer.port());
    let set = secret(&host, "api", "bearer", &["--bind", &bind], BEARER);
    let run = request(
        &host,
        via,
        &json!({ "url": peer.url("/echo-headers"), "credential": "api" }),
    );
    let out = run.output();
    let echoed: Value = serde_json::from_str(out["body"].as_str().expect("body")).expect("json");
    assert_eq!(echoed["authorization"], "Bearer ***");
    let sent = peer.hits()[0].headers["authorization"].clone();
    assert_eq!(
        sent,
        format!("Bearer {BEARER}"),
        "the server did get the token"
    );
    assert_no_leak(&host, BEARER, &[&set, &run]);
}

#[test]
fn http_refuses_bad_requests_and_times_out() {
    // Through orch:pack/http only: wasi:http hands redirects and caps to the client
    // (tests/e2e/wasi_http.rs).
    let via = "orch";
    let host = host();
    let peer = Peer::start();
    grant_peer(&host, &peer);
    for (input, expected) in [
        (
            json!({ "url": peer.url("/"), "headers": { "Host": "evil.example.com" } }),
            "set by the host",
        ),
        (
            json!({ "url": peer.url("/"), "headers": { "Transfer-Encoding": "chunked" } }),
            "set by the host",
        ),
        (
            json!({ "url": peer.url("/"), "method": "TRACE" }),
            "unknown http method",
        ),
        (
            json!({ "url": "file:///etc/passwd" }),
            "only http and https",
        ),
        (
            json!({ "url": format!("http://user:pw@127.0.0.1:{}/", peer.port()) }),
            "user info",
        ),
    ] {
        let run = request(&host, via, &input);
        let (code, message) = run.action_error();
        assert_eq!(code, "invalid", "{input}: {message}");
        assert!(message.contains(expected), "{input}: {message}");
    }
    assert!(peer.hits().is_empty());

    let started = std::time::Instant::now();
    let run = request(
        &host,
        via,
        &json!({ "url": peer.url("/slow?ms=10000"), "timeout_ms": 300 }),
    );
    let (code, message) = run.action_error();
    assert_eq!(code, "timeout", "{message}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "the timeout did not cut the exchange"
    );
}

#[test]
fn http_the_most_verbose_logs_never_show_an_injected_credential() {
    for via in VIAS {
        http_the_most_verbose_logs_never_show_an_injected_credential_via(via);
    }
}

fn http_the_most_verbose_logs_never_show_an_injected_credential_via(via: &str) {
    let host = host();
    let peer = Peer::start();
    grant_peer(&host, &peer);
    let bind = format!("127.0.0.1:{}", peer.port());
    let set = secret(
        &host,
        "basic",
        "basic",
        &["--bind", &bind, "--username", "admin"],
        PASSWORD,
    );
    use base64::Engine as _;
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}"));
    peer.expect("authorization", &format!("Basic {pair}"));
    // Every crate at trace level: hyper and reqwest hold the Authorization header in clear.
    let run = request_env(
        &host,
        via,
        &json!({ "url": peer.url("/protected"), "credential": "basic" }),
        &[("ORCH_LOG", "trace")],
    );
    assert_eq!(run.output()["body"], "welcome");
    assert!(run.stderr.len() > 1000, "expected verbose logs: {run:#?}");
    assert_no_leak(&host, PASSWORD, &[&set, &run]);
    assert_no_leak(&host, &pair, &[&set, &run]);
}
