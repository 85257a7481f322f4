//! Schema 1 -> 2: the `authors` index, so that `sledger txs --author NAME`
//! lists an author's transactions in chain order without scanning the chain.
//!
//! Blocks appended at schema 2 maintain the index in the transaction that
//! appends them; this step backfills it for the blocks already stored,
//! walking the active chain in batches of at most `BATCH_BLOCKS` blocks or
//! `BATCH_ENTRIES` entries. Each batch is one transaction that also records
//! the next height to do, so a killed run resumes there; entries are keyed
//! by (author, height, position), so redoing a batch rewrites the same keys.
//!
//! Frozen: this file owns every name, layout and decoder of its time
//! (`chain`, `bodies`, `authors`, the schema-1 chain state), which schema 4
//! replaced; it uses no live store codec, only the consensus encodings.

use crate::consensus::block::decode_txs;
use crate::consensus::encode::Reader;
use crate::consensus::{BlockHash, Transaction};
use crate::store::{Store, StoreError};

use super::{commit_batch, progress, Event};

pub const WHAT: &str = "index transactions by author";
const TO: u32 = 2;
const BATCH_BLOCKS: u64 = 128;
const BATCH_ENTRIES: usize = 20_000;

const TREE_CHAIN: &str = "chain";
const TREE_BODIES: &str = "bodies";
const TREE_AUTHORS: &str = "authors";

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// The tip height of a schema 1-4 chain state: tip hash (32), then the
/// height, u64 LE.
fn tip_height(store: &Store) -> Result<u64, StoreError> {
    let state = store.h().db.open_tree("meta")?.get("state")?;
    let state = state.ok_or_else(|| corrupt("missing chain state"))?;
    let bytes = state
        .get(32..40)
        .ok_or_else(|| corrupt("short chain state"))?;
    Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
}

/// A `bodies` value: the consensus transaction list.
fn decode_body(bytes: &[u8]) -> Result<Vec<Transaction>, StoreError> {
    let mut r = Reader::new(bytes);
    let txs = decode_txs(&mut r).and_then(|t| r.finish().map(|_| t));
    txs.map_err(|e| corrupt(format!("block body: {e}")))
}

/// An `authors` key: author length (1 byte), author, height (u64 BE),
/// position in the block (u32 BE).
fn author_key(author: &str, height: u64, index: u32) -> Vec<u8> {
    let mut k = vec![author.len() as u8];
    k.extend_from_slice(author.as_bytes());
    k.extend_from_slice(&height.to_be_bytes());
    k.extend_from_slice(&index.to_be_bytes());
    k
}

pub fn run(store: &Store, notify: &dyn Fn(Event)) -> Result<(), StoreError> {
    let mut next = progress(store, TO)?.unwrap_or(0);
    let db = &store.h().db;
    let (bodies, chain) = (db.open_tree(TREE_BODIES)?, db.open_tree(TREE_CHAIN)?);
    let authors = db.open_tree(TREE_AUTHORS)?;
    let tip = tip_height(store)?;
    while next <= tip {
        let mut entries: Vec<(Vec<u8>, [u8; 32])> = Vec::new();
        let mut end = next;
        // `chain`: height (u64 BE) -> block hash (32 bytes).
        for item in chain.range(next.to_be_bytes()..) {
            let (key, value) = item?;
            let height = u64::from_be_bytes(key[..].try_into().map_err(|_| corrupt("chain key"))?);
            let hash = BlockHash(value[..].try_into().map_err(|_| corrupt("chain entry"))?);
            let body = bodies
                .get(hash.as_bytes())?
                .ok_or_else(|| corrupt(format!("block {hash} at height {height} has no body")))?;
            for (index, tx) in decode_body(&body)?.iter().enumerate() {
                entries.push((author_key(tx.author(), height, index as u32), tx.txid().0));
            }
            end = height + 1;
            if end - next >= BATCH_BLOCKS || entries.len() >= BATCH_ENTRIES || height >= tip {
                break;
            }
        }
        if end == next {
            return Err(corrupt(format!(
                "the active chain has no block at height {next}"
            )));
        }
        commit_batch(store, TO, &[&authors], (end, tip + 1), notify, |t, _| {
            for (key, txid) in &entries {
                t[0].insert(key.as_slice(), &txid[..])?;
            }
            Ok(())
        })?;
        next = end;
    }
    Ok(())
}
