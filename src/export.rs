//! The export format: JSON lines, one block per line in height order, with
//! every hash included so that any reader can recompute and check them
//! (`docs/FORMAT.md`, "Export format"). Also the parser `import` uses, which
//! rebuilds each block from its fields and refuses a line whose hashes do
//! not match.

use serde::{Deserialize, Serialize};

use crate::consensus::{Block, BlockHash, BlockHeader, Difficulty, MerkleNode, Transaction, Txid};

/// One line of an export.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxJson {
    pub txid: Txid,
    pub author: String,
    pub timestamp: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub data_hex: Option<String>,
}

impl TxJson {
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
        }
    }

    /// The transaction, checked against its txid.
    pub fn to_tx(&self) -> Result<Transaction, String> {
        let data = match (&self.data, &self.data_hex) {
            (Some(s), None) => s.as_bytes().to_vec(),
            (None, Some(h)) => {
                hex::decode(h).map_err(|e| format!("data_hex of {}: {e}", self.txid))?
            }
            _ => {
                return Err(format!(
                    "transaction {} needs exactly one of data and data_hex",
                    self.txid
                ))
            }
        };
        let tx = Transaction::new(self.author.clone(), self.timestamp, data)
            .map_err(|e| format!("transaction {}: {e}", self.txid))?;
        let actual = tx.txid();
        if actual != self.txid {
            return Err(format!("transaction {} hashes to {actual}", self.txid));
        }
        Ok(tx)
    }
}

impl BlockLine {
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
    pub fn to_block(&self) -> Result<Block, String> {
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
            return Err(format!("block {} hashes to {actual}", self.hash));
        }
        let txs = self
            .txs
            .iter()
            .map(TxJson::to_tx)
            .collect::<Result<_, _>>()?;
        Ok(Block { header, txs })
    }
}

/// One export line for `block`, without the newline.
pub fn to_line(block: &Block) -> String {
    serde_json::to_string(&BlockLine::new(block)).expect("plain data serializes")
}

/// Parses and checks one export line.
pub fn parse_line(line: &str) -> Result<Block, String> {
    let parsed: BlockLine = serde_json::from_str(line).map_err(|e| format!("not a block: {e}"))?;
    parsed.to_block()
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
        assert!(parse_line(&line.replace("hello", "hellO"))
            .unwrap_err()
            .contains("hashes to"));
        assert!(parse_line(&line.replace("\"nonce\":0", "\"nonce\":1"))
            .unwrap_err()
            .contains("hashes to"));
        assert!(parse_line("{").unwrap_err().starts_with("not a block"));
    }
}
