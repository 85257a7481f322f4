//! [`BlockHeader`]: the fixed 96-byte header whose SHA-256 is the block hash.
//!
//! Layout (`docs/FORMAT.md`, "Block header"), integers little-endian:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 4 | version (u32, currently 1) |
//! | 4 | 8 | height (u64; genesis is 0) |
//! | 12 | 32 | previous block hash (zeros for genesis) |
//! | 44 | 32 | Merkle root of the transaction ids |
//! | 76 | 8 | timestamp, ms since the Unix epoch (u64) |
//! | 84 | 4 | difficulty, leading zero bits (u32) |
//! | 88 | 8 | nonce (u64) |
//!
//! The first 64 bytes are one SHA-256 block; the remaining 32 bytes, the
//! `0x80` padding byte and the 8-byte bit length (768) fit the second block,
//! and the nonce is in that tail. A miner therefore compresses the first block
//! once (the midstate) and each nonce costs one compression.

use super::encode::{DecodeError, Reader};
use super::hash::{sha256, BlockHash, MerkleNode};
use super::pow::Difficulty;

/// Size of an encoded header.
pub const HEADER_BYTES: usize = 96;
/// Offset of the nonce in the encoded header.
pub const NONCE_OFFSET: usize = 88;
/// The only header version this code accepts.
pub const HEADER_VERSION: u32 = 1;

// The tail after the first SHA-256 block plus 9 bytes of padding fits one
// 64-byte block, and the nonce is in it: one compression per nonce.
const _: () = assert!(HEADER_BYTES - 64 + 1 + 8 <= 64 && NONCE_OFFSET >= 64);

/// A block header. See the module docs for the byte layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    pub version: u32,
    pub height: u64,
    pub prev_hash: BlockHash,
    pub merkle_root: MerkleNode,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    pub difficulty: Difficulty,
    pub nonce: u64,
}

impl BlockHeader {
    /// The 96 consensus bytes.
    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut b = [0u8; HEADER_BYTES];
        b[0..4].copy_from_slice(&self.version.to_le_bytes());
        b[4..12].copy_from_slice(&self.height.to_le_bytes());
        b[12..44].copy_from_slice(self.prev_hash.as_bytes());
        b[44..76].copy_from_slice(self.merkle_root.as_bytes());
        b[76..84].copy_from_slice(&self.timestamp.to_le_bytes());
        b[84..88].copy_from_slice(&self.difficulty.0.to_le_bytes());
        b[NONCE_OFFSET..].copy_from_slice(&self.nonce.to_le_bytes());
        b
    }

    /// Parses the 96 consensus bytes. Every byte string of that length is a
    /// header; whether it is valid is for the rules to say.
    pub fn decode(bytes: &[u8; HEADER_BYTES]) -> Self {
        let u32_at =
            |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
        let u64_at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&bytes[o..o + 8]);
            u64::from_le_bytes(a)
        };
        let h32 = |o: usize| {
            let mut a = [0u8; 32];
            a.copy_from_slice(&bytes[o..o + 32]);
            a
        };
        BlockHeader {
            version: u32_at(0),
            height: u64_at(4),
            prev_hash: BlockHash(h32(12)),
            merkle_root: MerkleNode(h32(44)),
            timestamp: u64_at(76),
            difficulty: Difficulty(u32_at(84)),
            nonce: u64_at(NONCE_OFFSET),
        }
    }

    /// Reads a header from `r`.
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self::decode(&r.array::<HEADER_BYTES>("block header")?))
    }

    /// SHA-256 of the encoded header.
    pub fn hash(&self) -> BlockHash {
        BlockHash(sha256(&self.encode()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_the_documented_one() {
        let h = BlockHeader {
            version: 1,
            height: 2,
            prev_hash: BlockHash([3; 32]),
            merkle_root: MerkleNode([4; 32]),
            timestamp: 5,
            difficulty: Difficulty(6),
            nonce: 0x0807060504030201,
        };
        let b = h.encode();
        assert_eq!(&b[0..4], &[1, 0, 0, 0]);
        assert_eq!(&b[4..12], &[2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[12..44], &[3; 32]);
        assert_eq!(&b[44..76], &[4; 32]);
        assert_eq!(&b[76..84], &[5, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[84..88], &[6, 0, 0, 0]);
        assert_eq!(&b[88..96], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(BlockHeader::decode(&b), h);
    }
}
