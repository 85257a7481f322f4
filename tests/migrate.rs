//! Schema migrations on a genuine schema-1 ledger (tests/fixtures), through
//! the real binary: upgrade on open, `--no-upgrade`, `sledger migrate`, the
//! author index it builds, and a backfill killed part-way.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Ledger;

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
        "schema version 1 and this sledger uses 3",
    );
    assert!(line.contains("sledger migrate"), "{line}");
    let out = l.run(&["migrate"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("from schema version 1 to 2")
            && stderr.contains("from schema version 2 to 3"),
        "one-line notice: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("upgraded the ledger from schema version 1 to 3"));
    let again = l.json(&["migrate"]);
    assert_eq!(
        (again["from"].as_u64(), again["to"].as_u64()),
        (Some(3), Some(3))
    );
    // The fixture's content survived, and the index answers for every author.
    assert_eq!(l.json(&["verify"])["blocks"], 401);
    assert_eq!(l.json(&["status"])["pending"], 3);
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
    assert!(String::from_utf8_lossy(&out.stderr).contains("upgrading the ledger"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["transactions"].as_array().unwrap().len(), 2);
    let out = l.run(&["status"]);
    assert!(out.stderr.is_empty(), "upgraded once");
}

#[test]
fn a_backfill_killed_part_way_finishes_exactly_when_rerun() {
    let reference = v1_ledger();
    reference.ok(&["migrate"]);
    let expected = expected_by_author(&reference);
    let mut interrupted = 0;
    for delay_ms in (0..40).step_by(3) {
        let l = v1_ledger();
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("sledger"))
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
        // Still at version 1 after the kill means the backfill was cut short.
        if !l.run(&["--no-upgrade", "status"]).status.success() {
            interrupted += 1;
        }
        l.ok(&["migrate"]);
        assert_eq!(l.json(&["verify"])["valid"], true, "delay {delay_ms} ms");
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
        let db = sled::open(l.store_dir()).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("schema_version", &9u32.to_le_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let line = l.fails(&["status"], "schema version 9");
    assert!(line.contains("supports (3)"), "{line}");
}
