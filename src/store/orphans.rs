//! The orphan pool: blocks whose parent is not known yet, held (at most
//! [`MAX_ORPHANS`], the oldest dropped first) until the parent arrives.

use super::schema::{OrphanState, KEY_ORPHANS};
use super::{Store, StoreError};
use crate::consensus::{Block, BlockHash};

/// Most blocks kept waiting for their parent; beyond it the oldest go.
pub const MAX_ORPHANS: u64 = 1024;

impl Store {
    /// How many orphans are held.
    pub fn orphan_count(&self) -> Result<u64, StoreError> {
        Ok(self.h().meta.orphan_state()?.count)
    }

    /// True when `hash` is in the pool.
    pub(crate) fn is_orphan(&self, hash: &BlockHash) -> Result<bool, StoreError> {
        self.h().orphan_ids.contains(hash)
    }

    /// Holds `block` (whose proof of work was checked) until its parent
    /// arrives, dropping the oldest orphan when the pool is full.
    pub(crate) fn add_orphan(&self, block: &Block) -> Result<(), StoreError> {
        let hash = block.hash();
        let oldest = if self.h().meta.orphan_state()?.count >= MAX_ORPHANS {
            self.h().orphans.oldest()?
        } else {
            None
        };
        self.atomically(|w| {
            let mut pool: OrphanState = w.meta.orphan_state()?;
            if let Some((seq, old)) = &oldest {
                w.orphans.remove(*seq)?;
                w.orphan_ids.remove(&old.hash())?;
                w.orphan_parents.remove(&old.header.prev_hash, *seq)?;
                pool.count -= 1;
            }
            let seq = pool.next_seq;
            w.orphans.put(seq, block)?;
            w.orphan_ids.put(&hash, seq)?;
            w.orphan_parents.put(&block.header.prev_hash, seq, &hash)?;
            pool.count += 1;
            pool.next_seq += 1;
            w.meta.put(KEY_ORPHANS, &pool)?;
            Ok(())
        })
    }

    /// Removes and returns the orphans whose parent is `parent`.
    pub(crate) fn take_orphans_of(&self, parent: &BlockHash) -> Result<Vec<Block>, StoreError> {
        let mut found = Vec::new();
        for entry in self.h().orphan_parents.children_of(parent) {
            let (seq, hash) = entry?;
            if let Some(b) = self.h().orphans.get(seq)? {
                found.push((seq, hash, b));
            }
        }
        if found.is_empty() {
            return Ok(Vec::new());
        }
        self.atomically(|w| {
            let mut pool: OrphanState = w.meta.orphan_state()?;
            for (seq, hash, _) in &found {
                w.orphan_parents.remove(parent, *seq)?;
                w.orphans.remove(*seq)?;
                w.orphan_ids.remove(hash)?;
                pool.count = pool.count.saturating_sub(1);
            }
            w.meta.put(KEY_ORPHANS, &pool)?;
            Ok(())
        })?;
        Ok(found.into_iter().map(|(_, _, b)| b).collect())
    }
}
