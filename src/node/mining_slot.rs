//! The node's background mining: a slot for at most one mining run
//! ([`crate::api::mining_run`]) at a time, on its own thread, started and
//! stopped by requests (or `--mine`). Each sealed block goes out on the
//! event stream; each submit restarts the search so that the next template
//! holds the new entry at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::{Event, Node};
use crate::api::mining_run::{self, Control, Settings};
use crate::api::views::{MineSummary, MiningView, SealedEvent, TemplateView};
use crate::api::{ApiError, MineHooks, MineRequest};

/// The mining run's state, behind one lock; `control` serialises starting and
/// stopping, so that a start never overlaps a run still stopping.
#[derive(Default)]
pub struct MiningSlot {
    state: Mutex<SlotState>,
    control: Mutex<()>,
}

#[derive(Default)]
struct SlotState {
    run: Option<Run>,
    /// The number of the last run started (0: none yet).
    last_id: u64,
    /// Blocks mined since the node started.
    mined: u64,
    searches: u64,
    template: Option<TemplateView>,
    last: Option<MineSummary>,
    last_error: Option<String>,
}

struct Run {
    id: u64,
    stop: Arc<AtomicBool>,
    restart: Arc<AtomicBool>,
    new_entries: Arc<AtomicBool>,
    threads: usize,
    blocks_left: Option<u64>,
    handle: Option<JoinHandle<()>>,
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each update of the state is one assignment, so a panic elsewhere
    // never leaves it half-changed.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl MiningSlot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        relock(&self.state)
    }

    /// What the node's mining is doing.
    pub fn view(&self) -> MiningView {
        view_of(&self.lock())
    }

    /// Tells the run under way, if any, that new entries wait (or the tip
    /// moved): its search starts over on a fresh template.
    pub fn new_entries(&self) {
        if let Some(run) = &self.lock().run {
            run.new_entries.store(true, Ordering::SeqCst);
        }
    }

    fn searching(&self, template: &crate::consensus::Block) {
        let v = TemplateView {
            height: template.header.height,
            transaction_count: template.txs.len(),
            merkle_root: template.header.merkle_root,
            timestamp: template.header.timestamp,
        };
        let mut st = self.lock();
        if st.template.as_ref() != Some(&v) {
            st.searches += 1;
            st.template = Some(v);
        }
    }

    /// Starts a run unless one is under way (then says so). Blocks while a
    /// run is stopping.
    pub fn start(&self, node: &Arc<Node>, req: &MineRequest) -> Result<MiningView, ApiError> {
        let settings = Settings::new(req)?;
        let _control = relock(&self.control);
        let mut st = self.lock();
        if st.run.is_some() {
            let mut v = view_of(&st);
            v.already_active = Some(true);
            return Ok(v);
        }
        st.last_id += 1;
        let mut run = Run {
            id: st.last_id,
            stop: Arc::new(AtomicBool::new(false)),
            restart: Arc::new(AtomicBool::new(false)),
            new_entries: Arc::new(AtomicBool::new(false)),
            threads: settings.miner.threads(),
            blocks_left: settings.blocks,
            handle: None,
        };
        run.handle = Some(spawn_run(node.clone(), &run, settings)?);
        st.run = Some(run);
        let v = view_of(&st);
        tracing::info!(run = v.run, threads = v.threads, "mining started");
        // Sent under the lock: events of one run go out in order.
        let _ = node.events.send(Event::Mining(v.clone()));
        Ok(v)
    }

    /// Stops the run under way, waits for it to checkpoint its search,
    /// and says how it ended. Blocks the calling thread.
    pub fn stop(&self) -> MiningView {
        let _control = relock(&self.control);
        let handle = {
            let mut st = self.lock();
            match st.run.as_mut() {
                Some(run) => {
                    run.stop.store(true, Ordering::SeqCst);
                    run.restart.store(true, Ordering::SeqCst);
                    run.handle.take()
                }
                None => None,
            }
        };
        // The run frees the slot itself as it ends (`finished`); `control`
        // keeps a new start out until then.
        if let Some(h) = handle {
            let _ = h.join();
        }
        self.view()
    }

    fn mined(&self, id: u64) {
        let mut st = self.lock();
        st.mined += 1;
        if let Some(run) = st.run.as_mut().filter(|r| r.id == id) {
            if let Some(left) = run.blocks_left.as_mut() {
                *left = left.saturating_sub(1);
            }
        }
    }

    /// Called by the run's thread as it ends: frees the slot and tells
    /// the followers.
    fn finished(&self, node: &Node, id: u64, result: Result<MineSummary, ApiError>) {
        let mut st = self.lock();
        match result {
            Ok(s) => {
                st.last = Some(s);
                st.last_error = None;
            }
            Err(e) => {
                tracing::error!("mining stopped: {e}");
                st.last = Some(MineSummary::default());
                st.last_error = Some(e.to_string());
            }
        }
        if st.run.as_ref().is_some_and(|r| r.id == id) {
            st.run = None;
        }
        tracing::info!(
            run = id,
            mined = st.last.as_ref().map_or(0, |l| l.mined),
            "mining stopped"
        );
        let v = view_of(&st);
        let _ = node.events.send(Event::Mining(v));
    }
}

/// Runs `run` on a thread of its own, which frees the slot as it ends.
fn spawn_run(n: Arc<Node>, run: &Run, settings: Settings) -> Result<JoinHandle<()>, ApiError> {
    let (id, stop, restart, new_entries) = (
        run.id,
        run.stop.clone(),
        run.restart.clone(),
        run.new_entries.clone(),
    );
    std::thread::Builder::new()
        .name("sledger-miner".into())
        .spawn(move || {
            // A panic ends the run like an error, so the slot is freed
            // and followers hear that it ended.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                mining_run::run(
                    &n.store,
                    &settings,
                    Control {
                        stop: &stop,
                        restart: &restart,
                        new_entries: Some(&new_entries),
                        append_lock: Some(&n.write_lock),
                    },
                    MineHooks {
                        note: &mut |line| tracing::info!("{line}"),
                        searching: &mut |t, _| n.mining.searching(t),
                        mined: &mut |block| {
                            tracing::info!(
                                height = block.height,
                                hash = %block.hash,
                                txs = block.transaction_count,
                                hashes = block.hashes,
                                seconds = block.seconds,
                                "sealed block"
                            );
                            n.mining.mined(id);
                            n.announce_block(&block.hash);
                            let block = block.clone();
                            let _ = n.events.send(Event::Block(SealedEvent { run: id, block }));
                            n.tip_moved(crate::node::tip_watch::Cause::Mined);
                            Ok(())
                        },
                    },
                )
            }))
            .unwrap_or_else(|_| {
                Err(ApiError::Internal(
                    "internal error: the miner thread panicked; this is a bug in sledger".into(),
                ))
            });
            n.mining.finished(&n, id, result);
        })
        .map_err(|e| ApiError::Internal(format!("cannot start the miner thread: {e}")))
}

fn view_of(st: &SlotState) -> MiningView {
    MiningView {
        active: st.run.is_some(),
        run: st.last_id,
        threads: st.run.as_ref().map_or(0, |r| r.threads),
        blocks_left: st.run.as_ref().and_then(|r| r.blocks_left),
        mined: st.mined,
        searches: st.searches,
        template: st.run.as_ref().and(st.template.clone()),
        already_active: None,
        last_run: st.last.clone(),
        last_error: st.last_error.clone(),
    }
}
