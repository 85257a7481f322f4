//! Eight nonces at once in the 256-bit lanes of AVX2 (multi-buffer
//! SHA-256, as cpuminer and Intel's ISA-L do), for CPUs without the SHA
//! extensions. It runs the plan of [`super::rounds::Template`]: rounds 0
//! to 5 and the nonce-free schedule words are computed once per template,
//! and each group of eight nonces starts at round 6. Lanes differ only in
//! message words 6 and 7 (the nonce).
//!
//! Soundness, for the `unsafe` below: [`lanes`] is `#[target_feature(enable
//! = "avx2")]` and is only called after [`available`] has confirmed AVX2 at
//! run time; the intrinsics work on `__m256i` values in registers and local
//! arrays, and the one conversion to `[u32; 8]` (`transmute`) is between
//! two 32-byte plain-data types. Every candidate nonce is re-hashed
//! through `sha2` before it is believed, and the tests below check every
//! lane against `sha2` on random templates, across the 2^32 carry.

#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::rounds::Template;
use super::sha256::HeaderMidstate;

/// Nonces per step.
pub const LANES: usize = 8;

/// True when this CPU has AVX2.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Scans `nonces`, eight at a time; returns the first nonce whose hash has
/// `difficulty` leading zero bits (confirmed through `sha2`).
///
/// # Panics
/// If [`available`] is false: callers must check it first.
pub fn scan(mid: &HeaderMidstate, nonces: std::ops::Range<u64>, difficulty: u32) -> Option<u64> {
    assert!(available(), "avx2::scan called on a CPU without AVX2");
    #[cfg(target_arch = "x86_64")]
    {
        let t = Template::new(mid);
        let zeros = difficulty.min(32);
        let mut n = nonces.start;
        while nonces.end.saturating_sub(n) >= LANES as u64 {
            // SAFETY: `available()` above confirmed AVX2.
            let first = unsafe { lanes(&t, n) };
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
        super::rounds::scan(mid, n..nonces.end.max(n), difficulty)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        super::rounds::scan(mid, nonces, difficulty)
    }
}

/// The first hash word of nonces `n..n + 8`.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub unsafe fn lanes(t: &Template, n: u64) -> [u32; 8] {
    macro_rules! rotr {
        ($x:expr, $r:literal) => {
            _mm256_or_si256(
                _mm256_srli_epi32::<$r>($x),
                _mm256_slli_epi32::<{ 32 - $r }>($x),
            )
        };
    }
    let add = |a, b| _mm256_add_epi32(a, b);
    let xor = |a, b| _mm256_xor_si256(a, b);
    let splat = |v: u32| _mm256_set1_epi32(v as i32);
    let s0 = |x| xor(xor(rotr!(x, 7), rotr!(x, 18)), _mm256_srli_epi32::<3>(x));
    let s1 = |x| xor(xor(rotr!(x, 17), rotr!(x, 19)), _mm256_srli_epi32::<10>(x));
    let mut lo = [0i32; 8];
    let mut hi = [0i32; 8];
    for (i, (l, h)) in lo.iter_mut().zip(hi.iter_mut()).enumerate() {
        let (w6, w7) = super::rounds::nonce_words(n.wrapping_add(i as u64));
        (*l, *h) = (w6 as i32, w7 as i32);
    }
    let w6 = _mm256_loadu_si256(lo.as_ptr().cast());
    let w7 = _mm256_loadu_si256(hi.as_ptr().cast());
    let mut w = [_mm256_setzero_si256(); 64];
    for (i, v) in t.w.iter().enumerate() {
        w[i] = splat(*v);
    }
    w[6] = w6;
    w[7] = w7;
    for (i, v) in t.w16_20.iter().enumerate() {
        w[16 + i] = splat(*v);
    }
    w[21] = add(splat(t.pre21), s0(w6));
    w[22] = add(add(splat(t.pre22), s0(w7)), w6);
    w[23] = add(add(splat(t.pre23), s1(w[21])), w7);
    for i in 24..64 {
        w[i] = add(add(s1(w[i - 2]), w[i - 7]), add(s0(w[i - 15]), w[i - 16]));
    }
    let st = t.state6;
    let (mut a, mut b, mut c, mut d) = (splat(st[0]), splat(st[1]), splat(st[2]), splat(st[3]));
    let (mut e, mut f, mut g, mut h) = (splat(st[4]), splat(st[5]), splat(st[6]), splat(st[7]));
    for (k, wi) in super::shani::K[6..].iter().zip(&w[6..]) {
        let big1 = xor(xor(rotr!(e, 6), rotr!(e, 11)), rotr!(e, 25));
        let ch = xor(_mm256_and_si256(e, f), _mm256_andnot_si256(e, g));
        let t1 = add(add(add(h, big1), add(ch, splat(*k))), *wi);
        let big0 = xor(xor(rotr!(a, 2), rotr!(a, 13)), rotr!(a, 22));
        let maj = xor(
            xor(_mm256_and_si256(a, b), _mm256_and_si256(a, c)),
            _mm256_and_si256(b, c),
        );
        let t2 = add(big0, maj);
        h = g;
        g = f;
        f = e;
        e = add(d, t1);
        d = c;
        c = b;
        b = a;
        a = add(t1, t2);
    }
    let first = add(a, splat(t.mid[0]));
    // SAFETY: both are 32 bytes of plain integers.
    unsafe { std::mem::transmute::<__m256i, [u32; 8]>(first) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lane_equals_sha2_on_random_templates_and_across_the_carry() {
        if !available() {
            eprintln!("skipped: no AVX2 on this CPU");
            return;
        }
        for seed in 0..32u64 {
            let mut header = [0u8; crate::consensus::header::HEADER_BYTES];
            let mut x = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
            for b in header.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            let mid = HeaderMidstate::new(&header);
            let t = Template::new(&mid);
            for start in [0, (1u64 << 32) - 4, u64::MAX - 7, x] {
                // SAFETY: `available()` was checked above.
                let got = unsafe { lanes(&t, start) };
                for (i, word) in got.iter().enumerate() {
                    let n = start.wrapping_add(i as u64);
                    assert_eq!(*word, mid.finish(n)[0], "seed {seed} nonce {n}");
                }
            }
        }
    }

    #[test]
    fn scan_finds_what_the_sha2_path_finds() {
        if !available() {
            return;
        }
        let mid = HeaderMidstate::new(&[3u8; crate::consensus::header::HEADER_BYTES]);
        for range in [0..20_000u64, (1 << 32) - 5000..(1 << 32) + 5003] {
            assert_eq!(
                scan(&mid, range.clone(), 10),
                super::super::sha256::scan(&mid, range, 10)
            );
        }
    }
}
