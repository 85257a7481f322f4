//! A node that says what it does: its log lines (text or JSON, stderr or a
//! file, filtered by level) and `sledger watch`, which follows its events
//! (entries, blocks sealed, tip changes, reorganisations brought by an
//! import).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::kit::{bin, Ledger, Node};

/// `sledger [--json] watch` on `l`, its stdout lines sent to a channel.
fn watch(l: &Ledger, json: bool) -> (Child, mpsc::Receiver<String>) {
    let mut cmd = Command::new(bin());
    cmd.arg("--data-dir").arg(&l.dir);
    if json {
        cmd.arg("--json");
    }
    let mut child = cmd
        .arg("watch")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Subscribed once the node counts the stream; a short wait is enough.
    std::thread::sleep(Duration::from_millis(500));
    (child, rx)
}

/// Lines from `rx` until one satisfies `ok`, within 20 s.
fn until(rx: &mpsc::Receiver<String>, what: &str, ok: impl Fn(&str) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            let done = ok(&line);
            seen.push(line);
            if done {
                return seen;
            }
        }
    }
    panic!("no {what} within 20 s; saw {seen:#?}");
}

fn interrupt(child: &mut Child) -> std::process::ExitStatus {
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap()
}

#[test]
fn watch_follows_entries_blocks_tips_and_a_reorganisation_by_import() {
    let l = Ledger::with_init(&["--difficulty", "8", "--fixed-difficulty"]);
    // A heavier branch, made on a copy: 6 blocks against the node's 1.
    let other = Ledger::copy_of(&l);
    other.mine(6);
    let branch = other.path("branch.jsonl");
    other.ok(&["export", "-o", branch.to_str().unwrap()]);
    let node = Node::start(&l, &["--mine", "--threads", "1"]);
    let (mut text, rx) = watch(&l, false);
    let (mut js, jrx) = watch(&l, true);
    let id = l.submit("alice", "watched");
    let seen = until(&rx, "a tip line", |s| {
        s.contains(" tip ") || s.contains("tip       1")
    });
    assert!(
        seen.iter()
            .any(|s| s.contains("entry") && s.contains(&id) && s.contains("by alice")),
        "{seen:#?}"
    );
    assert!(
        seen.iter().any(|s| s.contains("sealed    block 1")),
        "{seen:#?}"
    );
    l.ok(&["import", branch.to_str().unwrap()]);
    let seen = until(&rx, "a reorganisation", |s| s.contains("reorg"));
    let reorg = seen.last().unwrap();
    assert!(
        reorg.contains("tip 6") && reorg.contains("(import)"),
        "{reorg}"
    );
    assert!(
        reorg.contains("1 block disconnected back to height 0, 6 connected"),
        "{reorg}"
    );
    // The same as JSON: one object a line, named by `event`.
    let events: Vec<Value> = until(&jrx, "the import's tip event", |s| s.contains("\"import\""))
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for k in ["entry", "block", "tip"] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
    let tip = events.last().unwrap();
    assert_eq!(tip["disconnected"], 1);
    assert_eq!(tip["connected"], 6);
    assert_eq!(tip["tip"]["height"], 6);
    assert_eq!(
        events.iter().find(|e| e["event"] == "entry").unwrap()["txid"],
        id.as_str()
    );
    // Ctrl-C is how a watch ends: success.
    assert_eq!(interrupt(&mut text).code(), Some(0));
    assert_eq!(interrupt(&mut js).code(), Some(0));
    drop(node);
}

#[test]
fn watch_needs_a_node_and_ends_when_it_stops() {
    let l = Ledger::new();
    l.fails(&["watch"], "no node runs on the ledger");
    let mut node = Node::start(&l, &[]);
    let mut cmd = Command::new(bin());
    let child = cmd
        .arg("--data-dir")
        .arg(&l.dir)
        .arg("watch")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    node.stop();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the node stopped"));
}

#[test]
fn the_node_logs_what_it_does_as_text_by_default() {
    let l = Ledger::with_init(&["--difficulty", "8", "--fixed-difficulty"]);
    let mut node = Node::start(&l, &["--mine", "--threads", "1"]);
    let id = l.submit("alice", "logged");
    crate::kit::eventually("mined", Duration::from_secs(20), || {
        node.get(&format!("/v1/transactions/{id}")).1["status"] == "confirmed"
    });
    node.stop();
    let log = node.stderr();
    for said in [
        "mining started",
        "pending entry",
        "sealed block",
        "new tip",
        "stopped",
    ] {
        let line = log
            .lines()
            .find(|l| l.contains(said))
            .unwrap_or_else(|| panic!("{said}: {log}"));
        assert!(line.contains(" INFO "), "{line}");
    }
    assert!(log.contains(&format!("txid={id}")), "{log}");
    assert!(log.contains("height=1"), "{log}");
}

#[test]
fn json_logs_to_a_file_at_the_chosen_level() {
    let l = Ledger::with_init(&["--difficulty", "8", "--fixed-difficulty"]);
    let file = l.tmp.path().join("node.log");
    let mut node = Node::start(
        &l,
        &[
            "--mine",
            "--threads",
            "1",
            "--log-format",
            "json",
            "--log-file",
            file.to_str().unwrap(),
        ],
    );
    let (code, _) = node.post("/v1/transactions", json!({"author": "a", "data": "x"}));
    assert_eq!(code, 200);
    crate::kit::eventually("a block", Duration::from_secs(20), || {
        node.get("/v1/status").1["tip"]["height"] == 1
    });
    node.stop();
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
    let sealed = lines
        .iter()
        .find(|v| v["fields"]["message"] == "sealed block")
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(sealed["level"], "INFO");
    assert_eq!(sealed["fields"]["height"], 1);
    assert!(sealed["timestamp"].is_string());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        !node.stderr().contains("sealed block"),
        "the log went to the file"
    );
    // --log-level warn: no info lines; RUST_LOG does the same when no flag.
    let quiet = l.tmp.path().join("quiet.log");
    let mut node = Node::start(
        &l,
        &["--log-level", "warn", "--log-file", quiet.to_str().unwrap()],
    );
    node.stop();
    assert_eq!(
        std::fs::read_to_string(&quiet).unwrap(),
        "",
        "no info line at warn"
    );
    let out = l
        .cmd()
        .env("RUST_LOG", "warn")
        .args(["node", "--port", "0", "--log-level", "nonsense=="])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--log-level"));
}
