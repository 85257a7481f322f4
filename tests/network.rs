//! The peer-to-peer network between real `sledger node` processes on
//! 127.0.0.1 (ephemeral ports, `--listen 127.0.0.1:0`): blocks mined at
//! one end of a line reach the other end, an entry submitted anywhere is
//! mined by the miner elsewhere, a fresh copy catches up from a peer, and
//! a ledger with another genesis exchanges nothing.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::kit::{Ledger, Node};

/// A ledger whose blocks take a few hundred milliseconds on one thread,
/// so a miner gossips at a pace a test can watch.
fn paced_ledger() -> Ledger {
    Ledger::with_init(&["--difficulty", "16", "--fixed-difficulty"])
}

fn tip(n: &Node) -> (u64, String) {
    let (code, s) = n.get("/v1/status");
    assert_eq!(code, 200, "{s}");
    let tip = &s["tip"];
    (
        tip["height"].as_u64().expect("height"),
        tip["hash"].as_str().expect("hash").to_owned(),
    )
}

/// Polls `done` every 100 ms until it holds, or panics after `limit`.
fn eventually(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < end,
            "timed out after {limit:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A node on `l` listening for peers, dialling `peers`.
fn peer_node(l: &Ledger, peers: &[&Node], extra: &[&str]) -> Node {
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

/// Three copies of one ledger, a line a - b - c; `a` mines on one thread.
fn line() -> (Vec<Ledger>, Node, Node, Node) {
    let la = paced_ledger();
    let (lb, lc) = (Ledger::copy_of(&la), Ledger::copy_of(&la));
    let a = peer_node(&la, &[], &["--mine", "--threads", "1"]);
    let b = peer_node(&lb, &[&a], &[]);
    let c = peer_node(&lc, &[&b], &[]);
    (vec![la, lb, lc], a, b, c)
}

#[test]
fn blocks_mined_at_one_end_of_a_line_reach_the_other_end() {
    let (_ledgers, a, b, c) = line();
    eventually("c has 3 blocks", Duration::from_secs(60), || tip(&c).0 >= 3);
    let (code, _) = a.post("/v1/mining/stop", json!({}));
    assert_eq!(code, 200);
    let end = tip(&a);
    eventually("all three share a's tip", Duration::from_secs(60), || {
        tip(&b) == end && tip(&c) == end
    });
}

#[test]
fn an_entry_submitted_at_one_end_is_mined_at_the_other() {
    let (_ledgers, _a, _b, c) = line();
    // At once: before gossipsub has formed its mesh, the entry travels by
    // the `Pending` requests each node sends its peers.
    let (code, v) = c.post(
        "/v1/transactions",
        json!({"author": "far", "data": "from c"}),
    );
    assert_eq!(code, 200, "{v}");
    let txid = v["txid"].as_str().expect("txid").to_owned();
    eventually("c sees the entry mined", Duration::from_secs(60), || {
        let (_, t) = c.get(&format!("/v1/transactions/{txid}"));
        t["status"] == "confirmed"
    });
}

#[test]
fn a_fresh_copy_catches_up_from_a_peer_through_every_batch() {
    let la = Ledger::new();
    let fresh = Ledger::copy_of(&la);
    la.ok(&["mine", "-n", "1200"]);
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

#[test]
fn a_ledger_with_another_genesis_exchanges_nothing() {
    let (la, lx) = (Ledger::new(), Ledger::new());
    la.ok(&["mine", "-n", "20"]);
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
    assert_eq!(net["peers"], 0);
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
fn a_permissioned_node_refuses_an_unknown_peer() {
    let la = Ledger::new();
    let (lb, lc) = (Ledger::copy_of(&la), Ledger::copy_of(&la));
    la.ok(&["mine", "-n", "5"]);
    // b is the only peer a allows; c is unknown to it.
    let b = peer_node(&lb, &[], &[]);
    let b_id = b.p2p[0].rsplit('/').next().expect("peer id").to_owned();
    let a = peer_node(&la, &[], &["--allow-peer", &b_id]);
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
}

/// Restarts `n` (on `l`, keeping its key) dialling `peer`.
fn peer_node_again(mut n: Node, l: &Ledger, peer: &Node) -> Node {
    assert!(n.stop().success());
    peer_node(l, &[peer], &[])
}

/// A hostile peer, written here on libp2p directly: it claims more work
/// than anyone, and answers a request for blocks with one whose proof of
/// work is wrong. The node must ban it and store nothing it sent.
#[test]
fn a_peer_that_sends_an_invalid_block_is_banned_and_nothing_is_stored() {
    let l = Ledger::new();
    l.ok(&["mine", "-n", "3"]);
    let (genesis, bad) = {
        let s = sledger::store::Store::open(&l.dir).expect("open");
        let tip = s.block_at(3).expect("tip").block;
        let mut bad = sledger::testkit::unsealed_child(&tip, vec![], 1000, 6);
        while sledger::consensus::rules::check_pow(&bad.header).is_ok() {
            bad.header.nonce += 1;
        }
        (s.genesis_hash(), bad)
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let node = rt.block_on(hostile::serve(&l, genesis, bad.encode()));
    assert!(
        node.stderr().contains("banning peer"),
        "the node did not ban the peer: {}",
        node.stderr()
    );
    let (_, s) = node.get("/v1/status");
    assert_eq!(s["tip"]["height"], 3, "{s}");
    assert_eq!(s["orphans"], 0, "{s}");
    assert_eq!(s["tips"].as_array().map(Vec::len), Some(1), "{s}");
}

mod hostile {
    use std::time::Duration;

    use libp2p::futures::StreamExt;
    use libp2p::request_response::{self, cbor, ProtocolSupport};
    use libp2p::swarm::SwarmEvent;
    use libp2p::{noise, tcp, yamux, StreamProtocol};
    use sledger::consensus::BlockHash;
    use sledger::net::protocol::{sync_protocol, Request, Response, Status, PROTOCOL_VERSION};

    use crate::kit::{Ledger, Node};

    type Behaviour = cbor::Behaviour<Request, Response>;

    /// Listens, starts a node on `l` dialling it, and answers the node as a
    /// liar would until the node hangs up (30 s at most). Returns the node.
    pub async fn serve(l: &Ledger, genesis: BlockHash, bad_block: Vec<u8>) -> Node {
        let protocol = StreamProtocol::try_from_owned(sync_protocol(&genesis)).expect("name");
        let mut swarm = libp2p::SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(
                tcp::Config::default(),
                noise::Config::new,
                yamux::Config::default,
            )
            .expect("tcp")
            .with_behaviour(|_| {
                Behaviour::new([(protocol, ProtocolSupport::Full)], Default::default())
            })
            .expect("behaviour")
            .build();
        swarm
            .listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("addr"))
            .expect("listen");
        let addr = loop {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                break address;
            }
        };
        let me = *swarm.local_peer_id();
        let dial = format!("{addr}/p2p/{me}");
        let node = tokio::task::block_in_place(|| Node::start(l, &["--peer", &dial]));
        let liar = Status {
            version: PROTOCOL_VERSION,
            genesis: genesis.0,
            tip: [9; 32],
            height: 1_000_000,
            work: [0xff; 32],
        };
        let deadline = tokio::time::sleep(Duration::from_secs(30));
        tokio::pin!(deadline);
        loop {
            let event = tokio::select! {
                _ = &mut deadline => panic!("the node never hung up on the liar"),
                e = swarm.select_next_some() => e,
            };
            match event {
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message:
                        request_response::Message::Request {
                            request, channel, ..
                        },
                    ..
                }) => {
                    let answer = match request {
                        Request::Status(_) => Response::Status(liar),
                        Request::Blocks { .. } => {
                            Response::Blocks(vec![serde_bytes::ByteBuf::from(bad_block.clone())])
                        }
                        Request::Pending { after, .. } => Response::Pending {
                            entries: vec![],
                            next: after,
                        },
                    };
                    let _ = swarm.behaviour_mut().send_response(channel, answer);
                }
                SwarmEvent::ConnectionClosed {
                    num_established: 0, ..
                } => return node,
                _ => {}
            }
        }
    }
}

/// Two copies mine apart, then meet: the lighter one walks the heavier
/// branch, longer than one reply (500 blocks), to its end and reorganises
/// onto it; the heavier one keeps its chain.
#[test]
fn a_heavier_branch_longer_than_a_reply_reorganises_the_lighter_copy() {
    let light = Ledger::new();
    let heavy = Ledger::copy_of(&light);
    light.ok(&["mine", "-n", "600"]);
    heavy.ok(&["mine", "-n", "700"]);
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

fn peer_id(n: &Node) -> String {
    n.p2p[0].rsplit('/').next().expect("peer id").to_owned()
}

/// Peers connected to `n`, as its status says.
fn connected(n: &Node) -> u64 {
    let (_, s) = n.get("/v1/status");
    s["node"]["network"]["peers"].as_u64().expect("peers")
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
    la.ok(&["mine", "-n", "5"]);
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
