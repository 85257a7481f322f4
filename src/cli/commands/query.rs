//! Read-only commands: `block`, `chain`, `tx`, `txs`, `pending`, `status`.

use anyhow::Result;

use crate::api::{parse_position, parse_txid, BlockRef};
use crate::cli::args::{ChainArgs, PageArgs, TxsArgs};
use crate::cli::output::{self, print_json};
use crate::cli::Ctx;

pub fn block(ctx: &Ctx, reference: &str) -> Result<()> {
    let r: BlockRef = reference.parse()?;
    let v = ctx.ledger()?.block(r)?;
    if ctx.json {
        print_json(&v);
    } else {
        print!("{}", output::block_text(&v));
    }
    Ok(())
}

pub fn chain(ctx: &Ctx, a: &ChainArgs) -> Result<()> {
    let ledger = ctx.ledger()?;
    if a.tips {
        let v = ledger.tips()?;
        if ctx.json {
            print_json(&v);
        } else {
            print!("{}", output::tips_text(&v));
        }
        return Ok(());
    }
    let v = ledger.chain(a.from, a.limit)?;
    if ctx.json {
        print_json(&v);
    } else {
        print!("{}", output::chain_text(&v));
    }
    Ok(())
}

pub fn tx(ctx: &Ctx, id: &str) -> Result<()> {
    let txid = parse_txid(id)?;
    let v = ctx.ledger()?.tx(&txid)?;
    if ctx.json {
        print_json(&v);
    } else {
        print!("{}", output::tx_view_text(&v));
    }
    Ok(())
}

pub fn pending(ctx: &Ctx, a: &PageArgs) -> Result<()> {
    let v = ctx.ledger()?.pending(a.from, a.limit)?;
    if ctx.json {
        print_json(&v);
    } else {
        print!("{}", output::pending_text(&v));
    }
    Ok(())
}

pub fn status(ctx: &Ctx) -> Result<()> {
    let mut v = ctx.ledger()?.status()?;
    // The same output with or without a node (`GET /v1/status` has more).
    v.node = None;
    if ctx.json {
        print_json(&v);
    } else {
        print!("{}", output::status_text(&v));
    }
    Ok(())
}

pub fn txs(ctx: &Ctx, a: &TxsArgs) -> Result<()> {
    let from = match &a.from {
        Some(s) => parse_position(s)?,
        None => (0, 0),
    };
    let v = ctx.ledger()?.txs(&a.author, from, a.limit)?;
    if ctx.json {
        print_json(&v);
    } else {
        print!("{}", output::txs_text(&v));
    }
    Ok(())
}
