//! Builders shared by every test and benchmark: chain parameters, blocks
//! sealed at a tiny difficulty, children of a block, entries, a new store. Hidden from
//! the docs; not part of the ledger's behaviour. Unit tests (`#[cfg(test)]`)
//! and the integration tests (`tests/kit`) both build from here, so the
//! parameter literal and the block builders exist once.

use crate::consensus::merkle::merkle_root;
use crate::consensus::{Block, BlockHeader, ChainParams, Difficulty, Transaction};
use crate::mining::scan_range;
use crate::store::Store;
use crate::time::now_ms;

/// Chain parameters for a test ledger: `difficulty` leading zero bits,
/// a retarget window of `window` blocks (ignored when `fixed`), 1 s blocks.
pub fn params(difficulty: u32, window: u32, fixed: bool) -> ChainParams {
    named_params("test", difficulty, window, fixed, [3; 16])
}

/// [`params`] with every field chosen.
pub fn named_params(
    name: &str,
    difficulty: u32,
    window: u32,
    fixed: bool,
    salt: [u8; 16],
) -> ChainParams {
    ChainParams {
        name: name.into(),
        initial_difficulty: Difficulty(difficulty),
        target_interval_ms: 1000,
        retarget_window: window,
        fixed_difficulty: fixed,
        signatures: Default::default(),
        salt,
    }
}

/// `b` with the first nonce that meets its difficulty.
pub fn seal(mut b: Block) -> Block {
    b.header.nonce = scan_range(&b.header, 0..u64::MAX).expect("a nonce");
    b
}

/// An unsealed child of `parent` carrying `txs`, `dt` ms later, at
/// `difficulty`, with the right Merkle root.
pub fn unsealed_child(parent: &Block, txs: Vec<Transaction>, dt: u64, difficulty: u32) -> Block {
    let ids: Vec<_> = txs.iter().map(Transaction::txid).collect();
    Block {
        header: BlockHeader {
            version: 1,
            height: parent.header.height + 1,
            prev_hash: parent.hash(),
            merkle_root: merkle_root(&ids),
            timestamp: parent.header.timestamp + dt,
            difficulty: Difficulty(difficulty),
            nonce: 0,
        },
        txs,
    }
}

/// A sealed child of `parent` (see [`unsealed_child`]).
pub fn child(parent: &Block, txs: Vec<Transaction>, dt: u64, difficulty: u32) -> Block {
    seal(unsealed_child(parent, txs, dt, difficulty))
}

/// A new store in `dir` whose genesis, built from `params` and sealed, is
/// `age_ms` old; returns the store and its genesis.
pub fn store(dir: &std::path::Path, params: &ChainParams, age_ms: u64) -> (Store, Block) {
    let genesis = seal(Block::genesis(params, now_ms() - age_ms));
    let store = Store::create(dir, &genesis, now_ms()).expect("create a store");
    (store, genesis)
}

/// The `n`th entry of `author`, with data `"<author> <n>"`.
pub fn tx(author: &str, n: u64) -> Transaction {
    Transaction::new(author, n, format!("{author} {n}").into_bytes()).expect("a valid entry")
}
