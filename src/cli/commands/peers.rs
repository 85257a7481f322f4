//! `sledger peers`: the running node's peers (list, add, ban, unban),
//! through its API (`docs/API.md`). Only a node has a network, so these
//! need one running on the data directory.

use anyhow::{anyhow, Result};

use crate::cli::checked::Peers;
use crate::cli::output::{peers_text, print_json};
use crate::cli::Ctx;
use crate::time::format_ms;

pub fn run(ctx: &Ctx, p: Peers) -> Result<()> {
    let node = ctx.running_node()?.ok_or_else(|| {
        anyhow!(
            "no node runs on the ledger at {}: `sledger peers` asks a running node (start one with `sledger node --listen IP:PORT`)",
            ctx.data_dir.display()
        )
    })?;
    match p {
        Peers::List => {
            let v = node.peers()?;
            match ctx.json {
                true => print_json(&v),
                false => print!("{}", peers_text(&v)),
            }
        }
        Peers::Add(addr) => {
            let v = node.add_peer(&addr.to_string())?;
            match ctx.json {
                true => print_json(&v),
                false => println!("dialling {}", v.address),
            }
        }
        Peers::Ban { peer, seconds } => {
            let v = node.ban_peer(&peer.to_string(), seconds)?;
            match ctx.json {
                true => print_json(&v),
                false => println!("banned {} until {}", v.peer_id, format_ms(v.banned_until)),
            }
        }
        Peers::Unban(peer) => {
            let v = node.unban_peer(&peer.to_string())?;
            match (ctx.json, v.was_banned) {
                (true, _) => print_json(&v),
                (false, true) => println!("unbanned {}", v.peer_id),
                (false, false) => println!("{} was not banned", v.peer_id),
            }
        }
    }
    Ok(())
}
