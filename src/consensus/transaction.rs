//! [`Transaction`]: one ledger entry (author, timestamp, opaque data, and
//! optionally its author's key and signature), its canonical byte encoding
//! and its [`Txid`].
//!
//! Encoding (`docs/FORMAT.md`, "Transaction"), all integers little-endian.
//! An unsigned entry (format 0, every entry before signatures existed):
//!
//! | bytes | field |
//! |---|---|
//! | 1 | author length `a` (1..=64) |
//! | a | author, UTF-8, no control characters |
//! | 8 | timestamp, milliseconds since the Unix epoch, u64 |
//! | 4 | data length `d` (0..=65536), u32 |
//! | d | data, opaque bytes |
//!
//! A signed entry (format 1) starts with the byte [`SIGNED_MARKER`] (never
//! an author length), then the same fields, then the 32-byte public key and
//! the 64-byte signature. The signature covers everything before it
//! ([`Transaction::signing_body`]) under the ledger's genesis hash
//! ([`super::signature::signing_message`]).
//!
//! The txid is SHA-256 of the whole encoding, signature included.

use super::encode::{DecodeError, Reader};
use super::hash::{sha256, BlockHash, Txid};
use super::signature::{self, PublicKey, Signature};

/// First byte of a signed entry's encoding (format 1). An unsigned entry
/// starts with its author length, 1 to 64, so the two never collide.
pub const SIGNED_MARKER: u8 = 0x81;

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
    signed: Option<Signed>,
}

/// The key an entry claims to be signed by, and the signature. Whether the
/// signature verifies is a rule (`rules::check_signatures`), not a property
/// of the encoding: a decoded entry may carry a bad one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signed {
    pub key: PublicKey,
    pub signature: Signature,
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
            signed: None,
        })
    }

    /// A signed entry with the given key and signature (not verified here).
    pub fn with_signature(
        author: impl Into<String>,
        timestamp: u64,
        data: Vec<u8>,
        signed: Signed,
    ) -> Result<Self, TxError> {
        let mut tx = Self::new(author, timestamp, data)?;
        tx.signed = Some(signed);
        Ok(tx)
    }

    /// The entry signed with the 32-byte Ed25519 `secret` for the ledger
    /// whose genesis is `genesis`.
    pub fn sign(
        author: impl Into<String>,
        timestamp: u64,
        data: Vec<u8>,
        genesis: &BlockHash,
        secret: &[u8; 32],
    ) -> Result<Self, TxError> {
        let mut tx = Self::new(author, timestamp, data)?;
        let key = signature::public_key(secret);
        tx.signed = Some(Signed {
            key,
            signature: Signature([0; 64]),
        });
        let (_, sig) = signature::sign(secret, &tx.signing_message(genesis));
        tx.signed = Some(Signed {
            key,
            signature: sig,
        });
        Ok(tx)
    }

    /// The key and signature of a signed entry.
    pub fn signed(&self) -> Option<&Signed> {
        self.signed.as_ref()
    }

    /// The encoding without its last 64 bytes (the signature): what the
    /// signature covers, after the domain and the genesis hash.
    pub fn signing_body(&self) -> Vec<u8> {
        let mut out = self.encode();
        if self.signed.is_some() {
            out.truncate(out.len() - 64);
        }
        out
    }

    /// The message a signed entry's signature is over on the ledger of
    /// `genesis` ([`signature::signing_message`]).
    pub fn signing_message(&self, genesis: &BlockHash) -> Vec<u8> {
        signature::signing_message(genesis, &self.signing_body())
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
        let signed = if self.signed.is_some() {
            1 + 32 + 64
        } else {
            0
        };
        signed + 1 + self.author.len() + 8 + 4 + self.data.len()
    }

    /// Appends the canonical encoding to `out`.
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        if self.signed.is_some() {
            out.push(SIGNED_MARKER);
        }
        out.push(self.author.len() as u8); // <= 64, checked at construction
        out.extend_from_slice(self.author.as_bytes());
        out.extend_from_slice(&self.timestamp.to_le_bytes());
        out.extend_from_slice(&(self.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.data);
        if let Some(s) = &self.signed {
            out.extend_from_slice(s.key.as_bytes());
            out.extend_from_slice(s.signature.as_bytes());
        }
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
        let mut first = r.u8("author length")?;
        let is_signed = first == SIGNED_MARKER;
        if is_signed {
            first = r.u8("author length")?;
        }
        let author_len = first as usize;
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
        let mut tx = Transaction::new(author, timestamp, data)?;
        if is_signed {
            tx.signed = Some(Signed {
                key: PublicKey(r.array("public key")?),
                signature: Signature(r.array("signature")?),
            });
        }
        Ok(tx)
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
    fn signed_encoding_is_the_documented_layout() {
        let genesis = BlockHash([7; 32]);
        let tx = Transaction::sign("al", 0x0102030405060708, b"hi".to_vec(), &genesis, &[1; 32])
            .unwrap();
        let enc = tx.encode();
        let s = tx.signed().unwrap();
        assert_eq!(
            hex::encode(&enc[..enc.len() - 96]),
            concat!("81", "02", "616c", "0807060504030201", "02000000", "6869")
        );
        assert_eq!(&enc[enc.len() - 96..enc.len() - 64], s.key.as_bytes());
        assert_eq!(&enc[enc.len() - 64..], s.signature.as_bytes());
        assert_eq!(tx.encoded_len(), enc.len());
        assert_eq!(tx.signing_body(), enc[..enc.len() - 64].to_vec());
        assert_eq!(Transaction::decode(&enc).unwrap(), tx);
        let msg = tx.signing_message(&genesis);
        assert_eq!(signature::verify(&s.key, &msg, &s.signature), Ok(()));
        // Another ledger's genesis: the same bytes do not verify there.
        let other = tx.signing_message(&BlockHash([8; 32]));
        assert!(signature::verify(&s.key, &other, &s.signature).is_err());
        for cut in 0..enc.len() {
            assert!(Transaction::decode(&enc[..cut]).is_err(), "cut at {cut}");
        }
        // The unsigned entry with the same fields has another txid.
        let plain = Transaction::new("al", 0x0102030405060708, b"hi".to_vec()).unwrap();
        assert_ne!(plain.txid(), tx.txid());
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
