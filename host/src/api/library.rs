//! `/api/v1/workflows`, `/packs`, `/rules`, `/events`: what the server can run and what it was
//! asked to. Workflows are checked as `orch workflow validate` checks them, with their graph.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use super::{Caller, Params, failed};
use crate::auth::Role;
use crate::events;
use crate::service::{Core, HttpError, blocking};
use crate::store::EventsFilter;

/// `GET /workflows`: every workflow of the server's workflow directory, checked.
#[utoipa::path(get, path = "/api/v1/workflows",
    responses((status = 200, description = "`[{name, description, tasks, inputs, problems}]`")),
    security(("token" = [])))]
pub async fn workflows(
    State(core): State<Arc<Core>>,
    caller: Caller,
) -> Result<Response, HttpError> {
    caller.require(Role::Viewer)?;
    let engine = core.engine();
    let list = blocking(|| -> anyhow::Result<Vec<Value>> {
        let names = workflow_names(&engine.workflows_dir());
        Ok(names
            .into_iter()
            .map(|name| match engine.check(&name) {
                Ok((wf, problems)) => json!({
                    "name": name,
                    "description": wf.description,
                    "tasks": wf.tasks.len(),
                    "inputs": wf.input.iter().map(|p| &p.name).collect::<Vec<_>>(),
                    "problems": problems.len(),
                }),
                Err(err) => json!({ "name": name, "error": format!("{err:#}") }),
            })
            .collect())
    })
    .map_err(|e| failed(&e))?;
    Ok(axum::Json(list).into_response())
}

/// The names of the workflows in `dir` (its `.yaml`/`.yml` files), sorted.
pub fn workflow_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let path = e.path();
                    let yaml = matches!(
                        path.extension().and_then(|x| x.to_str()),
                        Some("yaml" | "yml")
                    );
                    yaml.then(|| path.file_stem()?.to_str().map(str::to_owned))
                        .flatten()
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `GET /workflows/{name}`: one workflow: its text, declared inputs, problems, and its graph
/// (Mermaid and DOT).
#[utoipa::path(get, path = "/api/v1/workflows/{name}", params(("name" = String, Path, description = "workflow name")),
    responses((status = 200, description = "the workflow"), (status = 404, description = "no such workflow")),
    security(("token" = [])))]
pub async fn workflow(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, HttpError> {
    caller.require(Role::Viewer)?;
    let engine = core.engine();
    let body = blocking(|| -> anyhow::Result<Value> {
        let (wf, problems) = engine.check(&name)?;
        let text = std::fs::read_to_string(&wf.source).unwrap_or_default();
        Ok(json!({
            "name": name,
            "source": wf.source,
            "description": wf.description,
            "text": text,
            "inputs": wf.input.iter().map(|p| json!({"name": p.name, "required": p.default.is_none()})).collect::<Vec<_>>(),
            "tasks": wf.tasks.keys().collect::<Vec<_>>(),
            "problems": problems,
            "graph": {
                "mermaid": orch_workflow::graph::mermaid(&wf),
                "dot": orch_workflow::graph::dot(&wf),
            },
        }))
    })
    .map_err(|e| failed(&e))?;
    Ok(axum::Json(body).into_response())
}

/// `GET /packs`: the installed packs.
#[utoipa::path(get, path = "/api/v1/packs",
    responses((status = 200, description = "the packs with their manifests")),
    security(("token" = [])))]
pub async fn packs(State(core): State<Arc<Core>>, caller: Caller) -> Result<Response, HttpError> {
    caller.require(Role::Viewer)?;
    let list = blocking(|| core.packs().list()).map_err(|e| failed(&e))?;
    Ok(axum::Json(list).into_response())
}

/// `GET /packs/{name}`: one pack: manifest (actions, schemas, destinations), imports, grants.
#[utoipa::path(get, path = "/api/v1/packs/{name}", params(("name" = String, Path, description = "pack name")),
    responses((status = 200, description = "the pack"), (status = 404, description = "no such pack")),
    security(("token" = [])))]
pub async fn pack(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, HttpError> {
    caller.require(Role::Viewer)?;
    let body = blocking(|| -> anyhow::Result<Value> {
        let packs = core.packs();
        let pack = packs.get(&name)?;
        let mut body = serde_json::to_value(&pack)?;
        body["grants"] = json!(packs.grants(&name)?);
        Ok(body)
    })
    .map_err(|e| failed(&e))?;
    Ok(axum::Json(body).into_response())
}

/// `GET /rules`: the rules the server loaded.
#[utoipa::path(get, path = "/api/v1/rules",
    responses((status = 200, description = "`[{name, description, enabled, trigger, workflow}]`")),
    security(("token" = [])))]
pub async fn rules(State(core): State<Arc<Core>>, caller: Caller) -> Result<Response, HttpError> {
    caller.require(Role::Viewer)?;
    let list: Vec<Value> = core
        .rules()
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "description": r.description,
                "enabled": r.enabled,
                "trigger": { "kind": r.trigger.kind(), "summary": r.trigger.to_string() },
                "workflow": r.run.workflow,
            })
        })
        .collect();
    Ok(axum::Json(list).into_response())
}

/// Filters and the page of `GET /events`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct EventsQuery {
    /// Trigger type (`webhook`, `syslog`, `schedule`, `run`).
    kind: Option<String>,
    /// Only events this rule decided about.
    rule: Option<String>,
    /// Only events with ids below this one (the previous page's last id).
    before: Option<i64>,
    /// How many (default 50, at most 500).
    limit: Option<i64>,
}

/// `GET /events`: events received, newest first, with what each rule decided.
#[utoipa::path(get, path = "/api/v1/events", params(EventsQuery),
    responses((status = 200, description = "the events")),
    security(("token" = [])))]
pub async fn events(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Params(query): Params<EventsQuery>,
) -> Result<Response, HttpError> {
    caller.require(Role::Viewer)?;
    let filter = EventsFilter {
        kind: query.kind,
        rule: query.rule,
        before: query.before,
        limit: query.limit.unwrap_or(50).clamp(1, 500),
    };
    let list = blocking(|| events::list(core.store(), &filter)).map_err(|e| failed(&e))?;
    Ok(axum::Json(list).into_response())
}

/// `GET /events/{id}`: one event and every rule's decision.
#[utoipa::path(get, path = "/api/v1/events/{id}", params(("id" = String, Path, description = "event id")),
    responses((status = 200, description = "the event"), (status = 404, description = "no such event")),
    security(("token" = [])))]
pub async fn event(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    caller.require(Role::Viewer)?;
    let event = blocking(|| events::show(core.store(), &id)).map_err(|e| failed(&e))?;
    Ok(axum::Json(event).into_response())
}
