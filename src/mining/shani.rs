//! The fast path: SHA-256 of many nonces at once with the x86 SHA
//! extensions, several independent compressions interleaved so that the
//! latency of `sha256rnds2` is hidden (the idea of Bitcoin Core's
//! `TransformD64_2way` for SHA-NI). This is the crate's only unsafe code.
//!
//! Soundness, for every `unsafe` block below: the functions marked
//! `#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]` are only called
//! after [`available`] has confirmed at run time that the CPU has all four
//! features; the intrinsics only read and write `__m128i` values held in
//! registers or local arrays, never memory through raw pointers, so there is
//! no aliasing or bounds question. Results are checked against the portable
//! path in the tests below, and every candidate nonce the fast path reports
//! is re-hashed through the portable path before it is believed.

#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::sha256::{HeaderMidstate, TAIL_NONCE_OFFSET};

/// Independent compressions in flight per thread.
pub const LANES: usize = 8;

/// The CPU's time-stamp counter (`rdtsc`), for cycles-per-nonce figures;
/// 0 off x86-64.
pub fn tsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `rdtsc` exists on every x86-64 CPU and only reads a
        // counter; it touches no memory.
        unsafe { _rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}

/// True when this CPU has the SHA extensions (and the SSE levels they need).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("sha")
            && std::is_x86_feature_detected!("sse2")
            && std::is_x86_feature_detected!("ssse3")
            && std::is_x86_feature_detected!("sse4.1")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// SHA-256 round constants (FIPS 180-4, 4.2.2).
pub(crate) const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// The final block as 16 big-endian message words, nonce words left to fill.
fn tail_words(mid: &HeaderMidstate) -> [u32; 16] {
    let mut w = [0u32; 16];
    for (i, c) in mid.tail.chunks_exact(4).enumerate() {
        w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
    }
    w
}

/// The two message words that hold `nonce` (little-endian bytes at tail
/// offset 24, read as big-endian words).
#[inline(always)]
fn nonce_words(nonce: u64) -> (u32, u32) {
    (
        (nonce as u32).swap_bytes(),
        ((nonce >> 32) as u32).swap_bytes(),
    )
}
const _: () = assert!(
    TAIL_NONCE_OFFSET == 24,
    "nonce must be message words 6 and 7"
);

/// Scans `nonces` with the SHA extensions; returns the first nonce whose hash
/// has `difficulty` leading zero bits (confirmed through the portable path).
///
/// # Panics
/// If [`available`] is false: callers must check it first.
pub fn scan(mid: &HeaderMidstate, nonces: std::ops::Range<u64>, difficulty: u32) -> Option<u64> {
    assert!(
        available(),
        "shani::scan called on a CPU without SHA extensions"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if nonces.start >= nonces.end {
            return None;
        }
        let t = super::rounds::Template::new(mid);
        let zeros = difficulty.min(32);
        let mut n = nonces.start;
        while nonces.end - n >= LANES as u64 {
            // SAFETY: `available()` above confirmed sha, sse2, ssse3, sse4.1.
            let first = unsafe { first_words_from6(&t, n) };
            for (lane, a) in first.iter().enumerate() {
                if a.leading_zeros() >= zeros {
                    let cand = n + lane as u64;
                    if super::meets(&mid.finish(cand), difficulty) {
                        return Some(cand);
                    }
                }
            }
            n += LANES as u64;
        }
        super::sha256::scan(mid, n..nonces.end, difficulty)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        super::sha256::scan(mid, nonces, difficulty)
    }
}

/// Full final states for `LANES` consecutive nonces from `nonce`, for tests
/// and benchmarks.
pub fn finish_lanes(mid: &HeaderMidstate, nonce: u64) -> [[u32; 8]; LANES] {
    assert!(
        available(),
        "shani::finish_lanes called on a CPU without SHA extensions"
    );
    assert!(
        nonce <= u64::MAX - LANES as u64,
        "the lanes would pass u64::MAX"
    );
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `available()` above confirmed sha, sse2, ssse3, sse4.1.
        unsafe { full_states(&mid.state, &tail_words(mid), nonce) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        unreachable!()
    }
}

/// Runs the 64 rounds for each lane; returns (ABEF, CDGH) per lane after the
/// feed-forward addition of the midstate.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
#[inline(never)]
unsafe fn compress_lanes(
    state: &[u32; 8],
    w: &[u32; 16],
    nonce: u64,
) -> [(__m128i, __m128i); LANES] {
    // The midstate in the (ABEF, CDGH) register layout sha256rnds2 uses.
    let dcba = _mm_set_epi32(
        state[3] as i32,
        state[2] as i32,
        state[1] as i32,
        state[0] as i32,
    );
    let hgfe = _mm_set_epi32(
        state[7] as i32,
        state[6] as i32,
        state[5] as i32,
        state[4] as i32,
    );
    let cdab = _mm_shuffle_epi32(dcba, 0xB1);
    let efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    let abef0 = _mm_alignr_epi8(cdab, efgh, 8);
    let cdgh0 = _mm_blend_epi16(efgh, cdab, 0xF0);

    let set =
        |a: u32, b: u32, c: u32, d: u32| _mm_set_epi32(d as i32, c as i32, b as i32, a as i32);
    let kk = |i: usize| set(K[4 * i], K[4 * i + 1], K[4 * i + 2], K[4 * i + 3]);

    let mut s0 = [abef0; LANES];
    let mut s1 = [cdgh0; LANES];
    // m[lane][j]: the four message-schedule registers.
    let mut m = [[_mm_setzero_si128(); 4]; LANES];
    for (lane, ml) in m.iter_mut().enumerate() {
        let (w6, w7) = nonce_words(nonce + lane as u64);
        ml[0] = set(w[0], w[1], w[2], w[3]);
        ml[1] = set(w[4], w[5], w6, w7);
        ml[2] = set(w[8], w[9], w[10], w[11]);
        ml[3] = set(w[12], w[13], w[14], w[15]);
    }

    // Four rounds per step: two sha256rnds2 on (message + constants). The
    // lanes are independent, so their instructions overlap in the pipeline.
    macro_rules! rounds {
        ($i:expr) => {
            for l in 0..LANES {
                let msg = _mm_add_epi32(m[l][$i % 4], kk($i));
                s1[l] = _mm_sha256rnds2_epu32(s1[l], s0[l], msg);
                s0[l] = _mm_sha256rnds2_epu32(s0[l], s1[l], _mm_shuffle_epi32(msg, 0x0E));
            }
        };
    }
    // Message schedule step for W[4(i+1)..]: uses the registers of steps
    // i-1 and i, updates step i+1's (msg2) and step i-1's (msg1).
    macro_rules! schedule {
        ($i:expr, msg2) => {
            for l in 0..LANES {
                let t = _mm_alignr_epi8(m[l][$i % 4], m[l][($i + 3) % 4], 4);
                let x = _mm_add_epi32(m[l][($i + 1) % 4], t);
                m[l][($i + 1) % 4] = _mm_sha256msg2_epu32(x, m[l][$i % 4]);
            }
        };
        ($i:expr, msg1) => {
            for l in 0..LANES {
                m[l][($i + 3) % 4] = _mm_sha256msg1_epu32(m[l][($i + 3) % 4], m[l][$i % 4]);
            }
        };
    }

    rounds!(0);
    rounds!(1);
    schedule!(1, msg1);
    rounds!(2);
    schedule!(2, msg1);
    rounds!(3);
    schedule!(3, msg2);
    schedule!(3, msg1);
    macro_rules! middle {
        ($($i:expr),*) => {$(
            rounds!($i);
            schedule!($i, msg2);
            schedule!($i, msg1);
        )*};
    }
    middle!(4, 5, 6, 7, 8, 9, 10, 11, 12);
    rounds!(13);
    schedule!(13, msg2);
    rounds!(14);
    schedule!(14, msg2);
    rounds!(15);

    let mut out = [(abef0, cdgh0); LANES];
    for l in 0..LANES {
        out[l] = (_mm_add_epi32(s0[l], abef0), _mm_add_epi32(s1[l], cdgh0));
    }
    out
}

/// The state `s` (a..h) in the (ABEF, CDGH) register layout sha256rnds2
/// uses.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
#[inline]
unsafe fn layout(s: &[u32; 8]) -> (__m128i, __m128i) {
    let dcba = _mm_set_epi32(s[3] as i32, s[2] as i32, s[1] as i32, s[0] as i32);
    let hgfe = _mm_set_epi32(s[7] as i32, s[6] as i32, s[5] as i32, s[4] as i32);
    let cdab = _mm_shuffle_epi32(dcba, 0xB1);
    let efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    (
        _mm_alignr_epi8(cdab, efgh, 8),
        _mm_blend_epi16(efgh, cdab, 0xF0),
    )
}

/// Word 0 of the final state for `LANES` consecutive nonces from `nonce`,
/// each compression starting at round 6 from the template's precomputed
/// state ([`super::rounds::Template`]): rounds 0-5 and the schedule words
/// W16..W19 are not computed again per nonce.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn first_words_from6(t: &super::rounds::Template, nonce: u64) -> [u32; LANES] {
    let (abef0, _) = layout(&t.mid);
    let (abef6, cdgh6) = layout(&t.state6);
    let w = &t.w;
    let set =
        |a: u32, b: u32, c: u32, d: u32| _mm_set_epi32(d as i32, c as i32, b as i32, a as i32);
    let kk = |i: usize| set(K[4 * i], K[4 * i + 1], K[4 * i + 2], K[4 * i + 3]);
    let w16_19 = set(t.w16_20[0], t.w16_20[1], t.w16_20[2], t.w16_20[3]);
    let mut s0 = [abef6; LANES];
    let mut s1 = [cdgh6; LANES];
    let mut m = [[_mm_setzero_si128(); 4]; LANES];
    for (lane, ml) in m.iter_mut().enumerate() {
        let (w6, w7) = nonce_words(nonce.wrapping_add(lane as u64));
        ml[1] = set(w[4], w[5], w6, w7);
        ml[2] = set(w[8], w[9], w[10], w[11]);
        ml[3] = set(w[12], w[13], w[14], w[15]);
    }
    // Rounds 6 and 7: after rounds 4-5 ABEF is the state after round 5 and
    // CDGH the state after round 3's ABEF, as `layout(state6)` gives them.
    for l in 0..LANES {
        let msg = _mm_add_epi32(m[l][1], kk(1));
        let abef = _mm_sha256rnds2_epu32(s1[l], s0[l], _mm_shuffle_epi32(msg, 0x0E));
        s1[l] = s0[l];
        s0[l] = abef;
    }
    macro_rules! rounds {
        ($i:expr) => {
            for l in 0..LANES {
                let msg = _mm_add_epi32(m[l][$i % 4], kk($i));
                s1[l] = _mm_sha256rnds2_epu32(s1[l], s0[l], msg);
                s0[l] = _mm_sha256rnds2_epu32(s0[l], s1[l], _mm_shuffle_epi32(msg, 0x0E));
            }
        };
    }
    macro_rules! schedule {
        ($i:expr, msg2) => {
            for l in 0..LANES {
                let t = _mm_alignr_epi8(m[l][$i % 4], m[l][($i + 3) % 4], 4);
                let x = _mm_add_epi32(m[l][($i + 1) % 4], t);
                m[l][($i + 1) % 4] = _mm_sha256msg2_epu32(x, m[l][$i % 4]);
            }
        };
        ($i:expr, msg1) => {
            for l in 0..LANES {
                m[l][($i + 3) % 4] = _mm_sha256msg1_epu32(m[l][($i + 3) % 4], m[l][$i % 4]);
            }
        };
    }
    rounds!(2);
    schedule!(2, msg1);
    rounds!(3);
    // W16..W19 do not depend on the nonce: the template's.
    for ml in m.iter_mut() {
        ml[0] = w16_19;
    }
    schedule!(3, msg1);
    macro_rules! middle {
        ($($i:expr),*) => {$(
            rounds!($i);
            schedule!($i, msg2);
            schedule!($i, msg1);
        )*};
    }
    middle!(4, 5, 6, 7, 8, 9, 10, 11, 12);
    rounds!(13);
    schedule!(13, msg2);
    rounds!(14);
    schedule!(14, msg2);
    rounds!(15);
    let mut out = [0u32; LANES];
    for l in 0..LANES {
        // ABEF holds A in its highest lane.
        out[l] = _mm_extract_epi32(_mm_add_epi32(s0[l], abef0), 3) as u32;
    }
    out
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn full_states(state: &[u32; 8], w: &[u32; 16], nonce: u64) -> [[u32; 8]; LANES] {
    let st = compress_lanes(state, w, nonce);
    let mut out = [[0u32; 8]; LANES];
    for l in 0..LANES {
        let (abef, cdgh) = st[l];
        let fgba = _mm_shuffle_epi32(abef, 0x1B);
        let dchg = _mm_shuffle_epi32(cdgh, 0xB1);
        let dcba = _mm_blend_epi16(fgba, dchg, 0xF0);
        let hgfe = _mm_alignr_epi8(dchg, fgba, 8);
        let mut words = [0u32; 8];
        words[0] = _mm_extract_epi32(dcba, 0) as u32;
        words[1] = _mm_extract_epi32(dcba, 1) as u32;
        words[2] = _mm_extract_epi32(dcba, 2) as u32;
        words[3] = _mm_extract_epi32(dcba, 3) as u32;
        words[4] = _mm_extract_epi32(hgfe, 0) as u32;
        words[5] = _mm_extract_epi32(hgfe, 1) as u32;
        words[6] = _mm_extract_epi32(hgfe, 2) as u32;
        words[7] = _mm_extract_epi32(hgfe, 3) as u32;
        out[l] = words;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::hash::sha256;
    use crate::consensus::header::{HEADER_BYTES, NONCE_OFFSET};

    fn pseudo_random_header(seed: u64) -> [u8; HEADER_BYTES] {
        let mut h = [0u8; HEADER_BYTES];
        let mut x = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
        for b in h.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        h
    }

    #[test]
    fn lanes_equal_sha256_on_random_headers_and_nonces() {
        if !available() {
            eprintln!("skipped: this CPU has no SHA extensions");
            return;
        }
        let edges = [
            0,
            1,
            255,
            256,
            0xffff_fffe,
            0xffff_ffff,
            1 << 32,
            u64::MAX - LANES as u64,
        ];
        for seed in 0..200u64 {
            let mut header = pseudo_random_header(seed);
            let mid = HeaderMidstate::new(&header);
            let start = if (seed as usize) < edges.len() {
                edges[seed as usize]
            } else {
                seed.wrapping_mul(0x1234_5678_9abc)
            };
            let start = start.min(u64::MAX - LANES as u64);
            let states = finish_lanes(&mid, start);
            for (lane, st) in states.iter().enumerate() {
                let nonce = start + lane as u64;
                header[NONCE_OFFSET..].copy_from_slice(&nonce.to_le_bytes());
                assert_eq!(
                    super::super::sha256::state_to_hash(st).0,
                    sha256(&header),
                    "seed {seed} nonce {nonce}"
                );
                assert_eq!(*st, mid.finish(nonce));
            }
        }
    }

    #[test]
    fn scan_finds_the_same_nonce_as_the_portable_path() {
        if !available() {
            eprintln!("skipped: this CPU has no SHA extensions");
            return;
        }
        for seed in 0..20u64 {
            let header = pseudo_random_header(seed + 1000);
            let mid = HeaderMidstate::new(&header);
            for (start, len, d) in [
                (0u64, 100_000u64, 10u32),
                (u32::MAX as u64 - 5000, 20_000, 8),
                (u64::MAX - 3001, 3001, 4),
                (7, 3, 1),
            ] {
                let r = start..start + len;
                assert_eq!(
                    scan(&mid, r.clone(), d),
                    super::super::sha256::scan(&mid, r, d),
                    "seed {seed} start {start}"
                );
            }
        }
    }
}

#[cfg(test)]
mod from_round_six {
    use super::*;

    #[test]
    fn lanes_from_round_six_equal_sha2_across_the_carry() {
        if !available() {
            return;
        }
        for seed in 0..32u64 {
            let mut header = [0u8; crate::consensus::header::HEADER_BYTES];
            let mut x = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
            for b in header.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            let mid = HeaderMidstate::new(&header);
            let t = super::super::rounds::Template::new(&mid);
            for start in [0, (1u64 << 32) - 4, u64::MAX - 7, x] {
                // SAFETY: `available()` was checked above.
                let got = unsafe { first_words_from6(&t, start) };
                for (i, word) in got.iter().enumerate() {
                    let n = start.wrapping_add(i as u64);
                    assert_eq!(*word, mid.finish(n)[0], "seed {seed} nonce {n}");
                }
            }
        }
    }
}
