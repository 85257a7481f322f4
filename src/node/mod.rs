//! `sledger node`: a long-running process that owns the store, optionally
//! mines, and serves the ledger's operations over a local HTTP API
//! (`docs/API.md`), as bitcoind does for bitcoin-cli. [`server`] owns the
//! listener and the shutdown, [`routes`] the endpoints, [`status`] the
//! HTTP status of each error, [`mining_slot`] the background mining run, [`cookie`] the
//! file that tells other processes where the node is, and [`client`] the
//! other side: the CLI's [`crate::api::Ledger`] over HTTP.

pub mod admission;
pub mod client;
pub mod connection;
pub mod cookie;
pub mod explorer;
pub mod identity;
pub mod mining_slot;
pub mod peering;
pub mod routes;
pub mod server;
pub mod status;
pub mod tip_watch;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::api::MineRequest;
use crate::store::Store;

/// The port a node listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 8337;

/// Event streams open at once, apart from the connection slots: a stream
/// holds its connection for as long as the client wants.
pub const MAX_STREAMS: usize = 32;

/// Slowest average rate, in bytes per second, at which an import's body
/// may arrive once its first read timeout has passed: a client that drips
/// bytes does not hold the one import slot for ever.
pub const MIN_UPLOAD_RATE: u64 = 64 << 10;

/// Bounds on what a client may send or hold.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest JSON request body.
    pub body_bytes: usize,
    /// Largest export file `POST /v1/import` accepts (spooled to disk).
    pub import_bytes: u64,
    /// Time a client has to send its request head, and between chunks of
    /// its body.
    pub read_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub connections: usize,
    /// Time in-flight requests get to finish after a stop signal.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 1 << 20,
            import_bytes: 4 << 30,
            read_timeout: Duration::from_secs(10),
            connections: 256,
            drain: Duration::from_secs(10),
        }
    }
}

/// How a node is started.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Mine from the start, with these settings.
    pub mine: Option<MineRequest>,
    pub limits: Limits,
    /// The peer-to-peer network: off unless it has a listen address or a peer.
    pub network: crate::net::Config,
    /// The log: level, format, file.
    pub log: crate::logging::LogSettings,
}

/// What the node sends on `GET /v1/events`.
#[derive(Debug, Clone)]
pub enum Event {
    /// A block the node's miner sealed and appended.
    Block(crate::api::views::SealedEvent),
    /// The miner started or stopped.
    Mining(crate::api::views::MiningView),
    /// The active tip moved ([`tip_watch`]).
    Tip(crate::api::views::TipEvent),
    /// An entry joined the pending pool.
    Entry(crate::api::views::EntryEvent),
}

/// State every request handler shares.
pub struct Node {
    pub store: Store,
    pub token: String,
    pub address: SocketAddr,
    pub limits: Limits,
    pub events: tokio::sync::broadcast::Sender<Event>,
    pub mining: mining_slot::MiningSlot,
    /// Held by an import and by the miner while it appends a block, so that
    /// an import's checks and its writes see the same tip.
    pub write_lock: Mutex<()>,
    /// Raised when the node begins to stop: streams end.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// One permit: imports run one at a time.
    pub imports: tokio::sync::Semaphore,
    /// [`MAX_STREAMS`] permits, one per open event stream.
    pub streams: Arc<tokio::sync::Semaphore>,
    /// The network, once started (never, unless asked for).
    pub net: std::sync::OnceLock<crate::net::Handle>,
    /// The last tip the event streams were told of.
    pub tip_watch: tip_watch::TipWatch,
    /// The explorer's login codes and sessions.
    pub explorer: explorer::Sessions,
}

impl Node {
    /// Gossips a block this node sealed, if networking is on.
    pub fn announce_block(&self, hash: &crate::consensus::BlockHash) {
        if let (Some(net), Ok(Some(b))) = (self.net.get(), self.store.block(hash)) {
            net.publish_block(&b.block);
        }
    }

    /// Gossips an entry submitted here, if networking is on.
    /// Logs an entry that joined the pending pool and tells the event
    /// streams; `source` is `submit` or `peer`.
    pub fn entry_arrived(&self, tx: &crate::consensus::Transaction, source: &str) {
        let event = crate::api::views::EntryEvent {
            txid: tx.txid(),
            author: tx.author().to_owned(),
            size: tx.data().len(),
            signed_by: tx.signed().map(|s| s.key.fingerprint()),
            source: source.into(),
        };
        tracing::info!(
            txid = %event.txid,
            author = %crate::cli::output::escape_text(&event.author),
            size = event.size,
            signed = event.signed_by.is_some(),
            source,
            "pending entry"
        );
        let _ = self.events.send(Event::Entry(event));
    }

    pub fn announce_entry(&self, tx: &crate::consensus::Transaction) {
        if let Some(net) = self.net.get() {
            net.publish_entry(tx);
        }
    }
}

/// Why a node could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot write the node cookie {path}: {source}")]
    Cookie {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the node's runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Net(#[from] crate::net::NetError),
    #[error(transparent)]
    Api(#[from] crate::api::ApiError),
}
