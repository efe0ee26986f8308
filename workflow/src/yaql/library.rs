//! The yaql standard library functions orch implements, each with yaql 3's semantics as the
//! oracle fixture checks them, and the list of yaql functions it refuses.
//!
//! yaql tells functions (`len(x)`), methods (`x.keys()`) and extension methods (both) apart;
//! [`FUNCTIONS`] keeps that, so a call yaql would not resolve is refused here too.

use std::sync::Arc;

use super::eval::{Args, E, Interp, R, arith, compare, describe_value, fail};
use super::parser::BinOp;
use super::value::{Dict, Key, V, py_eq, py_float, py_repr};

/// How a name may be called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// `f(x)` only.
    Function,
    /// `x.f()` only.
    Method,
    /// Both.
    Both,
}

/// Orquesta's and orch's own functions (the host answers them), function calls only.
pub(crate) const HOST_FUNCTIONS: [&str; 10] = [
    "ctx",
    "result",
    "item",
    "task",
    "task_status",
    "succeeded",
    "failed",
    "completed",
    "json",
    "zip",
];

pub(crate) fn is_host_function(name: &str) -> bool {
    HOST_FUNCTIONS.contains(&name)
}

/// The yaql functions orch implements, with how yaql lets them be called.
/// An implementation: the interpreter, the call's arguments, the name it was called by.
type Imp = fn(&mut Interp, &Args, &str) -> R;

/// The yaql functions orch implements, with how yaql lets them be called.
pub(crate) const FUNCTIONS: &[(&str, Form, Imp)] = &[
    ("abs", Form::Function, f_abs),
    ("all", Form::Both, f_all),
    ("any", Form::Both, f_all),
    ("append", Form::Both, f_append),
    ("bool", Form::Function, f_bool),
    ("coalesce", Form::Function, f_coalesce),
    ("concat", Form::Both, f_concat),
    ("contains", Form::Method, f_contains),
    ("containsKey", Form::Method, f_contains_key),
    ("containsValue", Form::Method, f_contains_key),
    ("count", Form::Method, f_count),
    ("delete", Form::Method, f_delete),
    ("dict", Form::Function, f_dict),
    ("distinct", Form::Both, f_distinct),
    ("endsWith", Form::Method, f_starts_with),
    ("enumerate", Form::Both, f_enumerate),
    ("first", Form::Method, f_first),
    ("flatten", Form::Method, f_flatten),
    ("float", Form::Function, f_float),
    ("get", Form::Method, f_get),
    ("groupBy", Form::Method, f_group_by),
    ("indexOf", Form::Method, f_index_of),
    ("indexWhere", Form::Method, f_select),
    ("int", Form::Function, f_int),
    ("isBoolean", Form::Function, f_is_type),
    ("isDict", Form::Function, f_is_type),
    ("isEmpty", Form::Both, f_is_empty),
    ("isInteger", Form::Function, f_is_type),
    ("isList", Form::Function, f_is_type),
    ("isNumber", Form::Function, f_is_type),
    ("isString", Form::Function, f_is_type),
    ("items", Form::Method, f_keys),
    ("join", Form::Method, f_join),
    ("keys", Form::Method, f_keys),
    ("last", Form::Method, f_first),
    ("lastIndexOf", Form::Method, f_index_of),
    ("len", Form::Both, f_len),
    ("let", Form::Function, f_let),
    ("limit", Form::Method, f_skip),
    ("list", Form::Function, f_list),
    ("matches", Form::Method, f_matches),
    ("max", Form::Both, f_max),
    ("min", Form::Both, f_max),
    ("orderBy", Form::Method, f_order_by),
    ("orderByDescending", Form::Method, f_order_by),
    ("pow", Form::Function, f_pow),
    ("range", Form::Function, f_range),
    ("regex", Form::Function, f_regex),
    ("replace", Form::Method, f_replace),
    ("reverse", Form::Method, f_reverse),
    ("rightSplit", Form::Method, f_split),
    ("round", Form::Function, f_round),
    ("search", Form::Method, f_search),
    ("searchAll", Form::Method, f_search),
    ("select", Form::Method, f_select),
    ("selectMany", Form::Method, f_select),
    ("set", Form::Method, f_set),
    ("sign", Form::Function, f_sign),
    ("single", Form::Method, f_first),
    ("skip", Form::Method, f_skip),
    ("skipWhile", Form::Method, f_select),
    ("split", Form::Method, f_split),
    ("startsWith", Form::Method, f_starts_with),
    ("str", Form::Function, f_str),
    ("substring", Form::Method, f_substring),
    ("sum", Form::Method, f_sum),
    ("take", Form::Method, f_skip),
    ("takeWhile", Form::Method, f_select),
    ("toCharArray", Form::Method, f_to_char_array),
    ("toDict", Form::Method, f_to_dict),
    ("toList", Form::Method, f_to_list),
    ("toLower", Form::Method, f_to_upper),
    ("toUpper", Form::Method, f_to_upper),
    ("trim", Form::Method, f_trim),
    ("trimLeft", Form::Method, f_trim),
    ("trimRight", Form::Method, f_trim),
    ("values", Form::Method, f_keys),
    ("where", Form::Method, f_select),
    ("zip", Form::Method, f_zip),
];

/// yaql 3 functions orch refuses, with the reason given to the workflow author.
pub(crate) const REFUSED: &[(&str, &str)] = &[
    (
        "now",
        "reads the clock; a run must replay to the same result: pass the time in as input",
    ),
    (
        "localtz",
        "reads the clock's time zone; pass it in as input",
    ),
    ("utctz", "date and time values are not supported"),
    (
        "datetime",
        "date and time values are not supported; pass times as strings or numbers",
    ),
    ("timespan", "date and time values are not supported"),
    ("isDatetime", "date and time values are not supported"),
    ("isTimespan", "date and time values are not supported"),
    (
        "random",
        "draws random numbers; a run must replay to the same result",
    ),
    ("sequence", "is an endless generator"),
    ("cycle", "is an endless generator"),
    ("repeat", "is an endless generator"),
    ("generate", "is an unbounded generator"),
    ("generateMany", "is an unbounded generator"),
    (
        "def",
        "defines functions inside an expression; not supported",
    ),
    ("call", "calls functions by name; not supported"),
    ("lambda", "delegates are not supported"),
    ("memorize", "is not supported"),
    ("examine", "is not supported"),
    ("unpack", "binds variables from a list; use let(...) -> ..."),
    ("with", "binds $1, $2 …; use let(...) -> ..."),
    ("assert", "is not supported"),
    (
        "set",
        "builds a Python set, which JSON cannot hold; as a method on a dict, x.set(k, v) is supported",
    ),
    (
        "toSet",
        "builds a Python set, which JSON cannot hold; use distinct()",
    ),
    ("isSet", "sets are not supported"),
    ("union", "works on sets; use concat(...).distinct()"),
    ("intersect", "works on sets, which are not supported"),
    ("difference", "works on sets, which are not supported"),
    (
        "symmetricDifference",
        "works on sets, which are not supported",
    ),
    ("add", "works on sets, which are not supported"),
    ("remove", "works on sets, which are not supported"),
    ("isRegex", "is not supported"),
    ("escapeRegex", "is not supported"),
    ("replaceBy", "is not supported"),
    ("replaceMany", "is not supported"),
    (
        "format",
        "formats a date and time in yaql (its strings have no format method); join strings with + or use a Jinja {{ }} expression",
    ),
    ("characters", "is not supported"),
    ("hex", "is not supported"),
    ("norm", "is not supported"),
    ("bitwiseAnd", "is not supported"),
    ("bitwiseOr", "is not supported"),
    ("bitwiseXor", "is not supported"),
    ("bitwiseNot", "is not supported"),
    ("shiftBitsLeft", "is not supported"),
    ("shiftBitsRight", "is not supported"),
    ("switch", "is not supported"),
    ("switchCase", "is not supported"),
    ("selectCase", "is not supported"),
    ("selectAllCases", "is not supported"),
    ("mergeWith", "is not supported"),
    ("aggregate", "is not supported"),
    ("reduce", "is not supported"),
    ("accumulate", "is not supported"),
    (
        "thenBy",
        "is not supported; use one orderBy with a list key",
    ),
    ("thenByDescending", "is not supported"),
    ("slice", "is not supported; use skip() and take()"),
    ("sliceWhere", "is not supported"),
    ("splitAt", "is not supported"),
    ("splitWhere", "is not supported"),
    ("lastIndexWhere", "is not supported"),
    (
        "zipLongest",
        "is not supported; Orquesta's zip(a, b, pad => x) is",
    ),
    ("defaultIfEmpty", "is not supported"),
    ("isIterable", "is not supported"),
    ("insert", "is not supported"),
    ("insertMany", "is not supported"),
    ("deleteAll", "is not supported"),
    ("map", "is not supported; use select()"),
    ("filter", "is not supported; use where()"),
    (
        "st2kv",
        "is StackStorm's datastore; pass the value in as input or use orch secrets",
    ),
];

/// How a call to `name` resolves, for the validator.
pub(crate) fn lookup(name: &str) -> Option<Form> {
    FUNCTIONS
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|(_, f, _)| *f)
}

/// Why a yaql name is refused, if it is one.
pub(crate) fn refused(name: &str) -> Option<&'static str> {
    REFUSED.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// A regex with Rust's `regex` engine: linear time whatever the pattern, so a pattern cannot
/// hang the host; Python's look-around and back-references are refused when compiled.
pub(crate) fn compile_regex(pattern: &str) -> Result<Arc<regex::Regex>, String> {
    compile_regex_with(pattern, false, false, false)
}

fn compile_regex_with(
    pattern: &str,
    ignore_case: bool,
    multi_line: bool,
    dot_all: bool,
) -> Result<Arc<regex::Regex>, String> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(ignore_case)
        .multi_line(multi_line)
        .dot_matches_new_line(dot_all)
        .size_limit(1 << 20)
        .build()
        .map(Arc::new)
        .map_err(|e| {
            format!(
                "regex {pattern:?} is not supported: {} (orch's regexes have no look-around or back-references)",
                e.to_string().lines().last().unwrap_or("invalid pattern")
            )
        })
}

// ---------------------------------------------------------------------------------------------
// Argument helpers: a stub anywhere makes the call's result a stub.

fn list_arg(a: &Args, v: &V) -> R<Arc<Vec<V>>> {
    match v {
        V::List(l) => Ok(l.clone()),
        V::Stub => Err(E::Stub),
        other => a.fail(format!(
            "{}() needs a list, got {}",
            a.name,
            describe_value(other)
        )),
    }
}

fn str_arg(a: &Args, v: &V) -> R<Arc<str>> {
    match v {
        V::Str(s) => Ok(s.clone()),
        V::Stub => Err(E::Stub),
        other => a.fail(format!(
            "{}() needs a string, got {}",
            a.name,
            describe_value(other)
        )),
    }
}

fn opt_str_arg(a: &Args, v: Option<V>) -> R<Option<Arc<str>>> {
    match v {
        None | Some(V::Null) => Ok(None),
        Some(v) => str_arg(a, &v).map(Some),
    }
}

fn int_arg(a: &Args, v: &V) -> R<i64> {
    match v {
        V::Int(i) => Ok(*i),
        V::Stub => Err(E::Stub),
        other => a.fail(format!(
            "{}() needs an integer, got {}",
            a.name,
            describe_value(other)
        )),
    }
}

fn dict_arg(a: &Args, v: &V) -> R<Arc<Dict>> {
    match v {
        V::Dict(d) => Ok(d.clone()),
        V::Stub => Err(E::Stub),
        other => a.fail(format!(
            "{}() needs a dict, got {}",
            a.name,
            describe_value(other)
        )),
    }
}

fn stub_check(v: &V) -> R<()> {
    if v.is_stub() { Err(E::Stub) } else { Ok(()) }
}

fn num_arg(a: &Args, v: &V) -> R<V> {
    match v {
        V::Int(_) | V::Float(_) => Ok(v.clone()),
        V::Stub => Err(E::Stub),
        other => a.fail(format!(
            "{}() needs a number, got {}",
            a.name,
            describe_value(other)
        )),
    }
}

fn b(x: bool) -> R {
    Ok(V::Bool(x))
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

/// yaql's `str()`: null, true and false as yaql writes them, everything else as Python's
/// `str()` does, lists being Python tuples inside yaql.
pub(crate) fn yaql_str(v: &V) -> String {
    match v {
        V::Null => "null".into(),
        V::Bool(true) => "true".into(),
        V::Bool(false) => "false".into(),
        V::Str(s) => s.to_string(),
        V::Float(f) => py_float(*f),
        other => tuple_repr(other),
    }
}

/// Python's repr with lists shown as the tuples yaql holds them in.
fn tuple_repr(v: &V) -> String {
    match v {
        V::List(l) => {
            let items: Vec<String> = l.iter().map(tuple_repr).collect();
            if items.len() == 1 {
                format!("({},)", items[0])
            } else {
                format!("({})", items.join(", "))
            }
        }
        V::Dict(d) => {
            let items: Vec<String> = d
                .iter()
                .map(|(k, v)| format!("{}: {}", tuple_repr(&k.0), tuple_repr(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        other => py_repr(other),
    }
}

/// A list's items compared with yaql's `<` for sorting; mixed types are an error.
fn cmp_values(x: &V, y: &V) -> Result<std::cmp::Ordering, String> {
    use std::cmp::Ordering;

    if matches!(compare(BinOp::Lt, x, y)?, V::Bool(true)) {
        Ok(Ordering::Less)
    } else if matches!(compare(BinOp::Gt, x, y)?, V::Bool(true)) {
        Ok(Ordering::Greater)
    } else {
        Ok(Ordering::Equal)
    }
}

fn add_values(it: &mut Interp, a: &Args, x: &V, y: &V) -> R {
    match (x, y) {
        (V::Str(p), V::Str(q)) => {
            it.burn((p.len() + q.len()) as u64 / 64, a.at)?;
            Ok(V::str(&format!("{p}{q}")))
        }
        (V::List(p), V::List(q)) => {
            it.burn((p.len() + q.len()) as u64 / 8, a.at)?;
            Ok(V::list(p.iter().chain(q.iter()).cloned().collect()))
        }
        _ => arith(BinOp::Add, x, y).or_else(|m| a.fail(m)),
    }
}

// ---------------------------------------------------------------------------------------------
// Dispatch.

/// Calls library function `name` (`method`: written `recv.name(…)`, the receiver first in
/// `a.pos`).
pub(crate) fn call(it: &mut Interp, name: &str, method: bool, a: &Args) -> R {
    let Some((_, form, imp)) = FUNCTIONS.iter().find(|(n, ..)| *n == name) else {
        return fail(a.at, unknown_message(name, method));
    };
    match (*form, method) {
        (Form::Function, true) => {
            return a.fail(format!(
                "{name} is a function, not a method: write {name}(x), not x.{name}()"
            ));
        }
        (Form::Method, false) if refused(name).is_some() => {
            return a.fail(unknown_message(name, false));
        }
        (Form::Method, false) => {
            return a.fail(format!(
                "{name} is a method: write x.{name}(…), not {name}(x, …)"
            ));
        }
        _ => {}
    }
    it.burn(1, a.at)?;
    imp(it, a, name)
}

fn f_abs(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 1)?;
    match num_arg(a, &a.val(it, 0)?)? {
        V::Int(i) => i
            .checked_abs()
            .map(V::Int)
            .map_or_else(|| a.fail("integer overflow"), Ok),
        V::Float(f) => Ok(V::Float(f.abs())),
        _ => a.fail("abs() needs a number"),
    }
}

fn f_sign(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 1)?;
    match num_arg(a, &a.val(it, 0)?)? {
        V::Int(i) => Ok(V::Int(i.signum())),
        V::Float(f) => Ok(V::Int(if f > 0.0 {
            1
        } else if f < 0.0 {
            -1
        } else {
            0
        })),
        _ => a.fail("sign() needs a number"),
    }
}

fn f_pow(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(2, 2)?;
    let x = num_arg(a, &a.val(it, 0)?)?;
    let y = num_arg(a, &a.val(it, 1)?)?;
    match (x, y) {
        (V::Int(x), V::Int(y)) if y >= 0 => {
            let e = u32::try_from(y).map_err(|_| E::Fail {
                pos: a.at,
                message: "exponent too large".into(),
            })?;
            x.checked_pow(e).map(V::Int).map_or_else(
                || a.fail("integer overflow (orch's integers are 64-bit)"),
                Ok,
            )
        }
        (x, y) => Ok(V::Float(
            x.as_f64().unwrap_or(0.0).powf(y.as_f64().unwrap_or(0.0)),
        )),
    }
}

fn f_round(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 2)?;
    let x = num_arg(a, &a.val(it, 0)?)?;
    let digits = match a.opt(it, 1, "ndigits")? {
        Some(d) => Some(int_arg(a, &d)?),
        None => None,
    };
    match (x, digits) {
        (V::Int(i), _) => Ok(V::Int(i)),
        (V::Float(f), None) => Ok(V::Float(round_half_even(f))),
        (V::Float(f), Some(d)) => {
            let d = i32::try_from(d.clamp(-300, 300)).unwrap_or(0);
            // Python rounds the decimal value the float prints as.
            let s = format!("{:.*}", usize::try_from(d.max(0)).unwrap_or(0), f);
            if d >= 0 {
                Ok(V::Float(s.parse().unwrap_or(f)))
            } else {
                let m = 10f64.powi(-d);
                Ok(V::Float(round_half_even(f / m) * m))
            }
        }
        _ => a.fail("round() needs a number"),
    }
}

fn f_bool(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 1)?;
    let v = a.val(it, 0)?;
    stub_check(&v)?;
    b(v.truthy())
}

fn f_int(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 1)?;
    match a.val(it, 0)? {
        V::Null => Ok(V::Int(0)),
        V::Bool(x) => Ok(V::Int(i64::from(x))),
        V::Int(i) => Ok(V::Int(i)),
        V::Float(f) => {
            if f.is_finite() && f.abs() < 9.2e18 {
                Ok(V::Int(f.trunc() as i64))
            } else {
                a.fail(format!("cannot convert {} to an integer", py_float(f)))
            }
        }
        V::Str(s) => s
            .trim()
            .replace('_', "")
            .parse::<i64>()
            .map(V::Int)
            .map_or_else(
                |_| {
                    a.fail(format!(
                        "invalid literal for int() with base 10: {}",
                        py_repr(&V::Str(s.clone()))
                    ))
                },
                Ok,
            ),
        V::Stub => Err(E::Stub),
        other => a.fail(format!("int() cannot convert {}", describe_value(&other))),
    }
}

fn f_float(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 1)?;
    match a.val(it, 0)? {
        V::Null => Ok(V::Float(0.0)),
        V::Bool(x) => Ok(V::Float(if x { 1.0 } else { 0.0 })),
        V::Int(i) => Ok(V::Float(i as f64)),
        V::Float(f) => Ok(V::Float(f)),
        V::Str(s) => parse_py_float(&s).map(V::Float).map_or_else(
            || {
                a.fail(format!(
                    "could not convert string to float: {}",
                    py_repr(&V::Str(s.clone()))
                ))
            },
            Ok,
        ),
        V::Stub => Err(E::Stub),
        other => a.fail(format!("float() cannot convert {}", describe_value(&other))),
    }
}

fn f_str(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 1)?;
    let v = a.val(it, 0)?;
    stub_check(&v)?;

    Ok(V::str(&yaql_str(&v)))
}

fn f_is_type(it: &mut Interp, a: &Args, name: &str) -> R {
    a.arity(1, 1)?;
    let v = a.val(it, 0)?;
    stub_check(&v)?;
    b(match name {
        "isBoolean" => matches!(v, V::Bool(_)),
        "isDict" => matches!(v, V::Dict(_)),
        "isInteger" => matches!(v, V::Int(_)),
        "isList" => matches!(v, V::List(_)),
        "isNumber" => matches!(v, V::Int(_) | V::Float(_)),
        _ => matches!(v, V::Str(_)),
    })
}

fn f_coalesce(it: &mut Interp, a: &Args, _name: &str) -> R {
    for i in 0..a.len() {
        let v = a.val(it, i)?;
        stub_check(&v)?;
        if !matches!(v, V::Null) {
            return Ok(v);
        }
    }
    Ok(V::Null)
}

fn f_let(_it: &mut Interp, a: &Args, _name: &str) -> R {
    a.fail("let(…) must be followed by `->`, e.g. let(x => 1) -> $x + 1")
}

fn f_list(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.named_only(&[])?;
    let mut out = Vec::with_capacity(a.len());
    for i in 0..a.len() {
        out.push(a.val(it, i)?);
    }
    Ok(V::list(out))
}

fn f_dict(it: &mut Interp, a: &Args, _name: &str) -> R {
    let mut d = Dict::new();
    if a.len() > 0 {
        a.arity(1, 1)?;
        let pairs = list_arg(a, &a.val(it, 0)?)?;
        for p in pairs.iter() {
            it.burn(1, a.at)?;
            match p {
                V::List(kv) if kv.len() == 2 => {
                    let k = Key::new(kv[0].clone()).or_else(|m| a.fail(m))?;
                    d.insert(k, kv[1].clone());
                }
                V::Stub => return Err(E::Stub),
                other => {
                    return a.fail(format!(
                        "dict() needs [key, value] pairs, got {}",
                        describe_value(other)
                    ));
                }
            }
        }
    }
    for (k, n) in &a.named {
        let v = it.eval(n, a.frame)?;
        d.insert(Key::str(k), v);
    }
    Ok(V::Dict(Arc::new(d)))
}

fn f_range(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 3)?;
    let (start, stop, step) = if a.len() == 1 {
        (0, int_arg(a, &a.val(it, 0)?)?, 1)
    } else {
        let start = int_arg(a, &a.val(it, 0)?)?;
        let stop = int_arg(a, &a.val(it, 1)?)?;
        let step = match a.opt(it, 2, "step")? {
            Some(s) => int_arg(a, &s)?,
            None => 1,
        };
        (start, stop, step)
    };
    if step == 0 {
        return a.fail("range() arg 3 must not be zero");
    }
    let count = if step > 0 {
        (stop.saturating_sub(start).max(0) as u64).div_ceil(step as u64)
    } else {
        (start.saturating_sub(stop).max(0) as u64).div_ceil(step.unsigned_abs())
    };
    it.burn(count, a.at)?;
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let mut x = start;
    for _ in 0..count {
        out.push(V::Int(x));
        x = x.saturating_add(step);
    }
    Ok(V::list(out))
}

fn f_regex(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 1)?;
    a.named_only(&[
        "ignoreCase",
        "multiLine",
        "dotAll",
        "ignore_case",
        "multi_line",
        "dot_all",
    ])?;
    let p = str_arg(a, &a.val(it, 0)?)?;
    let flag = |it: &mut Interp, n1: &str, n2: &str| -> R<bool> {
        for (k, n) in &a.named {
            if k == n1 || k == n2 {
                return it.eval(n, a.frame).map(|v| v.truthy());
            }
        }
        Ok(false)
    };
    let ic = flag(it, "ignoreCase", "ignore_case")?;
    let ml = flag(it, "multiLine", "multi_line")?;
    let da = flag(it, "dotAll", "dot_all")?;
    compile_regex_with(&p, ic, ml, da)
        .map(V::Regex)
        .or_else(|m| a.fail(m))
}

fn f_len(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 1)?;
    match a.val(it, 0)? {
        V::Str(s) => Ok(V::Int(s.chars().count() as i64)),
        V::List(l) => Ok(V::Int(l.len() as i64)),
        V::Dict(d) => Ok(V::Int(d.len() as i64)),
        V::Stub => Err(E::Stub),
        other => a.fail(format!(
            "len() needs a string, list or dict, got {}",
            describe_value(&other)
        )),
    }
}

fn f_count(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 1)?;
    match a.val(it, 0)? {
        V::List(l) => Ok(V::Int(l.len() as i64)),
        V::Stub => Err(E::Stub),
        other => a.fail(format!(
            "count() needs a list, got {}",
            describe_value(&other)
        )),
    }
}

fn f_is_empty(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 1)?;
    match a.val(it, 0)? {
        V::Null => b(true),
        V::Str(s) => b(s.is_empty()),
        V::Stub => Err(E::Stub),
        other => a.fail(format!(
            "isEmpty() needs a string or null, got {}; for a list use len(x) = 0",
            describe_value(&other)
        )),
    }
}

fn f_all(it: &mut Interp, a: &Args, name: &str) -> R {
    a.arity(1, 2)?;
    let l = list_arg(a, &a.val(it, 0)?)?;
    let pred = if a.len() > 1 {
        Some(a.lambda(1)?)
    } else {
        None
    };
    for x in l.iter() {
        let t = match pred {
            Some(p) => a.apply(it, p, x.clone())?,
            None => {
                it.burn(1, a.at)?;
                x.clone()
            }
        };
        stub_check(&t)?;
        if name == "all" && !t.truthy() {
            return b(false);
        }
        if name == "any" && t.truthy() {
            return b(true);
        }
    }
    b(name == "all")
}

fn f_append(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, usize::MAX)?;
    let l = list_arg(a, &a.val(it, 0)?)?;
    let mut out = (*l).clone();
    for i in 1..a.len() {
        out.push(a.val(it, i)?);
    }
    it.burn(out.len() as u64 / 8, a.at)?;
    Ok(V::list(out))
}

fn f_concat(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, usize::MAX)?;
    let first = a.val(it, 0)?;
    stub_check(&first)?;
    if let V::Str(_) = first {
        let mut out = String::new();
        for i in 0..a.len() {
            out.push_str(&str_arg(a, &a.val(it, i)?)?);
            it.burn(out.len() as u64 / 64, a.at)?;
        }
        return Ok(V::str(&out));
    }
    let mut out = Vec::new();
    for i in 0..a.len() {
        let l = list_arg(a, &a.val(it, i)?)?;
        it.burn(l.len() as u64 / 8 + 1, a.at)?;
        out.extend(l.iter().cloned());
    }
    Ok(V::list(out))
}

fn f_contains(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(2, 2)?;
    let coll = a.val(it, 0)?;
    let x = a.val(it, 1)?;
    stub_check(&x)?;
    match coll {
        V::List(l) => {
            it.burn(l.len() as u64 / 8, a.at)?;
            b(l.iter().any(|i| py_eq(i, &x)))
        }
        V::Stub => Err(E::Stub),
        other => a.fail(format!(
            "contains() needs a list, got {}",
            describe_value(&other)
        )),
    }
}

fn f_contains_key(it: &mut Interp, a: &Args, name: &str) -> R {
    a.arity(2, 2)?;
    let d = dict_arg(a, &a.val(it, 0)?)?;
    let x = a.val(it, 1)?;
    stub_check(&x)?;
    if name == "containsKey" {
        b(Key::new(x).map(|k| d.contains_key(&k)).unwrap_or(false))
    } else {
        b(d.values().any(|v| py_eq(v, &x)))
    }
}

fn f_keys(it: &mut Interp, a: &Args, name: &str) -> R {
    a.arity(1, 1)?;
    let d = dict_arg(a, &a.val(it, 0)?)?;
    it.burn(d.len() as u64 / 8, a.at)?;
    Ok(V::list(match name {
        "keys" => d.keys().map(|k| k.0.clone()).collect(),
        "values" => d.values().cloned().collect(),
        _ => d
            .iter()
            .map(|(k, v)| V::list(vec![k.0.clone(), v.clone()]))
            .collect(),
    }))
}

fn f_get(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(2, 3)?;
    let d = dict_arg(a, &a.val(it, 0)?)?;
    let k = a.val(it, 1)?;
    stub_check(&k)?;
    let default = a.opt(it, 2, "default")?.unwrap_or(V::Null);
    let key = Key::new(k).or_else(|m| a.fail(m))?;
    Ok(d.get(&key).cloned().unwrap_or(default))
}

fn f_set(it: &mut Interp, a: &Args, _name: &str) -> R {
    // dict.set(key, value), dict.set(other_dict), dict.set(k => v, …)
    let d = dict_arg(a, &a.val(it, 0)?)?;
    let mut out = (*d).clone();
    match a.len() {
        1 => {}
        2 => {
            let other = dict_arg(a, &a.val(it, 1)?)?;
            for (k, v) in other.iter() {
                out.insert(k.clone(), v.clone());
            }
        }
        3 => {
            let k = a.val(it, 1)?;
            stub_check(&k)?;
            let v = a.val(it, 2)?;
            out.insert(Key::new(k).or_else(|m| a.fail(m))?, v);
        }
        _ => return a.arity(1, 3).map(|()| V::Null),
    }
    for (k, n) in &a.named {
        out.insert(Key::str(k), it.eval(n, a.frame)?);
    }
    it.burn(out.len() as u64 / 8, a.at)?;
    Ok(V::Dict(Arc::new(out)))
}

fn f_delete(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, usize::MAX)?;
    let d = dict_arg(a, &a.val(it, 0)?)?;
    let mut out = (*d).clone();
    for i in 1..a.len() {
        let k = a.val(it, i)?;
        stub_check(&k)?;
        if let Ok(k) = Key::new(k) {
            out.shift_remove(&k);
        }
    }
    Ok(V::Dict(Arc::new(out)))
}

fn f_select(it: &mut Interp, a: &Args, name: &str) -> R {
    a.arity(2, 2)?;
    let l = list_arg(a, &a.val(it, 0)?)?;
    let f = a.lambda(1)?;
    let mut out = Vec::new();
    let mut taking = true;
    for (i, x) in l.iter().enumerate() {
        let r = if name == "skipWhile" && !taking {
            out.push(x.clone());
            continue;
        } else {
            a.apply(it, f, x.clone())?
        };
        stub_check(&r)?;
        match name {
            "select" => out.push(r),
            "where" => {
                if r.truthy() {
                    out.push(x.clone());
                }
            }
            "selectMany" => match r {
                V::List(items) => out.extend(items.iter().cloned()),
                other => out.push(other),
            },
            "takeWhile" => {
                if !r.truthy() {
                    break;
                }
                out.push(x.clone());
            }
            "skipWhile" => {
                if !r.truthy() {
                    taking = false;
                    out.push(x.clone());
                }
            }
            _ => {
                if r.truthy() {
                    return Ok(V::Int(i as i64));
                }
            }
        }
    }
    if name == "indexWhere" {
        return Ok(V::Int(-1));
    }
    Ok(V::list(out))
}

fn f_distinct(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 2)?;
    let l = list_arg(a, &a.val(it, 0)?)?;
    let key = if a.len() > 1 {
        Some(a.lambda(1)?)
    } else {
        None
    };
    let mut seen: Vec<V> = Vec::new();
    let mut out = Vec::new();
    for x in l.iter() {
        let k = match key {
            Some(f) => a.apply(it, f, x.clone())?,
            None => x.clone(),
        };
        stub_check(&k)?;
        it.burn(seen.len() as u64 / 16 + 1, a.at)?;
        if !seen.iter().any(|s| py_eq(s, &k)) {
            seen.push(k);
            out.push(x.clone());
        }
    }
    Ok(V::list(out))
}

fn f_enumerate(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 2)?;
    let l = list_arg(a, &a.val(it, 0)?)?;
    let start = match a.opt(it, 1, "start")? {
        Some(s) => int_arg(a, &s)?,
        None => 0,
    };
    it.burn(l.len() as u64 / 8, a.at)?;
    Ok(V::list(
        l.iter()
            .enumerate()
            .map(|(i, x)| V::list(vec![V::Int(start + i as i64), x.clone()]))
            .collect(),
    ))
}

fn f_first(it: &mut Interp, a: &Args, name: &str) -> R {
    a.arity(1, 2)?;
    let l = list_arg(a, &a.val(it, 0)?)?;
    let default = a.opt(it, 1, "default")?;
    if name == "single" {
        return match l.len() {
            1 => Ok(l[0].clone()),
            0 => a.fail("single() of an empty list"),
            _ => a.fail("single() of a list with more than one item"),
        };
    }
    let x = if name == "first" { l.first() } else { l.last() };
    match (x, default) {
        (Some(x), _) => Ok(x.clone()),
        (None, Some(d)) => Ok(d),
        (None, None) => a.fail(format!(
            "{name}() of an empty list (yaql: StopIteration); give a default: {name}(null)"
        )),
    }
}

fn f_flatten(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 1)?;
    let l = list_arg(a, &a.val(it, 0)?)?;
    let mut out = Vec::new();
    flatten_into(it, a, &l, &mut out)?;
    Ok(V::list(out))
}

fn f_index_of(it: &mut Interp, a: &Args, name: &str) -> R {
    a.arity(2, 2)?;
    let coll = a.val(it, 0)?;
    let x = a.val(it, 1)?;
    stub_check(&x)?;
    match coll {
        V::List(l) => {
            it.burn(l.len() as u64 / 8, a.at)?;
            let found = if name == "indexOf" {
                l.iter().position(|i| py_eq(i, &x))
            } else {
                l.iter().rposition(|i| py_eq(i, &x))
            };
            Ok(V::Int(found.map_or(-1, |i| i as i64)))
        }
        V::Str(s) => {
            let sub = str_arg(a, &x)?;
            let found = if name == "indexOf" {
                s.find(&*sub)
            } else {
                s.rfind(&*sub)
            };
            Ok(V::Int(
                found.map_or(-1, |byte| s[..byte].chars().count() as i64),
            ))
        }
        V::Stub => Err(E::Stub),
        other => a.fail(format!(
            "{name}() needs a list or string, got {}",
            describe_value(&other)
        )),
    }
}

fn f_join(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(2, 2)?;
    let (x, y) = (a.val(it, 0)?, a.val(it, 1)?);
    stub_check(&x)?;
    stub_check(&y)?;
    // yaql has both list.join(sep) and sep.join(list).
    let (l, sep) = match (&x, &y) {
        (V::List(l), V::Str(s)) | (V::Str(s), V::List(l)) => (l.clone(), s.clone()),
        _ => {
            return a.fail(format!(
                "join() needs a list and a separator string, got {} and {}",
                describe_value(&x),
                describe_value(&y)
            ));
        }
    };
    let parts: Vec<String> = l.iter().map(yaql_str).collect();
    let out = parts.join(&sep);
    it.burn(out.len() as u64 / 64, a.at)?;
    Ok(V::str(&out))
}

fn f_max(it: &mut Interp, a: &Args, name: &str) -> R {
    // yaql: max(a, b) is b when b > a, else a; min(a, b) is a when b > a, else b.
    // collection.max(initial) folds that function over the items.
    let pick = |x: &V, y: &V| -> R {
        let b_greater = compare(BinOp::Gt, y, x).or_else(|m| a.fail(m))?.truthy();
        Ok(match (name == "max", b_greater) {
            (true, true) | (false, false) => y.clone(),
            _ => x.clone(),
        })
    };
    if a.is_method() {
        a.arity(1, 2)?;
        let l = list_arg(a, &a.val(it, 0)?)?;
        let mut best = a.opt(it, 1, "initial")?;
        for x in l.iter() {
            it.burn(1, a.at)?;
            stub_check(x)?;
            best = Some(match best {
                None => x.clone(),
                Some(bv) => {
                    stub_check(&bv)?;
                    pick(&bv, x)?
                }
            });
        }
        return best.map_or_else(
            || a.fail(format!("{name}() of an empty list with no initial value")),
            Ok,
        );
    }
    a.arity(2, 2)?;
    let x = a.val(it, 0)?;
    let y = a.val(it, 1)?;
    stub_check(&x)?;
    stub_check(&y)?;
    pick(&x, &y)
}

fn f_sum(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 2)?;
    let l = list_arg(a, &a.val(it, 0)?)?;
    let mut acc = a.opt(it, 1, "initial")?;
    for x in l.iter() {
        stub_check(x)?;
        acc = Some(match acc {
            None => x.clone(),
            Some(s) => add_values(it, a, &s, x)?,
        });
    }
    acc.map_or_else(
        || a.fail("sum() of an empty list (yaql: reduce() of empty iterable with no initial value); give an initial value: sum(0)"),
        Ok,
    )
}

fn f_order_by(it: &mut Interp, a: &Args, name: &str) -> R {
    a.arity(2, 2)?;
    let l = list_arg(a, &a.val(it, 0)?)?;
    let f = a.lambda(1)?;
    let mut keyed = Vec::with_capacity(l.len());
    for x in l.iter() {
        let k = a.apply(it, f, x.clone())?;
        stub_check(&k)?;
        keyed.push((k, x.clone()));
    }
    it.burn((keyed.len() as u64) * 4, a.at)?;
    let mut err = None;
    keyed.sort_by(|p, q| {
        let o = cmp_values(&p.0, &q.0).unwrap_or_else(|m| {
            err.get_or_insert(m);
            std::cmp::Ordering::Equal
        });
        if name == "orderBy" { o } else { o.reverse() }
    });
    if let Some(m) = err {
        return a.fail(m);
    }
    Ok(V::list(keyed.into_iter().map(|(_, x)| x).collect()))
}

fn f_group_by(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(2, 4)?;
    let l = list_arg(a, &a.val(it, 0)?)?;
    let key = a.lambda(1)?;
    let value = a.opt_lambda(2, "valueSelector")?;
    let agg = a.opt_lambda(3, "aggregator")?;
    let mut groups: Vec<(V, Vec<V>)> = Vec::new();
    for x in l.iter() {
        let k = a.apply(it, key, x.clone())?;
        stub_check(&k)?;
        let v = match value {
            Some(f) => a.apply(it, f, x.clone())?,
            None => x.clone(),
        };
        it.burn(groups.len() as u64 / 16, a.at)?;
        match groups.iter_mut().find(|(gk, _)| py_eq(gk, &k)) {
            Some((_, vs)) => vs.push(v),
            None => groups.push((k, vec![v])),
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for (k, vs) in groups {
        let pair = V::list(vec![k, V::list(vs)]);
        out.push(match agg {
            Some(f) => a.apply(it, f, pair)?,
            None => pair,
        });
    }
    Ok(V::list(out))
}

fn f_to_dict(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(2, 3)?;
    let l = list_arg(a, &a.val(it, 0)?)?;
    let kf = a.lambda(1)?;
    let vf = a.opt_lambda(2, "valueSelector")?;
    let mut d = Dict::new();
    for x in l.iter() {
        let k = a.apply(it, kf, x.clone())?;
        stub_check(&k)?;
        let v = match vf {
            Some(f) => a.apply(it, f, x.clone())?,
            None => x.clone(),
        };
        d.insert(Key::new(k).or_else(|m| a.fail(m))?, v);
    }
    Ok(V::Dict(Arc::new(d)))
}

fn f_zip(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(2, usize::MAX)?;
    let mut lists = Vec::with_capacity(a.len());
    for i in 0..a.len() {
        lists.push(list_arg(a, &a.val(it, i)?)?);
    }
    let n = lists.iter().map(|l| l.len()).min().unwrap_or(0);
    it.burn(n as u64, a.at)?;
    Ok(V::list(
        (0..n)
            .map(|i| V::list(lists.iter().map(|l| l[i].clone()).collect()))
            .collect(),
    ))
}

fn f_skip(it: &mut Interp, a: &Args, name: &str) -> R {
    a.arity(2, 2)?;
    let l = list_arg(a, &a.val(it, 0)?)?;
    let n = int_arg(a, &a.val(it, 1)?)?;
    let Ok(n) = usize::try_from(n) else {
        return a.fail(format!("{name}() needs a count of 0 or more, got {n}"));
    };
    it.burn(l.len() as u64 / 8, a.at)?;
    Ok(V::list(if name == "skip" {
        l.iter().skip(n).cloned().collect()
    } else {
        l.iter().take(n).cloned().collect()
    }))
}

fn f_reverse(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 1)?;
    let l = list_arg(a, &a.val(it, 0)?)?;
    it.burn(l.len() as u64 / 8, a.at)?;
    Ok(V::list(l.iter().rev().cloned().collect()))
}

fn f_to_list(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 1)?;
    match a.val(it, 0)? {
        V::List(l) => Ok(V::List(l)),
        V::Stub => Err(E::Stub),
        other => a.fail(format!(
            "toList() needs a collection, got {}",
            describe_value(&other)
        )),
    }
}

fn f_to_char_array(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(1, 1)?;
    let s = str_arg(a, &a.val(it, 0)?)?;
    Ok(V::list(s.chars().map(|c| V::str(&c.to_string())).collect()))
}

fn f_to_upper(it: &mut Interp, a: &Args, name: &str) -> R {
    a.arity(1, 1)?;
    let s = str_arg(a, &a.val(it, 0)?)?;
    Ok(V::str(&if name == "toUpper" {
        s.to_uppercase()
    } else {
        s.to_lowercase()
    }))
}

fn f_trim(it: &mut Interp, a: &Args, name: &str) -> R {
    a.arity(1, 2)?;
    let s = str_arg(a, &a.val(it, 0)?)?;
    let set = opt_str_arg(a, a.opt(it, 1, "chars")?)?;
    let strip = |c: char| match &set {
        Some(cs) => cs.contains(c),
        None => c.is_whitespace(),
    };
    Ok(V::str(match name {
        "trim" => s.trim_matches(strip),
        "trimLeft" => s.trim_start_matches(strip),
        _ => s.trim_end_matches(strip),
    }))
}

fn f_starts_with(it: &mut Interp, a: &Args, name: &str) -> R {
    a.arity(2, usize::MAX)?;
    let s = str_arg(a, &a.val(it, 0)?)?;
    for i in 1..a.len() {
        let p = str_arg(a, &a.val(it, i)?)?;
        let hit = if name == "startsWith" {
            s.starts_with(&*p)
        } else {
            s.ends_with(&*p)
        };
        if hit {
            return b(true);
        }
    }
    b(false)
}

fn f_substring(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(2, 3)?;
    let s = chars(&str_arg(a, &a.val(it, 0)?)?);
    let n = s.len() as i64;
    let start = int_arg(a, &a.val(it, 1)?)?;
    let length = match a.opt(it, 2, "length")? {
        Some(l) => int_arg(a, &l)?,
        None => -1,
    };
    // yaql: a negative start counts from the end; a negative length means "to the end".
    let from = if start < 0 {
        (start + n).max(0)
    } else {
        start.min(n)
    };
    let to = if length < 0 {
        n
    } else {
        from.saturating_add(length).min(n)
    };
    Ok(V::str(
        &s[from as usize..to.max(from) as usize]
            .iter()
            .collect::<String>(),
    ))
}

fn f_replace(it: &mut Interp, a: &Args, _name: &str) -> R {
    let first = a.val(it, 0)?;
    if let V::Regex(re) = &first {
        // regex.replace(string, repl, count)
        a.arity(3, 4)?;
        let s = str_arg(a, &a.val(it, 1)?)?;
        let repl = str_arg(a, &a.val(it, 2)?)?;
        let count = match a.opt(it, 3, "count")? {
            Some(c) => int_arg(a, &c)?,
            None => 0,
        };
        let repl = python_replacement(&repl);
        let limit = usize::try_from(count.max(0)).unwrap_or(0);
        return Ok(V::str(&re.replacen(&s, limit, repl.as_str())));
    }
    a.arity(3, 4)?;
    let s = str_arg(a, &first)?;
    let second = a.val(it, 1)?;
    if let V::Regex(re) = &second {
        let repl = str_arg(a, &a.val(it, 2)?)?;
        let count = match a.opt(it, 3, "count")? {
            Some(c) => int_arg(a, &c)?,
            None => 0,
        };
        let limit = usize::try_from(count.max(0)).unwrap_or(0);
        return Ok(V::str(&re.replacen(
            &s,
            limit,
            python_replacement(&repl).as_str(),
        )));
    }
    let old = str_arg(a, &second)?;
    let new = str_arg(a, &a.val(it, 2)?)?;
    let count = match a.opt(it, 3, "count")? {
        Some(c) => int_arg(a, &c)?,
        None => -1,
    };
    let out = if count < 0 {
        s.replace(&*old, &new)
    } else {
        s.replacen(&*old, &new, usize::try_from(count).unwrap_or(0))
    };
    it.burn(out.len() as u64 / 64, a.at)?;
    Ok(V::str(&out))
}

fn f_split(it: &mut Interp, a: &Args, name: &str) -> R {
    a.arity(1, 3)?;
    let first = a.val(it, 0)?;
    if let V::Regex(re) = &first {
        a.arity(2, 3)?;
        let s = str_arg(a, &a.val(it, 1)?)?;
        return Ok(V::list(re.split(&s).map(V::str).collect()));
    }
    let s = str_arg(a, &first)?;
    let sep = a.opt(it, 1, "separator")?;
    if let Some(V::Regex(re)) = &sep {
        return Ok(V::list(re.split(&s).map(V::str).collect()));
    }
    let sep = opt_str_arg(a, sep)?;
    let max = match a.opt(it, 2, "maxSplits")? {
        Some(m) => int_arg(a, &m)?,
        None => -1,
    };
    let parts = py_split(&s, sep.as_deref(), max, name == "rightSplit").or_else(|m| a.fail(m))?;
    it.burn(parts.len() as u64 / 8, a.at)?;
    Ok(V::list(parts.into_iter().map(|p| V::str(&p)).collect()))
}

fn f_matches(it: &mut Interp, a: &Args, _name: &str) -> R {
    a.arity(2, 2)?;
    let (x, y) = (a.val(it, 0)?, a.val(it, 1)?);
    stub_check(&x)?;
    stub_check(&y)?;
    match (&x, &y) {
        (V::Regex(re), V::Str(s)) => b(re.is_match(s)),
        (V::Str(s), V::Str(p)) => b(compile_regex(p).or_else(|m| a.fail(m))?.is_match(s)),
        (V::Str(s), V::Regex(re)) => b(re.is_match(s)),
        _ => a.fail("matches() needs a regex or a string and a string"),
    }
}

fn f_search(it: &mut Interp, a: &Args, name: &str) -> R {
    a.arity(2, 2)?;
    let re = match a.val(it, 0)? {
        V::Regex(re) => re,
        V::Stub => return Err(E::Stub),
        other => {
            return a.fail(format!(
                "{name}() is a method of regex(…), e.g. regex('a+').{name}(text); got {}",
                describe_value(&other)
            ));
        }
    };
    let s = str_arg(a, &a.val(it, 1)?)?;
    if name == "search" {
        Ok(re.find(&s).map_or(V::Null, |m| V::str(m.as_str())))
    } else {
        Ok(V::list(
            re.find_iter(&s).map(|m| V::str(m.as_str())).collect(),
        ))
    }
}

fn flatten_into(it: &mut Interp, a: &Args, l: &[V], out: &mut Vec<V>) -> R<()> {
    for x in l {
        it.burn(1, a.at)?;
        match x {
            V::List(inner) => flatten_into(it, a, inner, out)?,
            V::Stub => return Err(E::Stub),
            other => out.push(other.clone()),
        }
    }
    Ok(())
}

/// Python's `str.split` / `str.rsplit`: no separator splits on runs of whitespace.
fn py_split(s: &str, sep: Option<&str>, max: i64, right: bool) -> Result<Vec<String>, String> {
    let max = if max < 0 {
        usize::MAX
    } else {
        usize::try_from(max).unwrap_or(usize::MAX)
    };
    match sep {
        Some("") => Err("empty separator".into()),
        Some(sep) => {
            if right {
                let mut parts: Vec<String> = s
                    .rsplitn(max.saturating_add(1), sep)
                    .map(str::to_string)
                    .collect();
                parts.reverse();
                Ok(parts)
            } else {
                Ok(s.splitn(max.saturating_add(1), sep)
                    .map(str::to_string)
                    .collect())
            }
        }
        None => {
            let words: Vec<&str> = s.split_whitespace().collect();
            if words.len() <= max.saturating_add(1) || max == usize::MAX {
                return Ok(words.into_iter().map(str::to_string).collect());
            }
            if right {
                // The first words stay joined with their original spacing.
                let mut rest = s.trim_end();
                let mut tail = Vec::new();
                for _ in 0..max {
                    let cut = rest.rfind(char::is_whitespace).unwrap_or(0);
                    tail.push(rest[cut..].trim_start().to_string());
                    rest = rest[..cut].trim_end();
                }
                tail.push(rest.trim_start().to_string());
                tail.reverse();
                Ok(tail)
            } else {
                let mut rest = s.trim_start();
                let mut out = Vec::new();
                for _ in 0..max {
                    let cut = rest.find(char::is_whitespace).unwrap_or(rest.len());
                    out.push(rest[..cut].to_string());
                    rest = rest[cut..].trim_start();
                }
                out.push(rest.to_string());
                Ok(out)
            }
        }
    }
}

/// Python's `\1` / `\g<name>` in a replacement become the regex crate's `${1}` / `${name}`;
/// a literal `$` is escaped.
fn python_replacement(repl: &str) -> String {
    let mut out = String::new();
    let cs: Vec<char> = repl.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        match cs[i] {
            '$' => out.push_str("$$"),
            '\\' if i + 1 < cs.len() && cs[i + 1].is_ascii_digit() => {
                let mut j = i + 1;
                while j < cs.len() && j < i + 3 && cs[j].is_ascii_digit() {
                    j += 1;
                }
                out.push_str("${");
                out.extend(&cs[i + 1..j]);
                out.push('}');
                i = j;
                continue;
            }
            '\\' if i + 2 < cs.len() && cs[i + 1] == 'g' && cs[i + 2] == '<' => {
                if let Some(end) = cs[i + 3..].iter().position(|c| *c == '>') {
                    out.push_str("${");
                    out.extend(&cs[i + 3..i + 3 + end]);
                    out.push('}');
                    i += 4 + end;
                    continue;
                }
                out.push('\\');
            }
            '\\' if i + 1 < cs.len() && cs[i + 1] == 'n' => {
                out.push('\n');
                i += 2;
                continue;
            }
            '\\' if i + 1 < cs.len() && cs[i + 1] == '\\' => {
                out.push('\\');
                i += 2;
                continue;
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn round_half_even(f: f64) -> f64 {
    let r = f.round();
    if (f - f.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - f.signum()
    } else {
        r
    }
}

/// Python's `float()` of a string: decimal forms, exponents, `inf`/`nan` refused (not JSON).
fn parse_py_float(s: &str) -> Option<f64> {
    let t = s.trim().replace('_', "");
    if t.is_empty()
        || t.chars()
            .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Jinja's names people reach for inside `<% %>`, and YAQL's way of saying them.
const JINJA_NAMES: &[(&str, &str)] = &[
    ("length", "len(x) or x.len()"),
    ("lower", "x.toLower()"),
    ("upper", "x.toUpper()"),
    ("strip", "x.trim()"),
    ("default", "coalesce(x, default)"),
    ("selectattr", "x.where($.attr = value)"),
    ("map", "x.select($.attr)"),
    ("unique", "x.distinct()"),
    ("sort", "x.orderBy($)"),
    ("tojson", "a {{ }} Jinja expression"),
    ("to_json_string", "a {{ }} Jinja expression"),
    ("string", "str(x)"),
];

/// The message for a name that is no function orch knows.
pub(crate) fn unknown_message(name: &str, method: bool) -> String {
    if let Some(reason) = refused(name) {
        return format!("yaql function `{name}` is not supported by orch: it {reason}");
    }
    if let Some((_, yaql)) = JINJA_NAMES.iter().find(|(j, _)| *j == name) {
        let kind = if method { "method" } else { "function" };
        return format!(
            "unknown {kind} `{name}` (Jinja's name; {{{{ }}}} is Jinja, <% %> is YAQL): in YAQL write {yaql}"
        );
    }
    let near: Vec<&str> = FUNCTIONS
        .iter()
        .map(|(n, ..)| *n)
        .chain(HOST_FUNCTIONS)
        .filter(|n| similar(n, name))
        .collect();
    let hint = if near.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", near.join(" or "))
    };
    if method {
        format!("unknown method `{name}`{hint}")
    } else {
        format!("unknown function `{name}`{hint}")
    }
}

/// Names one edit apart, or equal ignoring case (a typo, or Jinja's `lower` for `toLower` …).
fn similar(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    // A misspelt ending: `lenght` for `len`, `startswith` for `startsWith`.
    if a.len() >= 3 && b.len() >= 3 && (a.starts_with(b) || b.starts_with(a)) {
        return true;
    }
    let (x, y): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if x.len().abs_diff(y.len()) > 2 {
        return false;
    }
    // Levenshtein distance ≤ 2.
    let mut prev: Vec<usize> = (0..=y.len()).collect();
    for (i, cx) in x.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cy) in y.iter().enumerate() {
            let sub = prev[j] + usize::from(cx != cy);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[y.len()] <= 2
}

/// Used by the validator: `name` called as a method (`true`) or a function is known.
pub(crate) fn check_call(name: &str, method: bool) -> Result<(), String> {
    if !method && is_host_function(name) {
        return Ok(());
    }
    match lookup(name) {
        None => Err(unknown_message(name, method)),
        Some(Form::Function) if method => Err(format!(
            "{name} is a function, not a method: write {name}(x), not x.{name}()"
        )),
        Some(Form::Method) if !method && refused(name).is_some() => {
            Err(unknown_message(name, false))
        }
        Some(Form::Method) if !method => Err(format!(
            "{name} is a method: write x.{name}(…), not {name}(x, …)"
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_names_every_function_orch_implements() {
        let readme = include_str!("../../../README.md");
        let missing: Vec<&str> = FUNCTIONS
            .iter()
            .map(|(n, ..)| *n)
            .chain(HOST_FUNCTIONS)
            .filter(|n| {
                *n != "let"
                    && !readme.contains(&format!("`{n}"))
                    && !readme.contains(&format!("`.{n}("))
            })
            .collect();
        assert!(missing.is_empty(), "README does not mention {missing:?}");
    }

    #[test]
    fn no_name_is_both_implemented_and_refused_except_set() {
        for (n, _) in REFUSED {
            assert!(
                lookup(n).is_none() || *n == "set",
                "{n} is implemented and refused"
            );
        }
    }

    #[test]
    fn python_replacement_groups_become_regex_crate_groups() {
        assert_eq!(python_replacement(r"<\1>"), "<${1}>");
        assert_eq!(python_replacement(r"\g<name>-$"), "${name}-$$");
    }
}
