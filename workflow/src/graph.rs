//! The task graph as text for people: Mermaid (`flowchart TD`) and Graphviz DOT; and as data
//! ([`edges`], [`task_label`]) for the web console, which lays it out and draws it as SVG.
//!
//! Nodes are tasks (labelled with their action, join and fan-out); edges are transitions,
//! labelled with their `when` shortened to fit. Engine commands (`fail`, `noop`, `retry`,
//! `continue`) get their own node per use, drawn in a different shape, so a reader sees where a
//! branch ends rather than one `fail` node tangling the picture.

use std::fmt::Write as _;

use crate::model::{Join, Target, Task, Template, Workflow};

/// Longest edge label before it is shortened with `…`.
const LABEL_MAX: usize = 40;

/// One arrow of the graph: a transition's target.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// The task it leaves (its index in `tasks`).
    pub from: usize,
    /// Where it goes.
    pub to: To,
    /// The `when`, shortened to fit a label.
    pub label: Option<String>,
    /// The `when` in full (for a tooltip).
    pub condition: Option<String>,
    /// Its transition's position in the task's `next` (from 0).
    pub transition: usize,
}

/// The end of an [`Edge`].
#[derive(Debug, Clone, PartialEq)]
pub enum To {
    Task(usize),
    /// A command node: its word and a unique number.
    Command(&'static str, usize),
    /// A `do` naming a task that does not exist (validate reports it; the graph still draws).
    Missing(String, usize),
}

/// Every arrow, task by task, transition by transition, in the order written.
pub fn edges(wf: &Workflow) -> Vec<Edge> {
    let mut out = Vec::new();
    let mut n = 0;
    for (from, task) in wf.tasks.values().enumerate() {
        for (transition, tr) in task.next.iter().enumerate() {
            let label = tr.when.as_ref().map(condition_label);
            let condition = tr.when.as_ref().map(condition_text);
            for t in &tr.targets {
                let to = match &t.kind {
                    Target::Task(name) => match wf.tasks.get_index_of(name) {
                        Some(i) => To::Task(i),
                        None => {
                            n += 1;
                            To::Missing(name.clone(), n)
                        }
                    },
                    other => {
                        n += 1;
                        To::Command(other.command_word().unwrap_or("continue"), n)
                    }
                };
                out.push(Edge {
                    from,
                    to,
                    label: label.clone(),
                    condition: condition.clone(),
                    transition,
                });
            }
        }
    }
    out
}

/// A `when` as written (whitespace runs folded to one space).
fn condition_text(t: &Template) -> String {
    let text = match t {
        Template::Expr(e) => e.code.clone(),
        Template::Literal(v) => v.to_string(),
        _ => "…".into(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn condition_label(t: &Template) -> String {
    let text = condition_text(t);
    if text.chars().count() > LABEL_MAX {
        let mut s: String = text.chars().take(LABEL_MAX - 1).collect();
        s.push('…');
        s
    } else {
        text
    }
}

/// The lines a task's box shows: name, action (or `(routing)`), join, fan-out, retry.
pub fn task_label(task: &Task) -> Vec<String> {
    let mut lines = vec![task.name.clone()];
    match &task.action {
        Some(a) => lines.push(a.clone()),
        None => lines.push("(routing)".into()),
    }
    match task.join {
        Some(Join::All) => lines.push("join: all".into()),
        Some(Join::Count(n)) => lines.push(format!("join: {n}")),
        None => {}
    }
    if task.with.is_some() {
        lines.push("with items".into());
    }
    if task.retry.is_some() {
        lines.push("retry".into());
    }
    lines
}

/// Mermaid `flowchart TD` text.
pub fn mermaid(wf: &Workflow) -> String {
    let esc = |s: &str| {
        s.replace('"', "#quot;")
            .replace('<', "#lt;")
            .replace('>', "#gt;")
    };
    let mut s = String::from("flowchart TD\n");
    for (i, task) in wf.tasks.values().enumerate() {
        let label = task_label(task)
            .iter()
            .map(|l| esc(l))
            .collect::<Vec<_>>()
            .join("<br/>");
        let _ = writeln!(s, "    t{i}[\"{label}\"]");
    }
    for e in edges(wf) {
        let to = match &e.to {
            To::Task(i) => format!("t{i}"),
            To::Command(word, n) => {
                let _ = writeln!(s, "    c{n}{{{{\"{word}\"}}}}");
                format!("c{n}")
            }
            To::Missing(name, n) => {
                let _ = writeln!(s, "    m{n}[/\"{} (missing)\"/]", esc(name));
                format!("m{n}")
            }
        };
        match &e.label {
            Some(l) => {
                let _ = writeln!(s, "    t{} -->|\"{}\"| {to}", e.from, esc(l));
            }
            None => {
                let _ = writeln!(s, "    t{} --> {to}", e.from);
            }
        }
    }
    s
}

/// Graphviz DOT text.
pub fn dot(wf: &Workflow) -> String {
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut s =
        String::from("digraph workflow {\n    rankdir=TB;\n    node [shape=box, style=rounded];\n");
    for (i, task) in wf.tasks.values().enumerate() {
        let label = task_label(task)
            .iter()
            .map(|l| esc(l))
            .collect::<Vec<_>>()
            .join("\\n");
        let _ = writeln!(s, "    t{i} [label=\"{label}\"];");
    }
    for e in edges(wf) {
        let to = match &e.to {
            To::Task(i) => format!("t{i}"),
            To::Command(word, n) => {
                let color = if *word == "fail" { "red" } else { "gray40" };
                let _ = writeln!(
                    s,
                    "    c{n} [label=\"{word}\", shape=octagon, style=dashed, color={color}, fontcolor={color}];"
                );
                format!("c{n}")
            }
            To::Missing(name, n) => {
                let _ = writeln!(
                    s,
                    "    m{n} [label=\"{} (missing)\", shape=note, color=red];",
                    esc(name)
                );
                format!("m{n}")
            }
        };
        match &e.label {
            Some(l) => {
                let _ = writeln!(s, "    t{} -> {to} [label=\"{}\"];", e.from, esc(l));
            }
            None => {
                let _ = writeln!(s, "    t{} -> {to};", e.from);
            }
        }
    }
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_workflow;

    const WF: &str = r#"
tasks:
  fetch:
    action: net.get
    next:
      - when: <% succeeded() and ctx().mode == "yes" and ctx().really_long_variable_name_here %>
        do: [a, b]
      - when: <% failed() %>
        do: fail
  a: { action: core.noop, next: [{ do: j }] }
  b: { action: core.noop, next: [{ do: j }] }
  j: { join: all, action: core.echo }
"#;

    #[test]
    fn mermaid_has_nodes_labelled_edges_and_distinct_commands() {
        let wf = parse_workflow("g", WF).expect("parses");
        let m = mermaid(&wf);
        assert!(m.starts_with("flowchart TD\n"));
        assert!(m.contains("t0[\"fetch<br/>net.get\"]"), "{m}");
        assert!(m.contains("t3[\"j<br/>core.echo<br/>join: all\"]"), "{m}");
        assert!(m.contains("t0 -->|\"failed()\"| c"), "{m}");
        assert!(m.contains("{{\"fail\"}}"), "{m}");
        assert!(m.contains("t1 --> t3"), "{m}");
        // The long condition is shortened and its quotes escaped.
        assert!(m.contains('…') && m.contains("#quot;"), "{m}");
    }

    #[test]
    fn dot_is_a_digraph_with_command_octagons() {
        let wf = parse_workflow("g", WF).expect("parses");
        let d = dot(&wf);
        assert!(d.starts_with("digraph workflow {"), "{d}");
        assert!(d.contains("label=\"fail\", shape=octagon"), "{d}");
        assert!(d.contains("t0 -> t1 [label=\"succeeded() and"), "{d}");
        assert!(d.trim_end().ends_with('}'));
    }
}
