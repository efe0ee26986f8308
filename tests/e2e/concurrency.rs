//! How many pack instances one process runs at once (`--max-instances`/`ORCH_MAX_INSTANCES`):
//! a workflow's fan-out of actions that wait on the network is bounded by the setting, and
//! nothing else, so a host driving many devices can raise it; bad values are refused by name.

use crate::harness::TestHost;
use crate::http_peer::Peer;

/// Six `broker.http_request`s to the peer's `/slow` at once (each answered after 400 ms).
const FAN_OUT: &str = "input: [urls]\n\
tasks:\n\
\x20 fetch:\n\
\x20   with:\n\
\x20     items: <% ctx().urls %>\n\
\x20   action: broker.http_request\n\
\x20   input: { url: <% item() %> }\n";

/// Runs the fan-out against a fresh peer with the instance limit `limit`, given in
/// `ORCH_MAX_INSTANCES` when `by_env`, else as `--max-instances`; the most requests the peer was
/// answering at once.
fn most_at_once(host: &TestHost, workflow: &str, limit: &str, by_env: bool) -> usize {
    let peer = Peer::start();
    peer.grant_to(host, "broker");
    let urls: Vec<String> = (0..6)
        .map(|i| peer.url(&format!("/slow?ms=400&n={i}")))
        .collect();
    let input = format!("urls={}", serde_json::to_string(&urls).expect("json"));
    let run = if by_env {
        host.orch_env_stdin(
            &["run", workflow, "-i", &input, "--json"],
            &[("ORCH_MAX_INSTANCES", limit)],
            "",
        )
    } else {
        host.orch(&[
            "--max-instances",
            limit,
            "run",
            workflow,
            "-i",
            &input,
            "--json",
        ])
    };
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json()["status"], "succeeded", "{run:#?}");
    assert_eq!(peer.hits().len(), 6, "every item fetched once");
    peer.most_slow_at_once()
}

#[test]
fn a_fan_out_runs_as_many_instances_at_once_as_the_setting_allows() {
    let host = TestHost::with_packs(&["broker"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let workflow = dir.path().join("fan-out.yaml");
    std::fs::write(&workflow, FAN_OUT).expect("writing the workflow");
    let workflow = workflow.to_str().expect("utf-8 path");

    assert_eq!(
        most_at_once(&host, workflow, "2", true),
        2,
        "ORCH_MAX_INSTANCES=2"
    );
    assert_eq!(
        most_at_once(&host, workflow, "1", false),
        1,
        "--max-instances 1"
    );
    let raised = most_at_once(&host, workflow, "6", false);
    assert!(
        raised > 2,
        "--max-instances 6 let only {raised} run at once"
    );
}

#[test]
fn a_bad_instance_limit_is_refused_naming_the_setting() {
    let host = TestHost::new();
    for bad in ["0", "20001", "many"] {
        let err = host
            .orch(&["--max-instances", bad, "pack", "list"])
            .fails_with(2)
            .to_owned();
        assert!(err.contains("--max-instances"), "{bad}: {err}");
    }
    let err = host
        .orch_env_stdin(&["pack", "list"], &[("ORCH_MAX_INSTANCES", "0")], "")
        .fails_with(2)
        .to_owned();
    assert!(
        err.contains("1..=20000") || err.contains("--max-instances"),
        "{err}"
    );
}
