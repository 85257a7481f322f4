//! SHA-256 of a block header split for mining: the midstate after the first
//! 64 header bytes, and the final block (header tail, nonce, padding) that is
//! compressed once per nonce. This is the safe, portable path through
//! `sha2::compress256`; [`super::shani`] is the fast path and is checked
//! against this one.

use sha2::digest::generic_array::GenericArray;

use crate::consensus::header::{HEADER_BYTES, NONCE_OFFSET};
use crate::consensus::BlockHash;

/// SHA-256 initial hash value (FIPS 180-4, 5.3.3).
pub const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// Offset of the nonce inside the final block.
pub const TAIL_NONCE_OFFSET: usize = NONCE_OFFSET - 64;

/// A header prepared for the nonce search: the state after its first block,
/// and its padded final block with the nonce bytes to be filled in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderMidstate {
    pub state: [u32; 8],
    pub tail: [u8; 64],
}

impl HeaderMidstate {
    pub fn new(header: &[u8; HEADER_BYTES]) -> Self {
        let mut state = IV;
        sha2::compress256(&mut state, &[*GenericArray::from_slice(&header[..64])]);
        let mut tail = [0u8; 64];
        tail[..HEADER_BYTES - 64].copy_from_slice(&header[64..]);
        tail[HEADER_BYTES - 64] = 0x80;
        tail[56..].copy_from_slice(&((HEADER_BYTES as u64) * 8).to_be_bytes());
        HeaderMidstate { state, tail }
    }

    /// The final SHA-256 state for `nonce`: the hash as eight big-endian words.
    pub fn finish(&self, nonce: u64) -> [u32; 8] {
        let mut block = self.tail;
        block[TAIL_NONCE_OFFSET..TAIL_NONCE_OFFSET + 8].copy_from_slice(&nonce.to_le_bytes());
        let mut state = self.state;
        sha2::compress256(&mut state, &[*GenericArray::from_slice(&block)]);
        state
    }
}

/// The hash bytes of a final state.
pub fn state_to_hash(state: &[u32; 8]) -> BlockHash {
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    BlockHash(out)
}

/// Scans `nonces` through the portable path; returns the first nonce whose
/// hash has `difficulty` leading zero bits.
pub fn scan(mid: &HeaderMidstate, nonces: std::ops::Range<u64>, difficulty: u32) -> Option<u64> {
    let first_word_zeros = difficulty.min(32);
    nonces.into_iter().find(|&n| {
        let st = mid.finish(n);
        st[0].leading_zeros() >= first_word_zeros && super::meets(&st, difficulty)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::hash::sha256;

    #[test]
    fn midstate_path_equals_plain_sha256() {
        let mut header = [0u8; HEADER_BYTES];
        for (i, b) in header.iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        let mid = HeaderMidstate::new(&header);
        for nonce in [
            0,
            1,
            255,
            256,
            u32::MAX as u64,
            1 << 32,
            u64::MAX - 1,
            u64::MAX,
        ] {
            header[NONCE_OFFSET..].copy_from_slice(&nonce.to_le_bytes());
            assert_eq!(
                state_to_hash(&mid.finish(nonce)).0,
                sha256(&header),
                "nonce {nonce}"
            );
        }
    }
}
