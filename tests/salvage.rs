//! Recovery from a damaged store: one flipped byte in `store/db` can make
//! every command refuse the ledger; `sledger salvage --to NEW_DIR` rebuilds
//! the longest valid prefix of the chain and the pending entries it can
//! still read into a new ledger, and says what it could not recover.

use std::path::Path;

use serde_json::Value;

use crate::kit::Ledger;

/// A ledger of 30 blocks with entries (some signed), 3 pending.
fn ledger() -> (Ledger, Vec<String>) {
    let l = Ledger::new();
    l.ok(&["key", "new", "alice"]);
    for i in 0..30 {
        if i % 3 == 0 {
            l.ok(&["submit", "--sign", "alice", &format!("signed {i}")]);
        } else {
            l.submit("bob", &format!("entry {i}"));
        }
        l.mine(1);
    }
    for i in 0..3 {
        l.submit("carol", &format!("pending {i}"));
    }
    let hashes = (0..=30)
        .map(|h| {
            l.json(&["block", &h.to_string()])["hash"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    (l, hashes)
}

/// A copy of `l`'s data directory with the byte at `offset` of
/// `store/db` flipped.
fn damaged(l: &Ledger, offset: u64) -> Ledger {
    let copy = Ledger::copy_of(l);
    let db = copy.store_dir().join("db");
    let mut bytes = std::fs::read(&db).unwrap();
    let i = (offset as usize) % bytes.len();
    bytes[i] ^= 0xff;
    std::fs::write(&db, bytes).unwrap();
    copy
}

fn salvage(l: &Ledger, to: &Path) -> Value {
    l.json(&["salvage", "--to", to.to_str().unwrap()])
}

/// The length of `store/db` up to its last byte that is not zero (sled
/// preallocates the rest).
fn used(l: &Ledger) -> u64 {
    let bytes = std::fs::read(l.store_dir().join("db")).unwrap();
    bytes.iter().rposition(|b| *b != 0).unwrap_or(0) as u64 + 1
}

#[test]
fn a_flipped_byte_anywhere_in_the_store_is_salvaged() {
    let (l, truth) = ledger();
    let size = used(&l);
    let (mut whole, mut refused_before) = (0, 0);
    let offsets: Vec<u64> = (0..24).map(|k| k * size / 24 + 17).collect();
    for &offset in &offsets {
        // Another copy for `export`: sled, opening a damaged store, may
        // discard its log after the damage, so salvage comes first.
        if !damaged(&l, offset).run(&["export"]).status.success() {
            refused_before += 1;
        }
        let d = damaged(&l, offset);
        let to = d.tmp.path().join("rescued");
        let out = d.run(&["--json", "salvage", "--to", to.to_str().unwrap()]);
        if !out.status.success() {
            // Only the genesis block cannot be done without.
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("no genesis block could be recovered"),
                "offset {offset}: {err}"
            );
            continue;
        }
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        let rescued = Ledger {
            dir: to.clone(),
            tmp: tempfile::tempdir().unwrap(),
        };
        assert_eq!(rescued.json(&["verify"])["valid"], true, "offset {offset}");
        let height = r["tip"]["height"].as_u64().unwrap();
        // The rebuilt chain is a prefix of the original.
        for h in [0, height / 2, height] {
            let got = rescued.json(&["block", &h.to_string()]);
            assert_eq!(
                got["hash"],
                truth[h as usize].as_str(),
                "offset {offset} height {h}"
            );
        }
        if height == 30 {
            whole += 1;
        }
        // Pending entries come back when sled can still read its trees.
        if r["problems"].as_array().unwrap().is_empty() {
            assert_eq!(r["pending_count"], 3, "offset {offset}: {r}");
        }
    }
    eprintln!(
        "salvage: {whole} of {} damaged copies gave back every block; {refused_before} refused `export`",
        offsets.len()
    );
    assert!(
        whole * 2 >= offsets.len(),
        "most damage loses no block: {whole}"
    );
}

#[test]
fn a_store_every_command_refuses_is_still_salvaged() {
    let (l, truth) = ledger();
    let size = used(&l);
    // Damage that makes the store unreadable to the usual commands, and
    // leaves the genesis block (without which nothing can be rebuilt).
    let (d, offset, r) = (0..size)
        .step_by(97)
        .find_map(|o| {
            let tried = damaged(&l, o);
            if tried.run(&["export"]).status.success() || tried.run(&["status"]).status.success() {
                return None;
            }
            let d = damaged(&l, o);
            let to = d.tmp.path().join("rescued");
            let out = d.run(&["--json", "salvage", "--to", to.to_str().unwrap()]);
            let r: Value = serde_json::from_slice(&out.stdout).ok()?;
            Some((d, o, r))
        })
        .expect("some flipped byte makes every command refuse, and salvage recovers");
    let to = d.tmp.path().join("rescued");
    let rescued = Ledger {
        dir: to.clone(),
        tmp: tempfile::tempdir().unwrap(),
    };
    assert_eq!(rescued.json(&["verify"])["valid"], true);
    let height = r["tip"]["height"].as_u64().unwrap();
    assert!(height >= 1, "blocks were recovered: {r}");
    assert_eq!(r["tip"]["hash"], truth[height as usize].as_str());
    // The text report names what it could not recover, if anything.
    let again = d.tmp.path().join("again");
    let text = d.ok(&["salvage", "--to", again.to_str().unwrap()]);
    assert!(text.contains("rebuilt a ledger in"), "{text}");
    eprintln!("offset {offset}: {text}");
}

#[test]
fn salvage_refuses_what_it_must_not_touch() {
    let (l, _) = ledger();
    let busy = l.path("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("x"), "x").unwrap();
    l.fails(&["salvage", "--to", busy.to_str().unwrap()], "is not empty");
    l.fails(
        &["salvage", "--to", l.dir.to_str().unwrap()],
        "is not empty",
    );
    let none = Ledger::empty();
    none.fails(&["salvage", "--to", "/tmp/x"], "no store to salvage");
    // The damaged store is only read: its bytes are the same after.
    let d = damaged(&l, 4099);
    let before = std::fs::read(d.store_dir().join("db")).unwrap();
    salvage(&d, &d.tmp.path().join("r"));
    assert_eq!(std::fs::read(d.store_dir().join("db")).unwrap(), before);
    assert!(!d.tmp.path().join("r.salvage-").exists());
}
