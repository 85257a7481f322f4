//! A mining run against a store: build a template of the pending entries,
//! search it ([`Miner::mine`]), append what it seals, checkpoint a long
//! search every few seconds and when stopped, and resume a checkpointed
//! search on the next run. `sledger mine` runs it on the calling thread
//! ([`super::local::LocalLedger`]); a node runs it in the background
//! ([`crate::node::mining_slot`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::views::{MineSummary, MinedView};
use super::{ApiError, MineHooks, MineRequest};
use crate::bounds::DEFAULT_CHECKPOINT_EVERY;
use crate::consensus::Block;
use crate::mining::{MineResult, Mined, Miner, Progress};
use crate::store::schema::MiningCheckpoint;
use crate::store::{Store, StoreError};
use crate::time::now_ms;

/// How old a search must be before new entries restart it.
pub const RESTART_AFTER: Duration = Duration::from_millis(100);

/// How often to poll for entries while waiting with nothing to seal.
const IDLE_POLL: Duration = Duration::from_millis(20);

/// What a miner does when there is nothing pending to seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyBlocks {
    /// Wait for an entry (the default): an idle chain does not grow.
    Wait,
    /// Seal an empty block once the tip is this old (wall clock against
    /// the tip's timestamp).
    Every(Duration),
    /// Seal empty blocks one after another.
    Continuous,
}

/// A checked [`MineRequest`]: the miner, how many blocks, how often to
/// checkpoint, whether to seal empty blocks.
#[derive(Debug, Clone)]
pub struct Settings {
    pub miner: Miner,
    /// Stop after this many blocks (`None`: until stopped).
    pub blocks: Option<u64>,
    pub checkpoint_every: Duration,
    pub empty: EmptyBlocks,
}

impl Settings {
    /// The run `req` asks for, once its bounds are checked.
    pub fn new(req: &MineRequest) -> Result<Settings, ApiError> {
        req.check()?;
        Ok(Settings {
            miner: Miner::with_threads(req.threads.map(usize::from)).using(
                req.miner_backend()
                    .unwrap_or_else(crate::mining::Backend::best),
            ),
            blocks: req.blocks,
            checkpoint_every: req
                .checkpoint_every
                .map_or(DEFAULT_CHECKPOINT_EVERY, Duration::from_secs_f64),
            empty: match (req.continuous, req.empty_blocks_every) {
                (true, _) => EmptyBlocks::Continuous,
                (false, Some(s)) => EmptyBlocks::Every(Duration::from_secs_f64(s)),
                (false, None) => EmptyBlocks::Wait,
            },
        })
    }
}

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

/// Mines up to `settings.blocks` blocks, or until `control.stop`.
pub fn run(
    store: &Store,
    settings: &Settings,
    control: Control<'_>,
    hooks: MineHooks<'_>,
) -> Result<MineSummary, ApiError> {
    let stopped = || control.stop.load(Ordering::Relaxed);
    let mut resume = resume_or_discard(store, &mut *hooks.note)?;
    let mut summary = MineSummary::default();
    while settings.blocks.is_none_or(|c| summary.mined < c) && !stopped() {
        if let Some(f) = control.new_entries {
            // Cleared before the template is read: an entry arriving after
            // this raises it again.
            f.store(false, Ordering::SeqCst);
        }
        let (template, start, prior) = match resume.take() {
            Some((b, cp)) => (b, cp.tried_below, cp.hashes),
            None => match worth_sealing(store, settings.empty, &control)? {
                Some(t) => (t, 0, 0),
                None if stopped() => break,
                None => {
                    // Nothing can arrive: this run owns the store.
                    summary.idle = true;
                    break;
                }
            },
        };
        let search = Search {
            store,
            settings,
            control: &control,
            start,
            prior,
        };
        match search.run(template, &mut *hooks.searching)? {
            MineResult::Mined(m) => {
                if !append_sealed(store, &m, &control, &mut *hooks.note)? {
                    continue;
                }
                summary.mined += 1;
                summary.hashes += m.hashes;
                let resumed_from = (start > 0).then_some(start);
                (hooks.mined)(&MinedView::new(&m, resumed_from))?;
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
    let state = store.state()?;
    summary.tip = Some(super::views::TipRef {
        height: state.height,
        hash: state.tip,
        timestamp: None,
    });
    Ok(summary)
}

/// The next template to search, once it is worth sealing: it holds an
/// entry, or `empty` allows an empty block now. Waits for one while entries
/// can arrive (a node's run); `None` when stopped, or when nothing is
/// pending and nothing can arrive (a run that owns the store).
fn worth_sealing(
    store: &Store,
    empty: EmptyBlocks,
    control: &Control<'_>,
) -> Result<Option<Block>, ApiError> {
    loop {
        if control.stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let template = store.template(now_ms())?;
        let due = match empty {
            EmptyBlocks::Continuous => return Ok(Some(template)),
            EmptyBlocks::Wait => None,
            EmptyBlocks::Every(d) => {
                let tip = store.state()?.tip;
                let tip_time = store.header(&tip)?.map_or(0, |h| h.timestamp);
                Some(tip_time.saturating_add(d.as_millis() as u64))
            }
        };
        if !template.txs.is_empty() || due.is_some_and(|t| now_ms() >= t) {
            return Ok(Some(template));
        }
        let Some(arrivals) = control.new_entries else {
            if due.is_none() {
                return Ok(None);
            }
            std::thread::sleep(IDLE_POLL);
            continue;
        };
        // Wait for an entry (a submit or a new tip raises the flag), the
        // empty block's time, or a stop.
        while !arrivals.swap(false, Ordering::SeqCst)
            && !control.stop.load(Ordering::Relaxed)
            && due.is_none_or(|t| now_ms() < t)
        {
            std::thread::sleep(IDLE_POLL);
        }
    }
}

/// The checkpointed search to resume, if it still fits the tip and the
/// pending entries; a stale checkpoint is cleared.
fn resume_or_discard(
    store: &Store,
    note: &mut dyn FnMut(String),
) -> Result<Option<(Block, MiningCheckpoint)>, ApiError> {
    let resume = store.resume_template(now_ms())?;
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
    Ok(resume)
}

/// One search of a template: from nonce `start`, `prior` hashes having
/// been tried before a checkpoint.
struct Search<'a> {
    store: &'a Store,
    settings: &'a Settings,
    control: &'a Control<'a>,
    start: u64,
    prior: u64,
}

impl Search<'_> {
    /// Searches `template` (refreshed as [`Miner::mine`] does), reporting
    /// progress, checkpointing every `checkpoint_every`, and restarting on
    /// new entries.
    fn run(
        &self,
        template: Block,
        searching: &mut dyn FnMut(&Block, f64),
    ) -> Result<MineResult, ApiError> {
        let (store, control) = (self.store, self.control);
        let started = Instant::now();
        let mut last_save = Instant::now();
        let mut save_error: Option<StoreError> = None;
        let mut on_progress = |t: &Block, p: Progress| {
            let rate = p.hashes as f64 / started.elapsed().as_secs_f64().max(1e-3);
            searching(t, rate);
            if let Some(f) = control.new_entries {
                if started.elapsed() >= RESTART_AFTER && f.load(Ordering::SeqCst) {
                    control.restart.store(true, Ordering::SeqCst);
                }
            }
            if last_save.elapsed() >= self.settings.checkpoint_every {
                last_save = Instant::now();
                let saved = store.save_checkpoint(t, p.tried_below, self.prior + p.hashes);
                if saved.is_ok() {
                    tracing::info!(
                        height = t.header.height,
                        nonce = p.tried_below,
                        hashes = self.prior + p.hashes,
                        "checkpointed the search"
                    );
                }
                if let Err(e) = saved {
                    // The store cannot be written (a full disk): stop.
                    save_error.get_or_insert(e);
                    control.stop.store(true, Ordering::SeqCst);
                    control.restart.store(true, Ordering::SeqCst);
                }
            }
        };
        let result = self.settings.miner.mine(
            template,
            self.start,
            control.restart,
            || store.template(now_ms()),
            &mut on_progress,
        )?;
        match save_error {
            Some(e) => Err(e.into()),
            None => Ok(result),
        }
    }
}

/// Appends a sealed block; `false` (and a note) when the tip moved while
/// it was searched, so that it no longer fits.
fn append_sealed(
    store: &Store,
    m: &Mined,
    control: &Control<'_>,
    note: &mut dyn FnMut(String),
) -> Result<bool, ApiError> {
    let _held = control.append_lock.map(|l| l.lock());
    // Another writer (a node's import) may have moved the tip while this
    // block was searched.
    if store.state()?.tip != m.block.header.prev_hash {
        note(format!(
            "discarding the block sealed at height {}: the tip moved while it was searched",
            m.block.header.height
        ));
        return Ok(false);
    }
    store.append(&m.block, now_ms())?;
    Ok(true)
}
