//! Streaming walks of the active chain, of the pending transactions and of
//! an author's transactions. Each item is read from sled when it is asked
//! for; nothing is collected.

use super::schema::{author_group_key, author_prefix, HeaderRecord, HEIGHT_GROUP};
use super::{codec, Store, StoreError, StoredBlock};
use crate::consensus::{BlockHash, Transaction, Txid};

impl Store {
    /// Headers of the active chain from `from` to `to` inclusive, in
    /// height order, newest first when `newest_first`.
    pub fn headers_in(
        &self,
        from: u64,
        to: u64,
        newest_first: bool,
    ) -> impl Iterator<Item = Result<(BlockHash, HeaderRecord), StoreError>> + '_ {
        self.chain_range(from, to, newest_first).map(move |entry| {
            let (height, hash) = entry?;
            let record = self.header(&hash)?.ok_or_else(|| {
                StoreError::Corrupt(format!("no header for block {hash} at height {height}"))
            })?;
            Ok((hash, record))
        })
    }

    /// Heights and hashes of the active chain from `from` to `to` inclusive,
    /// read a `heights` group at a time; newest first when `newest_first`.
    /// The heights are those of each hash's place in its group.
    pub(crate) fn chain_range(
        &self,
        from: u64,
        to: u64,
        newest_first: bool,
    ) -> impl Iterator<Item = Result<(u64, BlockHash), StoreError>> + '_ {
        let range = self
            .h()
            .heights
            .range(codec::group_key(from)..=codec::group_key(to));
        let groups: Box<dyn Iterator<Item = _>> = if newest_first {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        groups.flat_map(move |entry| {
            let group = || -> Result<Vec<(u64, BlockHash)>, StoreError> {
                let (key, value) = entry?;
                let first = codec::decode_height_key(&key)?
                    .checked_mul(HEIGHT_GROUP)
                    .ok_or_else(|| StoreError::Corrupt("height group key out of range".into()))?;
                let mut v: Vec<(u64, BlockHash)> = (first..)
                    .zip(codec::group_hashes(&value)?)
                    .filter(|(h, _)| (from..=to).contains(h))
                    .collect();
                if newest_first {
                    v.reverse();
                }
                Ok(v)
            };
            let items: Vec<Result<(u64, BlockHash), StoreError>> = match group() {
                Ok(v) => v.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            items
        })
    }

    /// Whole blocks of the active chain from height `from` upward.
    pub fn blocks_from(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<StoredBlock, StoreError>> + '_ {
        self.chain_range(from, u64::MAX, false).map(move |entry| {
            let (height, hash) = entry?;
            self.load_block(&hash, Some(true))?.ok_or_else(|| {
                StoreError::Corrupt(format!("block {hash} at height {height} is missing"))
            })
        })
    }

    /// Pending transactions in arrival order, starting at sequence `from`,
    /// with their sequence numbers.
    pub fn pending_from(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<(u64, Transaction), StoreError>> + '_ {
        self.h()
            .pending
            .range(codec::height_key(from)..)
            .map(|entry| {
                let (key, value) = entry?;
                Ok((codec::decode_height_key(&key)?, codec::decode_tx(&value)?))
            })
    }
}

impl Store {
    /// The active chain's transactions by `author`, in chain order, from
    /// position `from` (height, index in block) on. Reads the
    /// `author_groups` index only: no chain scan.
    pub fn txs_by_author(
        &self,
        author: &str,
        from: (u64, u32),
    ) -> impl Iterator<Item = Result<(u64, u32, Txid), StoreError>> + '_ {
        let prefix = author_prefix(author);
        let start = author_group_key(author, from.0);
        self.h()
            .author_groups
            .range(start..)
            .take_while(move |e| e.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)))
            .flat_map(move |e| {
                let entries = e
                    .map_err(StoreError::from)
                    .and_then(|(_, v)| Ok(codec::author_entries(&v)?));
                let items: Vec<Result<(u64, u32, Txid), StoreError>> = match entries {
                    Ok(v) => v
                        .into_iter()
                        .filter(|&(h, i, _)| (h, i) >= from)
                        .map(Ok)
                        .collect(),
                    Err(e) => vec![Err(e)],
                };
                items
            })
    }
}
