//! `sledger key`: the signing keys of the person running the command, kept
//! outside any ledger ([`crate::keys`]).

use std::io::Read;

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::cli::args::KeyWhat;
use crate::cli::output::print_json;
use crate::cli::Ctx;
use crate::consensus::PublicKey;
use crate::keys::KeyInfo;

fn key_json(k: &KeyInfo) -> serde_json::Value {
    json!({
        "name": k.name,
        "public_key": k.public.to_hex(),
        "fingerprint": k.public.fingerprint(),
        "has_secret": k.secret,
    })
}

fn key_line(k: &KeyInfo) -> String {
    let whose = if k.secret { "yours" } else { "public only" };
    format!(
        "{:<20} {} {}  ({whose})",
        k.name,
        k.public.fingerprint(),
        k.public
    )
}

/// The public key an argument gives: 64 hex digits, or a file of them
/// (`-`: standard input).
fn read_public(arg: &str) -> Result<PublicKey> {
    if let Ok(k) = arg.parse() {
        return Ok(k);
    }
    let mut text = String::new();
    if arg == "-" {
        std::io::stdin()
            .lock()
            .take(4096)
            .read_to_string(&mut text)?;
    } else {
        std::fs::File::open(arg)
            .with_context(|| {
                format!("\"{arg}\" is neither a public key (64 hex digits) nor a file")
            })?
            .take(4096)
            .read_to_string(&mut text)
            .with_context(|| format!("cannot read {arg}"))?;
    }
    Ok(text.trim().parse()?)
}

/// Prints `k` as JSON with `--json`, else as `text` says.
fn print_key(ctx: &Ctx, k: &KeyInfo, text: impl FnOnce(&KeyInfo)) {
    if ctx.json {
        print_json(&key_json(k));
    } else {
        text(k);
    }
}

pub fn run(ctx: &Ctx, what: KeyWhat) -> Result<()> {
    let ring = ctx.keys()?;
    match what {
        KeyWhat::New { name } => {
            ring.create(&name)?;
            print_key(ctx, &ring.public(&name)?, |k| {
                println!("{name}: {}", k.public);
                println!("fingerprint {}", k.public.fingerprint());
                eprintln!(
                    "secret key in {} (keep it; nobody can restore it)",
                    ring.dir().display()
                );
            });
        }
        KeyWhat::List => {
            let keys = ring.list()?;
            if ctx.json {
                print_json(&json!({
                    "dir": ring.dir(),
                    "keys": keys.iter().map(key_json).collect::<Vec<_>>(),
                }));
            } else if keys.is_empty() {
                println!(
                    "no keys in {} (sledger key new NAME makes one)",
                    ring.dir().display()
                );
            } else {
                for k in &keys {
                    println!("{}", key_line(k));
                }
            }
        }
        KeyWhat::Show { name } => print_key(ctx, &ring.public(&name)?, |k| {
            println!("name         {}", k.name);
            println!("public key   {}", k.public);
            println!("fingerprint  {}", k.public.fingerprint());
            let secret = if k.secret {
                "yes (yours)"
            } else {
                "no (someone else's)"
            };
            println!("secret key   {secret}");
        }),
        KeyWhat::ExportPublic { name } => {
            print_key(ctx, &ring.public(&name)?, |k| println!("{}", k.public))
        }
        KeyWhat::ImportPublic { name, key } => {
            let public = read_public(&key)?;
            if let Some(existing) = ring.name_of(&public) {
                bail!("this public key is already in the keys directory as \"{existing}\"");
            }
            ring.import_public(&name, &public)?;
            print_key(ctx, &ring.public(&name)?, |k| println!("{}", key_line(k)));
        }
    }
    Ok(())
}
