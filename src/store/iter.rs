//! Streaming walks of the active chain, of the pending transactions and of
//! an author's transactions. Each item is read from sled when it is asked
//! for; nothing is collected.

use super::schema::HeaderRecord;
use super::{Store, StoreError, StoredBlock};
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
        self.h()
            .heights
            .groups(from, to, newest_first)
            .flat_map(move |group| {
                let items: Vec<Result<(u64, BlockHash), StoreError>> = match group {
                    Ok((first, hashes)) => {
                        let mut v: Vec<_> = (first..)
                            .zip(hashes)
                            .filter(|(h, _)| (from..=to).contains(h))
                            .map(Ok)
                            .collect();
                        if newest_first {
                            v.reverse();
                        }
                        v
                    }
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
        self.h().pending.from(from)
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
        self.h()
            .author_groups
            .from(author, from.0)
            .flat_map(move |e| {
                let items: Vec<Result<(u64, u32, Txid), StoreError>> = match e {
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
