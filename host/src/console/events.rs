//! The events page: the rules the server loaded, and recent events (webhooks, syslog, schedules, finished runs), newest first,
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
    loaded: Vec<RuleItem>,
    next: Option<i64>,
}

/// A rule the server loaded.
pub struct RuleItem {
    /// Name.
    pub name: String,
    /// Its trigger in words.
    pub trigger: String,
    /// The workflow it runs.
    pub workflow: String,
    /// Whether it decides anything.
    pub enabled: bool,
    /// Its description.
    pub description: String,
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
        loaded: core
            .rules()
            .iter()
            .map(|r| RuleItem {
                name: r.name.clone(),
                trigger: r.trigger.to_string(),
                workflow: r.run.workflow.clone(),
                enabled: r.enabled,
                description: r.description.clone().unwrap_or_default(),
            })
            .collect(),
        next,
    })
}
