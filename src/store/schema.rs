//! The sled layout, schema version 4: tree names, meta keys and the records
//! stored in them. The layout table, key by key and byte by byte, is in
//! `docs/FORMAT.md` ("Store layout"), its one source; the trees are listed
//! once in [`crate::store::trees`], and every key and value is encoded in
//! [`crate::store::codec`]. `migrations/README.md` says what changed from
//! version to version.

use serde::{Deserialize, Serialize};

use crate::consensus::{BlockHash, BlockHeader, Difficulty, MerkleNode, Work};

/// The schema this code writes.
pub const SCHEMA_VERSION: u32 = 4;

/// Since schema 4: every known block (any branch), header and body in one
/// record, so that reading a block is one get and a header is a prefix.
pub const TREE_BLOCKS: &str = "blocks";
/// Up to schema 3: header records by block hash (read only by migrations).
pub const LEGACY_TREE_HEADERS: &str = "headers";
/// Up to schema 3: block bodies by block hash (read only by migrations).
pub const LEGACY_TREE_BODIES: &str = "bodies";
/// Since schema 4: the active chain's block hashes, [`HEIGHT_GROUP`]
/// heights to a record (sled splits its leaves at 16 entries, and an
/// append-only tree leaves them half full: one record per height cost a
/// page for every 8-9 blocks).
pub const TREE_HEIGHTS: &str = "heights";
/// Heights per `heights` record. Measured at 1M blocks (BENCHMARKS.md): 16
/// made the fewest pages, but a random lookup by height then loads a leaf
/// of 16 x 16 hashes for one of them, and the sampled lookups no longer fit
/// the page cache (p99 6.7x raw against 3.8x with 4); 4 costs 4% more disk.
pub const HEIGHT_GROUP: u64 = 4;
/// Heights per `author_groups` record: an author's entries are read in
/// runs (a listing), so bigger records cost nothing there.
pub const AUTHOR_GROUP: u64 = 16;
/// Up to schema 3: one record per height, height -> block hash (read only
/// by migrations).
pub const LEGACY_TREE_CHAIN: &str = "chain";
pub const TREE_TXS: &str = "txs";
pub const TREE_PENDING: &str = "pending";
pub const TREE_PENDING_IDS: &str = "pending_ids";
pub const TREE_META: &str = "meta";
/// Since schema 4: the active chain's transactions by author, grouped by
/// [`HEIGHT_GROUP`] heights (see [`author_group_key`]).
pub const TREE_AUTHOR_GROUPS: &str = "author_groups";
/// Schemas 2 and 3: one record per transaction, [`author_key`] -> txid
/// (read only by migrations).
pub const LEGACY_TREE_AUTHORS: &str = "authors";
/// Bytes of one entry of an `author_groups` value.
pub const AUTHOR_ENTRY_BYTES: usize = 44;
/// Since schema 3: the hashes of blocks that have no children (chain tips).
pub const TREE_TIPS: &str = "tips";
/// Since schema 3: blocks whose parent is unknown, oldest first.
pub const TREE_ORPHANS: &str = "orphans";
pub const TREE_ORPHAN_IDS: &str = "orphan_ids";
pub const TREE_ORPHAN_PARENTS: &str = "orphan_parents";
/// Since schema 3: blocks found invalid when their branch would have become
/// active (a repeated transaction), with the reason. They stay stored so
/// that their descendants keep their parents, and are never activated.
pub const TREE_INVALID: &str = "invalid";

/// `u32`: the schema version.
pub const KEY_SCHEMA: &[u8] = b"schema_version";
/// [`crate::consensus::ChainParams`].
pub const KEY_PARAMS: &[u8] = b"params";
/// [`BlockHash`] of the genesis block.
pub const KEY_GENESIS: &[u8] = b"genesis";
/// [`ChainState`].
pub const KEY_STATE: &[u8] = b"state";
/// [`OrphanState`].
pub const KEY_ORPHANS: &[u8] = b"orphans";
/// [`ReorgJournal`] of a reorganisation under way.
pub const KEY_REORG: &[u8] = b"reorg";

/// Counters of the orphan pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrphanState {
    pub count: u64,
    pub next_seq: u64,
}

/// A reorganisation in progress: switch the active chain to `target`. It is
/// written before the first batch and removed with the last; each batch in
/// between is one transaction that moves the tip one step closer, so after a
/// crash the store is on a consistent prefix and opening finishes the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReorgJournal {
    pub target: BlockHash,
    /// Height of the last block the old and new chains share.
    pub fork_height: u64,
}

/// [`MigrationProgress`] of a schema step under way.
pub const KEY_MIGRATION: &[u8] = b"migration_progress";

/// How far an interrupted schema step got; written in the same transaction
/// as each batch it completes, removed with the version bump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationProgress {
    /// The version the step upgrades to.
    pub to_version: u32,
    /// The step's own position (for the author backfill: the next height).
    pub next: u64,
}

/// Key of an `author_groups` record: the author's prefix ([`author_prefix`])
/// and the height group (`height / AUTHOR_GROUP`, u64 BE), so that one
/// author's records are contiguous and in chain order. A block appends its
/// author's entries to one record (rewriting it), so records hold at most
/// 16 blocks' worth of one author's entries.
pub fn author_group_key(author: &str, height: u64) -> Vec<u8> {
    let mut k = author_prefix(author);
    k.extend_from_slice(&(height / AUTHOR_GROUP).to_be_bytes());
    k
}

/// Key of a schema 2-3 `authors` entry: the author's length (1 byte) and UTF-8 bytes,
/// then the block height (u64 BE) and the position in the block (u32 BE),
/// so that one author's entries are contiguous and in chain order, and no
/// author's range contains another's (the length comes first).
pub fn author_key(author: &str, height: u64, index: u32) -> Vec<u8> {
    let mut k = author_prefix(author);
    k.extend_from_slice(&height.to_be_bytes());
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// The prefix shared by every `authors` and `author_groups` key of `author`.
pub fn author_prefix(author: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + author.len() + 12);
    k.push(author.len() as u8);
    k.extend_from_slice(author.as_bytes());
    k
}

/// Height and position from an `authors` key whose prefix is `prefix_len` long.
pub fn author_key_position(key: &[u8], prefix_len: usize) -> Option<(u64, u32)> {
    let rest = key.get(prefix_len..)?;
    if rest.len() != 12 {
        return None;
    }
    let height = u64::from_be_bytes(rest[..8].try_into().ok()?);
    let index = u32::from_be_bytes(rest[8..].try_into().ok()?);
    Some((height, index))
}

/// A header with what the store knows about its place in the chain. Since
/// schema 4 it is not stored as such: [`crate::store::codec`] derives it
/// from a block record (the bincode form below is the schema 1-3 record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderRecord {
    pub version: u32,
    pub height: u64,
    pub prev_hash: BlockHash,
    pub merkle_root: MerkleNode,
    pub timestamp: u64,
    pub difficulty: u32,
    pub nonce: u64,
    /// Sum of the work of this block and all its ancestors.
    pub chain_work: Work,
    pub tx_count: u32,
    /// Size of the block's consensus encoding.
    pub size: u32,
}

impl HeaderRecord {
    pub fn new(header: &BlockHeader, chain_work: Work, tx_count: u32, size: u32) -> Self {
        HeaderRecord {
            version: header.version,
            height: header.height,
            prev_hash: header.prev_hash,
            merkle_root: header.merkle_root,
            timestamp: header.timestamp,
            difficulty: header.difficulty.0,
            nonce: header.nonce,
            chain_work,
            tx_count,
            size,
        }
    }

    pub fn header(&self) -> BlockHeader {
        BlockHeader {
            version: self.version,
            height: self.height,
            prev_hash: self.prev_hash,
            merkle_root: self.merkle_root,
            timestamp: self.timestamp,
            difficulty: Difficulty(self.difficulty),
            nonce: self.nonce,
        }
    }
}

/// Where a transaction sits in the active chain (schema 4: by height, since
/// `txs` describes the active chain only and moves with it; 12 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxLocation {
    pub height: u64,
    pub index: u32,
}

/// Where a transaction sat in schemas 1-3: block hash and position (36
/// bytes). Read only by the migration to schema 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyTxLocation {
    pub block: BlockHash,
    pub index: u32,
}

/// The tip of the active chain and the counters kept so that nothing has to
/// count a tree (sled's `Tree::len` walks it). Written in the same
/// transaction as every change it describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainState {
    pub tip: BlockHash,
    pub height: u64,
    pub chain_work: Work,
    /// Transactions in the active chain, genesis included.
    pub chain_txs: u64,
    /// Transactions waiting in `pending`.
    pub pending: u64,
    /// Sequence number for the next pending transaction.
    pub next_pending_seq: u64,
}

/// [`MiningCheckpoint`] of the search in progress, if any.
pub const KEY_CHECKPOINT: &[u8] = b"mining_checkpoint";

/// A long nonce search, saved every few seconds and on Ctrl-C so that a
/// restarted `mine` continues it instead of trying the same nonces again.
/// Removed in the same transaction that appends any block (the template
/// then no longer extends the tip).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MiningCheckpoint {
    pub version: u32,
    pub height: u64,
    pub prev_hash: BlockHash,
    pub merkle_root: MerkleNode,
    pub timestamp: u64,
    pub difficulty: u32,
    /// The template's transactions: `tx_count` pending entries, the oldest
    /// at arrival sequence `first_seq` and the newest at `last_seq` (a
    /// template takes the oldest pending entries, so these are every pending
    /// entry between the two). The Merkle root pins them exactly.
    pub tx_count: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    /// Every nonce below this one has been tried.
    pub tried_below: u64,
    /// Hashes spent on this template so far, across runs.
    pub hashes: u64,
}
