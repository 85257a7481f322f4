//! [`StoreError`]: everything that can go wrong opening, reading or changing
//! a ledger.

use std::path::PathBuf;

use crate::consensus::{BlockError, BlockHash, Txid};

use super::codec::CodecError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no ledger at {0}; create one with `sledger init` (or `sledger demo`)")]
    NoLedger(PathBuf),
    #[error("{0} is not a sledger ledger (it has no schema version)")]
    NotALedger(PathBuf),
    #[error("a ledger already exists at {0}")]
    AlreadyExists(PathBuf),
    #[error("the ledger at {0} is in use by another process; stop it and try again")]
    Locked(PathBuf),
    #[error("the ledger at {path} has schema version {found}, newer than this sledger supports ({supported}); use a newer sledger")]
    TooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("the ledger at {path} has schema version {found} and this sledger uses {current}; run `sledger migrate` to upgrade it (or drop --no-upgrade)")]
    NeedsUpgrade {
        path: PathBuf,
        found: u32,
        current: u32,
    },
    #[error("block rejected: {0}")]
    Rejected(#[from] BlockError),
    /// A submitted entry breaks an entry rule on the active chain.
    #[error("entry refused: {0}")]
    EntryRefused(BlockError),
    #[error("block {hash} is invalid: {reason}")]
    InvalidBlock { hash: BlockHash, reason: String },
    #[error("transaction {0} is already pending")]
    AlreadyPending(Txid),
    #[error("transaction {0} is already in the chain")]
    AlreadyInChain(Txid),
    #[error("no block at height {height} (the tip is at {tip})")]
    NoSuchHeight { height: u64, tip: u64 },
    #[error("no block with hash {0}")]
    NoSuchBlock(BlockHash),
    #[error("no transaction with id {0}")]
    NoSuchTx(Txid),
    #[error("a peer id of {0} bytes (the peer book takes 1 to 64)")]
    BadPeerId(usize),
    #[error("the ledger changed while this operation ran; try again")]
    Conflict,
    #[error("the ledger store is damaged ({0}); restore it from an export: `sledger --data-dir NEW_DIR import EXPORT_FILE`")]
    Corrupt(String),
    #[error(
        "the disk holding the ledger is full; nothing was changed: free some space and try again"
    )]
    DiskFull,
    #[error("the disk holding the ledger is full: the change was made but may not have reached the disk; free some space, then check with `sledger verify`")]
    NotSaved,
    #[error("an earlier write to the ledger failed ({0}); nothing more can be written by this process: stop it, then check with `sledger verify`")]
    WriteFailed(String),
    #[error("storage error: {0}")]
    Sled(sled::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl StoreError {
    /// The stable code of this error ([`crate::api::ApiError::code`]).
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NoLedger(_) => "no_ledger",
            StoreError::NotALedger(_) => "not_a_ledger",
            StoreError::AlreadyExists(_) => "already_exists",
            StoreError::Locked(_) => "locked",
            StoreError::TooNew { .. } | StoreError::NeedsUpgrade { .. } => "schema",
            StoreError::Rejected(_)
            | StoreError::EntryRefused(_)
            | StoreError::InvalidBlock { .. } => "rejected",
            StoreError::AlreadyPending(_)
            | StoreError::AlreadyInChain(_)
            | StoreError::Conflict => "conflict",
            StoreError::NoSuchHeight { .. }
            | StoreError::NoSuchBlock(_)
            | StoreError::NoSuchTx(_) => "not_found",
            StoreError::BadPeerId(_) => "bad_request",
            StoreError::Corrupt(_) => "corrupt",
            StoreError::DiskFull | StoreError::NotSaved => "disk_full",
            StoreError::WriteFailed(_) | StoreError::Sled(_) | StoreError::Io { .. } => "io",
        }
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) if io.raw_os_error() == Some(28) => StoreError::DiskFull,
            sled::Error::Corruption { .. } => {
                StoreError::Corrupt("sled read corrupted data".into())
            }
            other => StoreError::Sled(other),
        }
    }
}

impl From<CodecError> for StoreError {
    fn from(e: CodecError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(e: sled::transaction::TransactionError<StoreError>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => e.into(),
        }
    }
}

/// A store error inside a sled transaction aborts it with that error.
impl From<StoreError> for sled::transaction::ConflictableTransactionError<StoreError> {
    fn from(e: StoreError) -> Self {
        sled::transaction::ConflictableTransactionError::Abort(e)
    }
}
