//! The HTTP API of `orch serve` (`/api/v1`), against a real server over real sockets: tokens
//! and roles, runs started, listed page by page, shown, followed as Server-Sent Events,
//! answered, canceled and re-run; workflows, packs, the catalog, grants and tokens; the OpenAPI
//! document; and every bad input answered with a JSON error while the server keeps serving.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::TestHost;
use crate::server::{Server, http_text, wait_for, workflows_dir};

const ASKS: &str = "input: [name]\ntasks:\n  hello:\n    action: core.echo\n    input: { text: <% ctx().name %> }\n    next: [{ do: approve }]\n  approve:\n    action: core.ask\n    input: { prompt: Go on?, schema: { type: object, required: [ok], properties: { ok: { type: boolean } } } }\n    next: [{ publish: [{ ok: <% result().ok %> }] }]\noutput:\n  - ok: <% ctx().ok %>\n";
const QUICK: &str = "tasks:\n  only:\n    action: core.noop\n";
const MANY: &str = "tasks:\n  each:\n    action: core.echo\n    with: { items: <% range(300) %>, concurrency: 8 }\n    input: { text: <% str(item()) %> }\n";
const FAILS: &str =
    "tasks:\n  boom:\n    action: core.fail\n    input: { code: nope, message: broken }\n";

/// A server over a workflow directory, with one token per role.
struct Api {
    host: TestHost,
    server: Server,
    _workflows: tempfile::TempDir,
    viewer: String,
    operator: String,
    admin: String,
}

impl Api {
    fn start() -> Self {
        let host = TestHost::new();
        let workflows = workflows_dir(&[
            ("asks", ASKS),
            ("quick", QUICK),
            ("fails", FAILS),
            ("many", MANY),
        ]);
        let rules = tempfile::tempdir().expect("rules dir");
        let token = |name: &str, role: &str| {
            host.orch(&["token", "create", name, "--role", role])
                .ok()
                .trim()
                .to_owned()
        };
        let (viewer, operator, admin) = (
            token("v", "viewer"),
            token("o", "operator"),
            token("a", "admin"),
        );
        let server = Server::start(
            &host,
            &[
                "--workflows",
                workflows.path().to_str().expect("utf-8"),
                "--rules",
                rules.path().to_str().expect("utf-8"),
            ],
        );
        Self {
            host,
            server,
            _workflows: workflows,
            viewer,
            operator,
            admin,
        }
    }

    fn call(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let auth = format!("Bearer {token}");
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.server.request(
            method,
            &format!("/api/v1{path}"),
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            body.as_bytes(),
        )
    }

    fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(&self.viewer, "GET", path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    fn start_run(&self, workflow: &str, input: Value) -> String {
        let (status, body) = self.call(
            &self.operator,
            "POST",
            "/runs",
            Some(json!({ "workflow": workflow, "input": input })),
        );
        assert_eq!(status, 202, "{body}");
        body["run"].as_str().expect("run id").to_owned()
    }

    fn wait_status(&self, run: &str, status: &str) -> Value {
        wait_for(30, &format!("run {run} {status}"), || {
            let report = self.get(&format!("/runs/{run}"));
            (report["status"] == status).then_some(report)
        })
    }
}

#[track_caller]
fn assert_error(reply: &(u16, Value), status: u16, code: &str, words: &str) {
    assert_eq!(reply.0, status, "{}", reply.1);
    assert_eq!(reply.1["error"]["code"], code, "{}", reply.1);
    assert!(
        reply.1["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains(words),
        "{words:?} not in {}",
        reply.1
    );
}

#[test]
fn every_call_needs_a_token_and_the_role_decides() {
    let api = Api::start();
    let none = api.server.request("GET", "/api/v1/runs", &[], b"");
    assert_error(&none, 401, "unauthorized", "orch token create");
    let forged = api.call("orch_forged", "GET", "/runs", None);
    assert_error(&forged, 401, "unauthorized", "not valid");
    assert_eq!(api.call(&api.viewer, "GET", "/runs", None).0, 200);
    let start = json!({ "workflow": "quick" });
    assert_error(
        &api.call(&api.viewer, "POST", "/runs", Some(start.clone())),
        403,
        "forbidden",
        "needs operator",
    );
    assert_eq!(api.call(&api.operator, "POST", "/runs", Some(start)).0, 202);
    assert_error(
        &api.call(&api.operator, "GET", "/tokens", None),
        403,
        "forbidden",
        "needs admin",
    );
    let tokens = api.call(&api.admin, "GET", "/tokens", None);
    assert_eq!(tokens.0, 200);
    assert!(
        !tokens.1.to_string().contains(&api.admin),
        "no token in a listing"
    );
    // A revoked token stops working at once.
    api.host.orch(&["token", "revoke", "v"]).ok();
    assert_error(
        &api.call(&api.viewer, "GET", "/runs", None),
        401,
        "unauthorized",
        "not valid",
    );
}

#[test]
fn a_run_is_started_followed_live_answered_and_shown() {
    let api = Api::start();
    let run = api.start_run("asks", json!({ "name": "ops" }));
    // The event stream: `run` reports as it goes, through the wait for an answer, until `end`
    // when the run is finished. The answer is given while the stream is open.
    let mut stream = TcpStream::connect(api.server.http).expect("connecting");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "GET /api/v1/runs/{run}/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\r\n",
        api.viewer
    )
    .expect("writing");
    let mut seen = Vec::new();
    let mut statuses = Vec::new();
    for line in BufReader::new(stream).lines() {
        let line = line.expect("reading the stream");
        if let Some(event) = line.strip_prefix("event: ") {
            seen.push(event.to_owned());
        }
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        let body: Value = serde_json::from_str(data).unwrap_or(Value::Null);
        match seen.last().map(String::as_str) {
            Some("run") => {
                let status = body["status"].as_str().unwrap_or("").to_owned();
                if status == "waiting" && !statuses.contains(&status) {
                    // A wrong answer is refused with the schema's words; then one answer wins.
                    let wrong = api.call(
                        &api.operator,
                        "POST",
                        &format!("/runs/{run}/respond"),
                        Some(json!({ "task": "approve", "answer": { "ok": "yes" } })),
                    );
                    assert_error(&wrong, 400, "bad_request", "does not match");
                    assert_eq!(body["questions"][0]["task"], "approve", "{body}");
                    let answer = api.call(
                        &api.operator,
                        "POST",
                        &format!("/runs/{run}/respond"),
                        Some(json!({ "task": "approve", "answer": { "ok": true } })),
                    );
                    assert_eq!(answer.0, 202, "{}", answer.1);
                }
                statuses.push(status);
            }
            Some("end") => {
                assert_eq!(body["status"], "succeeded", "{line}");
                break;
            }
            _ => {}
        }
    }
    assert!(
        statuses.iter().any(|s| s == "waiting")
            && statuses.last().map(String::as_str) == Some("succeeded"),
        "the stream followed the run through its wait: {statuses:?}"
    );
    let done = api.wait_status(&run, "succeeded");
    assert_eq!(done["output"], json!({ "ok": true }));
    let again = api.call(
        &api.operator,
        "POST",
        &format!("/runs/{run}/respond"),
        Some(json!({ "task": "approve", "answer": { "ok": false } })),
    );
    assert_error(&again, 409, "conflict", "already succeeded");
    // The CLI sees the same run.
    let shown = api.host.orch(&["runs", "show", &run, "--json"]).json();
    assert_eq!(shown["status"], "succeeded");
}

#[test]
fn runs_are_listed_newest_first_filtered_and_paged() {
    let api = Api::start();
    let mut ids: Vec<String> = (0..5).map(|_| api.start_run("quick", json!({}))).collect();
    let failed = api.start_run("fails", json!({}));
    for id in &ids {
        api.wait_status(id, "succeeded");
    }
    api.wait_status(&failed, "failed");
    let first = api.get("/runs?limit=2&workflow=quick");
    let page: Vec<&str> = first["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(page.len(), 2, "{first}");
    assert_eq!(
        first["runs"][0]["started_by"], "api:o",
        "who started it: {first}"
    );
    let next = first["next"].as_str().expect("a next page");
    let second = api.get(&format!("/runs?limit=2&workflow=quick&before={next}"));
    let third = api.get(&format!(
        "/runs?limit=2&workflow=quick&before={}",
        second["next"].as_str().expect("a third page")
    ));
    let mut all: Vec<String> = [&first, &second, &third]
        .iter()
        .flat_map(|p| p["runs"].as_array().cloned().unwrap_or_default())
        .map(|r| r["id"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(all.len(), 5, "every quick run once: {all:?}");
    all.sort();
    ids.sort();
    assert_eq!(all, ids);
    let failures = api.get("/runs?status=failed");
    assert_eq!(failures["runs"][0]["id"], failed.as_str());
    assert_eq!(failures["runs"].as_array().map(Vec::len), Some(1));
    // A failed run is re-run through the API.
    let rerun = api.call(
        &api.operator,
        "POST",
        &format!("/runs/{failed}/rerun"),
        Some(json!({})),
    );
    assert_eq!(rerun.0, 202, "{}", rerun.1);
    assert_eq!(rerun.1["revision"]["revision"], "recorded");
    // The run was failed before the rerun: wait for the rerun's own execution to fail.
    wait_for(30, "the rerun's execution", || {
        let report = api.get(&format!("/runs/{failed}"));
        (report["status"] == "failed" && report["tasks"].as_array().map(Vec::len) == Some(2))
            .then_some(())
    });
    let bad_cursor = api.call(&api.viewer, "GET", "/runs?before=yesterday", None);
    assert_error(&bad_cursor, 400, "bad_request", "next");
    metrics_count_what_happened(&api);
}

/// Clients that open a run's event stream and never read it (a stalled browser tab, a hung
/// script): the run is not held up, other requests are answered, and the streams close when
/// their clients go.
fn slow_event_stream_readers_hold_up_nothing(api: &Api) {
    let run = api.start_run("many", json!({}));
    let stalled: Vec<TcpStream> = (0..16)
        .map(|_| {
            let mut s = TcpStream::connect(api.server.http).expect("connecting");
            write!(
                s,
                "GET /api/v1/runs/{run}/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\r\n",
                api.viewer
            )
            .expect("writing");
            s
        })
        .collect();
    // 300 items, each a change of the run that every stream would carry as a whole report.
    let done = api.wait_status(&run, "succeeded");
    assert_eq!(done["status"], "succeeded");
    let listed = api.get("/runs?limit=1");
    assert_eq!(listed["runs"][0]["id"], run.as_str());
    drop(stalled);
    let quick = api.start_run("quick", json!({}));
    api.wait_status(&quick, "succeeded");
}

/// `/metrics` (after five quick runs and a failed one run twice): a token is needed, and the
/// figures are those of the runs above, in the OpenMetrics text Prometheus scrapes.
fn metrics_count_what_happened(api: &Api) {
    let (status, _, body) = http_text(api.server.http, "GET", "/metrics", &[], b"");
    assert_eq!(status, 401, "{body}");
    let auth = format!("Bearer {}", api.viewer);
    // A run's task ends a moment after the run's status is written: scrape once none is left.
    let (status, head, text) = wait_for(30, "no run driven", || {
        let scraped = http_text(
            api.server.http,
            "GET",
            "/metrics",
            &[("authorization", &auth)],
            b"",
        );
        scraped.2.contains("orch_active_runs 0").then_some(scraped)
    });
    assert_eq!(status, 200, "{text}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    for line in [
        r#"orch_runs{status="succeeded"} 5"#,
        r#"orch_runs{status="failed"} 1"#,
        r#"orch_action_attempts_total{pack="core",action="core.noop",outcome="succeeded"} 5"#,
        r#"orch_action_attempts_total{pack="core",action="core.fail",outcome="failed"} 2"#,
        r#"orch_action_duration_seconds_count{pack="core",action="core.noop"} 5"#,
        r#"orch_run_drives_ended_total{status="succeeded"} 5"#,
        "orch_runs_started_total 6",
        "orch_event_queue_depth 0",
        "orch_event_queue_capacity 10000",
        "orch_active_runs 0",
        "# EOF",
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }
    // A request without a token is refused before any lookup and not counted; a wrong token
    // is counted (a probe for tokens shows in the metrics).
    let (status, _, _) = http_text(
        api.server.http,
        "GET",
        "/metrics",
        &[("authorization", "Bearer orch_wrong")],
        b"",
    );
    assert_eq!(status, 401);
    let (_, _, text) = http_text(
        api.server.http,
        "GET",
        "/metrics",
        &[("authorization", &auth)],
        b"",
    );
    assert!(text.contains("orch_api_refusals_total 1"), "{text}");
}

#[test]
fn bad_requests_get_json_errors_and_the_server_keeps_serving() {
    let api = Api::start();
    slow_event_stream_readers_hold_up_nothing(&api);
    let auth = format!("Bearer {}", api.operator);
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let malformed = api
        .server
        .request("POST", "/api/v1/runs", &headers, b"{not json");
    assert_error(&malformed, 400, "bad_request", "JSON");
    let huge = format!(
        "{{\"workflow\": \"quick\", \"input\": {{\"x\": \"{}\"}}}}",
        "a".repeat(2 << 20)
    );
    let too_large = api
        .server
        .request("POST", "/api/v1/runs", &headers, huge.as_bytes());
    assert_eq!(too_large.0, 413, "{}", too_large.1);
    let unknown = api.call(
        &api.operator,
        "POST",
        "/runs",
        Some(json!({ "workflow": "nope" })),
    );
    assert_error(&unknown, 404, "not_found", "nope");
    let missing = api.call(
        &api.operator,
        "POST",
        "/runs",
        Some(json!({ "workflow": "asks" })),
    );
    assert_error(&missing, 400, "bad_request", "input `name` is required");
    let extra = api.call(
        &api.operator,
        "POST",
        "/runs",
        Some(json!({ "workflow": "quick", "inputs": {} })),
    );
    // Valid JSON of the wrong shape: 422, naming the field.
    assert_error(&extra, 422, "bad_request", "inputs");
    assert_error(
        &api.call(&api.viewer, "GET", "/runs/nosuchrun", None),
        404,
        "not_found",
        "nosuchrun",
    );
    assert_error(
        &api.call(&api.viewer, "GET", "/nowhere", None),
        404,
        "not_found",
        "openapi.json",
    );
    // Two answers to the same question at once: one wins, the other is told so.
    let run = api.start_run("asks", json!({ "name": "x" }));
    api.wait_status(&run, "waiting");
    let answers: Vec<(u16, Value)> = std::thread::scope(|s| {
        let calls: Vec<_> = [true, false]
            .into_iter()
            .map(|ok| {
                let api = &api;
                let run = &run;
                s.spawn(move || {
                    api.call(
                        &api.operator,
                        "POST",
                        &format!("/runs/{run}/respond"),
                        Some(json!({ "task": "approve", "answer": { "ok": ok } })),
                    )
                })
            })
            .collect();
        calls
            .into_iter()
            .map(|c| c.join().expect("thread"))
            .collect()
    });
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert!(statuses.contains(&202), "{answers:?}");
    assert!(
        statuses.iter().all(|s| *s == 202 || *s == 409),
        "{answers:?}"
    );
    api.wait_status(&run, "succeeded");
    // Still serving.
    assert_eq!(api.call(&api.viewer, "GET", "/runs", None).0, 200);
}

#[test]
fn workflows_packs_catalog_grants_tokens_and_the_openapi_document() {
    let api = Api::start();
    let workflows = api.get("/workflows");
    let names: Vec<&str> = workflows
        .as_array()
        .expect("list")
        .iter()
        .map(|w| w["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, vec!["asks", "fails", "many", "quick"]);
    let asks = api.get("/workflows/asks");
    assert!(
        asks["graph"]["mermaid"]
            .as_str()
            .unwrap_or("")
            .contains("approve"),
        "{asks}"
    );
    assert_eq!(asks["inputs"][0]["name"], "name");

    api.host
        .orch_with_stdin(
            &["catalog", "put", "configs", "R1/golden", "--text-file", "-"],
            "hostname R1\n",
        )
        .ok();
    let record = api.get("/catalog/configs/R1/golden");
    assert_eq!(record["version"], 1, "{record}");
    let history = api.get("/catalog/configs/R1/golden?history=true");
    assert_eq!(history["versions"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        api.call(&api.viewer, "GET", "/catalog/configs/R9/golden", None)
            .0,
        404
    );
    assert_eq!(api.get("/inventory"), json!([]));

    let path = crate::harness::guest("text");
    api.host
        .orch(&["pack", "add", path.to_str().expect("utf-8")])
        .ok();
    let packs = api.get("/packs");
    assert_eq!(packs[0]["name"], "text");
    let grant = json!({ "grants": ["http:https://api.example.com"] });
    assert_error(
        &api.call(
            &api.operator,
            "POST",
            "/packs/text/grants",
            Some(grant.clone()),
        ),
        403,
        "forbidden",
        "needs admin",
    );
    let granted = api.call(
        &api.admin,
        "POST",
        "/packs/text/grants",
        Some(grant.clone()),
    );
    assert_eq!(granted.0, 200, "{}", granted.1);
    assert_eq!(
        api.get("/packs/text")["grants"],
        json!(["http:https://api.example.com"])
    );
    let bad = api.call(
        &api.admin,
        "POST",
        "/packs/text/grants",
        Some(json!({ "grants": ["ftp:x"] })),
    );
    assert_error(&bad, 400, "bad_grant", "ftp");
    let revoked = api.call(&api.admin, "DELETE", "/packs/text/grants", Some(grant));
    assert_eq!(revoked.1["held"], json!([]), "{}", revoked.1);

    let created = api.call(
        &api.admin,
        "POST",
        "/tokens",
        Some(json!({ "name": "ci", "role": "viewer", "expires": "1d" })),
    );
    assert_eq!(created.0, 201, "{}", created.1);
    let token = created.1["token"]
        .as_str()
        .expect("the token, once")
        .to_owned();
    assert_eq!(api.call(&token, "GET", "/runs", None).0, 200);
    assert_eq!(api.call(&api.admin, "DELETE", "/tokens/ci", None).0, 200);
    assert_eq!(api.call(&token, "GET", "/runs", None).0, 401);

    let doc = api.get("/openapi.json");
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/runs",
        "/api/v1/runs/{id}/events",
        "/api/v1/runs/{id}/respond",
        "/api/v1/workflows/{name}",
        "/api/v1/catalog/{collection}/{key}",
        "/api/v1/tokens",
    ] {
        assert!(paths.contains_key(path), "{path} not documented");
    }
    assert!(
        doc["components"]["securitySchemes"]["token"].is_object(),
        "{doc}"
    );
}
