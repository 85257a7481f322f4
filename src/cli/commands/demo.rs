//! `sledger demo`: the whole life of a ledger in a few seconds.

use anyhow::Result;
use serde_json::json;

use crate::api::local::LocalLedger;
use crate::api::{Ledger, MineRequest};
use crate::cli::checked::Init;
use crate::cli::commands::{init, mine};
use crate::cli::output::{self, print_json};
use crate::cli::{Ctx, DEFAULT_DIFFICULTY};
use crate::consensus::signature::public_key;
use crate::consensus::Transaction;
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

/// A demo author's secret key: SHA-256 of a fixed phrase and the name,
/// so every demo ledger binds the sample names to the same keys. Anyone
/// can derive these: they show how signing works, and protect nothing.
fn demo_secret(author: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(format!("sledger demo key: {author}")).into()
}

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
        let store = init::create(ctx, &init::params_from(&Init::defaults())?, None, false)?;
        let version = store.schema_version()?;
        Box::new(LocalLedger::new(store, version))
    };
    let genesis = ledger.status()?.genesis;
    say(
        "demo keys for alice, bob and carol: derived in memory, never stored \
         (make your own with: sledger key new NAME)"
            .into(),
    );
    // Each sample in a block of its own, so that the chain shows its links.
    let mut submitted = Vec::new();
    let mut blocks = Vec::new();
    for (author, text) in SAMPLES {
        let secret = demo_secret(author);
        let tx = Transaction::sign(
            author,
            now_ms(),
            text.as_bytes().to_vec(),
            &genesis,
            &secret,
        )?;
        let id = ledger.submit_signed(&tx)?.txid;
        let key = public_key(&secret).fingerprint();
        say(format!("submitted {id} by {author}, signed by key {key}"));
        submitted.push(id);
        let req = MineRequest {
            blocks: Some(1),
            ..Default::default()
        };
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
    }
    // A forgery, now that the chain binds alice's name to alice's key:
    // mallory writes as alice, unsigned and then with her own key.
    let forged = Transaction::sign(
        "alice",
        now_ms(),
        b"alice owes mallory 100 coffees".to_vec(),
        &genesis,
        &demo_secret("mallory"),
    )?;
    let mut refused = Vec::new();
    for attempt in [
        ledger.submit("alice", b"alice owes mallory 100 coffees".to_vec()),
        ledger.submit_signed(&forged),
    ] {
        match attempt {
            Ok(v) => anyhow::bail!("the forgery {} was accepted", v.txid),
            Err(e) => {
                say(format!("refused a forgery by mallory: {e}"));
                refused.push(e.to_string());
            }
        }
    }
    let report = ledger.verify(&mut |_, _| {})?;
    if !report.valid {
        anyhow::bail!("verification failed: {}", report.reason.unwrap_or_default());
    }
    let (n_blocks, n_txs) = (
        report.block_count.unwrap_or(0),
        report.transaction_count.unwrap_or(0),
    );
    let tip = report.tip.clone();
    let tip_hash = tip.as_ref().map(|t| t.hash.to_string()).unwrap_or_default();
    if ctx.json {
        print_json(&json!({
            "data_dir": ctx.data_dir,
            "submitted": submitted,
            "refused": refused,
            "blocks": blocks,
            "verified": { "block_count": n_blocks, "transaction_count": n_txs, "tip": tip },
        }));
    } else {
        println!("verified: {n_blocks} blocks, {n_txs} transactions; tip {tip_hash}");
        println!(
            "try: sledger status, sledger chain, sledger tx {}",
            submitted[0]
        );
    }
    Ok(())
}
