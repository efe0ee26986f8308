//! [`Context`]: where an invocation comes from (run, task, attempt, idempotency key) and the
//! handler's logger.

use std::cell::RefCell;

use crate::log::Level;

/// Where an invocation comes from, and a logger into the run's record. Passed to every handler.
///
/// ```
/// use orch_sdk::{ActionError, Context};
///
/// fn open_ticket(_input: (), ctx: &Context) -> Result<String, ActionError> {
///     ctx.info("opening ticket");
///     // The key is stable across retries of the same step: the remote side can deduplicate.
///     Ok(format!("ticket for {}", ctx.idempotency_key()))
/// }
///
/// let ctx = Context::for_tests();
/// assert_eq!(open_ticket((), &ctx).unwrap(), "ticket for test-key");
/// assert_eq!(ctx.logs()[0].message, "opening ticket");
/// ```
#[derive(Debug)]
pub struct Context {
    run_id: String,
    task: String,
    attempt: u32,
    idempotency_key: String,
    sink: Sink,
}

/// Where log lines go: the host in a real invocation, memory in native tests (the host import
/// cannot be called outside a WebAssembly host).
#[derive(Debug)]
enum Sink {
    Host,
    Memory(RefCell<Vec<LogRecord>>),
}

/// One log line kept by a [`Context::for_tests`] context.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LogRecord {
    /// Severity.
    pub level: Level,
    /// The message.
    pub message: String,
    /// The fields document as the host would receive it, if any.
    pub fields: Option<serde_json::Value>,
}

impl Context {
    pub(crate) fn new(run_id: String, task: String, attempt: u32, idempotency_key: String) -> Self {
        Self {
            run_id,
            task,
            attempt,
            idempotency_key,
            sink: Sink::Host,
        }
    }

    /// A context for running handlers natively, outside a host (unit tests): run id `test-run`,
    /// task `test-task`, attempt 1, idempotency key `test-key`; log lines are kept in memory and
    /// read back with [`logs`](Self::logs).
    pub fn for_tests() -> Self {
        Self {
            run_id: "test-run".to_owned(),
            task: "test-task".to_owned(),
            attempt: 1,
            idempotency_key: "test-key".to_owned(),
            sink: Sink::Memory(RefCell::new(Vec::new())),
        }
    }

    /// The workflow run this invocation belongs to (empty for `orch action run`).
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The task of the run (empty for `orch action run`).
    pub fn task(&self) -> &str {
        &self.task
    }

    /// Attempt number, starting at 1; retries of the same step increase it.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Stable across every attempt of the same logical step: use it to make side effects
    /// idempotent (for example as a ticket's correlation id).
    pub fn idempotency_key(&self) -> &str {
        &self.idempotency_key
    }

    /// Records one log line with structured `fields` (a JSON object; `null` for none).
    pub fn log(&self, level: Level, message: &str, fields: serde_json::Value) {
        self.write(level, message, &fields);
    }

    /// Records one line at [`Level::Trace`].
    pub fn trace(&self, message: &str) {
        self.write(Level::Trace, message, &serde_json::Value::Null);
    }

    /// Records one line at [`Level::Debug`].
    pub fn debug(&self, message: &str) {
        self.write(Level::Debug, message, &serde_json::Value::Null);
    }

    /// Records one line at [`Level::Info`].
    pub fn info(&self, message: &str) {
        self.write(Level::Info, message, &serde_json::Value::Null);
    }

    /// Records one line at [`Level::Warn`].
    pub fn warn(&self, message: &str) {
        self.write(Level::Warn, message, &serde_json::Value::Null);
    }

    /// Records one line at [`Level::Error`].
    pub fn error(&self, message: &str) {
        self.write(Level::Error, message, &serde_json::Value::Null);
    }

    /// The lines logged so far through a [`for_tests`](Self::for_tests) context; empty for a
    /// context given by the host, whose lines go to the run's record.
    pub fn logs(&self) -> Vec<LogRecord> {
        match &self.sink {
            Sink::Host => Vec::new(),
            Sink::Memory(lines) => lines.borrow().clone(),
        }
    }

    fn write(&self, level: Level, message: &str, fields: &serde_json::Value) {
        match &self.sink {
            Sink::Host => crate::log::write(level, message, fields),
            Sink::Memory(lines) => lines.borrow_mut().push(LogRecord {
                level,
                message: message.to_owned(),
                // Recorded as the host would see it, so tests catch a non-object `fields`.
                fields: crate::log::fields_json(fields)
                    .and_then(|json| serde_json::from_str(&json).ok()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_context_keeps_lines_with_levels_and_fields() {
        let ctx = Context::for_tests();
        ctx.warn("slow device");
        ctx.log(
            Level::Error,
            "failed",
            serde_json::json!({ "device": "r1" }),
        );
        let logs = ctx.logs();
        assert_eq!(logs.len(), 2);
        assert_eq!(
            (logs[0].level, logs[0].fields.as_ref()),
            (Level::Warn, None)
        );
        assert_eq!(logs[1].level, Level::Error);
        assert_eq!(logs[1].fields, Some(serde_json::json!({ "device": "r1" })));
    }

    #[test]
    fn host_context_exposes_the_call_context() {
        let ctx = Context::new("run-1".into(), "backup".into(), 2, "key-9".into());
        assert_eq!(
            (
                ctx.run_id(),
                ctx.task(),
                ctx.attempt(),
                ctx.idempotency_key()
            ),
            ("run-1", "backup", 2, "key-9")
        );
        assert!(ctx.logs().is_empty());
    }
}
