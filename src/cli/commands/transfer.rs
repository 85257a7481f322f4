//! `sledger export` and `sledger import`: the chain as JSON lines
//! (`docs/FORMAT.md`, "Export format"; the import itself is
//! [`crate::api::import`]).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;

use crate::api::import::{ExportFile, NewLedgerPlan};
use crate::cli::output::{self, print_json};
use crate::cli::Ctx;
use crate::time::now_ms;

pub fn export(ctx: &Ctx, output: Option<&Path>) -> Result<()> {
    let ledger = ctx.ledger()?;
    let Some(p) = output else {
        let mut out = BufWriter::new(std::io::stdout().lock());
        ledger.export(&mut out)?;
        return Ok(());
    };
    // Write beside the target and rename it into place only when complete
    // and on disk, so a failed export never destroys an earlier one.
    let mut tmp_name = p.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".partial");
    let tmp = p.with_file_name(tmp_name);
    let file = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut out = BufWriter::new(file);
    let written: Result<u64> = (|| {
        let n = ledger.export(&mut out)?;
        let file = out.into_inner().context("cannot write the export")?;
        file.sync_all().context("cannot write the export")?;
        std::fs::rename(&tmp, p)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), p.display()))?;
        Ok(n)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    let n = written?;
    if ctx.json {
        print_json(&json!({ "blocks": n, "file": p }));
    } else {
        eprintln!("exported {n} blocks to {}", p.display());
    }
    Ok(())
}

pub fn import(ctx: &Ctx, path: &Path) -> Result<()> {
    let v = match ctx.ledger_if_any()? {
        Some(ledger) => ledger.import(path)?,
        None => NewLedgerPlan::check(ExportFile::at(path), now_ms())?.create(&ctx.data_dir)?,
    };
    if ctx.json {
        print_json(&v);
    } else {
        print!("{}", output::import_text(&v));
    }
    Ok(())
}
