//! The node's endpoints (`docs/API.md`, `docs/openapi.json`): each checks
//! the bearer token, bounds what it reads, runs one operation of
//! [`crate::api::local`] on a blocking thread, and answers with its JSON
//! document, or with `{"error": "..."}` and a 4xx (5xx only for a failure
//! of the node's own storage).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio_stream::StreamExt;

use super::identity::{self, IDENTITY_PATH};
use super::tip_watch::Cause;
use super::{Event, Node, MAX_STREAMS, MIN_UPLOAD_RATE};
use crate::api::import::{ExportFile, ImportPlan};
use crate::api::views::{ErrorView, StatusView};
use crate::api::{self, json, local, ApiError, BlockRef, MineRequest};
use crate::bounds::DEFAULT_PAGE;
use crate::consensus::transaction::{Signed, TxError};
use crate::consensus::{PublicKey, Signature, Transaction};

/// The OpenAPI description the node serves at `/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../../docs/openapi.json");

type Shared = Arc<Node>;

/// The router: every `/v1` endpoint behind the token check, and JSON
/// answers for unknown paths and methods.
pub fn router(node: Shared) -> Router {
    Router::new()
        .route("/v1/ping", get(ping))
        .route(IDENTITY_PATH, get(identity))
        .route("/v1/status", get(status))
        .route("/v1/transactions", post(submit).get(txs))
        .route("/v1/transactions/{txid}", get(tx))
        .route("/v1/pending", get(pending))
        .route("/v1/blocks/{block}", get(block))
        .route("/v1/chain", get(chain))
        .route("/v1/tips", get(tips))
        .route("/v1/verify", post(verify))
        .route("/v1/export", get(export))
        .route("/v1/import", post(import))
        .route("/v1/mining", get(mining))
        .route("/v1/mining/start", post(mining_start))
        .route("/v1/mining/stop", post(mining_stop))
        .route("/v1/events", get(events))
        .route("/v1/peers", get(peers).post(add_peer))
        .route("/v1/peers/{peer_id}/ban", post(ban_peer).delete(unban_peer))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/explorer/login", post(super::explorer::login_url))
        .merge(super::explorer::router(node.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(node.clone(), authorize))
        .with_state(node)
}

/// An error answer: its status, one line, and its stable code
/// (`docs/API.md`, "Errors").
pub struct Failure(StatusCode, String, &'static str);

impl Failure {
    /// An answer whose code follows from its status.
    fn new(status: StatusCode, message: String) -> Failure {
        Failure(status, message, api::code_of_status(status.as_u16()))
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure(super::status::of(&e), e.to_string(), e.code())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&ErrorView {
            error: self.1.replace('\n', " "),
            code: self.2.into(),
        })
        .unwrap_or_else(|_| r#"{"error":"unprintable error"}"#.into());
        (
            self.0,
            [(header::CONTENT_TYPE, "application/json")],
            body + "\n",
        )
            .into_response()
    }
}

impl Failure {
    /// The answer's HTTP status code.
    pub(crate) fn status(&self) -> u16 {
        self.0.as_u16()
    }
}

fn bad(msg: impl Into<String>) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, msg.into())
}

/// A request body that did not arrive within the read timeout.
fn too_slow() -> Failure {
    Failure::new(
        StatusCode::REQUEST_TIMEOUT,
        "the request body did not arrive in time".into(),
    )
}

type Answer = Result<Response, Failure>;

fn json<T: serde::Serialize>(v: &T) -> Answer {
    let body = serde_json::to_string(v)
        .map_err(|e| Failure::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body + "\n",
    )
        .into_response())
}

/// Runs `f` on a blocking thread (the store's calls block on disk).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, Failure> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(Failure::from),
        Err(e) => Err(Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e}"),
        )),
    }
}

/// Every request but [`IDENTITY_PATH`] must carry `Authorization: Bearer
/// <token>` (the scheme's name in any case, RFC 9110 section 11.1).
async fn authorize(State(node): State<Shared>, req: Request, next: Next) -> Response {
    // The explorer's pages check their own session (`explorer`).
    if req.uri().path() == IDENTITY_PATH || super::explorer::is_explorer_path(req.uri().path()) {
        return next.run(req).await;
    }
    let given = given_token(req.headers());
    if !given.is_some_and(|t| is_token(&node, t)) {
        let mut r = Failure::new(
            StatusCode::UNAUTHORIZED,
            match given {
                None => "missing bearer token: send `Authorization: Bearer <token>` with the token from the node's cookie file".into(),
                Some(_) => "wrong bearer token".into(),
            },
        )
        .into_response();
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    next.run(req).await
}

/// Whether `headers` carry this node's token.
pub fn has_token(node: &Node, headers: &HeaderMap) -> bool {
    given_token(headers).is_some_and(|t| is_token(node, t))
}

/// Whether `given` is this node's token, compared in constant time.
fn is_token(node: &Node, given: &str) -> bool {
    constant_time_eq(given.as_bytes(), node.token.as_bytes())
}

fn given_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
}

/// The token of an `Authorization` value of the Bearer scheme: the
/// scheme's name in any case, then spaces, then the token.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim_matches(' '))
}

/// Compares without an early exit, so the time taken does not tell how
/// much of a guessed token was right.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn not_found(uri: Uri) -> Failure {
    Failure::new(
        StatusCode::NOT_FOUND,
        format!("no such endpoint: {} (see /v1/openapi.json)", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> Failure {
    Failure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// The query string as a map; a key given twice is refused.
pub(crate) fn query(
    raw: Option<String>,
    allowed: &[&str],
) -> Result<HashMap<String, String>, Failure> {
    let mut out = HashMap::new();
    let Some(raw) = raw else { return Ok(out) };
    for (k, v) in form_urlencoded(&raw)? {
        if !allowed.contains(&k.as_str()) {
            let takes = match allowed {
                [] => "none".to_owned(),
                _ => allowed.join(", "),
            };
            return Err(bad(format!(
                "unknown query parameter \"{k}\" (this endpoint takes: {takes})"
            )));
        }
        if out.insert(k.clone(), v).is_some() {
            return Err(bad(format!("query parameter \"{k}\" given twice")));
        }
    }
    Ok(out)
}

/// Refuses any query parameter, for an endpoint that takes none
/// (`docs/API.md`: unknown query parameters are refused).
pub(crate) fn no_query(raw: Option<String>) -> Result<(), Failure> {
    query(raw, &[]).map(|_| ())
}

/// Splits and percent-decodes `a=1&b=x%20y`.
fn form_urlencoded(raw: &str) -> Result<Vec<(String, String)>, Failure> {
    let decode = |s: &str| -> Result<String, Failure> {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    // Two hex digits: from_str_radix alone would take "+f".
                    let hex = bytes
                        .get(i + 1..i + 3)
                        .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .ok_or_else(|| bad(format!("malformed query string \"{raw}\"")))?;
                    out.push(hex);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).map_err(|_| bad("the query string is not UTF-8"))
    };
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

/// A query parameter that is a whole number: decimal digits only (no
/// sign, no space), within `T`.
fn number<T: std::str::FromStr>(
    q: &HashMap<String, String>,
    key: &str,
) -> Result<Option<T>, Failure> {
    q.get(key)
        .map(|v| {
            let digits = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
            digits.then(|| v.parse().ok()).flatten().ok_or_else(|| {
                bad(format!(
                    "query parameter \"{key}\" must be a whole number in decimal digits, not \"{v}\""
                ))
            })
        })
        .transpose()
}

/// Reads a JSON body: at most the body limit, and no slower than the
/// read timeout; one object, read strictly ([`json::Object`]). A body of
/// JSON whitespace only is `{}`.
async fn json_body(node: &Node, body: Body) -> Result<json::Object, Failure> {
    let limit = node.limits.body_bytes;
    // Refuse an announced length over the limit before reading any of it.
    if http_body::Body::size_hint(&body).lower() > limit as u64 {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is over the limit of {limit} bytes"),
        ));
    }
    let read = read_bounded(body, limit);
    let bytes: Bytes = match tokio::time::timeout(node.limits.read_timeout, read).await {
        Err(_) => return Err(too_slow()),
        Ok(r) => r?,
    };
    body_object(&bytes)
}

/// A whole request body as one JSON object; a body of JSON whitespace
/// only is `{}`.
pub(crate) fn body_object(bytes: &[u8]) -> Result<json::Object, Failure> {
    let bytes: &[u8] = if bytes.iter().all(|b| json::is_json_whitespace(*b)) {
        b"{}"
    } else {
        bytes
    };
    json::Object::parse(bytes).map_err(malformed)
}

/// The whole body, if it is at most `limit` bytes (413 if over); a body
/// that cannot be read (a malformed chunk, a connection cut) is a 400.
async fn read_bounded(body: Body, limit: usize) -> Result<Bytes, Failure> {
    let mut chunks = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| bad(format!("cannot read the request body: {e}")))?;
        if out.len() + chunk.len() > limit {
            return Err(Failure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is over the limit of {limit} bytes"),
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(out))
}

fn malformed(e: json::JsonError) -> Failure {
    bad(format!("malformed JSON request: {e}"))
}

async fn ping(State(node): State<Shared>, RawQuery(raw): RawQuery) -> Answer {
    no_query(raw)?;
    json(&serde_json::json!({ "pid": std::process::id(), "address": node.address.to_string() }))
}

/// `GET /v1/identity?challenge=<64 hex digits>`: the node's proof that it
/// holds the token, for a client that has not sent it yet.
async fn identity(State(node): State<Shared>, RawQuery(raw): RawQuery) -> Answer {
    let q = query(raw, &["challenge"])?;
    let challenge = q
        .get("challenge")
        .and_then(|c| identity::parse_challenge(c))
        .ok_or_else(|| bad("challenge must be 64 hex digits (32 random bytes)"))?;
    json(&serde_json::json!({ "proof": identity::prove(&node.token, &challenge) }))
}

async fn status(State(node): State<Shared>, RawQuery(raw): RawQuery) -> Answer {
    no_query(raw)?;
    let n = node.clone();
    let mut v: StatusView = blocking(move || local::status(&n.store)).await?;
    let height = v.tip.height;
    v.node = Some(crate::api::views::NodeInfo {
        address: node.address.to_string(),
        pid: std::process::id(),
        mining: node.mining.view(),
        backend: crate::mining::Backend::best().key().into(),
        network: node.net.get().map(|n| {
            let sync = n.sync();
            let headers = if sync.peer.is_some() {
                sync.headers
            } else {
                height
            };
            crate::api::views::NetworkInfo {
                peer_id: n.peer_id.clone(),
                listening: n.listening.clone(),
                peer_count: n.peer_count(),
                sync: crate::api::views::SyncView {
                    phase: sync.phase.into(),
                    peer: sync.peer,
                    header_height: headers,
                    block_height: height,
                    best_height: sync.best_height.max(height),
                },
            }
        }),
    });
    json(&v)
}

/// `POST /v1/transactions`: `{"author": ..., "data": "text"}` or
/// `{"author": ..., "data_hex": "00ff"}`; a signed entry adds
/// `timestamp`, `public_key` and `signature` (all three, signed by the
/// client: the node never sees a secret key).
pub(crate) struct SubmitBody {
    pub(crate) author: String,
    pub(crate) data: Vec<u8>,
    pub(crate) signed: Option<(u64, Signed)>,
}

impl SubmitBody {
    /// The entry to record: a signed one as it came, an unsigned one
    /// stamped with the node's clock.
    pub(crate) fn entry(self, now_ms: u64) -> Result<Transaction, TxError> {
        match self.signed {
            Some((timestamp, s)) => {
                Transaction::with_signature(self.author, timestamp, self.data, s)
            }
            None => Transaction::new(self.author, now_ms, self.data),
        }
    }

    pub(crate) fn read(mut o: json::Object) -> Result<Self, Failure> {
        o.only(&[
            "author",
            "data",
            "data_hex",
            "timestamp",
            "public_key",
            "signature",
        ])
        .map_err(malformed)?;
        let author = o.get("author").map_err(malformed)?;
        let timestamp: Option<u64> = o.opt("timestamp").map_err(malformed)?;
        let key: Option<PublicKey> = o.opt("public_key").map_err(malformed)?;
        let signature: Option<Signature> = o.opt("signature").map_err(malformed)?;
        let signed = match (timestamp, key, signature) {
            (None, None, None) => None,
            (Some(t), Some(key), Some(signature)) => Some((t, Signed { key, signature })),
            _ => {
                return Err(bad(
                    "a signed entry needs all of timestamp, public_key and signature; an unsigned one none of them",
                ))
            }
        };
        let text: Option<String> = o.opt("data").map_err(malformed)?;
        let hex: Option<String> = o.opt("data_hex").map_err(malformed)?;
        let data = match (text, hex) {
            (Some(d), None) => d.into_bytes(),
            (None, Some(h)) => hex::decode(&h).map_err(|e| {
                bad(format!(
                    "data_hex is not hex ({e}): give two hex digits per byte, no prefix"
                ))
            })?,
            _ => return Err(bad("give exactly one of data and data_hex")),
        };
        Ok(SubmitBody {
            author,
            data,
            signed,
        })
    }
}

async fn submit(State(node): State<Shared>, RawQuery(raw): RawQuery, body: Body) -> Answer {
    no_query(raw)?;
    let b = SubmitBody::read(json_body(&node, body).await?)?;
    let n = node.clone();
    let entry = b
        .entry(crate::time::now_ms())
        .map_err(|e| bad(e.to_string()))?;
    let (v, tx) = blocking(move || local::submit_tx(&n.store, entry)).await?;
    node.entry_arrived(&tx, "submit");
    node.mining.new_entries();
    node.announce_entry(&tx);
    json(&v)
}

/// A path parameter, or a JSON 400.
fn segment(p: Result<Path<String>, PathRejection>) -> Result<String, Failure> {
    p.map(|Path(s)| s)
        .map_err(|e| bad(format!("malformed path: {}", e.body_text())))
}

async fn tx(
    State(node): State<Shared>,
    id: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Answer {
    no_query(raw)?;
    let id = segment(id)?;
    let r: api::TxRef = id.parse()?;
    let v = blocking(move || local::tx(&node.store, &r)).await?;
    json(&v)
}

async fn pending(State(node): State<Shared>, RawQuery(raw): RawQuery) -> Answer {
    let q = query(raw, &["from", "limit"])?;
    let from = number(&q, "from")?.unwrap_or(0);
    let limit = number(&q, "limit")?.unwrap_or(DEFAULT_PAGE);
    let v = blocking(move || local::pending(&node.store, from, limit)).await?;
    json(&v)
}

async fn block(
    State(node): State<Shared>,
    r: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Answer {
    no_query(raw)?;
    let r: BlockRef = segment(r)?.parse()?;
    let v = blocking(move || local::block(&node.store, r)).await?;
    json(&v)
}

async fn chain(State(node): State<Shared>, RawQuery(raw): RawQuery) -> Answer {
    let q = query(raw, &["from", "limit"])?;
    let from = number(&q, "from")?;
    let limit = number(&q, "limit")?.unwrap_or(DEFAULT_PAGE);
    let v = blocking(move || local::chain(&node.store, from, limit)).await?;
    json(&v)
}

async fn tips(State(node): State<Shared>, RawQuery(raw): RawQuery) -> Answer {
    no_query(raw)?;
    let v = blocking(move || local::tips(&node.store)).await?;
    json(&v)
}

/// `GET /v1/transactions?author=NAME&from=H.I&limit=N`: an author's
/// transactions (the author is a query parameter, so that any name, `..`
/// or an empty one included, reaches the handler as given).
async fn txs(State(node): State<Shared>, RawQuery(raw): RawQuery) -> Answer {
    let q = query(raw, &["author", "key", "from", "limit"])?;
    let of = match (q.get("author"), q.get("key")) {
        (Some(a), None) => api::TxsOf::Author(a.clone()),
        (None, Some(k)) => api::TxsOf::Key(k.parse().map_err(|e| bad(format!("key: {e}")))?),
        (None, None) => {
            return Err(bad(
                "query parameter \"author\" is missing (or give \"key\")",
            ))
        }
        _ => {
            return Err(bad(
                "give only one of the query parameters \"author\" and \"key\"",
            ))
        }
    };
    let from = match q.get("from") {
        Some(s) => api::parse_position(s)?,
        None => (0, 0),
    };
    let limit = number(&q, "limit")?.unwrap_or(DEFAULT_PAGE);
    let v = blocking(move || local::txs(&node.store, &of, from, limit)).await?;
    json(&v)
}

async fn verify(State(node): State<Shared>, RawQuery(raw): RawQuery) -> Answer {
    no_query(raw)?;
    let v = blocking(move || local::verify(&node.store, &mut |_, _| {})).await?;
    json(&v)
}

/// A `Write` that hands 64 KiB chunks to the response body.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 << 10 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

/// `GET /v1/export`: the export's lines, streamed as they are read.
async fn export(State(node): State<Shared>, RawQuery(raw): RawQuery) -> Answer {
    let q = query(raw, &["from"])?;
    let from = number(&q, "from")?.unwrap_or(0);
    // A height past the tip is a 404 before the stream starts.
    let n = node.clone();
    let tip = blocking(move || Ok::<_, ApiError>(n.store.state()?.height)).await?;
    if from > tip {
        return Err(
            ApiError::from(crate::store::StoreError::NoSuchHeight { height: from, tip }).into(),
        );
    }
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let err_tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let mut w = ChannelWriter {
            tx,
            buf: Vec::new(),
        };
        if let Err(e) = local::export(&node.store, from, &mut w) {
            // Cut the body short: the client sees an incomplete transfer.
            let _ = err_tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `POST /v1/import?name=FILE`: the body (an export) is spooled to a file
/// in the data directory, bounded in size and in time between chunks,
/// then imported as `sledger import` would. `name` is what messages call
/// the file.
async fn import(State(node): State<Shared>, RawQuery(raw): RawQuery, body: Body) -> Answer {
    let q = query(raw, &["name"])?;
    let name = q
        .get("name")
        .cloned()
        .unwrap_or_else(|| "the request body".into());
    // One import at a time: each may spool up to the import limit.
    let _one = node.imports.try_acquire().map_err(|_| {
        ApiError::Conflict(
            "another import is under way on this node; try again when it ends".into(),
        )
    })?;
    let spool = node.store.data_dir().join(format!(
        "{SPOOL_PREFIX}{}.{}.partial",
        std::process::id(),
        crate::node::cookie::new_token().map_err(|e| ApiError::Internal(e.to_string()))?[..8]
            .to_owned()
    ));
    let guard = RemoveOnDrop(spool.clone());
    spool_body(&node, body, &spool).await?;
    let n = node.clone();
    let v = blocking(move || {
        let _guard = guard;
        // Held from the checks to the writes, so that both see one tip.
        let _held = n.write_lock.lock();
        let file = ExportFile { path: spool, name };
        let done = ImportPlan::check(&n.store, file, crate::time::now_ms())?.apply();
        if let Ok(v) = &done {
            tracing::info!(
                imported = v.imported,
                already_present = v.already_present,
                disconnected = v.disconnected,
                height = v.tip.height,
                tip = %v.tip.hash,
                "imported"
            );
        }
        n.tip_moved(Cause::Import);
        done
    })
    .await?;
    // The tip may have moved: the miner searches a fresh template.
    node.mining.new_entries();
    json(&v)
}

/// Writes a request body to `spool`, bounded in size by the import limit,
/// in time between chunks by the read timeout, and in rate by
/// [`MIN_UPLOAD_RATE`].
async fn spool_body(node: &Node, body: Body, spool: &std::path::Path) -> Result<(), Failure> {
    use std::io::Write;
    let spool_error = |source| {
        ApiError::Store(crate::store::StoreError::Io {
            context: "cannot spool the import".into(),
            source,
        })
    };
    let mut file = crate::fsx::create_new(spool, crate::fsx::Mode::Exactly(crate::fsx::OWNER_ONLY))
        .map_err(spool_error)?;
    let mut chunks = body.into_data_stream();
    let mut total = 0u64;
    let started = tokio::time::Instant::now();
    loop {
        if too_slow_upload(total, started.elapsed(), node.limits.read_timeout) {
            return Err(Failure::new(
                StatusCode::REQUEST_TIMEOUT,
                format!("the import body arrives slower than the node's minimum of {MIN_UPLOAD_RATE} bytes a second"),
            ));
        }
        let data = match tokio::time::timeout(node.limits.read_timeout, chunks.next()).await {
            Err(_) => return Err(too_slow()),
            Ok(None) => return Ok(()),
            Ok(Some(Err(e))) => return Err(bad(format!("cannot read the request body: {e}"))),
            Ok(Some(Ok(d))) => d,
        };
        total += data.len() as u64;
        if total > node.limits.import_bytes {
            return Err(Failure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the import is over the node's limit of {} bytes",
                    node.limits.import_bytes
                ),
            ));
        }
        file.write_all(&data).map_err(spool_error)?;
    }
}

/// Whether an upload that brought `total` bytes in `elapsed` is below
/// [`MIN_UPLOAD_RATE`], after a first `grace` in which any rate will do.
fn too_slow_upload(total: u64, elapsed: Duration, grace: Duration) -> bool {
    elapsed > grace && (total as f64) < MIN_UPLOAD_RATE as f64 * elapsed.as_secs_f64()
}

/// Spooled imports are named `import.<pid>.<random>.partial`; a node
/// killed during an import leaves one, which the next node removes.
pub const SPOOL_PREFIX: &str = "import.";

/// Removes spooled imports a killed node left in `data_dir`.
pub fn remove_stale_spools(data_dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(SPOOL_PREFIX) && name.ends_with(".partial") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn mining(State(node): State<Shared>, RawQuery(raw): RawQuery) -> Answer {
    no_query(raw)?;
    json(&node.mining.view())
}

async fn mining_start(State(node): State<Shared>, RawQuery(raw): RawQuery, body: Body) -> Answer {
    no_query(raw)?;
    let req = MineRequest::read(json_body(&node, body).await?).map_err(malformed)?;
    let v = node.mining.start(&node, &req)?;
    json(&v)
}

async fn mining_stop(State(node): State<Shared>, RawQuery(raw): RawQuery) -> Answer {
    no_query(raw)?;
    let v = blocking(move || Ok(node.mining.stop())).await?;
    json(&v)
}

/// `GET /v1/events`: server-sent events, `block` for each block the node
/// seals and `mining` when its miner starts or stops; a comment every
/// second keeps the connection alive. The stream ends when the node stops.
async fn events(State(node): State<Shared>, RawQuery(raw): RawQuery) -> Answer {
    no_query(raw)?;
    Ok(event_stream(node).await)
}

/// The node's events as server-sent events (`/v1/events`, and the
/// explorer's live updates), or a 503 past the cap on open streams.
pub async fn event_stream(node: Shared) -> Response {
    match open_event_stream(node) {
        Ok(r) => r,
        Err(f) => f.into_response(),
    }
}

fn open_event_stream(node: Shared) -> Result<Response, Failure> {
    use axum::response::sse::Event as SseEvent;
    // Streams have a cap of their own: each holds its connection for ever.
    let place = node.streams.clone().try_acquire_owned().map_err(|_| {
        Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "too many event streams are open (at most {MAX_STREAMS}); close one and try again"
            ),
        )
    })?;
    let rx = node.events.subscribe();
    // Ends the stream when the node begins to stop.
    let stop = tokio_stream::wrappers::WatchStream::new(node.stopping.subscribe())
        .filter(|stopping| *stopping)
        .map(|_| None);
    let events = tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(|e| {
        // A client too slow to keep up misses events (`Lagged`), not the node.
        let (name, data) = match e.ok()? {
            Event::Block(v) => ("block", serde_json::to_string(&v)),
            Event::Mining(v) => ("mining", serde_json::to_string(&v)),
            Event::Tip(v) => ("tip", serde_json::to_string(&v)),
            Event::Entry(v) => ("entry", serde_json::to_string(&v)),
        };
        Some(Some(SseEvent::default().event(name).data(data.ok()?)))
    });
    let stream = events
        .merge(stop)
        .take_while(Option::is_some)
        .map(move |e| {
            let _held_while_streaming = &place;
            Ok::<_, std::convert::Infallible>(e.expect("taken while Some"))
        });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(1)))
        .into_response())
}

/// The node's network, or a 409 when it runs without one.
fn network(node: &Node) -> Result<&crate::net::Handle, Failure> {
    node.net.get().ok_or_else(|| {
        Failure::from(ApiError::Conflict(
            "this node runs without the peer-to-peer network: start it with --listen or --peer"
                .into(),
        ))
    })
}

/// A failure of the network or of the peer book's store.
fn net_failure(e: crate::net::NetError) -> Failure {
    Failure::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// A `{peer_id}` path segment, as a peer id.
fn peer_name(p: Result<Path<String>, PathRejection>) -> Result<crate::net::PeerName, Failure> {
    segment(p)?
        .parse()
        .map_err(|e: crate::net::NetError| bad(e.to_string()))
}

/// `GET /v1/peers`: connected peers and bans in force.
async fn peers(State(node): State<Shared>, RawQuery(raw): RawQuery) -> Answer {
    no_query(raw)?;
    let peers = network(&node)?.peers();
    json(&crate::api::views::PeersView {
        peers: peers.into_iter().map(Into::into).collect(),
    })
}

/// `POST /v1/peers` with `{"address": "..."}`: dial it now, and again
/// while it is gone.
async fn add_peer(State(node): State<Shared>, RawQuery(raw): RawQuery, body: Body) -> Answer {
    no_query(raw)?;
    let mut o = json_body(&node, body).await?;
    o.only(&["address"]).map_err(malformed)?;
    let given: String = o.get("address").map_err(malformed)?;
    let addr: crate::net::PeerAddr = given
        .parse()
        .map_err(|e: crate::net::NetError| bad(e.to_string()))?;
    let address = addr.to_string();
    network(&node)?.add_peer(addr).map_err(net_failure)?;
    json(&crate::api::views::PeerAddedView { address })
}

/// `POST /v1/peers/{peer_id}/ban` with an optional `{"seconds": N}`.
async fn ban_peer(
    State(node): State<Shared>,
    id: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Answer {
    no_query(raw)?;
    let peer = peer_name(id)?;
    let mut o = json_body(&node, body).await?;
    o.only(&["seconds"]).map_err(malformed)?;
    let seconds: Option<u64> = o.opt("seconds").map_err(malformed)?;
    let seconds = crate::bounds::BAN_SECONDS
        .check(
            "seconds",
            seconds.unwrap_or(crate::bounds::DEFAULT_BAN_SECONDS),
        )
        .map_err(|e| Failure::from(ApiError::from(e)))?;
    let net = network(&node)?;
    let until = net.ban(peer, Duration::from_secs(seconds)).await;
    json(&crate::api::views::PeerBannedView {
        peer_id: peer.to_string(),
        banned_until: until.map_err(net_failure)?,
    })
}

/// `DELETE /v1/peers/{peer_id}/ban`: lift the ban.
async fn unban_peer(
    State(node): State<Shared>,
    id: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Answer {
    no_query(raw)?;
    let peer = peer_name(id)?;
    let was_banned = network(&node)?.unban(peer).await.map_err(net_failure)?;
    json(&crate::api::views::PeerUnbannedView {
        peer_id: peer.to_string(),
        was_banned,
    })
}

async fn openapi(RawQuery(raw): RawQuery) -> Answer {
    no_query(raw)?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response())
}
