//! One process owns a store. A command run while a node starts waits for
//! it (bounded, as bitcoin-cli's `-rpcwait`) and then goes through it; a
//! command run while a standalone `mine` holds the store is told which
//! process holds it, with its pid, and how to share the ledger instead.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::kit::{bin, Ledger};

#[test]
fn a_command_run_while_the_node_starts_waits_for_it() {
    let l = Ledger::new();
    let mut node = Command::new(bin())
        .arg("--data-dir")
        .arg(&l.dir)
        .args(["node", "--port", "0"])
        .env("SLEDGER_TEST_NODE_START_DELAY_MS", "1500")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The node holds the store well before it serves.
    crate::kit::wait_until_locked(&l);
    assert!(!l.dir.join("node.cookie").exists(), "not serving yet");
    let started = Instant::now();
    let out = l.run(&["--json", "status"]);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tip"]["height"], 0);
    assert!(started.elapsed() >= Duration::from_millis(500), "it waited");
    let id = l.submit("a", "through the node that just started");
    assert_eq!(id.len(), 64);
    Command::new("kill")
        .arg(node.id().to_string())
        .status()
        .unwrap();
    assert!(node.wait().unwrap().success());
}

#[test]
fn a_standalone_miner_is_named_with_its_pid() {
    let l = Ledger::with_init(&["--difficulty", "30", "--fixed-difficulty"]);
    let mut miner = Command::new(bin())
        .arg("--data-dir")
        .arg(&l.dir)
        .args(["mine", "--continuous", "--threads", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    crate::kit::wait_until_locked(&l);
    let started = Instant::now();
    let err = l.fails(&["status"], "is in use by `sledger mine`");
    assert!(err.contains(&format!("(pid {})", miner.id())), "{err}");
    assert!(err.contains("sledger node --mine"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no wait for a miner"
    );
    Command::new("kill")
        .args(["-INT", &miner.id().to_string()])
        .status()
        .unwrap();
    miner.wait().unwrap();
}
