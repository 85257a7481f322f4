//! The peer book (schema 5, the `peers` tree): each peer the node has
//! exchanged a status with, under its peer id's bytes, with the address it
//! was last dialled at or seen from, when it was last good, and a ban with
//! its expiry. The network owns what these mean (`docs/NETWORK.md`); the
//! store only keeps them, bounded: at most [`MAX_PEERS`] records, counted
//! in `meta/peer_count` so that nothing counts the tree. Each change is
//! one transaction, then a flush.

use super::codec::bounded_text;
use super::schema::{
    PeerRecord, KEY_PEER_COUNT, MAX_BAN_REASON_BYTES, MAX_PEERS, MAX_PEER_ADDRESS_BYTES,
    MAX_PEER_ID_BYTES,
};
use super::{Store, StoreError};

/// Which record may make room for a new one when the book is full.
#[derive(Clone, Copy)]
enum Room {
    /// Only one that is not banned (the least recently good).
    Unbanned,
    /// That, or else the ban that ends first.
    Any,
}

impl Store {
    /// Every record of the peer book with its peer id bytes (a walk of at
    /// most [`MAX_PEERS`] records).
    pub fn peers(&self) -> Result<Vec<(Vec<u8>, PeerRecord)>, StoreError> {
        self.h().peers.all().collect()
    }

    /// Records that a status exchange with `id` succeeded at `now_ms`,
    /// reached at `address`. A new peer in a full book takes the place of
    /// the one least recently good that is not banned; if every record is
    /// a ban, it is not recorded (false).
    pub fn record_peer(&self, id: &[u8], address: &str, now_ms: u64) -> Result<bool, StoreError> {
        let address = bounded_text(address, MAX_PEER_ADDRESS_BYTES).to_owned();
        self.upsert(id, Room::Unbanned, now_ms, |r| {
            r.address = address.clone();
            r.last_good_ms = now_ms;
        })
    }

    /// Bans `id` until `until_ms`, saying why; a new peer in a full book
    /// takes the place of the least recently good unbanned one, else of
    /// the ban that ends first.
    pub fn ban_peer(&self, id: &[u8], until_ms: u64, reason: &str) -> Result<(), StoreError> {
        let reason = bounded_text(reason, MAX_BAN_REASON_BYTES).to_owned();
        self.upsert(id, Room::Any, crate::time::now_ms(), |r| {
            r.banned_until_ms = until_ms;
            r.ban_reason = reason.clone();
        })
        .map(drop)
    }

    /// Lifts the ban on `id`; true if it was banned.
    pub fn unban_peer(&self, id: &[u8]) -> Result<bool, StoreError> {
        check_id(id)?;
        self.atomically(|w| {
            let Some(mut r) = w.peers.get(id)? else {
                return Ok(false);
            };
            let was = r.banned_until_ms != 0;
            r.banned_until_ms = 0;
            r.ban_reason.clear();
            w.peers.put(id, &r)?;
            Ok(was)
        })
    }

    /// Changes the record of `id` (a new one if none) with `change`, in one
    /// transaction with the count, making room as `room` says (`now_ms`
    /// tells a ban in force from one that ended).
    fn upsert(
        &self,
        id: &[u8],
        room: Room,
        now_ms: u64,
        change: impl Fn(&mut PeerRecord),
    ) -> Result<bool, StoreError> {
        check_id(id)?;
        let count = self.h().meta.get::<u64>(KEY_PEER_COUNT, "peer count")?;
        // Chosen before the transaction (which cannot walk a tree); checked
        // again inside it.
        let victim = match count.unwrap_or(0) >= MAX_PEERS {
            true => self.peer_to_drop(id, room, now_ms)?,
            false => None,
        };
        self.atomically(|w| {
            let old = w.peers.get(id)?;
            if old.is_none() {
                let mut count = w
                    .meta
                    .get::<u64>(KEY_PEER_COUNT, "peer count")?
                    .unwrap_or(0);
                if count >= MAX_PEERS {
                    match &victim {
                        Some(v) if w.peers.remove(v)? => count -= 1,
                        _ => return Ok(false),
                    }
                }
                w.meta.put(KEY_PEER_COUNT, &(count + 1))?;
            }
            let mut r = old.unwrap_or_default();
            change(&mut r);
            w.peers.put(id, &r)?;
            Ok(true)
        })
    }

    /// The record to drop for a new one: the least recently good that is
    /// not banned at `now_ms`, else (for [`Room::Any`]) the ban that ends
    /// first.
    fn peer_to_drop(
        &self,
        id: &[u8],
        room: Room,
        now_ms: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let all = self.peers()?;
        let others = || all.iter().filter(|(k, _)| k.as_slice() != id);
        let unbanned = others()
            .filter(|(_, r)| r.banned_until_ms <= now_ms)
            .min_by_key(|(_, r)| r.last_good_ms);
        let pick = match (unbanned, room) {
            (Some(p), _) => Some(p),
            (None, Room::Any) => others().min_by_key(|(_, r)| r.banned_until_ms),
            (None, Room::Unbanned) => None,
        };
        Ok(pick.map(|(k, _)| k.clone()))
    }

    /// The peer book's records and count agree, and every record decodes
    /// (for `verify`).
    pub(crate) fn verify_peers(&self) -> Result<(), String> {
        let mut n = 0u64;
        for e in self.h().peers.all() {
            let (id, _) = e.map_err(|e| e.to_string())?;
            check_id(&id).map_err(|e| e.to_string())?;
            n += 1;
        }
        let recorded = (self.h().meta)
            .get::<u64>(KEY_PEER_COUNT, "peer count")
            .map_err(|e| e.to_string())?
            .unwrap_or(0);
        if n != recorded || n > MAX_PEERS {
            return Err(format!(
                "the peer book holds {n} records and counts {recorded}"
            ));
        }
        Ok(())
    }
}

fn check_id(id: &[u8]) -> Result<(), StoreError> {
    if id.is_empty() || id.len() > MAX_PEER_ID_BYTES {
        return Err(StoreError::BadPeerId(id.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testkit;

    #[test]
    fn the_book_keeps_bans_and_drops_the_least_recently_good_when_full() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = testkit::store(dir.path(), &testkit::params(1, 10, true), 0);
        s.record_peer(b"a", "/ip4/127.0.0.1/tcp/1", 10).unwrap();
        s.ban_peer(b"b", 5_000, "rude").unwrap();
        assert!(s.unban_peer(b"b").unwrap());
        assert!(!s.unban_peer(b"b").unwrap(), "not banned any more");
        s.ban_peer(b"b", 5_000, "rude again").unwrap();
        let all = s.peers().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].1.banned_until_ms, 5_000);
        assert_eq!(all[1].1.ban_reason, "rude again");
        for i in 0..super::MAX_PEERS - 2 {
            let id = format!("p{i:04}");
            assert!(s.record_peer(id.as_bytes(), "x", 100 + i).unwrap());
        }
        // Full: a new peer takes the place of the least recently good ("a").
        assert!(s.record_peer(b"new", "y", 2_000).unwrap());
        let all = s.peers().unwrap();
        assert_eq!(all.len() as u64, super::MAX_PEERS);
        assert!(all.iter().all(|(k, _)| k != b"a"));
        assert!(all.iter().any(|(k, _)| k == b"b"), "the ban is kept");
        s.verify_peers().unwrap();
        assert!(s.record_peer(&[], "x", 1).is_err(), "an empty id");
    }
}
