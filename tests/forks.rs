//! Forks: side branches, most-work fork choice, reorganisation (with
//! pending entries coming back), orphans, and rejection of invalid blocks
//! on a side branch. Library-level tests build branches by hand; the last
//! tests drive the real binary with two ledgers sharing a genesis.

use crate::kit::{child, open_sled, params, seal, tx, unsealed_child, Ledger};
use sledger::consensus::{Block, BlockError, Difficulty, Transaction};
use sledger::store::fork::{Accepted, MAX_ORPHANS};
use sledger::store::{Store, StoreError, TxStatus};
use sledger::time::now_ms;

/// A store whose genesis is an hour old, at `difficulty` (retargeting
/// every 5 blocks unless `fixed`).
fn setup(difficulty: u32, fixed: bool) -> (tempfile::TempDir, Store, Block) {
    let dir = tempfile::tempdir().unwrap();
    let (s, g) = crate::kit::store(dir.path(), &params(difficulty, 5, fixed), 3_600_000);
    (dir, s, g)
}

fn status(s: &Store, t: &Transaction) -> &'static str {
    match s.find_tx(&t.txid()).unwrap() {
        Some(TxStatus::Confirmed { .. }) => "confirmed",
        Some(TxStatus::Pending { .. }) => "pending",
        None => "unknown",
    }
}

#[test]
fn the_branch_with_more_work_wins_and_its_losers_return_to_pending() {
    let (_d, s, g) = setup(4, true);
    let (x, y, z) = (tx("x", 1), tx("y", 2), tx("z", 3));
    s.submit(&y).unwrap();
    let a1 = child(&g, vec![x.clone(), y.clone()], 1000, 4);
    assert!(matches!(
        s.accept_block(&a1, now_ms()).unwrap(),
        Accepted::Extended(_)
    ));
    assert_eq!(status(&s, &y), "confirmed");
    // A competing branch: b1 (same work as a1: the first seen stays), then b2.
    let b1 = child(&g, vec![x.clone()], 1500, 4);
    assert!(matches!(
        s.accept_block(&b1, now_ms()).unwrap(),
        Accepted::SideBranch { height: 1, .. }
    ));
    assert_eq!(
        s.state().unwrap().tip,
        a1.hash(),
        "a tie keeps the chain seen first"
    );
    assert_eq!(s.tips().unwrap().len(), 2);
    let b2 = child(&b1, vec![z.clone()], 1000, 4);
    match s.accept_block(&b2, now_ms()).unwrap() {
        Accepted::Reorganized {
            tip,
            disconnected,
            connected,
        } => {
            assert_eq!((tip.hash, tip.height), (b2.hash(), 2));
            assert_eq!((disconnected, connected), (1, 2));
        }
        other => panic!("expected a reorganisation, got {other:?}"),
    }
    // x is in both branches: confirmed once. y only in the old one: pending
    // again. z only in the new one: confirmed.
    assert_eq!(status(&s, &x), "confirmed");
    assert_eq!(status(&s, &y), "pending");
    assert_eq!(status(&s, &z), "confirmed");
    match s.find_tx(&x.txid()).unwrap() {
        Some(TxStatus::Confirmed { block, .. }) => assert_eq!(block, b1.hash()),
        other => panic!("{other:?}"),
    }
    let st = s.state().unwrap();
    assert_eq!((st.height, st.pending, st.chain_txs), (2, 1, 3));
    assert_eq!(s.hash_at(1).unwrap(), Some(b1.hash()));
    // The author index followed: y is no longer listed, z is.
    assert_eq!(s.txs_by_author("y", (0, 0)).count(), 0);
    assert_eq!(s.txs_by_author("z", (0, 0)).count(), 1);
    let tips = s.tips().unwrap();
    assert_eq!(tips.len(), 2);
    assert!(tips[0].active && tips[0].hash == b2.hash());
    assert!(s.verify(now_ms(), &mut |_| {}).is_ok());
    // Mining continues on the new tip and can include y again.
    let t = s.template(now_ms()).unwrap();
    assert_eq!(t.header.prev_hash, b2.hash());
    assert_eq!(t.txs, vec![y.clone()]);
}

#[test]
fn invalid_side_branch_blocks_are_rejected_with_the_reason() {
    // Retarget window 5, not fixed: the side branch has its own retarget.
    let (_d, s, g) = setup(4, false);
    let mut main = g.clone();
    for i in 0..6 {
        main = child(
            &main,
            vec![tx("m", i)],
            1000,
            s.template(now_ms()).unwrap().header.difficulty.0,
        );
        s.append(&main, now_ms()).unwrap();
    }
    let side1 = child(&g, vec![], 10, 4);
    s.accept_block(&side1, now_ms()).unwrap();
    // Weak proof of work.
    let mut weak = child(&side1, vec![], 10, 4);
    while weak.header.difficulty.is_met_by(&weak.hash()) {
        weak.header.nonce += 1;
    }
    let e = s.accept_block(&weak, now_ms()).unwrap_err();
    assert!(
        matches!(e, StoreError::Rejected(BlockError::InsufficientWork { .. })),
        "{e}"
    );
    // A timestamp not after the branch's median time past.
    let old = child(&side1, vec![], 0, 4);
    let e = s.accept_block(&old, now_ms()).unwrap_err();
    assert!(
        matches!(e, StoreError::Rejected(BlockError::TimestampTooOld { .. })),
        "{e}"
    );
    // Wrong difficulty for the branch: at height 5 the side branch, whose
    // blocks came 10 ms apart, must retarget up by 2 bits to 6.
    let mut side = side1.clone();
    for _ in 0..3 {
        side = child(&side, vec![], 10, 4);
        s.accept_block(&side, now_ms()).unwrap();
    }
    let wrong = child(&side, vec![], 10, 4);
    let e = s.accept_block(&wrong, now_ms()).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Rejected(BlockError::WrongDifficulty {
                expected: Difficulty(6),
                ..
            })
        ),
        "{e}"
    );
    // With the right difficulty it is accepted, and its branch now has more
    // work (4 blocks of 2^4 and one of 2^6 against 6 of 2^4): it wins.
    let right = child(&side, vec![], 10, 6);
    assert!(matches!(
        s.accept_block(&right, now_ms()).unwrap(),
        Accepted::Reorganized { .. }
    ));
    assert_eq!(s.state().unwrap().tip, right.hash());
    assert_eq!(
        s.state().unwrap().pending,
        6,
        "main's entries are pending again"
    );
    assert!(s.verify(now_ms(), &mut |_| {}).is_ok());
}

#[test]
fn a_repeated_transaction_makes_the_heavier_branch_invalid() {
    let (_d, s, g) = setup(4, true);
    let x = tx("x", 1);
    let a1 = child(&g, vec![x.clone()], 1000, 4);
    s.append(&a1, now_ms()).unwrap();
    // A branch off a1 that repeats x: invalid wherever it goes.
    let bad1 = child(&a1, vec![], 500, 4);
    let bad2 = child(&bad1, vec![x.clone()], 500, 4);
    assert!(matches!(
        s.accept_block(&bad1, now_ms()).unwrap(),
        Accepted::Extended(_)
    ));
    let e = s.accept_block(&bad2, now_ms()).unwrap_err();
    assert!(
        matches!(e, StoreError::Rejected(BlockError::TxAlreadyInChain(_))),
        "{e}"
    );
    // Off genesis, the same transaction twice in one branch.
    let c1 = child(&g, vec![x.clone()], 700, 4);
    let c2 = child(&c1, vec![], 700, 4);
    let c3 = child(&c2, vec![x.clone()], 700, 4);
    s.accept_block(&c1, now_ms()).unwrap();
    s.accept_block(&c2, now_ms()).unwrap();
    let e = s.accept_block(&c3, now_ms()).unwrap_err();
    assert!(
        matches!(e, StoreError::Rejected(BlockError::TxAlreadyInChain(_))),
        "{e}"
    );
    assert_eq!(s.state().unwrap().tip, bad1.hash());
    let tips: Vec<_> = s.tips().unwrap().into_iter().map(|t| t.hash).collect();
    assert_eq!(
        tips,
        vec![bad1.hash(), c2.hash()],
        "the active tip, and the valid part of the bad branch"
    );
    assert!(
        s.invalid_reason(&c3.hash()).unwrap().is_some(),
        "the block is marked invalid"
    );
    assert!(matches!(
        s.accept_block(&c3, now_ms()),
        Err(StoreError::InvalidBlock { .. })
    ));
    let c4 = child(&c3, vec![], 700, 4);
    assert!(
        matches!(
            s.accept_block(&c4, now_ms()),
            Err(StoreError::InvalidBlock { .. })
        ),
        "nor its children"
    );
    assert!(s.verify(now_ms(), &mut |_| {}).is_ok());
}

#[test]
fn orphans_wait_for_their_parent_and_the_pool_is_bounded() {
    let (_d, s, g) = setup(4, true);
    let b1 = child(&g, vec![tx("o", 1)], 1000, 4);
    let b2 = child(&b1, vec![tx("o", 2)], 1000, 4);
    let b3 = child(&b2, vec![], 1000, 4);
    assert_eq!(s.accept_block(&b3, now_ms()).unwrap(), Accepted::Orphan);
    assert_eq!(s.accept_block(&b2, now_ms()).unwrap(), Accepted::Orphan);
    assert_eq!(s.orphan_count().unwrap(), 2);
    assert!(matches!(
        s.accept_block(&b1, now_ms()).unwrap(),
        Accepted::Extended(_)
    ));
    assert_eq!(
        s.state().unwrap().tip,
        b3.hash(),
        "the waiting orphans were connected"
    );
    assert_eq!(s.orphan_count().unwrap(), 0);
    // Beyond the bound the oldest orphans are dropped.
    let mut first = None;
    for i in 0..MAX_ORPHANS + 5 {
        let mut stray = unsealed_child(&b3, vec![tx("stray", i)], 1000, 4);
        stray.header.prev_hash = sledger::consensus::BlockHash([(i % 251) as u8 + 1; 32]);
        stray.header.height = 100 + i;
        let stray = seal(stray);
        first.get_or_insert(stray.clone());
        assert_eq!(s.accept_block(&stray, now_ms()).unwrap(), Accepted::Orphan);
    }
    assert_eq!(s.orphan_count().unwrap(), MAX_ORPHANS);
    // The first stray was dropped, so it is new again.
    assert_eq!(
        s.accept_block(&first.unwrap(), now_ms()).unwrap(),
        Accepted::Orphan
    );
    assert!(s.verify(now_ms(), &mut |_| {}).is_ok());
}

#[test]
fn a_reorganisation_of_thousands_of_blocks() {
    let (_d, s, g) = setup(0, true);
    let n = 2_000u64;
    let mut a = g.clone();
    for i in 0..n {
        a = child(&a, vec![tx("a", i)], 1, 0);
        s.append(&a, now_ms()).unwrap();
    }
    let mut b = g.clone();
    let mut accepted = None;
    for i in 0..=n {
        b = child(&b, vec![tx("b", i)], 1, 0);
        accepted = Some(s.accept_block(&b, now_ms()).unwrap());
    }
    match accepted.unwrap() {
        Accepted::Reorganized {
            disconnected,
            connected,
            ..
        } => assert_eq!((disconnected, connected), (n, n + 1)),
        other => panic!("{other:?}"),
    }
    let st = s.state().unwrap();
    assert_eq!(
        (st.tip, st.height, st.pending, st.chain_txs),
        (b.hash(), n + 1, n, n + 2)
    );
    assert!(s.verify(now_ms(), &mut |_| {}).is_ok());
}

#[test]
fn two_ledgers_from_one_genesis_converge_on_the_most_work() {
    let a = Ledger::new();
    let b = Ledger::empty();
    let f = a.path("genesis.jsonl");
    std::fs::write(&f, a.export()).unwrap();
    b.ok(&["import", f.to_str().unwrap()]);
    let only_a = a.submit("alice", "only on A");
    a.mine(2);
    b.submit("bob", "only on B");
    b.mine(3);
    let (fa, fb) = (a.path("a.jsonl"), a.path("b.jsonl"));
    std::fs::write(&fa, a.export()).unwrap();
    std::fs::write(&fb, b.export()).unwrap();
    // B already has more work: A's branch is stored but B stays.
    let v = b.json(&["import", fa.to_str().unwrap()]);
    assert_eq!(v["reorganized"], false);
    assert_eq!(v["tip"]["height"], 3);
    let tips = b.json(&["chain", "--tips"]);
    assert_eq!(tips["tips"].as_array().unwrap().len(), 2);
    // A switches to B's chain; its own entry goes back to pending.
    let v = a.json(&["import", fb.to_str().unwrap()]);
    assert_eq!(v["reorganized"], true);
    assert_eq!(v["disconnected"], 2);
    assert_eq!(a.json(&["status"])["tip"], b.json(&["status"])["tip"]);
    assert_eq!(a.json(&["tx", &only_a])["status"], "pending");
    assert_eq!(a.json(&["verify"])["valid"], true);
    assert_eq!(b.json(&["verify"])["valid"], true);
    let st = a.json(&["status"]);
    assert_eq!(st["tips"].as_array().unwrap().len(), 2);
    // Mining on A now extends the common chain, and B accepts it.
    a.mine(1);
    std::fs::write(&fa, a.export()).unwrap();
    b.ok(&["import", fa.to_str().unwrap()]);
    assert_eq!(a.json(&["status"])["tip"], b.json(&["status"])["tip"]);
}

#[test]
fn equal_work_keeps_the_chain_seen_first() {
    let a = Ledger::new();
    let b = Ledger::empty();
    let f = a.path("genesis.jsonl");
    std::fs::write(&f, a.export()).unwrap();
    b.ok(&["import", f.to_str().unwrap()]);
    a.mine(2);
    b.mine(2);
    let (ta, tb) = (
        a.json(&["status"])["tip"].clone(),
        b.json(&["status"])["tip"].clone(),
    );
    let (fa, fb) = (a.path("a.jsonl"), a.path("b.jsonl"));
    std::fs::write(&fa, a.export()).unwrap();
    std::fs::write(&fb, b.export()).unwrap();
    assert_eq!(
        a.json(&["import", fb.to_str().unwrap()])["reorganized"],
        false
    );
    assert_eq!(
        b.json(&["import", fa.to_str().unwrap()])["reorganized"],
        false
    );
    assert_eq!(a.json(&["status"])["tip"], ta);
    assert_eq!(b.json(&["status"])["tip"], tb);
}

#[test]
fn an_interrupted_reorganisation_is_finished_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let (a_tip, b_tip) = {
        let (s, g) = crate::kit::store(dir.path(), &params(4, 5, true), 3_600_000);
        let mut a = g.clone();
        for i in 0..300 {
            a = child(&a, vec![tx("a", i)], 10, 4);
            s.append(&a, now_ms()).unwrap();
        }
        // B has equal work, so it stays a side branch...
        let mut b = g.clone();
        for i in 0..300 {
            b = child(&b, vec![tx("b", i)], 10, 4);
            assert!(matches!(
                s.accept_block(&b, now_ms()).unwrap(),
                Accepted::SideBranch { .. }
            ));
        }
        (a.hash(), b.hash())
    };
    // ...until a crash right after a reorganisation journal was committed
    // (as `reorganize_to` writes it before its first batch).
    {
        let db = open_sled(&dir.path().join("store"));
        let journal = sledger::store::schema::ReorgJournal {
            target: b_tip,
            fork_height: 0,
        };
        let bytes = sledger::store::codec::encode(&journal);
        db.open_tree("meta")
            .unwrap()
            .insert("reorg", bytes)
            .unwrap();
        db.flush().unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    let st = s.state().unwrap();
    assert_eq!((st.tip, st.height, st.pending), (b_tip, 300, 300));
    assert!(s.verify(now_ms(), &mut |_| {}).is_ok());
    let tips: Vec<_> = s.tips().unwrap().into_iter().map(|t| t.hash).collect();
    assert_eq!(tips.len(), 2);
    assert!(tips.contains(&a_tip));
}

#[test]
fn an_invalid_branch_keeps_its_other_descendants_whole() {
    // g - a1(x) - a2 - a3 - a4 active; d2(x) off a1 repeats x; d3, d3b on d2;
    // d4 on d3; d5 on d4 overtakes and exposes the repeat.
    let (_d, s, g) = setup(4, true);
    let x = tx("x", 1);
    let a1 = child(&g, vec![x.clone()], 1000, 4);
    s.append(&a1, now_ms()).unwrap();
    let mut a = a1.clone();
    for i in 0..3 {
        a = child(&a, vec![tx("a", i)], 1000, 4);
        s.append(&a, now_ms()).unwrap();
    }
    let d2 = child(&a1, vec![x.clone()], 500, 4);
    let d3 = child(&d2, vec![], 500, 4);
    let d3b = child(&d2, vec![tx("d3b", 0)], 600, 4);
    let d4 = child(&d3, vec![], 500, 4);
    for b in [&d2, &d3, &d3b, &d4] {
        assert!(matches!(
            s.accept_block(b, now_ms()).unwrap(),
            Accepted::SideBranch { .. }
        ));
    }
    let d5 = child(&d4, vec![], 500, 4);
    assert!(matches!(
        s.accept_block(&d5, now_ms()),
        Err(StoreError::Rejected(BlockError::TxAlreadyInChain(_)))
    ));
    assert_eq!(s.state().unwrap().tip, a.hash());
    // d3b keeps its parent: a block built on it is checked against its own
    // branch as usual (no "missing parent" damage).
    let e = child(&d3b, vec![], 500, 4);
    assert!(matches!(
        s.accept_block(&e, now_ms()).unwrap(),
        Accepted::SideBranch { .. }
    ));
    assert!(s.cursor_at(&e.hash()).is_ok());
    assert!(s.verify(now_ms(), &mut |_| {}).is_ok());
}

#[test]
fn a_heavier_branch_left_inactive_by_a_crash_is_activated_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let (b3, b3_record) = {
        let (s, g) = crate::kit::store(dir.path(), &params(4, 5, true), 3_600_000);
        let (mut a, mut b) = (g.clone(), g.clone());
        for i in 0..2 {
            a = child(&a, vec![tx("a", i)], 10, 4);
            s.append(&a, now_ms()).unwrap();
            b = child(&b, vec![tx("b", i)], 11, 4);
            s.accept_block(&b, now_ms()).unwrap();
        }
        let b3 = child(&b, vec![tx("b", 9)], 11, 4);
        let parent = s.header(&b.hash()).unwrap().unwrap();
        let work = parent.chain_work.checked_add(Difficulty(4).work()).unwrap();
        let rec = sledger::store::codec::encode_block_record(&work, &b3);
        (b3, rec)
    };
    // What the first transaction of accepting b3 writes, then a crash before
    // its reorganisation was journaled.
    {
        let db = open_sled(&dir.path().join("store"));
        let h = b3.hash();
        db.open_tree("blocks")
            .unwrap()
            .insert(h.as_bytes(), b3_record)
            .unwrap();
        let tips = db.open_tree("tips").unwrap();
        tips.remove(b3.header.prev_hash.as_bytes()).unwrap();
        tips.insert(h.as_bytes(), &[]).unwrap();
        db.flush().unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(
        s.state().unwrap().tip,
        b3.hash(),
        "the most work is active after open"
    );
    assert!(s.verify(now_ms(), &mut |_| {}).is_ok());
}

#[test]
fn an_import_onto_a_stored_side_branch_sees_its_transactions() {
    // c1(x) is a stored side block; a file bringing c2(x), c3 on c1 repeats x
    // and must be refused whole by the dry run, before anything is written.
    let (d, s, g) = setup(4, true);
    let x = tx("x", 1);
    let mut a = g.clone();
    for i in 0..2 {
        a = child(&a, vec![tx("a", i)], 1000, 4);
        s.append(&a, now_ms()).unwrap();
    }
    let c1 = child(&g, vec![x.clone()], 500, 4);
    s.accept_block(&c1, now_ms()).unwrap();
    let c2 = child(&c1, vec![x.clone()], 500, 4);
    let c3 = child(&c2, vec![], 500, 4);
    let mut export = String::new();
    for b in [&g, &c1, &c2, &c3] {
        export.push_str(&sledger::export::to_line(b));
        export.push('\n');
    }
    drop(s);
    let file = d.path().join("c.jsonl");
    std::fs::write(&file, export).unwrap();
    let out = assert_cmd::Command::cargo_bin("sledger")
        .unwrap()
        .arg("--data-dir")
        .arg(d.path())
        .args(["import", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("line 3") && stderr.contains("already in the chain"),
        "{stderr}"
    );
    let s = Store::open(d.path()).unwrap();
    assert!(
        s.header(&c2.hash()).unwrap().is_none(),
        "nothing was written"
    );
}

#[test]
fn a_reorganisation_across_height_groups_moves_every_height() {
    // The active chain's hashes are stored 4 heights to a record and the
    // author index 16: a branch from height 10 overtaking a chain of 20
    // disconnects 20..=11 (across group boundaries, 16 among them) and
    // connects 11..=35.
    let (_d, s, g) = setup(1, true);
    let mut a = g.clone();
    let mut common = None;
    for i in 0..20 {
        a = child(&a, vec![tx("a", i)], 1000, 1);
        s.append(&a, now_ms()).unwrap();
        if a.header.height == 10 {
            common = Some(a.clone());
        }
    }
    let mut b = common.unwrap();
    let mut branch = Vec::new();
    for i in 0..25 {
        b = child(&b, vec![tx("b", i)], 1000, 1);
        s.accept_block(&b, now_ms()).unwrap();
        branch.push(b.clone());
    }
    let st = s.state().unwrap();
    assert_eq!((st.tip, st.height), (b.hash(), 35));
    for blk in &branch {
        assert_eq!(s.hash_at(blk.header.height).unwrap(), Some(blk.hash()));
    }
    assert_eq!(s.hash_at(36).unwrap(), None);
    let listed: Vec<u64> = s
        .headers_in(8, 35, true)
        .map(|r| r.unwrap().1.height)
        .collect();
    assert_eq!(listed, (8..=35).rev().collect::<Vec<_>>());
    assert_eq!(status(&s, &tx("a", 15)), "pending");
    assert_eq!(status(&s, &tx("a", 5)), "confirmed");
    // The author index (16 heights to a record) moved with the chain.
    let by = |author: &str, from: (u64, u32)| -> Vec<u64> {
        s.txs_by_author(author, from)
            .map(|r| r.unwrap().0)
            .collect()
    };
    assert_eq!(by("a", (0, 0)), (1..=10).collect::<Vec<_>>());
    assert_eq!(by("b", (0, 0)), (11..=35).collect::<Vec<_>>());
    assert_eq!(by("b", (17, 0)), (17..=35).collect::<Vec<_>>());
    assert_eq!(by("b", (17, 1)), (18..=35).collect::<Vec<_>>());
    assert!(s.verify(now_ms(), &mut |_| {}).is_ok());
}
