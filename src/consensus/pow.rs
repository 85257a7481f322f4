//! Proof of work: [`Difficulty`] (leading zero bits a block hash must have) and
//! [`Work`] (the expected number of hashes behind a block or a chain).
//!
//! A hash meets difficulty `d` when its first `d` bits, reading the digest
//! bytes in order and each byte from its most significant bit, are zero. The
//! work of a block of difficulty `d` is `2^d`; a chain's work is the sum over
//! its blocks. With `d <= MAX_DIFFICULTY = 192` and fewer than `2^64` blocks,
//! the sum always fits in 256 bits.

use std::cmp::Ordering;
use std::fmt;

use super::hash::BlockHash;

/// The largest difficulty a chain may use.
pub const MAX_DIFFICULTY: u32 = 192;

/// Number of leading zero bits a block hash must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Difficulty(pub u32);

impl Difficulty {
    /// True when `hash` starts with at least `self` zero bits.
    pub fn is_met_by(self, hash: &BlockHash) -> bool {
        leading_zero_bits(hash.as_bytes()) >= self.0
    }

    /// The work of one block at this difficulty: `2^d`.
    pub fn work(self) -> Work {
        Work::pow2(self.0.min(255))
    }
}

impl fmt::Display for Difficulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Leading zero bits of a digest, most significant bit of byte 0 first.
pub fn leading_zero_bits(bytes: &[u8; 32]) -> u32 {
    let mut n = 0;
    for &b in bytes {
        if b != 0 {
            return n + b.leading_zeros();
        }
        n += 8;
    }
    n
}

/// An unsigned 256-bit amount of work. Limbs are little-endian (`0` is least
/// significant).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Work([u64; 4]);

impl Work {
    pub const ZERO: Work = Work([0; 4]);

    /// `2^exp`, for `exp < 256`.
    pub fn pow2(exp: u32) -> Work {
        let mut limbs = [0u64; 4];
        limbs[(exp / 64) as usize] = 1u64 << (exp % 64);
        Work(limbs)
    }

    /// `self + other`, or `None` past `2^256 - 1`.
    pub fn checked_add(self, other: Work) -> Option<Work> {
        let mut out = [0u64; 4];
        let mut carry = false;
        for (i, o) in out.iter_mut().enumerate() {
            let (s1, c1) = self.0[i].overflowing_add(other.0[i]);
            let (s2, c2) = s1.overflowing_add(carry as u64);
            *o = s2;
            carry = c1 || c2;
        }
        (!carry).then_some(Work(out))
    }

    /// `self - other`, or `None` when `other > self`.
    pub fn checked_sub(self, other: Work) -> Option<Work> {
        let mut out = [0u64; 4];
        let mut borrow = false;
        for (i, o) in out.iter_mut().enumerate() {
            let (s1, b1) = self.0[i].overflowing_sub(other.0[i]);
            let (s2, b2) = s1.overflowing_sub(borrow as u64);
            *o = s2;
            borrow = b1 || b2;
        }
        (!borrow).then_some(Work(out))
    }

    /// The four 64-bit limbs, least significant first (the store's record
    /// form writes each little-endian).
    pub fn to_limbs(self) -> [u64; 4] {
        self.0
    }

    /// The amount whose limbs, least significant first, are `limbs`.
    pub fn from_limbs(limbs: [u64; 4]) -> Work {
        Work(limbs)
    }

    /// Big-endian bytes, for keys and the export format.
    pub fn to_be_bytes(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for i in 0..4 {
            out[i * 8..i * 8 + 8].copy_from_slice(&self.0[3 - i].to_be_bytes());
        }
        out
    }

    /// The amount whose big-endian bytes are `bytes` (as a peer sends it).
    pub fn from_be_bytes(bytes: [u8; 32]) -> Work {
        let mut limbs = [0u64; 4];
        for (i, limb) in limbs.iter_mut().enumerate() {
            let at = (3 - i) * 8;
            *limb = u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        }
        Work(limbs)
    }

    /// The value as an approximate power of two, for display.
    pub fn log2(self) -> f64 {
        let mut acc = 0f64;
        for i in (0..4).rev() {
            acc = acc * 18446744073709551616.0 + self.0[i] as f64;
        }
        acc.log2()
    }
}

impl Ord for Work {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.iter().rev().cmp(other.0.iter().rev())
    }
}

impl PartialOrd for Work {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Work {
    /// Decimal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Repeated division by 10 over 32-bit digits of the 256-bit value.
        let mut words = [0u32; 8];
        for i in 0..4 {
            words[i * 2] = self.0[i] as u32;
            words[i * 2 + 1] = (self.0[i] >> 32) as u32;
        }
        let mut digits = Vec::new();
        loop {
            let mut rem = 0u64;
            for w in words.iter_mut().rev() {
                let cur = (rem << 32) | *w as u64;
                *w = (cur / 10) as u32;
                rem = cur % 10;
            }
            digits.push(b'0' + rem as u8);
            if words.iter().all(|&w| w == 0) {
                break;
            }
        }
        digits.reverse();
        f.write_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Work {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Work({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_zero_bits_counts_across_bytes() {
        let mut h = [0u8; 32];
        assert_eq!(leading_zero_bits(&h), 256);
        h[0] = 0x80;
        assert_eq!(leading_zero_bits(&h), 0);
        h[0] = 0;
        h[1] = 0x01;
        assert_eq!(leading_zero_bits(&h), 15);
        assert!(Difficulty(15).is_met_by(&BlockHash(h)));
        assert!(!Difficulty(16).is_met_by(&BlockHash(h)));
    }

    #[test]
    fn work_arithmetic_and_display() {
        assert_eq!(Difficulty(0).work().to_string(), "1");
        assert_eq!(Difficulty(20).work().to_string(), "1048576");
        let w = Difficulty(64)
            .work()
            .checked_add(Difficulty(64).work())
            .unwrap();
        assert_eq!(w, Difficulty(65).work());
        assert_eq!(w.to_string(), "36893488147419103232");
        assert!(Difficulty(65).work() > Difficulty(64).work());
        assert!(Difficulty(130).work() > Work([u64::MAX, u64::MAX, 0, 0]));
        assert_eq!(
            Difficulty(65).work().checked_sub(Difficulty(64).work()),
            Some(Difficulty(64).work())
        );
        assert_eq!(Work::ZERO.checked_sub(Difficulty(0).work()), None);
        assert_eq!(Work::pow2(255).checked_add(Work::pow2(255)), None);
        assert_eq!(Work::pow2(8).to_be_bytes()[30], 1);
        assert!((Difficulty(40).work().log2() - 40.0).abs() < 1e-9);
        // 2^192 in decimal, checked against an independent computation.
        assert_eq!(
            Work::pow2(192).to_string(),
            "6277101735386680763835789423207666416102355444464034512896"
        );
    }
}
