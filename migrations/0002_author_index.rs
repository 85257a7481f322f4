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
//! It reads and writes the layout of its own time (`chain`, `bodies`,
//! `authors`), which schema 4 replaced.

use sled::Transactional;

use super::super::schema::{
    author_key, KEY_MIGRATION, LEGACY_TREE_AUTHORS, LEGACY_TREE_BODIES, LEGACY_TREE_CHAIN,
};
use super::{progress, progress_record, Event};
use crate::consensus::BlockHash;
use crate::store::{codec, Store, StoreError};

pub const WHAT: &str = "index transactions by author";
const TO: u32 = 2;
const BATCH_BLOCKS: u64 = 128;
const BATCH_ENTRIES: usize = 20_000;

pub fn run(store: &Store, notify: &dyn Fn(Event)) -> Result<(), StoreError> {
    let mut next = progress(store, TO)?.unwrap_or(0);
    let bodies = store.h().db.open_tree(LEGACY_TREE_BODIES)?;
    let chain = store.h().db.open_tree(LEGACY_TREE_CHAIN)?;
    let authors = store.h().db.open_tree(LEGACY_TREE_AUTHORS)?;
    loop {
        let tip = store.state()?.height;
        if next > tip {
            return Ok(());
        }
        let mut entries: Vec<(Vec<u8>, [u8; 32])> = Vec::new();
        let mut end = next;
        for item in chain.range(codec::legacy::height_key(next)..) {
            let (key, value) = item?;
            let height = codec::legacy::decode_height_key(&key)?;
            let hash: BlockHash = codec::legacy::decode(&value, "chain entry")?;
            let body = bodies.get(hash.as_bytes())?.ok_or_else(|| {
                StoreError::Corrupt(format!("block {hash} at height {height} has no body"))
            })?;
            for (index, tx) in codec::decode_body(&body)?.iter().enumerate() {
                entries.push((author_key(tx.author(), height, index as u32), tx.txid().0));
            }
            end = height + 1;
            if end - next >= BATCH_BLOCKS || entries.len() >= BATCH_ENTRIES || height >= tip {
                break;
            }
        }
        if end == next {
            return Err(StoreError::Corrupt(format!(
                "the active chain has no block at height {next}"
            )));
        }
        let r = (&authors, &store.h().meta.0).transaction(|(authors, meta)| {
            for (key, txid) in &entries {
                authors.insert(key.as_slice(), &txid[..])?;
            }
            meta.insert(KEY_MIGRATION, progress_record(TO, end))?;
            Ok(())
        });
        store.guard(r.map_err(StoreError::from))?;
        store.flush()?;
        notify(Event::Progress {
            to: TO,
            done: end,
            total: tip + 1,
        });
        next = end;
    }
}
