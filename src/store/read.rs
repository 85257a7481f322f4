//! Every read of a ledger by key: the state, headers and blocks by hash or
//! height, where a transaction is, and what the rules need to know about
//! the tip ([`Store::parent_info`], [`Store::cursor`]).

use std::path::Path;

use super::schema::{ChainState, HeaderRecord};
use super::{Cursor, Store, StoreError};
use crate::consensus::rules::{self, median_time, ParentInfo, MEDIAN_TIME_SPAN};
use crate::consensus::{Block, BlockHash, ChainParams, Transaction, Txid};

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

impl Store {
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn params(&self) -> &ChainParams {
        &self.params
    }

    pub fn genesis_hash(&self) -> BlockHash {
        self.genesis
    }

    /// What the entry rules need of this ledger: its genesis hash and its
    /// signature policy.
    pub fn signature_rules(&self) -> crate::consensus::rules::SignatureRules {
        crate::consensus::rules::SignatureRules {
            genesis: self.genesis,
            policy: self.params.signatures,
        }
    }

    /// The key the active chain binds `name` to, and the entry that bound it.
    pub fn name_binding(
        &self,
        name: &str,
    ) -> Result<Option<super::schema::NameBinding>, StoreError> {
        self.h().names.get(name)
    }

    /// The names the active chain binds to `key`, in byte order.
    pub fn names_of_key(
        &self,
        key: &crate::consensus::PublicKey,
    ) -> Result<Vec<String>, StoreError> {
        self.h().key_names.names_of(key)
    }

    /// The key the active chain binds `name` to.
    pub fn bound_key(&self, name: &str) -> Result<Option<crate::consensus::PublicKey>, StoreError> {
        Ok(self.name_binding(name)?.map(|b| b.key))
    }

    /// The tip and counters.
    pub fn state(&self) -> Result<ChainState, StoreError> {
        self.h().meta.state()
    }

    /// Bytes the sled files take on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.h().db.size_on_disk()?)
    }

    /// The header record of `hash`, if the store knows the block (decoded
    /// from the block record's prefix; no transaction is decoded).
    pub fn header(&self, hash: &BlockHash) -> Result<Option<HeaderRecord>, StoreError> {
        self.h().blocks.header(hash)
    }

    /// The transactions of the stored block `hash` (which must exist).
    pub(crate) fn block_txs(&self, hash: &BlockHash) -> Result<Vec<Transaction>, StoreError> {
        self.h()
            .blocks
            .txs(hash)?
            .ok_or_else(|| StoreError::Corrupt(format!("block {hash} is missing")))
    }

    /// The hash of the active chain's block at `height`.
    pub fn hash_at(&self, height: u64) -> Result<Option<BlockHash>, StoreError> {
        self.h().heights.hash_at(height)
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
        let Some((record, block)) = self.h().blocks.get(hash)? else {
            return Ok(None);
        };
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

    /// Up to `max` hashes of stored blocks, on any branch, that start
    /// with `prefix` (a scan of the keys under its whole bytes).
    pub fn blocks_with_prefix(
        &self,
        prefix: &crate::consensus::hash::IdPrefix,
        max: usize,
    ) -> Result<Vec<BlockHash>, StoreError> {
        self.h().blocks.with_prefix(prefix, max)
    }

    /// Up to `max` ids of transactions, in the active chain or pending,
    /// that start with `prefix`.
    pub fn txids_with_prefix(
        &self,
        prefix: &crate::consensus::hash::IdPrefix,
        max: usize,
    ) -> Result<Vec<Txid>, StoreError> {
        let mut ids = self.h().txs.with_prefix(prefix, max)?;
        for id in self.h().pending_ids.with_prefix(prefix, max)? {
            if ids.len() < max && !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Where `txid` is: in a block, pending, or unknown (`None`).
    pub fn find_tx(&self, txid: &Txid) -> Result<Option<TxStatus>, StoreError> {
        if let Some(loc) = self.h().txs.location(txid)? {
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
        if let Some(seq) = self.h().pending_ids.seq(txid)? {
            let tx = self.h().pending.get(seq)?.ok_or_else(|| {
                StoreError::Corrupt(format!("pending transaction {txid} is missing"))
            })?;
            return Ok(Some(TxStatus::Pending { tx, seq }));
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
