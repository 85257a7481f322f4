//! A mining run against a store: build a template of the pending entries,
//! search it ([`Miner::mine`]), append what it seals, checkpoint a long
//! search every few seconds and when stopped, and resume a checkpointed
//! search on the next run. `sledger mine` runs it on the calling thread; a
//! node runs it on its miner thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::views::MineSummary;
use super::ApiError;
use crate::consensus::Block;
use crate::mining::{MineResult, Mined, Miner, Progress};
use crate::store::{Store, StoreError};
use crate::time::now_ms;

/// Default time between search checkpoints.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

/// How old a search must be before new entries restart it.
pub const RESTART_AFTER: Duration = Duration::from_millis(100);

/// When a run ends and when a search starts over.
pub struct Control<'a> {
    /// Ends the run (after checkpointing the search).
    pub stop: &'a AtomicBool,
    /// The flag the search polls: raised with `stop`, and by the run itself
    /// to restart on fresh entries. May be `stop` itself.
    pub restart: &'a AtomicBool,
    /// Raised (by a node's submit) when new entries wait: the search under
    /// way starts over on a template that has them, once it is
    /// [`RESTART_AFTER`] old, so that a stream of submissions costs at most
    /// a few template builds a second.
    pub new_entries: Option<&'a AtomicBool>,
    /// Held while a sealed block is appended (a node's import holds it too).
    pub append_lock: Option<&'a Mutex<()>>,
}

/// What the run tells its caller along the way.
pub struct Hooks<'a> {
    /// A line for the person watching (resumed or discarded checkpoints).
    pub note: &'a mut dyn FnMut(String),
    /// The search under way: its template and hashes a second (about
    /// every 20 ms).
    pub searching: &'a mut dyn FnMut(&Block, f64),
    /// Each block sealed and appended, and the nonce its search resumed from.
    pub mined: &'a mut OnSealed<'a>,
}

/// Called with each block sealed and appended, and the nonce its search
/// resumed from.
pub type OnSealed<'a> = dyn FnMut(&Mined, Option<u64>) -> Result<(), ApiError> + 'a;

/// Mines up to `count` blocks, or until `control.stop`.
pub fn mine_blocks(
    store: &Store,
    miner: &Miner,
    count: Option<u64>,
    checkpoint_every: Duration,
    control: Control<'_>,
    hooks: Hooks<'_>,
) -> Result<MineSummary, ApiError> {
    let stopped = || control.stop.load(Ordering::Relaxed);
    let mut resume = store.resume_template(now_ms())?;
    match &resume {
        Some((b, cp)) => (hooks.note)(format!(
            "resuming the search for block {} from its checkpoint: {} hashes already tried, continuing at nonce {}",
            b.header.height, cp.hashes, cp.tried_below
        )),
        None => {
            if store.checkpoint()?.is_some() {
                (hooks.note)(
                    "discarding a stale mining checkpoint (the tip or its entries changed)".into(),
                );
                store.clear_checkpoint()?;
            }
        }
    }
    let mut summary = MineSummary::default();
    while count.is_none_or(|c| summary.mined < c) && !stopped() {
        if let Some(f) = control.new_entries {
            // Cleared before the template is read: an entry arriving after
            // this raises it again.
            f.store(false, Ordering::SeqCst);
        }
        let (template, start, prior) = match resume.take() {
            Some((b, cp)) => (b, cp.tried_below, cp.hashes),
            None => (store.template(now_ms())?, 0, 0),
        };
        let resumed_from = (start > 0).then_some(start);
        let started = Instant::now();
        let mut last_save = Instant::now();
        let mut save_error: Option<StoreError> = None;
        let mut on_progress = |t: &Block, p: Progress| {
            let rate = p.hashes as f64 / started.elapsed().as_secs_f64().max(1e-3);
            (hooks.searching)(t, rate);
            if let Some(f) = control.new_entries {
                if started.elapsed() >= RESTART_AFTER && f.load(Ordering::SeqCst) {
                    control.restart.store(true, Ordering::SeqCst);
                }
            }
            if last_save.elapsed() >= checkpoint_every {
                last_save = Instant::now();
                if let Err(e) = store.save_checkpoint(t, p.tried_below, prior + p.hashes) {
                    // The store cannot be written (a full disk): stop.
                    save_error.get_or_insert(e);
                    control.stop.store(true, Ordering::SeqCst);
                    control.restart.store(true, Ordering::SeqCst);
                }
            }
        };
        let result = miner.mine(
            template,
            start,
            control.restart,
            || store.template(now_ms()),
            &mut on_progress,
        )?;
        if let Some(e) = save_error {
            return Err(e.into());
        }
        match result {
            MineResult::Mined(m) => {
                {
                    let _held = control.append_lock.map(|l| l.lock());
                    // Another writer (a node's import) may have moved the
                    // tip while this block was searched: it no longer fits.
                    if store.state()?.tip != m.block.header.prev_hash {
                        (hooks.note)(format!(
                            "discarding the block sealed at height {}: the tip moved while it was searched",
                            m.block.header.height
                        ));
                        continue;
                    }
                    store.append(&m.block, now_ms())?;
                }
                summary.mined += 1;
                summary.hashes += m.hashes;
                (hooks.mined)(&m, resumed_from)?;
            }
            MineResult::Stopped {
                template,
                tried_below,
            } => {
                if !stopped() {
                    // New entries: search a template that has them.
                    control.restart.store(false, Ordering::SeqCst);
                    continue;
                }
                let hashes = prior + tried_below.saturating_sub(start);
                store.save_checkpoint(&template, tried_below, hashes)?;
                summary.stopped_at = Some((template.header.height, tried_below));
                break;
            }
        }
    }
    summary.tip = store.state()?.height;
    Ok(summary)
}
