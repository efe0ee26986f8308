//! Signing in to the console: a person pastes an API token (`orch token create NAME --role
//! …`); the server checks it, opens a session in the store and gives the browser a cookie
//! holding only the session's random secret (HttpOnly: scripts cannot read it; SameSite=Strict:
//! other sites' pages cannot send it; Secure over HTTPS). The store keeps the secret's SHA-256,
//! the token's hash (revoking the token ends its sessions at once) and the session's CSRF
//! token. Sessions last 12 hours, or until the token expires, or until sign-out.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq as _;

use super::{PageError, page, same_origin};
use crate::auth::{self, Principal};
use crate::service::{Core, blocking};
use crate::store::{ConsoleSessionRow, now_ms};

/// The cookie's name.
pub const COOKIE: &str = "orch_session";
/// How long a session lasts at most.
const LIFETIME_MS: i64 = 12 * 3600 * 1000;

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage<'a> {
    next: &'a str,
    problem: Option<&'a str>,
}

/// `?next=` of the sign-in page.
#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Only a path of this site is a place to go back to (never `//host` or `https://…`).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/runs",
    }
}

/// `GET /login`.
pub async fn login_page(Query(q): Query<Next>) -> Result<Response, PageError> {
    page(&LoginPage {
        next: safe_next(q.next.as_deref()),
        problem: None,
    })
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct Login {
    token: String,
    next: Option<String>,
}

/// `POST /login`: a valid token opens a session; anything else shows the form again, saying
/// why.
pub async fn login(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<Login>,
) -> Result<Response, PageError> {
    let next = safe_next(form.next.as_deref()).to_owned();
    if !same_origin(&headers) {
        return Err(PageError {
            status: StatusCode::FORBIDDEN,
            message: "refused: the sign-in came from another site".into(),
        });
    }
    let token = form.token.trim();
    let token_hash = auth::hash(token);
    let verified = blocking(|| auth::verify_hash(core.store(), &token_hash));
    let principal = match verified {
        Ok(p) => p,
        Err(err) => {
            core.counters().count("api.refused");
            let problem = err.to_string();
            let mut response = page(&LoginPage {
                next: &next,
                problem: Some(&problem),
            })?;
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            return Ok(response);
        }
    };
    let secret = random_hex().map_err(|e| PageError::internal(&e))?;
    let csrf = random_hex().map_err(|e| PageError::internal(&e))?;
    let row = ConsoleSessionRow {
        token_hash,
        csrf,
        expires_at: principal
            .expires_at
            .map_or(now_ms() + LIFETIME_MS, |t| t.min(now_ms() + LIFETIME_MS)),
    };
    blocking(|| core.store().put_console_session(&auth::hash(&secret), &row))
        .map_err(|e| PageError::internal(&e))?;
    tracing::info!(token = %principal.name, "console sign-in");
    let secure = if core.https() { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict{secure}");
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| PageError::internal(&e.into()))?,
    );
    Ok(response)
}

/// `POST /logout`: ends the session (its CSRF token checked) and clears the cookie.
pub async fn logout(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    axum::Form(fields): axum::Form<Vec<(String, String)>>,
) -> Response {
    let sent = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map_or("", |(_, v)| v.as_str());
    if let Some((principal, csrf)) = of_request(&core, &headers) {
        if !same_origin(&headers) || !csrf_matches(&csrf, sent) {
            return PageError {
                status: StatusCode::FORBIDDEN,
                message: "refused: sign out from the console's own button".into(),
            }
            .into_response();
        }
        end(&core, &headers);
        tracing::info!(token = %principal.name, "console sign-out");
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("orch_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

/// The session secret in a request's cookies.
fn secret_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

/// The principal and CSRF token of the request's session, if it has a live one whose token is
/// still valid.
pub fn of_request(core: &Core, headers: &HeaderMap) -> Option<(Principal, String)> {
    let secret = secret_of(headers)?;
    let hash = auth::hash(secret);
    let row = blocking(|| core.store().console_session(&hash))
        .ok()
        .flatten()?;
    let principal = blocking(|| auth::verify_hash(core.store(), &row.token_hash)).ok()?;
    Some((principal, row.csrf))
}

/// Ends the request's session, if it has one.
pub fn end(core: &Core, headers: &HeaderMap) {
    if let Some(secret) = secret_of(headers) {
        let hash = auth::hash(secret);
        let _ = blocking(|| core.store().delete_console_session(&hash));
    }
}

/// Whether `sent` is the session's CSRF token (in constant time).
pub fn csrf_matches(expected: &str, sent: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(sent.as_bytes()))
}

fn random_hex() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|err| anyhow::anyhow!("reading the OS random number generator: {err}"))?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_path_of_this_site_is_a_place_to_return_to() {
        assert_eq!(safe_next(Some("/runs/abc?x=1")), "/runs/abc?x=1");
        for bad in [
            "//evil.example/x",
            "https://evil.example",
            "\\\\evil",
            "runs",
        ] {
            assert_eq!(safe_next(Some(bad)), "/runs", "{bad}");
        }
        assert_eq!(safe_next(None), "/runs");
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; orch_session=s3cret; b=2"),
        );
        assert_eq!(secret_of(&headers), Some("s3cret"));
        headers.insert(header::COOKIE, HeaderValue::from_static("orch_session="));
        assert_eq!(secret_of(&headers), None);
    }

    #[test]
    fn csrf_tokens_compare_whole() {
        assert!(csrf_matches("abc", "abc"));
        assert!(!csrf_matches("abc", "ab"));
        assert!(!csrf_matches("", ""));
    }
}
