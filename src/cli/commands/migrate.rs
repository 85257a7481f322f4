//! `sledger migrate`: bring the ledger's schema up to this sledger's.

use anyhow::Result;
use serde_json::json;

use crate::cli::output::print_json;
use crate::cli::Ctx;
use crate::store::migrate::Event;
use crate::store::schema::SCHEMA_VERSION;
use crate::store::{OpenOptions, Store};

pub fn run(ctx: &Ctx) -> Result<()> {
    // Learn the starting version from the runner's own notice, so the store
    // is opened once.
    let from = std::cell::Cell::new(None);
    let notice = |e: Event| {
        if let Event::Starting { from: f, to, what } = e {
            if from.get().is_none() {
                from.set(Some(f));
            }
            eprintln!(
                "upgrading the ledger at {} from schema version {f} to {to}: {what}",
                ctx.data_dir.display()
            );
        }
    };
    let store = Store::open_with(
        &ctx.data_dir,
        OpenOptions {
            no_upgrade: false,
            on_migration: Some(&notice),
            cache_bytes: None,
        },
    )?;
    let after = store.schema_version()?;
    let before = from.get().unwrap_or(after);
    if ctx.json {
        print_json(&json!({ "from": before, "to": after, "current": SCHEMA_VERSION }));
    } else if before == after {
        println!("the ledger is at schema version {after}, the current one; nothing to do");
    } else {
        println!("upgraded the ledger from schema version {before} to {after}");
    }
    Ok(())
}
