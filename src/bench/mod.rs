//! Benchmarks run by `sledger bench`: mining here, the store in [`store`].
//! Each figure is measured next to a reference measured the same way in the
//! same run, so the ratios mean something on any machine. Not tests:
//! nothing here asserts.

pub mod store;

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use sha2::digest::generic_array::GenericArray;
use sha2::{Digest, Sha256};

use crate::consensus::{BlockHash, BlockHeader, Difficulty, MerkleNode};
use crate::mining::sha256::{HeaderMidstate, TAIL_NONCE_OFFSET};
use crate::mining::{Backend, Miner};

/// One measured rate.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rate {
    pub name: String,
    pub threads: usize,
    pub hashes: u64,
    pub seconds: f64,
    pub per_second: f64,
}

impl Rate {
    fn new(name: impl Into<String>, threads: usize, hashes: u64, elapsed: Duration) -> Rate {
        let seconds = elapsed.as_secs_f64();
        Rate {
            name: name.into(),
            threads,
            hashes,
            seconds,
            per_second: hashes as f64 / seconds.max(1e-9),
        }
    }
}

/// A header no nonce will seal (difficulty 255), so searches run to the deadline.
fn unsealable_header() -> BlockHeader {
    BlockHeader {
        version: 1,
        height: 1,
        prev_hash: BlockHash([0x11; 32]),
        merkle_root: MerkleNode([0x22; 32]),
        timestamp: 1_795_500_000_000,
        difficulty: Difficulty(255),
        nonce: 0,
    }
}

/// The reference: `sha2::compress256` on one core, one block per call, the
/// nonce changed each time (what a plain midstate miner does).
pub fn reference_compress256(for_time: Duration) -> Rate {
    let mid = HeaderMidstate::new(&unsealable_header().encode());
    let mut block = mid.tail;
    let mut n = 0u64;
    let mut sink = 0u32;
    let start = Instant::now();
    while start.elapsed() < for_time {
        for _ in 0..4096 {
            block[TAIL_NONCE_OFFSET..TAIL_NONCE_OFFSET + 8].copy_from_slice(&n.to_le_bytes());
            let mut st = mid.state;
            sha2::compress256(&mut st, &[*GenericArray::from_slice(&block)]);
            sink ^= st[0];
            n += 1;
        }
    }
    std::hint::black_box(sink);
    Rate::new(
        "sha2::compress256, single stream (reference)",
        1,
        n,
        start.elapsed(),
    )
}

/// The miner's own search loop for `for_time`.
pub fn miner(backend: Backend, threads: usize, for_time: Duration) -> Rate {
    let m = Miner::with_backend(threads, backend);
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let s = m.search(
        &unsealable_header(),
        0,
        &stop,
        start + for_time,
        &mut |_| {},
    );
    Rate::new(
        format!("miner, {}", m.backend().name()),
        threads,
        s.hashes,
        start.elapsed(),
    )
}

/// The best backend's miner on one thread, in time-stamp-counter cycles per
/// nonce, with the counter's rate (GHz): `None` off x86-64.
pub fn cycles_per_nonce(for_time: Duration) -> Option<(f64, f64)> {
    let tsc = crate::mining::shani::tsc;
    if tsc() == 0 {
        return None;
    }
    let (c0, t0) = (tsc(), Instant::now());
    let r = miner(Backend::best(), 1, for_time);
    let (cycles, secs) = (tsc().wrapping_sub(c0) as f64, t0.elapsed().as_secs_f64());
    Some((cycles / r.hashes.max(1) as f64, cycles / secs / 1e9))
}

/// The interleaving limit: raw SHA-NI compressions of consecutive nonces,
/// all eight final words computed, no search logic around them.
pub fn interleaved_limit(for_time: Duration) -> Option<Rate> {
    if !crate::mining::shani::available() {
        return None;
    }
    let mid = HeaderMidstate::new(&unsealable_header().encode());
    let lanes = crate::mining::shani::LANES as u64;
    let mut n = 0u64;
    let mut sink = 0u32;
    let start = Instant::now();
    while start.elapsed() < for_time {
        for _ in 0..1024 {
            let st = crate::mining::shani::finish_lanes(&mid, n);
            sink ^= st[0][0];
            n += lanes;
        }
    }
    std::hint::black_box(sink);
    Some(Rate::new(
        format!("raw sha-ni compressions, {lanes} interleaved (the limit)"),
        1,
        n,
        start.elapsed(),
    ))
}

/// The seed tutorial's approach: serialize the whole block to JSON for each
/// nonce, SHA-256 it, and compare the hex digest's prefix.
pub fn seed_style(for_time: Duration) -> Rate {
    #[derive(serde::Serialize)]
    struct SeedBlock<'a> {
        index: u64,
        timestamp: f64,
        transactions: &'a [(&'a str, f64, &'a str)],
        previous_hash: &'a str,
        nonce: u64,
    }
    let txs = [
        ("alice", 1_795_500_000.5, "paid bob"),
        ("bob", 1_795_500_001.5, "thanks"),
    ];
    let prev = "0".repeat(64);
    let mut n = 0u64;
    let mut found = 0u64;
    let start = Instant::now();
    while start.elapsed() < for_time {
        for _ in 0..1024 {
            let b = SeedBlock {
                index: 1,
                timestamp: 1_795_500_002.0,
                transactions: &txs,
                previous_hash: &prev,
                nonce: n,
            };
            let json = serde_json::to_string(&b).expect("plain data");
            let digest = hex::encode(Sha256::digest(json.as_bytes()));
            found += digest.starts_with("0000000000") as u64;
            n += 1;
        }
    }
    std::hint::black_box(found);
    Rate::new(
        "seed style: JSON of the block + SHA-256 + hex per nonce",
        1,
        n,
        start.elapsed(),
    )
}

/// Every mining figure, in the order `sledger bench` prints them.
pub fn mining(per_run: Duration) -> Vec<Rate> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = vec![
        reference_compress256(per_run),
        miner(Backend::Portable, 1, per_run),
        miner(Backend::best(), 1, per_run),
    ];
    out.extend(interleaved_limit(per_run));
    // Every other backend this CPU runs, on one thread ("soft" is the
    // portable scalar reference the AVX2 goal is measured against).
    for b in Backend::available() {
        if b != Backend::best() && b != Backend::Portable {
            out.push(miner(b, 1, per_run));
        }
    }
    if cores > 1 {
        out.push(miner(Backend::best(), cores, per_run));
    }
    out.push(seed_style(per_run));
    out
}
