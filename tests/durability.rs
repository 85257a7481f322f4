//! Long-running mining (checkpoints and resume), damage, tampering and a
//! full disk, through the real binary.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::kit::{bin, open_sled, Ledger};
use sledger::mining::scan_range;
use sledger::store::Store;
use sledger::time::now_ms;

#[test]
fn mine_resumes_a_checkpointed_search_without_redoing_it() {
    let l = Ledger::new();
    l.submit("cp", "in the template");
    let (template, skip_to) = {
        let s = Store::open(&l.dir).unwrap();
        let t = s.template(now_ms()).unwrap();
        // Pretend every nonce up to and including the first solution was
        // already tried: the resumed search must not find that one again.
        let first = scan_range(&t.header, 0..u64::MAX).unwrap();
        s.save_checkpoint(&t, first + 1, first + 1).unwrap();
        (t, first + 1)
    };
    let out = l
        .cmd()
        .args([
            "--json",
            "mine",
            "--continuous",
            "--blocks",
            "1",
            "--threads",
            "1",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("resuming the search for block 1"),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["resumed_from_nonce"], skip_to);
    assert_eq!(
        v["nonce"],
        scan_range(&template.header, skip_to..u64::MAX).unwrap(),
        "the first solution at or after the checkpoint"
    );
    let b = l.json(&["block", "1"]);
    assert_eq!(
        b["timestamp"], template.header.timestamp,
        "the checkpointed template itself"
    );
    assert_eq!(b["merkle_root"], template.header.merkle_root.to_hex());
    // The checkpoint went with the block.
    assert!(Store::open(&l.dir).unwrap().checkpoint().unwrap().is_none());
}

#[test]
fn a_stale_checkpoint_is_discarded() {
    let l = Ledger::new();
    {
        let s = Store::open(&l.dir).unwrap();
        let mut t = s.template(now_ms()).unwrap();
        t.header.prev_hash = sledger::consensus::BlockHash([1; 32]);
        s.save_checkpoint(&t, 1 << 40, 1 << 40).unwrap();
    }
    let out = l
        .cmd()
        .args(["mine", "--continuous", "--blocks", "1", "--threads", "1"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("discarding a stale mining checkpoint"));
    assert_eq!(l.json(&["verify"])["block_count"], 2);
}

/// Starts a long search (difficulty 26, one thread: ~1 s per block),
/// signals it after `after`, and returns its stderr.
fn interrupt_search(l: &Ledger, signal: &str, after: Duration, extra: &[&str]) -> String {
    let err_path = l.path("err");
    let mut child = Command::new(bin())
        .arg("--data-dir")
        .arg(&l.dir)
        .args(["mine", "--continuous", "--threads", "1"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&err_path).unwrap()))
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    let sent = Instant::now();
    let status = child.wait().unwrap();
    if signal != "-KILL" {
        // Interrupted is not success, whether or not a block was sealed.
        assert_eq!(status.code(), Some(130), "{status:?}");
    }
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "stopped within a second"
    );
    std::fs::read_to_string(err_path).unwrap()
}

#[test]
fn ctrl_c_checkpoints_the_search_and_the_next_run_resumes_it() {
    let l = Ledger::with_init(&["--difficulty", "26", "--fixed-difficulty"]);
    let stderr = interrupt_search(&l, "-INT", Duration::from_millis(400), &[]);
    assert!(stderr.contains("stopped after"), "{stderr}");
    let cp = Store::open(&l.dir)
        .unwrap()
        .checkpoint()
        .unwrap()
        .expect("a checkpoint");
    assert!(cp.tried_below > 0 && cp.hashes > 0);
    assert!(
        stderr.contains(&format!("checkpointed at nonce {}", cp.tried_below)),
        "{stderr}"
    );
    let stderr = interrupt_search(&l, "-INT", Duration::from_millis(300), &[]);
    assert!(
        stderr.contains(&format!("continuing at nonce {}", cp.tried_below)),
        "{stderr}"
    );
    assert_eq!(l.json(&["verify"])["valid"], true);
}

#[test]
fn after_sigkill_the_last_periodic_checkpoint_is_resumed() {
    let l = Ledger::with_init(&["--difficulty", "26", "--fixed-difficulty"]);
    // A block may be found just before the kill, leaving no checkpoint yet
    // for the next one; try a few times.
    for attempt in 0..4 {
        interrupt_search(
            &l,
            "-KILL",
            Duration::from_millis(600),
            &["--checkpoint-every", "0.05"],
        );
        let store = Store::open(&l.dir).unwrap();
        let Some(cp) = store.checkpoint().unwrap() else {
            eprintln!("attempt {attempt}: no checkpoint (a block was just found); again");
            continue;
        };
        drop(store);
        assert!(cp.tried_below > 0);
        let stderr = interrupt_search(&l, "-INT", Duration::from_millis(300), &[]);
        assert!(
            stderr.contains(&format!("continuing at nonce {}", cp.tried_below)),
            "{stderr}"
        );
        assert_eq!(l.json(&["verify"])["valid"], true);
        return;
    }
    panic!("never caught a search in progress");
}

#[test]
fn a_damaged_store_gets_a_clear_error_not_a_panic() {
    type Damage = fn(&std::path::Path);
    let cases: [(&str, Damage); 4] = [
        ("truncated", |d| {
            std::fs::File::options()
                .write(true)
                .open(d.join("db"))
                .unwrap()
                .set_len(100)
                .unwrap()
        }),
        ("emptied", |d| {
            std::fs::File::options()
                .write(true)
                .open(d.join("db"))
                .unwrap()
                .set_len(0)
                .unwrap()
        }),
        ("overwritten header", |d| {
            use std::io::{Seek, SeekFrom, Write};
            let mut f = std::fs::File::options()
                .write(true)
                .open(d.join("db"))
                .unwrap();
            f.seek(SeekFrom::Start(10)).unwrap();
            f.write_all(&[0x58; 32]).unwrap();
        }),
        ("conf removed", |d| {
            std::fs::remove_file(d.join("conf")).unwrap()
        }),
    ];
    for (what, damage) in cases {
        let l = Ledger::new();
        l.submit("d", "x");
        l.mine(2);
        damage(&l.store_dir());
        for cmd in [
            &["status"][..],
            &["verify"],
            &["block", "1"],
            &["submit", "-a", "a", "b"],
        ] {
            let line = l.fails(cmd, "damaged");
            assert!(line.contains("restore it from an export"), "{what}: {line}");
        }
    }
}

#[test]
fn tampering_is_named_by_height_and_reason() {
    let l = Ledger::new();
    for i in 0..4 {
        l.submit("t", &format!("entry {i}"));
        l.mine(1);
    }
    let hash3: sledger::consensus::BlockHash = l.json(&["block", "3"])["hash"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    {
        // Rewrite the entry in block 3 underneath the ledger.
        let db = open_sled(&l.store_dir());
        let bodies = db.open_tree("blocks").unwrap();
        let body = bodies.get(hash3.as_bytes()).unwrap().unwrap().to_vec();
        let at = body.windows(7).position(|w| w == b"entry 2").unwrap();
        let mut forged = body.clone();
        forged[at + 6] = b'9';
        bodies.insert(hash3.as_bytes(), forged).unwrap();
        db.flush().unwrap();
    }
    let line = l.fails(&["verify"], "verification failed at height 3");
    assert!(line.contains("Merkle root"), "{line}");
    let out = l.run(&["--json", "verify"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["height"], 3);
}

/// Mounts a small tmpfs, or says why not.
struct SmallFs(std::path::PathBuf);

impl SmallFs {
    fn mount(size_kb: u64) -> Result<SmallFs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?.keep();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_kb}k"), "tmpfs"])
            .arg(&dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cannot mount a tmpfs: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(SmallFs(dir))
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn a_full_disk_fails_cleanly_and_changes_nothing() {
    let fs = match SmallFs::mount(4096) {
        Ok(fs) => fs,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let dir = fs.0.join("ledger");
    let run = |args: &[&str]| {
        Command::new(bin())
            .arg("--data-dir")
            .arg(&dir)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["init", "--difficulty", "6", "--fixed-difficulty"])
        .status
        .success());
    // Fill the filesystem, then submit until the disk is full.
    let filler = fs.0.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0xAAu8; 64 * 1024];
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    drop(f);
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap()
        .set_len(
            std::fs::metadata(&filler)
                .unwrap()
                .len()
                .saturating_sub(600 * 1024),
        );
    let mut acked = Vec::new();
    let mut refused = None;
    for i in 0..200 {
        let data = format!("{i:04}{}", "z".repeat(30_000));
        let out = run(&["submit", "-a", "full", &data]);
        if out.status.success() {
            acked.push(String::from_utf8(out.stdout).unwrap().trim().to_string());
        } else {
            refused = Some(String::from_utf8_lossy(&out.stderr).to_string());
            break;
        }
    }
    let refused = refused.expect("the disk filled up");
    assert_eq!(refused.lines().count(), 1, "{refused}");
    assert!(
        refused.contains("disk") && refused.contains("full"),
        "{refused}"
    );
    assert!(!refused.contains("panicked"));
    // Free the space: the ledger is as it was, with every acknowledged entry.
    std::fs::remove_file(&filler).unwrap();
    let out = run(&["--json", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["--json", "pending", "--limit", "1000"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pending: Vec<&str> = v["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["txid"].as_str().unwrap())
        .collect();
    assert_eq!(
        pending,
        acked.iter().map(String::as_str).collect::<Vec<_>>(),
        "exactly the acknowledged entries"
    );
}
