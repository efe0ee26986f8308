//! The HTTP API of `orch serve`, under `/api/v1`: JSON over the same operations as the CLI
//! (the engine, the packs, the catalog, the events), for scripts, the web console and other
//! systems. Every call needs a token (`Authorization: Bearer`, see [`crate::auth`]): a
//! `viewer` reads, an `operator` also starts, answers, cancels, resumes and re-runs runs, an
//! `admin` also manages grants and tokens. Refusals are `{"error": {"code", "message"}}` with
//! the status that fits and a message that names the fix; no secret value is ever in a
//! response (outputs and errors were masked before they were stored). The document of it all
//! is `/api/v1/openapi.json` ([`doc`]), generated from the handlers.
//!
//! Files: `runs.rs` (runs: list, start, show, live events, logs, answer, cancel, resume,
//! rerun), `library.rs` (workflows, packs, rules, events), `catalog.rs` (inventory and
//! records), `admin.rs` (grants, tokens), `doc.rs` (the OpenAPI document).

mod admin;
mod catalog;
pub mod doc;
mod library;
pub use library::workflow_names;
pub(crate) mod runs;

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::routing::{delete, get, post};
use serde::de::DeserializeOwned;

use crate::auth::{self, AuthError, Principal, Role};
use crate::engine::EngineError;
use crate::service::{Core, HttpError, blocking};

/// Largest request body the API reads.
pub const MAX_BODY: usize = 1 << 20;

/// The routes of `/api/v1`, to be nested there with the server's state.
pub fn router() -> Router<Arc<Core>> {
    Router::new()
        .route("/runs", get(runs::list).post(runs::start))
        .route("/runs/{id}", get(runs::show))
        .route("/runs/{id}/events", get(runs::events))
        .route("/runs/{id}/logs", get(runs::logs))
        .route("/runs/{id}/respond", post(runs::respond))
        .route("/runs/{id}/cancel", post(runs::cancel))
        .route("/runs/{id}/resume", post(runs::resume))
        .route("/runs/{id}/rerun", post(runs::rerun))
        .route("/workflows", get(library::workflows))
        .route("/workflows/{name}", get(library::workflow))
        .route("/packs", get(library::packs))
        .route("/packs/{name}", get(library::pack))
        .route(
            "/packs/{name}/grants",
            post(admin::grant).delete(admin::revoke),
        )
        .route("/rules", get(library::rules))
        .route("/events", get(library::events))
        .route("/events/{id}", get(library::event))
        .route("/inventory", get(catalog::inventory))
        .route("/inventory/{name}", get(catalog::device))
        .route("/catalog/{collection}", get(catalog::keys))
        .route("/catalog/{collection}/{*key}", get(catalog::record))
        .route("/tokens", get(admin::tokens).post(admin::create_token))
        .route("/tokens/{name}", delete(admin::revoke_token))
        .route("/openapi.json", get(doc::openapi))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

async fn not_found() -> HttpError {
    HttpError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such API path; the API is described at /api/v1/openapi.json",
    )
}

/// The caller of a request, its token checked. Handlers then ask for the role they need.
pub struct Caller(pub Principal);

impl Caller {
    /// Refuses unless the caller's role is at least `role`.
    pub fn require(&self, role: Role) -> Result<(), HttpError> {
        self.0.require(role).map_err(refused)
    }
}

impl FromRequestParts<Arc<Core>> for Caller {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, core: &Arc<Core>) -> Result<Self, HttpError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if header.is_none()
            && let Some((principal, csrf)) =
                crate::console::session::of_request(core, &parts.headers)
        {
            return console_caller(parts, principal, &csrf);
        }
        let token = auth::bearer(header).map_err(refused)?;
        let verified = blocking(|| auth::verify(core.store(), token));
        match verified {
            Ok(principal) => Ok(Caller(principal)),
            Err(err) => {
                core.counters().count("api.refused");
                Err(refused(err))
            }
        }
    }
}

/// A call from the console's own pages, with its session cookie: reads need nothing more; a
/// state-changing call must carry the session's CSRF token in `X-CSRF-Token` and come from this
/// site (a cookie alone proves nothing: another site's page could have made the browser send
/// it, were SameSite ever relaxed).
fn console_caller(parts: &Parts, principal: Principal, csrf: &str) -> Result<Caller, HttpError> {
    let reads = matches!(
        parts.method,
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    if !reads {
        let sent = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !crate::console::same_origin(&parts.headers)
            || !crate::console::session::csrf_matches(csrf, sent)
        {
            return Err(HttpError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "a call with the console's session cookie must carry its CSRF token in X-CSRF-Token (the page's <meta name=\"csrf\">); scripts use a bearer token instead",
            ));
        }
    }
    Ok(Caller(principal))
}

/// An authentication or authorization refusal.
fn refused(err: AuthError) -> HttpError {
    let (status, code) = match err {
        AuthError::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden"),
        AuthError::Missing | AuthError::Unknown | AuthError::Expired(_) => {
            (StatusCode::UNAUTHORIZED, "unauthorized")
        }
        AuthError::BadRole(_) | AuthError::NameTaken(_) | AuthError::BadName(_) => {
            (StatusCode::BAD_REQUEST, "bad_request")
        }
    };
    HttpError::new(status, code, &err.to_string())
}

/// A JSON body, refused with a JSON error (not axum's plain text) when it is not JSON, not the
/// expected shape, or larger than [`MAX_BODY`].
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = HttpError;

    async fn from_request(request: Request, state: &S) -> Result<Self, HttpError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(bad_body(&rejection)),
        }
    }
}

fn bad_body(rejection: &JsonRejection) -> HttpError {
    let status = rejection.status();
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "too_large"
    } else {
        "bad_request"
    };
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!("the body is larger than the API reads ({MAX_BODY} bytes)")
    } else {
        format!(
            "the body is not the JSON this endpoint takes: {}; see /api/v1/openapi.json",
            rejection.body_text()
        )
    };
    HttpError::new(status, code, &message)
}

/// Query parameters, refused with a JSON error when they do not parse.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, HttpError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(bad_query(&rejection)),
        }
    }
}

fn bad_query(rejection: &QueryRejection) -> HttpError {
    HttpError::new(
        StatusCode::BAD_REQUEST,
        "bad_request",
        &format!("bad query parameters: {}", rejection.body_text()),
    )
}

/// An operation's error as the API answers it: the user's mistakes with the status that fits
/// and the operation's own message (which names the fix); anything else is the server's fault,
/// logged in full and answered without detail.
pub fn failed(err: &anyhow::Error) -> HttpError {
    for cause in err.chain() {
        if let Some(engine) = cause.downcast_ref::<EngineError>() {
            let (status, code) = match engine {
                EngineError::NoRun(_) | EngineError::Lookup(_) => {
                    (StatusCode::NOT_FOUND, "not_found")
                }
                EngineError::Busy(_) => (StatusCode::CONFLICT, "busy"),
                EngineError::AnswerPending { .. } | EngineError::Finished { .. } => {
                    (StatusCode::CONFLICT, "conflict")
                }
                EngineError::NoQuestion { .. } => (StatusCode::CONFLICT, "no_question"),
                _ => (StatusCode::BAD_REQUEST, "bad_request"),
            };
            return HttpError::new(status, code, &format!("{err:#}"));
        }
    }
    let bad = |code| HttpError::new(StatusCode::BAD_REQUEST, code, &format!("{err:#}"));
    for cause in err.chain() {
        if let Some(pack) = cause.downcast_ref::<crate::packs::PackError>() {
            return match pack {
                crate::packs::PackError::NotInstalled(_) => {
                    HttpError::new(StatusCode::NOT_FOUND, "not_found", &format!("{err:#}"))
                }
                _ => bad("bad_request"),
            };
        }
        if cause.is::<crate::schema::InputRejected>() {
            return bad("invalid_input");
        }
        if cause.is::<crate::catalog::CatalogError>()
            || cause.is::<crate::policy::grants::BadGrant>()
            || cause.is::<crate::events::NoEvent>()
        {
            return bad("bad_request");
        }
    }
    tracing::error!("API request failed: {err:#}");
    HttpError::internal("the server failed to do this; its log says why")
}
