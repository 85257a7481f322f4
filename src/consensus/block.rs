//! [`Block`]: a header and its transactions, the block encoding, and the
//! genesis block that commits to the chain parameters.
//!
//! Encoding (`docs/FORMAT.md`, "Block"): the 96-byte header, the transaction
//! count (u32 little-endian), then each transaction's canonical encoding. The
//! whole encoding is at most [`MAX_BLOCK_BYTES`].

use super::encode::{DecodeError, Reader};
use super::hash::{BlockHash, Txid};
use super::header::{BlockHeader, HEADER_BYTES, HEADER_VERSION};
use super::merkle::merkle_root;
use super::params::ChainParams;
use super::transaction::Transaction;

/// Largest encoded block, header included.
pub const MAX_BLOCK_BYTES: usize = 1024 * 1024;
/// Smallest encoded transaction (1-byte author, empty data).
pub const MIN_TX_BYTES: usize = 1 + 1 + 8 + 4;
/// Author of the single transaction in a genesis block.
pub const GENESIS_AUTHOR: &str = "genesis";

/// A block: header and transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub header: BlockHeader,
    pub txs: Vec<Transaction>,
}

impl Block {
    /// The genesis block of a chain with `params`, created at `timestamp`
    /// (ms), not yet mined (nonce 0). Its one transaction carries the
    /// encoded parameters, so the genesis hash commits to them.
    pub fn genesis(params: &ChainParams, timestamp: u64) -> Block {
        let tx = Transaction::new(GENESIS_AUTHOR, timestamp, params.encode())
            .expect("encoded parameters are far below the data limit");
        let header = BlockHeader {
            version: HEADER_VERSION,
            height: 0,
            prev_hash: BlockHash::ZERO,
            merkle_root: merkle_root(&[tx.txid()]),
            timestamp,
            difficulty: params.initial_difficulty,
            nonce: 0,
        };
        Block {
            header,
            txs: vec![tx],
        }
    }

    /// The chain parameters carried by a genesis block, if this is one.
    pub fn genesis_params(&self) -> Option<ChainParams> {
        match self.txs.as_slice() {
            [tx] if self.header.height == 0 && tx.author() == GENESIS_AUTHOR => {
                ChainParams::decode(tx.data()).ok()
            }
            _ => None,
        }
    }

    pub fn hash(&self) -> BlockHash {
        self.header.hash()
    }

    pub fn txids(&self) -> Vec<Txid> {
        self.txs.iter().map(Transaction::txid).collect()
    }

    /// Length of [`Block::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        HEADER_BYTES + 4 + self.txs.iter().map(Transaction::encoded_len).sum::<usize>()
    }

    /// The consensus encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&self.header.encode());
        out.extend_from_slice(&(self.txs.len() as u32).to_le_bytes());
        for tx in &self.txs {
            tx.encode_to(&mut out);
        }
        out
    }

    /// Parses a block encoding. Rejects oversize blocks, truncation and
    /// trailing bytes; the rules in [`super::rules`] check the rest.
    pub fn decode(bytes: &[u8]) -> Result<Block, DecodeError> {
        if bytes.len() > MAX_BLOCK_BYTES {
            return Err(DecodeError::TooLong {
                field: "block",
                len: bytes.len() as u64,
                max: MAX_BLOCK_BYTES as u64,
            });
        }
        let mut r = Reader::new(bytes);
        let header = BlockHeader::decode_from(&mut r)?;
        let txs = decode_txs(&mut r)?;
        r.finish()?;
        Ok(Block { header, txs })
    }
}

/// Reads a transaction count and that many transactions.
pub fn decode_txs(r: &mut Reader<'_>) -> Result<Vec<Transaction>, DecodeError> {
    let count = r.u32("transaction count")? as usize;
    let room = MAX_BLOCK_BYTES / MIN_TX_BYTES;
    if count > room {
        return Err(DecodeError::TooLong {
            field: "transaction count",
            len: count as u64,
            max: room as u64,
        });
    }
    // Room for no more transactions than the bytes left can hold: a short
    // input claiming a large count (a peer's, say) allocates nothing big.
    let mut txs = Vec::with_capacity(count.min(r.remaining() / MIN_TX_BYTES));
    for _ in 0..count {
        txs.push(Transaction::decode_from(r)?);
    }
    Ok(txs)
}

/// Encodes a transaction list as a block body: count, then transactions.
pub fn encode_txs(txs: &[Transaction]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + txs.iter().map(Transaction::encoded_len).sum::<usize>());
    out.extend_from_slice(&(txs.len() as u32).to_le_bytes());
    for tx in txs {
        tx.encode_to(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> ChainParams {
        crate::testkit::named_params("t", 4, 10, false, [1; 16])
    }

    #[test]
    fn genesis_commits_to_params() {
        let p = params();
        let g = Block::genesis(&p, 1000);
        assert_eq!(g.genesis_params(), Some(p.clone()));
        let mut q = p.clone();
        q.salt = [2; 16];
        assert_ne!(Block::genesis(&q, 1000).hash(), g.hash());
        assert_eq!(g.header.merkle_root, merkle_root(&g.txids()));
    }

    #[test]
    fn round_trip_and_truncation() {
        let mut b = Block::genesis(&params(), 5);
        b.txs.push(Transaction::new("x", 6, vec![1, 2, 3]).unwrap());
        let enc = b.encode();
        assert_eq!(enc.len(), b.encoded_len());
        assert_eq!(Block::decode(&enc).unwrap(), b);
        for cut in [0, 95, 96, 99, 100, enc.len() - 1] {
            assert!(Block::decode(&enc[..cut]).is_err(), "cut {cut}");
        }
        let mut long = enc.clone();
        long.push(0);
        assert!(Block::decode(&long).is_err());
        assert!(Block::decode(&vec![0u8; MAX_BLOCK_BYTES + 1]).is_err());
    }
}
