//! Bringing the local copy up to a peer with more work (`docs/NETWORK.md`,
//! "Sync"): headers first, then bodies.
//!
//! One *run* follows the header chain of one peer (the one whose status
//! claims the most work). Its headers are checked as they arrive (link,
//! height, difficulty rule, timestamps, proof of work: [`Cursor::check_child`])
//! and only their hashes are kept, at most [`WINDOW`] of them. Bodies are
//! asked for only once the checked headers carry more work than the local
//! tip: batches of [`BATCH`] hashes spread over every peer, at most
//! [`MAX_BATCHES_PER_PEER`] each, a stalled batch given to another peer
//! after a timeout that doubles per stall of that peer. Bodies must hash to
//! their header and match their Merkle root before they are kept, and go
//! to the ledger in order, through its checked path, in groups.
//!
//! A header chain that fills the window without beating the local work is
//! followed on without keeping its hashes (*presync*): only the running
//! work, the rolling context of the last headers and one sampled hash per
//! [`SAMPLE_EVERY`] heights. Once its work beats the local tip, it is
//! downloaded again from the fork point, each sampled height checked
//! against the first pass, and bodies are asked for only up to the last
//! sample that matched (or anywhere, once the work is beaten). A low-work
//! header chain thus never reaches the store, whatever its length, and the
//! memory a run holds is bounded.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libp2p::request_response::{cbor, OutboundRequestId};
use libp2p::PeerId;
use serde_bytes::ByteBuf;
use tokio::sync::mpsc;

use super::protocol::*;
use super::{Chain, ChainView, Verdict};
use crate::consensus::header::HEADER_BYTES;
use crate::consensus::rules::{self, BlockError};
use crate::consensus::{Block, BlockHash, BlockHeader, Cursor};
use crate::time::now_ms;

/// Checked header hashes a run keeps whose bodies are not stored yet
/// (`--sync-window` sets another).
pub const WINDOW: usize = 16_384;

/// Hashes per `Bodies` request.
pub const BATCH: usize = MAX_BODIES_PER_REQUEST;

/// `Bodies` requests under way to one peer, and batches under way or
/// arrived and waiting for their turn, in all.
pub const MAX_BATCHES_PER_PEER: usize = 2;
pub const MAX_BATCHES: usize = 8;

/// Blocks handed to the ledger at once (consecutive arrived batches).
const APPLY_MAX: usize = 512;

/// The first timeout of a `Bodies` request; it doubles with each stall
/// of the same peer, up to [`MAX_TIMEOUT`], and halves back with each
/// batch it delivers.
pub const BASE_TIMEOUT: Duration = Duration::from_secs(4);
pub const MAX_TIMEOUT: Duration = Duration::from_secs(16);

/// The time a `Headers` request gets.
pub const HEADERS_TIMEOUT: Duration = Duration::from_secs(20);

/// One sampled header hash per this many heights in a first pass.
pub const SAMPLE_EVERY: u64 = 256;

/// Samples a first pass may take (16.7 million headers); a header chain
/// longer than that without more work than the local tip is given up.
pub const MAX_SAMPLES: usize = 65_536;

/// How far behind its peer a run must be for gossiped blocks to be left
/// to it.
pub const NEAR: u64 = 16;

/// How long a peer whose claimed work brought nothing is passed over.
pub const COOLDOWN: Duration = Duration::from_secs(30);

/// Something a peer did wrong during a sync: a broken rule, or a lesser
/// fault that costs it score ([`super::peers::Fault`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Ban(&'static str),
    Score(super::peers::Fault),
}

const TIMEOUT: Fault = Fault::Score(super::peers::Fault::Timeout);
/// A reply with nothing useful (claimed work it did not bring, or bodies
/// it did not have).
const USELESS: Fault = Fault::Score(super::peers::Fault::Useless);

/// A group of blocks handed to the ledger, and what it made of them.
pub struct Applied {
    run: u64,
    /// The peers that delivered the blocks.
    from: Vec<PeerId>,
    verdict: Verdict,
}

#[derive(Debug)]
enum BatchState {
    Wanted,
    Asked {
        peer: PeerId,
        id: OutboundRequestId,
        deadline: Instant,
    },
    Arrived {
        from: PeerId,
        blocks: Vec<Block>,
    },
}

#[derive(Debug)]
struct Batch {
    hashes: Vec<BlockHash>,
    /// Height of the last of them: a peer whose status is lower is not
    /// asked.
    last_height: u64,
    state: BatchState,
    /// Peers that answered without these blocks.
    lacking: HashSet<PeerId>,
}

/// One peer's header chain being followed.
struct Run {
    id: u64,
    peer: PeerId,
    /// The stored block the run's headers start after.
    base: BlockHash,
    cursor: Cursor,
    /// Checked hashes not yet batched; the first `fetchable` of them may
    /// be asked for.
    unbatched: VecDeque<BlockHash>,
    fetchable: usize,
    batches: VecDeque<Batch>,
    /// Samples of this first pass (`None` once the work is beaten).
    sampling: Option<Vec<(u64, BlockHash)>>,
    /// Following past the window (hashes dropped).
    presync: bool,
    /// A second download, checked against a first pass's samples.
    recheck: Option<VecDeque<(u64, BlockHash)>>,
    /// The `Headers` request under way, and when it times out.
    asking: Option<(OutboundRequestId, Instant)>,
    /// The peer has no more headers after the cursor.
    headers_done: bool,
    /// More work than the local tip: bodies may be stored.
    beaten: bool,
    /// `Headers` replies taken so far (only the first may name a fork
    /// point below the cursor).
    replies: u32,
    applying: bool,
}

impl Run {
    /// The batch the request `id` to `peer` is for, if it is still asked.
    fn asked(&self, peer: PeerId, id: OutboundRequestId) -> Option<usize> {
        self.batches.iter().position(
            |b| matches!(b.state, BatchState::Asked { peer: p, id: i, .. } if p == peer && i == id),
        )
    }

    fn batched(&self) -> usize {
        self.batches.iter().map(|b| b.hashes.len()).sum()
    }

    fn finished(&self) -> bool {
        self.headers_done && self.unbatched.is_empty() && self.batches.is_empty() && !self.applying
    }
}

/// The sync: at most one run, the peers passed over, the stalls per peer.
pub struct Sync {
    chain: Arc<dyn Chain>,
    run: Option<Run>,
    runs: u64,
    cooldown: HashMap<PeerId, Instant>,
    stalls: HashMap<PeerId, u32>,
    applied: mpsc::UnboundedSender<Applied>,
    window: usize,
}

type Rr = cbor::Behaviour<Request, Response>;

impl Sync {
    pub fn new(chain: Arc<dyn Chain>, window: usize) -> (Sync, mpsc::UnboundedReceiver<Applied>) {
        let (applied, rx) = mpsc::unbounded_channel();
        let sync = Sync {
            chain,
            run: None,
            runs: 0,
            cooldown: HashMap::new(),
            stalls: HashMap::new(),
            applied,
            window,
        };
        (sync, rx)
    }

    /// True while a run is more than [`NEAR`] blocks behind its peer (as
    /// its status says): gossiped blocks are then left to the run, since
    /// they would only be orphans. Near the tip, gossip still brings new
    /// blocks at once.
    pub fn is_far_behind(&self, statuses: &HashMap<PeerId, Status>, height: u64) -> bool {
        self.run.as_ref().is_some_and(|run| {
            statuses
                .get(&run.peer)
                .is_some_and(|s| s.height > height.saturating_add(NEAR))
        })
    }

    /// Where the sync stands (`status`), given the local height.
    pub fn progress(&self, statuses: &HashMap<PeerId, Status>, height: u64) -> super::SyncStatus {
        let best_height = statuses
            .values()
            .map(|s| s.height)
            .max()
            .unwrap_or(0)
            .max(height);
        let Some(run) = self.run.as_ref() else {
            return super::SyncStatus {
                phase: "idle",
                peer: None,
                headers: height,
                best_height,
            };
        };
        let phase = match (run.presync, run.beaten || run.recheck.is_some()) {
            (true, _) => "presync",
            (false, false) => "headers",
            (false, true) => "blocks",
        };
        super::SyncStatus {
            phase,
            peer: Some(run.peer.to_string()),
            headers: run.cursor.tip().height,
            best_height,
        }
    }

    /// Starts a run from the peer with the most work, if it has more than
    /// the local chain and none is under way.
    pub fn consider(&mut self, rr: &mut Rr, statuses: &HashMap<PeerId, Status>) {
        if self.run.is_some() {
            return;
        }
        let Some(ours) = self.chain.view() else {
            return;
        };
        let now = Instant::now();
        self.cooldown.retain(|_, until| *until > now);
        let best = statuses
            .iter()
            .filter(|(p, _)| !self.cooldown.contains_key(p))
            .filter(|(_, s)| s.work > ours.work.to_be_bytes())
            .max_by_key(|(_, s)| s.work)
            .map(|(p, _)| *p);
        let Some(peer) = best else { return };
        let Some(cursor) = self.chain.cursor_at(&ours.tip) else {
            return;
        };
        self.runs += 1;
        let mut run = Run {
            id: self.runs,
            peer,
            base: ours.tip,
            cursor,
            unbatched: VecDeque::new(),
            fetchable: 0,
            batches: VecDeque::new(),
            sampling: Some(Vec::new()),
            presync: false,
            recheck: None,
            asking: None,
            headers_done: false,
            beaten: false,
            replies: 0,
            applying: false,
        };
        self.ask_headers(rr, &mut run, &ours, true);
        self.run = Some(run);
    }

    /// Asks the run's peer for headers after its cursor (or, for a fresh
    /// run, after the newest block of the local chain it holds).
    fn ask_headers(&self, rr: &mut Rr, run: &mut Run, ours: &ChainView, fresh: bool) {
        let mut locator = Vec::new();
        if !fresh {
            locator.push(run.cursor.tip_hash().0);
        }
        let heights = locator_heights(ours.height);
        let on_chain = self.chain.hashes_at(&heights);
        locator.extend(
            on_chain
                .into_iter()
                .take(MAX_LOCATOR - locator.len())
                .map(|h| h.0),
        );
        let request = Request::Headers {
            locator,
            max: MAX_HEADERS_PER_REPLY,
        };
        let id = rr.send_request(&run.peer, request);
        run.asking = Some((id, Instant::now() + HEADERS_TIMEOUT));
    }

    /// Ends the run, passing its peer over for a while.
    fn give_up(&mut self) {
        if let Some(run) = self.run.take() {
            self.cooldown.insert(run.peer, Instant::now() + COOLDOWN);
        }
    }

    /// A `Headers` reply. Returns the faults found, and whether the reply
    /// was this sync's.
    pub fn on_headers(
        &mut self,
        rr: &mut Rr,
        peer: PeerId,
        id: OutboundRequestId,
        bytes: &[u8],
        statuses: &HashMap<PeerId, Status>,
    ) -> (Vec<(PeerId, Fault)>, bool) {
        let Some(run) = self.run.as_mut() else {
            return (Vec::new(), false);
        };
        if run.peer != peer || run.asking.map(|(i, _)| i) != Some(id) {
            return (Vec::new(), false);
        }
        run.asking = None;
        let faults = match self.take_headers(bytes) {
            Ok(()) => Vec::new(),
            Err(fault) => vec![(peer, fault)],
        };
        if faults.iter().any(|(_, f)| matches!(f, Fault::Ban(_))) {
            self.run = None;
        }
        self.drive(rr, statuses);
        (faults, true)
    }

    /// Checks a reply's headers onto the run's cursor.
    fn take_headers(&mut self, bytes: &[u8]) -> Result<(), Fault> {
        if !bytes.len().is_multiple_of(HEADER_BYTES)
            || bytes.len() / HEADER_BYTES > MAX_HEADERS_PER_REPLY as usize
        {
            return Err(Fault::Ban("a headers reply that is not whole headers"));
        }
        let headers: Vec<BlockHeader> = bytes
            .chunks_exact(HEADER_BYTES)
            .map(|c| BlockHeader::decode(c.try_into().expect("exact chunk")))
            .collect();
        let Some(ours) = self.chain.view() else {
            return Ok(());
        };
        let run = self.run.as_mut().expect("a run");
        let Some(first) = headers.first() else {
            run.headers_done = true;
            if !run.beaten {
                // It claimed more work and brought none.
                self.give_up();
                return Err(USELESS);
            }
            return Ok(());
        };
        if first.prev_hash != run.cursor.tip_hash() {
            // Its chain forks below the cursor: start over from there, if
            // the fork point is stored; headers that link to nothing held
            // are a lie (a locator names only stored blocks).
            let Some(cursor) = self.chain.cursor_at(&first.prev_hash) else {
                self.run = None;
                return Err(Fault::Ban("headers that do not link to the locator"));
            };
            if run.replies > 0 {
                // The chain it was sending moved: begin a fresh run later.
                self.run = None;
                return Ok(());
            }
            run.base = first.prev_hash;
            run.cursor = cursor;
        }
        run.replies += 1;
        let count = headers.len();
        for header in &headers {
            match run.cursor.check_child(header, now_ms()) {
                Ok(hash) => take_one(run, header.height, hash, &ours)?,
                // Ahead of this node's clock: a later run may take it.
                Err(BlockError::TimestampTooNew { .. }) => {
                    run.headers_done = true;
                    break;
                }
                Err(_) => return Err(Fault::Ban("a header that breaks a rule")),
            }
        }
        if count < MAX_HEADERS_PER_REPLY as usize {
            run.headers_done = true;
        }
        self.after_headers(&ours)
    }

    /// After a reply: a first pass that filled the window goes on as a
    /// presync; one that beat the local work in presync starts its
    /// second download; one that ended without beating it is given up.
    fn after_headers(&mut self, ours: &ChainView) -> Result<(), Fault> {
        let run = self.run.as_mut().expect("a run");
        if run.beaten {
            return Ok(());
        }
        if run.presync && run.cursor.chain_work() > ours.work {
            let samples = run.sampling.take().unwrap_or_default();
            let base = run.base;
            let Some(cursor) = self.chain.cursor_at(&base) else {
                self.run = None;
                return Ok(());
            };
            run.cursor = cursor;
            run.presync = false;
            run.headers_done = false;
            run.recheck = Some(samples.into());
            return Ok(());
        }
        if run.headers_done {
            self.give_up();
            return Err(USELESS);
        }
        // (A second download keeps what it has not matched yet: at most a
        // sample's spacing and a reply.)
        if !run.presync && run.recheck.is_none() && run.unbatched.len() >= self.window {
            run.presync = true;
            run.unbatched.clear();
            run.fetchable = 0;
        }
        // A second download past its last sample that still does not beat
        // the local work: the chain is not the one first followed.
        let past_samples = run.unbatched.len() - run.fetchable.min(run.unbatched.len());
        let exhausted = run.recheck.as_ref().is_some_and(|s| s.is_empty());
        if exhausted && past_samples > SAMPLE_EVERY as usize + MAX_HEADERS_PER_REPLY as usize {
            self.give_up();
            return Err(USELESS);
        }
        if run.sampling.as_ref().is_some_and(|s| s.len() > MAX_SAMPLES) {
            self.give_up();
            return Err(USELESS);
        }
        Ok(())
    }

    /// Hands a `Blocks` reply to its batch. Returns the faults found, and
    /// whether the reply was this sync's.
    pub fn on_blocks(
        &mut self,
        rr: &mut Rr,
        peer: PeerId,
        id: OutboundRequestId,
        list: &[ByteBuf],
        statuses: &HashMap<PeerId, Status>,
    ) -> (Vec<(PeerId, Fault)>, bool) {
        let Some(run) = self.run.as_mut() else {
            return (Vec::new(), false);
        };
        let Some(at) = run.asked(peer, id) else {
            return (Vec::new(), false);
        };
        let mut faults = Vec::new();
        match bodies_for(&run.batches[at].hashes, list) {
            Err(why) => {
                run.batches[at].state = BatchState::Wanted;
                faults.push((peer, Fault::Ban(why)));
            }
            Ok(blocks) if blocks.is_empty() => {
                let batch = &mut run.batches[at];
                batch.state = BatchState::Wanted;
                batch.lacking.insert(peer);
                // Only the peer whose headers these are claimed to hold them.
                if peer == run.peer {
                    faults.push((peer, USELESS));
                }
            }
            Ok(blocks) => {
                if let Some(n) = self.stalls.get_mut(&peer) {
                    *n = n.saturating_sub(1);
                }
                let batch = &mut run.batches[at];
                let rest = batch.hashes.split_off(blocks.len());
                batch.state = BatchState::Arrived { from: peer, blocks };
                if !rest.is_empty() {
                    let more = Batch {
                        hashes: rest,
                        last_height: batch.last_height,
                        state: BatchState::Wanted,
                        lacking: HashSet::new(),
                    };
                    run.batches.insert(at + 1, more);
                }
            }
        }
        self.drive(rr, statuses);
        (faults, true)
    }

    /// A request of this sync failed (the peer hung up, refused, or the
    /// transport timed out). Returns whether it was this sync's.
    pub fn on_failure(
        &mut self,
        rr: &mut Rr,
        peer: PeerId,
        id: OutboundRequestId,
        statuses: &HashMap<PeerId, Status>,
    ) -> bool {
        let Some(run) = self.run.as_mut() else {
            return false;
        };
        if run.peer == peer && run.asking.map(|(i, _)| i) == Some(id) {
            self.give_up();
            return true;
        }
        let Some(at) = run.asked(peer, id) else {
            return false;
        };
        let batch = &mut run.batches[at];
        batch.state = BatchState::Wanted;
        batch.lacking.insert(peer);
        self.drive(rr, statuses);
        true
    }

    /// The peer is gone: a run following it ends; its batches go to others.
    pub fn peer_gone(&mut self, rr: &mut Rr, peer: PeerId, statuses: &HashMap<PeerId, Status>) {
        let Some(run) = self.run.as_mut() else {
            return;
        };
        if run.peer == peer {
            self.run = None;
            return;
        }
        for b in &mut run.batches {
            if matches!(b.state, BatchState::Asked { peer: p, .. } if p == peer) {
                b.state = BatchState::Wanted;
            }
        }
        self.drive(rr, statuses);
    }

    /// Requests past their time: a `Headers` request ends the run; a batch
    /// goes to another peer, and its peer's next timeout doubles.
    pub fn on_tick(
        &mut self,
        rr: &mut Rr,
        statuses: &HashMap<PeerId, Status>,
    ) -> Vec<(PeerId, Fault)> {
        let now = Instant::now();
        let mut faults = Vec::new();
        let Some(run) = self.run.as_mut() else {
            return faults;
        };
        if run.asking.is_some_and(|(_, deadline)| deadline <= now) {
            faults.push((run.peer, TIMEOUT));
            self.give_up();
            return faults;
        }
        for b in &mut run.batches {
            if let BatchState::Asked { peer, deadline, .. } = b.state {
                if deadline <= now {
                    faults.push((peer, TIMEOUT));
                    let n = self.stalls.entry(peer).or_default();
                    *n = (*n + 1).min(2);
                    b.state = BatchState::Wanted;
                }
            }
        }
        self.drive(rr, statuses);
        faults
    }

    /// What the ledger made of a group of blocks.
    pub fn on_applied(
        &mut self,
        rr: &mut Rr,
        done: Applied,
        statuses: &HashMap<PeerId, Status>,
    ) -> Vec<(PeerId, Fault)> {
        let Some(run) = self.run.as_mut().filter(|r| r.id == done.run) else {
            return Vec::new();
        };
        run.applying = false;
        let mut faults = Vec::new();
        match done.verdict {
            Verdict::Invalid => {
                let why = "a block that breaks a rule";
                faults.push((run.peer, Fault::Ban(why)));
                // The sender too, when it alone sent the group (with
                // several, which one sent the bad block is not known).
                if let [only] = done.from[..] {
                    if only != run.peer {
                        faults.push((only, Fault::Ban(why)));
                    }
                }
                self.run = None;
            }
            // Did not link to what is stored: the store moved; start over.
            Verdict::Orphan => self.run = None,
            Verdict::New | Verdict::Known => {}
        }
        self.drive(rr, statuses);
        faults
    }

    /// Moves the run on: more headers when the window has room, batches
    /// for idle peers, arrived blocks to the ledger; a finished run ends.
    fn drive(&mut self, rr: &mut Rr, statuses: &HashMap<PeerId, Status>) {
        let Some(mut run) = self.run.take() else {
            return self.consider(rr, statuses);
        };
        // The hashes not yet fetchable (a first pass below the local work,
        // or a second one past its last matched sample) are bounded apart.
        let room = run.presync || run.batched() + run.fetchable < self.window;
        if run.asking.is_none() && !run.headers_done && room {
            if let Some(ours) = self.chain.view() {
                self.ask_headers(rr, &mut run, &ours, false);
            }
        }
        make_batches(&mut run);
        self.assign(rr, &mut run, statuses);
        self.apply(&mut run);
        if run.finished() {
            return self.consider(rr, statuses);
        }
        let everyone_lacks = |b: &Batch| {
            matches!(b.state, BatchState::Wanted)
                && b.lacking.contains(&run.peer)
                && statuses.keys().all(|p| b.lacking.contains(p))
        };
        let stuck = run.batches.iter().any(everyone_lacks);
        self.run = Some(run);
        if stuck {
            // No peer has a body the header chain needs.
            self.give_up();
        }
    }

    /// Gives each wanted batch, in order, to the peer with the fewest
    /// under way that does not lack it.
    fn assign(&self, rr: &mut Rr, run: &mut Run, statuses: &HashMap<PeerId, Status>) {
        let mut busy: HashMap<PeerId, usize> = statuses.keys().map(|p| (*p, 0)).collect();
        busy.entry(run.peer).or_default();
        // Arrived batches count with those under way, so that bodies held
        // in memory stay within MAX_BATCHES replies whatever their size.
        let mut total = 0;
        for b in &run.batches {
            match b.state {
                BatchState::Asked { peer, .. } => {
                    *busy.entry(peer).or_default() += 1;
                    total += 1;
                }
                BatchState::Arrived { .. } => total += 1,
                BatchState::Wanted => {}
            }
        }
        let now = Instant::now();
        // The first batch not arrived goes out whatever the total: the
        // ones after it wait for it, so it must never wait for them.
        let front = run
            .batches
            .iter()
            .position(|b| !matches!(b.state, BatchState::Arrived { .. }));
        for (i, b) in run.batches.iter_mut().enumerate() {
            if total >= MAX_BATCHES && Some(i) != front {
                break;
            }
            if !matches!(b.state, BatchState::Wanted) {
                continue;
            }
            // Peers whose status is below the batch are not asked (the
            // run's own peer sent its headers, so it is).
            let tall_enough = |p: &PeerId| {
                *p == run.peer || statuses.get(p).is_some_and(|s| s.height >= b.last_height)
            };
            let choice = busy
                .iter()
                .filter(|(p, n)| {
                    **n < MAX_BATCHES_PER_PEER && !b.lacking.contains(p) && tall_enough(p)
                })
                .min_by_key(|(p, n)| {
                    (
                        **n,
                        self.stalls.get(p).copied().unwrap_or(0),
                        **p != run.peer,
                    )
                })
                .map(|(p, _)| *p);
            let Some(peer) = choice else { continue };
            let hashes = b.hashes.iter().map(|h| h.0).collect();
            let id = rr.send_request(&peer, Request::Bodies { hashes });
            let stalls = self.stalls.get(&peer).copied().unwrap_or(0);
            let timeout = (BASE_TIMEOUT * 2u32.pow(stalls)).min(MAX_TIMEOUT);
            b.state = BatchState::Asked {
                peer,
                id,
                deadline: now + timeout,
            };
            *busy.entry(peer).or_default() += 1;
            total += 1;
        }
    }

    /// Hands the arrived batches at the front, in order, to the ledger.
    fn apply(&self, run: &mut Run) {
        if run.applying {
            return;
        }
        let mut blocks = Vec::new();
        let mut from = Vec::new();
        while let Some(b) = run.batches.front() {
            let full = !blocks.is_empty() && blocks.len() + b.hashes.len() > APPLY_MAX;
            if full || !matches!(b.state, BatchState::Arrived { .. }) {
                break;
            }
            let Some(Batch {
                state:
                    BatchState::Arrived {
                        from: p,
                        blocks: got,
                    },
                ..
            }) = run.batches.pop_front()
            else {
                unreachable!("checked above");
            };
            blocks.extend(got);
            if !from.contains(&p) {
                from.push(p);
            }
        }
        if blocks.is_empty() {
            return;
        }
        run.applying = true;
        let (chain, done, id) = (self.chain.clone(), self.applied.clone(), run.id);
        tokio::task::spawn_blocking(move || {
            // A panic in the store must not leave the run waiting forever.
            let offered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                chain.offer_blocks(blocks)
            }));
            let verdict = offered.map_or(Verdict::Orphan, |(_, v)| v);
            let _ = done.send(Applied {
                run: id,
                from,
                verdict,
            });
        });
    }
}

/// Records one checked header in the run: sampled in a first pass,
/// checked against the samples in a second, kept unless in presync.
fn take_one(run: &mut Run, height: u64, hash: BlockHash, ours: &ChainView) -> Result<(), Fault> {
    if height.is_multiple_of(SAMPLE_EVERY) {
        if let Some(s) = run.sampling.as_mut() {
            s.push((height, hash));
        }
    }
    if !run.presync {
        run.unbatched.push_back(hash);
    }
    if let Some(samples) = run.recheck.as_mut() {
        while samples.front().is_some_and(|(h, _)| *h < height) {
            samples.pop_front();
        }
        if let Some(&(h, sampled)) = samples.front() {
            if h == height {
                if sampled != hash {
                    return Err(Fault::Ban(
                        "a header chain that changed between its two downloads",
                    ));
                }
                samples.pop_front();
                run.fetchable = run.unbatched.len();
            }
        }
    }
    // In presync the hashes are gone: beating the work there starts the
    // second download instead (`after_headers`).
    if !run.presync && !run.beaten && run.cursor.chain_work() > ours.work {
        run.beaten = true;
        run.sampling = None;
        run.recheck = None;
    }
    if run.beaten {
        run.fetchable = run.unbatched.len();
    }
    Ok(())
}

/// Cuts the fetchable hashes into batches.
fn make_batches(run: &mut Run) {
    while run.fetchable > 0 {
        let n = run.fetchable.min(BATCH);
        // The unbatched hashes end at the cursor's height.
        let first = run.cursor.tip().height + 1 - run.unbatched.len() as u64;
        let hashes: Vec<BlockHash> = run.unbatched.drain(..n).collect();
        run.fetchable -= n;
        run.batches.push_back(Batch {
            last_height: first + n as u64 - 1,
            hashes,
            state: BatchState::Wanted,
            lacking: HashSet::new(),
        });
    }
}

/// Decodes a `Blocks` reply for `hashes`: a prefix of them, each block
/// hashing to its header's hash with a body that matches its Merkle root.
fn bodies_for(hashes: &[BlockHash], list: &[ByteBuf]) -> Result<Vec<Block>, &'static str> {
    if list.len() > hashes.len() {
        return Err("a reply with more blocks than asked for");
    }
    let mut out = Vec::with_capacity(list.len());
    for (bytes, want) in list.iter().zip(hashes) {
        let block = Block::decode(bytes).map_err(|_| "a block that does not decode")?;
        if block.hash() != *want {
            return Err("a block that is not the one asked for");
        }
        let txids = rules::check_body(&block).map_err(|_| "a body that breaks a rule")?;
        rules::check_merkle_root(&block.header, &txids)
            .map_err(|_| "a body that does not match its header")?;
        out.push(block);
    }
    Ok(out)
}
