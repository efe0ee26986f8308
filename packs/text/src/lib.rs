//! The `text` pack: pure computation on configuration text for drift work: `diff` two versions,
//! `normalize` away noise that changes without a real change, and `extract` values with a regex.
//! No capabilities: the pack asks for no destinations.

mod diff;
mod extract;
mod normalize;

use orch_sdk::{Action, Pack, PackDef};

/// The `text` pack.
pub struct Text;

impl Pack for Text {
    fn define() -> PackDef {
        PackDef::new("text", env!("CARGO_PKG_VERSION"))
            .vendor("orch")
            .description(
                "Compares, normalises and searches configuration text: unified diffs with line \
                 counts, removal of volatile lines (timestamps, banners) before comparing, and \
                 regex extraction into structured matches.",
            )
            .action(Action::new(
                "diff",
                "Compute a unified diff between two texts, with counts of added and removed lines.",
                diff::diff,
            ))
            .action(Action::new(
                "normalize",
                "Remove volatile lines and trailing whitespace so that only real changes remain.",
                normalize::normalize,
            ))
            .action(Action::new(
                "extract",
                "Find the matches of a regular expression, with their capture groups.",
                extract::extract,
            ))
    }
}

orch_sdk::export_pack!(Text);

#[cfg(test)]
mod tests {
    use super::*;
    use orch_sdk::Context;

    #[test]
    fn describes_three_idempotent_actions() {
        let def = Text::define();
        assert_eq!(def.name(), "text");
        let names: Vec<&str> = def.actions().iter().map(|a| a.name()).collect();
        assert_eq!(names, ["diff", "normalize", "extract"]);
        assert!(def.actions().iter().all(|a| a.is_idempotent()));
        assert!(def.destinations().is_empty());
    }

    #[test]
    fn input_schema_requires_the_texts_of_a_diff() {
        let def = Text::define();
        let schema = def.actions()[0].input_schema().to_value();
        assert_eq!(schema["required"], serde_json::json!(["old", "new"]));
    }

    #[test]
    fn dispatches_json_through_the_pack() {
        let ctx = Context::for_tests();
        let out = Text::define()
            .call("diff", r#"{"old":"a\n","new":"b\n"}"#, &ctx)
            .expect("diff of two texts succeeds");
        let out: serde_json::Value = serde_json::from_str(&out).expect("output is json");
        assert_eq!(out["added"], 1);
        assert_eq!(out["removed"], 1);
        assert_eq!(out["changed"], true);
    }
}
