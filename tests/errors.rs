//! Bad input gets one clear line on stderr and exit code 1, never a panic,
//! and changes nothing.

use crate::kit::{check_failure, Ledger};
use sledger::store::Store;

#[test]
fn missing_ledger_is_named() {
    let l = Ledger::empty();
    for args in [
        vec!["status"],
        vec!["verify"],
        vec!["block", "0"],
        vec!["submit", "-a", "x", "y"],
        vec!["mine", "-n", "1"],
    ] {
        l.fails(&args, "no ledger at");
    }
    assert!(!l.dir.exists(), "a failed command creates nothing");
}

#[test]
fn unknown_and_malformed_references() {
    let l = Ledger::new();
    let before = l.fingerprint();
    l.fails(&["block", "7"], "no block at height 7");
    l.fails(&["block", &"ab".repeat(32)], "no block with hash");
    l.fails(&["block", "xyz"], "malformed block reference");
    l.fails(&["block", &"a".repeat(63)], "malformed block reference");
    l.fails(&["block", "99999999999999999999999"], "out of range");
    l.fails(&["tx", "1234"], "malformed transaction id");
    l.fails(&["tx", &"cd".repeat(32)], "no transaction with id");
    l.fails(&["chain", "--from", "9"], "no block at height 9");
    l.fails(
        &["txs", "--author", "a", "--from", "bad"],
        "malformed position",
    );
    l.fails(
        &["txs", "--author", "a", "--from", "1.x"],
        "malformed position",
    );
    assert_eq!(l.fingerprint(), before);
}

#[test]
fn oversize_and_invalid_entries_are_refused() {
    let l = Ledger::new();
    let before = l.fingerprint();
    let big = "x".repeat(64 * 1024 + 1);
    l.fails(&["submit", "-a", "a", &big], "over the limit");
    let out = l.run_stdin(&["submit", "-a", "a"], big.as_bytes());
    check_failure(&out, &["submit (stdin)"], "over the limit");
    let f = l.path("big");
    std::fs::write(&f, big.as_bytes()).unwrap();
    l.fails(
        &["submit", "-a", "a", "--file", f.to_str().unwrap()],
        "over the limit",
    );
    l.fails(
        &["submit", "-a", &"n".repeat(65), "x"],
        "author is 65 bytes",
    );
    l.fails(&["submit", "-a", "", "x"], "author must not be empty");
    l.fails(&["submit", "-a", "a\tb", "x"], "control characters");
    l.fails(
        &["submit", "-a", "a", "--file", "/nonexistent/file"],
        "cannot open",
    );
    // Exactly at the limit is fine.
    let ok = "y".repeat(64 * 1024);
    let out = l.run(&["submit", "-a", "a", &ok]);
    assert!(out.status.success());
    assert_ne!(l.fingerprint(), before);
}

#[test]
fn wrong_init_parameters() {
    let l = Ledger::empty();
    l.fails(
        &["init", "--retarget-window", "1"],
        "retarget window 1 is out of range",
    );
    l.fails(
        &["init", "--difficulty", "300"],
        "difficulty 300 is out of range",
    );
    l.fails(&["init", "--block-interval", "0"], "--block-interval");
    l.fails(&["init", "--block-interval", "nan"], "--block-interval");
    l.fails(&["init", "--name", ""], "chain name");
    assert!(!l.dir.exists());
    let l = Ledger::new();
    let before = l.fingerprint();
    l.fails(&["init"], "already exists");
    assert_eq!(l.fingerprint(), before);
}

#[test]
fn usage_errors_exit_2() {
    let l = Ledger::new();
    let out = l.run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = l.run(&["mine", "--blocks", "many"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn damaged_import_lines_are_named_and_change_nothing() {
    let src = Ledger::new();
    src.submit("a", "alpha");
    src.mine(3);
    let export = src.export();
    let lines: Vec<&str> = export.lines().collect();

    let dst = Ledger::new();
    let file = dst.path("bad.jsonl");
    let foreign = dst.fingerprint();
    std::fs::write(&file, &export).unwrap();
    dst.fails(&["import", file.to_str().unwrap()], "line 1: genesis block");
    assert_eq!(dst.fingerprint(), foreign);

    let fresh = Ledger::empty();
    let cases: Vec<(String, &str)> = vec![
        // Not JSON at all on line 3.
        (
            format!("{}\n{}\n{{garbage\n{}\n", lines[0], lines[1], lines[3]),
            "line 3: not a block",
        ),
        // Data changed: the txid no longer matches.
        (export.replacen("alpha", "alphA", 1), "line 2: transaction"),
        // A header field changed: the hash no longer matches.
        (
            export.replacen(
                "\"version\":1,\"height\":3",
                "\"version\":1,\"height\":4",
                1,
            ),
            "line 4: block",
        ),
        // A block missing: heights jump.
        (
            format!("{}\n{}\n{}\n", lines[0], lines[1], lines[3]),
            "line 3: expected the block at height 2",
        ),
    ];
    for (content, needle) in cases {
        std::fs::write(&file, content).unwrap();
        fresh.fails(&["import", file.to_str().unwrap()], needle);
        assert!(
            !fresh.dir.exists(),
            "a rejected import into a new ledger creates nothing"
        );
    }
    // A block whose proof of work is redone after changing it still breaks
    // the link to the next block.
    let mut broken: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
    broken["header"]["timestamp"] = (broken["header"]["timestamp"].as_u64().unwrap() + 1).into();
    let header = &broken["header"];
    let mut h = sledger::consensus::BlockHeader {
        version: 1,
        height: header["height"].as_u64().unwrap(),
        prev_hash: header["prev_hash"].as_str().unwrap().parse().unwrap(),
        merkle_root: header["merkle_root"].as_str().unwrap().parse().unwrap(),
        timestamp: header["timestamp"].as_u64().unwrap(),
        difficulty: sledger::consensus::Difficulty(header["difficulty"].as_u64().unwrap() as u32),
        nonce: 0,
    };
    while !h.difficulty.is_met_by(&h.hash()) {
        h.nonce += 1;
    }
    broken["header"]["nonce"] = h.nonce.into();
    broken["hash"] = h.hash().to_hex().into();
    std::fs::write(
        &file,
        format!("{}\n{}\n{}\n{}\n", lines[0], lines[1], broken, lines[3]),
    )
    .unwrap();
    let line = fresh.fails(
        &["import", file.to_str().unwrap()],
        "does not build on the previous line",
    );
    assert!(line.contains("line 4:"), "{line}");
    fresh.fails(&["import", "/nonexistent.jsonl"], "cannot open");
}

#[test]
fn a_ledger_held_by_another_process_is_named() {
    let l = Ledger::new();
    let store = Store::open(&l.dir).unwrap();
    let line = l.fails(&["status"], "in use by another process");
    assert!(
        line.contains(l.dir.to_str().unwrap()),
        "names the directory: {line}"
    );
    l.fails(&["submit", "-a", "a", "b"], "in use by another process");
    drop(store);
    l.ok(&["status"]);
}

#[test]
fn a_directory_that_is_not_a_ledger() {
    let l = Ledger::empty();
    std::fs::create_dir_all(l.store_dir()).unwrap();
    drop(sled::open(l.store_dir()).unwrap());
    l.fails(&["status"], "is not a sledger ledger");
}
