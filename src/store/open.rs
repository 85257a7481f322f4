//! Opening and creating a ledger, and the recovery that runs on open:
//! sled's lock and damage errors made plain, snapshots a crash cut short
//! cleared, older schemas upgraded, an interrupted reorganisation finished
//! and a heavier branch a crash left inactive activated.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use super::schema::*;
use super::trees::Trees;
use super::{codec, migrate, Handles, Store, StoreError};
use crate::consensus::rules;
use crate::consensus::{Block, BlockHash, ChainParams, Work};

/// sled's page cache size. Its default is 1 GiB; a ledger needs far less.
pub const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// The page cache `verify` opens the store with (see [`OpenOptions::cache_bytes`]).
pub const VERIFY_CACHE_BYTES: u64 = 4 * 1024 * 1024;

/// Name of the sled directory inside a ledger's data directory.
pub const STORE_DIR: &str = "store";

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

/// The process that holds a store's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: u32,
    /// Its command line, as `/proc/PID/cmdline` lists it.
    pub command: Vec<String>,
}

impl LockHolder {
    /// The sledger subcommand it runs (`node`, `mine`, ...), if it is one.
    pub fn subcommand(&self) -> Option<&str> {
        const COMMANDS: &[&str] = &[
            "node", "mine", "init", "import", "export", "verify", "migrate", "demo", "submit",
            "status", "chain", "block", "tx", "txs", "pending", "salvage", "bench",
        ];
        let program = self.command.first()?;
        if !program
            .rsplit('/')
            .next()
            .is_some_and(|p| p.starts_with("sledger"))
        {
            return None;
        }
        self.command[1..]
            .iter()
            .find(|a| COMMANDS.contains(&a.as_str()))
            .map(String::as_str)
    }
}

/// The process holding the store's lock, from the kernel's list of file
/// locks (`/proc/locks`, Linux): the one whose lock is on `store/db`.
/// `None` when the store is not locked, or the system cannot tell.
pub fn lock_holder(data_dir: &Path) -> Option<LockHolder> {
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(sled_dir(data_dir).join("db")).ok()?.ino();
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let pid = locks.lines().find_map(|line| {
        // `1: FLOCK  ADVISORY  WRITE 9143 fe:00:10018859 0 EOF`; a waiter's
        // line has `->` after the number.
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) == Some(&"->") {
            return None;
        }
        let on = fields.get(5)?.rsplit(':').next()?.parse::<u64>().ok()?;
        (on == inode).then(|| fields.get(4)?.parse::<u32>().ok())?
    })?;
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let command = raw
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    Some(LockHolder { pid, command })
}

/// Creates `dir` (and missing parents) readable by its owner only (0700),
/// whatever the umask; an existing directory is left as it is.
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::Io {
            context: format!("cannot create {}", dir.display()),
            source,
        })
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
        let trees = Trees::open(&db)?;
        let version: u32 = match trees.meta.get(KEY_SCHEMA, "schema version")? {
            Some(v) => v,
            None => return Err(StoreError::NotALedger(data_dir.to_path_buf())),
        };
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: data_dir.to_path_buf(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        // A store before schema 6 holds the parameters without their
        // policy byte: the step that adds it says what the record becomes.
        let params: ChainParams = match version {
            v if v < 6 => {
                let raw = trees.meta.0.get(KEY_PARAMS)?.ok_or_else(|| {
                    StoreError::Corrupt("the chain parameters are missing".into())
                })?;
                codec::decode(&migrate::params_at_schema_6(&raw)?, "chain parameters")?
            }
            _ => trees.meta.need(KEY_PARAMS, "chain parameters")?,
        };
        let genesis: BlockHash = trees.meta.need(KEY_GENESIS, "genesis hash")?;
        params
            .validate()
            .map_err(|e| StoreError::Corrupt(format!("stored chain parameters: {e}")))?;
        let store = Self::with_trees(data_dir, db, trees, params, genesis);
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
        store.recover()?;
        Ok(store)
    }

    /// Finishes an interrupted reorganisation and activates a heavier
    /// branch a crash left inactive. Each batch of either is one
    /// transaction, so the ledger is consistent at every step: when the
    /// disk refuses the writes (still full, failing), the ledger opens as it
    /// stands, readable, refusing writes with what failed; the next open on
    /// a healthy disk finishes the job.
    fn recover(&self) -> Result<(), StoreError> {
        match self
            .resume_reorg()
            .and_then(|()| self.activate_best_chain())
        {
            Err(_) if self.writable().is_err() => Ok(()),
            other => other,
        }
    }

    /// The schema version recorded in the store.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.h().meta.need(KEY_SCHEMA, "schema version")
    }

    fn with_trees(
        data_dir: &Path,
        db: sled::Db,
        trees: Trees<sled::Tree>,
        params: ChainParams,
        genesis: BlockHash,
    ) -> Store {
        Store {
            data_dir: data_dir.to_path_buf(),
            handles: Some(Handles { db, trees }),
            poisoned: AtomicBool::new(false),
            poison: Mutex::new(None),
            write_gate: Mutex::new(()),
            reorg_batch: super::reorg::REORG_BATCH,
            params,
            genesis,
        }
    }

    /// Creates a ledger in `data_dir` whose first block is `genesis` (mined
    /// and checked by the caller against [`rules::check_genesis`]). A
    /// directory left by a creation that crashed before its commit is reused.
    pub fn create(data_dir: &Path, genesis: &Block, now_ms: u64) -> Result<Store, StoreError> {
        let (genesis, params) = rules::check_genesis(genesis.clone(), now_ms)?;
        create_private_dir(data_dir)?;
        create_private_dir(&sled_dir(data_dir))?;
        let db = open_db(data_dir, CACHE_BYTES)?;
        let trees = Trees::open(&db)?;
        if trees
            .meta
            .get::<u32>(KEY_SCHEMA, "schema version")?
            .is_some()
        {
            return Err(StoreError::AlreadyExists(data_dir.to_path_buf()));
        }
        let hash = genesis.hash();
        let store = Self::with_trees(data_dir, db, trees, params.clone(), hash);
        store.atomically(|w| {
            let mut state = ChainState {
                tip: hash,
                height: 0,
                chain_work: Work::ZERO,
                chain_txs: 0,
                pending: 0,
                next_pending_seq: 0,
            };
            w.connect_new(&genesis, genesis.header.difficulty.work(), &mut state)?;
            w.tips.insert(&hash)?;
            w.meta.put(KEY_PARAMS, &params)?;
            w.meta.put(KEY_GENESIS, &hash)?;
            w.meta.put_state(&state)?;
            w.meta.put(KEY_SCHEMA, &SCHEMA_VERSION)?;
            Ok(())
        })?;
        Ok(store)
    }
}
