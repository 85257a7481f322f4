//! The serde forms of consensus types, for the boundary only (views, the
//! export format, the node's messages): a hash is its 64 lowercase hex
//! digits. `consensus/` itself has no serde; its bytes are hand-written.

use std::borrow::Cow;

use crate::consensus::{BlockHash, MerkleNode, Txid};

macro_rules! hex_serde {
    ($($name:ident),*) => {$(
        /// 64 lowercase hex digits.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        /// 64 hex digits, either case.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s: Cow<'de, str> = serde::Deserialize::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
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
