//! Hostile peers, written here on libp2p directly (after Bitcoin Core's
//! `p2p_*` functional tests): each test names one way a peer lies or
//! stalls, and proves that the honest sync still completes, the liar is
//! banned or passed over, and nothing it sent is stored.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use libp2p::futures::StreamExt;
use libp2p::request_response::{self, cbor, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, StreamProtocol};
use serde_bytes::ByteBuf;
use serde_json::Value;
use sledger::consensus::{Block, BlockHash};
use sledger::net::protocol::{sync_protocol, Request, Response, Status, PROTOCOL_VERSION};

use super::{eventually, peer_node, tip};
use crate::kit::{Ledger, Node};

/// The blocks of a ledger's active chain, genesis first.
fn chain_of(l: &Ledger) -> Vec<Block> {
    let s = sledger::store::Store::open(&l.dir).expect("open");
    let height = s.state().expect("state").height;
    (0..=height)
        .map(|h| s.block_at(h).expect("block").block)
        .collect()
}

fn genesis_of(l: &Ledger) -> BlockHash {
    sledger::store::Store::open(&l.dir)
        .expect("open")
        .genesis_hash()
}

/// How a liar answers a request other than `Status`: `None` leaves it
/// unanswered (a stall).
type Answer = Box<dyn FnMut(&Request) -> Option<Response> + Send>;

/// What an honest peer holding `chain` answers.
fn honest(chain: &[Block], request: &Request) -> Response {
    let hashes: Vec<[u8; 32]> = chain.iter().map(|b| b.hash().0).collect();
    match request {
        Request::Headers { locator, max } => {
            let at = locator
                .iter()
                .find_map(|h| hashes.iter().position(|x| x == h))
                .unwrap_or(0);
            let bytes: Vec<u8> = chain[at + 1..]
                .iter()
                .take(*max as usize)
                .flat_map(|b| b.header.encode())
                .collect();
            Response::Headers(ByteBuf::from(bytes))
        }
        Request::Bodies { hashes: asked } => Response::Blocks(
            asked
                .iter()
                .map_while(|h| hashes.iter().position(|x| x == h))
                .map(|i| ByteBuf::from(chain[i].encode()))
                .collect(),
        ),
        Request::Pending { after, .. } => Response::Pending {
            entries: vec![],
            next: *after,
        },
        Request::Status(_) => unreachable!("a liar answers statuses itself"),
    }
}

/// A peer that claims more work than anyone and answers as `answer` says.
struct Liar {
    /// Its address, for `--peer`.
    dial: String,
    /// `Bodies` requests it received.
    bodies_asked: Arc<AtomicUsize>,
    /// Times the node hung up on it.
    hung_up: Arc<AtomicUsize>,
}

fn liar(rt: &tokio::runtime::Runtime, genesis: BlockHash, answer: Answer) -> Liar {
    flooding_liar(rt, genesis, answer, 0)
}

/// A liar that also sends `flood` status requests as soon as it is
/// connected.
fn flooding_liar(
    rt: &tokio::runtime::Runtime,
    genesis: BlockHash,
    answer: Answer,
    flood: usize,
) -> Liar {
    let claim = Status {
        version: PROTOCOL_VERSION,
        genesis: genesis.0,
        tip: [9; 32],
        height: 1_000_000,
        work: [0xff; 32],
    };
    spawn_liar(rt, genesis, claim, answer, flood)
}

/// A liar on the sync protocol of `genesis` whose status says `claim`.
fn spawn_liar(
    rt: &tokio::runtime::Runtime,
    genesis: BlockHash,
    claim: Status,
    mut answer: Answer,
    flood: usize,
) -> Liar {
    let protocol = StreamProtocol::try_from_owned(sync_protocol(&genesis)).expect("name");
    let mut swarm = rt.block_on(async {
        let mut swarm = libp2p::SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(
                tcp::Config::default(),
                noise::Config::new,
                yamux::Config::default,
            )
            .expect("tcp")
            .with_behaviour(|_| {
                let config = request_response::Config::default();
                cbor::Behaviour::<Request, Response>::new(
                    [(protocol, ProtocolSupport::Full)],
                    config,
                )
            })
            .expect("behaviour")
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        swarm
            .listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("addr"))
            .expect("listen");
        swarm
    });
    let addr = rt.block_on(async {
        loop {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                break address;
            }
        }
    });
    let dial = format!("{addr}/p2p/{}", swarm.local_peer_id());
    let (bodies_asked, hung_up) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (asked, closed) = (bodies_asked.clone(), hung_up.clone());
    rt.spawn(async move {
        let mut stalled = Vec::new();
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message:
                        request_response::Message::Request {
                            request, channel, ..
                        },
                    ..
                }) => {
                    if matches!(request, Request::Bodies { .. }) {
                        asked.fetch_add(1, Ordering::SeqCst);
                    }
                    let reply = match request {
                        Request::Status(_) => Some(Response::Status(claim)),
                        ref other => answer(other),
                    };
                    match reply {
                        Some(r) => {
                            let _ = swarm.behaviour_mut().send_response(channel, r);
                        }
                        None => stalled.push(channel),
                    }
                }
                SwarmEvent::ConnectionClosed {
                    num_established: 0, ..
                } => {
                    closed.fetch_add(1, Ordering::SeqCst);
                }
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    for _ in 0..flood {
                        let rr = swarm.behaviour_mut();
                        rr.send_request(&peer_id, Request::Status(claim));
                    }
                }
                _ => {}
            }
        }
    });
    Liar {
        dial,
        bodies_asked,
        hung_up,
    }
}

fn status(n: &Node) -> Value {
    let (code, s) = n.get("/v1/status");
    assert_eq!(code, 200, "{s}");
    s
}

fn verify(l: &Ledger) {
    let v: Value = serde_json::from_str(&l.ok(&["--json", "verify"])).expect("JSON");
    assert_eq!(v["valid"], true, "{v}");
}

/// A header whose proof of work is wrong: the peer is banned, and the
/// node keeps its chain.
#[test]
fn a_header_that_breaks_a_rule_gets_its_peer_banned_and_nothing_is_stored() {
    let l = Ledger::new();
    l.ok(&["mine", "--continuous", "-n", "3"]);
    let chain = chain_of(&l);
    let mut bad = sledger::testkit::unsealed_child(&chain[3], vec![], 1000, 6);
    while sledger::consensus::rules::check_pow(&bad.header).is_ok() {
        bad.header.nonce += 1;
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let liar = liar(
        &rt,
        genesis_of(&l),
        Box::new(move |r| match r {
            Request::Headers { .. } => Some(Response::Headers(ByteBuf::from(
                bad.header.encode().to_vec(),
            ))),
            other => Some(honest(&chain, other)),
        }),
    );
    let node = Node::start(&l, &["--peer", &liar.dial]);
    eventually("the node bans the liar", Duration::from_secs(30), || {
        node.stderr().contains("a header that breaks a rule")
    });
    let s = status(&node);
    assert_eq!(s["tip"]["height"], 3, "{s}");
    assert_eq!(s["tips"].as_array().map(Vec::len), Some(1), "{s}");
    assert_eq!(liar.bodies_asked.load(Ordering::SeqCst), 0);
}

/// The liar has the chain a fresh copy lacks and sends each block with a
/// transaction added to its body (the header, and so the hash, is the
/// real one). The liar is banned, nothing it sent is stored, and the
/// fresh copy then syncs from an honest peer.
#[test]
fn a_body_that_does_not_match_its_header_gets_its_peer_banned_and_the_sync_completes() {
    let la = Ledger::new();
    let fresh = Ledger::copy_of(&la);
    la.ok(&["mine", "--continuous", "-n", "300"]);
    let chain = chain_of(&la);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let liar = liar(
        &rt,
        genesis_of(&la),
        Box::new(move |r| {
            Some(match honest(&chain, r) {
                Response::Blocks(list) => Response::Blocks(
                    list.iter()
                        .map(|b| {
                            let mut b = Block::decode(b).expect("block");
                            b.txs.push(sledger::testkit::tx("mallory", 1));
                            ByteBuf::from(b.encode())
                        })
                        .collect(),
                ),
                other => other,
            })
        }),
    );
    let a = peer_node(&la, &[], &[]);
    // The liar alone first, until it is banned; then an honest peer joins.
    let f = Node::start(&fresh, &["--peer", &liar.dial]);
    eventually("the liar is banned", Duration::from_secs(30), || {
        f.stderr().contains("banning peer")
    });
    let (code, v) = f.post("/v1/peers", serde_json::json!({"address": a.p2p[0]}));
    assert_eq!(code, 200, "{v}");
    let end = tip(&a);
    eventually("the fresh copy syncs", Duration::from_secs(90), || {
        tip(&f) == end
    });
    assert!(f.stderr().contains("a body that"), "{}", f.stderr());
    assert!(liar.bodies_asked.load(Ordering::SeqCst) >= 1);
    drop(f);
    verify(&fresh);
}

/// The liar sends real headers but never answers a request for bodies:
/// each batch it holds is given to another peer, one that joins later,
/// when its time is up.
#[test]
fn a_peer_that_stalls_on_bodies_is_passed_over_and_the_sync_completes() {
    let la = Ledger::new();
    let fresh = Ledger::copy_of(&la);
    la.ok(&["mine", "--continuous", "-n", "400"]);
    let chain = chain_of(&la);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let liar = liar(
        &rt,
        genesis_of(&la),
        Box::new(move |r| match r {
            Request::Bodies { .. } => None,
            other => Some(honest(&chain, other)),
        }),
    );
    let a = peer_node(&la, &[], &[]);
    // The liar alone first, until it holds batches it will never answer;
    // then an honest peer joins.
    let f = Node::start(&fresh, &["--peer", &liar.dial]);
    eventually(
        "the liar is asked for bodies",
        Duration::from_secs(30),
        || liar.bodies_asked.load(Ordering::SeqCst) >= 1,
    );
    let (code, v) = f.post("/v1/peers", serde_json::json!({"address": a.p2p[0]}));
    assert_eq!(code, 200, "{v}");
    let end = tip(&a);
    eventually("the fresh copy syncs", Duration::from_secs(120), || {
        tip(&f) == end
    });
    drop(f);
    verify(&fresh);
}

/// The liar claims more work and sends a valid header chain from genesis
/// that is longer than the sync window but has less work than the local
/// chain (Bitcoin's header-spam attack): its headers are checked and
/// followed past the window without being kept, and no body of it is ever
/// asked for or stored.
#[test]
fn a_low_work_header_chain_is_checked_but_never_stored() {
    let local = Ledger::new();
    let low = Ledger::copy_of(&local);
    local.ok(&["mine", "--continuous", "-n", "2200"]);
    low.ok(&["mine", "--continuous", "-n", "2100"]);
    let chain = chain_of(&low);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let liar = liar(
        &rt,
        genesis_of(&local),
        Box::new(move |r| Some(honest(&chain, r))),
    );
    let node = Node::start(&local, &["--peer", &liar.dial, "--sync-window", "64"]);
    let before = tip(&node);
    // Two replies of headers (2,000 and 100), and the sync gives up.
    std::thread::sleep(Duration::from_secs(8));
    let s = status(&node);
    assert_eq!(tip(&node), before);
    assert_eq!(s["tips"].as_array().map(Vec::len), Some(1), "{s}");
    assert_eq!(s["orphan_count"], 0, "{s}");
    assert_eq!(liar.bodies_asked.load(Ordering::SeqCst), 0);
    assert_eq!(s["node"]["network"]["sync"]["phase"], "idle", "{s}");
}

/// A heavier branch from genesis, longer than one reply of headers and
/// than the window: the lighter copy follows it past the window without
/// keeping it, downloads it again once it beats the local work (each
/// sampled height checked), and reorganises onto it.
#[test]
fn a_heavier_chain_past_the_window_is_downloaded_again_and_taken() {
    let light = Ledger::new();
    let heavy = Ledger::copy_of(&light);
    light.ok(&["mine", "--continuous", "-n", "2100"]);
    heavy.ok(&["mine", "--continuous", "-n", "2200"]);
    let h = peer_node(&heavy, &[], &[]);
    let l = Node::start(&light, &["--peer", &h.p2p[0], "--sync-window", "64"]);
    let end = tip(&h);
    eventually(
        "the light copy takes the heavy chain",
        Duration::from_secs(120),
        || tip(&l) == end,
    );
    drop(l);
    verify(&light);
}

/// A reply larger than the largest response: the node drops it and hangs
/// up, stores nothing, and stays up.
#[test]
fn an_oversize_reply_is_cut_off_and_its_peer_let_go() {
    let l = Ledger::new();
    l.ok(&["mine", "--continuous", "-n", "3"]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let huge = vec![0u8; 6 << 20];
    let liar = liar(
        &rt,
        genesis_of(&l),
        Box::new(move |r| match r {
            Request::Headers { .. } => Some(Response::Headers(ByteBuf::from(huge.clone()))),
            _ => None,
        }),
    );
    let node = Node::start(&l, &["--peer", &liar.dial]);
    eventually("the node hangs up", Duration::from_secs(30), || {
        liar.hung_up.load(Ordering::SeqCst) >= 1
    });
    let s = status(&node);
    assert_eq!(s["tip"]["height"], 3, "{s}");
    assert_eq!(s["tips"].as_array().map(Vec::len), Some(1), "{s}");
}

/// A peer that sends status requests far faster than the rule (one every
/// 2 s): past 20 in 10 s each is refused and costs it score, and it ends
/// banned.
#[test]
fn a_peer_that_floods_status_requests_is_refused_and_banned() {
    let l = Ledger::new();
    l.ok(&["mine", "--continuous", "-n", "3"]);
    let chain = chain_of(&l);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let liar = flooding_liar(
        &rt,
        genesis_of(&l),
        Box::new(move |r| Some(honest(&chain, r))),
        200,
    );
    let node = Node::start(&l, &["--peer", &liar.dial]);
    eventually("the node bans the flooder", Duration::from_secs(30), || {
        node.stderr().contains("its score fell")
    });
    let s = status(&node);
    assert_eq!(s["tip"]["height"], 3, "{s}");
}

/// A peer that speaks this ledger's protocol but whose status names
/// another genesis: banned at its first status, and nothing is asked of it.
#[test]
fn a_peer_whose_status_names_another_genesis_is_banned() {
    let l = Ledger::new();
    l.ok(&["mine", "--continuous", "-n", "3"]);
    let chain = chain_of(&l);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let claim = Status {
        version: PROTOCOL_VERSION,
        genesis: [7; 32],
        tip: [9; 32],
        height: 1_000_000,
        work: [0xff; 32],
    };
    let liar = spawn_liar(
        &rt,
        genesis_of(&l),
        claim,
        Box::new(move |r| Some(honest(&chain, r))),
        0,
    );
    let node = Node::start(&l, &["--peer", &liar.dial]);
    eventually("the node bans the liar", Duration::from_secs(30), || {
        node.stderr().contains("its status names another ledger")
    });
    assert_eq!(liar.bodies_asked.load(Ordering::SeqCst), 0);
    assert_eq!(status(&node)["tip"]["height"], 3);
}

/// The liar's chain is sound in every hash and proof of work, but its
/// first block carries an entry signed for another ledger (issue 15): the
/// fresh copy checks the body, bans the liar, and stores none of it.
#[test]
fn a_block_with_a_forged_signature_gets_its_peer_banned_and_nothing_is_stored() {
    let la = Ledger::new();
    let genesis = chain_of(&la).remove(0);
    let forged = sledger::consensus::Transaction::sign(
        "alice",
        1,
        b"signed for another ledger".to_vec(),
        &BlockHash([9; 32]),
        &[1; 32],
    )
    .expect("an entry");
    let mut chain = vec![genesis.clone()];
    chain.push(sledger::testkit::child(&genesis, vec![forged], 1000, 6));
    for _ in 0..20 {
        let next = sledger::testkit::child(chain.last().expect("a block"), vec![], 1000, 6);
        chain.push(next);
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let liar = liar(
        &rt,
        genesis.hash(),
        Box::new(move |r| Some(honest(&chain, r))),
    );
    let f = Node::start(&la, &["--peer", &liar.dial]);
    eventually("the liar is banned", Duration::from_secs(30), || {
        f.stderr().contains("banning peer")
    });
    assert!(
        liar.bodies_asked.load(Ordering::SeqCst) >= 1,
        "bodies were asked"
    );
    assert_eq!(tip(&f).0, 0, "nothing of the liar's chain was taken");
    assert!(f.stderr().contains("invalid signature"), "{}", f.stderr());
    drop(f);
    verify(&la);
}
