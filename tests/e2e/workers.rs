//! `orch worker` on a PostgreSQL store: workers share queued runs, a run whose worker is killed
//! is finished by another without re-running what had finished, and `orch run --queue --wait`
//! follows a run a worker drives.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Background, TestHost};

/// Three steps; the middle one waits long enough to kill its worker in it.
const STEPS: &str = "\
version: 1.0
input:
  - pause
tasks:
  first:
    action: core.echo
    input: {message: one}
    next:
      - do: middle
  middle:
    action: core.sleep
    input:
      seconds: <% ctx(pause) %>
    next:
      - do: last
  last:
    action: core.echo
    input: {message: three}
output:
  - done: true
";

fn workflow(host: &TestHost) -> String {
    let path = host.home().join("steps.yaml");
    std::fs::write(&path, STEPS).expect("writing the workflow");
    path.display().to_string()
}

fn worker(host: &TestHost, tags: &str) -> Background {
    host.spawn(&[
        "worker",
        "--concurrency",
        "4",
        "--poll",
        "0.2",
        "--tags",
        tags,
    ])
}

fn queue(host: &TestHost, path: &str, pause: f64) -> String {
    let pause = format!("pause={pause}");
    host.orch(&["run", path, "-i", &pause, "--queue"])
        .ok()
        .trim()
        .to_owned()
}

/// Queues a run of `path` that only a worker with the tags `placement` may take: its id.
fn queue_placed(host: &TestHost, path: &str, placement: &str) -> String {
    host.orch(&[
        "run",
        path,
        "-i",
        "pause=0",
        "--queue",
        "--placement",
        placement,
    ])
    .ok()
    .trim()
    .to_owned()
}

fn show(host: &TestHost, id: &str) -> Value {
    host.orch(&["runs", "show", id, "--json"]).json()
}

/// Waits until `done` holds of run `id`'s `runs show --json`, or panics after `limit`.
#[track_caller]
fn wait_for(host: &TestHost, id: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let shown = show(host, id);
        if done(&shown) {
            return shown;
        }
        assert!(
            start.elapsed() < limit,
            "run {id} after {limit:?}: {shown:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// How many times each task's attempts were started, by task.
fn starts(shown: &Value) -> Vec<(String, i64)> {
    let mut starts: Vec<(String, i64)> = shown["tasks"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .flat_map(|t| {
            t["attempts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |a| {
                    (
                        t["task"].as_str().unwrap_or_default().to_owned(),
                        a["starts"].as_i64().unwrap_or(0),
                    )
                })
        })
        .collect();
    starts.sort();
    starts
}

#[test]
fn two_workers_share_queued_runs_and_list_themselves() {
    let Some(host) = TestHost::on_postgres() else {
        return;
    };
    let path = workflow(&host);
    let ids: Vec<String> = (0..6).map(|_| queue(&host, &path, 0.6)).collect();
    let first = worker(&host, "site=lon");
    let second = worker(&host, "site=par,zone=dmz");
    // Both register and list themselves with their tags while the runs go.
    let start = Instant::now();
    let listed = loop {
        let listed = host.orch(&["workers", "list", "--json"]).json();
        if listed.as_array().is_some_and(|w| w.len() == 2) {
            break listed;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "workers: {listed:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let tags: Vec<Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["tags"].clone())
        .collect();
    assert!(
        tags.contains(&serde_json::json!({"site": "par", "zone": "dmz"})),
        "{listed:#}"
    );
    let mut drivers = std::collections::BTreeSet::new();
    for id in &ids {
        let shown = wait_for(&host, id, Duration::from_secs(60), |s| {
            s["status"] == "succeeded"
        });
        drivers.insert(shown["owner"]["pid"].as_i64().expect("an owner pid"));
        assert_eq!(
            starts(&shown),
            vec![
                ("first".to_owned(), 1),
                ("last".to_owned(), 1),
                ("middle".to_owned(), 1)
            ],
            "{shown:#}"
        );
    }
    let pids: std::collections::BTreeSet<i64> = [first.id(), second.id()]
        .iter()
        .map(|p| i64::from(*p))
        .collect();
    assert_eq!(drivers, pids, "each worker drove some of the six runs");
    // SIGTERM drains a worker: it leaves the list.
    first.signal("-TERM");
    let out = first.wait();
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(out.stderr.contains("runs driven"), "{out:#?}");
    let listed = host.orch(&["workers", "list", "--json"]).json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed:#}");
    drop(second);
}

#[test]
fn a_run_whose_worker_is_killed_is_finished_by_another_without_rerunning_finished_steps() {
    let Some(host) = TestHost::on_postgres() else {
        return;
    };
    let path = workflow(&host);
    let doomed = worker(&host, "");
    let id = queue(&host, &path, 3.0);
    // Killed while it waits in `middle`, after `first` finished.
    wait_for(&host, &id, Duration::from_secs(30), |s| {
        starts(s).iter().any(|(task, _)| task == "middle")
    });
    doomed.signal("-KILL");
    drop(doomed);
    let rescuer = worker(&host, "");
    let shown = wait_for(&host, &id, Duration::from_secs(60), |s| {
        s["status"] == "succeeded"
    });
    assert_eq!(
        shown["owner"]["pid"].as_i64(),
        Some(i64::from(rescuer.id())),
        "{shown:#}"
    );
    let counted = starts(&shown);
    assert!(
        counted.contains(&("first".to_owned(), 1)) && counted.contains(&("last".to_owned(), 1)),
        "a finished step ran again, or one never ran: {counted:?}"
    );
}

#[test]
fn a_queued_run_is_followed_to_its_end_with_wait() {
    let Some(host) = TestHost::on_postgres() else {
        return;
    };
    let path = workflow(&host);
    let _worker = worker(&host, "");
    let out = host.orch(&[
        "run",
        &path,
        "-i",
        "pause=0.1",
        "--queue",
        "--wait",
        "--json",
    ]);
    let result = out.json();
    assert_eq!(result["status"], "succeeded", "{out:#?}");
    assert_eq!(
        result["output"],
        serde_json::json!({"done": true}),
        "{out:#?}"
    );
}

#[test]
fn orch_run_on_a_shared_store_goes_to_a_live_worker_and_is_followed_unless_here() {
    let Some(host) = TestHost::on_postgres() else {
        return;
    };
    let path = workflow(&host);
    let driver = |run: &Value| {
        let id = run["run"].as_str().expect("a run id");
        host.sql(&format!("SELECT owner_pid FROM runs WHERE id = '{id}'"))
            .unwrap_or_default()
    };
    // No worker: the run is driven by `orch run` itself, as on SQLite.
    let alone = host.orch(&["run", &path, "-i", "pause=0", "--json"]).json();
    assert_eq!(alone["status"], "succeeded", "{alone:#}");

    let worker = worker(&host, "");
    let start = Instant::now();
    while host.sql_count("SELECT count(*) FROM workers") == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the worker never registered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let worker_pid = worker.id().to_string();
    assert_ne!(driver(&alone), worker_pid);

    // A live worker: queued for it, followed, and printed as a run driven here would be.
    let out = host.orch(&["run", &path, "-i", "pause=0.1", "--json"]);
    let queued = out.json();
    assert_eq!(queued["status"], "succeeded", "{out:#?}");
    assert_eq!(
        queued["output"],
        serde_json::json!({"done": true}),
        "{out:#?}"
    );
    assert_eq!(driver(&queued), worker_pid, "the worker drove it");

    // --here drives it in this process all the same.
    let here = host
        .orch(&["run", &path, "-i", "pause=0", "--here", "--json"])
        .json();
    assert_eq!(here["status"], "succeeded", "{here:#}");
    assert_ne!(driver(&here), worker_pid, "--here was driven by the worker");
}

const FLEET: &str = "\
version: 1
input:
  - devices
tasks:
  each:
    with:
      items: d in <% ctx(devices) %>
      concurrency: 40
    action: device
    input:
      name: <% item(d).name %>
    placement:
      site: <% item(d).site %>
output:
  - backed_up: <% ctx(devices).len() %>
";

const DEVICE: &str = "\
version: 1
input:
  - name
tasks:
  back_up:
    action: core.sleep
    input:
      seconds: 1
output:
  - name: <% ctx(name) %>
";

/// Each child run of `root`: id, status, the pid that drove it, its placement.
fn children(host: &TestHost, root: &str) -> Vec<Vec<String>> {
    host.sql_rows(&format!(
        "SELECT id, status, owner_pid, placement FROM runs WHERE parent_run = '{root}' ORDER BY id"
    ))
}

#[test]
fn workers_share_a_fan_out_of_sub_workflows_by_site_and_finish_a_killed_workers_share() {
    let Some(host) = TestHost::on_postgres() else {
        return;
    };
    let dir = host.home().join("fleet");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("fleet.yaml"), FLEET).unwrap();
    std::fs::write(dir.join("device.yaml"), DEVICE).unwrap();
    let devices: Vec<Value> = (0..30)
        .map(|i| {
            let site = if i % 3 == 0 { "par" } else { "lon" };
            serde_json::json!({"name": format!("r{i}"), "site": site})
        })
        .collect();
    let input = format!("devices={}", Value::Array(devices));
    let spawn = |tags: &str| {
        host.spawn(&[
            "worker",
            "--concurrency",
            "4",
            "--poll",
            "0.2",
            "--tags",
            tags,
        ])
    };
    let doomed = spawn("site=lon");
    let lon = spawn("site=lon");
    let par = spawn("site=par");
    let dir_arg = dir.display().to_string();
    let root = host
        .orch(&[
            "run",
            "--workflows",
            &dir_arg,
            "fleet",
            "-i",
            &input,
            "--queue",
        ])
        .ok()
        .trim()
        .to_owned();

    // Kill one worker once it has driven some of the devices to their end.
    let doomed_pid = doomed.id().to_string();
    let start = Instant::now();
    while !children(&host, &root)
        .iter()
        .any(|c| c[1] == "succeeded" && c[2] == doomed_pid)
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the first worker never finished a device: {:?}",
            children(&host, &root)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    doomed.signal("-KILL");
    drop(doomed);

    let shown = wait_for(&host, &root, Duration::from_secs(120), |s| {
        s["status"] != "running" && s["status"] != "queued"
    });
    assert_eq!(shown["status"], "succeeded", "{shown:#}");
    assert_eq!(shown["output"], serde_json::json!({"backed_up": 30}));
    let all = children(&host, &root);
    assert_eq!(
        all.len(),
        30,
        "one child run per device, none twice: {all:?}"
    );
    let (lon_pid, par_pid) = (lon.id().to_string(), par.id().to_string());
    let mut drivers = std::collections::BTreeSet::new();
    for child in &all {
        assert_eq!(child[1], "succeeded", "{child:?}");
        drivers.insert(child[2].clone());
        // Placement: a device of site par was driven by the par worker only, lon by lon ones.
        if child[3].contains("par") {
            assert_eq!(child[2], par_pid, "{child:?}");
        } else {
            assert_ne!(child[2], par_pid, "{child:?}");
        }
        // Exactly once: the step finished once, however many workers touched the run.
        let finished = host.sql_count(&format!(
            "SELECT count(*) FROM attempts WHERE run_id = '{}' AND finished_at IS NOT NULL",
            child[0]
        ));
        assert_eq!(finished, 1, "{child:?}");
    }
    assert!(
        drivers.contains(&doomed_pid) && drivers.contains(&lon_pid) && drivers.contains(&par_pid),
        "every worker drove some devices: {drivers:?} (killed {doomed_pid}, lon {lon_pid}, par {par_pid})"
    );
}

#[test]
fn a_run_placed_where_no_worker_is_waits_and_says_so() {
    let Some(host) = TestHost::on_postgres() else {
        return;
    };
    let path = workflow(&host);
    let _worker = worker(&host, "site=lon");
    let id = queue_placed(&host, &path, "site=par");
    std::thread::sleep(Duration::from_secs(2));
    let shown = show(&host, &id);
    assert_eq!(shown["status"], "queued", "{shown:#}");
    assert!(
        shown["reason"]
            .as_str()
            .is_some_and(|r| r.contains("site=par")),
        "{shown:#}"
    );
    // A queued run nobody took can be canceled: it never runs.
    let doomed = queue_placed(&host, &path, "site=par");
    let canceled = host.orch(&["runs", "cancel", &doomed, "--json"]);
    assert_eq!(canceled.json()["status"], "canceled", "{canceled:#?}");
    // A worker of that site takes the other.
    let _par = worker(&host, "site=par");
    wait_for(&host, &id, Duration::from_secs(30), |s| {
        s["status"] == "succeeded"
    });
    assert_eq!(show(&host, &doomed)["status"], "canceled");
    assert!(
        starts(&show(&host, &doomed)).is_empty(),
        "a canceled queued run never ran"
    );
}

#[test]
fn orch_serve_on_postgres_also_takes_queued_runs_unless_told_not_to() {
    let Some(host) = TestHost::on_postgres() else {
        return;
    };
    let path = workflow(&host);
    let rules = crate::server::rules_dir(&[]);
    let rules_arg = rules.path().display().to_string();
    let server = crate::server::Server::start(&host, &["--rules", &rules_arg]);
    let id = queue(&host, &path, 0.1);
    let shown = wait_for(&host, &id, Duration::from_secs(30), |s| {
        s["status"] == "succeeded"
    });
    assert_eq!(
        shown["owner"]["pid"].as_i64(),
        Some(i64::from(server.pid())),
        "{shown:#}"
    );
    drop(server);

    let quiet = crate::server::Server::start(&host, &["--rules", &rules_arg, "--no-worker"]);
    let id = queue(&host, &path, 0.1);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(show(&host, &id)["status"], "queued");
    drop(quiet);
}
