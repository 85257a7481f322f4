//! `sledger watch`: follows the running node's events, one line each
//! (text, or JSON with `--json`): blocks its miner seals, tip changes from
//! any cause (mined, a peer's blocks, an import) with reorganisations
//! named as such, entries joining the pending pool, the miner starting
//! and stopping. Runs until Ctrl-C (exit 0) or until the node stops
//! (exit 1).

use std::io::Write;

use anyhow::{anyhow, Result};

use crate::api::views::NodeEvent;
use crate::cli::output::{escape_text, print_json};
use crate::cli::{Ctx, STOP};

pub fn run(ctx: &Ctx) -> Result<()> {
    let node = ctx.running_node()?.ok_or_else(|| {
        anyhow!(
            "no node runs on the ledger at {}: `sledger watch` follows a running node (start one with `sledger node`)",
            ctx.data_dir.display()
        )
    })?;
    crate::cli::stop_on_signal();
    if !ctx.json {
        eprintln!("watching the node at {} (Ctrl-C stops)", node.address());
    }
    let json = ctx.json;
    let stopped_here = node.watch(&STOP, &mut |e| {
        if json {
            print_json(e);
        } else {
            println!("{} {}", clock(), event_text(e));
        }
        let _ = std::io::stdout().flush();
    })?;
    if !stopped_here {
        crate::fail!("node_unreachable", "the node stopped");
    }
    Ok(())
}

/// `sledger open`: a one-time login URL for the running node's explorer,
/// printed, and opened in a browser when one can be started here
/// (`$BROWSER`, else `xdg-open`) and stdout is a terminal.
pub fn open(ctx: &Ctx, no_browser: bool) -> Result<()> {
    use std::io::IsTerminal;
    let node = ctx.running_node()?.ok_or_else(|| {
        anyhow!(
            "no node runs on the ledger at {}: the explorer is served by a node (start one with `sledger node`)",
            ctx.data_dir.display()
        )
    })?;
    let v = node.explorer_login()?;
    if ctx.json {
        print_json(&v);
        return Ok(());
    }
    println!("{}", v.url);
    eprintln!(
        "a one-time login link, good for {} s: it opens a session in the browser that follows it",
        v.expires_in
    );
    if !no_browser && std::io::stdout().is_terminal() {
        let browser = std::env::var("BROWSER").unwrap_or_else(|_| "xdg-open".into());
        let started = std::process::Command::new(&browser)
            .arg(&v.url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if started.is_err() {
            eprintln!("(no browser could be started: open the link yourself)");
        }
    }
    Ok(())
}

/// The local time of day, for the start of each line.
fn clock() -> String {
    let ms = crate::time::now_ms();
    let t = crate::time::format_ms(ms);
    // `YYYY-MM-DDTHH:MM:SS.mmmZ` → `HH:MM:SS`.
    t.get(11..19).unwrap_or(&t).to_owned()
}

/// One event as a line for people.
pub fn event_text(e: &NodeEvent) -> String {
    match e {
        NodeEvent::Block(b) => format!(
            "sealed    block {} {} ({} tx, {} hashes in {:.2} s)",
            b.block.height,
            b.block.hash,
            b.block.transaction_count,
            b.block.hashes,
            b.block.seconds
        ),
        NodeEvent::Tip(t) if t.disconnected > 0 => format!(
            "reorg     tip {} {} ({}): {} disconnected back to height {}, {} connected",
            t.tip.height,
            t.tip.hash,
            t.cause,
            crate::cli::output::count(t.disconnected, "block"),
            t.previous.height - t.disconnected,
            t.connected
        ),
        NodeEvent::Tip(t) => format!(
            "tip       {} {} ({}{})",
            t.tip.height,
            t.tip.hash,
            t.cause,
            match t.connected {
                1 => String::new(),
                n => format!(", {n} blocks"),
            }
        ),
        NodeEvent::Entry(x) => format!(
            "entry     {} by {} ({} bytes, {}, {})",
            x.txid,
            escape_text(&x.author),
            x.size,
            match &x.signed_by {
                Some(fp) => format!("signed:{fp}"),
                None => "unsigned".into(),
            },
            x.source
        ),
        NodeEvent::Mining(m) if m.active => format!(
            "mining    started (run {}, {})",
            m.run,
            crate::cli::output::count(m.threads as u64, "thread")
        ),
        NodeEvent::Mining(m) => format!(
            "mining    stopped (run {}{})",
            m.run,
            match (&m.last_error, &m.last_run) {
                (Some(e), _) => format!(": {}", escape_text(e)),
                (None, Some(r)) =>
                    format!(", {} mined", crate::cli::output::count(r.mined, "block")),
                (None, None) => String::new(),
            }
        ),
    }
}
