//! `sledger submit`: record an entry as a pending transaction.

use std::io::Read;

use anyhow::{bail, Context, Result};

use crate::cli::args::SubmitArgs;
use crate::cli::output::print_json;
use crate::cli::Ctx;
use crate::consensus::transaction::MAX_DATA_BYTES;
use crate::consensus::Transaction;
use crate::time::now_ms;

/// Reads at most the data limit plus one byte, so oversize input is
/// refused without reading it all.
fn read_bounded(r: impl Read, what: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.take(MAX_DATA_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read {what}"))?;
    if buf.len() > MAX_DATA_BYTES {
        bail!("data from {what} is over the limit of {MAX_DATA_BYTES} bytes");
    }
    Ok(buf)
}

pub fn run(ctx: &Ctx, a: &SubmitArgs) -> Result<()> {
    let data = match (&a.data, &a.file) {
        (Some(d), None) if d != "-" => d.clone().into_bytes(),
        (_, Some(f)) => {
            let file =
                std::fs::File::open(f).with_context(|| format!("cannot open {}", f.display()))?;
            read_bounded(file, &f.display().to_string())?
        }
        _ => {
            use std::io::IsTerminal;
            if std::io::stdin().is_terminal() {
                bail!("no data: give it as an argument, with --file, or on standard input");
            }
            read_bounded(std::io::stdin().lock(), "standard input")?
        }
    };
    let author = a
        .author
        .clone()
        .or_else(|| a.sign.clone())
        .expect("clap requires one");
    let v = match &a.sign {
        Some(key) => {
            // Signed here: the secret key never leaves this process. The
            // signature covers the ledger's genesis hash, asked first.
            let (secret, public) = ctx.keys()?.secret(key)?;
            Transaction::new(author.clone(), 0, data.clone())?;
            let ledger = ctx.ledger()?;
            let genesis = ledger.status()?.genesis;
            let tx = Transaction::sign(author, now_ms(), data, &genesis, &secret)?;
            let v = ledger.submit_signed(&tx)?;
            if !ctx.json {
                eprintln!("signed by key \"{key}\" ({})", public.fingerprint());
            }
            v
        }
        None => {
            // Refuse a bad entry before touching the ledger (the time is
            // the ledger's: a node stamps it on arrival).
            Transaction::new(author.clone(), 0, data.clone())?;
            ctx.ledger()?.submit(&author, data)?
        }
    };
    if ctx.json {
        print_json(&v);
    } else {
        println!("{}", v.txid);
    }
    Ok(())
}
