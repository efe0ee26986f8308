//! Misbehaving packs fail their own invocation with an error naming the pack, the action and
//! the limit; the host goes on.

use crate::harness::TestHost;

#[test]
fn an_endless_loop_hits_the_deadline() {
    let host = TestHost::with_packs(&["misbehave"]);
    let started = std::time::Instant::now();
    let err = host
        .orch(&[
            "action",
            "run",
            "misbehave.loop_forever",
            "--timeout",
            "300ms",
        ])
        .fails_with(1)
        .to_owned();
    assert!(
        err.contains("pack \"misbehave\" action \"loop_forever\" exceeded its deadline of 300ms"),
        "{err}"
    );
    // Not a timing assertion on performance: only that the deadline, not something else, ended it.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn a_memory_bomb_hits_the_memory_cap() {
    let host = TestHost::with_packs(&["misbehave"]);
    let err = host
        .orch(&["action", "run", "misbehave.alloc", "--memory-limit", "32"])
        .fails_with(1)
        .to_owned();
    assert!(
        err.contains("pack \"misbehave\" action \"alloc\" exceeded the memory limit of 32 MiB"),
        "{err}"
    );
}

#[test]
fn json_output_reports_an_action_the_sandbox_stopped() {
    let host = TestHost::with_packs(&["misbehave"]);
    for (action, extra, code) in [
        ("misbehave.loop_forever", ["--timeout", "300ms"], "timeout"),
        ("misbehave.alloc", ["--memory-limit", "32"], "memory_limit"),
    ] {
        let mut args = vec!["action", "run", action, "--json"];
        args.extend(extra);
        let run = host.orch(&args);
        assert_eq!(run.code, 1, "{run:#?}");
        let (got, message) = run.action_error();
        assert_eq!(got, code, "{message}");
        assert!(message.contains("misbehave"), "{message}");
    }
}

#[test]
fn unbounded_recursion_overflows_the_stack_cleanly() {
    let host = TestHost::with_packs(&["misbehave"]);
    let err = host
        .orch(&["action", "run", "misbehave.recurse"])
        .fails_with(1)
        .to_owned();
    assert!(
        err.contains("pack \"misbehave\" action \"recurse\" overflowed its stack"),
        "{err}"
    );
}

#[test]
fn an_oversized_output_is_refused() {
    let host = TestHost::with_packs(&["misbehave"]);
    let err = host
        // Memory is raised so that the output cap, not the memory cap, is what stops it.
        .orch(&[
            "action",
            "run",
            "misbehave.huge_output",
            "--memory-limit",
            "1024",
            "--input",
            r#"{"mb":100}"#,
        ])
        .fails_with(1)
        .to_owned();
    assert!(
        err.contains("pack \"misbehave\" action \"huge_output\" returned"),
        "{err}"
    );
    assert!(
        err.contains("more than the limit of 16777216 bytes"),
        "{err}"
    );
}

#[test]
fn a_panic_is_reported_with_its_message() {
    let host = TestHost::with_packs(&["misbehave"]);
    let err = host
        .orch(&["action", "run", "misbehave.panic"])
        .fails_with(1)
        .to_owned();
    assert!(
        err.contains("pack \"misbehave\" action \"panic\" panicked: misbehave panicked on purpose"),
        "{err}"
    );
}

/// Where the in-process invocations below come from.
fn call_context() -> orch::contract::CallContext {
    orch::contract::CallContext {
        run_id: String::new(),
        task: String::new(),
        attempt: 1,
        idempotency_key: "k".into(),
    }
}

/// What `misbehave` is lent in-process: no grants, no store.
fn nothing_lent() -> orch::capabilities::CapabilityContext {
    orch::capabilities::CapabilityContext::nothing(
        "misbehave",
        &orch::capabilities::Broker::detached(),
    )
}

#[test]
fn the_host_goes_on_after_a_failed_invocation() {
    // One process, several invocations: the library API, so a failure and a success share an
    // engine, a pool and a linker.
    let host = TestHost::with_packs(&["misbehave"]);
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    rt.block_on(async {
        let home = host.orch_home();
        let store = home.open_store().expect("store");
        let runtime = orch::runtime::Runtime::new(256 << 20).expect("runtime");
        let packs = orch::packs::Packs::new(&home, &store, &runtime);
        let pack = packs.load("misbehave").expect("load");
        let context = call_context();
        let limits = orch::runtime::Limits {
            deadline: std::time::Duration::from_millis(200),
            ..Default::default()
        };
        let lent = nothing_lent();
        for bad in ["panic", "recurse", "loop_forever", "alloc"] {
            let result = runtime
                .invoke(&pack.prepared, bad, "{}", &context, &limits, &lent)
                .await;
            assert!(result.is_err(), "{bad} should fail");
        }
        let ok = runtime
            .invoke(&pack.prepared, "noop", "{}", &context, &limits, &lent)
            .await
            .expect("noop after failures");
        assert_eq!(ok.result.expect("no action error"), "{}");
    });
}

#[test]
fn a_fresh_instance_never_sees_what_the_last_one_wrote() {
    // One process, many invocations of one pack: pool slots are reused, and the host keeps the
    // pages an instance wrote mapped (copying the image back over them) where Linux allows.
    let host = TestHost::with_packs(&["misbehave"]);
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    rt.block_on(async {
        let home = host.orch_home();
        let store = home.open_store().expect("store");
        for reset in [
            orch::runtime::SlotReset::KeepWritten,
            orch::runtime::SlotReset::Unmap,
        ] {
            let runtime = orch::runtime::Runtime::with_settings(orch::runtime::EngineSettings {
                max_instances: 4,
                slot_reset: reset,
                ..orch::runtime::EngineSettings::for_memory(256 << 20)
            })
            .expect("runtime");
            let packs = orch::packs::Packs::new(&home, &store, &runtime);
            let pack = packs.load("misbehave").expect("load");
            let (context, lent) = (call_context(), nothing_lent());
            for mark in 1..=20u64 {
                let input = format!(r#"{{"mark":{mark}}}"#);
                let invocation = runtime
                    .invoke(
                        &pack.prepared,
                        "remember",
                        &input,
                        &context,
                        &orch::runtime::Limits::DEFAULT,
                        &lent,
                    )
                    .await
                    .expect("remember");
                let output: serde_json::Value =
                    serde_json::from_str(&invocation.result.expect("no action error"))
                        .expect("json");
                assert_eq!(
                    output,
                    serde_json::json!({ "found": 0, "dirty_pages": 0 }),
                    "invocation {mark} ({reset:?}) saw what an earlier one wrote"
                );
            }
        }
    });
}

#[test]
fn a_pack_cannot_read_files_environment_variables_or_open_sockets() {
    let host = TestHost::with_packs(&["broker"]);
    // Something a pack would love to steal, in the environment of the orch process itself.
    let planted = "planted-env-secret-3f9c1a7e";
    let run = host.orch_env_stdin(
        &["action", "run", "broker.peek", "--json"],
        &[("AWS_SECRET_ACCESS_KEY", planted), ("HOME", "/root")],
        "",
    );
    let output = &run.json()["output"];
    assert_eq!(run.code, 0, "{run:#?}");
    let field = |name: &str| output[name].as_str().unwrap_or_default().to_owned();
    assert!(field("file").starts_with("error:"), "{output}");
    assert!(!field("file").contains("root:"), "{output}");
    assert!(field("dir").starts_with("error:"), "{output}");
    assert_eq!(field("env"), "no variables");
    assert!(field("home").starts_with("error:"), "{output}");
    assert!(field("tcp").starts_with("error:"), "{output}");
    assert!(!run.stdout.contains(planted) && !run.stderr.contains(planted));
}
