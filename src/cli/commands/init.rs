//! `sledger init`: choose the chain parameters and mine the genesis block.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::cli::checked::Init;
use crate::cli::output::escape_text;
use crate::cli::{Ctx, STOP};
use crate::consensus::{Block, ChainParams, Difficulty};
use crate::mining::{MineResult, Miner};
use crate::store::{Store, StoreError};
use crate::time::now_ms;

/// The chain parameters `a` asks for, with a fresh random salt, checked
/// against the consensus rules.
pub fn params_from(a: &Init) -> Result<ChainParams> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).context("cannot get random bytes for the genesis salt")?;
    let params = params_with_salt(a, salt);
    params.validate()?;
    Ok(params)
}

/// The chain parameters `a` asks for, with `salt`.
pub fn params_with_salt(a: &Init, salt: [u8; 16]) -> ChainParams {
    ChainParams {
        name: a.name.clone(),
        initial_difficulty: Difficulty(a.difficulty),
        target_interval_ms: a.target_interval_ms,
        retarget_window: a.retarget_window,
        fixed_difficulty: a.fixed_difficulty,
        signatures: a.signatures,
        salt,
    }
}

/// The longest expected time for mining a genesis block that `init`
/// accepts without `--force`.
pub const GENESIS_TIME_LIMIT: Duration = Duration::from_secs(3600);

/// How long `init` measures this machine's hash rate before it judges the
/// expected time.
const MEASURE_FOR: Duration = Duration::from_millis(300);

/// Expected times above this are said on stderr before the search goes on.
const SAY_ESTIMATE_ABOVE: Duration = Duration::from_secs(5);

/// Mines a genesis block for `params` and creates the ledger. After a
/// short measurement of the hash rate, a search expected to take longer
/// than [`GENESIS_TIME_LIMIT`] is refused unless `force`; a long one says
/// its expected time, and shows progress on a terminal.
pub fn create(ctx: &Ctx, params: &ChainParams, threads: Option<u16>, force: bool) -> Result<Store> {
    // Refuse before spending time on proof of work.
    ctx.refuse_remote()?;
    if ctx.ledger_if_any()?.is_some() {
        bail!(StoreError::AlreadyExists(ctx.data_dir.clone()));
    }
    crate::cli::stop_on_signal();
    let miner = Miner::with_threads(threads.map(usize::from));
    let expected_hashes = params.initial_difficulty.work().log2().exp2();
    let bar = ctx.show_progress().then(|| {
        let b = ProgressBar::new_spinner();
        b.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
        b.enable_steady_tick(Duration::from_millis(120));
        b
    });
    let started = Instant::now();
    let mut judged = false;
    let mut too_long: Option<(f64, f64)> = None;
    let result = miner.mine(
        Block::genesis(params, now_ms()),
        0,
        &STOP,
        || Ok::<_, anyhow::Error>(Block::genesis(params, now_ms())),
        &mut |_, p| {
            let elapsed = started.elapsed();
            let rate = p.hashes as f64 / elapsed.as_secs_f64().max(1e-3);
            let expected = expected_hashes / rate.max(1.0);
            if let Some(b) = &bar {
                b.set_message(format!(
                    "mining the genesis block · difficulty {} bits · {:.1} MH/s · expected {} · {} elapsed",
                    params.initial_difficulty,
                    rate / 1e6,
                    human_seconds(expected),
                    human_seconds(elapsed.as_secs_f64()),
                ));
            }
            if judged || elapsed < MEASURE_FOR {
                return;
            }
            judged = true;
            if expected > GENESIS_TIME_LIMIT.as_secs_f64() && !force {
                too_long = Some((expected, rate));
                STOP.store(true, Ordering::SeqCst);
            } else if expected > SAY_ESTIMATE_ABOVE.as_secs_f64() {
                let line = format!(
                    "mining the genesis block at difficulty {} bits: about 2^{:.0} hashes, expected {} at this machine's {:.1} MH/s",
                    params.initial_difficulty,
                    expected_hashes.log2(),
                    human_seconds(expected),
                    rate / 1e6
                );
                match &bar {
                    Some(b) => b.suspend(|| eprintln!("{line}")),
                    None => eprintln!("{line}"),
                }
            }
        },
    )?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some((expected, rate)) = too_long {
        STOP.store(false, Ordering::SeqCst);
        bail!(
            "difficulty {} bits needs about 2^{:.0} hashes for the genesis block: at this machine's {:.1} MH/s that is expected to take {} (the limit without --force is {}); choose a lower --difficulty, or pass --force; nothing was created",
            params.initial_difficulty,
            expected_hashes.log2(),
            rate / 1e6,
            human_seconds(expected),
            human_seconds(GENESIS_TIME_LIMIT.as_secs_f64())
        );
    }
    let MineResult::Mined(mined) = result else {
        STOP.store(false, Ordering::SeqCst);
        return Err(crate::cli::Interrupted(
            "interrupted before the genesis block was mined; nothing was created".into(),
        )
        .into());
    };
    Ok(Store::create(&ctx.data_dir, &mined.block, now_ms())?)
}

/// A duration for people: "0.4 s", "12 min", "3.1 hours", "4.5e3 years".
pub fn human_seconds(s: f64) -> String {
    const YEAR: f64 = 365.25 * 86_400.0;
    match s {
        s if s < 60.0 => format!("{s:.1} s"),
        s if s < 3_600.0 => format!("{:.0} min", s / 60.0),
        s if s < 86_400.0 => format!("{:.1} hours", s / 3_600.0),
        s if s < YEAR => format!("{:.1} days", s / 86_400.0),
        s if s < 1e6 * YEAR => format!("{:.0} years", s / YEAR),
        s => format!("{:.1e} years", s / YEAR),
    }
}

pub fn run(ctx: &Ctx, a: &Init) -> Result<()> {
    let params = params_from(a)?;
    let store = create(ctx, &params, a.threads, a.force)?;
    let genesis = store.genesis_hash();
    if ctx.json {
        crate::cli::output::print_json(&json!({
            "data_dir": ctx.data_dir,
            "genesis": genesis,
            "params": crate::api::views::ParamsView::new(&params),
        }));
    } else {
        println!(
            "created ledger \"{}\" in {}",
            escape_text(&params.name),
            escape_text(&ctx.data_dir.display().to_string())
        );
        println!("genesis {genesis}");
        if params.fixed_difficulty {
            println!(
                "fixed difficulty {} bits (no target time between blocks: the pace is the hash rate's)",
                params.initial_difficulty
            );
        } else {
            println!(
                "difficulty {} bits, target {} ms per block, retarget every {} blocks",
                params.initial_difficulty, params.target_interval_ms, params.retarget_window
            );
        }
    }
    Ok(())
}
