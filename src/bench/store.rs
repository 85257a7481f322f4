//! `sledger bench store`: the store at scale, side by side with raw sled.
//!
//! For each size it builds a valid ledger (difficulty 0, fixed, so proof of
//! work costs nothing; one 100-byte entry per block) through the real
//! import path (`Store::append_batch`, every rule checked), and writes the
//! same block bytes into a plain sled database with batch inserts. Then it
//! times lookups by height and by hash against raw `get`s, a walk of recent
//! headers, a one-shot CLI
//! query against a process that opens sled and does one `get`, and `verify`
//! in a child process (throughput and peak RSS), and reports disk bytes per
//! block.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::consensus::merkle::merkle_root;
use crate::consensus::{Block, BlockHash, BlockHeader, ChainParams, Difficulty, Transaction};
use crate::store::{codec, Store, StoreError};

/// Blocks per import transaction (as `sledger import` uses).
const BATCH: usize = 512;

/// Everything measured for one ledger size.
#[derive(Debug, Clone, Serialize)]
pub struct StoreReport {
    pub blocks: u64,
    pub block_bytes: u64,
    pub import_seconds: f64,
    pub import_blocks_per_second: f64,
    pub import_mb_per_second: f64,
    pub raw_seconds: f64,
    pub raw_blocks_per_second: f64,
    pub import_vs_raw: f64,
    pub by_height_p50_us: f64,
    pub by_height_p99_us: f64,
    pub by_hash_p50_us: f64,
    pub by_hash_p99_us: f64,
    pub raw_get_p50_us: f64,
    pub raw_get_p99_us: f64,
    /// Headers of the newest 10,000 blocks (or all), newest first, through
    /// `Store::headers_in` (what `sledger chain` lists): mean per header.
    pub header_walk_us: f64,
    pub cli_query_ms: f64,
    pub raw_open_get_ms: f64,
    pub verify_seconds: f64,
    pub verify_blocks_per_second: f64,
    pub verify_peak_rss_kb: u64,
    pub disk_bytes: u64,
    pub raw_disk_bytes: u64,
    pub disk_bytes_per_block: f64,
    pub raw_disk_bytes_per_block: f64,
}

/// Deterministic chain parameters for benchmark ledgers.
fn params() -> ChainParams {
    crate::testkit::named_params("bench", 0, 100, true, [0xbe; 16])
}

/// Builds the chain lazily, one batch at a time, so memory stays flat.
struct ChainGen {
    prev: Block,
    next_height: u64,
    end: u64,
}

impl ChainGen {
    fn new(genesis: Block, blocks: u64) -> Self {
        ChainGen {
            prev: genesis,
            next_height: 1,
            end: blocks,
        }
    }

    fn batch(&mut self) -> Vec<Block> {
        let mut out = Vec::with_capacity(BATCH);
        while out.len() < BATCH && self.next_height <= self.end {
            let h = self.next_height;
            let ts = self.prev.header.timestamp + 1;
            let data = format!("entry {h:012} {}", "x".repeat(80)).into_bytes();
            let tx = Transaction::new("bench", ts, data).expect("within limits");
            let b = Block {
                header: BlockHeader {
                    version: 1,
                    height: h,
                    prev_hash: self.prev.hash(),
                    merkle_root: merkle_root(&[tx.txid()]),
                    timestamp: ts,
                    difficulty: Difficulty(0),
                    nonce: h,
                },
                txs: vec![tx],
            };
            self.prev = b.clone();
            self.next_height += 1;
            out.push(b);
        }
        out
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A small deterministic generator for sampling heights.
fn sample_heights(n: u64, count: usize) -> Vec<u64> {
    let mut x = 0x9E3779B97F4A7C15u64;
    (0..count)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % (n + 1)
        })
        .collect()
}

/// Peak resident set of a child process, sampled from /proc while it runs.
fn run_measuring_rss(mut cmd: Command) -> std::io::Result<(Duration, u64, bool)> {
    let started = Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path) {
            for line in s.lines() {
                if let Some(v) = line.strip_prefix("VmHWM:") {
                    let kb: u64 = v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
                    peak = peak.max(kb);
                }
            }
        }
        if let Some(status) = child.try_wait()? {
            return Ok((started.elapsed(), peak, status.success()));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Median wall time of `runs` runs of a command, in ms.
fn median_run_ms(make: impl Fn() -> Command, runs: usize) -> std::io::Result<f64> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let ok = make()
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()?;
        if !ok.success() {
            return Err(std::io::Error::other("a timed command failed"));
        }
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Opens a plain sled database with sledger's cache size.
pub fn open_raw(path: &Path) -> sled::Result<sled::Db> {
    sled::Config::new()
        .path(path)
        .cache_capacity(crate::store::CACHE_BYTES)
        .open()
}

/// Measures one ledger size in `work_dir` (which it fills), with `exe` the
/// sledger binary for the child-process measurements.
pub fn measure(
    blocks: u64,
    work_dir: &Path,
    exe: &Path,
    progress: &dyn Fn(&str),
) -> Result<StoreReport, StoreError> {
    let ledger_dir = work_dir.join(format!("ledger-{blocks}"));
    let raw_dir = work_dir.join(format!("raw-{blocks}"));
    let _ = std::fs::remove_dir_all(&ledger_dir);
    let _ = std::fs::remove_dir_all(&raw_dir);
    let now = crate::time::now_ms();
    let genesis = {
        let mut g = Block::genesis(&params(), now - blocks - 10_000);
        g.header.nonce = 0;
        g
    };

    // Import through the store, every rule checked.
    progress(&format!("{blocks} blocks: import through the store"));
    let store = Store::create(&ledger_dir, &genesis, now)?;
    let mut gen = ChainGen::new(genesis.clone(), blocks);
    let mut block_bytes = genesis.encoded_len() as u64;
    let t = Instant::now();
    loop {
        let batch = gen.batch();
        if batch.is_empty() {
            break;
        }
        block_bytes += batch.iter().map(|b| b.encoded_len() as u64).sum::<u64>();
        store.append_batch(&batch, now)?;
    }
    let import = t.elapsed();

    // The same bytes into raw sled: block by hash and hash by height.
    progress(&format!("{blocks} blocks: raw sled batch inserts"));
    let raw = open_raw(&raw_dir)?;
    let mut gen = ChainGen::new(genesis.clone(), blocks);
    let t = Instant::now();
    raw.insert(genesis.hash().as_bytes(), genesis.encode())?;
    raw.insert(codec::seq_key(0), genesis.hash().as_bytes())?;
    loop {
        let batch = gen.batch();
        if batch.is_empty() {
            break;
        }
        let mut b = sled::Batch::default();
        for block in &batch {
            let hash = block.hash();
            b.insert(hash.as_bytes(), block.encode());
            b.insert(&codec::seq_key(block.header.height), hash.as_bytes());
        }
        raw.apply_batch(b)?;
        raw.flush()?;
    }
    let raw_time = t.elapsed();

    // Lookups, sampled heights.
    progress(&format!("{blocks} blocks: lookups"));
    let heights = sample_heights(blocks, 10_000);
    // One untimed pass over the sample on both databases first, so that
    // every timed lookup meets the same (warm) cache state.
    for &h in &heights {
        let b = store.block_at(h)?;
        std::hint::black_box(raw.get(b.hash.as_bytes())?);
    }
    let mut by_height = Vec::with_capacity(heights.len());
    let mut hashes = Vec::with_capacity(heights.len());
    for &h in &heights {
        let t = Instant::now();
        let b = store.block_at(h)?;
        by_height.push(micros(t.elapsed()));
        hashes.push(b.hash);
    }
    let mut by_hash = Vec::with_capacity(hashes.len());
    for h in &hashes {
        let t = Instant::now();
        let b = store.block(h)?;
        by_hash.push(micros(t.elapsed()));
        std::hint::black_box(b);
    }
    let mut raw_get = Vec::with_capacity(hashes.len());
    for h in &hashes {
        let t = Instant::now();
        let v = raw.get(h.as_bytes())?;
        raw_get.push(micros(t.elapsed()));
        std::hint::black_box(v);
    }
    // A header walk: the newest blocks, newest first, headers only.
    let walk_from = blocks.saturating_sub(9_999);
    let t = Instant::now();
    let mut walked = 0u64;
    for item in store.headers_in(walk_from, blocks, true) {
        std::hint::black_box(item?);
        walked += 1;
    }
    let header_walk_us = micros(t.elapsed()) / walked.max(1) as f64;
    for v in [&mut by_height, &mut by_hash, &mut raw_get] {
        v.sort_by(f64::total_cmp);
    }
    let disk_bytes = store.size_on_disk()?;
    let raw_disk_bytes = raw.size_on_disk()?;
    let probe: BlockHash = hashes[hashes.len() / 2];
    drop(store);
    drop(raw);

    // One-shot queries in fresh processes.
    progress(&format!("{blocks} blocks: one-shot queries"));
    let io = |context: &str| {
        let context = context.to_string();
        move |source| StoreError::Io { context, source }
    };
    let cli_query_ms = median_run_ms(
        || {
            let mut c = Command::new(exe);
            c.arg("--data-dir")
                .arg(&ledger_dir)
                .args(["block", &probe.to_hex()]);
            c
        },
        21,
    )
    .map_err(io("running sledger block"))?;
    let raw_open_get_ms = median_run_ms(
        || {
            let mut c = Command::new(exe);
            c.args(["bench", "raw-get", "--path"])
                .arg(&raw_dir)
                .args(["--key", &probe.to_hex()]);
            c
        },
        21,
    )
    .map_err(io("running the raw sled query"))?;

    // verify in a child process: time and peak memory.
    progress(&format!("{blocks} blocks: verify"));
    let mut c = Command::new(exe);
    c.arg("--data-dir").arg(&ledger_dir).arg("verify");
    let (verify_time, verify_peak_rss_kb, ok) =
        run_measuring_rss(c).map_err(io("running sledger verify"))?;
    if !ok {
        return Err(StoreError::Corrupt(
            "verify failed on the benchmark ledger".into(),
        ));
    }

    let n = blocks as f64 + 1.0;
    let report = StoreReport {
        blocks,
        block_bytes,
        import_seconds: import.as_secs_f64(),
        import_blocks_per_second: n / import.as_secs_f64(),
        import_mb_per_second: block_bytes as f64 / 1e6 / import.as_secs_f64(),
        raw_seconds: raw_time.as_secs_f64(),
        raw_blocks_per_second: n / raw_time.as_secs_f64(),
        import_vs_raw: raw_time.as_secs_f64() / import.as_secs_f64(),
        by_height_p50_us: percentile(&by_height, 0.5),
        by_height_p99_us: percentile(&by_height, 0.99),
        by_hash_p50_us: percentile(&by_hash, 0.5),
        by_hash_p99_us: percentile(&by_hash, 0.99),
        raw_get_p50_us: percentile(&raw_get, 0.5),
        raw_get_p99_us: percentile(&raw_get, 0.99),
        header_walk_us,
        cli_query_ms,
        raw_open_get_ms,
        verify_seconds: verify_time.as_secs_f64(),
        verify_blocks_per_second: n / verify_time.as_secs_f64(),
        verify_peak_rss_kb,
        disk_bytes,
        raw_disk_bytes,
        disk_bytes_per_block: disk_bytes as f64 / n,
        raw_disk_bytes_per_block: raw_disk_bytes as f64 / n,
    };
    Ok(report)
}

/// Where the benchmark ledgers go unless told otherwise.
pub fn default_dir() -> PathBuf {
    std::env::temp_dir().join(format!("sledger-bench-{}", std::process::id()))
}
