//! The schema migration runner. The steps themselves live in the top-level
//! `migrations/` folder, one numbered file per schema version, compiled in
//! here; `migrations/README.md` says what each changed and why.
//!
//! A step is crash-safe by construction: it works in bounded batches, each
//! one sled transaction that also records how far it got
//! ([`MigrationProgress`]), so a rerun after a kill continues where the last
//! committed batch ended. The schema version is bumped, and the progress
//! record removed, in one final transaction only when the step is complete.

use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use sled::Transactional;

use super::failpoint::{self, Site};
use super::schema::{MigrationProgress, KEY_MIGRATION, KEY_SCHEMA};
use super::{codec, Store, StoreError};

#[path = "../../migrations/0002_author_index.rs"]
mod m0002_author_index;
#[path = "../../migrations/0003_fork_trees.rs"]
mod m0003_fork_trees;
#[path = "../../migrations/0004_block_records.rs"]
mod m0004_block_records;
#[path = "../../migrations/0005_peer_book.rs"]
mod m0005_peer_book;
#[path = "../../migrations/0006_name_bindings.rs"]
mod m0006_name_bindings;

/// The parameters record of a store older than schema 6, as schema 6
/// writes it (step 6 owns the change): what opening reads before the
/// steps run.
pub fn params_at_schema_6(raw: &[u8]) -> Result<Vec<u8>, StoreError> {
    Ok(m0006_name_bindings::upgraded(raw)?.unwrap_or_else(|| raw.to_vec()))
}

/// What the runner reports while it works.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A step from schema `from` to `to` is starting.
    Starting { from: u32, to: u32, what: &'a str },
    /// `done` of `total` units (blocks, for the author backfill and the
    /// block records) are done.
    Progress { to: u32, done: u64, total: u64 },
    /// The store is now at schema `to`.
    Finished { to: u32 },
}

/// A step's body: does the work, reporting progress through the callback.
pub type StepFn = fn(&Store, &dyn Fn(Event)) -> Result<(), StoreError>;

/// One schema step.
pub struct Step {
    /// The version it upgrades to (from `to - 1`).
    pub to: u32,
    /// What it does, for the notice.
    pub what: &'static str,
    pub run: StepFn,
}

/// Every step, in order.
pub const STEPS: &[Step] = &[
    Step {
        to: 2,
        what: m0002_author_index::WHAT,
        run: m0002_author_index::run,
    },
    Step {
        to: 3,
        what: m0003_fork_trees::WHAT,
        run: m0003_fork_trees::run,
    },
    Step {
        to: 4,
        what: m0004_block_records::WHAT,
        run: m0004_block_records::run,
    },
    Step {
        to: 5,
        what: m0005_peer_book::WHAT,
        run: m0005_peer_book::run,
    },
    Step {
        to: 6,
        what: m0006_name_bindings::WHAT,
        run: m0006_name_bindings::run,
    },
];

/// Runs every step above `from`, in order. Returns the final version.
pub fn run(store: &Store, from: u32, notify: Option<&dyn Fn(Event)>) -> Result<u32, StoreError> {
    let quiet = |_: Event| {};
    let notify: &dyn Fn(Event) = notify.unwrap_or(&quiet);
    let mut version = from;
    for step in STEPS.iter().filter(|s| s.to > from) {
        notify(Event::Starting {
            from: version,
            to: step.to,
            what: step.what,
        });
        (step.run)(store, notify)?;
        let to = step.to;
        store.atomically(|w| {
            w.meta.put(KEY_SCHEMA, &to)?;
            w.meta.remove(KEY_MIGRATION)?;
            Ok(())
        })?;
        version = to;
        notify(Event::Finished { to });
    }
    Ok(version)
}

/// Where an interrupted step towards `to` stopped, if one did.
pub fn progress(store: &Store, to: u32) -> Result<Option<u64>, StoreError> {
    let Some(p) = store
        .h()
        .meta
        .get::<MigrationProgress>(KEY_MIGRATION, "migration progress")?
    else {
        return Ok(None);
    };
    Ok((p.to_version == to).then_some(p.next))
}

/// Commits one batch of the step towards `to`: `write` stages the batch
/// over `trees` (the step's own trees, given in order) and the `meta`
/// tree (passed second; the step must not list it), and the same sled
/// transaction records `done` as the step's progress; then the store is
/// flushed and `done` of `total` reported. Every step's batches go through
/// here, so a killed run resumes exactly after its last committed batch.
pub fn commit_batch(
    store: &Store,
    to: u32,
    trees: &[&sled::Tree],
    (done, total): (u64, u64),
    notify: &dyn Fn(Event),
    write: impl Fn(
        &[TransactionalTree],
        &TransactionalTree,
    ) -> ConflictableTransactionResult<(), StoreError>,
) -> Result<(), StoreError> {
    let _gate = store.hold_writes();
    store.writable()?;
    let mut all = trees.to_vec();
    all.push(&store.h().meta.0);
    let progress = codec::encode(&MigrationProgress {
        to_version: to,
        next: done,
    });
    let r = all
        .as_slice()
        .transaction(|views: &Vec<TransactionalTree>| {
            let (meta, own) = views.split_last().expect("meta is last");
            write(own, meta)?;
            meta.insert(KEY_MIGRATION, progress.as_slice())?;
            failpoint::hit(Site::Commit)?;
            Ok(())
        });
    store.guard(r.map_err(StoreError::from))?;
    store.flush()?;
    notify(Event::Progress {
        to,
        done,
        total: total.max(done),
    });
    Ok(())
}
