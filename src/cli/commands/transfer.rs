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
use crate::store::write::DryRun;
use crate::store::Store;
use crate::time::now_ms;

/// Blocks per import transaction, and their total size bound.
const BATCH_BLOCKS: usize = 512;
const BATCH_BYTES: usize = 16 << 20;

pub fn export(ctx: &Ctx, output: Option<&Path>) -> Result<()> {
    let store = ctx.open()?;
    let sink: Box<dyn Write> = match output {
        Some(p) => {
            Box::new(File::create(p).with_context(|| format!("cannot create {}", p.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::new(sink);
    let mut n = 0u64;
    for b in store.blocks_from(0) {
        writeln!(out, "{}", to_line(&b?.block)).context("cannot write the export")?;
        n += 1;
    }
    out.flush().context("cannot write the export")?;
    if let Some(p) = output {
        if ctx.json {
            print_json(&json!({ "blocks": n, "file": p }));
        } else {
            eprintln!("exported {n} blocks to {}", p.display());
        }
    }
    Ok(())
}

/// The blocks of an export file, one per non-empty line, with line numbers.
fn blocks_of(path: &Path) -> Result<impl Iterator<Item = Result<(usize, Block)>>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let name = path.display().to_string();
    Ok(BufReader::new(file)
        .lines()
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
    let known_tip = match &existing {
        Some(s) => Some(s.state()?.height),
        None => None,
    };
    let now = now_ms();
    let name = path.display().to_string();
    let at = |n: usize, e: &dyn std::fmt::Display| anyhow!("{name}: line {n}: {e}");

    // Pass 1: check every block; nothing is written.
    let mut genesis: Option<Block> = None;
    let mut dry: Option<DryRun<'_>> = None;
    let mut expected_height = 0u64;
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
        match (&existing, known_tip) {
            (Some(s), Some(tip)) if h <= tip => {
                let ours = s.hash_at(h)?;
                if ours != Some(block.hash()) {
                    if h == 0 {
                        let e = BlockError::ForeignGenesis {
                            expected: s.genesis_hash(),
                            got: block.hash(),
                        };
                        bail!(at(n, &e));
                    }
                    bail!(at(
                        n,
                        &format!(
                            "block {} conflicts with this ledger's block at height {h}; a ledger follows one chain",
                            block.hash()
                        )
                    ));
                }
                // Same header; the transactions must match it too.
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
            (Some(s), _) => {
                if dry.is_none() {
                    dry = Some(DryRun::on_store(s)?);
                }
                dry.as_mut()
                    .expect("set above")
                    .check(&block, now)
                    .map_err(|e| at(n, &e))?;
                new_blocks += 1;
            }
            (None, _) if h == 0 => {
                dry = Some(DryRun::on_genesis(&block, now).map_err(|e| at(n, &e))?);
                genesis = Some(block);
                new_blocks += 1;
            }
            (None, _) => {
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

    // Pass 2: write, in batches of whole blocks, each one transaction.
    let store = match existing {
        Some(s) => s,
        None => Store::create(
            &ctx.data_dir,
            genesis.as_ref().expect("checked in pass 1"),
            now,
        )?,
    };
    let skip_to = known_tip.unwrap_or(0);
    let mut batch: Vec<Block> = Vec::new();
    let mut batch_bytes = 0usize;
    for item in blocks_of(path)? {
        let (n, block) = item?;
        if block.header.height <= skip_to {
            continue;
        }
        batch_bytes += block.encoded_len();
        batch.push(block);
        if batch.len() >= BATCH_BLOCKS || batch_bytes >= BATCH_BYTES {
            store
                .append_batch(&batch, now)
                .with_context(|| format!("{name} changed while importing (near line {n})"))?;
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
            "tip": { "height": state.height, "hash": state.tip },
        }));
    } else {
        println!(
            "imported {new_blocks} block(s), {known} already present; tip at height {} {}",
            state.height, state.tip
        );
    }
    Ok(())
}
