//! [`Store::verify`]: a streaming check of the whole active chain against
//! every rule and of every index against the blocks, in bounded memory. It
//! reports the first bad height and why.

use std::collections::HashSet;

use super::schema::{author_group_key, TxLocation};
use super::{codec, Cursor, Store, StoreError};
use crate::consensus::rules;
use crate::consensus::{BlockHash, Work};

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub blocks: u64,
    pub transactions: u64,
    pub pending: u64,
    pub tip: BlockHash,
    pub chain_work: Work,
}

/// The first problem found: at which height (if a block's) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", height.map(|h| format!("height {h}: ")).unwrap_or_default())]
pub struct VerifyFailure {
    pub height: Option<u64>,
    pub reason: String,
}

fn fail<T>(height: Option<u64>, reason: impl ToString) -> Result<T, VerifyFailure> {
    Err(VerifyFailure {
        height,
        reason: reason.to_string(),
    })
}

impl Store {
    /// Walks the active chain from genesis, checking at each height that the
    /// stored block hashes to its key, satisfies every acceptance rule on
    /// its parent, carries the right cumulative work, and that the
    /// transaction index points at it; then checks the tip, the counters and
    /// the pending transactions. `progress` is called with each height.
    pub fn verify(
        &self,
        now_ms: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<VerifyReport, VerifyFailure> {
        let state = self.state().or_else(|e| fail(None, e))?;
        let mut cursor: Option<Cursor> = None;
        let mut transactions = 0u64;
        let mut blocks = 0u64;
        for (expected_height, entry) in (0u64..).zip(self.chain_range(0, u64::MAX, false)) {
            let at = Some(expected_height);
            let (height, hash) = entry.or_else(|e| fail(at, e))?;
            if height != expected_height {
                return fail(at, format!("the height index jumps to {height}"));
            }
            let stored = match self.load_block(&hash, Some(true)) {
                Ok(Some(b)) => b,
                Ok(None) => return fail(at, format!("block {hash} is missing")),
                Err(e) => return fail(at, e),
            };
            let block = &stored.block;
            let actual = block.hash();
            if actual != hash {
                return fail(
                    at,
                    format!("stored header hashes to {actual}, not {hash}: the block was altered"),
                );
            }
            if stored.record.height != height {
                return fail(at, format!("header says height {}", stored.record.height));
            }
            if stored.record.tx_count as usize != block.txs.len()
                || stored.record.size as usize != block.encoded_len()
            {
                return fail(
                    at,
                    "header record's transaction count or size disagrees with the body",
                );
            }
            match &mut cursor {
                None => {
                    if height != 0 || hash != self.genesis_hash() {
                        return fail(at, "the chain does not start at this ledger's genesis");
                    }
                    let (_, params) =
                        rules::check_genesis(block.clone(), now_ms).or_else(|e| fail(at, e))?;
                    if &params != self.params() {
                        return fail(at, "genesis parameters differ from the stored parameters");
                    }
                    cursor = Some(Cursor::new(
                        params,
                        block.header,
                        hash,
                        block.header.difficulty.work(),
                        [],
                    ));
                }
                Some(c) => {
                    // Repeats are the transaction index's check, below.
                    let no_repeats = |_: &_| Ok::<_, rules::BlockError>(false);
                    rules::check_block(block.clone(), &c.parent_info(), now_ms, no_repeats)
                        .or_else(|e| fail(at, e))?;
                    c.advance(block.header, hash);
                }
            }
            let work = cursor.as_ref().map_or(Work::ZERO, Cursor::chain_work);
            if stored.record.chain_work != work {
                return fail(
                    at,
                    format!(
                        "stored chain work {} should be {work}",
                        stored.record.chain_work
                    ),
                );
            }
            let mut in_block = HashSet::with_capacity(block.txs.len());
            for (index, tx) in block.txs.iter().enumerate() {
                let txid = tx.txid();
                in_block.insert(txid);
                let loc: Option<TxLocation> = match self.h().txs.get(txid.as_bytes()) {
                    Ok(Some(v)) => {
                        Some(codec::decode(&v, "transaction location").or_else(|e| fail(at, e))?)
                    }
                    Ok(None) => None,
                    Err(e) => return fail(at, StoreError::from(e)),
                };
                let here = TxLocation {
                    height,
                    index: index as u32,
                };
                match loc {
                    Some(l) if l == here => {}
                    Some(l) => {
                        return fail(
                            at,
                            format!(
                                "transaction {txid} is already in the chain at height {}",
                                l.height
                            ),
                        );
                    }
                    None => {
                        return fail(
                            at,
                            format!("transaction {txid} is missing from the transaction index"),
                        )
                    }
                }
                let group = self
                    .h()
                    .author_groups
                    .get(author_group_key(tx.author(), height))
                    .or_else(|e| fail(at, StoreError::from(e)))?;
                let entries = match group {
                    Some(v) => codec::author_entries(&v).or_else(|e| fail(at, e))?,
                    None => Vec::new(),
                };
                if !entries.contains(&(height, index as u32, txid)) {
                    return fail(
                        at,
                        format!("transaction {txid} is missing from the author index"),
                    );
                }
            }
            transactions += block.txs.len() as u64;
            blocks += 1;
            progress(height);
        }
        let Some(cursor) = cursor else {
            return fail(None, "the chain is empty");
        };
        let tip = cursor.tip_hash();
        if tip != state.tip
            || cursor.tip().height != state.height
            || cursor.chain_work() != state.chain_work
        {
            return fail(
                None,
                format!(
                    "the recorded tip {} at height {} is not the chain's last block",
                    state.tip, state.height
                ),
            );
        }
        if transactions != state.chain_txs {
            return fail(
                None,
                format!(
                    "the recorded transaction count {} should be {transactions}",
                    state.chain_txs
                ),
            );
        }
        // Every author index entry belongs to a transaction checked above.
        let mut indexed = 0u64;
        for entry in self.h().author_groups.iter() {
            let (_, v) = entry.or_else(|e| fail(None, StoreError::from(e)))?;
            indexed += codec::author_entries(&v).or_else(|e| fail(None, e))?.len() as u64;
        }
        let mut located = 0u64;
        for entry in self.h().txs.iter() {
            entry.or_else(|e| fail(None, StoreError::from(e)))?;
            located += 1;
        }
        if located != transactions {
            return fail(
                None,
                format!(
                    "the transaction index has {located} entries for {transactions} transactions"
                ),
            );
        }
        if indexed != transactions {
            return fail(
                None,
                format!("the author index has {indexed} entries for {transactions} transactions"),
            );
        }
        let mut pending = 0u64;
        for item in self.pending_from(0) {
            let (seq, tx) = item.or_else(|e| fail(None, e))?;
            let txid = tx.txid();
            let indexed = self
                .h()
                .pending_ids
                .get(txid.as_bytes())
                .or_else(|e| fail(None, StoreError::from(e)))?;
            if indexed.as_deref() != Some(&codec::height_key(seq)[..]) {
                return fail(None, format!("pending transaction {txid} is not indexed"));
            }
            if self.h().txs.contains_key(txid.as_bytes()).unwrap_or(false) {
                return fail(
                    None,
                    format!("pending transaction {txid} is also in the chain"),
                );
            }
            if seq >= state.next_pending_seq {
                return fail(None, format!("pending transaction {txid} has sequence {seq}, past the next one to assign"));
            }
            pending += 1;
        }
        let mut ids = 0u64;
        for entry in self.h().pending_ids.iter() {
            entry.or_else(|e| fail(None, StoreError::from(e)))?;
            ids += 1;
        }
        if pending != state.pending || ids != pending {
            return fail(
                None,
                format!(
                    "the recorded pending count {} should be {pending}",
                    state.pending
                ),
            );
        }
        Ok(VerifyReport {
            blocks,
            transactions,
            pending,
            tip,
            chain_work: cursor.chain_work(),
        })
    }
}
