//! Load on a node (loopback only, bounded): 8 clients submit transactions
//! over HTTP while the node mines; afterwards every acknowledged
//! transaction is in a block or pending, exactly once. Prints throughput
//! and latency percentiles against a reference measured in the same run:
//! the same number of `Store::submit` calls in this process (one
//! transaction and flush each, no HTTP).
//!
//! `cargo test --release --test tests node_load -- --nocapture` runs 800
//! submissions; `SLEDGER_LOAD_TXS=10000` runs the full load of
//! BENCHMARKS.md.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::kit::{Ledger, Node};
use serde_json::{json, Value};

const CLIENTS: usize = 8;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[test]
fn eight_clients_submit_while_the_node_mines_and_nothing_is_lost_or_doubled() {
    let total: usize = std::env::var("SLEDGER_LOAD_TXS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(800);
    let per_client = total.div_ceil(CLIENTS);

    // Reference: the same submissions straight into a store.
    let reference = Ledger::with_init(&["--difficulty", "8", "--fixed-difficulty"]);
    let ref_rate = {
        let store = sledger::store::Store::open(&reference.dir).expect("open");
        let t = Instant::now();
        for i in 0..per_client * CLIENTS {
            let tx = sledger::consensus::Transaction::new(
                format!("client-{}", i % CLIENTS),
                sledger::time::now_ms(),
                format!("entry {i}").into_bytes(),
            )
            .expect("tx");
            store.submit(&tx).expect("submit");
        }
        (per_client * CLIENTS) as f64 / t.elapsed().as_secs_f64()
    };

    let l = Ledger::with_init(&["--difficulty", "20", "--fixed-difficulty"]);
    let mut node = Node::start(&l, &["--mine", "--continuous", "--threads", "1"]);
    let (address, auth) = (node.address.clone(), node.auth());

    let started = Instant::now();
    let results: Vec<(Vec<String>, Vec<Duration>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (address, auth) = (address.clone(), auth.clone());
                s.spawn(move || {
                    let agent = ureq::AgentBuilder::new()
                        .timeout(Duration::from_secs(60))
                        .build();
                    let url = format!("http://{address}/v1/transactions");
                    let mut ids = Vec::with_capacity(per_client);
                    let mut lat = Vec::with_capacity(per_client);
                    for i in 0..per_client {
                        let t = Instant::now();
                        let r: Value = agent
                            .post(&url)
                            .set("Authorization", &auth)
                            .send_json(json!({
                                "author": format!("client-{c}"),
                                "data": format!("entry {i} of client {c}"),
                            }))
                            .expect("submit acknowledged")
                            .into_json()
                            .expect("JSON");
                        lat.push(t.elapsed());
                        ids.push(r["txid"].as_str().expect("txid").to_owned());
                    }
                    (ids, lat)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client"))
            .collect()
    });
    let elapsed = started.elapsed();
    let acked: Vec<String> = results.iter().flat_map(|(i, _)| i.clone()).collect();
    let mut lat: Vec<Duration> = results.iter().flat_map(|(_, l)| l.clone()).collect();
    lat.sort();

    // Stop mining, then look at everything the ledger holds.
    let stop: Value = node
        .req("POST", "/v1/mining/stop")
        .call()
        .expect("stop")
        .into_json()
        .expect("JSON");
    let blocks_mined = stop["mined"].as_u64().expect("mined");
    let export = node
        .req("GET", "/v1/export")
        .call()
        .expect("export")
        .into_string()
        .expect("body");
    let status = node.stop();
    assert!(status.success(), "node exit: {status}");

    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut confirmed = 0usize;
    for line in export.lines() {
        let b: Value = serde_json::from_str(line).expect("export line");
        for t in b["txs"].as_array().expect("txs") {
            *seen
                .entry(t["txid"].as_str().expect("txid").to_owned())
                .or_default() += 1;
            confirmed += 1;
        }
    }
    let pending = l.all_pending();
    for t in &pending {
        *seen
            .entry(t["txid"].as_str().expect("txid").to_owned())
            .or_default() += 1;
    }
    assert_eq!(acked.len(), per_client * CLIENTS);
    for id in &acked {
        assert_eq!(seen.get(id), Some(&1), "{id} is not held exactly once");
    }
    assert!(
        seen.values().all(|&n| n == 1),
        "a transaction is held twice"
    );
    l.ok(&["verify"]);

    let rate = acked.len() as f64 / elapsed.as_secs_f64();
    println!(
        "LOAD: {} submissions by {CLIENTS} clients in {:.2} s while mining: {:.0} tx/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} blocks mined, {} entries confirmed and {} pending; reference Store::submit in-process: {:.0} tx/s (ratio {:.2})",
        acked.len(),
        elapsed.as_secs_f64(),
        rate,
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().expect("some").as_secs_f64() * 1e3,
        blocks_mined,
        confirmed - 1,
        pending.len(),
        ref_rate,
        rate / ref_rate,
    );
}
