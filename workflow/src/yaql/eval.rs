//! Evaluation of a parsed expression: operators with yaql's semantics, variables and lambdas,
//! and the dispatch of calls to the host (Orquesta's functions) or the library.
//!
//! Every node evaluated and every item a library function walks costs one unit of fuel, so a
//! hostile expression (`range(100000000)`, nested loops) stops with an error; the tree's depth
//! was bounded by the parser, so the recursion here is bounded too.

use std::sync::Arc;

use super::library;
use super::parser::{Arg, BinOp, Kind, Node, UnOp};
use super::value::{Dict, Key, V, py_eq};

/// Units of work one evaluation may spend.
pub(crate) const FUEL: u64 = 200_000;

/// What the embedding provides: Orquesta's functions and the value of `$` at the top.
pub(crate) trait Host {
    /// Calls a host function; `None` when `name` is not one.
    fn call(&self, name: &str, args: &[V], named: &[(String, V)]) -> Option<Result<V, String>>;
    /// `$` outside any lambda.
    fn root(&self) -> V;
    /// `$.name` or `ctx().name` outside any lambda, read without building the whole context;
    /// `Err` names the variables there are.
    fn root_key(&self, name: &str) -> Result<V, String>;
}

/// Why an evaluation stopped.
#[derive(Debug)]
pub(crate) enum E {
    /// An error at a character position of the expression.
    Fail { pos: usize, message: String },
    /// A stub reached an operation that needs real data (the validator's dry run): the result is
    /// a stub, not an error.
    Stub,
}

pub(crate) type R<T = V> = Result<T, E>;

/// Variables bound by lambdas and `let`, innermost first.
pub(crate) struct Frame<'p> {
    name: Arc<str>,
    value: V,
    parent: Option<&'p Frame<'p>>,
}

impl Frame<'_> {
    fn lookup(&self, name: &str) -> Option<&V> {
        let mut f = Some(self);
        while let Some(fr) = f {
            if &*fr.name == name {
                return Some(&fr.value);
            }
            f = fr.parent;
        }
        None
    }
}

pub(crate) struct Interp<'h> {
    pub host: &'h dyn Host,
    pub fuel: u64,
}

/// An argument: already a value (a method's receiver), or a node not yet evaluated.
#[derive(Clone)]
pub(crate) enum P<'a> {
    V(V),
    N(&'a Node),
}

/// A call's arguments, evaluated on demand: a library function decides which are values and
/// which are lambdas (re-evaluated per item with `$` bound).
pub(crate) struct Args<'a, 'f> {
    pub name: &'a str,
    pub pos: Vec<P<'a>>,
    pub named: Vec<(String, &'a Node)>,
    pub frame: &'f Frame<'f>,
    pub at: usize,
    pub method: bool,
}

/// A plain error message becomes a failure at `pos`.
pub(crate) fn fail<T>(pos: usize, message: impl Into<String>) -> R<T> {
    Err(E::Fail {
        pos,
        message: message.into(),
    })
}

impl Args<'_, '_> {
    pub(crate) fn len(&self) -> usize {
        self.pos.len()
    }

    /// Written `recv.name(…)`: the receiver is the first argument.
    pub(crate) fn is_method(&self) -> bool {
        self.method
    }

    /// Refuses a call with fewer than `min` or more than `max` positional arguments.
    pub(crate) fn arity(&self, min: usize, max: usize) -> R<()> {
        let n = self.pos.len();
        if n < min || n > max {
            let want = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return fail(
                self.at,
                format!(
                    "{}() takes {want} argument(s) (counting the receiver of a method call), got {n}",
                    self.name
                ),
            );
        }
        Ok(())
    }

    /// Refuses named arguments other than `allowed`.
    pub(crate) fn named_only(&self, allowed: &[&str]) -> R<()> {
        for (k, _) in &self.named {
            if !allowed.contains(&k.as_str()) {
                return fail(self.at, format!("{}() has no parameter `{k}`", self.name));
            }
        }
        Ok(())
    }

    pub(crate) fn val(&self, it: &mut Interp, i: usize) -> R {
        match &self.pos[i] {
            P::V(v) => Ok(v.clone()),
            P::N(n) => it.eval(n, self.frame),
        }
    }

    /// Positional `i`, else the named argument `name`, else `None`.
    pub(crate) fn opt(&self, it: &mut Interp, i: usize, name: &str) -> R<Option<V>> {
        if i < self.pos.len() {
            return self.val(it, i).map(Some);
        }
        match self.named.iter().find(|(k, _)| k == name) {
            Some((_, n)) => it.eval(n, self.frame).map(Some),
            None => Ok(None),
        }
    }

    /// Positional `i` as a lambda (re-evaluated per item).
    pub(crate) fn lambda(&self, i: usize) -> R<&Node> {
        match &self.pos[i] {
            P::N(n) => Ok(n),
            P::V(_) => fail(
                self.at,
                format!("{}() needs an expression here, not a value", self.name),
            ),
        }
    }

    /// Positional `i`, else named `name`, as a lambda.
    pub(crate) fn opt_lambda(&self, i: usize, name: &str) -> R<Option<&Node>> {
        if i < self.pos.len() {
            return self.lambda(i).map(Some);
        }
        Ok(self.named.iter().find(|(k, _)| k == name).map(|(_, n)| *n))
    }

    /// Calls a lambda with `$` bound to `value`.
    pub(crate) fn apply(&self, it: &mut Interp, lambda: &Node, value: V) -> R {
        let f1 = Frame {
            name: Arc::from(""),
            value: value.clone(),
            parent: Some(self.frame),
        };
        let f2 = Frame {
            name: Arc::from("1"),
            value,
            parent: Some(&f1),
        };
        it.eval(lambda, &f2)
    }

    pub(crate) fn fail<T>(&self, message: impl Into<String>) -> R<T> {
        fail(self.at, message)
    }
}

impl Interp<'_> {
    /// Spends `n` units of fuel.
    pub(crate) fn burn(&mut self, n: u64, pos: usize) -> R<()> {
        if self.fuel < n {
            self.fuel = 0;
            return fail(
                pos,
                "the expression ran out of fuel (too much work for one expression); compute it in an action or split it across vars",
            );
        }
        self.fuel -= n;
        Ok(())
    }

    /// Evaluates the whole expression.
    pub(crate) fn run(&mut self, n: &Node) -> R {
        // `$` outside any lambda is the host's; a frame named by no variable stands for it.
        let root = Frame {
            name: Arc::from("\u{0}"),
            value: V::Null,
            parent: None,
        };
        self.eval(n, &root)
    }

    /// `$.name` / `ctx().name` at the top: one variable, not the whole context.
    fn context_key(&self, recv: &Node, f: &Frame) -> bool {
        match &recv.kind {
            Kind::Var(v) => v.is_empty() && f.lookup("").is_none(),
            Kind::Call { name, args } => &**name == "ctx" && args.is_empty(),
            _ => false,
        }
    }

    pub(crate) fn eval(&mut self, n: &Node, f: &Frame) -> R {
        self.burn(1, n.pos)?;
        let pos = n.pos;
        match &n.kind {
            Kind::Const(v) => Ok(v.clone()),
            Kind::Word(w) => Ok(V::Str(w.clone())),
            Kind::Var(name) => match f.lookup(name) {
                Some(v) => Ok(v.clone()),
                None if name.is_empty() => Ok(self.host.root()),
                None => Ok(V::Null),
            },
            Kind::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    out.push(self.eval(i, f)?);
                }
                Ok(V::list(out))
            }
            Kind::Dict(pairs) => {
                let mut d = Dict::new();
                for (k, v) in pairs {
                    let key = self.eval(k, f)?;
                    let key = Key::new(key).or_else(|m| fail(k.pos, m))?;
                    let value = self.eval(v, f)?;
                    d.insert(key, value);
                }
                Ok(V::Dict(Arc::new(d)))
            }
            Kind::Call { name, args } => self.call(name, None, args, f, pos),
            Kind::Method {
                recv,
                name,
                args,
                safe,
            } => {
                let r = self.eval(recv, f)?;
                if *safe && matches!(r, V::Null) {
                    return Ok(V::Null);
                }
                self.call(name, Some(r), args, f, pos)
            }
            Kind::Attr { recv, name, safe } => {
                if self.context_key(recv, f) {
                    self.burn(1, recv.pos)?;
                    return self.host.root_key(name).or_else(|m| fail(pos, m));
                }
                let r = self.eval(recv, f)?;
                if *safe && matches!(r, V::Null) {
                    return Ok(V::Null);
                }
                self.attr(&r, name, pos)
            }
            Kind::Index { recv, args } => {
                let r = self.eval(recv, f)?;
                let mut idx = Vec::with_capacity(args.len());
                for a in args {
                    idx.push(self.eval(a, f)?);
                }
                index(&r, &idx).or_else(|m| fail(pos, m))
            }
            Kind::Unary { op, operand } => {
                let v = self.eval(operand, f)?;
                match op {
                    UnOp::Not => match v {
                        V::Stub => Ok(V::Stub),
                        v => Ok(V::Bool(!v.truthy())),
                    },
                    UnOp::Neg => match v {
                        V::Int(i) => i
                            .checked_neg()
                            .map(V::Int)
                            .map_or_else(|| fail(pos, "integer overflow"), Ok),
                        V::Float(x) => Ok(V::Float(-x)),
                        V::Stub => Ok(V::Stub),
                        other => fail(
                            pos,
                            format!("unary - needs a number, got {}", other.type_name()),
                        ),
                    },
                    UnOp::Pos => match v {
                        V::Int(_) | V::Float(_) | V::Stub => Ok(v),
                        other => fail(
                            pos,
                            format!("unary + needs a number, got {}", other.type_name()),
                        ),
                    },
                }
            }
            Kind::Binary { op, left, right } => self.binary(*op, left, right, f, pos),
        }
    }

    fn binary(&mut self, op: BinOp, left: &Node, right: &Node, f: &Frame, pos: usize) -> R {
        match op {
            BinOp::And => {
                let l = self.eval(left, f)?;
                if l.is_stub() {
                    self.eval(right, f)?;
                    return Ok(V::Stub);
                }
                if !l.truthy() {
                    return Ok(l);
                }
                self.eval(right, f)
            }
            BinOp::Or => {
                let l = self.eval(left, f)?;
                if l.is_stub() {
                    self.eval(right, f)?;
                    return Ok(V::Stub);
                }
                if l.truthy() {
                    return Ok(l);
                }
                self.eval(right, f)
            }
            BinOp::Send => self.send(left, right, f, pos),
            _ => {
                let l = self.eval(left, f)?;
                let r = self.eval(right, f)?;
                if l.is_stub() || r.is_stub() {
                    return Ok(V::Stub);
                }
                let out = match op {
                    BinOp::Eq => Ok(V::Bool(py_eq(&l, &r))),
                    BinOp::Ne => Ok(V::Bool(!py_eq(&l, &r))),
                    BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => compare(op, &l, &r),
                    BinOp::In => contains(&r, &l, op.symbol()),
                    BinOp::Add => return self.add(&l, &r, pos),
                    BinOp::Sub => arith(op, &l, &r),
                    BinOp::Mul => return self.mul(&l, &r, pos),
                    BinOp::Div | BinOp::Mod => arith(op, &l, &r),
                    BinOp::Match | BinOp::NotMatch => match (&l, &r) {
                        (V::Str(s), V::Str(p)) => library::compile_regex(p).map(|re| {
                            let found = re.is_match(s);
                            V::Bool(if op == BinOp::Match { found } else { !found })
                        }),
                        _ => Err(no_operator(op.symbol(), &l, &r)),
                    },
                    BinOp::And | BinOp::Or | BinOp::Send => Err(format!(
                        "internal error: `{}` evaluated as a strict operator",
                        op.symbol()
                    )),
                };
                out.or_else(|m| fail(pos, m))
            }
        }
    }

    /// `let(a => 1, …) -> expr`: evaluates `expr` with `$a` … bound.
    fn send(&mut self, left: &Node, right: &Node, f: &Frame, pos: usize) -> R {
        let Kind::Call { name, args } = &left.kind else {
            return fail(
                pos,
                "`->` is supported after let(…) only, e.g. let(x => 1) -> $x + 1",
            );
        };
        if &**name != "let" {
            return fail(
                pos,
                "`->` is supported after let(…) only, e.g. let(x => 1) -> $x + 1",
            );
        }
        let mut bound: Vec<(Arc<str>, V)> = Vec::new();
        let mut n = 0;
        for a in args {
            match a {
                Arg::Pos(p) => {
                    n += 1;
                    bound.push((Arc::from(n.to_string()), self.eval(p, f)?));
                }
                Arg::Named(k, v) => {
                    let key = self.arg_name(k, f)?;
                    bound.push((Arc::from(key), self.eval(v, f)?));
                }
            }
        }
        self.with_bindings(&bound, f, right)
    }

    fn with_bindings(&mut self, bound: &[(Arc<str>, V)], f: &Frame, body: &Node) -> R {
        match bound.split_first() {
            None => self.eval(body, f),
            Some(((name, value), rest)) => {
                let fr = Frame {
                    name: name.clone(),
                    value: value.clone(),
                    parent: Some(f),
                };
                self.with_bindings(rest, &fr, body)
            }
        }
    }

    fn arg_name(&mut self, k: &Node, f: &Frame) -> R<String> {
        match self.eval(k, f)? {
            V::Str(s) => Ok(s.to_string()),
            other => fail(
                k.pos,
                format!("an argument name must be a word, got {}", other.type_name()),
            ),
        }
    }

    fn add(&mut self, l: &V, r: &V, pos: usize) -> R {
        match (l, r) {
            (V::Str(a), V::Str(b)) => {
                self.burn(((a.len() + b.len()) / 64) as u64, pos)?;
                Ok(V::str(&format!("{a}{b}")))
            }
            (V::List(a), V::List(b)) => {
                self.burn((a.len() + b.len()) as u64 / 8, pos)?;
                let mut out = Vec::with_capacity(a.len() + b.len());
                out.extend(a.iter().cloned());
                out.extend(b.iter().cloned());
                Ok(V::list(out))
            }
            (V::Dict(a), V::Dict(b)) => {
                self.burn((a.len() + b.len()) as u64 / 8, pos)?;
                let mut out = (**a).clone();
                for (k, v) in b.iter() {
                    out.insert(k.clone(), v.clone());
                }
                Ok(V::Dict(Arc::new(out)))
            }
            _ => arith(BinOp::Add, l, r).or_else(|m| fail(pos, m)),
        }
    }

    fn mul(&mut self, l: &V, r: &V, pos: usize) -> R {
        match (l, r) {
            (V::Str(s), V::Int(n)) | (V::Int(n), V::Str(s)) => {
                let n = usize::try_from(*n).unwrap_or(0);
                let len = s.len().saturating_mul(n);
                self.burn(len as u64 / 64, pos)?;
                Ok(V::str(&s.repeat(n)))
            }
            (V::List(items), V::Int(n)) | (V::Int(n), V::List(items)) => {
                let n = usize::try_from(*n).unwrap_or(0);
                let len = items.len().saturating_mul(n);
                self.burn(len as u64, pos)?;
                let mut out = Vec::with_capacity(len);
                for _ in 0..n {
                    out.extend(items.iter().cloned());
                }
                Ok(V::list(out))
            }
            _ => arith(BinOp::Mul, l, r).or_else(|m| fail(pos, m)),
        }
    }

    /// `recv.name`: a dict's key; over a list, the key of each item.
    pub(crate) fn attr(&mut self, r: &V, name: &str, pos: usize) -> R {
        match r {
            V::Dict(d) => match d.get(&Key::str(name)) {
                Some(v) => Ok(v.clone()),
                None => fail(pos, missing_key(name, d)),
            },
            V::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for it in items.iter() {
                    self.burn(1, pos)?;
                    out.push(self.attr(it, name, pos)?);
                }
                Ok(V::list(out))
            }
            V::Stub => Ok(V::Stub),
            other => fail(
                pos,
                format!(
                    "`.{name}` on {}: only a dict has keys (yaql: unknown function \"#property#{name}\")",
                    describe_value(other)
                ),
            ),
        }
    }

    fn call(&mut self, name: &str, recv: Option<V>, args: &[Arg], f: &Frame, pos: usize) -> R {
        let mut a = Args {
            name,
            pos: Vec::with_capacity(args.len() + 1),
            named: Vec::new(),
            frame: f,
            at: pos,
            method: recv.is_some(),
        };
        let method = a.method;
        if let Some(r) = recv {
            a.pos.push(P::V(r));
        }
        for arg in args {
            match arg {
                Arg::Pos(n) => a.pos.push(P::N(n)),
                Arg::Named(k, v) => {
                    let key = self.arg_name(k, f)?;
                    a.named.push((key, v));
                }
            }
        }
        if !method && let Some(result) = self.host_call(name, &a)? {
            return result.or_else(|m| fail(pos, m));
        }
        let out = library::call(self, name, method, &a);
        match out {
            Err(E::Stub) => {
                // Check what the arguments say anyway (unknown functions inside lambdas …).
                let lazy = a.pos.iter().filter_map(|p| match p {
                    P::N(n) => Some(*n),
                    P::V(_) => None,
                });
                let nodes: Vec<&Node> = lazy.chain(a.named.iter().map(|(_, n)| *n)).collect();
                for n in nodes {
                    match a.apply(self, n, V::Stub) {
                        Ok(_) | Err(E::Stub) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(V::Stub)
            }
            other => other,
        }
    }

    /// Orquesta's functions (`ctx`, `result` …), called as functions only, with every argument
    /// evaluated.
    fn host_call(&mut self, name: &str, a: &Args) -> R<Option<Result<V, String>>> {
        if !library::is_host_function(name) {
            return Ok(None);
        }
        let mut pos = Vec::with_capacity(a.len());
        for i in 0..a.len() {
            pos.push(a.val(self, i)?);
        }
        let mut named = Vec::with_capacity(a.named.len());
        for (k, n) in &a.named {
            named.push((k.clone(), self.eval(n, a.frame)?));
        }
        Ok(self.host.call(name, &pos, &named))
    }
}

pub(crate) fn describe_value(v: &V) -> String {
    match v {
        V::Null => "null".into(),
        V::Str(s) if s.chars().count() <= 20 => format!("the string {s:?}"),
        other => format!("a {}", other.type_name()),
    }
}

pub(crate) fn missing_key(name: &str, d: &Dict) -> String {
    let keys: Vec<String> = d
        .keys()
        .take(20)
        .map(|k| match &k.0 {
            V::Str(s) => s.to_string(),
            other => super::value::py_repr(other),
        })
        .collect();
    format!(
        "key `{name}` is not in the dict; its keys: {}",
        if keys.is_empty() {
            "(none)".to_string()
        } else {
            keys.join(", ")
        }
    )
}

pub(crate) fn no_operator(op: &str, l: &V, r: &V) -> String {
    format!(
        "`{op}` does not apply to {} and {} (yaql: no function \"#operator_{op}\" matches)",
        l.type_name(),
        r.type_name()
    )
}

/// `<`, `>`, `<=`, `>=`: numbers with numbers, strings with strings, and null below anything.
pub(crate) fn compare(op: BinOp, l: &V, r: &V) -> Result<V, String> {
    use std::cmp::Ordering;
    let ord = match (l, r) {
        (V::Null, V::Null) => Ordering::Equal,
        (V::Null, _) => Ordering::Less,
        (_, V::Null) => Ordering::Greater,
        (V::Str(a), V::Str(b)) => a.cmp(b),
        (V::Int(a), V::Int(b)) => a.cmp(b),
        _ => match (l.as_f64(), r.as_f64()) {
            (Some(a), Some(b)) => match a.partial_cmp(&b) {
                Some(o) => o,
                None => return Ok(V::Bool(false)),
            },
            _ => return Err(no_operator(op.symbol(), l, r)),
        },
    };
    Ok(V::Bool(match op {
        BinOp::Lt => ord == Ordering::Less,
        BinOp::Gt => ord == Ordering::Greater,
        BinOp::Le => ord != Ordering::Greater,
        _ => ord != Ordering::Less,
    }))
}

/// `x in collection`.
pub(crate) fn contains(coll: &V, x: &V, op: &str) -> Result<V, String> {
    match (coll, x) {
        (V::List(items), _) => Ok(V::Bool(items.iter().any(|i| py_eq(i, x)))),
        (V::Str(s), V::Str(sub)) => Ok(V::Bool(s.contains(&**sub))),
        _ => Err(no_operator(op, x, coll)),
    }
}

/// Arithmetic on numbers: integers stay integers (`/` floors, as yaql's Python 2 heritage
/// does), a float anywhere makes a float.
pub(crate) fn arith(op: BinOp, l: &V, r: &V) -> Result<V, String> {
    let overflow =
        || "integer overflow (yaql's integers are unbounded, orch's are 64-bit)".to_string();
    match (l, r) {
        (V::Int(a), V::Int(b)) => {
            let (a, b) = (*a, *b);
            let v = match op {
                BinOp::Add => a.checked_add(b).ok_or_else(overflow)?,
                BinOp::Sub => a.checked_sub(b).ok_or_else(overflow)?,
                BinOp::Mul => a.checked_mul(b).ok_or_else(overflow)?,
                BinOp::Div | BinOp::Mod => {
                    if b == 0 {
                        return Err(if op == BinOp::Div {
                            "integer division or modulo by zero".into()
                        } else {
                            "integer modulo by zero".into()
                        });
                    }
                    let q = a.checked_div(b).ok_or_else(overflow)?;
                    let m = a % b;
                    // Python floors toward negative infinity.
                    let (q, m) = if m != 0 && ((m < 0) != (b < 0)) {
                        (q - 1, m + b)
                    } else {
                        (q, m)
                    };
                    if op == BinOp::Div { q } else { m }
                }
                _ => return Err(no_operator(op.symbol(), l, r)),
            };
            Ok(V::Int(v))
        }
        _ => {
            let (Some(a), Some(b)) = (l.as_f64(), r.as_f64()) else {
                return Err(no_operator(op.symbol(), l, r));
            };
            let v = match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => {
                    if b == 0.0 {
                        return Err("float division by zero".into());
                    }
                    a / b
                }
                BinOp::Mod => {
                    if b == 0.0 {
                        return Err("float modulo".into());
                    }
                    let m = a % b;
                    if m != 0.0 && (m < 0.0) != (b < 0.0) {
                        m + b
                    } else {
                        m
                    }
                }
                _ => return Err(no_operator(op.symbol(), l, r)),
            };
            Ok(V::Float(v))
        }
    }
}

/// `recv[i]`: a list by integer (negative from the end), a dict by key (with an optional
/// default as second argument).
pub(crate) fn index(r: &V, idx: &[V]) -> Result<V, String> {
    if r.is_stub() || idx.iter().any(V::is_stub) {
        return Ok(V::Stub);
    }
    match (r, idx) {
        (V::List(items), [V::Int(i)]) => {
            let n = items.len() as i64;
            let j = if *i < 0 { i + n } else { *i };
            if j < 0 || j >= n {
                return Err(format!(
                    "index {i} is out of range for a list of {n} item(s)"
                ));
            }
            Ok(items[j as usize].clone())
        }
        (V::Dict(d), [k]) => {
            let key = Key::new(k.clone())?;
            d.get(&key)
                .cloned()
                .ok_or_else(|| missing_key(&super::value::py_str(k), d))
        }
        (V::Dict(d), [k, default]) => {
            let key = Key::new(k.clone())?;
            Ok(d.get(&key).cloned().unwrap_or_else(|| default.clone()))
        }
        _ => Err(format!(
            "cannot index {} with {} (yaql: no function \"#indexer\" matches)",
            describe_value(r),
            idx.iter()
                .map(|v| v.type_name())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}
