//! `sledger init`: choose the chain parameters and mine the genesis block.

use std::sync::atomic::Ordering;

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

/// Mines a genesis block for `params` and creates the ledger.
pub fn create(ctx: &Ctx, params: &ChainParams, threads: Option<u16>) -> Result<Store> {
    // Refuse before spending time on proof of work.
    if ctx.ledger_if_any()?.is_some() {
        bail!(StoreError::AlreadyExists(ctx.data_dir.clone()));
    }
    crate::cli::stop_on_signal();
    let miner = Miner::with_threads(threads.map(usize::from));
    let result = miner.mine(
        Block::genesis(params, now_ms()),
        0,
        &STOP,
        || Ok::<_, anyhow::Error>(Block::genesis(params, now_ms())),
        &mut |_, _| {},
    )?;
    let MineResult::Mined(mined) = result else {
        STOP.store(false, Ordering::SeqCst);
        bail!("interrupted before the genesis block was mined; nothing was created");
    };
    Ok(Store::create(&ctx.data_dir, &mined.block, now_ms())?)
}

pub fn run(ctx: &Ctx, a: &Init) -> Result<()> {
    let params = params_from(a)?;
    let store = create(ctx, &params, a.threads)?;
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
        println!(
            "difficulty {} bits, target {} ms per block, retarget every {} blocks{}",
            params.initial_difficulty,
            params.target_interval_ms,
            params.retarget_window,
            if params.fixed_difficulty {
                " (fixed)"
            } else {
                ""
            }
        );
    }
    Ok(())
}
