//! The HTTP side of `orch serve`: the one [`Router`] (assembled here, and only here), its shared
//! state (`Arc<Core>`), and the JSON error every refusal uses. Today: `/hooks/NAME` (webhooks),
//! `/healthz` (alive, with the counters), `/readyz` (started and taking events), `/metrics`
//! (Prometheus, see `metrics.rs`). The HTTP API
//! (`/api/v1`) mounts its own router beside these in [`router`].

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::{Core, webhook};

/// A refusal: status, a code for machines and a message that names the fix. Its body is
/// `{"error": {"code": …, "message": …}}`.
#[derive(Debug, Clone)]
pub struct HttpError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code, e.g. `bad_signature`.
    pub code: &'static str,
    /// For a person.
    pub message: String,
}

impl HttpError {
    /// An error.
    pub fn new(status: StatusCode, code: &'static str, message: &str) -> Self {
        Self {
            status,
            code,
            message: message.to_owned(),
        }
    }

    /// No hook of that name.
    pub fn unknown_hook(name: &str) -> Self {
        let shown: String = name.chars().take(64).collect();
        Self::new(
            StatusCode::NOT_FOUND,
            "unknown_hook",
            &format!(
                "no webhook {shown:?}: a hook is declared by a rule with trigger {{ type: webhook, name: NAME, secret: CREDENTIAL }}"
            ),
        )
    }

    /// A body above the limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!("the body is larger than {limit} bytes (orch serve --max-body)"),
        )
    }

    /// The queue is full.
    pub fn busy() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the event queue is full; retry later",
        )
    }

    /// The server is stopping (or not started).
    pub fn stopping() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the server is not taking events now; retry later",
        )
    }

    /// The server's own fault.
    pub fn internal(message: &str) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({ "error": { "code": self.code, "message": self.message } })),
        )
            .into_response()
    }
}

/// Every route of the server, with its state.
pub fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/hooks/{name}", post(webhook::handle))
        .nest("/api/v1", crate::api::router())
        .merge(crate::console::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(core)
}

async fn healthz(axum::extract::State(core): axum::extract::State<Arc<Core>>) -> Response {
    axum::Json(json!({
        "status": "ok",
        "rules": core.rules().len(),
        "active_runs": core.active_runs(),
        "counters": core.counters().snapshot(),
    }))
    .into_response()
}

/// `/metrics` needs a token like the API (any role): names of workflows, packs and rules are
/// the operator's business. Prometheus sends one with `authorization: {credentials_file: …}`.
async fn metrics(
    axum::extract::State(core): axum::extract::State<Arc<Core>>,
    _caller: crate::api::Caller,
) -> Result<Response, HttpError> {
    let text = core
        .metrics_text()
        .map_err(|e| HttpError::internal(&format!("reading the store for /metrics: {e:#}")))?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            super::metrics::CONTENT_TYPE,
        )],
        text,
    )
        .into_response())
}

async fn readyz(axum::extract::State(core): axum::extract::State<Arc<Core>>) -> Response {
    if core.ready.load(std::sync::atomic::Ordering::SeqCst) && core.accepting() {
        axum::Json(json!({ "status": "ready" })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "not_ready" })),
        )
            .into_response()
    }
}

async fn not_found() -> HttpError {
    HttpError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such path; orch serve has the console at /, /api/v1 (see /api/v1/openapi.json), /hooks/NAME, /metrics, /healthz and /readyz",
    )
}

async fn method_not_allowed() -> HttpError {
    HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not take that method (webhooks are POST)",
    )
}
