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
//!
//! Frozen: the file owns every tree name, group size, key and record layout
//! it reads and writes; it uses no live store codec, only the consensus
//! encodings, and commits every batch through the runner's `commit_batch`.

use crate::consensus::block::decode_txs;
use crate::consensus::encode::Reader;
use crate::consensus::{Block, BlockHash, BlockHeader, Difficulty, MerkleNode, Transaction, Txid};
use crate::store::{Store, StoreError};

use super::{commit_batch, progress, Event};

pub const WHAT: &str =
    "store each block as one record, and group the chain's hashes and the author index by height";
const TO: u32 = 4;
const BATCH_BLOCKS: usize = 128;
const BATCH_BYTES: usize = 8 << 20;
/// Groups per transaction: 256 heights.
const BATCH_GROUPS: u64 = 256 / HEIGHT_GROUP;
const BATCH_ENTRIES: usize = 512;

// Frozen: every name and layout this step reads (schema 3) and writes
// (schema 4), owned here so that a later schema cannot change them under it.
const TREE_HEADERS: &str = "headers";
const TREE_BODIES: &str = "bodies";
const TREE_CHAIN: &str = "chain";
const TREE_AUTHORS: &str = "authors";
const TREE_BLOCKS: &str = "blocks";
const TREE_TXS: &str = "txs";
const TREE_HEIGHTS: &str = "heights";
const TREE_AUTHOR_GROUPS: &str = "author_groups";
/// Heights per schema-4 `heights` record.
const HEIGHT_GROUP: u64 = 4;
/// Heights per schema-4 `author_groups` record.
const AUTHOR_GROUP: u64 = 16;

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// The schema 1-3 header record (bincode, fixed-width little-endian, 136
/// bytes): version u32, height u64, previous hash, Merkle root, timestamp
/// u64, difficulty u32, nonce u64, chain work (four u64 limbs, least
/// significant first), transaction count u32, size u32. Returns the
/// header and the chain work's 32 bytes as stored (schema 4 keeps them).
fn decode_header_record(v: &[u8]) -> Result<(BlockHeader, [u8; 32]), StoreError> {
    if v.len() != 136 {
        return Err(corrupt(format!("header record of {} bytes", v.len())));
    }
    let u32_at = |at: usize| u32::from_le_bytes(v[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |at: usize| u64::from_le_bytes(v[at..at + 8].try_into().expect("8 bytes"));
    let header = BlockHeader {
        version: u32_at(0),
        height: u64_at(4),
        prev_hash: BlockHash(v[12..44].try_into().expect("32 bytes")),
        merkle_root: MerkleNode(v[44..76].try_into().expect("32 bytes")),
        timestamp: u64_at(76),
        difficulty: Difficulty(u32_at(84)),
        nonce: u64_at(88),
    };
    Ok((header, v[96..128].try_into().expect("32 bytes")))
}

/// A schema-4 block record: the chain work's 32 bytes, then the block's
/// consensus encoding.
fn block_record(work: &[u8; 32], block: &Block) -> Vec<u8> {
    let mut out = work.to_vec();
    out.extend_from_slice(&block.encode());
    out
}

/// A schema-3 `bodies` value: the consensus transaction list.
fn decode_body(bytes: &[u8]) -> Result<Vec<Transaction>, StoreError> {
    let mut r = Reader::new(bytes);
    let txs = decode_txs(&mut r).and_then(|t| r.finish().map(|_| t));
    txs.map_err(|e| corrupt(format!("block body: {e}")))
}

/// A schema-4 `txs` value: height u64 LE, position u32 LE.
fn tx_location(height: u64, index: u32) -> [u8; 12] {
    let mut v = [0u8; 12];
    v[..8].copy_from_slice(&height.to_le_bytes());
    v[8..].copy_from_slice(&index.to_le_bytes());
    v
}

/// A key of the schema-3 `chain` tree (and of a schema-4 `heights` group
/// when given `height / HEIGHT_GROUP`): u64 BE.
fn u64_key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

fn decode_u64_key(k: &[u8]) -> Result<u64, StoreError> {
    Ok(u64::from_be_bytes(
        k.try_into().map_err(|_| corrupt("a height key"))?,
    ))
}

/// Schema-4 `author_groups` key: author length, author, height / 16 (BE).
fn author_group_key(author: &str, height: u64) -> Vec<u8> {
    let mut k = vec![author.len() as u8];
    k.extend_from_slice(author.as_bytes());
    k.extend_from_slice(&(height / AUTHOR_GROUP).to_be_bytes());
    k
}

/// A schema-3 `authors` key (author length, author, height u64 BE,
/// position u32 BE): the author, height and position.
fn decode_author_key(key: &[u8]) -> Option<(&str, u64, u32)> {
    let plen = 1 + *key.first()? as usize;
    let author = std::str::from_utf8(key.get(1..plen)?).ok()?;
    let rest = key.get(plen..)?;
    if rest.len() != 12 {
        return None;
    }
    let height = u64::from_be_bytes(rest[..8].try_into().ok()?);
    let index = u32::from_be_bytes(rest[8..].try_into().ok()?);
    Some((author, height, index))
}

/// The tip height and chain transaction count of a schema 1-4 chain state
/// (tip 32, height u64 at 32, work 32, transactions u64 at 72).
fn tip_and_txs(store: &Store) -> Result<(u64, u64), StoreError> {
    let state = store.h().db.open_tree("meta")?.get("state")?;
    let s = state.ok_or_else(|| corrupt("missing chain state"))?;
    if s.len() < 80 {
        return Err(corrupt("short chain state"));
    }
    let at = |i: usize| u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    Ok((at(32), at(72)))
}

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
    let db = &store.h().db;
    let headers = db.open_tree(TREE_HEADERS)?;
    let bodies = db.open_tree(TREE_BODIES)?;
    let chain = db.open_tree(TREE_CHAIN)?;
    let authors = db.open_tree(TREE_AUTHORS)?;
    let (tip, chain_txs) = tip_and_txs(store)?;
    move_blocks(store, &headers, &bodies, &chain, tip, notify)?;
    group_heights(store, &chain, tip, notify)?;
    group_authors(store, &authors, chain_txs, notify)?;
    // Every entry moved: the old trees are empty. Dropping them is not part
    // of a transaction; a crash before it leaves empty trees that a rerun
    // of this step finds empty and drops.
    if bodies.iter().next().is_some() {
        return Err(StoreError::Corrupt(
            "block bodies without headers are left after the upgrade".into(),
        ));
    }
    drop((headers, bodies, chain, authors));
    for name in [TREE_HEADERS, TREE_BODIES, TREE_CHAIN, TREE_AUTHORS] {
        db.drop_tree(name)?;
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
    let blocks = store.h().db.open_tree(TREE_BLOCKS)?;
    let txs = store.h().db.open_tree(TREE_TXS)?;
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
            let (header, work) = decode_header_record(&value)?;
            let body = bodies
                .get(&key)?
                .ok_or_else(|| StoreError::Corrupt(format!("block {hash} has no body")))?;
            let block = Block {
                header,
                txs: decode_body(&body)?,
            };
            let on_chain = chain.get(u64_key(header.height))?;
            let active_txids = if on_chain.as_deref() == Some(&key[..]) {
                block.txids()
            } else {
                Vec::new()
            };
            bytes += body.len();
            batch.push(Moved {
                hash,
                record: block_record(&work, &block),
                height: header.height,
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
        // Side-branch blocks move too, so the total is a lower bound.
        let trees = [headers, bodies, &blocks, &txs];
        commit_batch(store, TO, &trees, (done, tip + 1), notify, |t, _| {
            let [headers, bodies, blocks, txs] = t else {
                unreachable!("four trees")
            };
            for m in &batch {
                blocks.insert(m.hash.as_bytes(), m.record.as_slice())?;
                headers.remove(m.hash.as_bytes())?;
                bodies.remove(m.hash.as_bytes())?;
                for (index, txid) in m.active_txids.iter().enumerate() {
                    txs.insert(txid.as_bytes(), &tx_location(m.height, index as u32))?;
                }
            }
            Ok(())
        })?;
    }
}

/// Phase 2: `chain` (a record per height) into `heights` (whole groups).
fn group_heights(
    store: &Store,
    chain: &sled::Tree,
    tip: u64,
    notify: &dyn Fn(Event),
) -> Result<(), StoreError> {
    let grouped = store.h().db.open_tree(TREE_HEIGHTS)?;
    loop {
        // Whole groups are moved, so what is left starts a group.
        let Some(first) = chain.iter().next() else {
            return Ok(());
        };
        let start = decode_u64_key(&first?.0)?;
        if !start.is_multiple_of(HEIGHT_GROUP) {
            return Err(StoreError::Corrupt(format!(
                "the height index resumes at {start}, inside a group"
            )));
        }
        let end = start.saturating_add(BATCH_GROUPS * HEIGHT_GROUP);
        let mut groups: Vec<([u8; 8], Vec<u8>)> = Vec::new();
        let mut heights = Vec::new();
        let mut expected = start;
        for entry in chain.range(u64_key(start)..u64_key(end)) {
            let (key, value) = entry?;
            let height = decode_u64_key(&key)?;
            if height != expected {
                return Err(StoreError::Corrupt(format!(
                    "the height index jumps from {expected} to {height}"
                )));
            }
            let hash = BlockHash(value[..].try_into().map_err(|_| corrupt("chain entry"))?);
            if height % HEIGHT_GROUP == 0 {
                groups.push((u64_key(height / HEIGHT_GROUP), Vec::new()));
            }
            let group = &mut groups.last_mut().expect("a group was started").1;
            group.extend_from_slice(hash.as_bytes());
            heights.push(key);
            expected += 1;
        }
        commit_batch(
            store,
            TO,
            &[chain, &grouped],
            (expected, tip + 1),
            notify,
            |t, _| {
                for (key, hashes) in &groups {
                    t[1].insert(key, hashes.as_slice())?;
                }
                for key in &heights {
                    t[0].remove(key)?;
                }
                Ok(())
            },
        )?;
    }
}

/// Phase 3: `authors` (a record per transaction) into `author_groups`.
fn group_authors(
    store: &Store,
    authors: &sled::Tree,
    total: u64,
    notify: &dyn Fn(Event),
) -> Result<(), StoreError> {
    let grouped = store.h().db.open_tree(TREE_AUTHOR_GROUPS)?;
    let mut done = 0u64;
    loop {
        // (group key, entries to append to it), in key order, and the old
        // keys they came from.
        let mut groups: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut old = Vec::new();
        for entry in authors.iter().take(BATCH_ENTRIES) {
            let (key, txid) = entry?;
            let malformed = || corrupt("malformed author index entry");
            let (author, height, index) = decode_author_key(&key).ok_or_else(malformed)?;
            let txid: [u8; 32] = txid[..].try_into().map_err(|_| malformed())?;
            let group = author_group_key(author, height);
            if groups.last().map(|(k, _)| k) != Some(&group) {
                groups.push((group, Vec::new()));
            }
            let entries = &mut groups.last_mut().expect("a group was started").1;
            // An entry: height u64 BE, position u32 BE, txid.
            entries.extend_from_slice(&height.to_be_bytes());
            entries.extend_from_slice(&index.to_be_bytes());
            entries.extend_from_slice(&txid);
            old.push(key);
        }
        if old.is_empty() {
            return Ok(());
        }
        done += old.len() as u64;
        commit_batch(
            store,
            TO,
            &[authors, &grouped],
            (done, total),
            notify,
            |t, _| {
                for (key, entries) in &groups {
                    let mut v = t[1].get(key)?.map(|v| v.to_vec()).unwrap_or_default();
                    v.extend_from_slice(entries);
                    t[1].insert(key.as_slice(), v)?;
                }
                for key in &old {
                    t[0].remove(key)?;
                }
                Ok(())
            },
        )?;
    }
}
