//! The explorer's pages: each reads through [`crate::api::local`] (the
//! same documents as the API) on a blocking thread and renders them with
//! maud, which escapes every value it interpolates. Entry data is shown as
//! escaped text, as a hex dump, or (PNG and JPEG only) as an image served
//! with its own type, `nosniff` and a sandboxing policy.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::{charts, Session, Shared};
use crate::api::views::*;
use crate::api::{local, ApiError, BlockRef, MineRequest, TxRef, TxsOf};
use crate::cli::output::escape_text;
use crate::node::Node;

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");

/// Blocks per chain page, entries per author or pending page.
const PAGE: usize = 20;

/// Blocks the charts cover.
const CHART_BLOCKS: usize = 60;

pub async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}

pub async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        JS,
    )
        .into_response()
}

/// Runs a read off the runtime.
async fn read<T: Send + 'static>(
    node: &Shared,
    f: impl FnOnce(&Node) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, Response> {
    let n = node.clone();
    match tokio::task::spawn_blocking(move || f(&n)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(error_page(&e)),
        Err(_) => Err(refused(StatusCode::INTERNAL_SERVER_ERROR, "internal error")),
    }
}

fn error_page(e: &ApiError) -> Response {
    let status = crate::node::status::of(e);
    refused(status, &e.to_string())
}

/// A page that says why the request was refused.
pub fn refused(status: StatusCode, why: &str) -> Response {
    let body = layout(
        "sledger",
        None,
        false,
        html! {
            h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
            p.bad { (why) }
            p { a href="/" { "Overview" } }
        },
    );
    let mut r = (status, body.into_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// The page frame: header with navigation and search, then `content`.
fn layout(title: &str, session: Option<&Session>, live: bool, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · sledger" }
                link rel="stylesheet" href="/static/app.css";
                script src="/static/app.js" defer {}
            }
            body {
                header {
                    strong { a href="/" { "sledger" } }
                    nav aria-label="Sections" {
                        a href="/" { "Overview" }
                        a href="/chain" { "Chain" }
                        a href="/pending" { "Pending" }
                        a href="/tips" { "Tips" }
                    }
                    @if session.is_some() {
                        form role="search" action="/search" method="get" {
                            label for="q" class="muted" { "Search" }
                            input type="text" id="q" name="q" placeholder="height, hash, txid or author";
                            button type="submit" { "Go" }
                        }
                    }
                    span #live .live.muted {}
                }
                @if live {
                    main data-live="1" { (content) }
                } @else {
                    main { (content) }
                }
            }
        }
    }
}

fn page(title: &str, s: &Session, live: bool, content: Markup) -> Response {
    let mut r = layout(title, Some(s), live, content)
        .into_string()
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn short(h: &impl std::fmt::Display) -> String {
    let s = h.to_string();
    format!(
        "{}…{}",
        &s[..10.min(s.len())],
        &s[s.len().saturating_sub(6)..]
    )
}

fn time(ms: u64) -> String {
    crate::time::format_ms(ms)
}

fn block_link(hash: &crate::consensus::BlockHash) -> Markup {
    html! { a.hash href={ "/block/" (hash) } title=(hash) { (short(hash)) } }
}

fn tx_link(txid: &crate::consensus::Txid) -> Markup {
    html! { a.hash href={ "/tx/" (txid) } title=(txid) { (short(txid)) } }
}

fn author_link(author: &str) -> Markup {
    html! { a href={ "/author/" (urlencode(author)) } { (escape_text(author)) } }
}

/// Text for people: the CLI's escaping of characters that could make one
/// text look like another (bidi overrides, zero-width characters; README,
/// "Output"), line by line, so that line breaks stay.
fn visible(text: &str) -> String {
    text.split('\n')
        .map(escape_text)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Percent-encodes every byte but unreserved ASCII, for a path segment.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn csrf_field(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

fn signed_badge(tx: &TxFields) -> Markup {
    match &tx.public_key {
        Some(k) => html! { span.badge title=(k) { "signed " (k.fingerprint()) } },
        None => html! { span.badge.muted { "unsigned" } },
    }
}

fn blocks_table(rows: &[BlockSummary]) -> Markup {
    html! {
        table {
            thead { tr { th { "Height" } th { "Hash" } th { "Time" } th { "Bits" } th { "Entries" } th { "Size" } } }
            tbody {
                @for b in rows {
                    tr {
                        td { a href={ "/block/" (b.height) } { (b.height) } }
                        td { (block_link(&b.hash)) }
                        td { (time(b.timestamp)) }
                        td { (b.difficulty) }
                        td { (b.transaction_count) }
                        td { (b.size) " B" }
                    }
                }
            }
        }
    }
}

fn tx_rows<'a>(rows: impl Iterator<Item = (&'a TxFields, Markup)>) -> Markup {
    html! {
        table {
            thead { tr { th { "Entry" } th { "Author" } th { "Signature" } th { "Time" } th { "Data" } th { "Where" } } }
            tbody {
                @for (tx, at) in rows {
                    tr {
                        td { (tx_link(&tx.txid)) }
                        td { (author_link(&tx.author)) }
                        td { (signed_badge(tx)) }
                        td { (time(tx.timestamp)) }
                        td { code { (crate::cli::output::preview(&tx.data_bytes(), 60)) } }
                        td { (at) }
                    }
                }
            }
        }
    }
}

pub async fn overview(State(node): State<Shared>, Extension(s): Extension<Session>) -> Response {
    let data = read(&node, |n| {
        let status = local::status(&n.store)?;
        let chain = local::chain(&n.store, None, CHART_BLOCKS)?;
        Ok((status, chain))
    })
    .await;
    let (status, chain) = match data {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mining = node.mining.view();
    let network = node.net.get().map(|n| (n.peer_count(), n.sync()));
    let p = &status.params;
    let rate = charts::hash_rate(&chain.blocks);
    let content = html! {
        h1 { "Ledger \u{201c}" (status.name) "\u{201d}" }
        section.cards aria-label="Summary" {
            div.card { span.muted { "Height" } b { (status.tip.height) } }
            div.card { span.muted { "Tip" } b { (block_link(&status.tip.hash)) } }
            div.card { span.muted { "Chain work" } b { (status.chain_work) } }
            div.card { span.muted { "Difficulty" } b { (status.next_difficulty) " bits next" } }
            div.card { span.muted { "Hash rate (recent)" } b { (format!("{:.2} MH/s", rate / 1e6)) } }
            div.card { span.muted { "Pending" } b { a href="/pending" { (status.pending_count) } } }
            div.card { span.muted { "Mining" } b { @if mining.active { "active (" (mining.threads) " threads)" } @else { "stopped" } } }
            @if let Some((peers, sync)) = &network {
                div.card { span.muted { "Peers" } b { (peers) } }
                div.card { span.muted { "Sync" } b { (sync.phase) " " (sync.headers) } }
            }
        }
        p.muted {
            @if p.fixed_difficulty { "Fixed difficulty " (p.initial_difficulty) " bits; no target time between blocks." }
            @else { "Target " (p.target_interval_ms) " ms per block, retarget every " (p.retarget_window) " blocks." }
            " Signatures " (p.signatures) ". Genesis " (block_link(&status.genesis)) "."
        }
        section aria-label="Mining" {
            h2 { "Mining" }
            @if mining.active {
                form.inline method="post" action="/mining/stop" { (csrf_field(&s)) button type="submit" { "Stop mining" } }
            } @else {
                form.inline method="post" action="/mining/start" { (csrf_field(&s)) button type="submit" { "Start mining" } }
            }
        }
        section aria-label="Charts" {
            h2 { "Recent blocks" }
            (charts::intervals(&chain.blocks, (!p.fixed_difficulty).then_some(p.target_interval_ms)))
            (charts::difficulty(&chain.blocks))
            (charts::rates(&chain.blocks))
        }
        section aria-label="Latest blocks" {
            h2 { "Latest blocks" }
            (blocks_table(&chain.blocks[..chain.blocks.len().min(10)]))
            p { a href="/chain" { "The whole chain" } }
        }
        section aria-label="Submit an entry" {
            h2 { "Submit an entry" }
            @if p.signatures == "required" {
                p { "This ledger takes signed entries only. Sign one with the CLI:" }
                pre { "sledger key new NAME\nsledger submit --sign NAME \"your entry\"" }
            } @else {
                form method="post" action="/submit" {
                    (csrf_field(&s))
                    p { label for="author" { "Author" } br; input type="text" id="author" name="author" required; }
                    p { label for="data" { "Data" } br; textarea id="data" name="data" rows="3" required {} }
                    button type="submit" { "Submit" }
                }
            }
        }
    };
    page("Overview", &s, true, content)
}

#[derive(Deserialize)]
pub struct FromQuery {
    from: Option<String>,
}

pub async fn chain(
    State(node): State<Shared>,
    Extension(s): Extension<Session>,
    Query(q): Query<FromQuery>,
) -> Response {
    let from = q.from.as_deref().and_then(|f| f.parse::<u64>().ok());
    let v = match read(&node, move |n| local::chain(&n.store, from, PAGE)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let content = html! {
        h1 { "Chain" }
        p.muted { "Newest first; the tip is block " (v.tip.height) " " (block_link(&v.tip.hash)) "." }
        (blocks_table(&v.blocks))
        nav aria-label="Pages" {
            @if from.is_some() { a href="/chain" { "Newest" } " " }
            @if let Some(next) = v.next_from { a href={ "/chain?from=" (next) } rel="next" { "Older blocks" } }
        }
    };
    page("Chain", &s, from.is_none(), content)
}

pub async fn block(
    State(node): State<Shared>,
    Extension(s): Extension<Session>,
    Path(r): Path<String>,
) -> Response {
    let r: BlockRef = match r.parse() {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    let data = read(&node, move |n| {
        let b = local::block(&n.store, r)?;
        let child = local::chain(&n.store, Some(b.block.height + 1), 1)
            .ok()
            .and_then(|c| c.blocks.first().map(|x| x.hash))
            .filter(|_| b.active);
        Ok((b, child))
    })
    .await;
    let (b, child) = match data {
        Ok(v) => v,
        Err(r) => return r,
    };
    let h = &b.block;
    let content = html! {
        h1 { "Block " (h.height) }
        @if !b.active { p.bad { "This block is on a side branch, not on the active chain." } }
        dl {
            dt { "Hash" } dd { code { (h.hash) } }
            dt { "Previous" } dd { @if h.height > 0 { (block_link(&h.prev_hash)) } @else { "none (genesis)" } }
            dt { "Next" } dd { @if let Some(c) = child { (block_link(&c)) } @else { "none yet" } }
            dt { "Time" } dd { (time(h.timestamp)) }
            dt { "Version" } dd { (h.version) }
            dt { "Merkle root" } dd { code { (h.merkle_root) } }
            dt { "Difficulty" } dd { (h.difficulty) " bits" }
            dt { "Nonce" } dd { (h.nonce) }
            dt { "Chain work" } dd { (h.chain_work) }
            dt { "Size" } dd { (h.size) " bytes, " (h.transaction_count) " entries" }
        }
        h2 { "Entries" }
        (tx_rows(b.transactions.iter().enumerate().map(|(i, t)| (t, html! { "#" (i) }))))
    };
    page(&format!("Block {}", h.height), &s, false, content)
}

/// The entry `given` names (an id or a unique prefix), or the error page.
async fn entry(node: &Shared, given: &str) -> Result<TxView, Response> {
    let r: TxRef = given.parse().map_err(|e| error_page(&e))?;
    read(node, move |n| local::tx(&n.store, &r)).await
}

pub async fn tx(
    State(node): State<Shared>,
    Extension(s): Extension<Session>,
    Path(r): Path<String>,
) -> Response {
    let v = match entry(&node, &r).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let bytes = v.tx.data_bytes();
    let text = std::str::from_utf8(&bytes).ok();
    let image = image_type(&bytes).is_some();
    let content = html! {
        h1 { "Entry" }
        dl {
            dt { "Id" } dd { code { (v.tx.txid) } }
            dt { "Author" } dd { (author_link(&v.tx.author)) }
            dt { "Signature" } dd {
                @match &v.tx.public_key {
                    Some(k) => { "signed by key " code { (k.fingerprint()) } " (" code { (k) } ")" }
                    None => { "unsigned" }
                }
            }
            dt { "Time" } dd { (time(v.tx.timestamp)) }
            dt { "Status" } dd {
                (format!("{:?}", v.status).to_lowercase())
                @if let (Some(b), Some(h), Some(i)) = (&v.block, v.height, v.index) {
                    " in block " a href={ "/block/" (h) } { (h) } " (" (block_link(b)) "), position " (i)
                }
                @if let Some(seq) = v.seq { ", arrival #" (seq) }
            }
            dt { "Size" } dd { (bytes.len()) " bytes" }
        }
        h2 { "Data" }
        p { a href={ "/tx/" (v.tx.txid) "/data" } download { "Download the exact bytes" } }
        @if image {
            img.preview src={ "/tx/" (v.tx.txid) "/data?view=image" } alt="The entry's data, as an image";
        }
        @if let Some(t) = text {
            h3 { "As text" }
            pre { (visible(t)) }
        }
        h3 { "As hex" }
        pre { (hex_dump(&bytes, 4096)) }
    };
    page("Entry", &s, false, content)
}

/// `image/png` or `image/jpeg` when `bytes` start as one does.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// Offset, 16 bytes in hex, and their printable ASCII; at most `max` bytes.
fn hex_dump(bytes: &[u8], max: usize) -> String {
    let mut out = String::new();
    for (i, row) in bytes[..bytes.len().min(max)].chunks(16).enumerate() {
        let hex: Vec<String> = row.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = row
            .iter()
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        out += &format!("{:08x}  {:<47}  {ascii}\n", i * 16, hex.join(" "));
    }
    if bytes.len() > max {
        out += &format!("… {} more bytes (download them)\n", bytes.len() - max);
    }
    out
}

#[derive(Deserialize)]
pub struct DataQuery {
    view: Option<String>,
}

/// An entry's exact bytes: an attachment, or with `?view=image` a PNG or
/// JPEG shown as such (anything else stays an attachment).
pub async fn tx_data(
    State(node): State<Shared>,
    Path(r): Path<String>,
    Query(q): Query<DataQuery>,
) -> Response {
    let v = match entry(&node, &r).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let bytes = v.tx.data_bytes();
    let inline = q.view.as_deref() == Some("image");
    let (kind, disposition) = match (inline, image_type(&bytes)) {
        (true, Some(kind)) => (kind, "inline".to_owned()),
        _ => (
            "application/octet-stream",
            format!("attachment; filename=\"{}.bin\"", v.tx.txid),
        ),
    };
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(d) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, d);
    }
    r
}

#[derive(Deserialize)]
pub struct PositionQuery {
    from: Option<String>,
}

pub async fn author(
    State(node): State<Shared>,
    Extension(s): Extension<Session>,
    Path(name): Path<String>,
    Query(q): Query<PositionQuery>,
) -> Response {
    let from = match q
        .from
        .as_deref()
        .map(crate::api::parse_position)
        .transpose()
    {
        Ok(f) => f.unwrap_or((0, 0)),
        Err(e) => return error_page(&e),
    };
    let who = name.clone();
    let v = match read(&node, move |n| {
        local::txs(&n.store, &TxsOf::Author(who), from, PAGE)
    })
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    let content = html! {
        h1 { "Entries by \u{201c}" (escape_text(&name)) "\u{201d}" }
        @if v.transactions.is_empty() { p.muted { "None in the active chain." } }
        (tx_rows(v.transactions.iter().map(|t| (&t.tx, html! { a href={ "/block/" (t.height) } { (t.height) } "." (t.index) }))))
        @if let Some(next) = &v.next_from {
            nav aria-label="Pages" { a rel="next" href={ "/author/" (urlencode(&name)) "?from=" (next) } { "More" } }
        }
    };
    page("Author", &s, false, content)
}

pub async fn pending(
    State(node): State<Shared>,
    Extension(s): Extension<Session>,
    Query(q): Query<FromQuery>,
) -> Response {
    let from = q
        .from
        .as_deref()
        .and_then(|f| f.parse::<u64>().ok())
        .unwrap_or(0);
    let v = match read(&node, move |n| local::pending(&n.store, from, PAGE)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let content = html! {
        h1 { "Pending entries" }
        p.muted { (v.pending_count) " waiting, oldest first." }
        (tx_rows(v.transactions.iter().map(|t| (&t.tx, html! { "#" (t.seq) }))))
        @if let Some(next) = v.next_from {
            nav aria-label="Pages" { a rel="next" href={ "/pending?from=" (next) } { "More" } }
        }
    };
    page("Pending", &s, from == 0, content)
}

pub async fn tips(State(node): State<Shared>, Extension(s): Extension<Session>) -> Response {
    let v = match read(&node, |n| local::tips(&n.store)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let content = html! {
        h1 { "Branch tips" }
        p.muted { "Blocks without children; the branch with the most work is active." }
        table {
            thead { tr { th { "Height" } th { "Hash" } th { "Chain work" } th { "" } } }
            tbody {
                @for t in &v.tips {
                    tr { td { (t.height) } td { (block_link(&t.hash)) } td { (t.chain_work) } td { @if t.active { "active" } @else { "side branch" } } }
                }
            }
        }
    };
    page("Tips", &s, true, content)
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

/// A height, a block hash or txid (or a unique prefix of one), else an
/// author: goes to its page.
pub async fn search(
    State(node): State<Shared>,
    Extension(s): Extension<Session>,
    Query(q): Query<SearchQuery>,
) -> Response {
    let q = q.q.unwrap_or_default().trim().to_owned();
    if q.is_empty() {
        return Redirect::to("/").into_response();
    }
    let wanted = q.clone();
    let found = read(&node, move |n| {
        if let Ok(r) = wanted.parse::<BlockRef>() {
            if let Ok(b) = local::block(&n.store, r) {
                return Ok(Some(format!("/block/{}", b.block.hash)));
            }
        }
        if let Ok(r) = wanted.parse::<TxRef>() {
            if let Ok(t) = local::tx(&n.store, &r) {
                return Ok(Some(format!("/tx/{}", t.tx.txid)));
            }
        }
        let by = local::txs(&n.store, &TxsOf::Author(wanted.clone()), (0, 0), 1)?;
        Ok((!by.transactions.is_empty()).then(|| format!("/author/{}", urlencode(&wanted))))
    })
    .await;
    match found {
        Ok(Some(to)) => Redirect::to(&to).into_response(),
        Ok(None) => {
            let content = html! {
                h1 { "Search" }
                p { "Nothing matches \u{201c}" (q) "\u{201d}: no height, block hash, entry id or author." }
            };
            let mut r = page("Search", &s, false, content);
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub struct SubmitForm {
    csrf: String,
    author: String,
    data: String,
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

fn csrf_ok(s: &Session, given: &str) -> bool {
    crate::node::routes::constant_time_eq(s.csrf.as_bytes(), given.as_bytes())
}

fn bad_csrf() -> Response {
    refused(
        StatusCode::FORBIDDEN,
        "This form has expired or came from elsewhere; reload the page.",
    )
}

pub async fn submit(
    State(node): State<Shared>,
    Extension(s): Extension<Session>,
    Form(f): Form<SubmitForm>,
) -> Response {
    if !csrf_ok(&s, &f.csrf) {
        return bad_csrf();
    }
    let (author, data) = (f.author, f.data.into_bytes());
    let submitted = read(&node, move |n| local::submit(&n.store, &author, data)).await;
    match submitted {
        Ok(v) => {
            // As the API's submit: the miner and the peers hear of it.
            if let Ok(Some(crate::store::TxStatus::Pending { tx, .. })) =
                node.store.find_tx(&v.txid)
            {
                node.entry_arrived(&tx, "submit");
                node.announce_entry(&tx);
            }
            node.mining.new_entries();
            Redirect::to(&format!("/tx/{}", v.txid)).into_response()
        }
        Err(r) => r,
    }
}

pub async fn mining_start(
    State(node): State<Shared>,
    Extension(s): Extension<Session>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !csrf_ok(&s, &f.csrf) {
        return bad_csrf();
    }
    let n = node.clone();
    let started =
        tokio::task::spawn_blocking(move || n.mining.start(&n, &MineRequest::default())).await;
    match started {
        Ok(Ok(_)) => Redirect::to("/").into_response(),
        Ok(Err(e)) => error_page(&e),
        Err(_) => refused(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    }
}

pub async fn mining_stop(
    State(node): State<Shared>,
    Extension(s): Extension<Session>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !csrf_ok(&s, &f.csrf) {
        return bad_csrf();
    }
    let n = node.clone();
    let _ = tokio::task::spawn_blocking(move || n.mining.stop()).await;
    Redirect::to("/").into_response()
}

/// The node's event stream, for the pages' live updates.
pub async fn events(State(node): State<Shared>) -> Response {
    crate::node::routes::event_stream(node).await
}

#[derive(Deserialize)]
pub struct LoginQuery {
    code: Option<String>,
}

/// Trades a one-time code for a session cookie, then goes to the overview.
pub async fn login(State(node): State<Shared>, Query(q): Query<LoginQuery>) -> Response {
    let Some(id) = q
        .code
        .as_deref()
        .and_then(|c| super::open_session(&node, c))
    else {
        return refused(
            StatusCode::FORBIDDEN,
            "This login link is unknown, used or expired: run `sledger open` for a new one.",
        );
    };
    let cookie = format!(
        "{}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        super::COOKIE,
        super::SESSION_LIFETIME.as_secs()
    );
    let mut r = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}
