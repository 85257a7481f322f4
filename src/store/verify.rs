//! [`Store::verify`]: a streaming check of the whole active chain against
//! every rule and of every index against the blocks, in bounded memory. It
//! reports the first bad height and why.

use super::schema::{ChainState, NameBinding, ReorgJournal, TxLocation, KEY_REORG};
use super::{Cursor, Store, StoreError};
use crate::consensus::rules;
use crate::consensus::{BlockHash, Difficulty, Transaction, Work};

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub blocks: u64,
    pub transactions: u64,
    pub pending: u64,
    pub tip: BlockHash,
    pub chain_work: Work,
}

/// The first problem found: at which height (if a block's) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", height.map(|h| format!("height {h}: ")).unwrap_or_default())]
pub struct VerifyFailure {
    pub height: Option<u64>,
    pub reason: String,
}

fn fail<T>(height: Option<u64>, reason: impl ToString) -> Result<T, VerifyFailure> {
    Err(VerifyFailure {
        height,
        reason: reason.to_string(),
    })
}

/// The walk's running totals.
struct Walk {
    cursor: Option<Cursor>,
    blocks: u64,
    transactions: u64,
    /// Names the walk saw bound (each checked against the name index).
    bindings: u64,
    /// Signed entries whose signatures are still to verify.
    unverified: Unverified,
}

/// Signatures gathered along the walk (common rule 9), verified together
/// [`UNVERIFIED_MAX`] at a time, across cores: cheaper per signature than a
/// block's own batch. Verified before any other failure is reported, so
/// the height named is still the first bad one.
#[derive(Default)]
struct Unverified(rules::SignatureBatch<u64>);

/// Signatures gathered before they are verified together.
const UNVERIFIED_MAX: usize = 4096;

impl Unverified {
    fn add(&mut self, height: u64, block: &crate::consensus::CheckedBlock) {
        self.0.add(height, block);
    }

    fn verify(&mut self, rules: &rules::SignatureRules) -> Result<(), VerifyFailure> {
        self.0
            .verify(rules)
            .or_else(|(height, e)| fail(Some(height), e))
    }

    /// `f`, unless a signature gathered before it is bad.
    fn first(&mut self, rules: &rules::SignatureRules, f: VerifyFailure) -> VerifyFailure {
        self.verify(rules).err().unwrap_or(f)
    }
}

impl Store {
    /// Walks the active chain from genesis, checking at each height that the
    /// stored block hashes to its key, satisfies every acceptance rule on
    /// its parent, carries the right cumulative work, and that the
    /// transaction index points at it; then checks the tip, the counters and
    /// the pending transactions. `progress` is called with each height.
    ///
    /// Writes wait while it runs (a node's miner, a submit), so it checks
    /// one consistent ledger, not one that grows under the walk.
    pub fn verify(
        &self,
        now_ms: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<VerifyReport, VerifyFailure> {
        let _gate = self.hold_writes();
        let state = self.state().or_else(|e| fail(None, e))?;
        let mut walk = Walk {
            cursor: None,
            blocks: 0,
            transactions: 0,
            bindings: 0,
            unverified: Unverified::default(),
        };
        let signature_rules = self.signature_rules();
        for (expected_height, entry) in (0u64..).zip(self.chain_range(0, u64::MAX, false)) {
            let at = Some(expected_height);
            let step = entry.or_else(|e| fail(at, e)).and_then(|(height, hash)| {
                if height != expected_height {
                    return fail(at, format!("the height index jumps to {height}"));
                }
                self.verify_block(&mut walk, height, hash, now_ms)
                    .map(|()| height)
            });
            let height = match step {
                Ok(h) => h,
                Err(f) => return Err(walk.unverified.first(&signature_rules, f)),
            };
            if walk.unverified.0.len() >= UNVERIFIED_MAX {
                walk.unverified.verify(&signature_rules)?;
            }
            progress(height);
        }
        walk.unverified.verify(&signature_rules)?;
        let Some(cursor) = walk.cursor else {
            return fail(None, "the chain is empty");
        };
        let tip = cursor.tip_hash();
        if tip != state.tip
            || cursor.tip().height != state.height
            || cursor.chain_work() != state.chain_work
        {
            return fail(
                None,
                format!(
                    "the recorded tip {} at height {} is not the chain's last block",
                    state.tip, state.height
                ),
            );
        }
        let transactions = walk.transactions;
        if transactions != state.chain_txs {
            return fail(
                None,
                format!(
                    "the recorded transaction count {} should be {transactions}",
                    state.chain_txs
                ),
            );
        }
        self.verify_index_sizes(transactions)
            .or_else(|e| fail(None, e))?;
        self.verify_name_index(walk.bindings)
            .or_else(|e| fail(None, e))?;
        let pending = self.verify_pending(&state).or_else(|e| fail(None, e))?;
        self.verify_beyond_the_chain().or_else(|e| fail(None, e))?;
        Ok(VerifyReport {
            blocks: walk.blocks,
            transactions,
            pending,
            tip,
            chain_work: cursor.chain_work(),
        })
    }

    /// The block at `height` of the walk: its record, its rules on the
    /// walk's cursor, its work, and its index entries.
    fn verify_block(
        &self,
        walk: &mut Walk,
        height: u64,
        hash: BlockHash,
        now_ms: u64,
    ) -> Result<(), VerifyFailure> {
        let at = Some(height);
        let stored = match self.load_block(&hash, Some(true)) {
            Ok(Some(b)) => b,
            Ok(None) => return fail(at, format!("block {hash} is missing")),
            Err(e) => return fail(at, e),
        };
        let block = &stored.block;
        let actual = block.hash();
        if actual != hash {
            return fail(
                at,
                format!("stored header hashes to {actual}, not {hash}: the block was altered"),
            );
        }
        if stored.record.height != height {
            return fail(at, format!("header says height {}", stored.record.height));
        }
        if stored.record.tx_count as usize != block.txs.len()
            || stored.record.size as usize != block.encoded_len()
        {
            return fail(
                at,
                "header record's transaction count or size disagrees with the body",
            );
        }
        match &mut walk.cursor {
            None => {
                if height != 0 || hash != self.genesis_hash() {
                    return fail(at, "the chain does not start at this ledger's genesis");
                }
                let (_, params) =
                    rules::check_genesis(block.clone(), now_ms).or_else(|e| fail(at, e))?;
                if &params != self.params() {
                    return fail(at, "genesis parameters differ from the stored parameters");
                }
                let work = block.header.difficulty.work();
                walk.cursor = Some(Cursor::new(params, block.header, hash, work, []));
            }
            Some(c) => {
                // Repeats are the transaction index's check, below. The
                // names bound below this block are the index's bindings
                // made below it; each binding the block makes must be in
                // the index as made here.
                let no_repeats = |_: &_| Ok::<_, StoreError>(false);
                let bound_below = |name: &str| {
                    Ok::<_, StoreError>(
                        self.name_binding(name)?
                            .filter(|b| b.height < height)
                            .map(|b| b.key),
                    )
                };
                // Rule 9 is the walk's, in batches across blocks.
                let checked = rules::check_block_with(
                    block.clone(),
                    &c.parent_info(),
                    &self.signature_rules(),
                    rules::Signatures::VerifiedByCaller,
                    now_ms,
                    no_repeats,
                    bound_below,
                )
                .or_else(|e| fail(at, e))?;
                walk.unverified.add(height, &checked);
                for b in checked.bindings() {
                    let want = NameBinding {
                        key: b.key,
                        height,
                        index: b.index,
                    };
                    let by_key = self.h().key_names.contains(&b.key, &b.name);
                    if self.name_binding(&b.name).or_else(|e| fail(at, e))? != Some(want)
                        || !by_key.or_else(|e| fail(at, e))?
                    {
                        return fail(
                            at,
                            format!(
                                "the name index does not hold the binding of \"{}\" made here",
                                b.name
                            ),
                        );
                    }
                }
                walk.bindings += checked.bindings().len() as u64;
                c.advance(block.header, hash);
            }
        }
        let work = walk.cursor.as_ref().map_or(Work::ZERO, Cursor::chain_work);
        if stored.record.chain_work != work {
            return fail(
                at,
                format!(
                    "stored chain work {} should be {work}",
                    stored.record.chain_work
                ),
            );
        }
        for (index, tx) in block.txs.iter().enumerate() {
            self.verify_indexed(height, index as u32, tx)
                .or_else(|e| fail(at, e))?;
        }
        walk.transactions += block.txs.len() as u64;
        walk.blocks += 1;
        Ok(())
    }

    /// The transaction index and the author index point at `tx`, at
    /// `height` and position `index`.
    fn verify_indexed(&self, height: u64, index: u32, tx: &Transaction) -> Result<(), String> {
        let txid = tx.txid();
        let here = TxLocation { height, index };
        match self.h().txs.location(&txid).map_err(|e| e.to_string())? {
            Some(l) if l == here => {}
            Some(l) => {
                return Err(format!(
                    "transaction {txid} is already in the chain at height {}",
                    l.height
                ))
            }
            None => {
                return Err(format!(
                    "transaction {txid} is missing from the transaction index"
                ))
            }
        }
        let entries = self
            .h()
            .author_groups
            .entries(tx.author(), height)
            .map_err(|e| e.to_string())?;
        if !entries.contains(&(height, index, txid)) {
            return Err(format!(
                "transaction {txid} is missing from the author index"
            ));
        }
        Ok(())
    }

    /// Every index entry belongs to a transaction the walk checked: the
    /// indexes hold exactly `transactions` entries.
    fn verify_index_sizes(&self, transactions: u64) -> Result<(), String> {
        let mut indexed = 0u64;
        for entries in self.h().author_groups.all() {
            indexed += entries.map_err(|e| e.to_string())?.len() as u64;
        }
        let mut located = 0u64;
        for id in self.h().txs.ids() {
            id.map_err(|e| e.to_string())?;
            located += 1;
        }
        if located != transactions {
            return Err(format!(
                "the transaction index has {located} entries for {transactions} transactions"
            ));
        }
        if indexed != transactions {
            return Err(format!(
                "the author index has {indexed} entries for {transactions} transactions"
            ));
        }
        Ok(())
    }

    /// The name indexes hold exactly the `bindings` the walk found (each
    /// found one was checked in place), and the key index mirrors them.
    fn verify_name_index(&self, bindings: u64) -> Result<(), String> {
        let e = |e: StoreError| e.to_string();
        let names = self.h().names.count().map_err(e)?;
        let by_key = self.h().key_names.count().map_err(e)?;
        if names != bindings || by_key != bindings {
            return Err(format!(
                "the name index holds {names} names and the key index {by_key} for the {bindings} names the chain binds"
            ));
        }
        Ok(())
    }

    /// What the store holds beyond the active chain: every stored block
    /// (side branches too) is stored under its hash, links to a stored
    /// parent one height below, and carries its parent's work plus its
    /// own; every tip names a stored block; no block marked invalid is
    /// on the active chain.
    fn verify_beyond_the_chain(&self) -> Result<(), String> {
        let h = self.h();
        for entry in h.blocks.headers() {
            let (key, record) = entry.map_err(|e| e.to_string())?;
            let hash = record.header().hash();
            if hash != key {
                return Err(format!("the block {hash} is stored under {key}"));
            }
            let own = Difficulty(record.difficulty).work();
            let expected = if record.height == 0 {
                Some(own)
            } else {
                match h
                    .blocks
                    .header(&record.prev_hash)
                    .map_err(|e| e.to_string())?
                {
                    Some(p) if p.height + 1 == record.height => p.chain_work.checked_add(own),
                    _ => return Err(format!("the block {hash} has no stored parent below it")),
                }
            };
            if expected != Some(record.chain_work) {
                return Err(format!(
                    "the block {hash} carries the wrong cumulative work"
                ));
            }
        }
        let reorganising = self.verify_journal()?;
        self.verify_tips_and_marks(reorganising)?;
        self.verify_orphans()?;
        self.verify_peers()
    }

    /// Every tip names a stored block not marked invalid, and the active
    /// tip is one of them (unless a reorganisation stopped part-way, on a
    /// block with children); every invalid mark names a stored block off
    /// the active chain.
    fn verify_tips_and_marks(&self, reorganising: bool) -> Result<(), String> {
        let h = self.h();
        let active = self.state().map_err(|e| e.to_string())?.tip;
        let mut active_listed = false;
        for tip in h.tips.all() {
            let tip = tip.map_err(|e| e.to_string())?;
            if h.blocks.header(&tip).map_err(|e| e.to_string())?.is_none() {
                return Err(format!("the tip {tip} names no stored block"));
            }
            if self
                .invalid_reason(&tip)
                .map_err(|e| e.to_string())?
                .is_some()
            {
                return Err(format!("the tip {tip} is marked invalid"));
            }
            active_listed |= tip == active;
        }
        if !active_listed && !reorganising {
            return Err(format!("the active tip {active} is not listed as a tip"));
        }
        for marked in h.invalid.all() {
            let marked = marked.map_err(|e| e.to_string())?;
            let Some(r) = h.blocks.header(&marked).map_err(|e| e.to_string())? else {
                return Err(format!("the invalid mark {marked} names no stored block"));
            };
            if h.heights.hash_at(r.height).map_err(|e| e.to_string())? == Some(marked) {
                return Err(format!("the active block {marked} is marked invalid"));
            }
        }
        Ok(())
    }

    /// Every orphan carries the work it claims, is indexed by its hash and
    /// under its parent, has a sequence below the next one, and is counted;
    /// neither index holds anything else.
    fn verify_orphans(&self) -> Result<(), String> {
        let h = self.h();
        let e = |e: super::StoreError| e.to_string();
        let pool = h.meta.orphan_state().map_err(e)?;
        let mut count = 0u64;
        for item in h.orphans.all() {
            let (seq, block) = item.map_err(e)?;
            let hash = block.hash();
            rules::check_pow(&block.header).map_err(|r| format!("the orphan {hash}: {r}"))?;
            if h.orphan_ids.seq(&hash).map_err(e)? != Some(seq) {
                return Err(format!("the orphan {hash} is not indexed by its hash"));
            }
            if !h
                .orphan_parents
                .lists(&block.header.prev_hash, seq, &hash)
                .map_err(e)?
            {
                return Err(format!("the orphan {hash} is not listed under its parent"));
            }
            if seq >= pool.next_seq {
                return Err(format!(
                    "the orphan {hash} has sequence {seq}, past the next one"
                ));
            }
            count += 1;
        }
        if count != pool.count {
            return Err(format!(
                "the recorded orphan count {} should be {count}",
                pool.count
            ));
        }
        let (ids, parents) = (
            h.orphan_ids.count().map_err(e)?,
            h.orphan_parents.count().map_err(e)?,
        );
        if ids != count || parents != count {
            return Err(format!(
                "the orphan indexes hold {ids} and {parents} entries for {count} orphans"
            ));
        }
        Ok(())
    }

    /// An unfinished reorganisation (a write failed and the store was not
    /// reopened yet) targets a stored block. True when there is one.
    fn verify_journal(&self) -> Result<bool, String> {
        let journal: Option<ReorgJournal> = (self.h().meta)
            .get(KEY_REORG, "reorganisation journal")
            .map_err(|e| e.to_string())?;
        let Some(j) = journal else { return Ok(false) };
        match self.header(&j.target).map_err(|e| e.to_string())? {
            Some(_) => Ok(true),
            None => Err(format!(
                "the reorganisation journal's target {} is not stored",
                j.target
            )),
        }
    }

    /// Every pending transaction is indexed, not in the chain, below the
    /// next sequence, and counted. Returns how many there are.
    fn verify_pending(&self, state: &ChainState) -> Result<u64, String> {
        let mut pending = 0u64;
        for item in self.pending_from(0) {
            let (seq, tx) = item.map_err(|e| e.to_string())?;
            let txid = tx.txid();
            let indexed = self.h().pending_ids.seq(&txid).map_err(|e| e.to_string())?;
            if indexed != Some(seq) {
                return Err(format!("pending transaction {txid} is not indexed"));
            }
            if self.tx_in_chain(&txid).unwrap_or(false) {
                return Err(format!("pending transaction {txid} is also in the chain"));
            }
            if seq >= state.next_pending_seq {
                return Err(format!(
                    "pending transaction {txid} has sequence {seq}, past the next one to assign"
                ));
            }
            pending += 1;
        }
        let ids = self.h().pending_ids.count().map_err(|e| e.to_string())?;
        if pending != state.pending || ids != pending {
            return Err(format!(
                "the recorded pending count {} should be {pending}",
                state.pending
            ));
        }
        Ok(pending)
    }
}

#[cfg(test)]
mod tests {
    use crate::consensus::rules::{self, Signatures};
    use crate::consensus::{BlockHash, Transaction};
    use crate::testkit::{child, params, store};
    use crate::time::now_ms;

    /// A block whose signature is bad but which is otherwise consistent
    /// (written past the rules, as only a forger with the store could):
    /// `verify`'s batched rule 9 names its height, before a later fault.
    #[test]
    fn verify_names_the_height_of_a_bad_signature_checked_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let (s, genesis) = store(dir.path(), &params(0, 10, true), 60_000);
        let g = genesis.hash();
        let good = |n: u64| Transaction::sign("ann", n, vec![1], &g, &[1; 32]).unwrap();
        let forged = Transaction::sign("ann", 9, vec![2], &BlockHash([3; 32]), &[1; 32]).unwrap();
        let mut parent = genesis;
        for (h, tx) in [(1, good(1)), (2, forged), (3, good(3)), (4, good(4))] {
            let b = child(&parent, vec![tx], 10, 0);
            let info = s.parent_info(&s.state().unwrap()).unwrap();
            let bound = |_: &str| s.bound_key("ann");
            let checked = rules::check_block_with(
                b.clone(),
                &info,
                &s.signature_rules(),
                Signatures::VerifiedByCaller,
                now_ms(),
                |_| Ok::<_, crate::store::StoreError>(false),
                bound,
            )
            .unwrap();
            s.connect_checked(s.state().unwrap().tip, &[checked])
                .unwrap();
            assert_eq!(s.state().unwrap().height, h);
            parent = b;
        }
        let f = s.verify(now_ms(), &mut |_| {}).unwrap_err();
        assert_eq!(f.height, Some(2), "{f}");
        assert!(f.reason.contains("invalid signature"), "{f}");
        // A later fault too (the index loses height 4's entry): height 2
        // is still the one named.
        s.h().txs.remove(&good(4).txid()).unwrap();
        let f = s.verify(now_ms(), &mut |_| {}).unwrap_err();
        assert_eq!(f.height, Some(2), "{f}");
    }
}
