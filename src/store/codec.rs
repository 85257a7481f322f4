//! The one place that turns stored values and keys into bytes and back.
//!
//! Every stored value has an explicit encoder here, written field by field
//! with fixed-width little-endian integers (the layout schema 1-4 stores
//! have always had; `docs/FORMAT.md`, "Store layout", lists each record).
//! Values that are consensus objects (pending transactions, blocks) are
//! stored in their consensus encoding. Keys that must sort numerically are
//! big-endian. Nothing outside this module and the tree accessors
//! ([`crate::store::trees`]) builds a key or a value by hand; a change here
//! is a change of format and needs a schema step. `golden.rs` pins the bytes.
//!
//! A block record (the `blocks` tree) is the block's cumulative work (32
//! bytes) followed by the block's consensus encoding. Its first
//! [`BLOCK_RECORD_PREFIX`] bytes (work, the 96-byte header, the transaction
//! count) and its length give the whole [`HeaderRecord`], so a header read
//! decodes no transaction.

use crate::consensus::block::{decode_txs, encode_txs};
use crate::consensus::encode::{DecodeError, Reader};
use crate::consensus::header::HEADER_BYTES;
use crate::consensus::params::SignaturePolicy;
use crate::consensus::{
    Block, BlockHash, BlockHeader, ChainParams, Difficulty, MerkleNode, Transaction, Txid, Work,
};
use crate::store::schema::{
    ChainState, HeaderRecord, MigrationProgress, MiningCheckpoint, NameBinding, OrphanState,
    PeerRecord, ReorgJournal, TxLocation, AUTHOR_ENTRY_BYTES, AUTHOR_GROUP, HEIGHT_GROUP,
    MAX_BAN_REASON_BYTES, MAX_PEER_ADDRESS_BYTES, PEER_RECORD_VERSION,
};

/// A stored value that does not decode: the store is damaged.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode stored {what}: {reason}")]
pub struct CodecError {
    pub what: &'static str,
    pub reason: String,
}

/// A value stored as a record of its own, with its explicit layout.
pub trait Record: Sized {
    /// Appends the record's bytes to `out`.
    fn write(&self, out: &mut Vec<u8>);
    /// Reads the record; [`decode`] checks nothing is left over.
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

/// Encodes a record.
pub fn encode<T: Record>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value.write(&mut out);
    out
}

/// Decodes a record that must fill `bytes` exactly; `what` names it in the
/// error.
pub fn decode<T: Record>(bytes: &[u8], what: &'static str) -> Result<T, CodecError> {
    let mut r = Reader::new(bytes);
    T::read(&mut r)
        .and_then(|v| r.finish().map(|_| v))
        .map_err(|e| CodecError {
            what,
            reason: e.to_string(),
        })
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// `u32` (the schema version): 4 bytes.
impl Record for u32 {
    fn write(&self, out: &mut Vec<u8>) {
        put_u32(out, *self);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u32("u32")
    }
}

/// `u64` (the peer count): 8 bytes.
impl Record for u64 {
    fn write(&self, out: &mut Vec<u8>) {
        put_u64(out, *self);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u64("u64")
    }
}

/// A peer book record: version byte (1), last good `u64` LE, banned until
/// `u64` LE, then the address and the ban reason, each a `u16` LE length
/// and that many UTF-8 bytes (at most 256). Unlike the older records it
/// starts with a version, so that a later layout can be told apart.
impl Record for PeerRecord {
    fn write(&self, out: &mut Vec<u8>) {
        out.push(PEER_RECORD_VERSION);
        put_u64(out, self.last_good_ms);
        put_u64(out, self.banned_until_ms);
        put_text(out, &self.address, MAX_PEER_ADDRESS_BYTES);
        put_text(out, &self.ban_reason, MAX_BAN_REASON_BYTES);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        if r.u8("peer record version")? != PEER_RECORD_VERSION {
            return Err(DecodeError::Invalid {
                field: "peer record version",
                reason: "not 1",
            });
        }
        Ok(PeerRecord {
            last_good_ms: r.u64("last good")?,
            banned_until_ms: r.u64("banned until")?,
            address: read_text(r, "peer address", MAX_PEER_ADDRESS_BYTES)?,
            ban_reason: read_text(r, "ban reason", MAX_BAN_REASON_BYTES)?,
        })
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub fn bounded_text(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn put_text(out: &mut Vec<u8>, s: &str, max: usize) {
    let s = bounded_text(s, max.min(u16::MAX as usize));
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn read_text(r: &mut Reader<'_>, field: &'static str, max: usize) -> Result<String, DecodeError> {
    let len = r.u16(field)? as usize;
    if len > max {
        return Err(DecodeError::TooLong {
            field,
            len: len as u64,
            max: max as u64,
        });
    }
    std::str::from_utf8(r.take(len, field)?)
        .map(str::to_owned)
        .map_err(|_| DecodeError::InvalidUtf8(field))
}

/// A hash (the genesis hash): its 32 bytes.
impl Record for BlockHash {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.array("block hash").map(BlockHash)
    }
}

/// Cumulative work: four u64 limbs, least significant first (32 bytes).
impl Record for Work {
    fn write(&self, out: &mut Vec<u8>) {
        for limb in self.to_limbs() {
            put_u64(out, limb);
        }
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut limbs = [0u64; 4];
        for l in &mut limbs {
            *l = r.u64("work")?;
        }
        Ok(Work::from_limbs(limbs))
    }
}

/// Chain parameters (the `meta` copy, not the genesis encoding): name
/// length (u64) and UTF-8 name, initial difficulty (u32), target interval
/// (u64), retarget window (u32), fixed difficulty (1 byte, 0 or 1), salt,
/// and since schema 6 the signature policy (1 byte, 1 for required).
impl Record for ChainParams {
    fn write(&self, out: &mut Vec<u8>) {
        put_u64(out, self.name.len() as u64);
        out.extend_from_slice(self.name.as_bytes());
        put_u32(out, self.initial_difficulty.0);
        put_u64(out, self.target_interval_ms);
        put_u32(out, self.retarget_window);
        out.push(self.fixed_difficulty as u8);
        out.extend_from_slice(&self.salt);
        out.push((self.signatures == SignaturePolicy::Required) as u8);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = r.u64("name length")?;
        let max = crate::consensus::params::MAX_NAME_BYTES as u64;
        if len > max {
            return Err(DecodeError::TooLong {
                field: "name",
                len,
                max,
            });
        }
        let name = std::str::from_utf8(r.take(len as usize, "name")?)
            .map_err(|_| DecodeError::InvalidUtf8("name"))?
            .to_owned();
        let initial_difficulty = Difficulty(r.u32("initial difficulty")?);
        let target_interval_ms = r.u64("target interval")?;
        let retarget_window = r.u32("retarget window")?;
        let fixed_difficulty = read_bool(r, "fixed difficulty flag")?;
        let salt = r.array("salt")?;
        let signatures = match read_bool(r, "signature policy")? {
            true => SignaturePolicy::Required,
            false => SignaturePolicy::Optional,
        };
        Ok(ChainParams {
            name,
            initial_difficulty,
            target_interval_ms,
            retarget_window,
            fixed_difficulty,
            salt,
            signatures,
        })
    }
}

fn read_bool(r: &mut Reader<'_>, field: &'static str) -> Result<bool, DecodeError> {
    match r.u8(field)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(DecodeError::Invalid {
            field,
            reason: "not 0 or 1",
        }),
    }
}

/// Tip hash, height (u64), chain work (32), then the counters (u64 each):
/// chain transactions, pending, next pending sequence. 96 bytes.
impl Record for ChainState {
    fn write(&self, out: &mut Vec<u8>) {
        self.tip.write(out);
        put_u64(out, self.height);
        self.chain_work.write(out);
        put_u64(out, self.chain_txs);
        put_u64(out, self.pending);
        put_u64(out, self.next_pending_seq);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ChainState {
            tip: BlockHash::read(r)?,
            height: r.u64("height")?,
            chain_work: Work::read(r)?,
            chain_txs: r.u64("transaction count")?,
            pending: r.u64("pending count")?,
            next_pending_seq: r.u64("next pending sequence")?,
        })
    }
}

/// Count and next sequence (u64 each).
impl Record for OrphanState {
    fn write(&self, out: &mut Vec<u8>) {
        put_u64(out, self.count);
        put_u64(out, self.next_seq);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(OrphanState {
            count: r.u64("orphan count")?,
            next_seq: r.u64("next orphan sequence")?,
        })
    }
}

/// Target hash, fork height (u64).
impl Record for ReorgJournal {
    fn write(&self, out: &mut Vec<u8>) {
        self.target.write(out);
        put_u64(out, self.fork_height);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ReorgJournal {
            target: BlockHash::read(r)?,
            fork_height: r.u64("fork height")?,
        })
    }
}

/// Target version (u32), the step's position (u64).
impl Record for MigrationProgress {
    fn write(&self, out: &mut Vec<u8>) {
        put_u32(out, self.to_version);
        put_u64(out, self.next);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(MigrationProgress {
            to_version: r.u32("version")?,
            next: r.u64("position")?,
        })
    }
}

/// Public key (32), then height u64 and index u32 of the binding entry.
impl Record for NameBinding {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.key.as_bytes());
        put_u64(out, self.height);
        put_u32(out, self.index);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(NameBinding {
            key: crate::consensus::PublicKey(r.array("public key")?),
            height: r.u64("height")?,
            index: r.u32("position")?,
        })
    }
}

/// Key of a `key_names` record: the public key, then the name's bytes.
pub fn key_names_key(key: &crate::consensus::PublicKey, name: &str) -> Vec<u8> {
    let mut k = key.as_bytes().to_vec();
    k.extend_from_slice(name.as_bytes());
    k
}

/// Height (u64), position in the block (u32).
impl Record for TxLocation {
    fn write(&self, out: &mut Vec<u8>) {
        put_u64(out, self.height);
        put_u32(out, self.index);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(TxLocation {
            height: r.u64("height")?,
            index: r.u32("position")?,
        })
    }
}

/// The template's header fields (version u32, height u64, previous hash,
/// Merkle root, timestamp u64, difficulty u32), then transaction count,
/// first and last sequence, nonces tried below, hashes (u64 each).
impl Record for MiningCheckpoint {
    fn write(&self, out: &mut Vec<u8>) {
        put_u32(out, self.version);
        put_u64(out, self.height);
        self.prev_hash.write(out);
        out.extend_from_slice(self.merkle_root.as_bytes());
        put_u64(out, self.timestamp);
        put_u32(out, self.difficulty);
        for v in [
            self.tx_count,
            self.first_seq,
            self.last_seq,
            self.tried_below,
            self.hashes,
        ] {
            put_u64(out, v);
        }
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(MiningCheckpoint {
            version: r.u32("version")?,
            height: r.u64("height")?,
            prev_hash: BlockHash::read(r)?,
            merkle_root: MerkleNode(r.array("Merkle root")?),
            timestamp: r.u64("timestamp")?,
            difficulty: r.u32("difficulty")?,
            tx_count: r.u64("transaction count")?,
            first_seq: r.u64("first sequence")?,
            last_seq: r.u64("last sequence")?,
            tried_below: r.u64("nonces tried")?,
            hashes: r.u64("hashes")?,
        })
    }
}

/// Bytes of the cumulative work that starts a block record.
const WORK_BYTES: usize = 32;

/// Bytes of a block record that hold everything but the transactions.
pub const BLOCK_RECORD_PREFIX: usize = WORK_BYTES + HEADER_BYTES + 4;

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
    chain_work.write(&mut out);
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
    (height / HEIGHT_GROUP).to_be_bytes()
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

/// The key of an arrival sequence number (`pending`, `orphans`, and the
/// values of `pending_ids`, `orphan_ids`): big-endian, so keys sort in
/// arrival order.
pub fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

pub fn decode_seq_key(bytes: &[u8]) -> Result<u64, CodecError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| CodecError {
            what: "sequence key",
            reason: format!("{} bytes, expected 8", bytes.len()),
        })
}

/// The first height of the `heights` group whose key is `bytes`.
pub fn decode_group_key(bytes: &[u8]) -> Result<u64, CodecError> {
    decode_seq_key(bytes)?
        .checked_mul(HEIGHT_GROUP)
        .ok_or_else(|| CodecError {
            what: "height group key",
            reason: "out of range".into(),
        })
}

/// A key that is a block hash (`tips`, `blocks`, `orphan_ids`, `invalid`).
pub fn decode_hash_key(bytes: &[u8]) -> Result<BlockHash, CodecError> {
    <[u8; 32]>::try_from(bytes)
        .map(BlockHash)
        .map_err(|_| CodecError {
            what: "block hash key",
            reason: format!("{} bytes, expected 32", bytes.len()),
        })
}

/// The `heights` value of `height`'s group with `hash` placed at
/// `height`, which must be the slot just above the group's last (`value`
/// is the group's current value, empty for a new group).
pub fn group_with(value: &[u8], height: u64, hash: &BlockHash) -> Result<Vec<u8>, CodecError> {
    let slot = (height % HEIGHT_GROUP) as usize * 32;
    if value.len() < slot {
        return Err(CodecError {
            what: "height group",
            reason: format!("the active chain has a gap below height {height}"),
        });
    }
    let mut v = value[..slot].to_vec();
    v.extend_from_slice(hash.as_bytes());
    Ok(v)
}

/// The `heights` value of `height`'s group without its top slot, which
/// must be `height`; `None` when the group is left empty.
pub fn group_without(value: &[u8], height: u64) -> Result<Option<Vec<u8>>, CodecError> {
    let slot = (height % HEIGHT_GROUP) as usize * 32;
    if value.len() != slot + 32 {
        return Err(CodecError {
            what: "height group",
            reason: format!("height {height} is not the top of the active chain"),
        });
    }
    Ok((slot > 0).then(|| value[..slot].to_vec()))
}

/// The prefix shared by every `author_groups` key of `author`: its length
/// (1 byte) and UTF-8 bytes, so no author's range contains another's.
pub fn author_prefix(author: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + author.len() + 8);
    k.push(author.len() as u8);
    k.extend_from_slice(author.as_bytes());
    k
}

/// Key of an `author_groups` record: the author's prefix and the group
/// (`height / AUTHOR_GROUP`, u64 BE), so one author's records are
/// contiguous and in chain order.
pub fn author_group_key(author: &str, height: u64) -> Vec<u8> {
    let mut k = author_prefix(author);
    k.extend_from_slice(&(height / AUTHOR_GROUP).to_be_bytes());
    k
}

/// An `author_groups` value without the entries at `height`.
pub fn author_entries_without(value: &[u8], height: u64) -> Vec<u8> {
    value
        .chunks_exact(AUTHOR_ENTRY_BYTES)
        .filter(|e| e[..8] != height.to_be_bytes())
        .flatten()
        .copied()
        .collect()
}

/// Key of an `orphan_parents` entry: the parent's hash, then the orphan's
/// sequence key.
pub fn orphan_parent_key(parent: &BlockHash, seq: u64) -> Vec<u8> {
    let mut k = parent.as_bytes().to_vec();
    k.extend_from_slice(&seq_key(seq));
    k
}

/// The orphan sequence number of an `orphan_parents` key.
pub fn orphan_parent_seq(key: &[u8]) -> Result<u64, CodecError> {
    decode_seq_key(key.get(32..).unwrap_or_default())
}

/// An orphan as stored: its consensus encoding.
pub fn decode_orphan(bytes: &[u8]) -> Result<Block, CodecError> {
    Block::decode(bytes).map_err(|e| CodecError {
        what: "orphan block",
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes `v`, checks the bytes are `hex`, and that they decode back
    /// and refuse to decode one byte short or long.
    fn golden<T: Record + PartialEq + std::fmt::Debug>(v: T, hex: &str) {
        let bytes = encode(&v);
        assert_eq!(hex::encode(&bytes), hex);
        assert_eq!(decode::<T>(&bytes, "r").unwrap(), v);
        assert!(decode::<T>(&bytes[..bytes.len() - 1], "r").is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode::<T>(&long, "r").is_err());
    }

    /// The bytes bincode 1.3 (fixed-width little-endian) wrote for these
    /// records before they had explicit encoders: the format did not change.
    /// (`golden.rs` covers the records a ledger holds at rest.)
    #[test]
    fn records_keep_their_bytes() {
        golden(4u32, "04000000");
        golden(
            ReorgJournal {
                target: BlockHash([0xab; 32]),
                fork_height: 258,
            },
            &format!("{}0201000000000000", "ab".repeat(32)),
        );
        golden(
            MigrationProgress {
                to_version: 4,
                next: 9,
            },
            "040000000900000000000000",
        );
        golden(
            TxLocation {
                height: 0x0102,
                index: 3,
            },
            "020100000000000003000000",
        );
        golden(
            OrphanState {
                count: 1,
                next_seq: 2,
            },
            "01000000000000000200000000000000",
        );
        golden(
            Work::pow2(64),
            "0000000000000000010000000000000000000000000000000000000000000000",
        );
        let mut bad = encode(&crate::testkit::params(1, 10, true));
        *bad.last_mut().unwrap() ^= 0; // the salt may be anything
        let flag = bad.len() - 18;
        bad[flag] = 2;
        assert!(decode::<ChainParams>(&bad, "p").is_err(), "a flag of 2");
        let mut policy = encode(&crate::testkit::params(1, 10, true));
        *policy.last_mut().unwrap() = 2;
        assert!(
            decode::<ChainParams>(&policy, "p").is_err(),
            "a policy of 2"
        );
        assert_eq!(decode_seq_key(&seq_key(258)).unwrap(), 258);
        assert!(seq_key(1) < seq_key(256), "keys sort by number");
    }

    #[test]
    fn peer_records_keep_their_bytes_and_refuse_what_breaks_a_bound() {
        golden(
            PeerRecord {
                address: "/ip4/1".into(),
                last_good_ms: 2,
                banned_until_ms: 0x0102,
                ban_reason: "x".into(),
            },
            "010200000000000000020100000000000006002f6970342f31010078",
        );
        let mut wrong_version = encode(&PeerRecord::default());
        wrong_version[0] = 2;
        assert!(decode::<PeerRecord>(&wrong_version, "p").is_err());
        let mut too_long = encode(&PeerRecord::default());
        too_long[17..19].copy_from_slice(&300u16.to_le_bytes());
        too_long.extend(std::iter::repeat_n(b'a', 300));
        assert!(decode::<PeerRecord>(&too_long, "p").is_err());
        let long = PeerRecord {
            address: "é".repeat(200),
            ..PeerRecord::default()
        };
        let back: PeerRecord = decode(&encode(&long), "p").unwrap();
        assert_eq!(back.address, "é".repeat(128), "cut at a character boundary");
    }

    #[test]
    fn height_groups_grow_and_shrink_at_the_top_only() {
        let (a, b) = (BlockHash([1; 32]), BlockHash([2; 32]));
        let one = group_with(&[], 8, &a).unwrap();
        let two = group_with(&one, 9, &b).unwrap();
        assert_eq!(group_hashes(&two).unwrap(), vec![a, b]);
        assert!(group_with(&one, 10, &b).is_err(), "a gap");
        assert_eq!(
            group_with(&two, 9, &a).unwrap(),
            group_with(&one, 9, &a).unwrap()
        );
        assert_eq!(group_without(&two, 9).unwrap(), Some(one.clone()));
        assert_eq!(group_without(&one, 8).unwrap(), None);
        assert!(group_without(&two, 8).is_err(), "not the top");
        assert_eq!(decode_group_key(&group_key(9)).unwrap(), 8);
    }

    #[test]
    fn height_groups_hold_their_hashes_in_order() {
        let g = HEIGHT_GROUP;
        assert_eq!(group_key(g - 1), seq_key(0));
        assert_eq!(group_key(g), seq_key(1));
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
        assert_eq!(author_entries_without(&v, 7), v[44..].to_vec());
        assert_eq!(
            author_group_key("ab", 33),
            [&[2, b'a', b'b'][..], &2u64.to_be_bytes()].concat()
        );
        let k = orphan_parent_key(&BlockHash([5; 32]), 7);
        assert_eq!(orphan_parent_seq(&k).unwrap(), 7);
        assert!(orphan_parent_seq(&k[..39]).is_err());
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

    /// The records as they were derived before they had explicit encoders,
    /// with bincode 1.3's options of the time: every record must encode to
    /// exactly the bytes these did, for any value.
    mod as_derived {
        use bincode::Options;
        use proptest::prelude::*;

        use super::super::{encode, Record};
        use crate::consensus::params::SignaturePolicy;
        use crate::consensus::{BlockHash, ChainParams, Difficulty, MerkleNode, Work};
        use crate::store::schema::{ChainState, MiningCheckpoint, TxLocation};

        fn bincode<T: serde::Serialize>(v: &T) -> Vec<u8> {
            bincode::DefaultOptions::new()
                .with_fixint_encoding()
                .with_little_endian()
                .serialize(v)
                .unwrap()
        }

        #[derive(serde::Serialize)]
        struct OldState([u8; 32], u64, [u64; 4], u64, u64, u64);
        #[derive(serde::Serialize)]
        struct OldParams(String, u32, u64, u32, bool, [u8; 16]);
        #[derive(serde::Serialize)]
        #[allow(clippy::type_complexity)]
        struct OldCheckpoint(
            u32,
            u64,
            [u8; 32],
            [u8; 32],
            u64,
            u32,
            (u64, u64, u64, u64, u64),
        );

        fn same<T: Record + PartialEq + std::fmt::Debug>(new: &T, old: Vec<u8>) {
            assert_eq!(encode(new), old);
            assert_eq!(&super::super::decode::<T>(&old, "r").unwrap(), new);
        }

        proptest! {
            #[test]
            fn records_encode_as_their_old_derives(
                h in any::<[u8; 32]>(), m in any::<[u8; 32]>(), limbs in any::<[u64; 4]>(),
                a in any::<u64>(), b in any::<u64>(), c in any::<u64>(), d in any::<u64>(),
                e in any::<u64>(), x in any::<u32>(), y in any::<u32>(),
                name in "[a-z]{1,64}", flag in any::<bool>(), salt in any::<[u8; 16]>(),
            ) {
                same(&ChainState {
                    tip: BlockHash(h), height: a, chain_work: Work::from_limbs(limbs),
                    chain_txs: b, pending: c, next_pending_seq: d,
                }, bincode(&OldState(h, a, limbs, b, c, d)));
                // Schema 6 appends the signature policy byte to the v5 bytes.
                let mut v6 = bincode(&OldParams(name.clone(), x, a, y, flag, salt));
                v6.push(0);
                same(&ChainParams {
                    name, initial_difficulty: Difficulty(x), target_interval_ms: a,
                    retarget_window: y, fixed_difficulty: flag, salt,
                    signatures: SignaturePolicy::Optional,
                }, v6);
                same(&MiningCheckpoint {
                    version: x, height: a, prev_hash: BlockHash(h), merkle_root: MerkleNode(m),
                    timestamp: b, difficulty: y, tx_count: c, first_seq: d, last_seq: e,
                    tried_below: a ^ b, hashes: c ^ d,
                }, bincode(&OldCheckpoint(x, a, h, m, b, y, (c, d, e, a ^ b, c ^ d))));
                same(&TxLocation { height: a, index: x }, bincode(&(a, x)));
                same(&Work::from_limbs(limbs), bincode(&limbs));
            }
        }
    }
}
