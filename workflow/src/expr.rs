//! Expression evaluation as Orquesta does it: `<% … %>` is YAQL (our `yaql` module), `{{ … }}` is
//! Jinja (minijinja), both with the workflow functions `ctx`, `result`, `succeeded`, `failed`,
//! `completed`, `item`, `task`, `task_status`, `json` and `zip`.
//!
//! The data an expression may see lives in a [`Scope`]. For Jinja, one process-wide minijinja
//! environment holds the functions with strict undefined handling and a fuel limit, so a typo is an
//! error rather than an empty string and a runaway expression stops; the functions find the scope
//! in a hidden object passed as the only context variable. For YAQL, [`YaqlScope`] answers the same
//! functions, `$` at the top of an expression is the context (as `ctx()`), and the evaluator's own
//! fuel and depth limits apply. The same functions run in a *stub* mode for `orch workflow
//! validate`, where they return permissive placeholders and record misuse.
//!
//! Data is converted to values and back, never parsed: a `<% %>` inside an action result or a run
//! input is just characters (Orquesta would evaluate it again; orch does not, on purpose).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex};

use indexmap::IndexMap;
use minijinja::value::{
    Enumerator, Kwargs, Object, ObjectExt, ObjectRepr, Rest, Value as MjValue, ValueKind,
};
use minijinja::{Environment, Error as MjError, ErrorKind, State, UndefinedBehavior};
use serde_json::Value;

use crate::model::{Delim, Expr, Loc, Piece, Template};
use crate::yaql::{self, Dict, Key, V};

/// Instruction budget for one expression: far above any honest expression, far below a hang.
const FUEL: u64 = 100_000;
/// Longest expression accepted. minijinja's parser recurses once per binary operator, so a few
/// thousand chained `+` overflow the thread's stack (measured: 3000 terms abort a 2 MiB thread);
/// a cap keeps a hostile or generated workflow from killing the host. Real expressions are short.
pub const MAX_EXPR_LEN: usize = 2000;
/// Name of the one context variable; the functions look the scope up through it.
const SCOPE_VAR: &str = "__orch_scope";

/// A compiled expression or why it does not compile.
pub(crate) type Compiled = Result<Program, (ErrorKind, String)>;

/// An expression compiled in its language.
#[derive(Debug)]
pub(crate) enum Program {
    /// `{{ … }}`.
    Jinja(Arc<minijinja::Expression<'static, 'static>>),
    /// `<% … %>`.
    Yaql(Arc<yaql::Program>),
}

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.add_function("ctx", f_ctx);
    env.add_function("result", f_result);
    env.add_function("succeeded", f_succeeded);
    env.add_function("failed", f_failed);
    env.add_function("completed", f_completed);
    env.add_function("item", f_item);
    env.add_function("task", f_task);
    env.add_function("zip", f_zip);
    env.add_function("json", f_json);
    env.add_function("task_status", f_task_status);
    env
});

/// An expression that failed, with where it came from.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{expression} in {site} (line {}, column {}): {message}", loc.line, loc.column)]
pub struct ExprError {
    /// The expression with its delimiters.
    pub expression: String,
    /// Task and field, e.g. `task "fetch" input.device`.
    pub site: String,
    /// What went wrong.
    pub message: String,
    /// Where the expression is written.
    pub loc: Loc,
}

/// Failure inside one evaluation, before the caller names the site.
#[derive(Debug, Clone)]
pub(crate) struct EvalFailure {
    pub expression: String,
    pub message: String,
    pub loc: Loc,
    /// minijinja's kind when the engine raised it (the validator filters on it).
    pub kind: Option<ErrorKind>,
}

impl EvalFailure {
    pub(crate) fn at(self, site: impl Into<String>) -> ExprError {
        ExprError {
            expression: self.expression,
            site: site.into(),
            message: self.message,
            loc: self.loc,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The scope: what the functions can see during one evaluation.

/// Status of the execution whose outcome is being looked at (`next`, `retry.when`).
#[derive(Debug, Clone)]
pub(crate) struct Current {
    pub succeeded: bool,
    pub result: MjValue,
}

/// The item bound by `with`.
#[derive(Debug, Clone)]
pub(crate) struct ItemBinding {
    pub value: MjValue,
    /// Names from `a, b in …`; empty for the plain form.
    pub names: Arc<Vec<String>>,
}

/// Extra knowledge and a problem log for the validator's dry run.
#[derive(Debug, Default)]
pub(crate) struct Stub {
    pub task_names: Vec<String>,
    pub problems: Mutex<Vec<String>>,
}

/// Data one evaluation may see. Cheap to build: everything large is behind an `Arc`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub ctx: Arc<IndexMap<String, MjValue>>,
    pub tasks: Arc<IndexMap<String, MjValue>>,
    pub current: Option<Current>,
    pub item: Option<ItemBinding>,
    pub stub: Option<Arc<Stub>>,
}

impl Object for Scope {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }
}

impl Scope {
    fn problem(&self, msg: String) -> Result<MjValue, MjError> {
        match &self.stub {
            Some(stub) => {
                if let Ok(mut p) = stub.problems.lock() {
                    p.push(msg);
                }
                Ok(stub_value())
            }
            None => Err(MjError::new(ErrorKind::InvalidOperation, msg)),
        }
    }
}

/// `ctx()` as a map without copying the variables.
#[derive(Debug)]
struct CtxMap(Arc<IndexMap<String, MjValue>>);

impl Object for CtxMap {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        key.as_str().and_then(|k| self.0.get(k).cloned())
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        self.mapped_enumerator(|this| Box::new(this.0.keys().map(|k| MjValue::from(k.as_str()))))
    }
    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.0.len())
    }
}

/// Placeholder used by the dry run: any attribute, any item, truthy, iterates as empty.
#[derive(Debug)]
struct StubValue;

impl Object for StubValue {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, _key: &MjValue) -> Option<MjValue> {
        Some(stub_value())
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Empty
    }
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stub")
    }
}

pub(crate) fn stub_value() -> MjValue {
    MjValue::from_object(StubValue)
}

fn scope_of(state: &State) -> Result<Arc<Scope>, MjError> {
    state
        .lookup(SCOPE_VAR)
        .and_then(|v| v.downcast_object::<Scope>())
        .ok_or_else(|| {
            MjError::new(
                ErrorKind::InvalidOperation,
                "workflow functions are not available here",
            )
        })
}

/// The optional name argument of `ctx(…)` / `item(…)` in Jinja. A bare word there is an
/// undefined Jinja variable (YAQL reads it as a string, Jinja does not), which minijinja would
/// pass as no argument at all: the whole context instead of one variable. Refused instead.
fn name_arg(scope: &Scope, function: &str, args: &[MjValue]) -> Result<Option<MjValue>, MjError> {
    match args {
        [] => Ok(None),
        [name] if name.is_undefined() => {
            let message = format!(
                "{function}() got a bare name, which in {{{{ }}}} is an undefined Jinja variable; \
                 quote it: {function}('name') (in <% %> YAQL a bare word is a string)"
            );
            match &scope.stub {
                Some(_) => scope.problem(message).map(Some),
                None => Err(MjError::new(ErrorKind::UndefinedError, message)),
            }
        }
        [name] => Ok(Some(name.clone())),
        _ => Err(MjError::new(
            ErrorKind::TooManyArguments,
            format!("{function}() takes at most one name"),
        )),
    }
}

fn f_ctx(state: &State, args: Rest<MjValue>) -> Result<MjValue, MjError> {
    let scope = scope_of(state)?;
    let name = name_arg(&scope, "ctx", &args)?;
    let Some(name) = name else {
        return Ok(MjValue::from_object(CtxMap(scope.ctx.clone())));
    };
    let Some(name) = name.as_str() else {
        return Err(MjError::new(
            ErrorKind::InvalidOperation,
            "ctx() takes a variable name in quotes, e.g. ctx('device')",
        ));
    };
    match scope.ctx.get(name) {
        Some(v) => Ok(v.clone()),
        None => {
            let known: Vec<&str> = scope.ctx.keys().map(String::as_str).collect();
            let msg = format!(
                "ctx has no variable `{name}`; known: {}",
                list_or_none(&known)
            );
            match &scope.stub {
                Some(_) => scope.problem(msg),
                None => Err(MjError::new(ErrorKind::UndefinedError, msg)),
            }
        }
    }
}

fn f_result(state: &State) -> Result<MjValue, MjError> {
    let scope = scope_of(state)?;
    match &scope.current {
        Some(c) => Ok(c.result.clone()),
        None => {
            scope.problem("result() is only available in a task's `next` and `retry.when`".into())
        }
    }
}

fn status_fn(state: &State, name: &str, f: fn(bool) -> bool) -> Result<MjValue, MjError> {
    let scope = scope_of(state)?;
    match &scope.current {
        Some(c) => Ok(MjValue::from(f(c.succeeded))),
        None => scope.problem(format!(
            "{name}() is only available in a task's `next` and `retry.when`"
        )),
    }
}

fn f_succeeded(state: &State) -> Result<MjValue, MjError> {
    status_fn(state, "succeeded", |s| s)
}

fn f_failed(state: &State) -> Result<MjValue, MjError> {
    status_fn(state, "failed", |s| !s)
}

fn f_completed(state: &State) -> Result<MjValue, MjError> {
    status_fn(state, "completed", |_| true)
}

fn f_item(state: &State, args: Rest<MjValue>) -> Result<MjValue, MjError> {
    let scope = scope_of(state)?;
    let name = name_arg(&scope, "item", &args)?;
    let Some(item) = &scope.item else {
        return scope.problem("item() is only available in the input of a task with `with`".into());
    };
    let Some(name) = name else {
        if item.names.is_empty() {
            return Ok(item.value.clone());
        }
        // Orquesta: with names, item() is a map of name to value.
        let pairs: Vec<(MjValue, MjValue)> = item
            .names
            .iter()
            .map(|n| Ok((MjValue::from(n.as_str()), named_item(&scope, item, n)?)))
            .collect::<Result<_, MjError>>()?;
        return Ok(MjValue::from_pairs(pairs));
    };
    let Some(name) = name.as_str() else {
        return Err(MjError::new(
            ErrorKind::InvalidOperation,
            "item() takes an item name in quotes, e.g. item('host')",
        ));
    };
    if !item.names.iter().any(|n| n == name) {
        let known: Vec<&str> = item.names.iter().map(String::as_str).collect();
        return scope.problem(format!(
            "item has no name `{name}`; `with` names: {} (use `{name} in <% … %>` to name items)",
            list_or_none(&known)
        ));
    }
    named_item(&scope, item, name)
}

fn named_item(scope: &Scope, item: &ItemBinding, name: &str) -> Result<MjValue, MjError> {
    if scope.stub.is_some() {
        return Ok(stub_value());
    }
    let pos = item.names.iter().position(|n| n == name).unwrap_or(0);
    if item.names.len() == 1 {
        return Ok(item.value.clone());
    }
    item.value.get_item_by_index(pos).map_err(|_| {
        MjError::new(
            ErrorKind::InvalidOperation,
            format!(
                "item is not a list of {} values for names {:?}",
                item.names.len(),
                item.names
            ),
        )
    })
}

fn f_task(state: &State, name: MjValue) -> Result<MjValue, MjError> {
    let scope = scope_of(state)?;
    let Some(name) = name.as_str() else {
        return Err(MjError::new(
            ErrorKind::InvalidOperation,
            "task() takes a task name in quotes, e.g. task('fetch')",
        ));
    };
    if let Some(stub) = &scope.stub {
        if !stub.task_names.iter().any(|t| t == name) {
            return scope.problem(format!("task('{name}') names no task of this workflow"));
        }
        return Ok(MjValue::from_pairs([
            ("result", stub_value()),
            ("status", MjValue::from("succeeded")),
            ("occurrence", MjValue::from(1)),
        ]));
    }
    Ok(scope.tasks.get(name).cloned().unwrap_or_else(|| {
        MjValue::from_pairs([
            ("result", MjValue::from(())),
            ("status", MjValue::from("not_run")),
            ("occurrence", MjValue::from(0)),
        ])
    }))
}

/// Orquesta's `json`: a string parsed as JSON; a map passes through.
fn f_json(value: MjValue) -> Result<MjValue, MjError> {
    if value.kind() == ValueKind::Map {
        return Ok(value);
    }
    let Some(text) = value.as_str() else {
        return Err(MjError::new(
            ErrorKind::InvalidOperation,
            "json() takes a string of JSON",
        ));
    };
    serde_json::from_str::<Value>(text)
        .map(|v| to_mj(&v))
        .map_err(|e| {
            MjError::new(
                ErrorKind::InvalidOperation,
                format!("json() could not parse the string: {e}"),
            )
        })
}

/// Orquesta's `task_status(name)`: the task's status, "null" when it has not run.
fn f_task_status(state: &State, name: MjValue) -> Result<MjValue, MjError> {
    let view = f_task(state, name)?;
    if view.downcast_object_ref::<StubValue>().is_some() {
        return Ok(view);
    }
    let status = view.get_attr("status")?;
    Ok(match status.as_str() {
        Some("not_run") | None => MjValue::from("null"),
        Some(_) => status,
    })
}

/// Orquesta's `zip`: `zip_longest` padded with `pad` (default none); one list comes back as is.
fn f_zip(lists: Rest<MjValue>, kwargs: Kwargs) -> Result<MjValue, MjError> {
    let pad: Option<MjValue> = kwargs.get("pad")?;
    kwargs.assert_all_used()?;
    let pad = pad.unwrap_or_else(|| MjValue::from(()));
    let lists: Vec<Vec<MjValue>> = lists
        .0
        .iter()
        .map(|l| {
            if l.is_none() {
                Ok(Vec::new())
            } else {
                l.try_iter().map(Iterator::collect)
            }
        })
        .collect::<Result<_, _>>()?;
    if let [one] = lists.as_slice() {
        return Ok(MjValue::from(one.clone()));
    }
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok(MjValue::from(
        (0..n)
            .map(|i| {
                MjValue::from(
                    lists
                        .iter()
                        .map(|l| l.get(i).cloned().unwrap_or_else(|| pad.clone()))
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>(),
    ))
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

// ---------------------------------------------------------------------------------------------
// The workflow functions for YAQL.

/// Orquesta's functions for YAQL over one [`Scope`]. Converted values are cached for the one
/// evaluation, so a loop that reads `ctx()` does not copy the context again each time.
pub(crate) struct YaqlScope<'s> {
    scope: &'s Scope,
    vars: RefCell<HashMap<String, V>>,
    all: RefCell<Option<V>>,
}

impl<'s> YaqlScope<'s> {
    pub(crate) fn new(scope: &'s Scope) -> Self {
        YaqlScope {
            scope,
            vars: RefCell::default(),
            all: RefCell::default(),
        }
    }

    /// A misuse: recorded in the dry run (which goes on with a stub), an error in a real run.
    fn problem(&self, msg: String) -> Result<V, String> {
        match &self.scope.stub {
            Some(stub) => {
                if let Ok(mut p) = stub.problems.lock() {
                    p.push(msg);
                }
                Ok(V::Stub)
            }
            None => Err(msg),
        }
    }

    fn var(&self, name: &str) -> Option<V> {
        if let Some(v) = self.vars.borrow().get(name) {
            return Some(v.clone());
        }
        let v = mj_to_v(self.scope.ctx.get(name)?);
        self.vars.borrow_mut().insert(name.to_string(), v.clone());
        Some(v)
    }

    fn ctx_all(&self) -> V {
        if let Some(v) = self.all.borrow().as_ref() {
            return v.clone();
        }
        let mut d = Dict::new();
        for k in self.scope.ctx.keys() {
            if let Some(v) = self.var(k) {
                d.insert(Key::str(k), v);
            }
        }
        let v = V::Dict(Arc::new(d));
        *self.all.borrow_mut() = Some(v.clone());
        v
    }

    fn ctx(&self, args: &[V]) -> Result<V, String> {
        match args {
            [] => Ok(self.ctx_all()),
            [V::Str(name)] => match self.var(name) {
                Some(v) => Ok(v),
                None => {
                    let known: Vec<&str> = self.scope.ctx.keys().map(String::as_str).collect();
                    self.problem(format!(
                        "ctx has no variable `{name}`; known: {}",
                        list_or_none(&known)
                    ))
                }
            },
            [V::Stub] => Ok(V::Stub),
            [_] => Err("ctx() takes a variable name, e.g. ctx(device) or ctx('device')".into()),
            _ => Err("ctx() takes at most one argument".into()),
        }
    }

    fn status(&self, name: &str, f: fn(bool) -> bool) -> Result<V, String> {
        match &self.scope.current {
            Some(c) => Ok(V::Bool(f(c.succeeded))),
            None => self.problem(format!(
                "{name}() is only available in a task's `next` and `retry.when`"
            )),
        }
    }

    fn item(&self, args: &[V]) -> Result<V, String> {
        let Some(item) = &self.scope.item else {
            return self
                .problem("item() is only available in the input of a task with `with`".into());
        };
        let value = mj_to_v(&item.value);
        match args {
            [] if item.names.is_empty() => Ok(value),
            [] => {
                // Orquesta: with names, item() is a map of name to value.
                let mut d = Dict::new();
                for n in item.names.iter() {
                    d.insert(Key::str(n), self.named_item(&value, item, n)?);
                }
                Ok(V::Dict(Arc::new(d)))
            }
            [V::Str(name)] => {
                if !item.names.iter().any(|n| **n == **name) {
                    let known: Vec<&str> = item.names.iter().map(String::as_str).collect();
                    return self.problem(format!(
                        "item has no name `{name}`; `with` names: {} (use `{name} in <% … %>` to name items)",
                        list_or_none(&known)
                    ));
                }
                self.named_item(&value, item, name)
            }
            [V::Stub] => Ok(V::Stub),
            _ => Err("item() takes an item name, e.g. item(host)".into()),
        }
    }

    fn named_item(&self, value: &V, item: &ItemBinding, name: &str) -> Result<V, String> {
        if self.scope.stub.is_some() || value.is_stub() {
            return Ok(V::Stub);
        }
        if item.names.len() == 1 {
            return Ok(value.clone());
        }
        let pos = item.names.iter().position(|n| n == name).unwrap_or(0);
        match value {
            V::List(l) if l.len() == item.names.len() => Ok(l[pos].clone()),
            _ => Err(format!(
                "item is not a list of {} values for names {:?}",
                item.names.len(),
                item.names
            )),
        }
    }

    fn task(&self, args: &[V]) -> Result<V, String> {
        let name = match args {
            [V::Str(n)] => n.clone(),
            [V::Stub] => return Ok(V::Stub),
            _ => return Err("task() takes a task name, e.g. task(fetch)".into()),
        };
        if let Some(stub) = &self.scope.stub {
            if !stub.task_names.iter().any(|t| **t == *name) {
                return self.problem(format!("task('{name}') names no task of this workflow"));
            }
            let mut d = Dict::new();
            d.insert(Key::str("result"), V::Stub);
            d.insert(Key::str("status"), V::str("succeeded"));
            d.insert(Key::str("occurrence"), V::Int(1));
            return Ok(V::Dict(Arc::new(d)));
        }
        Ok(match self.scope.tasks.get(&*name) {
            Some(v) => mj_to_v(v),
            None => {
                let mut d = Dict::new();
                d.insert(Key::str("result"), V::Null);
                d.insert(Key::str("status"), V::str("not_run"));
                d.insert(Key::str("occurrence"), V::Int(0));
                V::Dict(Arc::new(d))
            }
        })
    }

    fn task_status(&self, args: &[V]) -> Result<V, String> {
        match self.task(args)? {
            V::Dict(d) => Ok(match d.get(&Key::str("status")) {
                // Orquesta's status of a task that has not run is the string "null".
                Some(V::Str(s)) if &**s == "not_run" => V::str("null"),
                Some(v) => v.clone(),
                None => V::str("null"),
            }),
            other => Ok(other),
        }
    }
}

/// Orquesta's `zip`: `zip_longest`, missing places filled with `pad` (default null); one list is
/// returned as it is.
fn yaql_zip(args: &[V], named: &[(String, V)]) -> Result<V, String> {
    let mut pad = V::Null;
    for (k, v) in named {
        if k != "pad" {
            return Err(format!(
                "zip() has no parameter `{k}`; it takes lists and pad => value"
            ));
        }
        pad = v.clone();
    }
    if args.iter().any(V::is_stub) {
        return Ok(V::Stub);
    }
    let lists: Vec<Arc<Vec<V>>> = args
        .iter()
        .map(|a| match a {
            V::Null => Ok(Arc::new(Vec::new())),
            V::List(l) => Ok(l.clone()),
            other => Err(format!("zip() takes lists, got a {}", other.type_name())),
        })
        .collect::<Result<_, _>>()?;
    if lists.len() == 1 {
        return Ok(V::List(lists[0].clone()));
    }
    let n = lists.iter().map(|l| l.len()).max().unwrap_or(0);
    Ok(V::list(
        (0..n)
            .map(|i| {
                V::list(
                    lists
                        .iter()
                        .map(|l| l.get(i).cloned().unwrap_or_else(|| pad.clone()))
                        .collect(),
                )
            })
            .collect(),
    ))
}

/// Orquesta's `json`: a string parsed as JSON. (Its pass-through for a dict never applies under
/// yaql, which hands it a frozen dict that is no `dict`.)
fn yaql_json(args: &[V]) -> Result<V, String> {
    match args {
        [V::Str(s)] => serde_json::from_str::<Value>(s)
            .map(|v| V::from_json(&v))
            .map_err(|e| format!("json() could not parse the string: {e}")),
        [V::Stub] => Ok(V::Stub),
        [other] => Err(format!(
            "json() takes a string, got a {}",
            other.type_name()
        )),
        _ => Err("json() takes one argument".into()),
    }
}

impl yaql::Host for YaqlScope<'_> {
    fn call(&self, name: &str, args: &[V], named: &[(String, V)]) -> Option<Result<V, String>> {
        let no_named = |r: Result<V, String>| {
            if let Some((k, _)) = named.first() {
                return Err(format!("{name}() has no parameter `{k}`"));
            }
            r
        };
        let none = |r: Result<V, String>| {
            if !args.is_empty() {
                return Err(format!("{name}() takes no arguments"));
            }
            r
        };
        Some(match name {
            "ctx" => no_named(self.ctx(args)),
            "result" => no_named(none(match &self.scope.current {
                Some(c) => Ok(mj_to_v(&c.result)),
                None => self.problem(
                    "result() is only available in a task's `next` and `retry.when`".into(),
                ),
            })),
            "succeeded" => no_named(none(self.status("succeeded", |s| s))),
            "failed" => no_named(none(self.status("failed", |s| !s))),
            "completed" => no_named(none(self.status("completed", |_| true))),
            "item" => no_named(self.item(args)),
            "task" => no_named(self.task(args)),
            "task_status" => no_named(self.task_status(args)),
            "json" => no_named(yaql_json(args)),
            "zip" => yaql_zip(args, named),
            _ => return None,
        })
    }

    /// `$` at the top of an expression: the context, as `ctx()` (Mistral's convention; Orquesta
    /// itself leaves `$` null there, so no working Orquesta expression reads it).
    fn root(&self) -> V {
        self.ctx_all()
    }

    fn root_key(&self, name: &str) -> Result<V, String> {
        self.var(name).ok_or_else(|| {
            let known: Vec<&str> = self.scope.ctx.keys().map(String::as_str).collect();
            format!(
                "key `{name}` is not in the context; its variables: {}",
                list_or_none(&known)
            )
        })
    }
}

/// A minijinja value (what the scope holds) as a YAQL value; the dry run's placeholders stay
/// stubs at any depth.
fn mj_to_v(v: &MjValue) -> V {
    if v.downcast_object_ref::<StubValue>().is_some() {
        return V::Stub;
    }
    match v.kind() {
        ValueKind::None | ValueKind::Undefined => V::Null,
        ValueKind::Bool => V::Bool(v.is_true()),
        ValueKind::Number => {
            if let (true, Some(i)) = (v.is_integer(), v.as_i64()) {
                V::Int(i)
            } else {
                V::Float(f64::try_from(v.clone()).unwrap_or(f64::NAN))
            }
        }
        ValueKind::String => V::str(v.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable => match v.try_iter() {
            Ok(items) => V::list(items.map(|x| mj_to_v(&x)).collect()),
            Err(_) => V::Null,
        },
        ValueKind::Map => {
            let mut d = Dict::new();
            if let Ok(keys) = v.try_iter() {
                for k in keys {
                    let item = v.get_item(&k).unwrap_or_default();
                    let key = k
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| k.to_string());
                    d.insert(Key::str(&key), mj_to_v(&item));
                }
            }
            V::Dict(Arc::new(d))
        }
        _ => V::Null,
    }
}

// ---------------------------------------------------------------------------------------------
// Conversions.

/// JSON data into a minijinja value (data, never parsed as an expression).
pub(crate) fn to_mj(v: &Value) -> MjValue {
    MjValue::from(minijinja::value::Serde(v))
}

/// A minijinja value back into JSON; functions and undefined values are errors with a fix.
pub(crate) fn to_json(v: &MjValue) -> Result<Value, String> {
    Ok(match v.kind() {
        ValueKind::Undefined => {
            return Err("the expression gives an undefined value: a variable, attribute or item that does not exist".into());
        }
        ValueKind::None => Value::Null,
        ValueKind::Bool => Value::Bool(v.is_true()),
        ValueKind::Number => {
            // `is_integer` first: `as_i64` would also turn the float 3.0 into the integer 3.
            if let (true, Some(i)) = (v.is_integer(), v.as_i64()) {
                Value::from(i)
            } else if let (true, Ok(u)) = (v.is_integer(), u64::try_from(v.clone())) {
                Value::from(u)
            } else {
                let f = f64::try_from(v.clone()).map_err(|e| e.to_string())?;
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| {
                        format!("the expression gives {f}, which is not a JSON number")
                    })?
            }
        }
        ValueKind::String => Value::String(
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string()),
        ),
        ValueKind::Bytes => return Err("the expression gives bytes, which JSON cannot hold".into()),
        ValueKind::Seq | ValueKind::Iterable => Value::Array(
            v.try_iter()
                .map_err(|e| e.to_string())?
                .map(|x| to_json(&x))
                .collect::<Result<_, _>>()?,
        ),
        ValueKind::Map => {
            if v.downcast_object_ref::<StubValue>().is_some() {
                return Ok(Value::Null);
            }
            let mut m = serde_json::Map::new();
            for k in v.try_iter().map_err(|e| e.to_string())? {
                let item = v.get_item(&k).map_err(|e| e.to_string())?;
                let key = k
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| k.to_string());
                m.insert(key, to_json(&item)?);
            }
            Value::Object(m)
        }
        ValueKind::Plain | ValueKind::Invalid => {
            return Err(format!(
                "the expression gives `{v}`, not data; a function must be called, e.g. `succeeded()` not `succeeded`"
            ));
        }
        _ => return Err(format!("the expression gives `{v}`, which is not data")),
    })
}

// ---------------------------------------------------------------------------------------------
// Evaluation.

fn compiled(e: &Expr) -> &Compiled {
    e.compiled.get_or_init(|| {
        if e.code.len() > MAX_EXPR_LEN {
            return Err((
                ErrorKind::SyntaxError,
                format!(
                    "expression is {} characters long, the limit is {MAX_EXPR_LEN}; compute it in an action or split it across vars",
                    e.code.len()
                ),
            ));
        }
        match e.delim {
            Delim::Braces => ENV
                .compile_expression_owned(e.code.clone())
                .map(|x| Program::Jinja(Arc::new(x)))
                .map_err(|err| (err.kind(), describe(&err))),
            Delim::Percent => yaql::compile(&e.code)
                .map(|p| Program::Yaql(Arc::new(p)))
                .map_err(|f| (ErrorKind::SyntaxError, f.describe())),
        }
    })
}

/// minijinja's message without its "(in <expression>:1)" suffix, which points nowhere useful.
fn describe(err: &MjError) -> String {
    let mut s = err.to_string();
    if let Some(i) = s.find(" (in <expression>") {
        s.truncate(i);
    }
    s
}

/// Compiles the expression and reports a syntax error, for validation.
pub(crate) fn check_syntax(e: &Expr) -> Result<(), EvalFailure> {
    match compiled(e) {
        Ok(_) => Ok(()),
        Err((kind, msg)) => Err(EvalFailure {
            expression: e.source(),
            message: msg.clone(),
            loc: e.loc,
            kind: Some(*kind),
        }),
    }
}

/// The value of one evaluation, in its language's terms.
enum Evaluated {
    Jinja(MjValue),
    Yaql(V),
}

fn evaluate(e: &Expr, scope: &Scope) -> Result<Evaluated, EvalFailure> {
    let fail = |message: String, kind: Option<ErrorKind>| EvalFailure {
        expression: e.source(),
        message,
        loc: e.loc,
        kind,
    };
    match compiled(e)
        .as_ref()
        .map_err(|(k, m)| fail(m.clone(), Some(*k)))?
    {
        Program::Jinja(expr) => {
            let ctx = minijinja::context! { __orch_scope => MjValue::from_object(scope.clone()) };
            expr.eval(ctx)
                .map(Evaluated::Jinja)
                .map_err(|err| fail(describe(&err), Some(err.kind())))
        }
        Program::Yaql(p) => {
            let host = YaqlScope::new(scope);
            yaql::evaluate(p, &host)
                .map(Evaluated::Yaql)
                .map_err(|f| fail(f.describe(), None))
        }
    }
}

/// Evaluates one expression to JSON.
pub(crate) fn eval_expr(e: &Expr, scope: &Scope) -> Result<Value, EvalFailure> {
    let converted = match evaluate(e, scope)? {
        Evaluated::Jinja(v) => to_json(&v),
        Evaluated::Yaql(v) => v.to_json(),
    };
    converted.map_err(|message| EvalFailure {
        expression: e.source(),
        message,
        loc: e.loc,
        kind: None,
    })
}

/// Renders a template: one expression keeps its type, text renders as a string, maps and lists
/// recurse.
pub(crate) fn render(t: &Template, scope: &Scope) -> Result<Value, EvalFailure> {
    Ok(match t {
        Template::Literal(v) => v.clone(),
        Template::Expr(e) => eval_expr(e, scope)?,
        Template::Text(pieces) => {
            let mut out = String::new();
            for p in pieces {
                match p {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Expr(e) => match eval_expr(e, scope)? {
                        Value::String(s) => out.push_str(&s),
                        // Orquesta writes Python's str() of the value: `[1, 'a']`, `True`,
                        // `None`, `{'k': 1.5}`.
                        other => out.push_str(&yaql::py_str(&V::from_json(&other))),
                    },
                }
            }
            Value::String(out)
        }
        Template::List(items) => Value::Array(
            items
                .iter()
                .map(|t| render(t, scope))
                .collect::<Result<_, _>>()?,
        ),
        Template::Map(m) => {
            let mut out = serde_json::Map::new();
            for (k, t) in m {
                out.insert(k.clone(), render(t, scope)?);
            }
            Value::Object(out)
        }
    })
}

/// Evaluates a condition (`when`): Python's truthiness of the result, as both languages have.
pub(crate) fn truthy(t: &Template, scope: &Scope) -> Result<bool, EvalFailure> {
    match t {
        Template::Expr(e) => {
            let v = match evaluate(e, scope)? {
                Evaluated::Yaql(v) => {
                    if let V::Regex(_) = v {
                        // A regex object is no condition: refuse it as the conversion does.
                        v.to_json().map_err(|message| EvalFailure {
                            expression: e.source(),
                            message,
                            loc: e.loc,
                            kind: None,
                        })?;
                    }
                    return Ok(v.truthy());
                }
                Evaluated::Jinja(v) => v,
            };
            if matches!(
                v.kind(),
                ValueKind::Plain | ValueKind::Invalid | ValueKind::Undefined
            ) {
                // A bare `succeeded` is a function object, which is always true: refuse it.
                to_json(&v).map_err(|message| EvalFailure {
                    expression: e.source(),
                    message,
                    loc: e.loc,
                    kind: None,
                })?;
            }
            Ok(v.is_true())
        }
        other => Ok(match render(other, scope)? {
            Value::Bool(b) => b,
            Value::Null => false,
            _ => true,
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Expressions outside workflows.

/// A value whose strings may hold expressions (`<% %>` YAQL, `{{ }}` Jinja), compiled once and
/// rendered against variables the caller gives: `ctx()` (and `$` in YAQL) is that object. This is
/// how documents that are not workflows use the workflow language, e.g. the rules of `orch serve`
/// map an event and its device (`<% ctx().device.name %>`) to a workflow's input. The functions
/// that only make sense inside a run (`result()`, `item()`, `task()`) fail when called.
#[derive(Debug, Clone)]
pub struct Mapping {
    template: Template,
}

impl Mapping {
    /// Compiles `value`: splits its strings into text and expressions and checks every
    /// expression's syntax. `site` names the value in errors, `loc` is where it is written.
    pub fn compile(value: &Value, site: &str, loc: Loc) -> Result<Self, ExprError> {
        let template =
            crate::parse::json_template(value, loc, site).map_err(|message| ExprError {
                expression: String::new(),
                site: site.to_owned(),
                message,
                loc,
            })?;
        let mut sites = Vec::new();
        template.collect_exprs(&mut sites);
        for e in sites {
            check_syntax(e).map_err(|f| f.at(site))?;
        }
        Ok(Self { template })
    }

    /// Whether the value holds no expression at all.
    pub fn is_literal(&self) -> bool {
        self.template.literal().is_some()
    }

    /// The value with every expression evaluated, `variables` being the context.
    pub fn render(
        &self,
        variables: &serde_json::Map<String, Value>,
        site: &str,
    ) -> Result<Value, ExprError> {
        render(&self.template, &Self::scope(variables)).map_err(|f| f.at(site))
    }

    /// Python's truthiness of the value (a condition), `variables` being the context.
    pub fn truthy(
        &self,
        variables: &serde_json::Map<String, Value>,
        site: &str,
    ) -> Result<bool, ExprError> {
        truthy(&self.template, &Self::scope(variables)).map_err(|f| f.at(site))
    }

    fn scope(variables: &serde_json::Map<String, Value>) -> Scope {
        let ctx: IndexMap<String, MjValue> = variables
            .iter()
            .map(|(k, v)| (k.clone(), to_mj(v)))
            .collect();
        Scope {
            ctx: Arc::new(ctx),
            ..Scope::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Delim, Loc};
    use serde_json::json;

    fn e(code: &str) -> Expr {
        Expr::new(code, Delim::Percent, Loc::default())
    }

    fn scope_with(ctx: Value) -> Scope {
        let mut m = IndexMap::new();
        if let Value::Object(o) = ctx {
            for (k, v) in o {
                m.insert(k, to_mj(&v));
            }
        }
        Scope {
            ctx: Arc::new(m),
            ..Scope::default()
        }
    }

    #[test]
    fn a_mapping_renders_against_the_variables_its_caller_gives() {
        let m = Mapping::compile(
            &json!({
                "device": "<% ctx().device.name %>",
                "site": "{{ ctx().device.tags.site }}",
                "label": "x-<% $.event.n %>",
                "fixed": 1,
            }),
            "input",
            Loc::default(),
        )
        .expect("compiles");
        assert!(!m.is_literal());
        let vars = json!({"device": {"name": "R1", "tags": {"site": "lab"}}, "event": {"n": 2}});
        let Value::Object(vars) = vars else {
            unreachable!()
        };
        assert_eq!(
            m.render(&vars, "input").expect("renders"),
            json!({"device": "R1", "site": "lab", "label": "x-2", "fixed": 1})
        );
        let when = Mapping::compile(&json!("<% $.event.n > 1 %>"), "when", Loc::default())
            .expect("compiles");
        assert!(when.truthy(&vars, "when").expect("evaluates"));
        let missing = Mapping::compile(&json!("<% ctx().nothing.x %>"), "x", Loc::default())
            .expect("compiles");
        let err = missing.render(&vars, "run.input.x").expect_err("undefined");
        assert!(err.to_string().contains("run.input.x"), "{err}");
    }

    #[test]
    fn a_mapping_with_a_bad_expression_is_refused_when_compiled() {
        for bad in ["<% ctx(. %>", "<% ctx().a", "{{ ctx( }}", "<%  %>"] {
            let err = Mapping::compile(
                &json!({"a": [bad]}),
                "run.input",
                Loc { line: 7, column: 3 },
            )
            .expect_err(bad);
            assert_eq!(err.loc.line, 7, "{err}");
            assert!(err.to_string().contains("run.input"), "{err}");
        }
    }

    #[test]
    fn single_expression_keeps_its_type() {
        let s = scope_with(json!({"xs": [1, 2], "m": {"a": true}, "n": 3, "z": null}));
        assert_eq!(eval_expr(&e("ctx().xs"), &s).ok(), Some(json!([1, 2])));
        assert_eq!(eval_expr(&e("ctx('m')"), &s).ok(), Some(json!({"a": true})));
        assert_eq!(eval_expr(&e("ctx().n + 1"), &s).ok(), Some(json!(4)));
        assert_eq!(eval_expr(&e("ctx().z"), &s).ok(), Some(Value::Null));
        assert_eq!(eval_expr(&e("1.5 * 2"), &s).ok(), Some(json!(3.0)));
    }

    #[test]
    fn missing_variable_is_an_error_naming_known_ones() {
        let s = scope_with(json!({"device": "r1"}));
        let err = eval_expr(&e("ctx('devcie')"), &s).expect_err("undefined");
        assert!(
            err.message.contains("`devcie`") && err.message.contains("device"),
            "{}",
            err.message
        );
        assert!(eval_expr(&e("ctx().devcie.name"), &s).is_err());
    }

    #[test]
    fn uncalled_function_is_refused_as_a_condition() {
        let mut s = scope_with(json!({}));
        s.current = Some(Current {
            succeeded: false,
            result: MjValue::from(()),
        });
        for bare in [e("succeeded"), jinja("succeeded"), e("not failed")] {
            let err = truthy(&Template::Expr(bare), &s).expect_err("function object");
            assert!(err.message.contains("()"), "{}", err.message);
        }
        assert_eq!(
            truthy(&Template::Expr(e("succeeded()")), &s).ok(),
            Some(false)
        );
        assert_eq!(truthy(&Template::Expr(e("failed()")), &s).ok(), Some(true));
    }

    fn jinja(code: &str) -> Expr {
        Expr::new(code, Delim::Braces, Loc::default())
    }

    #[test]
    fn overlong_expression_is_refused_before_the_parser_can_overflow_the_stack() {
        let s = scope_with(json!({}));
        let long = format!("0{}", " + 1".repeat(60_000));
        for expr in [e(&long), jinja(&long)] {
            let err = eval_expr(&expr, &s).expect_err("too long");
            assert!(err.message.contains("limit is 2000"), "{}", err.message);
        }
        // Within the limit the same shape evaluates normally (YAQL bounds the depth too).
        let ok = format!("0{}", " + 1".repeat(400));
        assert_eq!(eval_expr(&jinja(&ok), &s).ok(), Some(json!(400)));
        let ok = format!("0{}", " + 1".repeat(60));
        assert_eq!(eval_expr(&e(&ok), &s).ok(), Some(json!(60)));
        let deep = format!("0{}", " + 1".repeat(400));
        let err = eval_expr(&e(&deep), &s).expect_err("too deep");
        assert!(err.message.contains("nests deeper"), "{}", err.message);
    }

    #[test]
    fn deepest_accepted_yaql_runs_on_half_a_worker_stack() {
        // The driver evaluates on tokio workers (2 MiB stacks). The deepest tree the parser
        // accepts, every level a method call with a lambda, must fit in half of that.
        let nest = |n: usize| {
            let mut code = "$".to_string();
            for _ in 0..n {
                code = format!("[1].select({code})");
            }
            format!("{code}.len()")
        };
        let mut depth = 1;
        while yaql::compile(&nest(depth + 1)).is_ok() {
            depth += 1;
        }
        assert!(depth >= 20, "only {depth} levels accepted");
        let code = nest(depth);
        let handle = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(move || {
                let s = scope_with(json!({}));
                eval_expr(&e(&code), &s).map_err(|f| f.message)
            })
            .expect("thread");
        assert_eq!(handle.join().ok().and_then(Result::ok), Some(json!(1)));
    }

    #[test]
    fn reading_one_variable_does_not_convert_the_whole_context() {
        let s = scope_with(json!({"a": 1, "big": vec!["x"; 1000]}));
        for code in ["ctx().a", "$.a", "ctx(a)"] {
            let host = YaqlScope::new(&s);
            let p = yaql::compile(code).expect("compiles");
            let v = yaql::evaluate(&p, &host).expect("evaluates");
            assert!(matches!(v, V::Int(1)), "{code}");
            assert!(
                host.all.borrow().is_none(),
                "{code} built the whole context"
            );
            assert_eq!(host.vars.borrow().len(), 1, "{code}");
        }
        // In a lambda `$` is the item, not the context.
        assert_eq!(
            eval_expr(&e("[{a => 2}].select($.a)"), &s).ok(),
            Some(json!([2]))
        );
    }

    #[test]
    fn workflow_functions_in_yaql() {
        let mut s = scope_with(json!({"x": 1}));
        let mut tasks = IndexMap::new();
        tasks.insert(
            "fetch".to_string(),
            to_mj(&json!({"status": "failed", "result": {"code": 7}})),
        );
        s.tasks = Arc::new(tasks);
        s.current = Some(Current {
            succeeded: true,
            result: to_mj(&json!({"rows": [{"id": 1}, {"id": 2}]})),
        });
        s.item = Some(ItemBinding {
            value: to_mj(&json!(["r1", 22])),
            names: Arc::new(vec!["host".into(), "port".into()]),
        });
        let ev = |code: &str| eval_expr(&e(code), &s).map_err(|f| f.message);
        assert_eq!(ev("result().rows.select($.id)"), Ok(json!([1, 2])));
        assert_eq!(ev("succeeded() and not failed()"), Ok(json!(true)));
        assert_eq!(ev("completed()"), Ok(json!(true)));
        assert_eq!(ev("item(host) + ':' + str(item(port))"), Ok(json!("r1:22")));
        assert_eq!(ev("item()"), Ok(json!({"host": "r1", "port": 22})));
        assert_eq!(ev("task(fetch).result.code"), Ok(json!(7)));
        assert_eq!(ev("task_status(fetch)"), Ok(json!("failed")));
        assert_eq!(ev("task_status(other)"), Ok(json!("null")));
        assert_eq!(ev("task('other').status"), Ok(json!("not_run")));
        assert_eq!(ev("task(other).occurrence"), Ok(json!(0)));
        assert_eq!(
            ev("json('[1, {\"a\": null}]')"),
            Ok(json!([1, {"a": null}]))
        );
        assert!(ev("item(nope)").is_err_and(|m| m.contains("host, port")));
        let jinja_ev = |code: &str| eval_expr(&jinja(code), &s).map_err(|f| f.message);
        assert_eq!(jinja_ev("task_status('fetch')"), Ok(json!("failed")));
        assert_eq!(jinja_ev("task_status('other')"), Ok(json!("null")));
        assert_eq!(jinja_ev("json('{\"a\": [1]}').a"), Ok(json!([1])));
        assert!(ev("ctx(x, y)").is_err());
        assert!(ev("result(1)").is_err());
    }

    #[test]
    fn interpolation_writes_what_orquesta_writes() {
        // Outputs of Orquesta 1.2.0's YAQLEvaluator/JinjaEvaluator.evaluate for the same data.
        let s = scope_with(json!({
            "xs": [1, 2, 3], "a": {"b": 1, "c": [true, null, 1.5, "it's"]}, "n": null,
            "f": 1e16, "s": "x"
        }));
        let text = |pieces: Vec<Piece>| render(&Template::Text(pieces), &s).map_err(|f| f.message);
        let t = |x: &str| Piece::Text(x.into());
        let y = |x: &str| Piece::Expr(e(x));
        let j = |x: &str| Piece::Expr(jinja(x));
        assert_eq!(text(vec![t("x "), y("ctx().xs")]), Ok(json!("x [1, 2, 3]")));
        assert_eq!(
            text(vec![t("x "), y("ctx().a")]),
            Ok(json!("x {'b': 1, 'c': [True, None, 1.5, \"it's\"]}"))
        );
        assert_eq!(
            text(vec![
                t("x "),
                y("ctx().n"),
                t(" "),
                y("true"),
                t(" "),
                y("ctx().f")
            ]),
            Ok(json!("x None True 1e+16"))
        );
        assert_eq!(
            text(vec![t("x "), y("ctx().xs.select($ * 2)")]),
            Ok(json!("x [2, 4, 6]"))
        );
        assert_eq!(
            text(vec![y("ctx().s"), t("-"), y("ctx().s")]),
            Ok(json!("x-x"))
        );
        assert_eq!(
            text(vec![
                t("x "),
                j("ctx().a"),
                t(" "),
                j("ctx().n"),
                t(" "),
                j("true")
            ]),
            Ok(json!(
                "x {'b': 1, 'c': [True, None, 1.5, \"it's\"]} None True"
            ))
        );
    }

    #[test]
    fn data_with_delimiters_is_not_evaluated() {
        let s = scope_with(json!({"x": "<% ctx().secret %>"}));
        assert_eq!(
            eval_expr(&e("ctx().x"), &s).ok(),
            Some(json!("<% ctx().secret %>"))
        );
    }

    #[test]
    fn zip_pads_the_shorter_list_as_orquesta_does() {
        let s = scope_with(json!({"a": [1, 2, 3], "b": ["x", "y"]}));
        for expr in [e("zip(ctx().a, ctx().b)"), jinja("zip(ctx().a, ctx().b)")] {
            assert_eq!(
                eval_expr(&expr, &s).ok(),
                Some(json!([[1, "x"], [2, "y"], [3, null]]))
            );
        }
        for expr in [
            e("zip(ctx().a, ctx().b, pad => 0)"),
            jinja("zip(ctx().a, ctx().b, pad=0)"),
        ] {
            assert_eq!(
                eval_expr(&expr, &s).ok(),
                Some(json!([[1, "x"], [2, "y"], [3, 0]]))
            );
        }
    }
}

#[cfg(test)]
mod yaql_oracle;
