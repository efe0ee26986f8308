//! The `servicenow` pack through the real host against the ServiceNow stand-in: records created,
//! read, updated and found with a basic credential and with an OAuth2 client credential the host
//! exchanges for a token; HTTP failures mapped to the pack's error codes; and a create whose
//! answer is lost, retried by a workflow, leaving exactly one record.

use serde_json::{Value, json};

use crate::harness::{Run, TestHost, guest};
use crate::servicenow_peer::{CLIENT_ID, ServiceNow, USER};

/// A host with the pack installed and granted the stand-in, and the stand-in.
struct Fixture {
    host: TestHost,
    snow: ServiceNow,
}

impl Fixture {
    /// Pack added and granted; credential `snow` (basic, bound to the stand-in) stored with
    /// `password`.
    fn with_password(password: Option<&str>) -> Self {
        let snow = ServiceNow::start();
        let host = TestHost::new();
        let wasm = guest("servicenow");
        host.orch(&["pack", "add", wasm.to_str().expect("utf-8 path")])
            .ok();
        host.orch(&[
            "pack",
            "grant",
            "servicenow",
            &format!("http:http://{}", snow.address()),
        ])
        .ok();
        let password = password.unwrap_or(snow.password()).to_owned();
        host.orch_with_stdin(
            &[
                "secret",
                "set",
                "snow",
                "--kind",
                "basic",
                "--username",
                USER,
                "--bind",
                &snow.address(),
                "--from-stdin",
            ],
            &password,
        )
        .ok();
        Self { host, snow }
    }

    fn new() -> Self {
        Self::with_password(None)
    }

    /// `orch action run servicenow.ACTION --json` with `instance` and `credential` added to
    /// `input` unless present.
    fn run(&self, action: &str, mut input: Value) -> Run {
        let object = input.as_object_mut().expect("input is an object");
        object
            .entry("instance")
            .or_insert_with(|| json!(self.snow.url()));
        object.entry("credential").or_insert_with(|| json!("snow"));
        let run = self.host.orch(&[
            "action",
            "run",
            &format!("servicenow.{action}"),
            "--input",
            &input.to_string(),
            "--json",
        ]);
        self.assert_no_secret(&run);
        run
    }

    /// Like [`run`](Self::run), with `orch action run --timeout TIMEOUT`.
    fn run_with_timeout(&self, action: &str, input: Value, timeout: &str) -> Run {
        let mut input = input;
        let object = input.as_object_mut().expect("input is an object");
        object
            .entry("instance")
            .or_insert_with(|| json!(self.snow.url()));
        object.entry("credential").or_insert_with(|| json!("snow"));
        let run = self.host.orch(&[
            "action",
            "run",
            &format!("servicenow.{action}"),
            "--input",
            &input.to_string(),
            "--timeout",
            timeout,
            "--json",
        ]);
        self.assert_no_secret(&run);
        run
    }

    /// Runs an action that must succeed and returns its output.
    #[track_caller]
    fn output(&self, action: &str, input: Value) -> Value {
        let run = self.run(action, input);
        let body = run.json();
        assert!(
            body.get("output").is_some(),
            "{action} failed: {run:#?}\nstand-in stderr: {}",
            self.snow.stderr()
        );
        body["output"].clone()
    }

    /// Runs an action that must fail and returns its error.
    #[track_caller]
    fn error(&self, action: &str, input: Value) -> Value {
        let run = self.run(action, input);
        assert_ne!(run.code, 0, "{action} should fail: {run:#?}");
        let body = run.json();
        assert!(body.get("error").is_some(), "{run:#?}");
        body["error"].clone()
    }

    #[track_caller]
    fn assert_no_secret(&self, run: &Run) {
        for secret in [self.snow.password(), self.snow.client_secret()] {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "a secret leaked into the output: {run:#?}"
            );
        }
    }

    /// Neither secret is in the store's files (database, WAL) in clear.
    #[track_caller]
    fn assert_no_secret_in_store(&self) {
        for entry in std::fs::read_dir(self.host.home()).expect("reading ORCH_HOME") {
            let path = entry.expect("dir entry").path();
            if !path.is_file() {
                continue;
            }
            let bytes = std::fs::read(&path).expect("reading a store file");
            for secret in [self.snow.password(), self.snow.client_secret()] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "a secret is in clear in {}",
                    path.display()
                );
            }
        }
    }

    fn create_incident(&self, fields: Value) -> Value {
        self.output(
            "create_record",
            json!({ "table": "incident", "fields": fields }),
        )
    }
}

#[test]
fn servicenow_creates_an_incident_with_a_number_and_string_fields() {
    let f = Fixture::new();
    let out = f.create_incident(json!({
        "short_description": "config drift on r1",
        "urgency": 2,
        "active": true,
        "caller_id": "netops"
    }));
    assert_eq!(out["created"], true, "{out:#}");
    assert_eq!(out["table"], "incident");
    let number = out["number"].as_str().expect("number");
    assert!(number.starts_with("INC") && number.len() == 10, "{number}");
    let sys_id = out["sys_id"].as_str().expect("sys_id");
    assert_eq!(sys_id.len(), 32, "{sys_id}");
    let record = &out["record"];
    assert_eq!(
        record["urgency"], "2",
        "ServiceNow returns strings: {record:#}"
    );
    assert_eq!(record["active"], "true");
    assert_eq!(record["sys_created_by"], USER);
    // The correlation id is the call's idempotency key: a fresh uuid per `orch action run`.
    let correlation = record["correlation_id"].as_str().expect("correlation id");
    assert_eq!(correlation.len(), 36, "{correlation}");

    let stored = f.snow.records("incident");
    assert_eq!(stored.len(), 1, "{stored:#?}");
    assert_eq!(stored[0]["sys_id"], sys_id);
    assert_eq!(stored[0]["short_description"], "config drift on r1");
    assert_eq!(stored[0]["correlation_id"], correlation);
    // The correlation lookup came first, then one POST.
    let stats = f.snow.stats();
    assert_eq!(stats["table"]["incident"]["GET"], 1, "{stats:#}");
    assert_eq!(stats["table"]["incident"]["POST"], 1, "{stats:#}");

    // A change request numbers from its own sequence.
    let change = f.output(
        "create_record",
        json!({ "table": "change_request", "fields": { "short_description": "revert r1" } }),
    );
    assert!(
        change["number"]
            .as_str()
            .is_some_and(|n| n.starts_with("CHG")),
        "{change:#}"
    );
}

#[test]
fn servicenow_gets_updates_and_finds_records() {
    let f = Fixture::new();
    let disk = f.create_incident(json!({ "short_description": "disk full on r1", "urgency": 1 }));
    let cpu = f.create_incident(json!({ "short_description": "cpu high on r2", "urgency": 3 }));
    let disk_id = disk["sys_id"].as_str().expect("sys_id");

    let got = f.output(
        "get_record",
        json!({ "table": "incident", "sys_id": disk_id }),
    );
    assert_eq!(got["record"]["number"], disk["number"]);
    assert_eq!(got["record"]["short_description"], "disk full on r1");

    let updated = f.output(
        "update_record",
        json!({ "table": "incident", "sys_id": disk_id, "fields": { "state": 6, "close_notes": "cleaned" } }),
    );
    assert_eq!(updated["sys_id"], disk_id);
    assert_eq!(updated["record"]["state"], "6");
    assert_eq!(
        updated["record"]["short_description"], "disk full on r1",
        "PATCH keeps the other fields"
    );
    let stored = f.snow.records("incident");
    assert_eq!(stored[0]["close_notes"], "cleaned");

    // Field map query: equality, ANDed.
    let found = f.output(
        "find_records",
        json!({ "table": "incident", "query": { "urgency": 3 } }),
    );
    let records = found["records"].as_array().expect("records");
    assert_eq!(records.len(), 1, "{found:#}");
    assert_eq!(records[0]["number"], cpu["number"]);

    // Encoded query with LIKE and ORDERBYDESC, a limit and selected fields.
    let found = f.output(
        "find_records",
        json!({
            "table": "incident",
            "query": "short_descriptionLIKEon r^ORDERBYDESCnumber",
            "limit": 1,
            "fields": ["number", "state"]
        }),
    );
    let records = found["records"].as_array().expect("records");
    assert_eq!(records.len(), 1, "{found:#}");
    assert_eq!(records[0]["number"], cpu["number"]);
    let keys: Vec<&String> = records[0].as_object().expect("record").keys().collect();
    assert_eq!(
        keys,
        ["number"],
        "only the asked fields that exist: {found:#}"
    );

    // No match is an empty list, not an error.
    let none = f.output(
        "find_records",
        json!({ "table": "incident", "query": { "short_description": "nothing^ORDERBYnumber" } }),
    );
    assert_eq!(none["records"], json!([]));
}

#[test]
fn servicenow_missing_record_is_not_found() {
    let f = Fixture::new();
    let error = f.error(
        "get_record",
        json!({ "table": "incident", "sys_id": "0123456789abcdef0123456789abcdef" }),
    );
    assert_eq!(error["code"], "not_found", "{error:#}");
    assert_eq!(error["retryable"], false);
    let message = error["message"].as_str().expect("message");
    assert!(
        message.contains("0123456789abcdef0123456789abcdef") && message.contains("No Record found"),
        "{message}"
    );
}

#[test]
fn servicenow_wrong_password_is_auth_failed_and_not_retryable() {
    let f = Fixture::with_password(Some("not-the-password"));
    let error = f.error(
        "create_record",
        json!({ "table": "incident", "fields": { "short_description": "x" } }),
    );
    assert_eq!(error["code"], "auth_failed", "{error:#}");
    assert_eq!(error["retryable"], false);
    let message = error["message"].as_str().expect("message");
    assert!(
        message.contains("User Not Authenticated") && message.contains("\"snow\""),
        "{message}"
    );
    assert!(f.snow.records("incident").is_empty());
}

#[test]
fn servicenow_oauth2_client_credential_is_exchanged_for_a_token() {
    let f = Fixture::new();
    let token_url = format!("{}/oauth_token.do", f.snow.url());
    f.host
        .orch_with_stdin(
            &[
                "secret",
                "set",
                "snow-oauth",
                "--kind",
                "oauth2-client",
                "--token-url",
                &token_url,
                "--client-id",
                CLIENT_ID,
                "--bind",
                &f.snow.address(),
                "--from-stdin",
            ],
            f.snow.client_secret(),
        )
        .ok();
    let out = f.output(
        "create_record",
        json!({
            "credential": "snow-oauth",
            "table": "incident",
            "fields": { "short_description": "opened with a token" }
        }),
    );
    assert_eq!(out["created"], true, "{out:#}");
    let stats = f.snow.stats();
    assert!(
        stats["token_requests"].as_u64().is_some_and(|n| n >= 1),
        "{stats:#}"
    );
    assert_eq!(stats["auth_failures"], 0, "{stats:#}");
    assert_eq!(f.snow.records("incident").len(), 1);
    f.assert_no_secret_in_store();
}

#[test]
fn servicenow_503_is_a_retryable_unavailable_error() {
    let f = Fixture::new();
    f.snow.faults(json!({ "fail_next": 1, "status": 503 }));
    let error = f.error(
        "find_records",
        json!({ "table": "incident", "query": "active=true" }),
    );
    assert_eq!(error["code"], "unavailable", "{error:#}");
    assert_eq!(error["retryable"], true);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("503") && m.contains("Service Unavailable")),
        "{error:#}"
    );
    // The switch served once: the next call goes through.
    let found = f.output(
        "find_records",
        json!({ "table": "incident", "query": "active=true" }),
    );
    assert_eq!(found["records"], json!([]));
}

#[test]
fn servicenow_slow_instance_is_stopped_at_the_invocation_deadline() {
    let f = Fixture::new();
    f.snow.faults(json!({ "delay_ms": 3000 }));
    let started = std::time::Instant::now();
    let run = f.run_with_timeout(
        "get_record",
        json!({ "table": "incident", "sys_id": "0123456789abcdef0123456789abcdef" }),
        "1s",
    );
    let elapsed = started.elapsed();
    assert_ne!(run.code, 0, "{run:#?}");
    assert!(
        elapsed < std::time::Duration::from_millis(2900),
        "the invocation's deadline bounds the request: {elapsed:?}"
    );
    // The host bounds the request by the remaining deadline, so either the request's timeout
    // reaches the pack first (a retryable `timeout` error) or the sandbox's deadline stops the
    // invocation (no result, the CLI names the deadline).
    match serde_json::from_str::<Value>(&run.stdout) {
        Ok(body) => {
            assert_eq!(body["error"]["code"], "timeout", "{run:#?}");
            assert_eq!(body["error"]["retryable"], true, "{run:#?}");
        }
        Err(_) => assert!(run.stderr.contains("deadline of 1s"), "{run:#?}"),
    }
}

#[test]
fn servicenow_create_retried_after_a_lost_answer_finds_its_record() {
    let f = Fixture::new();
    f.snow.faults(json!({ "drop_after_commit_next": 1 }));
    let input = json!({
        "table": "incident",
        "fields": { "short_description": "lost answer", "correlation_id": "step-42" }
    });
    // The instance stored the record but the answer never came: the host reports the closed
    // connection as unreachable, which is retryable.
    let error = f.error("create_record", input.clone());
    assert_eq!(error["code"], "unreachable", "{error:#}");
    assert_eq!(error["retryable"], true, "{error:#}");
    assert_eq!(f.snow.records("incident").len(), 1);

    // The same step again (same correlation id): the earlier record, not a second one.
    let out = f.output("create_record", input);
    assert_eq!(out["created"], false, "{out:#}");
    let stored = f.snow.records("incident");
    assert_eq!(stored.len(), 1, "{stored:#?}");
    assert_eq!(out["sys_id"], stored[0]["sys_id"]);
    assert_eq!(out["number"], stored[0]["number"]);
}

#[test]
fn servicenow_workflow_retries_a_503_and_a_lost_answer_into_one_record() {
    let f = Fixture::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let workflow = dir.path().join("ticket.yaml");
    std::fs::write(
        &workflow,
        r#"version: 1
description: Open one incident, retrying through an outage and a lost answer.
input:
  - instance
tasks:
  open:
    action: servicenow.create_record
    input:
      instance: <% ctx().instance %>
      credential: snow
      table: incident
      fields: { short_description: "drift on r1", urgency: 2 }
    retry: { count: 3, delay: 0.1 }
    next:
      - when: <% succeeded() %>
        publish:
          - number: <% result().number %>
          - created: <% result().created %>
output:
  - number: <% ctx().number %>
  - created: <% ctx().created %>
"#,
    )
    .expect("writing the workflow");
    // First attempt: 503 on the correlation lookup. Second: stored, answer dropped. Third: finds it.
    f.snow
        .faults(json!({ "fail_next": 1, "status": 503, "drop_after_commit_next": 1 }));
    let run = f.host.orch(&[
        "run",
        workflow.to_str().expect("utf-8 path"),
        "-i",
        &format!("instance={}", f.snow.url()),
        "--json",
    ]);
    f.assert_no_secret(&run);
    let body = run.json();
    assert_eq!(body["status"], "succeeded", "{run:#?}");
    let stored = f.snow.records("incident");
    assert_eq!(stored.len(), 1, "{stored:#?}");
    assert_eq!(body["output"]["number"], stored[0]["number"], "{body:#}");
    assert_eq!(body["output"]["created"], false, "{body:#}");
    let stats = f.snow.stats();
    assert_eq!(stats["faults_served"], 2, "{stats:#}");
    assert_eq!(stats["table"]["incident"]["POST"], 1, "{stats:#}");
}
