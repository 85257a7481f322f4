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
//! ones in bounded batches ([`crate::store::reorg`]). Orphans wait in
//! [`crate::store::orphans`].

pub use super::orphans::MAX_ORPHANS;
pub use super::reorg::REORG_BATCH;
use super::schema::HeaderRecord;
use super::write::Appended;
use super::{Cursor, Store, StoreError};
use crate::consensus::rules::{self, BlockError};
use crate::consensus::{Block, BlockHash, Txid};

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
        for hash in self.h().tips.all() {
            let hash = hash?;
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
                    // An orphan that turns out invalid is simply dropped; a
                    // failed write is the caller's to hear about.
                    match self.accept_one(&child, now_ms) {
                        Ok(Accepted::AlreadyKnown | Accepted::Orphan) => {}
                        Ok(_) => waiting.push(child.hash()),
                        Err(StoreError::Rejected(_) | StoreError::InvalidBlock { .. }) => {}
                        Err(e) => return Err(e),
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
        if self.is_orphan(&hash)? {
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
        // Whether its transactions repeat the chain below it, and whether
        // its names are bound to other keys there, is checked when its
        // branch would become active (`check_branch_txs`).
        let not_yet = |_: &Txid| Ok::<_, StoreError>(false);
        let unbound = |_: &str| Ok::<_, StoreError>(None);
        let block = rules::check_block(
            block.clone(),
            &self.cursor_at(&prev)?.parent_info(),
            &self.signature_rules(),
            now_ms,
            not_yet,
            unbound,
        )?;
        let work = parent
            .chain_work
            .checked_add(block.header.difficulty.work())
            .ok_or_else(|| StoreError::Corrupt("chain work overflow".into()))?;
        self.atomically(|w| {
            w.blocks.put(&block, &work)?;
            w.tips.remove(&prev)?;
            w.tips.insert(&hash)?;
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

    /// Why a stored block can never be active, if it was found invalid.
    pub fn invalid_reason(&self, hash: &BlockHash) -> Result<Option<String>, StoreError> {
        self.h().invalid.reason(hash)
    }
}
