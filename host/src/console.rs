//! The web console of `orch serve`, at `/`: server-side HTML (askama templates under
//! `host/templates/console/`) with a little JavaScript (`console/assets/console.js`: live run
//! pages over the API's Server-Sent Events, the task panel of a workflow graph), all embedded in
//! the binary: no CDN, nothing to install.
//!
//! It reads and acts through the same operations as the API (`crate::api`), as the signed-in
//! token's role allows: a viewer reads and sees no button that would fail; an operator starts,
//! answers, cancels, resumes and re-runs runs. Sign-in is with an API token (`orch token
//! create`); the browser then holds a session cookie (HttpOnly, SameSite=Strict, Secure over
//! HTTPS) naming a session in the store ([`session`]). Every state-changing request carries the
//! session's CSRF token (a form field, or the `X-CSRF-Token` header for the API) and a
//! cross-site `Origin` is refused.
//!
//! Files: `session.rs` (sign-in, sign-out, the session of a request), `graph.rs` (the task
//! graph as SVG), `forms.rs` (forms from a JSON Schema and back), `library.rs` (packs,
//! workflows and the Run form), `runs.rs` (runs, a run's live page and its buttons),
//! `catalog.rs` (inventory, records, version diffs), `events.rs` (events and decisions).

mod catalog;
mod events;
mod forms;
pub mod graph;
mod library;
mod runs;
pub mod session;

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::auth::{Principal, Role};
use crate::service::{Core, HttpError};

/// The console's routes, merged beside the API's.
pub fn router() -> Router<Arc<Core>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/runs") }))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/assets/console.css", get(css))
        .route("/assets/console.js", get(js))
        .route("/packs", get(library::packs))
        .route("/packs/{name}", get(library::pack))
        .route("/workflows", get(library::workflows))
        .route(
            "/workflows/{name}",
            get(library::workflow).post(library::start),
        )
        .route("/runs", get(runs::list))
        .route("/runs/{id}", get(runs::show))
        .route("/runs/{id}/live", get(runs::live_part))
        .route("/runs/{id}/respond", post(runs::respond))
        .route("/runs/{id}/cancel", post(runs::cancel))
        .route("/runs/{id}/resume", post(runs::resume))
        .route("/runs/{id}/rerun", post(runs::rerun))
        .route("/catalog", get(catalog::inventory))
        .route("/catalog/{collection}", get(catalog::collection))
        .route("/catalog/{collection}/{*key}", get(catalog::record))
        .route("/events", get(events::list))
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("console/assets/console.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("console/assets/console.js"),
    )
        .into_response()
}

/// What every page shows around its content: who is signed in, what they may do, the CSRF
/// token for its forms, which section is open.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The token's name.
    pub user: String,
    /// Its role.
    pub role: Role,
    /// The session's CSRF token, for forms.
    pub csrf: String,
    /// The open section (`runs`, `workflows`, …).
    pub section: &'static str,
    /// The page's title.
    pub title: String,
}

impl Chrome {
    /// Whether the buttons that start, answer, cancel, resume or re-run runs show.
    pub fn can_operate(&self) -> bool {
        self.role >= Role::Operator
    }

    /// The role as a word.
    pub fn role_name(&self) -> &'static str {
        self.role.as_str()
    }
}

/// A signed-in request: the session's principal and CSRF token. Without a live session the
/// browser is sent to the sign-in page, and back afterwards.
pub struct User {
    /// Who.
    pub principal: Principal,
    /// The session's CSRF token.
    pub csrf: String,
}

impl User {
    /// The page chrome for `section`, titled `title`.
    pub fn chrome(&self, section: &'static str, title: impl Into<String>) -> Chrome {
        Chrome {
            user: self.principal.name.clone(),
            role: self.principal.role,
            csrf: self.csrf.clone(),
            section,
            title: title.into(),
        }
    }

    /// Refuses (with a page saying which role is needed) unless the role is at least `role`.
    pub fn require(&self, role: Role) -> Result<(), PageError> {
        self.principal.require(role).map_err(|e| PageError {
            status: StatusCode::FORBIDDEN,
            message: e.to_string(),
        })
    }
}

impl FromRequestParts<Arc<Core>> for User {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, core: &Arc<Core>) -> Result<Self, Response> {
        match session::of_request(core, &parts.headers) {
            Some((principal, csrf)) => Ok(User { principal, csrf }),
            None => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_owned();
                let to = format!(
                    "/login?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                Err(Redirect::to(&to).into_response())
            }
        }
    }
}

/// A form posted by a signed-in user: its fields, once the session's CSRF token in its `csrf`
/// field and a same-site origin are checked.
pub struct Posted {
    /// Who.
    pub user: User,
    /// The fields (the last value of a repeated name).
    pub fields: HashMap<String, String>,
}

impl FromRequest<Arc<Core>> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, core: &Arc<Core>) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let user = User::from_request_parts(&mut parts, core).await?;
        if !same_origin(&parts.headers) {
            return Err(forged("the request came from another site"));
        }
        let request = Request::from_parts(parts, body);
        let axum::Form(pairs) = axum::Form::<Vec<(String, String)>>::from_request(request, core)
            .await
            .map_err(|e| {
                PageError {
                    status: StatusCode::BAD_REQUEST,
                    message: format!("the form could not be read: {e}"),
                }
                .into_response()
            })?;
        let fields: HashMap<String, String> = pairs.into_iter().collect();
        let sent = fields.get("csrf").map(String::as_str).unwrap_or("");
        if !session::csrf_matches(&user.csrf, sent) {
            return Err(forged(
                "the form's CSRF token is missing or not this session's; reload the page and try again",
            ));
        }
        Ok(Posted { user, fields })
    }
}

fn forged(why: &str) -> Response {
    PageError {
        status: StatusCode::FORBIDDEN,
        message: format!("refused: {why}"),
    }
    .into_response()
}

/// Whether a state-changing request comes from this site: a browser's `Origin` (or, without
/// one, `Sec-Fetch-Site`) must name the host the request was sent to.
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && site == "cross-site"
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host))
}

/// A page that cannot be shown: its status and why, in words.
#[derive(Debug)]
pub struct PageError {
    /// HTTP status.
    pub status: StatusCode,
    /// For a person.
    pub message: String,
}

impl From<HttpError> for PageError {
    fn from(e: HttpError) -> Self {
        Self {
            status: e.status,
            message: e.message,
        }
    }
}

impl PageError {
    /// The store or another internal failure.
    pub fn internal(err: &anyhow::Error) -> Self {
        crate::api::failed(err).into()
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    status: u16,
    message: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let body = ErrorPage {
            status: self.status.as_u16(),
            message: &self.message,
        }
        .render()
        .unwrap_or_else(|_| "error".to_owned());
        (self.status, Html(body)).into_response()
    }
}

/// Renders a page (with headers that keep it out of frames and caches).
pub fn page(template: &impl Template) -> Result<Response, PageError> {
    let body = template.render().map_err(|e| PageError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("rendering the page: {e}"),
    })?;
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
            ),
            (header::REFERRER_POLICY, "same-origin"),
        ],
        Html(body),
    )
        .into_response())
}

/// Pretty JSON for a page.
pub fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// A Unix-ms time as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn when(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]"
            ))
            .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

/// A duration in ms, for people.
pub fn took(ms: i64) -> String {
    match ms {
        ..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000),
    }
}
