//! The benchmark commands run and report what they claim to measure (a
//! smoke test at tiny sizes; the figures themselves are in BENCHMARKS.md,
//! never asserted).

use crate::kit::Ledger;

#[test]
fn bench_store_reports_every_figure() {
    let l = Ledger::empty();
    let dir = l.path("bench");
    let v = l.json(&[
        "bench",
        "store",
        "--sizes",
        "300",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    let r = &v["store"][0];
    assert_eq!(r["blocks"], 300);
    for field in [
        "import_blocks_per_second",
        "raw_blocks_per_second",
        "by_height_p99_us",
        "by_hash_p99_us",
        "raw_get_p99_us",
        "header_walk_us",
        "cli_query_ms",
        "raw_open_get_ms",
        "verify_blocks_per_second",
        "disk_bytes_per_block",
    ] {
        assert!(r[field].as_f64().unwrap() > 0.0, "{field}: {r}");
    }
    assert!(r["verify_peak_rss_kb"].as_u64().unwrap() > 0);
    assert!(!dir.exists(), "benchmark ledgers are removed unless --keep");
}

#[test]
fn bench_mining_reports_ratios() {
    let l = Ledger::empty();
    let v = l.json(&["bench", "--seconds", "0.1"]);
    let rates = v["rates"].as_array().unwrap();
    assert!(rates.len() >= 4);
    assert!((rates[0]["vs_reference"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    assert!(rates
        .iter()
        .all(|r| r["per_second"].as_f64().unwrap() > 0.0));
}
