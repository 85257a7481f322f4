//! `sledger export` and `sledger import`: the chain as JSON lines
//! (`docs/FORMAT.md`, "Export format"; the import itself is
//! [`crate::api::import`]).

use std::fs::OpenOptions;
use std::io::BufWriter;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::json;

use crate::api::import::{ExportFile, NewLedgerPlan};
use crate::api::Ledger;
use crate::cli::output::{self, print_json};
use crate::cli::Ctx;
use crate::consensus::BlockHash;
use crate::fsx::{self, Mode};
use crate::time::now_ms;

pub fn export(ctx: &Ctx, output: Option<&Path>, from: u64) -> Result<()> {
    let ledger = ctx.ledger()?;
    let Some(p) = output.filter(|p| *p != Path::new("-")) else {
        let mut out = BufWriter::new(std::io::stdout().lock());
        ledger.export(from, &mut out)?;
        return Ok(());
    };
    let n = match Destination::of(p)? {
        Destination::Through(path) => export_through(ledger.as_ref(), from, &path)?,
        Destination::File { path, mode } => {
            // Written beside the file and renamed into place only when
            // complete and on disk, so a failed export never destroys an
            // earlier one.
            let temp = fsx::temp_beside(&path).context("cannot name a temporary file")?;
            fsx::replace(&path, &temp, mode, |f| -> Result<u64> {
                let mut out = BufWriter::new(f);
                Ok(ledger.export(from, &mut out)?)
            })?
        }
    };
    if ctx.json {
        print_json(&json!({ "block_count": n, "file": p }));
    } else {
        let shown = output::escape_text(&p.display().to_string());
        eprintln!("exported {} to {shown}", output::count(n, "block"));
    }
    Ok(())
}

/// Where `export -o PATH` writes, symlinks followed.
enum Destination {
    /// Something that exists and is not a regular file (a device, a named
    /// pipe, a terminal): written straight through, no temporary file.
    Through(PathBuf),
    /// A regular file, existing (its mode kept) or new (umask applies).
    File { path: PathBuf, mode: Mode },
}

impl Destination {
    fn of(p: &Path) -> Result<Destination> {
        match std::fs::metadata(p) {
            Ok(m) if m.is_file() => Ok(Destination::File {
                path: std::fs::canonicalize(p)
                    .with_context(|| format!("cannot resolve {}", p.display()))?,
                mode: Mode::Exactly(m.permissions().mode() & 0o777),
            }),
            Ok(_) => Ok(Destination::Through(p.to_path_buf())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Destination::File {
                path: dangling_target(p)?,
                mode: Mode::Umasked,
            }),
            Err(e) => Err(e).with_context(|| format!("cannot write to {}", p.display())),
        }
    }
}

/// Whether the ledger's active chain holds block `pin`.
fn holds(ledger: &dyn Ledger, pin: &BlockHash) -> bool {
    matches!(ledger.block(crate::api::BlockRef::Hash(*pin)), Ok(b) if b.active)
}

/// Standard input copied to a new owner-only file in the system's
/// temporary directory (exclusive, no-follow), removed when dropped.
struct Spool(PathBuf);

impl Spool {
    fn stdin() -> Result<Spool> {
        let mut random = [0u8; 8];
        getrandom::getrandom(&mut random).context("cannot get random bytes")?;
        let path = std::env::temp_dir().join(format!(
            "sledger-import.{}.{}.partial",
            std::process::id(),
            hex::encode(random)
        ));
        let mut f = fsx::create_new(&path, Mode::Exactly(fsx::OWNER_ONLY))?;
        let spool = Spool(path);
        std::io::copy(&mut std::io::stdin().lock(), &mut f)
            .context("cannot read the export from standard input")?;
        Ok(spool)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The file a path that does not exist names: itself, or the end of the
/// chain of symlinks it is (a dangling link is written through, as a
/// shell's `>` does).
fn dangling_target(p: &Path) -> Result<PathBuf> {
    let mut path = p.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                let next = std::fs::read_link(&path)
                    .with_context(|| format!("cannot resolve {}", path.display()))?;
                path = path.parent().unwrap_or(Path::new("")).join(next);
            }
            _ => return Ok(path),
        }
    }
    anyhow::bail!(
        "cannot resolve {}: too many levels of symbolic links",
        p.display()
    )
}

/// Writes the export straight into `path` (a device or a pipe), flushed;
/// nothing is created.
fn export_through(ledger: &dyn Ledger, from: u64, path: &Path) -> Result<u64> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    Ok(ledger.export(from, &mut BufWriter::new(file))?)
}

/// Imports `path`; with `expect_tip`, only if the file's chain holds that
/// block (checked on the file before anything is sent or written).
pub fn import(ctx: &Ctx, path: &Path, expect_tip: Option<BlockHash>) -> Result<()> {
    // An import reads its file twice (check, then write): standard input
    // is kept in a private temporary file meanwhile.
    let spool = (path == Path::new("-")).then(Spool::stdin).transpose()?;
    let file = match &spool {
        Some(s) => ExportFile {
            path: s.0.clone(),
            name: "standard input".into(),
        },
        None => ExportFile::at(path),
    };
    let ledger = ctx.ledger_if_any()?;
    // Before: the file's chain (or the ledger's, below a file that starts
    // above genesis) must hold the pinned block, so nothing is written
    // otherwise.
    if let Some(pin) = expect_tip {
        if !ledger.as_deref().is_some_and(|l| holds(l, &pin)) {
            file.leads_to(&pin)?;
        }
    }
    let v = match ledger {
        Some(ledger) => ledger.import(&file)?,
        None => NewLedgerPlan::check(file, now_ms())?.create(&ctx.data_dir)?,
    };
    // After: the active chain holds it (not only a side branch the file
    // brought, nor a file changed between the reads).
    if let Some(pin) = expect_tip {
        if !holds(ctx.ledger()?.as_ref(), &pin) {
            crate::fail!(
                "tip_mismatch",
                "the blocks were imported, but the active chain does not lead to the expected block {pin}: the file's branch has less work than this chain, or the file changed while it was read"
            );
        }
    }
    if ctx.json {
        print_json(&v);
    } else {
        print!("{}", output::import_text(&v));
    }
    Ok(())
}
