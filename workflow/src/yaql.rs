//! YAQL, the language of Orquesta's `<% … %>`: a lexer, a parser keeping positions, an
//! evaluator over JSON-shaped values and the part of yaql 3's standard library that workflows
//! use, checked against Python's `yaql` by the oracle fixture in `workflow/tests/yaql/`.
//!
//! What orch cannot evaluate as yaql does is refused, never approximated: a function outside
//! [`library::FUNCTIONS`] is an error when the expression is compiled, so `orch workflow
//! validate` names it before anything runs. The embedding (Orquesta's `ctx()`, `result()` …)
//! comes in through [`eval::Host`]. A fuel budget and a depth limit bound every evaluation.

mod eval;
mod lexer;
mod library;
mod parser;
mod value;

pub(crate) use eval::Host;
pub(crate) use value::{Dict, Key, V, py_str};

use eval::{E, Interp};
use parser::{Arg, Kind, Node};

/// A compiled expression.
#[derive(Debug)]
pub(crate) struct Program {
    root: Node,
    /// Character count of the source, for positions at its end.
    len: usize,
}

/// A failure with the 0-based character position inside the expression.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Failure {
    pub pos: usize,
    pub message: String,
}

impl Failure {
    /// The message with a 1-based position, as shown to workflow authors.
    pub(crate) fn describe(&self) -> String {
        format!("{} (at character {})", self.message, self.pos + 1)
    }
}

/// Lexes, parses and checks every function name against what orch implements.
pub(crate) fn compile(code: &str) -> Result<Program, Failure> {
    let toks = lexer::lex(code).map_err(|e| Failure {
        pos: e.pos,
        message: format!("syntax error: {}", e.message),
    })?;
    let len = code.chars().count();
    let root = parser::parse(&toks, len).map_err(|e| Failure {
        pos: e.pos,
        message: format!("syntax error: {}", e.message),
    })?;
    check_calls(&root)?;
    check_bare_function_names(&root)?;
    Ok(Program { root, len })
}

/// A bare `succeeded` is the string "succeeded" in YAQL, which is always true: as a condition it
/// would take the transition whatever happened. yaql accepts it; orch refuses it.
fn check_bare_function_names(n: &Node) -> Result<(), Failure> {
    const STATUS: [&str; 4] = ["succeeded", "failed", "completed", "result"];
    match &n.kind {
        Kind::Word(w) if STATUS.contains(&&**w) => Err(Failure {
            pos: n.pos,
            message: format!(
                "`{w}` without parentheses is the string '{w}' in YAQL (always true); call the function: {w}()"
            ),
        }),
        Kind::Unary {
            op: parser::UnOp::Not,
            operand,
        } => check_bare_function_names(operand),
        Kind::Binary {
            op: parser::BinOp::And | parser::BinOp::Or,
            left,
            right,
        } => {
            check_bare_function_names(left)?;
            check_bare_function_names(right)
        }
        _ => Ok(()),
    }
}

/// Every call resolves: a known function called as yaql allows (function, method or both).
fn check_calls(n: &Node) -> Result<(), Failure> {
    let fail = |message: String| Failure {
        pos: n.pos,
        message,
    };
    match &n.kind {
        Kind::Call { name, .. } => {
            if &**name == "let" {
                return Err(fail(
                    "let(…) must be followed by `->`, e.g. let(x => 1) -> $x + 1".into(),
                ));
            }
            library::check_call(name, false).map_err(fail)?;
        }
        Kind::Method { name, .. } => library::check_call(name, true).map_err(fail)?,
        Kind::Binary {
            op: parser::BinOp::Send,
            left,
            right,
        } => {
            // `let(…)` is legal only here; its arguments and the body are checked as usual.
            match &left.kind {
                Kind::Call { name, args } if &**name == "let" => {
                    for a in args {
                        match a {
                            Arg::Pos(x) => check_calls(x)?,
                            Arg::Named(k, v) => {
                                check_calls(k)?;
                                check_calls(v)?;
                            }
                        }
                    }
                }
                _ => {
                    return Err(Failure {
                        pos: n.pos,
                        message: "`->` is supported after let(…) only, e.g. let(x => 1) -> $x + 1"
                            .into(),
                    });
                }
            }
            return check_calls(right);
        }
        _ => {}
    }
    for c in children(n) {
        check_calls(c)?;
    }
    Ok(())
}

fn children(n: &Node) -> Vec<&Node> {
    fn args(a: &[Arg]) -> impl Iterator<Item = &Node> {
        a.iter().flat_map(|a| match a {
            Arg::Pos(n) => vec![n],
            Arg::Named(k, v) => vec![k, v],
        })
    }
    match &n.kind {
        Kind::Const(_) | Kind::Word(_) | Kind::Var(_) => vec![],
        Kind::List(items) => items.iter().collect(),
        Kind::Dict(pairs) => pairs.iter().flat_map(|(k, v)| [k, v]).collect(),
        Kind::Call { args: a, .. } => args(a).collect(),
        Kind::Method { recv, args: a, .. } => {
            std::iter::once(recv.as_ref()).chain(args(a)).collect()
        }
        Kind::Attr { recv, .. } => vec![recv],
        Kind::Index { recv, args } => std::iter::once(recv.as_ref()).chain(args).collect(),
        Kind::Unary { operand, .. } => vec![operand],
        Kind::Binary { left, right, .. } => vec![left, right],
    }
}

/// Whether orch implements the yaql function `name` or refuses it with a reason.
#[cfg(test)]
pub(crate) fn is_classified(name: &str) -> bool {
    library::lookup(name).is_some() || library::refused(name).is_some()
}

/// Evaluates a compiled expression; a stub anywhere in the way gives a stub.
pub(crate) fn evaluate(p: &Program, host: &dyn Host) -> Result<V, Failure> {
    let mut it = Interp {
        host,
        fuel: eval::FUEL,
    };
    match it.run(&p.root) {
        Ok(v) => Ok(v),
        Err(E::Stub) => Ok(V::Stub),
        Err(E::Fail { pos, message }) => Err(Failure {
            pos: pos.min(p.len),
            message,
        }),
    }
}

/// Shorthand used by tests and the host: evaluate `code` against JSON data bound to `$`.
#[cfg(test)]
pub(crate) fn eval_json(
    code: &str,
    root: &serde_json::Value,
) -> Result<serde_json::Value, Failure> {
    struct Data(V);
    impl Host for Data {
        fn call(&self, _: &str, _: &[V], _: &[(String, V)]) -> Option<Result<V, String>> {
            None
        }
        fn root(&self) -> V {
            self.0.clone()
        }
        fn root_key(&self, name: &str) -> Result<V, String> {
            match &self.0 {
                V::Dict(d) => d
                    .get(&Key::str(name))
                    .cloned()
                    .ok_or_else(|| eval::missing_key(name, d)),
                other => Err(format!("`.{name}` on a {}", other.type_name())),
            }
        }
    }
    let p = compile(code)?;
    let v = evaluate(&p, &Data(V::from_json(root)))?;
    v.to_json().map_err(|message| Failure { pos: 0, message })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(code: &str) -> Result<serde_json::Value, String> {
        eval_json(code, &json!({"xs": [1, 2, 3], "a": {"b": 1}, "s": "hello"}))
            .map_err(|f| f.describe())
    }

    #[test]
    fn precedence_follows_yaql() {
        assert_eq!(ev("1 + 2 * 3").ok(), Some(json!(7)));
        assert_eq!(ev("not 1 = 2").ok(), Some(json!(true)));
        assert_eq!(ev("-2 * 3").ok(), Some(json!(-6)));
        assert_eq!(ev("1 = 1 = true").ok(), Some(json!(true)));
        assert_eq!(ev("true or false and false").ok(), Some(json!(true)));
        assert_eq!(ev("7 / 2").ok(), Some(json!(3)));
        assert_eq!(ev("-7 / 2").ok(), Some(json!(-4)));
        assert_eq!(ev("7 mod -3").ok(), Some(json!(-2)));
    }

    #[test]
    fn methods_rebind_dollar_in_lambdas() {
        assert_eq!(ev("$.xs.select($ * 2)").ok(), Some(json!([2, 4, 6])));
        assert_eq!(ev("$.xs.where($ > 1).len()").ok(), Some(json!(2)));
        assert_eq!(
            ev("let(k => 2) -> $.xs.where($ >= $k)").ok(),
            Some(json!([2, 3]))
        );
    }

    #[test]
    fn unknown_and_refused_functions_fail_at_compile_with_a_hint() {
        let e = compile("$.xs.lenght()").expect_err("unknown");
        assert!(e.message.contains("len"), "{}", e.message);
        assert_eq!(e.pos, 5);
        let e = compile("now()").expect_err("refused");
        assert!(e.message.contains("not supported by orch"), "{}", e.message);
        let e = compile("keys($.a)").expect_err("method as function");
        assert!(e.message.contains("x.keys("), "{}", e.message);
    }

    #[test]
    fn syntax_errors_carry_the_position() {
        let e = compile("1 + + ").expect_err("syntax");
        assert!(e.message.starts_with("syntax error"), "{}", e.message);
        let e = compile("$.a = = 1").expect_err("syntax");
        assert_eq!(e.pos, 6, "{e:?}");
    }

    #[test]
    fn hostile_expressions_stop() {
        let e = ev("range(100000000).len()").expect_err("fuel");
        assert!(e.contains("fuel"), "{e}");
        let e = ev("range(1000).select(range(1000).sum())").expect_err("fuel");
        assert!(e.contains("fuel"), "{e}");
        let e = ev("'ab' * 100000000").expect_err("fuel");
        assert!(e.contains("fuel"), "{e}");
        let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        let e = compile(&deep).expect_err("deep");
        assert!(e.message.contains("nests deeper"), "{}", e.message);
        let chain = format!("1{}", " + 1".repeat(500));
        let e = compile(&chain).expect_err("deep");
        assert!(e.message.contains("nests deeper"), "{}", e.message);
    }
}
