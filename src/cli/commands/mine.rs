//! `sledger mine`: seal pending transactions into blocks until `--blocks`
//! are mined or Ctrl-C / SIGTERM. On the store, a long search is
//! checkpointed every few seconds and when stopped, and resumed by the
//! next run ([`crate::api::mining_run`]); through a node, the node mines and this
//! command prints the blocks it seals.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use crate::api::views::{MineSummary, MinedView};
use crate::api::{Ledger, MineHooks, MineRequest};
use crate::cli::output::{self, print_json};
use crate::cli::{Ctx, STOP};

/// Mines on `ledger` as `req` asks, with a spinner on a terminal, calling
/// `each` for every block sealed.
pub fn mine_with_progress(
    ctx: &Ctx,
    ledger: &dyn Ledger,
    req: &MineRequest,
    each: &mut dyn FnMut(&MinedView) -> Result<(), crate::api::ApiError>,
) -> Result<MineSummary> {
    crate::cli::stop_on_signal();
    let backend = match ledger.is_remote() {
        true => String::new(),
        false => req
            .miner_backend()
            .map_or(String::new(), |b| format!(" · {}", b.key())),
    };
    let bar = ctx.show_progress().then(|| {
        let b = ProgressBar::new_spinner();
        b.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
        b.enable_steady_tick(Duration::from_millis(120));
        if ledger.is_remote() {
            b.set_message("the node is mining");
        }
        b
    });
    let suspend = |f: &mut dyn FnMut()| match &bar {
        Some(b) => b.suspend(f),
        None => f(),
    };
    let summary = ledger.mine(
        req,
        &STOP,
        MineHooks {
            note: &mut |s| suspend(&mut || eprintln!("{s}")),
            searching: &mut |template, rate| {
                if let Some(b) = &bar {
                    let (height, difficulty) = (template.header.height, template.header.difficulty);
                    let expected = difficulty.work().log2().exp2() / rate.max(1.0);
                    b.set_message(format!(
                        "mining block {height} · difficulty {difficulty} bits · {:.1} MH/s{backend} · expected {:.1} s per block",
                        rate / 1e6,
                        expected
                    ));
                }
            },
            mined: &mut |m| {
                let mut r = Ok(());
                suspend(&mut || r = each(m));
                r
            },
        },
    );
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(summary?)
}

pub fn run(ctx: &Ctx, req: &MineRequest) -> Result<()> {
    let ledger = ctx.ledger()?;
    let json = ctx.json;
    let started = Instant::now();
    let summary = mine_with_progress(ctx, ledger.as_ref(), req, &mut |m| {
        if json {
            print_json(m);
        } else {
            println!("{}", output::mined_text(m));
        }
        Ok(())
    })?;
    if STOP.load(Ordering::Relaxed) {
        let search = match summary.stopped_at {
            Some((height, nonce)) => {
                format!("; the search for block {height} is checkpointed at nonce {nonce}")
            }
            None => String::new(),
        };
        return Err(crate::cli::Interrupted(format!(
            "stopped after {} in {:.1} s; the tip is at height {}{search}",
            crate::cli::output::count(summary.mined, "block"),
            started.elapsed().as_secs_f64(),
            summary.tip.map_or(0, |t| t.height)
        ))
        .into());
    }
    if summary.idle {
        return idle(&summary, req);
    }
    Ok(())
}

/// A run on the store itself that ran out of pending entries: nothing can
/// arrive while it holds the store. Success only if it mined what it was
/// asked (every entry, or `--blocks`).
fn idle(summary: &MineSummary, req: &MineRequest) -> Result<()> {
    let hint = "--continuous seals empty blocks, --empty-blocks-every paces them; a node (`sledger node --mine`) waits for entries";
    match req.blocks {
        Some(n) if summary.mined < n => crate::fail!(
            "nothing_pending",
            "mined {} of {}: nothing more is pending ({hint})",
            summary.mined,
            output::count(n, "block")
        ),
        None if summary.mined == 0 => {
            crate::fail!(
                "nothing_pending",
                "nothing to mine: no entry is pending ({hint})"
            )
        }
        _ => {
            eprintln!(
                "mined {}; nothing more is pending",
                output::count(summary.mined, "block")
            );
            Ok(())
        }
    }
}
