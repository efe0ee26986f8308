//! The SDK's copy of the host's destination rules against the shared table of cases
//! (`destination_cases.json`), the table the host's parser is to be held to as well.

use orch_sdk::rules::check_destination;

#[test]
fn every_shared_destination_case_is_decided_as_the_table_says() {
    let text = include_str!("destination_cases.json");
    let table: serde_json::Value = serde_json::from_str(text).expect("the table is JSON");
    let cases = table["cases"].as_array().expect("a list of cases");
    assert!(cases.len() > 50, "the table lost its cases");
    let mut wrong = Vec::new();
    for case in cases {
        let kind = case["kind"].as_str().expect("kind");
        let pattern = case["pattern"].as_str().expect("pattern");
        let accepted = case["accepted"].as_bool().expect("accepted");
        let got = check_destination(kind, pattern);
        if got.is_ok() != accepted {
            wrong.push(format!(
                "{kind} {pattern:?}: expected accepted={accepted}, got {got:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
