//! Hash newtypes: [`BlockHash`], [`Txid`] and [`MerkleNode`], kept apart by the
//! compiler, the one SHA-256 helper the consensus code uses, and
//! [`IdPrefix`], the start of an id as a user abbreviates it.
//!
//! Every hash is the plain (single) SHA-256 digest of a documented byte
//! string. Hashes are shown and parsed as 64 lowercase hex digits in digest
//! byte order, so a block hash that meets a difficulty of `d` bits visibly
//! starts with `d / 4` zero digits (unlike Bitcoin, nothing is reversed).

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A hash string that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed hash \"{0}\": expected 64 hex digits")]
pub struct ParseHashError(pub String);

macro_rules! hash_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The all-zero hash.
            pub const ZERO: Self = Self([0; 32]);

            /// The digest bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// 64 lowercase hex digits.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl FromStr for $name {
            type Err = ParseHashError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let mut out = [0u8; 32];
                if s.len() != 64 || hex::decode_to_slice(s, &mut out).is_err() {
                    return Err(ParseHashError(s.chars().take(80).collect()));
                }
                Ok(Self(out))
            }
        }
    };
}

hash_newtype!(
    /// SHA-256 of a block's 96-byte header (see `docs/FORMAT.md`).
    BlockHash
);
hash_newtype!(
    /// SHA-256 of a transaction's canonical encoding.
    Txid
);
hash_newtype!(
    /// A node of the transaction Merkle tree; the root is committed in the header.
    MerkleNode
);

/// The fewest hex digits an id prefix may have (git's minimum).
pub const MIN_PREFIX_DIGITS: usize = 4;

/// The start of a block hash or transaction id, as a user types it (as git
/// takes an abbreviated commit): 4 to 63 hex digits, either case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdPrefix {
    /// The whole bytes the digits give.
    pub bytes: Vec<u8>,
    /// The last digit, when their number is odd: the high half of the next
    /// byte.
    pub high_nibble: Option<u8>,
}

impl IdPrefix {
    /// `s` as a prefix, if it is 4 to 63 hex digits.
    pub fn parse(s: &str) -> Option<IdPrefix> {
        let ok =
            (MIN_PREFIX_DIGITS..64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return None;
        }
        let even = s.len() & !1;
        let bytes = hex::decode(&s[..even]).ok()?;
        let high_nibble = (even < s.len()).then(|| {
            let d = s.as_bytes()[even] as char;
            d.to_digit(16).expect("checked hex") as u8
        });
        Some(IdPrefix { bytes, high_nibble })
    }

    /// A whole id as a prefix of itself.
    pub fn of(id: &[u8; 32]) -> IdPrefix {
        IdPrefix {
            bytes: id.to_vec(),
            high_nibble: None,
        }
    }

    /// Whether this is a whole id (64 digits).
    pub fn is_whole(&self) -> bool {
        self.bytes.len() == 32
    }

    /// Whether `id` starts with this prefix.
    pub fn matches(&self, id: &[u8]) -> bool {
        id.starts_with(&self.bytes)
            && self
                .high_nibble
                .is_none_or(|n| id.get(self.bytes.len()).is_some_and(|b| b >> 4 == n))
    }
}

impl std::fmt::Display for IdPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", hex::encode(&self.bytes))?;
        match self.high_nibble {
            Some(n) => write!(f, "{n:x}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_fips_180_vector() {
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hex_round_trip_and_rejects_malformed() {
        let h = BlockHash(sha256(b"x"));
        assert_eq!(h.to_hex().parse::<BlockHash>().unwrap(), h);
        assert!("abc".parse::<BlockHash>().is_err());
        assert!("zz".repeat(32).parse::<Txid>().is_err());
        assert!("0".repeat(65).parse::<Txid>().is_err());
        // Upper case hex is accepted on input.
        assert_eq!(h.to_hex().to_uppercase().parse::<BlockHash>().unwrap(), h);
    }
}
