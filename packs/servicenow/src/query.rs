//! Encoded queries (`sysparm_query`): ServiceNow's `field=value^field2!=value2^ORDERBYfield`
//! syntax, built from a field map with values escaped, or passed through as written.

use orch_sdk::ActionError;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// The query of `find_records`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Query {
    /// An encoded query as ServiceNow writes it, passed through unchanged:
    /// `active=true^priorityIN1,2^ORDERBYDESCsys_created_on`.
    Encoded(String),
    /// Conditions ANDed together, one per field (in field-name order): a string, number or boolean value means
    /// `field=value`, a list means `fieldINa,b`, null means `fieldISEMPTY`.
    Fields(serde_json::Map<String, Value>),
}

impl Query {
    /// The encoded query.
    pub fn encode(&self) -> Result<String, ActionError> {
        match self {
            Self::Encoded(text) => Ok(text.clone()),
            Self::Fields(fields) => {
                let mut terms = Vec::with_capacity(fields.len());
                for (name, value) in fields {
                    terms.push(condition(field(name)?, value)?);
                }
                Ok(terms.join("^"))
            }
        }
    }
}

/// `field=value`, with the value escaped.
pub fn equals(field: &str, value: &str) -> String {
    format!("{field}={}", escape(value))
}

fn condition(field: &str, value: &Value) -> Result<String, ActionError> {
    match value {
        Value::Null => Ok(format!("{field}ISEMPTY")),
        Value::Array(items) => {
            let mut values = Vec::with_capacity(items.len());
            for item in items {
                let text = scalar(field, item)?;
                if text.contains(',') {
                    return Err(ActionError::invalid_input(format!(
                        "query value {text:?} of {field} contains a comma, which a list cannot \
                         carry; pass an encoded query string instead"
                    )));
                }
                values.push(escape(&text));
            }
            Ok(format!("{field}IN{}", values.join(",")))
        }
        other => Ok(equals(field, &scalar(field, other)?)),
    }
}

fn scalar(field: &str, value: &Value) -> Result<String, ActionError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(ActionError::invalid_input(format!(
            "query value of {field} must be a string, number, boolean, list or null"
        ))),
    }
}

/// `^` separates conditions; a literal one in a value is written `^^`.
fn escape(value: &str) -> String {
    value.replace('^', "^^")
}

/// Checks a field name: lowercase letters, digits, `_`, and `.` for dot-walking
/// (`caller_id.user_name`), so a name cannot smuggle an operator or another condition.
pub fn field(name: &str) -> Result<&str, ActionError> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    if valid {
        Ok(name)
    } else {
        Err(ActionError::invalid_input(format!(
            "field {name:?} is not a ServiceNow field name; use its lowercase name, such as \
             short_description"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(value: Value) -> Query {
        serde_json::from_value(value).expect("a query")
    }

    #[test]
    fn a_string_is_passed_through() {
        let query = fields(json!("active=true^ORDERBYDESCnumber"));
        assert_eq!(
            query.encode().expect("encodes"),
            "active=true^ORDERBYDESCnumber"
        );
    }

    #[test]
    fn fields_become_anded_conditions_sorted_by_name() {
        let query = fields(json!({
            "active": true,
            "priority": 1,
            "state": ["1", "2"],
            "assigned_to": null,
            "caller_id.user_name": "ops"
        }));
        assert_eq!(
            query.encode().expect("encodes"),
            "active=true^assigned_toISEMPTY^caller_id.user_name=ops^priority=1^stateIN1,2"
        );
    }

    #[test]
    fn carets_in_values_are_escaped() {
        assert_eq!(equals("correlation_id", "a^b"), "correlation_id=a^^b");
        let query = fields(json!({ "short_description": "x^ORDERBYnumber" }));
        assert_eq!(
            query.encode().expect("encodes"),
            "short_description=x^^ORDERBYnumber"
        );
    }

    #[test]
    fn field_names_cannot_carry_operators() {
        for bad in ["active=true^x", "Active", "", "a b"] {
            let query = Query::Fields([(bad.to_owned(), json!("1"))].into_iter().collect());
            let err = query.encode().expect_err(bad);
            assert_eq!(err.code(), ActionError::INVALID_INPUT, "{bad}");
        }
    }

    #[test]
    fn objects_and_commas_in_lists_are_refused() {
        let err = fields(json!({ "caller_id": { "value": "x" } }))
            .encode()
            .expect_err("object");
        assert!(err.message().contains("caller_id"), "{err}");
        let err = fields(json!({ "state": ["1,2"] }))
            .encode()
            .expect_err("comma");
        assert!(err.message().contains("comma"), "{err}");
    }
}
