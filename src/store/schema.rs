//! The sled layout, schema version 6: tree names, meta keys and the records
//! stored in them. The layout table, key by key and byte by byte, is in
//! `docs/FORMAT.md` ("Store layout"), its one source; the trees are listed
//! once in [`crate::store::trees`], and every key and value is encoded in
//! [`crate::store::codec`]. `migrations/README.md` says what changed from
//! version to version.

use crate::consensus::{BlockHash, BlockHeader, Difficulty, MerkleNode, Work};

/// The schema this code writes.
pub const SCHEMA_VERSION: u32 = 6;

/// Since schema 4: every known block (any branch), header and body in one
/// record, so that reading a block is one get and a header is a prefix.
pub const TREE_BLOCKS: &str = "blocks";
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
pub const TREE_TXS: &str = "txs";
pub const TREE_PENDING: &str = "pending";
pub const TREE_PENDING_IDS: &str = "pending_ids";
pub const TREE_META: &str = "meta";
/// Since schema 4: the active chain's transactions by author, grouped by
/// [`AUTHOR_GROUP`] heights (see [`crate::store::codec::author_group_key`]).
pub const TREE_AUTHOR_GROUPS: &str = "author_groups";
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
/// Since schema 5: the peer book, peer id bytes -> [`PeerRecord`].
pub const TREE_PEERS: &str = "peers";
/// Records the peer book keeps at most; recording one more drops the one
/// least recently good that is not banned.
pub const MAX_PEERS: u64 = 1000;
/// Bytes of a peer id key at most (a libp2p peer id is 38 or 39).
pub const MAX_PEER_ID_BYTES: usize = 64;
/// Bytes of a stored peer address, and of a ban reason, at most (longer
/// ones are cut at a character boundary).
pub const MAX_PEER_ADDRESS_BYTES: usize = 256;
pub const MAX_BAN_REASON_BYTES: usize = 256;
/// The leading byte of a [`PeerRecord`]'s encoding.
pub const PEER_RECORD_VERSION: u8 = 1;

/// Since schema 6: names bound to keys on the active chain, author (UTF-8)
/// -> [`NameBinding`].
pub const TREE_BOUND_NAMES: &str = "names";
/// Since schema 6: the names each key binds, public key (32) ++ author ->
/// nothing, so that an author's key lists its names in one range.
pub const TREE_KEY_NAMES: &str = "key_names";

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OrphanState {
    pub count: u64,
    pub next_seq: u64,
}

/// A reorganisation in progress: switch the active chain to `target`. It is
/// written before the first batch and removed with the last; each batch in
/// between is one transaction that moves the tip one step closer, so after a
/// crash the store is on a consistent prefix and opening finishes the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReorgJournal {
    pub target: BlockHash,
    /// Height of the last block the old and new chains share.
    pub fork_height: u64,
}

/// `u64`: how many records the `peers` tree holds (absent: none).
pub const KEY_PEER_COUNT: &[u8] = b"peer_count";

/// What the store remembers of a peer (the `peers` tree).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerRecord {
    /// The last address it was dialled at or seen from (a multiaddr).
    pub address: String,
    /// When a status exchange with it last succeeded (ms since 1970; 0: never).
    pub last_good_ms: u64,
    /// Until when it is banned (ms since 1970; 0: not banned).
    pub banned_until_ms: u64,
    /// Why it was banned (empty when not).
    pub ban_reason: String,
}

/// [`MigrationProgress`] of a schema step under way.
pub const KEY_MIGRATION: &[u8] = b"migration_progress";

/// How far an interrupted schema step got; written in the same transaction
/// as each batch it completes, removed with the version bump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationProgress {
    /// The version the step upgrades to.
    pub to_version: u32,
    /// The step's own position (for the author backfill: the next height).
    pub next: u64,
}

/// A header with what the store knows about its place in the chain. It is
/// not stored as such: [`crate::store::codec`] reads it off a block
/// record's prefix and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    pub height: u64,
    pub index: u32,
}

/// A name bound to a key on the active chain (schema 6): the key, and the
/// entry whose signature bound it (its height and index in the block), so
/// that disconnecting that block releases the name. 44 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameBinding {
    pub key: crate::consensus::PublicKey,
    pub height: u64,
    pub index: u32,
}

/// The tip of the active chain and the counters kept so that nothing has to
/// count a tree (sled's `Tree::len` walks it). Written in the same
/// transaction as every change it describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
