//! The node's side of the network ([`crate::net::Chain`]): the ledger as
//! peers see it, and every block or entry they send run through the
//! store's checked path (`Store::accept_block` under the node's write lock,
//! as an import, `Store::submit` as a client's submit), with the miner told
//! when the tip moved or an entry arrived.

use std::sync::Weak;

use super::tip_watch::Cause;
use super::Node;
use crate::consensus::{Block, BlockError, BlockHash, BlockHeader, Cursor, Transaction};
use crate::net::{Chain, ChainView, KnownPeer, Verdict};
use crate::store::fork::Accepted;
use crate::store::StoreError;
use crate::time::now_ms;

/// The ledger of a node, for its network (weak: the node owns the network).
pub struct Peering(pub Weak<Node>);

impl Peering {
    fn node(&self) -> Option<std::sync::Arc<Node>> {
        self.0.upgrade()
    }

    fn offer_each(&self, blocks: &[Block]) -> (usize, Verdict) {
        let mut new = 0;
        for b in blocks {
            match self.offer_block(b.clone()) {
                Verdict::New => new += 1,
                Verdict::Known => {}
                v => return (new, v),
            }
        }
        (new, Verdict::Known)
    }
}

/// A rule broken is the peer's fault; anything else (a failed write, or a
/// timestamp ahead of this node's clock, which a later try may accept) is
/// not held against it. Of an entry's rules, those that hold on any chain
/// (its signature, its name's form, the ledger's policy) are the peer's
/// fault; the name rule depends on the chain (a peer on another branch may
/// see the name bound otherwise), so such an entry is dropped, not relayed,
/// and not held against the peer.
fn verdict_of_error(e: &StoreError) -> Verdict {
    let verdict = peer_fault(e);
    if verdict == Verdict::Invalid {
        // The ban that follows names the kind of fault; this, the rule.
        tracing::warn!("refused what a peer sent: {e}");
    }
    verdict
}

fn peer_fault(e: &StoreError) -> Verdict {
    match e {
        StoreError::Rejected(BlockError::TimestampTooNew { .. }) => Verdict::Known,
        StoreError::Rejected(_) | StoreError::InvalidBlock { .. } => Verdict::Invalid,
        StoreError::EntryRefused(
            BlockError::BadSignature { .. }
            | BlockError::UnbindableName { .. }
            | BlockError::UnsignedEntry(_),
        ) => Verdict::Invalid,
        _ => Verdict::Known,
    }
}

impl Chain for Peering {
    fn view(&self) -> Option<ChainView> {
        let node = self.node()?;
        let state = node.store.state().ok()?;
        Some(ChainView {
            genesis: node.store.genesis_hash(),
            tip: state.tip,
            height: state.height,
            work: state.chain_work,
        })
    }

    fn hashes_at(&self, heights: &[u64]) -> Vec<BlockHash> {
        let Some(node) = self.node() else {
            return Vec::new();
        };
        heights
            .iter()
            .filter_map(|h| node.store.hash_at(*h).ok().flatten())
            .collect()
    }

    fn headers_after(&self, locator: &[BlockHash], max: usize) -> Vec<BlockHeader> {
        let Some(node) = self.node() else {
            return Vec::new();
        };
        let store = &node.store;
        let on_chain = |h: &BlockHash| -> Option<u64> {
            let r = store.header(h).ok()??;
            (store.hash_at(r.height).ok()? == Some(*h)).then_some(r.height)
        };
        let Some(fork) = locator.iter().find_map(on_chain) else {
            return Vec::new();
        };
        let mut out: Vec<BlockHeader> = Vec::new();
        let mut parent = store.hash_at(fork).ok().flatten();
        for height in fork + 1.. {
            let Ok((hash, record)) = store.header_at(height) else {
                break;
            };
            // Full, or the chain moved under the walk (a reorganisation).
            if out.len() == max || Some(record.prev_hash) != parent {
                break;
            }
            parent = Some(hash);
            out.push(record.header());
        }
        out
    }

    fn blocks_by_hash(&self, hashes: &[BlockHash], max_bytes: usize) -> Vec<Block> {
        let Some(node) = self.node() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut bytes = 0;
        for hash in hashes {
            let Ok(Some(b)) = node.store.block(hash) else {
                break;
            };
            bytes += b.block.encoded_len();
            if bytes > max_bytes && !out.is_empty() {
                break;
            }
            out.push(b.block);
        }
        out
    }

    fn cursor_at(&self, hash: &BlockHash) -> Option<Cursor> {
        self.node()?.store.cursor_at(hash).ok()
    }

    fn offer_block(&self, block: Block) -> Verdict {
        let Some(node) = self.node() else {
            return Verdict::Known;
        };
        let accepted = {
            let _writes = node.write_lock.lock().unwrap_or_else(|p| p.into_inner());
            node.store.accept_block(&block, now_ms())
        };
        if matches!(accepted, Ok(ref a) if !matches!(a, Accepted::AlreadyKnown)) {
            tracing::info!(
                height = block.header.height,
                hash = %block.hash(),
                txs = block.txs.len(),
                "received block from a peer"
            );
        }
        match accepted {
            Ok(Accepted::Extended(_) | Accepted::Reorganized { .. }) => {
                node.mining.new_entries();
                node.tip_moved(Cause::Peer);
                Verdict::New
            }
            Ok(Accepted::SideBranch { .. }) => Verdict::New,
            Ok(Accepted::AlreadyKnown) => Verdict::Known,
            Ok(Accepted::Orphan) => Verdict::Orphan,
            Err(e) => verdict_of_error(&e),
        }
    }

    /// Blocks that extend the tip go in as one checked batch (as an import
    /// writes them); the rest one by one through fork choice.
    fn offer_blocks(&self, blocks: Vec<Block>) -> (usize, Verdict) {
        let Some(node) = self.node() else {
            return (0, Verdict::Known);
        };
        let store = &node.store;
        let known = blocks
            .iter()
            .take_while(|b| store.header(&b.hash()).ok().flatten().is_some())
            .count();
        let fresh = &blocks[known..];
        let Some(first) = fresh.first() else {
            return (0, Verdict::Known);
        };
        let appended = {
            // Held from reading the tip to writing on it: nothing moves it between.
            let _writes = node.write_lock.lock().unwrap_or_else(|p| p.into_inner());
            let extends_tip = store.state().is_ok_and(|s| s.tip == first.header.prev_hash);
            extends_tip.then(|| store.append_batch(fresh, now_ms()))
        };
        if let Some(appended) = appended {
            return match appended {
                Ok(_) => {
                    let last = fresh.last().expect("not empty");
                    tracing::info!(
                        blocks = fresh.len(),
                        from = first.header.height,
                        to = last.header.height,
                        "received blocks from a peer"
                    );
                    node.mining.new_entries();
                    node.tip_moved(Cause::Peer);
                    (fresh.len(), Verdict::Known)
                }
                // The tip moved meanwhile, or a block is bad: one by one.
                Err(StoreError::Conflict) => self.offer_each(fresh),
                Err(e) => (0, verdict_of_error(&e)),
            };
        }
        self.offer_each(fresh)
    }

    fn pending_after(&self, after: u64, max: usize, max_bytes: usize) -> (Vec<Transaction>, u64) {
        let Some(node) = self.node() else {
            return (Vec::new(), after);
        };
        let (mut out, mut next, mut bytes) = (Vec::new(), after, 0);
        for item in node.store.pending_from(after) {
            let Ok((seq, tx)) = item else { break };
            bytes += tx.encoded_len();
            if out.len() == max || (bytes > max_bytes && !out.is_empty()) {
                break;
            }
            next = seq + 1;
            out.push(tx);
        }
        (out, next)
    }

    fn known_peers(&self) -> Vec<KnownPeer> {
        let Some(node) = self.node() else {
            return Vec::new();
        };
        let book = node.store.peers().unwrap_or_else(|e| {
            tracing::error!("cannot read the peer book: {e}");
            Vec::new()
        });
        book.into_iter()
            .map(|(id, r)| KnownPeer {
                id,
                address: r.address,
                last_good_ms: r.last_good_ms,
                banned_until_ms: r.banned_until_ms,
                ban_reason: r.ban_reason,
            })
            .collect()
    }

    fn record_peer(&self, id: &[u8], address: &str, now_ms: u64) -> Result<(), String> {
        let node = self.node().ok_or("the node has stopped")?;
        let stored = node.store.record_peer(id, address, now_ms);
        stored.map(drop).map_err(|e| e.to_string())
    }

    fn ban_peer(&self, id: &[u8], until_ms: u64, reason: &str) -> Result<(), String> {
        let node = self.node().ok_or("the node has stopped")?;
        let stored = node.store.ban_peer(id, until_ms, reason);
        stored.map_err(|e| e.to_string())
    }

    fn unban_peer(&self, id: &[u8]) -> Result<bool, String> {
        let node = self.node().ok_or("the node has stopped")?;
        node.store.unban_peer(id).map_err(|e| e.to_string())
    }

    fn offer_entry(&self, tx: Transaction) -> Verdict {
        let Some(node) = self.node() else {
            return Verdict::Known;
        };
        match node.store.submit(&tx) {
            Ok(_) => {
                node.entry_arrived(&tx, "peer");
                node.mining.new_entries();
                Verdict::New
            }
            Err(e) => verdict_of_error(&e),
        }
    }
}
