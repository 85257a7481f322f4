//! `sledger migrate`: bring the ledger's schema up to this sledger's.

use anyhow::Result;
use serde_json::json;

use crate::cli::output::print_json;
use crate::cli::Ctx;
use crate::store::schema::SCHEMA_VERSION;
use crate::store::{OpenOptions, Store, StoreError};

pub fn run(ctx: &Ctx) -> Result<()> {
    // Find the version before upgrading, to say what happened.
    let before = match Store::open_with(
        &ctx.data_dir,
        OpenOptions {
            no_upgrade: true,
            on_migration: None,
        },
    ) {
        Ok(s) => s.schema_version()?,
        Err(StoreError::NeedsUpgrade { found, .. }) => found,
        Err(e) => return Err(e.into()),
    };
    let store = Ctx {
        data_dir: ctx.data_dir.clone(),
        json: ctx.json,
        no_upgrade: false,
    }
    .open()?;
    let after = store.schema_version()?;
    if ctx.json {
        print_json(&json!({ "from": before, "to": after, "current": SCHEMA_VERSION }));
    } else if before == after {
        println!("the ledger is at schema version {after}, the current one; nothing to do");
    } else {
        println!("upgraded the ledger from schema version {before} to {after}");
    }
    Ok(())
}
