//! The serde forms of consensus types, for the boundary only (views, the
//! export format, the node's messages): a hash is its 64 lowercase hex
//! digits. `consensus/` itself has no serde; its bytes are hand-written.

use std::borrow::Cow;

use crate::consensus::{BlockHash, MerkleNode, Txid};

macro_rules! hex_serde {
    ($($name:ident),*) => {$(
        /// Hex text in human-readable formats (JSON); 32 raw bytes in the
        /// binary form, which only the frozen legacy records still read.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(&self.to_hex())
                } else {
                    serde::Serialize::serialize(&self.0, s)
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s: Cow<'de, str> = serde::Deserialize::deserialize(d)?;
                    s.parse().map_err(serde::de::Error::custom)
                } else {
                    <[u8; 32] as serde::Deserialize>::deserialize(d).map(Self)
                }
            }
        }
    )*};
}

hex_serde!(BlockHash, Txid, MerkleNode);

#[cfg(test)]
mod tests {
    use crate::consensus::hash::sha256;
    use crate::consensus::Txid;

    #[test]
    fn hashes_are_hex_in_json() {
        let h = Txid(sha256(b"y"));
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{}\"", h.to_hex()));
        assert_eq!(serde_json::from_str::<Txid>(&json).unwrap(), h);
        assert!(serde_json::from_str::<Txid>("\"00\"").is_err());
    }
}
