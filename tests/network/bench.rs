//! The network's figures for BENCHMARKS.md, measured in one run each:
//! initial sync against `import` of the same chain, headers per second,
//! peak memory against chain length, and block propagation along a line
//! of five nodes. Ignored by default (minutes of mining); run with
//!
//! ```text
//! cargo test --release --test tests network::bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! `SLEDGER_SYNC_BENCH_BLOCKS` sets the long chain (default 100,000).

use std::io::BufRead;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{eventually, peak_rss_kib, peer_node, tip};
use crate::kit::{Ledger, Node};

/// One sync of `fresh` from `peers`: seconds to the peers' tip, seconds
/// until every header was checked, peak RSS in KiB.
fn sync_once(fresh: &Ledger, peers: &[&Node], window: Option<&str>) -> (f64, f64, u64) {
    let end = tip(peers[0]);
    let mut extra = Vec::new();
    if let Some(w) = window {
        extra.extend(["--sync-window", w]);
    }
    let started = Instant::now();
    let mut f = peer_node(fresh, peers, &extra);
    let mut headers_done = None;
    eventually("the fresh copy syncs", Duration::from_secs(1800), || {
        let (_, s) = f.get("/v1/status");
        let sync = &s["node"]["network"]["sync"];
        if headers_done.is_none() && sync["header_height"].as_u64() >= Some(end.0) {
            headers_done = Some(started.elapsed());
        }
        s["tip"]["hash"] == end.1.as_str()
    });
    let took = started.elapsed().as_secs_f64();
    let rss = peak_rss_kib(f.pid());
    assert!(f.stop().success());
    // The same store opened by an idle node: what sled itself holds.
    let mut idle = peer_node(fresh, &[], &[]);
    let _ = idle.get("/v1/status");
    std::thread::sleep(Duration::from_secs(1));
    let idle_rss = peak_rss_kib(idle.pid());
    assert!(idle.stop().success());
    println!(
        "  peak RSS {} MiB syncing, {} MiB idle on the synced store",
        rss / 1024,
        idle_rss / 1024
    );
    let headers = headers_done.map_or(took, |d| d.as_secs_f64());
    (took, headers, rss)
}

#[test]
#[ignore = "benchmark: minutes of mining; see the module doc"]
fn sync_against_import_and_memory_against_length() {
    let long: u64 = std::env::var("SLEDGER_SYNC_BENCH_BLOCKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let short = long / 10;
    let origin = Ledger::new();
    let copies: Vec<Ledger> = (0..6).map(|_| Ledger::copy_of(&origin)).collect();
    let (la, imported, one, two, small) = (&origin, &copies[0], &copies[1], &copies[2], &copies[3]);
    let small_peer = &copies[4];
    small_peer.ok(&["mine", "--continuous", "-n", &short.to_string()]);
    la.ok(&["mine", "--continuous", "-n", &long.to_string()]);
    let lb = Ledger::copy_of(la);

    let export = la.path("chain.jsonl");
    la.ok(&["export", "-o", export.to_str().expect("path")]);
    let started = Instant::now();
    let mut child = std::process::Command::new(crate::kit::bin())
        .arg("--data-dir")
        .arg(&imported.dir)
        .args(["import", export.to_str().expect("path")])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("import");
    // Its peak memory, read while it runs (a reaped process has none).
    let mut import_rss = 0;
    while child.try_wait().expect("wait").is_none() {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
            if let Some(kb) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                import_rss = import_rss.max(kb);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let import_s = started.elapsed().as_secs_f64();

    let a = peer_node(la, &[], &[]);
    let b = peer_node(&lb, &[], &[]);
    let (one_s, one_headers_s, one_rss) = sync_once(one, &[&a], None);
    let (two_s, two_headers_s, two_rss) = sync_once(two, &[&a, &b], None);
    let (_, ahead_headers_s, _) = sync_once(&copies[5], &[&a], Some("1000000"));
    drop((a, b));
    let s = peer_node(small_peer, &[], &[]);
    let (small_s, _, small_rss) = sync_once(small, &[&s], None);
    drop(s);

    let rate = |n: u64, s: f64| n as f64 / s;
    println!(
        "import of {long} blocks: {import_s:.1} s ({:.0} blocks/s), peak RSS about {} MiB",
        rate(long, import_s),
        import_rss / 1024
    );
    println!(
        "sync from one peer: {one_s:.1} s ({:.0} blocks/s, {:.2}x import); every header checked after {one_headers_s:.1} s ({:.0} headers/s); peak RSS {} MiB",
        rate(long, one_s),
        import_s / one_s,
        rate(long, one_headers_s),
        one_rss / 1024
    );
    println!(
        "sync from two peers: {two_s:.1} s ({:.0} blocks/s, {:.2}x import); every header checked after {two_headers_s:.1} s ({:.0} headers/s); peak RSS {} MiB",
        rate(long, two_s),
        import_s / two_s,
        rate(long, two_headers_s),
        two_rss / 1024
    );
    println!(
        "headers phase with --sync-window 1000000 (headers run ahead of bodies): every header checked after {ahead_headers_s:.2} s ({:.0} headers/s)",
        rate(long, ahead_headers_s)
    );
    println!(
        "sync of {short} blocks from one peer: {small_s:.1} s, peak RSS {} MiB; {long} blocks / {short} blocks peak RSS: {:.2}x",
        small_rss / 1024,
        one_rss as f64 / small_rss as f64
    );
}

/// Reads server-sent events from `r` and sends each `block` event's
/// height with the instant it arrived, until the stream ends.
fn follow_blocks(r: impl std::io::Read, out: std::sync::mpsc::Sender<(u64, Instant)>) {
    let mut event = String::new();
    for line in std::io::BufReader::new(r).lines() {
        let Ok(line) = line else { return };
        if let Some(e) = line.strip_prefix("event: ") {
            event = e.to_owned();
        } else if let Some(data) = line.strip_prefix("data: ") {
            if event == "block" {
                let v: Value = serde_json::from_str(data).expect("event JSON");
                let h = v["height"].as_u64().expect("height");
                if out.send((h, Instant::now())).is_err() {
                    return;
                }
            }
        }
    }
}

#[test]
#[ignore = "benchmark: a minute of mining; see the module doc"]
fn block_propagation_along_a_line_of_five() {
    const BLOCKS: u64 = 100;
    let first = Ledger::with_init(&["--difficulty", "18", "--fixed-difficulty"]);
    let mut ledgers: Vec<Ledger> = (1..5).map(|_| Ledger::copy_of(&first)).collect();
    ledgers.insert(0, first);
    let mut nodes: Vec<Node> = vec![peer_node(&ledgers[0], &[], &[])];
    for l in &ledgers[1..] {
        let before = nodes.last().expect("a node");
        let next = peer_node(l, &[before], &[]);
        nodes.push(next);
    }
    // Let the gossip mesh form before the first block.
    std::thread::sleep(Duration::from_secs(3));
    let events = nodes[0].req("GET", "/v1/events").call().expect("events");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || follow_blocks(events.into_reader(), tx));
    let (code, v) = nodes[0].post(
        "/v1/mining/start",
        json!({"threads": 1, "blocks": BLOCKS, "continuous": true}),
    );
    assert_eq!(code, 200, "{v}");
    let mut arrived = std::collections::HashMap::new();
    let mut last_height = 0;
    let end = Instant::now() + Duration::from_secs(600);
    while last_height < BLOCKS && Instant::now() < end {
        let (h, _) = tip(&nodes[4]);
        let now = Instant::now();
        for height in last_height + 1..=h {
            arrived.insert(height, now);
        }
        last_height = last_height.max(h);
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut delays: Vec<f64> = rx
        .try_iter()
        .filter_map(|(h, sealed)| {
            arrived
                .get(&h)
                .map(|at| at.saturating_duration_since(sealed).as_secs_f64() * 1e3)
        })
        .collect();
    delays.sort_by(f64::total_cmp);
    assert!(!delays.is_empty(), "no block was seen at both ends");
    let pct = |p: f64| delays[((delays.len() - 1) as f64 * p).round() as usize];
    println!(
        "propagation from sealing to the fifth node, {} blocks: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        delays.len(),
        pct(0.5),
        pct(0.99),
        delays[delays.len() - 1]
    );
}
