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
        vec!["mine", "--continuous", "-n", "1"],
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
    l.misused(&["block", "xyz"], "malformed block reference");
    // 63 hex digits are a prefix; 65 are not an id.
    l.fails(&["block", &"a".repeat(63)], "no block hash starts with");
    l.misused(&["block", &"a".repeat(65)], "malformed block reference");
    l.misused(&["block", "99999999999999999999999"], "out of range");
    l.misused(&["tx", "123"], "malformed transaction id");
    l.misused(&["tx", "12g4"], "malformed transaction id");
    l.misused(&["mine", "--checkpoint-every", "0"], "--checkpoint-every");
    l.misused(
        &["mine", "--continuous", "-n", "0"],
        "--blocks 0 would mine nothing",
    );
    l.fails(&["tx", &"cd".repeat(32)], "no transaction with id");
    l.fails(&["chain", "--from", "9"], "no block at height 9");
    l.misused(
        &["txs", "--author", "a", "--from", "bad"],
        "malformed position",
    );
    l.misused(
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
    l.misused(
        &["init", "--retarget-window", "1"],
        "retarget window 1 is out of range",
    );
    l.misused(
        &["init", "--difficulty", "300"],
        "difficulty 300 is out of range",
    );
    l.misused(&["init", "--block-interval", "0"], "--block-interval");
    l.misused(&["init", "--block-interval", "nan"], "--block-interval");
    l.misused(&["init", "--name", ""], "chain name");
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

/// Runs `docs/check_export.py` on `file`; `None` without python3.
fn python_checker_accepts(file: &std::path::Path) -> Option<bool> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/check_export.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(file)
        .output()
        .ok()?;
    Some(out.status.success())
}

/// The export format refuses what `docs/FORMAT.md` says it refuses, and
/// accepts what it says it accepts (#13.7); the independent Python checker
/// agrees on every case.
#[test]
fn import_reads_the_export_format_strictly() {
    let src = Ledger::new();
    src.submit("a", "alpha");
    src.mine(1);
    let export = src.export();
    let lines: Vec<&str> = export.lines().collect();
    assert_eq!(lines.len(), 2);
    let (g, b1) = (lines[0], lines[1]);
    let v: serde_json::Value = serde_json::from_str(g).unwrap();
    let h = &v["header"];
    let header_array = serde_json::json!([
        h["version"],
        h["height"],
        h["prev_hash"],
        h["merkle_root"],
        h["timestamp"],
        h["difficulty"],
        h["nonce"]
    ]);
    let t = &v["txs"][0];
    let tx_array = serde_json::json!([t["txid"], t["author"], t["timestamp"], t["data"]]);
    let refused: Vec<(String, &str)> = vec![
        (
            format!(
                "{}\n",
                serde_json::json!([v["hash"], v["header"], v["txs"]])
            ),
            "line 1",
        ),
        (
            format!(
                "{}\n",
                serde_json::json!({"hash": v["hash"], "header": header_array, "txs": v["txs"]})
            ),
            "line 1",
        ),
        (
            format!(
                "{}\n",
                serde_json::json!({"hash": v["hash"], "header": v["header"], "txs": [tx_array]})
            ),
            "line 1",
        ),
        (
            format!(
                "{g}\n{}\n",
                b1.replacen(
                    "\"data\":\"alpha\"",
                    "\"data\":\"alpha\",\"data_hex\":null",
                    1
                )
            ),
            "line 2",
        ),
        (
            format!(
                "{g}\n{}\n",
                b1.replacen(
                    "\"data\":\"alpha\"",
                    "\"data\":null,\"data_hex\":\"616c706861\"",
                    1
                )
            ),
            "line 2",
        ),
        (format!("{g}\n\x0c\n{b1}\n"), "line 2"),
        (format!("{g}\n\u{3000}\n{b1}\n"), "line 2"),
        (format!("{g}\n \u{a0}\n{b1}\n"), "line 2"),
        (
            format!(
                "{g}\n{}\n",
                b1.replacen("\"author\":\"a\"", "\"author\":\"z\",\"author\":\"a\"", 1)
            ),
            "line 2",
        ),
        (
            format!(
                "{g}\n{}\n",
                b1.replacen("\"version\":1", "\"version\":1,\"version\":1", 1)
            ),
            "line 2",
        ),
        (
            format!("{}\n{b1}\n", g.replacen("\"height\":0", "\"height\":-0", 1)),
            "line 1",
        ),
        (
            format!(
                "{}\n{b1}\n",
                g.replacen("\"version\":1", "\"version\":1.0", 1)
            ),
            "line 1",
        ),
        (
            format!(
                "{}\n{b1}\n",
                g.replacen("\"version\":1", "\"version\":1e0", 1)
            ),
            "line 1",
        ),
        (format!("\u{feff}{export}"), "line 1"),
        (
            format!(
                "{g}\n{}\n",
                b1.replacen("\"data\":\"alpha\"", "\"data_hex\":\"0x616c706861\"", 1)
            ),
            "line 2",
        ),
        (
            format!(
                "{g}\n{}\n",
                b1.replacen("\"data\":\"alpha\"", "\"data_hex\":\"616c70686\"", 1)
            ),
            "line 2",
        ),
        (
            format!(
                "{g}\n{}\n",
                b1.replacen("\"data\":\"alpha\"", "\"data_hex\":\"61 6c706861\"", 1)
            ),
            "line 2",
        ),
        (String::new(), "holds no blocks"),
        (" \t\r\n\n".into(), "holds no blocks"),
        (format!("{b1}\n"), "line 1"),
        (format!("{g}\n{g}\n"), "line 2"),
    ];
    let accepted: Vec<String> = vec![
        export.replace('\n', "\r\n"),
        export.trim_end_matches('\n').to_owned(),
        format!("\n \t\r\n{g}\n\t\n{b1}\n\n"),
        format!(" {g} \t\n{b1}\r\n"),
        format!(
            "{g}\n{}\n",
            b1.replacen("\"data\":\"alpha\"", "\"data_hex\":\"616C706861\"", 1)
        ),
        export.replacen(
            &v["hash"].as_str().unwrap().to_string(),
            &v["hash"].as_str().unwrap().to_uppercase(),
            2,
        ),
    ];
    let file = src.path("strict.jsonl");
    for (i, (content, needle)) in refused.iter().enumerate() {
        std::fs::write(&file, content).unwrap();
        let fresh = Ledger::empty();
        let line = fresh.fails(&["import", file.to_str().unwrap()], needle);
        assert!(
            !fresh.dir.exists(),
            "refused case {i} created a ledger: {line}"
        );
        if let Some(ok) = python_checker_accepts(&file) {
            assert!(
                !ok,
                "the Python checker accepts refused case {i}: {content:?}"
            );
        }
    }
    for (i, content) in accepted.iter().enumerate() {
        std::fs::write(&file, content).unwrap();
        let fresh = Ledger::empty();
        let out = fresh.run(&["import", file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "accepted case {i} refused: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            fresh.export(),
            export,
            "accepted case {i} imports the same chain"
        );
        if let Some(ok) = python_checker_accepts(&file) {
            assert!(
                ok,
                "the Python checker refuses accepted case {i}: {content:?}"
            );
        }
    }
}
