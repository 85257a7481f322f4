//! Hostile clients against a real node, one scenario per test, each named
//! for what the attacker does (as Bitcoin Core's functional tests are):
//! an impostor on a dead node's port, connection floods before any token,
//! event-stream hoarding, a dripping upload, a client that never reads.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::kit::{Ledger, Node};
use serde_json::Value;

/// Answers every HTTP request on `listener` with `body` until `done`, and
/// keeps each request's head: an impostor on a port a node used to hold.
fn impostor(
    listener: std::net::TcpListener,
    body: &'static str,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut heads = Vec::new();
        for stream in listener.incoming() {
            if done.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            let Ok(mut s) = stream else { continue };
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            heads.push(String::from_utf8_lossy(&head).into_owned());
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        heads
    })
}

/// Any local user can listen on a killed node's port. The CLI must not
/// send that impostor the token, nor print the txid it invents: the entry
/// goes to the store (which the dead node no longer holds) instead.
#[test]
fn an_impostor_on_a_dead_nodes_port_gets_no_token_and_no_entry() {
    let l = Ledger::new();
    let mut node = Node::start(&l, &[]);
    let (address, token) = (node.address.clone(), node.token.clone());
    node.kill();
    let listener = std::net::TcpListener::bind(&address).expect("take the dead node's port");
    const FAKE: &str = "abababababababababababababababababababababababababababababababab";
    let body: &'static str = Box::leak(
        format!(r#"{{"pid":4242,"address":"{address}","txid":"{FAKE}","status":"pending","proof":"{FAKE}"}}"#)
            .into_boxed_str(),
    );
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = impostor(listener, body, done.clone());
    let out = l.run(&["--json", "submit", "-a", "alice", "hello"]);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = TcpStream::connect(&address);
    let heads = server.join().expect("impostor thread");
    for h in &heads {
        assert!(!h.contains(&token), "the impostor was sent the token:\n{h}");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains(FAKE),
        "the CLI printed the impostor's txid: {stdout}"
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let txid = serde_json::from_str::<Value>(stdout.trim()).expect("JSON")["txid"]
        .as_str()
        .expect("txid")
        .to_owned();
    assert_eq!(l.json(&["tx", &txid])["status"], "pending");
}

/// Opens `n` connections that send half a request head and no token.
fn half_open(address: &str, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = TcpStream::connect(address).expect("connect");
            s.write_all(b"GET /v1/ping HTTP/1.1\r\nHost: x\r\n")
                .expect("write");
            s
        })
        .collect()
}

/// A ping with the token, failing after `wait`.
fn ping_within(node: &Node, wait: Duration) -> Result<u16, String> {
    ureq::get(&node.url("/v1/ping"))
        .set("Authorization", &node.auth())
        .timeout(wait)
        .call()
        .map(|r| r.status())
        .map_err(|e| e.to_string())
}

/// 300 connections hold half a request head each, more than the node's 256
/// connection slots: clients with the token are still served (the slots a
/// connection without a valid token may hold are few, the oldest is let go
/// for a new one, and each has a short deadline), and so is the CLI.
#[test]
fn a_flood_of_connections_without_a_token_does_not_starve_the_owner() {
    let l = Ledger::new();
    let node = Node::start(&l, &[]);
    let _flood = half_open(&node.address, 300);
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..3 {
        assert_eq!(ping_within(&node, Duration::from_secs(3)), Ok(200));
    }
    let out = l.run(&["status"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A flood that keeps reopening does not either.
    let address = node.address.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reopen = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                drop(half_open(&address, 50));
            }
        })
    };
    // A connection is let go only once 64 newer ones came before its first
    // request was read: rare, and a client may try again at once, as the
    // CLI does.
    for _ in 0..20 {
        let answered = (0..3).find_map(|_| ping_within(&node, Duration::from_secs(3)).ok());
        assert_eq!(answered, Some(200));
    }
    let out = l.run(&["status"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    reopen.join().unwrap();
}

/// A connection without a valid token is closed after its short deadline,
/// even while it keeps sending requests the node refuses.
#[test]
fn a_connection_that_never_sends_the_token_is_closed() {
    let l = Ledger::new();
    let node = Node::start(&l, &[]);
    let mut s = TcpStream::connect(&node.address).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    let closed = loop {
        if s.write_all(b"GET /v1/ping HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n\r\n")
            .is_err()
        {
            break true;
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break true,
            Ok(_) => {}
        }
        if started.elapsed() > Duration::from_secs(15) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(closed, "a connection without the token was served for 15 s");
}

/// Event streams have their own small cap: a client that opens many holds
/// no more than that, the next stream is refused with 503, and requests
/// are still served.
#[test]
fn hoarding_event_streams_does_not_lock_out_requests() {
    let l = Ledger::new();
    let node = Node::start(&l, &[]);
    let mut streams = Vec::new();
    let refused = loop {
        let r = node.req("GET", "/v1/events").call();
        match r {
            Ok(resp) => streams.push(resp),
            Err(ureq::Error::Status(code, resp)) => {
                break (code, resp.into_string().unwrap_or_default())
            }
            Err(e) => panic!("transport error after {} streams: {e}", streams.len()),
        }
        assert!(
            streams.len() <= 64,
            "more than 64 event streams were opened"
        );
    };
    assert_eq!(refused.0, 503, "{}", refused.1);
    assert!(refused.1.contains("event streams"), "{}", refused.1);
    assert_eq!(ping_within(&node, Duration::from_secs(3)), Ok(200));
    // A stream that ends gives its place back.
    drop(streams.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match node.req("GET", "/v1/events").call() {
            Ok(resp) => break streams.push(resp),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("a freed stream place was not given back: {e}"),
        }
    }
}

/// An import that drips a byte at a time, each within the read timeout,
/// is cut off by the minimum upload rate: it does not hold the one import
/// slot for ever.
#[test]
fn an_import_that_drips_bytes_is_cut_off() {
    let l = Ledger::new();
    let node = Node::start(&l, &["--read-timeout", "1"]);
    let mut s = TcpStream::connect(&node.address).expect("connect");
    write!(
        s,
        "POST /v1/import HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        node.auth()
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    while started.elapsed() < Duration::from_secs(8) {
        let _ = s.write_all(b"1\r\n{\r\n");
        let mut buf = [0u8; 1024];
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(_) => {}
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "after 8 s of dripping: {answer:?}"
    );
    // The import slot is free again.
    let (code, v) = node.call(node.req("POST", "/v1/import").send_string(&l.export()));
    assert_eq!(code, 200, "{v}");
}

/// A client with the token pipelines requests and never reads the answers:
/// once the node's writes make no progress for the read timeout, it lets
/// the connection go instead of holding its slot for ever. (What it wrote
/// before is still delivered: far less than all the answers.)
#[test]
fn a_client_that_never_reads_its_answers_is_let_go() {
    let l = Ledger::new();
    let node = Node::start(&l, &["--read-timeout", "1"]);
    let mut s = TcpStream::connect(&node.address).expect("connect");
    s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    let request = format!(
        "GET /v1/openapi.json HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
        node.auth()
    );
    // Answers far larger than the socket buffers, requests well within
    // the node's head limit.
    let sent = 400;
    s.write_all(request.repeat(sent).as_bytes()).expect("send");
    std::thread::sleep(Duration::from_secs(3));
    // What the node wrote before it gave up is still buffered; then EOF.
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let started = Instant::now();
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0usize;
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
        if started.elapsed() > Duration::from_secs(10) {
            break false;
        }
    };
    assert!(closed, "the connection was not closed");
    // Closed after its writes stalled, not after answering everything.
    let all = sent * sledger::node::routes::OPENAPI.len();
    assert!(
        got < all,
        "the node waited for a client that stopped reading: {got} of {all} bytes arrived"
    );
}
