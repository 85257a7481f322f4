//! Signed entries and pinned tips (issue 15): each forgery refused with
//! one clear line wherever it comes in (submit, import, a node, verify), a
//! bound name released by a reorganisation, and `--expect-tip` catching a
//! chain re-mined after its tip was published.

use serde_json::{json, Value};
use sledger::consensus::{Block, BlockHash, Transaction};
use sledger::export::{parse_line, to_line};
use sledger::store::fork::Accepted;
use sledger::time::now_ms;

use crate::kit::{child, params, store, Ledger, Node};

/// A ledger at difficulty 0: any hash meets it, so a test can re-seal a
/// block it changed and reach the signature rules behind the hashes.
fn easy_ledger(extra: &[&str]) -> Ledger {
    let mut args = vec!["--difficulty", "0", "--fixed-difficulty"];
    args.extend_from_slice(extra);
    Ledger::with_init(&args)
}

/// The secret key `name` of `l`'s keys directory, read as a test may.
fn secret_of(l: &Ledger, name: &str) -> [u8; 32] {
    let text = std::fs::read_to_string(l.path(&format!("keys/{name}.secret"))).unwrap();
    hex::decode(text.trim()).unwrap().try_into().unwrap()
}

fn key_hex(l: &Ledger, name: &str) -> String {
    l.json(&["key", "show", name])["public_key"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The export's lines, each read back as a block.
fn blocks_of(l: &Ledger) -> Vec<Block> {
    l.export().lines().map(|x| parse_line(x).unwrap()).collect()
}

/// `blocks` with its last block's entries replaced by `txs` (its Merkle
/// root recomputed; at difficulty 0 it needs no nonce), as an export file.
fn with_last_txs(l: &Ledger, mut blocks: Vec<Block>, txs: Vec<Transaction>) -> std::path::PathBuf {
    let last = blocks.last_mut().unwrap();
    let ids: Vec<_> = txs.iter().map(Transaction::txid).collect();
    last.header.merkle_root = sledger::consensus::merkle::merkle_root(&ids);
    last.txs = txs;
    let text: String = blocks.iter().map(|b| to_line(b) + "\n").collect();
    let f = l.path(&format!("forged-{}.jsonl", now_ms()));
    std::fs::write(&f, text).unwrap();
    f
}

#[test]
fn a_signed_entry_goes_round_trip_and_says_who_signed_it() {
    let l = easy_ledger(&[]);
    let made = l.json(&["key", "new", "alice"]);
    let public = made["public_key"].as_str().unwrap().to_owned();
    assert_eq!(made["fingerprint"].as_str().unwrap().len(), 16);
    let txid = l
        .ok(&["submit", "--sign", "alice", "hello, signed"])
        .trim()
        .to_owned();
    let pending = l.json(&["tx", &txid]);
    assert_eq!(
        pending["author"], "alice",
        "the key's name is the default author"
    );
    assert_eq!(pending["public_key"], json!(public));
    assert_eq!(pending["signature"].as_str().unwrap().len(), 128);
    l.mine(1);
    let text = l.ok(&["tx", &txid]);
    assert!(
        text.contains(&format!(
            "signed    by key {}",
            &made["fingerprint"].as_str().unwrap()
        )),
        "{text}"
    );
    // Listed by key name and by key hex alike.
    for k in ["alice", public.as_str()] {
        let by_key = l.json(&["txs", "--key", k]);
        assert_eq!(by_key["key"], json!(public));
        assert_eq!(by_key["transactions"][0]["txid"], json!(txid), "{by_key}");
    }
    let line = l.export();
    assert!(
        line.contains(&format!("\"public_key\":\"{public}\"")),
        "{line}"
    );
    // Another copy imports it, verifies it and binds the name there too.
    let copy = Ledger::empty();
    let f = l.path("e.jsonl");
    std::fs::write(&f, &line).unwrap();
    copy.ok(&["import", f.to_str().unwrap()]);
    assert!(copy.ok(&["verify"]).starts_with("ok: "));
    copy.fails(&["submit", "-a", "alice", "an impostor"], "bound to key");
    // The key never went into the data directory.
    for entry in walk(&l.dir) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        let secret = std::fs::read_to_string(l.path("keys/alice.secret")).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret.trim()),
            "{} holds the secret key",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn forgeries_are_refused_at_submit_with_one_line() {
    let l = easy_ledger(&[]);
    l.ok(&["key", "new", "alice"]);
    l.ok(&["key", "new", "mallory"]);
    // Before alice signs anything, her name is anyone's.
    l.submit("alice", "unsigned, before the binding");
    l.ok(&["submit", "--sign", "alice", "binds the name"]);
    // A name is bound by the chain: until the binding entry is mined,
    // another key's entry may wait beside it, and the miner's template
    // leaves out whichever comes second.
    let rival = l
        .ok(&["submit", "--sign", "mallory", "-a", "alice", "rival"])
        .trim()
        .to_owned();
    l.mine(1);
    assert_eq!(l.json(&["tx", &rival])["status"], "pending", "left out");
    let before = l.fingerprint();
    l.fails(
        &["submit", "-a", "alice", "forged"],
        "is unsigned, but the name is bound to key",
    );
    l.fails(
        &["submit", "--sign", "mallory", "-a", "alice", "forged"],
        "but the name is bound to key",
    );
    l.fails(
        &["submit", "--sign", "mallory", "-a", "al\u{202e}ice", "x"],
        "U+202E",
    );
    l.fails(
        &["submit", "--sign", "nobody", "x"],
        "no key named \"nobody\"",
    );
    assert_eq!(l.fingerprint(), before, "nothing changed");
    l.mine(1);
    assert_eq!(
        l.json(&["tx", &rival])["status"],
        "pending",
        "still left out"
    );
    assert!(l.ok(&["verify"]).starts_with("ok: "));

    // A ledger that requires signatures refuses every unsigned entry.
    let r = easy_ledger(&["--signatures", "required"]);
    assert_eq!(r.json(&["status"])["params"]["signatures"], "required");
    r.fails(
        &["submit", "-a", "bob", "x"],
        "requires every entry to be signed",
    );
    r.ok(&["key", "new", "bob"]);
    r.ok(&["submit", "--sign", "bob", "signed"]);
    r.mine(1);
    assert!(r.ok(&["verify"]).starts_with("ok: "));
}

#[test]
fn forged_blocks_are_refused_at_import_with_the_rule_they_break() {
    let l = easy_ledger(&[]);
    l.ok(&["key", "new", "alice"]);
    l.ok(&["key", "new", "mallory"]);
    l.ok(&["submit", "--sign", "alice", "the original"]);
    l.mine(1);
    l.ok(&["submit", "--sign", "alice", "second"]);
    l.mine(1);
    let blocks = blocks_of(&l);
    let genesis = blocks[0].hash();
    let signed_tx = blocks[2].txs[0].clone();
    let secret = |name: &str| secret_of(&l, name);
    let s = signed_tx.signed().unwrap();
    // A changed byte of a signed entry, its signature kept.
    let changed =
        Transaction::with_signature("alice", signed_tx.timestamp(), b"secomd".to_vec(), *s)
            .unwrap();
    // Signed for another ledger.
    let other_ledger = Transaction::sign(
        "alice",
        5,
        b"x".to_vec(),
        &BlockHash([7; 32]),
        &secret("alice"),
    )
    .unwrap();
    // Unsigned under the bound name; another key under it.
    let unsigned = Transaction::new("alice", 6, b"x".to_vec()).unwrap();
    let other_key =
        Transaction::sign("alice", 7, b"x".to_vec(), &genesis, &secret("mallory")).unwrap();
    // Another key's signature that is also bad: rule 9 comes first.
    let both = Transaction::sign(
        "alice",
        8,
        b"x".to_vec(),
        &BlockHash([7; 32]),
        &secret("mallory"),
    )
    .unwrap();
    let cases = [
        (both, "invalid signature"),
        (changed, "invalid signature"),
        (other_ledger, "invalid signature"),
        (unsigned, "is unsigned, but the name is bound to key"),
        (other_key, "but the name is bound to key"),
    ];
    for (tx, needle) in cases {
        let f = with_last_txs(&l, blocks.clone(), vec![tx]);
        let fresh = Ledger::empty();
        let e = fresh.fails(&["import", f.to_str().unwrap()], needle);
        assert!(e.contains("line 3"), "{e}");
        assert!(!fresh.dir.join("store").exists(), "nothing was created");
        // Into the ledger itself (a competing block at height 2).
        let before = l.fingerprint();
        l.fails(&["import", f.to_str().unwrap()], needle);
        assert_eq!(l.fingerprint(), before);
    }
    // A bad signature at line 3 and another broken rule at line 4: the
    // import verifies signatures in batches across blocks, and still names
    // the first bad line.
    let mut two = blocks.clone();
    let forged = {
        let bad = Transaction::with_signature("alice", 1, b"x".to_vec(), *s).unwrap();
        let f = with_last_txs(&l, blocks.clone(), vec![bad]);
        let text = std::fs::read_to_string(&f).unwrap();
        parse_line(text.lines().nth(2).unwrap()).unwrap()
    };
    two[2] = forged.clone();
    let unsigned = Transaction::new("alice", 2, vec![]).unwrap();
    two.push(child(&forged, vec![unsigned], 10, 0));
    let f = l.path("two-faults.jsonl");
    let text: String = two.iter().map(|b| to_line(b) + "\n").collect();
    std::fs::write(&f, text).unwrap();
    let e = Ledger::empty().fails(&["import", f.to_str().unwrap()], "invalid signature");
    assert!(e.contains("line 3"), "{e}");
    // check_export.py agrees: the honest export passes, a forged one fails.
    if let Some(py) = python() {
        let good = l.path("good.jsonl");
        std::fs::write(&good, l.export()).unwrap();
        let out = std::process::Command::new(&py)
            .arg(check_export())
            .arg(&good)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let f = with_last_txs(
            &l,
            blocks.clone(),
            vec![Transaction::new("alice", 6, vec![]).unwrap()],
        );
        let out = std::process::Command::new(&py)
            .arg(check_export())
            .arg(&f)
            .output()
            .unwrap();
        assert!(!out.status.success(), "check_export.py passed a forgery");
    }
}

fn python() -> Option<String> {
    let ok = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .ok()?;
    ok.status.success().then(|| "python3".to_owned())
}

fn check_export() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/docs/check_export.py")
}

#[test]
fn a_node_takes_signed_entries_and_refuses_forged_ones() {
    let l = easy_ledger(&[]);
    l.ok(&["key", "new", "alice"]);
    let mut node = Node::start(&l, &[]);
    // Through the node: the CLI signs, the node gets the signed entry.
    let txid = l
        .ok(&["submit", "--sign", "alice", "via the node"])
        .trim()
        .to_owned();
    let (code, v) = node.get(&format!("/v1/transactions/{txid}"));
    assert_eq!(code, 200);
    assert_eq!(v["public_key"], json!(key_hex(&l, "alice")));
    let genesis: BlockHash = l.json(&["status"])["genesis"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let secret = secret_of(&l, "alice");
    let body = |tx: &Transaction| -> Value {
        let s = tx.signed().unwrap();
        json!({
            "author": tx.author(), "timestamp": tx.timestamp(),
            "data": String::from_utf8(tx.data().to_vec()).unwrap(),
            "public_key": s.key.to_hex(), "signature": s.signature.to_hex(),
        })
    };
    // The chain binds alice's name once her first signed entry is mined.
    l.ok(&["mine", "--continuous", "-n", "1", "--threads", "1"]);
    let good = Transaction::sign("alice", 9, b"ok".to_vec(), &genesis, &secret).unwrap();
    let (code, v) = node.post("/v1/transactions", body(&good));
    assert_eq!(
        (code, &v["txid"]),
        (200, &json!(good.txid().to_hex())),
        "{v}"
    );
    let foreign =
        Transaction::sign("alice", 10, b"x".to_vec(), &BlockHash([1; 32]), &secret).unwrap();
    let (code, v) = node.post("/v1/transactions", body(&foreign));
    assert!(code >= 400, "{code} {v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or("")
            .contains("invalid signature"),
        "{v}"
    );
    let (code, v) = node.post("/v1/transactions", json!({"author": "alice", "data": "x"}));
    assert!(
        code >= 400 && v["error"].as_str().unwrap().contains("bound to key"),
        "{code} {v}"
    );
    let (code, _) = node.post(
        "/v1/transactions",
        json!({"author": "alice", "data": "x", "public_key": key_hex(&l, "alice")}),
    );
    assert_eq!(code, 400, "a half-signed body is malformed");
    node.stop();
}

#[test]
fn a_reorganisation_releases_a_bound_name() {
    let dir = tempfile::tempdir().unwrap();
    let (s, genesis) = store(dir.path(), &params(0, 10, true), 60_000);
    let g = genesis.hash();
    let by = |k: u8, n: u64| Transaction::sign("alice", n, vec![k], &g, &[k; 32]).unwrap();
    let key = |k: u8| sledger::consensus::signature::public_key(&[k; 32]);
    // Branch A binds alice to key 1.
    let a1 = child(&genesis, vec![by(1, 1)], 10, 0);
    s.append(&a1, now_ms()).unwrap();
    assert_eq!(s.bound_key("alice").unwrap(), Some(key(1)));
    assert!(
        s.submit(&by(2, 2)).is_err(),
        "key 2 is refused while A is active"
    );
    // Branch B, heavier, binds alice to key 2 instead.
    let b1 = child(&genesis, vec![by(2, 3)], 20, 0);
    let b2 = child(&b1, vec![by(2, 4)], 10, 0);
    s.accept_block(&b1, now_ms()).unwrap();
    let r = s.accept_block(&b2, now_ms()).unwrap();
    assert!(matches!(r, Accepted::Reorganized { .. }), "{r:?}");
    assert_eq!(s.bound_key("alice").unwrap(), Some(key(2)));
    assert_eq!(s.names_of_key(&key(1)).unwrap(), Vec::<String>::new());
    assert_eq!(s.names_of_key(&key(2)).unwrap(), vec!["alice".to_owned()]);
    // A's entry came back pending, but the name is key 2's now: the next
    // template leaves it out, and the chain stays valid.
    let t = s.template(now_ms()).unwrap();
    assert!(t.txs.is_empty(), "{:?}", t.txs);
    assert!(s.verify(now_ms(), &mut |_| {}).is_ok());
}

#[test]
fn expect_tip_catches_a_chain_re_mined_after_its_tip_was_published() {
    let l = easy_ledger(&[]);
    for i in 0..3 {
        l.submit("clerk", &format!("entry {i}"));
        l.mine(1);
    }
    let status = l.ok(&["status"]);
    let tip = l.json(&["status"])["tip"]["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(status.contains(&format!("--expect-tip {tip}")), "{status}");
    assert!(l.ok(&["verify", "--expect-tip", &tip]).starts_with("ok: "));
    // Re-mine: change entry 0 and rebuild every block after it (difficulty
    // 0, so any nonce does); every block of the result is valid.
    let mut blocks = blocks_of(&l);
    let mut parent = blocks[0].clone();
    for b in blocks.iter_mut().skip(1) {
        let txs: Vec<Transaction> = b
            .txs
            .iter()
            .map(|t| {
                let data = String::from_utf8(t.data().to_vec())
                    .unwrap()
                    .replace("entry 0", "entry X");
                Transaction::new(t.author(), t.timestamp(), data.into_bytes()).unwrap()
            })
            .collect();
        let dt = b.header.timestamp - parent.header.timestamp;
        *b = child(&parent, txs, dt, 0);
        parent = b.clone();
    }
    let f = l.path("remined.jsonl");
    let text: String = blocks.iter().map(|b| to_line(b) + "\n").collect();
    std::fs::write(&f, text).unwrap();
    let copy = Ledger::empty();
    copy.fails(
        &["import", "--expect-tip", &tip, f.to_str().unwrap()],
        "does not lead to the expected block",
    );
    assert!(!copy.dir.join("store").exists(), "nothing was imported");
    copy.ok(&["import", f.to_str().unwrap()]);
    assert!(
        copy.ok(&["verify"]).starts_with("ok: "),
        "every block is valid"
    );
    copy.fails(
        &["verify", "--expect-tip", &tip],
        "does not lead to the expected block",
    );
    // The honest export passes the same pin, and a malformed pin is usage.
    let honest = l.path("honest.jsonl");
    std::fs::write(&honest, l.export()).unwrap();
    let other = Ledger::empty();
    other.ok(&["import", "--expect-tip", &tip, honest.to_str().unwrap()]);
    other.misused(&["verify", "--expect-tip", "00ab"], "is not a block hash");
    // A file that holds the pin on a branch with less work: imported, but
    // the active chain does not lead to the pin, so the command fails.
    let short = Ledger::empty();
    let two: String = l
        .export()
        .lines()
        .take(2)
        .map(|x| format!("{x}\n"))
        .collect();
    let f2 = l.path("two.jsonl");
    std::fs::write(&f2, two).unwrap();
    short.ok(&["import", f2.to_str().unwrap()]);
    short.submit("other", "a side entry");
    short.mine(1);
    let side_pin = short.json(&["status"])["tip"]["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let side = l.path("side.jsonl");
    std::fs::write(&side, short.export()).unwrap();
    other.fails(
        &["import", "--expect-tip", &side_pin, side.to_str().unwrap()],
        "the active chain does not lead to the expected block",
    );
    // A file from a height, pinned below its first line: the ledger holds
    // the pin, so the import goes ahead.
    let from = l.path("from.jsonl");
    std::fs::write(&from, l.ok(&["export", "--from", "2"])).unwrap();
    let b1 = parse_line(l.export().lines().nth(1).unwrap())
        .unwrap()
        .hash();
    short.ok(&[
        "import",
        "--expect-tip",
        &b1.to_hex(),
        from.to_str().unwrap(),
    ]);
    assert_eq!(
        short.json(&["status"])["tip"]["hash"],
        json!(tip),
        "onto l's chain"
    );
}

/// Ignored benchmark (BENCHMARKS.md, "Signed entries"): import of 100,000
/// signed entries against the same number unsigned, through the binary,
/// and signature checks in batches against one by one, in one run.
/// `cargo test --release --test tests signatures::bench -- --ignored --nocapture`
/// (`SLEDGER_BENCH_ENTRIES` for another count).
#[test]
#[ignore]
fn bench_signed_import_and_batch_verification() {
    use sledger::consensus::rules::{check_signatures, SignatureRules};
    use sledger::consensus::signature::{verify, verify_batch, Item};
    use std::time::Instant;
    let entries: usize = std::env::var("SLEDGER_BENCH_ENTRIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let per_block = 100;
    let dir = tempfile::tempdir().unwrap();
    let genesis =
        sledger::testkit::seal(Block::genesis(&params(0, 10, true), now_ms() - 3_600_000));
    let g = genesis.hash();
    let export = |signed: bool| -> (std::path::PathBuf, Vec<Transaction>) {
        let mut all = Vec::new();
        let mut text = to_line(&genesis) + "\n";
        let mut parent = genesis.clone();
        for b in 0..entries / per_block {
            let txs: Vec<Transaction> = (0..per_block)
                .map(|i| {
                    let n = (b * per_block + i) as u64;
                    let author = format!("author{}", n % 1000);
                    let secret = [
                        (n % 1000) as u8 ^ 0x5a,
                        (n % 1000 / 256) as u8,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                        7,
                    ];
                    let data = format!("entry {n} of the benchmark").into_bytes();
                    if signed {
                        Transaction::sign(author, n, data, &g, &secret).unwrap()
                    } else {
                        Transaction::new(author, n, data).unwrap()
                    }
                })
                .collect();
            let c = child(&parent, txs.clone(), 1, 0);
            text += &(to_line(&c) + "\n");
            all.extend(txs);
            parent = c;
        }
        let f = dir.path().join(if signed {
            "signed.jsonl"
        } else {
            "unsigned.jsonl"
        });
        std::fs::write(&f, text).unwrap();
        (f, all)
    };
    let (unsigned_file, _) = export(false);
    let (signed_file, signed_txs) = export(true);
    let import = |f: &std::path::Path, name: &str| -> f64 {
        let l = Ledger::empty();
        let t = Instant::now();
        l.ok(&["import", f.to_str().unwrap()]);
        let s = t.elapsed().as_secs_f64();
        eprintln!(
            "import {name}: {entries} entries in {s:.2} s ({:.0} entries/s)",
            entries as f64 / s
        );
        let t = Instant::now();
        l.ok(&["verify"]);
        eprintln!("verify {name}: {:.2} s", t.elapsed().as_secs_f64());
        s
    };
    // Twice each, alternating, so neither side gets a warm cache alone.
    let u1 = import(&unsigned_file, "unsigned");
    let s1 = import(&signed_file, "signed");
    let u2 = import(&unsigned_file, "unsigned");
    let s2 = import(&signed_file, "signed");
    let (u, s) = (u1.min(u2), s1.min(s2));
    eprintln!(
        "signed import rate against unsigned: {:.2}x (goal: at least 0.5x)",
        u / s
    );

    let n = signed_txs.len().min(20_000);
    let txs = &signed_txs[..n];
    let messages: Vec<Vec<u8>> = txs.iter().map(|t| t.signing_message(&g)).collect();
    let items: Vec<Item> = txs
        .iter()
        .zip(&messages)
        .map(|(t, m)| {
            let s = t.signed().unwrap();
            Item {
                key: &s.key,
                message: m,
                signature: &s.signature,
            }
        })
        .collect();
    let t = Instant::now();
    for it in &items {
        verify(it.key, it.message, it.signature).unwrap();
    }
    let one = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for chunk in items.chunks(per_block) {
        verify_batch(chunk).unwrap();
    }
    let batch = t.elapsed().as_secs_f64();
    let ids: Vec<_> = txs.iter().map(Transaction::txid).collect();
    let rules = SignatureRules {
        genesis: g,
        policy: Default::default(),
    };
    let t = Instant::now();
    for (c, i) in txs.chunks(per_block).zip(ids.chunks(per_block)) {
        check_signatures(c, i, &rules).unwrap();
    }
    let threaded = t.elapsed().as_secs_f64();
    let per = |s: f64| n as f64 / s;
    eprintln!("one by one, 1 thread: {:.0} signatures/s", per(one));
    eprintln!(
        "batches of {per_block}, 1 thread: {:.0} signatures/s ({:.2}x one by one)",
        per(batch),
        one / batch
    );
    eprintln!(
        "check_signatures (blocks of {per_block}, across threads): {:.0} signatures/s ({:.2}x one by one)",
        per(threaded),
        one / threaded
    );
    let all: Vec<usize> = (0..n).collect();
    let t = Instant::now();
    for chunk in all.chunks(4096) {
        sledger::consensus::rules::verify_signatures(txs, &ids, chunk, &rules).unwrap();
    }
    let import = t.elapsed().as_secs_f64();
    eprintln!(
        "verify_signatures (4,096 at a time, as import does, across threads): {:.0} signatures/s ({:.2}x one by one)",
        per(import),
        one / import
    );
}

/// A signature changed in the store underneath the ledger: `verify` names
/// the block (the entry's txid, so the Merkle root, no longer match).
#[test]
fn verify_catches_a_signature_changed_in_the_store() {
    let l = easy_ledger(&[]);
    l.ok(&["key", "new", "alice"]);
    l.ok(&["submit", "--sign", "alice", "kept as signed"]);
    l.mine(1);
    assert!(l.ok(&["verify"]).starts_with("ok: "));
    let hash: BlockHash = l.json(&["block", "1"])["hash"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    {
        let db = crate::kit::open_sled(&l.store_dir());
        let blocks = db.open_tree("blocks").unwrap();
        let mut v = blocks.get(hash.as_bytes()).unwrap().unwrap().to_vec();
        // The record ends with the block's last entry: its signature.
        let last = v.len() - 1;
        v[last] ^= 1;
        blocks.insert(hash.as_bytes(), v).unwrap();
        db.flush().unwrap();
    }
    let e = l.fails(&["verify"], "verification failed at height 1");
    assert!(e.contains("Merkle root"), "{e}");
}

/// `sledger key`: made owner-only outside the data directory, listed,
/// shown, shared and imported; a secret others can read is refused.
#[test]
fn keys_are_made_listed_shared_and_imported() {
    use std::os::unix::fs::PermissionsExt;
    let l = easy_ledger(&[]);
    let keys = l.path("keys");
    let made = l.json(&["key", "new", "alice"]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&keys), 0o700);
    assert_eq!(mode(&keys.join("alice.secret")), 0o600);
    let public = l.ok(&["key", "export-public", "alice"]).trim().to_owned();
    assert_eq!(json!(public), made["public_key"]);
    // Bob's key, from another keys directory, imported three ways.
    let other = tempfile::tempdir().unwrap();
    let bob = Ledger::empty();
    let out = bob
        .cmd()
        .env("SLEDGER_KEYS_DIR", other.path())
        .args(["key", "new", "bob"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let bob_public = std::fs::read_to_string(other.path().join("bob.public")).unwrap();
    l.ok(&["key", "import-public", "bob", bob_public.trim()]);
    l.fails(
        &["key", "import-public", "bob-again", bob_public.trim()],
        "already in the keys directory as \"bob\"",
    );
    let file = l.path("bob.pub");
    std::fs::write(&file, &bob_public).unwrap();
    l.fails(
        &["key", "import-public", "bob", file.to_str().unwrap()],
        "already",
    );
    let list = l.json(&["key", "list"]);
    let names: Vec<_> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].clone())
        .collect();
    assert_eq!(names, [json!("alice"), json!("bob")]);
    assert_eq!(list["keys"][1]["has_secret"], false);
    let shown = l.ok(&["key", "show", "bob"]);
    assert!(shown.contains("no (someone else's)"), "{shown}");
    l.fails(
        &["submit", "--sign", "bob", "x"],
        "someone else's public key",
    );
    l.fails(&["key", "new", "../evil"], "is not 1 to 64 letters");
    l.fails(&["key", "new", "alice"], "already a key named \"alice\"");
    // A secret key others can read is refused, and so is a symlink.
    std::fs::set_permissions(
        keys.join("alice.secret"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    l.fails(
        &["submit", "--sign", "alice", "x"],
        "must be yours with mode 600",
    );
    std::fs::set_permissions(
        keys.join("alice.secret"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    assert!(l.run(&["submit", "--sign", "alice", "x"]).status.success());
}
