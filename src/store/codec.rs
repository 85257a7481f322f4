//! The one place that turns stored values into bytes and back.
//!
//! Metadata records go through serde and bincode 1.3 with fixed-width
//! little-endian integers, a size limit and no trailing bytes. bincode is
//! frozen upstream, so nothing outside this module names it: swapping the
//! format means changing this file and bumping the schema version. Values
//! that are consensus objects (pending transactions, blocks) are stored in
//! their consensus encoding, which is exact and documented; this module is
//! still their only door.
//!
//! A block record (schema 4, the `blocks` tree) is the block's cumulative
//! work (32 bytes, as in every record) followed by the block's consensus
//! encoding. Its first [`BLOCK_RECORD_PREFIX`] bytes (work, the 96-byte
//! header, the transaction count) and its length give the whole
//! [`HeaderRecord`], so a header read decodes no transaction.

use bincode::Options;
use serde::{de::DeserializeOwned, Serialize};

use crate::consensus::block::{decode_txs, encode_txs};
use crate::consensus::encode::Reader;
use crate::consensus::header::HEADER_BYTES;
use crate::consensus::{Block, BlockHash, BlockHeader, Transaction, Txid, Work};
use crate::store::schema::{HeaderRecord, AUTHOR_ENTRY_BYTES, HEIGHT_GROUP};

/// Bytes of the cumulative work that starts a block record.
const WORK_BYTES: usize = 32;

/// Bytes of a block record that hold everything but the transactions.
pub const BLOCK_RECORD_PREFIX: usize = WORK_BYTES + HEADER_BYTES + 4;

/// Largest metadata record we ever read (guards against a corrupt length).
const RECORD_LIMIT: u64 = 1 << 20;

/// A stored value that does not decode: the store is damaged.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode stored {what}: {reason}")]
pub struct CodecError {
    pub what: &'static str,
    pub reason: String,
}

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(RECORD_LIMIT)
        .reject_trailing_bytes()
}

/// Encodes a metadata record.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    options()
        .serialize(value)
        .expect("records are plain data well under the size limit")
}

/// Decodes a metadata record; `what` names it in the error.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &'static str) -> Result<T, CodecError> {
    options().deserialize(bytes).map_err(|e| CodecError {
        what,
        reason: e.to_string(),
    })
}

/// A block body as stored: the consensus transaction list.
pub fn encode_body(txs: &[Transaction]) -> Vec<u8> {
    encode_txs(txs)
}

pub fn decode_body(bytes: &[u8]) -> Result<Vec<Transaction>, CodecError> {
    let mut r = Reader::new(bytes);
    let txs = decode_txs(&mut r).and_then(|t| r.finish().map(|_| t));
    txs.map_err(|e| CodecError {
        what: "block body",
        reason: e.to_string(),
    })
}

/// A block as stored in `blocks`: its cumulative work, then its consensus
/// encoding.
pub fn encode_block_record(chain_work: &Work, block: &Block) -> Vec<u8> {
    let mut out = Vec::with_capacity(WORK_BYTES + block.encoded_len());
    out.extend_from_slice(&encode(chain_work));
    out.extend_from_slice(&block.header.encode());
    out.extend_from_slice(&(block.txs.len() as u32).to_le_bytes());
    for tx in &block.txs {
        tx.encode_to(&mut out);
    }
    out
}

fn record_error(reason: String) -> CodecError {
    CodecError {
        what: "block record",
        reason,
    }
}

/// The header record of a block record, from its prefix and length only.
pub fn decode_block_header(bytes: &[u8]) -> Result<HeaderRecord, CodecError> {
    if bytes.len() < BLOCK_RECORD_PREFIX {
        return Err(record_error(format!(
            "{} bytes, fewer than the {BLOCK_RECORD_PREFIX} of a header",
            bytes.len()
        )));
    }
    let size = u32::try_from(bytes.len() - WORK_BYTES)
        .map_err(|_| record_error("longer than any block".into()))?;
    let work: Work = decode(&bytes[..WORK_BYTES], "block record")?;
    let header = BlockHeader::decode(
        bytes[WORK_BYTES..WORK_BYTES + HEADER_BYTES]
            .try_into()
            .expect("the length was checked"),
    );
    let tx_count = u32::from_le_bytes(
        bytes[WORK_BYTES + HEADER_BYTES..BLOCK_RECORD_PREFIX]
            .try_into()
            .expect("the length was checked"),
    );
    Ok(HeaderRecord::new(&header, work, tx_count, size))
}

/// A whole block record: its header record and the block.
pub fn decode_block_record(bytes: &[u8]) -> Result<(HeaderRecord, Block), CodecError> {
    let record = decode_block_header(bytes)?;
    let block = Block::decode(&bytes[WORK_BYTES..]).map_err(|e| record_error(e.to_string()))?;
    Ok((record, block))
}

/// The transactions of a block record, without the header.
pub fn decode_block_txs(bytes: &[u8]) -> Result<Vec<Transaction>, CodecError> {
    if bytes.len() < BLOCK_RECORD_PREFIX {
        return Err(record_error(format!("{} bytes", bytes.len())));
    }
    decode_body(&bytes[WORK_BYTES + HEADER_BYTES..])
}

/// A pending transaction as stored: its consensus encoding.
pub fn encode_tx(tx: &Transaction) -> Vec<u8> {
    tx.encode()
}

pub fn decode_tx(bytes: &[u8]) -> Result<Transaction, CodecError> {
    Transaction::decode(bytes).map_err(|e| CodecError {
        what: "pending transaction",
        reason: e.to_string(),
    })
}

/// The `heights` key of the group holding `height`.
pub fn group_key(height: u64) -> [u8; 8] {
    height_key(height / HEIGHT_GROUP)
}

/// The hash at `height` in its group's value, if the group reaches it.
pub fn group_hash(value: &[u8], height: u64) -> Result<Option<BlockHash>, CodecError> {
    check_group(value)?;
    let at = (height % HEIGHT_GROUP) as usize * 32;
    Ok(value
        .get(at..at + 32)
        .map(|h| BlockHash(h.try_into().expect("32 bytes"))))
}

fn check_group(value: &[u8]) -> Result<(), CodecError> {
    if value.is_empty()
        || !value.len().is_multiple_of(32)
        || value.len() > 32 * HEIGHT_GROUP as usize
    {
        return Err(CodecError {
            what: "height group",
            reason: format!("{} bytes", value.len()),
        });
    }
    Ok(())
}

/// Every hash of a `heights` value, in height order.
pub fn group_hashes(value: &[u8]) -> Result<Vec<BlockHash>, CodecError> {
    check_group(value)?;
    Ok(value
        .chunks_exact(32)
        .map(|c| BlockHash(c.try_into().expect("chunks of 32")))
        .collect())
}

/// Appends an `author_groups` entry to `out`.
pub fn push_author_entry(out: &mut Vec<u8>, height: u64, index: u32, txid: &Txid) {
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&index.to_be_bytes());
    out.extend_from_slice(txid.as_bytes());
}

/// The entries of an `author_groups` value: height, position, txid.
pub fn author_entries(value: &[u8]) -> Result<Vec<(u64, u32, Txid)>, CodecError> {
    if value.is_empty() || !value.len().is_multiple_of(AUTHOR_ENTRY_BYTES) {
        return Err(CodecError {
            what: "author index record",
            reason: format!("{} bytes", value.len()),
        });
    }
    Ok(value
        .chunks_exact(AUTHOR_ENTRY_BYTES)
        .map(|c| {
            let height = u64::from_be_bytes(c[..8].try_into().expect("8 bytes"));
            let index = u32::from_be_bytes(c[8..12].try_into().expect("4 bytes"));
            let txid = Txid(c[12..].try_into().expect("32 bytes"));
            (height, index, txid)
        })
        .collect())
}

/// Keys that order numerically: big-endian u64.
pub fn height_key(height: u64) -> [u8; 8] {
    height.to_be_bytes()
}

pub fn decode_height_key(bytes: &[u8]) -> Result<u64, CodecError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| CodecError {
            what: "height key",
            reason: format!("{} bytes, expected 8", bytes.len()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct R {
        a: u64,
        b: [u8; 32],
    }

    #[test]
    fn records_round_trip_and_reject_garbage() {
        let r = R { a: 7, b: [1; 32] };
        let bytes = encode(&r);
        assert_eq!(bytes.len(), 40, "fixed-width encoding");
        assert_eq!(decode::<R>(&bytes, "r").unwrap(), r);
        assert!(decode::<R>(&bytes[..39], "r").is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode::<R>(&long, "r").is_err());
        assert_eq!(decode_height_key(&height_key(258)).unwrap(), 258);
        assert!(height_key(1) < height_key(256), "keys sort by height");
    }

    #[test]
    fn height_groups_hold_their_hashes_in_order() {
        let g = HEIGHT_GROUP;
        assert_eq!(group_key(g - 1), height_key(0));
        assert_eq!(group_key(g), height_key(1));
        let v: Vec<u8> = (0..3u8).flat_map(|i| [i; 32]).collect();
        assert_eq!(group_hash(&v, 2 * g + 1).unwrap(), Some(BlockHash([1; 32])));
        assert_eq!(group_hash(&v, 2 * g + 3).unwrap(), None);
        assert_eq!(group_hashes(&v).unwrap().len(), 3);
        assert!(group_hashes(&v[..40]).is_err());
        assert!(group_hashes(&[]).is_err());
        assert!(group_hashes(&vec![0; 32 * (g as usize + 1)]).is_err());
    }

    #[test]
    fn author_entries_round_trip_in_order() {
        let mut v = Vec::new();
        push_author_entry(&mut v, 7, 2, &Txid([9; 32]));
        push_author_entry(&mut v, 300, 0, &Txid([8; 32]));
        assert_eq!(v.len(), 88);
        assert_eq!(
            author_entries(&v).unwrap(),
            vec![(7, 2, Txid([9; 32])), (300, 0, Txid([8; 32]))]
        );
        assert!(v[..44] < v[44..], "entries sort by height as bytes");
        assert!(author_entries(&v[..50]).is_err());
        assert!(author_entries(&[]).is_err());
    }

    #[test]
    fn block_records_carry_the_header_record_in_their_prefix() {
        use crate::consensus::Difficulty;
        let params = crate::testkit::named_params("t", 0, 10, true, [7; 16]);
        let block = Block::genesis(&params, 1_000);
        let work = Difficulty(3).work();
        let bytes = encode_block_record(&work, &block);
        assert_eq!(bytes.len(), 32 + block.encoded_len());
        let want = HeaderRecord::new(
            &block.header,
            work,
            block.txs.len() as u32,
            block.encoded_len() as u32,
        );
        assert_eq!(decode_block_header(&bytes).unwrap(), want);
        let (r, b) = decode_block_record(&bytes).unwrap();
        assert_eq!((r, b.hash(), b.txs.len()), (want, block.hash(), 1));
        assert_eq!(decode_block_txs(&bytes).unwrap(), block.txs);
        assert!(decode_block_header(&bytes[..BLOCK_RECORD_PREFIX - 1]).is_err());
        assert!(decode_block_record(&bytes[..bytes.len() - 1]).is_err());
    }
}
