//! Consensus: the exact bytes and rules every copy of a ledger must agree on.
//!
//! Everything here is hand-encoded with explicit little-endian integers and
//! documented byte by byte in `docs/FORMAT.md`; nothing here uses serde. The
//! code is pure: no I/O, no clock (callers pass the time), no store.

pub mod block;
pub mod cursor;
pub mod encode;
pub mod hash;
pub mod header;
pub mod merkle;
pub mod params;
pub mod pow;
pub mod rules;
pub mod signature;
pub mod transaction;

pub use block::Block;
pub use cursor::Cursor;
pub use encode::DecodeError;
pub use hash::{BlockHash, MerkleNode, Txid};
pub use header::BlockHeader;
pub use params::ChainParams;
pub use pow::{Difficulty, Work};
pub use rules::{BlockError, CheckedBlock, ParentInfo};
pub use signature::{PublicKey, Signature};
pub use transaction::{Transaction, TxError};
