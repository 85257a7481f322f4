//! Schema 2 -> 3: the trees that let a ledger keep competing branches:
//! `tips` (blocks without children), and the orphan pool (`orphans`,
//! `orphan_ids`, `orphan_parents`) for blocks whose parent is not known yet.
//!
//! A schema-2 store holds one chain and no orphans, so its only tip is the
//! active tip: the step records it, in one transaction, which a rerun after
//! a kill simply repeats. The same transaction drops a mining checkpoint in
//! the schema-2 layout (which listed every txid; schema 3 records the range
//! of pending entries instead): the next `mine` starts that block afresh.

use super::Event;
use crate::store::{Store, StoreError};

pub const WHAT: &str = "track chain tips and orphan blocks, for forks";

pub fn run(store: &Store, notify: &dyn Fn(Event)) -> Result<(), StoreError> {
    let tip = store.state()?.tip;
    store.atomically(|w| {
        w.tips.insert(&tip)?;
        w.meta.remove(crate::store::schema::KEY_CHECKPOINT)?;
        Ok(())
    })?;
    notify(Event::Progress {
        to: 3,
        done: 1,
        total: 1,
    });
    Ok(())
}
