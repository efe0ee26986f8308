//! `/api/v1/runs`: list (filters, pages), start, show, live events (Server-Sent Events), logs,
//! answer a `core.ask`, cancel, resume, rerun. Runs start and continue in the server's own
//! tasks: a request answers `202 Accepted` with the run id as soon as the run is recorded, and
//! the run is followed with `GET /runs/{id}` or its event stream.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};

use super::{Body, Caller, Params, failed};
use crate::auth::Role;
use crate::engine::{self, RunState, lease};
use crate::service::{Core, HttpError, blocking};
use crate::store::{RunFilter, RunSummary, now_ms};

/// Most runs one page lists.
const MAX_PAGE: i64 = 500;

/// Filters and the page of `GET /runs`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Only runs in this status (`running`, `waiting`, `succeeded`, …).
    status: Option<String>,
    /// Only runs of this workflow.
    workflow: Option<String>,
    /// How many (default 50, at most 500).
    limit: Option<i64>,
    /// The `next` of the previous page.
    before: Option<String>,
}

/// `GET /runs`: root runs, newest first.
#[utoipa::path(get, path = "/api/v1/runs", params(ListQuery),
    responses((status = 200, description = "`{runs: [...], next}`: a page of runs and the cursor of the next one (null at the end)")),
    security(("token" = [])))]
pub async fn list(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Params(query): Params<ListQuery>,
) -> Result<Response, HttpError> {
    caller.require(Role::Viewer)?;
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let before = match &query.before {
        None => None,
        Some(cursor) => Some(parse_cursor(cursor)?),
    };
    let filter = RunFilter {
        status: query.status,
        workflow: query.workflow,
        before,
        limit,
    };
    let page = blocking(|| core.store().run_page(&filter)).map_err(|e| failed(&e))?;
    let next = (page.len() as i64 == limit)
        .then(|| page.last().map(|r| format!("{}:{}", r.created_at, r.id)))
        .flatten();
    let now = now_ms();
    let runs: Vec<Value> = page.iter().map(|r| summary_json(r, now)).collect();
    Ok(axum::Json(json!({ "runs": runs, "next": next })).into_response())
}

fn parse_cursor(cursor: &str) -> Result<(i64, String), HttpError> {
    cursor
        .split_once(':')
        .and_then(|(at, id)| Some((at.parse().ok()?, id.to_owned())))
        .ok_or_else(|| {
            HttpError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "`before` is the `next` value of the previous page (TIME:RUN)",
            )
        })
}

fn summary_json(r: &RunSummary, now: i64) -> Value {
    let driver = match lease::driver_from(r.owner_host.as_deref(), r.owner_pid, r.lease_until, now)
    {
        lease::Driver::None => json!({ "state": "none" }),
        lease::Driver::Live { pid } => json!({ "state": "live", "pid": pid }),
        lease::Driver::Gone { pid } => json!({ "state": "gone", "pid": pid }),
    };
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    v["driver"] = driver;
    v
}

/// The body of `POST /runs`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    /// A workflow name in the server's workflow directory.
    workflow: String,
    /// Its inputs.
    #[serde(default)]
    #[schema(value_type = Object)]
    input: Map<String, Value>,
}

/// `POST /runs`: starts a workflow; `202` with the run id once the run is recorded.
#[utoipa::path(post, path = "/api/v1/runs", request_body = StartRun,
    responses((status = 202, description = "`{run}`: started"),
              (status = 400, description = "unknown workflow, or input it refuses")),
    security(("token" = [])))]
pub async fn start(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Body(body): Body<StartRun>,
) -> Result<Response, HttpError> {
    caller.require(Role::Operator)?;
    let engine = core.engine();
    let prepared =
        blocking(|| engine.prepare(&body.workflow, body.input)).map_err(|e| failed(&e))?;
    let prepared = prepared.started_by(format!("api:{}", caller.0.name));
    drop(engine);
    let id = engine::new_run_id();
    core.start_run(prepared, id.clone())
        .map_err(|e| failed(&e))?;
    Ok(accepted(json!({ "run": id })))
}

fn accepted(body: Value) -> Response {
    (StatusCode::ACCEPTED, axum::Json(body)).into_response()
}

/// `GET /runs/{id}`: the run with every task execution (as `orch runs show --json`).
#[utoipa::path(get, path = "/api/v1/runs/{id}", params(("id" = String, Path, description = "run id or a unique prefix")),
    responses((status = 200, description = "the run report"), (status = 404, description = "no such run")),
    security(("token" = [])))]
pub async fn show(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    caller.require(Role::Viewer)?;
    let report = blocking(|| {
        let run = engine::find_run(core.store(), &id)?;
        engine::report(core.store(), &run)
    })
    .map_err(|e| failed(&e))?;
    Ok(axum::Json(report).into_response())
}

/// Where a live stream of a run stands.
struct Follow {
    core: Arc<Core>,
    id: String,
    seen: Option<(String, i64, i64)>,
    logs_after: i64,
    done: bool,
}

/// `GET /runs/{id}/events`: Server-Sent Events while the run goes on: `run` (the whole report,
/// at every change), `log` (each new log line), then `end` (its status) once it finished or
/// stopped (paused, waiting for an answer).
#[utoipa::path(get, path = "/api/v1/runs/{id}/events", params(("id" = String, Path, description = "run id")),
    responses((status = 200, description = "text/event-stream of `run`, `log` and `end` events")),
    security(("token" = [])))]
pub async fn events(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, HttpError> {
    caller.require(Role::Viewer)?;
    let run = blocking(|| engine::find_run(core.store(), &id)).map_err(|e| failed(&e))?;
    let follow = Follow {
        core,
        id: run.id,
        seen: None,
        logs_after: 0,
        done: false,
    };
    // Produced only as the client reads: a slow client slows its own stream, nothing piles up.
    let stream = futures::stream::unfold(follow, |mut f| async move {
        if f.done {
            return None;
        }
        loop {
            let (events, finished) = poll_run(&mut f);
            if !events.is_empty() {
                f.done = finished;
                let events: Vec<Result<SseEvent, Infallible>> =
                    events.into_iter().map(Ok).collect();
                return Some((futures::stream::iter(events), f));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    use futures::StreamExt as _;
    Ok(Sse::new(stream.flatten()).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// What changed since the last look, and whether the stream ends.
fn poll_run(f: &mut Follow) -> (Vec<SseEvent>, bool) {
    let store = f.core.store();
    let mut out = Vec::new();
    let looked = blocking(|| -> anyhow::Result<_> {
        let run = engine::find_run(store, &f.id)?;
        let events = store.next_seq(&run.id)?;
        let logs = store.logs(&run.id, f.logs_after)?;
        Ok((run, events, logs))
    });
    let Ok((run, journal, logs)) = looked else {
        return (
            vec![
                SseEvent::default()
                    .event("end")
                    .data("{\"status\":\"gone\"}"),
            ],
            true,
        );
    };
    for line in logs {
        f.logs_after = f.logs_after.max(line.id);
        let body = json!({ "exec": line.exec, "item": line.item, "attempt": line.attempt,
                           "level": line.level, "message": line.message, "at": line.at });
        out.push(SseEvent::default().event("log").data(body.to_string()));
    }
    let now = (run.status.clone(), run.updated_at, journal);
    if f.seen.as_ref() != Some(&now) {
        f.seen = Some(now);
        if let Ok(report) = blocking(|| engine::report(store, &run)) {
            let body = serde_json::to_string(&report).unwrap_or_default();
            out.push(SseEvent::default().event("run").data(body));
        }
    }
    // A run that waits for an answer, or is paused, goes on later (perhaps driven by another
    // process): the stream stays open until the run is finished.
    let state = RunState::parse(&run.status);
    let stopped = state.is_finished();
    if stopped {
        out.push(
            SseEvent::default()
                .event("end")
                .data(json!({ "status": state.as_str() }).to_string()),
        );
    }
    (out, stopped)
}

/// `?after=ID` of `GET /runs/{id}/logs`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct LogsQuery {
    /// Only lines after this one (the `id` of the last line seen).
    after: Option<i64>,
}

/// `GET /runs/{id}/logs`: the log lines packs wrote during the run.
#[utoipa::path(get, path = "/api/v1/runs/{id}/logs", params(("id" = String, Path, description = "run id"), LogsQuery),
    responses((status = 200, description = "the lines, oldest first")),
    security(("token" = [])))]
pub async fn logs(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Path(id): Path<String>,
    Params(query): Params<LogsQuery>,
) -> Result<Response, HttpError> {
    caller.require(Role::Viewer)?;
    let lines = blocking(|| {
        let run = engine::find_run(core.store(), &id)?;
        core.store().logs(&run.id, query.after.unwrap_or(0))
    })
    .map_err(|e| failed(&e))?;
    let lines: Vec<Value> = lines
        .into_iter()
        .map(|l| {
            json!({ "id": l.id, "exec": l.exec, "item": l.item, "attempt": l.attempt,
                    "level": l.level, "message": l.message, "fields": l.fields, "at": l.at })
        })
        .collect();
    Ok(axum::Json(lines).into_response())
}

/// The body of `POST /runs/{id}/respond`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Respond {
    /// The `core.ask` task answered.
    task: String,
    /// The answer: JSON matching the question's schema.
    #[schema(value_type = Object)]
    answer: Value,
    /// Replace an answer given before that the run has not taken yet.
    #[serde(default)]
    replace: bool,
}

/// `POST /runs/{id}/respond`: answers the question the run waits on, then the run goes on.
#[utoipa::path(post, path = "/api/v1/runs/{id}/respond", params(("id" = String, Path, description = "run id")),
    request_body = Respond,
    responses((status = 202, description = "answer recorded; the run goes on"),
              (status = 400, description = "the answer fails the question's schema"),
              (status = 409, description = "another answer is being taken, or the run waits for no such answer")),
    security(("token" = [])))]
pub async fn respond(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<Respond>,
) -> Result<Response, HttpError> {
    caller.require(Role::Operator)?;
    let run = answer_run(&core, &id, &body.task, body.answer, body.replace)?;
    Ok(accepted(json!({ "run": run, "answered": body.task })))
}

/// Records `answer` to `task` of run `id` (checked against the question's schema), then drives
/// the run on; the root run's id.
pub(crate) fn answer_run(
    core: &Arc<Core>,
    id: &str,
    task: &str,
    answer: Value,
    replace: bool,
) -> Result<String, HttpError> {
    let engine = core.engine();
    let root =
        blocking(|| engine.record_answer(id, task, answer, replace)).map_err(|e| failed(&e))?;
    drop(engine);
    let run = root.id.clone();
    core.drive_held(root);
    Ok(run)
}

/// `POST /runs/{id}/cancel`: asks the process driving the run to cancel it, or cancels it
/// here when nothing drives it.
#[utoipa::path(post, path = "/api/v1/runs/{id}/cancel", params(("id" = String, Path, description = "run id")),
    responses((status = 202, description = "cancel requested"), (status = 409, description = "the run is over")),
    security(("token" = [])))]
pub async fn cancel(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    caller.require(Role::Operator)?;
    let run = cancel_run(&core, &id)?;
    Ok(accepted(json!({ "run": run, "cancel_requested": true })))
}

/// Cancels run `id` (asks the process driving it, or cancels it here); its full id.
pub(crate) fn cancel_run(core: &Arc<Core>, id: &str) -> Result<String, HttpError> {
    let run = blocking(|| engine::find_run(core.store(), id)).map_err(|e| failed(&e))?;
    let state = RunState::parse(&run.status);
    if state.is_finished() {
        return Err(over(&run.id, state));
    }
    if matches!(lease::driver_of(&run, now_ms()), lease::Driver::Live { .. }) {
        blocking(|| core.store().request_cancel(&run.id)).map_err(|e| failed(&e))?;
    } else {
        core.cancel_run(run.id.clone());
    }
    Ok(run.id)
}

fn over(run: &str, state: RunState) -> HttpError {
    HttpError::new(
        StatusCode::CONFLICT,
        "conflict",
        &format!(
            "run {run} already {}; re-run it with POST /api/v1/runs/{run}/rerun",
            state.as_str()
        ),
    )
}

/// `POST /runs/{id}/resume`: continues a paused, crashed or interrupted run.
#[utoipa::path(post, path = "/api/v1/runs/{id}/resume", params(("id" = String, Path, description = "run id")),
    responses((status = 202, description = "resuming"), (status = 409, description = "the run is over, or a live process drives it")),
    security(("token" = [])))]
pub async fn resume(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    caller.require(Role::Operator)?;
    let run = resume_run(&core, &id)?;
    Ok(accepted(json!({ "run": run })))
}

/// Resumes run `id` here unless it is over or a live process drives it; its full id.
pub(crate) fn resume_run(core: &Arc<Core>, id: &str) -> Result<String, HttpError> {
    let run = blocking(|| engine::find_run(core.store(), id)).map_err(|e| failed(&e))?;
    let state = RunState::parse(&run.status);
    if state.is_finished() {
        return Err(over(&run.id, state));
    }
    if let lease::Driver::Live { pid } = lease::driver_of(&run, now_ms()) {
        return Err(HttpError::new(
            StatusCode::CONFLICT,
            "busy",
            &format!("run {} is being driven by pid {pid}", run.id),
        ));
    }
    core.resume(run.id.clone());
    Ok(run.id)
}

/// The body of `POST /runs/{id}/rerun`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rerun {
    /// Tasks to run again; none: every task that failed unhandled or was canceled.
    #[serde(default)]
    tasks: Vec<String>,
    /// Go on with the workflow file as it is now, not the revision the run started with.
    #[serde(default)]
    current_workflow: bool,
}

/// `POST /runs/{id}/rerun`: re-runs a failed or canceled run from its failed tasks.
#[utoipa::path(post, path = "/api/v1/runs/{id}/rerun", params(("id" = String, Path, description = "run id")),
    request_body = Rerun,
    responses((status = 202, description = "`{run, revision}`: re-running"), (status = 400, description = "nothing to re-run, or the run did not fail")),
    security(("token" = [])))]
pub async fn rerun(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<Rerun>,
) -> Result<Response, HttpError> {
    caller.require(Role::Operator)?;
    let (id, revision) = rerun_run(&core, &id, body.tasks, body.current_workflow)?;
    Ok(accepted(json!({ "run": id, "revision": revision })))
}

/// Re-runs run `id` from `tasks` (none: its failed ones), then drives it; its id and the
/// revision recorded.
pub(crate) fn rerun_run(
    core: &Arc<Core>,
    id: &str,
    tasks: Vec<String>,
    current_workflow: bool,
) -> Result<(String, Value), HttpError> {
    let engine = core.engine();
    let (run, revision) =
        blocking(|| engine.journal_rerun(id, tasks, current_workflow)).map_err(|e| failed(&e))?;
    drop(engine);
    let id = run.id.clone();
    core.drive_held(run);
    Ok((id, serde_json::to_value(revision).unwrap_or(Value::Null)))
}
