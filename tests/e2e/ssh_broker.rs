//! The `ssh` import and `orch hostkey` end to end: the `broker` guest's `ssh_exec`, `ssh_shell`
//! and `sftp_*` actions run by the real `orch` binary against a real OpenSSH `sshd` and a real
//! fakenos Cisco IOS device ([`crate::peers`]). Host keys (strict, accept-new, changed), login
//! failures, the command timeout, grants and credential bindings; after every test that used a
//! secret, the secret is nowhere under ORCH_HOME (WAL included) nor in any output.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Run, TestHost, assert_no_leak};
use crate::peers::{self, Fakenos};

/// A host with the broker pack, the sshd's key trusted, its address granted and the client key
/// stored as credential `key`.
fn sshd_host() -> TestHost {
    let sshd = peers::sshd();
    let host = TestHost::with_packs(&["broker"]);
    host.orch(&["hostkey", "trust", &sshd.address(), "--key", &sshd.host_key])
        .ok();
    grant(&host, &format!("ssh:{}", sshd.address()));
    key_secret(&host, "key", &sshd.address());
    host
}

fn grant(host: &TestHost, grant: &str) {
    host.orch(&["pack", "grant", "broker", grant]).ok();
}

/// Stores the sshd's client key as `ssh-key` credential `name` bound to `bind`.
fn key_secret(host: &TestHost, name: &str, bind: &str) -> Run {
    let sshd = peers::sshd();
    let run = host.orch_with_stdin(
        &[
            "secret",
            "set",
            name,
            "--kind",
            "ssh-key",
            "--username",
            &sshd.user,
            "--bind",
            bind,
            "--from-stdin",
        ],
        &sshd.client_key,
    );
    run.ok();
    run
}

fn password_secret(host: &TestHost, name: &str, user: &str, bind: &str, password: &str) -> Run {
    let run = host.orch_with_stdin(
        &[
            "secret",
            "set",
            name,
            "--kind",
            "ssh-password",
            "--username",
            user,
            "--bind",
            bind,
            "--from-stdin",
        ],
        password,
    );
    run.ok();
    run
}

fn action(host: &TestHost, name: &str, input: &Value, policy: &str) -> Run {
    let input = input.to_string();
    host.orch(&[
        "action",
        "run",
        &format!("broker.{name}"),
        "--input",
        &input,
        "--json",
        "--host-key-policy",
        policy,
    ])
}

/// `uname` on the shared sshd with credential `key`.
fn uname(host: &TestHost, policy: &str) -> Run {
    let sshd = peers::sshd();
    action(
        host,
        "ssh_exec",
        &json!({ "host": "127.0.0.1", "port": sshd.port, "credential": "key", "command": "uname" }),
        policy,
    )
}

#[track_caller]
fn assert_fails(run: &Run, code: &str, needles: &[&str]) -> String {
    let (got, message) = run.action_error();
    assert_eq!(got, code, "{message}");
    for needle in needles {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }
    message
}

#[test]
fn ssh_runs_uname_on_the_local_sshd_with_a_key_credential() {
    let host = sshd_host();
    let run = uname(&host, "strict");
    let out = run.output();
    assert_eq!(out["stdout"], "Linux\n", "{out}");
    assert_eq!(out["exit_status"], 0);
    let failing = action(
        &host,
        "ssh_exec",
        &json!({ "host": "127.0.0.1", "port": peers::sshd().port, "credential": "key",
                 "command": "echo oops >&2; exit 3" }),
        "strict",
    );
    let out = failing.output();
    assert_eq!(out["stderr"], "oops\n");
    assert_eq!(out["exit_status"], 3);
    assert_no_leak(&host, &peers::sshd().client_key, &[&run, &failing]);
}

#[test]
fn ssh_reads_the_running_config_from_fakenos_through_a_shell() {
    let device = peers::fakenos();
    let host = TestHost::with_packs(&["broker"]);
    host.orch(&[
        "hostkey",
        "trust",
        &device.address(),
        "--key",
        &device.host_key,
    ])
    .ok();
    grant(&host, &format!("ssh:{}", device.address()));
    let login = password_secret(
        &host,
        "r1",
        &device.username,
        &device.address(),
        &device.password,
    );
    let enable = password_secret(
        &host,
        "r1-enable",
        &device.username,
        &device.address(),
        &device.enable_password,
    );
    let run = action(
        &host,
        "ssh_shell",
        &json!({
            "host": "127.0.0.1",
            "port": device.port,
            "credential": "r1",
            "prompt": r"R1[>#]\s*$",
            "enable": {
                "credential": "r1-enable",
                "prompt": r"R1#\s*$",
            },
            "commands": ["terminal length 0", "show running-config"],
        }),
        "strict",
    );
    let out = run.output();
    let config = out["outputs"][1].as_str().unwrap_or_default();
    assert!(config.contains("hostname R1"), "{out}");
    assert!(config.trim_end().ends_with("end"), "{config}");
    assert!(
        out["transcript"]
            .as_str()
            .unwrap_or_default()
            .contains(Fakenos::ENABLE_PROMPT)
    );
    for secret in [&device.password, &device.enable_password] {
        assert_no_leak(&host, secret, &[&login, &enable, &run]);
    }
}

#[test]
fn ssh_copies_a_file_by_sftp() {
    let sshd = peers::sshd();
    let host = sshd_host();
    let dir = sshd.scratch.join(format!("copy-{}", peers::random_hex(4)));
    std::fs::create_dir(&dir).expect("creating a scratch subdirectory");
    let from = dir.join("from.txt");
    let to = dir.join("to.txt");
    let content = "interface Gi0/1\n description uplink\n";
    let target = |extra: Value| {
        let mut input = json!({ "host": "127.0.0.1", "port": sshd.port, "credential": "key" });
        if let (Some(input), Value::Object(extra)) = (input.as_object_mut(), extra) {
            input.extend(extra);
        }
        input
    };
    let put = action(
        &host,
        "sftp_put",
        &target(json!({ "path": from, "content": content })),
        "strict",
    );
    assert_eq!(put.output()["bytes"], content.len());
    assert_eq!(
        std::fs::read_to_string(&from).expect("the put file"),
        content
    );
    let copy = action(
        &host,
        "sftp_copy",
        &target(json!({ "from": from, "to": to })),
        "strict",
    );
    assert_eq!(copy.output()["bytes"], content.len());
    let get = action(&host, "sftp_get", &target(json!({ "path": to })), "strict");
    assert_eq!(get.output()["content"], content);
    assert_eq!(std::fs::read(&to).expect("the copy"), content.as_bytes());
    let missing = action(
        &host,
        "sftp_get",
        &target(json!({ "path": dir.join("missing.txt") })),
        "strict",
    );
    assert_fails(&missing, "not_found", &["missing.txt"]);
    assert_no_leak(&host, &sshd.client_key, &[&put, &copy, &get, &missing]);
}

#[test]
fn ssh_refuses_an_unknown_host_key_under_strict_until_the_operator_trusts_it() {
    let sshd = peers::sshd();
    let host = TestHost::with_packs(&["broker"]);
    grant(&host, &format!("ssh:{}", sshd.address()));
    key_secret(&host, "key", &sshd.address());
    let refused = uname(&host, "strict");
    assert_fails(
        &refused,
        "host_key",
        &[
            "unknown host key",
            &sshd.host_key_fingerprint,
            &format!(
                "orch hostkey trust {} --fingerprint {}",
                sshd.address(),
                sshd.host_key_fingerprint
            ),
        ],
    );
    assert!(
        host.orch(&["hostkey", "list", "--json"]).json() == json!([]),
        "strict recorded a key"
    );

    // Without a decision and without a terminal, nothing is recorded.
    let undecided = host.orch(&["hostkey", "trust", &sshd.address()]);
    let message = undecided.fails_with(2);
    assert!(message.contains(&sshd.host_key_fingerprint), "{message}");
    assert!(message.contains("--fingerprint"), "{message}");
    // A fingerprint that does not match is refused, showing both.
    let other = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let wrong = host.orch(&["hostkey", "trust", &sshd.address(), "--fingerprint", other]);
    let message = wrong.fails_with(2);
    assert!(
        message.contains(other) && message.contains(&sshd.host_key_fingerprint),
        "{message}"
    );
    assert_eq!(host.orch(&["hostkey", "list", "--json"]).json(), json!([]));

    let trusted = host.orch(&[
        "hostkey",
        "trust",
        &sshd.address(),
        "--fingerprint",
        &sshd.host_key_fingerprint,
    ]);
    assert!(trusted.ok().contains(&sshd.host_key_fingerprint));
    let run = uname(&host, "strict");
    assert_eq!(run.output()["stdout"], "Linux\n");
    let listed = host.orch(&["hostkey", "list"]);
    assert!(
        listed.ok().contains(&sshd.host_key_fingerprint)
            && listed.stdout.contains("orch hostkey trust --fingerprint"),
        "{listed:#?}"
    );
    assert_no_leak(&host, &sshd.client_key, &[&refused, &run]);
}

#[test]
fn ssh_records_an_unknown_host_key_under_accept_new() {
    let sshd = peers::sshd();
    let host = TestHost::with_packs(&["broker"]);
    grant(&host, &format!("ssh:{}", sshd.address()));
    key_secret(&host, "key", &sshd.address());
    let run = uname(&host, "accept-new");
    assert_eq!(run.output()["stdout"], "Linux\n");
    let keys = host.orch(&["hostkey", "list", "--json"]).json();
    assert_eq!(keys.as_array().map(Vec::len), Some(1), "{keys}");
    assert_eq!(keys[0]["host"], "127.0.0.1");
    assert_eq!(keys[0]["port"], sshd.port);
    assert_eq!(keys[0]["fingerprint"], sshd.host_key_fingerprint.as_str());
    assert_eq!(keys[0]["added_by"], "accept-new (pack broker)");
    // Recorded: strict accepts it from now on.
    assert_eq!((uname(&host, "strict")).output()["stdout"], "Linux\n");
    assert_no_leak(&host, &sshd.client_key, &[&run]);
}

#[test]
fn ssh_refuses_a_changed_host_key_under_every_policy_showing_both_fingerprints() {
    let sshd = peers::sshd();
    let host = TestHost::with_packs(&["broker"]);
    grant(&host, &format!("ssh:{}", sshd.address()));
    key_secret(&host, "key", &sshd.address());
    // Another server's key recorded for this address: what a changed key looks like.
    let old = peers::fakenos();
    host.orch(&["hostkey", "trust", &sshd.address(), "--key", &old.host_key])
        .ok();
    let mut runs = Vec::new();
    for policy in ["strict", "accept-new"] {
        let run = uname(&host, policy);
        assert_fails(
            &run,
            "host_key",
            &[
                &format!("the host key of {} changed", sshd.address()),
                &old.host_key_fingerprint,
                &sshd.host_key_fingerprint,
                &format!("orch hostkey forget {}", sshd.address()),
            ],
        );
        runs.push(run);
    }
    let keys = host.orch(&["hostkey", "list", "--json"]).json();
    assert_eq!(
        keys.as_array().map(Vec::len),
        Some(1),
        "accept-new added a key: {keys}"
    );
    let forgot = host.orch(&["hostkey", "forget", &sshd.address()]);
    forgot.ok();
    host.orch(&["hostkey", "forget", &sshd.address()])
        .fails_with(2);
    assert_eq!((uname(&host, "accept-new")).output()["stdout"], "Linux\n");
    assert_no_leak(&host, &sshd.client_key, &runs.iter().collect::<Vec<_>>());
}

#[test]
fn ssh_reports_a_wrong_password_as_auth_failed() {
    let device = peers::fakenos();
    let host = TestHost::with_packs(&["broker"]);
    host.orch(&[
        "hostkey",
        "trust",
        &device.address(),
        "--key",
        &device.host_key,
    ])
    .ok();
    grant(&host, &format!("ssh:{}", device.address()));
    let wrong = format!("wrong-{}", peers::random_hex(8));
    let set = password_secret(&host, "r1", &device.username, &device.address(), &wrong);
    let run = action(
        &host,
        "ssh_shell",
        &json!({ "host": "127.0.0.1", "port": device.port, "credential": "r1",
                 "prompt": r"R1[>#]\s*$", "commands": [] }),
        "strict",
    );
    assert_fails(
        &run,
        "auth_failed",
        &[
            &format!("{}@{}", device.username, device.address()),
            "\"r1\"",
        ],
    );
    assert_no_leak(&host, &wrong, &[&set, &run]);

    // The same against OpenSSH with password authentication (needs root to start).
    if let Some(sshd) = peers::sshd_password() {
        host.orch(&["hostkey", "trust", &sshd.address(), "--key", &sshd.host_key])
            .ok();
        grant(&host, &format!("ssh:{}", sshd.address()));
        password_secret(&host, "pw", &sshd.user, &sshd.address(), &wrong);
        let exec = |credential: &str| {
            action(
                &host,
                "ssh_exec",
                &json!({ "host": "127.0.0.1", "port": sshd.port, "credential": credential,
                         "command": "id -un" }),
                "strict",
            )
        };
        let refused = exec("pw");
        assert_fails(&refused, "auth_failed", &[&sshd.user]);
        password_secret(&host, "pw-ok", &sshd.user, &sshd.address(), &sshd.password);
        let run = exec("pw-ok");
        assert_eq!(run.output()["stdout"], format!("{}\n", sshd.user));
        assert_no_leak(&host, &sshd.password, &[&refused, &run]);
    }
}

#[test]
fn ssh_times_out_a_command_that_never_returns() {
    let sshd = peers::sshd();
    let host = sshd_host();
    let started = Instant::now();
    let run = action(
        &host,
        "ssh_exec",
        &json!({ "host": "127.0.0.1", "port": sshd.port, "credential": "key",
                 "command": "sleep 600", "timeout_ms": 500 }),
        "strict",
    );
    let elapsed = started.elapsed();
    assert_fails(&run, "timeout", &["did not finish within 500 ms"]);
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    assert_no_leak(&host, &sshd.client_key, &[&run]);
}

#[test]
fn ssh_denies_ungranted_destinations_and_credentials_bound_elsewhere() {
    let sshd = peers::sshd();
    let host = TestHost::with_packs(&["broker"]);
    host.orch(&["hostkey", "trust", &sshd.address(), "--key", &sshd.host_key])
        .ok();
    key_secret(&host, "key", &sshd.address());

    let no_grant = uname(&host, "strict");
    assert_fails(
        &no_grant,
        "denied",
        &["holds no ssh grant", "orch pack grant broker ssh:"],
    );

    grant(&host, "ssh:127.0.0.1:1");
    let elsewhere = uname(&host, "strict");
    assert_fails(
        &elsewhere,
        "denied",
        &[&format!("orch pack grant broker ssh:{}", sshd.address())],
    );

    grant(&host, &format!("ssh:{}", sshd.address()));
    key_secret(&host, "other", "10.9.9.9:22");
    let bound = action(
        &host,
        "ssh_exec",
        &json!({ "host": "127.0.0.1", "port": sshd.port, "credential": "other",
                 "command": "uname" }),
        "strict",
    );
    assert_fails(&bound, "denied", &["bound to 10.9.9.9:22"]);

    // A granted name that resolves to loopback is not a grant of loopback.
    let named = TestHost::with_packs(&["broker"]);
    grant(&named, "ssh:localhost");
    key_secret(&named, "local", "localhost");
    let by_name = action(
        &named,
        "ssh_exec",
        &json!({ "host": "localhost", "port": sshd.port, "credential": "local",
                 "command": "uname" }),
        "strict",
    );
    assert_fails(&by_name, "denied", &["loopback"]);
    assert_no_leak(&named, &sshd.client_key, &[&by_name]);
    // Without a credential there is nothing to log in with.
    let none = action(
        &host,
        "ssh_exec",
        &json!({ "host": "127.0.0.1", "port": sshd.port, "command": "uname" }),
        "strict",
    );
    assert_fails(&none, "invalid", &["needs a credential"]);
    assert_no_leak(
        &host,
        &sshd.client_key,
        &[&no_grant, &elsewhere, &bound, &none],
    );
}

#[test]
fn ssh_reaches_an_inventory_device_by_name_only_with_the_inventory_grant() {
    let sshd = peers::sshd();
    let host = TestHost::with_packs(&["broker"]);
    host.orch(&["hostkey", "trust", &sshd.address(), "--key", &sshd.host_key])
        .ok();
    key_secret(&host, "lab-key", "127.0.0.1");
    let inventory = host.home().join("inventory.yaml");
    std::fs::write(
        &inventory,
        format!(
            "devices:\n  - {{name: box1, address: 127.0.0.1, port: {}, platform: linux, credential: lab-key}}\n  - {{name: nocred, address: 127.0.0.1, port: {}, platform: linux}}\n",
            sshd.port, sshd.port
        ),
    )
    .expect("writing the inventory");
    host.orch(&["inventory", "import", inventory.to_str().expect("utf-8")])
        .ok();
    let by_name = |device: &str| {
        action(
            &host,
            "ssh_exec",
            &json!({ "inventory": device, "command": "uname" }),
            "strict",
        )
    };

    // An address grant for the very same sshd does not open inventory names.
    grant(&host, &format!("ssh:{}", sshd.address()));
    let denied = by_name("box1");
    assert_fails(
        &denied,
        "denied",
        &["ssh:inventory", "orch pack grant broker ssh:inventory"],
    );

    host.orch(&["pack", "revoke", "broker", "--all"]).ok();
    grant(&host, "ssh:inventory");
    let ran = by_name("box1");
    assert_eq!(
        ran.output()["stdout"].as_str().map(str::trim),
        Some("Linux")
    );
    assert_fails(&by_name("nope"), "not_found", &["no device named \"nope\""]);
    assert_fails(&by_name("nocred"), "invalid", &["names no credential"]);
    assert_no_leak(&host, &sshd.client_key, &[&denied, &ran]);
}

#[test]
fn ssh_sessions_a_pack_leaves_open_are_closed_when_the_invocation_ends() {
    // A dedicated sshd, so its log holds this test's connection only.
    let sshd = peers::Sshd::start();
    let host = TestHost::with_packs(&["broker"]);
    host.orch(&["hostkey", "trust", &sshd.address(), "--key", &sshd.host_key])
        .ok();
    grant(&host, &format!("ssh:{}", sshd.address()));
    host.orch_with_stdin(
        &[
            "secret",
            "set",
            "own-key",
            "--kind",
            "ssh-key",
            "--username",
            &sshd.user,
            "--bind",
            &sshd.address(),
            "--from-stdin",
        ],
        &sshd.client_key,
    )
    .ok();

    // In this process (the library, as `orch run` drives it), so the process outlives the
    // invocation: the connection may only end because the host closed it.
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let home = host.orch_home();
    let store = home.open_store().expect("store");
    let runtime = orch::runtime::Runtime::new(256 << 20).expect("runtime");
    let packs = orch::packs::Packs::new(&home, &store, &runtime);
    let pack = packs.load("broker").expect("load");
    let broker = orch::capabilities::Broker::open(&home, Default::default()).expect("broker");
    let lent = broker.context_for("broker").expect("grants");
    let call = orch::contract::CallContext {
        run_id: String::new(),
        task: "leak".into(),
        attempt: 1,
        idempotency_key: "leak".into(),
    };
    let input = json!({
        "host": "127.0.0.1", "port": sshd.port, "credential": "own-key", "command": "echo hi"
    })
    .to_string();
    tokio.block_on(async {
        let invocation = runtime
            .invoke(
                &pack.prepared,
                "ssh_leak",
                &input,
                &call,
                &orch::runtime::Limits::default(),
                &lent,
            )
            .await
            .expect("invoke");
        let output = invocation.result.expect("ssh_leak succeeded");
        assert!(output.contains(r#""stdout":"hi\n""#), "{output}");
        // The guest never dropped its session; the host must close it now that the call is over.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !sshd.log().contains("Disconnected from") {
            assert!(
                Instant::now() < deadline,
                "the leaked session is still open 5 s after the invocation ended; sshd log:\n{}",
                sshd.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

#[test]
fn ssh_the_most_verbose_logs_never_show_a_secret() {
    let device = peers::fakenos();
    let host = TestHost::with_packs(&["broker"]);
    host.orch(&[
        "hostkey",
        "trust",
        &device.address(),
        "--key",
        &device.host_key,
    ])
    .ok();
    grant(&host, &format!("ssh:{}", device.address()));
    password_secret(
        &host,
        "r1",
        &device.username,
        &device.address(),
        &device.password,
    );
    password_secret(
        &host,
        "r1-enable",
        &device.username,
        &device.address(),
        &device.enable_password,
    );
    let input = json!({
        "host": "127.0.0.1",
        "port": device.port,
        "credential": "r1",
        "prompt": r"R1[>#]\s*$",
        "enable": {
            "credential": "r1-enable",
            "prompt": r"R1#\s*$",
        },
        "commands": ["show running-config"],
    })
    .to_string();
    // Every crate at trace level: russh sees the password and the typed enable secret in clear.
    let run = host.orch_env_stdin(
        &[
            "action",
            "run",
            "broker.ssh_shell",
            "--input",
            &input,
            "--json",
            "-vv",
        ],
        &[("ORCH_LOG", "trace")],
        "",
    );
    assert!(
        run.output()["outputs"][0]
            .as_str()
            .is_some_and(|c| c.contains("hostname R1"))
    );
    assert!(run.stderr.len() > 1000, "expected verbose logs: {run:#?}");
    for secret in [&device.password, &device.enable_password] {
        assert_no_leak(&host, secret, &[&run]);
    }
}

/// The prompt of the sshd user's login shell (`$ `, or `# ` for root).
const SHELL_PROMPT: &str = r"[$#]\s*$";

/// What a hostile pack types so that the next line typed into its shell comes back to it: stop
/// the echo, read a line, print it as hex (which the masker does not know). The secret never
/// has to appear as itself for the pack to learn it. (`unset HISTFILE` keeps the test's lines
/// out of the sshd user's history file.)
const CAPTURE: &str = "unset HISTFILE; stty -echo; read -r X; printf %s \"$X\" | od -An -tx1 | tr -d ' \\n'; echo; stty echo\n";

/// The same behind a password prompt of the pack's own (`Pass''word: ` so that the echo of the
/// command line does not look like one), for a host that only checks what the output ends with.
const CAPTURE_BEHIND_A_PROMPT: &str = "unset HISTFILE; stty -echo; printf 'Pass''word: '; read -r X; printf %s \"$X\" | od -An -tx1 | tr -d ' \\n'; echo; stty echo\n";

/// The capture set up for `elevate`: swallow the line the host types first (its command), show
/// a password prompt, then capture the next line (the secret).
const CAPTURE_AFTER_THE_COMMAND: &str = "unset HISTFILE; stty -echo; read -r CMD; printf 'Pass''word: '; read -r X; printf %s \"$X\" | od -An -tx1 | tr -d ' \\n'; echo; stty echo\n";

/// A privileged prompt the sshd's shell never shows.
const NEVER: &str = "NEVER-PRIVILEGED>";

/// `text` in hex, lowercase and uppercase: how [`CAPTURE`] (or an `od | tr a-f A-F`) shows it.
fn hex_forms(text: &str) -> [String; 2] {
    let lower = hex::encode(text);
    let upper = lower.to_uppercase();
    [lower, upper]
}

/// A host whose broker pack reaches the shared sshd (key `key`) and holds the ssh-password
/// credential `pw` bound to it, whose password is the returned secret.
fn sshd_host_with_password() -> (TestHost, String, Run) {
    let sshd = peers::sshd();
    let host = sshd_host();
    let secret = format!("sudo-{}", peers::random_hex(8));
    let set = password_secret(&host, "pw", &sshd.user, &sshd.address(), &secret);
    (host, secret, set)
}

/// Runs `broker.ssh_script` on a shell of the shared sshd and returns the run and each step's
/// outcome (`{"ok": text}` or `{"error": {"code", "message"}}`).
fn script(host: &TestHost, steps: Value) -> (Run, Vec<Value>) {
    let sshd = peers::sshd();
    let run = action(
        host,
        "ssh_script",
        &json!({ "host": "127.0.0.1", "port": sshd.port, "credential": "key", "steps": steps }),
        "strict",
    );
    let steps = run.output()["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    (run, steps)
}

/// [`assert_no_leak`] for `secret` and its hex forms.
#[track_caller]
fn assert_no_secret(host: &TestHost, secret: &str, outputs: &[&Run]) {
    assert_no_leak(host, secret, outputs);
    for hex in hex_forms(secret) {
        assert_no_leak(host, &hex, outputs);
    }
}

#[track_caller]
fn assert_step_fails(step: &Value, code: &str, needles: &[&str]) {
    assert_eq!(step["error"]["code"], code, "{step}");
    let message = step["error"]["message"].as_str().unwrap_or_default();
    for needle in needles {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }
}

/// The decoy line typed after the refusal, and what the capture prints for it: proof that the
/// capture was live and got the decoy, not the secret.
const DECOY: &str = "decoy";

#[test]
fn ssh_send_secret_is_refused_after_the_pack_typed_a_capture_into_the_shell() {
    let (host, secret, set) = sshd_host_with_password();
    let [decoy_hex, _] = hex_forms(DECOY);
    for (capture, at_prompt) in [(CAPTURE, r"\S"), (CAPTURE_BEHIND_A_PROMPT, r"Password: $")] {
        let (run, steps) = script(
            &host,
            json!([
                { "read_until": { "pattern": SHELL_PROMPT } },
                { "send": capture },
                { "read_until": { "pattern": at_prompt, "timeout_ms": 5000 } },
                { "send_secret": "pw" },
                { "send": format!("{DECOY}\n") },
                { "read_until": { "pattern": decoy_hex, "timeout_ms": 5000 } },
            ]),
        );
        assert_no_secret(&host, &secret, &[&set, &run]);
        assert_step_fails(&steps[3], "denied", &["elevate", "typed"]);
        assert!(
            steps[5]["ok"]
                .as_str()
                .is_some_and(|out| out.contains(&decoy_hex)),
            "the capture did not read the decoy: {steps:#?}"
        );
    }
}

#[test]
fn ssh_elevate_is_refused_after_the_pack_typed_a_capture_into_the_shell() {
    let (host, secret, set) = sshd_host_with_password();
    let [decoy_hex, _] = hex_forms(DECOY);
    let (run, steps) = script(
        &host,
        json!([
            { "read_until": { "pattern": SHELL_PROMPT } },
            { "send": CAPTURE_AFTER_THE_COMMAND },
            { "read": { "timeout_ms": 500 } },
            { "elevate": { "method": "su", "credential": "pw", "privileged_prompt": NEVER,
                           "timeout_ms": 5000 } },
            // Had the host typed its command, it would have been swallowed here instead.
            { "send": "swallowed\n" },
            { "send": format!("{DECOY}\n") },
            { "read_until": { "pattern": decoy_hex, "timeout_ms": 5000 } },
        ]),
    );
    assert_no_secret(&host, &secret, &[&set, &run]);
    assert_step_fails(&steps[3], "denied", &["first input", "new shell"]);
    assert!(
        steps[6]["ok"]
            .as_str()
            .is_some_and(|out| out.contains(&decoy_hex)),
        "the capture did not read the decoy: {steps:#?}"
    );
}

/// Types bash's recent history as hex, and the pattern that reads it through the next prompt.
const HISTORY: &str = "unset HISTFILE; fc -ln -20 | od -An -tx1 | tr -d ' \\n'; echo\n";
const HISTORY_READ: &str = r"[0-9a-f]{12,}\r?\n[^\n]*[$#]\s*$";

#[test]
fn ssh_elevate_on_a_shell_without_a_password_prompt_never_types_the_secret() {
    let (host, secret, set) = sshd_host_with_password();
    let [enable_hex, _] = hex_forms("enable");
    // bash's `enable` builtin lists the builtins and prints the prompt again: no password prompt,
    // so the secret must stay with the host. bash's own history then shows what reached it.
    let elevate = |prompt: Option<&str>| {
        json!({ "elevate": { "method": "enable", "credential": "pw", "privileged_prompt": NEVER,
                             "prompt": prompt, "timeout_ms": 3000 } })
    };
    let (run, steps) = script(
        &host,
        json!([
            { "read_until": { "pattern": SHELL_PROMPT } },
            elevate(Some(SHELL_PROMPT)),
            // A failed elevation leaves the shell in an unknown state: no second try on it.
            elevate(Some(SHELL_PROMPT)),
            { "send": HISTORY },
            { "read_until": { "pattern": HISTORY_READ, "timeout_ms": 5000 } },
        ]),
    );
    assert_no_secret(&host, &secret, &[&set, &run]);
    assert_step_fails(
        &steps[1],
        "auth_failed",
        &[
            "ordinary prompt",
            "`enable`",
            "without asking for a password",
        ],
    );
    assert_step_fails(&steps[2], "denied", &["already failed", "new shell"]);
    assert!(
        steps[4]["ok"]
            .as_str()
            .is_some_and(|dump| dump.contains(&enable_hex)),
        "bash's history does not show the host's `enable`: {steps:#?}"
    );

    // Without an ordinary prompt to recognise, the dialogue ends at its timeout, having typed
    // nothing more.
    let started = Instant::now();
    let (timed_out, steps) = script(
        &host,
        json!([
            { "read_until": { "pattern": SHELL_PROMPT } },
            elevate(None),
            { "send": HISTORY },
            { "read_until": { "pattern": HISTORY_READ, "timeout_ms": 5000 } },
        ]),
    );
    assert_step_fails(
        &steps[1],
        "timeout",
        &["did not show a password prompt", "3000 ms"],
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        steps[3]["ok"]
            .as_str()
            .is_some_and(|dump| dump.contains(&enable_hex)),
        "{steps:#?}"
    );
    assert_no_secret(&host, &secret, &[&set, &run, &timed_out]);
}

#[test]
fn ssh_send_secret_answers_an_in_band_login_prompt_once_and_only_once_read() {
    // A device that asks for a password inside the shell, before anything is typed.
    let secret = format!("inband-{}", peers::random_hex(8));
    let sshd = peers::Sshd::start_with_script(&format!(
        r#"printf 'Password: '
stty -echo; IFS= read -r answer; stty echo; printf '\n'
if [ "$answer" = '{secret}' ]; then printf 'welcome\n'; else printf 'Login incorrect\n'; fi
PS1='dev> ' exec /bin/sh -i
"#
    ));
    let host = TestHost::with_packs(&["broker"]);
    host.orch(&["hostkey", "trust", &sshd.address(), "--key", &sshd.host_key])
        .ok();
    grant(&host, &format!("ssh:{}", sshd.address()));
    host.orch_with_stdin(
        &[
            "secret",
            "set",
            "key",
            "--kind",
            "ssh-key",
            "--username",
            &sshd.user,
            "--bind",
            &sshd.address(),
            "--from-stdin",
        ],
        &sshd.client_key,
    )
    .ok();
    let set = password_secret(&host, "login", &sshd.user, &sshd.address(), &secret);
    let run = action(
        &host,
        "ssh_script",
        &json!({ "host": "127.0.0.1", "port": sshd.port, "credential": "key", "steps": [
            // Not read yet: the host has seen no password prompt.
            { "send_secret": "login" },
            { "read_until": { "pattern": "Password: $" } },
            { "send_secret": "login" },
            { "read_until": { "pattern": "dev> $" } },
            // Once is all: a second answer is never typed.
            { "send_secret": "login" },
            { "send": "echo logged-in\n" },
            { "read_until": { "pattern": r"logged-in\r?\n[^\n]*dev> $" } },
            { "send_secret": "login" },
        ] }),
        "strict",
    );
    let steps = run.output()["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_step_fails(&steps[0], "denied", &["password prompt", "read-until"]);
    assert_eq!(steps[2], json!({ "ok": "" }));
    assert!(
        steps[3]["ok"]
            .as_str()
            .is_some_and(|login| login.contains("welcome")),
        "{steps:#?}"
    );
    assert_step_fails(&steps[4], "denied", &["never a second"]);
    assert!(
        steps[6]["ok"]
            .as_str()
            .is_some_and(|out| out.contains("logged-in")),
        "{steps:#?}"
    );
    assert_step_fails(&steps[7], "denied", &["typed", "elevate"]);
    assert_no_secret(&host, &secret, &[&set, &run]);
}

#[test]
fn ssh_elevate_types_the_secret_at_su_s_own_prompt_and_reports_its_refusal() {
    let Some(sshd) = peers::sshd_password() else {
        eprintln!("skipped: needs root (password sshd)");
        return;
    };
    let host = TestHost::with_packs(&["broker"]);
    host.orch(&["hostkey", "trust", &sshd.address(), "--key", &sshd.host_key])
        .ok();
    grant(&host, &format!("ssh:{}", sshd.address()));
    let login = password_secret(&host, "login", &sshd.user, &sshd.address(), &sshd.password);
    let wrong = format!("root-{}", peers::random_hex(8));
    let set = password_secret(&host, "root", "root", &sshd.address(), &wrong);
    let elevate = |credential: Option<&str>| {
        action(
            &host,
            "ssh_script",
            &json!({ "host": "127.0.0.1", "port": sshd.port, "credential": "login", "steps": [
                { "read_until": { "pattern": SHELL_PROMPT } },
                { "elevate": { "method": "su", "credential": credential,
                               "privileged_prompt": r"#\s*$", "prompt": r"\$\s*$",
                               "timeout_ms": 10000 } },
            ] }),
            "strict",
        )
    };
    // su asks for root's password and refuses this one: typed once, reported as auth_failed.
    let refused = elevate(Some("root"));
    let steps = refused.output()["steps"].clone();
    assert_step_fails(
        &steps[1],
        "auth_failed",
        &[
            "refused the secret of credential \"root\"",
            "`su -`",
            "orch secret set root",
        ],
    );
    // Without a credential, su's prompt gets no answer from the host.
    let unnamed = elevate(None);
    let steps = unnamed.output()["steps"].clone();
    assert_step_fails(
        &steps[1],
        "auth_failed",
        &["no credential was named", "`su -`"],
    );
    assert_no_secret(&host, &wrong, &[&set, &login, &refused, &unnamed]);
}

#[test]
fn ssh_elevate_prompt_patterns_never_see_the_echoed_secret() {
    // fakenos echoes what is typed at its `Password:` prompt. A pack choosing the privileged
    // prompt could otherwise probe the echo (does it start with `en-a`? with `en-b`?), one
    // elevation per guess, and learn the secret from which probes succeed.
    let device = peers::fakenos();
    let host = TestHost::with_packs(&["broker"]);
    host.orch(&[
        "hostkey",
        "trust",
        &device.address(),
        "--key",
        &device.host_key,
    ])
    .ok();
    grant(&host, &format!("ssh:{}", device.address()));
    let login = password_secret(
        &host,
        "r1",
        &device.username,
        &device.address(),
        &device.password,
    );
    let enable = password_secret(
        &host,
        "r1-enable",
        &device.username,
        &device.address(),
        &device.enable_password,
    );
    let probe = |privileged_prompt: &str| {
        action(
            &host,
            "ssh_script",
            &json!({ "host": "127.0.0.1", "port": device.port, "credential": "r1", "steps": [
                { "read_until": { "pattern": r"R1[>#]\s*$" } },
                { "elevate": { "method": "enable", "credential": "r1-enable",
                               "privileged_prompt": privileged_prompt,
                               "prompt": r"R1[>#]\s*$", "timeout_ms": 10000 } },
            ] }),
            "strict",
        )
    };
    // The right guess of the first characters, and the whole secret: neither matches.
    let mut runs = Vec::new();
    for guess in [
        &device.enable_password[..5],
        device.enable_password.as_str(),
    ] {
        let run = probe(&regex::escape(guess));
        let steps = run.output()["steps"].clone();
        assert_step_fails(&steps[1], "auth_failed", &["ordinary prompt"]);
        runs.push(run);
    }
    // What the patterns see instead: the mask.
    let masked = probe(r"\*\*\*");
    let steps = masked.output()["steps"].clone();
    assert!(
        steps[1]["ok"].as_str().is_some_and(|t| t.contains("***")),
        "{steps:#?}"
    );
    runs.extend([login, enable, masked]);
    let runs: Vec<&Run> = runs.iter().collect();
    for secret in [&device.password, &device.enable_password] {
        assert_no_secret(&host, secret, &runs);
    }
}
