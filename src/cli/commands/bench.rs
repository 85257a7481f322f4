//! `sledger bench`: mining speed (the default) and `bench store`, each as
//! ratios to a reference measured in the same run. Needs no ledger.

use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use crate::bench;
use crate::cli::checked::Bench;
use crate::cli::output::print_json;
use crate::cli::Ctx;

pub fn run(ctx: &Ctx, b: Bench) -> Result<()> {
    match b {
        Bench::Mining { seconds } => mining(ctx, seconds),
        Bench::Store { sizes, dir, keep } => store(ctx, &sizes, dir.as_deref(), keep),
        Bench::RawScan { path, cache_bytes } => {
            let db = sled::Config::new()
                .path(&path)
                .cache_capacity(cache_bytes)
                .open()
                .with_context(|| format!("cannot open {}", path.display()))?;
            let (mut n, mut bytes) = (0u64, 0u64);
            for e in db.iter() {
                let (k, v) = e?;
                n += 1;
                bytes += (k.len() + v.len()) as u64;
            }
            println!("{n} entries, {bytes} bytes");
            Ok(())
        }
        Bench::RawGet { path, key } => {
            let db = bench::store::open_raw(&path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            let v = db.get(key)?.context("no such key")?;
            println!("{} bytes", v.len());
            Ok(())
        }
    }
}

fn mining(ctx: &Ctx, seconds: f64) -> Result<()> {
    let per_run = Duration::from_secs_f64(seconds);
    if !ctx.json {
        eprintln!("measuring {seconds} s each ...");
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
        print_json(&json!({ "rates": rows }));
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
    if let Some((cycles, ghz)) = bench::cycles_per_nonce(per_run) {
        println!(
            "{} on one thread: {cycles:.1} time-stamp-counter cycles per nonce (counter at {ghz:.2} GHz); a full SHA-NI compression is 32 sha256rnds2, 29 from round 6",
            crate::mining::Backend::best().name()
        );
    }
    Ok(())
}

fn store(ctx: &Ctx, sizes: &[u64], dir: Option<&std::path::Path>, keep: bool) -> Result<()> {
    let work = dir
        .map(|d| d.to_path_buf())
        .unwrap_or_else(bench::store::default_dir);
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let exe = std::env::current_exe().context("cannot find the sledger binary")?;
    let json_out = ctx.json;
    let say = |s: &str| {
        if !json_out {
            eprintln!("{s}");
        }
    };
    let mut reports = Vec::new();
    for &n in sizes {
        let r = bench::store::measure(n, &work, &exe, &say)?;
        if !json_out {
            print_report(&r);
        }
        reports.push(r);
    }
    if !keep {
        let _ = std::fs::remove_dir_all(&work);
    }
    if json_out {
        print_json(&json!({ "store": reports }));
    }
    Ok(())
}

fn print_report(r: &bench::store::StoreReport) {
    println!(
        "== {} blocks ({:.1} MB of blocks)",
        r.blocks,
        r.block_bytes as f64 / 1e6
    );
    println!(
        "import (checks included)   {:>10.0} blocks/s {:>7.2} MB/s   raw sled batches {:>10.0} blocks/s   ratio {:.2}",
        r.import_blocks_per_second, r.import_mb_per_second, r.raw_blocks_per_second, r.import_vs_raw
    );
    println!(
        "lookup by height           p50 {:>7.1} us  p99 {:>7.1} us   raw get p50 {:>6.1} us  p99 {:>6.1} us   p99 ratio {:.2}",
        r.by_height_p50_us,
        r.by_height_p99_us,
        r.raw_get_p50_us,
        r.raw_get_p99_us,
        r.by_height_p99_us / r.raw_get_p99_us.max(1e-9)
    );
    println!(
        "lookup by hash             p50 {:>7.1} us  p99 {:>7.1} us   p99 ratio {:.2}",
        r.by_hash_p50_us,
        r.by_hash_p99_us,
        r.by_hash_p99_us / r.raw_get_p99_us.max(1e-9)
    );
    println!(
        "header walk (newest 10k)   {:>7.2} us/header",
        r.header_walk_us
    );
    println!(
        "one-shot `block <hash>`    {:>7.1} ms   raw open + get {:>7.1} ms   ratio {:.2}",
        r.cli_query_ms,
        r.raw_open_get_ms,
        r.cli_query_ms / r.raw_open_get_ms.max(1e-9)
    );
    println!(
        "verify                     {:>7.1} s {:>10.0} blocks/s   peak RSS {} KB",
        r.verify_seconds, r.verify_blocks_per_second, r.verify_peak_rss_kb
    );
    println!(
        "disk                       {:>7.0} bytes/block (raw sled {:.0}; the blocks themselves {:.0})",
        r.disk_bytes_per_block,
        r.raw_disk_bytes_per_block,
        r.block_bytes as f64 / (r.blocks as f64 + 1.0)
    );
}
