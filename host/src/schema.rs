//! JSON Schema checks of action inputs and outputs (and of the schemas packs declare).
//!
//! The validator is built without remote or file `$ref` resolution: a schema comes from a pack,
//! and a pack must not be able to make the host fetch anything. Nor work for minutes: what a
//! check may cost is bounded first ([`cost`]).

pub mod cost;

use std::fmt;

use serde_json::Value;

/// A compiled schema.
pub struct Schema {
    validator: jsonschema::Validator,
    document: Value,
}

/// One way an input fails its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON Pointer to the offending value (`/devices/2/port`); empty for the document itself.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

/// An input that fails the action's schema, with every violation.
#[derive(Debug, thiserror::Error)]
pub struct InputRejected {
    /// `pack.action` whose schema was checked.
    pub action: String,
    /// Each violation, in document order.
    pub violations: Vec<Violation>,
    /// Why the input was refused without being checked (the check would cost too much).
    pub unchecked: Option<String>,
}

impl fmt::Display for InputRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(reason) = &self.unchecked {
            return write!(
                f,
                "input of {} was refused unchecked: {reason}; see the schema with: orch pack \
                 show {}",
                self.action,
                pack_of(&self.action)
            );
        }
        let count = self.violations.len();
        write!(
            f,
            "input of {} does not match its schema ({count} violation{}):",
            self.action,
            if count == 1 { "" } else { "s" }
        )?;
        write_violations(f, &self.violations)?;
        write!(
            f,
            "\nsee the schema with: orch pack show {}",
            pack_of(&self.action)
        )
    }
}

fn pack_of(action: &str) -> &str {
    action.split_once('.').map_or(action, |(pack, _)| pack)
}

impl Schema {
    /// Compiles `schema`; the error says why it is not a usable JSON Schema, or one whose
    /// checks the host cannot bound.
    pub fn compile(schema: &Value) -> Result<Self, String> {
        cost::check_static(schema)?;
        jsonschema::options()
            .should_validate_formats(true)
            .build(schema)
            .map(|validator| Self {
                validator,
                document: schema.clone(),
            })
            .map_err(|err| err.to_string())
    }

    /// Checks `input`, collecting every violation; refuses it unchecked when the check would
    /// cost more than the host allows.
    pub fn check(&self, action: &str, input: &Value) -> Result<(), InputRejected> {
        match self.violations(input) {
            Ok(violations) if violations.is_empty() => Ok(()),
            Ok(violations) => Err(InputRejected {
                action: action.to_owned(),
                violations,
                unchecked: None,
            }),
            Err(reason) => Err(InputRejected {
                action: action.to_owned(),
                violations: Vec::new(),
                unchecked: Some(reason),
            }),
        }
    }

    /// Checks what `action` returned against the output schema it declared. Outputs are checked
    /// like inputs: a pack whose schema says `string` where it returns `null` misleads every
    /// workflow (and console form) built on that schema.
    pub fn check_output(&self, action: &str, output: &Value) -> Result<(), OutputMismatch> {
        match self.violations(output) {
            Ok(violations) if violations.is_empty() => Ok(()),
            Ok(violations) => Err(OutputMismatch {
                action: action.to_owned(),
                violations,
                unchecked: None,
            }),
            Err(reason) => Err(OutputMismatch {
                action: action.to_owned(),
                violations: Vec::new(),
                unchecked: Some(reason),
            }),
        }
    }

    /// Every way `value` fails the schema, in document order (at most [`MAX_VIOLATIONS`], each
    /// message at most [`MAX_VIOLATION_TEXT`] bytes: a message quotes the offending value, which
    /// may be megabytes); `Err` when the check would cost more than the host allows.
    fn violations(&self, value: &Value) -> Result<Vec<Violation>, String> {
        cost::evaluation_cost(&self.document, value)?;
        Ok(self
            .validator
            .iter_errors(value)
            .take(MAX_VIOLATIONS)
            .map(|err| {
                let mut message = err.to_string();
                if message.len() > MAX_VIOLATION_TEXT {
                    let end = (0..=MAX_VIOLATION_TEXT)
                        .rev()
                        .find(|&i| message.is_char_boundary(i))
                        .unwrap_or(0);
                    message.truncate(end);
                    message.push('…');
                }
                Violation {
                    path: err.instance_path().to_string(),
                    message,
                }
            })
            .collect())
    }
}

/// Violations listed per check: enough to fix a document, bounded for terminals and the journal.
const MAX_VIOLATIONS: usize = 20;
/// Bytes of one violation's message.
const MAX_VIOLATION_TEXT: usize = 400;

/// An action's output that does not match the output schema its pack declared: the pack's
/// fault, reported as the action's `invalid_output` error (never retried).
#[derive(Debug, thiserror::Error)]
pub struct OutputMismatch {
    /// `pack.action` whose output was checked.
    pub action: String,
    /// Each violation, in document order.
    pub violations: Vec<Violation>,
    /// Why the output was refused without being checked (the check would cost too much).
    pub unchecked: Option<String>,
}

impl fmt::Display for OutputMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pack = pack_of(&self.action);
        if let Some(reason) = &self.unchecked {
            write!(
                f,
                "output of {} was refused unchecked against its declared schema: {reason}",
                self.action
            )?;
        } else {
            write!(
                f,
                "output of {} does not match the output schema its pack declares:",
                self.action
            )?;
            write_violations(f, &self.violations)?;
        }
        write!(
            f,
            "\nthe pack is at fault: report it to its vendor (a vendor finds this before \
             shipping with: orch pack check FILE); the schema: orch pack show {pack}"
        )
    }
}

fn write_violations(f: &mut fmt::Formatter<'_>, violations: &[Violation]) -> fmt::Result {
    for violation in violations {
        let path = if violation.path.is_empty() {
            "/"
        } else {
            &violation.path
        };
        write!(f, "\n  at {path}: {}", violation.message)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn device_schema() -> Schema {
        Schema::compile(&json!({
            "type": "object",
            "properties": {
                "name": { "type": "string" },
                "port": { "type": "integer", "minimum": 1, "maximum": 65535 }
            },
            "required": ["name"],
            "additionalProperties": false
        }))
        .unwrap()
    }

    #[test]
    fn lists_every_violation_with_its_path() {
        let err = device_schema()
            .check("netdev.get", &json!({ "port": 70000, "extra": true }))
            .unwrap_err();
        let paths: Vec<&str> = err.violations.iter().map(|v| v.path.as_str()).collect();
        assert!(paths.contains(&"/port"), "{paths:?}");
        assert!(paths.contains(&""), "{paths:?}");
        assert_eq!(err.violations.len(), 3, "{err}");
        let text = err.to_string();
        assert!(text.contains("input of netdev.get does not match its schema (3 violations)"));
        assert!(
            text.contains("at /port: 70000 is greater than the maximum of 65535"),
            "{text}"
        );
    }

    #[test]
    fn accepts_a_valid_input() {
        assert!(
            device_schema()
                .check("x.y", &json!({ "name": "r1", "port": 22 }))
                .is_ok()
        );
    }

    #[test]
    fn refuses_schemas_that_reference_remote_documents() {
        let schema = json!({ "$ref": "https://example.com/schema.json" });
        assert!(Schema::compile(&schema).is_err());
    }

    #[test]
    fn refuses_something_that_is_not_a_schema() {
        assert!(Schema::compile(&json!({ "type": 12 })).is_err());
    }
}
