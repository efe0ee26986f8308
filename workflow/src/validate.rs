//! Offline checks for `orch workflow validate`: every problem at once, each with task, field,
//! message and position.
//!
//! Expressions are compiled and then dry-run against stub data: the workflow functions return
//! placeholders that accept any attribute, so only mistakes that are mistakes whatever the data
//! surface (unknown functions, filters and variables, `succeeded` without `()`, `result()` in
//! `output`, `task('typo')`). Type errors that depend on real data are left to run time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use indexmap::IndexMap;
use minijinja::ErrorKind;
use serde::Serialize;
use serde_json::Value;

use crate::expr::{self, Current, ItemBinding, Scope, Stub};
use crate::model::{Join, Loc, Scope as Where, Target, Template, Workflow};

/// What the host knows about an action name.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionKnown {
    /// Installed (or built in, or a workflow); with its input JSON Schema when it has one.
    Known {
        /// JSON Schema of the input.
        input_schema: Option<Value>,
    },
    /// Its pack is installed but has no such action, or nothing by that name exists.
    Unknown,
    /// Its pack is not installed here: skip the checks rather than fail offline use.
    NotInstalled,
}

/// Implemented by the host: resolves `pack.action`, `core.*` and workflow names.
pub trait ActionLookup {
    /// What is known about `action`.
    fn lookup(&self, action: &str) -> ActionKnown;
}

/// One problem found by [`validate`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Problem {
    /// Task, when the problem is in one.
    pub task: Option<String>,
    /// Field path (`next[0].when`, `action`, `output.diff`, ...).
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
    /// Where, when known.
    pub loc: Option<Loc>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(loc) = self.loc {
            write!(f, "{}:{}: ", loc.line, loc.column)?;
        }
        if let Some(t) = &self.task {
            write!(f, "task `{t}` ")?;
        }
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Checks a parsed workflow; returns every problem found (empty when it is fine).
pub fn validate(wf: &Workflow, actions: &dyn ActionLookup) -> Vec<Problem> {
    let mut problems = Vec::new();
    check_targets(wf, &mut problems);
    check_reachability(wf, &mut problems);
    check_joins(wf, &mut problems);
    check_endless_cycles(wf, &mut problems);
    check_actions(wf, actions, &mut problems);
    check_expressions(wf, &mut problems);
    problems
}

fn problem(
    task: Option<&str>,
    field: impl Into<String>,
    message: impl Into<String>,
    loc: Option<Loc>,
) -> Problem {
    Problem {
        task: task.map(str::to_string),
        field: field.into(),
        message: message.into(),
        loc,
    }
}

fn check_targets(wf: &Workflow, out: &mut Vec<Problem>) {
    for (name, task) in &wf.tasks {
        for (i, tr) in task.next.iter().enumerate() {
            for t in &tr.targets {
                if let Target::Task(target) = &t.kind
                    && !wf.tasks.contains_key(target)
                {
                    out.push(problem(
                        Some(name),
                        format!("next[{i}].do"),
                        format!(
                            "unknown task `{target}`; tasks are: {}",
                            wf.tasks.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                        Some(t.loc),
                    ));
                }
            }
        }
    }
}

fn edges(wf: &Workflow) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut g: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, task) in &wf.tasks {
        let e = g.entry(name.as_str()).or_default();
        for tr in &task.next {
            for t in &tr.targets {
                if let Target::Task(target) = &t.kind
                    && wf.tasks.contains_key(target)
                {
                    e.insert(target.as_str());
                }
            }
        }
    }
    g
}

fn check_reachability(wf: &Workflow, out: &mut Vec<Problem>) {
    let starts = wf.start_tasks();
    if starts.is_empty() {
        out.push(problem(
            None,
            "tasks",
            "no start task: every task is named by some `do`, so nothing can start; make one task the entry",
            None,
        ));
        return;
    }
    let g = edges(wf);
    let mut seen: BTreeSet<&str> = starts.iter().copied().collect();
    let mut stack: Vec<&str> = starts;
    while let Some(t) = stack.pop() {
        for &n in g.get(t).into_iter().flatten() {
            if seen.insert(n) {
                stack.push(n);
            }
        }
    }
    for (name, task) in &wf.tasks {
        if !seen.contains(name.as_str()) {
            out.push(problem(
                Some(name),
                "tasks",
                "unreachable: no path from a start task leads here; connect it or remove it",
                Some(task.loc),
            ));
        }
    }
}

fn check_joins(wf: &Workflow, out: &mut Vec<Problem>) {
    for (name, task) in &wf.tasks {
        if let Some(Join::Count(n)) = task.join {
            let inbound = wf.inbound_tasks(name);
            if usize::try_from(n).unwrap_or(usize::MAX) > inbound.len() {
                out.push(problem(
                    Some(name),
                    "join",
                    format!(
                        "join: {n} can never be met: only {} task(s) transition here ({})",
                        inbound.len(),
                        inbound.join(", ")
                    ),
                    Some(task.loc),
                ));
            }
        }
    }
}

/// A cycle whose every transition has no `when` (and no `fail`) runs forever: an unconditional
/// transition is taken whatever the task's outcome. Cycles with a condition somewhere can exit.
fn check_endless_cycles(wf: &Workflow, out: &mut Vec<Problem>) {
    let mut g: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, task) in &wf.tasks {
        let e = g.entry(name.as_str()).or_default();
        for tr in &task.next {
            let exits = tr.when.is_some() || tr.targets.iter().any(|t| t.kind == Target::Fail);
            if exits {
                continue;
            }
            for t in &tr.targets {
                if let Target::Task(target) = &t.kind
                    && wf.tasks.contains_key(target)
                {
                    e.insert(target.as_str());
                }
            }
        }
    }
    for scc in strongly_connected(&g) {
        let cyclic = scc.len() > 1
            || scc
                .first()
                .is_some_and(|t| g.get(t).is_some_and(|s| s.contains(t)));
        if !cyclic {
            continue;
        }
        let first = scc[0];
        out.push(problem(
            Some(first),
            "next",
            format!(
                "tasks {} loop forever: every transition in the cycle has no `when`; add a condition that ends it",
                scc.join(" → ")
            ),
            wf.tasks.get(first).map(|t| t.loc),
        ));
    }
}

/// Tarjan's algorithm, recursive: fine for workflow-sized graphs.
fn strongly_connected<'a>(g: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Vec<Vec<&'a str>> {
    struct T<'a, 'g> {
        g: &'g BTreeMap<&'a str, BTreeSet<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        on: BTreeSet<&'a str>,
        stack: Vec<&'a str>,
        next: usize,
        out: Vec<Vec<&'a str>>,
    }
    impl<'a> T<'a, '_> {
        fn visit(&mut self, v: &'a str) {
            self.index.insert(v, self.next);
            self.low.insert(v, self.next);
            self.next += 1;
            self.stack.push(v);
            self.on.insert(v);
            let succ: Vec<&'a str> = self.g.get(v).into_iter().flatten().copied().collect();
            for w in succ {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.entry(v).or_default();
                    *lv = (*lv).min(lw);
                } else if self.on.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.entry(v).or_default();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on.remove(w);
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                comp.reverse();
                self.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        on: BTreeSet::new(),
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for &v in g.keys() {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.out
}

fn check_actions(wf: &Workflow, actions: &dyn ActionLookup, out: &mut Vec<Problem>) {
    for (name, task) in &wf.tasks {
        let Some(action) = &task.action else { continue };
        match actions.lookup(action) {
            ActionKnown::Unknown => out.push(problem(
                Some(name),
                "action",
                format!("unknown action `{action}`; check the name with orch pack show, or install its pack"),
                Some(task.action_loc),
            )),
            ActionKnown::NotInstalled => {}
            ActionKnown::Known { input_schema } => {
                if let Some(schema) = input_schema {
                    check_input_keys(name, task.input.as_ref(), &schema, task.action_loc, out);
                }
            }
        }
    }
}

/// Checks the input's literal keys against `properties` / `required` / `additionalProperties`.
/// Values are the host's to check (full JSON Schema), with [`Template::literal`] where literal.
fn check_input_keys(
    task: &str,
    input: Option<&Template>,
    schema: &Value,
    loc: Loc,
    out: &mut Vec<Problem>,
) {
    let keys: Vec<&str> = input.and_then(Template::map_keys).unwrap_or_default();
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for r in required.iter().filter_map(Value::as_str) {
            if !keys.contains(&r) {
                out.push(problem(
                    Some(task),
                    "input",
                    format!("the action requires input `{r}`; add it under `input:`"),
                    Some(loc),
                ));
            }
        }
    }
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    if let Some(props) = schema.get("properties").and_then(Value::as_object)
        && closed
    {
        for k in &keys {
            if !props.contains_key(*k) {
                out.push(problem(
                    Some(task),
                    format!("input.{k}"),
                    format!(
                        "the action takes no input `{k}`; it takes: {}",
                        props.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                    Some(loc),
                ));
            }
        }
    }
}

fn check_expressions(wf: &Workflow, out: &mut Vec<Problem>) {
    // Every name assigned anywhere may be read anywhere: order across branches is a run-time
    // matter, so the dry run only rejects names never assigned at all.
    let mut vars: IndexMap<String, minijinja::value::Value> = IndexMap::new();
    let stub = expr::stub_value;
    for p in &wf.input {
        vars.insert(p.name.clone(), stub());
    }
    for v in &wf.vars {
        vars.insert(v.name.clone(), stub());
    }
    for t in wf.tasks.values() {
        for tr in &t.next {
            for p in &tr.publish {
                vars.insert(p.name.clone(), stub());
            }
        }
    }
    let ctx = Arc::new(vars);
    let task_names: Vec<String> = wf.tasks.keys().cloned().collect();
    for site in wf.expressions() {
        let field = site.field.clone();
        let loc = Some(site.expr.loc);
        if let Err(e) = expr::check_syntax(site.expr) {
            out.push(problem(
                site.task,
                &field,
                format!("{}: {}", e.expression, e.message),
                loc,
            ));
            continue;
        }
        let names = site
            .task
            .and_then(|t| wf.tasks.get(t))
            .and_then(|t| t.with.as_ref())
            .map(|w| w.names.clone())
            .unwrap_or_default();
        let stub_info = Arc::new(Stub {
            task_names: task_names.clone(),
            problems: Default::default(),
        });
        let mut scope = Scope {
            ctx: ctx.clone(),
            tasks: Arc::default(),
            current: None,
            item: None,
            stub: Some(stub_info.clone()),
        };
        let with_item = |scope: &mut Scope| {
            scope.item = Some(ItemBinding {
                value: expr::stub_value(),
                names: Arc::new(names.clone()),
            });
        };
        match site.scope {
            Where::Workflow => {}
            Where::TaskInput { items } => {
                if items {
                    with_item(&mut scope);
                }
            }
            Where::Result { items } => {
                scope.current = Some(Current {
                    succeeded: true,
                    result: expr::stub_value(),
                });
                if items {
                    with_item(&mut scope);
                }
            }
        }
        let is_condition = field.ends_with("when");
        let outcome = if is_condition {
            expr::truthy(&Template::Expr(site.expr.clone()), &scope).map(|_| ())
        } else {
            expr::eval_expr(site.expr, &scope).map(|_| ())
        };
        let recorded: Vec<String> = stub_info
            .problems
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default();
        for msg in recorded {
            out.push(problem(
                site.task,
                &field,
                format!("{}: {msg}", site.expr.source()),
                loc,
            ));
        }
        if let Err(e) = outcome {
            let report = match e.kind {
                // These depend on real data, which the dry run does not have.
                Some(
                    ErrorKind::InvalidOperation
                    | ErrorKind::NonPrimitive
                    | ErrorKind::NonKey
                    | ErrorKind::CannotUnpack
                    | ErrorKind::BadSerialization,
                ) => false,
                Some(_) => true,
                // Our own conversion errors: a function object or an undefined value where data
                // was expected; stubs convert cleanly, so these are real mistakes.
                None => true,
            };
            if report {
                out.push(problem(
                    site.task,
                    &field,
                    format!("{}: {}", e.expression, e.message),
                    loc,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_workflow;
    use serde_json::json;

    struct Actions;
    impl ActionLookup for Actions {
        fn lookup(&self, action: &str) -> ActionKnown {
            match action {
                "net.get" => ActionKnown::Known {
                    input_schema: Some(json!({
                        "type": "object",
                        "properties": {"device": {}, "port": {}},
                        "required": ["device"],
                        "additionalProperties": false
                    })),
                },
                a if a.starts_with("core.") => ActionKnown::Known { input_schema: None },
                a if a.starts_with("absent.") => ActionKnown::NotInstalled,
                _ => ActionKnown::Unknown,
            }
        }
    }

    fn problems(yaml: &str) -> Vec<Problem> {
        let wf = parse_workflow("wf.yaml", yaml).expect("parses");
        validate(&wf, &Actions)
    }

    fn has(ps: &[Problem], needle: &str) -> bool {
        ps.iter().any(|p| p.to_string().contains(needle))
    }

    #[test]
    fn clean_workflow_has_no_problems() {
        let ps = problems(
            "input: [device]\ntasks:\n  a:\n    action: net.get\n    input: { device: <% ctx().device %> }\n    next:\n      - when: <% succeeded() %>\n        publish: [{ cfg: <% result().config %> }]\n        do: b\n  b:\n    action: core.noop\noutput:\n  - cfg: <% ctx().cfg %>\n",
        );
        assert!(ps.is_empty(), "{ps:#?}");
    }

    #[test]
    fn a_bare_name_in_jinja_ctx_or_item_is_refused_while_yaql_reads_it_as_a_string() {
        let ps = problems(
            "input: [flag]\ntasks:\n  a:\n    action: core.echo\n    input: { v: \"{{ ctx(flag) }}\" }\n",
        );
        assert_eq!(ps.len(), 1, "{ps:?}");
        assert!(
            ps[0].message.contains("bare name") && ps[0].message.contains("ctx('name')"),
            "{ps:?}"
        );
        let ps = problems(
            "input: [hosts]\ntasks:\n  a:\n    with: h in <% ctx(hosts) %>\n    action: core.echo\n    input: { v: \"{{ item(h) }}\" }\n",
        );
        assert!(ps.iter().any(|p| p.message.contains("bare name")), "{ps:?}");
        let ps = problems(
            "input: [flag]\ntasks:\n  a:\n    action: core.echo\n    input: { v: <% ctx(flag) %>, w: \"{{ ctx('flag') }}\" }\n",
        );
        assert!(ps.is_empty(), "{ps:?}");
    }

    #[test]
    fn reports_unknown_target_with_position() {
        let ps = problems("tasks:\n  a:\n    action: core.noop\n    next:\n      - do: nowhere\n");
        let p = ps
            .iter()
            .find(|p| p.message.contains("unknown task `nowhere`"))
            .expect("reported");
        assert_eq!(
            p.loc,
            Some(Loc {
                line: 5,
                column: 13
            })
        );
        assert_eq!(p.field, "next[0].do");
    }

    #[test]
    fn reports_unreachable_tasks_and_missing_start() {
        let ps = problems(
            "tasks:\n  a:\n    action: core.noop\n  b:\n    action: core.noop\n    next: [{ when: <% succeeded() %>, do: c }]\n  c:\n    action: core.noop\n    next: [{ when: <% succeeded() %>, do: b }]\n",
        );
        assert!(
            ps.iter()
                .any(|p| p.task.as_deref() == Some("b") && p.message.contains("unreachable")),
            "{ps:#?}"
        );
        assert!(
            ps.iter()
                .any(|p| p.task.as_deref() == Some("c") && p.message.contains("unreachable")),
            "{ps:#?}"
        );
        let none = problems(
            "tasks:\n  a:\n    next: [{ when: <% succeeded() %>, do: b }]\n  b:\n    next: [{ when: <% succeeded() %>, do: a }]\n",
        );
        // A task that only names itself is a polling loop, and still an entry.
        let poll = problems(
            "tasks:\n  a:\n    action: core.noop\n    next: [{ when: <% failed() %>, do: a }]\n",
        );
        assert!(poll.is_empty(), "{poll:#?}");
        assert!(has(&none, "no start task"), "{none:#?}");
    }

    #[test]
    fn reports_unknown_action_and_skips_uninstalled() {
        let ps = problems(
            "tasks:\n  a:\n    action: nope.x\n    next: [{ do: b }]\n  b:\n    action: absent.y\n",
        );
        assert_eq!(ps.len(), 1, "{ps:#?}");
        assert!(ps[0].message.contains("unknown action `nope.x`"));
        assert_eq!(
            ps[0].loc,
            Some(Loc {
                line: 3,
                column: 13
            })
        );
    }

    #[test]
    fn checks_input_keys_against_schema() {
        let ps = problems("tasks:\n  a:\n    action: net.get\n    input: { devce: r1 }\n");
        assert!(has(&ps, "requires input `device`"), "{ps:#?}");
        assert!(has(&ps, "takes no input `devce`"), "{ps:#?}");
    }

    #[test]
    fn catches_uncalled_function_and_unknown_function() {
        let ps = problems(
            "tasks:\n  a:\n    action: core.noop\n    next:\n      - when: <% succeeded %>\n        do: b\n  b:\n    action: core.noop\n    input: { x: <% lenght(ctx().y) %> }\nvars:\n  - y: [1]\n",
        );
        assert!(
            ps.iter()
                .any(|p| p.field == "next[0].when" && p.message.contains("succeeded()")),
            "{ps:#?}"
        );
        assert!(
            ps.iter()
                .any(|p| p.field == "input.x" && p.message.contains("lenght")),
            "{ps:#?}"
        );
    }

    #[test]
    fn catches_misplaced_functions_and_unknown_names() {
        let ps = problems(
            "tasks:\n  a:\n    action: core.noop\n    input: { x: <% item() %>, y: <% task('zz').status %> }\noutput:\n  - r: <% result() %>\n  - v: <% ctx().nope %>\n  - w: <% ctx('nada') %>\n",
        );
        assert!(
            ps.iter()
                .any(|p| p.field == "input.x" && p.message.contains("item()")),
            "{ps:#?}"
        );
        assert!(
            ps.iter()
                .any(|p| p.field == "input.y" && p.message.contains("task('zz')")),
            "{ps:#?}"
        );
        assert!(
            ps.iter()
                .any(|p| p.field == "output.r" && p.message.contains("result()")),
            "{ps:#?}"
        );
        assert!(ps.iter().any(|p| p.field == "output.v"), "{ps:#?}");
        assert!(
            ps.iter()
                .any(|p| p.field == "output.w" && p.message.contains("nada")),
            "{ps:#?}"
        );
    }

    #[test]
    fn syntax_errors_are_reported_not_fatal() {
        let ps = problems(
            "tasks:\n  a:\n    action: core.noop\n    input: { x: <% ctx().a + %>, y: <% ctx( %> }\n",
        );
        assert_eq!(
            ps.iter()
                .filter(|p| p.message.contains("syntax error"))
                .count(),
            2,
            "{ps:#?}"
        );
    }

    #[test]
    fn yaql_is_dry_run_against_stubs_and_only_real_mistakes_are_reported() {
        let ps = problems(
            r#"
input: [vms, n]
tasks:
  a:
    action: core.noop
    input:
      ok1: <% ctx(vms).where($.region = 'us-east' and $.cpus > 2).select($.name).distinct() %>
      ok2: <% let(r => ctx(n)) -> $.vms.where($.region = $r).len() %>
      ok3: "R1-<% str(ctx(n) + 1) %>-{{ ctx('n') }}"
      ok4: <% dict(ctx(vms).select([$.name, $])).keys().join(',') %>
      typo: <% ctx(vms).select($.name).lenght() %>
      inner: <% ctx(vms).where(lower($.name) = 'x') %>
      jinja: <% ctx(vms) | length %>
      unknown_var: <% ctx(vsm) %>
      unknown_key: <% $.nope %>
      refused: <% now() %>
      method_as_function: <% keys(ctx(vms)) %>
      always_wrong: <% 1 + 'a' %>
      double_eq: <% ctx(n) == 1 %>
"#,
        );
        let at = |field: &str| -> Vec<&Problem> {
            ps.iter()
                .filter(|p| p.field == format!("input.{field}"))
                .collect()
        };
        for ok in ["ok1", "ok2", "ok3", "ok4"] {
            assert!(at(ok).is_empty(), "{ok}: {ps:#?}");
        }
        let one = |field: &str, needle: &str| {
            let found = at(field);
            assert!(
                found.len() == 1 && found[0].message.contains(needle),
                "{field} should report {needle:?}: {ps:#?}"
            );
        };
        one("typo", "unknown method `lenght`; did you mean len");
        one("inner", "unknown function `lower` (Jinja's name");
        one("inner", "write x.toLower()");
        one(
            "jinja",
            "syntax error: illegal character '|' (Jinja's filters",
        );
        one("jinja", "(at character 10)");
        one("double_eq", "YAQL's equality is one `=`");
        one("unknown_var", "ctx has no variable `vsm`; known: vms, n");
        one(
            "unknown_key",
            "key `nope` is not in the context; its variables: vms, n",
        );
        one("refused", "`now` is not supported by orch");
        one("method_as_function", "write x.keys(");
        one("always_wrong", "`+` does not apply to integer and string");
        assert_eq!(ps.len(), 9, "{ps:#?}");
    }

    #[test]
    fn item_names_are_checked() {
        let ps = problems(
            "vars: [{ hs: [] }]\ntasks:\n  a:\n    action: core.noop\n    with: h in <% ctx().hs %>\n    input: { x: <% item('h') %>, y: <% item('q') %> }\n",
        );
        assert_eq!(ps.len(), 1, "{ps:#?}");
        assert!(
            ps[0].field == "input.y" && ps[0].message.contains("`q`"),
            "{ps:#?}"
        );
    }

    #[test]
    fn unconditional_cycle_is_endless_but_conditional_one_is_not() {
        let ps = problems(
            "tasks:\n  s:\n    next: [{ do: a }]\n  a:\n    action: core.noop\n    next: [{ do: b }]\n  b:\n    action: core.noop\n    next: [{ do: a }]\n",
        );
        assert!(has(&ps, "a → b loop forever"), "{ps:#?}");
        let ok = problems(
            "tasks:\n  s:\n    next: [{ do: a }]\n  a:\n    action: core.noop\n    next: [{ do: b }]\n  b:\n    action: core.noop\n    next: [{ when: <% ctx().n < 3 %>, do: a }]\nvars: [{ n: 0 }]\n",
        );
        assert!(ok.is_empty(), "{ok:#?}");
    }

    #[test]
    fn impossible_join_count_is_reported() {
        let ps = problems(
            "tasks:\n  a:\n    next: [{ do: j }]\n  j:\n    join: 2\n    action: core.noop\n",
        );
        assert!(has(&ps, "join: 2 can never be met"), "{ps:#?}");
    }
}
