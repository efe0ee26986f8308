//! `orch:pack/log`: structured log lines from a pack, kept with the invocation's outcome.
//!
//! A pack controls how much it logs, so the capability caps lines and their size: past the caps
//! lines are counted, not kept, and the host's memory stays bounded.

use serde::Serialize;

use crate::contract::LogLevel;
use crate::contract::orch::pack::log::Host;

/// Lines kept per invocation.
pub const MAX_LINES: usize = 1_000;
/// Bytes kept of one message; longer messages are cut at a character boundary.
pub const MAX_MESSAGE_BYTES: usize = 4 << 10;
/// Bytes of a line's structured fields kept; larger field sets are dropped with a marker.
pub const MAX_FIELDS_BYTES: usize = 16 << 10;

/// One log line written by a pack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    /// Severity: `trace`, `debug`, `info`, `warn` or `error`.
    pub level: &'static str,
    /// The message, possibly cut to [`MAX_MESSAGE_BYTES`].
    pub message: String,
    /// Structured fields, when the pack gave valid JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<serde_json::Value>,
}

/// The log capability of one invocation.
#[derive(Debug, Default)]
pub struct LogCapability {
    lines: Vec<LogLine>,
    dropped: usize,
}

impl LogCapability {
    /// The capability for one invocation: it needs nothing lent, only its own buffer.
    pub fn lend(_lending: &super::Lending) -> Self {
        Self::default()
    }

    /// Records one line, applying the caps.
    pub fn record(&mut self, level: &'static str, message: &str, fields: Option<&str>) {
        if self.lines.len() >= MAX_LINES {
            self.dropped += 1;
            return;
        }
        let fields = fields.map(|raw| {
            if raw.len() > MAX_FIELDS_BYTES {
                serde_json::json!({ "orch_note": "fields dropped: larger than 16 KiB" })
            } else {
                serde_json::from_str(raw).unwrap_or_else(
                    |_| serde_json::json!({ "orch_note": "fields dropped: not valid JSON" }),
                )
            }
        });
        self.lines.push(LogLine {
            level,
            message: truncate(message, MAX_MESSAGE_BYTES),
            fields,
        });
    }

    /// Takes the lines recorded so far and the count of lines dropped past the cap.
    pub fn take(&mut self) -> (Vec<LogLine>, usize) {
        (
            std::mem::take(&mut self.lines),
            std::mem::take(&mut self.dropped),
        )
    }
}

impl Host for LogCapability {
    async fn write(&mut self, level: LogLevel, message: String, fields: Option<String>) {
        let level = level_name(level);
        tracing::debug!(target: "orch::pack", level, "{message}");
        self.record(level, &message, fields.as_deref());
    }
}

fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [cut at {max} bytes]", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_lines_up_to_the_cap_and_counts_the_rest() {
        let mut log = LogCapability::default();
        for i in 0..MAX_LINES + 5 {
            log.record("info", &format!("line {i}"), None);
        }
        let (lines, dropped) = log.take();
        assert_eq!(lines.len(), MAX_LINES);
        assert_eq!(dropped, 5);
    }

    #[test]
    fn cuts_long_messages_at_a_char_boundary() {
        let mut log = LogCapability::default();
        log.record("info", &"é".repeat(MAX_MESSAGE_BYTES), None);
        let (lines, _) = log.take();
        assert!(lines[0].message.len() < MAX_MESSAGE_BYTES + 40);
        assert!(lines[0].message.ends_with("[cut at 4096 bytes]"));
    }

    #[test]
    fn replaces_invalid_or_oversized_fields_with_a_note() {
        let mut log = LogCapability::default();
        log.record("info", "a", Some("{not json"));
        log.record("info", "b", Some(r#"{"device":"r1"}"#));
        let (lines, _) = log.take();
        assert_eq!(
            lines[0].fields.as_ref().unwrap()["orch_note"],
            "fields dropped: not valid JSON"
        );
        assert_eq!(lines[1].fields.as_ref().unwrap()["device"], "r1");
    }
}
