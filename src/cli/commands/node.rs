//! `sledger node`: run a node on the ledger ([`crate::node`]).

use std::io::Write;
use std::net::SocketAddr;

use anyhow::{bail, Result};
use serde_json::json;

use crate::api::MineRequest;
use crate::cli::args::NodeArgs;
use crate::cli::output::print_json;
use crate::cli::Ctx;
use crate::node::{cookie, server, Config, Limits};
use crate::store::StoreError;

pub fn run(ctx: &Ctx, a: &NodeArgs) -> Result<()> {
    if !a.bind.is_loopback() {
        if !a.allow_remote {
            bail!(
                "refusing to listen on {}: it is not a loopback address, so other machines could reach the ledger; pass --allow-remote if that is what you want",
                a.bind
            );
        }
        eprintln!(
            "WARNING: listening on {}, which other machines can reach. Requests still need the token, but plain HTTP carries it unencrypted: use this only on a network you trust.",
            a.bind
        );
    }
    if !(a.read_timeout.is_finite() && (0.1..=3600.0).contains(&a.read_timeout)) {
        bail!("--read-timeout must be between 0.1 and 3600 seconds");
    }
    let store = ctx
        .open_here()?
        .ok_or_else(|| StoreError::NoLedger(ctx.data_dir.clone()))?;
    let config = Config {
        listen: SocketAddr::new(a.bind, a.port),
        mine: a.mine.then(|| MineRequest {
            threads: a.threads,
            ..Default::default()
        }),
        limits: Limits {
            import_bytes: a.max_import_bytes,
            read_timeout: std::time::Duration::from_secs_f64(a.read_timeout),
            ..Default::default()
        },
    };
    let json = ctx.json;
    server::run(store, config, |c, dir| {
        let path = cookie::path(dir);
        if json {
            print_json(&json!({ "address": c.address, "pid": c.pid, "cookie": path }));
        } else {
            println!(
                "sledger node listening on http://{} for the ledger in {} (token in {}); Ctrl-C or SIGTERM stops it",
                c.address,
                dir.display(),
                path.display()
            );
        }
        let _ = std::io::stdout().flush();
    })?;
    Ok(())
}
