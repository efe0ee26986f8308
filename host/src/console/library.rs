//! The library pages: installed packs (vendor, version, actions with their schemas shown as
//! tables of fields, imports, destinations asked for, grants held) and workflows (the list, and
//! a page per workflow: its graph, each task's Input, Properties and Transitions, and a Run form
//! from its declared inputs, checked as `orch run` checks them).

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use orch_workflow::model::{Delim, ItemFailure, Join, Piece, Target, Task, Template as Tpl};
use serde_json::{Map, Value};

use super::{Chrome, PageError, Posted, User, forms, graph, page};
use crate::auth::Role;
use crate::engine::{self};
use crate::packs::InstalledPack;
use crate::service::{Core, blocking};

/// One field of a schema, shown in a table.
pub struct SchemaField {
    /// Name.
    pub name: String,
    /// Type in words.
    pub kind: String,
    /// Required?
    pub required: bool,
    /// Description.
    pub help: String,
}

/// The fields of an object schema, for a table; empty for other schemas (shown as JSON).
fn schema_fields(schema: &Value) -> Vec<SchemaField> {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    let required = forms::required(schema);
    props
        .iter()
        .map(|(name, p)| SchemaField {
            name: name.clone(),
            kind: type_words(p),
            required: required.contains(&name.as_str()),
            help: p
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        })
        .collect()
}

fn type_words(p: &Value) -> String {
    if let Some(e) = p.get("enum").and_then(Value::as_array) {
        return format!(
            "one of {}",
            e.iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    match p.get("type") {
        Some(Value::String(t)) if t == "array" => match p.get("items") {
            Some(items) => format!("list of {}", type_words(items)),
            None => "list".into(),
        },
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ if p.get("anyOf").is_some() || p.get("oneOf").is_some() => "one of several shapes".into(),
        _ => "any".into(),
    }
}

/// An action of a pack, for its page.
pub struct ActionView {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Whether it may be retried safely.
    pub idempotent: bool,
    /// Input fields.
    pub input: Vec<SchemaField>,
    /// Output fields.
    pub output: Vec<SchemaField>,
    /// The schemas as JSON (for what the tables cannot show).
    pub input_json: String,
    /// Output schema JSON.
    pub output_json: String,
}

#[derive(Template)]
#[template(path = "console/packs.html")]
struct PacksPage {
    chrome: Chrome,
    packs: Vec<InstalledPack>,
}

/// `GET /packs`.
pub async fn packs(State(core): State<Arc<Core>>, user: User) -> Result<Response, PageError> {
    let packs = blocking(|| core.packs().list()).map_err(|e| PageError::internal(&e))?;
    page(&PacksPage {
        chrome: user.chrome("packs", "Packs"),
        packs,
    })
}

#[derive(Template)]
#[template(path = "console/pack.html")]
struct PackPage {
    chrome: Chrome,
    pack: InstalledPack,
    actions: Vec<ActionView>,
    grants: Vec<String>,
}

/// `GET /packs/{name}`.
pub async fn pack(
    State(core): State<Arc<Core>>,
    user: User,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    let (pack, grants) = blocking(|| -> anyhow::Result<_> {
        let packs = core.packs();
        Ok((packs.get(&name)?, packs.grants(&name)?))
    })
    .map_err(|e| PageError::from(crate::api::failed(&e)))?;
    let actions = pack
        .manifest
        .actions
        .iter()
        .map(|a| ActionView {
            name: a.name.clone(),
            description: a.description.clone(),
            idempotent: a.idempotent,
            input: schema_fields(&a.input_schema),
            output: schema_fields(&a.output_schema),
            input_json: super::pretty(&a.input_schema),
            output_json: super::pretty(&a.output_schema),
        })
        .collect();
    page(&PackPage {
        chrome: user.chrome("packs", format!("Pack {name}")),
        pack,
        actions,
        grants,
    })
}

/// A workflow in the list.
pub struct WorkflowItem {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Tasks.
    pub tasks: usize,
    /// Declared inputs.
    pub inputs: String,
    /// Problems found by the checks (or why it cannot be read).
    pub problems: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/workflows.html")]
struct WorkflowsPage {
    chrome: Chrome,
    workflows: Vec<WorkflowItem>,
    dir: String,
}

/// `GET /workflows`.
pub async fn workflows(State(core): State<Arc<Core>>, user: User) -> Result<Response, PageError> {
    let engine = core.engine();
    let dir = engine.workflows_dir();
    let names = crate::api::workflow_names(&dir);
    let workflows = blocking(|| {
        names
            .into_iter()
            .map(|name| match engine.check(&name) {
                Ok((wf, problems)) => WorkflowItem {
                    description: wf.description.clone().unwrap_or_default(),
                    tasks: wf.tasks.len(),
                    inputs: wf
                        .input
                        .iter()
                        .map(|p| p.name.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                    problems: problems.iter().map(ToString::to_string).collect(),
                    name,
                },
                Err(err) => WorkflowItem {
                    description: String::new(),
                    tasks: 0,
                    inputs: String::new(),
                    problems: vec![format!("{err:#}")],
                    name,
                },
            })
            .collect()
    });
    page(&WorkflowsPage {
        chrome: user.chrome("workflows", "Workflows"),
        workflows,
        dir: dir.display().to_string(),
    })
}

/// A piece of text, plain or an expression (highlighted).
pub struct Span {
    /// The text.
    pub text: String,
    /// Whether it is an expression.
    pub expr: bool,
}

/// Splits text at `<% %>` and `{{ }}` so the page can highlight the expressions.
pub fn spans(text: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let next = [("<%", "%>"), ("{{", "}}")]
            .iter()
            .filter_map(|(open, close)| rest.find(open).map(|i| (i, *open, *close)))
            .min_by_key(|(i, _, _)| *i);
        let Some((i, _, close)) = next else {
            out.push(Span {
                text: rest.to_owned(),
                expr: false,
            });
            break;
        };
        if i > 0 {
            out.push(Span {
                text: rest[..i].to_owned(),
                expr: false,
            });
        }
        let end = rest[i..]
            .find(close)
            .map_or(rest.len(), |j| i + j + close.len());
        out.push(Span {
            text: rest[i..end].to_owned(),
            expr: true,
        });
        rest = &rest[end..];
    }
    out
}

/// A template as it is written.
fn written(t: &Tpl) -> String {
    fn expr(e: &orch_workflow::model::Expr) -> String {
        match e.delim {
            Delim::Percent => format!("<% {} %>", e.code),
            Delim::Braces => format!("{{{{ {} }}}}", e.code),
        }
    }
    match t {
        Tpl::Literal(v) => match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
        Tpl::Expr(e) => expr(e),
        Tpl::Text(pieces) => pieces
            .iter()
            .map(|p| match p {
                Piece::Text(s) => s.clone(),
                Piece::Expr(e) => expr(e),
            })
            .collect(),
        Tpl::List(items) => format!(
            "[{}]",
            items.iter().map(written).collect::<Vec<_>>().join(", ")
        ),
        Tpl::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}: {}", written(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// One line of a task's view: a label and its value, expressions marked.
pub struct Line {
    /// What it is.
    pub label: String,
    /// Its value.
    pub value: Vec<Span>,
}

fn line(label: impl Into<String>, value: &str) -> Line {
    Line {
        label: label.into(),
        value: spans(value),
    }
}

/// One task's three views.
pub struct TaskView {
    /// Name.
    pub name: String,
    /// Action (or routing).
    pub action: String,
    /// Input: one line per argument.
    pub input: Vec<Line>,
    /// Properties: join, with, retry, delay, timeout.
    pub properties: Vec<Line>,
    /// Transitions: when, publish, do.
    pub transitions: Vec<TransitionView>,
}

/// One transition.
pub struct TransitionView {
    /// `when`, or "on completion".
    pub when: Vec<Span>,
    /// `publish` lines.
    pub publish: Vec<Line>,
    /// `do` targets (tasks and commands).
    pub targets: Vec<String>,
}

fn task_view(task: &Task) -> TaskView {
    let input = match &task.input {
        Some(Tpl::Map(m)) => m.iter().map(|(k, v)| line(k, &written(v))).collect(),
        Some(Tpl::Literal(Value::Object(m))) => m
            .iter()
            .map(|(k, v)| {
                line(
                    k,
                    &match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                )
            })
            .collect(),
        Some(other) => vec![line("input", &written(other))],
        None => Vec::new(),
    };
    let mut properties = Vec::new();
    match task.join {
        Some(Join::All) => properties.push(line("join", "all: waits for every inbound task")),
        Some(Join::Count(n)) => properties.push(line("join", &format!("{n} of the inbound tasks"))),
        None => {}
    }
    if let Some(w) = &task.with {
        let names = if w.names.is_empty() {
            String::new()
        } else {
            format!("{} in ", w.names.join(", "))
        };
        properties.push(line("with items", &format!("{names}{}", written(&w.items))));
        properties.push(line(
            "concurrency",
            &w.concurrency.as_ref().map_or("unlimited".into(), written),
        ));
        properties.push(line(
            "a failed item",
            match w.on_item_failure {
                ItemFailure::Fail => "fails the task (no new items start)",
                ItemFailure::Continue => "is recorded; the other items go on",
            },
        ));
    }
    if let Some(r) = &task.retry {
        properties.push(line("retry count", &written(&r.count)));
        if let Some(d) = &r.delay {
            properties.push(line("retry delay (s)", &written(d)));
        }
        if let Some(b) = &r.backoff {
            properties.push(line(
                "retry backoff",
                &format!(
                    "×{}{}",
                    b.factor,
                    b.max_delay
                        .map_or(String::new(), |m| format!(", at most {m} s"))
                ),
            ));
        }
        if let Some(w) = &r.when {
            properties.push(line("retry when", &written(w)));
        }
    }
    if let Some(d) = &task.delay {
        properties.push(line("delay (s)", &written(d)));
    }
    if let Some(t) = &task.timeout {
        properties.push(line("timeout (s)", &written(t)));
    }
    let transitions = task
        .next
        .iter()
        .map(|tr| TransitionView {
            when: tr.when.as_ref().map_or_else(
                || {
                    vec![Span {
                        text: "on completion (any status)".into(),
                        expr: false,
                    }]
                },
                |w| spans(&written(w)),
            ),
            publish: tr
                .publish
                .iter()
                .map(|a| line(a.name.clone(), &written(&a.value)))
                .collect(),
            targets: if tr.targets.is_empty() {
                vec!["continue".into()]
            } else {
                tr.targets
                    .iter()
                    .map(|t| match &t.kind {
                        Target::Task(name) => name.clone(),
                        other => other.command_word().unwrap_or("continue").to_owned(),
                    })
                    .collect()
            },
        })
        .collect();
    TaskView {
        name: task.name.clone(),
        action: task
            .action
            .clone()
            .unwrap_or_else(|| "(routing: no action)".into()),
        input,
        properties,
        transitions,
    }
}

/// A declared input, for the Run form.
pub struct InputField {
    /// Name.
    pub name: String,
    /// Its default, as JSON text, when it has one.
    pub default: Option<String>,
}

#[derive(Template)]
#[template(path = "console/workflow.html")]
struct WorkflowPage {
    chrome: Chrome,
    name: String,
    description: String,
    source: String,
    svg: String,
    tasks: Vec<TaskView>,
    inputs: Vec<InputField>,
    problems: Vec<String>,
    text: String,
    error: Option<String>,
    typed: BTreeMap<String, String>,
}

/// `GET /workflows/{name}`.
pub async fn workflow(
    State(core): State<Arc<Core>>,
    user: User,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    workflow_page(&core, &user, &name, None, BTreeMap::new())
}

fn workflow_page(
    core: &Core,
    user: &User,
    name: &str,
    error: Option<String>,
    typed: BTreeMap<String, String>,
) -> Result<Response, PageError> {
    let engine = core.engine();
    let (wf, problems) =
        blocking(|| engine.check(name)).map_err(|e| PageError::from(crate::api::failed(&e)))?;
    let text = std::fs::read_to_string(&wf.source).unwrap_or_default();
    let mut response = page(&WorkflowPage {
        chrome: user.chrome("workflows", format!("Workflow {name}")),
        name: name.to_owned(),
        description: wf.description.clone().unwrap_or_default(),
        source: wf.source.clone(),
        svg: graph::layout(&wf).svg(&BTreeMap::new()),
        tasks: wf.tasks.values().map(task_view).collect(),
        inputs: wf
            .input
            .iter()
            .map(|p| InputField {
                name: p.name.clone(),
                default: p.default.as_ref().map(written),
            })
            .collect(),
        problems: problems.iter().map(ToString::to_string).collect(),
        text,
        error: error.clone(),
        typed,
    })?;
    if error.is_some() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

/// `POST /workflows/{name}`: the Run form. Inputs are read as `orch run -i` reads them and
/// checked by the engine; a refusal shows the form again with the reason and what was typed.
pub async fn start(
    State(core): State<Arc<Core>>,
    Path(name): Path<String>,
    posted: Posted,
) -> Result<Response, PageError> {
    posted.user.require(Role::Operator)?;
    let mut input = Map::new();
    let mut typed = BTreeMap::new();
    for (k, v) in &posted.fields {
        if let Some(field) = k.strip_prefix("input.") {
            typed.insert(field.to_owned(), v.clone());
            if let Some(value) = forms::input_value(v) {
                input.insert(field.to_owned(), value);
            }
        }
    }
    let engine = core.engine();
    let prepared = blocking(|| engine.prepare(&name, input));
    drop(engine);
    match prepared {
        Ok(prepared) => {
            let prepared = prepared.started_by(format!("console:{}", posted.user.principal.name));
            let id = engine::new_run_id();
            core.start_run(prepared, id.clone())
                .map_err(|e| PageError::internal(&e))?;
            Ok(Redirect::to(&format!("/runs/{id}")).into_response())
        }
        Err(err) => workflow_page(
            &core,
            &posted.user,
            &name,
            Some(crate::api::failed(&err).message),
            typed,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expressions_are_split_out_for_highlighting() {
        let s = spans("device <% ctx().name %> at {{ ctx().site }}!");
        let parts: Vec<(&str, bool)> = s.iter().map(|s| (s.text.as_str(), s.expr)).collect();
        assert_eq!(
            parts,
            vec![
                ("device ", false),
                ("<% ctx().name %>", true),
                (" at ", false),
                ("{{ ctx().site }}", true),
                ("!", false)
            ]
        );
        // An unclosed expression runs to the end rather than vanishing.
        assert_eq!(spans("a <% b").len(), 2);
    }

    #[test]
    fn schemas_read_as_fields_with_types_in_words() {
        let f = schema_fields(&json!({
            "type": "object",
            "required": ["device"],
            "properties": {
                "device": {"type": "string", "description": "inventory name"},
                "lines": {"type": "array", "items": {"type": "string"}},
                "mode": {"enum": ["merge", "replace"]}
            }
        }));
        let by = |n: &str| f.iter().find(|x| x.name == n).unwrap();
        assert!(by("device").required);
        assert_eq!(by("lines").kind, "list of string");
        assert_eq!(by("mode").kind, "one of \"merge\", \"replace\"");
    }
}
