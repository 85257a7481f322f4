//! Schema 3 -> 4: fewer, fuller records. sled 0.34 keeps at most 16 entries
//! in a leaf page, so a ledger's size, its open time and its cache misses
//! follow its number of records; schema 3 wrote five per block.
//!
//! - `blocks` maps a block hash to its cumulative work followed by the
//!   block's consensus encoding, replacing the two records of `headers`
//!   (bincode header record) and `bodies`.
//! - A `txs` entry locates its transaction by height and position (12
//!   bytes) instead of block hash and position (36): `txs` only ever
//!   describes the active chain.
//! - `heights` holds the active chain's hashes 4 heights to a record,
//!   replacing `chain` (one record per height).
//! - `author_groups` holds an author's entries 16 heights to a record
//!   (height, position, txid each), replacing `authors` (one record per
//!   transaction).
//!
//! Phase 1 moves blocks in key order, at most `BATCH_BLOCKS` blocks or
//! `BATCH_BYTES` bytes of bodies at a time. Each batch is one transaction
//! that writes the blocks' new records, rewrites the locations of an active
//! block's transactions, removes the old `headers` and `bodies` entries and
//! records progress; so the blocks still to move are exactly those left in
//! `headers`. Phase 2 then moves `chain` to `heights`, `BATCH_GROUPS` whole
//! groups per transaction, and phase 3 `authors` to `author_groups`,
//! `BATCH_ENTRIES` entries per transaction (appended to what a previous
//! batch put in the same group), each removing what it moved. A killed run
//! resumes with what is left. The emptied trees are dropped at the end; the
//! runner then bumps the version.

use sled::Transactional;

use super::super::schema::{
    author_group_key, author_key_position, HeaderRecord, TxLocation, HEIGHT_GROUP, KEY_MIGRATION,
    LEGACY_TREE_AUTHORS, LEGACY_TREE_BODIES, LEGACY_TREE_CHAIN, LEGACY_TREE_HEADERS,
};
use super::{progress, progress_record, Event};
use crate::consensus::{Block, BlockHash, Txid};
use crate::store::{codec, Store, StoreError};

pub const WHAT: &str =
    "store each block as one record, and group the chain's hashes and the author index by height";
const TO: u32 = 4;
const BATCH_BLOCKS: usize = 128;
const BATCH_BYTES: usize = 8 << 20;
/// Groups per transaction: 256 heights.
const BATCH_GROUPS: u64 = 256 / HEIGHT_GROUP;
const BATCH_ENTRIES: usize = 512;

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
    let chain = h.db.open_tree(LEGACY_TREE_CHAIN)?;
    let authors = h.db.open_tree(LEGACY_TREE_AUTHORS)?;
    let tip = store.state()?.height;
    move_blocks(store, &headers, &bodies, &chain, tip, notify)?;
    group_heights(store, &chain, tip, notify)?;
    group_authors(store, &authors, store.state()?.chain_txs, notify)?;
    // Every entry moved: the old trees are empty. Dropping them is not part
    // of a transaction; a crash before it leaves empty trees that a rerun
    // of this step finds empty and drops.
    if bodies.iter().next().is_some() {
        return Err(StoreError::Corrupt(
            "block bodies without headers are left after the upgrade".into(),
        ));
    }
    drop((headers, bodies, chain, authors));
    for name in [
        LEGACY_TREE_HEADERS,
        LEGACY_TREE_BODIES,
        LEGACY_TREE_CHAIN,
        LEGACY_TREE_AUTHORS,
    ] {
        h.db.drop_tree(name)?;
    }
    store.flush()?;
    Ok(())
}

/// Phase 1: `headers` and `bodies` into `blocks`, and the new `txs` values.
fn move_blocks(
    store: &Store,
    headers: &sled::Tree,
    bodies: &sled::Tree,
    chain: &sled::Tree,
    tip: u64,
    notify: &dyn Fn(Event),
) -> Result<(), StoreError> {
    let h = store.h();
    let mut done = progress(store, TO)?.unwrap_or(0);
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
            let record: HeaderRecord = codec::legacy::decode(&value, "header record")?;
            let body = bodies
                .get(&key)?
                .ok_or_else(|| StoreError::Corrupt(format!("block {hash} has no body")))?;
            let block = Block {
                header: record.header(),
                txs: codec::decode_body(&body)?,
            };
            let on_chain = chain.get(codec::legacy::height_key(record.height))?;
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
        let Some(last) = batch.last() else {
            return Ok(());
        };
        after = Some(last.hash.as_bytes().to_vec());
        done += batch.len() as u64;
        let trees = (headers, bodies, &h.blocks.0, &h.txs.0, &h.meta.0);
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
                    txs.insert(txid.as_bytes(), codec::legacy::encode(&loc))?;
                }
            }
            meta.insert(KEY_MIGRATION, progress_record(TO, done))?;
            Ok(())
        });
        store.guard(r.map_err(StoreError::from))?;
        store.flush()?;
        // Side-branch blocks move too, so the total is a lower bound.
        notify(Event::Progress {
            to: TO,
            done,
            total: (tip + 1).max(done),
        });
    }
}

/// Phase 2: `chain` (a record per height) into `heights` (whole groups).
fn group_heights(
    store: &Store,
    chain: &sled::Tree,
    tip: u64,
    notify: &dyn Fn(Event),
) -> Result<(), StoreError> {
    let h = store.h();
    loop {
        // Whole groups are moved, so what is left starts a group.
        let Some(first) = chain.iter().next() else {
            return Ok(());
        };
        let start = codec::legacy::decode_height_key(&first?.0)?;
        if !start.is_multiple_of(HEIGHT_GROUP) {
            return Err(StoreError::Corrupt(format!(
                "the height index resumes at {start}, inside a group"
            )));
        }
        let end = start.saturating_add(BATCH_GROUPS * HEIGHT_GROUP);
        let mut groups: Vec<([u8; 8], Vec<u8>)> = Vec::new();
        let mut heights = Vec::new();
        let mut expected = start;
        for entry in chain.range(codec::legacy::height_key(start)..codec::legacy::height_key(end)) {
            let (key, value) = entry?;
            let height = codec::legacy::decode_height_key(&key)?;
            if height != expected {
                return Err(StoreError::Corrupt(format!(
                    "the height index jumps from {expected} to {height}"
                )));
            }
            let hash: BlockHash = codec::legacy::decode(&value, "chain entry")?;
            if height % HEIGHT_GROUP == 0 {
                groups.push((codec::group_key(height), Vec::new()));
            }
            let group = &mut groups.last_mut().expect("a group was started").1;
            group.extend_from_slice(hash.as_bytes());
            heights.push(key);
            expected += 1;
        }
        let trees = (chain, &h.heights.0, &h.meta.0);
        let r = trees.transaction(|(chain, grouped, meta)| {
            for (key, hashes) in &groups {
                grouped.insert(key, hashes.as_slice())?;
            }
            for key in &heights {
                chain.remove(key)?;
            }
            meta.insert(KEY_MIGRATION, progress_record(TO, expected))?;
            Ok(())
        });
        store.guard(r.map_err(StoreError::from))?;
        store.flush()?;
        notify(Event::Progress {
            to: TO,
            done: expected,
            total: (tip + 1).max(expected),
        });
    }
}

/// Phase 3: `authors` (a record per transaction) into `author_groups`.
fn group_authors(
    store: &Store,
    authors: &sled::Tree,
    total: u64,
    notify: &dyn Fn(Event),
) -> Result<(), StoreError> {
    let h = store.h();
    let mut done = 0u64;
    loop {
        // (group key, entries to append to it), in key order, and the old
        // keys they came from.
        let mut groups: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut old = Vec::new();
        for entry in authors.iter().take(BATCH_ENTRIES) {
            let (key, txid) = entry?;
            let malformed = || StoreError::Corrupt("malformed author index entry".into());
            let plen = 1 + *key.first().ok_or_else(malformed)? as usize;
            let (height, index) = author_key_position(&key, plen).ok_or_else(malformed)?;
            let author = std::str::from_utf8(&key[1..plen]).map_err(|_| malformed())?;
            let txid =
                crate::consensus::Txid(<[u8; 32]>::try_from(&txid[..]).map_err(|_| malformed())?);
            let group = author_group_key(author, height);
            if groups.last().map(|(k, _)| k) != Some(&group) {
                groups.push((group, Vec::new()));
            }
            let entries = &mut groups.last_mut().expect("a group was started").1;
            codec::push_author_entry(entries, height, index, &txid);
            old.push(key);
        }
        if old.is_empty() {
            return Ok(());
        }
        done += old.len() as u64;
        let trees = (authors, &h.author_groups.0, &h.meta.0);
        let r = trees.transaction(|(authors, grouped, meta)| {
            for (key, entries) in &groups {
                let mut v = grouped.get(key)?.map(|v| v.to_vec()).unwrap_or_default();
                v.extend_from_slice(entries);
                grouped.insert(key.as_slice(), v)?;
            }
            for key in &old {
                authors.remove(key)?;
            }
            meta.insert(KEY_MIGRATION, progress_record(TO, done))?;
            Ok(())
        });
        store.guard(r.map_err(StoreError::from))?;
        store.flush()?;
        notify(Event::Progress {
            to: TO,
            done,
            total: total.max(done),
        });
    }
}
