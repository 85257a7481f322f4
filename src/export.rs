//! The export format: JSON lines, one block per line in height order, with
//! every hash included so that any reader can recompute and check them
//! (`docs/FORMAT.md`, "Export format"). Also the parser `import` uses, which
//! rebuilds each block from its fields and refuses a line whose hashes do
//! not match.

use serde::{Deserialize, Serialize};

use crate::api::json::{self, JsonError, Object};
use crate::consensus::transaction::{Signed, TxError};
use crate::consensus::{
    Block, BlockHash, BlockHeader, Difficulty, MerkleNode, PublicKey, Signature, Transaction, Txid,
};

/// Why an export line is not a block.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// Not JSON, or not a block line's fields (read strictly:
    /// [`crate::api::json`]).
    #[error("not a block: {0}")]
    NotABlock(#[from] JsonError),
    /// The header's fields do not hash to the line's `hash`.
    #[error("block {claimed} hashes to {actual}")]
    BlockHash {
        claimed: BlockHash,
        actual: BlockHash,
    },
    #[error("transaction {txid} needs exactly one of data and data_hex")]
    DataFields { txid: Txid },
    #[error("transaction {txid} needs both public_key and signature, or neither")]
    SignatureFields { txid: Txid },
    #[error("data_hex of {txid}: {source}")]
    DataHex {
        txid: Txid,
        source: hex::FromHexError,
    },
    /// The transaction's fields break a transaction rule.
    #[error("transaction {txid}: {source}")]
    Transaction { txid: Txid, source: TxError },
    /// The transaction's fields do not hash to its `txid`.
    #[error("transaction {claimed} hashes to {actual}")]
    Txid { claimed: Txid, actual: Txid },
}

/// One line of an export.
#[derive(Debug, Serialize)]
pub struct BlockLine {
    pub hash: BlockHash,
    pub header: HeaderJson,
    pub txs: Vec<TxJson>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderJson {
    pub version: u32,
    pub height: u64,
    pub prev_hash: BlockHash,
    pub merkle_root: MerkleNode,
    pub timestamp: u64,
    pub difficulty: u32,
    pub nonce: u64,
}

/// A transaction; its data is `data` when it is valid UTF-8, else `data_hex`.
#[derive(Debug, Serialize)]
pub struct TxJson {
    pub txid: Txid,
    pub author: String,
    pub timestamp: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub data_hex: Option<String>,
    /// A signed entry's key and signature (both or neither).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub public_key: Option<PublicKey>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signature: Option<Signature>,
}

impl HeaderJson {
    /// The header's fields, from its JSON object.
    fn read(mut o: Object) -> Result<Self, JsonError> {
        o.only(&[
            "version",
            "height",
            "prev_hash",
            "merkle_root",
            "timestamp",
            "difficulty",
            "nonce",
        ])?;
        Ok(HeaderJson {
            version: o.get("version")?,
            height: o.get("height")?,
            prev_hash: o.get("prev_hash")?,
            merkle_root: o.get("merkle_root")?,
            timestamp: o.get("timestamp")?,
            difficulty: o.get("difficulty")?,
            nonce: o.get("nonce")?,
        })
    }
}

impl TxJson {
    /// The transaction's fields, from its JSON object.
    fn read(mut o: Object) -> Result<Self, JsonError> {
        o.only(&[
            "txid",
            "author",
            "timestamp",
            "data",
            "data_hex",
            "public_key",
            "signature",
        ])?;
        Ok(TxJson {
            txid: o.get("txid")?,
            author: o.get("author")?,
            timestamp: o.get("timestamp")?,
            data: o.opt("data")?,
            data_hex: o.opt("data_hex")?,
            public_key: o.opt("public_key")?,
            signature: o.opt("signature")?,
        })
    }

    pub fn new(tx: &Transaction) -> Self {
        let (data, data_hex) = match std::str::from_utf8(tx.data()) {
            Ok(s) => (Some(s.to_owned()), None),
            Err(_) => (None, Some(hex::encode(tx.data()))),
        };
        TxJson {
            txid: tx.txid(),
            author: tx.author().to_owned(),
            timestamp: tx.timestamp(),
            data,
            data_hex,
            public_key: tx.signed().map(|s| s.key),
            signature: tx.signed().map(|s| s.signature),
        }
    }

    /// The transaction, checked against its txid.
    pub fn to_tx(&self) -> Result<Transaction, LineError> {
        let txid = self.txid;
        let data = match (&self.data, &self.data_hex) {
            (Some(s), None) => s.as_bytes().to_vec(),
            (None, Some(h)) => {
                hex::decode(h).map_err(|source| LineError::DataHex { txid, source })?
            }
            _ => return Err(LineError::DataFields { txid }),
        };
        let tx = match (self.public_key, self.signature) {
            (None, None) => Transaction::new(self.author.clone(), self.timestamp, data),
            (Some(key), Some(signature)) => Transaction::with_signature(
                self.author.clone(),
                self.timestamp,
                data,
                Signed { key, signature },
            ),
            _ => return Err(LineError::SignatureFields { txid }),
        }
        .map_err(|source| LineError::Transaction { txid, source })?;
        let actual = tx.txid();
        if actual != txid {
            return Err(LineError::Txid {
                claimed: txid,
                actual,
            });
        }
        Ok(tx)
    }
}

impl BlockLine {
    /// A line's fields, read strictly from its text.
    pub fn read(line: &str) -> Result<Self, JsonError> {
        let mut o = Object::parse(line.as_bytes())?;
        o.only(&["hash", "header", "txs"])?;
        Ok(BlockLine {
            hash: o.get("hash")?,
            header: HeaderJson::read(o.object("header")?)?,
            txs: o
                .objects("txs")?
                .into_iter()
                .map(TxJson::read)
                .collect::<Result<_, _>>()?,
        })
    }

    pub fn new(block: &Block) -> Self {
        let h = &block.header;
        BlockLine {
            hash: block.hash(),
            header: HeaderJson {
                version: h.version,
                height: h.height,
                prev_hash: h.prev_hash,
                merkle_root: h.merkle_root,
                timestamp: h.timestamp,
                difficulty: h.difficulty.0,
                nonce: h.nonce,
            },
            txs: block.txs.iter().map(TxJson::new).collect(),
        }
    }

    /// The block, with its hash and every txid checked.
    pub fn to_block(&self) -> Result<Block, LineError> {
        let h = &self.header;
        let header = BlockHeader {
            version: h.version,
            height: h.height,
            prev_hash: h.prev_hash,
            merkle_root: h.merkle_root,
            timestamp: h.timestamp,
            difficulty: Difficulty(h.difficulty),
            nonce: h.nonce,
        };
        let actual = header.hash();
        if actual != self.hash {
            return Err(LineError::BlockHash {
                claimed: self.hash,
                actual,
            });
        }
        let txs = self
            .txs
            .iter()
            .map(TxJson::to_tx)
            .collect::<Result<_, _>>()?;
        Ok(Block { header, txs })
    }
}

/// One export line for `block`, without the newline; every control
/// character in its strings is an escape.
pub fn to_line(block: &Block) -> String {
    json::to_string_escaped(&BlockLine::new(block)).expect("plain data serializes")
}

/// Parses and checks one export line.
pub fn parse_line(line: &str) -> Result<Block, LineError> {
    BlockLine::read(line)?.to_block()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_round_trip_and_tamper_detection() {
        let p = crate::testkit::named_params("x", 0, 10, false, [0; 16]);
        let mut b = Block::genesis(&p, 1);
        b.txs
            .push(Transaction::new("bin", 2, vec![0xff, 0]).unwrap());
        b.txs
            .push(Transaction::new("txt", 3, b"hello".to_vec()).unwrap());
        let line = to_line(&b);
        assert!(line.contains("\"data\":\"hello\""));
        assert!(line.contains("\"data_hex\":\"ff00\""));
        assert_eq!(parse_line(&line).unwrap(), b);
        let err = |l: &str| parse_line(l).unwrap_err().to_string();
        assert!(err(&line.replace("hello", "hellO")).contains("hashes to"));
        assert!(err(&line.replace("\"nonce\":0", "\"nonce\":1")).contains("hashes to"));
        assert!(err("{").starts_with("not a block"));
        let both = line.replace(
            "\"data\":\"hello\"",
            "\"data\":\"hello\",\"data_hex\":\"00\"",
        );
        assert!(err(&both).ends_with("needs exactly one of data and data_hex"));
        assert!(err(&line.replace("\"ff00\"", "\"f\"")).starts_with("data_hex of "));
    }
}
