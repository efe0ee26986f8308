//! `text.extract`: finds the matches of a regular expression and returns each as an object of its
//! capture groups, so a workflow can use values from command output without parsing it itself.

use orch_sdk::{ActionError, Context};
use regex::RegexBuilder;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Input of `extract`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({
    "text": "interface Gi0/1\n ip address 10.0.0.1 255.255.255.0\n",
    "pattern": "ip address (?P<ip>\\S+) (?P<mask>\\S+)"
}))]
pub struct ExtractInput {
    /// The text to search.
    pub text: String,
    /// Regular expression (Rust `regex` syntax). Name groups with `(?P<name>...)` to get named
    /// fields in each match.
    pub pattern: String,
    /// Return every match; when false, at most the first.
    #[serde(default = "yes")]
    pub all: bool,
    /// Make `^` and `$` match at the start and end of every line, as most patterns over
    /// configuration text expect.
    #[serde(default = "yes")]
    pub multi_line: bool,
}

fn yes() -> bool {
    true
}

/// Output of `extract`.
#[derive(Debug, Serialize, JsonSchema, PartialEq)]
pub struct ExtractOutput {
    /// One object per match: `"0"` is the whole match; each group is keyed by its name, or by its
    /// number when unnamed; a group that did not take part in the match is `null`.
    pub matches: Vec<Map<String, Value>>,
    /// Number of matches returned.
    pub count: u64,
}

/// Finds the matches of `pattern` in `text`.
pub fn extract(input: ExtractInput, _ctx: &Context) -> Result<ExtractOutput, ActionError> {
    let re = RegexBuilder::new(&input.pattern)
        .multi_line(input.multi_line)
        .build()
        .map_err(|err| {
            ActionError::invalid_input(format!("invalid pattern \"{}\": {err}", input.pattern))
                .with_details(serde_json::json!({ "pattern": input.pattern }))
        })?;
    let keys: Vec<String> = re
        .capture_names()
        .enumerate()
        .map(|(i, name)| name.map_or_else(|| i.to_string(), str::to_owned))
        .collect();
    let limit = if input.all { usize::MAX } else { 1 };
    let matches: Vec<Map<String, Value>> = re
        .captures_iter(&input.text)
        .take(limit)
        .map(|caps| {
            keys.iter()
                .enumerate()
                .map(|(i, key)| {
                    let value = caps
                        .get(i)
                        .map_or(Value::Null, |m| Value::String(m.as_str().to_owned()));
                    (key.clone(), value)
                })
                .collect()
        })
        .collect();
    Ok(ExtractOutput {
        count: matches.len() as u64,
        matches,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(input: Value) -> Result<ExtractOutput, ActionError> {
        let input: ExtractInput = serde_json::from_value(input).expect("valid input");
        extract(input, &Context::for_tests())
    }

    const SHOW_IP_INT_BRIEF: &str = "Interface   IP-Address  OK? Method Status Protocol\n\
                                     Gi0/0       10.0.0.1    YES NVRAM  up     up\n\
                                     Gi0/1       unassigned  YES unset  down   down\n";

    #[test]
    fn named_groups_become_fields() {
        let out = run(json!({
            "text": SHOW_IP_INT_BRIEF,
            "pattern": r"^(?P<iface>Gi\S+)\s+(?P<ip>\S+).*?(?P<status>up|down)\s+\S+$",
        }))
        .expect("valid pattern");
        assert_eq!(out.count, 2);
        assert_eq!(out.matches[0]["iface"], "Gi0/0");
        assert_eq!(out.matches[0]["ip"], "10.0.0.1");
        assert_eq!(out.matches[1]["status"], "down");
    }

    #[test]
    fn unnamed_groups_are_numbered_and_zero_is_the_whole_match() {
        let out = run(json!({ "text": "vlan 10\nvlan 20\n", "pattern": r"vlan (\d+)" }))
            .expect("valid pattern");
        assert_eq!(
            out.matches,
            vec![
                json!({ "0": "vlan 10", "1": "10" })
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                json!({ "0": "vlan 20", "1": "20" })
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ]
        );
    }

    #[test]
    fn all_false_returns_only_the_first_match() {
        let out =
            run(json!({ "text": "vlan 10\nvlan 20\n", "pattern": r"vlan (\d+)", "all": false }))
                .expect("valid pattern");
        assert_eq!(out.count, 1);
        assert_eq!(out.matches[0]["1"], "10");
    }

    #[test]
    fn optional_group_that_did_not_match_is_null() {
        let out = run(json!({ "text": "a", "pattern": "(a)(b)?" })).expect("valid pattern");
        assert_eq!(out.matches[0]["2"], Value::Null);
    }

    #[test]
    fn no_match_gives_an_empty_list() {
        let out = run(json!({ "text": "abc", "pattern": "xyz" })).expect("valid pattern");
        assert_eq!(out.count, 0);
        assert!(out.matches.is_empty());
    }

    #[test]
    fn invalid_pattern_is_invalid_input_naming_it() {
        let err = run(json!({ "text": "a", "pattern": "[z-a]" }))
            .expect_err("a reversed class range is not a regex");
        assert_eq!(err.code(), ActionError::INVALID_INPUT);
        assert!(
            err.message().starts_with("invalid pattern \"[z-a]\": "),
            "{}",
            err.message()
        );
    }
}
