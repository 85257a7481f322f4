//! Schema 4 -> 5: the peer book, a new tree `peers` (peer id bytes -> the
//! last address, when a status exchange last succeeded, a ban's expiry and
//! reason) and its count, `meta/peer_count`. Opening the store creates the
//! tree empty, and an absent count reads as none: there is nothing to move,
//! so the step commits one empty batch (through the runner, as every step
//! does) and the runner bumps the version. A rerun after a kill repeats it.
//!
//! Frozen: this file owns the names it touches.

use crate::store::{Store, StoreError};

use super::{commit_batch, Event};

pub const WHAT: &str = "remember peers and their bans";

const TO: u32 = 5;
const TREE_PEERS: &str = "peers";

pub fn run(store: &Store, notify: &dyn Fn(Event)) -> Result<(), StoreError> {
    let peers = store.h().db.open_tree(TREE_PEERS)?;
    commit_batch(store, TO, &[&peers], (1, 1), notify, |_, _| Ok(()))
}
