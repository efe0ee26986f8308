//! `/api/v1/inventory` and `/api/v1/catalog`: the devices of the inventory and the versioned
//! records of the data catalog (a record's key may hold `/`, as `R1/golden` does).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use super::{Caller, Params, failed};
use crate::auth::Role;
use crate::service::{Core, HttpError, blocking};

/// `GET /inventory`: every device.
#[utoipa::path(get, path = "/api/v1/inventory",
    responses((status = 200, description = "the devices, by name")),
    security(("token" = [])))]
pub async fn inventory(
    State(core): State<Arc<Core>>,
    caller: Caller,
) -> Result<Response, HttpError> {
    caller.require(Role::Viewer)?;
    let devices = blocking(|| core.store().devices()).map_err(|e| failed(&e))?;
    Ok(axum::Json(devices).into_response())
}

/// `GET /inventory/{name}`: one device.
#[utoipa::path(get, path = "/api/v1/inventory/{name}", params(("name" = String, Path, description = "device name")),
    responses((status = 200, description = "the device"), (status = 404, description = "no such device")),
    security(("token" = [])))]
pub async fn device(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, HttpError> {
    caller.require(Role::Viewer)?;
    let device = blocking(|| core.store().device(&name)).map_err(|e| failed(&e))?;
    match device {
        Some(device) => Ok(axum::Json(device).into_response()),
        None => Err(HttpError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no device named {name:?} in the inventory"),
        )),
    }
}

/// `GET /catalog/{collection}`: the keys of a collection with their latest versions.
#[utoipa::path(get, path = "/api/v1/catalog/{collection}", params(("collection" = String, Path, description = "collection")),
    responses((status = 200, description = "`[{key, version, written_at}]`")),
    security(("token" = [])))]
pub async fn keys(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Path(collection): Path<String>,
) -> Result<Response, HttpError> {
    caller.require(Role::Viewer)?;
    let keys =
        blocking(|| core.store().record_keys(Some(&collection), "")).map_err(|e| failed(&e))?;
    let keys: Vec<_> = keys.into_iter().map(|(_, key)| key).collect();
    Ok(axum::Json(keys).into_response())
}

/// `?version=N` or `?history=true` of `GET /catalog/{collection}/{key}`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RecordQuery {
    /// A version (default: the latest).
    version: Option<u64>,
    /// Every version instead, newest first.
    #[serde(default)]
    history: bool,
}

/// `GET /catalog/{collection}/{key}`: a record (the latest version, one version, or its
/// history).
#[utoipa::path(get, path = "/api/v1/catalog/{collection}/{key}",
    params(("collection" = String, Path, description = "collection"), ("key" = String, Path, description = "key, may hold `/`"), RecordQuery),
    responses((status = 200, description = "the record or its versions"), (status = 404, description = "no such record")),
    security(("token" = [])))]
pub async fn record(
    State(core): State<Arc<Core>>,
    caller: Caller,
    Path((collection, key)): Path<(String, String)>,
    Params(query): Params<RecordQuery>,
) -> Result<Response, HttpError> {
    caller.require(Role::Viewer)?;
    if query.history {
        let versions =
            blocking(|| core.store().record_history(&collection, &key)).map_err(|e| failed(&e))?;
        return Ok(axum::Json(json!({ "versions": versions })).into_response());
    }
    let row = blocking(|| crate::catalog::get(core.store(), &collection, &key, query.version))
        .map_err(|e| failed(&e))?;
    match row {
        Some(row) => Ok(axum::Json(row).into_response()),
        None => Err(HttpError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!(
                "no record {collection}/{key}{}",
                query
                    .version
                    .map_or_else(String::new, |v| format!(" version {v}"))
            ),
        )),
    }
}
