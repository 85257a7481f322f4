//! `sledger export` and `sledger import`: the chain as JSON lines.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;

use crate::cli::output::print_json;
use crate::cli::Ctx;
use crate::consensus::{Block, BlockError};
use crate::export::{parse_line, to_line};
use crate::store::fork::Accepted;
use crate::store::write::DryRun;
use crate::store::Store;
use crate::time::now_ms;

/// Blocks per import transaction, and their total size bound.
const BATCH_BLOCKS: usize = 512;
const BATCH_BYTES: usize = 16 << 20;

pub fn export(ctx: &Ctx, output: Option<&Path>) -> Result<()> {
    let store = ctx.open()?;
    let Some(p) = output else {
        let mut out = BufWriter::new(std::io::stdout().lock());
        for b in store.blocks_from(0) {
            writeln!(out, "{}", to_line(&b?.block)).context("cannot write the export")?;
        }
        out.flush().context("cannot write the export")?;
        return Ok(());
    };
    // Write beside the target and rename it into place only when complete
    // and on disk, so a failed export never destroys an earlier one.
    let mut tmp_name = p.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".partial");
    let tmp = p.with_file_name(tmp_name);
    let file = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut out = BufWriter::new(file);
    let mut n = 0u64;
    let written: Result<()> = (|| {
        for b in store.blocks_from(0) {
            writeln!(out, "{}", to_line(&b?.block)).context("cannot write the export")?;
            n += 1;
        }
        let file = out.into_inner().context("cannot write the export")?;
        file.sync_all().context("cannot write the export")?;
        std::fs::rename(&tmp, p)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), p.display()))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    {
        if ctx.json {
            print_json(&json!({ "blocks": n, "file": p }));
        } else {
            eprintln!("exported {n} blocks to {}", p.display());
        }
    }
    Ok(())
}

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
fn blocks_of(path: &Path) -> Result<impl Iterator<Item = Result<(usize, Block)>>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let name = path.display().to_string();
    Ok(bounded_lines(BufReader::new(file))
        .enumerate()
        .filter_map(move |(i, line)| {
            let n = i + 1;
            match line {
                Err(e) => Some(Err(anyhow!("{name}: line {n}: {e}"))),
                Ok(l) if l.trim().is_empty() => None,
                Ok(l) => Some(
                    parse_line(&l)
                        .map(|b| (n, b))
                        .map_err(|e| anyhow!("{name}: line {n}: {e}")),
                ),
            }
        }))
}

pub fn import(ctx: &Ctx, path: &Path) -> Result<()> {
    let existing = ctx.open_if_any()?;
    let now = now_ms();
    let name = path.display().to_string();
    let at = |n: usize, e: &dyn std::fmt::Display| anyhow!("{name}: line {n}: {e}");

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
    for item in blocks_of(path)? {
        let (n, block) = item?;
        let h = block.header.height;
        if h != expected_height {
            bail!(at(
                n,
                &format!("expected the block at height {expected_height}, found height {h}")
            ));
        }
        expected_height += 1;
        let hash = block.hash();
        if let Some(p) = previous {
            if block.header.prev_hash != p {
                bail!(at(
                    n,
                    &format!("block {hash} does not build on the previous line's block {p}")
                ));
            }
        }
        previous = Some(hash);
        match &existing {
            Some(s) if dry.is_none() && s.header(&hash)?.is_some() => {
                let root = crate::consensus::merkle::merkle_root(&block.txids());
                if root != block.header.merkle_root {
                    let e = BlockError::BadMerkleRoot {
                        header: block.header.merkle_root,
                        computed: root,
                    };
                    bail!(at(n, &e));
                }
                known += 1;
            }
            Some(s) => {
                if dry.is_none() {
                    if h == 0 {
                        let e = BlockError::ForeignGenesis {
                            expected: s.genesis_hash(),
                            got: hash,
                        };
                        bail!(at(n, &e));
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
        bail!("{name} holds no blocks");
    }

    // Pass 2: write. A file that extends the tip goes in batches of whole
    // blocks, each one transaction; a competing branch goes block by block
    // through fork choice, which reorganises when the branch has more work.
    let store = match existing {
        Some(s) => s,
        None => Store::create(
            &ctx.data_dir,
            genesis.as_ref().expect("checked in pass 1"),
            now,
        )?,
    };
    let changed = |n: usize| format!("{name} changed while importing (near line {n})");
    let mut batch: Vec<Block> = Vec::new();
    let mut batch_bytes = 0usize;
    let (mut reorganized, mut disconnected) = (false, 0u64);
    for item in blocks_of(path)? {
        let (n, block) = item?;
        if store.header(&block.hash())?.is_some() {
            continue;
        }
        if !extends_tip {
            match store
                .accept_block(&block, now)
                .with_context(|| changed(n))?
            {
                Accepted::Reorganized {
                    disconnected: d, ..
                } => {
                    reorganized = true;
                    disconnected += d;
                }
                Accepted::Orphan => bail!(changed(n)),
                _ => {}
            }
            continue;
        }
        batch_bytes += block.encoded_len();
        batch.push(block);
        if batch.len() >= BATCH_BLOCKS || batch_bytes >= BATCH_BYTES {
            store
                .append_batch(&batch, now)
                .with_context(|| changed(n))?;
            batch.clear();
            batch_bytes = 0;
        }
    }
    if !batch.is_empty() {
        store
            .append_batch(&batch, now)
            .with_context(|| format!("{name} changed while importing"))?;
    }
    let state = store.state()?;
    if ctx.json {
        print_json(&json!({
            "imported": new_blocks,
            "already_present": known,
            "reorganized": reorganized,
            "disconnected": disconnected,
            "tip": { "height": state.height, "hash": state.tip },
        }));
    } else {
        let fork = if extends_tip || new_blocks == 0 {
            String::new()
        } else if reorganized {
            format!("; the imported branch has more work: switched to it, {disconnected} block(s) disconnected")
        } else {
            "; the imported branch has no more work than this chain, which stays active".into()
        };
        println!(
            "imported {new_blocks} block(s), {known} already present{fork}; tip at height {} {}",
            state.height, state.tip
        );
    }
    Ok(())
}
