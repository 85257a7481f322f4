//! The store through the library: state changes, refusals, and tamper
//! detection by `verify`.

use crate::kit::{open_sled, params, seal};
use sledger::consensus::block::Block;
use sledger::consensus::merkle::merkle_root;
use sledger::consensus::{BlockError, Difficulty, Transaction};
use sledger::store::{Store, StoreError, TxStatus};
use sledger::time::now_ms;

fn new_store(dir: &std::path::Path) -> Store {
    crate::kit::store(dir, &params(4, 10, true), 60_000).0
}

fn mine_one(s: &Store) -> Block {
    let b = seal(s.template(now_ms()).unwrap());
    s.append(&b, now_ms()).unwrap();
    b
}

#[test]
fn submit_refuses_duplicates_pending_and_mined() {
    let dir = tempfile::tempdir().unwrap();
    let s = new_store(dir.path());
    let tx = Transaction::new("a", 1, b"x".to_vec()).unwrap();
    let id = s.submit(&tx).unwrap();
    assert!(matches!(s.submit(&tx), Err(StoreError::AlreadyPending(i)) if i == id));
    assert_eq!(
        s.state().unwrap().pending,
        1,
        "the refused copy was not counted"
    );
    let b = mine_one(&s);
    assert_eq!(b.txs, vec![tx.clone()]);
    assert!(matches!(s.submit(&tx), Err(StoreError::AlreadyInChain(i)) if i == id));
    assert!(matches!(
        s.find_tx(&id).unwrap(),
        Some(TxStatus::Confirmed {
            height: 1,
            index: 0,
            ..
        })
    ));
    let st = s.state().unwrap();
    assert_eq!((st.pending, st.chain_txs, st.height), (0, 2, 1));
}

#[test]
fn append_refuses_what_does_not_extend_the_tip() {
    let dir = tempfile::tempdir().unwrap();
    let s = new_store(dir.path());
    let tx = Transaction::new("a", 1, b"x".to_vec()).unwrap();
    s.submit(&tx).unwrap();
    let first = s.template(now_ms()).unwrap();
    let b1 = seal(first.clone());
    s.append(&b1, now_ms()).unwrap();
    // The same block again: its parent is no longer the tip.
    assert!(matches!(
        s.append(&b1, now_ms()),
        Err(StoreError::Rejected(BlockError::WrongHeight { .. }))
    ));
    // A block repeating a mined transaction.
    let mut again = s.template(now_ms()).unwrap();
    again.txs = vec![tx.clone()];
    again.header.merkle_root = merkle_root(&again.txids());
    let again = seal(again);
    assert!(matches!(
        s.append(&again, now_ms()),
        Err(StoreError::Rejected(BlockError::TxAlreadyInChain(_)))
    ));
    assert_eq!(s.state().unwrap().height, 1, "nothing changed");
    assert!(s.verify(now_ms(), &mut |_| {}).is_ok());
}

#[test]
fn reopened_store_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<_>;
    {
        let s = new_store(dir.path());
        ids = (0..5)
            .map(|i| {
                s.submit(&Transaction::new("r", i, vec![i as u8]).unwrap())
                    .unwrap()
            })
            .collect();
        mine_one(&s);
        s.submit(&Transaction::new("late", 9, vec![]).unwrap())
            .unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    let st = s.state().unwrap();
    assert_eq!((st.height, st.pending, st.chain_txs), (1, 1, 6));
    for id in ids {
        assert!(matches!(
            s.find_tx(&id).unwrap(),
            Some(TxStatus::Confirmed { .. })
        ));
    }
    assert!(s.verify(now_ms(), &mut |_| {}).is_ok());
}

#[test]
fn retarget_applies_on_the_stored_chain() {
    let dir = tempfile::tempdir().unwrap();
    // Window of 4 blocks, 1 s target: blocks 1 ms apart are far too fast,
    // so the difficulty rises by the 4x clamp (2 bits) at heights 4 and 8.
    let (s, g) = crate::kit::store(dir.path(), &params(2, 4, false), 60_000);
    let t0 = g.header.timestamp;
    let mut diffs = Vec::new();
    for i in 1..=8 {
        let mut b = s.template(now_ms()).unwrap();
        b.header.timestamp = t0 + i;
        let b = seal(b);
        s.append(&b, now_ms()).unwrap();
        diffs.push(b.header.difficulty.0);
    }
    assert_eq!(diffs, vec![2, 2, 2, 4, 4, 4, 4, 6]);
    // A block that ignores the retarget (keeps the old difficulty) is refused.
    let mut wrong = s.template(now_ms()).unwrap();
    assert_eq!(wrong.header.difficulty, Difficulty(6));
    wrong.header.difficulty = Difficulty(4);
    assert!(matches!(
        s.append(&seal(wrong), now_ms()),
        Err(StoreError::Rejected(BlockError::WrongDifficulty { .. }))
    ));
    let mut wrong2 = s.template(now_ms()).unwrap();
    wrong2.header.difficulty = Difficulty(5);
    assert!(matches!(
        s.append(&seal(wrong2), now_ms()),
        Err(StoreError::Rejected(BlockError::WrongDifficulty { .. }))
    ));
    assert!(s.verify(now_ms(), &mut |_| {}).is_ok());

    // Too slow a window lowers it: a genesis a minute old, then 3 quick blocks.
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = crate::kit::store(dir.path(), &params(5, 4, false), 60_000);
    let diffs: Vec<u32> = (0..4).map(|_| mine_one(&s).header.difficulty.0).collect();
    assert_eq!(diffs, vec![5, 5, 5, 3]);
}

/// Writes `f(value)` under `key` of `tree`, underneath the ledger.
fn tamper(dir: &std::path::Path, tree: &str, key: &[u8], f: impl Fn(&mut Vec<u8>)) {
    let db = open_sled(&dir.join("store"));
    let t = db.open_tree(tree).unwrap();
    let mut v = t.get(key).unwrap().expect("key present").to_vec();
    f(&mut v);
    t.insert(key, v).unwrap();
    db.flush().unwrap();
}

#[test]
fn verify_names_the_height_of_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let hash2;
    {
        let s = new_store(dir.path());
        for i in 0..4u64 {
            s.submit(&Transaction::new("t", i, format!("entry {i}").into_bytes()).unwrap())
                .unwrap();
            mine_one(&s);
        }
        hash2 = s.hash_at(2).unwrap().unwrap();
        assert!(s.verify(now_ms(), &mut |_| {}).is_ok());
    }
    // Change one byte of a transaction's data in block 2 (the record ends
    // with its last transaction).
    tamper(dir.path(), "blocks", hash2.as_bytes(), |v| {
        let last = v.len() - 1;
        v[last] ^= 1;
    });
    let s = Store::open(dir.path()).unwrap();
    let f = s.verify(now_ms(), &mut |_| {}).unwrap_err();
    assert_eq!(f.height, Some(2));
    assert!(f.reason.contains("Merkle root"), "{}", f.reason);
    drop(s);

    // Restore, then change the stored header's nonce instead.
    tamper(dir.path(), "blocks", hash2.as_bytes(), |v| {
        let last = v.len() - 1;
        v[last] ^= 1;
    });
    assert!(Store::open(dir.path())
        .unwrap()
        .verify(now_ms(), &mut |_| {})
        .is_ok());
    // The record starts with the chain work (32 bytes), then the header.
    tamper(dir.path(), "blocks", hash2.as_bytes(), |v| {
        v[32 + sledger::consensus::header::NONCE_OFFSET] ^= 1
    });
    let s = Store::open(dir.path()).unwrap();
    let f = s.verify(now_ms(), &mut |_| {}).unwrap_err();
    assert_eq!(f.height, Some(2));
    assert!(f.reason.contains("altered"), "{}", f.reason);
}

#[test]
fn verify_catches_a_broken_index() {
    let dir = tempfile::tempdir().unwrap();
    let id;
    {
        let s = new_store(dir.path());
        id = s
            .submit(&Transaction::new("i", 0, vec![1]).unwrap())
            .unwrap();
        mine_one(&s);
        mine_one(&s);
    }
    let db = open_sled(&dir.path().join("store"));
    db.open_tree("txs").unwrap().remove(id.as_bytes()).unwrap();
    db.flush().unwrap();
    drop(db);
    let f = Store::open(dir.path())
        .unwrap()
        .verify(now_ms(), &mut |_| {})
        .unwrap_err();
    assert_eq!(f.height, Some(1));
    assert!(
        f.reason.contains("missing from the transaction index"),
        "{}",
        f.reason
    );
}

/// Verify checks what the store holds beyond the active chain (#13): a
/// block record under a key that is not its hash, a tip that names no
/// block (which opening the store already refuses), an invalid mark on an
/// active block, each found.
#[test]
fn verify_checks_every_stored_block_tip_and_invalid_mark() {
    type Tamper = fn(&sled::Db, &[u8], sled::IVec);
    let cases: [(Tamper, &str); 3] = [
        (
            |db, _, record| {
                let blocks = db.open_tree("blocks").unwrap();
                blocks.insert([0xab; 32], record).unwrap();
            },
            "is stored under",
        ),
        (
            |db, _, _| {
                db.open_tree("tips")
                    .unwrap()
                    .insert([0xcd; 32], &[])
                    .unwrap();
            },
            "cdcdcdcd",
        ),
        (
            |db, genesis, _| {
                db.open_tree("invalid")
                    .unwrap()
                    .insert(genesis, &b"x"[..])
                    .unwrap();
            },
            "is marked invalid",
        ),
    ];
    for (tamper, needle) in cases {
        let dir = tempfile::tempdir().unwrap();
        let genesis;
        {
            let s = new_store(dir.path());
            mine_one(&s);
            genesis = s.block_at(0).unwrap().hash;
            s.verify(now_ms(), &mut |_| {}).expect("valid before");
        }
        let db = open_sled(&dir.path().join("store"));
        let record = db
            .open_tree("blocks")
            .unwrap()
            .get(genesis.as_bytes())
            .unwrap()
            .unwrap();
        tamper(&db, genesis.as_bytes(), record);
        db.flush().unwrap();
        drop(db);
        // Opening may already refuse it (a tip without a block); else verify.
        let e = Store::open(dir.path())
            .map_err(|e| e.to_string())
            .and_then(|s| s.verify(now_ms(), &mut |_| {}).map_err(|f| f.reason))
            .expect_err(needle);
        assert!(e.contains(needle), "{needle}: {e}");
    }
}

/// Verify checks the orphan pool and its two indexes, the tips and the
/// invalid marks (#13): each tampering below is named.
#[test]
fn verify_checks_the_orphan_pool_its_indexes_tips_and_marks() {
    type Tamper = fn(&sled::Db, &Orphaned);
    let cases: [(Tamper, &str); 7] = [
        (
            |db, o| drop(tree(db, "orphan_ids").remove(o.hash).unwrap()),
            "not indexed by its hash",
        ),
        (
            |db, o| drop(tree(db, "orphan_parents").remove(o.parent_key()).unwrap()),
            "not listed under its parent",
        ),
        (
            |db, o| {
                drop(
                    tree(db, "orphan_parents")
                        .insert([0x11; 40], &o.hash[..])
                        .unwrap(),
                )
            },
            "orphan indexes hold 1 and 2",
        ),
        (
            |db, o| {
                drop(
                    tree(db, "orphans")
                        .insert(0x7fu64.to_be_bytes(), o.bytes.clone())
                        .unwrap(),
                )
            },
            "not indexed by its hash",
        ),
        (
            |db, _| {
                drop(
                    tree(db, "meta")
                        .insert(
                            "orphans",
                            &[2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0][..],
                        )
                        .unwrap(),
                )
            },
            "recorded orphan count 2 should be 1",
        ),
        (
            |db, _| drop(tree(db, "invalid").insert([0x22; 32], &b"x"[..]).unwrap()),
            "names no stored block",
        ),
        (
            |db, o| drop(tree(db, "invalid").insert(o.side, &b"x"[..]).unwrap()),
            "is marked invalid",
        ),
    ];
    for (tamper, needle) in cases {
        let dir = tempfile::tempdir().unwrap();
        let orphaned = {
            let s = new_store(dir.path());
            let o = Orphaned::new(&s);
            s.verify(now_ms(), &mut |_| {}).expect("valid before");
            o
        };
        let db = open_sled(&dir.path().join("store"));
        tamper(&db, &orphaned);
        db.flush().unwrap();
        drop(db);
        let f = Store::open(dir.path())
            .unwrap()
            .verify(now_ms(), &mut |_| {})
            .expect_err(needle);
        assert!(f.reason.contains(needle), "{needle}: {}", f.reason);
    }
}

fn tree(db: &sled::Db, name: &str) -> sled::Tree {
    db.open_tree(name).unwrap()
}

/// A store holding one orphan (sequence 0) and a side-branch tip.
struct Orphaned {
    hash: [u8; 32],
    parent: [u8; 32],
    bytes: Vec<u8>,
    side: [u8; 32],
}

impl Orphaned {
    fn new(s: &Store) -> Orphaned {
        let top = mine_one(s);
        let base = s.block_at(0).unwrap().block;
        let side = sledger::testkit::child(&base, vec![], 500, 4);
        s.accept_block(&side, now_ms()).unwrap();
        let missing = sledger::testkit::child(&top, vec![], 500, 4);
        let orphan = sledger::testkit::child(&missing, vec![], 500, 4);
        let accepted = s.accept_block(&orphan, now_ms()).unwrap();
        assert_eq!(accepted, sledger::store::fork::Accepted::Orphan);
        Orphaned {
            hash: *orphan.hash().as_bytes(),
            parent: *missing.hash().as_bytes(),
            bytes: orphan.encode(),
            side: *side.hash().as_bytes(),
        }
    }

    fn parent_key(&self) -> Vec<u8> {
        [&self.parent[..], &0u64.to_be_bytes()].concat()
    }
}
