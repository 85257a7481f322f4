//! Every change of ledger state: [`Store::submit`], [`Store::append`] and
//! [`Store::append_batch`]. Each is checked in full first, then written as
//! one sled transaction across the trees it touches and flushed before it
//! returns, so an acknowledged change survives a crash and a crash never
//! leaves half a change.

use std::collections::{BTreeMap, HashSet};

use sled::transaction::{ConflictableTransactionError, ConflictableTransactionResult};

use super::schema::{
    author_group_key, ChainState, HeaderRecord, MiningCheckpoint, TxLocation, AUTHOR_ENTRY_BYTES,
    HEIGHT_GROUP, KEY_CHECKPOINT, KEY_STATE,
};
use super::{codec, Cursor, Store, StoreError, TxTrees};
use crate::consensus::block::MAX_BLOCK_BYTES;
use crate::consensus::header::{HEADER_BYTES, HEADER_VERSION};
use crate::consensus::merkle::merkle_root;
use crate::consensus::rules::{self, CheckedBlock};
use crate::consensus::{Block, BlockHash, BlockHeader, Transaction, Txid, Work};

/// Aborts a sled transaction with `e`.
pub(crate) fn abort<T>(e: StoreError) -> ConflictableTransactionResult<T, StoreError> {
    Err(ConflictableTransactionError::Abort(e))
}

/// Reads and decodes a `meta` record inside a transaction.
pub(crate) fn meta_in_tx<T: serde::de::DeserializeOwned>(
    t: &TxTrees<'_>,
    key: &[u8],
    what: &'static str,
) -> ConflictableTransactionResult<Option<T>, StoreError> {
    match t.meta.get(key)? {
        None => Ok(None),
        Some(raw) => match codec::decode(&raw, what) {
            Ok(v) => Ok(Some(v)),
            Err(e) => abort(e.into()),
        },
    }
}

/// Reads the chain state inside a transaction.
pub(crate) fn read_state_in_tx(
    t: &TxTrees<'_>,
) -> ConflictableTransactionResult<ChainState, StoreError> {
    match meta_in_tx(t, KEY_STATE, "chain state")? {
        Some(s) => Ok(s),
        None => abort(StoreError::Corrupt("missing chain state".into())),
    }
}

/// Reads the chain state inside a transaction and checks the tip is still
/// the one the caller checked against.
fn state_in_tx(
    t: &TxTrees<'_>,
    expected_tip: BlockHash,
) -> ConflictableTransactionResult<ChainState, StoreError> {
    let state = read_state_in_tx(t)?;
    if state.tip != expected_tip {
        return abort(StoreError::Conflict);
    }
    Ok(state)
}

/// Stages `block` as the new tip: its block record, height entry,
/// transaction locations, and the removal of its transactions from pending.
pub(crate) fn stage_block(
    t: &TxTrees<'_>,
    block: &CheckedBlock,
    record: &HeaderRecord,
    state: &mut ChainState,
) -> ConflictableTransactionResult<(), StoreError> {
    let hash = block.hash();
    t.blocks.insert(
        hash.as_bytes(),
        codec::encode_block_record(&record.chain_work, block),
    )?;
    stage_connect(t, &block.txs, hash, block.txids(), record, state)
}

/// Stages a stored block `hash` (its block record already written) as
/// the new tip: its height entry, its transactions' locations and author
/// entries, and their removal from pending.
pub(crate) fn stage_connect(
    t: &TxTrees<'_>,
    txs: &[Transaction],
    hash: BlockHash,
    txids: &[Txid],
    record: &HeaderRecord,
    state: &mut ChainState,
) -> ConflictableTransactionResult<(), StoreError> {
    stage_set_height(t, record.height, hash)?;
    // Each author's entries of this block, appended to their group at once.
    let mut by_author: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for ((index, txid), tx) in txids.iter().enumerate().zip(txs) {
        codec::push_author_entry(
            by_author.entry(tx.author()).or_default(),
            record.height,
            index as u32,
            txid,
        );
    }
    for (author, entries) in by_author {
        let key = author_group_key(author, record.height);
        let mut v = t
            .author_groups
            .get(&key)?
            .map(|v| v.to_vec())
            .unwrap_or_default();
        v.extend_from_slice(&entries);
        t.author_groups.insert(key, v)?;
    }
    for (index, txid) in txids.iter().enumerate() {
        let loc = TxLocation {
            height: record.height,
            index: index as u32,
        };
        t.txs.insert(txid.as_bytes(), codec::encode(&loc))?;
        // With nothing pending (an import, say) there is nothing to remove.
        if state.pending == 0 {
            continue;
        }
        if let Some(seq) = t.pending_ids.remove(txid.as_bytes())? {
            t.pending.remove(seq)?;
            state.pending = state.pending.saturating_sub(1);
        }
    }
    state.tip = hash;
    state.height = record.height;
    state.chain_work = record.chain_work;
    state.chain_txs += txids.len() as u64;
    Ok(())
}

/// Stages `hash` as the active chain's block at `height`, the height just
/// above the current tip (a read and a rewrite of its `heights` group).
pub(crate) fn stage_set_height(
    t: &TxTrees<'_>,
    height: u64,
    hash: BlockHash,
) -> ConflictableTransactionResult<(), StoreError> {
    let key = codec::group_key(height);
    let slot = (height % HEIGHT_GROUP) as usize * 32;
    let mut v = t.heights.get(key)?.map(|v| v.to_vec()).unwrap_or_default();
    if v.len() < slot {
        return abort(StoreError::Corrupt(format!(
            "the active chain has a gap below height {height}"
        )));
    }
    v.truncate(slot);
    v.extend_from_slice(hash.as_bytes());
    t.heights.insert(&key, v)?;
    Ok(())
}

/// Stages the removal of the active chain's top block, at `height`.
pub(crate) fn stage_remove_height(
    t: &TxTrees<'_>,
    height: u64,
) -> ConflictableTransactionResult<(), StoreError> {
    let key = codec::group_key(height);
    let slot = (height % HEIGHT_GROUP) as usize * 32;
    let v = t.heights.get(key)?.map(|v| v.to_vec()).unwrap_or_default();
    if v.len() != slot + 32 {
        return abort(StoreError::Corrupt(format!(
            "height {height} is not the top of the active chain"
        )));
    }
    if slot == 0 {
        t.heights.remove(&key)?;
    } else {
        t.heights.insert(&key, &v[..slot])?;
    }
    Ok(())
}

/// Stages the removal of the author entries of the active chain's top
/// block, at `height`, whose transactions are `txs`.
pub(crate) fn stage_remove_authors(
    t: &TxTrees<'_>,
    height: u64,
    txs: &[Transaction],
) -> ConflictableTransactionResult<(), StoreError> {
    let authors: std::collections::BTreeSet<&str> = txs.iter().map(|tx| tx.author()).collect();
    for author in authors {
        let key = author_group_key(author, height);
        let Some(v) = t.author_groups.get(&key)? else {
            continue;
        };
        let kept: Vec<u8> = v
            .chunks_exact(AUTHOR_ENTRY_BYTES)
            .filter(|e| e[..8] != height.to_be_bytes())
            .flatten()
            .copied()
            .collect();
        if kept.is_empty() {
            t.author_groups.remove(key)?;
        } else {
            t.author_groups.insert(key, kept)?;
        }
    }
    Ok(())
}

/// A block that passed every rule, with the header record it is stored
/// under.
struct Connect {
    block: CheckedBlock,
    record: HeaderRecord,
}

impl Connect {
    fn new(block: CheckedBlock, chain_work: Work) -> Connect {
        let record = HeaderRecord::new(
            &block.header,
            chain_work,
            block.txs.len() as u32,
            block.encoded_len() as u32,
        );
        Connect { block, record }
    }
}

/// The result of appending blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub hash: BlockHash,
    pub height: u64,
}

impl Store {
    /// Records `tx` as pending. Refuses a transaction already pending or in
    /// the chain.
    pub fn submit(&self, tx: &Transaction) -> Result<Txid, StoreError> {
        let txid = tx.txid();
        if self.h().txs.contains_key(txid.as_bytes())? {
            return Err(StoreError::AlreadyInChain(txid));
        }
        let bytes = codec::encode_tx(tx);
        self.transact(|t| {
            if t.txs.get(txid.as_bytes())?.is_some() {
                return abort(StoreError::AlreadyInChain(txid));
            }
            if t.pending_ids.get(txid.as_bytes())?.is_some() {
                return abort(StoreError::AlreadyPending(txid));
            }
            let mut state = read_state_in_tx(t)?;
            let seq = codec::height_key(state.next_pending_seq);
            if t.pending.get(seq)?.is_some() {
                return abort(StoreError::Corrupt(
                    "the next pending sequence number is taken".into(),
                ));
            }
            t.pending.insert(&seq, bytes.as_slice())?;
            t.pending_ids.insert(txid.as_bytes(), &seq)?;
            state.next_pending_seq += 1;
            state.pending += 1;
            t.meta.insert(KEY_STATE, codec::encode(&state))?;
            Ok(())
        })?;
        Ok(txid)
    }

    /// Checks `block` against every rule on top of the current tip, then
    /// makes it the new tip in one transaction, removing its transactions
    /// from pending.
    pub fn append(&self, block: &Block, now_ms: u64) -> Result<Appended, StoreError> {
        let state = self.state()?;
        let parent = self.parent_info(&state)?;
        let checked =
            rules::check_block(block.clone(), &parent, now_ms, |id| self.tx_in_chain(id))?;
        let chain_work = state
            .chain_work
            .checked_add(block.header.difficulty.work())
            .ok_or_else(|| StoreError::Corrupt("chain work overflow".into()))?;
        self.commit(state.tip, &[Connect::new(checked, chain_work)])
    }

    /// Checks `blocks`, which must extend the tip in order, and appends them
    /// all in one transaction: either all are written or none. Used by import.
    pub fn append_batch(&self, blocks: &[Block], now_ms: u64) -> Result<Appended, StoreError> {
        let state = self.state()?;
        let mut dry = DryRun::on_store(self)?;
        let mut checked = Vec::with_capacity(blocks.len());
        for block in blocks {
            let block = dry.check(block, now_ms)?;
            checked.push(Connect::new(block, dry.chain_work()));
        }
        if checked.is_empty() {
            return Ok(Appended {
                hash: state.tip,
                height: state.height,
            });
        }
        self.commit(state.tip, &checked)
    }

    /// True when `txid` is in the active chain at or below `height`.
    pub(crate) fn tx_in_chain_up_to(&self, txid: &Txid, height: u64) -> Result<bool, StoreError> {
        match self.h().txs.get(txid.as_bytes())? {
            Some(v) => {
                let loc: TxLocation = codec::decode(&v, "transaction location")?;
                Ok(loc.height <= height)
            }
            None => Ok(false),
        }
    }

    /// True when `txid` is in the active chain.
    pub(crate) fn tx_in_chain(&self, txid: &Txid) -> Result<bool, StoreError> {
        Ok(self.h().txs.contains_key(txid.as_bytes())?)
    }

    fn commit(&self, expected_tip: BlockHash, blocks: &[Connect]) -> Result<Appended, StoreError> {
        self.transact(|t| {
            let mut state = state_in_tx(t, expected_tip)?;
            t.tips.remove(expected_tip.as_bytes())?;
            for c in blocks {
                stage_block(t, &c.block, &c.record, &mut state)?;
            }
            t.tips.insert(state.tip.as_bytes(), &[])?;
            t.meta.insert(KEY_STATE, codec::encode(&state))?;
            // A search checkpoint belongs to the old tip.
            t.meta.remove(KEY_CHECKPOINT)?;
            Ok(Appended {
                hash: state.tip,
                height: state.height,
            })
        })
    }

    /// A block template on the current tip: the oldest pending transactions
    /// that fit the size limit, the required difficulty, and a timestamp of
    /// `now_ms` or just after the median time past, whichever is later.
    /// The nonce is left at 0 for the miner.
    pub fn template(&self, now_ms: u64) -> Result<Block, StoreError> {
        let state = self.state()?;
        let parent = self.parent_info(&state)?;
        let mut size = HEADER_BYTES + 4;
        let mut txs = Vec::new();
        for item in self.h().pending.iter() {
            let (_, raw) = item?;
            let tx = codec::decode_tx(&raw)?;
            if size + tx.encoded_len() > MAX_BLOCK_BYTES {
                break;
            }
            size += tx.encoded_len();
            txs.push(tx);
        }
        let ids: Vec<Txid> = txs.iter().map(Transaction::txid).collect();
        Ok(Block {
            header: BlockHeader {
                version: HEADER_VERSION,
                height: parent.height + 1,
                prev_hash: parent.hash,
                merkle_root: merkle_root(&ids),
                timestamp: now_ms.max(parent.median_time_past + 1),
                difficulty: parent.next_difficulty,
                nonce: 0,
            },
            txs,
        })
    }
}

impl Store {
    /// Records where a nonce search stands (one insert, flushed).
    pub fn save_checkpoint(
        &self,
        template: &Block,
        tried_below: u64,
        hashes: u64,
    ) -> Result<(), StoreError> {
        self.writable()?;
        let h = &template.header;
        let seq_of = |tx: &Transaction| -> Result<u64, StoreError> {
            match self.h().pending_ids.get(tx.txid().as_bytes())? {
                Some(seq) => Ok(codec::decode_height_key(&seq)?),
                None => Err(StoreError::Conflict),
            }
        };
        let (first_seq, last_seq) = match (template.txs.first(), template.txs.last()) {
            (Some(a), Some(b)) => (seq_of(a)?, seq_of(b)?),
            _ => (0, 0),
        };
        let cp = MiningCheckpoint {
            version: h.version,
            height: h.height,
            prev_hash: h.prev_hash,
            merkle_root: h.merkle_root,
            timestamp: h.timestamp,
            difficulty: h.difficulty.0,
            tx_count: template.txs.len() as u64,
            first_seq,
            last_seq,
            tried_below,
            hashes,
        };
        self.guard(
            self.h()
                .meta
                .insert(KEY_CHECKPOINT, codec::encode(&cp))
                .map_err(StoreError::from),
        )?;
        self.flush()?;
        Ok(())
    }

    /// The saved search checkpoint, if any.
    pub fn checkpoint(&self) -> Result<Option<MiningCheckpoint>, StoreError> {
        match self.h().meta.get(KEY_CHECKPOINT)? {
            Some(v) => Ok(Some(codec::decode(&v, "mining checkpoint")?)),
            None => Ok(None),
        }
    }

    /// Removes the search checkpoint.
    pub fn clear_checkpoint(&self) -> Result<(), StoreError> {
        self.writable()?;
        self.guard(
            self.h()
                .meta
                .remove(KEY_CHECKPOINT)
                .map_err(StoreError::from),
        )?;
        self.flush()?;
        Ok(())
    }

    /// The checkpointed template and its checkpoint, if the template is
    /// still valid: it extends the current tip with the required
    /// difficulty and an acceptable timestamp, and every transaction it
    /// chose is still pending.
    pub fn resume_template(
        &self,
        now_ms: u64,
    ) -> Result<Option<(Block, MiningCheckpoint)>, StoreError> {
        let Some(cp) = self.checkpoint()? else {
            return Ok(None);
        };
        let state = self.state()?;
        let parent = self.parent_info(&state)?;
        let mut txs = Vec::new();
        if cp.tx_count > 0 {
            for item in self.pending_from(cp.first_seq) {
                let (seq, tx) = item?;
                if seq > cp.last_seq {
                    break;
                }
                txs.push(tx);
            }
        }
        if txs.len() as u64 != cp.tx_count {
            return Ok(None);
        }
        let block = Block {
            header: BlockHeader {
                version: cp.version,
                height: cp.height,
                prev_hash: cp.prev_hash,
                merkle_root: cp.merkle_root,
                timestamp: cp.timestamp,
                difficulty: crate::consensus::Difficulty(cp.difficulty),
                nonce: 0,
            },
            txs,
        };
        // Every rule but the proof of work, which the search is for.
        let valid = rules::check_header(&block.header, &parent, now_ms).is_ok()
            && rules::check_body(&block).is_ok();
        Ok(valid.then_some((block, cp)))
    }
}

/// A streaming checker for a sequence of blocks on top of a [`Cursor`]:
/// the dry run of an import. It keeps only the cursor and the ids of the
/// transactions seen, and writes nothing.
pub struct DryRun<'s> {
    store: Option<&'s Store>,
    cursor: Cursor,
    seen: HashSet<Txid>,
    /// For a branch off the active chain: the height of the last block the
    /// two share. Only transactions at or below it count as already in the
    /// chain the branch extends.
    fork_height: Option<u64>,
}

impl<'s> DryRun<'s> {
    /// Checks blocks on top of the store's tip.
    pub fn on_store(store: &'s Store) -> Result<Self, StoreError> {
        Ok(DryRun {
            store: Some(store),
            cursor: store.cursor()?,
            seen: HashSet::new(),
            fork_height: None,
        })
    }

    /// Checks blocks on top of the stored block `parent`, on any branch.
    pub fn on_branch(store: &'s Store, parent: &BlockHash) -> Result<Self, StoreError> {
        // Walk down to the active chain; the side blocks passed on the way
        // are part of the branch, so their transactions count as seen.
        let mut seen = HashSet::new();
        let mut at = *parent;
        let fork_height = loop {
            let r = store.header(&at)?.ok_or(StoreError::NoSuchBlock(at))?;
            if store.hash_at(r.height)? == Some(at) {
                break r.height;
            }
            if let Some(b) = store.block(&at)? {
                seen.extend(b.block.txids());
            }
            at = r.prev_hash;
        };
        Ok(DryRun {
            store: Some(store),
            cursor: store.cursor_at(parent)?,
            seen,
            fork_height: Some(fork_height),
        })
    }

    /// Checks blocks on top of a genesis block that is not stored yet.
    pub fn on_genesis(genesis: &Block, now_ms: u64) -> Result<Self, StoreError> {
        let (_, params) = rules::check_genesis(genesis.clone(), now_ms)?;
        let hash = genesis.hash();
        Ok(DryRun {
            store: None,
            cursor: Cursor::new(
                params,
                genesis.header,
                hash,
                genesis.header.difficulty.work(),
                [],
            ),
            seen: genesis.txids().into_iter().collect(),
            fork_height: None,
        })
    }

    /// Checks that `block` extends the blocks checked so far, against
    /// every rule; the chain it extends is the store's below the branch
    /// point and the blocks checked so far.
    pub fn check(&mut self, block: &Block, now_ms: u64) -> Result<CheckedBlock, StoreError> {
        let (seen, store, fork) = (&self.seen, self.store, self.fork_height);
        let in_chain = |id: &Txid| -> Result<bool, StoreError> {
            Ok(seen.contains(id)
                || match (store, fork) {
                    (Some(s), None) => s.tx_in_chain(id)?,
                    (Some(s), Some(fork)) => s.tx_in_chain_up_to(id, fork)?,
                    (None, _) => false,
                })
        };
        let checked =
            rules::check_block(block.clone(), &self.cursor.parent_info(), now_ms, in_chain)?;
        self.seen.extend(checked.txids().iter().copied());
        self.cursor.advance(checked.header, checked.hash());
        Ok(checked)
    }

    /// Cumulative work up to the last block checked.
    pub fn chain_work(&self) -> crate::consensus::Work {
        self.cursor.chain_work()
    }
}
