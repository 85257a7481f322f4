//! `sledger mine`: seal pending transactions into blocks until `--blocks`
//! are mined or Ctrl-C.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::cli::args::MineArgs;
use crate::cli::{Ctx, STOP};
use crate::mining::{Mined, Miner};
use crate::store::Store;
use crate::time::now_ms;

/// Mines up to `count` blocks (or until [`STOP`]), calling `each` for every
/// block appended. Returns the blocks mined.
pub fn mine_blocks(
    ctx: &Ctx,
    store: &Store,
    miner: &Miner,
    count: Option<u64>,
    each: &mut dyn FnMut(&Mined, &Store) -> Result<()>,
) -> Result<u64> {
    crate::cli::stop_on_signal();
    let bar = ctx.show_progress().then(|| {
        let b = ProgressBar::new_spinner();
        b.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
        b.enable_steady_tick(Duration::from_millis(120));
        b
    });
    let mut mined = 0u64;
    while count.is_none_or(|c| mined < c) && !STOP.load(Ordering::Relaxed) {
        let template = store.template(now_ms())?;
        let (height, difficulty) = (template.header.height, template.header.difficulty);
        let started = Instant::now();
        let mut show = |hashes: u64| {
            if let Some(b) = &bar {
                let secs = started.elapsed().as_secs_f64().max(1e-3);
                let rate = hashes as f64 / secs;
                let expected = difficulty.work().log2().exp2() / rate.max(1.0);
                b.set_message(format!(
                    "mining block {height} · difficulty {difficulty} bits · {:.1} MH/s · expected {:.1} s per block",
                    rate / 1e6,
                    expected
                ));
            }
        };
        let result = miner.mine(template, &STOP, || store.template(now_ms()), &mut show)?;
        let Some(m) = result else { break };
        store.append(&m.block, now_ms())?;
        mined += 1;
        if let Some(b) = &bar {
            b.suspend(|| each(&m, store))?;
        } else {
            each(&m, store)?;
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(mined)
}

pub fn mined_json(m: &Mined) -> serde_json::Value {
    json!({
        "height": m.block.header.height,
        "hash": m.block.hash(),
        "transactions": m.block.txs.len(),
        "difficulty": m.block.header.difficulty.0,
        "hashes": m.hashes,
        "seconds": m.elapsed.as_secs_f64(),
        "hashes_per_second": m.hashes_per_second(),
    })
}

pub fn mined_text(m: &Mined) -> String {
    format!(
        "mined block {} {} ({} tx, difficulty {}, {} hashes in {:.2} s, {:.1} MH/s)",
        m.block.header.height,
        m.block.hash(),
        m.block.txs.len(),
        m.block.header.difficulty,
        m.hashes,
        m.elapsed.as_secs_f64(),
        m.hashes_per_second() / 1e6
    )
}

pub fn run(ctx: &Ctx, a: &MineArgs) -> Result<()> {
    let store = ctx.open()?;
    let miner = a.threads.map_or_else(Miner::all_cores, Miner::new);
    let json = ctx.json;
    let n = mine_blocks(ctx, &store, &miner, a.blocks, &mut |m, _| {
        if json {
            crate::cli::output::print_json(&mined_json(m));
        } else {
            println!("{}", mined_text(m));
        }
        Ok(())
    })?;
    if STOP.load(Ordering::Relaxed) && !json {
        eprintln!(
            "stopped after {n} block(s); the tip is at height {}",
            store.state()?.height
        );
    }
    Ok(())
}
