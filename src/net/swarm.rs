//! The libp2p swarm (TCP, noise, yamux; gossipsub, request-response over
//! CBOR, identify, ping, connection limits, a block list) and its event
//! loop: one task owning the swarm, fed by the node's commands and by the
//! outcomes of ledger calls it makes on blocking threads, so that a slow
//! store never stalls the network.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libp2p::futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageId};
use libp2p::identity::Keypair;
use libp2p::request_response::{self, cbor, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    allow_block_list, connection_limits, identify, noise, ping, tcp, yamux, Multiaddr, PeerId,
    StreamProtocol, Swarm,
};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::peers::{Book, Fault};
use super::protocol::*;
use super::sync::{self, Applied, Sync};
use super::{Chain, Config, Direction, Handle, NetError, Verdict};
use crate::consensus::{Block, BlockHash, Transaction};

/// How long a peer that broke a rule stays banned.
pub const BAN: Duration = Duration::from_secs(600);

/// How often statuses are exchanged again and lost peers redialled.
const TICK: Duration = Duration::from_secs(2);

/// Connections at once, in all, per peer, and not yet established.
const MAX_CONNECTIONS: u32 = 64;
const MAX_PER_PEER: u32 = 2;
const MAX_PENDING: u32 = 16;

/// Gossiped blocks, and apart from them entries, checked at once; more
/// are ignored (not relayed, not held against the sender) until one is
/// done, so that a flood cannot queue unbounded work in front of the sync,
/// and a busy stream of blocks never crowds out the entries.
const MAX_CHECKS: usize = 4;

/// `Headers`, `Bodies` and `Pending` requests of one peer served at
/// once; more are refused.
const MAX_SERVING_PER_PEER: usize = 4;

/// Status requests of one peer answered per window; more are refused.
const MAX_STATUS_PER_WINDOW: u32 = 20;
const STATUS_WINDOW: Duration = Duration::from_secs(10);

/// How often the sync looks for requests past their time.
const SYNC_TICK: Duration = Duration::from_millis(500);

/// Time a request gets before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    /// Only with `--allow-peer`: every other peer's connection is refused.
    allowed: Toggle<allow_block_list::Behaviour<allow_block_list::AllowedPeers>>,
    gossip: gossipsub::Behaviour,
    sync: cbor::Behaviour<Request, Response>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
}

/// What the node asks of the network.
pub enum Command {
    PublishBlock(Vec<u8>),
    PublishEntry(Vec<u8>),
    /// Dial now, and redial while nothing is connected there.
    Dial(Multiaddr),
    /// Ban until then (ms since 1970); answered once the store has it.
    Ban {
        peer: PeerId,
        until_ms: u64,
        done: Reply<()>,
    },
    /// Lift a ban; answered (was there one) once the store has it.
    Unban {
        peer: PeerId,
        done: Reply<bool>,
    },
}

/// Where the answer to a command goes.
pub type Reply<T> = tokio::sync::oneshot::Sender<Result<T, String>>;

/// A ledger call's result, back on the event loop.
enum Outcome {
    Gossip {
        id: MessageId,
        source: PeerId,
        verdict: Verdict,
    },
    Serve {
        peer: PeerId,
        channel: ResponseChannel<Response>,
        response: Response,
    },
    Offered {
        peer: PeerId,
        verdict: Verdict,
    },
}

struct Net {
    swarm: Swarm<Behaviour>,
    chain: Arc<dyn Chain>,
    genesis: BlockHash,
    blocks: IdentTopic,
    entries: IdentTopic,
    /// The last status each connected peer sent.
    statuses: HashMap<PeerId, Status>,
    /// Headers first, then bodies.
    sync: Sync,
    /// The status request under way to each peer: at most one at a time.
    asking: HashMap<PeerId, OutboundRequestId>,
    /// The `Pending` request under way to each peer, and where in its
    /// pending entries to ask from next.
    pending_asks: HashMap<PeerId, OutboundRequestId>,
    pending_cursor: HashMap<PeerId, u64>,
    /// Status requests answered per peer in the current window.
    status_asks: HashMap<PeerId, (Instant, u32)>,
    /// `Blocks` requests being served, per peer.
    serving: HashMap<PeerId, usize>,
    /// Connected peers, scores and bans ([`super::peers`]).
    book: Arc<std::sync::Mutex<Book>>,
    /// The `--peer` addresses, those added since and the peers the store
    /// remembers, redialled while nothing is connected there.
    targets: Vec<(Multiaddr, Option<PeerId>)>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    /// Peers connected, for [`Handle::peer_count`].
    peer_count: Arc<std::sync::atomic::AtomicUsize>,
    /// The sync's progress, for [`Handle::sync`].
    progress: Arc<std::sync::Mutex<super::SyncStatus>>,
    /// The local height when progress was last reported.
    height: u64,
    /// [`MAX_CHECKS`] permits each for blocks and for entries, one per
    /// gossiped message being checked.
    block_checks: Arc<tokio::sync::Semaphore>,
    entry_checks: Arc<tokio::sync::Semaphore>,
}

pub async fn start(
    config: Config,
    key: Keypair,
    chain: Arc<dyn Chain>,
) -> Result<Handle, NetError> {
    let genesis = chain
        .view()
        .ok_or_else(|| NetError::Start("cannot read the ledger's state".into()))?
        .genesis;
    let mut swarm = build(key, &genesis, config.allow.as_deref())?;
    let peer_id = *swarm.local_peer_id();
    for addr in &config.listen {
        swarm
            .listen_on(addr.0.clone())
            .map_err(|e| NetError::Listen {
                address: addr.to_string(),
                reason: e.to_string(),
            })?;
    }
    let listening = wait_for_listeners(&mut swarm, config.listen.len(), peer_id).await?;
    let blocks = IdentTopic::new(blocks_topic(&genesis));
    let entries = IdentTopic::new(entries_topic(&genesis));
    for topic in [&blocks, &entries] {
        swarm
            .behaviour_mut()
            .gossip
            .subscribe(topic)
            .map_err(|e| NetError::Start(e.to_string()))?;
    }
    let (outcomes, outcomes_rx) = mpsc::unbounded_channel();
    let window = config.sync_window.unwrap_or(super::sync::WINDOW);
    let (sync, applied_rx) = Sync::new(chain.clone(), window);
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let mut net = Net {
        swarm,
        chain,
        genesis,
        blocks,
        entries,
        statuses: HashMap::new(),
        sync,
        asking: HashMap::new(),
        serving: HashMap::new(),
        status_asks: HashMap::new(),
        pending_asks: HashMap::new(),
        pending_cursor: HashMap::new(),
        book: Arc::default(),
        targets: config
            .peers
            .iter()
            .map(|p| (p.0.clone(), peer_of(&p.0)))
            .collect(),
        outcomes,
        peer_count: Arc::default(),
        height: 0,
        progress: Arc::new(std::sync::Mutex::new(super::SyncStatus {
            phase: "idle",
            peer: None,
            headers: 0,
            best_height: 0,
        })),
        block_checks: Arc::new(tokio::sync::Semaphore::new(MAX_CHECKS)),
        entry_checks: Arc::new(tokio::sync::Semaphore::new(MAX_CHECKS)),
    };
    net.restore();
    net.redial();
    let (peers, book) = (net.peer_count.clone(), net.book.clone());
    let sync = net.progress.clone();
    tokio::spawn(net.run(commands_rx, outcomes_rx, applied_rx));
    Ok(Handle {
        commands,
        peer_id: peer_id.to_string(),
        listening,
        peers,
        book,
        sync,
    })
}

fn build(
    key: Keypair,
    genesis: &BlockHash,
    allow: Option<&[super::PeerName]>,
) -> Result<Swarm<Behaviour>, NetError> {
    let allowed = allow.map(|peers| {
        let mut list = allow_block_list::Behaviour::<allow_block_list::AllowedPeers>::default();
        for p in peers {
            list.allow_peer(p.0);
        }
        list
    });
    let start = |e: &dyn std::fmt::Display| NetError::Start(e.to_string());
    let protocol = StreamProtocol::try_from_owned(sync_protocol(genesis)).map_err(|e| start(&e))?;
    let swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| start(&e))?
        .with_behaviour(|key| {
            let gossip = gossipsub::ConfigBuilder::default()
                .validation_mode(gossipsub::ValidationMode::Strict)
                .validate_messages()
                .message_id_fn(|m| MessageId::from(hex::encode(Sha256::digest(&m.data))))
                .max_transmit_size(MAX_GOSSIP_BYTES)
                .heartbeat_interval(Duration::from_millis(700))
                .build()?;
            let gossip = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                gossip,
            )?;
            let codec = super::protocol::codec();
            let sync = cbor::Behaviour::with_codec(
                codec,
                [(protocol, ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(REQUEST_TIMEOUT),
            );
            let limits = connection_limits::ConnectionLimits::default()
                .with_max_established(Some(MAX_CONNECTIONS))
                .with_max_established_per_peer(Some(MAX_PER_PEER))
                .with_max_pending_incoming(Some(MAX_PENDING))
                .with_max_pending_outgoing(Some(MAX_PENDING));
            Ok(Behaviour {
                limits: connection_limits::Behaviour::new(limits),
                blocked: Default::default(),
                allowed: Toggle::from(allowed),
                gossip,
                sync,
                identify: identify::Behaviour::new(identify::Config::new(
                    format!("/sledger/{PROTOCOL_VERSION}"),
                    key.public(),
                )),
                ping: ping::Behaviour::default(),
            })
        })
        .map_err(|e| start(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build();
    Ok(swarm)
}

/// Runs the swarm until each of `count` listeners has an address; returns
/// them with the node's `/p2p/` suffix.
async fn wait_for_listeners(
    swarm: &mut Swarm<Behaviour>,
    count: usize,
    me: PeerId,
) -> Result<Vec<String>, NetError> {
    let mut out = Vec::new();
    let deadline = tokio::time::sleep(Duration::from_secs(10));
    tokio::pin!(deadline);
    while out.len() < count {
        tokio::select! {
            _ = &mut deadline => return Err(NetError::Start("no listen address after 10 s".into())),
            event = swarm.select_next_some() => match event {
                SwarmEvent::NewListenAddr { address, .. } => {
                    out.push(address.with(libp2p::multiaddr::Protocol::P2p(me)).to_string());
                }
                SwarmEvent::ListenerClosed { addresses, reason, .. } => {
                    return Err(NetError::Listen {
                        address: format!("{addresses:?}"),
                        reason: format!("{reason:?}"),
                    });
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

fn status_of(view: &super::ChainView) -> Status {
    Status {
        version: PROTOCOL_VERSION,
        genesis: view.genesis.0,
        tip: view.tip.0,
        height: view.height,
        work: view.work.to_be_bytes(),
    }
}

impl Net {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut outcomes: mpsc::UnboundedReceiver<Outcome>,
        mut applied: mpsc::UnboundedReceiver<Applied>,
    ) {
        let mut tick = tokio::time::interval(TICK);
        let mut sync_tick = tokio::time::interval(SYNC_TICK);
        loop {
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => return, // the node is gone
                },
                Some(out) = outcomes.recv() => self.outcome(out),
                event = self.swarm.select_next_some() => self.event(event),
                _ = tick.tick() => self.tick(),
                _ = sync_tick.tick() => {
                    let rr = &mut self.swarm.behaviour_mut().sync;
                    let faults = self.sync.on_tick(rr, &self.statuses);
                    self.faults(faults);
                    self.report_progress();
                }
                Some(done) = applied.recv() => {
                    let rr = &mut self.swarm.behaviour_mut().sync;
                    let faults = self.sync.on_applied(rr, done, &self.statuses);
                    self.faults(faults);
                }
            }
        }
    }

    fn command(&mut self, cmd: Command) {
        let (topic, bytes) = match cmd {
            Command::PublishBlock(b) => (self.blocks.clone(), b),
            Command::PublishEntry(e) => (self.entries.clone(), e),
            Command::Dial(addr) => return self.add_target(addr),
            Command::Ban {
                peer,
                until_ms,
                done,
            } => return self.ban_until(peer, until_ms, "banned by the node's owner", Some(done)),
            Command::Unban { peer, done } => return self.unban(peer, done),
        };
        // No peer yet, or sent already: nothing to do either way.
        let _ = self.swarm.behaviour_mut().gossip.publish(topic, bytes);
    }

    /// Publishes where the sync stands, for `status`.
    fn report_progress(&mut self) {
        let height = self.chain.view().map_or(0, |v| v.height);
        self.height = height;
        let now = self.sync.progress(&self.statuses, height);
        *self.progress.lock().unwrap_or_else(|p| p.into_inner()) = now;
    }

    fn our_status(&self) -> Option<Status> {
        self.chain.view().map(|v| status_of(&v))
    }

    fn tick(&mut self) {
        let expired = self.book().expire(Instant::now(), crate::time::now_ms());
        for p in expired {
            self.swarm.behaviour_mut().blocked.unblock_peer(p);
        }
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        for p in peers {
            self.ask_status(p);
            self.ask_pending(p);
        }
        self.redial();
    }

    /// Sends `peer` our status (it answers with its own), unless a status
    /// request to it is under way.
    fn ask_status(&mut self, peer: PeerId) {
        if self.asking.contains_key(&peer) {
            return;
        }
        if let Some(status) = self.our_status() {
            let sync = &mut self.swarm.behaviour_mut().sync;
            let id = sync.send_request(&peer, Request::Status(status));
            self.asking.insert(peer, id);
        }
    }

    /// Asks `peer` for the entries it received since the last answer, so
    /// that an entry gossip did not bring (sent before the mesh formed, or
    /// while this node was away) still reaches every miner.
    fn ask_pending(&mut self, peer: PeerId) {
        if self.pending_asks.contains_key(&peer) {
            return;
        }
        let after = self.pending_cursor.get(&peer).copied().unwrap_or(0);
        let request = Request::Pending {
            after,
            max: MAX_ENTRIES_PER_REPLY,
        };
        let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
        self.pending_asks.insert(peer, id);
    }

    /// Forgets the request `id` to `peer`, whatever it was.
    fn settled(&mut self, peer: PeerId, id: OutboundRequestId) {
        if self.pending_asks.get(&peer) == Some(&id) {
            self.pending_asks.remove(&peer);
        }
        if self.asking.get(&peer) == Some(&id) {
            self.asking.remove(&peer);
        }
    }

    /// What the sync found a peer did: a ban for a broken rule; a lesser
    /// fault only costs it the sync (the sync passes it over a while).
    fn faults(&mut self, faults: Vec<(PeerId, sync::Fault)>) {
        for (peer, fault) in faults {
            match fault {
                sync::Fault::Ban(why) => self.ban(peer, why),
                sync::Fault::Score(f) => self.fault(peer, f),
            }
        }
    }

    /// Dials each `--peer` address that has no connection.
    fn redial(&mut self) {
        for (addr, peer) in self.targets.clone() {
            let connected = peer.is_some_and(|p| self.swarm.is_connected(&p));
            if !connected {
                let _ = self.swarm.dial(addr);
            }
        }
    }

    fn ban(&mut self, peer: PeerId, why: &str) {
        let until_ms = crate::time::now_ms().saturating_add(BAN.as_millis() as u64);
        self.ban_until(peer, until_ms, why, None);
    }

    /// Bans `peer` until `until_ms` (ms since 1970): in the book, in the
    /// store (then `done` is answered), and in libp2p's block list, which
    /// closes its connections.
    fn ban_until(&mut self, peer: PeerId, until_ms: u64, why: &str, done: Option<Reply<()>>) {
        tracing::warn!(
            "banning peer {peer} until {}: {why}",
            crate::time::format_ms(until_ms)
        );
        self.book().ban(peer, until_ms, why);
        let (chain, why) = (self.chain.clone(), why.to_owned());
        tokio::task::spawn_blocking(move || {
            let stored = chain.ban_peer(&peer.to_bytes(), until_ms, &why);
            answer(done, stored);
        });
        self.statuses.remove(&peer);
        let rr = &mut self.swarm.behaviour_mut().sync;
        self.sync.peer_gone(rr, peer, &self.statuses);
        self.swarm.behaviour_mut().blocked.block_peer(peer);
    }

    fn event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        if matches!(
            event,
            SwarmEvent::ConnectionEstablished { .. } | SwarmEvent::ConnectionClosed { .. }
        ) {
            let n = self.swarm.connected_peers().count();
            self.peer_count
                .store(n, std::sync::atomic::Ordering::Relaxed);
        }
        self.book_event(&event);
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                if endpoint.is_dialer() {
                    let addr = endpoint.get_remote_address().clone();
                    for (target, peer) in &mut self.targets {
                        if addr.iter().zip(target.iter()).all(|(a, b)| a == b) {
                            *peer = Some(peer_id);
                        }
                    }
                }
                self.ask_status(peer_id);
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.statuses.remove(&peer_id);
                self.asking.remove(&peer_id);
                self.pending_asks.remove(&peer_id);
                self.pending_cursor.remove(&peer_id);
                self.status_asks.remove(&peer_id);
                let rr = &mut self.swarm.behaviour_mut().sync;
                self.sync.peer_gone(rr, peer_id, &self.statuses);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossip(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.gossip(propagation_source, message_id, message),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(e)) => self.sync_event(e),
            _ => {}
        }
    }

    /// Decodes a gossiped block or entry and hands it to the ledger.
    /// While a sync runs, or with [`MAX_CHECKS`] checks under way, a
    /// message is ignored: the sync brings its blocks anyway.
    fn gossip(&mut self, source: PeerId, id: MessageId, message: gossipsub::Message) {
        let is_block = message.topic == self.blocks.hash();
        let checks = if is_block {
            &self.block_checks
        } else {
            &self.entry_checks
        };
        let permit = match checks.clone().try_acquire_owned() {
            Ok(p) if !(is_block && self.sync.is_far_behind(&self.statuses, self.height)) => p,
            _ => {
                let gossip = &mut self.swarm.behaviour_mut().gossip;
                gossip.report_message_validation_result(&id, &source, MessageAcceptance::Ignore);
                return;
            }
        };
        let chain = self.chain.clone();
        let done = self.outcomes.clone();
        let offer: Box<dyn FnOnce() -> Verdict + Send> = if is_block {
            match Block::decode(&message.data) {
                Ok(b) => Box::new(move || chain.offer_block(b)),
                Err(_) => Box::new(|| Verdict::Invalid),
            }
        } else if message.topic == self.entries.hash() {
            match Transaction::decode(&message.data) {
                Ok(tx) => Box::new(move || chain.offer_entry(tx)),
                Err(_) => Box::new(|| Verdict::Invalid),
            }
        } else {
            Box::new(|| Verdict::Invalid)
        };
        tokio::task::spawn_blocking(move || {
            let verdict = offer();
            drop(permit);
            let _ = done.send(Outcome::Gossip {
                id,
                source,
                verdict,
            });
        });
    }

    fn sync_event(&mut self, event: request_response::Event<Request, Response>) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => self.serve(peer, request, channel),
            Event::Message {
                peer,
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => self.answered(peer, request_id, response),
            Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                // The sync charges its own requests' timeouts (its deadlines
                // come first); a status or pending request's is charged here.
                let ask = self.asking.get(&peer) == Some(&request_id)
                    || self.pending_asks.get(&peer) == Some(&request_id);
                self.settled(peer, request_id);
                let rr = &mut self.swarm.behaviour_mut().sync;
                self.sync.on_failure(rr, peer, request_id, &self.statuses);
                if ask && matches!(error, request_response::OutboundFailure::Timeout) {
                    self.fault(peer, Fault::Timeout);
                }
                self.failed(peer, &error);
            }
            Event::InboundFailure {
                peer,
                error: request_response::InboundFailure::Io(e),
                ..
            } => self.malformed(peer, &e, "a request"),
            _ => {}
        }
    }

    /// A request of ours failed: another ledger (another genesis, or not
    /// sledger at all) is let go, a malformed or oversize reply judged.
    fn failed(&mut self, peer: PeerId, error: &request_response::OutboundFailure) {
        use request_response::OutboundFailure;
        match error {
            OutboundFailure::UnsupportedProtocols => {
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            OutboundFailure::Io(e) => self.malformed(peer, e, "a reply"),
            _ => {}
        }
    }

    /// A message from `peer` that did not decode: CBOR that breaks the
    /// message types is a ban; one cut short (larger than its bound, or
    /// ended early) lets the peer go; any other I/O error is the
    /// transport's, held against nobody.
    fn malformed(&mut self, peer: PeerId, e: &std::io::Error, what: &str) {
        use std::io::ErrorKind;
        match e.kind() {
            ErrorKind::InvalidData | ErrorKind::Unsupported => {
                self.ban(peer, &format!("{what} that does not decode"));
            }
            ErrorKind::UnexpectedEof => {
                tracing::warn!(
                    "letting peer {peer} go: {what} larger than its bound, or cut short"
                );
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            _ => {}
        }
    }

    fn serve(&mut self, peer: PeerId, request: Request, channel: ResponseChannel<Response>) {
        match request {
            Request::Status(theirs) => {
                if !self.status_allowed(peer) {
                    self.fault(peer, Fault::Flood);
                    return self.refuse(channel, "too many status requests".into());
                }
                let ours = self.our_status();
                let response = match ours {
                    Some(s) => Response::Status(s),
                    None => Response::Refused("the ledger cannot be read".into()),
                };
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, response);
                self.learn(peer, theirs);
            }
            Request::Headers { locator, max } => {
                if locator.is_empty() || locator.len() > MAX_LOCATOR || max == 0 {
                    let why = format!("a locator holds 1 to {MAX_LOCATOR} hashes, max at least 1");
                    return self.refuse(channel, why);
                }
                let max = max.min(MAX_HEADERS_PER_REPLY) as usize;
                let locator: Vec<BlockHash> = locator.into_iter().map(BlockHash).collect();
                self.serve_blocking(peer, channel, move |chain| {
                    let headers = chain.headers_after(&locator, max);
                    let bytes: Vec<u8> = headers.iter().flat_map(|h| h.encode()).collect();
                    Response::Headers(bytes.into())
                });
            }
            Request::Bodies { hashes } => {
                if hashes.is_empty() || hashes.len() > MAX_BODIES_PER_REQUEST {
                    let why =
                        format!("a bodies request names 1 to {MAX_BODIES_PER_REQUEST} hashes");
                    return self.refuse(channel, why);
                }
                let hashes: Vec<BlockHash> = hashes.into_iter().map(BlockHash).collect();
                self.serve_blocking(peer, channel, move |chain| {
                    let blocks = chain.blocks_by_hash(&hashes, MAX_REPLY_BLOCK_BYTES);
                    Response::Blocks(blocks.iter().map(|b| b.encode().into()).collect())
                });
            }
            Request::Pending { after, max } => {
                let max = max.clamp(1, MAX_ENTRIES_PER_REPLY) as usize;
                self.serve_blocking(peer, channel, move |chain| {
                    let (entries, next) = chain.pending_after(after, max, MAX_REPLY_ENTRY_BYTES);
                    let entries = entries.iter().map(|e| e.encode().into()).collect();
                    Response::Pending { entries, next }
                });
            }
        }
    }

    fn refuse(&mut self, channel: ResponseChannel<Response>, why: String) {
        let sync = &mut self.swarm.behaviour_mut().sync;
        let _ = sync.send_response(channel, Response::Refused(why));
    }

    /// Answers `peer` with what `answer` reads from the ledger, on a
    /// blocking thread; at most [`MAX_SERVING_PER_PEER`] at once per peer.
    /// At most [`MAX_STATUS_PER_WINDOW`] status requests of one peer are
    /// answered per [`STATUS_WINDOW`] (one every 2 s is the rule).
    fn status_allowed(&mut self, peer: PeerId) -> bool {
        let now = Instant::now();
        let (since, count) = self.status_asks.entry(peer).or_insert((now, 0));
        if now.duration_since(*since) >= STATUS_WINDOW {
            (*since, *count) = (now, 0);
        }
        *count += 1;
        *count <= MAX_STATUS_PER_WINDOW
    }

    fn serve_blocking(
        &mut self,
        peer: PeerId,
        channel: ResponseChannel<Response>,
        answer: impl FnOnce(&dyn Chain) -> Response + Send + 'static,
    ) {
        let busy = self.serving.entry(peer).or_default();
        if *busy >= MAX_SERVING_PER_PEER {
            self.fault(peer, Fault::Flood);
            return self.refuse(channel, "too many requests under way".into());
        }
        *busy += 1;
        let (chain, done) = (self.chain.clone(), self.outcomes.clone());
        tokio::task::spawn_blocking(move || {
            let response = answer(chain.as_ref());
            let _ = done.send(Outcome::Serve {
                peer,
                channel,
                response,
            });
        });
    }

    fn answered(&mut self, peer: PeerId, id: OutboundRequestId, response: Response) {
        let rr = &mut self.swarm.behaviour_mut().sync;
        let (faults, ours) = match &response {
            Response::Headers(bytes) => self.sync.on_headers(rr, peer, id, bytes, &self.statuses),
            Response::Blocks(list) => self.sync.on_blocks(rr, peer, id, list, &self.statuses),
            Response::Refused(_) => (
                Vec::new(),
                self.sync.on_failure(rr, peer, id, &self.statuses),
            ),
            _ => (Vec::new(), false),
        };
        self.faults(faults);
        if ours {
            return;
        }
        match response {
            Response::Status(theirs) => {
                self.settled(peer, id);
                self.learn(peer, theirs)
            }
            Response::Pending { entries, next } if self.pending_asks.get(&peer) == Some(&id) => {
                self.settled(peer, id);
                self.received_entries(peer, entries, next)
            }
            _ => self.settled(peer, id),
        }
    }

    /// Records a peer's status; a wrong genesis is a ban, more work a sync.
    fn learn(&mut self, peer: PeerId, theirs: Status) {
        if theirs.genesis != self.genesis.0 || theirs.version != PROTOCOL_VERSION {
            self.ban(peer, "its status names another ledger");
            return;
        }
        self.statuses.insert(peer, theirs);
        self.good(peer, theirs);
        self.consider_sync();
    }

    /// Starts a sync from the peer with the most work, if it has more.
    fn consider_sync(&mut self) {
        let rr = &mut self.swarm.behaviour_mut().sync;
        self.sync.consider(rr, &self.statuses);
    }

    /// Decodes a `Pending` reply's entries and offers them in order.
    fn received_entries(&mut self, peer: PeerId, list: Vec<serde_bytes::ByteBuf>, next: u64) {
        if list.len() > MAX_ENTRIES_PER_REPLY as usize {
            return self.ban(peer, "a reply with more entries than asked for");
        }
        let entries: Result<Vec<Transaction>, _> =
            list.iter().map(|e| Transaction::decode(e)).collect();
        let Ok(entries) = entries else {
            return self.ban(peer, "an entry that does not decode");
        };
        self.pending_cursor.insert(peer, next);
        let (chain, done) = (self.chain.clone(), self.outcomes.clone());
        tokio::task::spawn_blocking(move || {
            let verdict = entries
                .into_iter()
                .map(|tx| chain.offer_entry(tx))
                .find(|v| *v == Verdict::Invalid)
                .unwrap_or(Verdict::Known);
            let _ = done.send(Outcome::Offered { peer, verdict });
        });
    }

    fn outcome(&mut self, out: Outcome) {
        match out {
            Outcome::Gossip {
                id,
                source,
                verdict,
            } => {
                let acceptance = match verdict {
                    Verdict::New => MessageAcceptance::Accept,
                    Verdict::Known | Verdict::Orphan => MessageAcceptance::Ignore,
                    Verdict::Invalid => MessageAcceptance::Reject,
                };
                let gossip = &mut self.swarm.behaviour_mut().gossip;
                gossip.report_message_validation_result(&id, &source, acceptance);
                match verdict {
                    Verdict::Invalid => {
                        self.ban(source, "a gossiped block or entry that breaks a rule")
                    }
                    // Its parent is missing: ask the sender where it stands.
                    Verdict::Orphan => self.ask_status(source),
                    _ => {}
                }
            }
            Outcome::Serve {
                peer,
                channel,
                response,
            } => {
                if let Some(n) = self.serving.get_mut(&peer) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.serving.remove(&peer);
                    }
                }
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, response);
            }
            Outcome::Offered { peer, verdict } => {
                if verdict == Verdict::Invalid {
                    self.ban(peer, "a pending entry that breaks a rule");
                }
            }
        }
    }
}

/// The peer book's hooks ([`super::peers`]): what the event loop tells it,
/// and the bans and peers it keeps in the store through the ledger.
impl Net {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// At start: the bans still in force back in the block list, and the
    /// other remembered peers added to the addresses redialled.
    fn restore(&mut self) {
        let now_ms = crate::time::now_ms();
        for known in self.chain.known_peers() {
            let Ok(peer) = PeerId::from_bytes(&known.id) else {
                continue;
            };
            if known.banned_until_ms > now_ms {
                let why = &known.ban_reason;
                self.book().ban(peer, known.banned_until_ms, why);
                self.swarm.behaviour_mut().blocked.block_peer(peer);
            } else if let Ok(addr) = known.address.parse::<Multiaddr>() {
                if !self.targets.iter().any(|(_, p)| *p == Some(peer)) {
                    let addr = super::peers::with_peer(&addr, peer);
                    self.targets.push((addr, Some(peer)));
                }
            }
        }
    }

    /// `sledger peers add`: dialled now, and redialled like a `--peer`.
    fn add_target(&mut self, addr: Multiaddr) {
        if !self.targets.iter().any(|(a, _)| *a == addr) {
            self.targets.push((addr.clone(), peer_of(&addr)));
        }
        let _ = self.swarm.dial(addr);
    }

    fn unban(&mut self, peer: PeerId, done: Reply<bool>) {
        let was = self.book().unban(&peer);
        self.swarm.behaviour_mut().blocked.unblock_peer(peer);
        let chain = self.chain.clone();
        tokio::task::spawn_blocking(move || {
            let stored = chain.unban_peer(&peer.to_bytes());
            answer(Some(done), stored.map(|s| s || was));
        });
    }

    /// A status exchange succeeded: remembered in the store (throttled).
    fn good(&mut self, peer: PeerId, status: Status) {
        let Some(addr) = self.book().good(peer, status, Instant::now()) else {
            return;
        };
        let chain = self.chain.clone();
        tokio::task::spawn_blocking(move || {
            let stored =
                chain.record_peer(&peer.to_bytes(), &addr.to_string(), crate::time::now_ms());
            answer(None, stored);
        });
    }

    /// Charges `peer` for a lesser fault; at [`super::peers::BAN_SCORE`], a ban.
    fn fault(&mut self, peer: PeerId, fault: Fault) {
        if self.book().fault(peer, fault, Instant::now()) {
            let why = format!(
                "its score fell to {} (timeouts, useless replies, request floods)",
                super::peers::BAN_SCORE
            );
            self.ban(peer, &why);
        }
    }

    /// Connections, pings and identify, as the book needs them.
    fn book_event(&mut self, event: &SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                let direction = match endpoint.is_dialer() {
                    true => Direction::Outbound,
                    false => Direction::Inbound,
                };
                let addr = endpoint.get_remote_address().clone();
                tracing::info!(peer = %peer_id, address = %addr, direction = ?direction, "peer connected");
                self.book().connected(*peer_id, addr, direction);
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                tracing::info!(peer = %peer_id, "peer disconnected");
                self.book().disconnected(peer_id)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                result: Ok(rtt),
                ..
            })) => self.book().rtt(peer, *rtt),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => self.book().listening(peer_id, &info.listen_addrs),
            _ => {}
        }
    }
}

/// Sends a command's answer, or reports a failed write nobody waits for.
fn answer<T>(done: Option<Reply<T>>, r: Result<T, String>) {
    match done {
        Some(done) => {
            let _ = done.send(r);
        }
        None => {
            if let Err(e) = r {
                tracing::error!("cannot update the peer book: {e}");
            }
        }
    }
}
