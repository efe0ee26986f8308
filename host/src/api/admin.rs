//! `/api/v1/packs/{name}/grants` and `/api/v1/tokens`: what only an `admin` may change. A new
//! token is in the response once; afterwards only its name and role are shown.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{Body, Caller, failed};
use crate::auth::{self, Role};
use crate::policy::grants::Grant;
use crate::service::{Core, HttpError, blocking};
use crate::store::now_ms;

/// The body of `POST|DELETE /packs/{name}/grants`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Grants, as `orch pack grant` takes them (`http:https://api.example.com`,
    /// `ssh:inventory`, `catalog:configs`).
    grants: Vec<String>,
}

fn parse(grants: &[String]) -> Result<Vec<Grant>, HttpError> {
    grants
        .iter()
        .map(|g| g.parse::<Grant>())
        .collect::<Result<_, _>>()
        .map_err(|e| HttpError::new(StatusCode::BAD_REQUEST, "bad_grant", &e.to_string()))
}

/// `POST /packs/{name}/grants`: lets a pack reach more destinations.
#[utoipa::path(post, path = "/api/v1/packs/{name}/grants", params(("name" = String, Path, description = "pack")),
    request_body = Grants,
    responses((status = 200, description = "`{added, held}`")),
    security(("token" = [])))]
pub async fn grant(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Path(name): Path<String>,
    Body(body): Body<Grants>,
) -> Result<Response, HttpError> {
    caller.require(Role::Admin)?;
    let grants = parse(&body.grants)?;
    let (added, held) = blocking(|| -> anyhow::Result<_> {
        let packs = core.packs();
        let added = packs.grant(&name, &grants)?;
        Ok((added, packs.grants(&name)?))
    })
    .map_err(|e| failed(&e))?;
    tracing::info!(pack = %name, by = %caller.0.name, ?added, "grants added through the API");
    Ok(axum::Json(json!({ "added": added, "held": held })).into_response())
}

/// `DELETE /packs/{name}/grants`: takes grants back.
#[utoipa::path(delete, path = "/api/v1/packs/{name}/grants", params(("name" = String, Path, description = "pack")),
    request_body = Grants,
    responses((status = 200, description = "`{removed, held}`"), (status = 400, description = "the pack does not hold one of them")),
    security(("token" = [])))]
pub async fn revoke(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Path(name): Path<String>,
    Body(body): Body<Grants>,
) -> Result<Response, HttpError> {
    caller.require(Role::Admin)?;
    let grants = parse(&body.grants)?;
    let (removed, held) = blocking(|| -> anyhow::Result<_> {
        let packs = core.packs();
        let removed = packs.revoke(&name, Some(&grants))?;
        Ok((removed, packs.grants(&name)?))
    })
    .map_err(|e| failed(&e))?;
    tracing::info!(pack = %name, by = %caller.0.name, ?removed, "grants revoked through the API");
    Ok(axum::Json(json!({ "removed": removed, "held": held })).into_response())
}

/// `GET /tokens`: names, roles, expiry, last use; never the tokens.
#[utoipa::path(get, path = "/api/v1/tokens",
    responses((status = 200, description = "the tokens")),
    security(("token" = [])))]
pub async fn tokens(State(core): State<Arc<Core>>, caller: Caller) -> Result<Response, HttpError> {
    caller.require(Role::Admin)?;
    let rows = blocking(|| core.store().api_tokens()).map_err(|e| failed(&e))?;
    Ok(axum::Json(rows).into_response())
}

/// The body of `POST /tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Who or what it is for.
    name: String,
    /// `viewer`, `operator` or `admin`.
    role: String,
    /// Lifetime, e.g. `30d` (none: no expiry).
    expires: Option<String>,
}

/// `POST /tokens`: creates a token; the only response that ever holds it.
#[utoipa::path(post, path = "/api/v1/tokens", request_body = NewToken,
    responses((status = 201, description = "`{name, role, expires_at, token}`"), (status = 400, description = "bad name, role or lifetime; a name taken")),
    security(("token" = [])))]
pub async fn create_token(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Body(body): Body<NewToken>,
) -> Result<Response, HttpError> {
    caller.require(Role::Admin)?;
    let bad = |m: String| HttpError::new(StatusCode::BAD_REQUEST, "bad_request", &m);
    let role: Role = body
        .role
        .parse()
        .map_err(|e: auth::AuthError| bad(e.to_string()))?;
    let lifetime: Option<Duration> = match &body.expires {
        None => None,
        Some(text) => Some(humantime::parse_duration(text).map_err(|e| {
            bad(format!(
                "`expires` {text:?} is not a lifetime like 30d: {e}"
            ))
        })?),
    };
    let expires_at =
        lifetime.map(|d| now_ms().saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
    let token =
        blocking(|| auth::create(core.store(), &body.name, role, expires_at)).map_err(|e| {
            match e.downcast_ref::<auth::AuthError>() {
                Some(auth) => bad(auth.to_string()),
                None => failed(&e),
            }
        })?;
    tracing::info!(token = %body.name, %role, by = %caller.0.name, "token created through the API");
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "name": body.name, "role": role, "expires_at": expires_at, "token": token.as_str() })),
    )
        .into_response())
}

/// `DELETE /tokens/{name}`: revokes a token.
#[utoipa::path(delete, path = "/api/v1/tokens/{name}", params(("name" = String, Path, description = "token name")),
    responses((status = 200, description = "revoked"), (status = 404, description = "no such token")),
    security(("token" = [])))]
pub async fn revoke_token(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, HttpError> {
    caller.require(Role::Admin)?;
    let existed = blocking(|| core.store().revoke_api_token(&name)).map_err(|e| failed(&e))?;
    if !existed {
        return Err(HttpError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no token named {name:?}"),
        ));
    }
    tracing::info!(token = %name, by = %caller.0.name, "token revoked through the API");
    Ok(axum::Json(json!({ "revoked": name })).into_response())
}
