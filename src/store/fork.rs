//! Forks: accepting a valid block on any known branch, choosing the chain
//! with the most work, reorganising to it, and holding orphans (blocks
//! whose parent is not known yet) until their parent arrives.
//!
//! A side-branch block is checked on receipt against its own branch (proof
//! of work, the difficulty that branch requires, its median time past, the
//! Merkle root, sizes, duplicates within the block) and stored with its
//! cumulative work. When a branch's tip has strictly more work than the
//! active tip (on a tie the chain seen first stays), the store checks the
//! branch's transactions against the chain below the fork point, writes a
//! [`ReorgJournal`], then disconnects the old blocks and connects the new
//! ones in bounded batches, one transaction each. A crash in between leaves
//! a consistent store; opening it finishes the reorganisation.

use std::collections::HashSet;

use super::schema::{
    HeaderRecord, OrphanState, ReorgJournal, KEY_CHECKPOINT, KEY_ORPHANS, KEY_REORG, KEY_STATE,
};
use super::write::{
    abort, meta_in_tx, read_state_in_tx, stage_connect, stage_remove_authors, stage_remove_height,
    Appended,
};
use super::{codec, Cursor, Store, StoreError};
use crate::consensus::rules::{self, BlockError};
use crate::consensus::{Block, BlockHash, Transaction, Txid, Work};

/// Most blocks kept waiting for their parent; beyond it the oldest go.
pub const MAX_ORPHANS: u64 = 1024;
/// Blocks disconnected or connected per transaction in a reorganisation.
pub const REORG_BATCH: u64 = 128;

/// What became of a block given to [`Store::accept_block`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// The store already had it.
    AlreadyKnown,
    /// It extended the active chain.
    Extended(Appended),
    /// It was stored on a side branch with no more work than the active chain.
    SideBranch { hash: BlockHash, height: u64 },
    /// Its branch overtook the active chain, which now ends in it.
    Reorganized {
        tip: Appended,
        disconnected: u64,
        connected: u64,
    },
    /// Its parent is unknown: held in the orphan pool.
    Orphan,
}

/// A block without children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tip {
    pub hash: BlockHash,
    pub record: HeaderRecord,
    pub active: bool,
}

impl Store {
    /// A [`Cursor`] at any stored block, built by walking back from it
    /// through its own ancestors (not the active chain).
    pub fn cursor_at(&self, hash: &BlockHash) -> Result<Cursor, StoreError> {
        let tip = self.header(hash)?.ok_or(StoreError::NoSuchBlock(*hash))?;
        let keep = Cursor::history_len(self.params());
        let mut times = Vec::with_capacity(keep);
        let mut at = tip;
        while times.len() + 1 < keep && at.height > 0 {
            at = self.header(&at.prev_hash)?.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "block {} has no parent {}",
                    at.height, at.prev_hash
                ))
            })?;
            times.push(at.timestamp);
        }
        times.reverse();
        Ok(Cursor::new(
            self.params().clone(),
            tip.header(),
            *hash,
            tip.chain_work,
            times,
        ))
    }

    /// The chain tips (blocks without children), the active one first.
    pub fn tips(&self) -> Result<Vec<Tip>, StoreError> {
        let active = self.state()?.tip;
        let mut tips = Vec::new();
        for entry in self.h().tips.iter() {
            let (k, _) = entry?;
            let hash = BlockHash(
                <[u8; 32]>::try_from(&k[..])
                    .map_err(|_| StoreError::Corrupt("malformed tip key".into()))?,
            );
            let record = self
                .header(&hash)?
                .ok_or_else(|| StoreError::Corrupt(format!("tip {hash} has no header")))?;
            tips.push(Tip {
                hash,
                record,
                active: hash == active,
            });
        }
        tips.sort_by(|a, b| {
            b.active
                .cmp(&a.active)
                .then(b.record.chain_work.cmp(&a.record.chain_work))
        });
        Ok(tips)
    }

    /// Accepts a block on any known branch (see the module docs), then
    /// connects any orphans that were waiting for it.
    pub fn accept_block(&self, block: &Block, now_ms: u64) -> Result<Accepted, StoreError> {
        let result = self.accept_one(block, now_ms)?;
        if !matches!(result, Accepted::AlreadyKnown | Accepted::Orphan) {
            let mut waiting = vec![block.hash()];
            while let Some(parent) = waiting.pop() {
                for child in self.take_orphans_of(&parent)? {
                    // An orphan that turns out invalid is simply dropped.
                    if let Ok(r) = self.accept_one(&child, now_ms) {
                        if !matches!(r, Accepted::AlreadyKnown | Accepted::Orphan) {
                            waiting.push(child.hash());
                        }
                    }
                }
            }
        }
        Ok(result)
    }

    fn accept_one(&self, block: &Block, now_ms: u64) -> Result<Accepted, StoreError> {
        let hash = block.hash();
        if let Some(reason) = self.invalid_reason(&hash)? {
            return Err(StoreError::InvalidBlock { hash, reason });
        }
        if self.header(&hash)?.is_some() {
            return Ok(Accepted::AlreadyKnown);
        }
        if self.h().orphan_ids.contains_key(hash.as_bytes())? {
            if self.header(&block.header.prev_hash)?.is_none() {
                return Ok(Accepted::AlreadyKnown);
            }
            // Its parent came by another path (a mined or imported batch):
            // take it out of the pool and accept it now.
            self.take_orphans_of(&block.header.prev_hash)?;
        }
        if self.invalid_reason(&block.header.prev_hash)?.is_some() {
            return Err(StoreError::InvalidBlock {
                hash,
                reason: format!("its parent {} is invalid", block.header.prev_hash),
            });
        }
        let state = self.state()?;
        let prev = block.header.prev_hash;
        if prev == state.tip {
            return Ok(Accepted::Extended(self.append(block, now_ms)?));
        }
        let Some(parent) = self.header(&prev)? else {
            if block.header.height == 0 {
                return Err(BlockError::ForeignGenesis {
                    expected: self.genesis_hash(),
                    got: hash,
                }
                .into());
            }
            // Even an orphan must carry the work it claims, so that junk
            // cannot flush real orphans out of the bounded pool.
            rules::check_pow(&block.header)?;
            self.add_orphan(block)?;
            return Ok(Accepted::Orphan);
        };
        // Whether its transactions repeat the chain below it is checked
        // when its branch would become active (`check_branch_txs`).
        let not_yet = |_: &Txid| Ok::<_, StoreError>(false);
        let block = rules::check_block(
            block.clone(),
            &self.cursor_at(&prev)?.parent_info(),
            now_ms,
            not_yet,
        )?;
        let work = parent
            .chain_work
            .checked_add(block.header.difficulty.work())
            .ok_or_else(|| StoreError::Corrupt("chain work overflow".into()))?;
        let record = codec::encode_block_record(&work, &block);
        self.transact(|t| {
            t.blocks.insert(hash.as_bytes(), record.as_slice())?;
            t.tips.remove(prev.as_bytes())?;
            t.tips.insert(hash.as_bytes(), &[])?;
            Ok(())
        })?;
        if work > state.chain_work {
            let (disconnected, connected) = self.reorganize_to(hash)?;
            let s = self.state()?;
            return Ok(Accepted::Reorganized {
                tip: Appended {
                    hash: s.tip,
                    height: s.height,
                },
                disconnected,
                connected,
            });
        }
        Ok(Accepted::SideBranch {
            hash,
            height: block.header.height,
        })
    }

    /// The blocks from the active chain (exclusive) up to `target`
    /// (inclusive), oldest first, and the height where they branch off.
    fn branch_to(&self, target: BlockHash) -> Result<(Vec<BlockHash>, u64), StoreError> {
        let mut path = Vec::new();
        let mut at = target;
        loop {
            let r = self
                .header(&at)?
                .ok_or_else(|| StoreError::Corrupt(format!("branch block {at} has no header")))?;
            if self.hash_at(r.height)? == Some(at) {
                path.reverse();
                return Ok((path, r.height));
            }
            path.push(at);
            at = r.prev_hash;
        }
    }

    /// Makes the branch ending at `target` the active chain. Checks the
    /// branch's transactions first; if one repeats a transaction of the
    /// chain below the fork point or of the branch itself, the offending
    /// block and its descendants on the branch are deleted and the block is
    /// rejected. Returns how many blocks were disconnected and connected.
    pub fn reorganize_to(&self, target: BlockHash) -> Result<(u64, u64), StoreError> {
        let (path, fork_height) = self.branch_to(target)?;
        self.check_branch_txs(&path, fork_height)?;
        self.transact(|t| {
            t.meta.insert(
                KEY_REORG,
                codec::encode(&ReorgJournal {
                    target,
                    fork_height,
                }),
            )?;
            Ok(())
        })?;
        self.run_reorg(target)
    }

    /// Finishes a reorganisation a crash interrupted (called on open).
    pub(crate) fn resume_reorg(&self) -> Result<(), StoreError> {
        if let Some(raw) = self.h().meta.get(KEY_REORG)? {
            let j: ReorgJournal = codec::decode(&raw, "reorganisation journal")?;
            self.run_reorg(j.target)?;
        }
        Ok(())
    }

    fn check_branch_txs(&self, path: &[BlockHash], fork_height: u64) -> Result<(), StoreError> {
        let mut seen: HashSet<Txid> = HashSet::new();
        for (i, hash) in path.iter().enumerate() {
            for tx in self.block_txs(hash)? {
                let id = tx.txid();
                if self.tx_in_chain_up_to(&id, fork_height)? || !seen.insert(id) {
                    let e = BlockError::TxAlreadyInChain(id);
                    self.mark_invalid(&path[i..], &e.to_string())?;
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    /// Marks side-branch blocks (a branch suffix) invalid: they stay stored,
    /// so blocks built on them keep their parents, but leave the tips and are
    /// never activated. Their parent becomes a tip again unless it still has
    /// a child: it does when it is an active block below the active tip. (A
    /// side-branch parent with another side child is listed as a tip too:
    /// harmless, its heavier descendant is listed as well.)
    fn mark_invalid(&self, blocks: &[BlockHash], reason: &str) -> Result<(), StoreError> {
        let Some(first) = blocks.first() else {
            return Ok(());
        };
        let parent = match self.header(first)? {
            Some(r) if r.height > 0 => {
                let p = r.prev_hash;
                let active_inner =
                    self.hash_at(r.height - 1)? == Some(p) && self.hash_at(r.height)?.is_some();
                (!active_inner).then_some(p)
            }
            _ => None,
        };
        self.transact(|t| {
            for h in blocks {
                t.invalid.insert(h.as_bytes(), reason.as_bytes())?;
                t.tips.remove(h.as_bytes())?;
            }
            if let Some(p) = parent {
                t.tips.insert(p.as_bytes(), &[])?;
            }
            Ok(())
        })
    }

    /// Why a stored block can never be active, if it was found invalid.
    pub fn invalid_reason(&self, hash: &BlockHash) -> Result<Option<String>, StoreError> {
        Ok(self
            .h()
            .invalid
            .get(hash.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Makes the valid tip with the most work active, if it has more work
    /// than the active one. Called on open: a crash between storing a
    /// heavier side block and journaling its reorganisation leaves exactly
    /// that to do.
    pub(crate) fn activate_best_chain(&self) -> Result<(), StoreError> {
        loop {
            let state = self.state()?;
            let best = self
                .tips()?
                .into_iter()
                .filter(|t| t.record.chain_work > state.chain_work)
                .max_by(|a, b| a.record.chain_work.cmp(&b.record.chain_work));
            let Some(best) = best else { return Ok(()) };
            match self.reorganize_to(best.hash) {
                Ok(_) => return Ok(()),
                // The branch was marked invalid; look again.
                Err(StoreError::Rejected(_)) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Disconnects down to the fork point, then connects up to `target`,
    /// in batches; idempotent, so a resumed run picks up where it stopped.
    fn run_reorg(&self, target: BlockHash) -> Result<(u64, u64), StoreError> {
        let (path, fork_height) = self.branch_to(target)?;
        let mut disconnected = 0u64;
        // Disconnect the old blocks above the fork point, newest first.
        loop {
            let state = self.state()?;
            if state.height <= fork_height {
                break;
            }
            let low = (fork_height + 1).max(state.height + 1 - REORG_BATCH.min(state.height));
            let mut batch = Vec::new();
            for h in (low..=state.height).rev() {
                let b = self.block_at(h)?;
                let record = b.record;
                let parent_work = record
                    .chain_work
                    .checked_sub(crate::consensus::Difficulty(record.difficulty).work())
                    .unwrap_or(Work::ZERO);
                batch.push((record, b.block.txs, parent_work));
            }
            let expected = state.tip;
            self.transact(|t| {
                let mut st = read_state_in_tx(t)?;
                if st.tip != expected {
                    return abort(StoreError::Conflict);
                }
                for (record, txs, parent_work) in &batch {
                    stage_remove_height(t, record.height)?;
                    stage_remove_authors(t, record.height, txs)?;
                    for tx in txs {
                        let id = tx.txid();
                        t.txs.remove(id.as_bytes())?;
                        let seq = codec::height_key(st.next_pending_seq);
                        t.pending.insert(&seq, codec::encode_tx(tx))?;
                        t.pending_ids.insert(id.as_bytes(), &seq)?;
                        st.next_pending_seq += 1;
                        st.pending += 1;
                    }
                    st.chain_txs = st.chain_txs.saturating_sub(txs.len() as u64);
                    st.tip = record.prev_hash;
                    st.height = record.height - 1;
                    st.chain_work = *parent_work;
                }
                t.meta.insert(KEY_STATE, codec::encode(&st))?;
                t.meta.remove(KEY_CHECKPOINT)?;
                Ok(())
            })?;
            disconnected += batch.len() as u64;
        }
        // Connect the branch, oldest first. (On a resumed run, `branch_to`
        // already stopped at the last block connected before the crash.)
        let mut connected = 0u64;
        for chunk in path.chunks(REORG_BATCH as usize) {
            let mut batch = Vec::new();
            for hash in chunk {
                let b = self.load_block(hash, Some(false))?.ok_or_else(|| {
                    StoreError::Corrupt(format!("branch block {hash} is missing"))
                })?;
                let (record, txs) = (b.record, b.block.txs);
                let txids: Vec<Txid> = txs.iter().map(Transaction::txid).collect();
                batch.push((*hash, record, txs, txids));
            }
            let last = chunk.last() == path.last();
            self.transact(|t| {
                let mut st = read_state_in_tx(t)?;
                for (hash, record, txs, txids) in &batch {
                    if st.tip != record.prev_hash {
                        return abort(StoreError::Conflict);
                    }
                    for id in txids {
                        if t.txs.get(id.as_bytes())?.is_some() {
                            return abort(BlockError::TxAlreadyInChain(*id).into());
                        }
                    }
                    stage_connect(t, txs, *hash, txids, record, &mut st)?;
                }
                t.meta.insert(KEY_STATE, codec::encode(&st))?;
                t.meta.remove(KEY_CHECKPOINT)?;
                if last {
                    t.meta.remove(KEY_REORG)?;
                }
                Ok(())
            })?;
            connected += batch.len() as u64;
        }
        if path.is_empty() {
            self.transact(|t| {
                t.meta.remove(KEY_REORG)?;
                Ok(())
            })?;
        }
        Ok((disconnected, connected))
    }

    fn orphan_state(&self) -> Result<OrphanState, StoreError> {
        Ok(match self.h().meta.get(KEY_ORPHANS)? {
            Some(v) => codec::decode(&v, "orphan state")?,
            None => OrphanState::default(),
        })
    }

    /// How many orphans are held.
    pub fn orphan_count(&self) -> Result<u64, StoreError> {
        Ok(self.orphan_state()?.count)
    }

    /// Holds `block` until its parent arrives, dropping the oldest orphan
    /// when the pool is full.
    fn add_orphan(&self, block: &Block) -> Result<(), StoreError> {
        let hash = block.hash();
        let oldest = if self.orphan_state()?.count >= MAX_ORPHANS {
            match self.h().orphans.iter().next() {
                Some(e) => {
                    let (seq, raw) = e?;
                    let old = Block::decode(&raw)
                        .map_err(|e| StoreError::Corrupt(format!("orphan block: {e}")))?;
                    Some((seq.to_vec(), old.hash(), old.header.prev_hash))
                }
                None => None,
            }
        } else {
            None
        };
        let bytes = block.encode();
        self.transact(|t| {
            let mut os: OrphanState =
                meta_in_tx(t, KEY_ORPHANS, "orphan state")?.unwrap_or_default();
            if let Some((seq, old_hash, old_parent)) = &oldest {
                t.orphans.remove(seq.as_slice())?;
                t.orphan_ids.remove(old_hash.as_bytes())?;
                let mut k = old_parent.as_bytes().to_vec();
                k.extend_from_slice(seq);
                t.orphan_parents.remove(k)?;
                os.count -= 1;
            }
            let seq = codec::height_key(os.next_seq);
            t.orphans.insert(&seq, bytes.as_slice())?;
            t.orphan_ids.insert(hash.as_bytes(), &seq)?;
            let mut k = block.header.prev_hash.as_bytes().to_vec();
            k.extend_from_slice(&seq);
            t.orphan_parents.insert(k, hash.as_bytes())?;
            os.count += 1;
            os.next_seq += 1;
            t.meta.insert(KEY_ORPHANS, codec::encode(&os))?;
            Ok(())
        })
    }

    /// Removes and returns the orphans whose parent is `parent`.
    fn take_orphans_of(&self, parent: &BlockHash) -> Result<Vec<Block>, StoreError> {
        let mut found = Vec::new();
        for entry in self.h().orphan_parents.scan_prefix(parent.as_bytes()) {
            let (k, v) = entry?;
            let seq = k[32..].to_vec();
            if let Some(raw) = self.h().orphans.get(&seq)? {
                let b = Block::decode(&raw)
                    .map_err(|e| StoreError::Corrupt(format!("orphan block: {e}")))?;
                found.push((k.to_vec(), seq, v.to_vec(), b));
            }
        }
        if found.is_empty() {
            return Ok(Vec::new());
        }
        self.transact(|t| {
            let mut os: OrphanState =
                meta_in_tx(t, KEY_ORPHANS, "orphan state")?.unwrap_or_default();
            for (pk, seq, hash, _) in &found {
                t.orphan_parents.remove(pk.as_slice())?;
                t.orphans.remove(seq.as_slice())?;
                t.orphan_ids.remove(hash.as_slice())?;
                os.count = os.count.saturating_sub(1);
            }
            t.meta.insert(KEY_ORPHANS, codec::encode(&os))?;
            Ok(())
        })?;
        Ok(found.into_iter().map(|(_, _, _, b)| b).collect())
    }
}
