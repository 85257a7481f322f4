//! The peer book in memory (`docs/NETWORK.md`, "Peer book, scores and
//! bans"): for each connected peer its address, the direction of the
//! connection, the last status it sent and the round-trip time of its
//! pings; a score per peer for lesser faults, which decays toward 0; and
//! the bans in force with their expiry. The event loop ([`super::swarm`])
//! keeps it, behind a mutex that [`super::Handle::peers`] reads a snapshot
//! through; the store keeps what must survive a restart, through
//! [`super::Chain`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

use super::protocol::Status;
use super::{Direction, PeerInfo};
use crate::consensus::{BlockHash, Work};

/// Time in which a score halves on its way back to 0.
pub const HALF_LIFE: Duration = Duration::from_secs(300);

/// A peer whose score falls to this or below is banned.
pub const BAN_SCORE: f64 = -100.0;

/// Least time between two writes of one peer's "last good" to the store.
pub const RECORD_EVERY: Duration = Duration::from_secs(60);

/// A lesser fault: it costs the peer some score, not a ban at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A request to it timed out.
    Timeout,
    /// A reply with nothing useful: no blocks for a `Bodies` request, or
    /// a header chain that did not bring the work its status claimed.
    Useless,
    /// It sent a request past the number served at once, which was refused.
    Flood,
}

impl Fault {
    /// What the fault costs.
    pub fn cost(self) -> f64 {
        match self {
            Fault::Timeout => 10.0,
            Fault::Useless | Fault::Flood => 5.0,
        }
    }
}

/// A score that decays toward 0 exponentially ([`HALF_LIFE`]), computed
/// lazily from the time it last changed.
#[derive(Debug, Clone, Copy)]
pub struct Score {
    value: f64,
    at: Instant,
}

impl Score {
    pub fn new(now: Instant) -> Score {
        Score {
            value: 0.0,
            at: now,
        }
    }

    /// The score at `now`.
    pub fn at(&self, now: Instant) -> f64 {
        let halvings =
            now.saturating_duration_since(self.at).as_secs_f64() / HALF_LIFE.as_secs_f64();
        self.value * 0.5f64.powf(halvings)
    }

    /// Adds `delta` at `now`; returns the new score.
    pub fn add(&mut self, delta: f64, now: Instant) -> f64 {
        self.value = self.at(now) + delta;
        self.at = now;
        self.value
    }
}

/// A connected peer.
struct Connected {
    address: Multiaddr,
    direction: Direction,
    status: Option<Status>,
    rtt: Option<Duration>,
}

/// A ban in force.
struct Ban {
    until_ms: u64,
    reason: String,
}

/// What the node knows of its peers now.
#[derive(Default)]
pub struct Book {
    connected: HashMap<PeerId, Connected>,
    scores: HashMap<PeerId, Score>,
    bans: HashMap<PeerId, Ban>,
    /// When each peer was last written to the store as good.
    recorded: HashMap<PeerId, Instant>,
}

impl Book {
    /// A connection to `peer` is established (its first, or another).
    pub fn connected(&mut self, peer: PeerId, address: Multiaddr, direction: Direction) {
        self.connected.entry(peer).or_insert(Connected {
            address,
            direction,
            status: None,
            rtt: None,
        });
    }

    /// The last connection to `peer` closed.
    pub fn disconnected(&mut self, peer: &PeerId) {
        self.connected.remove(peer);
    }

    /// The addresses a peer says it listens on (identify): for a peer that
    /// dialled in, the one on the IP it came from replaces the address it
    /// came from (an ephemeral port no one can dial).
    pub fn listening(&mut self, peer: &PeerId, addresses: &[Multiaddr]) {
        let Some(c) = self.connected.get_mut(peer) else {
            return;
        };
        if c.direction == Direction::Outbound {
            return;
        }
        let ip = c.address.iter().next();
        if let Some(a) = addresses.iter().find(|a| a.iter().next() == ip) {
            c.address = a.clone();
        }
    }

    pub fn rtt(&mut self, peer: &PeerId, rtt: Duration) {
        if let Some(c) = self.connected.get_mut(peer) {
            c.rtt = Some(rtt);
        }
    }

    /// A status exchange with `peer` succeeded: its address, with
    /// `/p2p/PEERID`, when the store should hear of it (at most once per
    /// [`RECORD_EVERY`]).
    pub fn good(&mut self, peer: PeerId, status: Status, now: Instant) -> Option<Multiaddr> {
        let c = self.connected.get_mut(&peer)?;
        c.status = Some(status);
        let due = self
            .recorded
            .get(&peer)
            .is_none_or(|at| now.saturating_duration_since(*at) >= RECORD_EVERY);
        if !due {
            return None;
        }
        self.recorded.insert(peer, now);
        Some(with_peer(&c.address, peer))
    }

    /// Charges `peer` for `fault`; true when its score fell to [`BAN_SCORE`].
    pub fn fault(&mut self, peer: PeerId, fault: Fault, now: Instant) -> bool {
        let score = self.scores.entry(peer).or_insert_with(|| Score::new(now));
        score.add(-fault.cost(), now) <= BAN_SCORE
    }

    /// Bans `peer` until `until_ms` (its score starts again from 0 after).
    pub fn ban(&mut self, peer: PeerId, until_ms: u64, reason: &str) {
        self.scores.remove(&peer);
        self.bans.insert(
            peer,
            Ban {
                until_ms,
                reason: reason.to_owned(),
            },
        );
    }

    /// Lifts the ban on `peer`; true if there was one.
    pub fn unban(&mut self, peer: &PeerId) -> bool {
        self.bans.remove(peer).is_some()
    }

    /// Removes and returns the bans that ended by `now_ms`; forgets scores
    /// back near 0 of peers not connected, and old write times.
    pub fn expire(&mut self, now: Instant, now_ms: u64) -> Vec<PeerId> {
        let ended: Vec<PeerId> = (self.bans.iter())
            .filter(|(_, b)| b.until_ms <= now_ms)
            .map(|(p, _)| *p)
            .collect();
        for p in &ended {
            self.bans.remove(p);
        }
        let connected = &self.connected;
        self.scores
            .retain(|p, s| connected.contains_key(p) || s.at(now) < -0.5);
        self.recorded
            .retain(|_, at| now.saturating_duration_since(*at) < RECORD_EVERY);
        ended
    }

    /// Every connected peer and every ban in force, by peer id.
    pub fn snapshot(&self, now: Instant) -> Vec<PeerInfo> {
        let mut ids: Vec<&PeerId> = self.connected.keys().chain(self.bans.keys()).collect();
        ids.sort_by_key(|p| p.to_string());
        ids.dedup();
        ids.into_iter().map(|p| self.info(p, now)).collect()
    }

    fn info(&self, peer: &PeerId, now: Instant) -> PeerInfo {
        let c = self.connected.get(peer);
        let status = c.and_then(|c| c.status);
        let ban = self.bans.get(peer);
        PeerInfo {
            peer_id: peer.to_string(),
            address: c.map(|c| c.address.to_string()),
            direction: c.map(|c| c.direction),
            tip: status.map(|s| BlockHash(s.tip)),
            height: status.map(|s| s.height),
            work: status.map(|s| Work::from_be_bytes(s.work)),
            rtt_ms: c.and_then(|c| c.rtt).map(|d| d.as_millis() as u64),
            score: self.scores.get(peer).map_or(0.0, |s| s.at(now)),
            banned_until_ms: ban.map(|b| b.until_ms),
            ban_reason: ban.map(|b| b.reason.clone()),
        }
    }
}

/// `addr` ending in `/p2p/peer` (added if it has no `/p2p/`).
pub fn with_peer(addr: &Multiaddr, peer: PeerId) -> Multiaddr {
    if addr.iter().any(|p| matches!(p, Protocol::P2p(_))) {
        return addr.clone();
    }
    addr.clone().with(Protocol::P2p(peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_score_halves_every_five_minutes_on_its_way_back_to_zero() {
        let t0 = Instant::now();
        let mut s = Score::new(t0);
        assert_eq!(s.add(-80.0, t0), -80.0);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(s.at(t0 + HALF_LIFE), -40.0));
        assert!(close(s.at(t0 + 2 * HALF_LIFE), -20.0));
        // Computed from the last change: a fault later adds to what is left.
        assert!(close(s.add(-10.0, t0 + HALF_LIFE), -50.0));
        assert!(close(s.at(t0 + 2 * HALF_LIFE), -25.0));
    }

    #[test]
    fn faults_in_a_burst_ban_and_spread_out_do_not() {
        let peer = PeerId::random();
        let t0 = Instant::now();
        let mut book = Book::default();
        // Ten timeouts at once: -100, a ban.
        let banned = (0..10).map(|_| book.fault(peer, Fault::Timeout, t0));
        assert_eq!(banned.filter(|b| *b).count(), 1);
        // One timeout a minute never gets there: decay outpaces it.
        let mut book = Book::default();
        for minute in 0..120 {
            let at = t0 + Duration::from_secs(60 * minute);
            assert!(!book.fault(peer, Fault::Timeout, at), "minute {minute}");
        }
        let s = book.scores[&peer].at(t0 + Duration::from_secs(60 * 119));
        assert!(s < -50.0 && s > -100.0, "{s}");
    }

    #[test]
    fn a_good_status_is_written_at_most_once_a_minute() {
        let peer = PeerId::random();
        let t0 = Instant::now();
        let mut book = Book::default();
        let addr: Multiaddr = "/ip4/127.0.0.1/tcp/9".parse().unwrap();
        book.connected(peer, addr.clone(), Direction::Outbound);
        let status = Status {
            version: 1,
            genesis: [0; 32],
            tip: [1; 32],
            height: 5,
            work: [0; 32],
        };
        assert_eq!(book.good(peer, status, t0), Some(with_peer(&addr, peer)));
        assert_eq!(book.good(peer, status, t0 + Duration::from_secs(59)), None);
        assert!(book.good(peer, status, t0 + RECORD_EVERY).is_some());
        assert_eq!(book.snapshot(t0)[0].height, Some(5));
    }
}
