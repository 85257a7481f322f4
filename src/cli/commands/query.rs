//! Read-only commands: `block`, `chain`, `tx`, `txs`, `pending`, `status`.

use anyhow::{Context, Result};

use crate::api::{BlockRef, TxRef, TxsOf};
use crate::cli::checked::{Chain, Txs, TxsOfArg};
use crate::cli::output::{self, print_json};
use crate::cli::Ctx;

pub fn block(ctx: &Ctx, r: BlockRef) -> Result<()> {
    let v = ctx.ledger()?.block(r)?;
    if ctx.json {
        print_json(&v);
    } else {
        print!("{}", output::block_text(&v));
    }
    Ok(())
}

pub fn chain(ctx: &Ctx, a: &Chain) -> Result<()> {
    let ledger = ctx.ledger()?;
    let (from, limit) = match *a {
        Chain::Tips => {
            let v = ledger.tips()?;
            if ctx.json {
                print_json(&v);
            } else {
                print!("{}", output::tips_text(&v));
            }
            return Ok(());
        }
        Chain::Page { from, limit } => (from, limit),
    };
    let v = ledger.chain(from, limit)?;
    if ctx.json {
        print_json(&v);
    } else {
        print!("{}", output::chain_text(&v));
        if let Some(n) = v.next_from {
            eprintln!("{}", output::more_hint(&n));
        }
    }
    Ok(())
}

pub fn tx(ctx: &Ctx, txid: &TxRef, raw: bool) -> Result<()> {
    let v = ctx.ledger()?.tx(txid)?;
    if raw {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        out.write_all(&v.tx.data_bytes())
            .and_then(|()| out.flush())
            .context("cannot write the data to standard output")?;
    } else if ctx.json {
        print_json(&v);
    } else {
        print!("{}", output::tx_view_text(&v));
    }
    Ok(())
}

pub fn pending(ctx: &Ctx, from: u64, limit: usize) -> Result<()> {
    let v = ctx.ledger()?.pending(from, limit)?;
    if ctx.json {
        print_json(&v);
    } else {
        print!("{}", output::pending_text(&v));
        if let Some(n) = v.next_from {
            eprintln!("{}", output::more_hint(&n));
        }
    }
    Ok(())
}

pub fn status(ctx: &Ctx) -> Result<()> {
    let ledger = ctx.ledger()?;
    let remote = ledger.is_remote();
    let mut v = ledger.status()?;
    // The same output with or without a node (`GET /v1/status` has more),
    // but for the network a networked node is on.
    let node = v.node.take();
    let node_backend = node.as_ref().map(|n| n.backend.clone());
    let network = node.and_then(|n| n.network);
    if ctx.json {
        let mut out = serde_json::to_value(&v).expect("plain data");
        if let Some(net) = &network {
            out["network"] = serde_json::to_value(net).expect("plain data");
        }
        print_json(&out);
    } else {
        print!("{}", output::status_text(&v));
        if let Some(net) = &network {
            print!("{}", output::network_text(net));
        }
        // The backend the miner uses: the node's, or this machine's.
        let best = match (remote, node_backend) {
            (true, Some(k)) => crate::mining::Backend::from_key(&k),
            _ => Some(crate::mining::Backend::best()),
        };
        if let Some(b) = best {
            println!("miner       {} (the fastest backend here)", b.name());
        }
    }
    Ok(())
}

pub fn txs(ctx: &Ctx, a: &Txs) -> Result<()> {
    let of = match &a.of {
        TxsOfArg::Author(author) => TxsOf::Author(author.clone()),
        TxsOfArg::Key(k) => TxsOf::Key(match k.parse() {
            Ok(key) => key,
            Err(_) => ctx.keys()?.public(k)?.public,
        }),
    };
    let v = ctx.ledger()?.txs(&of, a.from, a.limit)?;
    if ctx.json {
        print_json(&v);
    } else {
        print!("{}", output::txs_text(&v));
        if let Some(n) = &v.next_from {
            eprintln!("{}", output::more_hint(n));
        }
    }
    Ok(())
}
