//! A ledger in a temporary directory, driven through the real `sledger`
//! binary.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use tempfile::TempDir;

/// The `sledger` binary cargo built for these tests.
pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("sledger")
}

pub struct Ledger {
    pub tmp: TempDir,
    pub dir: PathBuf,
}

impl Ledger {
    /// An empty temporary data directory (no ledger yet).
    pub fn empty() -> Ledger {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("ledger");
        Ledger { tmp, dir }
    }

    /// A ledger at a low difficulty, so blocks take milliseconds.
    pub fn new() -> Ledger {
        Self::with_init(&["--difficulty", "6", "--fixed-difficulty"])
    }

    pub fn with_init(args: &[&str]) -> Ledger {
        let l = Self::empty();
        let mut all = vec!["init"];
        all.extend_from_slice(args);
        l.ok(&all);
        l
    }

    /// A copy of `other`'s data directory (its ledger and nothing the node
    /// made: no key, no cookie), in a new temporary directory: another copy
    /// of the same ledger, for a second node.
    pub fn copy_of(other: &Ledger) -> Ledger {
        let l = Self::empty();
        let ok = std::process::Command::new("cp")
            .arg("-a")
            .arg(&other.dir)
            .arg(&l.dir)
            .status()
            .expect("cp");
        assert!(ok.success(), "cp failed");
        for made in ["node.key", "node.cookie"] {
            let _ = std::fs::remove_file(l.dir.join(made));
        }
        l
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("sledger").expect("binary");
        c.arg("--data-dir").arg(&self.dir);
        c.env_remove("SLEDGER_DATA_DIR");
        // Signing keys live beside the ledger's directory, never in the
        // home directory of whoever runs the tests.
        c.env("SLEDGER_KEYS_DIR", self.tmp.path().join("keys"));
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run sledger")
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        self.cmd()
            .args(args)
            .write_stdin(stdin.to_vec())
            .output()
            .expect("run sledger")
    }

    /// Runs and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "sledger {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs with --json and parses stdout as one JSON value.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let s = self.ok(&all);
        serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
    }

    /// Runs and requires failure with exit code 1 and one line on stderr
    /// that contains `needle`; returns that line.
    pub fn fails(&self, args: &[&str], needle: &str) -> String {
        let out = self.run(args);
        check_failure(&out, args, needle)
    }

    /// [`Ledger::fails`] for bad usage: arguments refused before any
    /// ledger is touched, exit code 2.
    pub fn misused(&self, args: &[&str], needle: &str) -> String {
        let out = self.run(args);
        check_failure_with(&out, args, needle, 2)
    }

    pub fn submit(&self, author: &str, data: &str) -> String {
        self.ok(&["submit", "--author", author, data])
            .trim()
            .to_string()
    }

    pub fn mine(&self, n: u64) {
        self.ok(&[
            "mine",
            "--continuous",
            "--blocks",
            &n.to_string(),
            "--threads",
            "1",
        ]);
    }

    pub fn export(&self) -> String {
        self.ok(&["export"])
    }

    /// Everything a user can see of the ledger: the chain and the pending
    /// transactions. Equal before and after means nothing changed.
    pub fn fingerprint(&self) -> String {
        format!("{}\n{:?}", self.export(), self.all_pending())
    }

    /// Every pending transaction, oldest first, read page by page.
    pub fn all_pending(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        let mut from = 0u64;
        loop {
            let from_s = from.to_string();
            let page = self.json(&["pending", "--from", &from_s, "--limit", "10000"]);
            out.extend(
                page["transactions"]
                    .as_array()
                    .expect("array")
                    .iter()
                    .cloned(),
            );
            match page["next_from"].as_u64() {
                Some(n) => from = n,
                None => return out,
            }
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    pub fn store_dir(&self) -> PathBuf {
        self.dir.join("store")
    }
}

pub fn check_failure(out: &Output, args: &[&str], needle: &str) -> String {
    check_failure_with(out, args, needle, 1)
}

/// [`check_failure`] with exit code `code`.
pub fn check_failure_with(out: &Output, args: &[&str], needle: &str, code: i32) -> String {
    let args: Vec<String> = args.iter().map(|a| a.chars().take(80).collect()).collect();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(code),
        "sledger {args:?} should fail with {code}; stderr: {stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line on stderr, got: {stderr}"
    );
    assert!(
        stderr.contains(needle),
        "stderr of {args:?} should contain {needle:?}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
    stderr
}

/// A ledger's sled database opened directly (to tamper with it). sled's
/// background threads can hold its lock for a moment after a store opened
/// in this process was dropped, so a lock error is retried (for up to ten
/// seconds).
pub fn open_sled(store_dir: &Path) -> sled::Db {
    for _ in 0..500 {
        match sled::open(store_dir) {
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            other => return other.expect("open sled"),
        }
    }
    panic!("the store stayed locked");
}
