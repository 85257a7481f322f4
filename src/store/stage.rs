//! The steps a write is made of, inside one sled transaction: connecting a
//! block at the top of the active chain (its height, its transactions'
//! locations and author entries, their removal from pending) and
//! disconnecting the top block (the reverse, its transactions back to
//! pending). Callers commit the [`ChainState`] these steps update.

use std::collections::BTreeMap;

use sled::transaction::ConflictableTransactionResult;

use super::schema::{ChainState, HeaderRecord, NameBinding, TxLocation};
use super::{StoreError, Writes};
use crate::consensus::rules;
use crate::consensus::{BlockHash, CheckedBlock, Transaction, Txid, Work};

type Staged = ConflictableTransactionResult<(), StoreError>;

impl Writes<'_> {
    /// Stores `block` (which passed the rules on the tip) with its
    /// cumulative work and connects it as the new tip.
    pub(crate) fn connect_new(
        &self,
        block: &CheckedBlock,
        chain_work: Work,
        state: &mut ChainState,
    ) -> Staged {
        self.blocks.put(block, &chain_work)?;
        let at = Connect {
            hash: block.hash(),
            height: block.header.height,
            chain_work,
        };
        self.connect(&at, &block.txs, block.txids(), state)
    }

    /// Connects the stored block `at` (the child of the tip) as the new
    /// tip: its height, its transactions' locations and author entries,
    /// and their removal from pending.
    pub(crate) fn connect(
        &self,
        at: &Connect,
        txs: &[Transaction],
        txids: &[Txid],
        state: &mut ChainState,
    ) -> Staged {
        self.heights.push(at.height, &at.hash)?;
        // Each author's entries of this block, appended to their group at once.
        let mut by_author: BTreeMap<&str, Vec<(u32, Txid)>> = BTreeMap::new();
        for ((index, txid), tx) in txids.iter().enumerate().zip(txs) {
            by_author
                .entry(tx.author())
                .or_default()
                .push((index as u32, *txid));
        }
        for (author, entries) in by_author {
            self.author_groups.append(author, at.height, &entries)?;
        }
        self.bind_names(at.height, txs, txids)?;
        for (index, txid) in txids.iter().enumerate() {
            let loc = TxLocation {
                height: at.height,
                index: index as u32,
            };
            self.txs.put(txid, &loc)?;
            // With nothing pending (an import, say) there is nothing to remove.
            if state.pending == 0 {
                continue;
            }
            if let Some(seq) = self.pending_ids.remove(txid)? {
                self.pending.remove(seq)?;
                state.pending = state.pending.saturating_sub(1);
            }
        }
        state.tip = at.hash;
        state.height = at.height;
        state.chain_work = at.chain_work;
        state.chain_txs += txids.len() as u64;
        Ok(())
    }

    /// Disconnects the active chain's top block (`record`, with `txs`):
    /// its height, locations and author entries go, its transactions return
    /// to pending, and its parent becomes the tip.
    pub(crate) fn disconnect(
        &self,
        record: &HeaderRecord,
        txs: &[Transaction],
        state: &mut ChainState,
    ) -> Staged {
        let height = record.height;
        self.heights.pop(height)?;
        let authors: std::collections::BTreeSet<&str> = txs.iter().map(|tx| tx.author()).collect();
        for author in authors {
            self.author_groups.remove_height(author, height)?;
        }
        // The names this block bound are free again.
        for (index, tx) in txs.iter().enumerate() {
            let Some(s) = tx.signed() else { continue };
            let bound_here = NameBinding {
                key: s.key,
                height,
                index: index as u32,
            };
            if self.names.get(tx.author())? == Some(bound_here) {
                self.names.remove(tx.author())?;
                self.key_names.remove(&s.key, tx.author())?;
            }
        }
        for tx in txs {
            let id = tx.txid();
            self.txs.remove(&id)?;
            self.pending.put(state.next_pending_seq, tx)?;
            self.pending_ids.put(&id, state.next_pending_seq)?;
            state.next_pending_seq += 1;
            state.pending += 1;
        }
        state.chain_txs = state.chain_txs.saturating_sub(txs.len() as u64);
        state.tip = record.prev_hash;
        state.height = height - 1;
        state.chain_work = record
            .chain_work
            .checked_sub(crate::consensus::Difficulty(record.difficulty).work())
            .unwrap_or(Work::ZERO);
        Ok(())
    }
}

impl Writes<'_> {
    /// Applies the name rule ([`rules::check_names`]) to a block connected
    /// at `height` against the names the chain below binds, and records
    /// the bindings it makes. The rule was checked before the write began;
    /// checking it again here, inside the transaction, means no path can
    /// connect a block that breaks it.
    fn bind_names(&self, height: u64, txs: &[Transaction], txids: &[Txid]) -> Staged {
        let mut bound = std::collections::HashMap::new();
        for tx in txs {
            if !bound.contains_key(tx.author()) {
                bound.insert(tx.author(), self.names.get(tx.author())?.map(|b| b.key));
            }
        }
        let bindings = rules::check_names(txs, txids, |name| {
            Ok::<_, crate::consensus::BlockError>(bound.get(name).copied().flatten())
        })
        .map_err(StoreError::from)?;
        for b in bindings {
            let record = NameBinding {
                key: b.key,
                height,
                index: b.index,
            };
            self.names.put(&b.name, &record)?;
            self.key_names.put(&b.key, &b.name)?;
        }
        Ok(())
    }
}

/// Where a connected block goes: its hash, height and cumulative work.
pub(crate) struct Connect {
    pub hash: BlockHash,
    pub height: u64,
    pub chain_work: Work,
}
