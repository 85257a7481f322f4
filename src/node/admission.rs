//! Which connections the node serves. A connection that has not yet sent a
//! valid token is *unproven*: anyone on the machine can open one, so they
//! get a small budget of their own ([`MAX_UNPROVEN`]), the oldest is let go
//! when a new one needs its place, and each has a short deadline
//! ([`UNPROVEN_DEADLINE`]) to send a request with the token. A connection
//! whose request carried the token is *proven* and holds one of the node's
//! connection slots (`Limits::connections`) until it closes. So a flood
//! without the token can delay the owner's clients by no more than the
//! time it takes them to send their first request.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Unproven connections held at once; a new one lets the oldest go.
pub const MAX_UNPROVEN: usize = 64;

/// Longest time a connection may stay unproven (shorter when the node's
/// read timeout is).
pub const UNPROVEN_DEADLINE: Duration = Duration::from_secs(2);

/// The node's two budgets of connections.
pub struct Admission {
    /// Unproven connections, oldest first, each with its eviction notice.
    unproven: Mutex<VecDeque<(u64, Arc<Notify>)>>,
    next_id: AtomicU64,
    proven: Arc<Semaphore>,
}

/// One accepted connection's place.
pub struct Ticket {
    id: u64,
    admission: Arc<Admission>,
    evicted: Arc<Notify>,
    is_proven: AtomicBool,
    slot: OnceLock<OwnedSemaphorePermit>,
}

impl Admission {
    /// Budgets for `connections` proven connections.
    pub fn new(connections: usize) -> Arc<Admission> {
        Arc::new(Admission {
            unproven: Mutex::new(VecDeque::new()),
            next_id: AtomicU64::new(0),
            proven: Arc::new(Semaphore::new(connections)),
        })
    }

    /// Admits a new connection as unproven, letting the oldest unproven
    /// one go if the budget is full.
    pub fn admit(self: &Arc<Self>) -> Arc<Ticket> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let evicted = Arc::new(Notify::new());
        let mut unproven = self.unproven.lock().expect("admission lock");
        // One joins at a time, so at most one has to go.
        if unproven.len() >= MAX_UNPROVEN {
            if let Some((_, oldest)) = unproven.pop_front() {
                // Stored if the connection is not waiting on it yet.
                oldest.notify_one();
            }
        }
        unproven.push_back((id, evicted.clone()));
        Arc::new(Ticket {
            id,
            admission: self.clone(),
            evicted,
            is_proven: AtomicBool::new(false),
            slot: OnceLock::new(),
        })
    }

    fn forget(&self, id: u64) {
        let mut unproven = self.unproven.lock().expect("admission lock");
        if let Some(i) = unproven.iter().position(|(u, _)| *u == id) {
            unproven.remove(i);
        }
    }
}

impl Ticket {
    pub fn is_proven(&self) -> bool {
        self.is_proven.load(Ordering::SeqCst)
    }

    /// Called when a request on this connection carried the token: waits
    /// for a proven slot, then leaves the unproven budget.
    pub async fn prove(&self) {
        if self.is_proven() {
            return;
        }
        let slot = self
            .admission
            .proven
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        if self.slot.set(slot).is_ok() {
            self.admission.forget(self.id);
            self.is_proven.store(true, Ordering::SeqCst);
        }
    }

    /// Resolves when this connection must close: let go for a newer one,
    /// or still unproven at `deadline`. Never while it is proven.
    pub async fn dismissed(&self, deadline: Duration) {
        tokio::select! {
            _ = self.evicted.notified() => {}
            _ = tokio::time::sleep(deadline) => {}
        }
        if self.is_proven() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.is_proven() {
            self.admission.forget(self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_oldest_unproven_connection_goes_first_and_a_proven_one_never() {
        let a = Admission::new(4);
        let first = a.admit();
        let proven = a.admit();
        proven.prove().await;
        let rest: Vec<_> = (0..MAX_UNPROVEN).map(|_| a.admit()).collect();
        // The 65th unproven connection let the first go.
        tokio::time::timeout(Duration::from_millis(1), first.dismissed(Duration::MAX))
            .await
            .expect("the oldest was let go");
        assert!(
            tokio::time::timeout(Duration::from_secs(60), proven.dismissed(Duration::ZERO))
                .await
                .is_err(),
            "a proven connection is never dismissed"
        );
        // The others are let go at their deadline.
        tokio::time::timeout(Duration::from_secs(3), rest[1].dismissed(UNPROVEN_DEADLINE))
            .await
            .expect("deadline");
        assert_eq!(a.unproven.lock().unwrap().len(), MAX_UNPROVEN);
        drop(rest);
        assert_eq!(a.unproven.lock().unwrap().len(), 0);
        assert_eq!(a.proven.available_permits(), 3);
        drop(proven);
        assert_eq!(a.proven.available_permits(), 4);
    }
}
