//! `sledger verify`: stream the chain and check every rule.

use std::time::Duration;

use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::cli::Ctx;
use crate::time::now_ms;

pub fn run(ctx: &Ctx) -> Result<()> {
    // A full walk reads each page about once: a small cache keeps its
    // memory flat however long the chain (BENCHMARKS.md, "The store at scale").
    let store = ctx.open_with_cache(Some(crate::store::VERIFY_CACHE_BYTES))?;
    let tip = store.state()?.height;
    let bar = ctx.show_progress().then(|| {
        let b = ProgressBar::new(tip + 1);
        b.set_style(
            ProgressStyle::with_template("verifying {bar:40} {pos}/{len} blocks")
                .expect("valid template"),
        );
        b.enable_steady_tick(Duration::from_millis(200));
        b
    });
    let result = store.verify(now_ms(), &mut |h| {
        if let Some(b) = &bar {
            b.set_position(h + 1);
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    match result {
        Ok(r) => {
            if ctx.json {
                crate::cli::output::print_json(&json!({
                    "valid": true,
                    "blocks": r.blocks,
                    "transactions": r.transactions,
                    "pending": r.pending,
                    "tip": r.tip,
                    "chain_work": r.chain_work.to_string(),
                }));
            } else {
                println!(
                    "ok: {} blocks, {} transactions, {} pending; tip {}",
                    r.blocks, r.transactions, r.pending, r.tip
                );
            }
            Ok(())
        }
        Err(f) => {
            if ctx.json {
                crate::cli::output::print_json(&json!({
                    "valid": false,
                    "height": f.height,
                    "reason": f.reason,
                }));
            }
            match f.height {
                Some(h) => bail!("verification failed at height {h}: {}", f.reason),
                None => bail!("verification failed: {}", f.reason),
            }
        }
    }
}
