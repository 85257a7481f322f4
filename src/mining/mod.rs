//! The nonce search: [`Miner`] seals one block template on all cores. It
//! knows nothing of stores; a mining run against a store is
//! [`crate::api::mining_run`].
//!
//! A search compresses the header's first 64 bytes once ([`HeaderMidstate`]);
//! each nonce then costs one SHA-256 compression of the final block. Each
//! thread claims its own batch of 65,536 nonces from a shared counter and
//! scans it alone, touching shared state only between batches (to claim the
//! next, publish its hash count and see whether to stop).

pub mod avx2;
pub mod rounds;
pub mod sha256;
pub mod shani;

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::consensus::{Block, BlockHash, BlockHeader};
pub use sha256::HeaderMidstate;

/// The most threads a miner runs.
pub const MAX_THREADS: usize = 256;

/// Nonces per batch between looks at the shared flags (~1-4 ms of work).
pub const BATCH: u64 = 1 << 16;

/// True when the final state `st` (the hash as big-endian words) has at
/// least `difficulty` leading zero bits.
pub fn meets(st: &[u32; 8], difficulty: u32) -> bool {
    let mut need = difficulty;
    for &w in st {
        if need == 0 {
            return true;
        }
        if need <= 32 {
            return w.leading_zeros() >= need;
        }
        if w != 0 {
            return false;
        }
        need -= 32;
    }
    need == 0
}

/// How a search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A nonce whose header hash meets the difficulty.
    Found { nonce: u64, hash: BlockHash },
    /// The stop flag was raised.
    Stopped,
    /// The deadline passed (the caller refreshes the template and goes on).
    TimedOut,
}

/// The result of [`Miner::search`]: how it ended, how many hashes it
/// tried, and the nonce below which all were tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Search {
    pub outcome: Outcome,
    pub hashes: u64,
    pub tried_below: u64,
}

/// Which SHA-256 implementation the nonce search uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Interleaved SHA extensions ([`shani`]), when the CPU has them.
    ShaNi,
    /// Eight nonces in the lanes of AVX2 ([`avx2`]), from round 6.
    Avx2,
    /// Plain scalar code from round 6 ([`rounds`]): no CPU feature needed.
    Soft,
    /// One compression at a time through `sha2` (which itself uses the SHA
    /// extensions when present, or plain code).
    Portable,
}

impl Backend {
    /// Every backend, fastest first (on a CPU that has them all).
    pub const ALL: [Backend; 4] = [
        Backend::ShaNi,
        Backend::Avx2,
        Backend::Soft,
        Backend::Portable,
    ];

    /// The fastest backend this CPU supports.
    pub fn best() -> Backend {
        Backend::available()
            .first()
            .copied()
            .unwrap_or(Backend::Soft)
    }

    /// The backends this CPU can run, fastest first.
    pub fn available() -> Vec<Backend> {
        Backend::ALL.into_iter().filter(|b| b.runs_here()).collect()
    }

    /// Whether this CPU has what the backend needs.
    pub fn runs_here(self) -> bool {
        match self {
            Backend::ShaNi => shani::available(),
            Backend::Avx2 => avx2::available(),
            Backend::Soft | Backend::Portable => true,
        }
    }

    /// The short name `--backend` takes.
    pub fn key(self) -> &'static str {
        match self {
            Backend::ShaNi => "sha-ni",
            Backend::Avx2 => "avx2",
            Backend::Soft => "soft",
            Backend::Portable => "sha2",
        }
    }

    /// A backend by its [`Backend::key`].
    pub fn from_key(key: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.key() == key)
    }

    pub fn name(self) -> String {
        match self {
            Backend::ShaNi => format!("sha-ni, {} interleaved", shani::LANES),
            Backend::Avx2 => format!("avx2, {} lanes, from round 6", avx2::LANES),
            Backend::Soft => "soft, scalar from round 6".into(),
            Backend::Portable => "sha2 portable".into(),
        }
    }

    fn scan(self, mid: &HeaderMidstate, nonces: Range<u64>, difficulty: u32) -> Option<u64> {
        match self {
            Backend::ShaNi => shani::scan(mid, nonces, difficulty),
            Backend::Avx2 => avx2::scan(mid, nonces, difficulty),
            Backend::Soft => rounds::scan(mid, nonces, difficulty),
            Backend::Portable => sha256::scan(mid, nonces, difficulty),
        }
    }
}

/// A nonce search over `threads` threads.
#[derive(Debug, Clone)]
pub struct Miner {
    threads: usize,
    backend: Backend,
}

impl Miner {
    /// A miner on `threads` threads (at least one), with the best backend.
    pub fn new(threads: usize) -> Self {
        Self::with_backend(threads, Backend::best())
    }

    /// A miner with a chosen backend; one this CPU cannot run falls back
    /// to the best it can.
    pub fn with_backend(threads: usize, backend: Backend) -> Self {
        let threads = threads.clamp(1, MAX_THREADS);
        let backend = if backend.runs_here() {
            backend
        } else {
            Backend::best()
        };
        Miner { threads, backend }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A miner on every core.
    pub fn all_cores() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// The same miner on `backend` (if this CPU runs it).
    pub fn using(self, backend: Backend) -> Self {
        Self::with_backend(self.threads, backend)
    }

    /// A miner on `threads` threads, or on every core when `None`.
    pub fn with_threads(threads: Option<usize>) -> Self {
        threads.map_or_else(Self::all_cores, Self::new)
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Searches nonces for `header` from `start` upward until one meets its
    /// difficulty, `stop` is raised, or `deadline` passes.
    ///
    /// Threads claim batches of [`BATCH`] consecutive nonces from a shared
    /// counter (one atomic add per batch, none per nonce) and scan them on
    /// their own. `progress` is called on the calling thread about every
    /// 20 ms; its [`Progress::tried_below`] is a nonce below which every
    /// nonce has been tried, which is what a checkpoint records.
    pub fn search(
        &self,
        header: &BlockHeader,
        start: u64,
        stop: &AtomicBool,
        deadline: Instant,
        progress: &mut dyn FnMut(Progress),
    ) -> Search {
        let mid = HeaderMidstate::new(&header.encode());
        let difficulty = header.difficulty.0;
        let backend = self.backend;
        let found = AtomicBool::new(false);
        let found_nonce = AtomicU64::new(0);
        let hashes = AtomicU64::new(0);
        let next = AtomicU64::new(start);
        // The first nonce of the batch each thread claimed last. A thread
        // claims a new batch only after finishing its previous one, so every
        // nonce below the minimum of these has been tried.
        let current: Vec<AtomicU64> = (0..self.threads).map(|_| AtomicU64::new(start)).collect();
        let tried_below = || {
            current
                .iter()
                .map(|c| c.load(Ordering::Acquire))
                .min()
                .unwrap_or(start)
        };
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|s| {
            for slot in &current {
                let (found, found_nonce, hashes, next) = (&found, &found_nonce, &hashes, &next);
                let done = done_tx.clone();
                s.spawn(move || {
                    loop {
                        if found.load(Ordering::Relaxed)
                            || stop.load(Ordering::Relaxed)
                            || Instant::now() >= deadline
                        {
                            break;
                        }
                        let claimed =
                            next.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                                n.checked_add(BATCH).filter(|e| *e <= u64::MAX - BATCH)
                            });
                        let Ok(at) = claimed else {
                            break; // the nonce space is used up; the caller refreshes
                        };
                        slot.store(at, Ordering::Release);
                        let hit = backend.scan(&mid, at..at + BATCH, difficulty);
                        hashes.fetch_add(hit.map_or(BATCH, |h| h + 1 - at), Ordering::Relaxed);
                        if let Some(nonce) = hit {
                            if !found.swap(true, Ordering::AcqRel) {
                                found_nonce.store(nonce, Ordering::Release);
                            }
                            break;
                        }
                    }
                    let _ = done.send(());
                });
            }
            drop(done_tx);
            // Report progress until a worker finishes (found, stopped, timed
            // out or out of nonces); the others see the same flags.
            let mut finished = 0;
            while finished < self.threads {
                match done_rx.recv_timeout(Duration::from_millis(20)) {
                    Ok(()) => {
                        finished += 1;
                        if found.load(Ordering::Acquire) {
                            break;
                        }
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => progress(Progress {
                        hashes: hashes.load(Ordering::Relaxed),
                        tried_below: tried_below(),
                    }),
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
        });
        let hashes = hashes.load(Ordering::Relaxed);
        let tried_below = tried_below();
        let outcome = if found.load(Ordering::Acquire) {
            let nonce = found_nonce.load(Ordering::Acquire);
            let mut h = *header;
            h.nonce = nonce;
            Outcome::Found {
                nonce,
                hash: h.hash(),
            }
        } else if stop.load(Ordering::Relaxed) {
            Outcome::Stopped
        } else {
            Outcome::TimedOut
        };
        Search {
            outcome,
            hashes,
            tried_below,
        }
    }
}

/// Where a running search is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Hashes tried by this search so far.
    pub hashes: u64,
    /// Every nonce from the search's start up to (not including) this one
    /// has been tried.
    pub tried_below: u64,
}

/// A block the miner sealed, with what it cost.
#[derive(Debug, Clone)]
pub struct Mined {
    pub block: Block,
    pub hashes: u64,
    pub elapsed: Duration,
}

impl Mined {
    pub fn hashes_per_second(&self) -> f64 {
        self.hashes as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// How a call to [`Miner::mine`] ended.
#[derive(Debug, Clone)]
pub enum MineResult {
    Mined(Mined),
    /// Stopped by the flag: the template being searched and the nonce below
    /// which every nonce was tried, for a checkpoint.
    Stopped {
        template: Block,
        tried_below: u64,
    },
}

/// How often a long search rebuilds its template (fresh timestamp).
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);

impl Miner {
    /// Searches for a nonce that seals `template`, starting at `start`.
    /// Every [`REFRESH_EVERY`] (or if the nonces run out) it asks `refresh`
    /// for a new template (a fresh timestamp, possibly new transactions) and
    /// searches that one from nonce 0. `progress` gets the template being
    /// searched and its [`Progress`].
    pub fn mine<E>(
        &self,
        mut template: Block,
        mut start: u64,
        stop: &AtomicBool,
        mut refresh: impl FnMut() -> Result<Block, E>,
        progress: &mut dyn FnMut(&Block, Progress),
    ) -> Result<MineResult, E> {
        let started = Instant::now();
        let mut total = 0u64;
        loop {
            let deadline = Instant::now() + REFRESH_EVERY;
            let base = total;
            let t = &template;
            let s = self.search(&template.header, start, stop, deadline, &mut |p| {
                progress(
                    t,
                    Progress {
                        hashes: base + p.hashes,
                        tried_below: p.tried_below,
                    },
                )
            });
            total += s.hashes;
            match s.outcome {
                Outcome::Found { nonce, .. } => {
                    template.header.nonce = nonce;
                    return Ok(MineResult::Mined(Mined {
                        block: template,
                        hashes: total,
                        elapsed: started.elapsed(),
                    }));
                }
                Outcome::Stopped => {
                    return Ok(MineResult::Stopped {
                        template,
                        tried_below: s.tried_below,
                    })
                }
                Outcome::TimedOut => {
                    let fresh = refresh()?;
                    // The same header again (the clock has not passed the
                    // median time past, and no new entries): go on from
                    // where the search got, rather than redo it.
                    start = if fresh == template { s.tried_below } else { 0 };
                    template = fresh;
                }
            }
        }
    }
}

/// Scans one nonce range on the calling thread with the best backend.
pub fn scan_range(header: &BlockHeader, nonces: Range<u64>) -> Option<u64> {
    Backend::best().scan(
        &HeaderMidstate::new(&header.encode()),
        nonces,
        header.difficulty.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::{Difficulty, MerkleNode};

    fn header(difficulty: u32) -> BlockHeader {
        BlockHeader {
            version: 1,
            height: 7,
            prev_hash: BlockHash([5; 32]),
            merkle_root: MerkleNode([6; 32]),
            timestamp: 1_000,
            difficulty: Difficulty(difficulty),
            nonce: 0,
        }
    }

    #[test]
    fn meets_counts_bits_across_words() {
        assert!(meets(&[0, 0, 1, 0, 0, 0, 0, 0], 64 + 31));
        assert!(!meets(&[0, 0, 1, 0, 0, 0, 0, 0], 64 + 32));
        assert!(meets(&[0x0000_ffff, 9, 9, 9, 9, 9, 9, 9], 16));
        assert!(!meets(&[0x0000_ffff, 9, 9, 9, 9, 9, 9, 9], 17));
        assert!(meets(&[0; 8], 256));
        assert!(meets(&[u32::MAX; 8], 0));
    }

    #[test]
    fn found_nonce_seals_the_header_on_every_backend() {
        for backend in [Backend::ShaNi, Backend::Portable] {
            for threads in [1, 2, 3] {
                let h = header(14);
                let stop = AtomicBool::new(false);
                let s = Miner::with_backend(threads, backend).search(
                    &h,
                    0,
                    &stop,
                    Instant::now() + Duration::from_secs(60),
                    &mut |_| {},
                );
                let Outcome::Found { nonce, hash } = s.outcome else {
                    panic!("{backend:?} x{threads}: {s:?}")
                };
                let mut sealed = h;
                sealed.nonce = nonce;
                assert_eq!(sealed.hash(), hash);
                assert!(h.difficulty.is_met_by(&hash));
                assert!(s.hashes >= 1);
            }
        }
        // One thread scans from 0 upward, so both backends find the same nonce.
        let h = header(12);
        let first = |b| {
            let stop = AtomicBool::new(false);
            Miner::with_backend(1, b)
                .search(
                    &h,
                    0,
                    &stop,
                    Instant::now() + Duration::from_secs(60),
                    &mut |_| {},
                )
                .outcome
        };
        assert_eq!(first(Backend::ShaNi), first(Backend::Portable));
        assert_eq!(
            first(Backend::Portable),
            Outcome::Found {
                nonce: scan_range(&h, 0..u64::MAX).unwrap(),
                hash: {
                    let mut s = h;
                    s.nonce = scan_range(&h, 0..u64::MAX).unwrap();
                    s.hash()
                }
            }
        );
    }

    #[test]
    fn stop_and_deadline_end_a_search_promptly() {
        let h = header(255);
        let stop = AtomicBool::new(false);
        let started = Instant::now();
        let s = std::thread::scope(|sc| {
            sc.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                stop.store(true, Ordering::SeqCst);
            });
            Miner::new(2).search(
                &h,
                0,
                &stop,
                Instant::now() + Duration::from_secs(60),
                &mut |_| {},
            )
        });
        assert_eq!(s.outcome, Outcome::Stopped);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        assert!(s.hashes > 0);

        let stop = AtomicBool::new(false);
        let started = Instant::now();
        let mut calls = 0;
        let s = Miner::new(2).search(
            &h,
            0,
            &stop,
            Instant::now() + Duration::from_millis(150),
            &mut |_| calls += 1,
        );
        assert_eq!(s.outcome, Outcome::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(calls >= 1, "progress is reported while searching");
    }
}
