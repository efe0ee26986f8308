//! Structured logging into the run's record through the host's `log` import. Lines are stored with
//! the run and shown by `orch runs logs`; the host masks secrets and caps lines per invocation.
//!
//! Prefer the methods on [`Context`](crate::Context) inside handlers: in native unit tests a
//! [`Context::for_tests`](crate::Context::for_tests) keeps their lines for the test to read. The
//! free functions here call the host; in a native build they go to the thread's
//! [`TestHost`](crate::testing::TestHost) (read with `logs()`), or to stderr when there is none.

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Fine-grained detail for pack developers.
    Trace,
    /// Detail useful when debugging a run.
    Debug,
    /// Normal progress.
    Info,
    /// Something unexpected that the action handled.
    Warn,
    /// A failure.
    Error,
}

/// Records one line with optional structured `fields`.
///
/// `fields` should be a JSON object; `null` means no fields, and any other value is sent as
/// `{"value": ...}` so the host always receives an object.
pub fn write(level: Level, message: &str, fields: &serde_json::Value) {
    let fields = fields_json(fields);
    crate::__private::write_log(level, message, fields.as_deref());
}

/// Records one line at [`Level::Trace`].
pub fn trace(message: &str) {
    crate::__private::write_log(Level::Trace, message, None);
}

/// Records one line at [`Level::Debug`].
pub fn debug(message: &str) {
    crate::__private::write_log(Level::Debug, message, None);
}

/// Records one line at [`Level::Info`].
pub fn info(message: &str) {
    crate::__private::write_log(Level::Info, message, None);
}

/// Records one line at [`Level::Warn`].
pub fn warn(message: &str) {
    crate::__private::write_log(Level::Warn, message, None);
}

/// Records one line at [`Level::Error`].
pub fn error(message: &str) {
    crate::__private::write_log(Level::Error, message, None);
}

/// The `fields` document the host receives: always an object, or nothing.
pub(crate) fn fields_json(fields: &serde_json::Value) -> Option<String> {
    match fields {
        serde_json::Value::Null => None,
        serde_json::Value::Object(_) => Some(fields.to_string()),
        other => Some(serde_json::json!({ "value": other }).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn null_fields_send_nothing() {
        assert_eq!(fields_json(&serde_json::Value::Null), None);
    }

    #[test]
    fn object_fields_are_sent_as_is() {
        assert_eq!(
            fields_json(&json!({ "device": "r1" })).as_deref(),
            Some(r#"{"device":"r1"}"#)
        );
    }

    #[test]
    fn non_object_fields_are_wrapped_in_an_object() {
        assert_eq!(fields_json(&json!(3)).as_deref(), Some(r#"{"value":3}"#));
    }
}
