//! [`RemoteLedger`]: the [`Ledger`] the CLI uses while a node owns the
//! ledger. Each operation is one request to the node (the miner follows
//! the node's event stream); the node's error line comes back as the
//! error, so a command prints what it would have printed on the store.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::cookie::Cookie;
use super::identity::{self, IDENTITY_PATH};
use crate::api::views::*;
use crate::api::{ApiError, BlockRef, Ledger, MineHooks, MineRequest, TxRef, TxsOf};
use crate::consensus::Transaction;

/// Sends `request()` up to three times while the connection breaks after it
/// was made (a node under a flood of connections without the token lets
/// the oldest go, [`super::admission`]); a refused connection or any
/// answer is returned at once. Only for requests safe to repeat.
#[allow(clippy::result_large_err)] // ureq's own result, handed to `answer`
fn with_retries(request: impl Fn() -> ureq::Request) -> Result<ureq::Response, ureq::Error> {
    let mut tries = 1;
    loop {
        match request().call() {
            Err(ureq::Error::Transport(t)) if t.kind() == ureq::ErrorKind::Io && tries < 3 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20 * tries));
            }
            other => return other,
        }
    }
}

/// A node reached through its cookie.
pub struct RemoteLedger {
    cookie: Cookie,
    /// For answers that come at once (and the event stream, which sends
    /// a keep-alive every second): a read that waits a minute fails.
    agent: ureq::Agent,
    /// For `verify`, `import` and `export`, whose first byte can take as
    /// long as the whole chain.
    patient: ureq::Agent,
}

impl RemoteLedger {
    /// Connects to the node the cookie names, checks that it proves it
    /// holds the cookie's token (before the token is sent anywhere), and
    /// that it answers as a node, with this token.
    pub fn connect(cookie: Cookie) -> Result<RemoteLedger, ApiError> {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(3))
            .timeout_read(Duration::from_secs(60))
            .build();
        let patient = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(3))
            .build();
        let r = RemoteLedger {
            cookie,
            agent,
            patient,
        };
        r.check_identity()?;
        let pong: serde_json::Value =
            r.answer(with_retries(|| r.request("GET", "/v1/ping", &[])))?;
        if pong.get("pid").is_none() {
            return Err(r.unreachable("does not answer as a sledger node"));
        }
        Ok(r)
    }

    /// Asks the server at the cookie's address to prove it holds the token
    /// ([`identity`]); any other process on that port fails here, and is
    /// never sent the token.
    fn check_identity(&self) -> Result<(), ApiError> {
        let challenge = identity::new_challenge()
            .map_err(|e| self.unreachable(format!("cannot draw a challenge: {e}")))?;
        let r = with_retries(|| {
            self.agent
                .get(&self.url(IDENTITY_PATH))
                .query("challenge", &hex::encode(challenge))
        });
        let answer: serde_json::Value = self.answer(r).map_err(|e| match e {
            ApiError::Node { .. } => self.impostor(),
            other => other,
        })?;
        let proof = answer.get("proof").and_then(|p| p.as_str()).unwrap_or("");
        if identity::is_proof(&self.cookie.token, &challenge, proof) {
            Ok(())
        } else {
            Err(self.impostor())
        }
    }

    fn impostor(&self) -> ApiError {
        self.unreachable(
            "does not prove it holds the node cookie's token (another process listens there); the token was not sent",
        )
    }

    pub fn address(&self) -> &str {
        &self.cookie.address
    }

    fn unreachable(&self, reason: impl Into<String>) -> ApiError {
        ApiError::Unreachable {
            address: self.cookie.address.clone(),
            reason: reason.into(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.cookie.address)
    }

    fn request(&self, method: &str, path: &str, query: &[(&str, String)]) -> ureq::Request {
        self.request_with(&self.agent, method, path, query)
    }

    fn request_with(
        &self,
        agent: &ureq::Agent,
        method: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> ureq::Request {
        let mut req = agent
            .request(method, &self.url(path))
            .set("Authorization", &format!("Bearer {}", self.cookie.token));
        for (k, v) in query {
            req = req.query(k, v);
        }
        req
    }

    /// Turns a response into a document, or the node's error into ours.
    fn answer<T: DeserializeOwned>(
        &self,
        r: Result<ureq::Response, ureq::Error>,
    ) -> Result<T, ApiError> {
        match r {
            Ok(resp) => serde_json::from_reader(resp.into_reader()).map_err(|e| {
                self.unreachable(format!("sent an answer this sledger cannot read: {e}"))
            }),
            Err(ureq::Error::Status(status, resp)) => {
                let e: Result<ErrorView, _> = serde_json::from_reader(resp.into_reader());
                Err(match e {
                    Ok(e) => ApiError::Node {
                        status,
                        message: e.error,
                        code: e.code,
                    },
                    Err(_) => self.unreachable(format!("answered with status {status}")),
                })
            }
            Err(ureq::Error::Transport(t)) => {
                Err(self.unreachable(format!("cannot be reached: {t}")))
            }
        }
    }

    /// The data of an event named `kind`.
    fn event<T: DeserializeOwned>(&self, kind: &str, data: &str) -> Result<T, ApiError> {
        serde_json::from_str(data).map_err(|e| {
            self.unreachable(format!("sent a {kind} event this sledger cannot read: {e}"))
        })
    }

    fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        self.answer(self.request("GET", path, query).call())
    }

    fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, ApiError> {
        self.answer(self.request("POST", path, &[]).send_json(body))
    }
}

/// The node's peer-to-peer network (`sledger peers`): only a node has one.
impl RemoteLedger {
    /// A one-time login URL for the explorer (`POST /v1/explorer/login`).
    pub fn explorer_login(&self) -> Result<ExplorerLoginView, ApiError> {
        self.post("/v1/explorer/login", &serde_json::json!({}))
    }

    pub fn peers(&self) -> Result<PeersView, ApiError> {
        self.get("/v1/peers", &[])
    }

    pub fn add_peer(&self, address: &str) -> Result<PeerAddedView, ApiError> {
        self.post("/v1/peers", &serde_json::json!({ "address": address }))
    }

    pub fn ban_peer(&self, peer_id: &str, seconds: u64) -> Result<PeerBannedView, ApiError> {
        let path = format!("/v1/peers/{peer_id}/ban");
        self.post(&path, &serde_json::json!({ "seconds": seconds }))
    }

    pub fn unban_peer(&self, peer_id: &str) -> Result<PeerUnbannedView, ApiError> {
        let path = format!("/v1/peers/{peer_id}/ban");
        self.answer(self.request("DELETE", &path, &[]).call())
    }
}

impl Ledger for RemoteLedger {
    fn submit(&self, author: &str, data: Vec<u8>) -> Result<SubmitView, ApiError> {
        let body = match String::from_utf8(data) {
            Ok(text) => serde_json::json!({ "author": author, "data": text }),
            Err(e) => {
                serde_json::json!({ "author": author, "data_hex": hex::encode(e.as_bytes()) })
            }
        };
        self.post("/v1/transactions", &body)
    }
    fn submit_signed(&self, tx: &Transaction) -> Result<SubmitView, ApiError> {
        // The export's fields of the entry (with its timestamp, key and
        // signature) but its txid, which the node computes.
        let mut body = serde_json::to_value(crate::export::TxJson::new(tx))
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        if let Some(o) = body.as_object_mut() {
            o.remove("txid");
        }
        self.post("/v1/transactions", &body)
    }
    fn pending(&self, from: u64, limit: usize) -> Result<PendingView, ApiError> {
        self.get(
            "/v1/pending",
            &[("from", from.to_string()), ("limit", limit.to_string())],
        )
    }
    fn block(&self, r: BlockRef) -> Result<BlockView, ApiError> {
        self.get(&format!("/v1/blocks/{r}"), &[])
    }
    fn chain(&self, from: Option<u64>, limit: usize) -> Result<ChainView, ApiError> {
        let mut q = vec![("limit", limit.to_string())];
        if let Some(f) = from {
            q.push(("from", f.to_string()));
        }
        self.get("/v1/chain", &q)
    }
    fn tips(&self) -> Result<TipsView, ApiError> {
        self.get("/v1/tips", &[])
    }
    fn tx(&self, r: &TxRef) -> Result<TxView, ApiError> {
        self.get(&format!("/v1/transactions/{r}"), &[])
    }
    fn txs(&self, of: &TxsOf, from: (u64, u32), limit: usize) -> Result<TxsView, ApiError> {
        let whose = match of {
            TxsOf::Author(a) => ("author", a.clone()),
            TxsOf::Key(k) => ("key", k.to_hex()),
        };
        self.get(
            "/v1/transactions",
            &[
                whose,
                ("from", format!("{}.{}", from.0, from.1)),
                ("limit", limit.to_string()),
            ],
        )
    }
    fn status(&self) -> Result<StatusView, ApiError> {
        self.get("/v1/status", &[])
    }
    fn verify(&self, _progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyView, ApiError> {
        self.answer(
            self.request_with(&self.patient, "POST", "/v1/verify", &[])
                .call(),
        )
    }
    fn export(&self, from: u64, out: &mut dyn Write) -> Result<u64, ApiError> {
        let resp = self
            .request_with(
                &self.patient,
                "GET",
                "/v1/export",
                &[("from", from.to_string())],
            )
            .call();
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return self.answer::<serde_json::Value>(Err(e)).map(|_| 0),
        };
        let mut reader = BufReader::new(resp.into_reader());
        let mut n = 0u64;
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| self.unreachable(format!("stopped sending the export: {e}")))?;
            if read == 0 {
                break;
            }
            if line.last() != Some(&b'\n') {
                return Err(self.unreachable("sent an export cut short"));
            }
            out.write_all(&line).map_err(ApiError::export_write)?;
            n += 1;
        }
        out.flush().map_err(ApiError::export_write)?;
        Ok(n)
    }
    fn import(&self, file: &crate::api::import::ExportFile) -> Result<ImportView, ApiError> {
        let name = file.name.clone();
        let f = std::fs::File::open(&file.path)
            .map_err(|e| ApiError::Io(format!("cannot open {name}: {e}")))?;
        self.answer(
            self.request_with(
                &self.patient,
                "POST",
                "/v1/import",
                &[("name", name.clone())],
            )
            .set("Content-Type", "application/x-ndjson")
            .send(f),
        )
    }
    fn mine(
        &self,
        req: &MineRequest,
        stop: &AtomicBool,
        hooks: MineHooks<'_>,
    ) -> Result<MineSummary, ApiError> {
        let (note, each) = (hooks.note, hooks.mined);
        req.check()?;
        // Subscribe before starting, so that no block is missed.
        let mut lines = self.events()?;
        let started: MiningView = self.post("/v1/mining/start", req)?;
        let run = started.run;
        let ours = started.already_active != Some(true);
        if !ours {
            note(format!(
                "the node at {} is already mining ({} thread(s)); following its blocks",
                self.cookie.address, started.threads
            ));
        }
        let mut summary = MineSummary::default();
        let enough = |s: &MineSummary| req.blocks.is_some_and(|n| s.mined >= n);
        // Events of other runs (one that ended just before, or another
        // client's) are skipped: every event names its run.
        let ended = loop {
            if stop.load(Ordering::Relaxed) {
                break None;
            }
            // Our own run stops by itself after its blocks: wait for it to
            // end, so that the node is free when this command returns.
            if !ours && enough(&summary) {
                break None;
            }
            let Some((event, data)) = lines
                .next_event()
                .map_err(|e| self.unreachable(format!("stopped sending events: {e}")))?
            else {
                return Err(self.unreachable("stopped while mining"));
            };
            match event.as_str() {
                "block" => {
                    let v: SealedEvent = self.event("block", &data)?;
                    if v.run == run && !enough(&summary) {
                        summary.mined += 1;
                        summary.hashes += v.block.hashes;
                        each(&v.block)?;
                    }
                }
                "mining" => {
                    let v: MiningView = self.event("mining", &data)?;
                    if v.run == run && !v.active {
                        break Some(v);
                    }
                }
                _ => {}
            }
        };
        let end = match ended {
            Some(v) => Some(v),
            None if ours => Some(self.post("/v1/mining/stop", &serde_json::json!({}))?),
            None => None,
        };
        if let Some(end) = end.filter(|v| v.run == run) {
            if let Some(e) = end.last_error {
                return Err(ApiError::Node {
                    status: 500,
                    message: e,
                    code: "internal".into(),
                });
            }
            if let Some(r) = end.last_run.filter(|_| ours) {
                summary.stopped_at = r.stopped_at;
            }
        }
        summary.tip = Some(self.chain(None, 0)?.tip);
        Ok(summary)
    }
    fn schema_versions(&self) -> Result<(u32, u32), ApiError> {
        let v = self.status()?.schema_version;
        Ok((v, v))
    }
    fn is_remote(&self) -> bool {
        true
    }
}

impl RemoteLedger {
    /// The node's event stream, subscribed.
    fn events(&self) -> Result<SseReader<Box<dyn Read + Send + Sync>>, ApiError> {
        let events = self
            .request("GET", "/v1/events", &[])
            .set("Accept", "text/event-stream")
            .call();
        match events {
            Ok(r) => Ok(SseReader::new(r.into_reader())),
            Err(e) => match self.answer::<()>(Err(e)) {
                Err(e) => Err(e),
                Ok(()) => Err(self.unreachable("did not open the event stream")),
            },
        }
    }

    /// Follows the node's event stream, calling `each` per event, until
    /// `stop` is raised (`Ok(true)`) or the node ends the stream
    /// (`Ok(false)`: it stopped). Events of a kind this client does not
    /// know are skipped.
    pub fn watch(
        &self,
        stop: &AtomicBool,
        each: &mut dyn FnMut(&NodeEvent),
    ) -> Result<bool, ApiError> {
        let mut lines = self.events()?;
        while !stop.load(Ordering::Relaxed) {
            let next = match lines.next_event() {
                Ok(Some(next)) => next,
                // The stream ended or broke: the node is stopping or gone.
                Ok(None) | Err(_) => return Ok(false),
            };
            let event = match next.0.as_str() {
                "block" => NodeEvent::Block(self.event("block", &next.1)?),
                "mining" => NodeEvent::Mining(self.event("mining", &next.1)?),
                "tip" => NodeEvent::Tip(self.event("tip", &next.1)?),
                "entry" => NodeEvent::Entry(self.event("entry", &next.1)?),
                _ => continue,
            };
            each(&event);
        }
        Ok(true)
    }
}

/// Reads server-sent events: `(event name, data)` per blank-line-ended
/// block; comments (the keep-alives) are skipped.
struct SseReader<R> {
    reader: BufReader<R>,
}

impl<R: Read> SseReader<R> {
    fn new(r: R) -> Self {
        SseReader {
            reader: BufReader::new(r),
        }
    }

    /// The next event, `None` at the end of the stream, or an empty name
    /// for a keep-alive (so the caller gets control back every second).
    fn next_event(&mut self) -> std::io::Result<Option<(String, String)>> {
        let (mut event, mut data) = (String::new(), String::new());
        let mut line = String::new();
        loop {
            line.clear();
            let n = (&mut self.reader).take(1 << 24).read_line(&mut line)?;
            if n == 0 {
                return Ok(None);
            }
            let l = line.trim_end_matches(['\r', '\n']);
            if l.is_empty() {
                if event.is_empty() && data.is_empty() {
                    continue;
                }
                return Ok(Some((event, data)));
            }
            if l.starts_with(':') {
                // A keep-alive: hand control back so the caller can check
                // for Ctrl-C.
                return Ok(Some((String::new(), String::new())));
            }
            if let Some(v) = l.strip_prefix("event:") {
                event = v.trim_start().to_owned();
            } else if let Some(v) = l.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
    }
}
