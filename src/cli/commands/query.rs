//! Read-only commands: `block`, `chain`, `tx`, `txs`, `pending`, `status`.

use anyhow::{bail, Result};
use serde_json::json;

use crate::cli::args::{ChainArgs, PageArgs, TxsArgs};
use crate::cli::output::{self, print_json};
use crate::cli::Ctx;
use crate::consensus::{BlockHash, Txid};
use crate::store::fork::Tip;
use crate::store::{StoreError, TxStatus};
use crate::time::format_ms;

/// A block reference from the command line: a height or a hash.
pub enum BlockRef {
    Height(u64),
    Hash(BlockHash),
}

pub fn parse_block_ref(s: &str) -> Result<BlockRef> {
    if !s.is_empty() && s.len() < 64 && s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse() {
            Ok(h) => Ok(BlockRef::Height(h)),
            Err(_) => bail!("height {s} is out of range"),
        };
    }
    match s.parse() {
        Ok(h) => Ok(BlockRef::Hash(h)),
        Err(_) => {
            bail!("malformed block reference {s:?}: expected a height or a 64-digit hex hash")
        }
    }
}

pub fn block(ctx: &Ctx, reference: &str) -> Result<()> {
    let r = parse_block_ref(reference)?;
    let store = ctx.open()?;
    let b = match r {
        BlockRef::Height(h) => store.block_at(h)?,
        BlockRef::Hash(h) => store.block(&h)?.ok_or(StoreError::NoSuchBlock(h))?,
    };
    if ctx.json {
        print_json(&output::block_json(&b));
    } else {
        print!("{}", output::block_text(&b));
    }
    Ok(())
}

fn tips_json(tips: &[Tip]) -> serde_json::Value {
    json!(tips
        .iter()
        .map(|t| json!({
            "hash": t.hash,
            "height": t.record.height,
            "chain_work": t.record.chain_work.to_string(),
            "active": t.active,
        }))
        .collect::<Vec<_>>())
}

fn tip_line(t: &Tip) -> String {
    format!(
        "{:>8}  {}  work {} (2^{:.1}){}",
        t.record.height,
        t.hash,
        t.record.chain_work,
        t.record.chain_work.log2(),
        if t.active { "  active" } else { "" }
    )
}

pub fn chain(ctx: &Ctx, a: &ChainArgs) -> Result<()> {
    let store = ctx.open()?;
    if a.tips {
        let tips = store.tips()?;
        if ctx.json {
            print_json(&json!({ "tips": tips_json(&tips) }));
        } else {
            for t in &tips {
                println!("{}", tip_line(t));
            }
        }
        return Ok(());
    }
    let tip = store.state()?.height;
    let from = a.from.unwrap_or(tip);
    if from > tip {
        bail!(StoreError::NoSuchHeight { height: from, tip });
    }
    let to = (from + 1).saturating_sub(a.limit as u64);
    let mut rows = Vec::new();
    if a.limit > 0 {
        for item in store.headers_in(to, from, true) {
            let (hash, record) = item?;
            if ctx.json {
                rows.push(output::header_json(&hash, &record));
            } else {
                println!("{}", output::header_line(&hash, &record));
            }
        }
    }
    let next = (a.limit > 0 && to > 0).then(|| to - 1);
    if ctx.json {
        print_json(&json!({ "tip": tip, "blocks": rows, "next_from": next }));
    } else if let Some(n) = next {
        println!("(more: --from {n})");
    }
    Ok(())
}

pub fn tx(ctx: &Ctx, id: &str) -> Result<()> {
    let txid: Txid = id
        .parse()
        .map_err(|_| anyhow::anyhow!("malformed transaction id {id:?}: expected 64 hex digits"))?;
    let store = ctx.open()?;
    match store.find_tx(&txid)?.ok_or(StoreError::NoSuchTx(txid))? {
        TxStatus::Confirmed {
            tx,
            block,
            height,
            index,
        } => {
            if ctx.json {
                let mut v = output::tx_json(&tx);
                v["status"] = json!("confirmed");
                v["block"] = json!(block);
                v["height"] = json!(height);
                v["index"] = json!(index);
                print_json(&v);
            } else {
                print!("{}", output::tx_text(&tx));
                println!("  status    in block {height} {block}, position {index}");
            }
        }
        TxStatus::Pending { tx, seq } => {
            if ctx.json {
                let mut v = output::tx_json(&tx);
                v["status"] = json!("pending");
                v["seq"] = json!(seq);
                print_json(&v);
            } else {
                print!("{}", output::tx_text(&tx));
                println!("  status    pending (arrival #{seq})");
            }
        }
    }
    Ok(())
}

pub fn pending(ctx: &Ctx, a: &PageArgs) -> Result<()> {
    let store = ctx.open()?;
    let total = store.state()?.pending;
    let mut rows = Vec::new();
    let mut next = None;
    for (shown, item) in store.pending_from(a.from).enumerate() {
        let (seq, tx) = item?;
        if shown == a.limit {
            next = Some(seq);
            break;
        }
        if ctx.json {
            let mut v = output::tx_json(&tx);
            v["seq"] = json!(seq);
            rows.push(v);
        } else {
            println!(
                "#{seq:<6} {} {} {} {}",
                tx.txid(),
                format_ms(tx.timestamp()),
                tx.author(),
                output::preview(tx.data(), 40)
            );
        }
    }
    if ctx.json {
        print_json(&json!({ "total": total, "transactions": rows, "next_from": next }));
    } else {
        if let Some(n) = next {
            println!("(more: --from {n})");
        }
        println!("{total} pending transaction(s)");
    }
    Ok(())
}

pub fn status(ctx: &Ctx) -> Result<()> {
    let store = ctx.open()?;
    let s = store.state()?;
    let (_, tip) = store.header_at(s.height)?;
    let next = store.parent_info(&s)?.next_difficulty;
    let p = store.params();
    let disk = store.size_on_disk()?;
    let tips = store.tips()?;
    if ctx.json {
        print_json(&json!({
            "data_dir": store.data_dir(),
            "name": p.name,
            "genesis": store.genesis_hash(),
            "tip": { "height": s.height, "hash": s.tip, "timestamp": tip.timestamp },
            "chain_work": s.chain_work.to_string(),
            "next_difficulty": next.0,
            "blocks": s.height + 1,
            "transactions": s.chain_txs,
            "pending": s.pending,
            "disk_bytes": disk,
            "tips": tips_json(&tips),
            "orphans": store.orphan_count()?,
            "params": super::init::params_json(p),
        }));
    } else {
        println!("ledger      {:?} in {}", p.name, store.data_dir().display());
        println!("genesis     {}", store.genesis_hash());
        println!(
            "tip         height {} {} ({})",
            s.height,
            s.tip,
            format_ms(tip.timestamp)
        );
        println!(
            "chain work  {} (about 2^{:.1} hashes)",
            s.chain_work,
            s.chain_work.log2()
        );
        println!("difficulty  {} bits for the next block", next);
        println!(
            "contents    {} blocks, {} transactions, {} pending",
            s.height + 1,
            s.chain_txs,
            s.pending
        );
        println!(
            "rules       target {} ms per block, retarget every {} blocks{}",
            p.target_interval_ms,
            p.retarget_window,
            if p.fixed_difficulty {
                " (fixed difficulty)"
            } else {
                ""
            }
        );
        println!("disk        {:.1} MiB", disk as f64 / (1024.0 * 1024.0));
        println!(
            "tips        {} known (the chain with the most work is active)",
            tips.len()
        );
        for t in &tips {
            println!("  {}", tip_line(t));
        }
    }
    Ok(())
}

/// Parses a `HEIGHT.INDEX` position.
fn parse_position(s: &str) -> Result<(u64, u32)> {
    let parsed = s
        .split_once('.')
        .and_then(|(h, i)| Some((h.parse().ok()?, i.parse().ok()?)));
    parsed.ok_or_else(|| {
        anyhow::anyhow!("malformed position {s:?}: expected HEIGHT.INDEX, e.g. 12.0")
    })
}

pub fn txs(ctx: &Ctx, a: &TxsArgs) -> Result<()> {
    let from = match &a.from {
        Some(s) => parse_position(s)?,
        None => (0, 0),
    };
    let store = ctx.open()?;
    let mut rows = Vec::new();
    let mut next = None;
    for (shown, item) in store.txs_by_author(&a.author, from).enumerate() {
        let (height, index, txid) = item?;
        if shown == a.limit {
            next = Some(format!("{height}.{index}"));
            break;
        }
        let Some(TxStatus::Confirmed { tx, block, .. }) = store.find_tx(&txid)? else {
            bail!(StoreError::Corrupt(format!(
                "the author index names {txid}, which is not in the chain"
            )));
        };
        if ctx.json {
            let mut v = output::tx_json(&tx);
            v["height"] = json!(height);
            v["index"] = json!(index);
            v["block"] = json!(block);
            rows.push(v);
        } else {
            println!(
                "{height:>8}.{index:<4} {txid} {} {}",
                format_ms(tx.timestamp()),
                output::preview(tx.data(), 40)
            );
        }
    }
    if ctx.json {
        print_json(&json!({ "author": a.author, "transactions": rows, "next_from": next }));
    } else if let Some(n) = next {
        println!("(more: --from {n})");
    }
    Ok(())
}
