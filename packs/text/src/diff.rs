//! `text.diff`: a unified diff between two texts, line by line, with counts of added and removed
//! lines so a workflow can branch on "changed" without parsing the diff.

use orch_sdk::{ActionError, Context};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use similar::{ChangeTag, TextDiff};

/// Input of `diff`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({
    "old": "hostname r1\nntp server 10.0.0.1\n",
    "new": "hostname r1\nntp server 10.0.0.2\n",
    "old_label": "golden",
    "new_label": "running"
}))]
pub struct DiffInput {
    /// The earlier text (for example the last backed-up configuration).
    pub old: String,
    /// The later text (for example the running configuration).
    pub new: String,
    /// Unchanged lines shown around each change.
    #[serde(default = "default_context")]
    pub context: u32,
    /// Name of the old text in the diff header; `old` when absent.
    #[serde(default)]
    pub old_label: Option<String>,
    /// Name of the new text in the diff header; `new` when absent.
    #[serde(default)]
    pub new_label: Option<String>,
}

fn default_context() -> u32 {
    3
}

/// Output of `diff`.
#[derive(Debug, Serialize, JsonSchema, PartialEq, Eq)]
pub struct DiffOutput {
    /// The unified diff; empty when the texts are equal.
    pub diff: String,
    /// Lines present only in the new text.
    pub added: u64,
    /// Lines present only in the old text.
    pub removed: u64,
    /// Whether the texts differ.
    pub changed: bool,
}

/// Diffs `old` against `new`.
pub fn diff(input: DiffInput, _ctx: &Context) -> Result<DiffOutput, ActionError> {
    let text_diff = TextDiff::from_lines(&input.old, &input.new);
    let (mut added, mut removed) = (0u64, 0u64);
    for change in text_diff.iter_all_changes() {
        match change.tag() {
            ChangeTag::Insert => added += 1,
            ChangeTag::Delete => removed += 1,
            ChangeTag::Equal => {}
        }
    }
    let old_label = input.old_label.as_deref().unwrap_or("old");
    let new_label = input.new_label.as_deref().unwrap_or("new");
    let diff = text_diff
        .unified_diff()
        .context_radius(usize::try_from(input.context).unwrap_or(usize::MAX))
        .header(old_label, new_label)
        .to_string();
    Ok(DiffOutput {
        diff,
        added,
        removed,
        changed: added + removed > 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(old: &str, new: &str, context: u32) -> DiffOutput {
        let input = DiffInput {
            old: old.to_owned(),
            new: new.to_owned(),
            context,
            old_label: None,
            new_label: None,
        };
        diff(input, &Context::for_tests()).expect("diff never fails")
    }

    #[test]
    fn equal_texts_give_an_empty_diff() {
        let out = run("hostname r1\n", "hostname r1\n", 3);
        assert_eq!(
            out,
            DiffOutput {
                diff: String::new(),
                added: 0,
                removed: 0,
                changed: false
            }
        );
    }

    #[test]
    fn counts_added_and_removed_lines() {
        let out = run(
            "hostname r1\nntp server 10.0.0.1\n",
            "hostname r1\nntp server 10.0.0.2\nlogging host 10.0.0.9\n",
            3,
        );
        assert_eq!((out.added, out.removed, out.changed), (2, 1, true));
        assert_eq!(
            out.diff,
            "--- old\n+++ new\n@@ -1,2 +1,3 @@\n hostname r1\n-ntp server 10.0.0.1\n\
             +ntp server 10.0.0.2\n+logging host 10.0.0.9\n"
        );
    }

    #[test]
    fn context_limits_unchanged_lines_shown() {
        let old = "a\nb\nc\nd\ne\n";
        let new = "a\nb\nX\nd\ne\n";
        let out = run(old, new, 0);
        assert_eq!(out.diff, "--- old\n+++ new\n@@ -3 +3 @@\n-c\n+X\n");
    }

    #[test]
    fn labels_name_the_texts_in_the_header() {
        let input: DiffInput = serde_json::from_str(
            r#"{"old":"a\n","new":"b\n","old_label":"backup","new_label":"running"}"#,
        )
        .expect("valid input");
        let out = diff(input, &Context::for_tests()).expect("diff never fails");
        assert!(out.diff.starts_with("--- backup\n+++ running\n"));
    }

    #[test]
    fn context_defaults_to_three_lines() {
        let input: DiffInput =
            serde_json::from_str(r#"{"old":"a","new":"b"}"#).expect("valid input");
        assert_eq!(input.context, 3);
    }
}
