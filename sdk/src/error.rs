//! [`ActionError`]: how an action reports failure to the host, and the conversions that let
//! handlers use `?`.

use std::borrow::Cow;
use std::fmt;

/// An action's failure, as the pack reports it to the host.
///
/// The `code` is machine-readable snake_case that workflows branch on (`timeout`, `not_found`,
/// `auth_failed`, `invalid_input`); the `message` is for people and should say what failed and,
/// where there is one, the fix. Errors are not retryable unless marked with
/// [`retryable`](Self::retryable).
///
/// ```
/// use orch_sdk::ActionError;
///
/// let err = ActionError::new("not_found", "device \"r1\" is not in the inventory")
///     .with_details(serde_json::json!({ "device": "r1" }));
/// assert_eq!(err.code(), "not_found");
/// assert!(!err.is_retryable());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ActionError {
    pub(crate) code: Cow<'static, str>,
    pub(crate) message: String,
    pub(crate) retryable: bool,
    pub(crate) details: Option<serde_json::Value>,
}

impl ActionError {
    /// Code of an input that does not match the action's input type.
    pub const INVALID_INPUT: &'static str = "invalid_input";
    /// Code of a call to an action the pack does not have.
    pub const UNKNOWN_ACTION: &'static str = "unknown_action";
    /// Code of an output that could not be serialised to JSON: a bug in the pack.
    pub const INVALID_OUTPUT: &'static str = "invalid_output";

    /// A non-retryable error with a snake_case `code` and a human-readable `message`.
    pub fn new(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            retryable: false,
            details: None,
        }
    }

    /// An [`INVALID_INPUT`](Self::INVALID_INPUT) error: the caller must change the input.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(Self::INVALID_INPUT, message)
    }

    /// Marks the error as one that may succeed if tried again later (a timeout, a 503).
    #[must_use]
    pub fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }

    /// Attaches structured details, stored with the run as a JSON document.
    #[must_use]
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The machine-readable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// The structured details, if any.
    pub fn details(&self) -> Option<&serde_json::Value> {
        self.details.as_ref()
    }
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ActionError {}

/// JSON a handler parses with `?` almost always comes from its input (an embedded document, a
/// field holding JSON), so a syntax or data error is `invalid_input`; an I/O error cannot come
/// from input and is reported as `internal`.
impl From<serde_json::Error> for ActionError {
    fn from(err: serde_json::Error) -> Self {
        match err.classify() {
            serde_json::error::Category::Io => Self::new("internal", format!("json i/o: {err}")),
            _ => Self::invalid_input(format!("invalid json: {err}")),
        }
    }
}

/// `fmt::Write` into a `String` only fails inside a broken `Display` impl: a bug in the pack.
impl From<fmt::Error> for ActionError {
    fn from(_: fmt::Error) -> Self {
        Self::new("internal", "formatting a value failed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_sets_retryable_and_details() {
        let err = ActionError::new("timeout", "device did not answer")
            .retryable()
            .with_details(serde_json::json!({ "after_ms": 5000 }));
        assert_eq!(err.code(), "timeout");
        assert!(err.is_retryable());
        assert_eq!(
            err.details(),
            Some(&serde_json::json!({ "after_ms": 5000 }))
        );
        assert_eq!(err.to_string(), "timeout: device did not answer");
    }

    #[test]
    fn json_syntax_error_converts_to_invalid_input() {
        let parse = serde_json::from_str::<serde_json::Value>("{").map(|_| ());
        let err = ActionError::from(parse.expect_err("truncated json must not parse"));
        assert_eq!(err.code(), ActionError::INVALID_INPUT);
        assert!(err.message().starts_with("invalid json: "));
        assert!(!err.is_retryable());
    }
}
