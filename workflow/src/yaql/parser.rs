//! YAQL's grammar as yaql 3 builds it: a precedence table (lowest first: `->`, `or`, `and`,
//! `not`, the comparisons with `in` and `=` all at one level, `+ -`, `* / mod`, `=~ !~`, unary
//! `+ -`, indexing `[ ]`, then `.` and `?.`), function calls `f(…)`, method calls `x.f(…)`,
//! named arguments `name => value`, lists `[…]` and dicts `{k => v}`.
//!
//! Every node keeps the character position it starts at, for messages, and its depth, so a
//! hostile expression is refused before evaluation could recurse too deep.

use std::sync::Arc;

use super::lexer::{Tok, Token};
use super::value::V;

/// Deepest expression tree accepted (parentheses, operators, calls, lambdas all count).
pub(crate) const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub kind: Kind,
    pub pos: usize,
    pub depth: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Send,
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    In,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Match,
    NotMatch,
}

impl BinOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Send => "->",
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Gt => ">",
            BinOp::Le => "<=",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "mod",
            BinOp::Match => "=~",
            BinOp::NotMatch => "!~",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnOp {
    Not,
    Neg,
    Pos,
}

#[derive(Clone, Debug)]
pub(crate) enum Arg {
    Pos(Node),
    /// `name => value`.
    Named(Node, Node),
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    /// A number, quoted string, `true`, `false` or `null`.
    Const(V),
    /// A bare word: a string, or an attribute name after `.`.
    Word(Arc<str>),
    /// `$` (empty name) or `$name`.
    Var(Arc<str>),
    List(Vec<Node>),
    Dict(Vec<(Node, Node)>),
    /// `name(args)`.
    Call {
        name: Arc<str>,
        args: Vec<Arg>,
    },
    /// `recv.name(args)`; `safe` for `?.`.
    Method {
        recv: Box<Node>,
        name: Arc<str>,
        args: Vec<Arg>,
        safe: bool,
    },
    /// `recv.name`; `safe` for `?.`.
    Attr {
        recv: Box<Node>,
        name: Arc<str>,
        safe: bool,
    },
    /// `recv[args]`.
    Index {
        recv: Box<Node>,
        args: Vec<Node>,
    },
    Unary {
        op: UnOp,
        operand: Box<Node>,
    },
    Binary {
        op: BinOp,
        left: Box<Node>,
        right: Box<Node>,
    },
}

/// A syntax error at a character position.
#[derive(Clone, Debug)]
pub(crate) struct SyntaxError {
    pub pos: usize,
    pub message: String,
}

struct Parser<'a> {
    toks: &'a [Token],
    i: usize,
    end: usize,
}

fn binary(tok: &Tok) -> Option<(BinOp, u8, bool)> {
    let Tok::Op(op) = tok else { return None };
    // (operator, binding power, right-associative)
    Some(match *op {
        "->" => (BinOp::Send, 1, true),
        "or" => (BinOp::Or, 2, false),
        "and" => (BinOp::And, 3, false),
        "=" => (BinOp::Eq, 5, false),
        "!=" => (BinOp::Ne, 5, false),
        "<" => (BinOp::Lt, 5, false),
        ">" => (BinOp::Gt, 5, false),
        "<=" => (BinOp::Le, 5, false),
        ">=" => (BinOp::Ge, 5, false),
        "in" => (BinOp::In, 5, false),
        "+" => (BinOp::Add, 6, false),
        "-" => (BinOp::Sub, 6, false),
        "*" => (BinOp::Mul, 7, false),
        "/" => (BinOp::Div, 7, false),
        "mod" => (BinOp::Mod, 7, false),
        "=~" => (BinOp::Match, 8, false),
        "!~" => (BinOp::NotMatch, 8, false),
        _ => return None,
    })
}

const BP_NOT: u8 = 4;
const BP_UNARY: u8 = 9;
const BP_INDEX: u8 = 10;
const BP_DOT: u8 = 11;

fn describe(t: Option<&Token>) -> String {
    match t.map(|t| &t.tok) {
        None => "end of expression".into(),
        Some(Tok::Int(i)) => format!("`{i}`"),
        Some(Tok::Float(f)) => format!("`{f}`"),
        Some(Tok::Str(s)) => format!("string {s:?}"),
        Some(Tok::Word(w)) => format!("`{w}`"),
        Some(Tok::Func(f)) => format!("`{f}(`"),
        Some(Tok::Dollar(d)) => format!("`${d}`"),
        Some(Tok::True) => "`true`".into(),
        Some(Tok::False) => "`false`".into(),
        Some(Tok::Null) => "`null`".into(),
        Some(Tok::Op(o)) => format!("`{o}`"),
    }
}

fn too_deep(pos: usize) -> SyntaxError {
    SyntaxError {
        pos,
        message: format!("the expression nests deeper than {MAX_DEPTH} levels"),
    }
}

/// A node, refused when it would make the tree deeper than [`MAX_DEPTH`].
fn build(kind: Kind, pos: usize) -> Result<Node, SyntaxError> {
    let depth = 1 + kind.children().iter().map(|c| c.depth).max().unwrap_or(0);
    if depth > MAX_DEPTH {
        return Err(too_deep(pos));
    }
    Ok(Node { kind, pos, depth })
}

impl Kind {
    fn children(&self) -> Vec<&Node> {
        fn args(a: &[Arg]) -> impl Iterator<Item = &Node> {
            a.iter().flat_map(|a| match a {
                Arg::Pos(n) => vec![n],
                Arg::Named(k, v) => vec![k, v],
            })
        }
        match self {
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
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }

    fn pos(&self) -> usize {
        self.peek().map_or(self.end, |t| t.pos)
    }

    fn unexpected(&self) -> SyntaxError {
        let after_eq = self.i > 0
            && matches!(
                self.toks.get(self.i - 1),
                Some(Token {
                    tok: Tok::Op("="),
                    ..
                })
            )
            && matches!(
                self.peek(),
                Some(Token {
                    tok: Tok::Op("="),
                    ..
                })
            );
        let hint = if after_eq {
            " (YAQL's equality is one `=`: ctx(x) = 'a')"
        } else {
            ""
        };
        SyntaxError {
            pos: self.pos(),
            message: format!("unexpected {}{hint}", describe(self.peek())),
        }
    }

    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Token { tok: Tok::Op(o), .. }) if *o == op) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, op: &str) -> Result<(), SyntaxError> {
        if self.eat(op) {
            Ok(())
        } else {
            let mut e = self.unexpected();
            e.message = format!("{}; expected `{op}`", e.message);
            Err(e)
        }
    }

    fn expr(&mut self, min_bp: u8, level: usize) -> Result<Node, SyntaxError> {
        if level > MAX_DEPTH {
            return Err(too_deep(self.pos()));
        }
        let mut lhs = self.prefix(level)?;
        while let Some(t) = self.peek() {
            let pos = t.pos;
            match &t.tok {
                Tok::Op(op @ ("." | "?.")) => {
                    if BP_DOT < min_bp {
                        break;
                    }
                    let safe = *op == "?.";
                    self.i += 1;
                    let rhs = self.expr(BP_DOT + 1, level + 1)?;
                    let recv = Box::new(lhs);
                    let (kind, at) = match rhs.kind {
                        Kind::Call { name, args } => (
                            Kind::Method {
                                recv,
                                name,
                                args,
                                safe,
                            },
                            rhs.pos,
                        ),
                        Kind::Word(name) => (Kind::Attr { recv, name, safe }, rhs.pos),
                        _ => {
                            // yaql resolves `x.(expr)` to no function at run time; say so now.
                            return Err(SyntaxError {
                                pos: rhs.pos,
                                message: "after `.` comes a key or a method call, e.g. $.name or $.items.len()".into(),
                            });
                        }
                    };
                    lhs = build(kind, at)?;
                }
                Tok::Op("[") => {
                    if BP_INDEX < min_bp {
                        break;
                    }
                    self.i += 1;
                    let args = self.list_items("]", level)?;
                    lhs = build(
                        Kind::Index {
                            recv: Box::new(lhs),
                            args,
                        },
                        pos,
                    )?;
                }
                tok => {
                    let Some((op, bp, right)) = binary(tok) else {
                        break;
                    };
                    if bp < min_bp {
                        break;
                    }
                    self.i += 1;
                    let rhs = self.expr(if right { bp } else { bp + 1 }, level + 1)?;
                    lhs = build(
                        Kind::Binary {
                            op,
                            left: Box::new(lhs),
                            right: Box::new(rhs),
                        },
                        pos,
                    )?;
                }
            }
        }
        Ok(lhs)
    }

    fn prefix(&mut self, level: usize) -> Result<Node, SyntaxError> {
        let Some(t) = self.peek().cloned() else {
            return Err(self.unexpected());
        };
        let pos = t.pos;
        let leaf = |k: Kind| {
            Ok(Node {
                kind: k,
                pos,
                depth: 1,
            })
        };
        match t.tok {
            Tok::Int(i) => {
                self.i += 1;
                leaf(Kind::Const(V::Int(i)))
            }
            Tok::Float(f) => {
                self.i += 1;
                leaf(Kind::Const(V::Float(f)))
            }
            Tok::Str(s) => {
                self.i += 1;
                leaf(Kind::Const(V::Str(s)))
            }
            Tok::True => {
                self.i += 1;
                leaf(Kind::Const(V::Bool(true)))
            }
            Tok::False => {
                self.i += 1;
                leaf(Kind::Const(V::Bool(false)))
            }
            Tok::Null => {
                self.i += 1;
                leaf(Kind::Const(V::Null))
            }
            Tok::Word(w) => {
                self.i += 1;
                leaf(Kind::Word(w))
            }
            Tok::Dollar(d) => {
                self.i += 1;
                leaf(Kind::Var(d))
            }
            Tok::Func(name) => {
                self.i += 1;
                let args = self.args(level)?;
                build(Kind::Call { name, args }, pos)
            }
            Tok::Op("(") => {
                self.i += 1;
                let inner = self.expr(0, level + 1)?;
                self.expect(")")?;
                if inner.depth >= MAX_DEPTH {
                    return Err(too_deep(pos));
                }
                Ok(Node {
                    depth: inner.depth + 1,
                    ..inner
                })
            }
            Tok::Op("[") => {
                self.i += 1;
                let items = self.list_items("]", level)?;
                build(Kind::List(items), pos)
            }
            Tok::Op("{") => {
                self.i += 1;
                let args = self.arg_list("}", level)?;
                let mut pairs = Vec::new();
                for a in args {
                    match a {
                        Arg::Named(k, v) => pairs.push((k, v)),
                        Arg::Pos(n) => {
                            return Err(SyntaxError {
                                pos: n.pos,
                                message: "a dict is written {key => value, …}".into(),
                            });
                        }
                    }
                }
                build(Kind::Dict(pairs), pos)
            }
            Tok::Op("not") => {
                self.i += 1;
                let operand = self.expr(BP_NOT + 1, level + 1)?;
                build(
                    Kind::Unary {
                        op: UnOp::Not,
                        operand: Box::new(operand),
                    },
                    pos,
                )
            }
            Tok::Op(op @ ("-" | "+")) => {
                self.i += 1;
                let operand = self.expr(BP_UNARY, level + 1)?;
                build(
                    Kind::Unary {
                        op: if op == "-" { UnOp::Neg } else { UnOp::Pos },
                        operand: Box::new(operand),
                    },
                    pos,
                )
            }
            _ => Err(self.unexpected()),
        }
    }

    /// Items of `[ … ]`: values only.
    fn list_items(&mut self, close: &str, level: usize) -> Result<Vec<Node>, SyntaxError> {
        let args = self.arg_list(close, level)?;
        args.into_iter()
            .map(|a| match a {
                Arg::Pos(n) => Ok(n),
                Arg::Named(k, _) => Err(SyntaxError {
                    pos: k.pos,
                    message: "`=>` is only for named arguments and dict entries".into(),
                }),
            })
            .collect()
    }

    /// Arguments after `name(`, up to and including `)`.
    fn args(&mut self, level: usize) -> Result<Vec<Arg>, SyntaxError> {
        self.arg_list(")", level)
    }

    fn arg_list(&mut self, close: &str, level: usize) -> Result<Vec<Arg>, SyntaxError> {
        let mut out = Vec::new();
        if self.eat(close) {
            return Ok(out);
        }
        let mut named_seen = false;
        loop {
            if matches!(
                self.peek(),
                Some(Token {
                    tok: Tok::Op(","),
                    ..
                })
            ) || self.at(close)
            {
                return Err(SyntaxError {
                    pos: self.pos(),
                    message: "an empty argument (yaql's default placeholder) is not supported; write the value".into(),
                });
            }
            let value = self.expr(0, level + 1)?;
            if self.eat("=>") {
                let dest = self.expr(0, level + 1)?;
                named_seen = true;
                out.push(Arg::Named(value, dest));
            } else {
                if named_seen {
                    return Err(SyntaxError {
                        pos: value.pos,
                        message:
                            "a positional argument cannot follow a named one (`name => value`)"
                                .into(),
                    });
                }
                out.push(Arg::Pos(value));
            }
            if self.eat(close) {
                return Ok(out);
            }
            self.expect(",").map_err(|mut e| {
                e.message = format!("{}; or `{close}`", e.message);
                e
            })?;
        }
    }

    fn at(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Op(o), .. }) if *o == op)
    }
}

/// Parses a token list (from the whole expression, `len` characters long).
pub(crate) fn parse(toks: &[Token], len: usize) -> Result<Node, SyntaxError> {
    let mut p = Parser {
        toks,
        i: 0,
        end: len,
    };
    if toks.is_empty() {
        return Err(SyntaxError {
            pos: 0,
            message: "empty expression".into(),
        });
    }
    let n = p.expr(0, 0)?;
    if p.i < toks.len() {
        return Err(p.unexpected());
    }
    Ok(n)
}
