//! Orquesta's `key=value` shorthand: inline action arguments (`action: core.echo message="hi"`)
//! and the string form of `publish` (`publish: a=<% result() %> b="done"`).
//!
//! Orquesta finds the pairs with one regular expression (`orquesta/utils/parameters.py`) and then
//! converts each value; the same expression and conversion are reproduced here so a workflow means
//! what it means under Orquesta, quirks included (a quoted value stays a string, `[...]` is read
//! greedily up to the last `]`). One difference, on purpose: Orquesta silently skips text that is
//! not a pair (`message=hello`, unquoted, is no pair at all, and the whole string becomes the
//! action's name); here such text is an error that says what to quote.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// The value alternatives in Orquesta's order (a float before an integer; brackets, quotes, then
/// scalars, then the two expression forms).
static PAIR: LazyLock<Regex> = LazyLock::new(|| {
    let values = [
        r"\[.*\]\s*",
        r#""[^"]*"\s*"#,
        r"'[^']*'\s*",
        r"-?\d*\.\d+",
        r"-?\d+",
        r"(?i:true)",
        r"(?i:false)",
        r"null",
        r"\{\{.*?\}\}",
        r"<%.*?%>",
    ];
    // The alternatives are fixed text: this cannot fail.
    #[expect(
        clippy::unwrap_used,
        reason = "a constant pattern, checked by the unit tests"
    )]
    Regex::new(&format!(r"(\w+)=({})", values.join("|"))).unwrap()
});

static IN_DOUBLE_QUOTES: LazyLock<Regex> = LazyLock::new(|| {
    #[expect(
        clippy::unwrap_used,
        reason = "a constant pattern, checked by the unit tests"
    )]
    Regex::new(r#""[^"]*"\s*"#).unwrap()
});

static IN_SINGLE_QUOTES: LazyLock<Regex> = LazyLock::new(|| {
    #[expect(
        clippy::unwrap_used,
        reason = "a constant pattern, checked by the unit tests"
    )]
    Regex::new(r"'[^']*'\s*").unwrap()
});

/// One `key=value` pair, its value converted as Orquesta converts it. A string value may still
/// hold `<% %>` / `{{ }}` expressions: the caller turns it into a template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pair {
    pub key: String,
    pub value: Value,
}

/// Reads every `key=value` pair of `s`, in order. Text between or around the pairs other than
/// whitespace is an error naming it.
pub(crate) fn pairs(s: &str) -> Result<Vec<Pair>, String> {
    let mut out = Vec::new();
    let mut last = 0;
    for cap in PAIR.captures_iter(s) {
        let (Some(whole), Some(key), Some(value)) = (cap.get(0), cap.get(1), cap.get(2)) else {
            continue;
        };
        stray(&s[last..whole.start()])?;
        last = whole.end();
        out.push(Pair {
            key: key.as_str().to_string(),
            value: convert(value.as_str()),
        });
    }
    stray(&s[last..])?;
    Ok(out)
}

fn stray(text: &str) -> Result<(), String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(());
    }
    let hint = if text.contains('=') {
        "; a value must be quoted (\"…\" or '…'), a number, true, false, null, a [list] or one \
         <% … %> / {{ … }} expression"
    } else {
        "; write pairs as key=value"
    };
    Err(format!("cannot read `{text}` as a key=value pair{hint}"))
}

/// Orquesta's conversion: strip one pair of quotes; a value that was not quoted (or is a quoted
/// JSON object) is read as JSON when it parses, otherwise kept as text.
fn convert(raw: &str) -> Value {
    let v = raw.trim();
    let quoted = IN_DOUBLE_QUOTES.is_match(v) || IN_SINGLE_QUOTES.is_match(v);
    let v = v.strip_prefix('"').unwrap_or(v);
    let v = v.strip_suffix('"').unwrap_or(v);
    let v = v.strip_prefix('\'').unwrap_or(v);
    let v = v.strip_suffix('\'').unwrap_or(v);
    let object = v.starts_with('{') && v.ends_with('}');
    let keep_text = !v.is_empty() && quoted && !object;
    if !keep_text {
        let lowered;
        let candidate = if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
            lowered = v.to_ascii_lowercase();
            lowered.as_str()
        } else {
            v
        };
        if let Ok(parsed) = serde_json::from_str::<Value>(candidate) {
            return parsed;
        }
    }
    Value::String(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(s: &str) -> Vec<(String, Value)> {
        pairs(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .into_iter()
            .map(|p| (p.key, p.value))
            .collect()
    }

    #[test]
    fn reads_values_as_orquesta_does() {
        assert_eq!(
            read(r#"a=1 b=-2.5 c=True d=null e="x y" f='z' g=[1, 2] "#),
            vec![
                ("a".into(), json!(1)),
                ("b".into(), json!(-2.5)),
                ("c".into(), json!(true)),
                ("d".into(), Value::Null),
                ("e".into(), json!("x y")),
                ("f".into(), json!("z")),
                ("g".into(), json!([1, 2])),
            ]
        );
    }

    #[test]
    fn quoted_values_stay_text_unless_they_are_objects() {
        assert_eq!(
            read(r#"n="3" o='{"k": 1}' l=["a", "b"]"#),
            vec![
                ("n".into(), json!("3")),
                ("o".into(), json!({"k": 1})),
                // Orquesta's quirk: a list holding quoted strings is not read as JSON.
                ("l".into(), json!(r#"["a", "b"]"#)),
            ]
        );
    }

    #[test]
    fn expressions_are_values_up_to_their_closing_delimiter() {
        assert_eq!(
            read("message=<% item(member), item(message) %> other={{ ctx().x }}"),
            vec![
                ("message".into(), json!("<% item(member), item(message) %>")),
                ("other".into(), json!("{{ ctx().x }}")),
            ]
        );
        assert_eq!(
            read(r#"m="<% item() %>, resistance is futile!""#),
            vec![("m".into(), json!("<% item() %>, resistance is futile!"))]
        );
    }

    #[test]
    fn text_that_is_no_pair_is_an_error() {
        let e = pairs("message=hello").expect_err("unquoted word");
        assert!(e.contains("`message=hello`") && e.contains("quoted"), "{e}");
        let e = pairs("a=<% ctx().x %> <% result() %>").expect_err("trailing expression");
        assert!(e.contains("`<% result() %>`"), "{e}");
        assert_eq!(read("  "), vec![]);
    }
}
