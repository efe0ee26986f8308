//! The `core.*` actions, run in the host: `noop`, `echo`, `fail` (answered at once, no sandbox),
//! `sleep` (a timer of the driver, not a blocked thread) and `ask` (the run waits for a person).

use orch_workflow::ActionKnown;
use serde_json::{Value, json};

use crate::schema::Schema;

/// What kind of action a workflow names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionKind {
    /// `core.noop`, `core.echo`, `core.fail`: answered at once.
    Pure(Pure),
    /// `core.sleep`.
    Sleep,
    /// `core.ask`.
    Ask,
    /// `core.` followed by something unknown.
    UnknownCore,
    /// Another workflow, run as a child run.
    Workflow,
    /// `pack.action`.
    Pack {
        /// Pack name.
        pack: String,
        /// Action name.
        action: String,
    },
}

/// The built-ins that need nothing but their input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pure {
    /// Returns null.
    Noop,
    /// Returns its input.
    Echo,
    /// Fails with the `code`, `message` and `retryable` of its input.
    Fail,
}

/// The built-in names, for messages and validation.
pub const BUILTINS: &[&str] = &[
    "core.noop",
    "core.echo",
    "core.fail",
    "core.sleep",
    "core.ask",
];

/// Classifies an action name.
pub fn classify(action: &str) -> ActionKind {
    match action {
        "core.noop" => ActionKind::Pure(Pure::Noop),
        "core.echo" => ActionKind::Pure(Pure::Echo),
        "core.fail" => ActionKind::Pure(Pure::Fail),
        "core.sleep" => ActionKind::Sleep,
        "core.ask" => ActionKind::Ask,
        a if a.starts_with("core.") => ActionKind::UnknownCore,
        a => match a.split_once('.') {
            Some((pack, action)) => ActionKind::Pack {
                pack: pack.to_owned(),
                action: action.to_owned(),
            },
            None => ActionKind::Workflow,
        },
    }
}

/// What validation knows about a built-in.
pub fn known(action: &str) -> ActionKnown {
    if BUILTINS.contains(&action) {
        ActionKnown::Known {
            input_schema: input_schema(action),
        }
    } else {
        ActionKnown::Unknown
    }
}

fn input_schema(action: &str) -> Option<Value> {
    match action {
        "core.sleep" => Some(json!({
            "type": "object",
            "required": ["seconds"],
            "properties": {"seconds": {"type": "number", "minimum": 0}},
            "additionalProperties": false
        })),
        "core.ask" => Some(json!({
            "type": "object",
            "required": ["prompt"],
            "properties": {"prompt": {"type": "string"}, "schema": {"type": "object"}},
            "additionalProperties": false
        })),
        "core.fail" => Some(json!({
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "retryable": {"type": "boolean"}
            },
            "additionalProperties": false
        })),
        _ => None,
    }
}

/// Runs a pure built-in: `Ok(result)` or `Err(error value)`.
pub fn run_pure(which: Pure, input: &Value) -> Result<Value, Value> {
    match which {
        Pure::Noop => Ok(Value::Null),
        Pure::Echo => Ok(input.clone()),
        Pure::Fail => Err(json!({
            "code": input.get("code").and_then(Value::as_str).unwrap_or("failed"),
            "message": input
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("core.fail failed on purpose"),
            "retryable": input.get("retryable").and_then(Value::as_bool).unwrap_or(false),
        })),
    }
}

/// The seconds `core.sleep` waits, or the error value for a bad input.
pub fn sleep_seconds(input: &Value) -> Result<f64, Value> {
    match input.get("seconds").and_then(Value::as_f64) {
        Some(s) if s >= 0.0 && s.is_finite() => Ok(s),
        _ => Err(error(
            "invalid_input",
            format!("core.sleep needs `seconds`, a non-negative number; got {input}"),
        )),
    }
}

/// A `core.ask` question.
#[derive(Debug, Clone)]
pub struct Question {
    /// What to ask.
    pub prompt: String,
    /// JSON Schema the answer must match (`{}` accepts anything).
    pub schema: Value,
}

/// Reads a `core.ask` input.
pub fn question(input: &Value) -> Result<Question, Value> {
    let Some(prompt) = input.get("prompt").and_then(Value::as_str) else {
        return Err(error(
            "invalid_input",
            format!("core.ask needs `prompt`, a string; got {input}"),
        ));
    };
    let schema = input.get("schema").cloned().unwrap_or_else(|| json!({}));
    if let Err(reason) = Schema::compile(&schema) {
        return Err(error(
            "invalid_input",
            format!("the `schema` of core.ask is not a usable JSON Schema: {reason}"),
        ));
    }
    Ok(Question {
        prompt: prompt.to_owned(),
        schema,
    })
}

/// An error value as the machine and `orch runs show` see it.
pub fn error(code: &str, message: String) -> Value {
    json!({"code": code, "message": message, "retryable": false})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_builtins_packs_and_workflows() {
        assert_eq!(classify("core.echo"), ActionKind::Pure(Pure::Echo));
        assert_eq!(classify("core.nope"), ActionKind::UnknownCore);
        assert_eq!(classify("child"), ActionKind::Workflow);
        assert_eq!(
            classify("text.diff"),
            ActionKind::Pack {
                pack: "text".into(),
                action: "diff".into()
            }
        );
    }

    #[test]
    fn echo_returns_its_input_and_fail_uses_the_given_code() {
        let input = json!({"a": [1, 2]});
        assert_eq!(run_pure(Pure::Echo, &input), Ok(input));
        let err = run_pure(Pure::Fail, &json!({"code": "nope", "retryable": true})).unwrap_err();
        assert_eq!(err["code"], "nope");
        assert_eq!(err["retryable"], true);
    }

    #[test]
    fn rejects_a_bad_sleep_and_a_question_without_prompt() {
        assert!(sleep_seconds(&json!({"seconds": -1})).is_err());
        assert_eq!(sleep_seconds(&json!({"seconds": 1.5})), Ok(1.5));
        assert!(question(&json!({"schema": {}})).is_err());
        assert!(question(&json!({"prompt": "ok?", "schema": {"type": 12}})).is_err());
    }
}
