//! Schema 3 -> 4: each block is one record. `blocks` maps a block hash to
//! its cumulative work followed by the block's consensus encoding, replacing
//! the two records of `headers` (bincode header record) and `bodies`; and a
//! `txs` entry locates its transaction by height and position (12 bytes)
//! instead of block hash and position (36), since `txs` only ever describes
//! the active chain.
//!
//! The step moves blocks in key order, at most `BATCH_BLOCKS` blocks or
//! `BATCH_BYTES` bytes of bodies at a time. Each batch is one transaction
//! that writes the blocks' new records, rewrites the locations of an active
//! block's transactions, removes the old `headers` and `bodies` entries and
//! records how many blocks are done; so the blocks still to move are exactly
//! those left in `headers`, and a killed run resumes with them. When
//! `headers` is empty the two old trees are dropped; the runner then bumps
//! the version.

use sled::Transactional;

use super::super::schema::{
    HeaderRecord, TxLocation, KEY_MIGRATION, LEGACY_TREE_BODIES, LEGACY_TREE_HEADERS,
};
use super::{progress, progress_record, Event};
use crate::consensus::{Block, BlockHash, Txid};
use crate::store::{codec, Store, StoreError};

pub const WHAT: &str = "store each block as one record";
const TO: u32 = 4;
const BATCH_BLOCKS: usize = 128;
const BATCH_BYTES: usize = 8 << 20;

/// A block moved by a batch.
struct Moved {
    hash: BlockHash,
    record: Vec<u8>,
    height: u64,
    /// Its transactions, when it is on the active chain (their `txs`
    /// entries are rewritten); empty for a side-branch block.
    active_txids: Vec<Txid>,
}

pub fn run(store: &Store, notify: &dyn Fn(Event)) -> Result<(), StoreError> {
    let h = store.h();
    let headers = h.db.open_tree(LEGACY_TREE_HEADERS)?;
    let bodies = h.db.open_tree(LEGACY_TREE_BODIES)?;
    let mut done = progress(store, TO)?.unwrap_or(0);
    // Blocks on side branches are moved too, so this is a lower bound.
    let active = store.state()?.height + 1;
    // Where the next batch starts: the entries before it were moved (and
    // removed) by this run; after a restart, the tree's first key.
    let mut after: Option<Vec<u8>> = None;
    loop {
        let mut batch: Vec<Moved> = Vec::new();
        let mut bytes = 0usize;
        let entries = match &after {
            Some(k) => headers.range::<&[u8], _>((
                std::ops::Bound::Excluded(k.as_slice()),
                std::ops::Bound::Unbounded,
            )),
            None => headers.iter(),
        };
        for entry in entries {
            let (key, value) = entry?;
            let hash = BlockHash(
                <[u8; 32]>::try_from(&key[..])
                    .map_err(|_| StoreError::Corrupt("malformed header key".into()))?,
            );
            let record: HeaderRecord = codec::decode(&value, "header record")?;
            let body = bodies
                .get(&key)?
                .ok_or_else(|| StoreError::Corrupt(format!("block {hash} has no body")))?;
            let block = Block {
                header: record.header(),
                txs: codec::decode_body(&body)?,
            };
            let on_chain = h.chain.get(codec::height_key(record.height))?;
            let active_txids = if on_chain.as_deref() == Some(&key[..]) {
                block.txids()
            } else {
                Vec::new()
            };
            bytes += body.len();
            batch.push(Moved {
                hash,
                record: codec::encode_block_record(&record.chain_work, &block),
                height: record.height,
                active_txids,
            });
            if batch.len() >= BATCH_BLOCKS || bytes >= BATCH_BYTES {
                break;
            }
        }
        let Some(last) = batch.last() else { break };
        after = Some(last.hash.as_bytes().to_vec());
        done += batch.len() as u64;
        let trees = (&headers, &bodies, &h.blocks, &h.txs, &h.meta);
        let r = trees.transaction(|(headers, bodies, blocks, txs, meta)| {
            for m in &batch {
                blocks.insert(m.hash.as_bytes(), m.record.as_slice())?;
                headers.remove(m.hash.as_bytes())?;
                bodies.remove(m.hash.as_bytes())?;
                for (index, txid) in m.active_txids.iter().enumerate() {
                    let loc = TxLocation {
                        height: m.height,
                        index: index as u32,
                    };
                    txs.insert(txid.as_bytes(), codec::encode(&loc))?;
                }
            }
            meta.insert(KEY_MIGRATION, progress_record(TO, done))?;
            Ok(())
        });
        store.guard(r.map_err(StoreError::from))?;
        store.flush()?;
        notify(Event::Progress {
            to: TO,
            done,
            total: active.max(done),
        });
    }
    // Every block moved: the old trees are empty. Dropping them is not
    // part of a transaction; a crash before it leaves empty trees that a
    // rerun of this step finds empty and drops.
    if bodies.iter().next().is_some() {
        return Err(StoreError::Corrupt(
            "block bodies without headers are left after the upgrade".into(),
        ));
    }
    drop((headers, bodies));
    h.db.drop_tree(LEGACY_TREE_HEADERS)?;
    h.db.drop_tree(LEGACY_TREE_BODIES)?;
    store.flush()?;
    Ok(())
}
