//! The peer-to-peer network between real `sledger node` processes on
//! 127.0.0.1 (ephemeral ports, `--listen 127.0.0.1:0`): blocks mined at
//! one end of a line reach the other end, an entry submitted anywhere is
//! mined by the miner elsewhere, a fresh copy catches up from a peer, and
//! a ledger with another genesis exchanges nothing.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::kit::{Ledger, Node};

mod bench;
mod hostile;
mod hosts;

/// A ledger whose blocks take a few hundred milliseconds on one thread,
/// so a miner gossips at a pace a test can watch.
pub(crate) fn paced_ledger() -> Ledger {
    Ledger::with_init(&["--difficulty", "16", "--fixed-difficulty"])
}

pub(crate) fn tip(n: &Node) -> (u64, String) {
    let (code, s) = n.get("/v1/status");
    assert_eq!(code, 200, "{s}");
    let tip = &s["tip"];
    (
        tip["height"].as_u64().expect("height"),
        tip["hash"].as_str().expect("hash").to_owned(),
    )
}

pub(crate) use crate::kit::eventually;

/// A node on `l` listening for peers, dialling `peers`.
pub(crate) fn peer_node(l: &Ledger, peers: &[&Node], extra: &[&str]) -> Node {
    let mut args = vec!["--listen", "127.0.0.1:0"];
    for p in peers {
        args.extend(["--peer", p.p2p[0].as_str()]);
    }
    args.extend(extra);
    let n = Node::start(l, &args);
    assert_eq!(
        n.p2p.len(),
        1,
        "the node names its peer address: {:?}",
        n.p2p
    );
    n
}

/// Five copies of one ledger in a line, each node dialling the one
/// before it; the first mines on one thread, started with `miner` flags.
fn line(miner: &[&str]) -> (Vec<Ledger>, Vec<Node>) {
    let first = paced_ledger();
    let mut ledgers: Vec<Ledger> = (1..5).map(|_| Ledger::copy_of(&first)).collect();
    ledgers.insert(0, first);
    let mut flags = vec!["--mine", "--threads", "1"];
    flags.extend_from_slice(miner);
    let mut nodes = vec![peer_node(&ledgers[0], &[], &flags)];
    for l in &ledgers[1..] {
        let before = nodes.last().expect("a node");
        let next = peer_node(l, &[before], &[]);
        nodes.push(next);
    }
    (ledgers, nodes)
}

#[test]
fn blocks_mined_at_one_end_of_a_line_of_five_reach_the_other_end() {
    let (_ledgers, nodes) = line(&["--continuous"]);
    let (first, last) = (&nodes[0], &nodes[4]);
    eventually(
        "the last node has 3 blocks",
        Duration::from_secs(60),
        || tip(last).0 >= 3,
    );
    let (code, _) = first.post("/v1/mining/stop", json!({}));
    assert_eq!(code, 200);
    let end = tip(first);
    eventually(
        "all five share the miner's tip",
        Duration::from_secs(60),
        || nodes.iter().all(|n| tip(n) == end),
    );
}

#[test]
fn an_entry_submitted_anywhere_in_a_line_of_five_is_mined_by_the_miner() {
    // The miner waits for entries (the default), so the chain grows only
    // as they arrive and no node falls behind a chain racing ahead.
    let (_ledgers, nodes) = line(&[]);
    // At once: before gossipsub has formed its mesh, the entries travel by
    // the `Pending` requests each node sends its peers.
    let mut txids = Vec::new();
    for (i, n) in nodes.iter().enumerate().skip(1) {
        let (code, v) = n.post(
            "/v1/transactions",
            json!({"author": "far", "data": format!("from node {i}")}),
        );
        assert_eq!(code, 200, "{v}");
        txids.push((i, v["txid"].as_str().expect("txid").to_owned()));
    }
    for (i, txid) in &txids {
        eventually(
            &format!("node {i} sees its entry mined"),
            Duration::from_secs(90),
            || {
                let (_, t) = nodes[*i].get(&format!("/v1/transactions/{txid}"));
                t["status"] == "confirmed"
            },
        );
    }
}

#[test]
fn a_fresh_copy_catches_up_from_a_peer_through_every_batch() {
    let la = Ledger::new();
    let fresh = Ledger::copy_of(&la);
    la.ok(&["mine", "--continuous", "-n", "1200"]);
    let a = peer_node(&la, &[], &[]);
    let mut b = peer_node(&fresh, &[&a], &[]);
    let end = tip(&a);
    assert_eq!(end.0, 1200);
    eventually("b reaches a's tip", Duration::from_secs(120), || {
        tip(&b) == end
    });
    assert!(b.stop().success());
    let verify: Value = serde_json::from_str(&fresh.ok(&["--json", "verify"])).expect("JSON");
    assert_eq!(verify["valid"], true, "{verify}");
}

/// Peak resident memory of a process, in KiB (`VmHWM`).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// A fresh copy syncs a 10,000-block chain (`SLEDGER_SYNC_BLOCKS` sets
/// another length) from two peers that both hold it, while a second fresh
/// copy syncs through it; nobody is banned; the first copy's peak memory
/// is printed (`--nocapture`).
#[test]
fn a_fresh_copy_syncs_ten_thousand_blocks_from_two_peers() {
    let blocks: u64 = std::env::var("SLEDGER_SYNC_BLOCKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let la = Ledger::new();
    let fresh = Ledger::copy_of(&la);
    la.ok(&["mine", "--continuous", "-n", &blocks.to_string()]);
    let lb = Ledger::copy_of(&la);
    let (a, b) = (peer_node(&la, &[], &[]), peer_node(&lb, &[], &[]));
    let other = Ledger::copy_of(&fresh);
    let started = Instant::now();
    let mut f = peer_node(&fresh, &[&a, &b], &[]);
    // A second fresh copy at the same time, dialling the first: a peer
    // behind it must not be asked for blocks it lacks, nor banned for it.
    let g = peer_node(&other, &[&f, &a], &[]);
    let end = tip(&a);
    eventually("the fresh copy syncs", Duration::from_secs(600), || {
        tip(&f) == end
    });
    let took = started.elapsed();
    let rss = peak_rss_kib(f.pid());
    println!(
        "synced {blocks} blocks from two peers in {:.1} s ({:.0} blocks/s), peak RSS {} MiB",
        took.as_secs_f64(),
        blocks as f64 / took.as_secs_f64(),
        rss / 1024
    );
    eventually(
        "the second fresh copy syncs",
        Duration::from_secs(600),
        || tip(&g) == end,
    );
    for n in [&f, &g] {
        assert!(!n.stderr().contains("banning peer"), "{}", n.stderr());
    }
    assert!(f.stop().success());
    let verify: Value = serde_json::from_str(&fresh.ok(&["--json", "verify"])).expect("JSON");
    assert_eq!(verify["valid"], true, "{verify}");
}

#[test]
fn a_ledger_with_another_genesis_exchanges_nothing() {
    let (la, lx) = (Ledger::new(), Ledger::new());
    la.ok(&["mine", "--continuous", "-n", "20"]);
    let a = peer_node(&la, &[], &[]);
    let x = peer_node(&lx, &[&a], &[]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(tip(&x).0, 0, "x kept its own chain");
    assert_eq!(tip(&a).0, 20, "a kept its own chain");
}

#[test]
fn a_node_keeps_its_peer_id_across_restarts() {
    let l = Ledger::new();
    let mut first = peer_node(&l, &[], &[]);
    let id = |n: &Node| n.p2p[0].rsplit('/').next().expect("peer id").to_owned();
    let before = id(&first);
    assert!(first.stop().success());
    let again = peer_node(&l, &[], &[]);
    assert_eq!(id(&again), before);
    // Status says so, through the API and the CLI.
    let (_, s) = again.get("/v1/status");
    let net = &s["node"]["network"];
    assert_eq!(net["peer_id"], before.as_str(), "{s}");
    assert_eq!(net["listening"], json!(again.p2p));
    assert_eq!(net["peer_count"], 0);
    let cli: Value = serde_json::from_str(&l.ok(&["--json", "status"])).expect("JSON");
    assert_eq!(cli["network"]["peer_id"], before.as_str(), "{cli}");
    assert!(l.ok(&["status"]).contains(&format!("peer id     {before}")));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(l.dir.join("node.key"))
        .expect("key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the key is the owner's only");
}

#[test]
fn a_permissioned_node_refuses_a_peer_its_allow_list_does_not_name() {
    let la = Ledger::new();
    let (lb, lc) = (Ledger::copy_of(&la), Ledger::copy_of(&la));
    la.ok(&["mine", "--continuous", "-n", "5"]);
    // b is the only peer a allows; c is unknown to it.
    let b = peer_node(&lb, &[], &[]);
    let b_id = b.p2p[0].rsplit('/').next().expect("peer id").to_owned();
    // The allow list is a file, with a comment and a blank line.
    let list = la.path("allowed-peers");
    std::fs::write(&list, format!("# who may connect\n\n{b_id}\n")).expect("write");
    let a = peer_node(
        &la,
        &[],
        &["--allow-peers-file", list.to_str().expect("path")],
    );
    let c = peer_node(&lc, &[&a], &[]);
    let b = peer_node_again(b, &lb, &a);
    eventually("the allowed peer syncs", Duration::from_secs(60), || {
        tip(&b).0 == 5
    });
    assert_eq!(tip(&c).0, 0, "the unknown peer got nothing");
    let bad = lb.run(&["node", "--port", "0", "--allow-peer", "nobody"]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("--allow-peer") && err.contains("not a peer id"),
        "{err}"
    );
    std::fs::write(&list, "nobody\n").expect("write");
    let bad = lb.run(&[
        "node",
        "--port",
        "0",
        "--allow-peers-file",
        list.to_str().expect("path"),
    ]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("line 1") && err.contains("not a peer id"),
        "{err}"
    );
}

/// Restarts `n` (on `l`, keeping its key) dialling `peer`.
fn peer_node_again(mut n: Node, l: &Ledger, peer: &Node) -> Node {
    assert!(n.stop().success());
    peer_node(l, &[peer], &[])
}

/// Two copies mine apart, then meet: the lighter one walks the heavier
/// branch, longer than one reply (500 blocks), to its end and reorganises
/// onto it; the heavier one keeps its chain.
#[test]
fn a_heavier_branch_longer_than_a_reply_reorganises_the_lighter_copy() {
    let light = Ledger::new();
    let heavy = Ledger::copy_of(&light);
    light.ok(&["mine", "--continuous", "-n", "600"]);
    heavy.ok(&["mine", "--continuous", "-n", "700"]);
    let h = peer_node(&heavy, &[], &[]);
    let l = peer_node(&light, &[&h], &[]);
    let end = tip(&h);
    eventually(
        "the light copy takes the heavy chain",
        Duration::from_secs(120),
        || tip(&l) == end,
    );
    assert_eq!(tip(&h), end, "the heavy copy kept its chain");
}

/// Two groups of two mine apart (the first more than the second), then
/// meet: every node ends on the chain with the most work, the entries of
/// the losing blocks go back to pending and are mined again, and every
/// acknowledged entry is confirmed on every node.
#[test]
fn a_partition_heals_onto_the_chain_with_the_most_work_and_loses_no_entry() {
    let la = paced_ledger();
    let (lb, lc, ld) = (
        Ledger::copy_of(&la),
        Ledger::copy_of(&la),
        Ledger::copy_of(&la),
    );
    let a = peer_node(&la, &[], &[]);
    let b = peer_node(&lb, &[&a], &[]);
    let c = peer_node(&lc, &[], &[]);
    let d = peer_node(&ld, &[&c], &[]);
    let mut txids = Vec::new();
    for (n, who) in [(&c, "c"), (&d, "d"), (&a, "a")] {
        let (code, v) = n.post(
            "/v1/transactions",
            json!({"author": who, "data": format!("made in {who}'s group")}),
        );
        assert_eq!(code, 200, "{v}");
        txids.push(v["txid"].as_str().expect("txid").to_owned());
    }
    let mine = |n: &Node, blocks: u64| {
        let (code, v) = n.post(
            "/v1/mining/start",
            json!({"threads": 1, "blocks": blocks, "continuous": true}),
        );
        assert_eq!(code, 200, "{v}");
    };
    mine(&a, 12);
    mine(&c, 4);
    eventually("each group mined apart", Duration::from_secs(120), || {
        tip(&b).0 == 12 && tip(&d).0 == 4 && tip(&a).0 == 12 && tip(&c).0 == 4
    });
    let (_, tx) = d.get(&format!("/v1/transactions/{}", txids[0]));
    assert_eq!(
        tx["status"], "confirmed",
        "c's entry is in the losing chain: {tx}"
    );
    // Heal: b comes back dialling both groups.
    let b = peer_node_again(b, &lb, &a);
    drop(b);
    let b = peer_node(&lb, &[&a, &c], &[]);
    let end = tip(&a);
    eventually(
        "every node takes the heavier chain",
        Duration::from_secs(120),
        || [&a, &b, &c, &d].iter().all(|n| tip(n) == end),
    );
    mine(&c, 2);
    for n in [&a, &b, &c, &d] {
        for txid in &txids {
            eventually(
                &format!("{txid} is confirmed everywhere"),
                Duration::from_secs(120),
                || {
                    let (_, t) = n.get(&format!("/v1/transactions/{txid}"));
                    t["status"] == "confirmed"
                },
            );
        }
    }
}

/// A fresh copy syncing 10,000 blocks is killed (SIGKILL) at random moments
/// and started again: each start opens the store cleanly, the sync resumes
/// from what was stored, and it ends on the peer's tip with a store that
/// verifies. `SLEDGER_CRASH_ROUNDS` sets the kills (default 4).
#[test]
fn a_syncing_node_killed_at_random_moments_resumes_and_converges() {
    let rounds: u64 = std::env::var("SLEDGER_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    eprintln!("sync crash seed {seed}");
    let mut rng = seed | 1;
    let mut below = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let la = Ledger::new();
    let fresh = Ledger::copy_of(&la);
    la.ok(&["mine", "--continuous", "-n", "10000"]);
    let a = peer_node(&la, &[], &[]);
    let end = tip(&a);
    let mut heights = Vec::new();
    let mut stored = 0;
    for _ in 0..rounds {
        if stored + 1 >= end.0 {
            break; // synced already: nothing left to interrupt
        }
        // Killed once it has stored past a random height still ahead.
        let at = stored + 1 + below(end.0 - stored - 1);
        let mut f = peer_node(&fresh, &[&a], &[]);
        let until = Instant::now() + Duration::from_secs(60);
        while tip(&f).0 < at && Instant::now() < until {}
        f.kill();
        let v: Value = serde_json::from_str(&fresh.ok(&["--json", "verify"])).expect("JSON");
        assert_eq!(v["valid"], true, "after a kill: {v}");
        stored = v["block_count"].as_u64().expect("block_count") - 1;
        heights.push((at, stored));
    }
    let mut f = peer_node(&fresh, &[&a], &[]);
    eventually("the copy converges", Duration::from_secs(120), || {
        tip(&f) == end
    });
    assert!(f.stop().success());
    eprintln!("(kill once past, height stored) at each kill: {heights:?}");
    let v: Value = serde_json::from_str(&fresh.ok(&["--json", "verify"])).expect("JSON");
    assert_eq!(v["valid"], true, "{v}");
}

fn peer_id(n: &Node) -> String {
    n.p2p[0].rsplit('/').next().expect("peer id").to_owned()
}

/// Peers connected to `n`, as its status says.
fn connected(n: &Node) -> u64 {
    let (_, s) = n.get("/v1/status");
    s["node"]["network"]["peer_count"]
        .as_u64()
        .expect("peer_count")
}

/// `n`'s entry for `peer` in `GET /v1/peers`, if it lists it.
fn listed_peer(n: &Node, peer: &str) -> Option<Value> {
    let (code, v) = n.get("/v1/peers");
    assert_eq!(code, 200, "{v}");
    let list = v["peers"].as_array().expect("peers").clone();
    list.into_iter().find(|p| p["peer_id"] == peer)
}

/// Two copies of a ledger of 5 blocks: `b` dials `a`.
fn pair() -> (Ledger, Ledger, Node, Node) {
    let la = Ledger::new();
    let lb = Ledger::copy_of(&la);
    la.ok(&["mine", "--continuous", "-n", "5"]);
    let a = peer_node(&la, &[], &[]);
    let b = peer_node(&lb, &[&a], &[]);
    eventually("b has a's 5 blocks", Duration::from_secs(60), || {
        tip(&b).0 == 5
    });
    (la, lb, a, b)
}

#[test]
fn peers_on_one_node_lists_the_other_with_its_height() {
    let (la, lb, a, b) = pair();
    let (a_id, b_id) = (peer_id(&a), peer_id(&b));
    eventually("b lists a at height 5", Duration::from_secs(30), || {
        listed_peer(&b, &a_id).is_some_and(|p| p["height"] == 5)
    });
    let v: Value = serde_json::from_str(&lb.ok(&["--json", "peers"])).expect("JSON");
    let p = &v["peers"][0];
    assert_eq!(p["peer_id"], a_id.as_str(), "{v}");
    assert_eq!(p["direction"], "outbound", "{v}");
    assert_eq!(p["tip"].as_str(), Some(tip(&a).1.as_str()), "{v}");
    assert_eq!(p["banned_until"], Value::Null, "{v}");
    eventually("a lists b, inbound", Duration::from_secs(30), || {
        listed_peer(&a, &b_id).is_some_and(|p| p["direction"] == "inbound" && p["height"] == 5)
    });
    let text = la.ok(&["peers"]);
    assert!(text.contains(&b_id) && text.contains("inbound"), "{text}");
    // Without a node there is no one to ask.
    let alone = Ledger::new();
    alone.fails(&["peers"], "no node runs on the ledger");
}

#[test]
fn a_banned_peer_is_disconnected_and_refused_until_unbanned() {
    let (la, _lb, a, b) = pair();
    let b_id = peer_id(&b);
    let v: Value = serde_json::from_str(&la.ok(&["--json", "peers", "ban", &b_id])).expect("JSON");
    assert_eq!(v["peer_id"], b_id.as_str(), "{v}");
    eventually("a drops b", Duration::from_secs(10), || connected(&a) == 0);
    // b redials every 2 s; a refuses each time.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(connected(&a), 0, "the banned peer got back in");
    let entry = listed_peer(&a, &b_id).expect("a lists the ban");
    assert_eq!(entry["banned_until"], v["banned_until"], "{entry}");
    assert!(la.ok(&["peers", "unban", &b_id]).contains("unbanned"));
    eventually("b is back", Duration::from_secs(20), || connected(&a) == 1);
    assert_eq!(
        listed_peer(&a, &b_id).expect("b")["banned_until"],
        Value::Null
    );
}

#[test]
fn a_node_restarted_without_peer_redials_the_peer_it_remembered() {
    let (_la, lb, a, mut b) = pair();
    let a_id = peer_id(&a);
    eventually("b knows a's height", Duration::from_secs(30), || {
        listed_peer(&b, &a_id).is_some_and(|p| p["height"] == 5)
    });
    std::thread::sleep(Duration::from_millis(500)); // the record's write
    assert!(b.stop().success());
    let book = sledger::store::Store::open(&lb.dir)
        .expect("open")
        .peers()
        .expect("peers");
    assert_eq!(book.len(), 1, "b remembered a: {book:?}");
    let b = peer_node(&lb, &[], &[]);
    eventually("b redials a", Duration::from_secs(20), || {
        connected(&b) == 1
    });
    assert!(listed_peer(&b, &a_id).is_some());
}

#[test]
fn a_ban_survives_a_restart() {
    let (la, lb, mut a, b) = pair();
    let b_id = peer_id(&b);
    let (code, v) = a.post(&format!("/v1/peers/{b_id}/ban"), json!({"seconds": 3600}));
    assert_eq!(code, 200, "{v}");
    eventually("a drops b", Duration::from_secs(10), || connected(&a) == 0);
    assert!(a.stop().success());
    let a = peer_node(&la, &[], &[]);
    // b is told a's new address (its port changed), and keeps dialling it.
    lb.ok(&["peers", "add", &a.p2p[0]]);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(connected(&a), 0, "the banned peer got in after the restart");
    let entry = listed_peer(&a, &b_id).expect("a lists the ban");
    assert_eq!(entry["banned_until"], v["banned_until"], "{entry}");
    assert!(entry["ban_reason"].is_string(), "{entry}");
    drop(b);
}

/// The event stream reports a tip moved by a peer's blocks, and says when
/// that was a reorganisation: how many blocks left and joined the chain.
#[test]
fn the_event_stream_reports_a_reorganisation_brought_by_a_peer() {
    let light = Ledger::new();
    let heavy = Ledger::copy_of(&light);
    light.ok(&["mine", "--continuous", "-n", "5"]);
    heavy.ok(&["mine", "--continuous", "-n", "8"]);
    let h = peer_node(&heavy, &[], &[]);
    let l = peer_node(&light, &[], &[]);
    let events = l.req("GET", "/v1/events").call().expect("events");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut name = String::new();
        for line in std::io::BufReader::new(events.into_reader()).lines() {
            let Ok(line) = line else { return };
            if let Some(n) = line.strip_prefix("event: ") {
                name = n.to_owned();
            } else if let Some(data) = line.strip_prefix("data: ") {
                let v: Value = serde_json::from_str(data).expect("JSON");
                if tx.send((name.clone(), v)).is_err() {
                    return;
                }
            }
        }
    });
    let (code, v) = l.post("/v1/peers", json!({"address": h.p2p[0]}));
    assert_eq!(code, 200, "{v}");
    // The branch is taken one block at a time (it does not extend the
    // tip): a reorganisation onto its first heavier block, then extensions.
    let end = tip(&h);
    let mut seen = Vec::new();
    while seen
        .last()
        .map(|e: &Value| e["tip"]["hash"] != end.1.as_str())
        .unwrap_or(true)
    {
        let (name, v) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("an event within 60 s");
        assert_eq!(name, "tip", "{v}");
        assert_eq!(v["cause"], "peer", "{v}");
        seen.push(v);
    }
    let first = &seen[0];
    assert_eq!(first["previous"]["height"], 5, "{first}");
    assert_eq!(first["disconnected"], 5, "{first}");
    assert_eq!(first["connected"], first["tip"]["height"], "{first}");
    for pair in seen.windows(2) {
        assert_eq!(pair[1]["previous"], pair[0]["tip"], "{seen:?}");
        assert_eq!(pair[1]["disconnected"], 0, "{seen:?}");
    }
}
