//! Schema migrations on a genuine schema-1 ledger (tests/fixtures), through
//! the real binary: upgrade on open, `--no-upgrade`, `sledger migrate`, the
//! author index it builds, and a backfill killed part-way. The same fixture
//! stopped at schema 3 (steps 2 and 3 run, step 4 not) checks the move to
//! one record per block (schema 4) against the schema-3 trees read directly,
//! whole, killed at random moments, and stopped after each of its batches.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::kit::{bin, Ledger};
use sledger::consensus::{Block, BlockHash};
use sledger::store::migrate::Event;
use sledger::store::schema::{HeaderRecord, HEIGHT_GROUP};
use sledger::store::{codec, OpenOptions, Store, TxStatus};

/// A ledger holding a copy of the schema-1 fixture.
fn v1_ledger() -> Ledger {
    let l = Ledger::empty();
    std::fs::create_dir_all(&l.dir).unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/v1-ledger.tar.gz"
    );
    let ok = Command::new("tar")
        .args(["xzf", fixture, "-C"])
        .arg(&l.dir)
        .status()
        .unwrap();
    assert!(ok.success(), "tar could not unpack the fixture");
    l
}

/// Each author's txids in chain order, computed from the export alone.
fn expected_by_author(l: &Ledger) -> BTreeMap<String, Vec<(u64, u64, String)>> {
    let mut by: BTreeMap<String, Vec<(u64, u64, String)>> = BTreeMap::new();
    for line in l.export().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let h = v["header"]["height"].as_u64().unwrap();
        for (i, t) in v["txs"].as_array().unwrap().iter().enumerate() {
            by.entry(t["author"].as_str().unwrap().to_string())
                .or_default()
                .push((h, i as u64, t["txid"].as_str().unwrap().to_string()));
        }
    }
    by
}

/// Walks `txs --author` page by page.
fn listed(l: &Ledger, author: &str, page: usize) -> Vec<(u64, u64, String)> {
    let mut out = Vec::new();
    let mut from: Option<String> = None;
    loop {
        let limit = page.to_string();
        let mut args = vec!["txs", "--author", author, "--limit", &limit];
        if let Some(f) = &from {
            args.extend(["--from", f]);
        }
        let v = l.json(&args);
        for t in v["transactions"].as_array().unwrap() {
            assert_eq!(t["author"], author);
            out.push((
                t["height"].as_u64().unwrap(),
                t["index"].as_u64().unwrap(),
                t["txid"].as_str().unwrap().to_string(),
            ));
        }
        match v["next_from"].as_str() {
            Some(n) => from = Some(n.to_string()),
            None => return out,
        }
    }
}

#[test]
fn a_genuine_v1_store_is_refused_with_no_upgrade_and_upgraded_otherwise() {
    let l = v1_ledger();
    let line = l.fails(
        &["--no-upgrade", "status"],
        "schema version 1 and this sledger uses 6",
    );
    assert!(line.contains("sledger migrate"), "{line}");
    let out = l.run(&["migrate"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("from schema version 1 to 2")
            && stderr.contains("from schema version 2 to 3")
            && stderr.contains("from schema version 3 to 4")
            && stderr.contains("from schema version 4 to 5")
            && stderr.contains("from schema version 5 to 6"),
        "one-line notice: {stderr}"
    );
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("upgrading"))
            .count(),
        5,
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("upgraded the ledger from schema version 1 to 6"));
    let again = l.json(&["migrate"]);
    assert_eq!(
        (again["from"].as_u64(), again["to"].as_u64()),
        (Some(6), Some(6))
    );
    // The fixture's content survived, and the index answers for every author.
    assert_eq!(l.json(&["verify"])["block_count"], 401);
    assert_eq!(l.json(&["status"])["pending_count"], 3);
    let expected = expected_by_author(&l);
    assert_eq!(expected.len(), 6, "five authors and genesis");
    for (author, txs) in &expected {
        assert_eq!(&listed(&l, author, 7), txs, "author {author}");
    }
    // Prefixes do not leak into each other, and unknown authors list nothing.
    assert!(listed(&l, "ali", 50).is_empty());
    assert!(listed(&l, "alice2x", 50).is_empty());
    // New blocks keep the index up to date in the same transaction.
    l.mine(1);
    let tip = l.json(&["status"])["tip"]["height"].as_u64().unwrap();
    let alice = listed(&l, "alice", 100);
    assert_eq!(
        alice.len(),
        expected["alice"].len() + 3,
        "the three pending entries were mined"
    );
    assert!(alice[alice.len() - 3..].iter().all(|(h, _, _)| *h == tip));
}

#[test]
fn opening_an_old_store_upgrades_it_in_place() {
    let l = v1_ledger();
    let out = l.run(&["--json", "txs", "--author", "bob", "--limit", "2"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("upgrading the ledger"));
    // Said once, plainly, before the first step: the upgrade is one-way.
    let notice = "older sledger versions cannot open it";
    assert_eq!(err.matches(notice).count(), 1, "{err}");
    assert!(err.find(notice) < err.find("upgrading the ledger"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["transactions"].as_array().unwrap().len(), 2);
    let out = l.run(&["status"]);
    assert!(out.stderr.is_empty(), "upgraded once");
}

#[test]
fn a_backfill_killed_part_way_finishes_exactly_when_rerun() {
    killed_part_way_finishes_exactly(v1_ledger);
}

#[test]
fn a_block_record_move_killed_part_way_finishes_exactly_when_rerun() {
    killed_part_way_finishes_exactly(v3_ledger);
}

/// Kills `sledger migrate` on fresh copies made by `make` at delays from 0
/// to 39 ms, then reruns it; each must end exact.
fn killed_part_way_finishes_exactly(make: fn() -> Ledger) {
    let reference = v1_ledger();
    reference.ok(&["migrate"]);
    let expected = expected_by_author(&reference);
    let mut interrupted = 0;
    for delay_ms in (0..40).step_by(3) {
        let l = make();
        let legacy = Legacy::read(&l);
        let mut child = Command::new(bin())
            .arg("--data-dir")
            .arg(&l.dir)
            .arg("migrate")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status();
        let _ = child.wait();
        // Still at an older version after the kill means a step was cut short.
        if !l.run(&["--no-upgrade", "status"]).status.success() {
            interrupted += 1;
        }
        l.ok(&["migrate"]);
        assert_eq!(l.json(&["verify"])["valid"], true, "delay {delay_ms} ms");
        legacy.check(&l);
        for (author, txs) in &expected {
            assert_eq!(
                &listed(&l, author, 1000),
                txs,
                "delay {delay_ms} ms, author {author}"
            );
        }
    }
    eprintln!("{interrupted} of 14 runs were killed before the upgrade finished");
}

#[test]
fn a_store_newer_than_this_sledger_is_refused() {
    let l = Ledger::new();
    {
        let db = open_sled(&l);
        db.open_tree("meta")
            .unwrap()
            .insert("schema_version", &9u32.to_le_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let line = l.fails(&["status"], "schema version 9");
    assert!(line.contains("supports (6)"), "{line}");
}

/// The ledger's sled database, opened directly.
fn open_sled(l: &Ledger) -> sled::Db {
    crate::kit::open_sled(&l.store_dir())
}

/// A ledger holding the schema-1 fixture upgraded to schema 3 (steps 2 and
/// 3), stopped where step 4 would start.
fn v3_ledger() -> Ledger {
    stopped_before(4)
}

/// The schema-1 fixture upgraded up to schema `to - 1`, stopped where step
/// `to` would start.
fn stopped_before(to: u32) -> Ledger {
    let l = v1_ledger();
    let stop = |e: Event| {
        if let Event::Starting { to: t, .. } = e {
            if t == to {
                panic!("stopping before step {to}");
            }
        }
    };
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Store::open_with(
            &l.dir,
            OpenOptions {
                on_migration: Some(&stop),
                ..OpenOptions::default()
            },
        )
        .map(|_| ())
    }));
    assert!(opened.is_err(), "the upgrade stopped before step {to}");
    l.fails(
        &["--no-upgrade", "status"],
        &format!("schema version {} and this sledger uses 6", to - 1),
    );
    l
}

#[test]
fn a_v4_store_upgrades_to_v5_with_an_empty_peer_book_that_then_keeps_peers() {
    let l = stopped_before(5);
    let out = l.run(&["migrate"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("from schema version 4 to 5"), "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("upgrading"))
            .count(),
        2,
        "steps 5 and 6: {stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("upgraded the ledger from schema version 4 to 6"));
    {
        let s = Store::open(&l.dir).unwrap();
        assert_eq!(s.schema_version().unwrap(), 6);
        assert!(s.peers().unwrap().is_empty(), "an empty peer book");
        s.record_peer(b"peer", "/ip4/127.0.0.1/tcp/1", 7).unwrap();
        s.ban_peer(b"other", u64::MAX, "testing").unwrap();
    }
    assert_eq!(l.json(&["verify"])["valid"], true);
    let s = Store::open(&l.dir).unwrap();
    let book = s.peers().unwrap();
    assert_eq!(book.len(), 2, "{book:?}");
    assert_eq!(book[1].1.address, "/ip4/127.0.0.1/tcp/1");
    assert_eq!(book[0].1.banned_until_ms, u64::MAX);
}

/// Every block of a schema 1-3 store, read from its trees directly (not
/// through the store's code): hash, header record, block; and the active
/// chain by height.
struct Legacy {
    blocks: Vec<(BlockHash, HeaderRecord, Block)>,
    chain: BTreeMap<u64, BlockHash>,
}

/// A schema 1-3 `headers` value, as bincode wrote it (fixed-width
/// little-endian): version, height, previous hash, Merkle root, timestamp,
/// difficulty, nonce, chain work (4 u64 limbs, least significant first),
/// transaction count, size.
fn schema3_header_record(v: &[u8]) -> HeaderRecord {
    assert_eq!(v.len(), 136, "a schema-3 header record");
    let u32_at = |at: usize| u32::from_le_bytes(v[at..at + 4].try_into().unwrap());
    let u64_at = |at: usize| u64::from_le_bytes(v[at..at + 8].try_into().unwrap());
    let limbs = [u64_at(96), u64_at(104), u64_at(112), u64_at(120)];
    HeaderRecord {
        version: u32_at(0),
        height: u64_at(4),
        prev_hash: BlockHash(v[12..44].try_into().unwrap()),
        merkle_root: sledger::consensus::MerkleNode(v[44..76].try_into().unwrap()),
        timestamp: u64_at(76),
        difficulty: u32_at(84),
        nonce: u64_at(88),
        chain_work: sledger::consensus::Work::from_limbs(limbs),
        tx_count: u32_at(128),
        size: u32_at(132),
    }
}

impl Legacy {
    fn read(l: &Ledger) -> Legacy {
        let db = open_sled(l);
        let headers = db.open_tree("headers").unwrap();
        let bodies = db.open_tree("bodies").unwrap();
        let mut blocks = Vec::new();
        for entry in headers.iter() {
            let (k, v) = entry.unwrap();
            let hash = BlockHash(<[u8; 32]>::try_from(&k[..]).unwrap());
            let record = schema3_header_record(&v);
            let body = bodies.get(&k).unwrap().expect("a body for every header");
            let block = Block {
                header: record.header(),
                txs: codec::decode_body(&body).unwrap(),
            };
            assert_eq!(block.hash(), hash);
            blocks.push((hash, record, block));
        }
        let mut chain = BTreeMap::new();
        for entry in db.open_tree("chain").unwrap().iter() {
            let (k, v) = entry.unwrap();
            let height = u64::from_be_bytes(k[..].try_into().unwrap());
            chain.insert(height, BlockHash(v[..].try_into().unwrap()));
        }
        db.flush().unwrap();
        assert_eq!(blocks.len(), 401, "the fixture's blocks");
        assert_eq!(chain.len(), 401);
        Legacy { blocks, chain }
    }

    /// The schema-4 store `l` holds exactly these blocks, with the same
    /// records, and locates every transaction of the active chain.
    fn check(&self, l: &Ledger) {
        let s = Store::open(&l.dir).unwrap();
        assert_eq!(s.schema_version().unwrap(), 6);
        for (hash, record, block) in &self.blocks {
            let b = s.block(hash).unwrap().expect("every block readable");
            assert_eq!(&b.record, record, "block {hash}");
            assert_eq!(b.block.encode(), block.encode(), "block {hash}");
            let active = self.chain.get(&record.height) == Some(hash);
            assert_eq!(b.active, active, "block {hash}");
            if !active {
                continue;
            }
            assert_eq!(s.block_at(record.height).unwrap().hash, *hash);
            for (index, tx) in block.txs.iter().enumerate() {
                match s.find_tx(&tx.txid()).unwrap() {
                    Some(TxStatus::Confirmed {
                        tx: found,
                        block: at,
                        height,
                        index: i,
                    }) => assert_eq!(
                        (found, at, height, i as usize),
                        (tx.clone(), *hash, record.height, index)
                    ),
                    other => panic!("transaction {} found as {other:?}", tx.txid()),
                }
            }
        }
        drop(s);
        let db = open_sled(l);
        let names: Vec<Vec<u8>> = db.tree_names().iter().map(|n| n.to_vec()).collect();
        assert!(
            !names
                .iter()
                .any(|n| ["headers", "bodies", "chain", "authors"]
                    .iter()
                    .any(|old| n == old.as_bytes())),
            "the schema-3 trees are dropped"
        );
    }
}

#[test]
fn a_v3_store_upgrades_to_v4_with_every_block_readable() {
    let l = v3_ledger();
    let legacy = Legacy::read(&l);
    let out = l.run(&["migrate"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("from schema version 3 to 4"), "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("upgrading"))
            .count(),
        3,
        "steps 4, 5 and 6: {stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("upgraded the ledger from schema version 3 to 6"));
    let v = l.json(&["verify"]);
    assert_eq!(
        (v["valid"].as_bool(), v["block_count"].as_u64()),
        (Some(true), Some(401))
    );
    assert_eq!(l.json(&["status"])["pending_count"], 3);
    legacy.check(&l);
    // And the upgraded store keeps working.
    l.mine(1);
    assert_eq!(l.json(&["verify"])["block_count"], 402);
}

#[test]
fn a_block_record_move_stopped_after_any_batch_resumes_exactly() {
    // Step 4 moves the 401 blocks in batches of 128 (four batches), then the
    // 401 heights in batches of 256 (two), then the 1001 author entries in
    // batches of 512 (two). Stopping after any of the first seven leaves
    // those committed and nothing more.
    let expected_done = [128, 256, 384, 401, 256, 401, 512, 1001];
    for batches in 1..=7usize {
        let l = v3_ledger();
        let legacy = Legacy::read(&l);
        let seen = std::cell::RefCell::new(Vec::new());
        let stop = |e: Event| {
            if let Event::Progress { to: 4, done, .. } = e {
                seen.borrow_mut().push(done);
                if seen.borrow().len() == batches {
                    panic!("stopping after {batches} batches");
                }
            }
        };
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Store::open_with(
                &l.dir,
                OpenOptions {
                    on_migration: Some(&stop),
                    ..OpenOptions::default()
                },
            )
            .map(|_| ())
        }));
        assert!(opened.is_err(), "stopped after {batches} batches");
        assert_eq!(seen.borrow().as_slice(), &expected_done[..batches]);
        {
            let db = open_sled(&l);
            let count = |tree: &str| db.open_tree(tree).unwrap().iter().count();
            let blocks_moved = (128 * batches).min(401);
            let heights_moved: usize = [0, 0, 0, 0, 256, 401, 401][batches - 1];
            let authors_moved = if batches == 7 { 512 } else { 0 };
            assert_eq!(
                (
                    count("headers"),
                    count("bodies"),
                    count("blocks"),
                    count("chain"),
                    count("heights"),
                    count("authors"),
                ),
                (
                    401 - blocks_moved,
                    401 - blocks_moved,
                    blocks_moved,
                    401 - heights_moved,
                    heights_moved.div_ceil(HEIGHT_GROUP as usize),
                    1001 - authors_moved,
                ),
                "after {batches} batches"
            );
            db.flush().unwrap();
        }
        l.fails(
            &["--no-upgrade", "status"],
            "schema version 3 and this sledger uses 6",
        );
        l.ok(&["migrate"]);
        assert_eq!(
            l.json(&["verify"])["valid"],
            true,
            "after {batches} batches"
        );
        legacy.check(&l);
    }
}

/// Schema 5 to 6 (issue 15): the parameters gain their policy byte, the
/// name indexes start empty, and the upgraded ledger then binds names.
/// (A failure at each of the step's writes: `store::io_errors`.)
#[test]
fn a_v5_store_upgrades_to_v6_and_then_binds_names() {
    let l = stopped_before(6);
    let params_before = params_record(&l);
    assert!(
        crate::kit::open_sled(&l.store_dir())
            .open_tree("names")
            .unwrap()
            .is_empty(),
        "no name bound yet"
    );
    let out = l.run(&["migrate"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("from schema version 5 to 6"), "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("upgrading"))
            .count(),
        1,
        "{stderr}"
    );
    {
        let after = params_record(&l);
        assert_eq!(
            after[..after.len() - 1],
            params_before[..],
            "the same bytes"
        );
        assert_eq!(after.last(), Some(&0), "and the policy byte: optional");
    }
    assert_eq!(l.json(&["status"])["params"]["signatures"], "optional");
    assert_eq!(l.json(&["verify"])["valid"], true);
    l.ok(&["key", "new", "heir"]);
    l.ok(&[
        "submit",
        "--sign",
        "heir",
        "the first signed entry of an old ledger",
    ]);
    l.ok(&["mine", "--continuous", "-n", "1", "--threads", "1"]);
    l.fails(&["submit", "-a", "heir", "unsigned"], "bound to key");
    assert_eq!(l.json(&["verify"])["valid"], true);
}

/// The bytes of the ledger's `meta/params` record, read underneath it.
fn params_record(l: &Ledger) -> Vec<u8> {
    let db = crate::kit::open_sled(&l.store_dir());
    let meta = db.open_tree("meta").unwrap();
    meta.get("params").unwrap().expect("params").to_vec()
}
