//! The run pages: the list (filters by status and workflow, newest first, page by page, who or
//! what started each run), and a page per run: its graph coloured by each task's status, the
//! questions it waits on as forms generated from their JSON Schema, a timeline of task
//! executions and fan-out items, the executions with their results and errors, the log lines
//! its packs wrote, input, output, errors, child runs, and the buttons an operator may use.
//!
//! The page stays live without reloading: `console.js` follows the API's event stream of the
//! run and, on each change, fetches `/runs/ID/live` (the changing part, rendered here) and puts
//! it in place.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;

use super::forms::{self, Field};
use super::graph::{self, esc};
use super::{Chrome, PageError, Posted, User, page, pretty, took, when};
use crate::api::runs::{answer_run, cancel_run, rerun_run, resume_run};
use crate::auth::Role;
use crate::engine::{self, RunReport, RunState};
use crate::service::{Core, blocking};
use crate::store::{LogRow, RunFilter, RunSummary, now_ms};

const PAGE: i64 = 50;
/// Executions listed on a run page at most (failed ones always are).
const EXEC_ROWS: usize = 200;
/// Log lines shown at most (the latest).
const LOG_LINES: usize = 500;

/// A status as a symbol, so it reads without colour.
pub fn icon(status: &str) -> &'static str {
    match status {
        "succeeded" => "✓",
        "failed" => "✗",
        "running" => "▶",
        "waiting" => "?",
        "paused" => "⏸",
        "canceled" => "⊘",
        "needs_attention" => "!",
        _ => "·",
    }
}

/// `?status=&workflow=&before=` of the list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    workflow: Option<String>,
    before: Option<String>,
}

/// A run in the list.
pub struct RunItem {
    /// Id.
    pub id: String,
    /// Workflow.
    pub workflow: String,
    /// Status.
    pub status: String,
    /// Started.
    pub started: String,
    /// How long it ran (or has been running).
    pub duration: String,
    /// Who or what started it.
    pub started_by: String,
}

#[derive(Template)]
#[template(path = "console/runs.html")]
struct RunsPage {
    chrome: Chrome,
    runs: Vec<RunItem>,
    status: String,
    workflow: String,
    next: Option<String>,
    statuses: &'static [&'static str],
}

fn item(r: RunSummary, now: i64) -> RunItem {
    let finished = RunState::parse(&r.status).is_finished();
    let end = if finished { r.updated_at } else { now };
    RunItem {
        duration: took((end - r.created_at).max(0)),
        started: when(r.created_at),
        started_by: r.started_by.unwrap_or_else(|| "—".into()),
        id: r.id,
        workflow: r.workflow,
        status: r.status,
    }
}

/// `GET /runs`.
pub async fn list(
    State(core): State<Arc<Core>>,
    user: User,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let status = q.status.filter(|s| !s.is_empty());
    let workflow = q.workflow.filter(|s| !s.is_empty());
    let before = q
        .before
        .as_deref()
        .and_then(|c| c.split_once(':'))
        .and_then(|(at, id)| Some((at.parse().ok()?, id.to_owned())));
    let filter = RunFilter {
        status: status.clone(),
        workflow: workflow.clone(),
        before,
        limit: PAGE,
    };
    let rows = blocking(|| core.store().run_page(&filter)).map_err(|e| PageError::internal(&e))?;
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| format!("{}:{}", r.created_at, r.id)))
        .flatten();
    let now = now_ms();
    page(&RunsPage {
        chrome: user.chrome("runs", "Runs"),
        runs: rows.into_iter().map(|r| item(r, now)).collect(),
        status: status.unwrap_or_default(),
        workflow: workflow.unwrap_or_default(),
        next,
        statuses: &[
            "running",
            "waiting",
            "paused",
            "needs_attention",
            "succeeded",
            "failed",
            "canceled",
        ],
    })
}

/// A question the run waits on, as a form.
pub struct Ask {
    /// The run that asks (the root or a sub-workflow's run).
    pub run: String,
    /// The task.
    pub task: String,
    /// The prompt.
    pub prompt: String,
    /// Its fields, or none: one JSON text.
    pub fields: Option<Vec<Field>>,
    /// The schema, shown.
    pub schema: String,
    /// An answer given and not yet taken.
    pub pending: Option<String>,
}

/// An execution in the table.
pub struct ExecRow {
    /// `task#n`.
    pub exec: String,
    /// Status.
    pub status: String,
    /// Attempts (and items).
    pub attempts: usize,
    /// Time taken, when finished.
    pub duration: String,
    /// Result or error, as JSON.
    pub detail: String,
    /// Whether `detail` is an error.
    pub failed: bool,
}

/// The part of the run page that changes while the run goes on.
#[derive(Template)]
#[template(path = "console/run_live.html")]
pub struct RunLive {
    chrome: Chrome,
    id: String,
    status: String,
    reason: String,
    finished: bool,
    svg: String,
    asks: Vec<Ask>,
    timeline: String,
    execs: Vec<ExecRow>,
    hidden_execs: usize,
    logs: Vec<LogRow>,
    output: String,
    errors: String,
    children: Vec<(String, String, String)>,
    can_cancel: bool,
    can_resume: bool,
    can_rerun: bool,
    updated: String,
}

#[derive(Template)]
#[template(path = "console/run.html")]
struct RunPage {
    chrome: Chrome,
    id: String,
    workflow: String,
    parent: String,
    started_by: String,
    started: String,
    input: String,
    live: String,
    problem: Option<String>,
}

fn load(core: &Core, id: &str) -> Result<(RunReport, Vec<LogRow>, String), PageError> {
    blocking(|| -> anyhow::Result<_> {
        let run = engine::find_run(core.store(), id)?;
        let report = engine::report(core.store(), &run)?;
        // The latest lines: a chatty run keeps its page small (the API has them all).
        let logs = core.store().latest_logs(&run.id, LOG_LINES)?;
        Ok((report, logs, run.definition))
    })
    .map_err(|e| PageError::from(crate::api::failed(&e)))
}

fn live_view(user: &User, report: &RunReport, logs: Vec<LogRow>, definition: &str) -> RunLive {
    let mut status: BTreeMap<String, String> = BTreeMap::new();
    for t in &report.tasks {
        status.insert(t.task.clone(), t.status.clone());
    }
    let svg = orch_workflow::parse::parse_workflow(&report.workflow, definition)
        .map(|wf| graph::layout(&wf).svg(&status))
        .unwrap_or_else(|e| {
            format!(
                "<p class=\"problem\">the graph cannot be drawn: {}</p>",
                esc(&e.to_string())
            )
        });
    let state = report.status;
    let gone = report.driver_gone.is_some();
    let now = now_ms();
    // A long run (a loop of 1,000 executions) shows its failed executions and the latest ones,
    // up to EXEC_ROWS, and says how many it left out: the page stays small and fast.
    let keep: Vec<bool> = {
        let n = report.tasks.len();
        let mut room =
            EXEC_ROWS.saturating_sub(report.tasks.iter().filter(|t| t.status == "failed").count());
        let mut keep = vec![false; n];
        for (i, t) in report.tasks.iter().enumerate().rev() {
            if t.status == "failed" {
                keep[i] = true;
            } else if room > 0 {
                keep[i] = true;
                room -= 1;
            }
        }
        keep
    };
    let hidden_execs = keep.iter().filter(|k| !**k).count();
    let execs = report
        .tasks
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(t, _)| t)
        .map(|t| {
            let started = t.attempts.iter().map(|a| a.started_at).min();
            let ended = t.attempts.iter().filter_map(|a| a.finished_at).max();
            let failed = t.status == "failed";
            let detail = match (
                &t.result,
                t.attempts.iter().rev().find_map(|a| a.error.as_ref()),
            ) {
                (_, Some(err)) if failed => pretty(err),
                (Some(result), _) => pretty(result),
                _ => String::new(),
            };
            ExecRow {
                exec: t.exec.clone(),
                status: t.status.clone(),
                attempts: t.attempts.len(),
                duration: match (started, ended) {
                    (Some(s), Some(e)) if t.status != "running" => took(e - s),
                    (Some(s), _) => format!("{} so far", took(now - s)),
                    _ => String::new(),
                },
                detail,
                failed,
            }
        })
        .collect();
    RunLive {
        chrome: user.chrome("runs", ""),
        id: report.id.clone(),
        status: state.as_str().to_owned(),
        // A waiting run's reason repeats its question, shown as a form below.
        reason: if state == RunState::Waiting {
            String::new()
        } else {
            report.reason.clone().unwrap_or_default()
        },
        finished: state.is_finished(),
        svg,
        asks: report
            .questions
            .iter()
            .map(|q| Ask {
                run: q.run.clone(),
                task: q.task.clone(),
                prompt: q.prompt.clone(),
                fields: forms::fields_of(&q.schema),
                schema: pretty(&q.schema),
                pending: q.pending_answer.as_ref().map(pretty),
            })
            .collect(),
        timeline: timeline(report, now),
        execs,
        hidden_execs,
        logs,
        output: report.output.as_ref().map(pretty).unwrap_or_default(),
        errors: if report.errors.is_empty() {
            String::new()
        } else {
            pretty(&Value::Array(report.errors.clone()))
        },
        children: report
            .children
            .iter()
            .map(|c| {
                let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                (s("id"), s("workflow"), s("status"))
            })
            .collect(),
        can_cancel: !state.is_finished(),
        can_resume: matches!(state, RunState::Paused | RunState::NeedsAttention)
            || (gone && state == RunState::Running),
        can_rerun: matches!(state, RunState::Failed | RunState::Canceled),
        updated: when(report.updated_at),
    }
}

/// Above this many attempts, a task's attempts (its fan-out items, its executions in a loop) are drawn as thin unlabelled bars under one
/// labelled summary row: a 1,000-item fan-out stays readable and the page small.
const DETAILED_ATTEMPTS: usize = 20;
/// Labelled rows in a timeline at most; tasks beyond are drawn thin.
const MAX_DETAILED_ROWS: usize = 200;

/// A Gantt chart of the attempts: a row per attempt (fan-out items and retries included), from
/// its start to its end (or now), coloured by status and labelled with it in words; a large
/// fan-out as a summary row (its span, its items counted by status) over thin bars, one per
/// item.
fn timeline(report: &RunReport, now: i64) -> String {
    // Attempts grouped by task (a loop's executions and a fan-out's items together), in the
    // order tasks first ran.
    let mut groups: Vec<(&str, Vec<(&str, &crate::engine::AttemptReport)>)> = Vec::new();
    for t in &report.tasks {
        let at = match groups.iter().position(|(task, _)| *task == t.task) {
            Some(i) => i,
            None => {
                groups.push((&t.task, Vec::new()));
                groups.len() - 1
            }
        };
        groups[at]
            .1
            .extend(t.attempts.iter().map(|a| (t.exec.as_str(), a)));
    }
    let all = groups.iter().flat_map(|(_, a)| {
        a.iter()
            .map(|(_, a)| (a.started_at, a.finished_at.unwrap_or(now)))
    });
    let (mut start, mut end) = (i64::MAX, i64::MIN);
    for (from, to) in all {
        start = start.min(from);
        end = end.max(to);
    }
    if start == i64::MAX {
        return String::new();
    }
    let end = end.max(start + 1);
    let (label_w, bar_w, row_h, thin) = (220.0, 560.0, 18.0, 2.0);
    let scale = bar_w / (end - start) as f64;
    let x_of = |t: i64| label_w + (t - start) as f64 * scale;
    let mut body = String::new();
    let mut y = 4.0;
    let mut detailed_rows = 0;
    for (task, attempts) in &groups {
        if attempts.len() <= DETAILED_ATTEMPTS
            && detailed_rows + attempts.len() <= MAX_DETAILED_ROWS
        {
            detailed_rows += attempts.len();
            for (exec, a) in attempts {
                let mut label = (*exec).to_owned();
                if let Some(item) = a.item {
                    let _ = write!(label, "[{item}]");
                }
                if a.attempt > 1 {
                    let _ = write!(label, " try {}", a.attempt);
                }
                let to = a.finished_at.unwrap_or(now);
                bar(
                    &mut body,
                    &label,
                    &a.status,
                    x_of(a.started_at),
                    x_of(to),
                    y,
                    took(to - a.started_at),
                );
                y += row_h;
            }
            continue;
        }
        // Many attempts: one summary row, then one thin bar per attempt, grouped by status.
        let from = attempts
            .iter()
            .map(|(_, a)| a.started_at)
            .min()
            .unwrap_or(now);
        let to = attempts
            .iter()
            .map(|(_, a)| a.finished_at.unwrap_or(now))
            .max()
            .unwrap_or(now);
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, a) in attempts {
            *counts.entry(a.status.as_str()).or_default() += 1;
        }
        let words = counts
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ");
        let worst = ["failed", "running", "canceled", "succeeded"]
            .into_iter()
            .find(|s| counts.contains_key(s))
            .unwrap_or("none");
        let label = format!("{task} ({} attempts)", attempts.len());
        bar(&mut body, &label, worst, x_of(from), x_of(to), y, words);
        y += row_h;
        for status in counts.keys() {
            let _ = write!(body, r#"<g class="bar thin st-{}">"#, esc(status));
            for (i, (_, a)) in attempts
                .iter()
                .enumerate()
                .filter(|(_, (_, a))| a.status == *status)
            {
                let x = x_of(a.started_at);
                let w = (x_of(a.finished_at.unwrap_or(now)) - x).max(1.0);
                let _ = write!(
                    body,
                    r#"<rect x="{x:.1}" y="{:.0}" width="{w:.1}" height="{thin}"/>"#,
                    y + i as f64 * thin
                );
            }
            body.push_str("</g>");
        }
        y += attempts.len() as f64 * thin + 6.0;
    }
    let height = y + 20.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {height}" width="{w}" height="{height}" role="img" aria-label="timeline of task executions">{body}<text class="axis" x="{label_w}" y="{ay}">0</text><text class="axis" x="{ax}" y="{ay}" text-anchor="end">{total}</text></svg>"#,
        w = label_w + bar_w + 160.0,
        ay = height - 4.0,
        ax = label_w + bar_w,
        total = took(end - start)
    );
    s
}

/// One labelled row of the timeline: a bar from `x1` to `x2` with the status in words.
fn bar(s: &mut String, label: &str, status: &str, x1: f64, x2: f64, y: f64, detail: String) {
    let w = (x2 - x1).max(2.0);
    let row_h = 18.0;
    let _ = write!(
        s,
        r#"<g class="bar st-{st}"><title>{l}: {st}, {d}</title><text class="label" x="214" y="{ty:.1}" text-anchor="end">{l}</text><rect x="{x1:.1}" y="{y:.1}" width="{w:.1}" height="13" rx="2"/><text class="word" x="{wx:.1}" y="{ty:.1}">{st}</text></g>"#,
        st = esc(status),
        l = esc(label),
        d = esc(&detail),
        ty = y + row_h * 0.7,
        wx = x1 + w + 4.0,
    );
}

/// `GET /runs/{id}`.
pub async fn show(
    State(core): State<Arc<Core>>,
    user: User,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    run_page(&core, &user, &id, None)
}

fn run_page(
    core: &Core,
    user: &User,
    id: &str,
    problem: Option<String>,
) -> Result<Response, PageError> {
    let (report, logs, definition) = load(core, id)?;
    let live = live_view(user, &report, logs, &definition)
        .render()
        .map_err(|e| PageError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("rendering the page: {e}"),
        })?;
    let mut response = page(&RunPage {
        chrome: user.chrome("runs", format!("Run {}", report.id)),
        id: report.id.clone(),
        workflow: report.workflow.clone(),
        parent: report.parent.clone().unwrap_or_default(),
        started_by: report.started_by.clone().unwrap_or_else(|| "—".into()),
        started: when(report.created_at),
        input: pretty(&report.input),
        live,
        problem: problem.clone(),
    })?;
    if problem.is_some() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

/// `GET /runs/{id}/live`: the changing part of the run page.
pub async fn live_part(
    State(core): State<Arc<Core>>,
    user: User,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (report, logs, definition) = load(&core, &id)?;
    let html = live_view(&user, &report, logs, &definition)
        .render()
        .map_err(|e| PageError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("rendering the page: {e}"),
        })?;
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Html(html),
    )
        .into_response())
}

fn back(id: &str) -> Response {
    Redirect::to(&format!("/runs/{id}")).into_response()
}

/// `POST /runs/{id}/respond`: the question's form. The answer is checked against the schema by
/// the engine, as `orch runs respond` checks it; a refusal shows the page with the reason.
pub async fn respond(
    State(core): State<Arc<Core>>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, PageError> {
    posted.user.require(Role::Operator)?;
    let task = posted.fields.get("task").cloned().unwrap_or_default();
    let asking = posted
        .fields
        .get("run")
        .cloned()
        .unwrap_or_else(|| id.clone());
    let (report, _, _) = load(&core, &id)?;
    let Some(q) = report
        .questions
        .iter()
        .find(|q| q.task == task && q.run == asking)
    else {
        return run_page(
            &core,
            &posted.user,
            &id,
            Some(format!(
                "the run does not wait on an answer to {task:?} now"
            )),
        );
    };
    let answer = match forms::fields_of(&q.schema) {
        Some(fields) => forms::value_of(&fields, &posted.fields, "answer."),
        None => serde_json::from_str(posted.fields.get("answer").map_or("", String::as_str))
            .map_err(|e| format!("the answer is not JSON: {e}")),
    };
    let answer = match answer {
        Ok(a) => a,
        Err(problem) => return run_page(&core, &posted.user, &id, Some(problem)),
    };
    match answer_run(&core, &asking, &task, answer, false) {
        Ok(_) => Ok(back(&id)),
        Err(e) => run_page(&core, &posted.user, &id, Some(e.message)),
    }
}

/// `POST /runs/{id}/cancel`.
pub async fn cancel(
    State(core): State<Arc<Core>>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, PageError> {
    posted.user.require(Role::Operator)?;
    match cancel_run(&core, &id) {
        Ok(run) => Ok(back(&run)),
        Err(e) => run_page(&core, &posted.user, &id, Some(e.message)),
    }
}

/// `POST /runs/{id}/resume`.
pub async fn resume(
    State(core): State<Arc<Core>>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, PageError> {
    posted.user.require(Role::Operator)?;
    match resume_run(&core, &id) {
        Ok(run) => Ok(back(&run)),
        Err(e) => run_page(&core, &posted.user, &id, Some(e.message)),
    }
}

/// `POST /runs/{id}/rerun`: the failed tasks again.
pub async fn rerun(
    State(core): State<Arc<Core>>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, PageError> {
    posted.user.require(Role::Operator)?;
    match rerun_run(&core, &id, Vec::new(), false) {
        Ok((run, _)) => Ok(back(&run)),
        Err(e) => run_page(&core, &posted.user, &id, Some(e.message)),
    }
}
