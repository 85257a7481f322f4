//! `sledger demo`: the whole life of a ledger in a few seconds.

use anyhow::Result;
use serde_json::json;

use crate::cli::args::InitArgs;
use crate::cli::commands::{init, mine};
use crate::cli::output::{self, print_json};
use crate::cli::{Ctx, DEFAULT_DIFFICULTY};
use crate::consensus::Transaction;
use crate::mining::Miner;
use crate::time::now_ms;

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
    let store = if let Some(s) = ctx.open_if_any()? {
        say(format!("using the ledger in {}", ctx.data_dir.display()));
        s
    } else {
        say(format!(
            "creating a ledger in {} (difficulty {DEFAULT_DIFFICULTY} bits)",
            ctx.data_dir.display()
        ));
        let args = InitArgs {
            name: "sledger".into(),
            difficulty: DEFAULT_DIFFICULTY,
            block_interval: 1.0,
            retarget_window: 60,
            fixed_difficulty: false,
            threads: None,
        };
        init::create(ctx, &init::params_from(&args)?, None)?
    };
    let mut submitted = Vec::new();
    for (author, text) in SAMPLES {
        let tx = Transaction::new(author, now_ms(), text.as_bytes().to_vec())?;
        let id = store.submit(&tx)?;
        say(format!("submitted {id} by {author}"));
        submitted.push(id);
    }
    let miner = Miner::all_cores();
    let mut blocks = Vec::new();
    mine::mine_blocks(
        ctx,
        &store,
        &miner,
        Some(DEMO_BLOCKS),
        mine::CHECKPOINT_EVERY,
        &mut |m, resumed, s| {
            say(mine::mined_text(m));
            let stored = s.block_at(m.block.header.height)?;
            if ctx.json {
                let mut v = output::block_json(&stored);
                v["mining"] = mine::mined_json(m, resumed);
                blocks.push(v);
            } else {
                print!("{}", output::block_text(&stored));
            }
            Ok(())
        },
    )?;
    let report = store.verify(now_ms(), &mut |_| {});
    let report = report.map_err(|f| anyhow::anyhow!("verification failed: {f}"))?;
    if ctx.json {
        print_json(&json!({
            "data_dir": ctx.data_dir,
            "submitted": submitted,
            "blocks": blocks,
            "verified": { "blocks": report.blocks, "transactions": report.transactions, "tip": report.tip },
        }));
    } else {
        println!(
            "verified: {} blocks, {} transactions; tip {}",
            report.blocks, report.transactions, report.tip
        );
        println!(
            "try: sledger status, sledger chain, sledger tx {}",
            submitted[0]
        );
    }
    Ok(())
}
