//! The parsed workflow: what a workflow file says, with source positions kept for diagnostics.
//!
//! Values that may hold expressions are [`Template`]s, built once at parse time. Only the
//! workflow's own text becomes a template; data that arrives later (run input, action results)
//! stays [`serde_json::Value`] and is never looked at for `<% %>`, which is how "data is never
//! re-evaluated" is guaranteed by construction rather than by escaping.

use std::fmt;
use std::sync::{Arc, OnceLock};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A line and column (both 1-based) in the workflow file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loc {
    /// 1-based line; 0 when unknown.
    pub line: u64,
    /// 1-based column; 0 when unknown.
    pub column: u64,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A whole workflow.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Workflow {
    /// Where it came from (a file name), used in messages.
    pub source: String,
    /// `version:` as written (only 1 / 1.0 are accepted).
    pub version: String,
    /// `description:`.
    pub description: Option<String>,
    /// `input:` in declaration order.
    pub input: Vec<InputParam>,
    /// `vars:` in declaration order.
    pub vars: Vec<Assign>,
    /// `tasks:` in file order (the order start tasks are started in).
    pub tasks: IndexMap<String, Task>,
    /// `output:` in declaration order.
    pub output: Vec<Assign>,
}

impl Workflow {
    /// Start tasks: tasks that no other task's transition names, in file order (Orquesta's graph
    /// roots).
    pub fn start_tasks(&self) -> Vec<&str> {
        // A task that only names itself is still an entry (a polling loop); Orquesta would
        // find no root there and refuse to start.
        let targeted: std::collections::BTreeSet<&str> = self
            .tasks
            .iter()
            .flat_map(|(from, t)| t.next.iter().map(move |tr| (from, tr)))
            .flat_map(|(from, tr)| tr.targets.iter().map(move |t| (from, t)))
            .filter_map(|(from, t)| match &t.kind {
                Target::Task(name) if name != from => Some(name.as_str()),
                _ => None,
            })
            .collect();
        self.tasks
            .keys()
            .map(String::as_str)
            .filter(|name| !targeted.contains(name))
            .collect()
    }

    /// Distinct tasks with a transition into `task`, in file order (a join counts these).
    pub fn inbound_tasks(&self, task: &str) -> Vec<&str> {
        self.tasks
            .iter()
            .filter(|(_, t)| {
                t.next.iter().any(|tr| {
                    tr.targets
                        .iter()
                        .any(|tg| matches!(&tg.kind, Target::Task(n) if n == task))
                })
            })
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Every expression in the workflow with where it sits, for validation.
    pub fn expressions(&self) -> Vec<ExprSite<'_>> {
        let mut out = Vec::new();
        for p in &self.input {
            if let Some(d) = &p.default {
                d.collect(&mut out, None, format!("input.{}", p.name), Scope::Workflow);
            }
        }
        for a in &self.vars {
            a.value
                .collect(&mut out, None, format!("vars.{}", a.name), Scope::Workflow);
        }
        for (name, task) in &self.tasks {
            let t = Some(name.as_str());
            let items = task.with.is_some();
            let input_scope = Scope::TaskInput { items };
            if let Some(input) = &task.input {
                input.collect(&mut out, t, "input".into(), input_scope);
            }
            if let Some(w) = &task.with {
                w.items
                    .collect(&mut out, t, "with.items".into(), Scope::Workflow);
                if let Some(c) = &w.concurrency {
                    c.collect(&mut out, t, "with.concurrency".into(), Scope::Workflow);
                }
            }
            for (field, tpl) in [("delay", &task.delay), ("timeout", &task.timeout)] {
                if let Some(tpl) = tpl {
                    tpl.collect(&mut out, t, field.into(), Scope::Workflow);
                }
            }
            if let Some(r) = &task.retry {
                r.count
                    .collect(&mut out, t, "retry.count".into(), Scope::Workflow);
                if let Some(d) = &r.delay {
                    d.collect(&mut out, t, "retry.delay".into(), Scope::Workflow);
                }
                if let Some(w) = &r.when {
                    w.collect(&mut out, t, "retry.when".into(), Scope::Result { items });
                }
            }
            for (i, tr) in task.next.iter().enumerate() {
                if let Some(w) = &tr.when {
                    w.collect(
                        &mut out,
                        t,
                        format!("next[{i}].when"),
                        Scope::Result { items: false },
                    );
                }
                for p in &tr.publish {
                    p.value.collect(
                        &mut out,
                        t,
                        format!("next[{i}].publish.{}", p.name),
                        Scope::Result { items: false },
                    );
                }
            }
        }
        for a in &self.output {
            a.value.collect(
                &mut out,
                None,
                format!("output.{}", a.name),
                Scope::Workflow,
            );
        }
        out
    }
}

/// Which functions make sense where an expression sits (used by the validator's dry run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `ctx()` and `task()` only (vars, output, delays, item lists).
    Workflow,
    /// A task's `input`; `item()` too when the task has `with`.
    TaskInput {
        /// The task fans out with `with`.
        items: bool,
    },
    /// `next` and `retry.when`: `result()` and the status functions too.
    Result {
        /// `item()` is available (per-item retry conditions).
        items: bool,
    },
}

/// One expression and where it sits.
#[derive(Clone, Debug)]
pub struct ExprSite<'a> {
    /// Task it belongs to, if any.
    pub task: Option<&'a str>,
    /// Field path, e.g. `next[0].when`, `input.device`.
    pub field: String,
    /// The expression.
    pub expr: &'a Expr,
    /// Which functions are meaningful there.
    pub scope: Scope,
}

/// An `input:` entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InputParam {
    /// Parameter name.
    pub name: String,
    /// Default when the caller gives none; `None` makes the parameter required.
    pub default: Option<Template>,
    /// Where it is declared.
    pub loc: Loc,
}

/// `name: value` in `vars`, `publish` or `output`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Assign {
    /// Variable name.
    pub name: String,
    /// Value or expression.
    pub value: Template,
    /// Where it is declared.
    pub loc: Loc,
}

/// A task.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Task {
    /// Task name (the key under `tasks:`).
    pub name: String,
    /// Where the task is declared.
    pub loc: Loc,
    /// `action:`; `None` makes a routing task, which completes at once.
    pub action: Option<String>,
    /// Where `action:` is written.
    pub action_loc: Loc,
    /// `input:` (always a map template when present).
    pub input: Option<Template>,
    /// `next:` in order.
    pub next: Vec<Transition>,
    /// `join:`.
    pub join: Option<Join>,
    /// `with:`.
    pub with: Option<WithItems>,
    /// `retry:`.
    pub retry: Option<Retry>,
    /// `delay:` seconds before the task starts.
    pub delay: Option<Template>,
    /// `timeout:` seconds per attempt, passed to the driver.
    pub timeout: Option<Template>,
    /// `placement:` (an orch extension): the worker tags a sub-workflow's run needs, e.g.
    /// `{site: <% item().site %>}`; rendered per item like the input. Workers sharing a store
    /// run each child where its tags are; a single process runs it itself.
    #[serde(default)]
    pub placement: Option<Template>,
}

/// `join:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Join {
    /// `join: all`: wait for every task that transitions here.
    All,
    /// `join: N`: wait for N of them.
    Count(u32),
}

/// `with:` (fan-out over items).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WithItems {
    /// The list to fan out over.
    pub items: Template,
    /// Names from the `a, b in <% … %>` form; empty for the plain form.
    pub names: Vec<String>,
    /// Items running at once; `None` is unlimited.
    pub concurrency: Option<Template>,
    /// What a failed item does to the task.
    pub on_item_failure: ItemFailure,
    /// Where `with:` is written.
    pub loc: Loc,
}

/// `with.on_item_failure`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ItemFailure {
    /// Start no more items, let running ones finish, fail the task (Orquesta's behaviour).
    #[default]
    Fail,
    /// Run every item; the task succeeds and failed items carry `{"error": …}` in its result.
    Continue,
}

/// `retry:`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Retry {
    /// Retries after the first attempt.
    pub count: Template,
    /// Seconds before the first retry.
    pub delay: Option<Template>,
    /// Exponential backoff.
    pub backoff: Option<Backoff>,
    /// Condition on the attempt's outcome; without it, failed attempts are retried unless the
    /// action said `retryable: false`.
    pub when: Option<Template>,
    /// Where `retry:` is written.
    pub loc: Loc,
}

/// `retry.backoff`: delay × factor^(n-1), capped at `max_delay`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Backoff {
    /// Multiplier per retry (≥ 1).
    pub factor: f64,
    /// Cap in seconds.
    pub max_delay: Option<f64>,
}

/// One entry of `next:`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Transition {
    /// `when:`; `None` means "on completion, whatever the status" (Orquesta).
    pub when: Option<Template>,
    /// `publish:` in order.
    pub publish: Vec<Assign>,
    /// `do:` in order; empty means `continue`.
    pub targets: Vec<TargetRef>,
    /// Where the entry starts.
    pub loc: Loc,
}

/// A `do:` entry with its position.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetRef {
    /// Task or engine command.
    pub kind: Target,
    /// Where it is written.
    pub loc: Loc,
}

/// What `do:` names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// A task of this workflow.
    Task(String),
    /// Engine command `fail`: fail the run (tasks named beside it still run).
    Fail,
    /// Engine command `noop`: nothing, but a failure counts as handled.
    Noop,
    /// Engine command `retry`: run the task again (at most 3 times, no delay).
    Retry,
    /// Engine command `continue`: nothing; a failure stays unhandled.
    Continue,
}

impl Target {
    /// Parses a `do:` word.
    pub fn from_word(word: &str) -> Target {
        match word {
            "fail" => Target::Fail,
            "noop" => Target::Noop,
            "retry" => Target::Retry,
            "continue" => Target::Continue,
            other => Target::Task(other.to_string()),
        }
    }

    /// The engine command's word, `None` for a task.
    pub fn command_word(&self) -> Option<&'static str> {
        match self {
            Target::Task(_) => None,
            Target::Fail => Some("fail"),
            Target::Noop => Some("noop"),
            Target::Retry => Some("retry"),
            Target::Continue => Some("continue"),
        }
    }
}

/// Words that name engine commands and so cannot name tasks.
pub const ENGINE_COMMANDS: [&str; 4] = ["fail", "noop", "retry", "continue"];

/// A value from the workflow file that may contain expressions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Template {
    /// No expression anywhere inside.
    Literal(Value),
    /// A string that is exactly one expression: the result keeps its type.
    Expr(Expr),
    /// Text with expressions in it: renders as a string.
    Text(Vec<Piece>),
    /// A list with at least one expression inside.
    List(Vec<Template>),
    /// A map with at least one expression inside (keys are literal).
    Map(IndexMap<String, Template>),
}

impl Template {
    /// The value when the template holds no expression (for offline schema checks).
    pub fn literal(&self) -> Option<&Value> {
        match self {
            Template::Literal(v) => Some(v),
            _ => None,
        }
    }

    /// Literal keys of a map template (known without evaluating anything).
    pub fn map_keys(&self) -> Option<Vec<&str>> {
        match self {
            Template::Map(m) => Some(m.keys().map(String::as_str).collect()),
            Template::Literal(Value::Object(m)) => Some(m.keys().map(String::as_str).collect()),
            _ => None,
        }
    }

    /// The single expression when the template is exactly one.
    pub fn as_expr(&self) -> Option<&Expr> {
        match self {
            Template::Expr(e) => Some(e),
            _ => None,
        }
    }

    /// Every expression inside, in order.
    pub(crate) fn collect_exprs<'a>(&'a self, out: &mut Vec<&'a Expr>) {
        match self {
            Template::Literal(_) => {}
            Template::Expr(e) => out.push(e),
            Template::Text(pieces) => out.extend(pieces.iter().filter_map(|p| match p {
                Piece::Expr(e) => Some(e),
                Piece::Text(_) => None,
            })),
            Template::List(items) => items.iter().for_each(|t| t.collect_exprs(out)),
            Template::Map(m) => m.values().for_each(|t| t.collect_exprs(out)),
        }
    }

    fn collect<'a>(
        &'a self,
        out: &mut Vec<ExprSite<'a>>,
        task: Option<&'a str>,
        field: String,
        scope: Scope,
    ) {
        match self {
            Template::Literal(_) => {}
            Template::Expr(e) => out.push(ExprSite {
                task,
                field,
                expr: e,
                scope,
            }),
            Template::Text(pieces) => {
                for p in pieces {
                    if let Piece::Expr(e) = p {
                        out.push(ExprSite {
                            task,
                            field: field.clone(),
                            expr: e,
                            scope,
                        });
                    }
                }
            }
            Template::List(items) => {
                for (i, t) in items.iter().enumerate() {
                    t.collect(out, task, format!("{field}[{i}]"), scope);
                }
            }
            Template::Map(m) => {
                for (k, t) in m {
                    t.collect(out, task, format!("{field}.{k}"), scope);
                }
            }
        }
    }
}

/// Part of a [`Template::Text`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Piece {
    /// Literal text.
    Text(String),
    /// An expression rendered into the text.
    Expr(Expr),
}

/// Which delimiters an expression was written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delim {
    /// `<% … %>`.
    Percent,
    /// `{{ … }}`.
    Braces,
}

/// One expression: the code between the delimiters, compiled on first use.
#[derive(Clone, Serialize, Deserialize)]
pub struct Expr {
    /// Code between the delimiters, trimmed.
    pub code: String,
    /// Delimiters used.
    pub delim: Delim,
    /// Where the string holding it starts.
    pub loc: Loc,
    /// Compiled form, built on first evaluation; not serialized (recompiled after a restore).
    #[serde(skip)]
    pub(crate) compiled: Arc<OnceLock<crate::expr::Compiled>>,
}

impl Expr {
    /// Builds an expression from its code.
    pub fn new(code: impl Into<String>, delim: Delim, loc: Loc) -> Expr {
        Expr {
            code: code.into(),
            delim,
            loc,
            compiled: Arc::default(),
        }
    }

    /// The expression as written, with its delimiters: used in messages.
    pub fn source(&self) -> String {
        match self.delim {
            Delim::Percent => format!("<% {} %>", self.code),
            Delim::Braces => format!("{{{{ {} }}}}", self.code),
        }
    }
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expr")
            .field("code", &self.code)
            .field("delim", &self.delim)
            .field("loc", &self.loc)
            .finish()
    }
}
