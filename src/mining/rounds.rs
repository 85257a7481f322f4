//! Fewer rounds per nonce. The nonce fills words 6 and 7 of the final
//! SHA-256 block (`docs/FORMAT.md`, "Block header"), so for one template
//! rounds 0 to 5 and the message-schedule words that do not depend on
//! words 6 and 7 are the same for every nonce. [`Template`] computes them
//! once: the state after round 5, `W16..W20` whole, and the parts of
//! `W21..W23` that do not change. A nonce then costs rounds 6 to 63 and
//! the schedule from `W21` on. [`scan`] is the portable (safe) scalar
//! path over it; [`super::avx2`] runs the same plan eight nonces at a time.
//! Both are cross-checked against `sha2` in the tests below.

use super::sha256::HeaderMidstate;
use super::shani::K;

#[inline(always)]
fn big_s0(x: u32) -> u32 {
    x.rotate_right(2) ^ x.rotate_right(13) ^ x.rotate_right(22)
}
#[inline(always)]
fn big_s1(x: u32) -> u32 {
    x.rotate_right(6) ^ x.rotate_right(11) ^ x.rotate_right(25)
}
#[inline(always)]
pub(crate) fn small_s0(x: u32) -> u32 {
    x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3)
}
#[inline(always)]
pub(crate) fn small_s1(x: u32) -> u32 {
    x.rotate_right(17) ^ x.rotate_right(19) ^ (x >> 10)
}

/// One SHA-256 round on `s` (a..h) with message word `w` and constant `k`.
#[inline(always)]
fn round(s: &mut [u32; 8], k: u32, w: u32) {
    let [a, b, c, d, e, f, g, h] = *s;
    let t1 = h
        .wrapping_add(big_s1(e))
        .wrapping_add((e & f) ^ (!e & g))
        .wrapping_add(k)
        .wrapping_add(w);
    let t2 = big_s0(a).wrapping_add((a & b) ^ (a & c) ^ (b & c));
    *s = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
}

/// What every nonce of one template shares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// The midstate (the state before the final block).
    pub mid: [u32; 8],
    /// The state after rounds 0 to 5 of the final block.
    pub state6: [u32; 8],
    /// The final block's words; 6 and 7 (the nonce) are left at zero.
    pub w: [u32; 16],
    /// `W16..W20`, whole.
    pub w16_20: [u32; 5],
    /// `W21` less `σ0(W6)`; `W22` less `σ0(W7) + W6`; `W23` less
    /// `σ1(W21) + W7`.
    pub pre21: u32,
    pub pre22: u32,
    pub pre23: u32,
}

/// The final block's words 6 and 7 for `nonce` (its little-endian bytes
/// read as big-endian words).
#[inline(always)]
pub fn nonce_words(nonce: u64) -> (u32, u32) {
    (
        (nonce as u32).swap_bytes(),
        ((nonce >> 32) as u32).swap_bytes(),
    )
}

impl Template {
    pub fn new(mid: &HeaderMidstate) -> Template {
        let mut w = [0u32; 16];
        for (i, c) in mid.tail.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        w[6] = 0;
        w[7] = 0;
        let mut state6 = mid.state;
        for t in 0..6 {
            round(&mut state6, K[t], w[t]);
        }
        let sched = |a: u32, b: u32, c: u32, d: u32| {
            small_s1(a)
                .wrapping_add(b)
                .wrapping_add(small_s0(c))
                .wrapping_add(d)
        };
        let w16 = sched(w[14], w[9], w[1], w[0]);
        let w17 = sched(w[15], w[10], w[2], w[1]);
        let w18 = sched(w16, w[11], w[3], w[2]);
        let w19 = sched(w17, w[12], w[4], w[3]);
        let w20 = sched(w18, w[13], w[5], w[4]);
        Template {
            mid: mid.state,
            state6,
            w,
            w16_20: [w16, w17, w18, w19, w20],
            pre21: small_s1(w19).wrapping_add(w[14]).wrapping_add(w[5]),
            pre22: small_s1(w20).wrapping_add(w[15]),
            pre23: w16.wrapping_add(small_s0(w[8])),
        }
    }

    /// The first word of the hash for `nonce`, from round 6 on.
    pub fn first_word(&self, nonce: u64) -> u32 {
        self.finish(nonce)[0]
    }

    /// The final state (the hash as big-endian words) for `nonce`.
    pub fn finish(&self, nonce: u64) -> [u32; 8] {
        let (w6, w7) = nonce_words(nonce);
        let mut w = [0u32; 64];
        w[..16].copy_from_slice(&self.w);
        w[6] = w6;
        w[7] = w7;
        w[16..21].copy_from_slice(&self.w16_20);
        w[21] = self.pre21.wrapping_add(small_s0(w6));
        w[22] = self.pre22.wrapping_add(small_s0(w7)).wrapping_add(w6);
        w[23] = self.pre23.wrapping_add(small_s1(w[21])).wrapping_add(w7);
        for t in 24..64 {
            w[t] = small_s1(w[t - 2])
                .wrapping_add(w[t - 7])
                .wrapping_add(small_s0(w[t - 15]))
                .wrapping_add(w[t - 16]);
        }
        let mut s = self.state6;
        for t in 6..64 {
            round(&mut s, K[t], w[t]);
        }
        let mut out = [0u32; 8];
        for i in 0..8 {
            out[i] = self.mid[i].wrapping_add(s[i]);
        }
        out
    }
}

/// Scans `nonces` on the scalar path from round 6; a candidate is checked
/// again through `sha2` before it is returned.
pub fn scan(mid: &HeaderMidstate, nonces: std::ops::Range<u64>, difficulty: u32) -> Option<u64> {
    let t = Template::new(mid);
    let zeros = difficulty.min(32);
    nonces.into_iter().find(|&n| {
        t.first_word(n).leading_zeros() >= zeros && super::meets(&mid.finish(n), difficulty)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::header::HEADER_BYTES;

    /// A header of pseudo-random bytes from `seed`.
    pub(crate) fn header(seed: u64) -> [u8; HEADER_BYTES] {
        let mut x = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
        let mut h = [0u8; HEADER_BYTES];
        for b in h.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        h
    }

    #[test]
    fn from_round_six_equals_sha2_on_random_templates_and_nonces() {
        for seed in 0..64 {
            let mid = HeaderMidstate::new(&header(seed));
            let t = Template::new(&mid);
            let mut n = seed.wrapping_mul(0x2545f4914f6cdd1d);
            for nonce in [0, 1, 0xffff_ffff, 1 << 32, (1 << 32) + 1, u64::MAX, n] {
                assert_eq!(
                    t.finish(nonce),
                    mid.finish(nonce),
                    "seed {seed} nonce {nonce}"
                );
            }
            for _ in 0..32 {
                n = n.wrapping_mul(6364136223846793005).wrapping_add(1);
                assert_eq!(t.finish(n), mid.finish(n), "seed {seed} nonce {n}");
            }
        }
    }

    #[test]
    fn scan_finds_what_the_sha2_path_finds_across_the_2_32_carry() {
        let mid = HeaderMidstate::new(&header(7));
        let around = (1u64 << 32) - 3000..(1u64 << 32) + 3000;
        assert_eq!(
            scan(&mid, around.clone(), 8),
            super::super::sha256::scan(&mid, around, 8)
        );
    }
}
