//! Forms of the console built from what they fill: a `core.ask` question's JSON Schema (an
//! object of booleans, strings, enums, numbers) and a workflow's declared inputs; and the
//! posted fields turned back into JSON. What a form cannot express (nested objects, arrays) is
//! a JSON text area; the engine then checks the answer against the schema exactly as `orch
//! runs respond` does, so the form never decides what is valid.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// How a field is typed in.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A line of text.
    Text,
    /// A number (`integer` when whole).
    Number {
        /// Whole numbers only.
        integer: bool,
    },
    /// Yes or no.
    Boolean,
    /// One of these (a JSON Schema `enum` of strings).
    Choice(Vec<String>),
    /// JSON typed by hand.
    Json,
}

/// One field.
#[derive(Debug, Clone)]
pub struct Field {
    /// The form field's name (the property's name).
    pub name: String,
    /// How it is typed in.
    pub kind: Kind,
    /// Whether the schema requires it.
    pub required: bool,
    /// The property's title or description.
    pub help: String,
    /// A default shown (not submitted unless kept).
    pub placeholder: String,
}

impl Field {
    /// The field's HTML `input` type.
    pub fn input_type(&self) -> &'static str {
        match self.kind {
            Kind::Number { .. } => "number",
            _ => "text",
        }
    }

    /// `step` of a number input.
    pub fn step(&self) -> &'static str {
        match self.kind {
            Kind::Number { integer: true } => "1",
            _ => "any",
        }
    }

    /// Whether it is a yes/no.
    pub fn is_boolean(&self) -> bool {
        self.kind == Kind::Boolean
    }

    /// Whether it is a choice.
    pub fn choices(&self) -> &[String] {
        match &self.kind {
            Kind::Choice(c) => c,
            _ => &[],
        }
    }

    /// Whether it is JSON typed by hand.
    pub fn is_json(&self) -> bool {
        self.kind == Kind::Json
    }
}

/// The names an object schema's `required` lists.
pub fn required(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The fields of an object schema, or `None` when the schema is not an object of named
/// properties (the answer is then one JSON text).
pub fn fields_of(schema: &Value) -> Option<Vec<Field>> {
    let props = schema.get("properties")?.as_object()?;
    let required = required(schema);
    Some(
        props
            .iter()
            .map(|(name, p)| {
                let enum_strings: Option<Vec<String>> = p.get("enum").and_then(|e| {
                    e.as_array()?
                        .iter()
                        .map(|v| v.as_str().map(str::to_owned))
                        .collect()
                });
                let kind = match (enum_strings, p.get("type").and_then(Value::as_str)) {
                    (Some(choices), _) => Kind::Choice(choices),
                    (None, Some("boolean")) => Kind::Boolean,
                    (None, Some("integer")) => Kind::Number { integer: true },
                    (None, Some("number")) => Kind::Number { integer: false },
                    (None, Some("string")) => Kind::Text,
                    _ => Kind::Json,
                };
                let help = p
                    .get("description")
                    .or_else(|| p.get("title"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let placeholder = p
                    .get("default")
                    .map(|d| match d {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .unwrap_or_default();
                Field {
                    name: name.clone(),
                    kind,
                    required: required.contains(&name.as_str()),
                    help,
                    placeholder,
                }
            })
            .collect(),
    )
}

/// The JSON a form of `fields` posted as `values` (field names prefixed with `prefix`). An empty
/// field is left out (the schema's default or requirement then decides); a yes/no field is
/// `true` when posted as `true` or `on`, else `false`; numbers must parse.
pub fn value_of(
    fields: &[Field],
    values: &HashMap<String, String>,
    prefix: &str,
) -> Result<Value, String> {
    let mut out = Map::new();
    for f in fields {
        let raw = values
            .get(&format!("{prefix}{}", f.name))
            .map(|s| s.trim())
            .unwrap_or("");
        let value = match &f.kind {
            Kind::Boolean => Value::Bool(matches!(raw, "true" | "on" | "yes")),
            _ if raw.is_empty() => continue,
            Kind::Text | Kind::Choice(_) => Value::String(raw.to_owned()),
            Kind::Number { integer } => {
                let n: f64 = raw
                    .parse()
                    .map_err(|_| format!("{}: {raw:?} is not a number", f.name))?;
                if *integer {
                    if n.fract() != 0.0 {
                        return Err(format!("{}: {raw:?} is not a whole number", f.name));
                    }
                    Value::from(n as i64)
                } else {
                    serde_json::Number::from_f64(n)
                        .map(Value::Number)
                        .ok_or_else(|| format!("{}: {raw:?} is not a number", f.name))?
                }
            }
            Kind::Json => {
                serde_json::from_str(raw).map_err(|e| format!("{}: not JSON ({e})", f.name))?
            }
        };
        out.insert(f.name.clone(), value);
    }
    Ok(Value::Object(out))
}

/// A workflow input typed in a form: JSON when it parses (`3`, `true`, `["a"]`), else the text,
/// as `orch run -i name=value` reads it; an empty field is left out (its default applies).
pub fn input_value(raw: &str) -> Option<Value> {
    if raw.trim().is_empty() {
        return None;
    }
    Some(serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_question_schema_becomes_typed_fields_and_posted_values_become_its_answer() {
        let schema = json!({
            "type": "object",
            "required": ["keep"],
            "properties": {
                "keep": {"type": "boolean", "description": "keep the change?"},
                "reason": {"type": "string"},
                "level": {"enum": ["low", "high"]},
                "count": {"type": "integer", "default": 3},
                "extra": {"type": "object"}
            }
        });
        let fields = fields_of(&schema).expect("an object");
        let kind = |n: &str| fields.iter().find(|f| f.name == n).unwrap().kind.clone();
        assert_eq!(kind("keep"), Kind::Boolean);
        assert_eq!(
            kind("level"),
            Kind::Choice(vec!["low".into(), "high".into()])
        );
        assert_eq!(kind("count"), Kind::Number { integer: true });
        assert_eq!(kind("extra"), Kind::Json);
        assert!(fields.iter().find(|f| f.name == "keep").unwrap().required);
        let posted: HashMap<String, String> = [
            ("a.keep", "true"),
            ("a.reason", " drift is fine "),
            ("a.count", "4"),
            ("a.extra", r#"{"x": 1}"#),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            value_of(&fields, &posted, "a.").unwrap(),
            json!({"keep": true, "reason": "drift is fine", "count": 4, "extra": {"x": 1}})
        );
        let mut bad = posted.clone();
        bad.insert("a.count".into(), "4.5".into());
        assert!(
            value_of(&fields, &bad, "a.")
                .unwrap_err()
                .contains("whole number")
        );
        // An unchecked box is false, not missing.
        assert_eq!(
            value_of(&fields, &HashMap::new(), "a.").unwrap()["keep"],
            false
        );
        assert!(fields_of(&json!({"type": "string"})).is_none());
    }

    #[test]
    fn workflow_inputs_read_as_the_cli_reads_them() {
        assert_eq!(input_value("3"), Some(json!(3)));
        assert_eq!(input_value("R1"), Some(json!("R1")));
        assert_eq!(input_value("[\"a\"]"), Some(json!(["a"])));
        assert_eq!(input_value("  "), None);
    }
}
