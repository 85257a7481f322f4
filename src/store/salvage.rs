//! `sledger salvage`: what a damaged store still holds, rebuilt into a new
//! one. Two readers, whose finds are pooled:
//!
//! - sled itself, opened and read tree by tree with its panics caught (a
//!   damaged file makes sled panic rather than fail): the blocks, the
//!   pending entries, and the tip the store recorded;
//! - a carver that scans the raw bytes of every file under `store/` for
//!   block encodings. A block is recognised by its own proof: the 96
//!   header bytes start with the version, their SHA-256 has the leading
//!   zero bits the header's difficulty asks for, and the transactions that
//!   follow hash to its Merkle root. Random or damaged bytes pass that with
//!   negligible probability, and sled keeps old copies of a record in its
//!   log, so a block whose newest copy is damaged is often found intact.
//!
//! [`rebuild`] then finds the genesis block, follows the recovered blocks
//! from it along the branch with the most work, and appends them to a new
//! store through the usual checks, stopping at the first that fails: the
//! longest valid prefix. Pending entries go in after, each through the
//! usual checks. The report says exactly what was found and what could not
//! be recovered.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::codec;
use super::schema::{ChainState, KEY_STATE, TREE_BLOCKS, TREE_META, TREE_PENDING};
use super::{Store, StoreError};
use crate::consensus::encode::Reader;
use crate::consensus::header::{BlockHeader, HEADER_BYTES, HEADER_VERSION};
use crate::consensus::merkle::merkle_root;
use crate::consensus::pow::leading_zero_bits;
use crate::consensus::{block::decode_txs, Block, BlockHash, Transaction, Txid};

/// What the two readers found in a damaged store.
#[derive(Debug, Default)]
pub struct Found {
    /// Every block found, by hash.
    pub blocks: HashMap<BlockHash, Block>,
    /// Pending entries sled could still read, in arrival order.
    pub pending: Vec<Transaction>,
    /// The tip the store recorded, if its state record could be read.
    pub recorded_tip: Option<(u64, BlockHash)>,
    /// What went wrong on the way (sled's panics and errors, unreadable
    /// files), one line each.
    pub problems: Vec<String>,
    /// Blocks found by sled, and by the carver.
    pub by_sled: usize,
    pub by_carving: usize,
}

/// What [`rebuild`] made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub genesis: BlockHash,
    /// The new store's tip.
    pub height: u64,
    pub tip: BlockHash,
    pub pending: u64,
    /// The tip the damaged store recorded, if it could be read.
    pub recorded_tip: Option<(u64, BlockHash)>,
    /// Distinct blocks found.
    pub found: u64,
    /// Found but left out: on a lighter branch, or not linked to the
    /// rebuilt chain (their parent is lost), by height.
    pub left_out: Vec<(u64, BlockHash)>,
    /// The first block of the chosen branch that failed the checks.
    pub refused: Option<(u64, BlockHash, String)>,
    /// Pending entries found but refused (already in the chain, or
    /// breaking a rule).
    pub pending_refused: u64,
    pub problems: Vec<String>,
}

/// Reads what it can of the store in `data_dir`, which it never writes:
/// sled reads a copy of the store's files, made in `scratch` (removed
/// after), since sled may write as it opens a store.
pub fn scavenge(data_dir: &Path, scratch: &Path) -> Found {
    let mut found = Found::default();
    match copy_dir(
        &data_dir.join(super::STORE_DIR),
        &scratch.join(super::STORE_DIR),
    ) {
        Ok(()) => read_with_sled(scratch, &mut found),
        Err(e) => found
            .problems
            .push(format!("cannot copy the store for sled to read: {e}")),
    }
    let _ = std::fs::remove_dir_all(scratch);
    let sled_blocks = found.blocks.len();
    carve_dir(&data_dir.join(super::STORE_DIR), &mut found);
    found.by_sled = sled_blocks;
    found.by_carving = found.blocks.len() - sled_blocks;
    found
}

/// Copies the files under `from` to `to` (created), as bytes.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Runs `f`, turning a panic into an error line.
fn unpanicked<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("sled panicked while {what}: {}", msg.replace('\n', " "))
    })
}

fn read_with_sled(data_dir: &Path, found: &mut Found) {
    let path = data_dir.join(super::STORE_DIR);
    let db = match unpanicked("opening the store", || {
        sled::Config::new().path(&path).open()
    }) {
        Ok(Ok(db)) => db,
        Ok(Err(e)) => {
            found
                .problems
                .push(format!("sled cannot open the store: {e}"));
            return found.problems.push(
                "the pending entries and the recorded tip could not be read (only sled reads them; blocks are also carved from the files)".into(),
            );
        }
        Err(e) => return found.problems.push(e),
    };
    let tree = |name: &str| match unpanicked("opening a tree", || db.open_tree(name)) {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(format!("sled cannot open the tree {name}: {e}")),
        Err(e) => Err(e),
    };
    match tree(TREE_META).map(|t| unpanicked("reading the state", || t.get(KEY_STATE))) {
        Ok(Ok(Ok(Some(v)))) => match codec::decode::<ChainState>(&v, "chain state") {
            Ok(s) => found.recorded_tip = Some((s.height, s.tip)),
            Err(e) => found
                .problems
                .push(format!("the state record is damaged: {e}")),
        },
        Ok(Ok(Ok(None))) => found.problems.push("the store has no state record".into()),
        Ok(Ok(Err(e))) => found
            .problems
            .push(format!("cannot read the state record: {e}")),
        Ok(Err(e)) | Err(e) => found.problems.push(e),
    }
    each_value(tree(TREE_BLOCKS), "blocks", found, |f, _, v| {
        if let Ok((_, block)) = codec::decode_block_record(v) {
            f.blocks.insert(block.hash(), block);
        }
    });
    each_value(tree(TREE_PENDING), "pending", found, |f, _, v| {
        if let Ok(tx) = codec::decode_tx(v) {
            f.pending.push(tx);
        }
    });
}

/// Calls `each` on every record of `tree` sled can still give, until its
/// first error or panic (noted).
fn each_value(
    tree: Result<sled::Tree, String>,
    name: &str,
    found: &mut Found,
    mut each: impl FnMut(&mut Found, &[u8], &[u8]),
) {
    let tree = match tree {
        Ok(t) => t,
        Err(e) => return found.problems.push(e),
    };
    let mut iter = tree.iter();
    loop {
        match unpanicked(&format!("reading the tree {name}"), || iter.next()) {
            Ok(None) => return,
            Ok(Some(Ok((k, v)))) => each(found, &k, &v),
            Ok(Some(Err(e))) => {
                return found
                    .problems
                    .push(format!("sled stopped reading the tree {name}: {e}"))
            }
            Err(e) => return found.problems.push(e),
        }
    }
}

/// Carves every regular file under `dir` (sled's log, snapshots, blobs).
fn carve_dir(dir: &Path, found: &mut Found) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            return found
                .problems
                .push(format!("cannot list {}: {e}", dir.display()))
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => carve_dir(&path, found),
            Ok(t) if t.is_file() => match std::fs::read(&path) {
                Ok(bytes) => {
                    for b in carve(&bytes) {
                        found.blocks.entry(b.hash()).or_insert(b);
                    }
                }
                Err(e) => found
                    .problems
                    .push(format!("cannot read {}: {e}", path.display())),
            },
            _ => {}
        }
    }
}

/// Every block encoding in `bytes`, recognised by its proof of work and
/// Merkle root.
pub fn carve(bytes: &[u8]) -> Vec<Block> {
    let version = HEADER_VERSION.to_le_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at + HEADER_BYTES + 4 <= bytes.len() {
        let Some(i) = bytes[at..bytes.len() - HEADER_BYTES]
            .windows(4)
            .position(|w| w == version)
            .map(|p| at + p)
        else {
            break;
        };
        at = i + 1;
        let raw: &[u8; HEADER_BYTES] = bytes[i..i + HEADER_BYTES].try_into().expect("96 bytes");
        let header = BlockHeader::decode(raw);
        let bits = header.difficulty.0;
        if bits == 0 || bits > 256 || leading_zero_bits(header.hash().as_bytes()) < bits {
            continue;
        }
        let mut r = Reader::new(&bytes[i + HEADER_BYTES..]);
        let Ok(txs) = decode_txs(&mut r) else {
            continue;
        };
        let ids: Vec<Txid> = txs.iter().map(Transaction::txid).collect();
        if merkle_root(&ids) != header.merkle_root {
            continue;
        }
        at = i + HEADER_BYTES + r.position();
        out.push(Block { header, txs });
    }
    out
}

/// Builds a new store at `to` from `found`: the genesis block, then the
/// branch with the most work through the recovered blocks, each checked as
/// it is appended, up to the first that fails; then the pending entries.
pub fn rebuild(found: Found, to: &Path, now_ms: u64) -> Result<Report, StoreError> {
    let geneses: Vec<&Block> = found
        .blocks
        .values()
        .filter(|b| b.header.height == 0 && b.header.prev_hash == BlockHash::ZERO)
        .collect();
    let genesis = match geneses.as_slice() {
        [one] => (*one).clone(),
        [] => {
            return Err(StoreError::Corrupt(
                "no genesis block could be recovered, so nothing can be rebuilt".into(),
            ))
        }
        many => {
            return Err(StoreError::Corrupt(format!(
                "{} genesis blocks were found (files of several ledgers?); nothing was rebuilt",
                many.len()
            )))
        }
    };
    let store = Store::create(to, &genesis, now_ms)?;
    let branch = heaviest_branch(&found.blocks, genesis.hash());
    let mut refused = None;
    let mut appended = 0usize;
    for group in branch.chunks(256) {
        if store.append_batch(group, now_ms).is_ok() {
            appended += group.len();
            continue;
        }
        // One by one, to find the first that fails.
        for b in group {
            match store.append(b, now_ms) {
                Ok(_) => appended += 1,
                Err(e) => {
                    refused = Some((b.header.height, b.hash(), e.to_string()));
                    break;
                }
            }
        }
        break;
    }
    let in_chain: std::collections::HashSet<BlockHash> = std::iter::once(genesis.hash())
        .chain(branch[..appended].iter().map(Block::hash))
        .collect();
    let mut left_out: Vec<(u64, BlockHash)> = found
        .blocks
        .iter()
        .filter(|(h, _)| !in_chain.contains(*h))
        .map(|(h, b)| (b.header.height, *h))
        .collect();
    left_out.sort();
    let mut pending_refused = 0;
    for tx in &found.pending {
        if store.submit(tx).is_err() {
            pending_refused += 1;
        }
    }
    let state = store.state()?;
    Ok(Report {
        genesis: genesis.hash(),
        height: state.height,
        tip: state.tip,
        pending: state.pending,
        recorded_tip: found.recorded_tip,
        found: found.blocks.len() as u64,
        left_out,
        refused,
        pending_refused,
        problems: found.problems,
    })
}

/// The blocks from `genesis`'s child on along the branch with the most
/// work among `blocks` (ties: the lower hash, so the result is the same
/// whatever the order they were found in).
fn heaviest_branch(blocks: &HashMap<BlockHash, Block>, genesis: BlockHash) -> Vec<Block> {
    let mut children: HashMap<BlockHash, Vec<BlockHash>> = HashMap::new();
    for (h, b) in blocks {
        if *h != genesis {
            children.entry(b.header.prev_hash).or_default().push(*h);
        }
    }
    // Work below each block, computed leaves first (heights descending).
    let mut by_height: BTreeMap<u64, Vec<BlockHash>> = BTreeMap::new();
    for (h, b) in blocks {
        by_height.entry(b.header.height).or_default().push(*h);
    }
    let mut best: HashMap<BlockHash, (f64, Option<BlockHash>)> = HashMap::new();
    for hashes in by_height.values().rev() {
        for h in hashes {
            let own = blocks[h].header.difficulty.work().log2().exp2();
            let next = children
                .get(h)
                .into_iter()
                .flatten()
                .filter(|c| blocks[*c].header.height == blocks[h].header.height + 1)
                .filter_map(|c| best.get(c).map(|(w, _)| (*w, *c)))
                .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
            let below = next.map_or(0.0, |(w, _)| w);
            best.insert(*h, (own + below, next.map(|(_, c)| c)));
        }
    }
    let mut out = Vec::new();
    let mut at = best.get(&genesis).and_then(|(_, next)| *next);
    while let Some(h) = at {
        out.push(blocks[&h].clone());
        at = best.get(&h).and_then(|(_, next)| *next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carving_finds_every_block_of_a_store_in_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("l");
        let (store, genesis) = crate::testkit::store(&at, &crate::testkit::params(6, 10, true), 0);
        let mut parent = genesis;
        for i in 0..3 {
            let b = crate::testkit::child(&parent, vec![crate::testkit::tx("a", i)], 1, 6);
            store.append(&b, crate::time::now_ms()).unwrap();
            parent = b;
        }
        store.flush().unwrap();
        drop(store);
        let mut found = Found::default();
        carve_dir(&at.join(super::super::STORE_DIR), &mut found);
        assert_eq!(found.blocks.len(), 4, "{:?}", found.problems);
    }

    #[test]
    fn carving_finds_blocks_amid_other_bytes_and_refuses_damaged_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, genesis) = crate::testkit::store(
            &dir.path().join("l"),
            &crate::testkit::params(6, 10, true),
            0,
        );
        let mut bytes = vec![7u8; 1000];
        bytes.extend_from_slice(&genesis.encode());
        bytes.extend_from_slice(&[1, 0, 0, 0, 9, 9]);
        let good = carve(&bytes);
        assert_eq!(good, vec![genesis.clone()]);
        // One flipped bit anywhere in the block: not recognised.
        for i in [1000, 1010, 1050, 1090, 1100, bytes.len() - 10] {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x10;
            assert!(carve(&damaged).iter().all(|b| *b != genesis), "byte {i}");
        }
    }
}
