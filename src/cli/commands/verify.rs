//! `sledger verify`: stream the chain and check every rule.

use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use crate::api::BlockRef;
use crate::cli::output::print_json;
use crate::cli::Ctx;
use crate::consensus::BlockHash;

/// Checks the ledger; with `expect_tip`, also that its active chain holds
/// that block (a tip published elsewhere), so that a chain re-mined after
/// the fact fails even though every block of it is valid.
pub fn run(ctx: &Ctx, expect_tip: Option<BlockHash>) -> Result<()> {
    // A full walk reads each page about once: a small cache keeps its
    // memory flat however long the chain (BENCHMARKS.md, "The store at scale").
    let ledger = ctx.ledger_with_cache(Some(crate::store::VERIFY_CACHE_BYTES))?;
    let bar = ctx.show_progress().then(|| {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template("verifying {bar:40} {pos}/{len} blocks")
                .expect("valid template"),
        );
        b.enable_steady_tick(Duration::from_millis(200));
        b
    });
    let result = ledger.verify(&mut |done, total| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let v = result?;
    if let (true, Some(pin)) = (v.valid, expect_tip) {
        let gone =
            "no such block (a chain re-mined or replaced after that tip was published fails here)";
        match ledger.block(BlockRef::Hash(pin)) {
            Ok(b) if b.active => {}
            Ok(b) => crate::fail!(
                "tip_mismatch",
                "the chain does not lead to the expected block {pin}: it is stored at height {} on a side branch, not on the active chain",
                b.block.height
            ),
            Err(
                crate::api::ApiError::Store(crate::store::StoreError::NoSuchBlock(_))
                | crate::api::ApiError::NotFound(_)
                | crate::api::ApiError::Node { status: 404, .. },
            ) => crate::fail!(
                "tip_mismatch",
                "the chain does not lead to the expected block {pin}: {gone}"
            ),
            Err(e) => return Err(e.into()),
        }
    }
    if ctx.json {
        print_json(&v);
    }
    if !v.valid {
        let reason = v.reason.unwrap_or_default();
        match v.height {
            Some(h) => crate::fail!(
                "verify_failed",
                "verification failed at height {h}: {reason}"
            ),
            None => crate::fail!("verify_failed", "verification failed: {reason}"),
        }
    }
    if !ctx.json {
        println!(
            "ok: {}, {}, {} pending; tip {}",
            crate::cli::output::count(v.block_count.unwrap_or(0), "block"),
            crate::cli::output::count(v.transaction_count.unwrap_or(0), "transaction"),
            v.pending_count.unwrap_or(0),
            v.tip.map(|t| t.hash.to_string()).unwrap_or_default()
        );
    }
    Ok(())
}
