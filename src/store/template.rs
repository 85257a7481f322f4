//! What mining needs from the store: a block template on the tip, and the
//! checkpoint of a long nonce search (saved, read, cleared, and resumed
//! only while its template is still valid on the tip).

use std::collections::HashMap;

use super::schema::{MiningCheckpoint, KEY_CHECKPOINT};
use super::{Store, StoreError};
use crate::consensus::block::MAX_BLOCK_BYTES;
use crate::consensus::header::{HEADER_BYTES, HEADER_VERSION};
use crate::consensus::merkle::merkle_root;
use crate::consensus::rules;
use crate::consensus::{Block, BlockError, BlockHeader, PublicKey, Transaction, Txid};

impl Store {
    /// A block template on the current tip: the oldest pending transactions
    /// that fit the size limit and keep the name rule (an entry the rule
    /// refuses after those chosen before it stays pending), the required difficulty, and a timestamp of
    /// `now_ms` or just after the median time past, whichever is later.
    /// The nonce is left at 0 for the miner.
    pub fn template(&self, now_ms: u64) -> Result<Block, StoreError> {
        let state = self.state()?;
        let parent = self.parent_info(&state)?;
        let mut size = HEADER_BYTES + 4;
        let mut txs = Vec::new();
        let mut names = NameRule::default();
        for item in self.h().pending.from(0) {
            let (_, tx) = item?;
            if size + tx.encoded_len() > MAX_BLOCK_BYTES {
                break;
            }
            if !names.admits(self, &tx)? {
                continue;
            }
            size += tx.encoded_len();
            txs.push(tx);
        }
        let ids: Vec<Txid> = txs.iter().map(Transaction::txid).collect();
        Ok(Block {
            header: BlockHeader {
                version: HEADER_VERSION,
                height: parent.height + 1,
                prev_hash: parent.hash,
                merkle_root: merkle_root(&ids),
                timestamp: now_ms.max(parent.median_time_past + 1),
                difficulty: parent.next_difficulty,
                nonce: 0,
            },
            txs,
        })
    }

    /// Records where a nonce search stands (one insert, flushed).
    pub fn save_checkpoint(
        &self,
        template: &Block,
        tried_below: u64,
        hashes: u64,
    ) -> Result<(), StoreError> {
        self.writable()?;
        let h = &template.header;
        let seq_of = |tx: &Transaction| -> Result<u64, StoreError> {
            self.h()
                .pending_ids
                .seq(&tx.txid())?
                .ok_or(StoreError::Conflict)
        };
        let (first_seq, last_seq) = match (template.txs.first(), template.txs.last()) {
            (Some(a), Some(b)) => (seq_of(a)?, seq_of(b)?),
            _ => (0, 0),
        };
        let cp = MiningCheckpoint {
            version: h.version,
            height: h.height,
            prev_hash: h.prev_hash,
            merkle_root: h.merkle_root,
            timestamp: h.timestamp,
            difficulty: h.difficulty.0,
            tx_count: template.txs.len() as u64,
            first_seq,
            last_seq,
            tried_below,
            hashes,
        };
        let _gate = self.hold_writes();
        self.guard(self.h().meta.put(KEY_CHECKPOINT, &cp))?;
        self.flush()?;
        Ok(())
    }

    /// The saved search checkpoint, if any.
    pub fn checkpoint(&self) -> Result<Option<MiningCheckpoint>, StoreError> {
        self.h().meta.get(KEY_CHECKPOINT, "mining checkpoint")
    }

    /// Removes the search checkpoint.
    pub fn clear_checkpoint(&self) -> Result<(), StoreError> {
        self.writable()?;
        let _gate = self.hold_writes();
        self.guard(self.h().meta.remove(KEY_CHECKPOINT))?;
        self.flush()?;
        Ok(())
    }

    /// The checkpointed template and its checkpoint, if the template is
    /// still valid: it extends the current tip with the required
    /// difficulty and an acceptable timestamp, and every transaction it
    /// chose is still pending.
    pub fn resume_template(
        &self,
        now_ms: u64,
    ) -> Result<Option<(Block, MiningCheckpoint)>, StoreError> {
        let Some(cp) = self.checkpoint()? else {
            return Ok(None);
        };
        let state = self.state()?;
        let parent = self.parent_info(&state)?;
        let mut txs = Vec::new();
        let mut names = NameRule::default();
        if cp.tx_count > 0 {
            for item in self.pending_from(cp.first_seq) {
                let (seq, tx) = item?;
                if seq > cp.last_seq {
                    break;
                }
                if names.admits(self, &tx)? {
                    txs.push(tx);
                }
            }
        }
        if txs.len() as u64 != cp.tx_count {
            return Ok(None);
        }
        let block = Block {
            header: BlockHeader {
                version: cp.version,
                height: cp.height,
                prev_hash: cp.prev_hash,
                merkle_root: cp.merkle_root,
                timestamp: cp.timestamp,
                difficulty: crate::consensus::Difficulty(cp.difficulty),
                nonce: 0,
            },
            txs,
        };
        // Every rule but the proof of work, which the search is for.
        let valid = rules::check_header(&block.header, &parent, now_ms).is_ok()
            && rules::check_body(&block).is_ok();
        Ok(valid.then_some((block, cp)))
    }
}

/// The name rule ([`rules::check_names`]) over the entries a template
/// chooses, one at a time: the chain's bindings, looked up once per name,
/// and those the chosen entries make.
#[derive(Default)]
struct NameRule {
    bound: HashMap<String, Option<PublicKey>>,
}

impl NameRule {
    /// Whether `tx` may follow the entries admitted so far; if it binds its
    /// name, later entries see the binding.
    fn admits(&mut self, store: &Store, tx: &Transaction) -> Result<bool, StoreError> {
        let name = tx.author();
        let key = match self.bound.get(name) {
            Some(k) => *k,
            None => {
                let k = store.bound_key(name)?;
                self.bound.insert(name.to_owned(), k);
                k
            }
        };
        let one = std::slice::from_ref(tx);
        match rules::check_names(one, &[tx.txid()], |_| Ok::<_, BlockError>(key)) {
            Ok(made) => {
                for b in made {
                    self.bound.insert(b.name, Some(b.key));
                }
                Ok(true)
            }
            Err(_) => Ok(false),
        }
    }
}
