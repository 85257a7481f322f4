//! `sledger node`: a real node on an ephemeral loopback port, driven
//! through the CLI (which must print what it prints without a node) and
//! through plain HTTP (every endpoint, auth, limits, bad input).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::kit::{Ledger, Node};
use serde_json::{json, Value};

/// A ledger with a few blocks, entries by two authors (one binary) and a
/// pending one.
fn populated() -> Ledger {
    let l = Ledger::new();
    l.ok(&["submit", "-a", "alice", "first entry"]);
    l.ok(&["submit", "-a", "bob", "second entry"]);
    l.ok(&["mine", "--continuous", "-n", "2"]);
    let bin = l.tmp.path().join("bin");
    std::fs::write(&bin, [0u8, 159, 146, 150, 255]).expect("write");
    l.ok(&["submit", "-a", "alice", "-f", bin.to_str().expect("utf-8")]);
    l.ok(&["mine", "--continuous", "-n", "1"]);
    l.ok(&["submit", "-a", "carol", "still pending"]);
    l
}

/// Exit code, stdout and stderr of a CLI run.
fn outcome(l: &Ledger, args: &[&str]) -> (Option<i32>, String, String) {
    let o = l.run(args);
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn the_cli_prints_the_same_through_a_node() {
    let l = populated();
    let tip = l.json(&["status"])["tip"]["hash"]
        .as_str()
        .expect("hash")
        .to_owned();
    let txid = l.json(&["txs", "-a", "alice"])["transactions"][0]["txid"]
        .as_str()
        .expect("txid")
        .to_owned();
    let missing = "ab".repeat(32);
    let commands: Vec<Vec<&str>> = vec![
        vec!["chain"],
        vec!["chain", "--limit", "2"],
        vec!["chain", "--from", "1", "--limit", "1"],
        vec!["chain", "--tips"],
        vec!["block", "1"],
        vec!["block", &tip],
        vec!["tx", &txid],
        vec!["txs", "-a", "alice"],
        vec!["txs", "-a", "alice", "--limit", "1"],
        vec!["txs", "-a", ".."],
        vec!["txs", "-a", "a/b?c&d=%2e#x"],
        vec!["pending"],
        vec!["verify"],
        vec!["export"],
        vec!["migrate"],
        // Failures: the same line and exit code.
        vec!["block", "999"],
        vec!["block", "zz"],
        vec!["block", &missing],
        vec!["tx", &missing],
        vec!["tx", "nothex"],
        vec!["chain", "--from", "999"],
        vec!["pending", "--limit", "10001"],
        vec!["txs", "-a", "alice", "--from", "x"],
        vec!["init"],
    ];
    let mut all = Vec::new();
    for c in &commands {
        all.push(c.clone());
        let mut j = vec!["--json"];
        j.extend_from_slice(c);
        all.push(j);
    }
    let before: Vec<_> = all.iter().map(|a| outcome(&l, a)).collect();
    let status_before = l.json(&["status"]);
    let node = Node::start(&l, &[]);
    for (args, want) in all.iter().zip(&before) {
        let got = outcome(&l, args);
        assert_eq!(&got, want, "sledger {args:?} differs through the node");
    }
    // Status: the same, apart from the size on disk.
    let mut status_after = l.json(&["status"]);
    let mut sb = status_before.clone();
    sb["disk_bytes"] = json!(0);
    status_after["disk_bytes"] = json!(0);
    assert_eq!(status_after, sb);
    assert!(status_after.get("node").is_none());
    let text = l.ok(&["status"]);
    assert!(
        text.contains("contents    4 blocks, 4 transactions, 1 pending"),
        "{text}"
    );
    drop(node);
}

#[test]
fn commands_that_change_the_ledger_go_through_the_node() {
    let l = Ledger::new();
    let other = populated();
    let export = other.tmp.path().join("export.jsonl");
    // A branch of this ledger cannot be imported into another: use the
    // other ledger's own export into a fresh directory through its node.
    other.ok(&["export", "-o", export.to_str().expect("utf-8")]);
    let node = Node::start(&l, &[]);
    let id = l.ok(&["submit", "-a", "dave", "through the node"]);
    let id = id.trim();
    assert_eq!(
        node.get(&format!("/v1/transactions/{id}")).1["status"],
        "pending"
    );
    let mined = l.ok(&["mine", "--continuous", "-n", "2"]);
    assert_eq!(mined.lines().count(), 2, "{mined}");
    assert!(mined.starts_with("mined block 1 "), "{mined}");
    let tx = l.json(&["tx", id]);
    assert_eq!(tx["status"], "confirmed");
    assert_eq!(tx["height"], 1);
    // The node's miner stopped by itself after the two blocks.
    assert_eq!(node.get("/v1/mining").1["active"], false);
    // Runs one after another each mine their own block.
    for expected in [3, 4, 5] {
        let out = l.ok(&["mine", "--continuous", "-n", "1"]);
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(
            out.starts_with(&format!("mined block {expected} ")),
            "{out}"
        );
    }
    assert_eq!(l.json(&["status"])["tip"]["height"], 5);
    // An export of another chain is refused (another genesis): the node
    // answers with the same line the CLI gives without a node.
    let err = l.fails(&["import", export.to_str().expect("utf-8")], "line 1");
    assert!(err.contains("genesis"), "{err}");
    // Export through the node, then import it into a new ledger.
    let mine_export = l.tmp.path().join("mine.jsonl");
    l.ok(&["export", "-o", mine_export.to_str().expect("utf-8")]);
    let copy = Ledger::empty();
    let out = copy.json(&["import", mine_export.to_str().expect("utf-8")]);
    assert_eq!(out["imported"], 6);
    // Importing the same export through the node: all present already.
    let again = l.json(&["import", mine_export.to_str().expect("utf-8")]);
    assert_eq!(again["imported"], 0);
    assert_eq!(again["already_present"], 6);
    // A second node on the same ledger is refused while this one runs.
    let out = l.run(&["node", "--port", "0"]);
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("a node (at "), "{e}");
    drop(node);
}

#[test]
fn every_endpoint_answers_json_and_checks_the_token() {
    let l = populated();
    let node = Node::start(&l, &[]);
    let st = node.get("/v1/status");
    assert_eq!(st.0, 200);
    assert_eq!(st.1["node"]["pid"], node.pid());
    let tip = st.1["tip"]["hash"].as_str().expect("hash").to_owned();
    let (_, txs) = node.get("/v1/transactions?author=alice&limit=1");
    let txid = txs["transactions"][0]["txid"]
        .as_str()
        .expect("txid")
        .to_owned();
    assert_eq!(txs["next_from"], "3.0");

    // Every path the OpenAPI document lists answers (with its parameters
    // filled in), and the document is what the node serves.
    let (code, served) = node.get("/v1/openapi.json");
    assert_eq!(code, 200);
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json"))
            .expect("docs/openapi.json"),
    )
    .expect("JSON");
    assert_eq!(served, doc);
    let paths = doc["paths"].as_object().expect("paths");
    let mut submitted = None;
    assert!(paths.len() >= 16);
    for (path, ops) in paths {
        let concrete = path
            .replace("{txid}", &txid)
            .replace("{block}", &tip)
            .replace("{author}", "alice")
            .replace("{peer_id}", &libp2p::PeerId::random().to_string());
        for method in ops.as_object().expect("ops").keys() {
            let m = method.to_uppercase();
            let concrete = if m == "GET" && path == "/v1/transactions" {
                format!("{concrete}?author=alice")
            } else {
                concrete.clone()
            };
            let resp = match (m.as_str(), path.as_str()) {
                ("POST", "/v1/transactions") => node
                    .req("POST", &concrete)
                    .send_json(json!({"author": "erin", "data": "via http"})),
                ("POST", "/v1/import") => {
                    let export = l.ok(&["export"]);
                    node.req("POST", &concrete).send_string(&export)
                }
                ("POST", "/v1/mining/start") => node
                    .req("POST", &concrete)
                    .send_json(json!({"blocks": 1, "threads": 1, "continuous": true})),
                ("POST", "/v1/peers") => node
                    .req("POST", &concrete)
                    .send_json(json!({"address": "127.0.0.1:9"})),
                ("GET", "/v1/events") => {
                    // Headers first; the stream itself is tested below.
                    let r = node.req("GET", &concrete).call().expect("events");
                    assert_eq!(r.content_type(), "text/event-stream");
                    continue;
                }
                ("GET", "/v1/identity") => {
                    // The one endpoint without a token.
                    let c = [9u8; 32];
                    let url = node.url(&format!("{concrete}?challenge={}", hex::encode(c)));
                    let (code, body) = node.call(ureq::get(&url).call());
                    assert_eq!(code, 200, "{body}");
                    let proof = body["proof"].as_str().expect("proof");
                    assert!(sledger::node::identity::is_proof(&node.token, &c, proof));
                    continue;
                }
                ("GET", "/v1/export") => {
                    let r = node.req("GET", &concrete).call().expect("export");
                    assert_eq!(r.content_type(), "application/x-ndjson");
                    let body = r.into_string().expect("body");
                    assert_eq!(body, l.ok(&["export"]));
                    continue;
                }
                _ => node.req(&m, &concrete).call(),
            };
            let (code, body) = node.call(resp);
            // This node runs without the network (tests/network.rs has it).
            let want = if path.starts_with("/v1/peers") {
                409
            } else {
                200
            };
            assert_eq!(code, want, "{m} {concrete}: {body}");
            if path == "/v1/transactions" {
                submitted = body["txid"].as_str().map(str::to_owned);
            }
            // Without the token, and with a wrong one: 401 and JSON.
            for auth in [
                None,
                Some("Bearer nope"),
                Some(&*format!("Basic {}", node.token)),
            ] {
                let mut r = ureq::request(&m, &node.url(&concrete));
                if let Some(a) = auth {
                    r = r.set("Authorization", a);
                }
                let (code, body) = node.call(r.call());
                assert_eq!(code, 401, "{m} {concrete} with {auth:?}");
                assert!(body["error"].as_str().expect("error").contains("token"));
            }
        }
    }
    // The submit above reached the ledger.
    let id = submitted.expect("POST /v1/transactions was tried");
    let (code, tx) = node.get(&format!("/v1/transactions/{id}"));
    assert_eq!((code, &tx["author"]), (200, &json!("erin")));
    drop(node);
}

#[test]
fn bad_requests_get_a_json_4xx() {
    let l = populated();
    let node = Node::start(&l, &["--read-timeout", "1"]);
    let cases: Vec<(&str, &str, Option<String>, u16, &str)> = vec![
        ("GET", "/v1/nope", None, 404, "no such endpoint"),
        ("GET", "/nowhere", None, 404, "no such endpoint"),
        ("DELETE", "/v1/status", None, 405, "not allowed"),
        ("PUT", "/v1/transactions", None, 405, "not allowed"),
        (
            "GET",
            "/v1/transactions",
            None,
            400,
            "\"author\" is missing",
        ),
        (
            "POST",
            "/v1/transactions",
            Some("{bad".into()),
            400,
            "malformed JSON",
        ),
        (
            "POST",
            "/v1/transactions",
            Some("[]".into()),
            400,
            "malformed JSON",
        ),
        (
            "POST",
            "/v1/transactions",
            Some(r#"{"author":"a"}"#.into()),
            400,
            "exactly one of data",
        ),
        (
            "POST",
            "/v1/transactions",
            Some(r#"{"author":"a","data":"x","extra":1}"#.into()),
            400,
            "unknown field",
        ),
        (
            "POST",
            "/v1/transactions",
            Some(r#"{"author":"a","data_hex":"zz"}"#.into()),
            400,
            "not hex",
        ),
        (
            "POST",
            "/v1/transactions",
            Some(r#"{"author":"","data":"x"}"#.into()),
            400,
            "author",
        ),
        (
            "POST",
            "/v1/transactions",
            Some(format!(
                r#"{{"author":"a","data":"{}"}}"#,
                "x".repeat(70_000)
            )),
            400,
            "data",
        ),
        ("GET", "/v1/pending?limit=10001", None, 400, "at most 10000"),
        ("GET", "/v1/pending?limit=-1", None, 400, "whole number"),
        (
            "GET",
            "/v1/pending?bogus=1",
            None,
            400,
            "unknown query parameter",
        ),
        ("GET", "/v1/pending?from=1&from=2", None, 400, "twice"),
        ("GET", "/v1/pending?from=%zz", None, 400, "malformed query"),
        (
            "GET",
            "/v1/chain?from=999",
            None,
            404,
            "no block at height 999",
        ),
        ("GET", "/v1/blocks/999", None, 404, "no block at height 999"),
        (
            "GET",
            "/v1/blocks/xyz",
            None,
            400,
            "malformed block reference",
        ),
        (
            "GET",
            "/v1/blocks/99999999999999999999999",
            None,
            400,
            "out of range",
        ),
        (
            "GET",
            "/v1/transactions/abc",
            None,
            400,
            "malformed transaction id",
        ),
        (
            "GET",
            "/v1/transactions?author=alice&from=1",
            None,
            400,
            "HEIGHT.INDEX",
        ),
        (
            "POST",
            "/v1/mining/start",
            Some(r#"{"threads":0}"#.into()),
            400,
            "threads",
        ),
        (
            "POST",
            "/v1/mining/start",
            Some(r#"{"checkpoint_every":0}"#.into()),
            400,
            "checkpoint",
        ),
        (
            "POST",
            "/v1/import?name=x.jsonl",
            Some("not json\n".into()),
            400,
            "x.jsonl: line 1",
        ),
        (
            "POST",
            "/v1/import",
            Some(String::new()),
            400,
            "holds no blocks",
        ),
    ];
    for (m, path, body, want, needle) in cases {
        let r = node.req(m, path);
        let r = match &body {
            Some(b) => r.set("Content-Type", "application/json").send_string(b),
            None => r.call(),
        };
        let (code, v) = node.call(r);
        let e = v["error"].as_str().unwrap_or_default();
        assert_eq!(code, want, "{m} {path}: {v}");
        assert!(e.contains(needle), "{m} {path}: {e:?} lacks {needle:?}");
    }
    // A transaction submitted twice: 409.
    let first = node.post("/v1/transactions", json!({"author": "a", "data": "once"}));
    assert_eq!(first.0, 200);
    // (the node stamps the time, so the same text is a new transaction;
    // the conflict is for a txid already known, tested in the store)

    // A body over the limit is refused on its announced length, before it
    // is sent (a client that sends it anyway may see the connection close).
    let mut s = TcpStream::connect(&node.address).expect("connect");
    write!(
        s,
        "POST /v1/transactions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        node.token,
        2 << 20
    )
    .expect("write");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut head = [0u8; 12];
    s.read_exact(&mut head).expect("an answer");
    assert_eq!(&head, b"HTTP/1.1 413");
    // A slow client: a request head that never ends is cut off.
    let mut s = TcpStream::connect(&node.address).expect("connect");
    s.write_all(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let t = Instant::now();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(
        t.elapsed() < Duration::from_secs(9),
        "the slow client was not cut off"
    );
    // A slow body: promised but not sent.
    let buf = node.raw(&format!(
        "POST /v1/transactions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"au",
        node.token
    ));
    assert!(buf.starts_with("HTTP/1.1 408"), "{buf}");
    // Oversize headers: refused, and the node goes on serving.
    let mut s = TcpStream::connect(&node.address).expect("connect");
    let big = "x".repeat(100 << 10);
    let _ = write!(
        s,
        "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n"
    );
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    assert!(buf.starts_with("HTTP/1.1 431"), "{buf}");
    assert_eq!(node.get("/v1/status").0, 200);
    drop(node);
}

/// Reads server-sent events until `n` of kind `kind` arrived.
fn read_events(r: impl Read, kind: &str, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut event = String::new();
    for line in BufReader::new(r).lines() {
        let line = line.expect("event line");
        if let Some(e) = line.strip_prefix("event: ") {
            event = e.to_owned();
        } else if let Some(d) = line.strip_prefix("data: ") {
            if event == kind {
                out.push(serde_json::from_str(d).expect("event data is JSON"));
                if out.len() == n {
                    break;
                }
            }
        }
    }
    out
}

#[test]
fn submits_reach_the_search_under_way_and_events_stream_sealed_blocks() {
    // About a second a block on one SHA-NI core.
    let l = Ledger::with_init(&["--difficulty", "26", "--fixed-difficulty"]);
    let node = Node::start(&l, &["--mine", "--continuous", "--threads", "1"]);
    let mining = || node.get("/v1/mining").1;
    let wait_until = |what: &str, f: &dyn Fn() -> bool| {
        let end = Instant::now() + Duration::from_secs(30);
        while !f() {
            assert!(Instant::now() < end, "gave up waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_until("the first template", &|| mining()["template"].is_object());
    // A submit restarts the search under way on a template that holds the
    // entry, without waiting for the block or the 30 s refresh. If a block
    // is sealed in between, the template moved on anyway: try again.
    let mut done = None;
    for attempt in 0..10 {
        let before = mining();
        let (height, entries) = (
            before["template"]["height"].as_u64().expect("height"),
            before["template"]["transaction_count"]
                .as_u64()
                .expect("count"),
        );
        let searches = before["searches"].as_u64().expect("searches");
        let (code, sub) = node.post(
            "/v1/transactions",
            json!({"author": "zed", "data": format!("attempt {attempt}")}),
        );
        assert_eq!(code, 200);
        wait_until("a new search", &|| {
            mining()["searches"].as_u64().expect("searches") > searches
        });
        let after = mining();
        if after["template"]["height"] == height {
            assert_eq!(
                after["template"]["transaction_count"],
                entries + 1,
                "{after}"
            );
            done = Some((height, sub["txid"].as_str().expect("txid").to_owned()));
            break;
        }
    }
    let (height, txid) = done.expect("ten blocks in a row beat a restart");
    // And that block, when sealed, holds it; its event arrives on the stream.
    let events = node.req("GET", "/v1/events").call().expect("events");
    assert_eq!(events.content_type(), "text/event-stream");
    let mut r = events.into_reader();
    wait_until("the entry's block", &|| {
        node.get(&format!("/v1/transactions/{txid}")).1["status"] == "confirmed"
    });
    let (_, tx) = node.get(&format!("/v1/transactions/{txid}"));
    assert_eq!(tx["height"], height, "{tx}");
    let next = read_events(&mut r, "block", 1);
    assert!(
        next[0]["height"].as_u64().expect("height") >= height,
        "{next:?}"
    );
    assert_eq!(next[0]["difficulty"], 26);
    let (_, stopped) = node.post("/v1/mining/stop", json!({}));
    assert_eq!(stopped["active"], false);
    assert!(stopped["mined"].as_u64().expect("mined") >= 1);
    drop(node);
}

#[test]
fn sigterm_checkpoints_the_search_and_removes_the_cookie() {
    // About a second a block on one core: stopped mid-search.
    let l = Ledger::with_init(&["--difficulty", "26", "--fixed-difficulty"]);
    assert!(!l.dir.join("node.cookie").exists());
    let mut node = Node::start(&l, &["--mine", "--continuous", "--threads", "1"]);
    assert!(l.dir.join("node.cookie").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(l.dir.join("node.cookie"))
            .expect("cookie")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the cookie is readable by others: {mode:o}"
        );
    }
    std::thread::sleep(Duration::from_millis(700));
    let status = node.stop();
    assert!(status.success(), "{status}: {}", node.stderr());
    assert!(node.stderr().contains("stopped"), "{}", node.stderr());
    assert!(!l.dir.join("node.cookie").exists());
    // The search was checkpointed: the next run resumes it.
    let out = l.run(&["mine", "--continuous", "-n", "1", "--threads", "1"]);
    assert!(out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("resuming the search for block "), "{e}");
    assert!(e.contains("from its checkpoint"), "{e}");
}

#[test]
fn a_killed_node_leaves_a_store_the_cli_and_the_next_node_open() {
    let l = Ledger::new();
    let mut node = Node::start(&l, &["--mine", "--continuous", "--threads", "1"]);
    let mut ids = Vec::new();
    for i in 0..20 {
        let (code, v) = node.post(
            "/v1/transactions",
            json!({"author": "k", "data": format!("entry {i}")}),
        );
        assert_eq!(code, 200);
        ids.push(v["txid"].as_str().expect("txid").to_owned());
    }
    node.kill();
    assert!(
        l.dir.join("node.cookie").exists(),
        "a killed node cannot remove its cookie"
    );
    // The CLI sees that the cookie is stale, says so, and works on the store.
    let out = l.run(&["verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("stale node cookie"), "{e}");
    assert!(!l.dir.join("node.cookie").exists());
    for id in &ids {
        let s = l.json(&["tx", id])["status"].clone();
        assert!(s == "confirmed" || s == "pending", "{id}: {s}");
    }
    // A garbled cookie is stale too when the store opens.
    std::fs::write(l.dir.join("node.cookie"), "garbage").expect("write");
    let out = l.run(&["status"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("damaged node cookie"));
    assert!(!l.dir.join("node.cookie").exists());
    // A spooled import a killed node left behind is removed by the next.
    std::fs::write(l.dir.join("import.1.abcd.partial"), "half").expect("write");
    // A node started over a stale cookie replaces it.
    std::fs::write(
        l.dir.join("node.cookie"),
        r#"{"address":"127.0.0.1:9","token":"00","pid":1}"#,
    )
    .expect("write");
    let node = Node::start(&l, &[]);
    assert!(
        node.stderr().contains("replacing a stale node cookie"),
        "{}",
        node.stderr()
    );
    assert_eq!(node.get("/v1/status").0, 200);
    assert!(!l.dir.join("import.1.abcd.partial").exists());
    drop(node);
}

#[test]
fn listening_beyond_loopback_needs_a_flag_and_says_so() {
    let l = Ledger::new();
    let out = l.run(&["node", "--port", "0", "--bind", "0.0.0.0"]);
    assert_eq!(out.status.code(), Some(2), "bad usage");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("not a loopback address"), "{e}");
    assert!(e.contains("--allow-remote"), "{e}");
    assert!(!l.dir.join("node.cookie").exists());
    let node = Node::start(&l, &["--bind", "0.0.0.0", "--allow-remote"]);
    assert!(node.stderr().contains("WARNING"), "{}", node.stderr());
    drop(node);
}

#[test]
fn an_import_that_moves_the_tip_does_not_stop_the_miner() {
    // About 15 ms a block on one core.
    let l = Ledger::with_init(&["--difficulty", "20", "--fixed-difficulty"]);
    let base = l.path("base.jsonl");
    l.ok(&["export", "-o", base.to_str().expect("utf-8")]);
    // A copy with the same genesis and a much longer chain.
    let other = Ledger::empty();
    other.ok(&["import", base.to_str().expect("utf-8")]);
    // Long enough that the node, mining meanwhile, cannot catch up under load.
    other.ok(&["mine", "--continuous", "-n", "400"]);
    let longer = other.path("longer.jsonl");
    other.ok(&["export", "-o", longer.to_str().expect("utf-8")]);
    let node = Node::start(&l, &["--mine", "--continuous", "--threads", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    // The import switches the node to the longer chain while its miner
    // searches on the old tip; what it seals there no longer fits.
    let imported = l.json(&["import", longer.to_str().expect("utf-8")]);
    assert_eq!(imported["reorganized"], true, "{imported}");
    let tip = imported["tip"]["height"].as_u64().expect("height");
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, m) = node.get("/v1/mining");
        assert_eq!(m["active"], true, "the miner stopped: {m}");
        let (_, s) = node.get("/v1/status");
        if s["tip"]["height"].as_u64().expect("height") > tip {
            break;
        }
        assert!(Instant::now() < end, "no block on the new tip");
        std::thread::sleep(Duration::from_millis(20));
    }
    l.ok(&["verify"]);
    drop(node);
}

/// A node mining while `verify` runs, again and again, over HTTP and through
/// the CLI: every run sees one consistent ledger and calls it valid.
#[test]
fn verify_while_the_node_mines_sees_one_consistent_ledger() {
    let l = Ledger::new();
    let node = Node::start(&l, &["--mine", "--continuous", "--threads", "1"]);
    let start = Instant::now();
    while node.get("/v1/status").1["tip"]["height"]
        .as_u64()
        .unwrap_or(0)
        < 20
    {
        assert!(start.elapsed() < Duration::from_secs(60), "the node mines");
        std::thread::sleep(Duration::from_millis(20));
    }
    for i in 0..15 {
        let (status, v) = node.post("/v1/verify", serde_json::json!({}));
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["valid"], true, "run {i}: {v}");
        l.ok(&["submit", "--author", "a", &format!("entry {i}")]);
    }
    for i in 0..5 {
        let out = l.run(&["verify"]);
        assert!(out.status.success(), "run {i}: {:?}", out);
    }
    drop(node);
}

/// `/v1/identity` answers without a token, with a proof only the token's
/// holder can give; the token's scheme name is read in any case.
#[test]
fn the_node_proves_it_holds_the_token_without_sending_it() {
    let l = Ledger::new();
    let node = Node::start(&l, &[]);
    let challenge = [0x5au8; 32];
    let url = node.url(&format!(
        "/v1/identity?challenge={}",
        hex::encode(challenge)
    ));
    let (code, v) = node.call(ureq::get(&url).call());
    assert_eq!(code, 200, "{v}");
    let proof = v["proof"].as_str().expect("proof");
    assert!(sledger::node::identity::is_proof(
        &node.token,
        &challenge,
        proof
    ));
    assert!(!proof.contains(&node.token));
    for bad in ["", "?challenge=00", "?challenge=zz", "?nonce=00"] {
        let (code, v) = node.call(ureq::get(&node.url(&format!("/v1/identity{bad}"))).call());
        assert_eq!(code, 400, "{bad}: {v}");
    }
    for scheme in ["bearer", "BEARER", "Bearer", "bEaReR"] {
        let r = ureq::get(&node.url("/v1/ping"))
            .set("Authorization", &format!("{scheme} {}", node.token))
            .call();
        assert_eq!(node.call(r).0, 200, "{scheme}");
    }
    let r = ureq::get(&node.url("/v1/ping"))
        .set("Authorization", &format!("Basic {}", node.token))
        .call();
    assert_eq!(node.call(r).0, 401);
}

/// `timeout` signals the process and then its group: the repeat is the same
/// stop, so the node still drains, checkpoints and removes its cookie.
#[test]
fn a_repeated_sigterm_within_the_grace_period_is_one_clean_stop() {
    let l = Ledger::new();
    let mut node = Node::start(&l, &["--mine", "--continuous", "--threads", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    let status = node.stop_twice();
    assert_eq!(status.code(), Some(0), "{}", node.stderr());
    assert!(!l.dir.join("node.cookie").exists(), "{}", node.stderr());
}

/// Request bodies are read as strictly as export lines (#13.7): an array
/// is not an object, `null` is not absent, a key may not repeat, and
/// integers are plain digits. Each is a 400 that changes nothing.
#[test]
fn json_bodies_are_read_strictly() {
    let l = Ledger::new();
    let node = Node::start(&l, &[]);
    let cases: Vec<(&str, &str, &str)> = vec![
        ("/v1/mining/start", "[]", "object"),
        ("/v1/mining/start", "[1]", "object"),
        ("/v1/mining/start", "null", "object"),
        ("/v1/mining/start", "\u{c}", "malformed JSON"),
        ("/v1/mining/start", r#"{"blocks":null}"#, "blocks"),
        ("/v1/mining/start", r#"{"blocks":1.0}"#, "blocks"),
        ("/v1/mining/start", r#"{"blocks":1e0}"#, "blocks"),
        ("/v1/mining/start", r#"{"blocks":-0}"#, "blocks"),
        (
            "/v1/mining/start",
            r#"{"threads":1,"threads":1}"#,
            "threads",
        ),
        ("/v1/transactions", r#"["a","x"]"#, "object"),
        (
            "/v1/transactions",
            r#"{"author":"a","data":"x","data_hex":null}"#,
            "data_hex",
        ),
        (
            "/v1/transactions",
            r#"{"author":"a","data":null,"data_hex":"00"}"#,
            "data",
        ),
        (
            "/v1/transactions",
            r#"{"author":"a","author":"b","data":"x"}"#,
            "author",
        ),
        (
            "/v1/transactions",
            "\u{feff}{\"author\":\"a\",\"data\":\"x\"}",
            "JSON",
        ),
        (
            "/v1/transactions",
            r#"{"author":"a","data_hex":"0x00"}"#,
            "data_hex",
        ),
        (
            "/v1/transactions",
            r#"{"author":"a","data_hex":"000"}"#,
            "data_hex",
        ),
    ];
    for (path, body, needle) in cases {
        let r = node
            .req("POST", path)
            .set("Content-Type", "application/json")
            .send_string(body);
        let (code, v) = node.call(r);
        let e = v["error"].as_str().unwrap_or_default();
        assert_eq!(code, 400, "POST {path} {body:?}: {v}");
        assert!(
            e.contains(needle),
            "POST {path} {body:?}: {e:?} lacks {needle:?}"
        );
        assert_eq!(
            node.get("/v1/mining").1["active"],
            false,
            "{body:?} started mining"
        );
        assert_eq!(
            node.get("/v1/pending").1["pending_count"],
            0,
            "{body:?} was submitted"
        );
    }
    // An empty body (or JSON whitespace) is `{}`; upper-case hex is read.
    let (code, v) = node.post(
        "/v1/transactions",
        json!({"author": "a", "data_hex": "FF00"}),
    );
    assert_eq!(code, 200, "{v}");
    let (code, v) = node.call(node.req("POST", "/v1/mining/stop").send_string(" \r\n\t"));
    assert_eq!(code, 200, "{v}");
}

/// The node answers as docs/API.md and the OpenAPI document say (#13.8):
/// a leading `+` is not a number, a malformed chunk is a 400 (not 413),
/// and an import whose block breaks a rule is a 422.
#[test]
fn query_numbers_chunks_and_import_statuses() {
    let l = Ledger::new();
    let other = Ledger::new();
    let node = Node::start(&l, &[]);
    for path in [
        "/v1/pending?limit=%2B5",
        "/v1/chain?from=%2B0",
        "/v1/transactions?author=a&from=%2B0.0",
        "/v1/transactions?author=a&from=0.%2B0",
    ] {
        let (code, v) = node.get(path);
        assert_eq!(code, 400, "{path}: {v}");
    }
    let r = node
        .req("POST", "/v1/import?name=other.jsonl")
        .send_string(&other.export());
    let (code, v) = node.call(r);
    assert_eq!(code, 422, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("other.jsonl: line 1"),
        "{v}"
    );
    let buf = node.raw(&format!(
        "POST /v1/mining/start HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n",
        node.token
    ));
    assert!(buf.starts_with("HTTP/1.1 400"), "{buf}");
    assert_eq!(node.get("/v1/mining").1["active"], false);
}

/// The OpenAPI document states the node's own bounds and rules (#13.8).
#[test]
fn the_openapi_document_states_the_nodes_rules() {
    let d: Value = serde_json::from_str(sledger::node::routes::OPENAPI).unwrap();
    let s = &d["components"]["schemas"];
    let mine = &s["MineRequest"]["properties"];
    let every = sledger::bounds::CHECKPOINT_EVERY;
    assert_eq!(
        mine["checkpoint_every"]["maximum"].as_f64(),
        Some(every.max)
    );
    assert_eq!(
        mine["checkpoint_every"]["minimum"].as_f64(),
        Some(every.min)
    );
    for f in ["blocks", "threads", "checkpoint_every"] {
        assert!(mine[f].get("nullable").is_none(), "{f}: null is refused");
    }
    assert_eq!(
        s["SubmitRequest"]["oneOf"].as_array().map(Vec::len),
        Some(2)
    );
    let p = &d["paths"];
    let block = &p["/v1/blocks/{block}"]["get"]["parameters"][0]["schema"];
    assert_eq!(block["pattern"], "^(tip|[0-9]{1,63}|[0-9a-fA-F]{4,64})$");
    for path in ["/v1/pending", "/v1/chain"] {
        let from = &p[path]["get"]["parameters"][0];
        assert_eq!(from["name"], "from");
        assert_eq!(from["schema"]["maximum"].as_u64(), Some(u64::MAX), "{path}");
        assert!(from["schema"].get("format").is_none(), "{path}: not int64");
    }
}
