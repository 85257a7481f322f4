//! Mining that does not fill the disk: a miner with nothing pending waits
//! (a node until an entry arrives, `mine` on the store ends, as nothing
//! can arrive), `--empty-blocks-every` keeps an idle chain moving,
//! `--continuous` seals empty blocks without pause; `init` refuses a
//! genesis block this machine cannot mine in reasonable time.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::kit::{eventually, Ledger, Node};

fn height(node: &Node) -> u64 {
    let (code, v) = node.get("/v1/status");
    assert_eq!(code, 200, "{v}");
    v["tip"]["height"].as_u64().expect("a height")
}

#[test]
fn an_idle_node_miner_seals_nothing_and_an_entry_starts_it_at_once() {
    // Difficulty 8: an empty block would take a millisecond to seal.
    let l = Ledger::with_init(&["--difficulty", "8", "--fixed-difficulty"]);
    let node = Node::start(&l, &["--mine", "--threads", "1"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(height(&node), 0, "no empty block while nothing is pending");
    let (_, m) = node.get("/v1/mining");
    assert_eq!(
        m["active"], true,
        "the miner waits, it has not stopped: {m}"
    );
    let sent = Instant::now();
    let (code, v) = node.post("/v1/transactions", json!({"author": "a", "data": "x"}));
    assert_eq!(code, 200, "{v}");
    let txid = v["txid"].as_str().unwrap().to_owned();
    eventually("the entry is mined", Duration::from_secs(10), || {
        node.get(&format!("/v1/transactions/{txid}")).1["status"] == "confirmed"
    });
    let took = sent.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        height(&node),
        1,
        "one block for one entry, then the miner waits again"
    );
    eprintln!("submit to confirmed: {took:?}");
}

#[test]
fn empty_blocks_every_keeps_an_idle_chain_moving_at_that_pace() {
    let l = Ledger::with_init(&["--difficulty", "8", "--fixed-difficulty"]);
    let node = Node::start(
        &l,
        &["--mine", "--threads", "1", "--empty-blocks-every", "400ms"],
    );
    std::thread::sleep(Duration::from_millis(2500));
    let h = height(&node);
    // One empty block each time the tip is 0.4 s old: about 6 in 2.5 s,
    // nowhere near the thousands difficulty 8 allows.
    assert!((2..=8).contains(&h), "height {h} after 2.5 s");
}

#[test]
fn continuous_mining_seals_empty_blocks_without_pause() {
    let l = Ledger::with_init(&["--difficulty", "8", "--fixed-difficulty"]);
    let node = Node::start(&l, &["--mine", "--continuous", "--threads", "1"]);
    eventually("20 empty blocks", Duration::from_secs(20), || {
        height(&node) >= 20
    });
}

#[test]
fn mine_on_the_store_with_nothing_pending_fails_and_changes_nothing() {
    let l = Ledger::with_init(&["--difficulty", "8", "--fixed-difficulty"]);
    let before = l.fingerprint();
    l.fails(&["mine"], "nothing to mine: no entry is pending");
    l.fails(&["mine", "-n", "3"], "mined 0 of 3 blocks");
    assert_eq!(l.fingerprint(), before);
    l.submit("a", "one entry");
    let err = l.fails(
        &["mine", "-n", "3"],
        "mined 1 of 3 blocks: nothing more is pending",
    );
    assert!(err.contains("--continuous"), "{err}");
    assert_eq!(l.json(&["status"])["tip"]["height"], 1);
    // Without --blocks: every pending entry, then a clean end.
    l.submit("a", "two");
    let out = l.run(&["mine"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing more is pending"));
    l.ok(&["mine", "--continuous", "-n", "2"]);
    assert_eq!(l.json(&["status"])["tip"]["height"], 4);
}

#[test]
fn pacing_flags_are_checked_as_usage() {
    let l = Ledger::with_init(&["--difficulty", "8"]);
    l.misused(
        &["mine", "--continuous", "--empty-blocks-every", "1s"],
        "exclude each other",
    );
    l.misused(
        &["mine", "--empty-blocks-every", "soon"],
        "--empty-blocks-every \"soon\" is not a duration",
    );
    l.misused(
        &["mine", "--empty-blocks-every", "0"],
        "--empty-blocks-every must be between",
    );
    l.misused(&["node", "--continuous"], "give them with --mine");
    let node = Node::start(&l, &[]);
    let (code, v) = node.post(
        "/v1/mining/start",
        json!({"continuous": true, "empty_blocks_every": 1.0}),
    );
    assert_eq!(code, 400, "{v}");
    let (code, v) = node.post("/v1/mining/start", json!({"continuous": 1}));
    assert_eq!(code, 400, "{v}");
}

#[test]
fn status_says_a_fixed_difficulty_has_no_target_time() {
    let l = Ledger::with_init(&[
        "--difficulty",
        "8",
        "--fixed-difficulty",
        "--block-interval",
        "7",
    ]);
    let text = l.ok(&["status"]);
    assert!(
        text.contains("fixed difficulty 8 bits (no target time"),
        "{text}"
    );
    assert!(!text.contains("target 7000 ms"), "{text}");
    let l = Ledger::with_init(&["--difficulty", "8", "--block-interval", "7"]);
    assert!(l.ok(&["status"]).contains("target 7000 ms per block"));
}

#[test]
fn init_refuses_a_genesis_block_it_cannot_mine_in_reasonable_time() {
    let l = Ledger::empty();
    let started = Instant::now();
    let err = l.fails(&["init", "--difficulty", "64"], "expected to take");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "judged after a short measurement"
    );
    assert!(err.contains("--force") && err.contains("years"), "{err}");
    assert!(!l.store_dir().exists(), "nothing was created");
    // Forced, it searches (and says how long it expects) until stopped.
    let err_path = l.path("init-err");
    let mut child = std::process::Command::new(crate::kit::bin())
        .arg("--data-dir")
        .arg(&l.dir)
        .args(["init", "--difficulty", "64", "--force", "--threads", "1"])
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let err = std::fs::read_to_string(&err_path).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("expected") && err.contains("MH/s"), "{err}");
    assert!(err.contains("nothing was created"), "{err}");
    assert!(!l.store_dir().exists());
}
