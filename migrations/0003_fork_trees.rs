//! Schema 2 -> 3: the fork trees (`tips`, `orphans`, `orphan_ids`,
//! `orphan_parents`, `invalid`). Opening the store creates them empty; the
//! active tip is then the only block without children, so the step records
//! it, in one transaction, which a rerun after a kill simply repeats. The
//! same transaction drops a mining checkpoint in the schema-2 form (it
//! listed every txid; schema 3 records a range of pending entries).
//!
//! Frozen: this file owns the names and layouts it touches.

use crate::store::{Store, StoreError};

use super::{commit_batch, Event};

pub const WHAT: &str = "track chain tips and orphan blocks, for forks";

const TREE_TIPS: &str = "tips";
const TREE_META: &str = "meta";
const KEY_STATE: &str = "state";
const KEY_CHECKPOINT: &str = "mining_checkpoint";

pub fn run(store: &Store, notify: &dyn Fn(Event)) -> Result<(), StoreError> {
    let db = &store.h().db;
    let meta = db.open_tree(TREE_META)?;
    let tips = db.open_tree(TREE_TIPS)?;
    // A chain state starts with the tip's hash (32 bytes).
    let state = meta.get(KEY_STATE)?;
    let tip = state
        .as_deref()
        .and_then(|s| s.get(..32))
        .ok_or_else(|| StoreError::Corrupt("missing chain state".into()))?
        .to_vec();
    commit_batch(store, 3, &[&tips], (1, 1), notify, |t, meta| {
        t[0].insert(tip.as_slice(), &[])?;
        meta.remove(KEY_CHECKPOINT)?;
        Ok(())
    })
}
