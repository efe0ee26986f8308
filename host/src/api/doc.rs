//! The OpenAPI document of `/api/v1`, generated from the handlers' annotations (utoipa) and
//! served at `/api/v1/openapi.json`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{Caller, admin, catalog, library, runs};
use crate::auth::Role;
use crate::service::{Core, HttpError};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "orch",
        description = "The HTTP API of orch serve: runs, workflows, packs, the data catalog, rules and events. Every call needs `Authorization: Bearer TOKEN` (orch token create NAME --role viewer|operator|admin)."
    ),
    paths(
        runs::list, runs::start, runs::show, runs::events, runs::logs, runs::respond,
        runs::cancel, runs::resume, runs::rerun,
        library::workflows, library::workflow, library::packs, library::pack, library::rules,
        library::events, library::event,
        catalog::inventory, catalog::device, catalog::keys, catalog::record,
        admin::grant, admin::revoke, admin::tokens, admin::create_token, admin::revoke_token,
    ),
    components(schemas(runs::StartRun, runs::Respond, runs::Rerun, admin::Grants, admin::NewToken)),
    modifiers(&BearerToken)
)]
pub struct ApiDoc;

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `GET /openapi.json`.
pub async fn openapi(
    State(_core): State<Arc<Core>>,
    caller: Caller,
) -> Result<Response, HttpError> {
    caller.require(Role::Viewer)?;
    Ok(axum::Json(ApiDoc::openapi()).into_response())
}
