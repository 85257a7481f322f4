//! The sled layout, schema version 1: tree names, meta keys and the records
//! stored in them. `docs/FORMAT.md` ("Store layout") lists the same.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `headers` | block hash | [`HeaderRecord`]: header fields, height, cumulative work |
//! | `bodies` | block hash | consensus transaction list |
//! | `chain` | height (u64 BE) | block hash of the active chain |
//! | `txs` | txid | [`TxLocation`]: block hash and position |
//! | `pending` | arrival sequence (u64 BE) | consensus transaction |
//! | `pending_ids` | txid | arrival sequence (u64 BE) |
//! | `meta` | see the `KEY_*` constants | records |

use serde::{Deserialize, Serialize};

use crate::consensus::{BlockHash, BlockHeader, Difficulty, MerkleNode, Work};

/// The schema this code writes.
pub const SCHEMA_VERSION: u32 = 1;

pub const TREE_HEADERS: &str = "headers";
pub const TREE_BODIES: &str = "bodies";
pub const TREE_CHAIN: &str = "chain";
pub const TREE_TXS: &str = "txs";
pub const TREE_PENDING: &str = "pending";
pub const TREE_PENDING_IDS: &str = "pending_ids";
pub const TREE_META: &str = "meta";

/// `u32`: the schema version.
pub const KEY_SCHEMA: &[u8] = b"schema_version";
/// [`crate::consensus::ChainParams`].
pub const KEY_PARAMS: &[u8] = b"params";
/// [`BlockHash`] of the genesis block.
pub const KEY_GENESIS: &[u8] = b"genesis";
/// [`ChainState`].
pub const KEY_STATE: &[u8] = b"state";

/// A stored header with what the store knows about its place in the chain.
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

/// Where a transaction sits in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxLocation {
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
    /// The template's transactions, in block order (all pending).
    pub txids: Vec<crate::consensus::Txid>,
    /// Every nonce below this one has been tried.
    pub tried_below: u64,
    /// Hashes spent on this template so far, across runs.
    pub hashes: u64,
}
