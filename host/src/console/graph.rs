//! A workflow's task graph drawn as SVG for the console: a layered layout (tasks flow top to
//! bottom from the tasks nothing leads to), computed here, no JavaScript and no Graphviz.
//!
//! The steps, each simple enough to read: loops are broken by a depth-first search (the edges
//! that go back are drawn dashed, on the side); each node's layer is its longest path from a
//! start; nodes within a layer are ordered by a few sweeps of the barycenter heuristic (each
//! node moves towards the mean position of its neighbours in the layer above, then below),
//! which untangles most crossings; then coordinates. Command targets (`fail`, `noop`, `retry`,
//! `continue`) get a small node of their own per use, as in `orch workflow graph`.
//!
//! Every text in the SVG (task names, actions, conditions) is escaped: a workflow file is the
//! operator's, but a page must never run what a file holds. Each task's group carries
//! `data-task` and a status class so the run page colours it and the workflow page selects it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use orch_workflow::graph::{self, To};
use orch_workflow::model::Workflow;

const CHAR_W: f64 = 7.2;
const LINE_H: f64 = 16.0;
const PAD: f64 = 10.0;
const GAP_X: f64 = 36.0;
const GAP_Y: f64 = 64.0;
const MARGIN: f64 = 20.0;

/// What a node is.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// A task, by its index in `tasks`.
    Task(usize),
    /// An engine command a transition ends in.
    Command(&'static str),
    /// A target that names no task.
    Missing(String),
}

#[derive(Debug, Clone)]
struct Node {
    kind: Kind,
    lines: Vec<String>,
    w: f64,
    h: f64,
    layer: usize,
    x: f64,
    y: f64,
}

#[derive(Debug, Clone)]
struct Arrow {
    from: usize,
    to: usize,
    label: Option<String>,
    condition: Option<String>,
    back: bool,
}

/// A laid-out graph.
#[derive(Debug, Clone)]
pub struct Layout {
    nodes: Vec<Node>,
    arrows: Vec<Arrow>,
    width: f64,
    height: f64,
    task_names: Vec<String>,
}

/// Lays out `wf`'s graph.
pub fn layout(wf: &Workflow) -> Layout {
    let task_names: Vec<String> = wf.tasks.keys().cloned().collect();
    let mut nodes: Vec<Node> = wf
        .tasks
        .values()
        .enumerate()
        .map(|(i, task)| node(Kind::Task(i), graph::task_label(task)))
        .collect();
    let mut arrows = Vec::new();
    for e in graph::edges(wf) {
        let to = match e.to {
            To::Task(i) => i,
            To::Command(word, _) => {
                nodes.push(node(Kind::Command(word), vec![word.to_owned()]));
                nodes.len() - 1
            }
            To::Missing(name, _) => {
                nodes.push(node(
                    Kind::Missing(name.clone()),
                    vec![format!("{name} (missing)")],
                ));
                nodes.len() - 1
            }
        };
        arrows.push(Arrow {
            from: e.from,
            to,
            label: e.label,
            condition: e.condition,
            back: false,
        });
    }
    mark_back_edges(nodes.len(), &mut arrows);
    assign_layers(&mut nodes, &arrows);
    let order = order_layers(&nodes, &arrows);
    let (width, height) = place(&mut nodes, &order);
    Layout {
        nodes,
        arrows,
        width,
        height,
        task_names,
    }
}

fn node(kind: Kind, lines: Vec<String>) -> Node {
    let longest = lines.iter().map(|l| l.chars().count()).max().unwrap_or(1);
    let w = (longest as f64 * CHAR_W + 2.0 * PAD).max(70.0);
    let h = lines.len() as f64 * LINE_H + PAD;
    Node {
        kind,
        lines,
        w,
        h,
        layer: 0,
        x: 0.0,
        y: 0.0,
    }
}

/// Marks the arrows that close a loop (found going back to a node still on the search path),
/// searching from the nodes nothing leads to, then from any node not reached.
fn mark_back_edges(n: usize, arrows: &mut [Arrow]) {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut inbound = vec![0usize; n];
    for (i, a) in arrows.iter().enumerate() {
        out[a.from].push(i);
        inbound[a.to] += 1;
    }
    // 0: unseen, 1: on the path, 2: done.
    let mut state = vec![0u8; n];
    let starts: Vec<usize> = (0..n).filter(|&v| inbound[v] == 0).chain(0..n).collect();
    for start in starts {
        if state[start] != 0 {
            continue;
        }
        // Iterative, so a long chain of tasks cannot overflow the stack.
        let mut stack = vec![(start, 0usize)];
        state[start] = 1;
        while let Some(&mut (v, ref mut next)) = stack.last_mut() {
            if let Some(&arrow) = out[v].get(*next) {
                *next += 1;
                let to = arrows[arrow].to;
                match state[to] {
                    0 => {
                        state[to] = 1;
                        stack.push((to, 0));
                    }
                    1 => arrows[arrow].back = true,
                    _ => {}
                }
            } else {
                state[v] = 2;
                stack.pop();
            }
        }
    }
}

/// Each node's layer: its longest path from a start over the arrows that do not go back.
fn assign_layers(nodes: &mut [Node], arrows: &[Arrow]) {
    let n = nodes.len();
    let mut inbound = vec![0usize; n];
    for a in arrows.iter().filter(|a| !a.back) {
        inbound[a.to] += 1;
    }
    let mut ready: Vec<usize> = (0..n).filter(|&v| inbound[v] == 0).collect();
    let mut layer = vec![0usize; n];
    let mut below: Vec<Vec<usize>> = vec![Vec::new(); n];
    for a in arrows.iter().filter(|a| !a.back) {
        below[a.from].push(a.to);
    }
    while let Some(v) = ready.pop() {
        for &to in &below[v] {
            layer[to] = layer[to].max(layer[v] + 1);
            inbound[to] -= 1;
            if inbound[to] == 0 {
                ready.push(to);
            }
        }
    }
    for (node, l) in nodes.iter_mut().zip(layer) {
        node.layer = l;
    }
}

/// The nodes of each layer, left to right.
fn order_layers(nodes: &[Node], arrows: &[Arrow]) -> Vec<Vec<usize>> {
    let layers = nodes.iter().map(|n| n.layer).max().map_or(0, |m| m + 1);
    let mut order: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (i, n) in nodes.iter().enumerate() {
        order[n.layer].push(i);
    }
    // Neighbours along arrows that do not go back: above (predecessors) and below.
    let mut above: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    let mut below: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for a in arrows.iter().filter(|a| !a.back) {
        above[a.to].push(a.from);
        below[a.from].push(a.to);
    }
    let mut position = vec![0.0f64; nodes.len()];
    let reindex = |order: &Vec<Vec<usize>>, position: &mut Vec<f64>| {
        for layer in order {
            for (p, &v) in layer.iter().enumerate() {
                position[v] = p as f64;
            }
        }
    };
    reindex(&order, &mut position);
    for sweep in 0..4 {
        let down = sweep % 2 == 0;
        let range: Vec<usize> = if down {
            (1..layers).collect()
        } else {
            (0..layers.saturating_sub(1)).rev().collect()
        };
        for l in range {
            let mut keyed: Vec<(f64, usize)> = order[l]
                .iter()
                .map(|&v| {
                    let neighbours = if down { &above[v] } else { &below[v] };
                    let key = if neighbours.is_empty() {
                        position[v]
                    } else {
                        neighbours.iter().map(|&u| position[u]).sum::<f64>()
                            / neighbours.len() as f64
                    };
                    (key, v)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            order[l] = keyed.into_iter().map(|(_, v)| v).collect();
            for (p, &v) in order[l].iter().enumerate() {
                position[v] = p as f64;
            }
        }
    }
    order
}

/// Coordinates: layers top to bottom, each centred on the widest.
fn place(nodes: &mut [Node], order: &[Vec<usize>]) -> (f64, f64) {
    let widths: Vec<f64> = order
        .iter()
        .map(|layer| {
            layer.iter().map(|&v| nodes[v].w).sum::<f64>()
                + GAP_X * layer.len().saturating_sub(1) as f64
        })
        .collect();
    let widest = widths.iter().copied().fold(0.0, f64::max);
    let mut y = MARGIN;
    for (layer, width) in order.iter().zip(&widths) {
        let tallest = layer.iter().map(|&v| nodes[v].h).fold(0.0, f64::max);
        let mut x = MARGIN + (widest - width) / 2.0;
        for &v in layer {
            nodes[v].x = x;
            nodes[v].y = y + (tallest - nodes[v].h) / 2.0;
            x += nodes[v].w + GAP_X;
        }
        y += tallest + GAP_Y;
    }
    // Room on the right for the loops drawn beside the nodes.
    (widest + 2.0 * MARGIN + 60.0, y - GAP_Y + MARGIN)
}

/// Escapes text for SVG/HTML.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

impl Layout {
    /// The SVG; `status` gives a task's status class (a run page), by task name.
    pub fn svg(&self, status: &BTreeMap<String, String>) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg class="graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:.0} {h:.0}" width="{w:.0}" height="{h:.0}" role="img" aria-label="task graph"><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>"#,
            w = self.width,
            h = self.height
        );
        for a in &self.arrows {
            self.arrow(&mut s, a);
        }
        for n in &self.nodes {
            self.node(&mut s, n, status);
        }
        s.push_str("</svg>");
        s
    }

    fn arrow(&self, s: &mut String, a: &Arrow) {
        let (f, t) = (&self.nodes[a.from], &self.nodes[a.to]);
        let title = a
            .condition
            .as_deref()
            .map(|c| format!("<title>when {}</title>", esc(c)))
            .unwrap_or_default();
        let (path, lx, ly) = if a.back {
            // Out of the source's right side, round the right, into the target's right side.
            let (x1, y1) = (f.x + f.w, f.y + f.h / 2.0);
            let (x2, y2) = (t.x + t.w, t.y + t.h / 2.0);
            let bend = x1.max(x2) + 50.0;
            (
                format!(
                    "M {x1:.1} {y1:.1} C {bend:.1} {y1:.1}, {bend:.1} {y2:.1}, {x2:.1} {y2:.1}"
                ),
                bend - 10.0,
                (y1 + y2) / 2.0,
            )
        } else {
            let (x1, y1) = (f.x + f.w / 2.0, f.y + f.h);
            let (x2, y2) = (t.x + t.w / 2.0, t.y);
            let mid = (y1 + y2) / 2.0;
            // The label sits two thirds of the way down the curve, nearer its target: two
            // arrows leaving one task then keep their labels apart.
            let t: f64 = 0.68;
            let u = 1.0 - t;
            let bx = u * u * u * x1 + 3.0 * u * u * t * x1 + 3.0 * u * t * t * x2 + t * t * t * x2;
            let by =
                u * u * u * y1 + 3.0 * u * u * t * mid + 3.0 * u * t * t * mid + t * t * t * y2;
            (
                format!("M {x1:.1} {y1:.1} C {x1:.1} {mid:.1}, {x2:.1} {mid:.1}, {x2:.1} {y2:.1}"),
                bx,
                by,
            )
        };
        let class = if a.back { "edge back" } else { "edge" };
        let _ = write!(
            s,
            r#"<g class="{class}">{title}<path d="{path}" marker-end="url(#arrow)"/>"#
        );
        if let Some(label) = &a.label {
            let w = label.chars().count() as f64 * 6.2 + 8.0;
            let _ = write!(
                s,
                r#"<rect class="label-bg" x="{:.1}" y="{:.1}" width="{w:.1}" height="15" rx="3"/><text class="label" x="{lx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                lx - w / 2.0,
                ly - 8.0,
                ly + 3.5,
                esc(label)
            );
        }
        s.push_str("</g>");
    }

    fn node(&self, s: &mut String, n: &Node, status: &BTreeMap<String, String>) {
        match &n.kind {
            Kind::Task(i) => {
                let name = &self.task_names[*i];
                let st = status.get(name).map_or("none", String::as_str);
                let _ = write!(
                    s,
                    r#"<g class="task st-{st}" data-task="{}" tabindex="0"><title>{} ({})</title><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="6"/>"#,
                    esc(name),
                    esc(name),
                    esc(st),
                    n.x,
                    n.y,
                    n.w,
                    n.h
                );
                for (k, line) in n.lines.iter().enumerate() {
                    let class = if k == 0 { "name" } else { "detail" };
                    let _ = write!(
                        s,
                        r#"<text class="{class}" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                        n.x + n.w / 2.0,
                        n.y + PAD / 2.0 + LINE_H * (k as f64 + 0.8),
                        esc(line)
                    );
                }
                // The status as a word too, not by colour alone.
                if st != "none" {
                    let _ = write!(
                        s,
                        r#"<text class="badge" x="{:.1}" y="{:.1}">{}</text>"#,
                        n.x + 4.0,
                        n.y - 3.0,
                        esc(st)
                    );
                }
                s.push_str("</g>");
            }
            Kind::Command(word) => {
                let _ = write!(
                    s,
                    r#"<g class="command cmd-{word}"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="12"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{word}</text></g>"#,
                    n.x,
                    n.y,
                    n.w,
                    n.h,
                    n.x + n.w / 2.0,
                    n.y + PAD / 2.0 + LINE_H * 0.8
                );
            }
            Kind::Missing(_) => {
                let _ = write!(
                    s,
                    r#"<g class="missing"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text></g>"#,
                    n.x,
                    n.y,
                    n.w,
                    n.h,
                    n.x + n.w / 2.0,
                    n.y + PAD / 2.0 + LINE_H * 0.8,
                    esc(&n.lines[0])
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orch_workflow::parse::parse_workflow;

    const WF: &str = r#"
tasks:
  fetch:
    action: net.get
    next:
      - when: <% succeeded() %>
        do: [a, b]
      - when: <% failed() %>
        do: fail
  a: { action: core.noop, next: [{ do: j }] }
  b:
    action: core.noop
    next:
      - when: <% failed() %>
        do: fetch
      - do: j
  j: { join: all, action: core.echo }
"#;

    fn task<'a>(l: &'a Layout, name: &str) -> &'a Node {
        l.nodes
            .iter()
            .find(|n| matches!(n.kind, Kind::Task(i) if l.task_names[i] == name))
            .expect("a task")
    }

    #[test]
    fn tasks_flow_down_in_layers_and_a_loop_is_drawn_back() {
        let wf = parse_workflow("g", WF).expect("parses");
        let l = layout(&wf);
        assert_eq!(task(&l, "fetch").layer, 0);
        assert_eq!(task(&l, "a").layer, 1);
        assert_eq!(task(&l, "b").layer, 1);
        assert_eq!(task(&l, "j").layer, 2, "a join sits below what joins");
        assert!(task(&l, "fetch").y < task(&l, "a").y);
        assert!(task(&l, "a").y < task(&l, "j").y);
        let back: Vec<&Arrow> = l.arrows.iter().filter(|a| a.back).collect();
        assert_eq!(back.len(), 1, "b → fetch closes the loop");
        assert_eq!(l.nodes[back[0].from].lines[0], "b");
        // Same-layer nodes do not overlap.
        let (a, b) = (task(&l, "a"), task(&l, "b"));
        assert!(a.x + a.w <= b.x || b.x + b.w <= a.x);
    }

    #[test]
    fn the_svg_marks_statuses_in_words_and_escapes_every_text() {
        let hostile = "tasks:\n  \"x<script>alert(1)</script>\":\n    action: core.noop\n    next:\n      - when: <% ctx().a < 3 and \"q\" %>\n        do: fail\n";
        let wf = parse_workflow("g", hostile).expect("parses");
        let mut status = BTreeMap::new();
        status.insert("x<script>alert(1)</script>".to_owned(), "failed".to_owned());
        let svg = layout(&wf).svg(&status);
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("x&lt;script&gt;"), "{svg}");
        assert!(svg.contains("class=\"task st-failed\""), "{svg}");
        assert!(svg.contains(">failed</text>"), "the status in words: {svg}");
        assert!(svg.contains("ctx().a &lt; 3 and &quot;q&quot;"), "{svg}");
        assert!(svg.contains("class=\"command cmd-fail\""), "{svg}");
    }

    #[test]
    fn a_long_chain_lays_out_without_recursion() {
        let mut text = String::from("tasks:\n");
        for i in 0..2000 {
            text.push_str(&format!(
                "  t{i}:\n    action: core.noop\n    next: [{{ do: t{} }}]\n",
                i + 1
            ));
        }
        text.push_str("  t2000:\n    action: core.noop\n");
        let wf = parse_workflow("g", &text).expect("parses");
        let l = layout(&wf);
        assert_eq!(task(&l, "t2000").layer, 2000);
    }
}
