//! The block explorer the node serves on `/` (`docs/API.md`, "Explorer"):
//! pages rendered here with maud (escaping by default), plain SVG charts
//! ([`charts`]), one stylesheet and one small script embedded in the
//! binary, nothing fetched from elsewhere.
//!
//! Access: `sledger open` asks the node (with its token) for a one-time
//! login URL; `GET /login?code=` trades the code, once and within a
//! minute, for a session cookie (HttpOnly, SameSite=Strict). Every page
//! needs that session; every form that changes something carries the
//! session's anti-CSRF token and must come from this origin. Every answer
//! has a strict Content-Security-Policy: scripts and styles from this
//! node only, no inline script, no other origin.

mod charts;
mod pages;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::Node;

type Shared = Arc<Node>;

/// How long a login code stays good.
pub const LOGIN_CODE_LIFETIME: Duration = Duration::from_secs(60);

/// How long a session lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// The session cookie's name.
pub const COOKIE: &str = "sledger_session";

/// The policy every explorer answer carries.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Login codes not yet used, and open sessions (id → anti-CSRF token).
#[derive(Default)]
pub struct Sessions {
    codes: Mutex<HashMap<String, Instant>>,
    open: Mutex<HashMap<String, (String, Instant)>>,
}

fn random_hex() -> String {
    super::cookie::new_token().unwrap_or_else(|_| String::new())
}

impl Sessions {
    /// A fresh one-time login code (at most 16 wait at once).
    pub fn new_code(&self) -> Option<String> {
        let code = random_hex();
        if code.is_empty() {
            return None;
        }
        let mut codes = self.codes.lock().unwrap_or_else(|p| p.into_inner());
        codes.retain(|_, at| at.elapsed() < LOGIN_CODE_LIFETIME);
        if codes.len() >= 16 {
            return None;
        }
        codes.insert(code.clone(), Instant::now());
        Some(code)
    }

    /// Trades a login code for a new session id, once.
    fn redeem(&self, code: &str) -> Option<String> {
        let issued = self
            .codes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(code)?;
        if issued.elapsed() >= LOGIN_CODE_LIFETIME {
            return None;
        }
        let (id, csrf) = (random_hex(), random_hex());
        if id.is_empty() || csrf.is_empty() {
            return None;
        }
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|_, (_, at)| at.elapsed() < SESSION_LIFETIME);
        open.insert(id.clone(), (csrf, Instant::now()));
        Some(id)
    }

    /// The anti-CSRF token of the session `id`, if it is open.
    fn csrf(&self, id: &str) -> Option<String> {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.iter()
            .find(|(k, (_, at))| {
                crate::node::routes::constant_time_eq(k.as_bytes(), id.as_bytes())
                    && at.elapsed() < SESSION_LIFETIME
            })
            .map(|(_, (csrf, _))| csrf.clone())
    }
}

/// The session of a request: its anti-CSRF token.
#[derive(Clone)]
pub struct Session {
    pub csrf: String,
}

/// The explorer's routes, behind the session check.
pub fn router(node: Shared) -> Router<Shared> {
    let pages = Router::new()
        .route("/", get(pages::overview))
        .route("/chain", get(pages::chain))
        .route("/block/{block}", get(pages::block))
        .route("/tx/{txid}", get(pages::tx))
        .route("/tx/{txid}/data", get(pages::tx_data))
        .route("/author/{name}", get(pages::author))
        .route("/pending", get(pages::pending))
        .route("/tips", get(pages::tips))
        .route("/search", get(pages::search))
        .route("/submit", post(pages::submit))
        .route("/mining/start", post(pages::mining_start))
        .route("/mining/stop", post(pages::mining_stop))
        .route("/events", get(pages::events))
        .layer(middleware::from_fn_with_state(node, require_session));
    Router::new()
        .route("/login", get(pages::login))
        .route("/static/app.css", get(pages::css))
        .route("/static/app.js", get(pages::js))
        .merge(pages)
        .layer(middleware::from_fn(secure_headers))
}

/// Whether a path belongs to the explorer (not the `/v1` API).
pub fn is_explorer_path(path: &str) -> bool {
    !path.starts_with("/v1/") && path != "/v1"
}

/// The headers every explorer answer carries.
async fn secure_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

/// The session cookie's value, if the request has one.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Lets a request through only with an open session; a state change also
/// needs this origin (when the browser says) and the session's anti-CSRF
/// token, which the handler checks against [`Session`].
async fn require_session(State(node): State<Shared>, mut req: Request, next: Next) -> Response {
    let csrf = session_cookie(req.headers()).and_then(|id| node.explorer.csrf(&id));
    let Some(csrf) = csrf else {
        return pages::refused(
            StatusCode::UNAUTHORIZED,
            "Log in first: run `sledger open` on the node's machine and open the URL it prints.",
        );
    };
    if req.method() == axum::http::Method::POST && !same_origin(&node, req.headers()) {
        return pages::refused(
            StatusCode::FORBIDDEN,
            "A form from another site was refused.",
        );
    }
    req.extensions_mut().insert(Session { csrf });
    next.run(req).await
}

/// Whether the request's `Origin` (or, without one, `Sec-Fetch-Site`) says
/// it comes from this node's own pages.
fn same_origin(node: &Node, headers: &HeaderMap) -> bool {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if let Some(origin) = origin.filter(|o| *o != "null") {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        return origin == format!("http://{host}") || origin == format!("http://{}", node.address);
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin" || site == "none",
        // An opaque origin with nothing else to go by: refused.
        None => origin.is_none(),
    }
}

/// `POST /v1/explorer/login` (with the token): a one-time login URL.
pub async fn login_url(
    State(node): State<Shared>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    if let Err(f) = crate::node::routes::no_query(raw) {
        return f.into_response();
    }
    match node.explorer.new_code() {
        Some(code) => axum::Json(serde_json::json!({
            "url": format!("http://{}/login?code={code}", node.address),
            "expires_in": LOGIN_CODE_LIFETIME.as_secs(),
        }))
        .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({
                "error": "too many login codes are waiting; use one, or wait a minute",
                "code": "unavailable",
            })),
        )
            .into_response(),
    }
}

/// Trades `code` for a session (`GET /login`).
fn open_session(node: &Node, code: &str) -> Option<String> {
    node.explorer.redeem(code)
}
