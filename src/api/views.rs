//! The documents the ledger's operations return: what `--json` prints, what
//! the node's HTTP API sends (`docs/API.md`), and what the text output is
//! drawn from. One struct per result, so that a command prints the same
//! thing whether it ran on the store or through a node.
//!
//! One vocabulary (docs/json/README.md): a concept has one shape wherever
//! it appears. `tip` is always `{"height", "hash"}` (a [`TipRef`]); a count
//! ends in `_count` (`block_count`, `transaction_count`, ...) and a plural
//! noun (`blocks`, `transactions`, `tips`) is always an array; a block is
//! flat, its header fields beside its hash and place ([`BlockSummary`],
//! the same fields in `block` and in `chain`'s rows); a time is
//! `timestamp`, in ms since 1970; work is `chain_work`, a decimal string.

use serde::{Deserialize, Serialize};

use crate::consensus::{
    BlockHash, ChainParams, MerkleNode, PublicKey, Signature, Transaction, Txid,
};
use crate::export::{BlockLine, TxJson};
use crate::mining::Mined;
use crate::store::fork::Tip;
use crate::store::schema::HeaderRecord;
use crate::store::StoredBlock;

/// A transaction's fields; `data` when the data is UTF-8, else `data_hex`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxFields {
    pub txid: Txid,
    pub author: String,
    pub timestamp: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub data_hex: Option<String>,
    /// A signed entry's key and signature (both or neither).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub public_key: Option<PublicKey>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signature: Option<Signature>,
}

impl TxFields {
    /// The export's fields of `tx` (this struct is [`TxJson`] without its
    /// refusal of unknown fields, so that views can flatten it).
    pub fn new(tx: &Transaction) -> Self {
        TxJson::new(tx).into()
    }

    /// The data as bytes (empty if `data_hex` is not hex, which a document
    /// this crate wrote never has).
    pub fn data_bytes(&self) -> Vec<u8> {
        match (&self.data, &self.data_hex) {
            (Some(s), _) => s.as_bytes().to_vec(),
            (None, Some(h)) => hex::decode(h).unwrap_or_default(),
            (None, None) => Vec::new(),
        }
    }
}

impl From<TxJson> for TxFields {
    fn from(j: TxJson) -> Self {
        let TxJson {
            txid,
            author,
            timestamp,
            data,
            data_hex,
            public_key,
            signature,
        } = j;
        TxFields {
            txid,
            author,
            timestamp,
            data,
            data_hex,
            public_key,
            signature,
        }
    }
}

/// A block as every document shows it: its place, its hash, its header's
/// fields (flat), its size and cumulative work. A `chain` row is exactly
/// this; `block` adds `active` and the `transactions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockSummary {
    pub height: u64,
    pub hash: BlockHash,
    pub version: u32,
    pub prev_hash: BlockHash,
    pub merkle_root: MerkleNode,
    pub timestamp: u64,
    pub difficulty: u32,
    pub nonce: u64,
    pub transaction_count: u32,
    /// Bytes of the consensus encoding.
    pub size: u32,
    /// Cumulative work, decimal.
    pub chain_work: String,
}

impl BlockSummary {
    pub fn new(hash: &BlockHash, r: &HeaderRecord) -> Self {
        BlockSummary {
            height: r.height,
            hash: *hash,
            version: r.version,
            prev_hash: r.prev_hash,
            merkle_root: r.merkle_root,
            timestamp: r.timestamp,
            difficulty: r.difficulty,
            nonce: r.nonce,
            transaction_count: r.tx_count,
            size: r.size,
            chain_work: r.chain_work.to_string(),
        }
    }
}

/// `block`: a block with its place in the store and its transactions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockView {
    #[serde(flatten)]
    pub block: BlockSummary,
    /// Whether the block is on the active chain.
    pub active: bool,
    pub transactions: Vec<TxFields>,
}

impl BlockView {
    /// The store's record and the export's transaction fields.
    pub fn new(b: &StoredBlock) -> Self {
        let line = BlockLine::new(&b.block);
        BlockView {
            block: BlockSummary::new(&line.hash, &b.record),
            active: b.active,
            transactions: line.txs.into_iter().map(TxFields::from).collect(),
        }
    }
}

/// `chain`: a page of the active chain, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainView {
    pub tip: TipRef,
    pub blocks: Vec<BlockSummary>,
    /// Where the next page starts, if there is one.
    pub next_from: Option<u64>,
}

/// A block without children.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TipRow {
    pub hash: BlockHash,
    pub height: u64,
    pub chain_work: String,
    pub active: bool,
}

impl TipRow {
    pub fn new(t: &Tip) -> Self {
        TipRow {
            hash: t.hash,
            height: t.record.height,
            chain_work: t.record.chain_work.to_string(),
            active: t.active,
        }
    }
}

/// `chain --tips`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TipsView {
    pub tips: Vec<TipRow>,
}

/// `tx`: a transaction and where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxView {
    #[serde(flatten)]
    pub tx: TxFields,
    /// `confirmed` or `pending`.
    pub status: TxState,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub block: Option<BlockHash>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub height: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub index: Option<u32>,
    /// Arrival sequence of a pending transaction.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub seq: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TxState {
    Confirmed,
    Pending,
}

/// One row of `txs`: an author's confirmed transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorTxRow {
    #[serde(flatten)]
    pub tx: TxFields,
    pub height: u64,
    pub index: u32,
    pub block: BlockHash,
}

/// `txs --author`: a page of one author's transactions in chain order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxsView {
    /// The author listed, or absent when listing by key.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub author: Option<String>,
    /// The key listed (its signed entries under every name it binds), or
    /// absent when listing by author.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key: Option<PublicKey>,
    pub transactions: Vec<AuthorTxRow>,
    /// `HEIGHT.INDEX` of the next page, if there is one.
    pub next_from: Option<String>,
}

/// One row of `pending`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingRow {
    #[serde(flatten)]
    pub tx: TxFields,
    pub seq: u64,
}

/// `pending`: a page of pending transactions, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingView {
    /// Every pending transaction, not only this page's.
    pub pending_count: u64,
    pub transactions: Vec<PendingRow>,
    pub next_from: Option<u64>,
}

/// `submit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmitView {
    pub txid: Txid,
    /// Always `pending`.
    pub status: TxState,
}

/// The chain parameters, as `init` and `status` show them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamsView {
    pub name: String,
    pub initial_difficulty: u32,
    pub target_interval_ms: u64,
    pub retarget_window: u32,
    pub fixed_difficulty: bool,
    pub salt: String,
    /// `optional` or `required` (`init --signatures`).
    pub signatures: String,
}

impl ParamsView {
    pub fn new(p: &ChainParams) -> Self {
        ParamsView {
            name: p.name.clone(),
            initial_difficulty: p.initial_difficulty.0,
            target_interval_ms: p.target_interval_ms,
            retarget_window: p.retarget_window,
            fixed_difficulty: p.fixed_difficulty,
            salt: hex::encode(p.salt),
            signatures: p.signatures.as_str().into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TipRef {
    pub height: u64,
    pub hash: BlockHash,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub timestamp: Option<u64>,
}

/// `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    pub data_dir: std::path::PathBuf,
    pub name: String,
    pub genesis: BlockHash,
    pub schema_version: u32,
    pub tip: TipRef,
    pub chain_work: String,
    pub next_difficulty: u32,
    pub block_count: u64,
    pub transaction_count: u64,
    pub pending_count: u64,
    pub disk_bytes: u64,
    pub tips: Vec<TipRow>,
    pub orphan_count: u64,
    pub params: ParamsView,
    /// Present when the answer came from a node: its mining state.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub node: Option<NodeInfo>,
}

/// What a node adds to `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub address: String,
    pub pid: u32,
    pub mining: MiningView,
    /// The fastest hashing backend the node's CPU runs (`sha-ni`, `avx2`,
    /// `soft`), the one its miner uses unless told otherwise.
    #[serde(default)]
    pub backend: String,
    /// Present when the node runs the peer-to-peer network.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub network: Option<NetworkInfo>,
}

/// A node's place on the peer-to-peer network (`docs/NETWORK.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkInfo {
    pub peer_id: String,
    /// The addresses it listens on, each ending in `/p2p/<peer_id>`.
    pub listening: Vec<String>,
    /// Peers connected now.
    pub peer_count: usize,
    /// Where the sync stands.
    pub sync: SyncView,
}

/// A node's sync (`docs/NETWORK.md`, "Sync"): headers and blocks it holds
/// against the best height its peers name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncView {
    /// `idle`, `headers`, `presync` or `blocks`.
    pub phase: String,
    /// The peer whose headers are followed (`null` when idle).
    pub peer: Option<String>,
    /// Height of the last checked header (the local height when idle).
    pub header_height: u64,
    /// Height of the local active chain.
    pub block_height: u64,
    /// The greatest height a connected peer names (at least `blocks`).
    pub best_height: u64,
}

/// `peers` (`GET /v1/peers`): the connected peers and the bans in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeersView {
    pub peers: Vec<PeerView>,
}

/// One peer: connected (address, direction, its last status, rtt), banned
/// (`banned_until`, `ban_reason`), or both; `null` for what is not known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerView {
    pub peer_id: String,
    pub address: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: Option<String>,
    pub tip: Option<BlockHash>,
    pub height: Option<u64>,
    /// Cumulative work its last status claims, decimal.
    pub work: Option<String>,
    pub rtt_ms: Option<u64>,
    pub score: f64,
    /// Ms since 1970.
    pub banned_until: Option<u64>,
    pub ban_reason: Option<String>,
}

impl From<crate::net::PeerInfo> for PeerView {
    fn from(p: crate::net::PeerInfo) -> Self {
        PeerView {
            peer_id: p.peer_id,
            address: p.address,
            direction: p.direction.map(|d| d.as_str().to_owned()),
            tip: p.tip,
            height: p.height,
            work: p.work.map(|w| w.to_string()),
            rtt_ms: p.rtt_ms,
            // Two decimals are plenty, and keep the JSON short.
            score: (p.score * 100.0).round() / 100.0,
            banned_until: p.banned_until_ms,
            ban_reason: p.ban_reason,
        }
    }
}

/// `open` (`POST /v1/explorer/login`): a one-time login URL for the
/// explorer, good for `expires_in` seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplorerLoginView {
    pub url: String,
    pub expires_in: u64,
}

/// `peers add` (`POST /v1/peers`): the address being dialled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerAddedView {
    pub address: String,
}

/// `peers ban` (`POST /v1/peers/{peer_id}/ban`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerBannedView {
    pub peer_id: String,
    /// Ms since 1970.
    pub banned_until: u64,
}

/// `peers unban` (`DELETE /v1/peers/{peer_id}/ban`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerUnbannedView {
    pub peer_id: String,
    pub was_banned: bool,
}

/// `verify`: `valid` with the counts, or not, with the first problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyView {
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub block_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub transaction_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pending_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tip: Option<TipRef>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub chain_work: Option<String>,
    /// The height of the first bad block, when a block is bad.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub height: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
}

/// A block this process (or node) mined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinedView {
    pub height: u64,
    pub hash: BlockHash,
    pub transaction_count: usize,
    pub difficulty: u32,
    pub nonce: u64,
    pub hashes: u64,
    pub seconds: f64,
    pub hashes_per_second: f64,
    /// The nonce a checkpointed search resumed from.
    pub resumed_from_nonce: Option<u64>,
}

impl MinedView {
    pub fn new(m: &Mined, resumed_from: Option<u64>) -> Self {
        MinedView {
            height: m.block.header.height,
            hash: m.block.hash(),
            transaction_count: m.block.txs.len(),
            difficulty: m.block.header.difficulty.0,
            nonce: m.block.header.nonce,
            hashes: m.hashes,
            seconds: m.elapsed.as_secs_f64(),
            hashes_per_second: m.hashes_per_second(),
            resumed_from_nonce: resumed_from,
        }
    }
}

/// A `block` event: a block sealed by mining run `run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedEvent {
    pub run: u64,
    #[serde(flatten)]
    pub block: MinedView,
}

/// A `tip` event: the active tip moved from `previous` to `tip`, by
/// `cause` (`mined`, `peer` or `import`); `disconnected` blocks of the old
/// branch left the active chain and `connected` ones joined it (a
/// reorganisation when `disconnected` is not 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TipEvent {
    pub tip: TipRef,
    pub previous: TipRef,
    pub cause: String,
    pub disconnected: u64,
    pub connected: u64,
}

/// One event of a node's stream (`GET /v1/events`), as `sledger watch
/// --json` prints it: the event's name in `event`, beside its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum NodeEvent {
    Block(SealedEvent),
    Mining(MiningView),
    Tip(TipEvent),
    Entry(EntryEvent),
}

/// An entry that joined the node's pending pool (the `entry` event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryEvent {
    pub txid: Txid,
    pub author: String,
    /// Its data's size in bytes.
    pub size: usize,
    /// The signing key's fingerprint, or `null` for an unsigned entry.
    pub signed_by: Option<String>,
    /// `submit` (through this node's API) or `peer`.
    pub source: String,
}

/// How a mining run ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MineSummary {
    pub mined: u64,
    pub hashes: u64,
    /// When stopped mid-search: the height searched and the checkpointed nonce.
    pub stopped_at: Option<(u64, u64)>,
    /// The tip when the run ended.
    pub tip: Option<TipRef>,
    /// The run ended because nothing was pending and nothing could
    /// arrive (a run that owns the store, waiting for entries).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub idle: bool,
}

/// A node's miner.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MiningView {
    pub active: bool,
    /// The run under way, or the last one: runs are numbered from 1 in
    /// each node, and every event names its run.
    #[serde(default)]
    pub run: u64,
    pub threads: usize,
    /// Blocks left before the miner stops by itself (`None`: until stopped).
    pub blocks_left: Option<u64>,
    /// Blocks mined since the node started.
    pub mined: u64,
    /// Block templates searched since the node started (a new one after
    /// each block, on new entries, and every 30 s).
    pub searches: u64,
    /// The block being searched for.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub template: Option<TemplateView>,
    /// Set by `POST /v1/mining/start` when the miner was already running.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub already_active: Option<bool>,
    /// How the last run ended, once it has.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_run: Option<MineSummary>,
    /// Why the last run stopped, if a failure stopped it (a full disk).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_error: Option<String>,
}

/// The block a node's miner is searching for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateView {
    pub height: u64,
    /// Entries in it.
    pub transaction_count: usize,
    pub merkle_root: crate::consensus::MerkleNode,
    pub timestamp: u64,
}

/// `import`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportView {
    pub imported: u64,
    pub already_present: u64,
    pub reorganized: bool,
    pub disconnected: u64,
    /// Whether the file extended the active chain (rather than bringing a branch).
    pub extends_tip: bool,
    pub tip: TipRef,
}

/// An error, as the node sends it with a 4xx or 5xx status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorView {
    /// One line, as the CLI prints it after `sledger: `.
    pub error: String,
    /// What kind of failure, stable for scripts (`docs/API.md`, "Errors").
    #[serde(default)]
    pub code: String,
}
