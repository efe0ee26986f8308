//! The `servicenow` pack: records in any ServiceNow table through the Table API
//! (`/api/now/table/{table}`), with a basic or OAuth2 client-credentials vault credential that
//! the host injects: the pack names the credential and never sees a secret.
//!
//! It relies only on what the real Table API offers (`{"result": …}` envelopes, string field
//! values, `sysparm_query`, the `correlation_id` field of task tables), so the local stand-in
//! used by tests (`tests/peers/servicenow.py`) and a real instance behave alike.

mod actions;
mod api;
mod client;
mod query;

use orch_sdk::{Action, DestinationKind, Pack, PackDef};

/// The `servicenow` pack.
pub struct ServiceNow;

impl Pack for ServiceNow {
    fn define() -> PackDef {
        PackDef::new("servicenow", env!("CARGO_PKG_VERSION"))
            .vendor("orch")
            .description(
                "Creates, updates, reads and finds records in ServiceNow tables (incident, \
                 change_request or any other) through the Table API, with a basic or OAuth2 \
                 credential injected by the host. Creates carry a correlation id so a retried \
                 create finds its earlier record instead of making a duplicate.",
            )
            .destination(
                DestinationKind::Http,
                "*.service-now.com:443",
                "ServiceNow instances",
            )
            // Idempotent although it creates: the correlation id lookup makes a second attempt
            // with the same idempotency key return the first attempt's record.
            .action(Action::new(
                "create_record",
                "Create a record in a table (incident, change_request, …); safe to retry: its \
                 correlation_id (the call's idempotency key unless given) is looked up first \
                 and an existing record is returned instead of creating another, on every table \
                 with a correlation_id field (all task tables).",
                actions::create_record,
            ))
            .action(Action::new(
                "update_record",
                "Set fields of a record, leaving the others unchanged.",
                actions::update_record,
            ))
            .action(Action::new(
                "get_record",
                "Read a record by table and sys_id; a missing record fails with not_found.",
                actions::get_record,
            ))
            .action(Action::new(
                "find_records",
                "Find the records of a table matching an encoded query (sysparm_query) or a set \
                 of field values.",
                actions::find_records,
            ))
    }
}

orch_sdk::export_pack!(ServiceNow);

#[cfg(test)]
mod tests {
    use super::*;
    use orch_sdk::Context;
    use orch_sdk::testing::TestHost;
    use serde_json::json;

    #[test]
    fn describes_four_idempotent_actions_and_servicenow_destinations() {
        let def = ServiceNow::define();
        assert_eq!(def.name(), "servicenow");
        let names: Vec<&str> = def.actions().iter().map(|a| a.name()).collect();
        assert_eq!(
            names,
            [
                "create_record",
                "update_record",
                "get_record",
                "find_records"
            ]
        );
        assert!(def.actions().iter().all(|a| a.is_idempotent()));
        let destinations = def.destinations();
        assert_eq!(destinations.len(), 1);
        assert_eq!(destinations[0].kind(), DestinationKind::Http);
        assert_eq!(destinations[0].pattern(), "*.service-now.com:443");
    }

    #[test]
    fn the_definition_passes_the_hosts_pack_add_rules() {
        assert_eq!(ServiceNow::define().validate(), Ok(()));
    }

    const TABLE: &str = "https://acme.service-now.com/api/now/table/incident";
    const CREATE: &str = r#"{"instance":"https://acme.service-now.com","credential":"snow","table":"incident","fields":{"short_description":"r1 drifted"}}"#;

    #[test]
    fn create_looks_for_its_correlation_id_then_posts_with_the_credential() {
        let host = TestHost::new();
        host.http()
            .on("GET", &format!("{TABLE}?*"))
            .reply(200, json!({ "result": [] }));
        host.http().on("POST", &format!("{TABLE}?*")).reply(
            201,
            json!({ "result": { "sys_id": "abc", "number": "INC0010001", "correlation_id": "test-key" } }),
        );
        let out = ServiceNow::define()
            .call("create_record", CREATE, &host.context())
            .expect("created");
        let out: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(
            (&out["sys_id"], &out["number"], &out["created"]),
            (&json!("abc"), &json!("INC0010001"), &json!(true))
        );

        let sent = host.http().requests();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].method(), "GET");
        assert!(
            sent[0]
                .url()
                .contains("sysparm_query=correlation_id%3Dtest-key"),
            "{}",
            sent[0].url()
        );
        assert_eq!(sent[1].method(), "POST");
        assert_eq!(
            sent[1].json(),
            Some(json!({ "short_description": "r1 drifted", "correlation_id": "test-key" }))
        );
        for request in &sent {
            assert_eq!(request.credential(), Some("snow"));
            assert_eq!(request.header("accept"), Some("application/json"));
            assert_eq!(request.max_redirects(), Some(0));
        }
    }

    #[test]
    fn a_retried_create_returns_the_earlier_record_without_posting() {
        let host = TestHost::new();
        host.http().on("GET", &format!("{TABLE}?*")).reply(
            200,
            json!({ "result": [{ "sys_id": "abc", "number": "INC0010001", "correlation_id": "test-key" }] }),
        );
        let ctx = host.context();
        let out = ServiceNow::define()
            .call("create_record", CREATE, &ctx)
            .expect("found");
        assert!(out.contains(r#""created":false"#), "{out}");
        assert!(host.http().requests().iter().all(|r| r.method() == "GET"));
        assert!(ctx.logs()[0].message.contains("exists already"));
    }

    #[test]
    fn a_refused_credential_is_auth_failed_and_an_outage_is_retryable() {
        let host = TestHost::new();
        host.http().on("GET", &format!("{TABLE}?*")).once().reply(
            401,
            json!({ "error": { "message": "User Not Authenticated" } }),
        );
        host.http()
            .on("GET", &format!("{TABLE}?*"))
            .reply_text(503, "maintenance");
        let def = ServiceNow::define();
        let refused = def
            .call("create_record", CREATE, &host.context())
            .expect_err("401");
        assert_eq!(
            (refused.code(), refused.is_retryable()),
            ("auth_failed", false)
        );
        assert!(
            refused.message().contains(r#"credential "snow""#),
            "{refused}"
        );
        let down = def
            .call("create_record", CREATE, &host.context())
            .expect_err("503");
        assert!(down.is_retryable(), "{down}");
    }

    #[test]
    fn every_action_requires_instance_and_credential() {
        for action in ServiceNow::define().actions() {
            let schema = action.input_schema().to_value();
            let required = schema["required"].as_array().expect("required list");
            for name in ["instance", "credential", "table"] {
                assert!(
                    required.iter().any(|r| r == name),
                    "{} does not require {name}: {schema}",
                    action.name()
                );
            }
        }
    }

    #[test]
    fn bad_inputs_fail_before_any_request() {
        let ctx = Context::for_tests();
        let def = ServiceNow::define();
        let cases = [
            (
                "get_record",
                r#"{"instance":"acme","credential":"snow","table":"incident","sys_id":"a"}"#,
                "instance",
            ),
            (
                "get_record",
                r#"{"instance":"https://a.service-now.com","credential":"snow","table":"incident","sys_id":"../x"}"#,
                "sys_id",
            ),
            (
                "create_record",
                r#"{"instance":"https://a.service-now.com","credential":"","table":"incident","fields":{}}"#,
                "credential",
            ),
            (
                "create_record",
                r#"{"instance":"https://a.service-now.com","credential":"snow","table":"incident","fields":{"correlation_id":{"a":1}}}"#,
                "correlation_id",
            ),
            (
                "find_records",
                r#"{"instance":"https://a.service-now.com","credential":"snow","table":"incident","query":"active=true","limit":0}"#,
                "limit",
            ),
            (
                "find_records",
                r#"{"instance":"https://a.service-now.com","credential":"snow","table":"incident","query":"","fields":["number,sys_id"]}"#,
                "field",
            ),
        ];
        for (action, input, mentions) in cases {
            let err = def.call(action, input, &ctx).expect_err(input);
            assert_eq!(err.code(), "invalid_input", "{input}: {err}");
            assert!(err.message().contains(mentions), "{input}: {err}");
        }
    }
}
