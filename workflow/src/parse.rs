//! Workflow YAML to [`Workflow`]: shape checks with file, line and column in every error.
//!
//! YAML is read with serde-saphyr into a small position-carrying tree, then converted by hand.
//! Hand conversion (rather than `#[derive(Deserialize)]`) is what lets the language accept
//! Orquesta's several spellings (`do: a, b` or a list, `publish` as a list, a map or the
//! `a=<% … %> b="x"` string, inline action arguments `action: core.echo message="hi"`, `with: x in
//! <% … %>`, `version: 1.0`) while still naming the unknown key, the duplicate key or the expected
//! type, with a position, instead of serde's "did not match any variant". The `key=value`
//! shorthand itself is read in `parse/inline.rs`.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::Spanned;

use crate::model::{
    Assign, Backoff, Delim, ENGINE_COMMANDS, Expr, InputParam, ItemFailure, Join, Loc, Piece,
    Retry, Target, TargetRef, Task, Template, Transition, WithItems, Workflow,
};

mod inline;

/// Why a workflow file was rejected. Every variant carries the file and position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// The text is not YAML (or exceeds the parser's budgets).
    #[error("{file}:{line}:{column}: invalid YAML: {message}")]
    Yaml {
        /// File name.
        file: String,
        /// Line (1-based, 0 if unknown).
        line: u64,
        /// Column (1-based, 0 if unknown).
        column: u64,
        /// The parser's message.
        message: String,
    },
    /// A key the language does not know.
    #[error(
        "{file}:{line}:{column}: unknown key `{key}` in {context}; expected one of: {expected}"
    )]
    UnknownKey {
        /// File name.
        file: String,
        /// Line.
        line: u64,
        /// Column.
        column: u64,
        /// The key.
        key: String,
        /// Where (e.g. `task "fetch"`).
        context: String,
        /// Keys allowed there.
        expected: String,
    },
    /// The same key twice in one mapping.
    #[error(
        "{file}:{line}:{column}: duplicate key `{key}` (first at line {first_line}); remove one"
    )]
    DuplicateKey {
        /// File name.
        file: String,
        /// Line of the second occurrence.
        line: u64,
        /// Column of the second occurrence.
        column: u64,
        /// The key.
        key: String,
        /// Line of the first occurrence.
        first_line: u64,
    },
    /// A value of the wrong type.
    #[error("{file}:{line}:{column}: {field} must be {expected}, found {found}")]
    WrongType {
        /// File name.
        file: String,
        /// Line.
        line: u64,
        /// Column.
        column: u64,
        /// Field path.
        field: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A value of the right type that the language still rejects.
    #[error("{file}:{line}:{column}: {field}: {message}")]
    Invalid {
        /// File name.
        file: String,
        /// Line.
        line: u64,
        /// Column.
        column: u64,
        /// Field path.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl ParseError {
    /// Line and column of the problem.
    pub fn loc(&self) -> Loc {
        let (line, column) = match self {
            ParseError::Yaml { line, column, .. }
            | ParseError::UnknownKey { line, column, .. }
            | ParseError::DuplicateKey { line, column, .. }
            | ParseError::WrongType { line, column, .. }
            | ParseError::Invalid { line, column, .. } => (*line, *column),
        };
        Loc { line, column }
    }
}

/// Parses workflow YAML. `source` names the file in errors.
pub fn parse_workflow(source: &str, text: &str) -> Result<Workflow, ParseError> {
    let mut options = serde_saphyr::Options::default();
    // `no`/`off` must stay strings (a device called "no" is not false).
    options.strict_booleans = true;
    options.with_snippet = false;
    // Duplicates are detected below so the error can name both positions.
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    let root: Spanned<Raw> = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let loc = e.location();
        ParseError::Yaml {
            file: source.to_string(),
            line: loc.map_or(0, |l| l.line()),
            column: loc.map_or(0, |l| l.column()),
            message: e.to_string(),
        }
    })?;
    let root = Node::from_raw(root);
    let p = Parser { file: source };
    p.check_duplicates(&root)?;
    p.workflow(&root)
}

// ---------------------------------------------------------------------------------------------
// The position-carrying YAML tree.

#[derive(Debug)]
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RawVisitor;
        impl<'de> Visitor<'de> for RawVisitor {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a YAML value")
            }
            fn visit_unit<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_none<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
                Raw::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
                Ok(Raw::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
                Ok(Raw::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
                i64::try_from(v)
                    .map(Raw::Int)
                    .map_err(|_| E::custom(format!("integer {v} is too large")))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
                Ok(Raw::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
                Ok(Raw::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Raw, E> {
                Ok(Raw::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
                let mut items = Vec::new();
                while let Some(x) = a.next_element::<Spanned<Raw>>()? {
                    items.push(x);
                }
                Ok(Raw::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
                let mut entries = Vec::new();
                while let Some(k) = a.next_key::<Spanned<Raw>>()? {
                    let v = a.next_value::<Spanned<Raw>>()?;
                    entries.push((k, v));
                }
                Ok(Raw::Map(entries))
            }
        }
        d.deserialize_any(RawVisitor)
    }
}

#[derive(Debug)]
struct Node {
    loc: Loc,
    kind: NodeKind,
}

#[derive(Debug)]
enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    fn from_raw(raw: Spanned<Raw>) -> Node {
        let loc = Loc {
            line: raw.referenced.line(),
            column: raw.referenced.column(),
        };
        let kind = match raw.value {
            Raw::Null => NodeKind::Null,
            Raw::Bool(b) => NodeKind::Bool(b),
            Raw::Int(i) => NodeKind::Int(i),
            Raw::Float(f) => NodeKind::Float(f),
            Raw::Str(s) => NodeKind::Str(s),
            Raw::Seq(items) => NodeKind::Seq(items.into_iter().map(Node::from_raw).collect()),
            Raw::Map(entries) => NodeKind::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (Node::from_raw(k), Node::from_raw(v)))
                    .collect(),
            ),
        };
        Node { loc, kind }
    }

    fn type_name(&self) -> String {
        match &self.kind {
            NodeKind::Null => "null".into(),
            NodeKind::Bool(b) => format!("boolean {b}"),
            NodeKind::Int(i) => format!("integer {i}"),
            NodeKind::Float(f) => format!("number {f}"),
            NodeKind::Str(s) => format!("string {:?}", shorten(s, 40)),
            NodeKind::Seq(_) => "a list".into(),
            NodeKind::Map(_) => "a mapping".into(),
        }
    }

    fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar key rendered as text (`1: x` has key "1").
    fn key_text(&self) -> Option<String> {
        match &self.kind {
            NodeKind::Str(s) => Some(s.clone()),
            NodeKind::Int(i) => Some(i.to_string()),
            NodeKind::Float(f) => Some(f.to_string()),
            NodeKind::Bool(b) => Some(b.to_string()),
            NodeKind::Null => Some("null".into()),
            _ => None,
        }
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Conversion.

struct Parser<'a> {
    file: &'a str,
}

const TOP_KEYS: &[&str] = &["version", "description", "input", "vars", "tasks", "output"];
const TASK_KEYS: &[&str] = &[
    "action",
    "input",
    "next",
    "join",
    "with",
    "retry",
    "delay",
    "timeout",
    "placement",
];
const NEXT_KEYS: &[&str] = &["when", "publish", "do"];
const WITH_KEYS: &[&str] = &["items", "concurrency", "on_item_failure"];
const RETRY_KEYS: &[&str] = &["count", "delay", "backoff", "when"];
const BACKOFF_KEYS: &[&str] = &["factor", "max_delay"];

impl Parser<'_> {
    fn wrong_type(&self, node: &Node, field: &str, expected: &str) -> ParseError {
        // An unquoted `{{ x }}` is a YAML flow mapping, which surprises everyone once.
        if let NodeKind::Map(entries) = &node.kind
            && entries
                .first()
                .is_some_and(|(k, _)| matches!(k.kind, NodeKind::Map(_)))
        {
            return self.invalid(
                node.loc,
                field,
                "an unquoted `{{ … }}` is read by YAML as a mapping; quote it: \"{{ … }}\"",
            );
        }
        ParseError::WrongType {
            file: self.file.to_string(),
            line: node.loc.line,
            column: node.loc.column,
            field: field.to_string(),
            expected: expected.to_string(),
            found: node.type_name(),
        }
    }

    fn invalid(&self, loc: Loc, field: &str, message: impl Into<String>) -> ParseError {
        ParseError::Invalid {
            file: self.file.to_string(),
            line: loc.line,
            column: loc.column,
            field: field.to_string(),
            message: message.into(),
        }
    }

    fn check_duplicates(&self, node: &Node) -> Result<(), ParseError> {
        match &node.kind {
            NodeKind::Seq(items) => items.iter().try_for_each(|n| self.check_duplicates(n)),
            NodeKind::Map(entries) => {
                let mut seen: IndexMap<String, Loc> = IndexMap::new();
                for (k, v) in entries {
                    if let Some(text) = k.key_text() {
                        if let Some(first) = seen.get(&text) {
                            return Err(ParseError::DuplicateKey {
                                file: self.file.to_string(),
                                line: k.loc.line,
                                column: k.loc.column,
                                key: text,
                                first_line: first.line,
                            });
                        }
                        seen.insert(text, k.loc);
                    }
                    self.check_duplicates(v)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Map entries with string keys, each checked against `allowed` when given.
    fn entries<'n>(
        &self,
        node: &'n Node,
        field: &str,
        allowed: Option<&[&str]>,
    ) -> Result<Vec<(String, Loc, &'n Node)>, ParseError> {
        let NodeKind::Map(entries) = &node.kind else {
            return Err(self.wrong_type(node, field, "a mapping"));
        };
        let mut out = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let Some(key) = k.key_text() else {
                if matches!(k.kind, NodeKind::Map(_)) {
                    return Err(self.invalid(
                        node.loc,
                        field,
                        "an unquoted `{{ … }}` is read by YAML as a mapping; quote it: \"{{ … }}\"",
                    ));
                }
                return Err(self.wrong_type(k, &format!("a key in {field}"), "a string"));
            };
            if let Some(allowed) = allowed
                && !allowed.contains(&key.as_str())
            {
                return Err(ParseError::UnknownKey {
                    file: self.file.to_string(),
                    line: k.loc.line,
                    column: k.loc.column,
                    key,
                    context: field.to_string(),
                    expected: allowed.join(", "),
                });
            }
            out.push((key, k.loc, v));
        }
        Ok(out)
    }

    fn workflow(&self, root: &Node) -> Result<Workflow, ParseError> {
        let mut wf = Workflow {
            source: self.file.to_string(),
            version: "1".into(),
            description: None,
            input: Vec::new(),
            vars: Vec::new(),
            tasks: IndexMap::new(),
            output: Vec::new(),
        };
        let mut saw_tasks = false;
        for (key, _, v) in self.entries(root, "the workflow", Some(TOP_KEYS))? {
            match key.as_str() {
                "version" => wf.version = self.version(v)?,
                "description" => {
                    wf.description = Some(
                        v.as_str()
                            .ok_or_else(|| self.wrong_type(v, "description", "a string"))?
                            .to_string(),
                    )
                }
                "input" => wf.input = self.inputs(v)?,
                "vars" => wf.vars = self.assigns(v, "vars")?,
                "output" => wf.output = self.assigns(v, "output")?,
                "tasks" => {
                    saw_tasks = true;
                    for (name, loc, t) in self.entries(v, "tasks", None)? {
                        if ENGINE_COMMANDS.contains(&name.as_str()) {
                            return Err(self.invalid(
                                loc,
                                &format!("tasks.{name}"),
                                format!("`{name}` is an engine command and cannot name a task; rename the task"),
                            ));
                        }
                        let task = self.task(&name, loc, t)?;
                        wf.tasks.insert(name, task);
                    }
                }
                _ => unreachable_key(),
            }
        }
        if !saw_tasks || wf.tasks.is_empty() {
            return Err(self.invalid(
                root.loc,
                "tasks",
                "a workflow needs at least one task under `tasks:`",
            ));
        }
        Ok(wf)
    }

    fn version(&self, v: &Node) -> Result<String, ParseError> {
        let text = match &v.kind {
            NodeKind::Int(i) => i.to_string(),
            NodeKind::Float(f) => f.to_string(),
            NodeKind::Str(s) => s.clone(),
            _ => return Err(self.wrong_type(v, "version", "1 or 1.0")),
        };
        if matches!(text.as_str(), "1" | "1.0") {
            Ok(text)
        } else {
            Err(self.invalid(
                v.loc,
                "version",
                format!("version {text} is not supported; use `version: 1`"),
            ))
        }
    }

    fn inputs(&self, v: &Node) -> Result<Vec<InputParam>, ParseError> {
        let NodeKind::Seq(items) = &v.kind else {
            return Err(self.wrong_type(
                v,
                "input",
                "a list of names or `- name: default` entries",
            ));
        };
        let mut out: Vec<InputParam> = Vec::new();
        for item in items {
            let (name, default) = match &item.kind {
                NodeKind::Str(name) => (name.clone(), None),
                NodeKind::Map(_) => {
                    let (name, _, value) = self.single_entry(item, "input")?;
                    (
                        name,
                        Some(self.template(value, &format!("input.{}", item_name(item)))?),
                    )
                }
                _ => {
                    return Err(self.wrong_type(
                        item,
                        "an input entry",
                        "a name or `name: default`",
                    ));
                }
            };
            if out.iter().any(|p| p.name == name) {
                return Err(self.invalid(
                    item.loc,
                    "input",
                    format!("input `{name}` is declared twice; remove one"),
                ));
            }
            out.push(InputParam {
                name,
                default,
                loc: item.loc,
            });
        }
        Ok(out)
    }

    fn single_entry<'n>(
        &self,
        node: &'n Node,
        field: &str,
    ) -> Result<(String, Loc, &'n Node), ParseError> {
        let mut entries = self.entries(node, field, None)?;
        if entries.len() != 1 {
            return Err(self.invalid(
                node.loc,
                field,
                format!(
                    "each entry must be a single `name: value` pair, found {} keys",
                    entries.len()
                ),
            ));
        }
        Ok(entries.remove(0))
    }

    /// `- name: value` lists (vars, output, publish); a plain mapping is accepted too.
    fn assigns(&self, v: &Node, field: &str) -> Result<Vec<Assign>, ParseError> {
        let mut out = Vec::new();
        match &v.kind {
            NodeKind::Seq(items) => {
                for item in items {
                    if let NodeKind::Str(s) = &item.kind {
                        return Err(self.invalid(
                            item.loc,
                            field,
                            format!("`{}` is not `name: value`; write `- name: value` (the `a=b` shorthand is for a whole `publish:` string only)", shorten(s, 40)),
                        ));
                    }
                    let (name, loc, value) = self.single_entry(item, field)?;
                    let value = self.template(value, &format!("{field}.{name}"))?;
                    out.push(Assign { name, value, loc });
                }
            }
            NodeKind::Map(_) => {
                for (name, loc, value) in self.entries(v, field, None)? {
                    let value = self.template(value, &format!("{field}.{name}"))?;
                    out.push(Assign { name, value, loc });
                }
            }
            NodeKind::Null => {}
            NodeKind::Str(s) => {
                return Err(self.invalid(
                    v.loc,
                    field,
                    format!("`{}` is not a list; write `- name: value` entries (as in Orquesta, the `a=b` shorthand is for `publish` only)", shorten(s, 40)),
                ));
            }
            _ => return Err(self.wrong_type(v, field, "a list of `name: value` entries")),
        }
        Ok(out)
    }

    /// Inline action arguments (`core.echo message="hi" count=2`): the task's input, as a map.
    fn inline_arguments(&self, args: &str, loc: Loc, field: &str) -> Result<Template, ParseError> {
        let pairs = inline::pairs(args).map_err(|m| self.invalid(loc, field, m))?;
        let mut map = IndexMap::new();
        for p in pairs {
            let kf = format!("{field} argument {}", p.key);
            let value = self.inline_value(p.value, loc, &kf)?;
            if map.insert(p.key.clone(), value).is_some() {
                return Err(self.invalid(
                    loc,
                    field,
                    format!("argument `{}` is given twice; keep one", p.key),
                ));
            }
        }
        Ok(map_template(map))
    }

    /// `publish:` as a list or mapping of `name: value`, or Orquesta's string shorthand
    /// `a=<% result() %> b="done"` (published in the order written).
    fn publish(&self, v: &Node, field: &str) -> Result<Vec<Assign>, ParseError> {
        let NodeKind::Str(s) = &v.kind else {
            return self.assigns(v, field);
        };
        let pairs = inline::pairs(s).map_err(|m| self.invalid(v.loc, field, m))?;
        if pairs.is_empty() {
            return Err(self.invalid(
                v.loc,
                field,
                "`publish` is empty; write `name=<% … %>` pairs or a list of `- name: value`",
            ));
        }
        pairs
            .into_iter()
            .map(|p| {
                let f = format!("{field}.{}", p.key);
                Ok(Assign {
                    value: self.inline_value(p.value, v.loc, &f)?,
                    name: p.key,
                    loc: v.loc,
                })
            })
            .collect()
    }

    /// A shorthand value: text may hold expressions; anything else is literal.
    fn inline_value(&self, value: Value, loc: Loc, field: &str) -> Result<Template, ParseError> {
        match value {
            Value::String(s) => self.string_template(&s, loc, field),
            other => Ok(Template::Literal(other)),
        }
    }

    fn task(&self, name: &str, loc: Loc, node: &Node) -> Result<Task, ParseError> {
        let ctx = format!("task `{name}`");
        let mut task = Task {
            name: name.to_string(),
            loc,
            action: None,
            action_loc: loc,
            input: None,
            next: Vec::new(),
            join: None,
            with: None,
            retry: None,
            delay: None,
            timeout: None,
            placement: None,
        };
        if matches!(node.kind, NodeKind::Null) {
            // `task: ~` is a routing task with nothing to do; harmless.
            return Ok(task);
        }
        let mut inline_input = None;
        let mut input_loc = None;
        for (key, key_loc, v) in self.entries(node, &ctx, Some(TASK_KEYS))? {
            let field = format!("tasks.{name}.{key}");
            match key.as_str() {
                "action" => {
                    let a = v.as_str().ok_or_else(|| {
                        self.wrong_type(v, &field, "an action name such as `pack.action`")
                    })?;
                    let a = a.trim();
                    if a.is_empty() {
                        return Err(self.invalid(v.loc, &field, "the action name is empty"));
                    }
                    let (action, args) = a.split_once(char::is_whitespace).unwrap_or((a, ""));
                    if !args.trim().is_empty() {
                        inline_input = Some(self.inline_arguments(args, v.loc, &field)?);
                    }
                    task.action = Some(action.to_string());
                    task.action_loc = v.loc;
                }
                "input" => {
                    if !matches!(v.kind, NodeKind::Map(_)) {
                        return Err(self.wrong_type(
                            v,
                            &field,
                            "a mapping of input names to values (an expression giving the whole \
                             input is not supported)",
                        ));
                    }
                    task.input = Some(self.template(v, &field)?);
                    input_loc = Some(key_loc);
                }
                "next" => task.next = self.transitions(v, &field)?,
                "join" => task.join = Some(self.join(v, &field)?),
                "with" => task.with = Some(self.with(v, &field)?),
                "retry" => task.retry = Some(self.retry(v, &field)?),
                "delay" => task.delay = Some(self.number_or_expr(v, &field)?),
                "timeout" => task.timeout = Some(self.number_or_expr(v, &field)?),
                "placement" => {
                    if !matches!(v.kind, NodeKind::Map(_)) {
                        return Err(self.wrong_type(
                            v,
                            &field,
                            "a mapping of worker tag names to values (e.g. `placement: {site: \
                             <% item().site %>}`)",
                        ));
                    }
                    task.placement = Some(self.template(v, &field)?);
                }
                _ => unreachable_key(),
            }
        }
        if let Some(inline) = inline_input {
            if let Some(loc) = input_loc {
                // Orquesta would drop `input:` without a word and run with the inline arguments
                // only; refusing is kinder than running with half the arguments.
                return Err(self.invalid(
                    loc,
                    &format!("tasks.{name}.input"),
                    "the task has inline arguments after its action and `input:` too (Orquesta \
                     would ignore `input:`); move the inline arguments under `input:`",
                ));
            }
            task.input = Some(inline);
        }
        if task.action.is_none() {
            for (present, key) in [
                (task.input.is_some(), "input"),
                (task.with.is_some(), "with"),
                (task.retry.is_some(), "retry"),
                (task.timeout.is_some(), "timeout"),
                (task.placement.is_some(), "placement"),
            ] {
                if present {
                    return Err(self.invalid(
                        loc,
                        &format!("tasks.{name}.{key}"),
                        format!("`{key}` needs an `action`; add one (e.g. `action: core.noop`) or remove `{key}`"),
                    ));
                }
            }
        }
        Ok(task)
    }

    fn transitions(&self, v: &Node, field: &str) -> Result<Vec<Transition>, ParseError> {
        let NodeKind::Seq(items) = &v.kind else {
            return Err(self.wrong_type(v, field, "a list of `- when/publish/do` entries"));
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let f = format!("{field}[{i}]");
            let mut tr = Transition {
                when: None,
                publish: Vec::new(),
                targets: Vec::new(),
                loc: item.loc,
            };
            for (key, _, value) in self.entries(item, &f, Some(NEXT_KEYS))? {
                let kf = format!("{f}.{key}");
                match key.as_str() {
                    "when" => {
                        let t = self.template(value, &kf)?;
                        if !matches!(t, Template::Expr(_) | Template::Literal(Value::Bool(_))) {
                            return Err(self.invalid(
                                value.loc,
                                &kf,
                                "`when` must be one expression, e.g. `when: <% succeeded() %>`",
                            ));
                        }
                        tr.when = Some(t);
                    }
                    "publish" => tr.publish = self.publish(value, &kf)?,
                    "do" => tr.targets = self.targets(value, &kf)?,
                    _ => unreachable_key(),
                }
            }
            out.push(tr);
        }
        Ok(out)
    }

    fn targets(&self, v: &Node, field: &str) -> Result<Vec<TargetRef>, ParseError> {
        let mut words: Vec<(String, Loc)> = Vec::new();
        match &v.kind {
            NodeKind::Str(s) => {
                for w in s.split(',') {
                    words.push((w.trim().to_string(), v.loc));
                }
            }
            NodeKind::Seq(items) => {
                for item in items {
                    let s = item
                        .as_str()
                        .ok_or_else(|| self.wrong_type(item, field, "a task name"))?;
                    words.push((s.trim().to_string(), item.loc));
                }
            }
            NodeKind::Null => {}
            _ => {
                return Err(self.wrong_type(
                    v,
                    field,
                    "a task name, `a, b`, or a list of task names",
                ));
            }
        }
        words
            .into_iter()
            .map(|(w, loc)| {
                if w.is_empty() || w.contains(char::is_whitespace) {
                    Err(self.invalid(loc, field, format!("`{w}` is not a task name")))
                } else {
                    Ok(TargetRef {
                        kind: Target::from_word(&w),
                        loc,
                    })
                }
            })
            .collect()
    }

    fn join(&self, v: &Node, field: &str) -> Result<Join, ParseError> {
        match &v.kind {
            NodeKind::Str(s) if s == "all" => Ok(Join::All),
            NodeKind::Int(n) if *n >= 1 => u32::try_from(*n)
                .map(Join::Count)
                .map_err(|_| self.invalid(v.loc, field, "join count is too large")),
            _ => Err(self.wrong_type(v, field, "`all` or a positive integer")),
        }
    }

    fn with(&self, v: &Node, field: &str) -> Result<WithItems, ParseError> {
        let mut with = WithItems {
            items: Template::Literal(Value::Null),
            names: Vec::new(),
            concurrency: None,
            on_item_failure: ItemFailure::Fail,
            loc: v.loc,
        };
        match &v.kind {
            NodeKind::Str(_) | NodeKind::Seq(_) => {
                (with.items, with.names) = self.items(v, &format!("{field}.items"))?;
            }
            NodeKind::Map(_) => {
                let mut saw_items = false;
                for (key, _, value) in self.entries(v, field, Some(WITH_KEYS))? {
                    let kf = format!("{field}.{key}");
                    match key.as_str() {
                        "items" => {
                            saw_items = true;
                            (with.items, with.names) = self.items(value, &kf)?;
                        }
                        "concurrency" => with.concurrency = Some(self.number_or_expr(value, &kf)?),
                        "on_item_failure" => {
                            with.on_item_failure = match value.as_str() {
                                Some("fail") => ItemFailure::Fail,
                                Some("continue") => ItemFailure::Continue,
                                _ => {
                                    return Err(self.wrong_type(
                                        value,
                                        &kf,
                                        "`fail` or `continue`",
                                    ));
                                }
                            }
                        }
                        _ => unreachable_key(),
                    }
                }
                if !saw_items {
                    return Err(self.invalid(v.loc, field, "`with` needs `items`"));
                }
            }
            _ => {
                return Err(self.wrong_type(
                    v,
                    field,
                    "an items expression or a mapping with `items`",
                ));
            }
        }
        Ok(with)
    }

    /// `<% ctx().xs %>`, a literal list, or Orquesta's `x, y in <% … %>`.
    fn items(&self, v: &Node, field: &str) -> Result<(Template, Vec<String>), ParseError> {
        if let NodeKind::Str(s) = &v.kind
            && let Some((head, tail)) = split_in(s)
        {
            let names: Vec<String> = head.split(',').map(|n| n.trim().to_string()).collect();
            if names.iter().any(|n| !is_identifier(n)) {
                return Err(self.invalid(
                    v.loc,
                    field,
                    format!("`{head}` is not a list of item names"),
                ));
            }
            let t = self.string_template(tail, v.loc, field)?;
            if !matches!(t, Template::Expr(_)) {
                return Err(self.invalid(
                    v.loc,
                    field,
                    "after `in` there must be one expression, e.g. `x in <% ctx().xs %>`",
                ));
            }
            return Ok((t, names));
        }
        let t = self.template(v, field)?;
        match &t {
            Template::Expr(_) | Template::List(_) | Template::Literal(Value::Array(_)) => {
                Ok((t, Vec::new()))
            }
            _ => Err(self.wrong_type(v, field, "a list or one expression giving a list")),
        }
    }

    fn retry(&self, v: &Node, field: &str) -> Result<Retry, ParseError> {
        let mut retry = Retry {
            count: Template::Literal(Value::from(0)),
            delay: None,
            backoff: None,
            when: None,
            loc: v.loc,
        };
        let mut saw_count = false;
        for (key, _, value) in self.entries(v, field, Some(RETRY_KEYS))? {
            let kf = format!("{field}.{key}");
            match key.as_str() {
                "count" => {
                    saw_count = true;
                    retry.count = self.number_or_expr(value, &kf)?;
                }
                "delay" => retry.delay = Some(self.number_or_expr(value, &kf)?),
                "when" => {
                    let t = self.template(value, &kf)?;
                    if !matches!(t, Template::Expr(_)) {
                        return Err(self.invalid(
                            value.loc,
                            &kf,
                            "`when` must be one expression, e.g. `when: <% failed() %>`",
                        ));
                    }
                    retry.when = Some(t);
                }
                "backoff" => {
                    let mut b = Backoff {
                        factor: 2.0,
                        max_delay: None,
                    };
                    for (bk, _, bv) in self.entries(value, &kf, Some(BACKOFF_KEYS))? {
                        let bf = format!("{kf}.{bk}");
                        let n = self.number(bv, &bf)?;
                        match bk.as_str() {
                            "factor" if n >= 1.0 => b.factor = n,
                            "factor" => {
                                return Err(self.invalid(bv.loc, &bf, "factor must be at least 1"));
                            }
                            "max_delay" => b.max_delay = Some(n),
                            _ => unreachable_key(),
                        }
                    }
                    retry.backoff = Some(b);
                }
                _ => unreachable_key(),
            }
        }
        if !saw_count {
            return Err(self.invalid(v.loc, field, "`retry` needs `count`"));
        }
        Ok(retry)
    }

    fn number(&self, v: &Node, field: &str) -> Result<f64, ParseError> {
        let n = match &v.kind {
            NodeKind::Int(i) => *i as f64,
            NodeKind::Float(f) => *f,
            _ => return Err(self.wrong_type(v, field, "a number")),
        };
        if n < 0.0 || !n.is_finite() {
            return Err(self.invalid(v.loc, field, "must not be negative"));
        }
        Ok(n)
    }

    /// A non-negative number, or one expression evaluated when the task is scheduled.
    fn number_or_expr(&self, v: &Node, field: &str) -> Result<Template, ParseError> {
        if let NodeKind::Str(_) = &v.kind {
            let t = self.template(v, field)?;
            if matches!(t, Template::Expr(_)) {
                return Ok(t);
            }
            return Err(self.wrong_type(v, field, "a number or one expression"));
        }
        let n = self.number(v, field)?;
        Ok(Template::Literal(match &v.kind {
            NodeKind::Int(i) => Value::from(*i),
            _ => Value::from(n),
        }))
    }

    fn template(&self, v: &Node, field: &str) -> Result<Template, ParseError> {
        Ok(match &v.kind {
            NodeKind::Null => Template::Literal(Value::Null),
            NodeKind::Bool(b) => Template::Literal(Value::Bool(*b)),
            NodeKind::Int(i) => Template::Literal(Value::from(*i)),
            NodeKind::Float(f) => Template::Literal(
                serde_json::Number::from_f64(*f)
                    .map(Value::Number)
                    .ok_or_else(|| self.invalid(v.loc, field, "not a finite number"))?,
            ),
            NodeKind::Str(s) => self.string_template(s, v.loc, field)?,
            NodeKind::Seq(items) => {
                let items = items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| self.template(n, &format!("{field}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                if items.iter().all(|t| t.literal().is_some()) {
                    Template::Literal(Value::Array(
                        items
                            .into_iter()
                            .filter_map(|t| match t {
                                Template::Literal(v) => Some(v),
                                _ => None,
                            })
                            .collect(),
                    ))
                } else {
                    Template::List(items)
                }
            }
            NodeKind::Map(_) => {
                let mut m = IndexMap::new();
                for (k, _, n) in self.entries(v, field, None)? {
                    let t = self.template(n, &format!("{field}.{k}"))?;
                    m.insert(k, t);
                }
                map_template(m)
            }
        })
    }

    fn string_template(&self, s: &str, loc: Loc, field: &str) -> Result<Template, ParseError> {
        let pieces = split_expressions(s).map_err(|m| self.invalid(loc, field, m))?;
        let pieces: Vec<Piece> = pieces
            .into_iter()
            .map(|p| match p {
                Segment::Text(t) => Piece::Text(t.to_string()),
                Segment::Expr(code, delim) => Piece::Expr(Expr::new(code.trim(), delim, loc)),
            })
            .collect();
        Ok(match pieces.as_slice() {
            [] => Template::Literal(Value::String(String::new())),
            [Piece::Text(t)] => Template::Literal(Value::String(t.clone())),
            // Exactly one expression, nothing around it except whitespace: keep its type.
            [Piece::Expr(e)] => Template::Expr(e.clone()),
            _ => Template::Text(pieces),
        })
    }
}

/// A map of templates: literal as a whole when nothing inside is an expression.
fn map_template(m: IndexMap<String, Template>) -> Template {
    if m.values().all(|t| t.literal().is_some()) {
        Template::Literal(Value::Object(
            m.into_iter()
                .filter_map(|(k, t)| match t {
                    Template::Literal(v) => Some((k, v)),
                    _ => None,
                })
                .collect(),
        ))
    } else {
        Template::Map(m)
    }
}

fn item_name(node: &Node) -> String {
    match &node.kind {
        NodeKind::Map(entries) => entries
            .first()
            .and_then(|(k, _)| k.key_text())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// Keys were checked against the allowed list before the `match`; reaching this is a bug here.
fn unreachable_key() -> ! {
    unreachable!("key list and match arms disagree")
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Splits `x, y in <% … %>` into its names and expression; `None` if not that form.
fn split_in(s: &str) -> Option<(&str, &str)> {
    let start = s.find("<%").or_else(|| s.find("{{"))?;
    let head = s[..start].trim_end();
    let names = head
        .strip_suffix(" in")
        .or_else(|| (head == "in").then_some(""))?;
    Some((names.trim(), &s[start..]))
}

/// A JSON value as a template, each string split into text and expressions as a workflow's
/// values are: for documents that are not workflows but use its expressions (the rules of
/// `orch serve`). `field` names the value in errors.
pub(crate) fn json_template(v: &Value, loc: Loc, field: &str) -> Result<Template, String> {
    Ok(match v {
        Value::String(s) => {
            let pieces: Vec<Piece> = split_expressions(s)
                .map_err(|m| format!("{field}: {m}"))?
                .into_iter()
                .map(|p| match p {
                    Segment::Text(t) => Piece::Text(t.to_string()),
                    Segment::Expr(code, delim) => Piece::Expr(Expr::new(code.trim(), delim, loc)),
                })
                .collect();
            match pieces.as_slice() {
                [] => Template::Literal(Value::String(String::new())),
                [Piece::Text(t)] => Template::Literal(Value::String(t.clone())),
                [Piece::Expr(e)] => Template::Expr(e.clone()),
                _ => Template::Text(pieces),
            }
        }
        Value::Array(items) => {
            let items = items
                .iter()
                .enumerate()
                .map(|(i, x)| json_template(x, loc, &format!("{field}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            if items.iter().all(|t| t.literal().is_some()) {
                Template::Literal(v.clone())
            } else {
                Template::List(items)
            }
        }
        Value::Object(map) => {
            let mut m = IndexMap::new();
            for (k, x) in map {
                m.insert(k.clone(), json_template(x, loc, &format!("{field}.{k}"))?);
            }
            if m.values().all(|t| t.literal().is_some()) {
                Template::Literal(v.clone())
            } else {
                Template::Map(m)
            }
        }
        other => Template::Literal(other.clone()),
    })
}

enum Segment<'a> {
    Text(&'a str),
    Expr(&'a str, Delim),
}

/// Splits a string into literal text and `<% %>` / `{{ }}` expressions.
fn split_expressions(s: &str) -> Result<Vec<Segment<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        let next = [("<%", "%>", Delim::Percent), ("{{", "}}", Delim::Braces)]
            .into_iter()
            .filter_map(|(open, close, d)| rest.find(open).map(|i| (i, open, close, d)))
            .min_by_key(|(i, ..)| *i);
        let Some((i, open, close, delim)) = next else {
            if !rest.is_empty() {
                out.push(Segment::Text(rest));
            }
            break;
        };
        if i > 0 {
            out.push(Segment::Text(&rest[..i]));
        }
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(close) else {
            return Err(format!(
                "`{open}` is not closed by `{close}` in {:?}",
                shorten(s, 60)
            ));
        };
        let code = &after[..j];
        if code.trim().is_empty() {
            return Err(format!(
                "empty expression `{open}{close}` in {:?}",
                shorten(s, 60)
            ));
        }
        out.push(Segment::Expr(code, delim));
        rest = &after[j + close.len()..];
    }
    // A lone expression surrounded by whitespace still keeps its type.
    if out
        .iter()
        .filter(|p| matches!(p, Segment::Expr(..)))
        .count()
        == 1
        && out.iter().all(|p| {
            matches!(p, Segment::Expr(..)) || matches!(p, Segment::Text(t) if t.trim().is_empty())
        })
    {
        out.retain(|p| matches!(p, Segment::Expr(..)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(yaml: &str) -> ParseError {
        match parse_workflow("wf.yaml", yaml) {
            Ok(_) => panic!("expected an error for:\n{yaml}"),
            Err(e) => e,
        }
    }

    #[test]
    fn parses_the_design_example() {
        let wf = parse_workflow(
            "drift.yaml",
            r#"
version: 1
description: Keep or revert configuration drift on one device.
input:
  - device
  - config_user: netops
vars:
  - diff: null
tasks:
  fetch_running:
    action: netdev.get_running_config
    input: { device: <% ctx().device %> }
    retry: { count: 2, delay: 5 }
    timeout: 60
    next:
      - when: <% succeeded() %>
        publish:
          - running: <% result().config %>
        do: compare
      - when: <% failed() %>
        do: fail
  compare:
    action: core.noop
output:
  - diff: <% ctx().diff %>
"#,
        )
        .expect("parses");
        assert_eq!(wf.input.len(), 2);
        assert!(wf.input[0].default.is_none());
        assert_eq!(
            wf.input[1].default.as_ref().and_then(|d| d.literal()),
            Some(&Value::from("netops"))
        );
        let t = &wf.tasks["fetch_running"];
        assert_eq!(t.action.as_deref(), Some("netdev.get_running_config"));
        assert_eq!(t.next.len(), 2);
        assert_eq!(t.next[1].targets[0].kind, Target::Fail);
        assert_eq!(t.next[0].publish[0].name, "running");
        assert_eq!(wf.start_tasks(), vec!["fetch_running"]);
        assert!(t.next[0].when.as_ref().and_then(|w| w.as_expr()).is_some());
    }

    #[test]
    fn rejects_unknown_task_key_with_position() {
        let e = err("version: 1\ntasks:\n  a:\n    action: x.y\n    retries: 3\n");
        match &e {
            ParseError::UnknownKey {
                key, line, column, ..
            } => {
                assert_eq!((key.as_str(), *line, *column), ("retries", 5, 5));
            }
            other => panic!("wrong error {other:?}"),
        }
        assert!(
            e.to_string()
                .starts_with("wf.yaml:5:5: unknown key `retries`"),
            "{e}"
        );
    }

    #[test]
    fn rejects_duplicate_key_naming_both_lines() {
        let e = err("version: 1\ntasks:\n  a:\n    action: x.y\n  a:\n    action: x.z\n");
        assert!(
            matches!(&e, ParseError::DuplicateKey { key, line: 5, first_line: 3, .. } if key == "a"),
            "{e:?}"
        );
    }

    #[test]
    fn wrong_type_says_what_was_expected() {
        let e = err("version: 1\ntasks:\n  a:\n    action: x.y\n    join: sometimes\n");
        assert!(
            matches!(&e, ParseError::WrongType { expected, line: 5, column: 11, .. } if expected.contains("all")),
            "{e:?}"
        );
    }

    #[test]
    fn yaml_syntax_error_has_position() {
        let e = err("version: 1\ntasks: [a,\n");
        assert!(
            matches!(&e, ParseError::Yaml { line, .. } if *line >= 2),
            "{e:?}"
        );
    }

    #[test]
    fn strict_booleans_keep_no_as_string() {
        let wf = parse_workflow(
            "w",
            "tasks:\n  a:\n    action: x.y\n    input: { flag: no, other: true }\n",
        )
        .expect("parses");
        let input = wf.tasks["a"]
            .input
            .as_ref()
            .and_then(|i| i.literal())
            .cloned();
        assert_eq!(
            input,
            Some(serde_json::json!({"flag": "no", "other": true}))
        );
    }

    #[test]
    fn unquoted_braces_get_a_hint() {
        let e = err("tasks:\n  a:\n    action: x.y\n    input:\n      x: {{ ctx().a }}\n");
        assert!(e.to_string().contains("quote it"), "{e}");
    }

    #[test]
    fn do_accepts_string_comma_list_and_list() {
        let wf = parse_workflow(
            "w",
            "tasks:\n  a:\n    next:\n      - do: b, c\n      - do: [d, noop]\n  b: {}\n  c: {}\n  d: {}\n",
        )
        .expect("parses");
        let kinds: Vec<_> = wf.tasks["a"]
            .next
            .iter()
            .flat_map(|t| t.targets.iter().map(|t| t.kind.clone()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                Target::Task("b".into()),
                Target::Task("c".into()),
                Target::Task("d".into()),
                Target::Noop
            ]
        );
    }

    #[test]
    fn with_accepts_orquesta_named_form() {
        let wf = parse_workflow(
            "w",
            "tasks:\n  a:\n    action: x.y\n    with: host, cmd in <% zip(ctx().hosts, ctx().cmds) %>\n",
        )
        .expect("parses");
        let w = wf.tasks["a"].with.as_ref().expect("with");
        assert_eq!(w.names, vec!["host", "cmd"]);
        assert_eq!(
            w.items.as_expr().map(|e| e.code.as_str()),
            Some("zip(ctx().hosts, ctx().cmds)")
        );
    }

    #[test]
    fn publish_accepts_a_map() {
        let wf = parse_workflow(
            "w",
            "tasks:\n  a:\n    next:\n      - publish: { x: 1, y: <% ctx().x %> }\n",
        )
        .expect("parses");
        let names: Vec<_> = wf.tasks["a"].next[0]
            .publish
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, vec!["x", "y"]);
    }

    #[test]
    fn inline_action_arguments_become_the_input() {
        let wf = parse_workflow(
            "w",
            "tasks:\n  a:\n    action: core.echo message=\"<% ctx().who %>, hi\" count=2 loud=true\n",
        )
        .expect("parses");
        let t = &wf.tasks["a"];
        assert_eq!(t.action.as_deref(), Some("core.echo"));
        let Some(Template::Map(m)) = &t.input else {
            panic!("a map template: {:?}", t.input)
        };
        assert_eq!(m.keys().collect::<Vec<_>>(), ["message", "count", "loud"]);
        assert!(matches!(&m["message"], Template::Text(p) if p.len() == 2));
        assert_eq!(m["count"].literal(), Some(&Value::from(2)));
        assert_eq!(m["loud"].literal(), Some(&Value::Bool(true)));
        // All literal: one literal map, as with `input:`.
        let wf = parse_workflow("w", "tasks:\n  a:\n    action: core.echo message='hi'\n")
            .expect("parses");
        assert_eq!(
            wf.tasks["a"].input.as_ref().and_then(|i| i.literal()),
            Some(&serde_json::json!({"message": "hi"}))
        );
    }

    #[test]
    fn inline_arguments_and_input_together_are_refused() {
        let e = err("tasks:\n  a:\n    input: { x: 1 }\n    action: core.echo message='hi'\n");
        assert!(
            matches!(&e, ParseError::Invalid { line: 3, message, .. } if message.contains("move the inline arguments under `input:`")),
            "{e:?}"
        );
    }

    #[test]
    fn unreadable_inline_arguments_say_what_to_quote() {
        let e = err("tasks:\n  a:\n    action: core.echo message=hello\n");
        assert!(
            e.to_string().contains("`message=hello`") && e.to_string().contains("quoted"),
            "{e}"
        );
        let e = err("tasks:\n  a:\n    action: core.echo a=1 a=2\n");
        assert!(e.to_string().contains("given twice"), "{e}");
    }

    #[test]
    fn publish_accepts_orquesta_string_shorthand_in_order() {
        let wf = parse_workflow(
            "w",
            "tasks:\n  a:\n    action: core.noop\n    next:\n      - publish: status=\"ok\" r=<% result() %> n=3\n",
        )
        .expect("parses");
        let p = &wf.tasks["a"].next[0].publish;
        let names: Vec<_> = p.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["status", "r", "n"]);
        assert_eq!(p[0].value.literal(), Some(&Value::from("ok")));
        assert_eq!(
            p[1].value.as_expr().map(|e| e.code.as_str()),
            Some("result()")
        );
        assert_eq!(p[2].value.literal(), Some(&Value::from(3)));
        let e = err("tasks:\n  a:\n    next:\n      - publish: x=<% result() %> oops\n");
        assert!(e.to_string().contains("`oops`"), "{e}");
    }

    #[test]
    fn vars_and_output_have_no_string_shorthand() {
        let e = err("vars: a=1\ntasks:\n  a: {}\n");
        assert!(e.to_string().contains("for `publish` only"), "{e}");
    }

    #[test]
    fn version_is_one_as_a_number_or_a_string() {
        for v in ["1", "1.0", "'1.0'", "'1'"] {
            let wf = parse_workflow("w", &format!("version: {v}\ntasks:\n  a: {{}}\n"))
                .unwrap_or_else(|e| panic!("version {v}: {e}"));
            assert!(matches!(wf.version.as_str(), "1" | "1.0"), "{v}");
        }
        let e = err("version: 2.0\ntasks:\n  a: {}\n");
        assert!(e.to_string().contains("version 2 is not supported"), "{e}");
    }

    #[test]
    fn an_expression_as_the_whole_input_is_refused_clearly() {
        let e = err("tasks:\n  a:\n    action: core.echo\n    input: <% ctx().params %>\n");
        assert!(e.to_string().contains("is not supported"), "{e}");
    }

    #[test]
    fn engine_command_cannot_name_a_task() {
        let e = err("tasks:\n  fail:\n    action: x.y\n");
        assert!(e.to_string().contains("engine command"), "{e}");
    }

    #[test]
    fn unclosed_expression_is_an_error() {
        let e = err("tasks:\n  a:\n    action: x.y\n    input: { x: '<% ctx().a' }\n");
        assert!(e.to_string().contains("not closed"), "{e}");
    }

    #[test]
    fn splits_text_and_expressions() {
        let wf = parse_workflow(
            "w",
            "tasks:\n  a:\n    action: x.y\n    input:\n      one: ' <% ctx().a %> '\n      two: 'host-{{ ctx().n }}-<% ctx().m %>'\n",
        )
        .expect("parses");
        let Some(Template::Map(m)) = &wf.tasks["a"].input else {
            panic!("map")
        };
        assert!(matches!(m["one"], Template::Expr(_)));
        assert!(matches!(&m["two"], Template::Text(p) if p.len() == 4));
    }
}
