//! `sledger bench`: mining speed, as ratios to a reference measured in the
//! same run. Needs no ledger.

use std::time::Duration;

use anyhow::{bail, Result};
use serde_json::json;

use crate::bench;
use crate::cli::Ctx;

pub fn run(ctx: &Ctx, seconds: f64) -> Result<()> {
    if !(0.05..=600.0).contains(&seconds) {
        bail!("--seconds must be between 0.05 and 600");
    }
    let per_run = Duration::from_secs_f64(seconds);
    if !ctx.json {
        eprintln!("measuring {} s each ...", seconds);
    }
    let rates = bench::mining(per_run);
    let reference = rates[0].per_second;
    let one_thread = rates[2].per_second;
    if ctx.json {
        let rows: Vec<_> = rates
            .iter()
            .map(|r| {
                json!({
                    "name": r.name, "threads": r.threads, "hashes": r.hashes,
                    "seconds": r.seconds, "per_second": r.per_second,
                    "vs_reference": r.per_second / reference,
                })
            })
            .collect();
        crate::cli::output::print_json(&json!({ "rates": rows }));
        return Ok(());
    }
    println!(
        "{:<58} {:>7} {:>12} {:>8} {:>9}",
        "what", "threads", "Mhash/s", "vs ref", "vs 1 thr"
    );
    for r in &rates {
        println!(
            "{:<58} {:>7} {:>12.2} {:>7.2}x {:>8.2}x",
            r.name,
            r.threads,
            r.per_second / 1e6,
            r.per_second / reference,
            r.per_second / one_thread
        );
    }
    Ok(())
}
