//! `import`: add the blocks of an export file, checking every one before
//! writing any, in two steps. A plan reads the whole file and checks it,
//! writing nothing: [`ImportPlan::check`] against an existing ledger,
//! [`NewLedgerPlan::check`] as a ledger of its own. Applying the plan
//! reads the file again and writes it. Lines must run from genesis up;
//! blocks already stored are skipped; a file that extends the tip goes in
//! batches of whole blocks, a competing branch block by block through fork
//! choice.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::json::is_json_whitespace;
use super::views::{ImportView, TipRef};
use super::ApiError;
use std::collections::HashSet;
use std::sync::Arc;

use crate::consensus::rules::{CheckedBlock, SignatureBatch, SignatureRules};
use crate::consensus::{rules, Block, BlockError, BlockHash};
use crate::export::parse_line;
use crate::store::dry_run::DryRun;
use crate::store::fork::Accepted;
use crate::store::{Store, StoreError};

/// Blocks per import transaction, and their total size bound.
const BATCH_BLOCKS: usize = 512;
const BATCH_BYTES: usize = 16 << 20;

/// Longest export line accepted: a 1 MiB block of control characters
/// escaped as JSON is under 7 MiB.
const MAX_LINE_BYTES: u64 = 16 << 20;

/// Lines of at most [`MAX_LINE_BYTES`], so a damaged file cannot exhaust memory.
fn bounded_lines(mut r: impl BufRead) -> impl Iterator<Item = std::io::Result<String>> {
    std::iter::from_fn(move || {
        let mut buf = Vec::new();
        match std::io::Read::take(&mut r, MAX_LINE_BYTES + 1).read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) if buf.len() as u64 > MAX_LINE_BYTES => Some(Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("line longer than {MAX_LINE_BYTES} bytes"),
            ))),
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                Some(
                    String::from_utf8(buf).map_err(|_| {
                        std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8")
                    }),
                )
            }
            Err(e) => Some(Err(e)),
        }
    })
}

/// An export file, and what messages call it (its path as given, or a
/// name the client chose for an upload).
#[derive(Debug, Clone)]
pub struct ExportFile {
    pub path: PathBuf,
    pub name: String,
}

impl ExportFile {
    /// The file at `path`, called by its path.
    pub fn at(path: &Path) -> ExportFile {
        ExportFile {
            path: path.to_path_buf(),
            name: path.display().to_string(),
        }
    }

    /// The blocks of the file, one per line that is not blank (JSON
    /// whitespace only), with line numbers.
    fn blocks(
        &self,
    ) -> Result<impl Iterator<Item = Result<(usize, Block), ApiError>> + '_, ApiError> {
        let file = File::open(&self.path)
            .map_err(|e| ApiError::Io(format!("cannot open {}: {e}", self.name)))?;
        Ok(bounded_lines(BufReader::new(file))
            .enumerate()
            .filter_map(move |(i, line)| {
                let n = i + 1;
                match line {
                    Err(e) => Some(Err(self.bad_line(n, &e))),
                    Ok(l) if l.bytes().all(is_json_whitespace) => None,
                    Ok(l) => Some(
                        parse_line(&l)
                            .map(|b| (n, b))
                            .map_err(|e| self.bad_line(n, &e)),
                    ),
                }
            }))
    }

    /// Checks that the file's chain holds block `pin`: its lines are in
    /// order, each block hashes as it says, and one of them is `pin`.
    pub fn leads_to(&self, pin: &BlockHash) -> Result<(), ApiError> {
        let mut order = LineOrder::from_anywhere();
        for item in self.blocks()? {
            let (n, block) = item?;
            if order.next(self, n, &block)? == *pin {
                return Ok(());
            }
        }
        order.finish(self)?;
        Err(ApiError::Rejected(format!(
            "{}: its chain does not lead to the expected block {pin} (a chain re-mined or replaced after that tip was published fails here)",
            self.name
        )))
    }

    /// Line `n` is not a block, or not the block that comes next.
    fn bad_line(&self, n: usize, e: &dyn std::fmt::Display) -> ApiError {
        ApiError::BadRequest(format!("{}: line {n}: {e}", self.name))
    }

    /// Line `n` is a block that breaks a consensus rule.
    fn rejected_line(&self, n: usize, e: &dyn std::fmt::Display) -> ApiError {
        ApiError::Rejected(format!("{}: line {n}: {e}", self.name))
    }

    /// Checking line `n` against the rules failed: the block breaks one,
    /// or the store could not be read.
    fn check_failed(&self, n: usize, e: StoreError) -> ApiError {
        match e {
            StoreError::Rejected(_) | StoreError::InvalidBlock { .. } => self.rejected_line(n, &e),
            other => ApiError::Store(other),
        }
    }

    /// Writing near line `n` found the ledger or the file no longer as
    /// they were checked.
    fn changed(&self, n: Option<usize>, e: &dyn std::fmt::Display) -> ApiError {
        let name = &self.name;
        ApiError::Conflict(match n {
            Some(n) => format!("{name} changed while importing (near line {n}): {e}"),
            None => format!("{name} changed while importing: {e}"),
        })
    }
}

/// Signatures gathered before they are verified together.
const DEFERRED_SIGNATURES: usize = 4096;

/// The signatures (rule 9) of blocks a plan checked, verified together
/// once [`DEFERRED_SIGNATURES`] have gathered: a batch across blocks costs
/// less per signature than each block's own, and spreads over every core.
/// They are verified before the plan is done and before any other error
/// is reported, so the line named is the first bad one; the hashes of the
/// blocks verified let the plan's second pass skip them.
struct DeferredSignatures {
    rules: SignatureRules,
    /// Each entry tagged with its block's line.
    batch: SignatureBatch<usize>,
    blocks: Vec<BlockHash>,
    verified: HashSet<BlockHash>,
}

impl DeferredSignatures {
    fn new(rules: SignatureRules) -> Self {
        DeferredSignatures {
            rules,
            batch: SignatureBatch::default(),
            blocks: Vec::new(),
            verified: HashSet::new(),
        }
    }

    /// Gathers the signed entries of `block`, on line `n`; verifies all
    /// gathered once there are enough.
    fn add(&mut self, file: &ExportFile, n: usize, block: &CheckedBlock) -> Result<(), ApiError> {
        if self.batch.add(n, block) {
            self.blocks.push(block.hash());
        }
        if self.batch.len() >= DEFERRED_SIGNATURES {
            self.flush(file)?;
        }
        Ok(())
    }

    /// Verifies every gathered signature; names the line of the first bad.
    fn flush(&mut self, file: &ExportFile) -> Result<(), ApiError> {
        self.batch
            .verify(&self.rules)
            .map_err(|(n, e)| file.check_failed(n, StoreError::Rejected(e)))?;
        self.verified.extend(self.blocks.drain(..));
        Ok(())
    }

    /// `result`, unless a signature gathered before it is bad: that one
    /// comes first in the file.
    fn first<T>(&mut self, file: &ExportFile, result: Result<T, ApiError>) -> Result<T, ApiError> {
        match result {
            Err(e) => Err(self.flush(file).err().unwrap_or(e)),
            ok => ok,
        }
    }
}

/// The order lines must come in: one height after another, each block on
/// the previous line's, from genesis up (a new ledger's file), or from any
/// height (a file for a ledger that holds what it starts on: `export
/// --from`).
#[derive(Default)]
struct LineOrder {
    expected_height: u64,
    previous: Option<BlockHash>,
    from_anywhere: bool,
}

impl LineOrder {
    /// Lines may start at any height.
    fn from_anywhere() -> Self {
        LineOrder {
            from_anywhere: true,
            ..LineOrder::default()
        }
    }

    /// Checks that `block`, on line `n`, comes next; returns its hash.
    fn next(&mut self, file: &ExportFile, n: usize, block: &Block) -> Result<BlockHash, ApiError> {
        let h = block.header.height;
        if self.previous.is_none() && self.from_anywhere {
            self.expected_height = h;
        }
        let expected = self.expected_height;
        if h != expected {
            let e = format!("expected the block at height {expected}, found height {h}");
            return Err(file.bad_line(n, &e));
        }
        self.expected_height += 1;
        let hash = block.hash();
        if let Some(p) = self.previous {
            if block.header.prev_hash != p {
                let e = format!("block {hash} does not build on the previous line's block {p}");
                return Err(file.bad_line(n, &e));
            }
        }
        self.previous = Some(hash);
        Ok(hash)
    }

    /// Refuses a file without blocks.
    fn finish(&self, file: &ExportFile) -> Result<(), ApiError> {
        if self.previous.is_none() {
            return Err(ApiError::BadRequest(format!(
                "{} holds no blocks",
                file.name
            )));
        }
        Ok(())
    }
}

/// An import into an existing ledger, checked: every block of the file
/// passed every rule against `store`, and nothing is written yet. The
/// caller holds whatever lock keeps other writers out until it is applied.
pub struct ImportPlan<'s> {
    store: &'s Store,
    file: ExportFile,
    now: u64,
    /// The file's new blocks extend the tip (else they are a competing
    /// branch).
    extends_tip: bool,
    new_blocks: u64,
    known: u64,
    /// Blocks whose signatures the plan verified: not verified again.
    verified: Arc<HashSet<BlockHash>>,
}

impl<'s> ImportPlan<'s> {
    /// Pass 1: checks every block of `file` against `store`. Blocks the
    /// ledger already has are skipped (their bodies still checked); the
    /// first new one must have a known parent: the tip (the file extends
    /// this chain) or any other stored block (the file brings a competing
    /// branch).
    pub fn check(store: &'s Store, file: ExportFile, now: u64) -> Result<Self, ApiError> {
        let mut order = LineOrder::from_anywhere();
        let mut dry: Option<DryRun<'s>> = None;
        let mut deferred = DeferredSignatures::new(store.signature_rules());
        let mut extends_tip = true;
        let (mut new_blocks, mut known) = (0u64, 0u64);
        for item in file.blocks()? {
            let step = (|| {
                let (n, block) = item?;
                let hash = order.next(&file, n, &block)?;
                let d = match dry.as_mut() {
                    Some(d) => d,
                    None if store.header(&hash)?.is_some() => {
                        // A block it has must still be the block it has:
                        // its body is pinned by the header's Merkle root.
                        rules::check_body(&block).map_err(|e| file.rejected_line(n, &e))?;
                        known += 1;
                        return Ok(());
                    }
                    None => {
                        if block.header.height == 0 {
                            let e = BlockError::ForeignGenesis {
                                expected: store.genesis_hash(),
                                got: hash,
                            };
                            return Err(file.rejected_line(n, &e));
                        }
                        let parent = block.header.prev_hash;
                        if store.header(&parent)?.is_none() {
                            let e = format!(
                                "block {hash} builds on {parent}, which this ledger does not hold: a file that starts above genesis (export --from) must start inside the chain it extends"
                            );
                            return Err(file.bad_line(n, &e));
                        }
                        extends_tip = parent == store.state()?.tip;
                        let d = if extends_tip {
                            DryRun::on_store(store)?
                        } else {
                            DryRun::on_branch(store, &parent)?
                        };
                        dry.insert(d.leaving_signatures_to_caller())
                    }
                };
                let checked = d.check(&block, now).map_err(|e| file.check_failed(n, e))?;
                new_blocks += 1;
                deferred.add(&file, n, &checked)
            })();
            deferred.first(&file, step)?;
        }
        let finished = order.finish(&file);
        deferred.first(&file, finished)?;
        deferred.flush(&file)?;
        Ok(ImportPlan {
            store,
            file,
            now,
            extends_tip,
            new_blocks,
            known,
            verified: Arc::new(deferred.verified),
        })
    }

    /// Pass 2: writes the file's new blocks. A file that extends the tip
    /// goes in batches of whole blocks, each one transaction; a competing
    /// branch goes block by block through fork choice, which reorganises
    /// when the branch has more work.
    pub fn apply(self) -> Result<ImportView, ApiError> {
        let reorg = if self.extends_tip {
            self.append_in_batches()?;
            Reorg::default()
        } else {
            self.accept_branch()?
        };
        let state = self.store.state()?;
        Ok(ImportView {
            imported: self.new_blocks,
            already_present: self.known,
            reorganized: reorg.reorganized,
            disconnected: reorg.disconnected,
            extends_tip: self.extends_tip,
            tip: TipRef {
                height: state.height,
                hash: state.tip,
                timestamp: None,
            },
        })
    }

    fn append_in_batches(&self) -> Result<(), ApiError> {
        let (store, file) = (self.store, &self.file);
        let mut batch: Vec<Block> = Vec::new();
        let mut batch_bytes = 0usize;
        for item in file.blocks()? {
            let (n, block) = item?;
            if store.header(&block.hash())?.is_some() {
                continue;
            }
            batch_bytes += block.encoded_len();
            batch.push(block);
            if batch.len() >= BATCH_BLOCKS || batch_bytes >= BATCH_BYTES {
                store
                    .append_batch_verified(&batch, self.now, Some(self.verified.clone()))
                    .map_err(|e| file.changed(Some(n), &e))?;
                batch.clear();
                batch_bytes = 0;
            }
        }
        if !batch.is_empty() {
            store
                .append_batch_verified(&batch, self.now, Some(self.verified.clone()))
                .map_err(|e| file.changed(None, &e))?;
        }
        Ok(())
    }

    fn accept_branch(&self) -> Result<Reorg, ApiError> {
        let (store, file) = (self.store, &self.file);
        let mut reorg = Reorg::default();
        for item in file.blocks()? {
            let (n, block) = item?;
            if store.header(&block.hash())?.is_some() {
                continue;
            }
            match store
                .accept_block(&block, self.now)
                .map_err(|e| file.changed(Some(n), &e))?
            {
                Accepted::Reorganized { disconnected, .. } => {
                    reorg.reorganized = true;
                    reorg.disconnected += disconnected;
                }
                Accepted::Orphan => return Err(file.changed(Some(n), &"its parent is gone")),
                _ => {}
            }
        }
        Ok(reorg)
    }
}

/// What a branch's blocks did to the active chain.
#[derive(Default)]
struct Reorg {
    reorganized: bool,
    disconnected: u64,
}

/// A new ledger from an export file, checked: its genesis block and every
/// block on it passed every rule, and nothing is written yet.
pub struct NewLedgerPlan {
    file: ExportFile,
    now: u64,
    genesis: Block,
    blocks: u64,
    verified: Arc<HashSet<BlockHash>>,
}

impl NewLedgerPlan {
    /// Pass 1: checks every block of `file`, from its genesis block up.
    pub fn check(file: ExportFile, now: u64) -> Result<Self, ApiError> {
        let mut order = LineOrder::default();
        let mut dry: Option<DryRun<'_>> = None;
        let mut deferred: Option<DeferredSignatures> = None;
        let mut genesis: Option<Block> = None;
        let mut blocks = 0u64;
        for item in file.blocks()? {
            let step = || -> Result<(), ApiError> {
                let (n, block) = item?;
                order.next(&file, n, &block)?;
                match dry.as_mut() {
                    // The first line is at height 0 (`LineOrder`).
                    None => {
                        let d = DryRun::on_genesis(&block, now)
                            .map_err(|e| file.check_failed(n, e))?
                            .leaving_signatures_to_caller();
                        deferred = Some(DeferredSignatures::new(d.signature_rules()));
                        dry = Some(d);
                        genesis = Some(block);
                    }
                    Some(d) => {
                        let checked = d.check(&block, now).map_err(|e| file.check_failed(n, e))?;
                        let deferred = deferred.as_mut().expect("made with the dry run");
                        deferred.add(&file, n, &checked)?;
                    }
                }
                blocks += 1;
                Ok(())
            };
            let step = step();
            match deferred.as_mut() {
                Some(d) => d.first(&file, step)?,
                None => step?,
            }
        }
        let finished = order.finish(&file);
        // No genesis line means no blocks: `finish` refused the file.
        let Some(mut deferred) = deferred else {
            finished?;
            unreachable!("a file with blocks starts with its genesis block");
        };
        deferred.first(&file, finished)?;
        deferred.flush(&file)?;
        Ok(NewLedgerPlan {
            file,
            now,
            genesis: genesis.expect("a file with blocks starts at genesis"),
            blocks,
            verified: Arc::new(deferred.verified),
        })
    }

    /// Pass 2: creates the ledger at `data_dir` with the file's genesis
    /// block, then appends the rest.
    pub fn create(self, data_dir: &Path) -> Result<ImportView, ApiError> {
        let store = Store::create(data_dir, &self.genesis, self.now)?;
        ImportPlan {
            store: &store,
            file: self.file,
            now: self.now,
            extends_tip: true,
            new_blocks: self.blocks,
            known: 0,
            verified: self.verified,
        }
        .apply()
    }
}
