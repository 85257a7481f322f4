//! The CLI against a node elsewhere: `--node URL --cookie FILE` (as
//! bitcoin-cli's `-rpcconnect` and `-rpccookiefile`), printing what the
//! same commands print on the node's own machine.

use std::os::unix::fs::PermissionsExt;

use crate::kit::{Ledger, Node};

#[test]
fn a_remote_cli_prints_what_the_local_one_does() {
    let l = Ledger::new();
    let id = l.submit("alice", "seen from afar");
    l.mine(1);
    let node = Node::start(&l, &[]);
    // Another machine: no ledger, the cookie copied owner-only.
    let far = Ledger::empty();
    std::fs::create_dir_all(far.tmp.path().join("c")).unwrap();
    let cookie = far.tmp.path().join("c/node.cookie");
    std::fs::copy(l.dir.join("node.cookie"), &cookie).unwrap();
    std::fs::set_permissions(&cookie, std::fs::Permissions::from_mode(0o600)).unwrap();
    let url = format!("http://{}", node.address);
    let remote = |args: &[&str]| {
        let mut all = vec!["--node", url.as_str(), "--cookie", cookie.to_str().unwrap()];
        all.extend_from_slice(args);
        far.ok(&all)
    };
    for args in [
        vec!["status"],
        vec!["chain"],
        vec!["block", "tip"],
        vec!["tx", &id[..8]],
        vec!["--json", "txs", "--author", "alice"],
        vec!["verify"],
    ] {
        assert_eq!(remote(&args), l.ok(&args), "{args:?}");
    }
    let second = remote(&["submit", "-a", "bob", "from the remote cli"]);
    assert_eq!(l.json(&["tx", second.trim()])["status"], "pending");
    assert!(
        !far.dir.exists(),
        "nothing was written on the remote side's data directory"
    );
    // The store itself cannot be reached from afar.
    let out = far.run(&["--node", &url, "--cookie", cookie.to_str().unwrap(), "init"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot run through --node"));
    drop(node);
}

#[test]
fn remote_flags_are_checked() {
    let far = Ledger::empty();
    far.misused(
        &["--node", "http://127.0.0.1:9", "status"],
        "needs --cookie",
    );
    far.misused(&["--cookie", "x", "status"], "--node URL");
    far.misused(
        &["--node", "https://x:1", "--cookie", "x", "status"],
        "only plain http",
    );
    far.misused(
        &["--node", "http://nohost", "--cookie", "x", "status"],
        "expected http://HOST:PORT",
    );
    // A cookie other users can read is refused before it is used.
    let cookie = far.tmp.path().join("loose.cookie");
    std::fs::write(&cookie, r#"{"address":"127.0.0.1:9","token":"00","pid":1}"#).unwrap();
    std::fs::set_permissions(&cookie, std::fs::Permissions::from_mode(0o644)).unwrap();
    far.fails(
        &[
            "--node",
            "http://127.0.0.1:9",
            "--cookie",
            cookie.to_str().unwrap(),
            "status",
        ],
        "other users can read or write it",
    );
}

#[test]
fn a_wrong_token_is_refused_by_the_node() {
    let l = Ledger::new();
    let node = Node::start(&l, &[]);
    let far = Ledger::empty();
    let cookie = far.tmp.path().join("wrong.cookie");
    let forged = format!(
        r#"{{"address":"{}","token":"{}","pid":1}}"#,
        node.address,
        "ab".repeat(32)
    );
    std::fs::write(&cookie, forged).unwrap();
    std::fs::set_permissions(&cookie, std::fs::Permissions::from_mode(0o600)).unwrap();
    let url = format!("http://{}", node.address);
    let out = far.run(&[
        "--node",
        &url,
        "--cookie",
        cookie.to_str().unwrap(),
        "status",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    drop(node);
}
