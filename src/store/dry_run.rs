//! [`DryRun`]: checking a sequence of blocks against every rule without
//! writing anything (an import's first pass, and `append_batch`).

use std::collections::{HashMap, HashSet};

use super::{Cursor, Store, StoreError};
use crate::consensus::rules::{self, CheckedBlock, SignatureRules, Signatures};
use crate::consensus::{Block, BlockHash, PublicKey, Txid};

/// A streaming checker for a sequence of blocks on top of a [`Cursor`]:
/// the dry run of an import. It keeps only the cursor and the ids of the
/// transactions seen, and writes nothing.
pub struct DryRun<'s> {
    store: Option<&'s Store>,
    cursor: Cursor,
    seen: HashSet<Txid>,
    /// The names bound by the blocks checked so far (and, on a branch, by
    /// its blocks below the first one checked).
    bound: HashMap<String, PublicKey>,
    /// For a branch off the active chain: the height of the last block the
    /// two share. Only transactions (and name bindings) at or below it
    /// count as in the chain the branch extends.
    fork_height: Option<u64>,
    ledger: SignatureRules,
    /// Whether [`DryRun::check`] verifies signatures (rule 9) itself.
    signatures: Signatures,
}

impl<'s> DryRun<'s> {
    /// Checks blocks on top of the store's tip.
    pub fn on_store(store: &'s Store) -> Result<Self, StoreError> {
        Ok(DryRun {
            store: Some(store),
            cursor: store.cursor()?,
            seen: HashSet::new(),
            bound: HashMap::new(),
            fork_height: None,
            ledger: store.signature_rules(),
            signatures: Signatures::Verify,
        })
    }

    /// Checks blocks on top of the stored block `parent`, on any branch.
    pub fn on_branch(store: &'s Store, parent: &BlockHash) -> Result<Self, StoreError> {
        // Walk down to the active chain; the side blocks passed on the way
        // are part of the branch, so their transactions count as seen.
        let mut seen = HashSet::new();
        let mut side = Vec::new();
        let mut at = *parent;
        let fork_height = loop {
            let r = store.header(&at)?.ok_or(StoreError::NoSuchBlock(at))?;
            if store.hash_at(r.height)? == Some(at) {
                break r.height;
            }
            if let Some(b) = store.block(&at)? {
                seen.extend(b.block.txids());
                side.push(b.block);
            }
            at = r.prev_hash;
        };
        let mut dry = DryRun {
            store: Some(store),
            cursor: store.cursor_at(parent)?,
            seen,
            bound: HashMap::new(),
            fork_height: Some(fork_height),
            ledger: store.signature_rules(),
            signatures: Signatures::Verify,
        };
        // The names those side blocks bind, from the fork point up.
        for block in side.iter().rev() {
            let txids = block.txids();
            let made = rules::check_names(&block.txs, &txids, |n| dry.bound_key(n))?;
            dry.bound.extend(made.into_iter().map(|b| (b.name, b.key)));
        }
        Ok(dry)
    }

    /// Checks blocks on top of a genesis block that is not stored yet.
    pub fn on_genesis(genesis: &Block, now_ms: u64) -> Result<Self, StoreError> {
        let (_, params) = rules::check_genesis(genesis.clone(), now_ms)?;
        let hash = genesis.hash();
        let policy = params.signatures;
        Ok(DryRun {
            store: None,
            cursor: Cursor::new(
                params,
                genesis.header,
                hash,
                genesis.header.difficulty.work(),
                [],
            ),
            seen: genesis.txids().into_iter().collect(),
            bound: HashMap::new(),
            fork_height: None,
            ledger: SignatureRules {
                genesis: hash,
                policy,
            },
            signatures: Signatures::Verify,
        })
    }

    /// Checks that `block` extends the blocks checked so far, against
    /// every rule; the chain it extends is the store's below the branch
    /// point and the blocks checked so far.
    pub fn check(&mut self, block: &Block, now_ms: u64) -> Result<CheckedBlock, StoreError> {
        let (seen, store, fork) = (&self.seen, self.store, self.fork_height);
        let in_chain = |id: &Txid| -> Result<bool, StoreError> {
            Ok(seen.contains(id)
                || match (store, fork) {
                    (Some(s), None) => s.tx_in_chain(id)?,
                    (Some(s), Some(fork)) => s.tx_in_chain_up_to(id, fork)?,
                    (None, _) => false,
                })
        };
        let checked = rules::check_block_with(
            block.clone(),
            &self.cursor.parent_info(),
            &self.ledger,
            self.signatures,
            now_ms,
            in_chain,
            |n| self.bound_key(n),
        )?;
        let made = checked.bindings().iter();
        self.bound.extend(made.map(|b| (b.name.clone(), b.key)));
        self.seen.extend(checked.txids().iter().copied());
        self.cursor.advance(checked.header, checked.hash());
        Ok(checked)
    }

    /// The ledger's genesis hash and signature policy.
    pub fn signature_rules(&self) -> SignatureRules {
        self.ledger
    }

    /// Leaves rule 9 to the caller, who verifies the signatures of the
    /// blocks checked ([`rules::verify_signatures`]) before any is written.
    pub fn leaving_signatures_to_caller(mut self) -> Self {
        self.signatures = Signatures::VerifiedByCaller;
        self
    }

    /// The key `name` is bound to in the chain checked so far.
    fn bound_key(&self, name: &str) -> Result<Option<PublicKey>, StoreError> {
        if let Some(k) = self.bound.get(name) {
            return Ok(Some(*k));
        }
        let Some(store) = self.store else {
            return Ok(None);
        };
        Ok(match (store.name_binding(name)?, self.fork_height) {
            (Some(b), Some(fork)) if b.height > fork => None,
            (b, _) => b.map(|b| b.key),
        })
    }

    /// Cumulative work up to the last block checked.
    pub fn chain_work(&self) -> crate::consensus::Work {
        self.cursor.chain_work()
    }
}
