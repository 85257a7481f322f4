//! [`Transaction`]: one ledger entry (author, timestamp, opaque data), its
//! canonical byte encoding and its [`Txid`].
//!
//! Encoding (`docs/FORMAT.md`, "Transaction"), all integers little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 1 | author length `a` (1..=64) |
//! | a | author, UTF-8, no control characters |
//! | 8 | timestamp, milliseconds since the Unix epoch, u64 |
//! | 4 | data length `d` (0..=65536), u32 |
//! | d | data, opaque bytes |
//!
//! The txid is SHA-256 of exactly these bytes.

use super::encode::{DecodeError, Reader};
use super::hash::{sha256, Txid};

/// Longest author name, in UTF-8 bytes.
pub const MAX_AUTHOR_BYTES: usize = 64;
/// Largest data payload of one transaction, in bytes.
pub const MAX_DATA_BYTES: usize = 64 * 1024;

/// A ledger entry. Construct with [`Transaction::new`] or [`Transaction::decode`];
/// both enforce the limits, so every value of this type is encodable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    author: String,
    timestamp: u64,
    data: Vec<u8>,
}

/// Why an entry cannot be a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("author must not be empty")]
    EmptyAuthor,
    #[error("author is {0} bytes, over the limit of {MAX_AUTHOR_BYTES}")]
    AuthorTooLong(usize),
    #[error("author must not contain control characters")]
    AuthorControlChar,
    #[error("data is {0} bytes, over the limit of {MAX_DATA_BYTES}")]
    DataTooLarge(usize),
}

impl From<TxError> for DecodeError {
    fn from(e: TxError) -> Self {
        let reason = match e {
            TxError::EmptyAuthor => "empty author",
            TxError::AuthorTooLong(_) => "author too long",
            TxError::AuthorControlChar => "control character in author",
            TxError::DataTooLarge(_) => "data too large",
        };
        DecodeError::Invalid {
            field: "transaction",
            reason,
        }
    }
}

fn check_author(author: &str) -> Result<(), TxError> {
    if author.is_empty() {
        return Err(TxError::EmptyAuthor);
    }
    if author.len() > MAX_AUTHOR_BYTES {
        return Err(TxError::AuthorTooLong(author.len()));
    }
    if author.chars().any(char::is_control) {
        return Err(TxError::AuthorControlChar);
    }
    Ok(())
}

impl Transaction {
    /// A transaction, if `author` and `data` are within the limits.
    pub fn new(author: impl Into<String>, timestamp: u64, data: Vec<u8>) -> Result<Self, TxError> {
        let author = author.into();
        check_author(&author)?;
        if data.len() > MAX_DATA_BYTES {
            return Err(TxError::DataTooLarge(data.len()));
        }
        Ok(Transaction {
            author,
            timestamp,
            data,
        })
    }

    pub fn author(&self) -> &str {
        &self.author
    }

    /// Milliseconds since the Unix epoch, as given by the submitter.
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Length of [`Transaction::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        1 + self.author.len() + 8 + 4 + self.data.len()
    }

    /// Appends the canonical encoding to `out`.
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.push(self.author.len() as u8); // <= 64, checked at construction
        out.extend_from_slice(self.author.as_bytes());
        out.extend_from_slice(&self.timestamp.to_le_bytes());
        out.extend_from_slice(&(self.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.data);
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_to(&mut out);
        out
    }

    /// SHA-256 of the canonical encoding.
    pub fn txid(&self) -> Txid {
        Txid(sha256(&self.encode()))
    }

    /// Reads one transaction from `r`, enforcing every limit.
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let author_len = r.u8("author length")? as usize;
        if author_len > MAX_AUTHOR_BYTES {
            return Err(DecodeError::TooLong {
                field: "author",
                len: author_len as u64,
                max: MAX_AUTHOR_BYTES as u64,
            });
        }
        let author = std::str::from_utf8(r.take(author_len, "author")?)
            .map_err(|_| DecodeError::InvalidUtf8("author"))?
            .to_owned();
        let timestamp = r.u64("transaction timestamp")?;
        let data_len = r.u32("data length")? as usize;
        if data_len > MAX_DATA_BYTES {
            return Err(DecodeError::TooLong {
                field: "data",
                len: data_len as u64,
                max: MAX_DATA_BYTES as u64,
            });
        }
        let data = r.take(data_len, "data")?.to_vec();
        Ok(Transaction::new(author, timestamp, data)?)
    }

    /// Decodes exactly one transaction; trailing bytes are an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let tx = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_the_documented_layout() {
        let tx = Transaction::new("al", 0x0102030405060708, b"hi".to_vec()).unwrap();
        assert_eq!(
            hex::encode(tx.encode()),
            concat!("02", "616c", "0807060504030201", "02000000", "6869")
        );
        assert_eq!(tx.encoded_len(), tx.encode().len());
        assert_eq!(tx.txid(), Txid(sha256(&tx.encode())));
    }

    #[test]
    fn limits_are_enforced() {
        assert_eq!(Transaction::new("", 0, vec![]), Err(TxError::EmptyAuthor));
        assert_eq!(
            Transaction::new("a".repeat(65), 0, vec![]),
            Err(TxError::AuthorTooLong(65))
        );
        assert!(Transaction::new("a".repeat(64), 0, vec![]).is_ok());
        assert_eq!(
            Transaction::new("a\nb", 0, vec![]),
            Err(TxError::AuthorControlChar)
        );
        assert!(Transaction::new("a", 0, vec![0; MAX_DATA_BYTES]).is_ok());
        assert_eq!(
            Transaction::new("a", 0, vec![0; MAX_DATA_BYTES + 1]),
            Err(TxError::DataTooLarge(MAX_DATA_BYTES + 1))
        );
    }

    #[test]
    fn decode_rejects_bad_bytes() {
        let tx = Transaction::new("bob", 7, b"data".to_vec()).unwrap();
        let enc = tx.encode();
        assert_eq!(Transaction::decode(&enc).unwrap(), tx);
        for cut in 0..enc.len() {
            assert!(Transaction::decode(&enc[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = enc.clone();
        long.push(0);
        assert_eq!(
            Transaction::decode(&long),
            Err(DecodeError::TrailingBytes(1))
        );
        let mut bad_utf8 = enc.clone();
        bad_utf8[1] = 0xff;
        assert_eq!(
            Transaction::decode(&bad_utf8),
            Err(DecodeError::InvalidUtf8("author"))
        );
        // A declared data length over the limit is refused before allocating.
        let mut huge = vec![1, b'a'];
        huge.extend_from_slice(&0u64.to_le_bytes());
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Transaction::decode(&huge),
            Err(DecodeError::TooLong { field: "data", .. })
        ));
    }
}
