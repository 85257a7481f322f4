//! Reorganisation: making a heavier branch the active chain. The branch's
//! transactions are checked against the chain below the fork point first
//! (a branch that repeats one is marked invalid); then a [`ReorgJournal`]
//! is written, and the old blocks are disconnected and the new ones
//! connected in batches of [`REORG_BATCH`], one transaction each. A crash
//! in between leaves a consistent store on a prefix; opening it finishes
//! the job ([`Store::resume_reorg`], [`Store::activate_best_chain`]).

use std::collections::{HashMap, HashSet};

use super::schema::{ReorgJournal, KEY_CHECKPOINT, KEY_REORG};
use super::stage::Connect;
use super::{Store, StoreError, StoredBlock};
use crate::consensus::rules::{self, BlockError};
use crate::consensus::{BlockHash, PublicKey, Transaction, Txid};

/// Blocks disconnected or connected per transaction in a reorganisation.
pub const REORG_BATCH: u64 = 128;

impl Store {
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
        let journal = ReorgJournal {
            target,
            fork_height,
        };
        self.atomically(|w| w.meta.put(KEY_REORG, &journal))?;
        self.run_reorg(target)
    }

    /// Finishes a reorganisation a crash interrupted (called on open).
    pub(crate) fn resume_reorg(&self) -> Result<(), StoreError> {
        let journal: Option<ReorgJournal> =
            self.h().meta.get(KEY_REORG, "reorganisation journal")?;
        if let Some(j) = journal {
            self.run_reorg(j.target)?;
        }
        Ok(())
    }

    /// The chain-wide rules over a branch about to become active: no
    /// transaction repeats the chain below the fork point or the branch,
    /// and the name rule holds against the names bound at or below the
    /// fork point and by the branch. A block that breaks one is marked
    /// invalid with its descendants on the branch.
    fn check_branch_txs(&self, path: &[BlockHash], fork_height: u64) -> Result<(), StoreError> {
        let mut seen: HashSet<Txid> = HashSet::new();
        let mut bound: HashMap<String, PublicKey> = HashMap::new();
        for (i, hash) in path.iter().enumerate() {
            let txs = self.block_txs(hash)?;
            let txids: Vec<Txid> = txs.iter().map(Transaction::txid).collect();
            let repeats = rules::check_new_txs(&txids, |id| {
                Ok::<_, StoreError>(self.tx_in_chain_up_to(id, fork_height)? || !seen.insert(*id))
            })
            .and_then(|()| {
                rules::check_names(&txs, &txids, |name| {
                    if let Some(k) = bound.get(name) {
                        return Ok(Some(*k));
                    }
                    Ok(self
                        .name_binding(name)?
                        .filter(|b| b.height <= fork_height)
                        .map(|b| b.key))
                })
            });
            let repeats = repeats.map(|made| {
                bound.extend(made.into_iter().map(|b| (b.name, b.key)));
            });
            if let Err(e) = repeats {
                if let StoreError::Rejected(rule) = &e {
                    self.mark_invalid(&path[i..], &rule.to_string())?;
                }
                return Err(e);
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
        self.atomically(|w| {
            for h in blocks {
                w.invalid.mark(h, reason)?;
                w.tips.remove(h)?;
            }
            if let Some(p) = parent {
                w.tips.insert(&p)?;
            }
            Ok(())
        })
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
        while self.state()?.height > fork_height {
            disconnected += self.disconnect_batch(fork_height)?;
        }
        // Connect the branch, oldest first. (On a resumed run, `branch_to`
        // already stopped at the last block connected before the crash.)
        let mut connected = 0u64;
        for chunk in path.chunks(self.reorg_batch as usize) {
            connected += self.connect_batch(chunk, chunk.last() == path.last())?;
        }
        if path.is_empty() {
            self.atomically(|w| w.meta.remove(KEY_REORG))?;
        }
        Ok((disconnected, connected))
    }

    /// Sets the blocks per reorganisation batch, so that a test reaches
    /// every batch boundary of a short branch.
    #[cfg(test)]
    pub(crate) fn set_reorg_batch(&mut self, blocks: u64) {
        self.reorg_batch = blocks.max(1);
    }

    /// Disconnects up to [`REORG_BATCH`] blocks from the top of the active
    /// chain, newest first, staying above `fork_height`, in one transaction.
    fn disconnect_batch(&self, fork_height: u64) -> Result<u64, StoreError> {
        let state = self.state()?;
        let low = (fork_height + 1).max(state.height + 1 - self.reorg_batch.min(state.height));
        let batch = (low..=state.height)
            .rev()
            .map(|h| self.block_at(h))
            .collect::<Result<Vec<StoredBlock>, _>>()?;
        self.atomically(|w| {
            let mut st = w.meta.state_at(state.tip)?;
            for b in &batch {
                w.disconnect(&b.record, &b.block.txs, &mut st)?;
            }
            w.meta.put_state(&st)?;
            w.meta.remove(KEY_CHECKPOINT)?;
            Ok(())
        })?;
        Ok(batch.len() as u64)
    }

    /// Connects the stored branch blocks `chunk` (each the child of the
    /// one before, the first the child of the tip) in one transaction; the
    /// `last` batch also removes the journal.
    fn connect_batch(&self, chunk: &[BlockHash], last: bool) -> Result<u64, StoreError> {
        let mut batch = Vec::with_capacity(chunk.len());
        for hash in chunk {
            let b = self
                .load_block(hash, Some(false))?
                .ok_or_else(|| StoreError::Corrupt(format!("branch block {hash} is missing")))?;
            let txids: Vec<Txid> = b.block.txs.iter().map(Transaction::txid).collect();
            batch.push((b, txids));
        }
        self.atomically(|w| {
            let mut st = w.meta.state()?;
            for (b, txids) in &batch {
                if st.tip != b.record.prev_hash {
                    return Err(StoreError::Conflict.into());
                }
                for id in txids {
                    if w.txs.contains(id)? {
                        return Err(StoreError::from(BlockError::TxAlreadyInChain(*id)).into());
                    }
                }
                let at = Connect {
                    hash: b.hash,
                    height: b.record.height,
                    chain_work: b.record.chain_work,
                };
                w.connect(&at, &b.block.txs, txids, &mut st)?;
            }
            w.meta.put_state(&st)?;
            w.meta.remove(KEY_CHECKPOINT)?;
            if last {
                w.meta.remove(KEY_REORG)?;
            }
            Ok(())
        })?;
        Ok(batch.len() as u64)
    }
}
