//! The closed loop of the product, end to end: `orch serve` with the example rules
//! (`rules/config-changed.yaml`) and workflows, a fakenos device whose configuration is changed out
//! of band, the syslog line the device sends about it (over UDP, as a device would), the drift run
//! the rule starts, its question answered through the HTTP API (an operator's token), the ServiceNow
//! stand-in's ticket and the new golden version; then the same message again within the throttle
//! window starts nothing and its event says "throttled".

use std::time::Duration;

use serde_json::{Value, json};

use crate::drift::{DRIFT_LINE, Lab};
use crate::harness::TestHost;
use crate::peers;
use crate::server::{Server, decided, example_rules, path_str, wait_for};

/// What a Cisco IOS device sends when someone leaves configuration mode (`logging host`,
/// default format: no host name, sequence number and uptime stamp first).
const CONFIG_I: &str = "<189>34: *Dec  1 10:00:00.123: %SYS-5-CONFIG_I: Configured from console by admin on vty0 (192.0.2.50)";

#[test]
fn a_config_change_logged_by_a_device_runs_drift_which_asks_tickets_and_stores_the_new_golden() {
    let lab = Lab::r1();
    // The inventory says where R1's tickets go and who their caller is.
    let mut inventory: Value =
        serde_json::from_str(&lab.fleet.inventory_yaml("lab", "lab-enable")).expect("json");
    inventory["devices"][0]["vars"] =
        json!({"servicenow_instance": lab.snow.url(), "config_user": "jdoe"});
    lab.import(&inventory.to_string());
    lab.baseline();
    let server = Server::start(
        &lab.host,
        &[
            "--rules",
            &path_str(&example_rules()),
            "--workflows",
            &path_str(&TestHost::examples()),
            "--syslog-udp",
            &format!("{}:0", peers::HOST),
            "--host-key-policy",
            "accept-new",
        ],
    );
    lab.drift_r1();
    server.syslog_udp(CONFIG_I);

    let first = wait_for(60, "the syslog event", || {
        let list = lab
            .orch(&["events", "list", "--type", "syslog", "--json"])
            .json();
        list.as_array().and_then(|l| l.first().cloned())
    });
    let e = decided(&lab.host, first["id"].as_i64().expect("id"));
    let d = e["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .find(|d| d["rule"] == "config-changed")
        .cloned()
        .unwrap_or_else(|| panic!("{e:#}"));
    assert_eq!(d["decision"], "fired", "{e:#}\n{}", server.stderr());
    assert_eq!(d["input"]["device"], "R1");
    let run = d["run"].as_str().expect("run").to_owned();
    let shown = lab.orch(&["runs", "show", &run, "--json"]).json();
    assert_eq!(
        shown["started_by"],
        format!("rule:config-changed event:{}", first["id"]),
        "{shown:#}"
    );
    // The drift is found: the run waits for a person.
    wait_for(120, "the drift run to ask", || {
        let show = lab.orch(&["runs", "show", &run, "--json"]).json();
        match show["status"].as_str() {
            Some("waiting") => Some(()),
            Some("failed" | "succeeded" | "canceled") => {
                panic!(
                    "the run ended without asking: {show:#}\n{}",
                    server.stderr()
                )
            }
            _ => None,
        }
    });
    // A person answers through the API, as the web console would, with an operator's token.
    let token = lab
        .orch(&["token", "create", "noc", "--role", "operator"])
        .ok()
        .trim()
        .to_owned();
    let (status, body) = server.request(
        "POST",
        &format!("/api/v1/runs/{run}/respond"),
        &[
            ("authorization", &format!("Bearer {token}")),
            ("content-type", "application/json"),
        ],
        json!({"task": "decide", "answer": {"keep": true}})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(status, 202, "{body}");
    let shown = wait_for(120, "the drift run to finish", || {
        let show = lab.orch(&["runs", "show", &run, "--json"]).json();
        matches!(
            show["status"].as_str(),
            Some("failed" | "succeeded" | "canceled")
        )
        .then_some(show)
    });
    assert_eq!(
        shown["status"],
        "succeeded",
        "{shown:#}\nfakenos log:\n{}\nserver:\n{}",
        lab.fleet.log(),
        server.stderr()
    );
    let out = shown["output"].clone();
    assert_eq!(out["action"], "keep", "{out:#}");
    let incidents = lab.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(out["ticket"], incidents[0]["number"]);
    assert_eq!(incidents[0]["caller_id"], "jdoe");
    assert!(
        incidents[0]["description"]
            .as_str()
            .is_some_and(|d| d.contains(DRIFT_LINE)),
        "{incidents:#?}"
    );
    assert_eq!(lab.history("R1/golden").len(), 2, "a new golden version");

    // The console's events page shows the event, the rule's decision and the run it fired.
    let form = format!("token={token}&next=/events");
    let (status, head, _) = crate::server::http_text(
        server.http,
        "POST",
        "/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    );
    assert_eq!(status, 303, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let (status, _, page) =
        crate::server::http_text(server.http, "GET", "/events", &[("cookie", &cookie)], b"");
    assert_eq!(status, 200);
    assert!(
        page.contains("config-changed")
            && page.contains("d-fired")
            && page.contains(&format!("href=\"/runs/{run}\"")),
        "{page}"
    );
    assert!(lab.record("R1/golden").contains(DRIFT_LINE));

    // The same line again within the window: nothing starts, and the event says why.
    let runs_before = lab
        .orch(&["runs", "list", "--json"])
        .json()
        .as_array()
        .map_or(0, Vec::len);
    server.syslog_udp(CONFIG_I);
    let second = wait_for(60, "the second syslog event", || {
        let list = lab
            .orch(&["events", "list", "--type", "syslog", "--json"])
            .json();
        list.as_array()
            .filter(|l| l.len() == 2)
            .and_then(|l| l.first().cloned())
    });
    let id = second["id"].as_i64().expect("id");
    decided(&lab.host, id);
    let shown = lab
        .orch(&["events", "show", &id.to_string()])
        .ok()
        .to_owned();
    assert!(shown.contains("config-changed: throttled"), "{shown}");
    assert!(
        shown.contains("[\"R1\"]") && shown.contains("may fire again"),
        "{shown}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let runs_after = lab
        .orch(&["runs", "list", "--json"])
        .json()
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(
        runs_after, runs_before,
        "the throttled event started nothing"
    );
    assert_eq!(lab.incidents().len(), 1);
    // The answered run's end reached the server as a run event.
    wait_for(30, "the drift run's event", || {
        let list = lab
            .orch(&["events", "list", "--type", "run", "--json"])
            .json();
        list.as_array()?
            .iter()
            .find(|e| e["payload"]["run"] == run.as_str())
            .cloned()
    });
    let stopped = server.stop("-TERM");
    assert_eq!(stopped.code, 0, "{stopped:#?}");
    lab.checked(stopped);
}
