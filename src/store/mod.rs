//! The ledger store: the sled trees, opening and creating a ledger, and every
//! read of it. Each change of state (in [`write`]) is one sled transaction
//! across the trees it touches, followed by `flush()`, before it returns.
//!
//! Nothing here loads the chain: reads go by key, and walks ([`iter`],
//! [`verify`]) stream with bounded memory.

pub mod codec;
pub mod cursor;
pub mod error;
pub mod fork;
#[cfg(test)]
mod golden;
pub mod iter;
pub mod migrate;
pub mod schema;
pub mod verify;
pub mod write;

use std::path::{Path, PathBuf};

use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use sled::Tree;

use crate::consensus::rules::{self, median_time, ParentInfo, MEDIAN_TIME_SPAN};
use crate::consensus::{Block, BlockHash, ChainParams, Transaction, Txid};
pub use cursor::Cursor;
pub use error::StoreError;
use schema::*;

/// sled's page cache size. Its default is 1 GiB; a ledger needs far less.
pub const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// The page cache `verify` opens the store with (see [`OpenOptions::cache_bytes`]).
pub const VERIFY_CACHE_BYTES: u64 = 4 * 1024 * 1024;

/// Name of the sled directory inside a ledger's data directory.
pub const STORE_DIR: &str = "store";

/// An open ledger.
pub struct Store {
    data_dir: PathBuf,
    /// Always `Some` until `Drop` (see there).
    handles: Option<Handles>,
    /// Set when a write failed at the I/O level (a full disk).
    poisoned: std::sync::atomic::AtomicBool,
    params: ChainParams,
    genesis: BlockHash,
}

/// The sled database and its trees.
pub(crate) struct Handles {
    pub db: sled::Db,
    pub blocks: Tree,
    pub heights: Tree,
    pub txs: Tree,
    pub pending: Tree,
    pub pending_ids: Tree,
    pub meta: Tree,
    pub author_groups: Tree,
    pub tips: Tree,
    pub orphans: Tree,
    pub orphan_ids: Tree,
    pub orphan_parents: Tree,
    pub invalid: Tree,
}

impl Drop for Store {
    /// After a failed write (ENOSPC), sled 0.34 never marks its log stable
    /// again, and the flush it runs when its last handle drops waits for
    /// that forever. A poisoned store therefore leaks its handles instead:
    /// nothing further can be written, and the process is about to report
    /// the error and exit. The log on disk is what recovery reads.
    fn drop(&mut self) {
        if self.poisoned.load(std::sync::atomic::Ordering::SeqCst) {
            std::mem::forget(self.handles.take());
        }
    }
}

/// A block read from the store.
#[derive(Debug, Clone)]
pub struct StoredBlock {
    pub hash: BlockHash,
    pub record: HeaderRecord,
    pub block: Block,
    /// Whether the block is on the active chain.
    pub active: bool,
}

/// Where a transaction is.
#[derive(Debug, Clone)]
pub enum TxStatus {
    Confirmed {
        tx: Transaction,
        block: BlockHash,
        height: u64,
        index: u32,
    },
    Pending {
        tx: Transaction,
        seq: u64,
    },
}

/// The trees of one transaction, in the order [`Store::transact`] gives them.
pub(crate) struct TxTrees<'a> {
    pub blocks: &'a TransactionalTree,
    pub heights: &'a TransactionalTree,
    pub txs: &'a TransactionalTree,
    pub pending: &'a TransactionalTree,
    pub pending_ids: &'a TransactionalTree,
    pub meta: &'a TransactionalTree,
    pub author_groups: &'a TransactionalTree,
    pub tips: &'a TransactionalTree,
    pub orphans: &'a TransactionalTree,
    pub orphan_ids: &'a TransactionalTree,
    pub orphan_parents: &'a TransactionalTree,
    pub invalid: &'a TransactionalTree,
}

fn sled_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(STORE_DIR)
}

/// True when `data_dir` holds a ledger's sled directory.
pub fn exists(data_dir: &Path) -> bool {
    sled_dir(data_dir).is_dir()
}

/// Removes snapshot files that sled was still writing when its process died.
///
/// sled 0.34 writes a snapshot to `snap.<lsn>.generating`, fsyncs it and
/// only then renames it to `snap.<lsn>`; but when it opens a database it
/// also reads `.generating` files and, if the newest is one cut short by a
/// crash, refuses to open with a corruption error (sled issues #1387 and
/// #1527). The crash harness in `tests/crash.rs` hits this within a few
/// dozen kills of `submit`. A `.generating` file is never sled's only copy
/// of anything (the previous snapshot and the log are kept until the rename),
/// so it is removed, but only while holding the same exclusive lock sled
/// takes, so that no running process is writing it.
fn clear_interrupted_snapshots(data_dir: &Path) -> Result<(), StoreError> {
    let path = sled_dir(data_dir);
    let io = |context: String| move |source| StoreError::Io { context, source };
    let lock = match std::fs::File::open(path.join("db")) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(format!("cannot open {}", path.join("db").display()))(e)),
    };
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(StoreError::Locked(data_dir.to_path_buf()))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(io(format!("cannot lock {}", path.display()))(e))
        }
    }
    for entry in std::fs::read_dir(&path).map_err(io(format!("cannot list {}", path.display())))? {
        let entry = entry.map_err(io(format!("cannot list {}", path.display())))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            std::fs::remove_file(entry.path())
                .map_err(io(format!("cannot remove {}", entry.path().display())))?;
        }
    }
    Ok(()) // dropping `lock` releases it for sled
}

/// Opens the sled database, waiting up to a second for its lock: sled's
/// background threads can hold the lock file for a moment after a handle
/// in this same process was dropped.
fn open_db(data_dir: &Path, cache_bytes: u64) -> Result<sled::Db, StoreError> {
    let mut attempts = 0;
    loop {
        match try_open_db(data_dir, cache_bytes) {
            Err(StoreError::Locked(_)) if attempts < 50 => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

fn try_open_db(data_dir: &Path, cache_bytes: u64) -> Result<sled::Db, StoreError> {
    clear_interrupted_snapshots(data_dir)?;
    let path = sled_dir(data_dir);
    let config = sled::Config::new().path(&path).cache_capacity(cache_bytes);
    // sled panics on some damaged files instead of returning an error.
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || config.open()))
        .map_err(|p| {
            let what = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "sled panicked while opening".into());
            StoreError::Corrupt(what)
        })?;
    opened.map_err(|e| match e {
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            StoreError::Locked(data_dir.to_path_buf())
        }
        other => other.into(),
    })
}

/// How to open a ledger.
#[derive(Default, Clone, Copy)]
pub struct OpenOptions<'a> {
    /// Refuse a store with an older schema instead of upgrading it.
    pub no_upgrade: bool,
    /// Told when a schema step starts and how far it got.
    pub on_migration: Option<&'a dyn Fn(migrate::Event)>,
    /// sled's page cache size [default: [`CACHE_BYTES`]]. A full walk such
    /// as `verify` reads every page once, so a small cache bounds its memory
    /// without costing much.
    pub cache_bytes: Option<u64>,
}

impl Store {
    /// Opens the ledger in `data_dir`, upgrading an older schema in place.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        Self::open_with(data_dir, OpenOptions::default())
    }

    /// Opens the ledger in `data_dir` with `options`.
    pub fn open_with(data_dir: &Path, options: OpenOptions<'_>) -> Result<Store, StoreError> {
        if !exists(data_dir) {
            return Err(StoreError::NoLedger(data_dir.to_path_buf()));
        }
        let files = sled_dir(data_dir);
        if !files.join("conf").exists() {
            return Err(if files.join("db").exists() {
                StoreError::Corrupt("sled's conf file is missing".into())
            } else {
                StoreError::NotALedger(data_dir.to_path_buf())
            });
        }
        let db = open_db(data_dir, options.cache_bytes.unwrap_or(CACHE_BYTES))?;
        let meta = db.open_tree(TREE_META)?;
        let version: u32 = match meta.get(KEY_SCHEMA)? {
            Some(v) => codec::decode(&v, "schema version")?,
            None => return Err(StoreError::NotALedger(data_dir.to_path_buf())),
        };
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: data_dir.to_path_buf(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let params: ChainParams = codec::decode(
            &need(meta.get(KEY_PARAMS)?, "chain parameters")?,
            "chain parameters",
        )?;
        let genesis: BlockHash = codec::decode(
            &need(meta.get(KEY_GENESIS)?, "genesis hash")?,
            "genesis hash",
        )?;
        params
            .validate()
            .map_err(|e| StoreError::Corrupt(format!("stored chain parameters: {e}")))?;
        let store = Self::with_trees(data_dir, db, params, genesis)?;
        if version < SCHEMA_VERSION {
            if options.no_upgrade {
                return Err(StoreError::NeedsUpgrade {
                    path: data_dir.to_path_buf(),
                    found: version,
                    current: SCHEMA_VERSION,
                });
            }
            migrate::run(&store, version, options.on_migration)?;
        }
        store.resume_reorg()?;
        store.activate_best_chain()?;
        Ok(store)
    }

    /// The schema version recorded in the store.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(codec::decode(
            &need(self.h().meta.get(KEY_SCHEMA)?, "schema version")?,
            "schema version",
        )?)
    }

    fn with_trees(
        data_dir: &Path,
        db: sled::Db,
        params: ChainParams,
        genesis: BlockHash,
    ) -> Result<Store, StoreError> {
        Ok(Store {
            data_dir: data_dir.to_path_buf(),
            handles: Some(Handles {
                blocks: db.open_tree(TREE_BLOCKS)?,
                heights: db.open_tree(TREE_HEIGHTS)?,
                txs: db.open_tree(TREE_TXS)?,
                pending: db.open_tree(TREE_PENDING)?,
                pending_ids: db.open_tree(TREE_PENDING_IDS)?,
                meta: db.open_tree(TREE_META)?,
                author_groups: db.open_tree(TREE_AUTHOR_GROUPS)?,
                tips: db.open_tree(TREE_TIPS)?,
                orphans: db.open_tree(TREE_ORPHANS)?,
                orphan_ids: db.open_tree(TREE_ORPHAN_IDS)?,
                orphan_parents: db.open_tree(TREE_ORPHAN_PARENTS)?,
                invalid: db.open_tree(TREE_INVALID)?,
                db,
            }),
            poisoned: std::sync::atomic::AtomicBool::new(false),
            params,
            genesis,
        })
    }

    /// Creates a ledger in `data_dir` whose first block is `genesis` (mined
    /// and checked by the caller against [`rules::check_genesis`]). A
    /// directory left by a creation that crashed before its commit is reused.
    pub fn create(data_dir: &Path, genesis: &Block, now_ms: u64) -> Result<Store, StoreError> {
        let (genesis, params) = rules::check_genesis(genesis.clone(), now_ms)?;
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            context: format!("cannot create {}", data_dir.display()),
            source,
        })?;
        let db = open_db(data_dir, CACHE_BYTES)?;
        if db.open_tree(TREE_META)?.get(KEY_SCHEMA)?.is_some() {
            return Err(StoreError::AlreadyExists(data_dir.to_path_buf()));
        }
        let hash = genesis.hash();
        let store = Self::with_trees(data_dir, db, params.clone(), hash)?;
        let record = HeaderRecord::new(
            &genesis.header,
            genesis.header.difficulty.work(),
            genesis.txs.len() as u32,
            genesis.encoded_len() as u32,
        );
        store.transact(|t| {
            let mut state = ChainState {
                tip: hash,
                height: 0,
                chain_work: crate::consensus::Work::ZERO,
                chain_txs: 0,
                pending: 0,
                next_pending_seq: 0,
            };
            write::stage_block(t, &genesis, &record, &mut state)?;
            t.tips.insert(hash.as_bytes(), &[])?;
            t.meta.insert(KEY_PARAMS, codec::encode(&params))?;
            t.meta.insert(KEY_GENESIS, codec::encode(&hash))?;
            t.meta.insert(KEY_STATE, codec::encode(&state))?;
            t.meta.insert(KEY_SCHEMA, codec::encode(&SCHEMA_VERSION))?;
            Ok(())
        })?;
        Ok(store)
    }

    pub(crate) fn h(&self) -> &Handles {
        self.handles
            .as_ref()
            .expect("handles are only taken in drop")
    }

    /// Passes `r` through, marking the store poisoned on an I/O failure.
    pub(crate) fn guard<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if matches!(
            r,
            Err(StoreError::DiskFull | StoreError::Sled(sled::Error::Io(_)))
        ) {
            self.poisoned
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        r
    }

    /// Refuses any further write once a write has failed at the I/O level:
    /// sled would block in it (see `Drop`).
    pub(crate) fn writable(&self) -> Result<(), StoreError> {
        if self.poisoned.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::DiskFull);
        }
        Ok(())
    }

    /// Flushes sled's log to disk.
    pub(crate) fn flush(&self) -> Result<(), StoreError> {
        self.writable()?;
        self.guard(self.h().db.flush().map(|_| ()).map_err(StoreError::from))
    }

    /// Runs `f` as one sled transaction over every tree, then flushes.
    pub(crate) fn transact<R>(
        &self,
        f: impl Fn(&TxTrees<'_>) -> ConflictableTransactionResult<R, StoreError>,
    ) -> Result<R, StoreError> {
        use sled::Transactional;
        self.writable()?;
        let h = self.h();
        let trees = (
            &h.blocks,
            &h.heights,
            &h.txs,
            &h.pending,
            &h.pending_ids,
            &h.meta,
            &h.author_groups,
            &h.tips,
            &h.orphans,
            &h.orphan_ids,
            &h.orphan_parents,
            &h.invalid,
        );
        let r = trees.transaction(
            |(
                blocks,
                heights,
                txs,
                pending,
                pending_ids,
                meta,
                author_groups,
                tips,
                orphans,
                orphan_ids,
                orphan_parents,
                invalid,
            )| {
                f(&TxTrees {
                    blocks,
                    heights,
                    txs,
                    pending,
                    pending_ids,
                    meta,
                    author_groups,
                    tips,
                    orphans,
                    orphan_ids,
                    orphan_parents,
                    invalid,
                })
            },
        );
        let r = self.guard(r.map_err(StoreError::from))?;
        // The transaction is committed in memory; only the flush can fail now.
        self.flush().map_err(|e| match e {
            StoreError::DiskFull => StoreError::NotSaved,
            other => other,
        })?;
        Ok(r)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn params(&self) -> &ChainParams {
        &self.params
    }

    pub fn genesis_hash(&self) -> BlockHash {
        self.genesis
    }

    /// The tip and counters.
    pub fn state(&self) -> Result<ChainState, StoreError> {
        Ok(codec::decode(
            &need(self.h().meta.get(KEY_STATE)?, "chain state")?,
            "chain state",
        )?)
    }

    /// Bytes the sled files take on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.h().db.size_on_disk()?)
    }

    /// The header record of `hash`, if the store knows the block (decoded
    /// from the block record's prefix; no transaction is decoded).
    pub fn header(&self, hash: &BlockHash) -> Result<Option<HeaderRecord>, StoreError> {
        match self.h().blocks.get(hash.as_bytes())? {
            Some(v) => Ok(Some(codec::decode_block_header(&v)?)),
            None => Ok(None),
        }
    }

    /// The transactions of the stored block `hash` (which must exist).
    pub(crate) fn block_txs(&self, hash: &BlockHash) -> Result<Vec<Transaction>, StoreError> {
        let raw = self
            .h()
            .blocks
            .get(hash.as_bytes())?
            .ok_or_else(|| StoreError::Corrupt(format!("block {hash} is missing")))?;
        Ok(codec::decode_block_txs(&raw)?)
    }

    /// The hash of the active chain's block at `height`.
    pub fn hash_at(&self, height: u64) -> Result<Option<BlockHash>, StoreError> {
        match self.h().heights.get(codec::group_key(height))? {
            Some(v) => Ok(codec::group_hash(&v, height)?),
            None => Ok(None),
        }
    }

    /// The active chain's header at `height` (which must exist).
    pub fn header_at(&self, height: u64) -> Result<(BlockHash, HeaderRecord), StoreError> {
        let hash = self.hash_at(height)?.ok_or_else(|| {
            StoreError::Corrupt(format!("the active chain has no block at height {height}"))
        })?;
        let record = self.header(&hash)?.ok_or_else(|| {
            StoreError::Corrupt(format!("no header for block {hash} at height {height}"))
        })?;
        Ok((hash, record))
    }

    /// The block `hash`, if known.
    pub fn block(&self, hash: &BlockHash) -> Result<Option<StoredBlock>, StoreError> {
        self.load_block(hash, None)
    }

    /// Reads a block; `active` is looked up unless the caller knows it.
    pub(crate) fn load_block(
        &self,
        hash: &BlockHash,
        active: Option<bool>,
    ) -> Result<Option<StoredBlock>, StoreError> {
        let Some(raw) = self.h().blocks.get(hash.as_bytes())? else {
            return Ok(None);
        };
        let (record, block) = codec::decode_block_record(&raw)?;
        let active = match active {
            Some(a) => a,
            None => self.hash_at(record.height)? == Some(*hash),
        };
        Ok(Some(StoredBlock {
            hash: *hash,
            record,
            block,
            active,
        }))
    }

    /// The active chain's block at `height` (two reads: height, block).
    pub fn block_at(&self, height: u64) -> Result<StoredBlock, StoreError> {
        let Some(hash) = self.hash_at(height)? else {
            let tip = self.state()?.height;
            return Err(StoreError::NoSuchHeight { height, tip });
        };
        self.load_block(&hash, Some(true))?.ok_or_else(|| {
            StoreError::Corrupt(format!("block {hash} at height {height} is missing"))
        })
    }

    /// Where `txid` is: in a block, pending, or unknown (`None`).
    pub fn find_tx(&self, txid: &Txid) -> Result<Option<TxStatus>, StoreError> {
        if let Some(v) = self.h().txs.get(txid.as_bytes())? {
            let loc: TxLocation = codec::decode(&v, "transaction location")?;
            let b = match self.hash_at(loc.height)? {
                Some(hash) => self.load_block(&hash, Some(true))?,
                None => None,
            }
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "transaction {txid} points at height {} where the active chain has no block",
                    loc.height
                ))
            })?;
            let tx = b
                .block
                .txs
                .get(loc.index as usize)
                .cloned()
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "transaction {txid} points past the end of its block"
                    ))
                })?;
            return Ok(Some(TxStatus::Confirmed {
                tx,
                block: b.hash,
                height: loc.height,
                index: loc.index,
            }));
        }
        if let Some(seq) = self.h().pending_ids.get(txid.as_bytes())? {
            let raw = need(self.h().pending.get(&seq)?, "pending transaction")?;
            return Ok(Some(TxStatus::Pending {
                tx: codec::decode_tx(&raw)?,
                seq: codec::decode_height_key(&seq)?,
            }));
        }
        Ok(None)
    }

    /// What the rules need to check a child of the current tip: reads the
    /// tip, the 10 headers before it and, at a retarget height, one more.
    pub fn parent_info(&self, state: &ChainState) -> Result<ParentInfo, StoreError> {
        let tip = self
            .header(&state.tip)?
            .ok_or_else(|| StoreError::Corrupt(format!("tip block {} has no header", state.tip)))?;
        let mut times = Vec::with_capacity(MEDIAN_TIME_SPAN);
        times.push(tip.timestamp);
        let from = state.height.saturating_sub(MEDIAN_TIME_SPAN as u64 - 1);
        for h in from..state.height {
            times.push(self.header_at(h)?.1.timestamp);
        }
        let next_difficulty = rules::next_difficulty(&self.params, &tip.header(), |h| {
            self.header_at(h).map(|(_, r)| r.timestamp)
        })?;
        Ok(ParentInfo {
            hash: state.tip,
            height: state.height,
            median_time_past: median_time(&times),
            next_difficulty,
        })
    }

    /// A [`Cursor`] at the current tip, for streaming checks of new blocks.
    pub fn cursor(&self) -> Result<Cursor, StoreError> {
        let state = self.state()?;
        let keep = Cursor::history_len(&self.params) as u64;
        let from = (state.height + 1).saturating_sub(keep);
        let mut times = Vec::with_capacity(keep as usize);
        for h in from..state.height {
            times.push(self.header_at(h)?.1.timestamp);
        }
        let (hash, tip) = self.header_at(state.height)?;
        Ok(Cursor::new(
            self.params.clone(),
            tip.header(),
            hash,
            tip.chain_work,
            times,
        ))
    }
}

/// A value that must be present, or the store is damaged.
fn need(v: Option<sled::IVec>, what: &str) -> Result<sled::IVec, StoreError> {
    v.ok_or_else(|| StoreError::Corrupt(format!("missing {what}")))
}
