//! The one shape of a failed attempt: what an action (or the host on its behalf: a built-in, the
//! sandbox, a sub-workflow, a refused input) reports. It is what the machine's `result()` sees
//! after a failure, what the journal keeps and what `orch runs show` prints, so every producer
//! builds it here rather than writing its own JSON.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A failed attempt's error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionFailure {
    /// Machine-readable code in snake_case (`timeout`, `invalid_input`, `workflow_failed`).
    pub code: String,
    /// What failed and, where there is one, the fix.
    pub message: String,
    /// Whether trying again may succeed (retries without a `retry.when` rely on it).
    pub retryable: bool,
    /// Structured details, when the producer has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl ActionFailure {
    /// A failure that retrying will not fix.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            retryable: false,
            details: None,
        }
    }

    /// Marks it retryable (or not).
    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Attaches structured details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// As the machine and the journal take it.
    pub fn into_value(self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serialises_the_shape_workflows_branch_on() {
        assert_eq!(
            ActionFailure::new("nope", "it failed").into_value(),
            json!({"code": "nope", "message": "it failed", "retryable": false})
        );
        assert_eq!(
            ActionFailure::new("timeout", "slow")
                .retryable(true)
                .with_details(json!({"after_ms": 10}))
                .into_value(),
            json!({"code": "timeout", "message": "slow", "retryable": true, "details": {"after_ms": 10}})
        );
    }
}
