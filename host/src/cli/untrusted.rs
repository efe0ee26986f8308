//! Text that came from a pack or a remote device, made safe to print on a terminal.
//!
//! A pack chooses its vendor, descriptions, destination reasons, log lines, action errors and
//! what it writes to stderr, and a device chooses what it answers; printed raw, control
//! characters in them act on the operator's terminal: a window title, a cleared line, a forged
//! `error:` line, text concealed with SGR 8 over the real grant prompt, a right-to-left override
//! that reorders what is read. Every human-facing print of such text goes through [`line`]
//! (one line: every control character shown as an escape) or [`block`] (line breaks kept, each
//! continuation line indented so it cannot pass for a line of orch's own). JSON goes through
//! [`write_json`]: its encoder escapes control characters but leaves the Unicode ones that
//! reorder or hide text, which it writes as `\uXXXX` escapes instead (still the same JSON).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as is: C0 and C1 controls, DEL, and the Unicode
/// controls that reorder or hide text (bidirectional overrides and isolates, line and paragraph
/// separators, zero-width characters, the byte-order mark).
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}'
        )
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// `text` on one line: every control character (line breaks and tabs included) shown as an
/// escape (`\n`, `\x1b`, `\u{202e}`).
pub fn line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `text` over several lines: line breaks kept, every continuation line indented by `indent`
/// (so none starts where orch's own lines do), every other control character escaped. A
/// `\r\n` counts as one line break.
pub fn block<'a>(text: &'a str, indent: &str) -> Cow<'a, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut lines = text.split('\n').peekable();
    while let Some(part) = lines.next() {
        let part = part.strip_suffix('\r').unwrap_or(part);
        for c in part.chars() {
            if c != '\t' && is_unsafe(c) {
                push_escaped(&mut out, c);
            } else {
                out.push(c);
            }
        }
        if lines.peek().is_some() {
            out.push('\n');
            out.push_str(indent);
        }
    }
    Cow::Owned(out)
}

/// JSON text (as serde_json writes it) with every character that must not reach a terminal
/// written as a `\uXXXX` escape. Outside strings JSON holds only whitespace and punctuation, so
/// the result is the same JSON document.
pub fn json(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && is_unsafe(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c != '\n' && is_unsafe(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Writes `value` as pretty JSON and a newline, safe for a terminal (see [`json`]).
pub fn write_json(
    out: &mut impl std::io::Write,
    value: &impl serde::Serialize,
) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    writeln!(out, "{}", json(&text))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ATTACK: &str =
        "ok\u{1b}]0;pwned\u{7}\u{1b}[8mhidden\u{1b}[0m\r\u{1b}[2K\nerror: forged\u{202e}";

    #[test]
    fn one_line_shows_every_control_character_as_an_escape() {
        assert_eq!(line("plain text, é ü"), "plain text, é ü");
        let shown = line(ATTACK);
        assert!(!shown.chars().any(is_unsafe), "{shown}");
        assert_eq!(
            shown,
            "ok\\x1b]0;pwned\\x07\\x1b[8mhidden\\x1b[0m\\r\\x1b[2K\\nerror: forged\\u{202e}"
        );
    }

    #[test]
    fn json_keeps_its_meaning_and_loses_its_controls() {
        let value = serde_json::json!({ "m": "a\u{1b}[2K\u{202e}b\nc" });
        let mut out = Vec::new();
        write_json(&mut out, &value).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.chars().any(|c| c != '\n' && is_unsafe(c)), "{text}");
        assert!(text.contains("\\u202e"), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn a_block_keeps_line_breaks_but_indents_every_continuation_line() {
        assert_eq!(block("one line", "  "), "one line");
        assert_eq!(block("one\ntwo", "  "), "one\n  two");
        let shown = block(ATTACK, "    ");
        assert!(shown.chars().all(|c| c == '\n' || !is_unsafe(c)), "{shown}");
        assert!(shown.contains("\n    error: forged"), "{shown}");
        assert!(!shown.contains("\nerror:"), "{shown}");
        assert_eq!(block("a\r\nb\u{7}", "  "), "a\n  b\\x07");
    }
}
