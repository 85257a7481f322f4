//! The changes of ledger state a user asks for: [`Store::submit`] an entry,
//! [`Store::append`] a block or [`Store::append_batch`] a run of them on the
//! tip. Each is checked in full first (blocks by the consensus rules, into
//! a [`CheckedBlock`]), then written as one sled transaction across the
//! trees it touches and flushed before it returns, so an acknowledged
//! change survives a crash and a crash never leaves half a change.

use std::collections::HashSet;
use std::sync::Arc;

use super::dry_run::DryRun;
use super::schema::KEY_CHECKPOINT;
use super::{Store, StoreError};
use crate::consensus::rules::{self, BlockError, CheckedBlock};
use crate::consensus::{Block, BlockHash, Transaction, Txid};

/// The result of appending blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub hash: BlockHash,
    pub height: u64,
}

impl Store {
    /// Records `tx` as pending. Refuses a transaction already pending or in
    /// the chain, and one the entry rules refuse on the active chain: an
    /// unsigned entry where signatures are required, a bad signature, a
    /// name that cannot be bound, or a name bound to another key.
    pub fn submit(&self, tx: &Transaction) -> Result<Txid, StoreError> {
        let txid = tx.txid();
        if self.tx_in_chain(&txid)? {
            return Err(StoreError::AlreadyInChain(txid));
        }
        let ids = [txid];
        let one = std::slice::from_ref(tx);
        rules::check_signatures(one, &ids, &self.signature_rules())
            .map_err(StoreError::EntryRefused)?;
        let bound = self.bound_key(tx.author())?;
        rules::check_names(one, &ids, |_| Ok::<_, BlockError>(bound))
            .map_err(StoreError::EntryRefused)?;
        self.atomically(|w| {
            if w.txs.contains(&txid)? {
                return Err(StoreError::AlreadyInChain(txid).into());
            }
            if w.pending_ids.seq(&txid)?.is_some() {
                return Err(StoreError::AlreadyPending(txid).into());
            }
            let mut state = w.meta.state()?;
            let seq = state.next_pending_seq;
            if w.pending.contains(seq)? {
                return Err(StoreError::Corrupt(
                    "the next pending sequence number is taken".into(),
                )
                .into());
            }
            w.pending.put(seq, tx)?;
            w.pending_ids.put(&txid, seq)?;
            state.next_pending_seq += 1;
            state.pending += 1;
            w.meta.put_state(&state)?;
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
        let checked = rules::check_block(
            block.clone(),
            &parent,
            &self.signature_rules(),
            now_ms,
            |id| self.tx_in_chain(id),
            |name| self.bound_key(name),
        )?;
        self.connect_checked(state.tip, &[checked])
    }

    /// Checks `blocks`, which must extend the tip in order, and appends them
    /// all in one transaction: either all are written or none. Used by
    /// import and the network's sync. Their signatures are verified in one
    /// batch across the blocks (and cores) before anything is written.
    pub fn append_batch(&self, blocks: &[Block], now_ms: u64) -> Result<Appended, StoreError> {
        self.append_batch_verified(blocks, now_ms, None)
    }

    /// [`Store::append_batch`], not verifying again the signatures of the
    /// blocks in `verified` (hashes of blocks the caller verified on this
    /// ledger: an import's plan).
    pub(crate) fn append_batch_verified(
        &self,
        blocks: &[Block],
        now_ms: u64,
        verified: Option<Arc<HashSet<BlockHash>>>,
    ) -> Result<Appended, StoreError> {
        let state = self.state()?;
        let mut dry = DryRun::on_store(self)?.leaving_signatures_to_caller();
        let mut checked = Vec::with_capacity(blocks.len());
        let mut fault = None;
        for b in blocks {
            match dry.check(b, now_ms) {
                Ok(c) => checked.push(c),
                Err(e) => {
                    fault = Some(e);
                    break;
                }
            }
        }
        // Rule 9 for the blocks that passed the rest: a bad signature in
        // one of them comes before the fault of a later block.
        self.verify_signatures_of(&checked, verified.as_deref())?;
        if let Some(e) = fault {
            return Err(e);
        }
        if checked.is_empty() {
            return Ok(Appended {
                hash: state.tip,
                height: state.height,
            });
        }
        self.connect_checked(state.tip, &checked)
    }

    /// Verifies, in one batch, the signatures of the `blocks` not in
    /// `verified` (common rule 9; the other rules were checked).
    fn verify_signatures_of(
        &self,
        blocks: &[CheckedBlock],
        verified: Option<&HashSet<BlockHash>>,
    ) -> Result<(), StoreError> {
        let mut batch = rules::SignatureBatch::default();
        for b in blocks {
            if !verified.is_some_and(|v| v.contains(&b.hash())) {
                batch.add((), b);
            }
        }
        batch
            .verify(&self.signature_rules())
            .map_err(|((), e)| StoreError::Rejected(e))
    }

    /// True when `txid` is in the active chain.
    pub(crate) fn tx_in_chain(&self, txid: &Txid) -> Result<bool, StoreError> {
        self.h().txs.contains(txid)
    }

    /// True when `txid` is in the active chain at or below `height`.
    pub(crate) fn tx_in_chain_up_to(&self, txid: &Txid, height: u64) -> Result<bool, StoreError> {
        Ok(self
            .h()
            .txs
            .location(txid)?
            .is_some_and(|loc| loc.height <= height))
    }

    /// Writes `blocks` (checked in order on top of `expected_tip`) as the
    /// new top of the active chain, in one transaction that fails with a
    /// conflict if the tip moved meanwhile.
    pub(crate) fn connect_checked(
        &self,
        expected_tip: BlockHash,
        blocks: &[CheckedBlock],
    ) -> Result<Appended, StoreError> {
        self.atomically(|w| {
            let mut state = w.meta.state_at(expected_tip)?;
            w.tips.remove(&expected_tip)?;
            for block in blocks {
                if block.parent() != state.tip {
                    return Err(StoreError::Conflict.into());
                }
                let work = state
                    .chain_work
                    .checked_add(block.header.difficulty.work())
                    .ok_or_else(|| StoreError::Corrupt("chain work overflow".into()))?;
                w.connect_new(block, work, &mut state)?;
            }
            w.tips.insert(&state.tip)?;
            w.meta.put_state(&state)?;
            // A search checkpoint belongs to the old tip.
            w.meta.remove(KEY_CHECKPOINT)?;
            Ok(Appended {
                hash: state.tip,
                height: state.height,
            })
        })
    }
}
