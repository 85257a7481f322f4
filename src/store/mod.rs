//! The ledger store: the sled trees and every state change.
//!
//! - [`open`]: opening and creating a ledger, and the recovery that runs
//!   on open (sled's interrupted snapshots, an interrupted reorganisation).
//! - [`read`]: every read by key; [`iter`]: the streaming walks.
//! - [`trees`]: each tree behind a typed accessor, listed once; [`codec`]:
//!   every key and value layout; [`schema`]: names, records, the version.
//! - [`write`](mod@write) (entries and blocks), [`stage`] (the steps a write is made
//!   of), [`template`] (mining's templates and checkpoints), [`dry_run`]
//!   (checking blocks without writing), [`fork`], [`reorg`], [`orphans`].
//! - [`peers`]: the peer book (peers seen, when last good, bans).
//! - [`verify`]: the streaming full check; [`migrate`]: schema steps.
//!
//! Each change of state is one sled transaction across the trees it touches
//! ([`Store::atomically`]), followed by `flush()`, before it returns.
//! Nothing here loads the chain: reads go by key, and walks stream with
//! bounded memory.

pub mod codec;
pub mod dry_run;
pub mod error;
mod failpoint;
pub mod fork;
#[cfg(test)]
mod golden;
#[cfg(test)]
mod io_errors;
pub mod iter;
pub mod migrate;
pub mod open;
pub mod orphans;
pub mod peers;
pub mod read;
pub mod reorg;
pub mod salvage;
pub mod schema;
mod stage;
pub mod template;
pub(crate) mod trees;
pub mod verify;
pub mod write;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use sled::transaction::{ConflictableTransactionResult, TransactionalTree};

pub use crate::consensus::Cursor;
use crate::consensus::{BlockHash, ChainParams};
pub use error::StoreError;
use failpoint::Site;
pub use open::{
    exists, lock_holder, LockHolder, OpenOptions, CACHE_BYTES, STORE_DIR, VERIFY_CACHE_BYTES,
};
pub use read::{StoredBlock, TxStatus};
use trees::Trees;

/// An open ledger.
pub struct Store {
    data_dir: PathBuf,
    /// Always `Some` until `Drop` (see there).
    handles: Option<Handles>,
    /// Set when a write failed at the I/O level (a full disk), with what
    /// happened; every later write is refused with it.
    poisoned: AtomicBool,
    poison: Mutex<Option<String>>,
    /// Held by every write while it runs, and by `verify` for its whole
    /// walk, so that a check sees one consistent ledger.
    write_gate: Mutex<()>,
    /// Blocks per reorganisation batch ([`reorg::REORG_BATCH`]; tests set less).
    reorg_batch: u64,
    params: ChainParams,
    genesis: BlockHash,
}

/// The sled database and its trees.
pub(crate) struct Handles {
    pub db: sled::Db,
    pub trees: Trees<sled::Tree>,
}

impl std::ops::Deref for Handles {
    type Target = Trees<sled::Tree>;
    fn deref(&self) -> &Trees<sled::Tree> {
        &self.trees
    }
}

/// The trees as one sled transaction sees them ([`Store::atomically`]).
pub(crate) type Writes<'a> = Trees<&'a TransactionalTree>;

impl Drop for Store {
    /// After a failed write (ENOSPC), sled 0.34 never marks its log stable
    /// again, and the flush it runs when its last handle drops waits for
    /// that forever. A poisoned store therefore leaks its handles instead:
    /// nothing further can be written, and the process is about to report
    /// the error and exit. The log on disk is what recovery reads.
    fn drop(&mut self) {
        let injected = (self.poison.get_mut().unwrap_or_else(|p| p.into_inner()))
            .as_deref()
            .is_some_and(failpoint::is_injected);
        if self.poisoned.load(Ordering::SeqCst) && !injected {
            std::mem::forget(self.handles.take());
        }
    }
}

impl Store {
    pub(crate) fn h(&self) -> &Handles {
        self.handles
            .as_ref()
            .expect("handles are only taken in drop")
    }

    /// Passes `r` through, marking the store poisoned on an I/O failure.
    pub(crate) fn guard<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e @ (StoreError::DiskFull | StoreError::Sled(sled::Error::Io(_)))) = &r {
            let reason = match e {
                StoreError::DiskFull => None,
                other => Some(other.to_string()),
            };
            *self.poison.lock().unwrap_or_else(|p| p.into_inner()) = reason;
            self.poisoned.store(true, Ordering::SeqCst);
        }
        r
    }

    /// Refuses any further write once a write has failed at the I/O level
    /// (sled would block in it, see `Drop`), saying what failed.
    pub(crate) fn writable(&self) -> Result<(), StoreError> {
        if !self.poisoned.load(Ordering::SeqCst) {
            return Ok(());
        }
        match self
            .poison
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            None => Err(StoreError::DiskFull),
            Some(reason) => Err(StoreError::WriteFailed(reason)),
        }
    }

    /// Holds every write off until the guard drops (see `write_gate`).
    pub(crate) fn hold_writes(&self) -> std::sync::MutexGuard<'_, ()> {
        self.write_gate.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Flushes sled's log to disk.
    pub(crate) fn flush(&self) -> Result<(), StoreError> {
        self.writable()?;
        let flushed = failpoint::hit(Site::Flush).and_then(|()| self.h().db.flush());
        self.guard(flushed.map(|_| ()).map_err(StoreError::from))
    }

    /// Runs `f` as one sled transaction over every tree, then flushes.
    pub(crate) fn atomically<R>(
        &self,
        f: impl Fn(&Writes<'_>) -> ConflictableTransactionResult<R, StoreError>,
    ) -> Result<R, StoreError> {
        use sled::Transactional;
        let _gate = self.hold_writes();
        self.writable()?;
        let all = self.h().trees.all();
        let r = all
            .as_slice()
            .transaction(|views: &Vec<TransactionalTree>| {
                let r = f(&Trees::view(views))?;
                failpoint::hit(Site::Commit)?;
                Ok(r)
            });
        let r = self.guard(r.map_err(StoreError::from))?;
        // The transaction is committed in memory; only the flush can fail now.
        self.flush().map_err(|e| match e {
            StoreError::DiskFull => StoreError::NotSaved,
            other => other,
        })?;
        Ok(r)
    }
}
