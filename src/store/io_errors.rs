//! I/O errors at every write, as SQLite tests its own: for each kind of
//! change (submit, append, an import batch, a side block, an orphan and its
//! parent, a reorganisation over several batches, a branch marked invalid,
//! a mining checkpoint, each schema migration) the change is run on a fresh
//! copy of one ledger with its 1st, 2nd, 3rd ... write failing in turn
//! ([`failpoint`](super::failpoint)), until a run reaches no failure. Each
//! failed run must end in an I/O error, with later writes refused and the
//! ledger it leaves in the process consistent; reopened, the ledger must
//! open without repair, pass `verify`, and hold exactly the ledger from
//! before the change or from after it (tree by tree): nothing acknowledged
//! lost, nothing half-applied. Each test asserts how many write points its
//! change has, so a new write site is counted, not skipped.

use std::path::Path;

use super::failpoint::{self, Site};
use super::fork::Accepted;
use super::golden::digests;
use super::schema::{ReorgJournal, KEY_REORG};
use super::{Store, StoreError};
use crate::consensus::{Block, Transaction};
use crate::testkit::{named_params, seal, unsealed_child};

const T0: u64 = 1_700_000_000_000;
const NOW: u64 = T0 + 3_600_000;

type Digest = Vec<(String, String)>;

fn tx(author: &str, n: u64) -> Transaction {
    Transaction::new(author, T0 + n, format!("{author} {n}").into_bytes()).unwrap()
}

/// A new ledger in `dir` at difficulty 3, retargeting every 4 blocks.
fn ledger(dir: &Path) -> (Store, Block) {
    let params = named_params("io", 3, 4, false, [7; 16]);
    let g = seal(Block::genesis(&params, T0));
    (Store::create(dir, &g, T0).unwrap(), g)
}

/// Mines the pending entries into the next block.
fn mine(s: &Store, step: u64) -> Block {
    let b = seal(s.template(T0 + step * 900).unwrap());
    s.append(&b, NOW).unwrap();
    b
}

/// A sealed child of `parent` on its own branch, `dt` ms later.
fn branch_child(s: &Store, parent: &Block, txs: Vec<Transaction>, dt: u64) -> Block {
    let d = s.cursor_at(&parent.hash()).unwrap().parent_info();
    seal(unsealed_child(parent, txs, dt, d.next_difficulty.0))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// An injected failure, as the write that failed reports it or as a
/// write refused after it.
fn is_io(e: &StoreError) -> bool {
    let injected = e.to_string().contains(failpoint::INJECTED);
    injected
        && matches!(
            e,
            StoreError::Sled(sled::Error::Io(_)) | StoreError::WriteFailed(_)
        )
}

/// The ledger in `dir`, checked: it opens without repair and passes verify.
/// First it is opened on a disk whose first write fails: the recovery an
/// open runs (finishing a reorganisation) then cannot write, and the ledger
/// must still open, consistent as it stands and refusing writes, except
/// part-way through a schema step, where the open is refused.
fn settled(dir: &Path, what: &str, atomic: Atomic) -> Digest {
    failpoint::fail_nth(1);
    let first = Store::open(dir);
    let (_, fired) = failpoint::report();
    match (first, fired) {
        (Ok(s), Some(site)) => {
            if let Err(e) = s.verify(crate::time::now_ms(), &mut |_| {}) {
                panic!("{what}: opened with a failed {site:?}, the ledger fails verify: {e}");
            }
            let refused = s.submit(&tx("later", 2));
            assert!(
                matches!(refused, Err(StoreError::WriteFailed(_))),
                "{what}: opened with a failed {site:?}, a write was not refused: {refused:?}"
            );
        }
        (Ok(_), None) => {}
        (Err(e), Some(_)) if atomic == Atomic::Migration && is_io(&e) => {}
        (Err(e), _) => panic!("{what}: opening on a failing disk was refused: {e}"),
    }
    let s = Store::open(dir).unwrap_or_else(|e| panic!("{what}: reopening failed: {e}"));
    if let Err(e) = s.verify(crate::time::now_ms(), &mut |_| {}) {
        panic!("{what}: the reopened ledger fails verify: {e}");
    }
    digests(&s)
}

/// Runs `change` on a copy of the ledger in `template` with its 1st, 2nd,
/// ... write failing (see the module docs). Returns the number of write
/// points and how many of each site.
fn at_every_write(
    template: &Path,
    atomic: Atomic,
    change: impl Fn(&Path) -> Result<(), StoreError>,
) -> Points {
    let scratch = tempfile::tempdir().unwrap();
    // On a copy: opening an old schema upgrades it.
    copy_dir(template, &scratch.path().join("before"));
    let before = settled(&scratch.path().join("before"), "before", atomic);
    let clean = scratch.path().join("clean");
    copy_dir(template, &clean);
    failpoint::fail_nth(0);
    change(&clean).expect("the change succeeds on a healthy disk");
    let (writes, _) = failpoint::report();
    let after = settled(&clean, "after", atomic);
    let mut points = Points::default();
    for n in 1..=writes {
        let run = scratch.path().join(format!("run-{n}"));
        copy_dir(template, &run);
        failpoint::fail_nth(n);
        let result = change(&run);
        let (_, fired) = failpoint::report();
        let site = fired.unwrap_or_else(|| panic!("write {n} of {writes} was not reached"));
        let what = format!("write {n} of {writes} (a {site:?})");
        match result {
            Ok(()) => panic!("{what} failed, yet the change reported success"),
            Err(e) => assert!(is_io(&e), "{what}: the change failed with {e:?}"),
        }
        let now = settled(&run, &what, atomic);
        assert!(
            now == before || now == after || atomic == Atomic::InSteps,
            "{what}: the reopened ledger is neither the one before nor the one after"
        );
        points.count(site);
        std::fs::remove_dir_all(&run).unwrap();
    }
    eprintln!("{} write points: {points:?}", points.total());
    points
}

/// Opens the ledger in `dir` and runs `op` on it; when `op` fails, checks
/// that the ledger refuses later writes and is consistent as it stands.
fn on_store(
    dir: &Path,
    op: impl Fn(&mut Store) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut s = Store::open(dir)?;
    let result = op(&mut s);
    if result.is_err() {
        let refused = s.submit(&tx("later", 1));
        assert!(
            matches!(refused, Err(StoreError::WriteFailed(ref m)) if m.contains(failpoint::INJECTED)),
            "a write after the failure was not refused: {refused:?}"
        );
        if let Err(e) = s.verify(crate::time::now_ms(), &mut |_| {}) {
            panic!("the ledger left in the process fails verify: {e}");
        }
    }
    result
}

/// What a change promises when a write fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Atomic {
    /// The reopened ledger is the one before it or the one after it (a
    /// change of one transaction, or one whose journal the open completes).
    Yes,
    /// It is made of transactions each leaving a consistent ledger (a
    /// block, then the orphans it frees): the reopened ledger passes verify.
    InSteps,
    /// As `Yes`, for schema steps, which run in the open: an open whose
    /// step fails is refused.
    Migration,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Points {
    inserts: u64,
    removes: u64,
    commits: u64,
    flushes: u64,
}

impl Points {
    fn count(&mut self, site: Site) {
        *match site {
            Site::Insert => &mut self.inserts,
            Site::Remove => &mut self.removes,
            Site::Commit => &mut self.commits,
            Site::Flush => &mut self.flushes,
        } += 1;
    }

    fn total(&self) -> u64 {
        self.inserts + self.removes + self.commits + self.flushes
    }
}

fn points(inserts: u64, removes: u64, commits: u64, flushes: u64) -> Points {
    Points {
        inserts,
        removes,
        commits,
        flushes,
    }
}

/// A ledger with a few blocks and two pending entries, in a temp dir.
fn busy_ledger() -> (tempfile::TempDir, Vec<Block>) {
    let dir = tempfile::tempdir().unwrap();
    let (s, g) = ledger(dir.path());
    let mut blocks = vec![g];
    for h in 1..=3u64 {
        s.submit(&tx("ann", h)).unwrap();
        blocks.push(mine(&s, h));
    }
    s.submit(&tx("bob", 1)).unwrap();
    s.submit(&tx("cy", 2)).unwrap();
    (dir, blocks)
}

#[test]
fn a_submit_survives_a_failure_at_every_write() {
    let (dir, _) = busy_ledger();
    let p = at_every_write(dir.path(), Atomic::Yes, |d| {
        on_store(d, |s| s.submit(&tx("dee", 9)).map(drop))
    });
    assert_eq!(p, points(3, 0, 1, 1), "{p:?}");
}

#[test]
fn an_append_survives_a_failure_at_every_write() {
    let (dir, _) = busy_ledger();
    let next = {
        let s = Store::open(dir.path()).unwrap();
        seal(s.template(T0 + 9_000).unwrap())
    };
    assert_eq!(next.txs.len(), 2, "the block takes both pending entries");
    let p = at_every_write(dir.path(), Atomic::Yes, |d| {
        on_store(d, |s| s.append(&next, NOW).map(drop))
    });
    assert_eq!(p, points(8, 6, 1, 1), "{p:?}");
}

/// Three blocks extending the tip of the ledger in `template`, mined on a
/// scratch copy of it.
fn extension(template: &Path, blocks: u64) -> Vec<Block> {
    let scratch = tempfile::tempdir().unwrap();
    copy_dir(template, scratch.path());
    let s = Store::open(scratch.path()).unwrap();
    (0..blocks)
        .map(|i| {
            s.submit(&tx("eve", 100 + i)).unwrap();
            mine(&s, 10 + i)
        })
        .collect()
}

#[test]
fn an_import_batch_survives_a_failure_at_every_write() {
    let (dir, _) = busy_ledger();
    let batch = extension(dir.path(), 3);
    let p = at_every_write(dir.path(), Atomic::Yes, |d| {
        on_store(d, |s| s.append_batch(&batch, NOW).map(drop))
    });
    assert_eq!(
        p,
        points(18, 6, 1, 1),
        "one transaction for the batch: {p:?}"
    );
}

#[test]
fn a_side_block_and_the_orphan_it_frees_survive_a_failure_at_every_write() {
    let (dir, blocks) = busy_ledger();
    let (side, orphan) = {
        let s = Store::open(dir.path()).unwrap();
        let side = branch_child(&s, &blocks[1], vec![tx("fay", 1)], 700);
        let orphan = seal(unsealed_child(&side, vec![tx("fay", 2)], 700, 3));
        assert_eq!(s.accept_block(&orphan, NOW).unwrap(), Accepted::Orphan);
        (side, orphan)
    };
    let p = at_every_write(dir.path(), Atomic::InSteps, |d| {
        on_store(d, |s| {
            s.accept_block(&side, NOW)?;
            assert_eq!(s.orphan_count()?, 0, "the orphan was taken");
            assert!(s.header(&orphan.hash())?.is_some(), "the orphan was stored");
            Ok(())
        })
    });
    assert_eq!(
        p,
        points(5, 5, 3, 3),
        "store, take the orphan, store it: {p:?}"
    );
}

#[test]
fn an_orphan_survives_a_failure_at_every_write() {
    let (dir, blocks) = busy_ledger();
    let orphan = {
        let s = Store::open(dir.path()).unwrap();
        let side = branch_child(&s, &blocks[1], vec![tx("fay", 1)], 700);
        seal(unsealed_child(&side, vec![tx("fay", 2)], 700, 3))
    };
    let p = at_every_write(dir.path(), Atomic::Yes, |d| {
        on_store(d, |s| s.accept_block(&orphan, NOW).map(drop))
    });
    assert_eq!(p, points(4, 0, 1, 1), "{p:?}");
}

/// The busy ledger with a side branch from height 1 as heavy as the
/// active chain, and the block that makes it heavier.
fn branch_ledger() -> (tempfile::TempDir, Block) {
    let (dir, blocks) = busy_ledger();
    let s = Store::open(dir.path()).unwrap();
    let mut side = blocks[1].clone();
    for i in 0..2 {
        side = branch_child(&s, &side, vec![tx("gus", i)], 700);
        assert!(matches!(
            s.accept_block(&side, NOW).unwrap(),
            Accepted::SideBranch { .. }
        ));
    }
    let heavier = branch_child(&s, &side, vec![tx("bob", 1), tx("gus", 9)], 700);
    (dir, heavier)
}

#[test]
fn a_reorganisation_in_batches_survives_a_failure_at_every_write() {
    let (dir, heavier) = branch_ledger();
    let p = at_every_write(dir.path(), Atomic::Yes, |d| {
        on_store(d, |s| {
            s.set_reorg_batch(1);
            match s.accept_block(&heavier, NOW)? {
                Accepted::Reorganized {
                    disconnected: 2,
                    connected: 3,
                    ..
                } => Ok(()),
                other => panic!("not the reorganisation expected: {other:?}"),
            }
        })
    });
    // Store the block, the journal, 2 disconnects and 3 connects.
    assert_eq!(p, points(27, 14, 7, 7), "{p:?}");
}

#[test]
fn a_reorganisation_resumed_by_the_open_survives_a_failure_at_every_write() {
    let (dir, heavier) = branch_ledger();
    // Cut the reorganisation short after its journal: writes 1-5 store the
    // block, 6-8 the journal, and 14 falls in the first disconnect.
    let mut s = Store::open(dir.path()).unwrap();
    s.set_reorg_batch(1);
    failpoint::fail_nth(14);
    assert!(s.accept_block(&heavier, NOW).is_err());
    assert_eq!(failpoint::report(), (14, Some(Site::Insert)));
    drop(s);
    failpoint::fail_nth(1);
    let stopped = Store::open(dir.path()).unwrap();
    failpoint::report();
    let journal: Option<ReorgJournal> = stopped.h().meta.get(KEY_REORG, "journal").unwrap();
    assert!(journal.is_some(), "the journal waits for the next open");
    assert_eq!(
        stopped.state().unwrap().height,
        3,
        "nothing disconnected yet"
    );
    drop(stopped);
    // The open finishes it; a failed write leaves it readable, refusing writes.
    let p = at_every_write(dir.path(), Atomic::Yes, |d| Store::open(d)?.writable());
    assert_eq!(p, points(21, 10, 2, 2), "{p:?}");
}

#[test]
fn a_branch_marked_invalid_survives_a_failure_at_every_write() {
    let (dir, blocks) = busy_ledger();
    let bad = {
        let s = Store::open(dir.path()).unwrap();
        let again = blocks[1].txs[0].clone();
        let a = branch_child(&s, &blocks[1], vec![tx("hal", 1)], 700);
        s.accept_block(&a, NOW).unwrap();
        let b = branch_child(&s, &a, vec![tx("hal", 2)], 700);
        s.accept_block(&b, NOW).unwrap();
        branch_child(&s, &b, vec![again], 700)
    };
    let p = at_every_write(dir.path(), Atomic::Yes, |d| {
        on_store(d, |s| match s.accept_block(&bad, NOW) {
            Err(StoreError::Rejected(_)) => Ok(()),
            Err(e) => Err(e),
            Ok(r) => panic!("a branch repeating an entry was accepted: {r:?}"),
        })
    });
    assert_eq!(p, points(4, 2, 2, 2), "store the block, mark it: {p:?}");
}

#[test]
fn a_mining_checkpoint_survives_a_failure_at_every_write() {
    let (dir, _) = busy_ledger();
    let template = Store::open(dir.path())
        .unwrap()
        .template(T0 + 9_000)
        .unwrap();
    let save = |d: &Path| on_store(d, |s| s.save_checkpoint(&template, 1_000, 2_000));
    let p = at_every_write(dir.path(), Atomic::Yes, save);
    assert_eq!(p, points(1, 0, 0, 1), "{p:?}");
    let saved = Store::open(dir.path()).unwrap();
    saved.save_checkpoint(&template, 1_000, 2_000).unwrap();
    drop(saved);
    let p = at_every_write(dir.path(), Atomic::Yes, |d| {
        on_store(d, |s| s.clear_checkpoint())
    });
    assert_eq!(p, points(0, 1, 0, 1), "{p:?}");
}

/// A copy of the genuine schema-1 ledger in `tests/fixtures`.
fn v1_ledger() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/v1-ledger.tar.gz"
    );
    let ok = std::process::Command::new("tar")
        .args(["xzf", fixture, "-C"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(ok.success(), "tar could not unpack the fixture");
    dir
}

#[test]
fn every_migration_survives_a_failure_at_every_write() {
    let dir = v1_ledger();
    let data = dir.path();
    assert!(super::exists(data), "the fixture holds a ledger");
    // The migrations run in the open; a failed one is resumed by the next.
    let p = at_every_write(data, Atomic::Migration, |d| Store::open(d).map(drop));
    // Steps 2 to 6: their batches (one commit and one flush each; step 5's
    // one batch is empty, step 6's writes the parameters' policy byte), and
    // each step's final version bump.
    assert_eq!(p, points(5, 5, 20, 21), "{p:?}");
}
