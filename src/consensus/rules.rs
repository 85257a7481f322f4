//! The acceptance rules: what makes a block valid on top of its parent, the
//! median-time-past rule and the difficulty retarget. Every function here is
//! pure: the caller supplies the few facts about the parent chain the rules
//! need ([`ParentInfo`], and one timestamp at retarget heights), so the rules
//! never see, or need, the whole chain. `docs/FORMAT.md` states each rule.

use std::collections::HashSet;

use super::block::{Block, MAX_BLOCK_BYTES};
use super::hash::{BlockHash, MerkleNode, Txid};
use super::header::{BlockHeader, HEADER_VERSION};
use super::merkle::merkle_root;
use super::params::{ChainParams, SignaturePolicy};
use super::pow::{Difficulty, MAX_DIFFICULTY};
use super::signature::{self, PublicKey, SignatureError};
use super::transaction::Transaction;

/// How many previous timestamps the median-time-past rule looks at.
pub const MEDIAN_TIME_SPAN: usize = 11;
/// How far ahead of the local clock a block timestamp may be (2 hours).
pub const MAX_FUTURE_MS: u64 = 2 * 60 * 60 * 1000;
/// The retarget ratio is clamped to this factor either way (as in Bitcoin).
pub const MAX_RETARGET_FACTOR: u64 = 4;

/// Why a block is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("unsupported block version {0}")]
    UnsupportedVersion(u32),
    #[error("block is {size} bytes, over the limit of {max}")]
    TooLarge { size: usize, max: usize },
    #[error("wrong height {got}: expected {expected}")]
    WrongHeight { expected: u64, got: u64 },
    #[error("previous hash {got} does not match the parent {expected}")]
    WrongParent { expected: BlockHash, got: BlockHash },
    #[error("wrong difficulty {got}: the retarget rule requires {expected}")]
    WrongDifficulty {
        expected: Difficulty,
        got: Difficulty,
    },
    #[error("proof of work too weak: hash {hash} does not start with {difficulty} zero bits")]
    InsufficientWork {
        hash: BlockHash,
        difficulty: Difficulty,
    },
    #[error("timestamp {timestamp} is not after the median {median} of the previous blocks")]
    TimestampTooOld { timestamp: u64, median: u64 },
    #[error("timestamp {timestamp} is more than 2 hours ahead of the local clock ({now})")]
    TimestampTooNew { timestamp: u64, now: u64 },
    #[error("Merkle root {header} in the header does not match the transactions ({computed})")]
    BadMerkleRoot {
        header: MerkleNode,
        computed: MerkleNode,
    },
    #[error("transaction {0} appears twice in the block")]
    DuplicateTx(Txid),
    #[error("transaction {0} is already in the chain")]
    TxAlreadyInChain(Txid),
    #[error("entry {0} is unsigned, and this ledger requires every entry to be signed")]
    UnsignedEntry(Txid),
    #[error("entry {txid} has an invalid signature: {reason}")]
    BadSignature { txid: Txid, reason: SignatureError },
    #[error(
        "entry {txid} is signed under a name {}, which a signed name may not (it would display \
         like another name; docs/FORMAT.md, \"Names\")",
        unbindable_what(*code_point)
    )]
    UnbindableName { txid: Txid, code_point: u32 },
    #[error(
        "entry {txid} under \"{name}\" is signed by key {got}, but the name is bound to key {bound}"
    )]
    NameBoundToOtherKey {
        txid: Txid,
        name: String,
        bound: String,
        got: String,
    },
    #[error("entry {txid} under \"{name}\" is unsigned, but the name is bound to key {bound}")]
    UnsignedUnderBoundName {
        txid: Txid,
        name: String,
        bound: String,
    },
    #[error("invalid genesis block: {0}")]
    BadGenesis(&'static str),
    #[error("genesis block {got} differs from this ledger's genesis {expected}")]
    ForeignGenesis { expected: BlockHash, got: BlockHash },
}

/// What the rules need to know about the block a new block builds on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentInfo {
    pub hash: BlockHash,
    pub height: u64,
    /// Median of the timestamps of the parent and up to 10 blocks before it.
    pub median_time_past: u64,
    /// The difficulty the child must carry ([`next_difficulty`]).
    pub next_difficulty: Difficulty,
}

/// The median of up to [`MEDIAN_TIME_SPAN`] timestamps: the middle element
/// after sorting, the upper middle one for an even count. `0` for none.
pub fn median_time(timestamps: &[u64]) -> u64 {
    let mut v = timestamps.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// True when a block at `height` is the first of a new retarget window.
pub fn is_retarget_height(params: &ChainParams, height: u64) -> bool {
    !params.fixed_difficulty && height > 0 && height.is_multiple_of(params.retarget_window as u64)
}

/// The new difficulty after a window that took `span_ms` over `window - 1`
/// block intervals, starting from `old`.
///
/// Expected span `e = (window - 1) * interval`; the actual span is clamped
/// to `[e / 4, 4 e]`. The difficulty moves by `k` bits, the whole number
/// nearest to `log2(e / actual)` (rounding half away from zero), computed in
/// integers: up by the largest `k` in `0..=2` with `2 e^2 >= 4^k a^2`, or down
/// by the largest `k` with `2 a^2 >= 4^k e^2`. The result stays in
/// `0..=MAX_DIFFICULTY`.
pub fn retarget(params: &ChainParams, old: Difficulty, span_ms: u64) -> Difficulty {
    let e = params.target_interval_ms as u128 * (params.retarget_window as u128 - 1);
    let f = MAX_RETARGET_FACTOR as u128;
    let a = (span_ms as u128).clamp(e.div_ceil(f).max(1), e * f);
    let steps = |big: u128, small: u128| {
        (0..=2u32)
            .rev()
            .find(|k| 2 * big * big >= (1u128 << (2 * k)) * small * small)
            .unwrap_or(0)
    };
    let d = old.0 as i64;
    let new = if a < e {
        d + steps(e, a) as i64
    } else {
        d - steps(a, e) as i64
    };
    Difficulty(new.clamp(0, MAX_DIFFICULTY as i64) as u32)
}

/// The difficulty a block at `height` (child of `prev`) must carry: the
/// parent's, except at a retarget height, where it is [`retarget`] of the
/// parent's difficulty and the span `prev.timestamp - timestamp(height -
/// window)`. `timestamp_at` reads that one header of the same branch.
pub fn next_difficulty<E>(
    params: &ChainParams,
    prev: &BlockHeader,
    timestamp_at: impl FnOnce(u64) -> Result<u64, E>,
) -> Result<Difficulty, E> {
    let height = prev.height + 1;
    if !is_retarget_height(params, height) {
        return Ok(prev.difficulty);
    }
    let first = timestamp_at(height - params.retarget_window as u64)?;
    Ok(retarget(
        params,
        prev.difficulty,
        prev.timestamp.saturating_sub(first),
    ))
}

/// A block that passed every consensus rule on top of one parent: the only
/// kind of block the store writes (rust-bitcoin's `Block<Checked>`). Only
/// this module makes one ([`check_block`], [`check_genesis`]), so holding a
/// `CheckedBlock` is the proof. It remembers the parent it was checked on:
/// a writer must still confirm, inside its transaction, that this parent is
/// where it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedBlock {
    block: Block,
    hash: BlockHash,
    txids: Vec<Txid>,
    bindings: Vec<Binding>,
}

impl CheckedBlock {
    pub fn block(&self) -> &Block {
        &self.block
    }
    pub fn hash(&self) -> BlockHash {
        self.hash
    }
    /// The txids of its transactions, in block order.
    pub fn txids(&self) -> &[Txid] {
        &self.txids
    }
    /// The names its entries bind ([`check_names`]), in block order.
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }
    /// The hash of the parent it was checked against (zeros for genesis).
    pub fn parent(&self) -> BlockHash {
        self.block.header.prev_hash
    }
    pub fn into_block(self) -> Block {
        self.block
    }
}

impl std::ops::Deref for CheckedBlock {
    type Target = Block;
    fn deref(&self) -> &Block {
        &self.block
    }
}

/// The header rules against its parent (FORMAT.md, "Acceptance rules" 1-6):
/// version 1, height one above the parent, the parent's hash, the difficulty
/// the parent's branch requires, a timestamp after the median time past and
/// at most [`MAX_FUTURE_MS`] ahead of `now_ms`. Proof of work is
/// [`check_pow`], the body [`check_body`].
pub fn check_header(
    header: &BlockHeader,
    parent: &ParentInfo,
    now_ms: u64,
) -> Result<(), BlockError> {
    check_version(header)?;
    if header.height != parent.height + 1 {
        return Err(BlockError::WrongHeight {
            expected: parent.height + 1,
            got: header.height,
        });
    }
    if header.prev_hash != parent.hash {
        return Err(BlockError::WrongParent {
            expected: parent.hash,
            got: header.prev_hash,
        });
    }
    if header.difficulty != parent.next_difficulty {
        return Err(BlockError::WrongDifficulty {
            expected: parent.next_difficulty,
            got: header.difficulty,
        });
    }
    if header.timestamp <= parent.median_time_past {
        return Err(BlockError::TimestampTooOld {
            timestamp: header.timestamp,
            median: parent.median_time_past,
        });
    }
    check_not_future(header, now_ms)
}

fn check_version(header: &BlockHeader) -> Result<(), BlockError> {
    if header.version != HEADER_VERSION {
        return Err(BlockError::UnsupportedVersion(header.version));
    }
    Ok(())
}

fn check_not_future(header: &BlockHeader, now_ms: u64) -> Result<(), BlockError> {
    if header.timestamp > now_ms.saturating_add(MAX_FUTURE_MS) {
        return Err(BlockError::TimestampTooNew {
            timestamp: header.timestamp,
            now: now_ms,
        });
    }
    Ok(())
}

/// Proof of work: the difficulty is at most [`MAX_DIFFICULTY`] and the
/// header's hash starts with that many zero bits. Needs nothing but the
/// header, so even a block of unknown parent (an orphan) is held to it.
/// Returns the hash.
pub fn check_pow(header: &BlockHeader) -> Result<BlockHash, BlockError> {
    let hash = header.hash();
    if header.difficulty.0 > MAX_DIFFICULTY || !header.difficulty.is_met_by(&hash) {
        return Err(BlockError::InsufficientWork {
            hash,
            difficulty: header.difficulty,
        });
    }
    Ok(hash)
}

/// The body rules: at most [`MAX_BLOCK_BYTES`] encoded, the header's Merkle
/// root is that of the transactions, and no transaction appears twice.
/// Returns the txids, in block order.
pub fn check_body(block: &Block) -> Result<Vec<Txid>, BlockError> {
    let size = block.encoded_len();
    if size > MAX_BLOCK_BYTES {
        return Err(BlockError::TooLarge {
            size,
            max: MAX_BLOCK_BYTES,
        });
    }
    let txids = block.txids();
    check_merkle_root(&block.header, &txids)?;
    let mut seen = HashSet::with_capacity(txids.len());
    for id in &txids {
        if !seen.insert(*id) {
            return Err(BlockError::DuplicateTx(*id));
        }
    }
    Ok(txids)
}

/// The header's Merkle root is that of `txids`.
pub fn check_merkle_root(header: &BlockHeader, txids: &[Txid]) -> Result<(), BlockError> {
    let computed = merkle_root(txids);
    if computed != header.merkle_root {
        return Err(BlockError::BadMerkleRoot {
            header: header.merkle_root,
            computed,
        });
    }
    Ok(())
}

/// Every rule for a block on top of `parent`: [`check_header`],
/// [`check_pow`], [`check_body`], [`check_signatures`], then the two rules
/// only the caller can look up: no transaction already in the chain it
/// extends (`in_chain(txid)` answers whether that chain, up to `parent`,
/// holds `txid`) and [`check_names`] (`bound_key(name)`: the key that chain
/// binds `name` to).
pub fn check_block<E: From<BlockError>>(
    block: Block,
    parent: &ParentInfo,
    ledger: &SignatureRules,
    now_ms: u64,
    in_chain: impl FnMut(&Txid) -> Result<bool, E>,
    bound_key: impl FnMut(&str) -> Result<Option<PublicKey>, E>,
) -> Result<CheckedBlock, E> {
    let signatures = Signatures::Verify;
    check_block_with(
        block, parent, ledger, signatures, now_ms, in_chain, bound_key,
    )
}

/// Whether [`check_block_with`] runs the Ed25519 check (rule 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signatures {
    /// Verify every signature, as [`check_block`] does.
    Verify,
    /// The caller answers for rule 9: it verified this very block (the same
    /// hash, so the same signatures) on the same ledger before, or it
    /// verifies the block's signatures itself ([`verify_signatures`], in a
    /// batch larger than one block) before anything is written. Rules 7 and
    /// 8 still run here.
    VerifiedByCaller,
}

/// [`check_block`], with the Ed25519 check left to the caller when
/// `signatures` says so (an import verifies many blocks' signatures in one
/// batch, and does not verify a block again when it writes it).
#[allow(clippy::too_many_arguments)]
pub fn check_block_with<E: From<BlockError>>(
    block: Block,
    parent: &ParentInfo,
    ledger: &SignatureRules,
    signatures: Signatures,
    now_ms: u64,
    in_chain: impl FnMut(&Txid) -> Result<bool, E>,
    bound_key: impl FnMut(&str) -> Result<Option<PublicKey>, E>,
) -> Result<CheckedBlock, E> {
    check_header(&block.header, parent, now_ms)?;
    let hash = check_pow(&block.header)?;
    let txids = check_body(&block)?;
    let signed = check_signers(&block.txs, &txids, ledger)?;
    if signatures == Signatures::Verify {
        verify_signatures(&block.txs, &txids, &signed, ledger)?;
    }
    let chain_wide =
        check_new_txs(&txids, in_chain).and_then(|()| check_names(&block.txs, &txids, bound_key));
    let bindings = match chain_wide {
        Ok(b) => b,
        // Rule 9 comes before rules 10 and 11: a block that breaks both
        // is refused for its signature, whoever verifies it.
        Err(e) => {
            if signatures == Signatures::VerifiedByCaller {
                verify_signatures(&block.txs, &txids, &signed, ledger)?;
            }
            return Err(e);
        }
    };
    Ok(CheckedBlock {
        block,
        hash,
        txids,
        bindings,
    })
}

/// What the entry rules need to know of the ledger: its genesis hash (every
/// signature is over it) and its signature policy (from its parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureRules {
    pub genesis: BlockHash,
    pub policy: SignaturePolicy,
}

/// Code points a signed entry's author may not hold (FORMAT.md, "Names"),
/// as inclusive ranges: every Unicode space but U+0020, and every
/// default-ignorable code point (zero-width characters, joiners,
/// bidirectional marks, embeddings, overrides and isolates, variation
/// selectors, fillers, tags), plus U+2800 (the blank braille pattern).
/// Each of them displays as nothing, or as a plain space, or reorders the
/// text around it, so a name holding one can look like another name.
/// Control characters are refused in every author already.
pub const UNBINDABLE_CODE_POINTS: &[(u32, u32)] = &[
    (0x00A0, 0x00A0),   // no-break space
    (0x00AD, 0x00AD),   // soft hyphen
    (0x034F, 0x034F),   // combining grapheme joiner
    (0x061C, 0x061C),   // Arabic letter mark
    (0x115F, 0x1160),   // Hangul fillers
    (0x1680, 0x1680),   // Ogham space mark
    (0x17B4, 0x17B5),   // Khmer inherent vowels
    (0x180B, 0x180F),   // Mongolian variation selectors and vowel separator
    (0x2000, 0x200F),   // spaces, zero-width space/joiners, LRM, RLM
    (0x2028, 0x202F), // line/paragraph separators, bidi embeddings and overrides, narrow no-break space
    (0x205F, 0x206F), // medium space, word joiner, invisible operators, bidi isolates, deprecated formats
    (0x2800, 0x2800), // braille pattern blank
    (0x3000, 0x3000), // ideographic space
    (0x3164, 0x3164), // Hangul filler
    (0xFE00, 0xFE0F), // variation selectors
    (0xFEFF, 0xFEFF), // zero-width no-break space (byte order mark)
    (0xFFA0, 0xFFA0), // halfwidth Hangul filler
    (0xFFF0, 0xFFF8), // unassigned specials (default ignorable)
    (0x1BCA0, 0x1BCA3), // shorthand format controls
    (0x1D173, 0x1D17A), // musical symbol format controls
    (0xE0000, 0xE0FFF), // tags and variation selectors supplement
];

/// The first code point that keeps `name` from being bound to a key:
/// one of [`UNBINDABLE_CODE_POINTS`], or a space (U+0020) at its start or
/// end. `None` when the name can be bound.
pub fn unbindable_code_point(name: &str) -> Option<u32> {
    if name.starts_with(' ') || name.ends_with(' ') {
        return Some(0x20);
    }
    name.chars().map(|c| c as u32).find(|&c| {
        UNBINDABLE_CODE_POINTS
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&c))
    })
}

/// What an unbindable name holds, for [`BlockError::UnbindableName`]: a
/// space (U+0020) only at its start or end counts.
fn unbindable_what(code_point: u32) -> String {
    match code_point {
        0x20 => "that starts or ends with a space".into(),
        c => format!("holding U+{c:04X}"),
    }
}

/// Signed entries checked per thread at least, before the work is split.
const SIGNATURES_PER_THREAD: usize = 32;

/// The entry rules that need nothing but the entries (FORMAT.md, common
/// rules 7-9): under [`SignaturePolicy::Required`] every entry is signed;
/// a signed entry's author can be bound ([`unbindable_code_point`]); and
/// its signature verifies over [`Transaction::signing_message`]. The
/// signatures are verified in batches ([`signature::verify_batch`]) on up
/// to all cores; the first failure, in block order, is reported.
pub fn check_signatures(
    txs: &[Transaction],
    txids: &[Txid],
    ledger: &SignatureRules,
) -> Result<(), BlockError> {
    let signed = check_signers(txs, txids, ledger)?;
    verify_signatures(txs, txids, &signed, ledger)
}

/// Common rules 7 and 8 (the policy, and bindable names): returns the
/// positions of the signed entries, for [`verify_signatures`].
pub fn check_signers(
    txs: &[Transaction],
    txids: &[Txid],
    ledger: &SignatureRules,
) -> Result<Vec<usize>, BlockError> {
    let mut signed = Vec::new();
    for (i, tx) in txs.iter().enumerate() {
        match tx.signed() {
            None if ledger.policy == SignaturePolicy::Required => {
                return Err(BlockError::UnsignedEntry(txids[i]));
            }
            None => {}
            Some(_) => {
                if let Some(code_point) = unbindable_code_point(tx.author()) {
                    return Err(BlockError::UnbindableName {
                        txid: txids[i],
                        code_point,
                    });
                }
                signed.push(i);
            }
        }
    }
    Ok(signed)
}

/// Common rule 9 for the entries of `txs` at the positions `signed`
/// (signed entries; any number of blocks' worth): every signature
/// verifies, checked in batches ([`signature::verify_batch`]) on up to all
/// cores; the first failure, in the order given, is reported.
pub fn verify_signatures(
    txs: &[Transaction],
    txids: &[Txid],
    signed: &[usize],
    ledger: &SignatureRules,
) -> Result<(), BlockError> {
    let messages: Vec<Vec<u8>> = signed
        .iter()
        .map(|&i| txs[i].signing_message(&ledger.genesis))
        .collect();
    let items: Vec<signature::Item<'_>> = signed
        .iter()
        .zip(&messages)
        .map(|(&i, m)| {
            let s = txs[i].signed().expect("chosen as signed");
            signature::Item {
                key: &s.key,
                message: m,
                signature: &s.signature,
            }
        })
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = threads.min(items.len() / SIGNATURES_PER_THREAD).max(1);
    let chunk = items.len().div_ceil(threads).max(1);
    let first_bad = if threads == 1 {
        signature::verify_batch(&items).err()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = items
                .chunks(chunk)
                .enumerate()
                .map(|(c, part)| {
                    let check =
                        move || signature::verify_batch(part).map_err(|(i, e)| (c * chunk + i, e));
                    // No thread to be had (a process at its limit): here.
                    std::thread::Builder::new()
                        .spawn_scoped(scope, check)
                        .map_err(|_| check())
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| match h {
                    Ok(h) => h.join().expect("signature check panicked").err(),
                    Err(done) => done.err(),
                })
                .min_by_key(|(i, _)| *i)
        })
    };
    match first_bad {
        Some((i, reason)) => Err(BlockError::BadSignature {
            txid: txids[signed[i]],
            reason,
        }),
        None => Ok(()),
    }
}

/// Signed entries of checked blocks, gathered to verify together (rule 9,
/// [`verify_signatures`]): one batch across blocks costs less per
/// signature than each block's own, and spreads over every core. Each
/// entry keeps its caller's `tag` (an export line, a height), which a
/// failure names.
pub struct SignatureBatch<T> {
    txs: Vec<Transaction>,
    txids: Vec<Txid>,
    tags: Vec<T>,
}

impl<T: Copy> Default for SignatureBatch<T> {
    fn default() -> Self {
        SignatureBatch {
            txs: Vec::new(),
            txids: Vec::new(),
            tags: Vec::new(),
        }
    }
}

impl<T: Copy> SignatureBatch<T> {
    /// Gathers the signed entries of `block` under `tag`; whether it had any.
    pub fn add(&mut self, tag: T, block: &CheckedBlock) -> bool {
        let before = self.txs.len();
        for (tx, txid) in block.txs.iter().zip(block.txids()) {
            if tx.signed().is_some() {
                self.txs.push(tx.clone());
                self.txids.push(*txid);
                self.tags.push(tag);
            }
        }
        self.txs.len() > before
    }

    /// Signatures gathered and not yet verified.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// Verifies every gathered signature and empties the batch; on
    /// failure, the tag of the first bad entry and why.
    pub fn verify(&mut self, ledger: &SignatureRules) -> Result<(), (T, BlockError)> {
        let all: Vec<usize> = (0..self.txs.len()).collect();
        if let Err(e) = verify_signatures(&self.txs, &self.txids, &all, ledger) {
            let at = match &e {
                BlockError::BadSignature { txid, .. } => self.txids.iter().position(|t| t == txid),
                _ => None,
            };
            return Err((self.tags[at.unwrap_or(0)], e));
        }
        self.txs.clear();
        self.txids.clear();
        self.tags.clear();
        Ok(())
    }
}

/// A name bound by a block: the entry (its index in the block) whose
/// signature binds `name` to `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub index: u32,
    pub name: String,
    pub key: PublicKey,
}

/// The name rule (FORMAT.md, chain-wide rule 11), in block order: the first
/// signed entry under a name binds the name to its key; every later entry
/// under a bound name must be signed by that key. `bound_key(name)` is the
/// binding in the chain the block extends. Returns the bindings this block
/// makes.
pub fn check_names<E: From<BlockError>>(
    txs: &[Transaction],
    txids: &[Txid],
    mut bound_key: impl FnMut(&str) -> Result<Option<PublicKey>, E>,
) -> Result<Vec<Binding>, E> {
    let mut made: Vec<Binding> = Vec::new();
    for (i, tx) in txs.iter().enumerate() {
        let name = tx.author();
        let bound = match made.iter().find(|b| b.name == name) {
            Some(b) => Some(b.key),
            None => bound_key(name)?,
        };
        match (bound, tx.signed()) {
            (None, None) => {}
            (None, Some(s)) => made.push(Binding {
                index: i as u32,
                name: name.to_owned(),
                key: s.key,
            }),
            (Some(k), Some(s)) if k == s.key => {}
            (Some(k), Some(s)) => {
                return Err(BlockError::NameBoundToOtherKey {
                    txid: txids[i],
                    name: name.to_owned(),
                    bound: k.fingerprint(),
                    got: s.key.fingerprint(),
                }
                .into())
            }
            (Some(k), None) => {
                return Err(BlockError::UnsignedUnderBoundName {
                    txid: txids[i],
                    name: name.to_owned(),
                    bound: k.fingerprint(),
                }
                .into())
            }
        }
    }
    Ok(made)
}

/// No transaction of a block is already in the chain it extends:
/// `in_chain(txid)` answers for that chain (the store's lookup).
pub fn check_new_txs<E: From<BlockError>>(
    txids: &[Txid],
    mut in_chain: impl FnMut(&Txid) -> Result<bool, E>,
) -> Result<(), E> {
    for id in txids {
        if in_chain(id)? {
            return Err(BlockError::TxAlreadyInChain(*id).into());
        }
    }
    Ok(())
}

/// The rules for a genesis block (FORMAT.md, "Genesis"): height 0, an
/// all-zero previous hash, valid chain parameters in its first transaction,
/// their initial difficulty, and the header, proof-of-work and body rules
/// that need no parent. Returns the block and the parameters it commits to.
pub fn check_genesis(block: Block, now_ms: u64) -> Result<(CheckedBlock, ChainParams), BlockError> {
    let h = &block.header;
    if h.height != 0 {
        return Err(BlockError::BadGenesis("height is not 0"));
    }
    if h.prev_hash != BlockHash::ZERO {
        return Err(BlockError::BadGenesis("previous hash is not all zeros"));
    }
    let params = block.genesis_params().ok_or(BlockError::BadGenesis(
        "it does not carry valid chain parameters",
    ))?;
    if block.txs.iter().any(|tx| tx.signed().is_some()) {
        return Err(BlockError::BadGenesis("its transaction is signed"));
    }
    if h.difficulty != params.initial_difficulty {
        return Err(BlockError::WrongDifficulty {
            expected: params.initial_difficulty,
            got: h.difficulty,
        });
    }
    check_version(h)?;
    check_not_future(h, now_ms)?;
    let hash = check_pow(h)?;
    let txids = check_body(&block)?;
    let block = CheckedBlock {
        block,
        hash,
        txids,
        bindings: Vec::new(),
    };
    Ok((block, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(window: u32) -> ChainParams {
        crate::testkit::named_params("t", 4, window, false, [0; 16])
    }

    /// Mines by brute force (difficulty is tiny in these tests).
    fn mine(mut b: Block) -> Block {
        while !b.header.difficulty.is_met_by(&b.hash()) {
            b.header.nonce += 1;
        }
        b
    }

    fn child_of(parent: &Block, txs: Vec<Transaction>) -> (Block, ParentInfo) {
        let info = ParentInfo {
            hash: parent.hash(),
            height: parent.header.height,
            median_time_past: parent.header.timestamp,
            next_difficulty: parent.header.difficulty,
        };
        let ids: Vec<_> = txs.iter().map(Transaction::txid).collect();
        let header = BlockHeader {
            version: 1,
            height: parent.header.height + 1,
            prev_hash: parent.hash(),
            merkle_root: merkle_root(&ids),
            timestamp: parent.header.timestamp + 1,
            difficulty: parent.header.difficulty,
            nonce: 0,
        };
        (mine(Block { header, txs }), info)
    }

    const NOW: u64 = 1_000_000;

    /// [`check_block`] on a chain that holds none of the block's entries.
    fn check(b: &Block, parent: &ParentInfo, now: u64) -> Result<(), BlockError> {
        let ledger = SignatureRules {
            genesis: BlockHash([0; 32]),
            policy: SignaturePolicy::Optional,
        };
        let none = |_: &str| Ok::<_, BlockError>(None);
        check_block(b.clone(), parent, &ledger, now, |_| Ok(false), none).map(|_| ())
    }

    const GENESIS: BlockHash = BlockHash([5; 32]);

    fn signed(author: &str, n: u64, secret: u8) -> Transaction {
        Transaction::sign(author, n, vec![n as u8], &GENESIS, &[secret; 32]).unwrap()
    }

    fn ids(txs: &[Transaction]) -> Vec<Txid> {
        txs.iter().map(Transaction::txid).collect()
    }

    fn rules(policy: SignaturePolicy) -> SignatureRules {
        SignatureRules {
            genesis: GENESIS,
            policy,
        }
    }

    #[test]
    fn signatures_policy_and_unbindable_names() {
        let opt = rules(SignaturePolicy::Optional);
        let req = rules(SignaturePolicy::Required);
        let txs = vec![
            signed("alice", 1, 1),
            Transaction::new("bob", 2, vec![]).unwrap(),
        ];
        assert_eq!(check_signatures(&txs, &ids(&txs), &opt), Ok(()));
        assert_eq!(
            check_signatures(&txs, &ids(&txs), &req),
            Err(BlockError::UnsignedEntry(txs[1].txid()))
        );
        // Signed for another ledger: refused here.
        let other = Transaction::sign("carol", 3, vec![], &BlockHash([6; 32]), &[2; 32]).unwrap();
        let e = check_signatures(std::slice::from_ref(&other), &[other.txid()], &opt);
        assert!(matches!(e, Err(BlockError::BadSignature { .. })), "{e:?}");
        // A right-to-left override, a zero-width space, a trailing space.
        for name in ["al\u{202e}ice", "al\u{200b}ice", "alice "] {
            let t = signed(name, 4, 1);
            let e = check_signatures(std::slice::from_ref(&t), &[t.txid()], &opt);
            assert!(
                matches!(e, Err(BlockError::UnbindableName { .. })),
                "{name:?}: {e:?}"
            );
            // Unsigned, the same name is an ordinary author.
            let u = Transaction::new(name, 4, vec![]).unwrap();
            assert_eq!(
                check_signatures(std::slice::from_ref(&u), &[u.txid()], &opt),
                Ok(())
            );
        }
        assert_eq!(unbindable_code_point("Ålice née"), None);
    }

    #[test]
    fn a_batch_of_many_signatures_names_the_first_bad_one() {
        let opt = rules(SignaturePolicy::Optional);
        let mut txs: Vec<Transaction> = (0..300).map(|i| signed("w", i, 7)).collect();
        assert_eq!(check_signatures(&txs, &ids(&txs), &opt), Ok(()));
        // Entry 250 re-signed for another ledger, entry 260 too: 250 named.
        for i in [250, 260] {
            txs[i] = Transaction::sign("w", i as u64, vec![i as u8], &BlockHash([1; 32]), &[7; 32])
                .unwrap();
        }
        match check_signatures(&txs, &ids(&txs), &opt) {
            Err(BlockError::BadSignature { txid, .. }) => assert_eq!(txid, txs[250].txid()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_first_signed_entry_binds_a_name_in_block_order() {
        let chain = |_: &str| Ok::<_, BlockError>(None);
        // Unsigned before the binding is fine; after it, refused.
        let txs = vec![
            Transaction::new("alice", 0, vec![]).unwrap(),
            signed("alice", 1, 1),
            signed("alice", 2, 1),
        ];
        let made = check_names(&txs, &ids(&txs), chain).unwrap();
        assert_eq!(made.len(), 1);
        assert_eq!((made[0].index, made[0].name.as_str()), (1, "alice"));
        let mut later = txs.clone();
        later.push(Transaction::new("alice", 3, vec![]).unwrap());
        let e = check_names(&later, &ids(&later), chain).unwrap_err();
        assert!(
            matches!(e, BlockError::UnsignedUnderBoundName { .. }),
            "{e:?}"
        );
        let mut other = txs.clone();
        other.push(signed("alice", 4, 2));
        let e = check_names(&other, &ids(&other), chain).unwrap_err();
        assert!(matches!(e, BlockError::NameBoundToOtherKey { .. }), "{e:?}");
        // Bound in the chain below: the block's own first signature does
        // not bind again, and another key is refused.
        let key1 = txs[1].signed().unwrap().key;
        let below = |_: &str| Ok::<_, BlockError>(Some(key1));
        assert_eq!(check_names(&txs[1..], &ids(&txs[1..]), below), Ok(vec![]));
        let e = check_names(&other[3..], &ids(&other[3..]), below).unwrap_err();
        assert!(matches!(e, BlockError::NameBoundToOtherKey { .. }), "{e:?}");
    }

    fn genesis(b: &Block, now: u64) -> Result<ChainParams, BlockError> {
        check_genesis(b.clone(), now).map(|(_, p)| p)
    }

    #[test]
    fn median_time_is_the_middle() {
        assert_eq!(median_time(&[]), 0);
        assert_eq!(median_time(&[5]), 5);
        assert_eq!(median_time(&[9, 1]), 9);
        assert_eq!(median_time(&[3, 1, 2]), 2);
        assert_eq!(median_time(&[11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]), 6);
    }

    #[test]
    fn retarget_moves_by_rounded_log2_clamped_to_4x() {
        let p = params(11); // expected span 10 s
        let d = Difficulty(20);
        assert_eq!(retarget(&p, d, 10_000), Difficulty(20));
        assert_eq!(retarget(&p, d, 5_000), Difficulty(21));
        assert_eq!(retarget(&p, d, 20_000), Difficulty(19));
        assert_eq!(retarget(&p, d, 2_500), Difficulty(22));
        assert_eq!(retarget(&p, d, 1), Difficulty(22), "clamped at 4x");
        assert_eq!(retarget(&p, d, 0), Difficulty(22));
        assert_eq!(retarget(&p, d, u64::MAX), Difficulty(18), "clamped at 1/4");
        // Rounding boundary: log2(e/a) = 1/2 at a = e / sqrt(2) = 7071.07.
        assert_eq!(retarget(&p, d, 7_071), Difficulty(21));
        assert_eq!(retarget(&p, d, 7_072), Difficulty(20));
        assert_eq!(retarget(&p, d, 14_142), Difficulty(20));
        assert_eq!(retarget(&p, d, 14_143), Difficulty(19));
        assert_eq!(retarget(&p, Difficulty(0), 40_000), Difficulty(0));
        assert_eq!(
            retarget(&p, Difficulty(MAX_DIFFICULTY), 1),
            Difficulty(MAX_DIFFICULTY)
        );
    }

    #[test]
    fn next_difficulty_only_changes_at_window_boundaries() {
        let p = params(4);
        let mut prev = Block::genesis(&p, 0).header;
        prev.height = 2;
        prev.timestamp = 1_000;
        let never = |_h: u64| -> Result<u64, ()> { panic!("no read off a boundary") };
        assert_eq!(next_difficulty(&p, &prev, never), Ok(Difficulty(4)));
        prev.height = 3;
        // Window of 4 took 1 s for 3 intervals of 1 s expected: 2^1.58 faster.
        assert_eq!(
            next_difficulty(&p, &prev, |h| {
                assert_eq!(h, 0);
                Ok::<_, ()>(0)
            }),
            Ok(Difficulty(6))
        );
        let mut fixed = p.clone();
        fixed.fixed_difficulty = true;
        assert_eq!(next_difficulty(&fixed, &prev, never), Ok(Difficulty(4)));
    }

    #[test]
    fn each_rejection_reason() {
        let p = params(10);
        let g = mine(Block::genesis(&p, 1000));
        assert_eq!(genesis(&g, NOW), Ok(p.clone()));
        let tx = Transaction::new("a", 1, b"x".to_vec()).unwrap();
        let (b, info) = child_of(&g, vec![tx.clone()]);
        assert_eq!(check(&b, &info, NOW), Ok(()));

        let remine = |f: &dyn Fn(&mut Block)| {
            let mut x = b.clone();
            f(&mut x);
            x.header.nonce = 0;
            mine(x)
        };
        let e = |x: &Block| check(x, &info, NOW).unwrap_err();

        assert!(matches!(
            e(&remine(&|x| x.header.version = 2)),
            BlockError::UnsupportedVersion(2)
        ));
        assert!(matches!(
            e(&remine(&|x| x.header.height = 5)),
            BlockError::WrongHeight {
                expected: 1,
                got: 5
            }
        ));
        assert!(matches!(
            e(&remine(&|x| x.header.prev_hash = BlockHash([9; 32]))),
            BlockError::WrongParent { .. }
        ));
        assert!(matches!(
            e(&remine(&|x| x.header.difficulty = Difficulty(5))),
            BlockError::WrongDifficulty { .. }
        ));
        assert!(matches!(
            e(&remine(&|x| x.header.timestamp = 1000)),
            BlockError::TimestampTooOld { .. }
        ));
        assert!(matches!(
            e(&remine(&|x| x.header.timestamp = NOW + MAX_FUTURE_MS + 1)),
            BlockError::TimestampTooNew { .. }
        ));
        // At exactly the limit it is accepted.
        assert_eq!(
            check(
                &remine(&|x| x.header.timestamp = NOW + MAX_FUTURE_MS),
                &info,
                NOW
            ),
            Ok(())
        );
        assert!(matches!(
            e(&remine(&|x| x.header.merkle_root = MerkleNode::ZERO)),
            BlockError::BadMerkleRoot { .. }
        ));
        let dup = remine(&|x| {
            x.txs.push(tx.clone());
            x.header.merkle_root = merkle_root(&x.txids());
        });
        assert_eq!(e(&dup), BlockError::DuplicateTx(tx.txid()));
        let big = remine(&|x| {
            x.txs = (0..17)
                .map(|i| Transaction::new("a", i, vec![0; 64 * 1024]).unwrap())
                .collect();
            x.header.merkle_root = merkle_root(&x.txids());
        });
        assert!(matches!(e(&big), BlockError::TooLarge { .. }));
        // A nonce that does not meet the difficulty.
        let mut weak = b.clone();
        while weak.header.difficulty.is_met_by(&weak.hash()) {
            weak.header.nonce += 1;
        }
        assert!(matches!(e(&weak), BlockError::InsufficientWork { .. }));
    }

    #[test]
    fn genesis_rejections() {
        let p = params(10);
        let g = mine(Block::genesis(&p, 1000));
        let mut h1 = g.clone();
        h1.header.height = 1;
        assert_eq!(
            genesis(&mine(h1), NOW),
            Err(BlockError::BadGenesis("height is not 0"))
        );
        let mut np = g.clone();
        np.txs[0] = Transaction::new("genesis", 1, b"junk".to_vec()).unwrap();
        np.header.merkle_root = merkle_root(&np.txids());
        assert!(matches!(
            genesis(&mine(np), NOW),
            Err(BlockError::BadGenesis(_))
        ));
        let mut wd = g.clone();
        wd.header.difficulty = Difficulty(3);
        assert!(matches!(
            genesis(&mine(wd), NOW),
            Err(BlockError::WrongDifficulty { .. })
        ));
    }
}
