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
//! - [`peers`]: the peer book in memory (addresses, statuses, round-trip
//!   times, scores, bans).
//!
//! The ledger side is behind [`Chain`]: every block and entry a peer sends
//! is decoded here and handed to it, and it runs them through the store's
//! checked path (`Store::accept_block`, `Store::submit`) before anything
//! is relayed or stored. Peer bytes are untrusted: every message is
//! bounded before it is decoded.

pub mod key;
pub mod peers;
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
    /// The peers the store remembers.
    fn known_peers(&self) -> Vec<KnownPeer>;
    /// A status exchange with the peer `id` (its bytes) reached at
    /// `address` succeeded at `now_ms`.
    fn record_peer(&self, id: &[u8], address: &str, now_ms: u64) -> Result<(), String>;
    fn ban_peer(&self, id: &[u8], until_ms: u64, reason: &str) -> Result<(), String>;
    /// Lifts a stored ban; true if there was one.
    fn unban_peer(&self, id: &[u8]) -> Result<bool, String>;
}

/// A peer as the store remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownPeer {
    /// The peer id's bytes.
    pub id: Vec<u8>,
    /// The address it was last dialled at or seen from (a multiaddr).
    pub address: String,
    /// When a status exchange last succeeded (ms since 1970).
    pub last_good_ms: u64,
    /// Until when it is banned (ms since 1970; 0: not banned).
    pub banned_until_ms: u64,
    pub ban_reason: String,
}

/// Which side opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The peer dialled this node.
    Inbound,
    /// This node dialled the peer.
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// A peer as [`Handle::peers`] shows it: connected, banned, or both.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerInfo {
    pub peer_id: String,
    /// Its address, while connected.
    pub address: Option<String>,
    pub direction: Option<Direction>,
    /// Where its last status said its chain stands.
    pub tip: Option<BlockHash>,
    pub height: Option<u64>,
    pub work: Option<Work>,
    /// The round-trip time of its last ping.
    pub rtt_ms: Option<u64>,
    /// Its score for lesser faults (0 and below; banned at -100).
    pub score: f64,
    /// Until when it is banned (ms since 1970), and why.
    pub banned_until_ms: Option<u64>,
    pub ban_reason: Option<String>,
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

impl std::fmt::Display for PeerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

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
    #[error("the network has stopped")]
    Stopped,
    #[error("cannot change the peer book: {0}")]
    Book(String),
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
    /// The peer book (kept by the event loop).
    book: Arc<std::sync::Mutex<peers::Book>>,
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

    /// The connected peers and the bans in force, now.
    pub fn peers(&self) -> Vec<PeerInfo> {
        let book = self.book.lock().unwrap_or_else(|p| p.into_inner());
        book.snapshot(std::time::Instant::now())
    }

    /// Dials `addr` now, and again while nothing is connected there; the
    /// peer is remembered once a status exchange with it succeeds.
    pub fn add_peer(&self, addr: PeerAddr) -> Result<(), NetError> {
        (self.commands.send(swarm::Command::Dial(addr.0))).map_err(|_| NetError::Stopped)
    }

    /// Bans `peer` for `how_long` (disconnected, refused, remembered in
    /// the store); returns when the ban ends (ms since 1970), once stored.
    pub async fn ban(
        &self,
        peer: PeerName,
        how_long: std::time::Duration,
    ) -> Result<u64, NetError> {
        let until_ms = crate::time::now_ms().saturating_add(how_long.as_millis() as u64);
        let (done, answer) = tokio::sync::oneshot::channel();
        let ban = swarm::Command::Ban {
            peer: peer.0,
            until_ms,
            done,
        };
        self.commands.send(ban).map_err(|_| NetError::Stopped)?;
        answer
            .await
            .map_err(|_| NetError::Stopped)?
            .map_err(NetError::Book)?;
        Ok(until_ms)
    }

    /// Lifts a ban on `peer`, in memory and in the store; true if there was one.
    pub async fn unban(&self, peer: PeerName) -> Result<bool, NetError> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let unban = swarm::Command::Unban { peer: peer.0, done };
        self.commands.send(unban).map_err(|_| NetError::Stopped)?;
        answer
            .await
            .map_err(|_| NetError::Stopped)?
            .map_err(NetError::Book)
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
