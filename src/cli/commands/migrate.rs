//! `sledger migrate`: upgrade the ledger's schema now, rather than on the
//! next open. Through a node there is nothing to do: the node upgraded the
//! store when it opened it.

use anyhow::Result;
use serde_json::json;

use crate::cli::output::print_json;
use crate::cli::Ctx;
use crate::store::schema::SCHEMA_VERSION;

pub fn run(ctx: &Ctx) -> Result<()> {
    let (before, after) = ctx.ledger_upgraded()?.schema_versions()?;
    if ctx.json {
        print_json(&json!({ "from": before, "to": after, "current": SCHEMA_VERSION }));
    } else if before == after {
        println!("the ledger is at schema version {after}, the current one; nothing to do");
    } else {
        println!("upgraded the ledger from schema version {before} to {after}");
    }
    Ok(())
}
