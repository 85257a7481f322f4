//! `sledger node`: run a node on the ledger ([`crate::node`]).

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use crate::cli::output::print_json;
use crate::cli::Ctx;
use crate::node::{cookie, server, Config};
use crate::store::StoreError;

/// Runs a node as `config` says (checked: a non-loopback address was
/// allowed with `--allow-remote`).
pub fn run(ctx: &Ctx, config: Config) -> Result<()> {
    if !config.listen.ip().is_loopback() {
        eprintln!(
            "WARNING: listening on {}, which other machines can reach. Requests still need the token, but plain HTTP carries it unencrypted: use this only on a network you trust.",
            config.listen.ip()
        );
    }
    crate::logging::init(&config.log)?;
    let store = ctx
        .open_here()?
        .ok_or_else(|| StoreError::NoLedger(ctx.data_dir.clone()))?;
    // A test hook: hold the store this long before serving, so that a test
    // can see clients wait for a starting node (tests/lock.rs).
    if let Some(ms) = std::env::var("SLEDGER_TEST_NODE_START_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    let json = ctx.json;
    server::run(store, config, |c, dir, net| {
        let path = cookie::path(dir);
        if json {
            let mut line = json!({ "address": c.address, "pid": c.pid, "cookie": path });
            if let Some(net) = net {
                line["peer_id"] = json!(net.peer_id);
                line["p2p"] = json!(net.listening);
            }
            print_json(&line);
        } else {
            println!(
                "sledger node listening on http://{} for the ledger in {} (token in {}); Ctrl-C or SIGTERM stops it",
                c.address,
                dir.display(),
                path.display()
            );
            if let Some(net) = net {
                println!("peer id {}", net.peer_id);
                for a in &net.listening {
                    println!("listening for peers on {a}");
                }
            }
        }
        let _ = std::io::stdout().flush();
    })?;
    Ok(())
}
