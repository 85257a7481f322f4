//! The one place that turns stored values into bytes and back.
//!
//! Metadata records go through serde and bincode 1.3 with fixed-width
//! little-endian integers, a size limit and no trailing bytes. bincode is
//! frozen upstream, so nothing outside this module names it: swapping the
//! format means changing this file and bumping the schema version. Values
//! that are consensus objects (pending transactions, block bodies) are stored
//! in their consensus encoding, which is exact and documented; this module
//! is still their only door.

use bincode::Options;
use serde::{de::DeserializeOwned, Serialize};

use crate::consensus::block::{decode_txs, encode_txs};
use crate::consensus::encode::Reader;
use crate::consensus::Transaction;

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
}
