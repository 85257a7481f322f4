//! The `tip` event: the node tells its event streams each time its active
//! tip moves, whatever moved it (its miner, a peer's blocks, an import),
//! with how far: blocks disconnected from the old branch and connected
//! from the new one.

use std::sync::Mutex;

use super::{Event, Node};
use crate::api::views::{TipEvent, TipRef};
use crate::consensus::BlockHash;
use crate::store::Store;

/// What moved the tip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The node's miner sealed a block.
    Mined,
    /// Blocks from a peer (gossip or sync).
    Peer,
    /// An import through the API.
    Import,
}

impl Cause {
    fn name(self) -> &'static str {
        match self {
            Cause::Mined => "mined",
            Cause::Peer => "peer",
            Cause::Import => "import",
        }
    }
}

/// The last tip the streams were told of.
pub struct TipWatch(Mutex<Option<(u64, BlockHash)>>);

impl TipWatch {
    pub fn new(store: &Store) -> TipWatch {
        let now = store.state().ok().map(|s| (s.height, s.tip));
        TipWatch(Mutex::new(now))
    }
}

impl Node {
    /// Sends a `tip` event if the active tip is not the one last told;
    /// `cause` is what just wrote. Reads the store (the walk back to the
    /// fork is as long as the reorganisation): call it off the runtime.
    pub fn tip_moved(&self, cause: Cause) {
        let mut last = self.tip_watch.0.lock().unwrap_or_else(|p| p.into_inner());
        let Ok(state) = self.store.state() else {
            return;
        };
        let Some((height, hash)) = *last else {
            *last = Some((state.height, state.tip));
            return;
        };
        if hash == state.tip {
            return;
        }
        let fork = fork_height(&self.store, height, hash).unwrap_or(0);
        *last = Some((state.height, state.tip));
        let event = TipEvent {
            tip: TipRef {
                height: state.height,
                hash: state.tip,
                timestamp: None,
            },
            previous: TipRef {
                height,
                hash,
                timestamp: None,
            },
            cause: cause.name().into(),
            disconnected: height - fork,
            connected: state.height.saturating_sub(fork),
        };
        if event.disconnected > 0 {
            tracing::warn!(
                depth = event.disconnected,
                connected = event.connected,
                from = %hash,
                to = %state.tip,
                cause = cause.name(),
                "reorganisation: {} blocks disconnected, {} connected",
                event.disconnected,
                event.connected
            );
        }
        tracing::info!(height = state.height, hash = %state.tip, cause = cause.name(), "new tip");
        let _ = self.events.send(Event::Tip(event));
    }
}

/// The height where the branch ending at `hash` (at `height`) meets the
/// active chain.
fn fork_height(store: &Store, mut height: u64, mut hash: BlockHash) -> Option<u64> {
    loop {
        if store.hash_at(height).ok()? == Some(hash) {
            return Some(height);
        }
        let record = store.header(&hash).ok()??;
        if height == 0 {
            return Some(0);
        }
        (height, hash) = (height - 1, record.prev_hash);
    }
}
