//! Live backups: `export` through a node that keeps mining (and taking
//! entries) writes a consistent chain, which a fresh directory imports;
//! an incremental export from the next height extends that copy.

use std::time::Duration;

use serde_json::json;

use crate::kit::{eventually, Ledger, Node};

fn tip_height(l: &Ledger) -> u64 {
    l.json(&["status"])["tip"]["height"].as_u64().unwrap()
}

#[test]
fn export_while_mining_imports_elsewhere_and_matches_the_node() {
    let l = Ledger::with_init(&["--difficulty", "10", "--fixed-difficulty"]);
    let node = Node::start(&l, &["--mine", "--continuous", "--threads", "1"]);
    for i in 0..20 {
        let (code, _) = node.post(
            "/v1/transactions",
            json!({"author": "w", "data": format!("entry {i}")}),
        );
        assert_eq!(code, 200);
    }
    eventually("50 blocks", Duration::from_secs(60), || {
        tip_height(&l) >= 50
    });
    // A full backup while the node mines.
    let full = l.path("full.jsonl");
    l.ok(&["export", "-o", full.to_str().unwrap()]);
    let copy = Ledger::empty();
    copy.ok(&["import", full.to_str().unwrap()]);
    assert_eq!(copy.json(&["verify"])["valid"], true);
    let backed_up = tip_height(&copy);
    assert!(backed_up >= 50);
    // Every block of the copy is the node's block at that height.
    for h in [0, 1, backed_up / 2, backed_up] {
        let mine = copy.json(&["block", &h.to_string()]);
        let theirs = l.json(&["block", &h.to_string()]);
        assert_eq!(mine["hash"], theirs["hash"], "height {h}");
    }
    eventually("more blocks", Duration::from_secs(60), || {
        tip_height(&l) >= backed_up + 20
    });
    // An incremental backup from the next height extends the copy.
    let more = l.path("more.jsonl");
    let from = (backed_up + 1).to_string();
    l.ok(&["export", "--from", &from, "-o", more.to_str().unwrap()]);
    copy.ok(&["import", more.to_str().unwrap()]);
    let now = tip_height(&copy);
    assert!(now >= backed_up + 20, "{now}");
    assert_eq!(
        copy.json(&["block", &now.to_string()])["hash"],
        l.json(&["block", &now.to_string()])["hash"]
    );
    assert_eq!(copy.json(&["verify"])["valid"], true);
    drop(node);
}
