//! Criteria of a rule: a field of `event` or `device` and one operator (`equals`, `iequals`,
//! `contains`, `regex`, `in`, `exists`, `lt`, `gt`), or an expression of the workflow language.
//! Pure: parsed from the rule's YAML value, evaluated against the variables of one event.

use std::fmt;

use orch_workflow::{Loc, Mapping};
use serde_json::{Map, Value};

/// The operators, as written.
pub const OPERATORS: [&str; 8] = [
    "equals", "iequals", "contains", "regex", "in", "exists", "lt", "gt",
];

/// The longest regex accepted (compiled size bound), so a rule cannot make the server build a
/// huge automaton.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// One criterion.
#[derive(Debug, Clone)]
pub struct Criterion {
    /// Line in the rule file.
    pub line: u64,
    /// What is tested.
    pub test: Test,
}

/// What a criterion tests.
#[derive(Debug, Clone)]
pub enum Test {
    /// A field and an operator.
    Field {
        /// Dotted path, from `event` or `device`.
        path: String,
        /// The operator.
        op: Op,
    },
    /// An expression that must be true (Python's truthiness), with `event` and `device` in
    /// `ctx()`.
    Expression {
        /// As written.
        text: String,
        /// Compiled.
        mapping: Mapping,
    },
}

/// An operator and its operand.
#[derive(Debug, Clone)]
pub enum Op {
    /// Equal (numbers by value: 1 equals 1.0).
    Equals(Value),
    /// Equal as text, ignoring case.
    IEquals(String),
    /// A substring of a text, or an element of a list.
    Contains(Value),
    /// The text matches (anywhere; anchor with `^…$`).
    Regex(regex::Regex),
    /// Equal to one of these.
    In(Vec<Value>),
    /// Present and not null (`true`), or absent or null (`false`).
    Exists(bool),
    /// A number below this one.
    Lt(f64),
    /// A number above this one.
    Gt(f64),
}

impl fmt::Display for Criterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.test {
            Test::Expression { text, .. } => write!(f, "expression {text}"),
            Test::Field { path, op } => {
                let (name, operand) = match op {
                    Op::Equals(v) => ("equals", v.to_string()),
                    Op::IEquals(s) => ("iequals", Value::String(s.clone()).to_string()),
                    Op::Contains(v) => ("contains", v.to_string()),
                    Op::Regex(r) => ("regex", Value::String(r.as_str().to_owned()).to_string()),
                    Op::In(vs) => ("in", Value::Array(vs.clone()).to_string()),
                    Op::Exists(b) => ("exists", b.to_string()),
                    Op::Lt(n) => ("lt", n.to_string()),
                    Op::Gt(n) => ("gt", n.to_string()),
                };
                write!(f, "{path} {name} {operand}")
            }
        }
    }
}

/// Parses one criterion: `{FIELD: {OP: VALUE}}` or `{expression: "<% … %>"}`; the error says
/// what to write instead.
pub fn parse(value: &Value, loc: Loc) -> Result<Criterion, String> {
    let Value::Object(entry) = value else {
        return Err(format!(
            "a criterion is a mapping like `- event.message: {{ contains: \"text\" }}`, found {}",
            kind(value)
        ));
    };
    if entry.len() != 1 {
        return Err(format!(
            "a criterion names one field (or `expression`), found {} keys; write one criterion \
             per list item",
            entry.len()
        ));
    }
    let Some((field, spec)) = entry.iter().next() else {
        return Err("empty criterion".into());
    };
    if field == "expression" {
        let Value::String(text) = spec else {
            return Err("`expression` must be a string holding `<% … %>` or `{{ … }}`".into());
        };
        let mapping =
            Mapping::compile(spec, "criteria expression", loc).map_err(|e| e.to_string())?;
        if mapping.is_literal() {
            return Err(format!(
                "`expression` {text:?} holds no `<% … %>` or `{{{{ … }}}}` expression"
            ));
        }
        return Ok(Criterion {
            line: loc.line,
            test: Test::Expression {
                text: text.clone(),
                mapping,
            },
        });
    }
    check_path(field)?;
    let Value::Object(ops) = spec else {
        return Err(format!(
            "criterion on `{field}` must be a mapping of one operator, e.g. `{field}: {{ equals: \
             \"x\" }}`; operators: {}",
            OPERATORS.join(", ")
        ));
    };
    let mut iter = ops.iter();
    let (Some((name, operand)), None) = (iter.next(), iter.next()) else {
        return Err(format!(
            "criterion on `{field}` must have exactly one operator (one of {}); write several \
             criteria for several tests",
            OPERATORS.join(", ")
        ));
    };
    let op = match name.as_str() {
        "equals" => Op::Equals(operand.clone()),
        "iequals" => match operand {
            Value::String(s) => Op::IEquals(s.clone()),
            other => return Err(format!("`iequals` takes a text, found {}", kind(other))),
        },
        "contains" => Op::Contains(operand.clone()),
        "regex" => match operand {
            Value::String(s) => Op::Regex(
                regex::RegexBuilder::new(s)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| format!("`regex` {s:?} does not compile: {e}"))?,
            ),
            other => return Err(format!("`regex` takes a text, found {}", kind(other))),
        },
        "in" => match operand {
            Value::Array(items) => Op::In(items.clone()),
            other => return Err(format!("`in` takes a list, found {}", kind(other))),
        },
        "exists" => match operand {
            Value::Bool(b) => Op::Exists(*b),
            other => {
                return Err(format!(
                    "`exists` takes true or false, found {}",
                    kind(other)
                ));
            }
        },
        "lt" | "gt" => {
            let Some(n) = operand.as_f64() else {
                return Err(format!("`{name}` takes a number, found {}", kind(operand)));
            };
            if name == "lt" { Op::Lt(n) } else { Op::Gt(n) }
        }
        other => {
            return Err(format!(
                "unknown operator `{other}` on `{field}`; operators: {}",
                OPERATORS.join(", ")
            ));
        }
    };
    Ok(Criterion {
        line: loc.line,
        test: Test::Field {
            path: field.clone(),
            op,
        },
    })
}

/// Checks a dotted path: it starts at `event` or `device` and has no empty segment.
pub fn check_path(path: &str) -> Result<(), String> {
    let mut parts = path.split('.');
    let root = parts.next().unwrap_or_default();
    if root != "event" && root != "device" {
        return Err(format!(
            "field `{path}` must start with `event.` or `device.` (e.g. event.message, \
             device.tags.site)"
        ));
    }
    if path.split('.').any(str::is_empty) {
        return Err(format!("field `{path}` has an empty part"));
    }
    Ok(())
}

/// The value at a dotted path (`event.body.alerts.0.status`) of `variables`.
pub fn lookup<'v>(variables: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    let mut parts = path.split('.');
    let mut at = variables.get(parts.next()?)?;
    for part in parts {
        at = match at {
            Value::Object(m) => m.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(at)
}

/// Whether the criterion holds; when it does not, why (for the event's record).
pub fn check(criterion: &Criterion, variables: &Map<String, Value>) -> Result<(), String> {
    match &criterion.test {
        Test::Expression { mapping, .. } => {
            match mapping.truthy(variables, "criteria expression") {
                Ok(true) => Ok(()),
                Ok(false) => Err("the expression is false".into()),
                Err(e) => Err(format!("the expression failed: {}", e.message)),
            }
        }
        Test::Field { path, op } => {
            let found = lookup(variables, path).filter(|v| !v.is_null());
            if holds(op, found) {
                return Ok(());
            }
            Err(match found {
                None => format!("{path} is missing"),
                Some(v) => format!("{path} is {}", shown(v)),
            })
        }
    }
}

fn holds(op: &Op, found: Option<&Value>) -> bool {
    if let Op::Exists(want) = op {
        return found.is_some() == *want;
    }
    let Some(v) = found else {
        return false;
    };
    match op {
        Op::Equals(x) => same(v, x),
        Op::IEquals(x) => v
            .as_str()
            .is_some_and(|s| s.to_lowercase() == x.to_lowercase()),
        Op::Contains(x) => match (v, x) {
            (Value::String(s), Value::String(part)) => s.contains(part.as_str()),
            (Value::Array(items), x) => items.iter().any(|i| same(i, x)),
            (Value::Object(m), Value::String(key)) => m.contains_key(key),
            _ => false,
        },
        Op::Regex(r) => v.as_str().is_some_and(|s| r.is_match(s)),
        Op::In(xs) => xs.iter().any(|x| same(v, x)),
        Op::Lt(n) => number(v).is_some_and(|x| x < *n),
        Op::Gt(n) => number(v).is_some_and(|x| x > *n),
        Op::Exists(_) => false,
    }
}

/// Equality with numbers compared by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// A number, or a text holding one (syslog fields arrive as text from some senders).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn shown(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 80 {
        let mut cut: String = text.chars().take(80).collect();
        cut.push('…');
        cut
    } else {
        text
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn vars() -> Map<String, Value> {
        let Value::Object(m) = json!({
            "event": {
                "message": "%SYS-5-CONFIG_I: Configured from console by admin",
                "severity": 5,
                "facility": "23",
                "tags": ["a", "b"],
                "body": {"alerts": [{"status": "firing"}]},
                "nothing": null,
            },
            "device": {"name": "R1", "platform": "cisco_ios", "tags": {"site": "lab"}},
        }) else {
            unreachable!()
        };
        m
    }

    fn c(spec: Value) -> Criterion {
        parse(&spec, Loc { line: 3, column: 5 }).unwrap_or_else(|e| panic!("{spec}: {e}"))
    }

    #[test]
    fn each_operator_holds_and_fails_as_documented() {
        let v = vars();
        let holds = [
            json!({"event.message": {"contains": "%SYS-5-CONFIG_I"}}),
            json!({"event.message": {"regex": "^%SYS-\\d-CONFIG_I"}}),
            json!({"event.severity": {"equals": 5.0}}),
            json!({"device.name": {"iequals": "r1"}}),
            json!({"device.platform": {"in": ["arista_eos", "cisco_ios"]}}),
            json!({"device.tags.site": {"exists": true}}),
            json!({"event.nothing": {"exists": false}}),
            json!({"event.absent": {"exists": false}}),
            json!({"event.severity": {"lt": 6}}),
            json!({"event.facility": {"gt": 20}}),
            json!({"event.tags": {"contains": "b"}}),
            json!({"event.body.alerts.0.status": {"equals": "firing"}}),
            json!({"expression": "<% ctx().event.severity <= 5 and ctx().device.name = 'R1' %>"}),
        ];
        for spec in holds {
            assert_eq!(check(&c(spec.clone()), &v), Ok(()), "{spec}");
        }
        let fails = [
            (
                json!({"event.message": {"contains": "LINK-3"}}),
                "event.message is \"%SYS",
            ),
            (json!({"event.severity": {"gt": 5}}), "event.severity is 5"),
            (
                json!({"device.name": {"equals": "R2"}}),
                "device.name is \"R1\"",
            ),
            (
                json!({"device.serial": {"exists": true}}),
                "device.serial is missing",
            ),
            (json!({"event.message": {"lt": 3}}), "event.message is"),
            (
                json!({"event.nothing": {"equals": null}}),
                "event.nothing is missing",
            ),
            (
                json!({"expression": "{{ ctx().event.severity > 6 }}"}),
                "expression is false",
            ),
            (
                json!({"expression": "<% ctx().nope.x %>"}),
                "expression failed",
            ),
        ];
        for (spec, why) in fails {
            let err = check(&c(spec.clone()), &v).expect_err("fails");
            assert!(err.contains(why), "{spec}: {err}");
        }
    }

    #[test]
    fn a_bad_criterion_is_refused_with_the_fix() {
        for (spec, why) in [
            (
                json!({"event.message": {"matches": "x"}}),
                "unknown operator `matches`",
            ),
            (
                json!({"event.message": {"regex": "(unclosed"}}),
                "does not compile",
            ),
            (
                json!({"message": {"equals": "x"}}),
                "must start with `event.` or `device.`",
            ),
            (
                json!({"event.x": {"equals": 1, "lt": 2}}),
                "exactly one operator",
            ),
            (json!({"event.x": "x"}), "must be a mapping of one operator"),
            (json!({"event.x": {"in": "x"}}), "`in` takes a list"),
            (json!({"event.x": {"lt": "x"}}), "`lt` takes a number"),
            (
                json!({"event.x": {"exists": "yes"}}),
                "`exists` takes true or false",
            ),
            (json!({"expression": "<% ctx(. %>"}), "criteria expression"),
            (json!({"expression": "plain"}), "holds no"),
            (json!({"event..x": {"exists": true}}), "empty part"),
            (json!(["event.x"]), "a criterion is a mapping"),
        ] {
            let err = parse(&spec, Loc::default()).expect_err("refused");
            assert!(err.contains(why), "{spec}: {err}");
        }
    }

    #[test]
    fn criteria_print_as_written() {
        assert_eq!(
            c(json!({"event.message": {"contains": "%SYS-5-CONFIG_I"}})).to_string(),
            "event.message contains \"%SYS-5-CONFIG_I\""
        );
    }
}
