//! `import`: add the blocks of an export file, checking every one before
//! writing any. Lines must run from genesis up; blocks already stored are
//! skipped; a file that extends the tip goes in batches of whole blocks, a
//! competing branch block by block through fork choice.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Mutex;

use super::views::{ImportView, TipRef};
use super::ApiError;
use crate::consensus::{rules, Block, BlockError};
use crate::export::parse_line;
use crate::store::dry_run::DryRun;
use crate::store::fork::Accepted;
use crate::store::Store;
use crate::time::now_ms;

/// Blocks per import transaction, and their total size bound.
const BATCH_BLOCKS: usize = 512;
const BATCH_BYTES: usize = 16 << 20;

/// Longest export line accepted: a 1 MiB block of control characters
/// escaped as JSON is under 7 MiB.
const MAX_LINE_BYTES: u64 = 16 << 20;

/// Lines of at most [`MAX_LINE_BYTES`], so a damaged file cannot exhaust memory.
fn bounded_lines(mut r: impl BufRead) -> impl Iterator<Item = std::io::Result<String>> {
    std::iter::from_fn(move || {
        let mut buf = Vec::new();
        match std::io::Read::take(&mut r, MAX_LINE_BYTES + 1).read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) if buf.len() as u64 > MAX_LINE_BYTES => Some(Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("line longer than {MAX_LINE_BYTES} bytes"),
            ))),
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                Some(
                    String::from_utf8(buf).map_err(|_| {
                        std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8")
                    }),
                )
            }
            Err(e) => Some(Err(e)),
        }
    })
}

/// The blocks of an export file, one per non-empty line, with line numbers.
fn blocks_of<'a>(
    path: &Path,
    name: &'a str,
) -> Result<impl Iterator<Item = Result<(usize, Block), ApiError>> + 'a, ApiError> {
    let file = File::open(path).map_err(|e| ApiError::Io(format!("cannot open {name}: {e}")))?;
    Ok(bounded_lines(BufReader::new(file))
        .enumerate()
        .filter_map(move |(i, line)| {
            let n = i + 1;
            match line {
                Err(e) => Some(Err(ApiError::BadRequest(format!("{name}: line {n}: {e}")))),
                Ok(l) if l.trim().is_empty() => None,
                Ok(l) => Some(
                    parse_line(&l)
                        .map(|b| (n, b))
                        .map_err(|e| ApiError::BadRequest(format!("{name}: line {n}: {e}"))),
                ),
            }
        }))
}

/// Imports `path` (called `name` in messages) into `existing`, or into a
/// new ledger at `data_dir` when there is none (the created store is
/// returned). `lock` is held while writing.
pub fn import(
    existing: Option<&Store>,
    data_dir: &Path,
    path: &Path,
    name: &str,
    lock: Option<&Mutex<()>>,
) -> Result<(ImportView, Option<Store>), ApiError> {
    let now = now_ms();
    let at = |n: usize, e: &dyn std::fmt::Display| {
        ApiError::BadRequest(format!("{name}: line {n}: {e}"))
    };
    let _held = lock.map(|l| l.lock());

    // Pass 1: check every block; nothing is written. Lines must run from
    // genesis up, one height after another. Blocks this ledger already has
    // are skipped (their bodies still checked); the first new one must have
    // a known parent: the tip (the file extends this chain) or any other
    // stored block (the file brings a competing branch).
    let mut genesis: Option<Block> = None;
    let mut dry: Option<DryRun<'_>> = None;
    let mut extends_tip = true;
    let mut expected_height = 0u64;
    let mut previous: Option<crate::consensus::BlockHash> = None;
    let (mut new_blocks, mut known) = (0u64, 0u64);
    for item in blocks_of(path, name)? {
        let (n, block) = item?;
        let h = block.header.height;
        if h != expected_height {
            return Err(at(
                n,
                &format!("expected the block at height {expected_height}, found height {h}"),
            ));
        }
        expected_height += 1;
        let hash = block.hash();
        if let Some(p) = previous {
            if block.header.prev_hash != p {
                return Err(at(
                    n,
                    &format!("block {hash} does not build on the previous line's block {p}"),
                ));
            }
        }
        previous = Some(hash);
        match &existing {
            Some(s) if dry.is_none() && s.header(&hash)?.is_some() => {
                // A block it has must still be the block it has: its
                // body is pinned by the header's Merkle root.
                rules::check_body(&block).map_err(|e| at(n, &e))?;
                known += 1;
            }
            Some(s) => {
                if dry.is_none() {
                    if h == 0 {
                        let e = BlockError::ForeignGenesis {
                            expected: s.genesis_hash(),
                            got: hash,
                        };
                        return Err(at(n, &e));
                    }
                    let parent = block.header.prev_hash;
                    extends_tip = parent == s.state()?.tip;
                    dry = Some(if extends_tip {
                        DryRun::on_store(s)?
                    } else {
                        DryRun::on_branch(s, &parent)?
                    });
                }
                dry.as_mut()
                    .expect("set above")
                    .check(&block, now)
                    .map_err(|e| at(n, &e))?;
                new_blocks += 1;
            }
            None if h == 0 => {
                dry = Some(DryRun::on_genesis(&block, now).map_err(|e| at(n, &e))?);
                genesis = Some(block);
                new_blocks += 1;
            }
            None => {
                dry.as_mut()
                    .expect("genesis came first")
                    .check(&block, now)
                    .map_err(|e| at(n, &e))?;
                new_blocks += 1;
            }
        }
    }
    if expected_height == 0 {
        return Err(ApiError::BadRequest(format!("{name} holds no blocks")));
    }

    // Pass 2: write. A file that extends the tip goes in batches of whole
    // blocks, each one transaction; a competing branch goes block by block
    // through fork choice, which reorganises when the branch has more work.
    let created = match existing {
        Some(_) => None,
        None => Some(Store::create(
            data_dir,
            genesis.as_ref().expect("checked in pass 1"),
            now,
        )?),
    };
    let store = existing.or(created.as_ref()).expect("one of the two");
    let changed = |n: usize, e: &dyn std::fmt::Display| {
        ApiError::Conflict(format!(
            "{name} changed while importing (near line {n}): {e}"
        ))
    };
    let mut batch: Vec<Block> = Vec::new();
    let mut batch_bytes = 0usize;
    let (mut reorganized, mut disconnected) = (false, 0u64);
    for item in blocks_of(path, name)? {
        let (n, block) = item?;
        if store.header(&block.hash())?.is_some() {
            continue;
        }
        if !extends_tip {
            match store
                .accept_block(&block, now)
                .map_err(|e| changed(n, &e))?
            {
                Accepted::Reorganized {
                    disconnected: d, ..
                } => {
                    reorganized = true;
                    disconnected += d;
                }
                Accepted::Orphan => return Err(changed(n, &"its parent is gone")),
                _ => {}
            }
            continue;
        }
        batch_bytes += block.encoded_len();
        batch.push(block);
        if batch.len() >= BATCH_BLOCKS || batch_bytes >= BATCH_BYTES {
            store
                .append_batch(&batch, now)
                .map_err(|e| changed(n, &e))?;
            batch.clear();
            batch_bytes = 0;
        }
    }
    if !batch.is_empty() {
        store
            .append_batch(&batch, now)
            .map_err(|e| ApiError::Conflict(format!("{name} changed while importing: {e}")))?;
    }
    let state = store.state()?;
    let view = ImportView {
        imported: new_blocks,
        already_present: known,
        reorganized,
        disconnected,
        extends_tip,
        tip: TipRef {
            height: state.height,
            hash: state.tip,
            timestamp: None,
        },
    };
    Ok((view, created))
}
