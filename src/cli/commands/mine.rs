//! `sledger mine`: seal pending transactions into blocks until `--blocks`
//! are mined or Ctrl-C / SIGTERM. A long search is checkpointed in the
//! store every few seconds and when stopped, and resumed by the next run.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::cli::args::MineArgs;
use crate::cli::{Ctx, STOP};
use crate::consensus::Block;
use crate::mining::{MineResult, Mined, Miner, Progress};
use crate::store::{Store, StoreError};
use crate::time::now_ms;

/// Default time between search checkpoints.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

/// What a mining run did.
#[derive(Debug, Default)]
pub struct Summary {
    pub mined: u64,
    pub hashes: u64,
    /// When stopped mid-search: the height searched and the checkpointed nonce.
    pub stopped_at: Option<(u64, u64)>,
}

/// Called for each block appended: the block, the nonce its search resumed
/// from (if it did), and the store.
pub type OnMined<'a> = dyn FnMut(&Mined, Option<u64>, &Store) -> Result<()> + 'a;

/// Mines up to `count` blocks (or until [`STOP`]), calling `each` for every
/// block appended.
pub fn mine_blocks(
    ctx: &Ctx,
    store: &Store,
    miner: &Miner,
    count: Option<u64>,
    checkpoint_every: Duration,
    each: &mut OnMined<'_>,
) -> Result<Summary> {
    crate::cli::stop_on_signal();
    let bar = ctx.show_progress().then(|| {
        let b = ProgressBar::new_spinner();
        b.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
        b.enable_steady_tick(Duration::from_millis(120));
        b
    });
    let note = |s: String| match &bar {
        Some(b) => b.suspend(|| eprintln!("{s}")),
        None => eprintln!("{s}"),
    };
    let mut resume = store.resume_template(now_ms())?;
    match &resume {
        Some((b, cp)) => note(format!(
            "resuming the search for block {} from its checkpoint: {} hashes already tried, continuing at nonce {}",
            b.header.height, cp.hashes, cp.tried_below
        )),
        None => {
            if store.checkpoint()?.is_some() {
                note("discarding a stale mining checkpoint (the tip or its entries changed)".into());
                store.clear_checkpoint()?;
            }
        }
    }
    let mut summary = Summary::default();
    while count.is_none_or(|c| summary.mined < c) && !STOP.load(Ordering::Relaxed) {
        let (template, start, prior) = match resume.take() {
            Some((b, cp)) => (b, cp.tried_below, cp.hashes),
            None => (store.template(now_ms())?, 0, 0),
        };
        let resumed_from = (start > 0).then_some(start);
        let (height, difficulty) = (template.header.height, template.header.difficulty);
        let started = Instant::now();
        let mut last_save = Instant::now();
        let mut save_error: Option<StoreError> = None;
        let mut on_progress = |t: &Block, p: Progress| {
            if let Some(b) = &bar {
                let rate = p.hashes as f64 / started.elapsed().as_secs_f64().max(1e-3);
                let expected = difficulty.work().log2().exp2() / rate.max(1.0);
                b.set_message(format!(
                    "mining block {height} · difficulty {difficulty} bits · {:.1} MH/s · expected {:.1} s per block",
                    rate / 1e6,
                    expected
                ));
            }
            if last_save.elapsed() >= checkpoint_every {
                last_save = Instant::now();
                if let Err(e) = store.save_checkpoint(t, p.tried_below, prior + p.hashes) {
                    // The store cannot be written (a full disk): stop.
                    save_error.get_or_insert(e);
                    STOP.store(true, Ordering::SeqCst);
                }
            }
        };
        let result = miner.mine(
            template,
            start,
            &STOP,
            || store.template(now_ms()),
            &mut on_progress,
        )?;
        if let Some(e) = save_error {
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            return Err(anyhow::Error::new(e).context("cannot save the mining checkpoint"));
        }
        match result {
            MineResult::Mined(m) => {
                store.append(&m.block, now_ms())?;
                summary.mined += 1;
                summary.hashes += m.hashes;
                match &bar {
                    Some(b) => b.suspend(|| each(&m, resumed_from, store))?,
                    None => each(&m, resumed_from, store)?,
                }
            }
            MineResult::Stopped {
                template,
                tried_below,
            } => {
                let hashes = prior + tried_below.saturating_sub(start);
                store.save_checkpoint(&template, tried_below, hashes)?;
                summary.stopped_at = Some((template.header.height, tried_below));
                break;
            }
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(summary)
}

pub fn mined_json(m: &Mined, resumed_from: Option<u64>) -> serde_json::Value {
    json!({
        "height": m.block.header.height,
        "hash": m.block.hash(),
        "transactions": m.block.txs.len(),
        "difficulty": m.block.header.difficulty.0,
        "nonce": m.block.header.nonce,
        "hashes": m.hashes,
        "seconds": m.elapsed.as_secs_f64(),
        "hashes_per_second": m.hashes_per_second(),
        "resumed_from_nonce": resumed_from,
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
    if !(a.checkpoint_every.is_finite() && a.checkpoint_every >= 0.01) {
        bail!("--checkpoint-every must be at least 0.01 seconds");
    }
    let store = ctx.open()?;
    let miner = a
        .threads
        .map_or_else(Miner::all_cores, |n| Miner::new(n.into()));
    let json = ctx.json;
    let started = Instant::now();
    let summary = mine_blocks(
        ctx,
        &store,
        &miner,
        a.blocks,
        Duration::from_secs_f64(a.checkpoint_every),
        &mut |m, resumed, _| {
            if json {
                crate::cli::output::print_json(&mined_json(m, resumed));
            } else {
                println!("{}", mined_text(m));
            }
            Ok(())
        },
    )?;
    if STOP.load(Ordering::Relaxed) {
        let tip = store.state()?.height;
        let search = match summary.stopped_at {
            Some((height, nonce)) => {
                format!("; the search for block {height} is checkpointed at nonce {nonce}")
            }
            None => String::new(),
        };
        eprintln!(
            "stopped after {} block(s) in {:.1} s; the tip is at height {tip}{search}",
            summary.mined,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
