//! YAQL's values: JSON's kinds with Python's semantics (integers and floats apart, `1 = 1.0`,
//! `true = 1`), a compiled regex, and the validator's stub.
//!
//! Python's `yaql` works on Python objects; what an Orquesta workflow sees of them is JSON in and
//! JSON out, so the values here are JSON's plus what an expression can hold in between (a regex
//! object from `regex(...)`). Dict keys keep Python's rule that equal numbers are one key.

use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

/// A dict: insertion-ordered like Python's.
pub(crate) type Dict = IndexMap<Key, V>;

/// One value during an evaluation.
#[derive(Clone, Debug)]
pub(crate) enum V {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    List(Arc<Vec<V>>),
    Dict(Arc<Dict>),
    /// What `regex(pattern)` returns; `.matches`, `.search` … are its methods.
    Regex(Arc<regex::Regex>),
    /// The validator's placeholder for data it does not have: any operation on it gives a stub.
    Stub,
}

/// A dict key: a scalar, hashed and compared as Python does (`1`, `1.0` and `true` are one key).
#[derive(Clone, Debug)]
pub(crate) struct Key(pub V);

impl Key {
    /// A key from a value; lists, dicts and regexes are not hashable (Python's TypeError).
    pub(crate) fn new(v: V) -> Result<Key, String> {
        match v {
            V::Null | V::Bool(_) | V::Int(_) | V::Float(_) | V::Str(_) | V::Stub => Ok(Key(v)),
            other => Err(format!("unhashable type: '{}'", other.type_name())),
        }
    }

    pub(crate) fn str(s: &str) -> Key {
        Key(V::Str(Arc::from(s)))
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        py_eq(&self.0, &other.0)
    }
}
impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match &self.0 {
            V::Null => 0u8.hash(state),
            V::Bool(b) => {
                1u8.hash(state);
                i64::from(*b).hash(state);
            }
            V::Int(i) => {
                1u8.hash(state);
                i.hash(state);
            }
            V::Float(f) => {
                // An integral float hashes as the integer it equals.
                if f.fract() == 0.0 && *f >= i64::MIN as f64 && *f < i64::MAX as f64 {
                    1u8.hash(state);
                    (*f as i64).hash(state);
                } else {
                    2u8.hash(state);
                    f.to_bits().hash(state);
                }
            }
            V::Str(s) => {
                3u8.hash(state);
                s.hash(state);
            }
            _ => 4u8.hash(state),
        }
    }
}

impl V {
    pub(crate) fn str(s: &str) -> V {
        V::Str(Arc::from(s))
    }

    pub(crate) fn list(items: Vec<V>) -> V {
        V::List(Arc::new(items))
    }

    /// Python's type name, for messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            V::Null => "null",
            V::Bool(_) => "boolean",
            V::Int(_) => "integer",
            V::Float(_) => "float",
            V::Str(_) => "string",
            V::List(_) => "list",
            V::Dict(_) => "dict",
            V::Regex(_) => "regex",
            V::Stub => "value",
        }
    }

    /// Python's truth value (empty collections, 0, "" and null are false).
    pub(crate) fn truthy(&self) -> bool {
        match self {
            V::Null => false,
            V::Bool(b) => *b,
            V::Int(i) => *i != 0,
            V::Float(f) => *f != 0.0,
            V::Str(s) => !s.is_empty(),
            V::List(l) => !l.is_empty(),
            V::Dict(d) => !d.is_empty(),
            V::Regex(_) | V::Stub => true,
        }
    }

    pub(crate) fn is_stub(&self) -> bool {
        matches!(self, V::Stub)
    }

    /// The number as f64 when it is one (booleans are not numbers to YAQL).
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            V::Int(i) => Some(*i as f64),
            V::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// JSON data into a value (never parsed: a `<% %>` in data stays characters).
    pub(crate) fn from_json(v: &Value) -> V {
        match v {
            Value::Null => V::Null,
            Value::Bool(b) => V::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => V::Int(i),
                None => V::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => V::str(s),
            Value::Array(a) => V::list(a.iter().map(V::from_json).collect()),
            Value::Object(m) => V::Dict(Arc::new(
                m.iter()
                    .map(|(k, v)| (Key::str(k), V::from_json(v)))
                    .collect(),
            )),
        }
    }

    /// The value as JSON; dict keys become strings as Python's `json.dumps` writes them.
    pub(crate) fn to_json(&self) -> Result<Value, String> {
        Ok(match self {
            V::Null | V::Stub => Value::Null,
            V::Bool(b) => Value::Bool(*b),
            V::Int(i) => Value::from(*i),
            V::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .ok_or_else(|| format!("the expression gives {f}, which is not a JSON number"))?,
            V::Str(s) => Value::String(s.to_string()),
            V::List(l) => Value::Array(l.iter().map(V::to_json).collect::<Result<_, _>>()?),
            V::Dict(d) => {
                let mut m = serde_json::Map::new();
                for (k, v) in d.iter() {
                    let key = match &k.0 {
                        V::Str(s) => s.to_string(),
                        V::Null => "null".into(),
                        V::Bool(b) => b.to_string(),
                        V::Int(i) => i.to_string(),
                        V::Float(f) => py_float(*f),
                        other => other.type_name().into(),
                    };
                    m.insert(key, v.to_json()?);
                }
                Value::Object(m)
            }
            V::Regex(r) => {
                return Err(format!(
                    "the expression gives regex({:?}), not data; call one of its methods, e.g. .matches(text)",
                    r.as_str()
                ));
            }
        })
    }
}

/// Python's `==`.
pub(crate) fn py_eq(a: &V, b: &V) -> bool {
    match (a, b) {
        (V::Null, V::Null) => true,
        (V::Str(x), V::Str(y)) => x == y,
        (V::List(x), V::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| py_eq(p, q))
        }
        (V::Dict(x), V::Dict(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        (V::Regex(x), V::Regex(y)) => Arc::ptr_eq(x, y),
        _ => match (num(a), num(b)) {
            (Some(Num::I(x)), Some(Num::I(y))) => x == y,
            (Some(x), Some(y)) => x.f() == y.f(),
            _ => false,
        },
    }
}

/// A number for arithmetic, booleans included (Python's `True == 1`).
#[derive(Clone, Copy)]
enum Num {
    I(i64),
    F(f64),
}

impl Num {
    fn f(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }
}

fn num(v: &V) -> Option<Num> {
    match v {
        V::Bool(b) => Some(Num::I(i64::from(*b))),
        V::Int(i) => Some(Num::I(*i)),
        V::Float(f) => Some(Num::F(*f)),
        _ => None,
    }
}

/// Python's `str()` of a value: what Orquesta writes when an expression sits inside text.
pub(crate) fn py_str(v: &V) -> String {
    match v {
        V::Str(s) => s.to_string(),
        other => py_repr(other),
    }
}

/// Python's `repr()` of a value (strings quoted), as `str()` shows list and dict items.
pub(crate) fn py_repr(v: &V) -> String {
    let mut out = String::new();
    write_repr(v, &mut out);
    out
}

fn write_repr(v: &V, out: &mut String) {
    match v {
        V::Null | V::Stub => out.push_str("None"),
        V::Bool(true) => out.push_str("True"),
        V::Bool(false) => out.push_str("False"),
        V::Int(i) => {
            let _ = write!(out, "{i}");
        }
        V::Float(f) => out.push_str(&py_float(*f)),
        V::Str(s) => out.push_str(&py_str_repr(s)),
        V::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(x, out);
            }
            out.push(']');
        }
        V::Dict(d) => {
            out.push('{');
            for (i, (k, x)) in d.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(&k.0, out);
                out.push_str(": ");
                write_repr(x, out);
            }
            out.push('}');
        }
        V::Regex(r) => {
            let _ = write!(out, "re.compile({})", py_str_repr(r.as_str()));
        }
    }
}

/// Python's `repr()` of a string: single quotes unless the text has one and no double quote.
pub(crate) fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr()` of a float: shortest round-trip digits, `1.0` not `1`, exponent form
/// outside 1e-4 ≤ |x| < 1e16.
pub(crate) fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // `{:e}` gives the shortest digits that round-trip, e.g. "1.5e-7".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let s = if point <= 0 {
            format!("0.{}{}", "0".repeat(point.unsigned_abs() as usize), digits)
        } else if (point as usize) >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            let (a, b) = digits.split_at(point as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{s}")
    } else {
        let (a, b) = digits.split_at(1);
        let m = if b.is_empty() {
            a.to_string()
        } else {
            format!("{a}.{b}")
        };
        format!(
            "{sign}{m}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_as_python_does() {
        for (f, s) in [
            (1.0, "1.0"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345.6, "123456789012345.6"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (100.0, "100.0"),
        ] {
            assert_eq!(py_float(f), s, "{f}");
        }
    }

    #[test]
    fn str_of_containers_is_pythons() {
        let v = V::from_json(&json!({"a": [1, 2.0, "x", null, true], "b": "it's"}));
        assert_eq!(
            py_str(&v),
            "{'a': [1, 2.0, 'x', None, True], 'b': \"it's\"}"
        );
    }

    #[test]
    fn equal_numbers_are_one_key() {
        let mut d = Dict::new();
        d.insert(Key(V::Int(1)), V::str("int"));
        d.insert(Key(V::Float(1.0)), V::str("float"));
        d.insert(Key(V::Bool(true)), V::str("bool"));
        assert_eq!(d.len(), 1);
        assert!(py_eq(&d[&Key(V::Int(1))], &V::str("bool")));
    }
}
