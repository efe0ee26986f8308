//! `text.normalize`: removes what changes on a device without a change of configuration (banners,
//! timestamps, clock drift values), trailing whitespace and line-ending differences, so that
//! diffing two normalised texts shows only real drift.

use orch_sdk::{ActionError, Context};
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Lines that change without a configuration change on common network operating systems.
const DEFAULT_STRIP_PATTERNS: &[&str] = &[
    // Cisco IOS: commit and NVRAM timestamps, clock drift, and `show running-config` banners.
    r"^! Last configuration change",
    r"^! NVRAM config last updated",
    r"^ntp clock-period",
    r"^Building configuration",
    r"^Current configuration :",
    // Cisco NX-OS: the timestamp at the top of `show running-config`.
    r"^!Time:",
];

/// Input of `normalize`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({
    "text": "! Last configuration change at 10:02\nhostname r1   \n\n",
    "drop_blank_lines": true
}))]
pub struct NormalizeInput {
    /// The text to normalise.
    pub text: String,
    /// Regular expressions (Rust `regex` syntax); a line any of them matches is removed. The
    /// default removes common volatile lines of network device configurations; pass `[]` to
    /// remove none.
    #[serde(default = "default_strip_patterns")]
    pub strip_patterns: Vec<String>,
    /// Remove spaces and tabs at the end of every line.
    #[serde(default = "yes")]
    pub trim_trailing_whitespace: bool,
    /// Remove lines that are empty or only whitespace.
    #[serde(default)]
    pub drop_blank_lines: bool,
}

fn default_strip_patterns() -> Vec<String> {
    DEFAULT_STRIP_PATTERNS
        .iter()
        .map(|p| (*p).to_owned())
        .collect()
}

fn yes() -> bool {
    true
}

/// Output of `normalize`.
#[derive(Debug, Serialize, JsonSchema, PartialEq, Eq)]
pub struct NormalizeOutput {
    /// The normalised text, lines ending in `\n` (a missing final newline stays missing).
    pub text: String,
    /// Lines removed by a pattern or as blank.
    pub removed_lines: u64,
}

/// Normalises `text`.
pub fn normalize(input: NormalizeInput, _ctx: &Context) -> Result<NormalizeOutput, ActionError> {
    let patterns = input
        .strip_patterns
        .iter()
        .map(|pattern| {
            Regex::new(pattern).map_err(|err| {
                ActionError::invalid_input(format!("invalid strip pattern \"{pattern}\": {err}"))
                    .with_details(serde_json::json!({ "pattern": pattern }))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut text = String::with_capacity(input.text.len());
    let mut removed_lines = 0u64;
    // `lines` also strips a `\r` before each `\n`: CRLF from a device compares equal to LF.
    for line in input.text.lines() {
        if patterns.iter().any(|re| re.is_match(line)) {
            removed_lines += 1;
            continue;
        }
        let line = if input.trim_trailing_whitespace {
            line.trim_end()
        } else {
            line
        };
        if input.drop_blank_lines && line.trim().is_empty() {
            removed_lines += 1;
            continue;
        }
        text.push_str(line);
        text.push('\n');
    }
    if !input.text.ends_with('\n') && text.ends_with('\n') {
        text.pop();
    }
    Ok(NormalizeOutput {
        text,
        removed_lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(json: &str) -> Result<NormalizeOutput, ActionError> {
        let input: NormalizeInput = serde_json::from_str(json).expect("valid input");
        normalize(input, &Context::for_tests())
    }

    #[test]
    fn default_patterns_remove_ios_volatile_lines() {
        let text = "Building configuration...\n\nCurrent configuration : 1234 bytes\n\
                    ! Last configuration change at 10:00:00 UTC Mon Jan 1 2026\n\
                    ! NVRAM config last updated at 09:00:00 UTC Mon Jan 1 2026\n\
                    hostname r1\nntp clock-period 17179869\nntp server 10.0.0.1\n";
        let out = run(&serde_json::json!({ "text": text }).to_string()).expect("normalises");
        assert_eq!(out.text, "\nhostname r1\nntp server 10.0.0.1\n");
        assert_eq!(out.removed_lines, 5);
    }

    #[test]
    fn trims_trailing_whitespace_and_crlf_by_default() {
        let out = run(r#"{"text":"hostname r1   \r\ninterface Gi0/1\t\r\n"}"#).expect("normalises");
        assert_eq!(out.text, "hostname r1\ninterface Gi0/1\n");
        assert_eq!(out.removed_lines, 0);
    }

    #[test]
    fn keeps_trailing_whitespace_when_asked() {
        let out = run(r#"{"text":"a  \nb","trim_trailing_whitespace":false}"#).expect("normalises");
        assert_eq!(out.text, "a  \nb");
    }

    #[test]
    fn drops_blank_lines_when_asked() {
        let out = run(r#"{"text":"a\n\n  \nb\n","drop_blank_lines":true}"#).expect("normalises");
        assert_eq!(out.text, "a\nb\n");
        assert_eq!(out.removed_lines, 2);
    }

    #[test]
    fn custom_patterns_replace_the_defaults() {
        let out = run(
            r#"{"text":"! Last configuration change\nuptime 5\nx\n","strip_patterns":["^uptime"]}"#,
        )
        .expect("normalises");
        assert_eq!(out.text, "! Last configuration change\nx\n");
        assert_eq!(out.removed_lines, 1);
    }

    #[test]
    fn invalid_pattern_is_invalid_input_naming_it() {
        let err = run(r#"{"text":"a","strip_patterns":["ok","(unclosed"]}"#)
            .expect_err("an unclosed group is not a regex");
        assert_eq!(err.code(), ActionError::INVALID_INPUT);
        assert!(err.message().contains("\"(unclosed\""), "{}", err.message());
        assert_eq!(
            err.details(),
            Some(&serde_json::json!({ "pattern": "(unclosed" }))
        );
    }
}
