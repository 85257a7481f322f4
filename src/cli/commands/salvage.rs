//! `sledger salvage --to NEW_DIR`: rebuilds what a damaged store still
//! holds into a new ledger ([`crate::store::salvage`]) and says exactly
//! what could not be recovered. The damaged store is only read.

use std::path::Path;

use anyhow::{bail, Result};
use serde_json::json;

use crate::cli::output::{count, print_json};
use crate::cli::Ctx;
use crate::store::salvage::{self, Report};

pub fn run(ctx: &Ctx, to: &Path) -> Result<()> {
    ctx.refuse_remote()?;
    let from = &ctx.data_dir;
    if !from.join(crate::store::STORE_DIR).is_dir() {
        bail!("no store to salvage at {}", from.display());
    }
    if let Some(h) = crate::store::lock_holder(from) {
        crate::fail!(
            "locked",
            "the ledger at {} is in use (pid {}); stop it first: salvage reads a store nothing writes",
            from.display(),
            h.pid
        );
    }
    if std::fs::read_dir(to).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "{} is not empty: salvage builds a new ledger in a new directory",
            to.display()
        );
    }
    if same_place(from, to) {
        bail!("--to must be another directory than the damaged ledger's");
    }
    let mut scratch = to.as_os_str().to_owned();
    scratch.push(format!(".salvage-{}", std::process::id()));
    let found = salvage::scavenge(from, Path::new(&scratch));
    let report = salvage::rebuild(found, to, crate::time::now_ms())?;
    if ctx.json {
        print_json(&report_json(&report, to));
    } else {
        print!("{}", report_text(&report, to));
    }
    Ok(())
}

fn same_place(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn report_json(r: &Report, to: &Path) -> serde_json::Value {
    let tip = |(height, hash): (u64, crate::consensus::BlockHash)| json!({"height": height, "hash": hash});
    json!({
        "to": to,
        "genesis": r.genesis,
        "tip": tip((r.height, r.tip)),
        "block_count": r.height + 1,
        "pending_count": r.pending,
        "recorded_tip": r.recorded_tip.map(tip),
        "found_count": r.found,
        "left_out": r.left_out.iter().map(|b| tip(*b)).collect::<Vec<_>>(),
        "refused": r.refused.as_ref().map(|(height, hash, reason)| json!({"height": height, "hash": hash, "reason": reason})),
        "pending_refused_count": r.pending_refused,
        "problems": r.problems,
    })
}

fn report_text(r: &Report, to: &Path) -> String {
    let mut out = format!(
        "rebuilt a ledger in {}: {} (heights 0 to {}), tip {}, {} pending\n",
        to.display(),
        count(r.height + 1, "block"),
        r.height,
        r.tip,
        count(r.pending, "entry").replace("entrys", "entries")
    );
    match r.recorded_tip {
        Some((h, hash)) if h == r.height && hash == r.tip => {
            out += "recovered the whole active chain the damaged store recorded\n"
        }
        Some((h, hash)) => {
            out += &format!(
                "the damaged store recorded its tip at height {h} ({hash}); {} of its chain could not be recovered\n",
                if h > r.height {
                    format!("heights {} to {h}", r.height + 1)
                } else {
                    "the tip".to_owned()
                }
            )
        }
        None => out += "the damaged store's own record of its tip could not be read\n",
    }
    out += &format!(
        "found {} in the damaged store\n",
        count(r.found, "distinct block")
    );
    if let Some((h, hash, why)) = &r.refused {
        out += &format!("stopped at block {h} {hash}: {why}\n");
    }
    if !r.left_out.is_empty() {
        let (lo, hi) = (r.left_out[0].0, r.left_out[r.left_out.len() - 1].0);
        out += &format!(
            "left out {} found but not on the rebuilt chain (heights {lo} to {hi}: a lighter branch, or their parent is lost)\n",
            count(r.left_out.len() as u64, "block")
        );
    }
    if r.pending_refused > 0 {
        out += &format!(
            "left out {} (already in the chain, or refused by its rules)\n",
            count(r.pending_refused, "pending entry").replace("entrys", "entries")
        );
    }
    for p in &r.problems {
        out += &format!("problem: {}\n", crate::cli::output::escape_text(p));
    }
    out
}
