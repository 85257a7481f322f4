//! The ledger's operations behind one interface, [`Ledger`], with two
//! implementations: [`local::LocalLedger`] runs them on an open store, and
//! [`crate::node::client::RemoteLedger`] asks a running node, which runs
//! them with [`local`]'s functions. Each returns a document of [`views`],
//! so the CLI prints the same whichever way a command went.

pub mod import;
pub mod json;
pub mod local;
pub mod mining_run;
pub mod views;

use std::io::Write;

use crate::bounds::{self, BoundError};
use crate::consensus::{BlockHash, Txid};
use crate::store::StoreError;
use views::*;

pub use crate::consensus::hash::{IdPrefix, MIN_PREFIX_DIGITS};

/// A block by height, by hash, by a unique prefix of its hash, or the tip
/// of the active chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockRef {
    Height(u64),
    Hash(BlockHash),
    Prefix(IdPrefix),
    Tip,
}

impl std::str::FromStr for BlockRef {
    type Err = ApiError;

    /// `tip`; all digits and shorter than a hash: a height; 64 hex digits:
    /// a hash; 4 to 63 hex digits with a letter among them: a prefix.
    fn from_str(s: &str) -> Result<Self, ApiError> {
        if s == "tip" {
            return Ok(BlockRef::Tip);
        }
        if !s.is_empty() && s.len() < 64 && s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse()
                .map(BlockRef::Height)
                .map_err(|_| ApiError::BadRequest(format!("height {s} is out of range")));
        }
        if let Ok(h) = s.parse() {
            return Ok(BlockRef::Hash(h));
        }
        IdPrefix::parse(s).map(BlockRef::Prefix).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "malformed block reference \"{s}\": expected a height, \"tip\", or a block hash (64 hex digits, or at least the first {MIN_PREFIX_DIGITS})"
            ))
        })
    }
}

impl std::fmt::Display for BlockRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockRef::Height(h) => write!(f, "{h}"),
            BlockRef::Hash(h) => write!(f, "{h}"),
            BlockRef::Prefix(p) => write!(f, "{p}"),
            BlockRef::Tip => write!(f, "tip"),
        }
    }
}

/// A transaction by id, or by a unique prefix of its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxRef {
    Id(Txid),
    Prefix(IdPrefix),
}

impl std::str::FromStr for TxRef {
    type Err = ApiError;

    fn from_str(s: &str) -> Result<Self, ApiError> {
        if let Ok(id) = s.parse() {
            return Ok(TxRef::Id(id));
        }
        IdPrefix::parse(s).map(TxRef::Prefix).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "malformed transaction id \"{s}\": expected 64 hex digits, or at least the first {MIN_PREFIX_DIGITS}"
            ))
        })
    }
}

impl std::fmt::Display for TxRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TxRef::Id(id) => write!(f, "{id}"),
            TxRef::Prefix(p) => write!(f, "{p}"),
        }
    }
}

/// Parses a `HEIGHT.INDEX` position of the author index: each part
/// decimal digits only (no sign), within `u64` and `u32`.
pub fn parse_position(s: &str) -> Result<(u64, u32), ApiError> {
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let parsed = s
        .split_once('.')
        .filter(|(h, i)| digits(h) && digits(i))
        .and_then(|(h, i)| Some((h.parse().ok()?, i.parse().ok()?)));
    parsed.ok_or_else(|| {
        ApiError::BadRequest(format!(
            "malformed position \"{s}\": expected HEIGHT.INDEX, e.g. 12.0"
        ))
    })
}

/// What a mining run is asked to do.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct MineRequest {
    /// Stop after this many blocks (`None`: until stopped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks: Option<u64>,
    /// Mining threads, within [`bounds::THREADS`] (`None`: every core).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<u16>,
    /// Seconds between checkpoints of a long search, within
    /// [`bounds::CHECKPOINT_EVERY`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_every: Option<f64>,
    /// Seal blocks one after another even with nothing pending (empty
    /// blocks as fast as the difficulty allows).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub continuous: bool,
    /// With nothing pending, seal an empty block once the tip is this many
    /// seconds old, within [`bounds::EMPTY_BLOCKS_EVERY`]. Without it (and
    /// without `continuous`) a miner with nothing to seal waits for entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty_blocks_every: Option<f64>,
    /// The hashing backend by its key (`sha-ni`, `avx2`, `soft`, `sha2`;
    /// `None`: the fastest this CPU runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
}

impl MineRequest {
    /// The backend asked for, if it is one this CPU runs (the fastest when
    /// none was asked for).
    pub fn miner_backend(&self) -> Option<crate::mining::Backend> {
        match &self.backend {
            None => Some(crate::mining::Backend::best()),
            Some(k) => crate::mining::Backend::from_key(k).filter(|b| b.runs_here()),
        }
    }

    /// The request in a JSON object (every field optional; `null` is not
    /// absent, and is refused).
    pub fn read(mut o: json::Object) -> Result<Self, json::JsonError> {
        o.only(&[
            "blocks",
            "threads",
            "checkpoint_every",
            "continuous",
            "empty_blocks_every",
            "backend",
        ])?;
        Ok(MineRequest {
            blocks: o.opt("blocks")?,
            threads: o.opt("threads")?,
            checkpoint_every: o.opt("checkpoint_every")?,
            continuous: o.opt("continuous")?.unwrap_or(false),
            empty_blocks_every: o.opt("empty_blocks_every")?,
            backend: o.opt("backend")?,
        })
    }

    /// Checks the request's bounds ([`crate::bounds`]), naming its fields.
    pub fn check(&self) -> Result<(), ApiError> {
        if let Some(t) = self.threads {
            bounds::THREADS.check("threads", t).map_err(|e| e.got(t))?;
        }
        if let Some(s) = self.checkpoint_every {
            bounds::CHECKPOINT_EVERY
                .check("checkpoint_every", s)
                .map_err(|e| e.got(s))?;
        }
        if let Some(b) = &self.backend {
            self.miner_backend().ok_or_else(|| {
                let runs: Vec<&str> = crate::mining::Backend::available()
                    .iter()
                    .map(|b| b.key())
                    .collect();
                ApiError::BadRequest(format!(
                    "backend \"{b}\" is not one this CPU runs (it runs: {})",
                    runs.join(", ")
                ))
            })?;
        }
        if let Some(s) = self.empty_blocks_every {
            bounds::EMPTY_BLOCKS_EVERY
                .check("empty_blocks_every", s)
                .map_err(|e| e.got(s))?;
            if self.continuous {
                return Err(ApiError::BadRequest(
                    "continuous and empty_blocks_every exclude each other: continuous seals empty blocks without pause".into(),
                ));
            }
        }
        Ok(())
    }
}

/// What a mining run tells its caller along the way: the caller of
/// [`Ledger::mine`], and a node's background run
/// ([`crate::node::mining_slot`]), both through [`mining_run::run`].
pub struct MineHooks<'a> {
    /// A line for the person watching (a resumed or discarded checkpoint,
    /// a discarded block, a busy node).
    pub note: &'a mut dyn FnMut(String),
    /// The search under way: its template and hashes a second, about every
    /// 20 ms (not called while following a node's run).
    pub searching: &'a mut dyn FnMut(&crate::consensus::Block, f64),
    /// Each block sealed and appended; an error ends the run.
    pub mined: &'a mut dyn FnMut(&MinedView) -> Result<(), ApiError>,
}

/// Whose entries `txs` lists: an author's, or those a key signed (the
/// signed entries under every name the key binds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxsOf {
    Author(String),
    Key(crate::consensus::PublicKey),
}

/// Everything the CLI does to a ledger, wherever the ledger is.
pub trait Ledger {
    /// An unsigned entry, stamped with the ledger's clock.
    fn submit(&self, author: &str, data: Vec<u8>) -> Result<SubmitView, ApiError>;
    /// An entry signed by the caller (`Transaction::sign`), as it is.
    fn submit_signed(&self, tx: &crate::consensus::Transaction) -> Result<SubmitView, ApiError>;
    fn pending(&self, from: u64, limit: usize) -> Result<PendingView, ApiError>;
    fn block(&self, r: BlockRef) -> Result<BlockView, ApiError>;
    fn chain(&self, from: Option<u64>, limit: usize) -> Result<ChainView, ApiError>;
    fn tips(&self) -> Result<TipsView, ApiError>;
    fn tx(&self, r: &TxRef) -> Result<TxView, ApiError>;
    fn txs(&self, of: &TxsOf, from: (u64, u32), limit: usize) -> Result<TxsView, ApiError>;
    fn status(&self) -> Result<StatusView, ApiError>;
    /// `progress(done, total)` as blocks are checked.
    fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyView, ApiError>;
    /// Writes the export's lines to `out`; returns the number of blocks.
    /// From height `from` (0: the whole chain).
    fn export(&self, from: u64, out: &mut dyn Write) -> Result<u64, ApiError>;
    /// The blocks of `file` (its path, and what messages call it).
    fn import(&self, file: &import::ExportFile) -> Result<ImportView, ApiError>;
    /// Mines until the request's block count, or until `stop` is raised.
    fn mine(
        &self,
        req: &MineRequest,
        stop: &std::sync::atomic::AtomicBool,
        hooks: MineHooks<'_>,
    ) -> Result<MineSummary, ApiError>;
    /// The schema version before and after opening (a node has upgraded
    /// the store when it started, so both are the current one).
    fn schema_versions(&self) -> Result<(u32, u32), ApiError>;
    /// Whether this ledger is reached through a node.
    fn is_remote(&self) -> bool;
}

/// Every code an error can have (README.md and docs/API.md list them).
pub const KNOWN_CODES: &[&str] = &[
    "usage",
    "interrupted",
    "failed",
    "bad_request",
    "unauthorized",
    "not_found",
    "method_not_allowed",
    "timeout",
    "conflict",
    "too_large",
    "unsupported_media_type",
    "rejected",
    "unavailable",
    "disk_full",
    "internal",
    "io",
    "node_unreachable",
    "no_ledger",
    "not_a_ledger",
    "already_exists",
    "locked",
    "schema",
    "corrupt",
    "verify_failed",
    "nothing_pending",
    "tip_mismatch",
];

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The request itself is wrong: a malformed id, an oversize page.
    #[error("{0}")]
    BadRequest(String),
    /// The request conflicts with the node's state.
    #[error("{0}")]
    Conflict(String),
    /// Well-formed input that breaks a consensus rule (a block of an
    /// import file).
    #[error("{0}")]
    Rejected(String),
    /// A file or stream of the client's could not be read or written.
    #[error("{0}")]
    Io(String),
    /// The node itself failed (a thread, the system's randomness).
    #[error("{0}")]
    Internal(String),
    /// Nothing has this id (the message may say what does).
    #[error("{0}")]
    NotFound(String),
    /// The node answered with an error; the message is its one line.
    #[error("{message}")]
    Node {
        status: u16,
        message: String,
        /// The node's code for it ([`ApiError::code`]).
        code: String,
    },
    /// The node did not answer as a node does.
    #[error("the node for this ledger at {address} {reason}")]
    Unreachable { address: String, reason: String },
}

/// The code of an HTTP status the node answers with, for answers that have
/// no [`ApiError`] behind them (a malformed request, a missing token).
pub fn code_of_status(status: u16) -> &'static str {
    match status {
        400 => "bad_request",
        401 => "unauthorized",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "timeout",
        409 => "conflict",
        413 => "too_large",
        415 => "unsupported_media_type",
        422 => "rejected",
        503 => "unavailable",
        507 => "disk_full",
        _ => "internal",
    }
}

impl ApiError {
    /// The stable, machine-readable kind of this error: the `code` of a
    /// JSON error, from the CLI (`--json`) and the node alike.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Store(e) => e.code(),
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Conflict(_) => "conflict",
            ApiError::Rejected(_) => "rejected",
            ApiError::NotFound(_) => "not_found",
            ApiError::Io(_) => "io",
            ApiError::Internal(_) => "internal",
            ApiError::Node { code, status, .. } => match code.as_str() {
                "" => code_of_status(*status),
                // A code this sledger knows keeps its static name.
                known => KNOWN_CODES
                    .iter()
                    .find(|c| **c == known)
                    .copied()
                    .unwrap_or_else(|| code_of_status(*status)),
            },
            ApiError::Unreachable { .. } => "node_unreachable",
        }
    }

    /// The export's lines could not be written where the caller asked.
    pub fn export_write(e: std::io::Error) -> ApiError {
        ApiError::Io(format!("cannot write the export: {e}"))
    }
}

impl From<BoundError> for ApiError {
    fn from(e: BoundError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<crate::consensus::transaction::TxError> for ApiError {
    fn from(e: crate::consensus::transaction::TxError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}
