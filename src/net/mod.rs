//! The peer-to-peer network (`docs/NETWORK.md`), over rust-libp2p: the
//! only module that names libp2p. Nodes of one ledger (one genesis hash)
//! find each other through `--peer` addresses, open each connection with a
//! status exchange, gossip newly sealed blocks and newly submitted entries,
//! and bring a copy that is behind up to the peer with more work.
//!
//! - [`protocol`]: names, messages and bounds;
//! - [`key`]: the node's ed25519 identity in the data directory;
//! - [`swarm`]: the libp2p swarm and its event loop, on the node's runtime;
//! - [`sync`]: headers first, then bodies in batches across peers.
//!
//! The ledger side is behind [`Chain`]: every block and entry a peer sends
//! is decoded here and handed to it, and it runs them through the store's
//! checked path (`Store::accept_block`, `Store::submit`) before anything
//! is relayed or stored. Peer bytes are untrusted: every message is
//! bounded before it is decoded.

pub mod key;
pub mod protocol;
mod swarm;
pub mod sync;

use std::path::PathBuf;
use std::sync::Arc;

use crate::consensus::{Block, BlockHash, BlockHeader, Cursor, Transaction, Work};

/// What the ledger made of a block or entry a peer sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid and new: stored, and relayed.
    New,
    /// Already held (or not ours to judge, say a local write failed):
    /// neither relayed nor held against the peer.
    Known,
    /// A block whose parent is unknown: not relayed; the node syncs from
    /// the peer that sent it.
    Orphan,
    /// Breaks a rule: not relayed, and the peer is banned.
    Invalid,
}

/// Where the local chain stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainView {
    pub genesis: BlockHash,
    pub tip: BlockHash,
    pub height: u64,
    pub work: Work,
}

/// The ledger, as the network sees it. Calls may block (they read and
/// write the store): the network makes them off its event loop.
pub trait Chain: Send + Sync + 'static {
    fn view(&self) -> Option<ChainView>;
    /// The hash of the active chain at each of `heights` (see
    /// [`protocol::locator_heights`]).
    fn hashes_at(&self, heights: &[u64]) -> Vec<BlockHash>;
    /// Headers of the active chain after the newest `locator` hash on it,
    /// oldest first, at most `max`.
    fn headers_after(&self, locator: &[BlockHash], max: usize) -> Vec<BlockHeader>;
    /// The stored blocks (of any branch) with these hashes, in that order:
    /// up to the first one not stored, and at most `max_bytes` of them
    /// (but at least one if there is one).
    fn blocks_by_hash(&self, hashes: &[BlockHash], max_bytes: usize) -> Vec<Block>;
    /// A header checker at the stored block `hash` (of any branch), or
    /// `None` if it is not stored.
    fn cursor_at(&self, hash: &BlockHash) -> Option<Cursor>;
    fn offer_block(&self, block: Block) -> Verdict;
    /// A sync reply's blocks, oldest first, each the parent of the next:
    /// how many were new, and the verdict on the first that was not new
    /// or known (`Known` if none).
    fn offer_blocks(&self, blocks: Vec<Block>) -> (usize, Verdict);
    fn offer_entry(&self, tx: Transaction) -> Verdict;
    /// Pending entries from arrival sequence `after` on, at most `max` and
    /// `max_bytes` of them (but at least one if there is one), and the
    /// sequence to ask from next.
    fn pending_after(&self, after: u64, max: usize, max_bytes: usize) -> (Vec<Transaction>, u64);
}

/// A peer address as the user gave it: `host:port` (an IP address) or a
/// multiaddr (`/ip4/127.0.0.1/tcp/8338`, with or without `/p2p/PEERID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAddr(libp2p::Multiaddr);

impl std::str::FromStr for PeerAddr {
    type Err = NetError;
    fn from_str(s: &str) -> Result<PeerAddr, NetError> {
        let bad = || NetError::Address(s.chars().take(200).collect());
        if s.starts_with('/') {
            return s.parse().map(PeerAddr).map_err(|_| bad());
        }
        let socket: std::net::SocketAddr = s.parse().map_err(|_| bad())?;
        let ip = match socket.ip() {
            std::net::IpAddr::V4(ip) => libp2p::multiaddr::Protocol::Ip4(ip),
            std::net::IpAddr::V6(ip) => libp2p::multiaddr::Protocol::Ip6(ip),
        };
        let addr = libp2p::Multiaddr::empty()
            .with(ip)
            .with(libp2p::multiaddr::Protocol::Tcp(socket.port()));
        Ok(PeerAddr(addr))
    }
}

impl std::fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A peer id as the user gave it (`12D3KooW...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerName(libp2p::PeerId);

impl std::str::FromStr for PeerName {
    type Err = NetError;
    fn from_str(s: &str) -> Result<PeerName, NetError> {
        s.parse()
            .map(PeerName)
            .map_err(|_| NetError::PeerId(s.chars().take(200).collect()))
    }
}

/// How the network is started.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub listen: Vec<PeerAddr>,
    pub peers: Vec<PeerAddr>,
    /// A permissioned ledger: only these peers may connect, or be
    /// connected to (`None`: any peer).
    pub allow: Option<Vec<PeerName>>,
    /// Checked header hashes a sync keeps (`None`: [`sync::WINDOW`]).
    pub sync_window: Option<usize>,
}

impl Config {
    /// True when networking was asked for (a listen address or a peer).
    pub fn is_on(&self) -> bool {
        !self.listen.is_empty() || !self.peers.is_empty()
    }
}

/// Why the network could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot use the node key {path}: {source}")]
    Key {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("not a network address: {0:?} (give IP:PORT, or a multiaddr such as /ip4/127.0.0.1/tcp/8338)")]
    Address(String),
    #[error("not a peer id: {0:?} (a peer id looks like 12D3KooW... and is printed by the node it names)")]
    PeerId(String),
    #[error("cannot listen on {address}: {reason}")]
    Listen { address: String, reason: String },
    #[error("cannot start the network: {0}")]
    Start(String),
}

/// Where the sync stands (`status`, `docs/NETWORK.md` "Sync").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// `idle`, `headers` (checking a peer's headers, not yet more work
    /// than the local chain), `presync` (following a header chain past
    /// the window without keeping it) or `blocks` (fetching bodies).
    pub phase: &'static str,
    /// The peer whose header chain is followed.
    pub peer: Option<String>,
    /// Height of the last checked header (the local height when idle).
    pub headers: u64,
    /// The greatest height a connected peer's status names (or the local
    /// height, if greater).
    pub best_height: u64,
}

/// A running network: what it is, and how to tell it what the node did.
pub struct Handle {
    commands: tokio::sync::mpsc::UnboundedSender<swarm::Command>,
    /// The node's peer id.
    pub peer_id: String,
    /// Each address it listens on, with `/p2p/PEERID`: what other nodes
    /// give as `--peer`.
    pub listening: Vec<String>,
    /// Peers connected now (kept by the event loop).
    peers: Arc<std::sync::atomic::AtomicUsize>,
    /// The sync's progress (kept by the event loop).
    sync: Arc<std::sync::Mutex<SyncStatus>>,
}

impl Handle {
    /// How many peers are connected.
    pub fn peer_count(&self) -> usize {
        self.peers.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Where the sync stands.
    pub fn sync(&self) -> SyncStatus {
        self.sync.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Gossips a block this node sealed.
    pub fn publish_block(&self, block: &Block) {
        let _ = self
            .commands
            .send(swarm::Command::PublishBlock(block.encode()));
    }

    /// Gossips an entry submitted to this node.
    pub fn publish_entry(&self, tx: &Transaction) {
        let _ = self
            .commands
            .send(swarm::Command::PublishEntry(tx.encode()));
    }
}

/// Starts the network of the ledger in `data_dir` on the current tokio
/// runtime; returns once it listens on every `config.listen` address.
pub async fn start(
    config: Config,
    data_dir: &std::path::Path,
    chain: Arc<dyn Chain>,
) -> Result<Handle, NetError> {
    let key = key::load_or_create(data_dir)?;
    swarm::start(config, key, chain).await
}
