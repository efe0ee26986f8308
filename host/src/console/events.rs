//! The events page: recent events (webhooks, syslog, schedules, finished runs), newest first,
//! each with what every rule decided (fired which run, throttled, criteria false, error) and a
//! link to the runs they started.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::{Chrome, PageError, User, page, pretty};
use crate::events::{self, Event};
use crate::service::{Core, blocking};
use crate::store::EventsFilter;

const PAGE: i64 = 50;

/// `?type=&rule=&before=`.
#[derive(Debug, Default, Deserialize)]
pub struct EventsQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    rule: Option<String>,
    before: Option<i64>,
}

#[derive(Template)]
#[template(path = "console/events.html")]
struct EventsPage {
    chrome: Chrome,
    events: Vec<(Event, String)>,
    kind: String,
    rule: String,
    rules: Vec<String>,
    next: Option<i64>,
}

/// `GET /events`.
pub async fn list(
    State(core): State<Arc<Core>>,
    user: User,
    Query(q): Query<EventsQuery>,
) -> Result<Response, PageError> {
    let kind = q.kind.filter(|s| !s.is_empty());
    let rule = q.rule.filter(|s| !s.is_empty());
    let filter = EventsFilter {
        kind: kind.clone(),
        rule: rule.clone(),
        before: q.before,
        limit: PAGE,
    };
    let list =
        blocking(|| events::list(core.store(), &filter)).map_err(|e| PageError::internal(&e))?;
    let next = (list.len() as i64 == PAGE)
        .then(|| list.last().map(|e| e.id))
        .flatten();
    page(&EventsPage {
        chrome: user.chrome("events", "Events"),
        events: list
            .into_iter()
            .map(|e| {
                let payload = pretty(&e.payload);
                (e, payload)
            })
            .collect(),
        kind: kind.unwrap_or_default(),
        rule: rule.unwrap_or_default(),
        rules: core.rules().iter().map(|r| r.name.clone()).collect(),
        next,
    })
}
