//! `sledger demo`: the whole life of a ledger in a few seconds.

use anyhow::Result;
use serde_json::json;

use crate::api::local::LocalLedger;
use crate::api::{Ledger, MineRequest};
use crate::cli::checked::Init;
use crate::cli::commands::{init, mine};
use crate::cli::output::{self, print_json};
use crate::cli::{Ctx, DEFAULT_DIFFICULTY};

const SAMPLES: [(&str, &str); 3] = [
    (
        "alice",
        "Opened the ledger: every entry from here on is sealed by proof of work.",
    ),
    ("bob", "Paid alice 5 coffees for the sled tutorial."),
    (
        "carol",
        "Audit note: block hashes checked against the export.",
    ),
];
const DEMO_BLOCKS: u64 = 3;

pub fn run(ctx: &Ctx) -> Result<()> {
    let say = |s: String| {
        if !ctx.json {
            println!("{s}");
        }
    };
    let ledger: Box<dyn Ledger> = if let Some(l) = ctx.ledger_if_any()? {
        say(format!("using the ledger in {}", ctx.data_dir.display()));
        l
    } else {
        say(format!(
            "creating a ledger in {} (difficulty {DEFAULT_DIFFICULTY} bits)",
            ctx.data_dir.display()
        ));
        let store = init::create(ctx, &init::params_from(&Init::defaults())?, None)?;
        let version = store.schema_version()?;
        Box::new(LocalLedger::new(store, version))
    };
    let mut submitted = Vec::new();
    for (author, text) in SAMPLES {
        let id = ledger.submit(author, text.as_bytes().to_vec())?.txid;
        say(format!("submitted {id} by {author}"));
        submitted.push(id);
    }
    let req = MineRequest {
        blocks: Some(DEMO_BLOCKS),
        ..Default::default()
    };
    let mut blocks = Vec::new();
    mine::mine_with_progress(ctx, ledger.as_ref(), &req, &mut |m| {
        say(output::mined_text(m));
        let stored = ledger.block(crate::api::BlockRef::Height(m.height))?;
        if ctx.json {
            let mut v = serde_json::to_value(&stored).expect("plain data");
            v["mining"] = serde_json::to_value(m).expect("plain data");
            blocks.push(v);
        } else {
            print!("{}", output::block_text(&stored));
        }
        Ok(())
    })?;
    let report = ledger.verify(&mut |_, _| {})?;
    if !report.valid {
        anyhow::bail!("verification failed: {}", report.reason.unwrap_or_default());
    }
    let (n_blocks, n_txs) = (report.blocks.unwrap_or(0), report.transactions.unwrap_or(0));
    let tip = report.tip.map(|t| t.to_string()).unwrap_or_default();
    if ctx.json {
        print_json(&json!({
            "data_dir": ctx.data_dir,
            "submitted": submitted,
            "blocks": blocks,
            "verified": { "blocks": n_blocks, "transactions": n_txs, "tip": tip },
        }));
    } else {
        println!("verified: {n_blocks} blocks, {n_txs} transactions; tip {tip}");
        println!(
            "try: sledger status, sledger chain, sledger tx {}",
            submitted[0]
        );
    }
    Ok(())
}
